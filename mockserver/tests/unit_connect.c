/* unit_connect.c - Connect envelope codec, end-stream frames and the error-code table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "connect.h"

/* Collects decoded envelopes as "flags:payload" lines. */
typedef struct {
    char out[4096];
    size_t n;
    int stop_after; /* return non-zero after this many messages (0 = never) */
    int count;
} sink;

static int collect(void *ud, uint8_t flags, const unsigned char *payload, size_t len)
{
    sink *s = ud;
    s->n += (size_t)snprintf(s->out + s->n, sizeof s->out - s->n, "%u:%.*s|", flags, (int)len,
                             (const char *)payload);
    s->count++;
    return (s->stop_after && s->count >= s->stop_after) ? 1 : 0;
}

/* Three envelopes, one of them empty, one an end-stream frame. */
static unsigned char *sample_stream(size_t *len)
{
    static const char *msgs[] = {"{\"path\":\"/home/user\",\"depth\":1}", "", "{}"};
    static const uint8_t flags[] = {0, 0, CONNECT_FLAG_END_STREAM};
    unsigned char *buf = NULL;
    size_t total = 0;
    for (int i = 0; i < 3; i++) {
        size_t el;
        unsigned char *e = connect_envelope(flags[i], msgs[i], strlen(msgs[i]), &el);
        assert_non_null(e);
        buf = realloc(buf, total + el);
        assert_non_null(buf);
        memcpy(buf + total, e, el);
        total += el;
        free(e);
    }
    *len = total;
    return buf;
}

static const char *expected_sample = "0:{\"path\":\"/home/user\",\"depth\":1}|0:|2:{}|";

static void test_header_bytes(void **state)
{
    (void)state;
    unsigned char h[5];
    connect_envelope_header(h, 0, 107);
    const unsigned char want[5] = {0, 0, 0, 0, 0x6b}; /* the captured 107-byte Start request */
    assert_memory_equal(h, want, 5);
    connect_envelope_header(h, 2, 0x01020304u);
    const unsigned char want2[5] = {2, 1, 2, 3, 4};
    assert_memory_equal(h, want2, 5);
}

static void test_decode_all_at_once(void **state)
{
    (void)state;
    size_t len;
    unsigned char *buf = sample_stream(&len);
    connect_decoder d;
    connect_decoder_init(&d, 0);
    sink s = {0};
    assert_int_equal(connect_decoder_feed(&d, buf, len, collect, &s), CONNECT_DEC_OK);
    assert_int_equal(connect_decoder_finish(&d), CONNECT_DEC_OK);
    assert_string_equal(s.out, expected_sample);
    assert_int_equal(d.messages, 3);
    connect_decoder_free(&d);
    free(buf);
}

static void test_decode_byte_by_byte(void **state)
{
    (void)state;
    size_t len;
    unsigned char *buf = sample_stream(&len);
    connect_decoder d;
    connect_decoder_init(&d, 0);
    sink s = {0};
    for (size_t i = 0; i < len; i++) {
        int before = s.count;
        assert_int_equal(connect_decoder_feed(&d, buf + i, 1, collect, &s), CONNECT_DEC_OK);
        /* between envelopes the input may end; inside one it may not */
        assert_int_equal(connect_decoder_finish(&d),
                         s.count > before ? CONNECT_DEC_OK : CONNECT_DEC_TRUNCATED);
    }
    assert_int_equal(connect_decoder_finish(&d), CONNECT_DEC_OK);
    assert_string_equal(s.out, expected_sample);
    connect_decoder_free(&d);
    free(buf);
}

static void test_decode_every_split(void **state)
{
    (void)state;
    size_t len;
    unsigned char *buf = sample_stream(&len);
    for (size_t a = 0; a <= len; a++) {
        for (size_t b = a; b <= len; b++) {
            connect_decoder d;
            connect_decoder_init(&d, 0);
            sink s = {0};
            assert_int_equal(connect_decoder_feed(&d, buf, a, collect, &s), CONNECT_DEC_OK);
            assert_int_equal(connect_decoder_feed(&d, buf + a, b - a, collect, &s), CONNECT_DEC_OK);
            assert_int_equal(connect_decoder_feed(&d, buf + b, len - b, collect, &s),
                             CONNECT_DEC_OK);
            assert_int_equal(connect_decoder_finish(&d), CONNECT_DEC_OK);
            assert_string_equal(s.out, expected_sample);
            connect_decoder_free(&d);
        }
    }
    free(buf);
}

static void test_decode_too_large(void **state)
{
    (void)state;
    connect_decoder d;
    connect_decoder_init(&d, 16);
    unsigned char h[5];
    connect_envelope_header(h, 0, 17);
    sink s = {0};
    /* the guard trips on the header alone, before any payload is buffered */
    assert_int_equal(connect_decoder_feed(&d, h, 5, collect, &s), CONNECT_DEC_TOO_LARGE);
    assert_int_equal(s.count, 0);
    assert_null(d.buf);
    assert_int_equal(connect_decoder_feed(&d, "x", 1, collect, &s), CONNECT_DEC_FAILED);
    assert_int_equal(connect_decoder_finish(&d), CONNECT_DEC_FAILED);
    connect_decoder_free(&d);

    /* exactly at the limit is fine */
    connect_decoder_init(&d, 16);
    size_t el;
    unsigned char *e = connect_envelope(0, "0123456789abcdef", 16, &el);
    assert_int_equal(connect_decoder_feed(&d, e, el, collect, &s), CONNECT_DEC_OK);
    assert_int_equal(s.count, 1);
    free(e);
    connect_decoder_free(&d);

    /* a 4 GiB announcement with the default limit */
    connect_decoder_init(&d, 0);
    connect_envelope_header(h, 0, UINT32_MAX);
    assert_int_equal(connect_decoder_feed(&d, h, 5, NULL, NULL), CONNECT_DEC_TOO_LARGE);
    connect_decoder_free(&d);
}

static void test_decode_truncated(void **state)
{
    (void)state;
    size_t el;
    unsigned char *e = connect_envelope(0, "{\"a\":1}", 7, &el);
    for (size_t cut = 1; cut < el; cut++) {
        connect_decoder d;
        connect_decoder_init(&d, 0);
        sink s = {0};
        assert_int_equal(connect_decoder_feed(&d, e, cut, collect, &s), CONNECT_DEC_OK);
        assert_int_equal(s.count, 0);
        assert_int_equal(connect_decoder_finish(&d), CONNECT_DEC_TRUNCATED);
        connect_decoder_free(&d);
    }
    connect_decoder d;
    connect_decoder_init(&d, 0);
    assert_int_equal(connect_decoder_finish(&d), CONNECT_DEC_OK); /* empty input */
    assert_int_equal(connect_decoder_feed(&d, NULL, 0, NULL, NULL), CONNECT_DEC_OK);
    connect_decoder_free(&d);
    free(e);
    assert_string_equal(connect_dec_strerror(CONNECT_DEC_TRUNCATED), "incomplete envelope");
}

static void test_decode_callback_stops(void **state)
{
    (void)state;
    size_t len;
    unsigned char *buf = sample_stream(&len);
    connect_decoder d;
    connect_decoder_init(&d, 0);
    sink s = {0};
    s.stop_after = 2;
    assert_int_equal(connect_decoder_feed(&d, buf, len, collect, &s), CONNECT_DEC_CALLBACK);
    assert_int_equal(s.count, 2);
    assert_int_equal(connect_decoder_feed(&d, buf, len, collect, &s), CONNECT_DEC_FAILED);
    assert_int_equal(s.count, 2);
    connect_decoder_free(&d);
    free(buf);
}

static void test_end_stream(void **state)
{
    (void)state;
    size_t len;
    unsigned char *e = connect_end_stream(CONNECT_OK, NULL, &len);
    assert_non_null(e);
    assert_int_equal(len, 7);
    const unsigned char ok[7] = {2, 0, 0, 0, 2, '{', '}'};
    assert_memory_equal(e, ok, 7);
    free(e);

    e = connect_end_stream(CONNECT_NOT_FOUND, "process with pid 7 not found", &len);
    assert_non_null(e);
    assert_int_equal(e[0], CONNECT_FLAG_END_STREAM);
    size_t plen = (size_t)e[1] << 24 | (size_t)e[2] << 16 | (size_t)e[3] << 8 | e[4];
    assert_int_equal(plen + 5, len);
    cJSON *j = cJSON_ParseWithLength((const char *)e + 5, plen);
    assert_non_null(j);
    cJSON *err = cJSON_GetObjectItemCaseSensitive(j, "error");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(err, "code")->valuestring, "not_found");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(err, "message")->valuestring,
                        "process with pid 7 not found");
    cJSON_Delete(j);
    free(e);

    /* a message needing JSON escapes survives */
    e = connect_end_stream(CONNECT_INVALID_ARGUMENT, "cwd '/a\"b\n' does not exist", &len);
    j = cJSON_ParseWithLength((const char *)e + 5, len - 5);
    err = cJSON_GetObjectItemCaseSensitive(j, "error");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(err, "message")->valuestring,
                        "cwd '/a\"b\n' does not exist");
    cJSON_Delete(j);
    free(e);
}

static void test_error_json(void **state)
{
    (void)state;
    char *s = connect_error_json(CONNECT_ALREADY_EXISTS, "directory exists");
    assert_string_equal(s, "{\"code\":\"already_exists\",\"message\":\"directory exists\"}");
    cJSON_free(s);
    s = connect_error_json(CONNECT_UNIMPLEMENTED, NULL);
    assert_string_equal(s, "{\"code\":\"unimplemented\"}");
    cJSON_free(s);
}

static void test_code_table(void **state)
{
    (void)state;
    static const struct {
        connect_code c;
        const char *name;
        int http;
    } rows[] = {
        {CONNECT_CANCELED, "canceled", 499},
        {CONNECT_UNKNOWN, "unknown", 500},
        {CONNECT_INVALID_ARGUMENT, "invalid_argument", 400},
        {CONNECT_DEADLINE_EXCEEDED, "deadline_exceeded", 504},
        {CONNECT_NOT_FOUND, "not_found", 404},
        {CONNECT_ALREADY_EXISTS, "already_exists", 409},
        {CONNECT_PERMISSION_DENIED, "permission_denied", 403},
        {CONNECT_RESOURCE_EXHAUSTED, "resource_exhausted", 429},
        {CONNECT_FAILED_PRECONDITION, "failed_precondition", 400},
        {CONNECT_ABORTED, "aborted", 409},
        {CONNECT_OUT_OF_RANGE, "out_of_range", 400},
        {CONNECT_UNIMPLEMENTED, "unimplemented", 501},
        {CONNECT_INTERNAL, "internal", 500},
        {CONNECT_UNAVAILABLE, "unavailable", 503},
        {CONNECT_DATA_LOSS, "data_loss", 500},
        {CONNECT_UNAUTHENTICATED, "unauthenticated", 401},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        assert_string_equal(connect_code_name(rows[i].c), rows[i].name);
        assert_int_equal(connect_code_http_status(rows[i].c), rows[i].http);
        connect_code back = CONNECT_OK;
        assert_true(connect_code_from_name(rows[i].name, &back));
        assert_int_equal(back, rows[i].c);
    }
    connect_code c = CONNECT_OK;
    assert_false(connect_code_from_name("NOT_FOUND", &c));
    assert_false(connect_code_from_name("ok", &c));
    assert_false(connect_code_from_name(NULL, &c));
    assert_int_equal(c, CONNECT_OK);
    assert_string_equal(connect_code_name((connect_code)99), "unknown");
    assert_int_equal(connect_code_http_status((connect_code)99), 500);

    assert_int_equal(connect_code_from_http_status(400), CONNECT_INTERNAL);
    assert_int_equal(connect_code_from_http_status(401), CONNECT_UNAUTHENTICATED);
    assert_int_equal(connect_code_from_http_status(403), CONNECT_PERMISSION_DENIED);
    assert_int_equal(connect_code_from_http_status(404), CONNECT_UNIMPLEMENTED);
    assert_int_equal(connect_code_from_http_status(429), CONNECT_UNAVAILABLE);
    assert_int_equal(connect_code_from_http_status(502), CONNECT_UNAVAILABLE);
    assert_int_equal(connect_code_from_http_status(503), CONNECT_UNAVAILABLE);
    assert_int_equal(connect_code_from_http_status(504), CONNECT_UNAVAILABLE);
    assert_int_equal(connect_code_from_http_status(500), CONNECT_UNKNOWN);
    assert_int_equal(connect_code_from_http_status(200), CONNECT_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header_bytes),
        cmocka_unit_test(test_decode_all_at_once),
        cmocka_unit_test(test_decode_byte_by_byte),
        cmocka_unit_test(test_decode_every_split),
        cmocka_unit_test(test_decode_too_large),
        cmocka_unit_test(test_decode_truncated),
        cmocka_unit_test(test_decode_callback_stops),
        cmocka_unit_test(test_end_stream),
        cmocka_unit_test(test_error_json),
        cmocka_unit_test(test_code_table),
    };
    return cmocka_run_group_tests_name("connect", tests, NULL, NULL);
}
