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

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
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

/* ---- the scripted server ------------------------------------------------------------- */

typedef struct req {
    char method[16];
    char path[256];
    char headers[4096]; /* raw header block, "Name: value\r\n"... */
    char *body;
    size_t body_len;
} req;

#define MAX_REQS 64
#define MAX_CONNS 64
/* Request timeout of the short-timeout fixture (test_timeouts_and_cancel): long enough for
 * create under valgrind on a loaded machine, shorter than the "long" / "slow_headers"
 * scenarios' server pauses. */
#define SHORT_REQUEST_TIMEOUT_MS 3000

static struct {
    int lfd;
    int port;
    pthread_t acceptor;
    pthread_t conns[MAX_CONNS];
    int nconns;
    pthread_mutex_t mu;
    req reqs[MAX_REQS];
    int nreqs;
    atomic_int stopping;
    /* scenario of the next /execute */
    char scenario[32];
    /* monotonic ms at which the server started writing each stream line */
    double line_sent_ms[8];
} S;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

static bool send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0) {
            if (w < 0 && errno == EINTR)
                continue;
            return false;
        }
        p += w;
        n -= (size_t)w;
    }
    return true;
}

static bool send_str(int fd, const char *s)
{
    return send_all(fd, s, strlen(s));
}

static bool send_chunk(int fd, const char *s)
{
    char hdr[32];
    snprintf(hdr, sizeof hdr, "%zx\r\n", strlen(s));
    return send_str(fd, hdr) && send_str(fd, s) && send_str(fd, "\r\n");
}

static void send_simple(int fd, int status, const char *ctype, const char *body)
{
    char hdr[256];
    snprintf(hdr, sizeof hdr, "HTTP/1.1 %d X\r\nContent-Type: %s\r\nContent-Length: %zu\r\n\r\n",
             status, ctype, strlen(body));
    send_str(fd, hdr);
    send_str(fd, body);
}

/* Sleeps up to ms, returning early (false) when the peer closed the connection. */
static bool sleep_while_connected(int fd, int ms)
{
    for (int waited = 0; waited < ms; waited += 10) {
        char c;
        ssize_t r = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
            return false;
        usleep(10000);
    }
    return true;
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
    char sc[32];
    pthread_mutex_lock(&S.mu);
    snprintf(sc, sizeof sc, "%s", S.scenario);
    pthread_mutex_unlock(&S.mu);

    if (!strcmp(sc, "stream")) {
        /* count, first line, a pause, then the rest: the client must see "first" before
         * the pause ends */
        send_str(fd, STREAM_HDR);
        S.line_sent_ms[0] = now_ms();
        send_chunk(fd, L_COUNT);
        send_chunk(fd, L_OUT1);
        sleep_while_connected(fd, 400);
        S.line_sent_ms[1] = now_ms();
        /* one line split across two chunks, two lines in one chunk */
        send_chunk(fd, "{\"type\":\"stdout\",\"te");
        send_chunk(fd, "xt\":\"second\\n\",\"timestamp\":\"t2\"}\n{\"type\":\"keepalive\"}\n");
        char both[512];
        snprintf(both, sizeof both, "%s%s%s", L_RES, L_ERR, L_END);
        send_chunk(fd, both);
        send_str(fd, "0\r\n\r\n");
        return true;
    }
    if (!strcmp(sc, "long")) { /* outlives the short fixture's request timeout */
        send_str(fd, STREAM_HDR);
        send_chunk(fd, L_OUT1);
        if (!sleep_while_connected(fd, SHORT_REQUEST_TIMEOUT_MS + 1500))
            return false;
        send_chunk(fd, L_END);
        send_str(fd, "0\r\n\r\n");
        return true;
    }
    if (!strcmp(sc, "truncated")) { /* a clean end of body without end_of_execution */
        send_str(fd, STREAM_HDR);
        send_chunk(fd, L_OUT1);
        send_str(fd, "0\r\n\r\n");
        return true;
    }
    if (!strcmp(sc, "cut")) { /* the connection dies mid-stream */
        send_str(fd, STREAM_HDR);
        send_chunk(fd, L_OUT1);
        usleep(50000);
        return false;
    }
    if (!strcmp(sc, "hang")) { /* one line, then silence until the client gives up */
        send_str(fd, STREAM_HDR);
        send_chunk(fd, L_OUT1);
        sleep_while_connected(fd, 15000);
        return false;
    }
    if (!strcmp(sc, "slow_headers")) {
        sleep_while_connected(fd, 15000);
        return false;
    }
    if (!strcmp(sc, "badline")) {
        send_str(fd, STREAM_HDR);
        send_chunk(fd, L_OUT1);
        send_chunk(fd, "{\"type\":\"stdout\",\"text\":}\n");
        sleep_while_connected(fd, 2000);
        return false;
    }
    if (!strcmp(sc, "close_delimited")) { /* no length, no chunking: body ends at close */
        send_str(fd, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
        send_str(fd, L_OUT1);
        send_str(fd, L_END);
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

static bool handle(int fd, const req *r)
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

/* Reads one request (Content-Length bodies only: what libcurl sends for these calls). */
static bool read_request(int fd, char *buf, size_t cap, size_t *have, req *r)
{
    char *end;
    while (!(end = memmem(buf, *have, "\r\n\r\n", 4))) {
        if (*have == cap)
            return false;
        ssize_t n = recv(fd, buf + *have, cap - *have, 0);
        if (n <= 0)
            return false;
        *have += (size_t)n;
    }
    size_t hlen = (size_t)(end - buf) + 4;
    memset(r, 0, sizeof *r);
    if (sscanf(buf, "%15s %255s", r->method, r->path) != 2)
        return false;
    char *eol = memchr(buf, '\n', hlen);
    size_t hstart = (size_t)(eol - buf) + 1;
    size_t hl = hlen - hstart < sizeof r->headers - 1 ? hlen - hstart : sizeof r->headers - 1;
    memcpy(r->headers, buf + hstart, hl);
    size_t clen = 0;
    char *cl = strcasestr(r->headers, "\r\ncontent-length:");
    if (!cl && !strncasecmp(r->headers, "content-length:", 15))
        cl = r->headers - 2;
    if (cl)
        clen = strtoul(cl + 17, NULL, 10);
    while (*have < hlen + clen) {
        if (*have == cap)
            return false;
        ssize_t n = recv(fd, buf + *have, cap - *have, 0);
        if (n <= 0)
            return false;
        *have += (size_t)n;
    }
    r->body = malloc(clen + 1);
    if (!r->body)
        return false;
    memcpy(r->body, buf + hlen, clen);
    r->body[clen] = '\0';
    r->body_len = clen;
    memmove(buf, buf + hlen + clen, *have - hlen - clen);
    *have -= hlen + clen;
    return true;
}

static void *conn_main(void *arg)
{
    int fd = (int)(intptr_t)arg;
    size_t cap = 1 << 20, have = 0;
    char *buf = malloc(cap);
    req r;
    while (read_request(fd, buf, cap, &have, &r)) {
        pthread_mutex_lock(&S.mu);
        if (S.nreqs < MAX_REQS)
            S.reqs[S.nreqs++] = r;
        else
            free(r.body);
        pthread_mutex_unlock(&S.mu);
        if (!handle(fd, &r))
            break;
    }
    free(buf);
    close(fd);
    return NULL;
}

static void *accept_main(void *arg)
{
    (void)arg;
    for (;;) {
        int fd = accept(S.lfd, NULL, NULL);
        if (fd < 0) {
            if (atomic_load(&S.stopping))
                return NULL;
            if (errno == EINTR)
                continue;
            return NULL;
        }
        if (atomic_load(&S.stopping) || S.nconns == MAX_CONNS) {
            close(fd);
            if (atomic_load(&S.stopping))
                return NULL;
            continue;
        }
        pthread_create(&S.conns[S.nconns++], NULL, conn_main, (void *)(intptr_t)fd);
    }
}

static void server_start(void)
{
    memset(&S, 0, sizeof S);
    pthread_mutex_init(&S.mu, NULL);
    S.lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(S.lfd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(S.lfd, 16), 0);
    socklen_t al = sizeof a;
    getsockname(S.lfd, (struct sockaddr *)&a, &al);
    S.port = ntohs(a.sin_port);
    pthread_create(&S.acceptor, NULL, accept_main, NULL);
}

/* After every client is freed (its connections closed): stop and join everything. */
static void server_stop(void)
{
    atomic_store(&S.stopping, 1);
    shutdown(S.lfd, SHUT_RDWR);
    pthread_join(S.acceptor, NULL);
    close(S.lfd);
    for (int i = 0; i < S.nconns; i++)
        pthread_join(S.conns[i], NULL);
    for (int i = 0; i < S.nreqs; i++)
        free(S.reqs[i].body);
    pthread_mutex_destroy(&S.mu);
}

static void set_scenario(const char *sc)
{
    pthread_mutex_lock(&S.mu);
    snprintf(S.scenario, sizeof S.scenario, "%s", sc);
    pthread_mutex_unlock(&S.mu);
}

/* The last recorded request to path (copy), or fails. */
static req last_req(const char *path)
{
    req r;
    memset(&r, 0, sizeof r);
    pthread_mutex_lock(&S.mu);
    for (int i = S.nreqs - 1; i >= 0; i--) {
        if (!strcmp(S.reqs[i].path, path)) {
            r = S.reqs[i];
            break;
        }
    }
    pthread_mutex_unlock(&S.mu);
    if (!r.method[0])
        fail_msg("no request to %s", path);
    return r;
}

static int count_reqs(const char *path)
{
    int n = 0;
    pthread_mutex_lock(&S.mu);
    for (int i = 0; i < S.nreqs; i++)
        n += !strcmp(S.reqs[i].path, path);
    pthread_mutex_unlock(&S.mu);
    return n;
}

/* "Name: value" present in the header block (name case-insensitive, value exact). */
static bool has_header(const req *r, const char *name, const char *value)
{
    char want[512];
    snprintf(want, sizeof want, "%s: %s\r\n", name, value);
    const char *p = r->headers;
    while (p && *p) {
        const char *eol = strstr(p, "\r\n");
        size_t n = eol ? (size_t)(eol - p) + 2 : strlen(p);
        if (n == strlen(want) && !strncasecmp(p, want, strlen(name)) &&
            !strncmp(p + strlen(name), want + strlen(name), n - strlen(name)))
            return true;
        p = eol ? eol + 2 : NULL;
    }
    return false;
}

static bool has_header_name(const req *r, const char *name)
{
    char want[128];
    snprintf(want, sizeof want, "\r\n%s:", name);
    return strcasestr(r->headers, want) || !strncasecmp(r->headers, want + 2, strlen(want) - 2);
}

/* ---- fixtures ------------------------------------------------------------------------ */

typedef struct fx {
    e2b_client *client;
    e2b_sandbox *sbx;
} fx;

static int setup_with(void **state, int request_timeout_ms)
{
    server_start();
    fx *f = calloc(1, sizeof *f);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", S.port);
    e2b_config cfg;
    e2b_config_init(&cfg);
    cfg.api_key = "e2b_test";
    cfg.api_url = url;
    cfg.sandbox_url = url;
    cfg.request_timeout_ms = request_timeout_ms;
    e2b_error err;
    const char *step = "client";
    if (!f) {
        server_stop();
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
    server_stop();
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
    server_stop();
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
    set_scenario("stream");
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
    assert_true(s.first_stdout_ms < S.line_sent_ms[1]);
    e2b_execution_free(ex);

    req r = last_req("/execute");
    assert_string_equal(r.method, "POST");
    assert_true(has_header(&r, "Content-Type", "application/json"));
    assert_true(has_header(&r, "E2b-Sandbox-Id", "sbx1"));
    assert_true(has_header(&r, "E2b-Sandbox-Port", "49999"));
    assert_true(has_header(&r, "X-Access-Token", "envd-tok"));
    assert_true(has_header(&r, "E2B-Traffic-Access-Token", "traffic-tok"));
    assert_false(has_header_name(&r, "X-API-Key"));
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
    r = last_req("/execute");
    assert_string_equal(r.body, "{\"code\":\"1+1\"}");
}

static void test_language_and_context_is_refused_locally(void **state)
{
    fx *f = *state;
    int before = count_reqs("/execute");
    e2b_run_opts o;
    e2b_run_opts_init(&o);
    o.language = "python";
    o.context_id = "ctx-1";
    e2b_execution *ex = (e2b_execution *)&o; /* must be reset to NULL */
    e2b_error err;
    assert_int_equal(e2b_run_code(f->sbx, "1", &o, &ex, &err), E2B_ERR_INVALID_ARGUMENT);
    assert_null(ex);
    assert_non_null(strstr(err.message, "only one of"));
    assert_int_equal(count_reqs("/execute"), before); /* nothing was sent */
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
        set_scenario(cases[i].sc);
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
    set_scenario("truncated");
    e2b_execution *ex = NULL;
    e2b_error err;
    assert_int_equal(e2b_run_code(f->sbx, "x", NULL, &ex, &err), E2B_ERR_PROTOCOL);
    assert_non_null(strstr(err.message, "end_of_execution"));
    assert_non_null(ex);
    assert_false(ex->completed);
    assert_int_equal(ex->logs_len, 1);
    assert_string_equal(ex->logs[0].text, "first\n");
    e2b_execution_free(ex);

    set_scenario("cut");
    ex = NULL;
    e2b_code rc = e2b_run_code(f->sbx, "x", NULL, &ex, &err);
    if (rc != E2B_ERR_NETWORK && rc != E2B_ERR_PROTOCOL)
        fail_msg("cut: %s (%s)", e2b_code_name(rc), err.message);
    assert_non_null(ex);
    assert_int_equal(ex->logs_len, 1);
    e2b_execution_free(ex);

    /* a bad line aborts the request at once (the server keeps the connection open) */
    set_scenario("badline");
    ex = NULL;
    assert_int_equal(e2b_run_code(f->sbx, "x", NULL, &ex, &err), E2B_ERR_PROTOCOL);
    assert_non_null(strstr(err.message, "line 2"));
    assert_non_null(ex);
    assert_int_equal(ex->logs_len, 1);
    e2b_execution_free(ex);

    /* a line over the configured limit */
    set_scenario("stream");
    e2b_run_opts o;
    e2b_run_opts_init(&o);
    o.max_line_bytes = 40;
    ex = NULL;
    assert_int_equal(e2b_run_code(f->sbx, "x", &o, &ex, &err), E2B_ERR_PROTOCOL);
    assert_non_null(strstr(err.message, "limit of 40 bytes"));
    assert_non_null(ex);
    e2b_execution_free(ex);

    /* a close-delimited body works like a chunked one */
    set_scenario("close_delimited");
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
    set_scenario("hang");
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
    set_scenario("long");
    o.timeout_ms = 0;
    assert_int_equal(e2b_run_code(f->sbx, "x", &o, &ex, &err), E2B_OK);
    assert_true(ex->completed);
    e2b_execution_free(ex);

    /* no headers within the request timeout (3 s) and no execution timeout */
    set_scenario("slow_headers");
    ex = NULL;
    assert_int_equal(e2b_run_code(f->sbx, "x", &o, &ex, &err), E2B_ERR_REQUEST_TIMEOUT);
    assert_null(ex);

    /* execution timeout shorter than the request timeout, before the headers */
    o.timeout_ms = 200;
    assert_int_equal(e2b_run_code(f->sbx, "x", &o, &ex, &err), E2B_ERR_OPERATION_TIMEOUT);
    assert_null(ex);

    /* a callback that stops the execution */
    set_scenario("hang");
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
    req r = last_req("/contexts");
    assert_string_equal(r.method, "POST");
    assert_string_equal(r.body, "{\"language\":\"javascript\",\"cwd\":\"/tmp\"}");
    assert_true(has_header(&r, "Content-Type", "application/json"));
    assert_true(has_header(&r, "E2b-Sandbox-Id", "sbx1"));
    assert_true(has_header(&r, "E2b-Sandbox-Port", "49999"));
    assert_true(has_header(&r, "E2B-Traffic-Access-Token", "traffic-tok"));
    assert_false(has_header_name(&r, "X-Access-Token")); /* as the official SDK */

    e2b_context *c2 = NULL;
    assert_int_equal(e2b_context_create(f->sbx, NULL, NULL, &c2, &err), E2B_OK);
    r = last_req("/contexts");
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
    r = last_req("/contexts");
    assert_string_equal(r.method, "GET");

    assert_int_equal(e2b_context_restart(f->sbx, "ctx-1", &err), E2B_OK);
    r = last_req("/contexts/ctx-1/restart");
    assert_string_equal(r.method, "POST");
    assert_int_equal(r.body_len, 0);
    assert_false(has_header_name(&r, "X-Access-Token"));
    assert_int_equal(e2b_context_remove(f->sbx, "ctx-1", &err), E2B_OK);
    r = last_req("/contexts/ctx-1");
    assert_string_equal(r.method, "DELETE");

    assert_int_equal(e2b_context_remove(f->sbx, "nope", &err), E2B_ERR_NOT_FOUND);
    assert_non_null(strstr(err.message, "Context nope not found"));
    assert_int_equal(e2b_context_restart(f->sbx, "a b/c", &err), E2B_ERR_NOT_FOUND);
    last_req("/contexts/a%20b%2Fc/restart"); /* the id is escaped */
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
