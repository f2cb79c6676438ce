/* server.c - the e2b-mock HTTP core: MHD daemon, routing, requests, responses, streams.
 * See server.h for the contract. */
#include "server.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "util.h"

#define MAX_PARAMS 8
#define MAX_DONE 4
#define MAX_BODY ((size_t)512 * 1024 * 1024) /* buffered (non-upload) request bodies */
#define STREAM_HIGH_WATER ((size_t)4 * 1024 * 1024)
#define STREAM_BLOCK 65536
#define STREAM_POLL_MS 250
#define CONNECTION_TIMEOUT_S 650 /* a bit above envd's 640 s idle timeout */

typedef struct route {
    int port;
    char *method;
    char *pattern;
    unsigned flags;
    mock_handler_fn handler;
    mock_upload_fn upload;
    char **segs; /* exact patterns: segments ("{x}" = capture) */
    size_t nsegs;
    size_t nliteral;
} route;

typedef struct data_entry {
    char *key;
    void *data;
    void (*free_fn)(void *);
} data_entry;

struct mock_server {
    struct MHD_Daemon *daemon;
    char *host;
    unsigned short port;
    char url[128];
    char **api_keys;
    size_t n_api_keys;
    char *root;
    int root_is_temp;
    unsigned create_latency_ms;
    unsigned max_timeout_s;
    mock_store *store;
    route *routes;
    size_t nroutes, routes_cap;
    pthread_mutex_t data_lock;
    data_entry *data;
    size_t ndata;
    pthread_mutex_t streams_lock;
    mock_stream *streams; /* live streams bound to connections */
    atomic_int stopping;
    pthread_mutex_t stop_lock;
    pthread_cond_t stop_cond; /* broadcast when stopping is set */
    mock_hooks hooks;         /* mock_server_set_hooks (admin/scenario module) */
};

struct mock_stream {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    atomic_int refs;
    char *buf;
    size_t head, len, cap;
    int closed; /* producer finished */
    atomic_int cancelled;
    int in_cb;
    int cb_done; /* cancel callback already consumed */
    void (*cancel_fn)(void *);
    void *cancel_ud;
    int fd; /* client socket, -1 until queued */
    mock_server *srv;
    mock_stream *prev, *next; /* server list (streams_lock) */
    int listed;
    char sandbox_id[MOCK_SANDBOX_ID_LEN + 1]; /* data-plane stream: its sandbox, else "" */
};

struct mock_response {
    int status;
    struct MHD_Response *r;
    mock_stream *stream;
};

struct mock_req_priv {
    struct MHD_Connection *conn;
    const route *route;
    const char *pnames[MAX_PARAMS];
    char *pvalues[MAX_PARAMS];
    size_t nparams;
    char *prefix_rest;
    char *buf;
    size_t len, cap;
    mock_response *early; /* decided before the body: errors, the body is drained */
    int upload_stopped;
    void (*done[MAX_DONE])(mock_request *);
    size_t ndone;
    char *path;
    char sandbox_id[64];
};

typedef struct req_ctx {
    mock_request req;
    struct mock_req_priv priv;
} req_ctx;

/* ================================================================== responses */

static mock_response *resp_wrap(int status, struct MHD_Response *r)
{
    if (!r)
        return NULL;
    mock_response *res = calloc(1, sizeof *res);
    if (!res) {
        MHD_destroy_response(r);
        return NULL;
    }
    res->status = status;
    res->r = r;
    return res;
}

static mock_response *resp_buffer(int status, const char *ctype, void *data, size_t len,
                                  enum MHD_ResponseMemoryMode mode)
{
    mock_response *res = resp_wrap(status, MHD_create_response_from_buffer(len, data, mode));
    if (!res) {
        if (mode == MHD_RESPMEM_MUST_FREE)
            free(data);
        return NULL;
    }
    if (ctype && mock_resp_header(res, MHD_HTTP_HEADER_CONTENT_TYPE, ctype) != 0) {
        mock_resp_free(res);
        return NULL;
    }
    return res;
}

mock_response *mock_resp_bytes(int status, const char *content_type, const void *data, size_t len)
{
    return resp_buffer(status, content_type, (void *)data, len, MHD_RESPMEM_MUST_COPY);
}

mock_response *mock_resp_take(int status, const char *content_type, void *data, size_t len)
{
    return resp_buffer(status, content_type, data, len, MHD_RESPMEM_MUST_FREE);
}

mock_response *mock_resp_json_str(int status, const char *json)
{
    return mock_resp_bytes(status, "application/json", json, strlen(json));
}

mock_response *mock_resp_json(int status, cJSON *body)
{
    if (!body)
        return NULL;
    char *txt = cJSON_PrintUnformatted(body);
    cJSON_Delete(body);
    if (!txt)
        return NULL;
    return mock_resp_take(status, "application/json", txt, strlen(txt));
}

static mock_response *resp_error_va(int status, const char *fmt, va_list ap)
{
    char msg[1024];
    vsnprintf(msg, sizeof msg, fmt, ap);
    cJSON *o = cJSON_CreateObject();
    if (!o || !cJSON_AddNumberToObject(o, "code", status) ||
        !cJSON_AddStringToObject(o, "message", msg)) {
        cJSON_Delete(o);
        return NULL;
    }
    return mock_resp_json(status, o);
}

mock_response *mock_resp_error(int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    mock_response *r = resp_error_va(status, fmt, ap);
    va_end(ap);
    return r;
}

mock_response *mock_resp_empty(int status)
{
    return resp_buffer(status, NULL, (void *)"", 0, MHD_RESPMEM_PERSISTENT);
}

mock_response *mock_resp_fd(int status, const char *content_type, int fd, uint64_t offset,
                            uint64_t size)
{
    struct MHD_Response *r = MHD_create_response_from_fd_at_offset64(size, fd, offset);
    if (!r) {
        close(fd);
        return NULL;
    }
    mock_response *res = resp_wrap(status, r);
    if (res && content_type && mock_resp_header(res, MHD_HTTP_HEADER_CONTENT_TYPE, content_type)) {
        mock_resp_free(res);
        return NULL;
    }
    return res;
}

int mock_resp_header(mock_response *r, const char *name, const char *value)
{
    if (!r || !name || !value)
        return -1;
    return MHD_add_response_header(r->r, name, value) == MHD_YES ? 0 : -1;
}

void mock_resp_free(mock_response *r)
{
    if (!r)
        return;
    if (r->r)
        MHD_destroy_response(r->r);
    free(r);
}

/* ================================================================== streams */

static void stream_release(mock_stream *s)
{
    if (atomic_fetch_sub(&s->refs, 1) != 1)
        return;
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->cond);
    free(s->buf);
    free(s);
}

static void cond_wait_ms(pthread_cond_t *c, pthread_mutex_t *m, long ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(c, m, &ts);
}

/* Marks the stream cancelled and runs the callback once (lock held on entry and exit; the
 * callback runs unlocked). */
static void stream_cancel_locked(mock_stream *s)
{
    if (!atomic_load(&s->cancelled))
        atomic_store(&s->cancelled, 1);
    pthread_cond_broadcast(&s->cond);
    if (s->cancel_fn && !s->cb_done && !s->closed) {
        void (*fn)(void *) = s->cancel_fn;
        void *ud = s->cancel_ud;
        s->cb_done = 1;
        s->in_cb = 1;
        pthread_mutex_unlock(&s->lock);
        fn(ud);
        pthread_mutex_lock(&s->lock);
        s->in_cb = 0;
        pthread_cond_broadcast(&s->cond);
    }
}

static void stream_cancel(mock_stream *s)
{
    pthread_mutex_lock(&s->lock);
    stream_cancel_locked(s);
    pthread_mutex_unlock(&s->lock);
}

/* Peer closed? (non-blocking check on the client socket) */
static int peer_gone(int fd)
{
    if (fd < 0)
        return 0;
    struct pollfd p = {.fd = fd, .events = POLLIN | POLLRDHUP};
    if (poll(&p, 1, 0) <= 0)
        return 0;
    if (p.revents & (POLLHUP | POLLERR | POLLNVAL | POLLRDHUP))
        return 1;
    if (p.revents & POLLIN) {
        char c;
        ssize_t n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
        if (n == 0)
            return 1;
    }
    return 0;
}

/* MHD content reader: runs on the connection's own thread (thread-per-connection) and blocks
 * on the condition variable until data, end, or cancellation; it never returns 0, so MHD never
 * spins. While idle it checks every STREAM_POLL_MS whether the client went away. */
static ssize_t stream_reader(void *cls, uint64_t pos, char *out, size_t max)
{
    (void)pos;
    mock_stream *s = cls;
    pthread_mutex_lock(&s->lock);
    for (;;) {
        if (atomic_load(&s->cancelled)) {
            pthread_mutex_unlock(&s->lock);
            return MHD_CONTENT_READER_END_WITH_ERROR;
        }
        if (s->len > 0) {
            size_t n = s->len < max ? s->len : max;
            memcpy(out, s->buf + s->head, n);
            s->head += n;
            s->len -= n;
            if (s->len == 0)
                s->head = 0;
            pthread_cond_broadcast(&s->cond); /* room for a blocked writer */
            pthread_mutex_unlock(&s->lock);
            return (ssize_t)n;
        }
        if (s->closed) {
            pthread_mutex_unlock(&s->lock);
            return MHD_CONTENT_READER_END_OF_STREAM;
        }
        cond_wait_ms(&s->cond, &s->lock, STREAM_POLL_MS);
        if (!atomic_load(&s->cancelled) && s->len == 0 && !s->closed &&
            (peer_gone(s->fd) || (s->srv && atomic_load(&s->srv->stopping))))
            stream_cancel_locked(s);
    }
}

/* MHD is done with the response (sent, failed, or never queued). */
static void stream_free_cb(void *cls)
{
    mock_stream *s = cls;
    mock_server *srv = s->srv;
    if (srv) {
        pthread_mutex_lock(&srv->streams_lock);
        if (s->listed) {
            if (s->prev)
                s->prev->next = s->next;
            else
                srv->streams = s->next;
            if (s->next)
                s->next->prev = s->prev;
            s->listed = 0;
        }
        pthread_mutex_unlock(&srv->streams_lock);
    }
    pthread_mutex_lock(&s->lock);
    if (!s->closed || s->len > 0)
        stream_cancel_locked(s); /* consumer gone before the producer finished */
    s->fd = -1;
    pthread_mutex_unlock(&s->lock);
    stream_release(s);
}

mock_response *mock_resp_stream(int status, const char *content_type, mock_stream **out)
{
    *out = NULL;
    mock_stream *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    pthread_mutex_init(&s->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cond, &ca);
    pthread_condattr_destroy(&ca);
    atomic_init(&s->refs, 2); /* producer + MHD response */
    s->fd = -1;
    struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, STREAM_BLOCK,
                                                               stream_reader, s, stream_free_cb);
    if (!r) {
        atomic_store(&s->refs, 1);
        stream_release(s);
        return NULL;
    }
    mock_response *res = resp_wrap(status, r); /* on failure destroys r -> free_cb */
    if (!res) {
        stream_release(s);
        return NULL;
    }
    res->stream = s;
    if (content_type && mock_resp_header(res, MHD_HTTP_HEADER_CONTENT_TYPE, content_type)) {
        mock_resp_free(res);
        stream_release(s);
        return NULL;
    }
    /* proxies / curl must not buffer */
    mock_resp_header(res, "Cache-Control", "no-cache");
    *out = s;
    return res;
}

int mock_stream_write(mock_stream *s, const void *data, size_t len)
{
    pthread_mutex_lock(&s->lock);
    while (!atomic_load(&s->cancelled) && !s->closed && s->len >= STREAM_HIGH_WATER)
        cond_wait_ms(&s->cond, &s->lock, STREAM_POLL_MS);
    if (atomic_load(&s->cancelled) || s->closed) {
        pthread_mutex_unlock(&s->lock);
        return -1;
    }
    if (len == 0) {
        pthread_mutex_unlock(&s->lock);
        return 0;
    }
    if (s->head > 0 && s->head + s->len + len > s->cap) {
        memmove(s->buf, s->buf + s->head, s->len);
        s->head = 0;
    }
    if (s->len + len > s->cap) {
        size_t cap = s->cap ? s->cap : 4096;
        while (cap < s->len + len)
            cap *= 2;
        char *nb = realloc(s->buf, cap);
        if (!nb) {
            pthread_mutex_unlock(&s->lock);
            return -1;
        }
        s->buf = nb;
        s->cap = cap;
    }
    memcpy(s->buf + s->head + s->len, data, len);
    s->len += len;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
    return 0;
}

int mock_stream_printf(mock_stream *s, const char *fmt, ...)
{
    char *txt = NULL;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&txt, fmt, ap);
    va_end(ap);
    if (n < 0)
        return -1;
    int rc = mock_stream_write(s, txt, (size_t)n);
    free(txt);
    return rc;
}

void mock_stream_close(mock_stream *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->lock);
    s->closed = 1;
    s->cancel_fn = NULL;
    while (s->in_cb)
        cond_wait_ms(&s->cond, &s->lock, STREAM_POLL_MS);
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
    stream_release(s);
}

int mock_stream_cancelled(mock_stream *s)
{
    return atomic_load(&s->cancelled);
}

void mock_stream_on_cancel(mock_stream *s, void (*fn)(void *ud), void *ud)
{
    pthread_mutex_lock(&s->lock);
    s->cancel_fn = fn;
    s->cancel_ud = ud;
    s->cb_done = 0;
    if (atomic_load(&s->cancelled))
        stream_cancel_locked(s);
    pthread_mutex_unlock(&s->lock);
}

/* ================================================================== routes */

static void route_clear(route *r)
{
    free(r->method);
    free(r->pattern);
    for (size_t i = 0; i < r->nsegs; i++)
        free(r->segs[i]);
    free(r->segs);
}

/* Splits "/a/b/c" into segments (empty segments kept, leading slash dropped). */
static int split_path(const char *p, char ***out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (*p != '/')
        return -1;
    size_t cnt = 1;
    for (const char *q = p + 1; *q; q++)
        cnt += *q == '/';
    char **v = calloc(cnt, sizeof *v);
    if (!v)
        return -1;
    const char *start = p + 1;
    for (size_t i = 0; i < cnt; i++) {
        const char *end = strchr(start, '/');
        size_t len = end ? (size_t)(end - start) : strlen(start);
        v[i] = strndup(start, len);
        if (!v[i]) {
            for (size_t j = 0; j < i; j++)
                free(v[j]);
            free(v);
            return -1;
        }
        start = end ? end + 1 : start + len;
    }
    *out = v;
    *n = cnt;
    return 0;
}

static int is_capture(const char *seg)
{
    size_t n = strlen(seg);
    return n >= 3 && seg[0] == '{' && seg[n - 1] == '}';
}

int mock_route_add_upload(mock_server *s, int port, const char *method, const char *pattern,
                          mock_handler_fn handler, mock_upload_fn on_upload_chunk, unsigned flags)
{
    if (!s || !method || !pattern || !handler || pattern[0] != '/')
        return -1;
    route r = {0};
    r.port = port;
    r.flags = flags;
    r.handler = handler;
    r.upload = on_upload_chunk;
    r.method = strdup(method);
    r.pattern = strdup(pattern);
    if (!r.method || !r.pattern)
        goto fail;
    if (!(flags & MOCK_ROUTE_PREFIX)) {
        if (split_path(pattern, &r.segs, &r.nsegs) != 0)
            goto fail;
        size_t caps = 0;
        for (size_t i = 0; i < r.nsegs; i++) {
            if (is_capture(r.segs[i]))
                caps++;
            else
                r.nliteral++;
        }
        if (caps > MAX_PARAMS)
            goto fail;
    }
    if (s->nroutes == s->routes_cap) {
        size_t cap = s->routes_cap ? s->routes_cap * 2 : 32;
        route *v = realloc(s->routes, cap * sizeof *v);
        if (!v)
            goto fail;
        s->routes = v;
        s->routes_cap = cap;
    }
    s->routes[s->nroutes++] = r;
    return 0;
fail:
    route_clear(&r);
    return -1;
}

int mock_route_add(mock_server *s, int port, const char *method, const char *pattern,
                   mock_handler_fn handler, unsigned flags)
{
    return mock_route_add_upload(s, port, method, pattern, handler, NULL, flags);
}

/* Does route r match path? Fills captures into priv when priv != NULL. Walks the path in
 * place (no allocation unless capturing). "/a/b/" has three segments, the last one empty. */
static int route_match_path(const route *r, const char *path, struct mock_req_priv *priv)
{
    if (r->flags & MOCK_ROUTE_PREFIX) {
        size_t pl = strlen(r->pattern);
        if (strncmp(path, r->pattern, pl) != 0)
            return 0;
        if (priv) {
            priv->prefix_rest = strdup(path + pl);
            if (!priv->prefix_rest)
                return 0;
        }
        return 1;
    }
    if (*path != '/')
        return 0;
    for (int pass = 0; pass < (priv ? 2 : 1); pass++) {
        const char *p = path + 1;
        for (size_t i = 0; i < r->nsegs; i++) {
            const char *end = strchr(p, '/');
            size_t len = end ? (size_t)(end - p) : strlen(p);
            int last = i + 1 == r->nsegs;
            if (last != (end == NULL))
                return 0; /* more or fewer segments than the pattern */
            const char *seg = r->segs[i];
            if (is_capture(seg)) {
                if (len == 0)
                    return 0;
                if (pass == 1) {
                    priv->pnames[priv->nparams] = seg;
                    priv->pvalues[priv->nparams] = strndup(p, len);
                    if (!priv->pvalues[priv->nparams])
                        return 0;
                    priv->nparams++;
                }
            } else if (strlen(seg) != len || memcmp(seg, p, len) != 0) {
                return 0;
            }
            p = end ? end + 1 : p + len;
        }
    }
    return 1;
}

/* Ranks: exact patterns above prefixes; more literal segments / longer prefixes first;
 * then registration order. Returns the best route or NULL; *path_matched tells whether any
 * route matched the path (for 405). */
static const route *route_find(const mock_server *s, int port, const char *method, const char *path,
                               int *path_matched)
{
    *path_matched = 0;
    const route *best = NULL;
    long best_score = -1;
    for (size_t i = 0; i < s->nroutes; i++) {
        const route *r = &s->routes[i];
        if (r->port != port || !route_match_path(r, path, NULL))
            continue;
        *path_matched = 1;
        if (strcmp(r->method, "*") != 0 && strcasecmp(r->method, method) != 0 &&
            !(strcmp(method, "HEAD") == 0 && strcmp(r->method, "GET") == 0))
            continue; /* HEAD is served by GET routes; MHD drops the body */
        long score = (r->flags & MOCK_ROUTE_PREFIX) ? (long)strlen(r->pattern)
                                                    : 1000000L + (long)r->nliteral;
        if (score > best_score) {
            best = r;
            best_score = score;
        }
    }
    return best;
}

const char *mock_route_lookup(const mock_server *s, int port, const char *method, const char *path,
                              int *status)
{
    int matched = 0;
    const route *r = route_find(s, port, method, path, &matched);
    if (status)
        *status = r ? 200 : matched ? 405 : 404;
    return r ? r->pattern : NULL;
}

static int port_has_routes(const mock_server *s, int port)
{
    for (size_t i = 0; i < s->nroutes; i++)
        if (s->routes[i].port == port)
            return 1;
    return 0;
}

/* ================================================================== requests */

const char *mock_req_header(const mock_request *req, const char *name)
{
    return MHD_lookup_connection_value(req->priv->conn, MHD_HEADER_KIND, name);
}

const char *mock_req_query(const mock_request *req, const char *name)
{
    const char *v = MHD_lookup_connection_value(req->priv->conn, MHD_GET_ARGUMENT_KIND, name);
    if (!v) {
        /* present without a value ("?flag") */
        if (MHD_lookup_connection_value_n(req->priv->conn, MHD_GET_ARGUMENT_KIND, name,
                                          strlen(name), NULL, NULL) == MHD_YES)
            return "";
    }
    return v;
}

typedef struct each_ctx {
    int (*fn)(const char *, const char *, void *);
    void *ud;
} each_ctx;

static enum MHD_Result each_header_cb(void *cls, enum MHD_ValueKind kind, const char *key,
                                      const char *value)
{
    (void)kind;
    each_ctx *c = cls;
    return c->fn(key, value ? value : "", c->ud) ? MHD_NO : MHD_YES;
}

void mock_req_each_header(const mock_request *req,
                          int (*fn)(const char *key, const char *value, void *ud), void *ud)
{
    each_ctx c = {fn, ud};
    MHD_get_connection_values(req->priv->conn, MHD_HEADER_KIND, each_header_cb, &c);
}

const char *mock_req_param(const mock_request *req, const char *name)
{
    const struct mock_req_priv *p = req->priv;
    if (strcmp(name, "*") == 0)
        return p->prefix_rest;
    for (size_t i = 0; i < p->nparams; i++) {
        const char *n = p->pnames[i]; /* "{id}" */
        size_t nl = strlen(n) - 2;
        if (strlen(name) == nl && strncmp(n + 1, name, nl) == 0)
            return p->pvalues[i];
    }
    return NULL;
}

struct MHD_Connection *mock_req_connection(mock_request *req)
{
    return req->priv->conn;
}

cJSON *mock_req_json(const mock_request *req)
{
    if (!req->body || req->body_len == 0)
        return NULL;
    return cJSON_ParseWithLength(req->body, req->body_len);
}

int mock_req_on_done(mock_request *req, void (*fn)(mock_request *req))
{
    struct mock_req_priv *p = req->priv;
    if (p->ndone >= MAX_DONE)
        return -1;
    p->done[p->ndone++] = fn;
    return 0;
}

/* ================================================================== server data */

int mock_server_set_data(mock_server *s, const char *key, void *data, void (*free_fn)(void *))
{
    pthread_mutex_lock(&s->data_lock);
    for (size_t i = 0; i < s->ndata; i++) {
        if (strcmp(s->data[i].key, key) == 0) {
            if (s->data[i].free_fn && s->data[i].data != data)
                s->data[i].free_fn(s->data[i].data);
            s->data[i].data = data;
            s->data[i].free_fn = free_fn;
            pthread_mutex_unlock(&s->data_lock);
            return 0;
        }
    }
    data_entry *v = realloc(s->data, (s->ndata + 1) * sizeof *v);
    char *k = strdup(key);
    if (!v || !k) {
        if (v)
            s->data = v;
        free(k);
        pthread_mutex_unlock(&s->data_lock);
        return -1;
    }
    s->data = v;
    s->data[s->ndata++] = (data_entry){k, data, free_fn};
    pthread_mutex_unlock(&s->data_lock);
    return 0;
}

void *mock_server_get_data(mock_server *s, const char *key)
{
    void *d = NULL;
    pthread_mutex_lock(&s->data_lock);
    for (size_t i = 0; i < s->ndata; i++)
        if (strcmp(s->data[i].key, key) == 0)
            d = s->data[i].data;
    pthread_mutex_unlock(&s->data_lock);
    return d;
}

unsigned short mock_server_port(const mock_server *s)
{
    return s->port;
}
const char *mock_server_url(const mock_server *s)
{
    return s->url;
}
mock_store *mock_server_store(mock_server *s)
{
    return s->store;
}
unsigned mock_server_max_timeout_s(const mock_server *s)
{
    return s->max_timeout_s;
}
unsigned mock_server_create_latency_ms(const mock_server *s)
{
    return s->create_latency_ms;
}

int mock_server_stopping(mock_server *s)
{
    return atomic_load(&s->stopping);
}

int mock_server_sleep_ms(mock_server *s, unsigned ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&s->stop_lock);
    int rc = 0;
    while (!atomic_load(&s->stopping) && rc == 0)
        rc = pthread_cond_timedwait(&s->stop_cond, &s->stop_lock, &ts);
    int stopped = atomic_load(&s->stopping);
    pthread_mutex_unlock(&s->stop_lock);
    return stopped ? -1 : 0;
}

/* ================================================================== dispatch */

static mock_response *proxy_error(const char *sandbox_id, int port, const char *msg)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    cJSON_AddStringToObject(o, "sandboxId", sandbox_id);
    cJSON_AddStringToObject(o, "message", msg);
    if (port > 0)
        cJSON_AddNumberToObject(o, "port", port);
    cJSON_AddNumberToObject(o, "code", 502);
    char *txt = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!txt)
        return NULL;
    return mock_resp_take(502, "application/json; charset=utf-8", txt, strlen(txt));
}

/* Parses "<port>-<sandboxID>" from the left-most label of a Host header. */
static int host_route(const char *host, int *port, char *id, size_t idlen)
{
    if (!host)
        return 0;
    const char *dot = strchr(host, '.');
    if (!dot)
        return 0;
    const char *dash = memchr(host, '-', (size_t)(dot - host));
    if (!dash || dash == host || dash + 1 == dot)
        return 0;
    long p = 0;
    for (const char *c = host; c < dash; c++) {
        if (*c < '0' || *c > '9' || p > 65535)
            return 0;
        p = p * 10 + (*c - '0');
    }
    size_t n = (size_t)(dot - dash - 1);
    if (n >= idlen || p <= 0 || p > 65535)
        return 0;
    for (const char *c = dash + 1; c < dot; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_'))
            return 0;
    memcpy(id, dash + 1, n);
    id[n] = '\0';
    *port = (int)p;
    return 1;
}

static int api_key_ok(mock_server *s, const char *key)
{
    if (!key || !*key)
        return 0;
    if (s->n_api_keys == 0)
        return 1;
    for (size_t i = 0; i < s->n_api_keys; i++)
        if (strcmp(s->api_keys[i], key) == 0)
            return 1;
    return 0;
}

/* First call of a request: decides the route (or an early error response). */
static void dispatch_begin(mock_server *s, req_ctx *c, const char *url, const char *method)
{
    mock_request *req = &c->req;
    struct mock_req_priv *p = &c->priv;
    const char *hid = mock_req_header(req, "E2b-Sandbox-Id");
    const char *hport = mock_req_header(req, "E2b-Sandbox-Port");
    int port = MOCK_PORT_CONTROL;
    int sandbox_req = 0;
    if (hid || hport) {
        char *end = NULL;
        long v = hport ? strtol(hport, &end, 10) : 0;
        if (!hid || !*hid || !hport || !*hport || *end != '\0' || v <= 0 || v > 65535) {
            p->early = mock_resp_error(400, "both E2b-Sandbox-Id and E2b-Sandbox-Port "
                                            "(an integer) are required");
            return;
        }
        snprintf(p->sandbox_id, sizeof p->sandbox_id, "%s", hid);
        port = (int)v;
        sandbox_req = 1;
    } else if (host_route(mock_req_header(req, "Host"), &port, p->sandbox_id,
                          sizeof p->sandbox_id)) {
        sandbox_req = 1;
    }
    req->port = port;

    if (sandbox_req) {
        req->sandbox_id = p->sandbox_id;
        mock_sandbox *sbx = store_get(s->store, p->sandbox_id);
        if (sbx && store_sandbox_state(sbx) == MOCK_SBX_PAUSED && store_sandbox_auto_resume(sbx)) {
            int resumed = 0;
            store_connect(s->store, sbx->id, 300 * 1000, &resumed);
        }
        if (!sbx || store_sandbox_state(sbx) != MOCK_SBX_RUNNING) {
            store_release(sbx);
            p->early = proxy_error(p->sandbox_id, 0, "The sandbox was not found");
            return;
        }
        req->sandbox = sbx;
        if (!port_has_routes(s, port)) {
            p->early = proxy_error(p->sandbox_id, port,
                                   "The sandbox is running but port is not open");
            return;
        }
    }

    int path_matched = 0;
    const route *r = route_find(s, port, method, url, &path_matched);
    if (!r) {
        if (path_matched)
            p->early = mock_resp_error(405, "method %s not allowed for %s", method, url);
        else
            p->early = mock_resp_error(404, "no route for %s %s", method, url);
        return;
    }
    if (!sandbox_req && !(r->flags & MOCK_ROUTE_NO_AUTH)) {
        const char *key = mock_req_header(req, "X-API-Key");
        const char *auth = mock_req_header(req, "Authorization");
        if ((!key || !*key) && auth && strncasecmp(auth, "Bearer ", 7) == 0)
            key = auth + 7;
        if (!key || !*key) {
            p->early = mock_resp_error(401, "authorization header is missing");
            return;
        }
        if (!api_key_ok(s, key)) {
            p->early = mock_resp_error(401, "Invalid API key");
            return;
        }
    }
    if (sandbox_req && (r->flags & MOCK_ROUTE_ACCESS_TOKEN)) {
        const char *tok = mock_req_header(req, "X-Access-Token");
        if (!tok || strcmp(tok, req->sandbox->access_token) != 0) {
            p->early = mock_resp_error(401, "unauthorized access, please provide a valid access "
                                            "token or method signing if supported");
            return;
        }
    }
    /* captures */
    if (!route_match_path(r, url, p))
        p->early = mock_resp_error(500, "out of memory");
    else
        p->route = r;
}

static enum MHD_Result queue(mock_server *s, struct MHD_Connection *conn, mock_response *res,
                             const mock_request *req)
{
    if (!res)
        res = mock_resp_error(500, "internal error");
    if (!res) {
        static const char oom[] = "{\"code\":500,\"message\":\"out of memory\"}";
        struct MHD_Response *r = MHD_create_response_from_buffer(sizeof oom - 1, (void *)oom,
                                                                 MHD_RESPMEM_PERSISTENT);
        if (!r)
            return MHD_NO;
        enum MHD_Result rc = MHD_queue_response(conn, 500, r);
        MHD_destroy_response(r);
        return rc;
    }
    if (res->stream) {
        mock_stream *st = res->stream;
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(
            conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        pthread_mutex_lock(&st->lock);
        st->fd = ci ? ci->connect_fd : -1;
        st->srv = s;
        if (req && req->sandbox)
            snprintf(st->sandbox_id, sizeof st->sandbox_id, "%s", req->sandbox->id);
        pthread_mutex_unlock(&st->lock);
        pthread_mutex_lock(&s->streams_lock);
        st->next = s->streams;
        st->prev = NULL;
        if (s->streams)
            s->streams->prev = st;
        s->streams = st;
        st->listed = 1;
        pthread_mutex_unlock(&s->streams_lock);
        if (atomic_load(&s->stopping))
            stream_cancel(st);
    }
    enum MHD_Result rc = MHD_queue_response(conn, (unsigned)res->status, res->r);
    mock_resp_free(res);
    return rc;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **req_cls)
{
    (void)version;
    mock_server *s = cls;
    req_ctx *c = *req_cls;
    if (!c) {
        c = calloc(1, sizeof *c);
        if (!c)
            return MHD_NO;
        c->req.priv = &c->priv;
        c->req.server = s;
        c->req.method = method;
        c->priv.conn = conn;
        c->priv.path = strdup(url);
        c->req.path = c->priv.path;
        *req_cls = c;
        if (!c->priv.path)
            c->priv.early = NULL; /* answered 500 below */
        else
            dispatch_begin(s, c, url, method);
        if (!c->priv.path && !c->priv.early)
            c->priv.early = mock_resp_error(500, "out of memory");
        return MHD_YES; /* two-call idiom: queueing now would cost keep-alive */
    }
    struct mock_req_priv *p = &c->priv;
    if (*upload_data_size > 0) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        int buffer_all = s->hooks.buffer_all_bodies;
        if (p->early && !buffer_all)
            return MHD_YES; /* drain */
        if (p->route && p->route->upload && !buffer_all) {
            if (!p->upload_stopped && p->route->upload(&c->req, upload_data, n) != 0)
                p->upload_stopped = 1;
            return MHD_YES;
        }
        if (p->len + n > MAX_BODY) {
            mock_resp_free(p->early);
            p->early = mock_resp_error(413, "request body too large");
            return MHD_YES;
        }
        if (p->len + n + 1 > p->cap) {
            size_t cap = p->cap ? p->cap : 1024;
            while (cap < p->len + n + 1)
                cap *= 2;
            char *nb = realloc(p->buf, cap);
            if (!nb) {
                mock_resp_free(p->early);
                p->early = mock_resp_error(500, "out of memory");
                return MHD_YES;
            }
            p->buf = nb;
            p->cap = cap;
        }
        memcpy(p->buf + p->len, upload_data, n);
        p->len += n;
        return MHD_YES;
    }
    /* final call: the body is complete */
    mock_response *res = NULL;
    if (s->hooks.buffer_all_bodies || (!p->early && !p->route->upload)) {
        if (!p->buf)
            p->buf = calloc(1, 1);
        if (p->buf)
            p->buf[p->len] = '\0';
        c->req.body = p->buf;
        c->req.body_len = p->len;
    }
    int hook = 0;
    if (s->hooks.before) {
        const char *body = c->req.body;
        if (!body)
            c->req.body = ""; /* the hook always sees a string; upload routes keep NULL */
        hook = s->hooks.before(&c->req, &res, s->hooks.ud);
        c->req.body = body;
        if (hook < 0)
            return MHD_NO; /* scripted fault: MHD closes the connection */
    }
    if (hook == 1) {
        mock_resp_free(p->early);
        p->early = NULL;
    } else if (p->early) {
        res = p->early;
        p->early = NULL;
    } else {
        res = p->route->handler(&c->req);
    }
    if (s->hooks.after && s->hooks.after(&c->req, res ? res->status : 500, s->hooks.ud) < 0) {
        if (res && res->stream)
            stream_cancel(res->stream);
        mock_resp_free(res);
        return MHD_NO;
    }
    if (mock_log_level() >= MOCK_LOG_DEBUG)
        mock_log(MOCK_LOG_DEBUG, "%s %s port=%d sandbox=%s -> %d", method, url, c->req.port,
                 c->req.sandbox_id ? c->req.sandbox_id : "-", res ? res->status : 500);
    return queue(s, conn, res, &c->req);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    req_ctx *c = *req_cls;
    if (!c)
        return;
    struct mock_req_priv *p = &c->priv;
    for (size_t i = 0; i < p->ndone; i++)
        p->done[i](&c->req);
    mock_resp_free(p->early);
    store_release(c->req.sandbox);
    for (size_t i = 0; i < p->nparams; i++)
        free(p->pvalues[i]);
    free(p->prefix_rest);
    free(p->buf);
    free(p->path);
    free(c);
    *req_cls = NULL;
}

static void mhd_logger(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char buf[512];
    vsnprintf(buf, sizeof buf, fmt, ap);
    mock_log(MOCK_LOG_DEBUG, "mhd: %s", buf);
}

/* Cancels every live stream (of one sandbox when id != NULL; see mock_server_cancel_streams). */
static void cancel_streams(mock_server *s, const char *id)
{
    for (;;) {
        pthread_mutex_lock(&s->streams_lock);
        mock_stream *st = s->streams;
        while (st && (atomic_load(&st->cancelled) || (id && strcmp(st->sandbox_id, id) != 0)))
            st = st->next;
        if (st)
            atomic_fetch_add(&st->refs, 1);
        pthread_mutex_unlock(&s->streams_lock);
        if (!st)
            return;
        stream_cancel(st);
        stream_release(st);
    }
}

void mock_server_cancel_streams(mock_server *s, const char *sandbox_id)
{
    cancel_streams(s, sandbox_id);
}

/* ================================================================== hooks */

void mock_server_set_hooks(mock_server *s, const mock_hooks *h)
{
    if (h)
        s->hooks = *h;
    else
        memset(&s->hooks, 0, sizeof s->hooks);
}

int mock_req_fd(mock_request *req)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(req->priv->conn,
                                                                 MHD_CONNECTION_INFO_CONNECTION_FD);
    return ci ? ci->connect_fd : -1;
}

int mock_resp_status(const mock_response *r)
{
    return r ? r->status : 0;
}

/* ================================================================== lifecycle */

static int make_root(mock_server *s, const char *root)
{
    if (root) {
        if (mock_mkdir_p(root, 0755) != 0) {
            mock_log(MOCK_LOG_ERROR, "cannot create root %s: %s", root, strerror(errno));
            return -1;
        }
        s->root = realpath(root, NULL);
        return s->root ? 0 : -1;
    }
    const char *tmp = getenv("TMPDIR");
    if (!tmp || !*tmp)
        tmp = "/tmp";
    char *templ = NULL;
    if (asprintf(&templ, "%s/e2b-mock-XXXXXX", tmp) < 0)
        return -1;
    if (!mkdtemp(templ)) {
        mock_log(MOCK_LOG_ERROR, "mkdtemp %s: %s", templ, strerror(errno));
        free(templ);
        return -1;
    }
    s->root = templ;
    s->root_is_temp = 1;
    return 0;
}

mock_server *mock_server_new(const mock_server_config *cfg)
{
    mock_server_config defaults = {0};
    if (!cfg)
        cfg = &defaults;
    mock_server *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    pthread_mutex_init(&s->data_lock, NULL);
    pthread_mutex_init(&s->streams_lock, NULL);
    pthread_mutex_init(&s->stop_lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->stop_cond, &ca);
    pthread_condattr_destroy(&ca);
    s->host = strdup(cfg->host ? cfg->host : "127.0.0.1");
    s->create_latency_ms = cfg->create_latency_ms;
    s->max_timeout_s = cfg->max_timeout_s ? cfg->max_timeout_s : 3600;
    if (!s->host)
        goto fail;
    if (cfg->n_api_keys) {
        s->api_keys = calloc(cfg->n_api_keys, sizeof *s->api_keys);
        if (!s->api_keys)
            goto fail;
        for (size_t i = 0; i < cfg->n_api_keys; i++)
            if (!(s->api_keys[s->n_api_keys++] = strdup(cfg->api_keys[i])))
                goto fail;
    }
    if (make_root(s, cfg->root) != 0)
        goto fail;
    s->store = store_new(s->root);
    if (!s->store)
        goto fail;
    if (cfg->fixtures_dir)
        mock_server_set_data(s, "fixtures_dir", strdup(cfg->fixtures_dir), free);

    for (size_t i = 0; e2b_mock_modules[i]; i++) {
        mock_module *m = e2b_mock_modules[i];
        if (m->init && m->init(s) != 0) {
            mock_log(MOCK_LOG_ERROR, "module %s failed to initialise", m->name);
            goto fail;
        }
    }

    struct addrinfo hints = {0}, *ai = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV | AI_PASSIVE;
    char portbuf[16];
    snprintf(portbuf, sizeof portbuf, "%u", (unsigned)cfg->port);
    int gai = getaddrinfo(s->host, portbuf, &hints, &ai);
    if (gai != 0 || !ai) {
        mock_log(MOCK_LOG_ERROR, "cannot resolve %s: %s", s->host, gai_strerror(gai));
        goto fail;
    }
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                     MHD_USE_POLL | MHD_USE_ERROR_LOG | MHD_USE_ITC;
    if (ai->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    s->daemon = MHD_start_daemon(flags, cfg->port, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR,
                                 ai->ai_addr, MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                                 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)CONNECTION_TIMEOUT_S,
                                 MHD_OPTION_CONNECTION_LIMIT, (unsigned)2000,
                                 MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, s, MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!s->daemon) {
        mock_log(MOCK_LOG_ERROR, "cannot listen on %s:%u", s->host, (unsigned)cfg->port);
        goto fail;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = di ? di->port : cfg->port;
    if (strchr(s->host, ':'))
        snprintf(s->url, sizeof s->url, "http://[%s]:%u", s->host, (unsigned)s->port);
    else
        snprintf(s->url, sizeof s->url, "http://%s:%u", s->host, (unsigned)s->port);
    if (s->n_api_keys == 0)
        mock_log(MOCK_LOG_WARN, "no --api-key given: any non-empty X-API-Key is accepted");
    return s;
fail:
    mock_server_free(s);
    return NULL;
}

void mock_server_free(mock_server *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->stop_lock);
    atomic_store(&s->stopping, 1);
    pthread_cond_broadcast(&s->stop_cond);
    pthread_mutex_unlock(&s->stop_lock);
    if (s->daemon) { /* stop accepting; the listen socket is ours to close now */
        MHD_socket ls = MHD_quiesce_daemon(s->daemon);
        if (ls != MHD_INVALID_SOCKET)
            close(ls);
    }
    cancel_streams(s, NULL); /* wake every streaming response */
    for (size_t i = 0; e2b_mock_modules[i]; i++)
        if (e2b_mock_modules[i]->stop && s->store)
            e2b_mock_modules[i]->stop(s);
    if (s->store)
        store_kill_all(s->store);
    if (s->daemon)
        MHD_stop_daemon(s->daemon);
    store_free(s->store);
    for (size_t i = s->ndata; i-- > 0;) {
        if (s->data[i].free_fn)
            s->data[i].free_fn(s->data[i].data);
        free(s->data[i].key);
    }
    free(s->data);
    for (size_t i = 0; i < s->nroutes; i++)
        route_clear(&s->routes[i]);
    free(s->routes);
    if (s->root && s->root_is_temp)
        mock_rm_rf(s->root);
    free(s->root);
    for (size_t i = 0; i < s->n_api_keys; i++)
        free(s->api_keys[i]);
    free(s->api_keys);
    free(s->host);
    pthread_mutex_destroy(&s->data_lock);
    pthread_mutex_destroy(&s->streams_lock);
    pthread_mutex_destroy(&s->stop_lock);
    pthread_cond_destroy(&s->stop_cond);
    free(s);
}
