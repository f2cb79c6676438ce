/* unit_local.c - e2b_local_start/stop with small shell scripts standing in for e2b-mock:
 * URL line, argument passing, stdout draining, SIGTERM then SIGKILL, bad/missing output,
 * lookup via E2B_MOCK_BIN. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "e2b/e2b.h"

static char dir[64];

static const char *script(const char *name, const char *body)
{
    static char path[8][128];
    static int next;
    char *p = path[next++ % 8];
    snprintf(p, 128, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fprintf(f, "#!/bin/sh\n%s\n", body);
    fclose(f);
    chmod(p, 0755);
    return p;
}

static int group_setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/e2b_local_test_XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_start_args_drain_stop(void **state)
{
    (void)state;
    char marker[128], body[512];
    snprintf(marker, sizeof marker, "%s/drained", dir);
    /* After the URL line it writes ~1 MiB (far more than a pipe holds), then a marker file:
     * the marker only appears if libe2b keeps draining stdout. */
    snprintf(body, sizeof body,
             "trap 'exit 0' TERM\n"
             "echo \"E2B_MOCK_URL=http://127.0.0.1:1/$1-$2-$3\"\n"
             "i=0; while [ $i -lt 1024 ]; do printf '%%01023d\\n' 0; i=$((i+1)); done\n"
             "touch %s\n"
             "sleep 8 & wait\n",
             marker);
    const char *p = script("good.sh", body);
    const char *extra[] = {"--x", NULL};
    e2b_local_opts o = {.mock_path = p, .extra_args = extra, .quiet = true};
    e2b_local *l;
    e2b_error err;
    assert_int_equal(e2b_local_start(&o, &l, &err), E2B_OK);
    assert_string_equal(e2b_local_url(l), "http://127.0.0.1:1/--port-0---x");
    e2b_config cfg;
    e2b_config_init(&cfg);
    e2b_local_config(l, &cfg);
    assert_string_equal(cfg.api_url, e2b_local_url(l));
    assert_string_equal(cfg.sandbox_url, e2b_local_url(l));
    assert_non_null(cfg.api_key);
    bool seen = false;
    for (int i = 0; i < 1000 && !seen; i++) { /* up to 10 s */
        seen = access(marker, F_OK) == 0;
        if (!seen)
            usleep(10000);
    }
    assert_true(seen);
    /* clean SIGTERM exit -> 0, even though a grandchild (sleep) still holds stdout */
    assert_int_equal(e2b_local_stop(l), 0);
    assert_int_equal(e2b_local_stop(NULL), 0);
}

static void test_stubborn_child_is_killed(void **state)
{
    (void)state;
    const char *p = script("stubborn.sh", "trap '' TERM\necho E2B_MOCK_URL=http://127.0.0.1:2\n"
                                          "while :; do sleep 1; done");
    e2b_local_opts o = {.mock_path = p, .quiet = true};
    e2b_local *l;
    assert_int_equal(e2b_local_start(&o, &l, NULL), E2B_OK);
    assert_int_equal(e2b_local_stop(l), -1); /* needed SIGKILL after the grace period */
}

static void test_bad_outputs(void **state)
{
    (void)state;
    e2b_local *l = (e2b_local *)1;
    e2b_error err;
    e2b_local_opts o = {.mock_path = script("hello.sh", "echo hello; sleep 5"), .quiet = true};
    assert_int_equal(e2b_local_start(&o, &l, &err), E2B_ERR_PROTOCOL);
    assert_null(l);
    assert_non_null(strstr(err.message, "hello"));

    o.mock_path = script("silent.sh", "exec sleep 5");
    o.start_timeout_ms = 300;
    assert_int_equal(e2b_local_start(&o, &l, &err), E2B_ERR_REQUEST_TIMEOUT);

    o.mock_path = script("exits.sh", "exit 3");
    o.start_timeout_ms = 0;
    assert_int_equal(e2b_local_start(&o, &l, &err), E2B_ERR_IO);

    o.mock_path = "/nonexistent/e2b-mock";
    assert_int_equal(e2b_local_start(&o, &l, &err), E2B_ERR_INVALID_ARGUMENT);
    o.mock_path = dir; /* a directory is not a binary */
    assert_int_equal(e2b_local_start(&o, &l, &err), E2B_ERR_INVALID_ARGUMENT);
}

static void test_lookup_via_env(void **state)
{
    (void)state;
    const char *p = script("envmock.sh",
                           "trap 'exit 0' TERM\necho E2B_MOCK_URL=http://127.0.0.1:3\n"
                           "sleep 8 & wait");
    char *old = getenv("E2B_MOCK_BIN") ? strdup(getenv("E2B_MOCK_BIN")) : NULL;
    setenv("E2B_MOCK_BIN", p, 1);
    e2b_local *l;
    assert_int_equal(e2b_local_start(NULL, &l, NULL), E2B_OK);
    assert_string_equal(e2b_local_url(l), "http://127.0.0.1:3");
    assert_int_equal(e2b_local_stop(l), 0);
    setenv("E2B_MOCK_BIN", "/nonexistent", 1);
    assert_int_equal(e2b_local_start(NULL, &l, NULL), E2B_ERR_INVALID_ARGUMENT);
    if (old) {
        setenv("E2B_MOCK_BIN", old, 1);
        free(old);
    } else {
        unsetenv("E2B_MOCK_BIN");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_start_args_drain_stop),
        cmocka_unit_test(test_stubborn_child_is_killed),
        cmocka_unit_test(test_bad_outputs),
        cmocka_unit_test(test_lookup_via_env),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
