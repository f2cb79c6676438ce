/* unit_config.c - e2b_config_from_env and the URL rules of e2b-protocol.md §3.1. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "e2b/client.h"

static const char *const VARS[] = {"E2B_API_KEY", "E2B_API_URL", "E2B_SANDBOX_URL",
                                   "E2B_DOMAIN",  "E2B_DEBUG",   "E2B_REQUEST_TIMEOUT_MS",
                                   NULL};

static int clean_env(void **state)
{
    (void)state;
    for (const char *const *v = VARS; *v; v++)
        unsetenv(*v);
    return 0;
}

static void test_defaults(void **state)
{
    (void)state;
    e2b_config cfg;
    e2b_error err;
    assert_int_equal(e2b_config_from_env(&cfg, &err), E2B_OK);
    assert_null(cfg.api_key);
    assert_null(cfg.api_url);
    assert_null(cfg.sandbox_url);
    assert_null(cfg.domain);
    assert_false(cfg.debug);
    assert_int_equal(cfg.request_timeout_ms, 60000);
    assert_int_equal(cfg.max_retries_429, 3);
}

static void test_from_env(void **state)
{
    (void)state;
    setenv("E2B_API_KEY", "e2b_abc", 1);
    setenv("E2B_API_URL", "http://127.0.0.1:3000", 1);
    setenv("E2B_SANDBOX_URL", "http://127.0.0.1:3001", 1);
    setenv("E2B_DOMAIN", "example.org", 1);
    setenv("E2B_DEBUG", "TRUE", 1);
    setenv("E2B_REQUEST_TIMEOUT_MS", "1500", 1);
    e2b_config cfg;
    assert_int_equal(e2b_config_from_env(&cfg, NULL), E2B_OK);
    assert_string_equal(cfg.api_key, "e2b_abc");
    assert_string_equal(cfg.api_url, "http://127.0.0.1:3000");
    assert_string_equal(cfg.sandbox_url, "http://127.0.0.1:3001");
    assert_string_equal(cfg.domain, "example.org");
    assert_true(cfg.debug);
    assert_int_equal(cfg.request_timeout_ms, 1500);

    const char *truthy[] = {"1", "yes", "true"}, *falsy[] = {"0", "no", "false", "on"};
    for (int i = 0; i < 3; i++) {
        setenv("E2B_DEBUG", truthy[i], 1);
        e2b_config_from_env(&cfg, NULL);
        assert_true(cfg.debug);
    }
    for (int i = 0; i < 4; i++) {
        setenv("E2B_DEBUG", falsy[i], 1);
        e2b_config_from_env(&cfg, NULL);
        assert_false(cfg.debug);
    }
    setenv("E2B_API_KEY", "", 1); /* empty = unset */
    e2b_config_from_env(&cfg, NULL);
    assert_null(cfg.api_key);
}

static void test_bad_timeout(void **state)
{
    (void)state;
    const char *bad[] = {"abc", "12x", "-5", "1e3", " "};
    for (int i = 0; i < 5; i++) {
        setenv("E2B_REQUEST_TIMEOUT_MS", bad[i], 1);
        e2b_config cfg;
        e2b_error err;
        assert_int_equal(e2b_config_from_env(&cfg, &err), E2B_ERR_INVALID_ARGUMENT);
        assert_non_null(strstr(err.message, "E2B_REQUEST_TIMEOUT_MS"));
    }
    setenv("E2B_REQUEST_TIMEOUT_MS", "0", 1);
    e2b_config cfg;
    assert_int_equal(e2b_config_from_env(&cfg, NULL), E2B_OK);
    assert_int_equal(cfg.request_timeout_ms, 0);
}

static e2b_client *mk(const char *api_url, const char *sandbox_url, const char *domain, bool debug)
{
    e2b_config cfg;
    e2b_config_init(&cfg);
    cfg.api_url = api_url;
    cfg.sandbox_url = sandbox_url;
    cfg.domain = domain;
    cfg.debug = debug;
    cfg.api_key = "k";
    e2b_client *c = NULL;
    e2b_error err;
    assert_int_equal(e2b_client_new(&cfg, &c, &err), E2B_OK);
    return c;
}

static void expect_sbx_url(e2b_client *c, const char *id, const char *dom, int port,
                           const char *want)
{
    char buf[256];
    assert_int_equal(e2b_client_sandbox_url(c, id, dom, port, buf, sizeof buf, NULL), E2B_OK);
    assert_string_equal(buf, want);
}

static void test_api_url_rules(void **state)
{
    (void)state;
    e2b_client *c = mk(NULL, NULL, NULL, false);
    assert_string_equal(e2b_client_api_url(c), "https://api.e2b.app");
    e2b_client_free(c);
    c = mk(NULL, NULL, "example.org", false);
    assert_string_equal(e2b_client_api_url(c), "https://api.example.org");
    e2b_client_free(c);
    c = mk(NULL, NULL, NULL, true);
    assert_string_equal(e2b_client_api_url(c), "http://localhost:3000");
    e2b_client_free(c);
    c = mk("http://127.0.0.1:9/base/", NULL, "example.org", true); /* explicit wins */
    assert_string_equal(e2b_client_api_url(c), "http://127.0.0.1:9/base");
    e2b_client_free(c);
}

static void test_sandbox_url_rules(void **state)
{
    (void)state;
    /* sandbox_url wins for every port, verbatim */
    e2b_client *c = mk(NULL, "http://127.0.0.1:3001", NULL, true);
    expect_sbx_url(c, "abc", "x.dev", E2B_ENVD_PORT, "http://127.0.0.1:3001");
    expect_sbx_url(c, "abc", NULL, E2B_CODE_INTERPRETER_PORT, "http://127.0.0.1:3001");
    e2b_client_free(c);
    /* debug: localhost:<port> */
    c = mk(NULL, NULL, NULL, true);
    expect_sbx_url(c, "abc", NULL, E2B_ENVD_PORT, "http://localhost:49983");
    expect_sbx_url(c, "abc", NULL, E2B_CODE_INTERPRETER_PORT, "http://localhost:49999");
    e2b_client_free(c);
    /* E2B's domains: envd through sandbox.<domain>; the code interpreter per port */
    c = mk(NULL, NULL, NULL, false);
    expect_sbx_url(c, "abc", NULL, E2B_ENVD_PORT, "https://sandbox.e2b.app");
    expect_sbx_url(c, "abc", NULL, E2B_CODE_INTERPRETER_PORT, "https://49999-abc.e2b.app");
    expect_sbx_url(c, "abc", "e2b.dev", E2B_ENVD_PORT, "https://sandbox.e2b.dev");
    expect_sbx_url(c, "abc", "e2b.pro", E2B_ENVD_PORT, "https://sandbox.e2b.pro");
    expect_sbx_url(c, "abc", "e2b-staging.dev", E2B_ENVD_PORT, "https://sandbox.e2b-staging.dev");
    /* the sandbox's own domain (from create) beats the configured one; "" = unset */
    expect_sbx_url(c, "abc", "custom.net", E2B_ENVD_PORT, "https://49983-abc.custom.net");
    expect_sbx_url(c, "abc", "", E2B_ENVD_PORT, "https://sandbox.e2b.app");
    expect_sbx_url(c, "abc", NULL, 8080, "https://8080-abc.e2b.app");
    char small[10];
    e2b_error err;
    assert_int_equal(
        e2b_client_sandbox_url(c, "abc", NULL, E2B_ENVD_PORT, small, sizeof small, &err),
        E2B_ERR_INVALID_ARGUMENT);
    assert_int_equal(e2b_client_sandbox_url(c, "abc", NULL, 0, small, sizeof small, &err),
                     E2B_ERR_INVALID_ARGUMENT);
    e2b_client_free(c);
    /* another configured domain: per-port hosts for envd too */
    c = mk(NULL, NULL, "example.org", false);
    expect_sbx_url(c, "abc", NULL, E2B_ENVD_PORT, "https://49983-abc.example.org");
    e2b_client_free(c);
}

static void test_client_new_validation(void **state)
{
    (void)state;
    e2b_config cfg;
    e2b_client *c = (e2b_client *)1;
    e2b_error err;
    e2b_config_init(&cfg);
    cfg.api_url = "ftp://x";
    assert_int_equal(e2b_client_new(&cfg, &c, &err), E2B_ERR_INVALID_ARGUMENT);
    assert_null(c);
    cfg.api_url = "not a url";
    assert_int_equal(e2b_client_new(&cfg, &c, &err), E2B_ERR_INVALID_ARGUMENT);
    cfg.api_url = NULL;
    cfg.sandbox_url = "localhost:3000";
    assert_int_equal(e2b_client_new(&cfg, &c, &err), E2B_ERR_INVALID_ARGUMENT);
    cfg.sandbox_url = NULL;
    cfg.request_timeout_ms = -1;
    assert_int_equal(e2b_client_new(&cfg, &c, &err), E2B_ERR_INVALID_ARGUMENT);
    cfg.request_timeout_ms = 1;
    cfg.domain = "a/b";
    assert_int_equal(e2b_client_new(&cfg, &c, &err), E2B_ERR_INVALID_ARGUMENT);
    /* NULL config = defaults */
    assert_int_equal(e2b_client_new(NULL, &c, &err), E2B_OK);
    assert_string_equal(e2b_client_api_url(c), "https://api.e2b.app");
    e2b_client_free(c);
    e2b_client_free(NULL);
    assert_non_null(e2b_version());
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_defaults, clean_env),
        cmocka_unit_test_setup(test_from_env, clean_env),
        cmocka_unit_test_setup(test_bad_timeout, clean_env),
        cmocka_unit_test(test_api_url_rules),
        cmocka_unit_test(test_sandbox_url_rules),
        cmocka_unit_test(test_client_new_validation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
