/* unit_server: e2b-mock in process, driven over real sockets with libcurl: routing, auth,
 * the control-plane API, data-plane dispatch (502s, host routing, access token), chunked
 * request bodies, streaming uploads, keep-alive, and incremental streaming responses with
 * client-disconnect detection. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <errno.h>
#include <fcntl.h>

#include <curl/curl.h>

#include "server.h"
#include "store.h"
#include "util.h"

#define KEY "test-key"
#define TPORT 7777

static mock_server *srv;
static char base[128];

/* ------------------------------------------------------------------ http helper */

typedef struct buf {
    char *p;
    size_t n, cap;
} buf;

typedef struct resp {
    long status;
    buf body, hdr;
    long connects;
} resp;

/* Appends with geometric growth (no quadratic copying of big bodies under valgrind/ASan). */
static size_t on_data(char *p, size_t sz, size_t n, void *ud)
{
    buf *b = ud;
    size_t add = sz * n;
    if (b->n + add + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->n + add + 1)
            cap *= 2;
        char *nb = realloc(b->p, cap);
        if (!nb)
            return 0;
        b->p = nb;
        b->cap = cap;
    }
    memcpy(b->p + b->n, p, add);
    b->n += add;
    b->p[b->n] = '\0';
    return add;
}

static void resp_free(resp *r)
{
    free(r->body.p);
    free(r->hdr.p);
    memset(r, 0, sizeof *r);
}

/* Response header value (case-insensitive), copied into out; NULL if absent. */
static const char *hdr(const resp *r, const char *name, char *out, size_t outlen)
{
    if (!r->hdr.p)
        return NULL;
    size_t nl = strlen(name);
    for (const char *l = r->hdr.p; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        if (strncasecmp(l, name, nl) == 0 && l[nl] == ':') {
            const char *v = l + nl + 1;
            while (*v == ' ')
                v++;
            size_t len = strcspn(v, "\r\n");
            if (len >= outlen)
                len = outlen - 1;
            memcpy(out, v, len);
            out[len] = '\0';
            return out;
        }
    }
    return NULL;
}

/* extra: NULL-terminated header lines. chunked: send the body with Transfer-Encoding: chunked. */
static resp req_on(CURL *h, const char *method, const char *path, const char *body, int chunked,
                   const char *const *extra)
{
    resp r = {0};
    char url[512];
    snprintf(url, sizeof url, "%s%s", base, path);
    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &r.body);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &r.hdr);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 30L);
    struct curl_slist *hl = NULL;
    for (size_t i = 0; extra && extra[i]; i++)
        hl = curl_slist_append(hl, extra[i]);
    if (body) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        if (chunked)
            hl = curl_slist_append(hl, "Transfer-Encoding: chunked");
        hl = curl_slist_append(hl, "Content-Type: application/json");
    }
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
    CURLcode rc = curl_easy_perform(h);
    assert_int_equal(rc, CURLE_OK);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r.status);
    curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &r.connects);
    curl_slist_free_all(hl);
    return r;
}

static resp api(const char *method, const char *path, const char *body)
{
    CURL *h = curl_easy_init();
    const char *extra[] = {"X-API-Key: " KEY, NULL};
    resp r = req_on(h, method, path, body, 1, extra);
    curl_easy_cleanup(h);
    return r;
}

static resp sbx_req(const char *method, const char *path, const char *id, int port,
                    const char *more)
{
    CURL *h = curl_easy_init();
    char l1[128], l2[64];
    snprintf(l1, sizeof l1, "E2b-Sandbox-Id: %s", id);
    snprintf(l2, sizeof l2, "E2b-Sandbox-Port: %d", port);
    const char *extra[] = {l1, l2, more, NULL};
    resp r = req_on(h, method, path, NULL, 0, extra);
    curl_easy_cleanup(h);
    return r;
}

static cJSON *json(const resp *r)
{
    cJSON *j = cJSON_Parse(r->body.p ? r->body.p : "");
    assert_non_null(j);
    return j;
}

static const char *jstr(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static double jnum(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    assert_true(cJSON_IsNumber(v));
    return v->valuedouble;
}

/* Creates a sandbox; returns its id (static storage per call slot). */
static void create(const char *body, char *id_out, char *token_out)
{
    resp r = api("POST", "/v2/sandboxes", body);
    assert_int_equal(r.status, 201);
    cJSON *j = json(&r);
    strcpy(id_out, jstr(j, "sandboxID"));
    if (token_out)
        strcpy(token_out, jstr(j, "envdAccessToken"));
    cJSON_Delete(j);
    resp_free(&r);
}

/* ------------------------------------------------------------------ test routes (port 7777) */

static mock_response *h_echo(mock_request *req)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "a", mock_req_param(req, "a"));
    const char *q = mock_req_query(req, "q");
    cJSON_AddStringToObject(o, "q", q ? q : "(none)");
    const char *x = mock_req_header(req, "x-TEST-header");
    cJSON_AddStringToObject(o, "h", x ? x : "(none)");
    cJSON_AddStringToObject(o, "sandbox", req->sandbox_id ? req->sandbox_id : "(none)");
    cJSON_AddNumberToObject(o, "port", req->port);
    cJSON_AddStringToObject(o, "sandboxDir", req->sandbox ? req->sandbox->dir : "(none)");
    return mock_resp_json(200, o);
}

static mock_response *h_prefix(mock_request *req)
{
    return mock_resp_bytes(200, "text/plain", mock_req_param(req, "*"),
                           strlen(mock_req_param(req, "*")));
}

static mock_response *h_body(mock_request *req)
{
    char out[64];
    snprintf(out, sizeof out, "%zu:%.8s", req->body_len, req->body);
    return mock_resp_bytes(200, "text/plain", out, strlen(out));
}

typedef struct upl {
    size_t bytes;
    unsigned long sum;
    int calls;
} upl;

static void upl_done(mock_request *req)
{
    free(req->user);
}

static int on_chunk(mock_request *req, const char *data, size_t len)
{
    upl *u = req->user;
    if (!u) {
        u = req->user = calloc(1, sizeof *u);
        mock_req_on_done(req, upl_done);
    }
    u->bytes += len;
    u->calls++;
    for (size_t i = 0; i < len; i++)
        u->sum += (unsigned char)data[i];
    return 0;
}

static mock_response *h_upload(mock_request *req)
{
    upl *u = req->user;
    if (req->body) /* upload routes never buffer (no cmocka asserts off the test thread) */
        return mock_resp_error(500, "upload route got a buffered body");
    char out[96];
    snprintf(out, sizeof out, "%zu %lu", u ? u->bytes : 0, u ? u->sum : 0);
    return mock_resp_bytes(200, "text/plain", out, strlen(out));
}

/* Streaming: the producer writes line i+1 only after the client confirmed line i (or 5 s). */
static pthread_mutex_t lk = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int client_seen;
static atomic_int cancel_seen, producer_saw_write_error, producer_done;

static int wait_seen(int n)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 5;
    pthread_mutex_lock(&lk);
    int rc = 0;
    while (client_seen < n && rc == 0)
        rc = pthread_cond_timedwait(&cv, &lk, &ts);
    int ok = client_seen >= n;
    pthread_mutex_unlock(&lk);
    return ok;
}

static void *producer(void *arg)
{
    mock_stream *s = arg;
    for (int i = 1; i <= 3; i++) {
        mock_stream_printf(s, "{\"line\":%d,\"%s\":true}\n", i,
                           i == 1 || wait_seen(i - 1) ? "ok" : "TIMEOUT");
    }
    mock_stream_close(s);
    return NULL;
}

static mock_response *h_stream(mock_request *req)
{
    (void)req;
    mock_stream *s = NULL;
    mock_response *r = mock_resp_stream(200, "application/x-ndjson", &s);
    pthread_t t;
    pthread_create(&t, NULL, producer, s);
    pthread_detach(t);
    return r;
}

static void on_cancel(void *ud)
{
    (void)ud;
    atomic_store(&cancel_seen, 1);
}

static void *silent_producer(void *arg)
{
    mock_stream *s = arg;
    mock_stream_write(s, "first\n", 6);
    /* then stay silent until cancelled (client gone) or 10 s */
    for (int i = 0; i < 1000 && !mock_stream_cancelled(s); i++)
        usleep(10000);
    if (mock_stream_write(s, "late\n", 5) != 0)
        atomic_store(&producer_saw_write_error, 1);
    mock_stream_close(s);
    atomic_store(&producer_done, 1);
    return NULL;
}

static mock_response *h_silent(mock_request *req)
{
    (void)req;
    mock_stream *s = NULL;
    mock_response *r = mock_resp_stream(200, "application/connect+json", &s);
    mock_stream_on_cancel(s, on_cancel, NULL);
    pthread_t t;
    pthread_create(&t, NULL, silent_producer, s);
    pthread_detach(t);
    return r;
}

static mock_response *h_secret(mock_request *req)
{
    (void)req;
    return mock_resp_empty(200);
}

/* ---- helper routes: fd responses, header iteration, JSON bodies, flags, big streams */

static char fd_path[512];

static mock_response *h_fd(mock_request *req)
{
    int fd = open(fd_path, O_RDONLY);
    if (fd < 0)
        return mock_resp_error(500, "open: %s", strerror(errno));
    const char *off = mock_req_query(req, "off");
    uint64_t o = off ? (uint64_t)atoll(off) : 0;
    return mock_resp_fd(200, "application/octet-stream", fd, o, 10 - o);
}

static int collect_meta(const char *k, const char *v, void *ud)
{
    if (strncasecmp(k, "X-Metadata-", 11) == 0)
        cJSON_AddStringToObject(ud, k + 11, v);
    return 0;
}

static mock_response *h_meta(mock_request *req)
{
    cJSON *o = cJSON_CreateObject();
    mock_req_each_header(req, collect_meta, o);
    cJSON *b = mock_req_json(req);
    cJSON_AddItemToObject(o, "body", b ? b : cJSON_CreateNull());
    const char *flag = mock_req_query(req, "flag");
    cJSON_AddStringToObject(o, "flag", flag ? (*flag ? flag : "(empty)") : "(absent)");
    mock_response *r = mock_resp_json(201, o);
    mock_resp_header(r, "X-Custom", "yes");
    return r;
}

#define BIG_STREAM ((size_t)10 << 20)

static void *big_producer(void *arg)
{
    mock_stream *s = arg;
    char block[65536];
    size_t sent = 0;
    while (sent < BIG_STREAM) {
        for (size_t i = 0; i < sizeof block; i++)
            block[i] = (char)('A' + (sent + i) % 23);
        if (mock_stream_write(s, block, sizeof block) != 0)
            break;
        sent += sizeof block;
    }
    mock_stream_write(s, NULL, 0); /* no-op */
    mock_stream_close(s);
    return NULL;
}

static mock_response *h_big(mock_request *req)
{
    (void)req;
    mock_stream *s = NULL;
    mock_response *r = mock_resp_stream(200, "application/octet-stream", &s);
    pthread_t t;
    pthread_create(&t, NULL, big_producer, s);
    pthread_detach(t);
    return r;
}

/* A handler that creates a stream but answers something else: the producer side sees the
 * stream cancelled, and nothing leaks. */
static mock_response *h_stream_abandoned(mock_request *req)
{
    (void)req;
    mock_stream *s = NULL;
    mock_response *r = mock_resp_stream(200, "text/plain", &s);
    mock_resp_free(r);
    int w = mock_stream_write(s, "x", 1);
    int c = mock_stream_cancelled(s);
    mock_stream_close(s);
    char out[32];
    snprintf(out, sizeof out, "%d %d", w, c);
    return mock_resp_bytes(200, "text/plain", out, strlen(out));
}

static int freed_data;
static void free_data(void *p)
{
    freed_data++;
    free(p);
}

static int setup(void **state)
{
    (void)state;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    mock_log_set_level(MOCK_LOG_ERROR);
    const char *keys[] = {KEY};
    mock_server_config cfg = {.api_keys = keys, .n_api_keys = 1, .max_timeout_s = 7200};
    srv = mock_server_new(&cfg);
    assert_non_null(srv);
    snprintf(base, sizeof base, "%s", mock_server_url(srv));
    assert_int_equal(mock_route_add(srv, TPORT, "GET", "/echo/{a}/x", h_echo, 0), 0);
    assert_int_equal(mock_route_add(srv, TPORT, "GET", "/p/", h_prefix, MOCK_ROUTE_PREFIX), 0);
    assert_int_equal(mock_route_add(srv, TPORT, "POST", "/body", h_body, 0), 0);
    assert_int_equal(mock_route_add_upload(srv, TPORT, "POST", "/upload", h_upload, on_chunk, 0),
                     0);
    assert_int_equal(mock_route_add(srv, TPORT, "GET", "/stream", h_stream, 0), 0);
    assert_int_equal(mock_route_add(srv, TPORT, "GET", "/silent", h_silent, 0), 0);
    assert_int_equal(
        mock_route_add(srv, TPORT, "GET", "/secret", h_secret, MOCK_ROUTE_ACCESS_TOKEN), 0);
    assert_int_not_equal(mock_route_add(srv, TPORT, "GET", "no-slash", h_secret, 0), 0);
    assert_int_equal(mock_route_add(srv, TPORT, "GET", "/fd", h_fd, 0), 0);
    assert_int_equal(mock_route_add(srv, TPORT, "*", "/meta", h_meta, 0), 0);
    assert_int_equal(mock_route_add(srv, TPORT, "GET", "/big", h_big, 0), 0);
    assert_int_equal(mock_route_add(srv, TPORT, "GET", "/abandoned", h_stream_abandoned, 0), 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char root[512];
    snprintf(root, sizeof root, "%s", store_root(mock_server_store(srv)));
    mock_server_free(srv);
    assert_int_not_equal(access(root, F_OK), 0); /* temporary root removed */
    curl_global_cleanup();
    return 0;
}

/* ------------------------------------------------------------------ tests */

static void test_route_matching(void **state)
{
    (void)state;
    int st = 0;
    assert_string_equal(mock_route_lookup(srv, 0, "GET", "/sandboxes/metrics", &st),
                        "/sandboxes/metrics");
    assert_string_equal(mock_route_lookup(srv, 0, "GET", "/sandboxes/abc", &st), "/sandboxes/{id}");
    assert_string_equal(mock_route_lookup(srv, 0, "DELETE", "/sandboxes/abc", &st),
                        "/sandboxes/{id}");
    assert_int_equal(st, 200);
    assert_null(mock_route_lookup(srv, 0, "PUT", "/sandboxes/abc", &st));
    assert_int_equal(st, 405);
    assert_null(mock_route_lookup(srv, 0, "GET", "/sandboxes/abc/nope", &st));
    assert_int_equal(st, 404);
    assert_null(mock_route_lookup(srv, 0, "GET", "/sandboxes//timeout", &st)); /* empty capture */
    assert_null(mock_route_lookup(srv, 0, "GET", "/sandboxes/abc/", &st));     /* extra segment */
    assert_int_equal(st, 404);
    assert_string_equal(mock_route_lookup(srv, 0, "GET", "/sandboxes", &st), "/sandboxes");
    assert_string_equal(mock_route_lookup(srv, 0, "HEAD", "/sandboxes/x", &st), "/sandboxes/{id}");
    assert_string_equal(mock_route_lookup(srv, 0, "POST", "/v2/sandboxes/x/connect", &st),
                        "/v2/sandboxes/{id}/connect");
    assert_string_equal(mock_route_lookup(srv, TPORT, "GET", "/p/a/b/c", &st), "/p/");
    assert_null(
        mock_route_lookup(srv, TPORT, "GET", "/sandboxes/abc", &st)); /* ports are separate */
    assert_null(mock_route_lookup(srv, 0, "GET", "/echo/a/x", &st));
}

static void test_auth(void **state)
{
    (void)state;
    CURL *h = curl_easy_init();
    resp r = req_on(h, "GET", "/v2/sandboxes", NULL, 0, NULL);
    assert_int_equal(r.status, 401);
    cJSON *j = json(&r);
    assert_int_equal((int)jnum(j, "code"), 401);
    assert_non_null(jstr(j, "message"));
    cJSON_Delete(j);
    resp_free(&r);
    const char *wrong[] = {"X-API-Key: wrong", NULL};
    r = req_on(h, "GET", "/v2/sandboxes", NULL, 0, wrong);
    assert_int_equal(r.status, 401);
    resp_free(&r);
    const char *lower[] = {"x-api-key: " KEY, NULL}; /* header names are case-insensitive */
    r = req_on(h, "GET", "/v2/sandboxes", NULL, 0, lower);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    r = req_on(h, "GET", "/health", NULL, 0, NULL); /* no auth */
    assert_int_equal(r.status, 200);
    resp_free(&r);
    r = req_on(h, "GET", "/nope", NULL, 0, lower);
    assert_int_equal(r.status, 404);
    resp_free(&r);
    curl_easy_cleanup(h);
}

static void test_create_get_validation(void **state)
{
    (void)state;
    char id[64], tok[64];
    create("{\"templateID\":\"code-interpreter-v1\",\"metadata\":{\"k\":\"v\"},"
           "\"envVars\":{\"FOO\":\"bar\"},\"timeout\":120}",
           id, tok);
    assert_int_equal(strlen(id), 20);
    assert_int_equal(strlen(tok), 32);

    char path[128];
    snprintf(path, sizeof path, "/sandboxes/%s", id);
    resp r = api("GET", path, NULL);
    assert_int_equal(r.status, 200);
    cJSON *j = json(&r);
    static const char *req_fields[] = {
        "templateID", "sandboxID",  "clientID",        "startedAt", "cpuCount",
        "memoryMB",   "diskSizeMB", "endAt",           "state",     "envdVersion",
        "alias",      "metadata",   "envdAccessToken", "domain",    "allowInternetAccess",
        "lifecycle"};
    for (size_t i = 0; i < sizeof req_fields / sizeof *req_fields; i++)
        assert_non_null(cJSON_GetObjectItemCaseSensitive(j, req_fields[i]));
    assert_string_equal(jstr(j, "state"), "running");
    assert_string_equal(jstr(j, "envdVersion"), "0.6.13");
    assert_string_equal(jstr(j, "envdAccessToken"), tok);
    assert_string_equal(jstr(cJSON_GetObjectItemCaseSensitive(j, "metadata"), "k"), "v");
    int64_t start = 0, end = 0;
    assert_int_equal(mock_parse_rfc3339_ns(jstr(j, "startedAt"), &start), 0);
    assert_int_equal(mock_parse_rfc3339_ns(jstr(j, "endAt"), &end), 0);
    assert_true(end - start == 120LL * 1000000000LL);
    cJSON_Delete(j);
    resp_free(&r);

    /* the sandbox got a private directory; envVars are kept for the process modules */
    mock_sandbox *s = store_get(mock_server_store(srv), id);
    assert_non_null(s);
    assert_int_equal(access(s->dir, F_OK), 0);
    assert_string_equal(jstr(s->env_vars, "FOO"), "bar");
    store_release(s);

    struct {
        const char *body;
        int status;
        const char *msg;
    } bad[] = {
        {"{}", 400, "templateID"},
        {"{\"templateID\":5}", 400, "templateID"},
        {"not json", 400, NULL},
        {"[1]", 400, NULL},
        {"{\"templateID\":\"base\",\"timeout\":\"x\"}", 400, "timeout"},
        {"{\"templateID\":\"base\",\"timeout\":1.5}", 400, "timeout"},
        {"{\"templateID\":\"base\",\"timeout\":0}", 400, "Timeout must be greater than 0"},
        {"{\"templateID\":\"base\",\"timeout\":7201}", 400,
         "Timeout cannot be greater than 2 hours"},
        {"{\"templateID\":\"base\",\"metadata\":{\"a\":1}}", 400, "metadata"},
        {"{\"templateID\":\"base\",\"envVars\":[]}", 400, "envVars"},
        {"{\"templateID\":\"base\",\"autoPause\":\"yes\"}", 400, "autoPause"},
        {"{\"templateID\":\"nope\"}", 404, "template 'nope' not found"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        r = api("POST", "/v2/sandboxes", bad[i].body);
        assert_int_equal(r.status, bad[i].status);
        j = json(&r);
        assert_int_equal((int)jnum(j, "code"), bad[i].status);
        if (bad[i].msg)
            assert_non_null(strstr(jstr(j, "message"), bad[i].msg));
        cJSON_Delete(j);
        resp_free(&r);
    }
    /* deprecated v1 create: default timeout 15 s */
    r = api("POST", "/sandboxes", "{\"templateID\":\"base\",\"secure\":true}");
    assert_int_equal(r.status, 201);
    resp_free(&r);
}

static int64_t end_at(const char *id)
{
    char path[128];
    snprintf(path, sizeof path, "/sandboxes/%s", id);
    resp r = api("GET", path, NULL);
    assert_int_equal(r.status, 200);
    cJSON *j = json(&r);
    int64_t end = 0;
    assert_int_equal(mock_parse_rfc3339_ns(jstr(j, "endAt"), &end), 0);
    cJSON_Delete(j);
    resp_free(&r);
    return end / 1000000;
}

static void test_lifecycle(void **state)
{
    (void)state;
    char id[64], path[160];
    create("{\"templateID\":\"base\"}", id, NULL);
    int64_t e0 = end_at(id);

    snprintf(path, sizeof path, "/sandboxes/%s/timeout", id);
    resp r = api("POST", path, "{\"timeout\":10}");
    assert_int_equal(r.status, 204);
    char v[64];
    assert_null(hdr(&r, "Transfer-Encoding", v, sizeof v)); /* never a chunked empty body */
    resp_free(&r);
    int64_t e1 = end_at(id);
    assert_true(e1 < e0); /* setTimeout can shorten */
    assert_true(e1 - mock_now_ms() <= 10000);
    r = api("POST", path, "{\"timeout\":0}");
    assert_int_equal(r.status, 400);
    resp_free(&r);
    r = api("POST", path, "{}");
    assert_int_equal(r.status, 400);
    resp_free(&r);

    snprintf(path, sizeof path, "/sandboxes/%s/refreshes", id);
    r = api("POST", path, "{\"duration\":600}");
    assert_int_equal(r.status, 204);
    resp_free(&r);
    assert_true(end_at(id) > e1);

    snprintf(path, sizeof path, "/sandboxes/%s/pause", id);
    r = api("POST", path, "{}");
    assert_int_equal(r.status, 204);
    resp_free(&r);
    r = api("POST", path, "{}");
    assert_int_equal(r.status, 409);
    cJSON *j = json(&r);
    assert_int_equal((int)jnum(j, "code"), 409);
    cJSON_Delete(j);
    resp_free(&r);

    /* paused: data plane answers 502 */
    r = sbx_req("GET", "/echo/a/x", id, TPORT, NULL);
    assert_int_equal(r.status, 502);
    resp_free(&r);

    snprintf(path, sizeof path, "/v2/sandboxes/%s/connect", id);
    r = api("POST", path, "{}");
    assert_int_equal(r.status, 201); /* resumed */
    j = json(&r);
    assert_string_equal(jstr(j, "sandboxID"), id);
    assert_non_null(jstr(j, "envdVersion"));
    cJSON_Delete(j);
    resp_free(&r);
    r = api("POST", path, "{\"timeout\":60}");
    assert_int_equal(r.status, 200); /* already running */
    resp_free(&r);
    snprintf(path, sizeof path, "/sandboxes/%s/resume", id);
    r = api("POST", path, "{}");
    assert_int_equal(r.status, 409);
    resp_free(&r);

    snprintf(path, sizeof path, "/sandboxes/%s/metrics", id);
    r = api("GET", path, NULL);
    assert_int_equal(r.status, 200);
    j = json(&r);
    assert_int_equal(cJSON_GetArraySize(j), 1);
    assert_true(jnum(cJSON_GetArrayItem(j, 0), "diskTotal") > 0);
    cJSON_Delete(j);
    resp_free(&r);

    snprintf(path, sizeof path, "/sandboxes/%s", id);
    r = api("DELETE", path, NULL);
    assert_int_equal(r.status, 204);
    resp_free(&r);
    r = api("DELETE", path, NULL);
    assert_int_equal(r.status, 404);
    j = json(&r);
    assert_int_equal((int)jnum(j, "code"), 404);
    char want[128];
    snprintf(want, sizeof want, "Sandbox \"%s\" doesn't exist or you don't have access to it", id);
    assert_string_equal(jstr(j, "message"), want);
    cJSON_Delete(j);
    resp_free(&r);
    r = api("GET", path, NULL);
    assert_int_equal(r.status, 404);
    resp_free(&r);
    snprintf(path, sizeof path, "/sandboxes/%s/timeout", id);
    r = api("POST", path, "{\"timeout\":10}");
    assert_int_equal(r.status, 404);
    resp_free(&r);
}

static void test_expiry_via_clock(void **state)
{
    (void)state;
    char id[64], id2[64], path[128];
    create("{\"templateID\":\"base\",\"timeout\":30}", id, NULL);
    create("{\"templateID\":\"base\",\"timeout\":30,\"autoPause\":true}", id2, NULL);
    mock_clock_advance_ms(31000);
    store_reap(mock_server_store(srv)); /* the reaper thread may have done it already */
    snprintf(path, sizeof path, "/sandboxes/%s", id);
    resp r = api("GET", path, NULL);
    assert_int_equal(r.status, 404);
    resp_free(&r);
    snprintf(path, sizeof path, "/sandboxes/%s", id2);
    r = api("GET", path, NULL);
    assert_int_equal(r.status, 200);
    cJSON *j = json(&r);
    assert_string_equal(jstr(j, "state"), "paused");
    assert_string_equal(jstr(cJSON_GetObjectItemCaseSensitive(j, "lifecycle"), "onTimeout"),
                        "pause");
    cJSON_Delete(j);
    resp_free(&r);
    r = api("DELETE", path, NULL);
    assert_int_equal(r.status, 204);
    resp_free(&r);
}

static void test_list_pagination_and_filters(void **state)
{
    (void)state;
    char ids[5][64];
    for (int i = 0; i < 5; i++) {
        create("{\"templateID\":\"base\",\"metadata\":{\"group\":\"pg\",\"k y\":\"a "
               "b&c=d/\xc3\xa9\"}}",
               ids[i], NULL);
        usleep(2000); /* distinct start times (ties are broken by id anyway) */
    }
    char path[512], next[256] = "";
    char seen[5][64];
    int nseen = 0, pages = 0;
    int64_t prev_start = INT64_MAX;
    for (;;) {
        if (next[0])
            snprintf(path, sizeof path, "/v2/sandboxes?metadata=group%%3Dpg&limit=2&nextToken=%s",
                     next);
        else
            snprintf(path, sizeof path, "/v2/sandboxes?metadata=group%%3Dpg&limit=2");
        resp r = api("GET", path, NULL);
        assert_int_equal(r.status, 200);
        char total[32];
        assert_non_null(hdr(&r, "X-Total-Running", total, sizeof total));
        assert_string_equal(total, "5");
        cJSON *j = json(&r), *it;
        assert_true(cJSON_IsArray(j));
        pages++;
        cJSON_ArrayForEach(it, j)
        {
            int64_t st = 0;
            assert_int_equal(mock_parse_rfc3339_ns(jstr(it, "startedAt"), &st), 0);
            assert_true(st <= prev_start); /* default order: newest first */
            prev_start = st;
            assert_true(nseen < 5);
            strcpy(seen[nseen++], jstr(it, "sandboxID"));
        }
        cJSON_Delete(j);
        int more = hdr(&r, "X-Next-Token", next, sizeof next) != NULL;
        resp_free(&r);
        if (!more)
            break;
        assert_true(pages < 5);
    }
    assert_int_equal(pages, 3);
    assert_int_equal(nseen, 5);
    for (int i = 0; i < 5; i++)
        assert_string_equal(seen[i], ids[4 - i]);

    /* asc */
    resp r = api("GET", "/v2/sandboxes?metadata=group%3Dpg&order=asc&limit=100", NULL);
    cJSON *j = json(&r);
    assert_int_equal(cJSON_GetArraySize(j), 5);
    assert_string_equal(jstr(cJSON_GetArrayItem(j, 0), "sandboxID"), ids[0]);
    char v[64];
    assert_null(hdr(&r, "X-Next-Token", v, sizeof v));
    cJSON_Delete(j);
    resp_free(&r);

    /* the JS SDK's triple-encoded metadata, straight off the wire */
    r = api("GET",
            "/v2/sandboxes?metadata=k%252520y%3Da%252520b%252526c%25253Dd%25252F%2525C3%2525A9",
            NULL);
    assert_int_equal(r.status, 200);
    j = json(&r);
    assert_int_equal(cJSON_GetArraySize(j), 5);
    cJSON_Delete(j);
    resp_free(&r);

    /* state filter */
    snprintf(path, sizeof path, "/sandboxes/%s/pause", ids[2]);
    r = api("POST", path, "{}");
    assert_int_equal(r.status, 204);
    resp_free(&r);
    r = api("GET", "/v2/sandboxes?metadata=group%3Dpg&state=paused", NULL);
    j = json(&r);
    assert_int_equal(cJSON_GetArraySize(j), 1);
    assert_string_equal(jstr(cJSON_GetArrayItem(j, 0), "state"), "paused");
    assert_null(hdr(&r, "X-Total-Running", v, sizeof v)); /* running not requested */
    cJSON_Delete(j);
    resp_free(&r);
    r = api("GET", "/v2/sandboxes?metadata=group%3Dpg&state=running,paused", NULL);
    j = json(&r);
    assert_int_equal(cJSON_GetArraySize(j), 5);
    cJSON_Delete(j);
    assert_string_equal(hdr(&r, "X-Total-Running", v, sizeof v), "4");
    resp_free(&r);
    /* deprecated list: running only */
    r = api("GET", "/sandboxes?metadata=group%3Dpg", NULL);
    j = json(&r);
    assert_int_equal(cJSON_GetArraySize(j), 4);
    cJSON_Delete(j);
    resp_free(&r);

    static const char *bad[] = {"/v2/sandboxes?limit=0",         "/v2/sandboxes?limit=101",
                                "/v2/sandboxes?limit=x",         "/v2/sandboxes?state=dead",
                                "/v2/sandboxes?order=up",        "/v2/sandboxes?nextToken=%21%21",
                                "/v2/sandboxes?metadata=novalue"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        r = api("GET", bad[i], NULL);
        assert_int_equal(r.status, 400);
        resp_free(&r);
    }
    for (int i = 0; i < 5; i++) {
        snprintf(path, sizeof path, "/sandboxes/%s", ids[i]);
        r = api("DELETE", path, NULL);
        assert_int_equal(r.status, 204);
        resp_free(&r);
    }
}

static void test_data_plane_dispatch(void **state)
{
    (void)state;
    char id[64], tok[64];
    create("{\"templateID\":\"base\"}", id, tok);

    resp r = sbx_req("GET", "/echo/abc/x?q=a%20b", id, TPORT, "X-Test-Header: hv");
    assert_int_equal(r.status, 200);
    cJSON *j = json(&r);
    assert_string_equal(jstr(j, "a"), "abc");
    assert_string_equal(jstr(j, "q"), "a b");
    assert_string_equal(jstr(j, "h"), "hv");
    assert_string_equal(jstr(j, "sandbox"), id);
    assert_int_equal((int)jnum(j, "port"), TPORT);
    assert_non_null(strstr(jstr(j, "sandboxDir"), id));
    cJSON_Delete(j);
    resp_free(&r);

    r = sbx_req("GET", "/p/x/y", id, TPORT, NULL);
    assert_string_equal(r.body.p, "x/y");
    resp_free(&r);

    /* host-based routing <port>-<id>.<domain> */
    CURL *h = curl_easy_init();
    char host[160];
    snprintf(host, sizeof host, "Host: %d-%s.e2b.local", TPORT, id);
    const char *extra[] = {host, NULL};
    r = req_on(h, "GET", "/echo/zz/x", NULL, 0, extra);
    assert_int_equal(r.status, 200);
    j = json(&r);
    assert_string_equal(jstr(j, "sandbox"), id);
    cJSON_Delete(j);
    resp_free(&r);
    curl_easy_cleanup(h);

    /* access-token routes */
    r = sbx_req("GET", "/secret", id, TPORT, NULL);
    assert_int_equal(r.status, 401);
    resp_free(&r);
    char tl[96];
    snprintf(tl, sizeof tl, "X-Access-Token: %s", tok);
    r = sbx_req("GET", "/secret", id, TPORT, tl);
    assert_int_equal(r.status, 200);
    resp_free(&r);

    /* port without routes */
    r = sbx_req("GET", "/", id, 8080, NULL);
    assert_int_equal(r.status, 502);
    j = json(&r);
    assert_string_equal(jstr(j, "message"), "The sandbox is running but port is not open");
    assert_int_equal((int)jnum(j, "port"), 8080);
    cJSON_Delete(j);
    resp_free(&r);

    /* unknown / killed sandbox */
    char path[128];
    snprintf(path, sizeof path, "/sandboxes/%s", id);
    r = api("DELETE", path, NULL);
    resp_free(&r);
    const char *gone[] = {id, "doesnotexist"};
    for (int i = 0; i < 2; i++) {
        r = sbx_req("GET", "/echo/a/x", gone[i], TPORT, NULL);
        assert_int_equal(r.status, 502);
        char ct[128];
        assert_string_equal(hdr(&r, "Content-Type", ct, sizeof ct),
                            "application/json; charset=utf-8");
        j = json(&r);
        assert_string_equal(jstr(j, "sandboxId"), gone[i]);
        assert_string_equal(jstr(j, "message"), "The sandbox was not found");
        assert_int_equal((int)jnum(j, "code"), 502);
        cJSON_Delete(j);
        resp_free(&r);
    }
    /* routing headers must come in pairs */
    h = curl_easy_init();
    const char *half[] = {"E2b-Sandbox-Port: 49983", NULL};
    r = req_on(h, "GET", "/health", NULL, 0, half);
    assert_int_equal(r.status, 400);
    resp_free(&r);
    curl_easy_cleanup(h);
}

static void test_bodies_chunked_and_upload(void **state)
{
    (void)state;
    char id[64];
    create("{\"templateID\":\"base\"}", id, NULL);
    char l1[96];
    snprintf(l1, sizeof l1, "E2b-Sandbox-Id: %s", id);
    const char *extra[] = {l1, "E2b-Sandbox-Port: 7777", NULL};
    CURL *h = curl_easy_init();
    /* chunked and content-length bodies arrive whole */
    resp r = req_on(h, "POST", "/body", "{\"hello\":\"world\"}", 1, extra);
    assert_string_equal(r.body.p, "17:{\"hello\"");
    resp_free(&r);
    r = req_on(h, "POST", "/body", "{\"hello\":\"world\"}", 0, extra);
    assert_string_equal(r.body.p, "17:{\"hello\"");
    resp_free(&r);
    /* a 1 MiB chunked upload streamed through the upload hook */
    size_t n = 1 << 20;
    char *big = malloc(n + 1);
    unsigned long sum = 0;
    for (size_t i = 0; i < n; i++) {
        big[i] = (char)('a' + i % 26);
        sum += (unsigned char)big[i];
    }
    big[n] = '\0';
    r = req_on(h, "POST", "/upload", big, 1, extra);
    char want[96];
    snprintf(want, sizeof want, "%zu %lu", n, sum);
    assert_string_equal(r.body.p, want);
    resp_free(&r);
    free(big);
    curl_easy_cleanup(h);
    char path[128];
    snprintf(path, sizeof path, "/sandboxes/%s", id);
    r = api("DELETE", path, NULL);
    resp_free(&r);
}

static void test_keep_alive(void **state)
{
    (void)state;
    CURL *h = curl_easy_init();
    const char *extra[] = {"X-API-Key: " KEY, NULL};
    resp r = req_on(h, "GET", "/v2/sandboxes", NULL, 0, extra);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.connects, 1);
    resp_free(&r);
    for (int i = 0; i < 5; i++) {
        r = req_on(h, i % 2 ? "POST" : "GET", i % 2 ? "/sandboxes/nope/timeout" : "/v2/sandboxes",
                   i % 2 ? "{\"timeout\":5}" : NULL, 1, extra);
        assert_int_equal(r.status, i % 2 ? 404 : 200);
        assert_int_equal(r.connects, 0); /* reused the connection */
        resp_free(&r);
    }
    /* errors decided before the body (401) keep the connection too */
    r = req_on(h, "POST", "/v2/sandboxes", "{\"templateID\":\"base\"}", 1, NULL);
    assert_int_equal(r.status, 401);
    resp_free(&r);
    r = req_on(h, "GET", "/v2/sandboxes", NULL, 0, extra);
    assert_int_equal(r.connects, 0);
    resp_free(&r);
    curl_easy_cleanup(h);
}

typedef struct sctx {
    buf all;
    int callbacks;
    int abort_after_first;
} sctx;

static size_t on_stream(char *p, size_t sz, size_t n, void *ud)
{
    sctx *c = ud;
    on_data(p, sz, n, &c->all);
    c->callbacks++;
    int lines = 0;
    for (size_t i = 0; i < c->all.n; i++)
        lines += c->all.p[i] == '\n';
    pthread_mutex_lock(&lk);
    client_seen = lines;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&lk);
    if (c->abort_after_first && lines >= 1)
        return 0; /* abort the transfer */
    return sz * n;
}

static void stream_get(const char *id, const char *path, sctx *c, CURLcode *rc)
{
    char url[256], l1[96];
    snprintf(url, sizeof url, "%s%s", base, path);
    snprintf(l1, sizeof l1, "E2b-Sandbox-Id: %s", id);
    struct curl_slist *hl = curl_slist_append(NULL, l1);
    hl = curl_slist_append(hl, "E2b-Sandbox-Port: 7777");
    CURL *h = curl_easy_init();
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_stream);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 30L);
    *rc = curl_easy_perform(h);
    curl_easy_cleanup(h);
    curl_slist_free_all(hl);
}

static void test_streaming_incremental(void **state)
{
    (void)state;
    char id[64];
    create("{\"templateID\":\"base\"}", id, NULL);
    client_seen = 0;
    sctx c = {0};
    CURLcode rc;
    stream_get(id, "/stream", &c, &rc);
    assert_int_equal(rc, CURLE_OK);
    /* each line was produced only after the client had received the previous one, so the
     * server cannot have buffered the stream */
    assert_string_equal(c.all.p, "{\"line\":1,\"ok\":true}\n{\"line\":2,\"ok\":true}\n"
                                 "{\"line\":3,\"ok\":true}\n");
    assert_true(c.callbacks >= 3);
    free(c.all.p);

    /* client disconnect while the producer is silent: cancel callback + failing writes */
    atomic_store(&cancel_seen, 0);
    atomic_store(&producer_done, 0);
    sctx c2 = {.abort_after_first = 1};
    stream_get(id, "/silent", &c2, &rc);
    assert_int_equal(rc, CURLE_WRITE_ERROR);
    for (int i = 0; i < 1000 && !atomic_load(&producer_done); i++)
        usleep(10000); /* generous: up to 10 s; detection is ~0.25 s */
    assert_true(atomic_load(&cancel_seen));
    assert_true(atomic_load(&producer_saw_write_error));
    assert_true(atomic_load(&producer_done));
    free(c2.all.p);
    char path[128];
    snprintf(path, sizeof path, "/sandboxes/%s", id);
    resp r = api("DELETE", path, NULL);
    resp_free(&r);
}

typedef struct sthread {
    char id[64];
    sctx c;
    CURLcode rc;
} sthread;

static void *stream_thread(void *arg)
{
    sthread *t = arg;
    stream_get(t->id, "/silent", &t->c, &t->rc);
    return NULL;
}

/* mock_server_cancel_streams drops the open streams of one sandbox only. */
static void test_cancel_sandbox_streams(void **state)
{
    (void)state;
    for (int round = 0; round < 2; round++) {
        sthread t = {0};
        create("{\"templateID\":\"base\"}", t.id, NULL);
        client_seen = 0;
        atomic_store(&cancel_seen, 0);
        atomic_store(&producer_done, 0);
        pthread_t th;
        pthread_create(&th, NULL, stream_thread, &t);
        assert_true(wait_seen(1)); /* the stream is open and delivered its first line */
        if (round == 0) {          /* another sandbox: untouched */
            mock_server_cancel_streams(srv, "someothersandbox0000");
            usleep(300 * 1000);
            assert_false(atomic_load(&cancel_seen));
        }
        mock_server_cancel_streams(srv, round ? NULL : t.id);
        pthread_join(th, NULL);               /* returns: the server ended the stream */
        assert_int_not_equal(t.rc, CURLE_OK); /* cut off, not a clean end */
        assert_string_equal(t.c.all.p, "first\n");
        free(t.c.all.p);
        for (int i = 0; i < 1000 && !atomic_load(&producer_done); i++)
            usleep(10000);
        assert_true(atomic_load(&cancel_seen));
        assert_true(atomic_load(&producer_done));
        char path[128];
        snprintf(path, sizeof path, "/sandboxes/%s", t.id);
        resp r = api("DELETE", path, NULL);
        assert_int_equal(r.status, 204);
        resp_free(&r);
    }
}

/* Several clients create, inspect and kill sandboxes at once; nothing is lost or leaked. */
static void *lifecycle_worker(void *arg)
{
    (void)arg;
    for (int i = 0; i < 8; i++) {
        char id[64], path[128];
        create("{\"templateID\":\"base\",\"metadata\":{\"group\":\"conc\"}}", id, NULL);
        snprintf(path, sizeof path, "/sandboxes/%s", id);
        resp r = api("GET", path, NULL);
        assert_int_equal(r.status, 200);
        resp_free(&r);
        r = sbx_req("GET", "/echo/a/x", id, TPORT, NULL);
        assert_int_equal(r.status, 200);
        resp_free(&r);
        r = api("DELETE", path, NULL);
        assert_int_equal(r.status, 204);
        resp_free(&r);
    }
    return NULL;
}

static void test_concurrent_lifecycle(void **state)
{
    (void)state;
    size_t before = store_count(mock_server_store(srv), MOCK_SBX_RUNNING);
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, lifecycle_worker, NULL);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(store_count(mock_server_store(srv), MOCK_SBX_RUNNING), before);
    resp r = api("GET", "/v2/sandboxes?metadata=group%3Dconc", NULL);
    assert_string_equal(r.body.p, "[]");
    resp_free(&r);
}

/* ---- shutdown with work in flight (a server of its own) */

typedef struct inflight {
    char url[256];
    char id[64];
    const char *body; /* POST with an API key when set */
    CURLcode rc;
    long status;
} inflight;

static void *blocked_client(void *arg)
{
    inflight *f = arg;
    CURL *h = curl_easy_init();
    char l1[96];
    snprintf(l1, sizeof l1, "E2b-Sandbox-Id: %s", f->id);
    struct curl_slist *hl = curl_slist_append(NULL, l1);
    hl = curl_slist_append(hl, "E2b-Sandbox-Port: 7777");
    if (f->body) {
        curl_slist_free_all(hl);
        hl = curl_slist_append(NULL, "X-API-Key: any");
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, f->body);
    }
    buf b = {0};
    curl_easy_setopt(h, CURLOPT_URL, f->url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 60L);
    f->rc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &f->status);
    free(b.p);
    curl_slist_free_all(hl);
    curl_easy_cleanup(h);
    return NULL;
}

static void test_shutdown_with_open_stream(void **state)
{
    (void)state;
    mock_server_config cfg = {.create_latency_ms = 20000};
    mock_server *s2 = mock_server_new(&cfg);
    assert_non_null(s2);
    assert_int_equal(mock_route_add(s2, TPORT, "GET", "/silent", h_silent, 0), 0);
    store_create_opts o = {.template_id = "base", .timeout_ms = 60000, .allow_internet_access = -1};
    mock_sandbox *sb = store_create(mock_server_store(s2), &o);
    assert_non_null(sb);
    inflight f = {0}, g = {0};
    snprintf(f.url, sizeof f.url, "%s/silent", mock_server_url(s2));
    snprintf(f.id, sizeof f.id, "%s", sb->id);
    store_release(sb);
    atomic_store(&cancel_seen, 0);
    atomic_store(&producer_done, 0);
    pthread_t t, t2;
    pthread_create(&t, NULL, blocked_client, &f);
    /* a create stuck in its 20 s injected latency */
    snprintf(g.url, sizeof g.url, "%s/v2/sandboxes", mock_server_url(s2));
    g.body = "{\"templateID\":\"base\"}";
    pthread_create(&t2, NULL, blocked_client, &g);
    for (int i = 0; i < 500 && !atomic_load(&cancel_seen) && f.status == 0; i++) {
        usleep(10000);
        if (i == 20)
            break; /* the stream is open by now (generous) */
    }
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    mock_server_free(s2); /* must not hang on the open stream */
    clock_gettime(CLOCK_MONOTONIC, &b);
    pthread_join(t, NULL);
    pthread_join(t2, NULL);
    /* generous bound, but below the 20 s create latency: the sleeping create was woken and the
     * silent stream (which never ends by itself) was cancelled */
    assert_true(b.tv_sec - a.tv_sec < 15);
    assert_true(g.rc != CURLE_OK || g.status == 503);
    for (int i = 0; i < 500 && !atomic_load(&producer_done); i++)
        usleep(10000);
    assert_true(atomic_load(&cancel_seen));
    assert_true(atomic_load(&producer_done));
}

static void test_helpers(void **state)
{
    (void)state;
    /* per-server module data: replacing a key frees the old value */
    assert_int_equal(mock_server_set_data(srv, "unit.k", strdup("one"), free_data), 0);
    assert_string_equal(mock_server_get_data(srv, "unit.k"), "one");
    assert_int_equal(mock_server_set_data(srv, "unit.k", strdup("two"), free_data), 0);
    assert_int_equal(freed_data, 1);
    assert_string_equal(mock_server_get_data(srv, "unit.k"), "two");
    assert_null(mock_server_get_data(srv, "unit.none"));
    assert_int_equal(mock_server_max_timeout_s(srv), 7200);

    char id[64];
    create("{\"templateID\":\"base\"}", id, NULL);
    mock_sandbox *sb = store_get(mock_server_store(srv), id);
    snprintf(fd_path, sizeof fd_path, "%s/ten.bin", sb->dir);
    store_release(sb);
    FILE *f = fopen(fd_path, "w");
    fputs("0123456789", f);
    fclose(f);

    resp r = sbx_req("GET", "/fd", id, TPORT, NULL);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body.n, 10);
    assert_string_equal(r.body.p, "0123456789");
    resp_free(&r);
    r = sbx_req("GET", "/fd?off=4", id, TPORT, NULL);
    assert_string_equal(r.body.p, "456789");
    resp_free(&r);

    CURL *h = curl_easy_init();
    char l1[96];
    snprintf(l1, sizeof l1, "E2b-Sandbox-Id: %s", id);
    const char *extra[] = {l1, "E2b-Sandbox-Port: 7777", "X-Metadata-Owner: me", "x-metadata-k: v",
                           NULL};
    r = req_on(h, "PUT", "/meta?flag", "{\"a\":[1,2]}", 1, extra);
    assert_int_equal(r.status, 201);
    char v[32];
    assert_string_equal(hdr(&r, "X-Custom", v, sizeof v), "yes");
    cJSON *j = json(&r);
    assert_string_equal(jstr(j, "Owner"), "me");
    assert_string_equal(jstr(j, "k"), "v");
    assert_string_equal(jstr(j, "flag"), "(empty)");
    const cJSON *body = cJSON_GetObjectItemCaseSensitive(j, "body");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(body, "a")), 2);
    cJSON_Delete(j);
    resp_free(&r);
    r = req_on(h, "GET", "/meta", NULL, 0, extra);
    j = json(&r);
    assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(j, "body")));
    assert_string_equal(jstr(j, "flag"), "(absent)");
    cJSON_Delete(j);
    resp_free(&r);

    /* 10 MiB through the 4 MiB backpressure window, byte-exact */
    r = req_on(h, "GET", "/big", NULL, 0, extra);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body.n, BIG_STREAM);
    size_t bad = 0;
    for (size_t i = 0; i < r.body.n; i++)
        bad += r.body.p[i] != (char)('A' + i % 23);
    assert_int_equal(bad, 0);
    resp_free(&r);

    r = req_on(h, "GET", "/abandoned", NULL, 0, extra);
    assert_string_equal(r.body.p, "-1 1");
    resp_free(&r);
    curl_easy_cleanup(h);

    char path[128];
    snprintf(path, sizeof path, "/sandboxes/%s", id);
    r = api("DELETE", path, NULL);
    resp_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_route_matching),
        cmocka_unit_test(test_auth),
        cmocka_unit_test(test_create_get_validation),
        cmocka_unit_test(test_lifecycle),
        cmocka_unit_test(test_expiry_via_clock),
        cmocka_unit_test(test_list_pagination_and_filters),
        cmocka_unit_test(test_data_plane_dispatch),
        cmocka_unit_test(test_bodies_chunked_and_upload),
        cmocka_unit_test(test_keep_alive),
        cmocka_unit_test(test_helpers),
        cmocka_unit_test(test_streaming_incremental),
        cmocka_unit_test(test_cancel_sandbox_streams),
        cmocka_unit_test(test_concurrent_lifecycle),
        cmocka_unit_test(test_shutdown_with_open_stream),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
