/* unit_ndjson: the incremental NDJSON splitter, fed whole, byte by byte, and split at every
 * one and two points; blank lines, \r\n, a trailing unterminated line, the length limit,
 * callback aborts, and buffer reuse. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ndjson.h"

/* Collects the emitted lines as "<line>|<line>|...". */
typedef struct collect {
    char out[4096];
    size_t len;
    int calls;
    int stop_at; /* return E2B_ERR_CANCELLED on this call (1-based); 0 = never */
} collect;

static e2b_code on_line(void *ud, const char *line, size_t len, e2b_error *err)
{
    collect *c = ud;
    c->calls++;
    /* a line never contains the terminator and never ends in \r */
    assert_null(memchr(line, '\n', len));
    if (len)
        assert_int_not_equal(line[len - 1], '\r');
    assert_true(c->len + len + 1 < sizeof c->out);
    memcpy(c->out + c->len, line, len);
    c->len += len;
    c->out[c->len++] = '|';
    c->out[c->len] = '\0';
    if (c->stop_at && c->calls == c->stop_at)
        return e2b_error_set(err, E2B_ERR_CANCELLED, 0, "stop");
    return E2B_OK;
}

static const char SAMPLE[] = "{\"a\":1}\n"
                             "\r\n"
                             "{\"b\":2}\r\n"
                             "   \n"
                             "\t \r\n"
                             "\n"
                             "{\"c\":\"x y\"}\n"
                             "  {\"d\":4}  \n"
                             "{\"e\":5}"; /* no trailing newline */
static const char EXPECTED[] = "{\"a\":1}|{\"b\":2}|{\"c\":\"x y\"}|  {\"d\":4}  |{\"e\":5}|";

/* Feeds SAMPLE cut at the given (sorted) offsets; returns the collected string. */
static void run_split(const size_t *cuts, size_t ncuts, collect *c)
{
    e2b_ndjson p;
    e2b_ndjson_init(&p, 0);
    memset(c, 0, sizeof *c);
    size_t total = sizeof SAMPLE - 1, prev = 0;
    e2b_error err;
    for (size_t i = 0; i <= ncuts; i++) {
        size_t end = i < ncuts ? cuts[i] : total;
        assert_int_equal(e2b_ndjson_feed(&p, SAMPLE + prev, end - prev, on_line, c, &err), E2B_OK);
        prev = end;
    }
    assert_int_equal(e2b_ndjson_finish(&p, on_line, c, &err), E2B_OK);
    assert_false(e2b_ndjson_pending(&p));
    e2b_ndjson_free(&p);
}

static void test_all_at_once(void **state)
{
    (void)state;
    collect c;
    run_split(NULL, 0, &c);
    assert_string_equal(c.out, EXPECTED);
    assert_int_equal(c.calls, 5);
}

static void test_byte_by_byte(void **state)
{
    (void)state;
    e2b_ndjson p;
    e2b_ndjson_init(&p, 0);
    collect c;
    memset(&c, 0, sizeof c);
    for (size_t i = 0; i < sizeof SAMPLE - 1; i++)
        assert_int_equal(e2b_ndjson_feed(&p, SAMPLE + i, 1, on_line, &c, NULL), E2B_OK);
    /* everything but the unterminated last line is out before finish */
    assert_string_equal(c.out, "{\"a\":1}|{\"b\":2}|{\"c\":\"x y\"}|  {\"d\":4}  |");
    assert_true(e2b_ndjson_pending(&p));
    assert_int_equal(e2b_ndjson_finish(&p, on_line, &c, NULL), E2B_OK);
    assert_string_equal(c.out, EXPECTED);
    assert_int_equal(p.lines, 5);
    e2b_ndjson_free(&p);
}

static void test_every_split_point(void **state)
{
    (void)state;
    size_t n = sizeof SAMPLE - 1;
    collect c;
    for (size_t i = 0; i <= n; i++) {
        run_split(&i, 1, &c);
        assert_string_equal(c.out, EXPECTED);
    }
    for (size_t i = 0; i <= n; i++) {
        for (size_t j = i; j <= n; j++) {
            size_t cuts[2] = {i, j};
            run_split(cuts, 2, &c);
            assert_string_equal(c.out, EXPECTED);
        }
    }
}

static void test_empty_and_blank_only(void **state)
{
    (void)state;
    e2b_ndjson p;
    e2b_ndjson_init(&p, 0);
    collect c;
    memset(&c, 0, sizeof c);
    assert_int_equal(e2b_ndjson_feed(&p, NULL, 0, on_line, &c, NULL), E2B_OK);
    assert_int_equal(e2b_ndjson_feed(&p, "\n\r\n \t\n  ", 8, on_line, &c, NULL), E2B_OK);
    assert_int_equal(e2b_ndjson_finish(&p, on_line, &c, NULL), E2B_OK);
    assert_int_equal(c.calls, 0);
    /* a lone trailing \r after the last line */
    assert_int_equal(e2b_ndjson_feed(&p, "{}\r", 3, on_line, &c, NULL), E2B_OK);
    assert_int_equal(e2b_ndjson_finish(&p, on_line, &c, NULL), E2B_OK);
    assert_string_equal(c.out, "{}|");
    e2b_ndjson_free(&p);
}

static void test_line_limit(void **state)
{
    (void)state;
    e2b_ndjson p;
    collect c;
    e2b_error err;

    /* exactly at the limit: fine, whole and split */
    e2b_ndjson_init(&p, 10);
    memset(&c, 0, sizeof c);
    assert_int_equal(e2b_ndjson_feed(&p, "0123456789\n01234", 16, on_line, &c, &err), E2B_OK);
    assert_int_equal(e2b_ndjson_feed(&p, "56789\n", 6, on_line, &c, &err), E2B_OK);
    assert_string_equal(c.out, "0123456789|0123456789|");
    e2b_ndjson_free(&p);

    /* one over, inside one chunk */
    e2b_ndjson_init(&p, 10);
    memset(&c, 0, sizeof c);
    assert_int_equal(e2b_ndjson_feed(&p, "{}\n0123456789A\n{}\n", 18, on_line, &c, &err),
                     E2B_ERR_PROTOCOL);
    assert_int_equal(err.code, E2B_ERR_PROTOCOL);
    assert_non_null(strstr(err.message, "limit"));
    assert_string_equal(c.out, "{}|");
    /* the parser stays failed: nothing more is emitted */
    assert_int_equal(e2b_ndjson_feed(&p, "{}\n", 3, on_line, &c, &err), E2B_ERR_PROTOCOL);
    assert_int_equal(e2b_ndjson_finish(&p, on_line, &c, &err), E2B_ERR_PROTOCOL);
    assert_int_equal(c.calls, 1);
    /* reset clears the failure */
    e2b_ndjson_reset(&p);
    assert_int_equal(e2b_ndjson_feed(&p, "{}\n", 3, on_line, &c, &err), E2B_OK);
    assert_int_equal(c.calls, 2);
    e2b_ndjson_free(&p);

    /* one over, arriving byte by byte without a newline: caught before the newline */
    e2b_ndjson_init(&p, 10);
    memset(&c, 0, sizeof c);
    e2b_code rc = E2B_OK;
    size_t fed = 0;
    const char *longl = "0123456789ABCDEF\n";
    for (; fed < strlen(longl) && rc == E2B_OK; fed++)
        rc = e2b_ndjson_feed(&p, longl + fed, 1, on_line, &c, &err);
    assert_int_equal(rc, E2B_ERR_PROTOCOL);
    assert_int_equal(fed, 11);
    assert_int_equal(c.calls, 0);
    e2b_ndjson_free(&p);

    /* over the limit as the unterminated last line, split */
    e2b_ndjson_init(&p, 4);
    memset(&c, 0, sizeof c);
    assert_int_equal(e2b_ndjson_feed(&p, "abc", 3, on_line, &c, &err), E2B_OK);
    assert_int_equal(e2b_ndjson_feed(&p, "de", 2, on_line, &c, &err), E2B_ERR_PROTOCOL);
    e2b_ndjson_free(&p);
}

static void test_callback_abort(void **state)
{
    (void)state;
    e2b_ndjson p;
    e2b_ndjson_init(&p, 0);
    collect c;
    memset(&c, 0, sizeof c);
    c.stop_at = 2;
    e2b_error err;
    assert_int_equal(e2b_ndjson_feed(&p, "1\n2\n3\n", 6, on_line, &c, &err), E2B_ERR_CANCELLED);
    assert_string_equal(err.message, "stop");
    assert_string_equal(c.out, "1|2|");
    assert_int_equal(e2b_ndjson_feed(&p, "4\n", 2, on_line, &c, &err), E2B_ERR_PROTOCOL);
    assert_int_equal(c.calls, 2);
    e2b_ndjson_free(&p);
}

static e2b_code count_len(void *ud, const char *line, size_t len, e2b_error *err)
{
    (void)line;
    (void)err;
    *(size_t *)ud = len;
    return E2B_OK;
}

/* Lines split across chunks reuse one buffer: it does not grow past what the longest line
 * needs, however many lines go through it. */
static void test_buffer_reuse(void **state)
{
    (void)state;
    e2b_ndjson p;
    e2b_ndjson_init(&p, 0);
    collect c;
    char line[64];
    for (int i = 0; i < 2000; i++) {
        memset(&c, 0, sizeof c);
        int n = snprintf(line, sizeof line, "{\"i\":%d}\n", i);
        for (int k = 0; k < n; k++)
            assert_int_equal(e2b_ndjson_feed(&p, line + k, 1, on_line, &c, NULL), E2B_OK);
        assert_int_equal(c.calls, 1);
    }
    assert_int_equal(p.cap, 4096);
    assert_int_equal(p.lines, 2000);
    /* a big split line grows it, geometrically, to no more than twice its length */
    size_t big = 100000;
    char *b = malloc(big + 1);
    memset(b, 'x', big);
    b[big] = '\n';
    size_t got = 0;
    assert_int_equal(e2b_ndjson_feed(&p, "y", 1, count_len, &got, NULL), E2B_OK);
    assert_int_equal(e2b_ndjson_feed(&p, b, big + 1, count_len, &got, NULL), E2B_OK);
    assert_int_equal(got, big + 1);
    assert_true(p.cap >= big + 1 && p.cap <= 2 * (big + 1));
    free(b);
    e2b_ndjson_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_all_at_once),       cmocka_unit_test(test_byte_by_byte),
        cmocka_unit_test(test_every_split_point), cmocka_unit_test(test_empty_and_blank_only),
        cmocka_unit_test(test_line_limit),        cmocka_unit_test(test_callback_abort),
        cmocka_unit_test(test_buffer_reuse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
