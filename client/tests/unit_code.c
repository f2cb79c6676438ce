/* unit_code: e2b_run_code and the /contexts calls against a scripted HTTP server in this
 * process (raw sockets, one thread per connection, 127.0.0.1 only). Checks what goes on
 * the wire (headers, body), that callbacks fire while the stream is still open, the
 * status-code mapping, truncated streams, broken connections, both timeouts, and that
 * partial executions come back where the contract says. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "e2b/code.h"
#include "e2b/e2b.h"
#include "wire_server.h"

/* ---- the scripted server ------------------------------------------------------------- */

/* Request timeout of the short-timeout fixture (test_timeouts_and_cancel): long enough for
 * create under valgrind on a loaded machine, shorter than the "long" / "slow_headers"
 * scenarios' server pauses. */
#define SHORT_REQUEST_TIMEOUT_MS 3000

/* monotonic ms at which the server started writing each stream line ("stream") */
static double line_sent_ms[8];

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

static void send_simple(int fd, int status, const char *ctype, const char *body)
{
    wire_send_reply(fd, status, ctype, NULL, body, strlen(body));
}

static const char *L_COUNT = "{\"type\":\"number_of_executions\",\"execution_count\":1}\n";
static const char *L_OUT1 = "{\"type\":\"stdout\",\"text\":\"first\\n\",\"timestamp\":\"t1\"}\n";
static const char *L_RES =
    "{\"type\":\"result\",\"text\":\"42\",\"is_main_result\":true,\"extra\":{}}\n";
static const char *L_ERR =
    "{\"type\":\"error\",\"name\":\"ValueError\",\"value\":\"bad\",\"traceback\":\"tb\"}\n";
static const char *L_END = "{\"type\":\"end_of_execution\"}\n";
static const char *STREAM_HDR = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";

/* Returns false when the connection must be closed. */
static bool handle_execute(int fd)
{
    const char *sc = wire_scenario();

    if (!strcmp(sc, "stream")) {
        /* count, first line, a pause, then the rest: the client must see "first" before
         * the pause ends */
        wire_send_str(fd, STREAM_HDR);
        line_sent_ms[0] = now_ms();
        wire_send_chunk_str(fd, L_COUNT);
        wire_send_chunk_str(fd, L_OUT1);
        wire_sleep_while_connected(fd, 400);
        line_sent_ms[1] = now_ms();
        /* one line split across two chunks, two lines in one chunk */
        wire_send_chunk_str(fd, "{\"type\":\"stdout\",\"te");
        wire_send_chunk_str(fd,
                            "xt\":\"second\\n\",\"timestamp\":\"t2\"}\n{\"type\":\"keepalive\"}\n");
        char both[512];
        snprintf(both, sizeof both, "%s%s%s", L_RES, L_ERR, L_END);
        wire_send_chunk_str(fd, both);
        wire_send_str(fd, "0\r\n\r\n");
        return true;
    }
    if (!strcmp(sc, "long")) { /* outlives the short fixture's request timeout */
        wire_send_str(fd, STREAM_HDR);
        wire_send_chunk_str(fd, L_OUT1);
        if (!wire_sleep_while_connected(fd, SHORT_REQUEST_TIMEOUT_MS + 1500))
            return false;
        wire_send_chunk_str(fd, L_END);
        wire_send_str(fd, "0\r\n\r\n");
        return true;
    }
    if (!strcmp(sc, "truncated")) { /* a clean end of body without end_of_execution */
        wire_send_str(fd, STREAM_HDR);
        wire_send_chunk_str(fd, L_OUT1);
        wire_send_str(fd, "0\r\n\r\n");
        return true;
    }
    if (!strcmp(sc, "cut")) { /* the connection dies mid-stream */
        wire_send_str(fd, STREAM_HDR);
        wire_send_chunk_str(fd, L_OUT1);
        usleep(50000);
        return false;
    }
    if (!strcmp(sc, "hang")) { /* one line, then silence until the client gives up */
        wire_send_str(fd, STREAM_HDR);
        wire_send_chunk_str(fd, L_OUT1);
        wire_sleep_while_connected(fd, 15000);
        return false;
    }
    if (!strcmp(sc, "slow_headers")) {
        wire_sleep_while_connected(fd, 15000);
        return false;
    }
    if (!strcmp(sc, "badline")) {
        wire_send_str(fd, STREAM_HDR);
        wire_send_chunk_str(fd, L_OUT1);
        wire_send_chunk_str(fd, "{\"type\":\"stdout\",\"text\":}\n");
        wire_sleep_while_connected(fd, 2000);
        return false;
    }
    if (!strcmp(sc, "close_delimited")) { /* no length, no chunking: body ends at close */
        wire_send_str(fd, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
        wire_send_str(fd, L_OUT1);
        wire_send_str(fd, L_END);
        return false;
    }
    if (!strcmp(sc, "404")) {
        send_simple(fd, 404, "text/plain", "Context nope not found");
        return true;
    }
    if (!strcmp(sc, "502")) {
        send_simple(
            fd, 502, "application/json",
            "{\"sandboxId\":\"sbx1\",\"message\":\"The sandbox was not found\",\"code\":502}");
        return true;
    }
    if (!strcmp(sc, "400")) {
        send_simple(fd, 400, "text/plain", "Only one of context_id or language can be provided");
        return true;
    }
    if (!strcmp(sc, "500")) {
        send_simple(fd, 500, "text/plain", "kernel exploded");
        return true;
    }
    send_simple(fd, 599, "text/plain", "unknown scenario");
    return true;
}

static bool handle(int fd, const wire_req *r)
{
    if (!strcmp(r->path, "/v2/sandboxes") && !strcmp(r->method, "POST")) {
        send_simple(fd, 201, "application/json",
                    "{\"sandboxID\":\"sbx1\",\"templateID\":\"code-interpreter-v1\","
                    "\"clientID\":\"c\",\"envdVersion\":\"0.5.7\","
                    "\"envdAccessToken\":\"envd-tok\",\"trafficAccessToken\":\"traffic-tok\"}");
        return true;
    }
    if (!strcmp(r->path, "/execute"))
        return handle_execute(fd);
    if (!strcmp(r->path, "/contexts") && !strcmp(r->method, "POST")) {
        send_simple(fd, 200, "application/json",
                    "{\"id\":\"ctx-1\",\"language\":\"javascript\",\"cwd\":\"/tmp\"}");
        return true;
    }
    if (!strcmp(r->path, "/contexts") && !strcmp(r->method, "GET")) {
        send_simple(
            fd, 200, "application/json",
            "[{\"id\":\"py\",\"language\":\"python\",\"cwd\":\"/home/user\"},"
            "{\"language\":\"broken, no id\"},{\"id\":\"js\",\"language\":\"javascript\"}]");
        return true;
    }
    if (!strncmp(r->path, "/contexts/ctx-1", 15)) {
        send_simple(fd, 200, "application/json", "null");
        return true;
    }
    if (!strncmp(r->path, "/contexts/", 10)) {
        send_simple(fd, 404, "text/plain", "Context nope not found");
        return true;
    }
    send_simple(fd, 404, "text/plain", "no route");
    return true;
}

/* ---- fixtures ------------------------------------------------------------------------ */

typedef struct fx {
    e2b_client *client;
    e2b_sandbox *sbx;
} fx;

static int setup_with(void **state, int request_timeout_ms)
{
    wire_start(handle);
    fx *f = calloc(1, sizeof *f);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", wire_port());
    e2b_config cfg;
    e2b_config_init(&cfg);
    cfg.api_key = "e2b_test";
    cfg.api_url = url;
    cfg.sandbox_url = url;
    cfg.request_timeout_ms = request_timeout_ms;
    e2b_error err;
    const char *step = "client";
    if (!f) {
        wire_stop();
        print_error("setup: out of memory\n");
        return -1;
    }
    if (e2b_client_new(&cfg, &f->client, &err) == E2B_OK &&
        (step = "create", e2b_sandbox_create(f->client, NULL, &f->sbx, &err) == E2B_OK)) {
        *state = f;
        return 0;
    }
    /* cmocka skips teardown when setup fails: release everything here */
    print_error("setup: %s: %s\n", step, err.message);
    e2b_client_free(f->client);
    free(f);
    wire_stop();
    return -1;
}

/* generous: under valgrind one request can take seconds on a loaded machine */
static int setup(void **state)
{
    return setup_with(state, 60000);
}
static int setup_short(void **state)
{
    return setup_with(state, SHORT_REQUEST_TIMEOUT_MS);
}

static int teardown(void **state)
{
    fx *f = *state;
    e2b_sandbox_free(f->sbx);
    e2b_client_free(f->client);
    free(f);
    wire_stop();
    return 0;
}

/* ---- tests --------------------------------------------------------------------------- */

typedef struct seen {
    char log[1024];
    double first_stdout_ms;
    int n;
} seen;

static int on_out(const e2b_log_chunk *c, void *ud)
{
    seen *s = ud;
    if (!s->n++)
        s->first_stdout_ms = now_ms();
    strncat(s->log, "out:", sizeof s->log - strlen(s->log) - 1);
    strncat(s->log, c->text, sizeof s->log - strlen(s->log) - 1);
    return 0;
}
static int on_res(const e2b_result *r, void *ud)
{
    seen *s = ud;
    strncat(s->log, "res:", sizeof s->log - strlen(s->log) - 1);
    strncat(s->log, r->text, sizeof s->log - strlen(s->log) - 1);
    strncat(s->log, "|", sizeof s->log - strlen(s->log) - 1);
    return 0;
}
static int on_err(const e2b_exec_error *e, void *ud)
{
    seen *s = ud;
    strncat(s->log, "error:", sizeof s->log - strlen(s->log) - 1);
    strncat(s->log, e->name, sizeof s->log - strlen(s->log) - 1);
    return 0;
}

static void test_streams_and_sends_the_right_request(void **state)
{
    fx *f = *state;
    wire_set_scenario("stream");
    seen s;
    memset(&s, 0, sizeof s);
    e2b_kv env[] = {{"A", "1"}, {"B", "two"}};
    e2b_run_opts o;
    e2b_run_opts_init(&o);
    o.language = "python";
    o.env_vars = env;
    o.env_vars_len = 2;
    o.on_stdout = on_out;
    o.on_result = on_res;
    o.on_error = on_err;
    o.user_data = &s;
    e2b_execution *ex = NULL;
    e2b_error err;
    e2b_code rc = e2b_run_code(f->sbx, "print('first')\nimport time; time.sleep(0.4)\n", &o, &ex,
                               &err);
    if (rc != E2B_OK)
        fail_msg("run_code: %s", err.message);
    /* the user-code error is not a call failure */
    assert_non_null(ex);
    assert_true(ex->completed);
    assert_int_equal(ex->execution_count, 1);
    assert_int_equal(ex->logs_len, 2);
    assert_string_equal(ex->logs[1].text, "second\n");
    assert_string_equal(ex->logs[1].timestamp, "t2");
    assert_string_equal(ex->text, "42");
    assert_string_equal(ex->error->name, "ValueError");
    assert_string_equal(s.log, "out:first\nout:second\nres:42|error:ValueError");
    /* the first callback ran while the server was still pausing, not after the body */
    assert_true(s.first_stdout_ms < line_sent_ms[1]);
    e2b_execution_free(ex);

    wire_req r = wire_last_req("/execute");
    assert_string_equal(r.method, "POST");
    assert_true(wire_has_header(&r, "Content-Type", "application/json"));
    assert_true(wire_has_header(&r, "E2b-Sandbox-Id", "sbx1"));
    assert_true(wire_has_header(&r, "E2b-Sandbox-Port", "49999"));
    assert_true(wire_has_header(&r, "X-Access-Token", "envd-tok"));
    assert_true(wire_has_header(&r, "E2B-Traffic-Access-Token", "traffic-tok"));
    assert_false(wire_has_header_name(&r, "X-API-Key"));
    cJSON *b = cJSON_Parse(r.body);
    assert_non_null(b);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(b, "code")->valuestring,
                        "print('first')\nimport time; time.sleep(0.4)\n");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(b, "language")->valuestring, "python");
    assert_null(cJSON_GetObjectItemCaseSensitive(b, "context_id")); /* only keys that are set */
    const cJSON *ev = cJSON_GetObjectItemCaseSensitive(b, "env_vars");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(ev, "A")->valuestring, "1");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(ev, "B")->valuestring, "two");
    cJSON_Delete(b);

    /* defaults: opts NULL -> body is just {"code":...} */
    rc = e2b_run_code(f->sbx, "1+1", NULL, &ex, &err);
    assert_int_equal(rc, E2B_OK);
    e2b_execution_free(ex);
    r = wire_last_req("/execute");
    assert_string_equal(r.body, "{\"code\":\"1+1\"}");
}

static void test_language_and_context_is_refused_locally(void **state)
{
    fx *f = *state;
    int before = wire_count_reqs("/execute");
    e2b_run_opts o;
    e2b_run_opts_init(&o);
    o.language = "python";
    o.context_id = "ctx-1";
    e2b_execution *ex = (e2b_execution *)&o; /* must be reset to NULL */
    e2b_error err;
    assert_int_equal(e2b_run_code(f->sbx, "1", &o, &ex, &err), E2B_ERR_INVALID_ARGUMENT);
    assert_null(ex);
    assert_non_null(strstr(err.message, "only one of"));
    assert_int_equal(wire_count_reqs("/execute"), before); /* nothing was sent */
    assert_int_equal(e2b_run_code(f->sbx, NULL, NULL, &ex, &err), E2B_ERR_INVALID_ARGUMENT);
    assert_int_equal(e2b_run_code(NULL, "1", NULL, &ex, &err), E2B_ERR_INVALID_ARGUMENT);
    o.context_id = NULL;
    o.timeout_ms = -5;
    assert_int_equal(e2b_run_code(f->sbx, "1", &o, &ex, &err), E2B_ERR_INVALID_ARGUMENT);
}

static void test_status_mapping(void **state)
{
    fx *f = *state;
    static const struct {
        const char *sc;
        e2b_code code;
        const char *needle;
    } cases[] = {
        {"404", E2B_ERR_NOT_FOUND, "Context nope not found"},
        {"502", E2B_ERR_SANDBOX_GONE, "sandbox"},
        {"400", E2B_ERR_INVALID_ARGUMENT, NULL},
        {"500", E2B_ERR_INTERNAL, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        wire_set_scenario(cases[i].sc);
        e2b_execution *ex = NULL;
        e2b_error err;
        e2b_code rc = e2b_run_code(f->sbx, "x", NULL, &ex, &err);
        if (rc != cases[i].code)
            fail_msg("%s: got %s (%s)", cases[i].sc, e2b_code_name(rc), err.message);
        assert_int_equal(err.http_status, atoi(cases[i].sc));
        if (cases[i].needle && !strstr(err.message, cases[i].needle))
            fail_msg("%s: message \"%s\"", cases[i].sc, err.message);
        assert_null(ex); /* nothing was accepted: no partial execution */
    }
}

static void test_truncated_stream_returns_partial(void **state)
{
    fx *f = *state;
    wire_set_scenario("truncated");
    e2b_execution *ex = NULL;
    e2b_error err;
    assert_int_equal(e2b_run_code(f->sbx, "x", NULL, &ex, &err), E2B_ERR_PROTOCOL);
    assert_non_null(strstr(err.message, "end_of_execution"));
    assert_non_null(ex);
    assert_false(ex->completed);
    assert_int_equal(ex->logs_len, 1);
    assert_string_equal(ex->logs[0].text, "first\n");
    e2b_execution_free(ex);

    wire_set_scenario("cut");
    ex = NULL;
    e2b_code rc = e2b_run_code(f->sbx, "x", NULL, &ex, &err);
    if (rc != E2B_ERR_NETWORK && rc != E2B_ERR_PROTOCOL)
        fail_msg("cut: %s (%s)", e2b_code_name(rc), err.message);
    assert_non_null(ex);
    assert_int_equal(ex->logs_len, 1);
    e2b_execution_free(ex);

    /* a bad line aborts the request at once (the server keeps the connection open) */
    wire_set_scenario("badline");
    ex = NULL;
    assert_int_equal(e2b_run_code(f->sbx, "x", NULL, &ex, &err), E2B_ERR_PROTOCOL);
    assert_non_null(strstr(err.message, "line 2"));
    assert_non_null(ex);
    assert_int_equal(ex->logs_len, 1);
    e2b_execution_free(ex);

    /* a line over the configured limit */
    wire_set_scenario("stream");
    e2b_run_opts o;
    e2b_run_opts_init(&o);
    o.max_line_bytes = 40;
    ex = NULL;
    assert_int_equal(e2b_run_code(f->sbx, "x", &o, &ex, &err), E2B_ERR_PROTOCOL);
    assert_non_null(strstr(err.message, "limit of 40 bytes"));
    assert_non_null(ex);
    e2b_execution_free(ex);

    /* a close-delimited body works like a chunked one */
    wire_set_scenario("close_delimited");
    ex = NULL;
    assert_int_equal(e2b_run_code(f->sbx, "x", NULL, &ex, &err), E2B_OK);
    assert_true(ex->completed);
    assert_int_equal(ex->logs_len, 1);
    e2b_execution_free(ex);
}

static int cancel_on_first(const e2b_log_chunk *c, void *ud)
{
    (void)c;
    (void)ud;
    return 1;
}

static void test_timeouts_and_cancel(void **state)
{
    fx *f = *state;
    /* execution timeout after the headers: OPERATION_TIMEOUT with the partial output */
    wire_set_scenario("hang");
    e2b_run_opts o;
    e2b_run_opts_init(&o);
    o.timeout_ms = 300;
    e2b_execution *ex = NULL;
    e2b_error err;
    double t0 = now_ms();
    assert_int_equal(e2b_run_code(f->sbx, "x", &o, &ex, &err), E2B_ERR_OPERATION_TIMEOUT);
    assert_true(now_ms() - t0 < 10000); /* generous: well before the server's 15 s */
    assert_non_null(strstr(err.message, "timed out"));
    assert_non_null(ex);
    assert_int_equal(ex->logs_len, 1);
    e2b_execution_free(ex);

    /* timeout_ms 0 = none: the client's request timeout (3 s) only bounds the headers, so
     * a stream that outlives it is fine ("long" stays silent for 4.5 s after them) */
    wire_set_scenario("long");
    o.timeout_ms = 0;
    assert_int_equal(e2b_run_code(f->sbx, "x", &o, &ex, &err), E2B_OK);
    assert_true(ex->completed);
    e2b_execution_free(ex);

    /* no headers within the request timeout (3 s) and no execution timeout */
    wire_set_scenario("slow_headers");
    ex = NULL;
    assert_int_equal(e2b_run_code(f->sbx, "x", &o, &ex, &err), E2B_ERR_REQUEST_TIMEOUT);
    assert_null(ex);

    /* execution timeout shorter than the request timeout, before the headers */
    o.timeout_ms = 200;
    assert_int_equal(e2b_run_code(f->sbx, "x", &o, &ex, &err), E2B_ERR_OPERATION_TIMEOUT);
    assert_null(ex);

    /* a callback that stops the execution */
    wire_set_scenario("hang");
    o.timeout_ms = 0;
    o.on_stdout = cancel_on_first;
    ex = NULL;
    t0 = now_ms();
    assert_int_equal(e2b_run_code(f->sbx, "x", &o, &ex, &err), E2B_ERR_CANCELLED);
    assert_true(now_ms() - t0 < 10000);
    assert_non_null(ex);
    assert_int_equal(ex->logs_len, 1);
    e2b_execution_free(ex);
}

static void test_contexts(void **state)
{
    fx *f = *state;
    e2b_context *c = NULL;
    e2b_error err;
    assert_int_equal(e2b_context_create(f->sbx, "javascript", "/tmp", &c, &err), E2B_OK);
    assert_string_equal(c->id, "ctx-1");
    assert_string_equal(c->language, "javascript");
    assert_string_equal(c->cwd, "/tmp");
    wire_req r = wire_last_req("/contexts");
    assert_string_equal(r.method, "POST");
    assert_string_equal(r.body, "{\"language\":\"javascript\",\"cwd\":\"/tmp\"}");
    assert_true(wire_has_header(&r, "Content-Type", "application/json"));
    assert_true(wire_has_header(&r, "E2b-Sandbox-Id", "sbx1"));
    assert_true(wire_has_header(&r, "E2b-Sandbox-Port", "49999"));
    assert_true(wire_has_header(&r, "E2B-Traffic-Access-Token", "traffic-tok"));
    assert_false(wire_has_header_name(&r, "X-Access-Token")); /* as the official SDK */

    e2b_context *c2 = NULL;
    assert_int_equal(e2b_context_create(f->sbx, NULL, NULL, &c2, &err), E2B_OK);
    r = wire_last_req("/contexts");
    assert_string_equal(r.body, "{}");
    e2b_context_free(c2);
    e2b_context_free(c);

    e2b_context *list = NULL;
    size_t n = 0;
    assert_int_equal(e2b_context_list(f->sbx, &list, &n, &err), E2B_OK);
    assert_int_equal(n, 2); /* the entry without an id is skipped */
    assert_string_equal(list[0].id, "py");
    assert_string_equal(list[0].cwd, "/home/user");
    assert_string_equal(list[1].id, "js");
    assert_null(list[1].cwd);
    e2b_context_list_free(list, n);
    r = wire_last_req("/contexts");
    assert_string_equal(r.method, "GET");

    assert_int_equal(e2b_context_restart(f->sbx, "ctx-1", &err), E2B_OK);
    r = wire_last_req("/contexts/ctx-1/restart");
    assert_string_equal(r.method, "POST");
    assert_int_equal(r.body_len, 0);
    assert_false(wire_has_header_name(&r, "X-Access-Token"));
    assert_int_equal(e2b_context_remove(f->sbx, "ctx-1", &err), E2B_OK);
    r = wire_last_req("/contexts/ctx-1");
    assert_string_equal(r.method, "DELETE");

    assert_int_equal(e2b_context_remove(f->sbx, "nope", &err), E2B_ERR_NOT_FOUND);
    assert_non_null(strstr(err.message, "Context nope not found"));
    assert_int_equal(e2b_context_restart(f->sbx, "a b/c", &err), E2B_ERR_NOT_FOUND);
    wire_last_req("/contexts/a%20b%2Fc/restart"); /* the id is escaped */
    assert_int_equal(e2b_context_restart(f->sbx, "", &err), E2B_ERR_INVALID_ARGUMENT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_streams_and_sends_the_right_request, setup, teardown),
        cmocka_unit_test_setup_teardown(test_language_and_context_is_refused_locally, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_status_mapping, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncated_stream_returns_partial, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timeouts_and_cancel, setup_short, teardown),
        cmocka_unit_test_setup_teardown(test_contexts, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
