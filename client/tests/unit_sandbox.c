/* unit_sandbox.c - the network-free parts of the lifecycle: list query encoding (byte-exact
 * with the JS SDK), RFC 3339, SandboxDetail / Sandbox parsing, versions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "e2b/e2b.h"
#include "json_util.h"
#include "sandbox_internal.h"

static char *query(const e2b_list_opts *o, const char *tok)
{
    char *q = NULL;
    assert_int_equal(e2b_list_query(o, tok, &q, NULL), E2B_OK);
    return q;
}

static void test_metadata_encoding_js_examples(void **state)
{
    (void)state;
    e2b_kv a[] = {{"k y", "a b&c=d/\xc3\xa9"}};
    e2b_list_opts o = {.metadata = a, .metadata_len = 1};
    char *q = query(&o, NULL);
    assert_string_equal(q, "metadata=k%252520y%3Da%252520b%252526c%25253Dd%25252F%2525C3%2525A9");
    free(q);
    e2b_kv b[] = {{"k", "v w"}};
    o.metadata = b;
    q = query(&o, NULL);
    assert_string_equal(q, "metadata=k%3Dv%252520w");
    free(q);
    e2b_kv c[] = {{"run", "peer-abc"}};
    o.metadata = c;
    q = query(&o, NULL);
    assert_string_equal(q, "metadata=run%3Dpeer-abc");
    free(q);
    /* two pairs are joined with '&' (encoded once more: %26); JS keeps !~*'() in
     * encodeURIComponent, URLSearchParams then encodes all but *-._ */
    e2b_kv d[] = {{"a", "1"}, {"b!", "x~*"}};
    o.metadata = d;
    o.metadata_len = 2;
    q = query(&o, NULL);
    assert_string_equal(q, "metadata=a%3D1%26b%2521%3Dx%257E*");
    free(q);
}

static void test_list_query_params(void **state)
{
    (void)state;
    char *q = query(NULL, NULL);
    assert_string_equal(q, "");
    free(q);
    e2b_list_opts o = {.running = true, .paused = true, .limit = 5, .order_asc = true};
    q = query(&o, "tok/+=");
    assert_string_equal(q, "state=running,paused&limit=5&nextToken=tok%2F%2B%3D&order=asc");
    free(q);
    e2b_list_opts p = {.paused = true, .next_token = "abc"};
    q = query(&p, NULL);
    assert_string_equal(q, "state=paused&nextToken=abc");
    free(q);
    e2b_error err;
    e2b_list_opts bad = {.limit = 101};
    assert_int_equal(e2b_list_query(&bad, NULL, &q, &err), E2B_ERR_INVALID_ARGUMENT);
    assert_null(q);
    bad.limit = -1;
    assert_int_equal(e2b_list_query(&bad, NULL, &q, &err), E2B_ERR_INVALID_ARGUMENT);
    e2b_kv nulls[] = {{"k", NULL}};
    e2b_list_opts bad2 = {.metadata = nulls, .metadata_len = 1};
    assert_int_equal(e2b_list_query(&bad2, NULL, &q, &err), E2B_ERR_INVALID_ARGUMENT);
}

static void test_rfc3339(void **state)
{
    (void)state;
    time_t t = 0;
    assert_true(e2b_parse_rfc3339("1970-01-01T00:00:00Z", &t));
    assert_int_equal(t, 0);
    assert_true(e2b_parse_rfc3339("2024-02-29T12:34:56Z", &t));
    assert_int_equal(t, 1709210096);
    assert_true(e2b_parse_rfc3339("2024-02-29T12:34:56.123456789Z", &t));
    assert_int_equal(t, 1709210096);
    assert_true(e2b_parse_rfc3339("2024-02-29T14:34:56+02:00", &t));
    assert_int_equal(t, 1709210096);
    assert_true(e2b_parse_rfc3339("2024-02-29t07:04:56.5-05:30", &t));
    assert_int_equal(t, 1709210096);
    assert_true(e2b_parse_rfc3339("2024-02-29T12:34:56z", &t));
    assert_int_equal(t, 1709210096);
    const char *bad[] = {"",
                         "2024-02-30T00:00:00Z",
                         "2023-02-29T00:00:00Z",
                         "2024-13-01T00:00:00Z",
                         "2024-01-01T24:00:00Z",
                         "2024-01-01T00:00:00",
                         "2024-01-01 00:00",
                         "2024-01-01T00:00:00Zx",
                         "2024-01-01T00:00:00.Z",
                         "2024-01-01T00:00:00+0200",
                         "abcd",
                         "2024-1-01T00:00:00Z"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        time_t keep = 42;
        assert_false(e2b_parse_rfc3339(bad[i], &keep));
        assert_int_equal(keep, 42);
    }
    assert_false(e2b_parse_rfc3339(NULL, &t));
    char buf[32];
    e2b_format_rfc3339(1709210096, buf, sizeof buf);
    assert_string_equal(buf, "2024-02-29T12:34:56Z");
}

static e2b_code parse_info(const char *json, e2b_sandbox_info *info, e2b_error *err)
{
    cJSON *j = e2b_json_parse(json, strlen(json), "test", err);
    assert_non_null(j);
    memset(info, 0, sizeof *info);
    e2b_code rc = e2b_sandbox_info_from_json(j, info, err);
    cJSON_Delete(j);
    return rc;
}

static void test_info_full(void **state)
{
    (void)state;
    const char *json =
        "{\"templateID\":\"base\",\"alias\":\"my-base\",\"sandboxID\":\"i123\",\"clientID\":"
        "\"6532622b\",\"startedAt\":\"2026-11-26T09:00:00Z\",\"endAt\":\"2026-11-26T09:05:00."
        "5Z\",\"cpuCount\":2,\"memoryMB\":512,\"diskSizeMB\":1024,\"state\":\"paused\","
        "\"envdVersion\":\"0.6.13\",\"envdAccessToken\":\"tok\",\"domain\":null,"
        "\"allowInternetAccess\":false,\"lifecycle\":{\"autoResume\":true,\"onTimeout\":"
        "\"pause\"},\"metadata\":{\"a\":\"1\",\"b c\":\"d\"},\"volumeMounts\":[],"
        "\"network\":{\"allowOut\":[]}}";
    e2b_sandbox_info i;
    e2b_error err;
    assert_int_equal(parse_info(json, &i, &err), E2B_OK);
    assert_string_equal(i.sandbox_id, "i123");
    assert_string_equal(i.template_id, "base");
    assert_string_equal(i.alias, "my-base");
    assert_string_equal(i.client_id, "6532622b");
    assert_string_equal(i.envd_version, "0.6.13");
    assert_string_equal(i.envd_access_token, "tok");
    assert_null(i.domain);
    assert_string_equal(i.started_at, "2026-11-26T09:00:00Z");
    assert_int_equal(i.end_at_unix - i.started_at_unix, 300);
    assert_int_equal(i.state, E2B_STATE_PAUSED);
    assert_int_equal(i.cpu_count, 2);
    assert_int_equal(i.memory_mb, 512);
    assert_int_equal(i.disk_size_mb, 1024);
    assert_int_equal(i.allow_internet_access, 0);
    assert_true(i.lifecycle_auto_resume);
    assert_string_equal(i.lifecycle_on_timeout, "pause");
    assert_int_equal(i.metadata_len, 2);
    assert_string_equal(i.metadata[1].key, "b c");
    assert_string_equal(i.metadata[1].value, "d");
    e2b_sandbox_info_clear(&i);
}

static void test_info_minimal_and_lenient(void **state)
{
    (void)state;
    e2b_sandbox_info i;
    assert_int_equal(parse_info("{\"sandboxID\":\"x\"}", &i, NULL), E2B_OK);
    assert_string_equal(i.sandbox_id, "x");
    assert_null(i.template_id);
    assert_int_equal(i.state, E2B_STATE_UNKNOWN);
    assert_int_equal(i.allow_internet_access, -1);
    assert_int_equal(i.metadata_len, 0);
    e2b_sandbox_info_clear(&i);
    /* unparsable date: kept as text, 0 as time; unknown state: UNKNOWN */
    assert_int_equal(parse_info("{\"sandboxID\":\"x\",\"startedAt\":\"yesterday\",\"state\":"
                                "\"hibernating\",\"metadata\":null}",
                                &i, NULL),
                     E2B_OK);
    assert_string_equal(i.started_at, "yesterday");
    assert_int_equal(i.started_at_unix, 0);
    assert_int_equal(i.state, E2B_STATE_UNKNOWN);
    e2b_sandbox_info_clear(&i);
}

static void test_info_bad_types(void **state)
{
    (void)state;
    static const struct {
        const char *json, *field;
    } cases[] = {
        {"{}", "sandboxID"},
        {"{\"sandboxID\":5}", "sandboxID"},
        {"{\"sandboxID\":\"x\",\"cpuCount\":\"two\"}", "cpuCount"},
        {"{\"sandboxID\":\"x\",\"cpuCount\":1.5}", "cpuCount"},
        {"{\"sandboxID\":\"x\",\"memoryMB\":1e12}", "memoryMB"},
        {"{\"sandboxID\":\"x\",\"state\":1}", "state"},
        {"{\"sandboxID\":\"x\",\"templateID\":[]}", "templateID"},
        {"{\"sandboxID\":\"x\",\"endAt\":{}}", "endAt"},
        {"{\"sandboxID\":\"x\",\"allowInternetAccess\":\"yes\"}", "allowInternetAccess"},
        {"{\"sandboxID\":\"x\",\"lifecycle\":true}", "lifecycle"},
        {"{\"sandboxID\":\"x\",\"lifecycle\":{\"onTimeout\":3}}", "onTimeout"},
        {"{\"sandboxID\":\"x\",\"metadata\":[\"a\"]}", "metadata"},
        {"{\"sandboxID\":\"x\",\"metadata\":{\"a\":\"1\",\"n\":2}}", "\"n\""},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        e2b_sandbox_info i;
        e2b_error err;
        assert_int_equal(parse_info(cases[k].json, &i, &err), E2B_ERR_PROTOCOL);
        assert_int_equal(err.code, E2B_ERR_PROTOCOL);
        if (!strstr(err.message, cases[k].field))
            fail_msg("case %zu: \"%s\" does not name %s", k, err.message, cases[k].field);
        e2b_sandbox_info_clear(&i); /* partial data is freed without leaks */
    }
    /* not an object at all */
    cJSON *arr = cJSON_CreateArray();
    e2b_sandbox_info i = {0};
    assert_int_equal(e2b_sandbox_info_from_json(arr, &i, NULL), E2B_ERR_PROTOCOL);
    cJSON_Delete(arr);
}

static void test_json_parse_errors(void **state)
{
    (void)state;
    e2b_error err;
    assert_null(e2b_json_parse("{\"a\":1} x", 9, "reply", &err));
    assert_int_equal(err.code, E2B_ERR_PROTOCOL);
    assert_non_null(strstr(err.message, "reply"));
    assert_null(e2b_json_parse("", 0, "reply", &err));
    assert_int_equal(err.code, E2B_ERR_PROTOCOL);
    assert_null(e2b_json_parse("{\"a\":", 5, "reply", &err));
    assert_null(e2b_json_parse("{}\0{}", 5, "reply", &err));
    cJSON *j = e2b_json_parse("{\"a\":1}  \n", 10, "reply", &err); /* trailing space ok */
    assert_non_null(j);
    cJSON_Delete(j);
    /* not NUL-terminated input */
    char buf[4] = {'[', '1', ']', 'X'};
    j = e2b_json_parse(buf, 3, "reply", &err);
    assert_non_null(j);
    cJSON_Delete(j);
}

static void test_sandbox_reply(void **state)
{
    (void)state;
    const char *ok = "{\"alias\":\"code-interpreter-v1\",\"clientID\":\"6532622b\",\"domain\":null,"
                     "\"envdVersion\":\"v0.5.7\",\"sandboxID\":\"i0a9c\",\"templateID\":"
                     "\"code-interpreter-v1\",\"trafficAccessToken\":null,\"envdAccessToken\":"
                     "\"secret\"}";
    cJSON *j = e2b_json_parse(ok, strlen(ok), "t", NULL);
    e2b_sandbox *s = NULL;
    assert_int_equal(e2b_sandbox_from_json((e2b_client *)0x1, j, &s, NULL), E2B_OK);
    cJSON_Delete(j);
    assert_string_equal(e2b_sandbox_id(s), "i0a9c");
    assert_string_equal(e2b_sandbox_template_id(s), "code-interpreter-v1");
    assert_string_equal(e2b_sandbox_envd_version(s), "v0.5.7");
    assert_string_equal(e2b_sandbox_envd_access_token(s), "secret");
    assert_null(e2b_sandbox_traffic_access_token(s));
    assert_null(e2b_sandbox_domain(s));
    assert_ptr_equal(e2b_sandbox_client(s), (e2b_client *)0x1);
    e2b_sandbox_free(s);

    static const char *const bad[] = {
        "{\"envdVersion\":\"0.6.0\"}",                     /* no sandboxID */
        "{\"sandboxID\":\"a\"}",                           /* no envdVersion */
        "{\"sandboxID\":\"a\",\"envdVersion\":\"0.0.9\"}", /* too old */
        "{\"sandboxID\":\"a\",\"envdVersion\":\"latest\"}",
        "{\"sandboxID\":\"\",\"envdVersion\":\"0.6.0\"}",
        "{\"sandboxID\":\"a\",\"envdVersion\":\"0.6.0\",\"domain\":7}",
        "[]",
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        j = e2b_json_parse(bad[k], strlen(bad[k]), "t", NULL);
        assert_non_null(j);
        e2b_error err;
        s = (e2b_sandbox *)0x1;
        assert_int_equal(e2b_sandbox_from_json(NULL, j, &s, &err), E2B_ERR_PROTOCOL);
        assert_null(s);
        cJSON_Delete(j);
    }
}

static void test_semver(void **state)
{
    (void)state;
    bool ok;
    assert_int_equal(e2b_semver_cmp("0.1.0", "0.1.0", &ok), 0);
    assert_true(ok);
    assert_true(e2b_semver_cmp("0.6.13", "0.6.4", &ok) > 0);
    assert_true(e2b_semver_cmp("v0.0.9", "0.1.0", &ok) < 0);
    assert_true(e2b_semver_cmp("1.0.0-rc1", "0.99.99", &ok) > 0);
    assert_true(ok);
    e2b_semver_cmp("1.0", "0.1.0", &ok);
    assert_false(ok);
    e2b_semver_cmp("1.0.0x", "0.1.0", &ok);
    assert_false(ok);
}

static void test_create_opts_init(void **state)
{
    (void)state;
    e2b_create_opts o;
    memset(&o, 0x5a, sizeof o);
    e2b_create_opts_init(&o);
    assert_null(o.template_id);
    assert_int_equal(o.timeout_s, 0);
    assert_int_equal(o.allow_internet_access, -1);
    assert_false(o.auto_pause);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_metadata_encoding_js_examples),
        cmocka_unit_test(test_list_query_params),
        cmocka_unit_test(test_rfc3339),
        cmocka_unit_test(test_info_full),
        cmocka_unit_test(test_info_minimal_and_lenient),
        cmocka_unit_test(test_info_bad_types),
        cmocka_unit_test(test_json_parse_errors),
        cmocka_unit_test(test_sandbox_reply),
        cmocka_unit_test(test_semver),
        cmocka_unit_test(test_create_opts_init),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
