/* unit_http.c - the pooled transport (http.c) against an in-test MHD server: keep-alive
 * reuse, 429 Retry-After retries, timeouts, cancellation, streaming, error bodies, and the
 * status -> typed error mapping. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include <cmocka.h>

#include "e2b/e2b.h"
#include "http.h"
#include "test_server.h"

static atomic_int n429;

static void route(ts_req *r, void *ud)
{
    (void)ud;
    if (!strcmp(r->path, "/ok")) {
        ts_reply(r, 200, "hello");
    } else if (!strcmp(r->path, "/echo")) {
        char buf[1024];
        const char *key = ts_header(r, "X-API-Key");
        const char *ct = ts_header(r, "Content-Type");
        snprintf(buf, sizeof buf, "%s|%s|%s|%s", r->method, key ? key : "-", ct ? ct : "-",
                 r->body ? r->body : "");
        ts_reply(r, 200, buf);
        ts_add_header(r, "X-Thing", "v1");
    } else if (!strcmp(r->path, "/429")) {
        /* Two 429s with Retry-After: 1, then 200. */
        if (atomic_fetch_add(&n429, 1) < 2) {
            ts_reply(r, 429, "{\"code\":429,\"message\":\"slow down\"}");
            ts_add_header(r, "Retry-After", "1");
        } else {
            ts_reply(r, 200, "finally");
        }
    } else if (!strcmp(r->path, "/429long")) {
        ts_reply(r, 429, "{\"code\":429,\"message\":\"slow down\"}");
        ts_add_header(r, "Retry-After", "30");
    } else if (!strcmp(r->path, "/429date")) {
        ts_reply(r, 429, "{\"code\":429,\"message\":\"slow down\"}");
        ts_add_header(r, "Retry-After", "Wed, 21 Oct 2015 07:28:00 GMT");
    } else if (!strcmp(r->path, "/slow")) {
        ts_sleep_ms(3000);
        ts_reply(r, 200, "late");
    } else if (!strcmp(r->path, "/stream")) {
        r->stream_lines = 3;
        r->stream_delay_ms = 20;
    } else if (!strcmp(r->path, "/hang")) {
        r->stream_hang = 1;
    } else if (!strcmp(r->path, "/big")) {
        char *b = malloc(5000);
        memset(b, 'x', 4999);
        b[4999] = '\0';
        ts_reply(r, 200, b);
        free(b);
    } else if (!strcmp(r->path, "/gone")) {
        ts_reply(r, 502,
                 "{\"sandboxId\":\"abc\",\"message\":\"The sandbox was not found\","
                 "\"code\":502}");
    } else {
        ts_reply(r, 404, "{\"code\":404,\"message\":\"no such route\"}");
    }
}

typedef struct fixture {
    ts_server *srv;
    e2b_client *client;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    f->srv = ts_start(route, NULL);
    if (!f->srv)
        return -1;
    e2b_config cfg;
    e2b_config_init(&cfg);
    cfg.api_url = f->srv->url;
    cfg.api_key = "e2b_test";
    cfg.request_timeout_ms = 10000;
    if (e2b_client_new(&cfg, &f->client, NULL) != E2B_OK)
        return -1;
    atomic_store(&n429, 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    e2b_client_free(f->client);
    ts_stop(f->srv);
    free(f);
    return 0;
}

static char *url_of(fixture *f, const char *path)
{
    char *u = NULL;
    assert_int_equal(e2b_http_url(&u, f->srv->url, path, NULL, NULL), E2B_OK);
    return u;
}

static void test_keepalive_reuse(void **state)
{
    fixture *f = *state;
    char *u = url_of(f, "/ok");
    e2b_http_request req = {.url = u};
    e2b_http_response r1, r2;
    e2b_error err;
    assert_int_equal(e2b_http_perform(f->client, &req, &r1, &err), E2B_OK);
    assert_int_equal(r1.status, 200);
    assert_string_equal(r1.body, "hello");
    assert_int_equal(r1.num_connects, 1);
    assert_int_equal(e2b_http_perform(f->client, &req, &r2, &err), E2B_OK);
    assert_string_equal(r2.body, "hello");
    assert_int_equal(r2.num_connects, 0); /* the same TCP connection */
    e2b_http_response_free(&r1);
    e2b_http_response_free(&r2);
    free(u);
}

static void test_post_headers_and_echo(void **state)
{
    fixture *f = *state;
    char *u = url_of(f, "/echo");
    const char *hdrs[] = {"Content-Type: application/json", NULL};
    e2b_http_request req = {.method = "POST",
                            .url = u,
                            .headers = hdrs,
                            .api_key = true,
                            .body = "{\"a\":1}",
                            .body_len = 7};
    e2b_http_response r;
    assert_int_equal(e2b_http_perform(f->client, &req, &r, NULL), E2B_OK);
    assert_string_equal(r.body, "POST|e2b_test|application/json|{\"a\":1}");
    assert_string_equal(e2b_http_response_header(&r, "x-thing"), "v1");
    assert_null(e2b_http_response_header(&r, "X-Missing"));
    e2b_http_response_free(&r);

    e2b_http_request del = {.method = "DELETE", .url = u};
    assert_int_equal(e2b_http_perform(f->client, &del, &r, NULL), E2B_OK);
    assert_string_equal(r.body, "DELETE|-|-|");
    e2b_http_response_free(&r);
    free(u);
}

static void test_429_retry_after(void **state)
{
    fixture *f = *state;
    char *u = url_of(f, "/429");
    e2b_http_request req = {.url = u, .max_retries_429 = E2B_HTTP_RETRIES_CLIENT};
    e2b_http_response r;
    assert_int_equal(e2b_http_perform(f->client, &req, &r, NULL), E2B_OK);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "finally");
    assert_int_equal(r.retries, 2);
    assert_int_equal(atomic_load(&n429), 3);
    e2b_http_response_free(&r);
    free(u);
}

static void test_429_no_retry_when_disabled_or_date(void **state)
{
    fixture *f = *state;
    char *u = url_of(f, "/429");
    e2b_http_request req = {.url = u}; /* max_retries_429 = 0 */
    e2b_http_response r;
    e2b_error err;
    assert_int_equal(e2b_http_perform(f->client, &req, &r, &err), E2B_OK);
    assert_int_equal(r.status, 429);
    assert_int_equal(e2b_http_check(&r, E2B_PLANE_CONTROL, &err), E2B_ERR_RATE_LIMITED);
    assert_int_equal(err.retry_after_s, 1);
    assert_non_null(strstr(err.message, "Rate limit exceeded, please try again later - slow down"));
    e2b_http_response_free(&r);
    free(u);

    u = url_of(f, "/429date"); /* HTTP-date Retry-After: not retried */
    e2b_http_request req2 = {.url = u, .max_retries_429 = 3};
    assert_int_equal(e2b_http_perform(f->client, &req2, &r, &err), E2B_OK);
    assert_int_equal(r.status, 429);
    assert_int_equal(r.retries, 0);
    assert_int_equal(e2b_http_check(&r, E2B_PLANE_CONTROL, &err), E2B_ERR_RATE_LIMITED);
    assert_int_equal(err.retry_after_s, -1);
    e2b_http_response_free(&r);
    free(u);
}

static void test_429_retry_stops_at_deadline(void **state)
{
    fixture *f = *state;
    char *u = url_of(f, "/429long");
    /* Retry-After: 30 cannot end within a 2 s budget: answered at once, not retried. */
    e2b_http_request req = {.url = u, .max_retries_429 = 5, .timeout_ms = 2000};
    e2b_http_response r;
    assert_int_equal(e2b_http_perform(f->client, &req, &r, NULL), E2B_OK);
    assert_int_equal(r.status, 429);
    assert_int_equal(r.retries, 0);
    e2b_http_response_free(&r);
    free(u);
}

static void test_request_timeout(void **state)
{
    fixture *f = *state;
    char *u = url_of(f, "/slow");
    e2b_http_request req = {.url = u, .timeout_ms = 300};
    e2b_http_response r;
    e2b_error err;
    assert_int_equal(e2b_http_perform(f->client, &req, &r, &err), E2B_ERR_REQUEST_TIMEOUT);
    assert_int_equal(err.code, E2B_ERR_REQUEST_TIMEOUT);
    e2b_http_response_free(&r);

    /* headers deadline with the caller's own code */
    e2b_http_request req2 = {.url = u,
                             .timeout_ms = E2B_HTTP_NO_TIMEOUT,
                             .headers_timeout_ms = 300,
                             .timeout_code = E2B_ERR_OPERATION_TIMEOUT};
    assert_int_equal(e2b_http_perform(f->client, &req2, &r, &err), E2B_ERR_OPERATION_TIMEOUT);
    e2b_http_response_free(&r);
    free(u);
    /* the client is still usable afterwards */
    u = url_of(f, "/ok");
    e2b_http_request ok = {.url = u};
    assert_int_equal(e2b_http_perform(f->client, &ok, &r, &err), E2B_OK);
    assert_string_equal(r.body, "hello");
    e2b_http_response_free(&r);
    free(u);
}

typedef struct collect {
    atomic_int got_data;
    char buf[256];
    size_t len;
    int calls;
    int headers_calls;
    long status_seen;
    int abort_after;
} collect;

static e2b_code on_hdrs(const e2b_http_response *resp, void *ud, e2b_error *err)
{
    (void)err;
    collect *c = ud;
    c->headers_calls++;
    c->status_seen = resp->status;
    return E2B_OK;
}

static e2b_code on_data(const char *p, size_t n, void *ud, e2b_error *err)
{
    collect *c = ud;
    c->calls++;
    atomic_store(&c->got_data, 1);
    if (c->len + n < sizeof c->buf) {
        memcpy(c->buf + c->len, p, n);
        c->len += n;
        c->buf[c->len] = '\0';
    }
    if (c->abort_after && c->calls >= c->abort_after)
        return e2b_error_set(err, E2B_ERR_PROTOCOL, 0, "test abort");
    return E2B_OK;
}

static void test_streaming(void **state)
{
    fixture *f = *state;
    char *u = url_of(f, "/stream");
    collect c = {.calls = 0};
    e2b_http_request req = {.url = u, .on_data = on_data, .on_headers = on_hdrs, .ud = &c};
    e2b_http_response r;
    assert_int_equal(e2b_http_perform(f->client, &req, &r, NULL), E2B_OK);
    assert_string_equal(c.buf, "line 0\nline 1\nline 2\n");
    assert_int_equal(c.headers_calls, 1);
    assert_int_equal(c.status_seen, 200);
    assert_int_equal(r.body_len, 0); /* streamed, not buffered */
    e2b_http_response_free(&r);

    /* a callback abort returns the callback's code and message */
    collect c2 = {.abort_after = 1};
    req.ud = &c2;
    e2b_error err;
    assert_int_equal(e2b_http_perform(f->client, &req, &r, &err), E2B_ERR_PROTOCOL);
    assert_string_equal(err.message, "test abort");
    e2b_http_response_free(&r);
    free(u);

    /* a non-2xx body is buffered, not streamed */
    u = url_of(f, "/gone");
    collect c3 = {.calls = 0};
    e2b_http_request req3 = {.url = u, .on_data = on_data, .ud = &c3};
    assert_int_equal(e2b_http_perform(f->client, &req3, &r, &err), E2B_OK);
    assert_int_equal(c3.calls, 0);
    assert_int_equal(r.status, 502);
    assert_int_equal(e2b_http_check(&r, E2B_PLANE_CODE, &err), E2B_ERR_SANDBOX_GONE);
    assert_non_null(strstr(err.message, "The sandbox was not found"));
    e2b_http_response_free(&r);
    free(u);
}

static void test_max_body(void **state)
{
    fixture *f = *state;
    char *u = url_of(f, "/big");
    e2b_http_request req = {.url = u, .max_body = 1000};
    e2b_http_response r;
    e2b_error err;
    assert_int_equal(e2b_http_perform(f->client, &req, &r, &err), E2B_ERR_PROTOCOL);
    e2b_http_response_free(&r);
    req.max_body = 0;
    assert_int_equal(e2b_http_perform(f->client, &req, &r, &err), E2B_OK);
    assert_int_equal(r.body_len, 4999);
    e2b_http_response_free(&r);
    free(u);
}

typedef struct canceller {
    e2b_client *client;
    int delay_ms;
    atomic_int *wait_for; /* if set: cancel once it is nonzero (at most 10 s) */
} canceller;

static void *cancel_main(void *arg)
{
    canceller *c = arg;
    for (int i = 0; c->wait_for && !atomic_load(c->wait_for) && i < 1000; i++)
        usleep(10000);
    usleep((useconds_t)c->delay_ms * 1000);
    e2b_client_cancel_all(c->client);
    return NULL;
}

static void test_cancel_all(void **state)
{
    fixture *f = *state;
    char *u = url_of(f, "/hang");
    collect c = {.calls = 0};
    e2b_http_request req = {
        .url = u, .on_data = on_data, .ud = &c, .timeout_ms = E2B_HTTP_NO_TIMEOUT};
    pthread_t t;
    canceller cc = {f->client, 50, &c.got_data}; /* cancel while it hangs mid-stream */
    pthread_create(&t, NULL, cancel_main, &cc);
    e2b_http_response r;
    e2b_error err;
    assert_int_equal(e2b_http_perform(f->client, &req, &r, &err), E2B_ERR_CANCELLED);
    assert_int_equal(err.code, E2B_ERR_CANCELLED);
    assert_string_equal(c.buf, "line 0\n"); /* it was streaming when cancelled */
    pthread_join(t, NULL);
    e2b_http_response_free(&r);
    free(u);

    /* later calls are unaffected */
    u = url_of(f, "/ok");
    e2b_http_request ok = {.url = u};
    assert_int_equal(e2b_http_perform(f->client, &ok, &r, &err), E2B_OK);
    e2b_http_response_free(&r);
    free(u);
}

static void test_cancel_flag_during_retry_wait(void **state)
{
    fixture *f = *state;
    char *u = url_of(f, "/429");
    atomic_int flag;
    atomic_init(&flag, 0);
    e2b_http_request req = {.url = u, .max_retries_429 = 3, .cancel = &flag};
    pthread_t t;
    canceller cc = {f->client, 300, NULL};
    pthread_create(&t, NULL, cancel_main, &cc); /* cancel_all while waiting Retry-After */
    e2b_http_response r;
    assert_int_equal(e2b_http_perform(f->client, &req, &r, NULL), E2B_ERR_CANCELLED);
    pthread_join(t, NULL);
    e2b_http_response_free(&r);

    atomic_store(&flag, 1); /* per-request flag set before the call */
    assert_int_equal(e2b_http_perform(f->client, &req, &r, NULL), E2B_ERR_CANCELLED);
    e2b_http_response_free(&r);
    free(u);
}

static void test_network_error(void **state)
{
    (void)state;
    /* A port nothing listens on: bind one, note it, close it. */
    ts_server *tmp = ts_start(route, NULL);
    char url[96];
    snprintf(url, sizeof url, "%s/ok", tmp->url);
    ts_stop(tmp);
    e2b_client *c;
    assert_int_equal(e2b_client_new(NULL, &c, NULL), E2B_OK);
    e2b_http_request req = {.url = url, .timeout_ms = 5000};
    e2b_http_response r;
    e2b_error err;
    assert_int_equal(e2b_http_perform(c, &req, &r, &err), E2B_ERR_NETWORK);
    assert_non_null(strstr(err.message, url));
    e2b_http_response_free(&r);
    e2b_http_request bad = {.url = "notaurl://x"};
    assert_int_equal(e2b_http_perform(c, &bad, &r, &err), E2B_ERR_INVALID_ARGUMENT);
    e2b_http_response_free(&r);
    e2b_client_free(c);
}

typedef struct par {
    fixture *f;
    int ok;
} par;

static void *par_main(void *arg)
{
    par *p = arg;
    char *u = url_of(p->f, "/ok");
    for (int i = 0; i < 50; i++) {
        e2b_http_request req = {.url = u};
        e2b_http_response r;
        if (e2b_http_perform(p->f->client, &req, &r, NULL) == E2B_OK && r.status == 200 &&
            !strcmp(r.body, "hello"))
            p->ok++;
        e2b_http_response_free(&r);
    }
    free(u);
    return NULL;
}

static void test_threads_share_client(void **state)
{
    fixture *f = *state;
    pthread_t t[4];
    par p[4];
    for (int i = 0; i < 4; i++) {
        p[i] = (par){f, 0};
        pthread_create(&t[i], NULL, par_main, &p[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(p[i].ok, 50);
    }
}

static void test_status_mapping(void **state)
{
    (void)state;
    e2b_error e;
    const char *nf = "{\"code\":404,\"message\":\"Sandbox \\\"x\\\" doesn't exist\"}";
    assert_int_equal(e2b_http_error_from_status(200, NULL, 0, NULL, E2B_PLANE_CONTROL, &e), E2B_OK);
    assert_int_equal(e2b_http_error_from_status(204, "", 0, NULL, E2B_PLANE_CONTROL, &e), E2B_OK);
    assert_int_equal(e2b_http_error_from_status(401, "{\"code\":401,\"message\":\"bad key\"}", 32,
                                                NULL, E2B_PLANE_CONTROL, &e),
                     E2B_ERR_AUTH);
    assert_string_equal(e.message, "Unauthorized, please check your credentials. - bad key");
    assert_int_equal(e.http_status, 401);
    assert_int_equal(e2b_http_error_from_status(403, NULL, 0, NULL, E2B_PLANE_ENVD, &e),
                     E2B_ERR_AUTH);
    assert_int_equal(e2b_http_error_from_status(404, nf, strlen(nf), NULL, E2B_PLANE_CONTROL, &e),
                     E2B_ERR_SANDBOX_NOT_FOUND);
    assert_string_equal(e.message, "404: Sandbox \"x\" doesn't exist");
    assert_int_equal(e2b_http_error_from_status(404, "plain", 5, NULL, E2B_PLANE_CONTROL, &e),
                     E2B_ERR_NOT_FOUND);
    assert_string_equal(e.message, "404: plain");
    assert_int_equal(e2b_http_error_from_status(404, nf, strlen(nf), NULL, E2B_PLANE_ENVD, &e),
                     E2B_ERR_NOT_FOUND);
    assert_int_equal(e2b_http_error_from_status(400,
                                                "{\"message\":\"Timeout must be greater "
                                                "than 0\"}",
                                                44, NULL, E2B_PLANE_CONTROL, &e),
                     E2B_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(e.message, "Timeout must be greater than 0"));
    assert_int_equal(e2b_http_error_from_status(409, NULL, 0, NULL, E2B_PLANE_CONTROL, &e),
                     E2B_ERR_CONFLICT);
    assert_string_equal(e.message, "409: HTTP 409");
    assert_int_equal(e2b_http_error_from_status(429, "x", 1, " 7", E2B_PLANE_CONTROL, &e),
                     E2B_ERR_RATE_LIMITED);
    assert_int_equal(e.retry_after_s, 7);
    assert_int_equal(e2b_http_error_from_status(429, "x", 1, "soon", E2B_PLANE_CONTROL, &e),
                     E2B_ERR_RATE_LIMITED);
    assert_int_equal(e.retry_after_s, -1);
    assert_int_equal(e2b_http_error_from_status(502, "gone", 4, NULL, E2B_PLANE_ENVD, &e),
                     E2B_ERR_SANDBOX_GONE);
    assert_int_equal(e2b_http_error_from_status(502, "gone", 4, NULL, E2B_PLANE_CONTROL, &e),
                     E2B_ERR_INTERNAL);
    assert_int_equal(
        e2b_http_error_from_status(503, "{\"message\":\"busy\"}", 18, NULL, E2B_PLANE_CONTROL, &e),
        E2B_ERR_SERVICE_BUSY);
    assert_string_equal(e.message, "Service temporarily unavailable, please retry - busy");
    assert_int_equal(e2b_http_error_from_status(500, NULL, 0, NULL, E2B_PLANE_CONTROL, &e),
                     E2B_ERR_INTERNAL);
    assert_int_equal(e2b_http_error_from_status(504, NULL, 0, NULL, E2B_PLANE_CONTROL, &e),
                     E2B_ERR_INTERNAL);
    assert_int_equal(e2b_http_error_from_status(507, NULL, 0, NULL, E2B_PLANE_ENVD, &e),
                     E2B_ERR_NOT_ENOUGH_SPACE);
    assert_int_equal(
        e2b_http_error_from_status(418, "  teapot\n ", 10, NULL, E2B_PLANE_CONTROL, &e),
        E2B_ERR_SERVER);
    assert_string_equal(e.message, "418: teapot");
    /* non-JSON garbage and a JSON body without message fall back to the text */
    assert_int_equal(e2b_http_error_from_status(400, "{\"code\":", 8, NULL, E2B_PLANE_CONTROL, &e),
                     E2B_ERR_INVALID_ARGUMENT);
    assert_string_equal(e.message, "400: {\"code\":");
    /* NULL err is allowed */
    assert_int_equal(e2b_http_error_from_status(500, NULL, 0, NULL, E2B_PLANE_CONTROL, NULL),
                     E2B_ERR_INTERNAL);
}

static void test_url_builder(void **state)
{
    (void)state;
    char *u = NULL;
    const char *q[] = {"a", "x y&z", "skip", NULL, "b", "/é", NULL};
    assert_int_equal(e2b_http_url(&u, "http://h:1/", "/p/q", q, NULL), E2B_OK);
    assert_string_equal(u, "http://h:1/p/q?a=x%20y%26z&b=%2F%C3%A9");
    free(u);
    assert_int_equal(e2b_http_url(&u, "http://h:1//", "", NULL, NULL), E2B_OK);
    assert_string_equal(u, "http://h:1");
    free(u);
    char *e = e2b_http_escape("a/b c~", (size_t)-1);
    assert_string_equal(e, "a%2Fb%20c~");
    free(e);
    e = e2b_http_escape("ab\0c", 4);
    assert_string_equal(e, "ab%00c");
    free(e);
}

/* ---- a raw TCP server for replies MHD cannot produce ---------------------------------- */

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

/* Per request (one read of the request head; bodies here are small and sent at once):
 *   path /garbage -> writes non-HTTP bytes and closes;
 *   path /drop    -> counts it, then resets the connection without a byte of answer (as a
 *                    server that did the work but whose answer was lost);
 *   anything else -> "200 ok", connection kept alive. */
typedef struct raw_server {
    int lfd;
    int port;
    pthread_t th;
    atomic_int stop;
    atomic_int drops;    /* /drop requests received */
    atomic_int accepted; /* TCP connections accepted */
} raw_server;

static void raw_reset(int fd)
{
    struct linger lg = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(fd);
}

static void *raw_main(void *arg)
{
    raw_server *rs = arg;
    int conns[16];
    size_t nconns = 0;
    while (!atomic_load(&rs->stop)) {
        struct pollfd p[17];
        p[0].fd = rs->lfd;
        p[0].events = POLLIN;
        for (size_t i = 0; i < nconns; i++) {
            p[i + 1].fd = conns[i];
            p[i + 1].events = POLLIN;
        }
        if (poll(p, nconns + 1, 50) <= 0)
            continue;
        for (size_t i = nconns; i-- > 0;) {
            if (!(p[i + 1].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            char buf[4096];
            ssize_t n = recv(conns[i], buf, sizeof buf - 1, 0);
            bool keep = n > 0;
            if (n > 0) {
                buf[n] = '\0';
                if (strstr(buf, " /garbage ")) {
                    const char g[] = "\x01\x02 this is not HTTP at all \xff\xfe\r\n\r\n";
                    (void)!send(conns[i], g, sizeof g - 1, MSG_NOSIGNAL);
                    close(conns[i]);
                    keep = false;
                } else if (strstr(buf, " /drop ")) {
                    atomic_fetch_add(&rs->drops, 1);
                    raw_reset(conns[i]);
                    keep = false;
                } else {
                    const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
                    (void)!send(conns[i], ok, sizeof ok - 1, MSG_NOSIGNAL);
                }
            } else {
                close(conns[i]);
            }
            if (!keep)
                conns[i] = conns[--nconns];
        }
        if ((p[0].revents & POLLIN) && nconns < 16) {
            int fd = accept(rs->lfd, NULL, NULL);
            if (fd >= 0) {
                conns[nconns++] = fd;
                atomic_fetch_add(&rs->accepted, 1);
            }
        }
    }
    for (size_t i = 0; i < nconns; i++)
        close(conns[i]);
    return NULL;
}

static raw_server *raw_start(void)
{
    raw_server *rs = calloc(1, sizeof *rs);
    assert_non_null(rs);
    rs->lfd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(rs->lfd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    assert_int_equal(bind(rs->lfd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(rs->lfd, 16), 0);
    assert_int_equal(getsockname(rs->lfd, (struct sockaddr *)&a, &al), 0);
    rs->port = ntohs(a.sin_port);
    assert_int_equal(pthread_create(&rs->th, NULL, raw_main, rs), 0);
    return rs;
}

static void raw_stop(raw_server *rs)
{
    atomic_store(&rs->stop, 1);
    pthread_join(rs->th, NULL);
    close(rs->lfd);
    free(rs);
}

static void test_garbage_reply_is_protocol(void **state)
{
    (void)state;
    raw_server *rs = raw_start();
    e2b_client *c;
    assert_int_equal(e2b_client_new(NULL, &c, NULL), E2B_OK);
    char url[96];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/garbage", rs->port);
    e2b_http_request req = {.url = url, .timeout_ms = 5000};
    e2b_http_response r;
    e2b_error err;
    /* curl 7.66+: CURLE_UNSUPPORTED_PROTOCOL "Received HTTP/0.9 when not allowed"; the
     * server's fault, so not invalid_argument */
    assert_int_equal(e2b_http_perform(c, &req, &r, &err), E2B_ERR_PROTOCOL);
    assert_non_null(strstr(err.message, url));
    e2b_http_response_free(&r);
    /* the caller's own bad scheme stays invalid_argument */
    e2b_http_request bad = {.url = "gopherx://127.0.0.1/x", .timeout_ms = 5000};
    assert_int_equal(e2b_http_perform(c, &bad, &r, &err), E2B_ERR_INVALID_ARGUMENT);
    e2b_http_response_free(&r);
    e2b_client_free(c);
    raw_stop(rs);
}

/* The answer to a POST is lost (connection reset after the server acted) on a REUSED
 * keep-alive connection: libcurl re-sends it on a fresh connection unless the request is
 * non_idempotent. */
static void test_non_idempotent_never_resent(void **state)
{
    (void)state;
    raw_server *rs = raw_start();
    e2b_client *c;
    assert_int_equal(e2b_client_new(NULL, &c, NULL), E2B_OK);
    char ok[96], drop[96];
    snprintf(ok, sizeof ok, "http://127.0.0.1:%d/ok", rs->port);
    snprintf(drop, sizeof drop, "http://127.0.0.1:%d/drop", rs->port);
    e2b_http_response r;
    e2b_error err;
    for (int non_idem = 0; non_idem <= 1; non_idem++) {
        /* a keep-alive connection to reuse */
        e2b_http_request warm = {.url = ok, .timeout_ms = 5000};
        assert_int_equal(e2b_http_perform(c, &warm, &r, &err), E2B_OK);
        assert_string_equal(r.body, "ok");
        e2b_http_response_free(&r);
        assert_int_equal(e2b_http_perform(c, &warm, &r, &err), E2B_OK);
        assert_int_equal(r.num_connects, 0); /* it is reused */
        e2b_http_response_free(&r);

        atomic_store(&rs->drops, 0);
        e2b_http_request post = {.method = "POST",
                                 .url = drop,
                                 .body = "{}",
                                 .body_len = 2,
                                 .timeout_ms = 5000,
                                 .non_idempotent = non_idem != 0};
        assert_int_equal(e2b_http_perform(c, &post, &r, &err), E2B_ERR_NETWORK);
        /* idempotent: libcurl's silent re-send on a fresh connection (what create used to
         * suffer); non_idempotent: the server saw it exactly once */
        assert_int_equal(atomic_load(&rs->drops), non_idem ? 1 : 2);
        if (non_idem)
            assert_int_equal(r.num_connects, 1); /* a fresh connection, not the cached one */
        e2b_http_response_free(&r);
    }
    /* the fresh connection of a non_idempotent call is kept for later calls */
    e2b_http_request ni = {.url = ok, .timeout_ms = 5000, .non_idempotent = true};
    assert_int_equal(e2b_http_perform(c, &ni, &r, &err), E2B_OK);
    assert_int_equal(r.num_connects, 1);
    e2b_http_response_free(&r);
    e2b_http_request warm = {.url = ok, .timeout_ms = 5000};
    assert_int_equal(e2b_http_perform(c, &warm, &r, &err), E2B_OK);
    assert_int_equal(r.num_connects, 0);
    e2b_http_response_free(&r);
    e2b_client_free(c);
    raw_stop(rs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_keepalive_reuse, setup, teardown),
        cmocka_unit_test_setup_teardown(test_post_headers_and_echo, setup, teardown),
        cmocka_unit_test_setup_teardown(test_429_retry_after, setup, teardown),
        cmocka_unit_test_setup_teardown(test_429_no_retry_when_disabled_or_date, setup, teardown),
        cmocka_unit_test_setup_teardown(test_429_retry_stops_at_deadline, setup, teardown),
        cmocka_unit_test_setup_teardown(test_request_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_streaming, setup, teardown),
        cmocka_unit_test_setup_teardown(test_max_body, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_all, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_flag_during_retry_wait, setup, teardown),
        cmocka_unit_test_setup_teardown(test_threads_share_client, setup, teardown),
        cmocka_unit_test(test_network_error),
        cmocka_unit_test(test_garbage_reply_is_protocol),
        cmocka_unit_test(test_non_idempotent_never_resent),
        cmocka_unit_test(test_status_mapping),
        cmocka_unit_test(test_url_builder),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
