/* unit_json_util.c - e2b_json_valid (the allocation-free check that tells a cJSON
 * out-of-memory NULL from a syntax error) and the error codes of e2b_json_parse. */
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

static const char *const valid[] = {
    "{}",
    "[]",
    " { } ",
    "\n[1,2,3]\r\n",
    "0",
    "-0",
    "1.5e-3",
    "-12E+4",
    "true",
    "false",
    "null",
    "\"\"",
    "\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\"",
    "\"\\u00e9\\u0000\"",
    "\"\\ud83d\\ude00\"",
    "{\"a\":{\"b\":[{},[],null,\"x\"]},\"c\":-1}",
    "[[[[[[[[[[1]]]]]]]]]]",
    "{\"sandboxID\":\"abc\",\"cpuCount\":2}",
};

static const char *const invalid[] = {
    "",
    " ",
    "{",
    "}",
    "[1,]",
    "{\"a\":1,}",
    "{\"a\"}",
    "{a:1}",
    "[1 2]",
    "01",
    "1.",
    ".5",
    "1e",
    "-",
    "+1",
    "tru",
    "nul",
    "True",
    "\"abc",
    "\"\\x\"",
    "\"\\u12\"",
    "\"\\udc00\"",
    "\"\\ud800\"",
    "\"\\ud800\\u0041\"",
    "\"tab\there\"",
    "{} {}",
    "[1] x",
    "{\"a\":1}}",
    "[]]",
    "NaN",
    "'a'",
    "{\"a\" 1}",
    /* 64-character number: cJSON 1.7.15 rejects it, so must we */
    "1234567890123456789012345678901234567890123456789012345678901234",
};

static void valid_is_a_subset_of_cjson(void **state)
{
    (void)state;
    for (size_t k = 0; k < sizeof valid / sizeof *valid; k++) {
        const char *s = valid[k];
        assert_true(e2b_json_valid(s, strlen(s)));
        /* the property the OOM mapping relies on: cJSON parses everything valid() accepts */
        e2b_error err = {0};
        cJSON *j = e2b_json_parse(s, strlen(s), "t", &err);
        assert_non_null(j);
        cJSON_Delete(j);
    }
}

static void invalid_rejected_as_protocol(void **state)
{
    (void)state;
    for (size_t k = 0; k < sizeof invalid / sizeof *invalid; k++) {
        const char *s = invalid[k];
        if (e2b_json_valid(s, strlen(s)))
            fail_msg("accepted: %s", s);
        /* cJSON is laxer for some ("01", "1.", raw tabs): stricter is the safe side, an OOM
         * on those is then reported as protocol. Where cJSON fails, it must be protocol. */
        e2b_error err = {0};
        cJSON *j = e2b_json_parse(s, strlen(s), "t", &err);
        if (j)
            cJSON_Delete(j);
        else
            assert_int_equal(err.code, E2B_ERR_PROTOCOL);
    }
    /* an embedded NUL, and a length cutting a valid document short */
    assert_false(e2b_json_valid("[1,\0]", 5));
    assert_false(e2b_json_valid("{\"a\":1}", 6));
    assert_false(e2b_json_valid(NULL, 0));
}

static void nesting_limit(void **state)
{
    (void)state;
    char buf[2 * 300 + 1];
    for (size_t depth = 255; depth <= 300; depth += 45) {
        memset(buf, '[', depth);
        memset(buf + depth, ']', depth);
        /* deeper than our 256 is "not known valid" (cJSON itself stops at 1000) */
        assert_int_equal(e2b_json_valid(buf, 2 * depth), depth <= 256);
    }
}

static void info_rejects_empty_sandbox_id(void **state)
{
    (void)state;
    cJSON *j = cJSON_Parse("{\"sandboxID\":\"\",\"templateID\":\"t\"}");
    assert_non_null(j);
    e2b_sandbox_info info;
    memset(&info, 0, sizeof info);
    e2b_error err = {0};
    assert_int_equal(e2b_sandbox_info_from_json(j, &info, &err), E2B_ERR_PROTOCOL);
    assert_non_null(strstr(err.message, "sandboxID"));
    e2b_sandbox_info_clear(&info);
    cJSON_Delete(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(valid_is_a_subset_of_cjson),
        cmocka_unit_test(invalid_rejected_as_protocol),
        cmocka_unit_test(nesting_limit),
        cmocka_unit_test(info_rejects_empty_sandbox_id),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
