/* unit_connect.c - the Connect JSON codec: envelope decoder (all at once, byte by byte, at
 * every split point, truncated, garbage), encoder, error mapping, proto3 JSON helpers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "connect.h"

/* ---- helpers ------------------------------------------------------------------------ */

typedef struct collected {
    char *msgs[64];
    size_t lens[64];
    size_t n;
    int fail_at; /* callback returns an error for message number fail_at (1-based), 0 never */
} collected;

static e2b_code collect(void *ud, const char *json, size_t len, e2b_error *err)
{
    collected *c = ud;
    if (c->fail_at && (int)c->n + 1 == c->fail_at)
        return e2b_error_set(err, E2B_ERR_IO, 0, "callback refused message %zu", c->n + 1);
    assert_true(c->n < 64);
    c->msgs[c->n] = malloc(len + 1);
    memcpy(c->msgs[c->n], json, len);
    c->msgs[c->n][len] = '\0';
    c->lens[c->n] = len;
    c->n++;
    return E2B_OK;
}

static void collected_free(collected *c)
{
    for (size_t i = 0; i < c->n; i++)
        free(c->msgs[i]);
    memset(c, 0, sizeof *c);
}

/* Appends one envelope to a growing byte buffer. */
static void put_env(char **buf, size_t *len, unsigned char flags, const char *json)
{
    size_t n;
    char *env = e2b_connect_envelope(flags, json, strlen(json), &n);
    assert_non_null(env);
    *buf = realloc(*buf, *len + n);
    memcpy(*buf + *len, env, n);
    *len += n;
    free(env);
}

static const char *const MSGS[] = {
    "{\"event\":{\"start\":{\"pid\":42}}}",
    "{\"event\":{\"keepalive\":{}}}",
    "{\"event\":{\"data\":{\"stdout\":\"aGVsbG8K\"}}}",
    "",
    "{\"event\":{\"end\":{\"exitCode\":2,\"exited\":true,\"status\":\"exit status 2\"}}}",
};
#define NMSGS (sizeof MSGS / sizeof MSGS[0])

static char *sample_stream(size_t *len, const char *end_json)
{
    char *buf = NULL;
    *len = 0;
    for (size_t i = 0; i < NMSGS; i++)
        put_env(&buf, len, 0, MSGS[i]);
    if (end_json)
        put_env(&buf, len, E2B_CONNECT_FLAG_END_STREAM, end_json);
    return buf;
}

static void check_sample(const collected *c)
{
    assert_int_equal(c->n, NMSGS);
    for (size_t i = 0; i < NMSGS; i++) {
        assert_int_equal(c->lens[i], strlen(MSGS[i]));
        assert_string_equal(c->msgs[i], MSGS[i]);
    }
}

/* Feeds buf in chunks whose boundaries are the given cut points (sorted). */
static e2b_code feed_cuts(e2b_connect_decoder *d, const char *buf, size_t len, const size_t *cuts,
                          size_t ncuts, collected *c, e2b_error *err)
{
    size_t prev = 0;
    for (size_t i = 0; i <= ncuts; i++) {
        size_t end = i < ncuts ? cuts[i] : len;
        e2b_code rc = e2b_connect_decoder_feed(d, buf + prev, end - prev, collect, c, err);
        if (rc != E2B_OK)
            return rc;
        prev = end;
    }
    return e2b_connect_decoder_finish(d, err);
}

/* ---- decoder ------------------------------------------------------------------------ */

static void test_decode_all_at_once(void **state)
{
    (void)state;
    size_t len;
    char *buf = sample_stream(&len, "{}");
    e2b_connect_decoder d;
    e2b_connect_decoder_init(&d, 0, E2B_CONNECT_PROCESS);
    collected c = {0};
    e2b_error err;
    e2b_error_clear(&err);
    assert_int_equal(feed_cuts(&d, buf, len, NULL, 0, &c, &err), E2B_OK);
    check_sample(&c);
    assert_true(d.ended);
    /* whole messages inside one chunk are passed without copying */
    assert_null(d.buf);
    collected_free(&c);
    e2b_connect_decoder_free(&d);
    free(buf);
}

static void test_decode_byte_by_byte(void **state)
{
    (void)state;
    size_t len;
    char *buf = sample_stream(&len, "{\"metadata\":{\"k\":[\"v\"]}}");
    e2b_connect_decoder d;
    e2b_connect_decoder_init(&d, 0, E2B_CONNECT_PROCESS);
    collected c = {0};
    e2b_error err;
    for (size_t i = 0; i < len; i++)
        assert_int_equal(e2b_connect_decoder_feed(&d, buf + i, 1, collect, &c, &err), E2B_OK);
    assert_int_equal(e2b_connect_decoder_finish(&d, &err), E2B_OK);
    check_sample(&c);
    collected_free(&c);
    e2b_connect_decoder_free(&d);
    free(buf);
}

static void test_decode_every_split_point(void **state)
{
    (void)state;
    size_t len;
    char *buf = sample_stream(&len, "{}");
    for (size_t i = 0; i <= len; i++) {
        for (size_t j = i; j <= len; j += 7) { /* two cuts: i and j */
            e2b_connect_decoder d;
            e2b_connect_decoder_init(&d, 0, E2B_CONNECT_PROCESS);
            collected c = {0};
            e2b_error err;
            size_t cuts[2] = {i, j};
            assert_int_equal(feed_cuts(&d, buf, len, cuts, 2, &c, &err), E2B_OK);
            check_sample(&c);
            collected_free(&c);
            e2b_connect_decoder_free(&d);
        }
    }
    free(buf);
}

static void test_decode_empty_data_message_and_zero_len_feed(void **state)
{
    (void)state;
    e2b_connect_decoder d;
    e2b_connect_decoder_init(&d, 0, E2B_CONNECT_FILESYSTEM);
    collected c = {0};
    e2b_error err;
    assert_int_equal(e2b_connect_decoder_feed(&d, NULL, 0, collect, &c, &err), E2B_OK);
    char *buf = NULL;
    size_t len = 0;
    put_env(&buf, &len, 0, "");
    put_env(&buf, &len, E2B_CONNECT_FLAG_END_STREAM, "{}");
    assert_int_equal(e2b_connect_decoder_feed(&d, buf, len, collect, &c, &err), E2B_OK);
    assert_int_equal(c.n, 1);
    assert_int_equal(c.lens[0], 0);
    assert_int_equal(e2b_connect_decoder_finish(&d, &err), E2B_OK);
    collected_free(&c);
    e2b_connect_decoder_free(&d);
    free(buf);
}

static void test_end_stream_error_mapped(void **state)
{
    (void)state;
    const char *end =
        "{\"error\":{\"code\":\"not_found\",\"message\":\"process with pid 7 not found\"}}";
    char *buf = NULL;
    size_t len = 0;
    put_env(&buf, &len, E2B_CONNECT_FLAG_END_STREAM, end);
    for (int svc = 0; svc < 2; svc++) {
        for (size_t cut = 0; cut <= len; cut++) {
            e2b_connect_decoder d;
            e2b_connect_decoder_init(&d, 0, (e2b_connect_service)svc);
            collected c = {0};
            e2b_error err;
            e2b_error_clear(&err);
            size_t cuts[1] = {cut};
            e2b_code want = svc == E2B_CONNECT_PROCESS ? E2B_ERR_NOT_FOUND : E2B_ERR_FILE_NOT_FOUND;
            assert_int_equal(feed_cuts(&d, buf, len, cuts, 1, &c, &err), want);
            assert_int_equal(err.code, want);
            assert_non_null(strstr(err.message, "process with pid 7 not found"));
            assert_non_null(strstr(err.message, "not_found"));
            /* finish after an error end reports it again, with its details */
            e2b_error err2;
            e2b_error_clear(&err2);
            assert_int_equal(e2b_connect_decoder_finish(&d, &err2), want);
            assert_non_null(strstr(err2.message, "pid 7"));
            assert_int_equal(c.n, 0);
            e2b_connect_decoder_free(&d);
        }
    }
    free(buf);
}

static void test_end_stream_error_codes(void **state)
{
    (void)state;
    static const struct {
        const char *code;
        e2b_code want;
    } cases[] = {
        {"deadline_exceeded", E2B_ERR_OPERATION_TIMEOUT},
        {"unavailable", E2B_ERR_SANDBOX_GONE},
        {"canceled", E2B_ERR_CANCELLED},
        {"invalid_argument", E2B_ERR_INVALID_ARGUMENT},
        {"unauthenticated", E2B_ERR_AUTH},
        {"internal", E2B_ERR_INTERNAL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char end[200];
        snprintf(end, sizeof end, "{\"error\":{\"code\":\"%s\",\"message\":\"m\"}}", cases[i].code);
        size_t len;
        char *buf = sample_stream(&len, end);
        e2b_connect_decoder d;
        e2b_connect_decoder_init(&d, 0, E2B_CONNECT_PROCESS);
        collected c = {0};
        e2b_error err;
        assert_int_equal(feed_cuts(&d, buf, len, NULL, 0, &c, &err), cases[i].want);
        /* the data messages before the error were all delivered */
        check_sample(&c);
        collected_free(&c);
        e2b_connect_decoder_free(&d);
        free(buf);
    }
}

static void test_missing_end_stream(void **state)
{
    (void)state;
    size_t len;
    char *buf = sample_stream(&len, NULL);
    /* close at each envelope boundary: missing EndStreamResponse; elsewhere: incomplete */
    size_t boundaries[NMSGS + 1];
    size_t b = 0, off = 0;
    boundaries[b++] = 0;
    for (size_t i = 0; i < NMSGS; i++) {
        off += 5 + strlen(MSGS[i]);
        boundaries[b++] = off;
    }
    for (size_t cut = 0; cut <= len; cut++) {
        bool at_boundary = false;
        for (size_t k = 0; k < b; k++)
            at_boundary |= boundaries[k] == cut;
        e2b_connect_decoder d;
        e2b_connect_decoder_init(&d, 0, E2B_CONNECT_PROCESS);
        collected c = {0};
        e2b_error err;
        e2b_error_clear(&err);
        for (size_t i = 0; i < cut; i++)
            assert_int_equal(e2b_connect_decoder_feed(&d, buf + i, 1, collect, &c, &err), E2B_OK);
        assert_int_equal(e2b_connect_decoder_finish(&d, &err), E2B_ERR_PROTOCOL);
        assert_int_equal(err.code, E2B_ERR_PROTOCOL);
        if (at_boundary)
            assert_non_null(strstr(err.message, "missing EndStreamResponse"));
        else
            assert_non_null(strstr(err.message, "incomplete envelope"));
        collected_free(&c);
        e2b_connect_decoder_free(&d);
    }
    free(buf);
}

static void test_compressed_and_unknown_flags(void **state)
{
    (void)state;
    unsigned char flags[] = {0x01, 0x03, 0x04, 0x80};
    for (size_t i = 0; i < sizeof flags; i++) {
        char *buf = NULL;
        size_t len = 0;
        put_env(&buf, &len, 0, "{}");
        put_env(&buf, &len, flags[i], "{}");
        e2b_connect_decoder d;
        e2b_connect_decoder_init(&d, 0, E2B_CONNECT_PROCESS);
        collected c = {0};
        e2b_error err;
        assert_int_equal(e2b_connect_decoder_feed(&d, buf, len, collect, &c, &err),
                         E2B_ERR_PROTOCOL);
        assert_int_equal(c.n, 1);
        if (flags[i] & 1)
            assert_non_null(strstr(err.message, "compressed"));
        /* failed is sticky */
        assert_int_equal(e2b_connect_decoder_feed(&d, "x", 1, collect, &c, &err), E2B_ERR_PROTOCOL);
        assert_int_equal(e2b_connect_decoder_finish(&d, &err), E2B_ERR_PROTOCOL);
        collected_free(&c);
        e2b_connect_decoder_free(&d);
        free(buf);
    }
}

static void test_max_size_guard(void **state)
{
    (void)state;
    e2b_connect_decoder d;
    e2b_connect_decoder_init(&d, 16, E2B_CONNECT_PROCESS);
    collected c = {0};
    e2b_error err;
    /* 16 bytes is fine */
    char *buf = NULL;
    size_t len = 0;
    put_env(&buf, &len, 0, "0123456789abcdef");
    assert_int_equal(e2b_connect_decoder_feed(&d, buf, len, collect, &c, &err), E2B_OK);
    /* a header announcing 4 GiB - 1 is rejected from the header alone, nothing allocated */
    unsigned char hdr[5] = {0, 0xff, 0xff, 0xff, 0xff};
    assert_int_equal(e2b_connect_decoder_feed(&d, (char *)hdr, 5, collect, &c, &err),
                     E2B_ERR_PROTOCOL);
    assert_non_null(strstr(err.message, "exceeds"));
    assert_null(d.buf);
    collected_free(&c);
    e2b_connect_decoder_free(&d);
    free(buf);
}

static void test_data_after_end_stream(void **state)
{
    (void)state;
    char *buf = NULL;
    size_t len = 0;
    put_env(&buf, &len, E2B_CONNECT_FLAG_END_STREAM, "{}");
    put_env(&buf, &len, 0, "{}");
    e2b_connect_decoder d;
    e2b_connect_decoder_init(&d, 0, E2B_CONNECT_PROCESS);
    collected c = {0};
    e2b_error err;
    assert_int_equal(e2b_connect_decoder_feed(&d, buf, len, collect, &c, &err), E2B_ERR_PROTOCOL);
    assert_non_null(strstr(err.message, "after EndStreamResponse"));
    assert_int_equal(c.n, 0);
    /* the stream as a whole is not a success either */
    assert_int_equal(e2b_connect_decoder_finish(&d, &err), E2B_ERR_PROTOCOL);
    e2b_connect_decoder_free(&d);
    free(buf);
}

static void test_end_stream_not_json(void **state)
{
    (void)state;
    const char *bad[] = {"", "nope", "[]", "\"x\"", "{\"error\":"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *buf = NULL;
        size_t len = 0;
        put_env(&buf, &len, E2B_CONNECT_FLAG_END_STREAM, bad[i]);
        e2b_connect_decoder d;
        e2b_connect_decoder_init(&d, 0, E2B_CONNECT_PROCESS);
        e2b_error err;
        assert_int_equal(e2b_connect_decoder_feed(&d, buf, len, NULL, NULL, &err),
                         E2B_ERR_PROTOCOL);
        assert_int_equal(e2b_connect_decoder_finish(&d, &err), E2B_ERR_PROTOCOL);
        e2b_connect_decoder_free(&d);
        free(buf);
    }
    /* an error member that is not an object is a protocol error too */
    char *buf = NULL;
    size_t len = 0;
    put_env(&buf, &len, E2B_CONNECT_FLAG_END_STREAM, "{\"error\":\"boom\"}");
    e2b_connect_decoder d;
    e2b_connect_decoder_init(&d, 0, E2B_CONNECT_PROCESS);
    e2b_error err;
    assert_int_equal(e2b_connect_decoder_feed(&d, buf, len, NULL, NULL, &err), E2B_ERR_PROTOCOL);
    e2b_connect_decoder_free(&d);
    free(buf);
}

static void test_callback_error_stops(void **state)
{
    (void)state;
    size_t len;
    char *buf = sample_stream(&len, "{}");
    for (size_t cut = 0; cut <= len; cut += 3) {
        e2b_connect_decoder d;
        e2b_connect_decoder_init(&d, 0, E2B_CONNECT_PROCESS);
        collected c = {.fail_at = 3};
        e2b_error err;
        size_t cuts[1] = {cut};
        assert_int_equal(feed_cuts(&d, buf, len, cuts, 1, &c, &err), E2B_ERR_IO);
        assert_int_equal(c.n, 2);
        assert_int_equal(e2b_connect_decoder_feed(&d, "x", 1, collect, &c, &err), E2B_ERR_PROTOCOL);
        collected_free(&c);
        e2b_connect_decoder_free(&d);
    }
    free(buf);
}

static void test_garbage_never_crashes(void **state)
{
    (void)state;
    unsigned seed = 12345;
    for (int round = 0; round < 2000; round++) {
        char junk[97];
        size_t n = (size_t)(round % 97);
        for (size_t i = 0; i < n; i++) {
            seed = seed * 1103515245u + 12345u;
            junk[i] = (char)(seed >> 16);
        }
        /* keep many headers small so payloads complete sometimes */
        if (n > 4 && (round & 1))
            junk[1] = junk[2] = junk[3] = 0;
        e2b_connect_decoder d;
        e2b_connect_decoder_init(&d, 1024, E2B_CONNECT_FILESYSTEM);
        collected c = {0};
        e2b_error err;
        size_t step = 1 + (size_t)(round % 5);
        e2b_code rc = E2B_OK;
        for (size_t i = 0; i < n && rc == E2B_OK; i += step) {
            size_t k = n - i < step ? n - i : step;
            rc = e2b_connect_decoder_feed(&d, junk + i, k, collect, &c, &err);
        }
        e2b_code fin = e2b_connect_decoder_finish(&d, &err);
        /* random bytes never make a successful stream unless they hold a valid end frame */
        if (fin == E2B_OK)
            assert_true(d.ended);
        else
            assert_int_not_equal(err.code, E2B_OK);
        collected_free(&c);
        e2b_connect_decoder_free(&d);
    }
}

/* ---- encoder -------------------------------------------------------------------------- */

static void test_envelope_encoder(void **state)
{
    (void)state;
    /* 107-byte message -> 00 00 00 00 6b, as in the captured SDK request */
    char msg[108];
    memset(msg, 'a', 107);
    msg[107] = '\0';
    size_t n;
    char *env = e2b_connect_envelope(0, msg, 107, &n);
    assert_int_equal(n, 112);
    assert_memory_equal(env, "\x00\x00\x00\x00\x6b", 5);
    assert_memory_equal(env + 5, msg, 107);
    free(env);
    unsigned char hdr[5];
    e2b_connect_envelope_header(hdr, E2B_CONNECT_FLAG_END_STREAM, 0x01020304u);
    assert_memory_equal(hdr, "\x02\x01\x02\x03\x04", 5);
    env = e2b_connect_envelope(2, NULL, 0, &n);
    assert_int_equal(n, 5);
    assert_memory_equal(env, "\x02\x00\x00\x00\x00", 5);
    free(env);
}

/* ---- error mapping ---------------------------------------------------------------------- */

static void test_code_from_string(void **state)
{
    (void)state;
    assert_int_equal(e2b_connect_code_from_string("not_found", E2B_CONNECT_FILESYSTEM),
                     E2B_ERR_FILE_NOT_FOUND);
    assert_int_equal(e2b_connect_code_from_string("not_found", E2B_CONNECT_PROCESS),
                     E2B_ERR_NOT_FOUND);
    assert_int_equal(e2b_connect_code_from_string("unauthenticated", 0), E2B_ERR_AUTH);
    assert_int_equal(e2b_connect_code_from_string("permission_denied", 0), E2B_ERR_AUTH);
    assert_int_equal(e2b_connect_code_from_string("invalid_argument", 0), E2B_ERR_INVALID_ARGUMENT);
    assert_int_equal(e2b_connect_code_from_string("already_exists", 0), E2B_ERR_CONFLICT);
    assert_int_equal(e2b_connect_code_from_string("resource_exhausted", 0), E2B_ERR_RATE_LIMITED);
    assert_int_equal(e2b_connect_code_from_string("unavailable", 0), E2B_ERR_SANDBOX_GONE);
    assert_int_equal(e2b_connect_code_from_string("deadline_exceeded", 0),
                     E2B_ERR_OPERATION_TIMEOUT);
    assert_int_equal(e2b_connect_code_from_string("canceled", 0), E2B_ERR_CANCELLED);
    assert_int_equal(e2b_connect_code_from_string("unimplemented", 0), E2B_ERR_UNSUPPORTED);
    assert_int_equal(e2b_connect_code_from_string("internal", 0), E2B_ERR_INTERNAL);
    assert_int_equal(e2b_connect_code_from_string("unknown", 0), E2B_ERR_INTERNAL);
    assert_int_equal(e2b_connect_code_from_string("failed_precondition", 0), E2B_ERR_SERVER);
    assert_int_equal(e2b_connect_code_from_string("bogus", 0), E2B_ERR_SERVER);
    assert_int_equal(e2b_connect_code_from_string(NULL, 0), E2B_ERR_SERVER);
}

static void test_unary_error_json(void **state)
{
    (void)state;
    e2b_error err;
    const char *b = "{\"code\":\"not_found\",\"message\":\"path /x does not exist\"}";
    assert_int_equal(e2b_connect_unary_error(404, "application/json; charset=utf-8", b, strlen(b),
                                             E2B_CONNECT_FILESYSTEM, &err),
                     E2B_ERR_FILE_NOT_FOUND);
    assert_int_equal(err.http_status, 404);
    assert_non_null(strstr(err.message, "path /x does not exist"));
    /* the code string wins over the status */
    b = "{\"code\":\"already_exists\",\"message\":\"dir exists\"}";
    assert_int_equal(e2b_connect_unary_error(500, "application/json", b, strlen(b),
                                             E2B_CONNECT_FILESYSTEM, &err),
                     E2B_ERR_CONFLICT);
    /* process not found */
    b = "{\"code\":\"not_found\",\"message\":\"process with pid 9 not found\"}";
    assert_int_equal(
        e2b_connect_unary_error(404, "application/json", b, strlen(b), E2B_CONNECT_PROCESS, &err),
        E2B_ERR_NOT_FOUND);
}

static void test_unary_error_proxy_502_is_sandbox_gone(void **state)
{
    (void)state;
    e2b_error err;
    /* the edge proxy's JSON has a numeric code: the status decides, never "file not found" */
    const char *b =
        "{\"sandboxId\":\"abc\",\"message\":\"The sandbox was not found\",\"code\":502}";
    assert_int_equal(e2b_connect_unary_error(502, "application/json; charset=utf-8", b, strlen(b),
                                             E2B_CONNECT_FILESYSTEM, &err),
                     E2B_ERR_SANDBOX_GONE);
    assert_non_null(strstr(err.message, "The sandbox was not found"));
    assert_int_equal(
        e2b_connect_unary_error(502, "text/html", "<html>", 6, E2B_CONNECT_PROCESS, &err),
        E2B_ERR_SANDBOX_GONE);
}

static void test_unary_error_non_json(void **state)
{
    (void)state;
    e2b_error err;
    /* a JSON body is ignored unless the content type is JSON (connect-web) */
    const char *b = "{\"code\":\"not_found\",\"message\":\"x\"}";
    assert_int_equal(
        e2b_connect_unary_error(404, "text/plain", b, strlen(b), E2B_CONNECT_FILESYSTEM, &err),
        E2B_ERR_UNSUPPORTED);
    assert_non_null(strstr(err.message, "unimplemented"));
    assert_int_equal(e2b_connect_unary_error(401, NULL, "no", 2, 0, &err), E2B_ERR_AUTH);
    assert_int_equal(e2b_connect_unary_error(403, NULL, NULL, 0, 0, &err), E2B_ERR_AUTH);
    assert_int_equal(e2b_connect_unary_error(429, NULL, NULL, 0, 0, &err), E2B_ERR_RATE_LIMITED);
    assert_int_equal(e2b_connect_unary_error(503, NULL, NULL, 0, 0, &err), E2B_ERR_SERVICE_BUSY);
    assert_int_equal(e2b_connect_unary_error(504, NULL, NULL, 0, 0, &err), E2B_ERR_SANDBOX_GONE);
    assert_int_equal(e2b_connect_unary_error(500, NULL, NULL, 0, 0, &err), E2B_ERR_INTERNAL);
    assert_int_equal(e2b_connect_unary_error(400, NULL, NULL, 0, 0, &err), E2B_ERR_SERVER);
    assert_int_equal(e2b_connect_unary_error(418, NULL, NULL, 0, 0, &err), E2B_ERR_SERVER);
    /* a JSON content type with a broken body falls back to the status, with the text */
    assert_int_equal(e2b_connect_unary_error(401, "application/json", "{oops", 5, 0, &err),
                     E2B_ERR_AUTH);
    assert_non_null(strstr(err.message, "{oops"));
    assert_int_equal(err.http_status, 401);
}

static void test_content_type(void **state)
{
    (void)state;
    assert_true(e2b_connect_content_type_is("application/json", "application/json"));
    assert_true(e2b_connect_content_type_is("Application/JSON; charset=utf-8", "application/json"));
    assert_false(e2b_connect_content_type_is("application/jsonx", "application/json"));
    assert_false(e2b_connect_content_type_is("application/connect+json", "application/json"));
    assert_true(
        e2b_connect_content_type_is("application/connect+json", "application/connect+json"));
    assert_false(e2b_connect_content_type_is(NULL, "application/json"));
}

/* ---- proto3 JSON helpers ---------------------------------------------------------------- */

static void test_int64_and_enum(void **state)
{
    (void)state;
    cJSON *o = cJSON_Parse("{\"a\":\"27\",\"b\":27,\"c\":\"9007199254740993\",\"d\":\"x1\","
                           "\"e\":1.5,\"f\":null,\"g\":\"-5\",\"h\":true,\"i\":\"\"}");
    int64_t v;
    assert_true(e2b_connect_get_int64(cJSON_GetObjectItem(o, "a"), 0, &v));
    assert_int_equal(v, 27);
    assert_true(e2b_connect_get_int64(cJSON_GetObjectItem(o, "b"), 0, &v));
    assert_int_equal(v, 27);
    assert_true(e2b_connect_get_int64(cJSON_GetObjectItem(o, "c"), 0, &v));
    assert_true(v == 9007199254740993LL); /* exact: strings are not doubles */
    assert_false(e2b_connect_get_int64(cJSON_GetObjectItem(o, "d"), 0, &v));
    assert_false(e2b_connect_get_int64(cJSON_GetObjectItem(o, "e"), 0, &v));
    assert_true(e2b_connect_get_int64(cJSON_GetObjectItem(o, "f"), 7, &v));
    assert_int_equal(v, 7);
    assert_true(e2b_connect_get_int64(NULL, 3, &v));
    assert_int_equal(v, 3);
    assert_true(e2b_connect_get_int64(cJSON_GetObjectItem(o, "g"), 0, &v));
    assert_int_equal(v, -5);
    assert_false(e2b_connect_get_int64(cJSON_GetObjectItem(o, "h"), 0, &v));
    assert_false(e2b_connect_get_int64(cJSON_GetObjectItem(o, "i"), 0, &v));
    cJSON_Delete(o);

    static const char *const names[] = {"FILE_TYPE_UNSPECIFIED", "FILE_TYPE_FILE",
                                        "FILE_TYPE_DIRECTORY", "FILE_TYPE_SYMLINK"};
    o = cJSON_Parse("{\"a\":\"FILE_TYPE_DIRECTORY\",\"b\":3,\"c\":\"file\",\"d\":-1}");
    assert_int_equal(e2b_connect_get_enum(cJSON_GetObjectItem(o, "a"), names, 4), 2);
    assert_int_equal(e2b_connect_get_enum(cJSON_GetObjectItem(o, "b"), names, 4), 3);
    assert_int_equal(e2b_connect_get_enum(cJSON_GetObjectItem(o, "c"), names, 4), -1);
    assert_int_equal(e2b_connect_get_enum(cJSON_GetObjectItem(o, "d"), names, 4), -1);
    assert_int_equal(e2b_connect_get_enum(NULL, names, 4), 0);
    cJSON_Delete(o);

    o = cJSON_Parse("{\"exitCode\":1,\"exit_code\":2,\"snake_only\":3}");
    assert_int_equal(e2b_connect_field(o, "exitCode", "exit_code")->valueint, 1);
    assert_int_equal(e2b_connect_field(o, "snakeOnly", "snake_only")->valueint, 3);
    assert_null(e2b_connect_field(o, "nope", NULL));
    cJSON_Delete(o);
}

static void test_base64(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
    } ok[] = {
        {"", ""},    {"Zg==", "f"}, {"Zm8=", "fo"},          {"Zm9v", "foo"},
        {"Zg", "f"}, {"Zm8", "fo"}, {"aGVsbG8K", "hello\n"}, {"d2Fybgo=", "warn\n"},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        size_t n;
        unsigned char *d = e2b_connect_b64_decode(ok[i].in, strlen(ok[i].in), &n);
        assert_non_null(d);
        assert_int_equal(n, strlen(ok[i].out));
        assert_memory_equal(d, ok[i].out, n);
        free(d);
    }
    const char *bad[] = {"Z", "Zg=", "Z===", "Zm9v!", "Zm 9v", "Zg==Zg==", "-_8="};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t n = 99;
        assert_null(e2b_connect_b64_decode(bad[i], strlen(bad[i]), &n));
        assert_int_equal(n, 0);
    }
    /* binary round trip, every length 0..300 */
    unsigned char bin[300];
    for (size_t i = 0; i < sizeof bin; i++)
        bin[i] = (unsigned char)(i * 37 + 11);
    for (size_t len = 0; len <= sizeof bin; len++) {
        char *enc = e2b_connect_b64_encode(bin, len);
        assert_non_null(enc);
        assert_int_equal(strlen(enc), (len + 2) / 3 * 4);
        size_t n;
        unsigned char *dec = e2b_connect_b64_decode(enc, strlen(enc), &n);
        assert_non_null(dec);
        assert_int_equal(n, len);
        if (len)
            assert_memory_equal(dec, bin, len);
        free(dec);
        free(enc);
    }
}

static void test_parse_time(void **state)
{
    (void)state;
    time_t t;
    assert_true(e2b_connect_parse_time("2024-01-01T00:00:00Z", &t));
    assert_int_equal(t, 1704067200);
    assert_true(e2b_connect_parse_time("2024-01-01T00:00:00.123456789Z", &t));
    assert_int_equal(t, 1704067200);
    assert_true(e2b_connect_parse_time("2024-01-01T02:00:00+02:00", &t));
    assert_int_equal(t, 1704067200);
    assert_true(e2b_connect_parse_time("2023-12-31T23:30:00-00:30", &t));
    assert_int_equal(t, 1704067200);
    assert_false(e2b_connect_parse_time("2024-01-01", &t));
    assert_false(e2b_connect_parse_time("2024-13-01T00:00:00Z", &t));
    assert_false(e2b_connect_parse_time("2024-01-01T00:00:00", &t));
    assert_false(e2b_connect_parse_time("2024-01-01T00:00:00Zjunk", &t));
    assert_false(e2b_connect_parse_time(NULL, &t));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode_all_at_once),
        cmocka_unit_test(test_decode_byte_by_byte),
        cmocka_unit_test(test_decode_every_split_point),
        cmocka_unit_test(test_decode_empty_data_message_and_zero_len_feed),
        cmocka_unit_test(test_end_stream_error_mapped),
        cmocka_unit_test(test_end_stream_error_codes),
        cmocka_unit_test(test_missing_end_stream),
        cmocka_unit_test(test_compressed_and_unknown_flags),
        cmocka_unit_test(test_max_size_guard),
        cmocka_unit_test(test_data_after_end_stream),
        cmocka_unit_test(test_end_stream_not_json),
        cmocka_unit_test(test_callback_error_stops),
        cmocka_unit_test(test_garbage_never_crashes),
        cmocka_unit_test(test_envelope_encoder),
        cmocka_unit_test(test_code_from_string),
        cmocka_unit_test(test_unary_error_json),
        cmocka_unit_test(test_unary_error_proxy_502_is_sandbox_gone),
        cmocka_unit_test(test_unary_error_non_json),
        cmocka_unit_test(test_content_type),
        cmocka_unit_test(test_int64_and_enum),
        cmocka_unit_test(test_base64),
        cmocka_unit_test(test_parse_time),
    };
    return cmocka_run_group_tests_name("unit_connect", tests, NULL, NULL);
}
