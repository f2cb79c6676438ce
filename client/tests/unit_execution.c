/* unit_execution: /execute NDJSON lines -> e2b_execution. Every line type and every result
 * field of e2b-protocol.md §7.2, callbacks and their order, streaming in any split,
 * malformed JSON and wrong types (typed errors, partial execution kept), JSON output, and
 * saving png/jpeg/svg/pdf results. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <cjson/cJSON.h>
#include <openssl/evp.h>

#include "e2b/code.h"
#include "execution.h"

/* A 1x1 RGBA PNG. */
static const unsigned char TINY_PNG[] = {
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48,
    0x44, 0x52, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00,
    0x00, 0x1F, 0x15, 0xC4, 0x89, 0x00, 0x00, 0x00, 0x0A, 0x49, 0x44, 0x41, 0x54, 0x78,
    0x9C, 0x63, 0x00, 0x01, 0x00, 0x00, 0x05, 0x00, 0x01, 0x0D, 0x0A, 0x2D, 0xB4, 0x00,
    0x00, 0x00, 0x00, 0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82};

/* Every line type, in the order the real server emits them, with every result field. */
static const char FULL[] =
    "{\"type\":\"number_of_executions\",\"execution_count\":3}\n"
    "{\"type\":\"stdout\",\"text\":\"1\\n\",\"timestamp\":\"2025-01-02T03:04:05.678901+00:00\"}\n"
    "{\"type\":\"keepalive\"}\n"
    "{\"type\":\"stderr\",\"text\":\"warn\\n\",\"timestamp\":\"2025-01-02T03:04:05.700000+00:00\"}"
    "\n"
    "{\"type\":\"stdout\",\"text\":\"2\"}\n"
    "{\"type\":\"result\",\"text\":\"<Figure size 640x480>\",\"png\":\"iVBORw0KGgo=\","
    "\"chart\":{\"type\":\"line\",\"title\":\"Sales\",\"elements\":[{\"label\":\"a\","
    "\"points\":[[1,2],[3,4]]}]},\"is_main_result\":false,\"extra\":{}}\n"
    "{\"type\":\"some_future_type\",\"payload\":[1,2,3]}\n"
    "{\"type\":\"result\",\"text\":\"42\",\"html\":\"<b>42</b>\",\"markdown\":\"**42**\","
    "\"svg\":\"<svg/>\",\"png\":\"AAEC\",\"jpeg\":\"/9j/\",\"pdf\":\"%PDF-1.4\","
    "\"latex\":\"$42$\",\"json\":{\"answer\":42,\"list\":[1,\"x\"]},"
    "\"javascript\":\"console.log(42)\",\"data\":{\"a\":[1,2]},"
    "\"chart\":{\"type\":\"bar\",\"elements\":[]},\"is_main_result\":true,"
    "\"extra\":{\"application/x-custom\":\"v\"}}\n"
    "{\"type\":\"error\",\"name\":\"ZeroDivisionError\",\"value\":\"division by zero\","
    "\"traceback\":\"Traceback (most recent call last):\\n\\u001b[0;31mZeroDivisionError\"}\n"
    "{\"type\": \"end_of_execution\"}\n";

/* Records the callbacks as a compact event string. */
typedef struct trace {
    char s[2048];
    int stop_after; /* return 1 from the n-th callback (1-based); 0 = never */
    int calls;
} trace;

static int trace_add(trace *t, const char *fmt, const char *a)
{
    size_t n = strlen(t->s);
    snprintf(t->s + n, sizeof t->s - n, fmt, a);
    t->calls++;
    return t->stop_after && t->calls == t->stop_after;
}
static int cb_stdout(const e2b_log_chunk *c, void *ud)
{
    assert_int_equal(c->stream, E2B_LOG_STDOUT);
    return trace_add(ud, "out:%s|", c->text);
}
static int cb_stderr(const e2b_log_chunk *c, void *ud)
{
    assert_int_equal(c->stream, E2B_LOG_STDERR);
    return trace_add(ud, "err:%s|", c->text);
}
static int cb_result(const e2b_result *r, void *ud)
{
    return trace_add(ud, "res:%s|", r->text ? r->text : "-");
}
static int cb_error(const e2b_exec_error *e, void *ud)
{
    return trace_add(ud, "error:%s|", e->name);
}

static void trace_opts(e2b_run_opts *o, trace *t)
{
    e2b_run_opts_init(o);
    memset(t, 0, sizeof *t);
    o->on_stdout = cb_stdout;
    o->on_stderr = cb_stderr;
    o->on_result = cb_result;
    o->on_error = cb_error;
    o->user_data = t;
}

static const char FULL_TRACE[] =
    "out:1\n|err:warn\n|out:2|res:<Figure size 640x480>|res:42|error:ZeroDivisionError|";

static void check_full(const e2b_execution *ex)
{
    assert_true(ex->completed);
    assert_int_equal(ex->execution_count, 3);
    assert_int_equal(ex->logs_len, 3);
    assert_int_equal(ex->logs[0].stream, E2B_LOG_STDOUT);
    assert_string_equal(ex->logs[0].text, "1\n");
    assert_int_equal(ex->logs[0].len, 2);
    assert_string_equal(ex->logs[0].timestamp, "2025-01-02T03:04:05.678901+00:00");
    assert_int_equal(ex->logs[1].stream, E2B_LOG_STDERR);
    assert_string_equal(ex->logs[1].text, "warn\n");
    assert_string_equal(ex->logs[2].text, "2");
    assert_null(ex->logs[2].timestamp);

    assert_int_equal(ex->results_len, 2);
    const e2b_result *d = &ex->results[0];
    assert_false(d->is_main_result);
    assert_string_equal(d->text, "<Figure size 640x480>");
    assert_string_equal(d->png, "iVBORw0KGgo=");
    assert_string_equal(d->chart_type, "line");
    assert_string_equal(d->chart_title, "Sales");
    assert_string_equal(d->chart,
                        "{\"type\":\"line\",\"title\":\"Sales\",\"elements\":[{\"label\":\"a\","
                        "\"points\":[[1,2],[3,4]]}]}");
    assert_string_equal(d->extra, "{}");
    assert_null(d->html);
    assert_null(d->json);

    const e2b_result *m = &ex->results[1];
    assert_true(m->is_main_result);
    assert_string_equal(m->text, "42");
    assert_string_equal(m->html, "<b>42</b>");
    assert_string_equal(m->markdown, "**42**");
    assert_string_equal(m->svg, "<svg/>");
    assert_string_equal(m->png, "AAEC");
    assert_string_equal(m->jpeg, "/9j/");
    assert_string_equal(m->pdf, "%PDF-1.4");
    assert_string_equal(m->latex, "$42$");
    assert_string_equal(m->json, "{\"answer\":42,\"list\":[1,\"x\"]}");
    assert_string_equal(m->javascript, "console.log(42)");
    assert_string_equal(m->data, "{\"a\":[1,2]}");
    assert_string_equal(m->chart, "{\"type\":\"bar\",\"elements\":[]}");
    assert_string_equal(m->chart_type, "bar");
    assert_null(m->chart_title);
    assert_string_equal(m->extra, "{\"application/x-custom\":\"v\"}");
    assert_ptr_equal(ex->text, m->text);

    assert_non_null(ex->error);
    assert_string_equal(ex->error->name, "ZeroDivisionError");
    assert_string_equal(ex->error->value, "division by zero");
    assert_string_equal(ex->error->traceback,
                        "Traceback (most recent call last):\n\x1b[0;31mZeroDivisionError");
}

static void test_every_line_type(void **state)
{
    (void)state;
    e2b_run_opts o;
    trace t;
    trace_opts(&o, &t);
    e2b_execution *ex = NULL;
    e2b_error err;
    assert_int_equal(e2b_execution_parse(FULL, sizeof FULL - 1, &o, &ex, &err), E2B_OK);
    check_full(ex);
    assert_string_equal(t.s, FULL_TRACE);
    e2b_execution_free(ex);
}

/* Feeds FULL through a stream cut at the given offsets; checks the outcome is identical. */
static void run_cut(const size_t *cuts, size_t ncuts)
{
    e2b_run_opts o;
    trace t;
    trace_opts(&o, &t);
    e2b_exec_stream s;
    e2b_error err;
    assert_int_equal(e2b_exec_stream_init(&s, &o, 0, &err), E2B_OK);
    size_t prev = 0, total = sizeof FULL - 1;
    for (size_t i = 0; i <= ncuts; i++) {
        size_t end = i < ncuts ? cuts[i] : total;
        assert_int_equal(e2b_exec_stream_feed(&s, FULL + prev, end - prev, &err), E2B_OK);
        prev = end;
    }
    assert_int_equal(e2b_exec_stream_finish(&s, &err), E2B_OK);
    e2b_execution *ex = e2b_exec_stream_take(&s);
    e2b_exec_stream_free(&s);
    check_full(ex);
    assert_string_equal(t.s, FULL_TRACE);
    e2b_execution_free(ex);
}

static void test_any_split(void **state)
{
    (void)state;
    size_t total = sizeof FULL - 1;
    run_cut(NULL, 0);
    for (size_t i = 0; i <= total; i++)
        run_cut(&i, 1);
    /* byte by byte */
    size_t *cuts = malloc(total * sizeof *cuts);
    for (size_t i = 0; i < total; i++)
        cuts[i] = i;
    run_cut(cuts, total);
    free(cuts);
}

static void test_callbacks_stream_as_lines_arrive(void **state)
{
    (void)state;
    e2b_run_opts o;
    trace t;
    trace_opts(&o, &t);
    e2b_exec_stream s;
    assert_int_equal(e2b_exec_stream_init(&s, &o, 0, NULL), E2B_OK);
    const char *l1 = "{\"type\":\"stdout\",\"text\":\"a\"}\n{\"type\":\"stdout\",";
    assert_int_equal(e2b_exec_stream_feed(&s, l1, strlen(l1), NULL), E2B_OK);
    assert_string_equal(t.s, "out:a|"); /* the first line is delivered before the rest */
    const char *l2 = "\"text\":\"b\"}\n";
    assert_int_equal(e2b_exec_stream_feed(&s, l2, strlen(l2), NULL), E2B_OK);
    assert_string_equal(t.s, "out:a|out:b|");
    e2b_exec_stream_free(&s);
}

static void test_callback_cancels(void **state)
{
    (void)state;
    e2b_run_opts o;
    trace t;
    trace_opts(&o, &t);
    t.stop_after = 4; /* the first result */
    e2b_execution *ex = NULL;
    e2b_error err;
    assert_int_equal(e2b_execution_parse(FULL, sizeof FULL - 1, &o, &ex, &err), E2B_ERR_CANCELLED);
    assert_non_null(strstr(err.message, "on_result"));
    assert_non_null(ex);
    assert_int_equal(ex->results_len, 1);
    assert_int_equal(ex->logs_len, 3);
    assert_null(ex->error);
    assert_false(ex->completed);
    e2b_execution_free(ex);
}

static void test_malformed_json(void **state)
{
    (void)state;
    const char body[] = "{\"type\":\"stdout\",\"text\":\"a\"}\n"
                        "{\"type\":\"stdout\", oops this is not json}\n"
                        "{\"type\":\"end_of_execution\"}\n";
    e2b_execution *ex = NULL;
    e2b_error err;
    assert_int_equal(e2b_execution_parse(body, sizeof body - 1, NULL, &ex, &err), E2B_ERR_PROTOCOL);
    assert_int_equal(err.code, E2B_ERR_PROTOCOL);
    assert_non_null(strstr(err.message, "line 2"));
    assert_non_null(strstr(err.message, "{\"type\":\"stdout\", oops"));
    assert_non_null(ex); /* the partial execution is kept */
    assert_int_equal(ex->logs_len, 1);
    assert_false(ex->completed);
    e2b_execution_free(ex);

    /* a long bad line is quoted shortened, control bytes masked */
    char longbad[400];
    memset(longbad, 'z', sizeof longbad);
    longbad[0] = '\x01';
    ex = NULL;
    assert_int_equal(e2b_execution_parse(longbad, sizeof longbad, NULL, &ex, &err),
                     E2B_ERR_PROTOCOL);
    assert_non_null(strstr(err.message, ".zzzz"));
    assert_non_null(strstr(err.message, "..."));
    assert_true(strlen(err.message) < 200);
    e2b_execution_free(ex);
}

/* Each line is wrong in one way; each must give E2B_ERR_PROTOCOL naming the problem. */
static void test_wrong_types(void **state)
{
    (void)state;
    static const struct {
        const char *line;
        const char *needle;
    } cases[] = {
        {"[1,2,3]", "not a JSON object"},
        {"\"stdout\"", "not a JSON object"},
        {"42", "not a JSON object"},
        {"null", "not a JSON object"},
        {"{}", "no string \"type\""},
        {"{\"type\":5}", "no string \"type\""},
        {"{\"type\":null}", "no string \"type\""},
        {"{\"type\":\"stdout\"}", "without \"text\""},
        {"{\"type\":\"stdout\",\"text\":5}", "\"text\" of a \"stdout\" line is a number"},
        {"{\"type\":\"stderr\",\"text\":[\"a\"]}", "is a array"},
        {"{\"type\":\"stdout\",\"text\":\"a\",\"timestamp\":17}", "\"timestamp\""},
        {"{\"type\":\"result\",\"text\":{}}", "\"text\" of a \"result\" line is a object"},
        {"{\"type\":\"result\",\"png\":123}", "\"png\""},
        {"{\"type\":\"result\",\"html\":true}", "\"html\""},
        {"{\"type\":\"result\",\"javascript\":1}", "\"javascript\""},
        {"{\"type\":\"result\",\"is_main_result\":\"yes\"}", "\"is_main_result\""},
        {"{\"type\":\"error\",\"name\":1,\"value\":\"v\",\"traceback\":\"\"}", "\"name\""},
        {"{\"type\":\"error\",\"name\":\"n\",\"value\":{},\"traceback\":\"\"}", "\"value\""},
        {"{\"type\":\"error\",\"name\":\"n\",\"value\":\"v\",\"traceback\":[1]}", "\"traceback\""},
        {"{\"type\":\"number_of_executions\"}", "without \"execution_count\""},
        {"{\"type\":\"number_of_executions\",\"execution_count\":\"3\"}", "\"execution_count\""},
        {"{\"type\":\"number_of_executions\",\"execution_count\":-1}", "non-negative integer"},
        {"{\"type\":\"number_of_executions\",\"execution_count\":1.5}", "non-negative integer"},
        {"{\"type\":\"number_of_executions\",\"execution_count\":1e300}", "non-negative integer"},
        {"{\"type\":\"stdout\",\"text\":\"a\"} trailing", "trailing data"},
        {"{\"type\":\"stdout\",\"text\":\"a\"}{}", "trailing data"},
        {"{\"type\":\"stdout\",\"text\":\"a\"", "not valid JSON"},
        {"\xff\xfe", "not valid JSON"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        e2b_execution *ex = NULL;
        e2b_error err;
        e2b_error_clear(&err);
        e2b_code rc = e2b_execution_parse(cases[i].line, strlen(cases[i].line), NULL, &ex, &err);
        if (rc != E2B_ERR_PROTOCOL || !strstr(err.message, cases[i].needle))
            fail_msg("case %zu (%s): rc %d, message \"%s\"", i, cases[i].line, rc, err.message);
        assert_non_null(ex);
        assert_int_equal(ex->results_len, 0);
        assert_int_equal(ex->logs_len, 0);
        e2b_execution_free(ex);
    }
}

static void test_nulls_and_unknowns_are_tolerated(void **state)
{
    (void)state;
    const char body[] =
        "{\"type\":\"result\",\"text\":null,\"png\":null,\"json\":null,\"is_main_result\":null,"
        "\"unknown_key\":1}\n"
        "{\"type\":\"stdout\",\"text\":\"x\",\"timestamp\":null}\n"
        "{\"type\":\"keepalive\"}\n{\"type\":\"unexpected_end_of_execution\"}\n"
        "{\"type\":\"result\",\"chart\":{\"type\":7,\"title\":[]},\"json\":\"str\",\"data\":0}\n"
        "{\"type\":\"end_of_execution\"}";
    e2b_execution *ex = NULL;
    e2b_error err;
    assert_int_equal(e2b_execution_parse(body, sizeof body - 1, NULL, &ex, &err), E2B_OK);
    assert_int_equal(ex->results_len, 2);
    assert_null(ex->results[0].text);
    assert_null(ex->results[0].png);
    assert_null(ex->results[0].json);
    assert_false(ex->results[0].is_main_result);
    assert_null(ex->results[1].chart_type); /* lenient inside the chart */
    assert_null(ex->results[1].chart_title);
    assert_string_equal(ex->results[1].chart, "{\"type\":7,\"title\":[]}");
    assert_string_equal(ex->results[1].json, "\"str\"");
    assert_string_equal(ex->results[1].data, "0");
    assert_null(ex->text); /* no main result */
    assert_int_equal(ex->execution_count, -1);
    assert_null(ex->error);
    e2b_execution_free(ex);
}

static void test_missing_end_of_execution(void **state)
{
    (void)state;
    const char body[] = "{\"type\":\"stdout\",\"text\":\"partial\"}\n"
                        "{\"type\":\"stdout\",\"text\":\"last, unterminated\"}";
    e2b_execution *ex = NULL;
    e2b_error err;
    assert_int_equal(e2b_execution_parse(body, sizeof body - 1, NULL, &ex, &err), E2B_ERR_PROTOCOL);
    assert_non_null(strstr(err.message, "end_of_execution"));
    assert_non_null(ex);
    assert_false(ex->completed);
    assert_int_equal(ex->logs_len, 2);
    assert_string_equal(ex->logs[1].text, "last, unterminated");
    e2b_execution_free(ex);

    ex = NULL;
    assert_int_equal(e2b_execution_parse("", 0, NULL, &ex, &err), E2B_ERR_PROTOCOL);
    assert_non_null(ex);
    assert_int_equal(ex->logs_len + ex->results_len, 0);
    e2b_execution_free(ex);

    assert_int_equal(e2b_execution_parse(NULL, 5, NULL, &ex, &err), E2B_ERR_INVALID_ARGUMENT);
    assert_null(ex);
}

static void test_error_variants(void **state)
{
    (void)state;
    const char body[] =
        "{\"type\":\"error\",\"name\":\"First\",\"value\":\"1\",\"traceback\":\"t1\"}\n"
        "{\"type\":\"error\",\"name\":\"ContextRestarting\",\"value\":\"Context was restarted\"}\n"
        "{\"type\":\"end_of_execution\"}\n";
    e2b_execution *ex = NULL;
    assert_int_equal(e2b_execution_parse(body, sizeof body - 1, NULL, &ex, NULL), E2B_OK);
    assert_string_equal(ex->error->name, "ContextRestarting"); /* the last one wins */
    assert_string_equal(ex->error->value, "Context was restarted");
    assert_string_equal(ex->error->traceback, ""); /* missing -> "" */
    e2b_execution_free(ex);

    const char body2[] = "{\"type\":\"error\",\"traceback\":[\"line1\",\"line2\"]}\n"
                         "{\"type\":\"end_of_execution\"}\n";
    assert_int_equal(e2b_execution_parse(body2, sizeof body2 - 1, NULL, &ex, NULL), E2B_OK);
    assert_string_equal(ex->error->name, "");
    assert_string_equal(ex->error->traceback, "line1\nline2");
    e2b_execution_free(ex);
}

static void test_text_is_first_main_result(void **state)
{
    (void)state;
    const char body[] =
        "{\"type\":\"result\",\"text\":\"display\",\"is_main_result\":false}\n"
        "{\"type\":\"result\",\"text\":\"m1\",\"is_main_result\":true}\n"
        "{\"type\":\"result\",\"text\":\"m2\",\"is_main_result\":true}\n"
        "{\"type\":\"result\",\"text\":\"r4\"}\n{\"type\":\"result\",\"text\":\"r5\"}\n"
        "{\"type\":\"result\",\"text\":\"r6\"}\n{\"type\":\"end_of_execution\"}\n";
    e2b_execution *ex = NULL;
    assert_int_equal(e2b_execution_parse(body, sizeof body - 1, NULL, &ex, NULL), E2B_OK);
    assert_int_equal(ex->results_len, 6); /* grew past the first capacity */
    assert_string_equal(ex->text, "m1");
    assert_ptr_equal(ex->text, ex->results[1].text);
    assert_string_equal(ex->results[5].text, "r6");
    e2b_execution_free(ex);
}

static void test_logs_text_and_json(void **state)
{
    (void)state;
    e2b_execution *ex = NULL;
    assert_int_equal(e2b_execution_parse(FULL, sizeof FULL - 1, NULL, &ex, NULL), E2B_OK);
    char *s = NULL;
    assert_int_equal(e2b_execution_logs_text(ex, E2B_LOG_STDOUT, &s, NULL), E2B_OK);
    assert_string_equal(s, "1\n2");
    free(s);
    assert_int_equal(e2b_execution_logs_text(ex, E2B_LOG_STDERR, &s, NULL), E2B_OK);
    assert_string_equal(s, "warn\n");
    free(s);

    char *js = NULL;
    assert_int_equal(e2b_execution_to_json(ex, &js, NULL), E2B_OK);
    cJSON *j = cJSON_Parse(js);
    assert_non_null(j);
    const cJSON *results = cJSON_GetObjectItemCaseSensitive(j, "results");
    assert_int_equal(cJSON_GetArraySize(results), 2);
    const cJSON *m = cJSON_GetArrayItem(results, 1);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(m, "text")->valuestring, "42");
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(m, "is_main_result")));
    /* raw JSON fields are embedded as JSON, not as strings */
    const cJSON *mj = cJSON_GetObjectItemCaseSensitive(m, "json");
    assert_true(cJSON_IsObject(mj));
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(mj, "answer")->valueint, 42);
    assert_true(cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(m, "chart")));
    const cJSON *logs = cJSON_GetObjectItemCaseSensitive(j, "logs");
    const cJSON *so = cJSON_GetObjectItemCaseSensitive(logs, "stdout");
    assert_int_equal(cJSON_GetArraySize(so), 2);
    assert_string_equal(cJSON_GetArrayItem(so, 1)->valuestring, "2");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(logs, "stderr")), 1);
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "error");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(e, "name")->valuestring,
                        "ZeroDivisionError");
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(j, "execution_count")->valueint, 3);
    cJSON_Delete(j);
    free(js);
    e2b_execution_free(ex);

    /* no error, no count -> JSON nulls */
    const char body[] = "{\"type\":\"end_of_execution\"}\n";
    assert_int_equal(e2b_execution_parse(body, sizeof body - 1, NULL, &ex, NULL), E2B_OK);
    assert_int_equal(e2b_execution_to_json(ex, &js, NULL), E2B_OK);
    assert_string_equal(js, "{\"results\":[],\"logs\":{\"stdout\":[],\"stderr\":[]},"
                            "\"error\":null,\"execution_count\":null}");
    free(js);
    e2b_execution_free(ex);
}

/* Random byte mutations of FULL, fed in random splits (fixed seed, so reproducible): the
 * outcome is always E2B_OK or a typed E2B_ERR_PROTOCOL, with no crash, leak or overread
 * (this test runs under ASan/UBSan and valgrind). */
static void test_random_mutations(void **state)
{
    (void)state;
    static const char alphabet[] = "\n\r \"{}[]:,\\0x-e.tfn\x01\xff";
    unsigned seed = 12345;
    size_t n = sizeof FULL - 1;
    char *buf = malloc(n);
    int ok = 0, proto = 0;
    for (int iter = 0; iter < 3000; iter++) {
        memcpy(buf, FULL, n);
        int muts = 1 + rand_r(&seed) % 4;
        for (int m = 0; m < muts; m++)
            buf[rand_r(&seed) % n] = alphabet[rand_r(&seed) % (sizeof alphabet - 1)];
        e2b_run_opts o;
        trace t;
        trace_opts(&o, &t);
        e2b_exec_stream s;
        e2b_error err;
        assert_int_equal(e2b_exec_stream_init(&s, &o, 0, &err), E2B_OK);
        e2b_code rc = E2B_OK;
        size_t pos = 0;
        while (pos < n && rc == E2B_OK) {
            size_t step = 1 + rand_r(&seed) % 64;
            if (step > n - pos)
                step = n - pos;
            rc = e2b_exec_stream_feed(&s, buf + pos, step, &err);
            pos += step;
        }
        if (rc == E2B_OK)
            rc = e2b_exec_stream_finish(&s, &err);
        if (rc == E2B_OK)
            ok++;
        else if (rc == E2B_ERR_PROTOCOL)
            proto++;
        else
            fail_msg("iteration %d: unexpected %s (%s)", iter, e2b_code_name(rc), err.message);
        e2b_execution_free(e2b_exec_stream_take(&s));
        e2b_exec_stream_free(&s);
    }
    free(buf);
    /* both outcomes occur: the mutations are neither all harmless nor all fatal */
    assert_true(ok > 0);
    assert_true(proto > 0);
}

/* ---- saving ----------------------------------------------------------------------------- */

static char *tmpdir(void)
{
    char tmpl[] = "/tmp/e2b-unit-exec-XXXXXX";
    char *d = mkdtemp(tmpl);
    assert_non_null(d);
    return strdup(d);
}

static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    unsigned char *buf = malloc(1 << 20);
    *len = fread(buf, 1, 1 << 20, f);
    fclose(f);
    return buf;
}

/* The parsed execution of one result line whose png is the tiny PNG in base64, optionally
 * broken into lines of `wrap` characters (as base64.encodebytes does). */
static e2b_execution *png_execution(int wrap)
{
    char b64[256];
    int n = EVP_EncodeBlock((unsigned char *)b64, TINY_PNG, sizeof TINY_PNG);
    char wrapped[512];
    size_t w = 0;
    for (int i = 0; i < n; i++) {
        if (wrap && i && i % wrap == 0) {
            wrapped[w++] = '\\';
            wrapped[w++] = 'n';
        }
        wrapped[w++] = b64[i];
    }
    wrapped[w] = '\0';
    char line[2048];
    snprintf(line, sizeof line,
             "{\"type\":\"result\",\"png\":\"%s\",\"jpeg\":\"%s\",\"svg\":\"<svg>x</svg>\","
             "\"is_main_result\":true}\n{\"type\":\"result\",\"pdf\":\"%%PDF-1.7 body\"}\n"
             "{\"type\":\"result\",\"text\":\"no image\"}\n{\"type\":\"end_of_execution\"}\n",
             wrapped, wrapped);
    e2b_execution *ex = NULL;
    assert_int_equal(e2b_execution_parse(line, strlen(line), NULL, &ex, NULL), E2B_OK);
    return ex;
}

static void test_result_save_png_round_trip(void **state)
{
    (void)state;
    char *dir = tmpdir();
    for (int wrap = 0; wrap <= 20; wrap += 20) {
        e2b_execution *ex = png_execution(wrap);
        char path[512];
        snprintf(path, sizeof path, "%s/tiny.png", dir);
        e2b_error err;
        assert_int_equal(e2b_result_save(&ex->results[0], "png", path, &err), E2B_OK);
        size_t len = 0;
        unsigned char *got = slurp(path, &len);
        assert_non_null(got);
        assert_int_equal(len, sizeof TINY_PNG);
        assert_memory_equal(got, TINY_PNG, sizeof TINY_PNG);
        free(got);
        unlink(path);
        e2b_execution_free(ex);
    }
    rmdir(dir);
    free(dir);
}

static void test_result_save_errors(void **state)
{
    (void)state;
    char *dir = tmpdir();
    e2b_execution *ex = png_execution(0);
    char path[512];
    snprintf(path, sizeof path, "%s/out.bin", dir);
    e2b_error err;
    assert_int_equal(e2b_result_save(&ex->results[0], "gif", path, &err), E2B_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "gif"));
    assert_int_equal(e2b_result_save(&ex->results[0], "pdf", path, &err), E2B_ERR_INVALID_ARGUMENT);
    assert_int_equal(e2b_result_save(NULL, "png", path, &err), E2B_ERR_INVALID_ARGUMENT);
    assert_int_equal(access(path, F_OK), -1); /* nothing was created */

    /* svg is written as text */
    assert_int_equal(e2b_result_save(&ex->results[0], "svg", path, &err), E2B_OK);
    size_t len;
    unsigned char *got = slurp(path, &len);
    assert_int_equal(len, strlen("<svg>x</svg>"));
    assert_memory_equal(got, "<svg>x</svg>", len);
    free(got);

    /* invalid base64: typed error, and the partial file is removed */
    free(ex->results[0].png);
    ex->results[0].png = strdup("iVBO!!!!not base64");
    assert_int_equal(e2b_result_save(&ex->results[0], "png", path, &err), E2B_ERR_PROTOCOL);
    assert_int_equal(access(path, F_OK), -1);

    /* unwritable place */
    snprintf(path, sizeof path, "%s/no/such/dir/x.svg", dir);
    assert_int_equal(e2b_result_save(&ex->results[0], "svg", path, &err), E2B_ERR_IO);
    assert_non_null(strstr(err.message, "No such file"));
    e2b_execution_free(ex);
    rmdir(dir);
    free(dir);
}

static void test_save_images(void **state)
{
    (void)state;
    char *dir = tmpdir();
    char sub[512];
    snprintf(sub, sizeof sub, "%s/a/b", dir);
    e2b_execution *ex = png_execution(0);
    char **paths = NULL;
    size_t n = 0;
    e2b_error err;
    assert_int_equal(e2b_execution_save_images(ex, sub, "run1", &paths, &n, &err), E2B_OK);
    assert_int_equal(n, 4);
    char want[600];
    snprintf(want, sizeof want, "%s/run1-0.png", sub);
    assert_string_equal(paths[0], want);
    snprintf(want, sizeof want, "%s/run1-0.jpeg", sub);
    assert_string_equal(paths[1], want);
    snprintf(want, sizeof want, "%s/run1-0.svg", sub);
    assert_string_equal(paths[2], want);
    snprintf(want, sizeof want, "%s/run1-1.pdf", sub);
    assert_string_equal(paths[3], want);
    size_t len;
    unsigned char *got = slurp(paths[1], &len);
    assert_int_equal(len, sizeof TINY_PNG);
    free(got);
    got = slurp(paths[3], &len);
    assert_memory_equal(got, "%PDF-1.7 body", len);
    free(got);
    for (size_t i = 0; i < n; i++)
        unlink(paths[i]);
    e2b_paths_free(paths, n);

    /* no images: nothing created, nothing returned */
    e2b_execution *none = NULL;
    const char body[] = "{\"type\":\"result\",\"text\":\"1\"}\n{\"type\":\"end_of_execution\"}\n";
    assert_int_equal(e2b_execution_parse(body, sizeof body - 1, NULL, &none, NULL), E2B_OK);
    char nodir[600];
    snprintf(nodir, sizeof nodir, "%s/never", dir);
    assert_int_equal(e2b_execution_save_images(none, nodir, NULL, &paths, &n, &err), E2B_OK);
    assert_int_equal(n, 0);
    assert_null(paths);
    assert_int_equal(access(nodir, F_OK), -1);
    e2b_execution_free(none);

    /* the directory path is a file */
    char file[600];
    snprintf(file, sizeof file, "%s/plainfile", dir);
    FILE *f = fopen(file, "w");
    fclose(f);
    assert_int_equal(e2b_execution_save_images(ex, file, NULL, &paths, &n, &err), E2B_ERR_IO);
    assert_null(paths);
    unlink(file);

    e2b_execution_free(ex);
    rmdir(sub);
    snprintf(sub, sizeof sub, "%s/a", dir);
    rmdir(sub);
    rmdir(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_line_type),
        cmocka_unit_test(test_any_split),
        cmocka_unit_test(test_callbacks_stream_as_lines_arrive),
        cmocka_unit_test(test_callback_cancels),
        cmocka_unit_test(test_malformed_json),
        cmocka_unit_test(test_wrong_types),
        cmocka_unit_test(test_nulls_and_unknowns_are_tolerated),
        cmocka_unit_test(test_missing_end_of_execution),
        cmocka_unit_test(test_error_variants),
        cmocka_unit_test(test_random_mutations),
        cmocka_unit_test(test_text_is_first_main_result),
        cmocka_unit_test(test_logs_text_and_json),
        cmocka_unit_test(test_result_save_png_round_trip),
        cmocka_unit_test(test_result_save_errors),
        cmocka_unit_test(test_save_images),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
