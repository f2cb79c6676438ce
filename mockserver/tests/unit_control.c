/* unit_control: metadata filter decoding, pagination cursors, and the util helpers they use
 * (RFC 3339, base64url, percent-decoding). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "control.h"
#include "util.h"

static const char *get(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* sdk-traffic.md §4.1 (c): {"k y":"a b&c=d/é"} is sent as
 *   metadata=k%252520y%3Da%252520b%252526c%25253Dd%25252F%2525C3%2525A9
 * The framework decodes the query value once; the function does the rest. */
static void test_metadata_triple_encoded(void **state)
{
    (void)state;
    const char *wire = "k%252520y%3Da%252520b%252526c%25253Dd%25252F%2525C3%2525A9";
    char *once = mock_url_decode(wire, strlen(wire), 0);
    assert_non_null(once);
    assert_string_equal(once, "k%2520y=a%2520b%2526c%253Dd%252F%25C3%25A9");
    cJSON *m = control_parse_metadata_filter(once);
    free(once);
    assert_non_null(m);
    assert_int_equal(cJSON_GetArraySize(m), 1);
    assert_string_equal(get(m, "k y"), "a b&c=d/\xc3\xa9");
    cJSON_Delete(m);
}

static void test_metadata_simple_and_multi(void **state)
{
    (void)state;
    /* {k: "v w"} -> metadata=k%3Dv%252520w (e2b-protocol.md §4.4) */
    const char *wire = "k%3Dv%252520w";
    char *once = mock_url_decode(wire, strlen(wire), 0);
    cJSON *m = control_parse_metadata_filter(once);
    free(once);
    assert_non_null(m);
    assert_string_equal(get(m, "k"), "v w");
    cJSON_Delete(m);

    m = control_parse_metadata_filter("run=peer-abc&user=u1");
    assert_non_null(m);
    assert_int_equal(cJSON_GetArraySize(m), 2);
    assert_string_equal(get(m, "run"), "peer-abc");
    assert_string_equal(get(m, "user"), "u1");
    cJSON_Delete(m);

    /* Python: quote() then urlencode -> '+' for spaces at the form level */
    m = control_parse_metadata_filter("a+b=c%2520d");
    assert_non_null(m);
    assert_string_equal(get(m, "a b"), "c d");
    cJSON_Delete(m);

    /* empty value and empty filter */
    m = control_parse_metadata_filter("k=");
    assert_non_null(m);
    assert_string_equal(get(m, "k"), "");
    cJSON_Delete(m);
    m = control_parse_metadata_filter("");
    assert_non_null(m);
    assert_int_equal(cJSON_GetArraySize(m), 0);
    cJSON_Delete(m);
}

static void test_metadata_malformed(void **state)
{
    (void)state;
    assert_null(control_parse_metadata_filter("novalue"));
    assert_null(control_parse_metadata_filter("=v"));
    assert_null(control_parse_metadata_filter("k=%zz"));
    assert_null(control_parse_metadata_filter("k=%25zz")); /* second-level decode fails */
    assert_null(control_parse_metadata_filter("k=v&bad"));
}

static void test_token_roundtrip(void **state)
{
    (void)state;
    int64_t ns = 1795000000123456789LL;
    char *tok = control_encode_token(ns, "abc123def456ghi789jk");
    assert_non_null(tok);
    for (const char *p = tok; *p; p++) /* base64url alphabet, no padding */
        assert_true(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", *p));
    size_t n = 0;
    unsigned char *raw = mock_base64url_decode(tok, &n);
    assert_non_null(raw);
    assert_int_equal(n, strlen((char *)raw));
    assert_non_null(strstr((char *)raw, "__abc123def456ghi789jk"));
    assert_memory_equal(raw, "2026-11-18T", 11); /* RFC3339Nano prefix */
    free(raw);
    int64_t back = 0;
    char id[64];
    assert_int_equal(control_decode_token(tok, &back, id, sizeof id), 0);
    assert_true(back == ns);
    assert_string_equal(id, "abc123def456ghi789jk");
    free(tok);

    /* whole-second times have no fraction; INFRA's "__asc" suffix is tolerated */
    char *t2 = mock_base64url_encode("2026-01-02T03:04:05Z__sbx1__asc", 31);
    assert_int_equal(control_decode_token(t2, &back, id, sizeof id), 0);
    assert_string_equal(id, "sbx1");
    char fmt[64];
    mock_format_rfc3339_nano(back, fmt, sizeof fmt);
    assert_string_equal(fmt, "2026-01-02T03:04:05Z");
    free(t2);
}

static void test_token_malformed(void **state)
{
    (void)state;
    int64_t ns;
    char id[8];
    assert_int_not_equal(control_decode_token("!!!", &ns, id, sizeof id), 0);
    char *t = mock_base64url_encode("no-separator", 12);
    assert_int_not_equal(control_decode_token(t, &ns, id, sizeof id), 0);
    free(t);
    t = mock_base64url_encode("notatime__sbx", 13);
    assert_int_not_equal(control_decode_token(t, &ns, id, sizeof id), 0);
    free(t);
    t = mock_base64url_encode("2026-01-02T03:04:05Z__idtoolongforbuf", 37);
    assert_int_not_equal(control_decode_token(t, &ns, id, sizeof id), 0);
    free(t);
    t = mock_base64url_encode("2026-01-02T03:04:05Z__", 22);
    assert_int_not_equal(control_decode_token(t, &ns, id, sizeof id), 0);
    free(t);
}

static void test_rfc3339(void **state)
{
    (void)state;
    char buf[64];
    mock_format_rfc3339_ms(0, buf, sizeof buf);
    assert_string_equal(buf, "1970-01-01T00:00:00.000Z");
    mock_format_rfc3339_ms(1764148514123LL, buf, sizeof buf);
    assert_string_equal(buf, "2025-11-26T09:15:14.123Z");
    mock_format_rfc3339_nano(1764148514100000000LL, buf, sizeof buf);
    assert_string_equal(buf, "2025-11-26T09:15:14.1Z");
    int64_t ns = 0;
    assert_int_equal(mock_parse_rfc3339_ns("2025-11-26T09:15:14.123Z", &ns), 0);
    assert_true(ns == 1764148514123000000LL);
    assert_int_equal(mock_parse_rfc3339_ns("2025-11-26T10:15:14+01:00", &ns), 0);
    assert_true(ns == 1764148514000000000LL);
    assert_int_not_equal(mock_parse_rfc3339_ns("2025-11-26", &ns), 0);
    assert_int_not_equal(mock_parse_rfc3339_ns("2025-13-26T09:15:14Z", &ns), 0);
    assert_int_not_equal(mock_parse_rfc3339_ns("2025-11-26T09:15:14Zjunk", &ns), 0);
    assert_int_not_equal(mock_parse_rfc3339_ns("2025-11-26T09:15:14.Z", &ns), 0);
}

static void test_base64url(void **state)
{
    (void)state;
    /* every length 0..7 round-trips, including bytes that map to - and _ */
    const unsigned char data[] = {0xfb, 0xff, 0xbf, 0x00, 0x3e, 0x3f, 0x7f};
    for (size_t n = 0; n <= sizeof data; n++) {
        char *e = mock_base64url_encode(data, n);
        assert_non_null(e);
        assert_null(strchr(e, '='));
        assert_null(strchr(e, '+'));
        assert_null(strchr(e, '/'));
        size_t m = 99;
        unsigned char *d = mock_base64url_decode(e, &m);
        assert_non_null(d);
        assert_int_equal(m, n);
        assert_memory_equal(d, data, n);
        free(d);
        free(e);
    }
    size_t m;
    assert_null(mock_base64url_decode("a", &m));          /* impossible length */
    assert_null(mock_base64url_decode("ab+/", &m));       /* standard alphabet rejected */
    unsigned char *d = mock_base64url_decode("YWI=", &m); /* padding accepted */
    assert_non_null(d);
    assert_int_equal(m, 2);
    free(d);
}

static void test_url_decode(void **state)
{
    (void)state;
    char *s = mock_url_decode("a%20b+c", 7, 0);
    assert_string_equal(s, "a b+c");
    free(s);
    s = mock_url_decode("a%20b+c", 7, 1);
    assert_string_equal(s, "a b c");
    free(s);
    assert_null(mock_url_decode("%2", 2, 0));
    assert_null(mock_url_decode("%g0", 3, 0));
    s = mock_url_decode("%41%4a%4A", 9, 0);
    assert_string_equal(s, "AJJ");
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_metadata_triple_encoded),
        cmocka_unit_test(test_metadata_simple_and_multi),
        cmocka_unit_test(test_metadata_malformed),
        cmocka_unit_test(test_token_roundtrip),
        cmocka_unit_test(test_token_malformed),
        cmocka_unit_test(test_rfc3339),
        cmocka_unit_test(test_base64url),
        cmocka_unit_test(test_url_decode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
