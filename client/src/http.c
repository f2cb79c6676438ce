/* http.c - the pooled libcurl transport (see http.h). */
#include "http.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "client_internal.h"
#include "json_util.h"
#include "strbuf.h"

#define DEFAULT_MAX_BODY ((size_t)256 * 1024 * 1024)
#define RETRY_WINDOW_NO_TIMEOUT_MS 60000L /* JS: 60 s when requestTimeoutMs is 0 */

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- pool --------------------------------------------------------------------------- */

static void slot_destroy(e2b_http_slot *s)
{
    if (!s)
        return;
    if (s->multi)
        curl_multi_cleanup(s->multi);
    if (s->easy)
        curl_easy_cleanup(s->easy);
    free(s);
}

/* Takes a warm slot (or makes one) and links it into the active list. NULL on oom. */
static e2b_http_slot *slot_acquire(e2b_client *c)
{
    pthread_mutex_lock(&c->pool_mu);
    e2b_http_slot *s = c->idle;
    if (s)
        c->idle = s->next;
    pthread_mutex_unlock(&c->pool_mu);
    if (!s) {
        s = calloc(1, sizeof *s);
        if (!s)
            return NULL;
        s->easy = curl_easy_init();
        s->multi = curl_multi_init();
        if (!s->easy || !s->multi) {
            slot_destroy(s);
            return NULL;
        }
        /* Survives curl_easy_reset (shares are kept). */
        curl_easy_setopt(s->easy, CURLOPT_SHARE, c->share);
    }
    pthread_mutex_lock(&c->pool_mu);
    s->prev = NULL;
    s->next = c->active;
    if (c->active)
        c->active->prev = s;
    c->active = s;
    pthread_mutex_unlock(&c->pool_mu);
    return s;
}

/* Unlinks s from the active list; returns it to the idle list (keep = true) or frees it. */
static void slot_release(e2b_client *c, e2b_http_slot *s, bool keep)
{
    pthread_mutex_lock(&c->pool_mu);
    if (s->prev)
        s->prev->next = s->next;
    else
        c->active = s->next;
    if (s->next)
        s->next->prev = s->prev;
    s->prev = NULL;
    if (keep) {
        s->next = c->idle;
        c->idle = s;
    }
    pthread_mutex_unlock(&c->pool_mu);
    if (!keep)
        slot_destroy(s);
}

void e2b_http_pool_destroy(e2b_client *c)
{
    pthread_mutex_lock(&c->pool_mu);
    e2b_http_slot *s = c->idle;
    c->idle = NULL;
    pthread_mutex_unlock(&c->pool_mu);
    while (s) {
        e2b_http_slot *n = s->next;
        slot_destroy(s);
        s = n;
    }
}

/* ---- response ----------------------------------------------------------------------- */

static void headers_clear(e2b_http_response *r)
{
    for (size_t i = 0; i < r->headers_len; i++)
        free(r->headers[i]);
    free(r->headers);
    r->headers = NULL;
    r->headers_len = 0;
    free(r->content_type);
    r->content_type = NULL;
}

void e2b_http_response_free(e2b_http_response *r)
{
    if (!r)
        return;
    headers_clear(r);
    free(r->body);
    memset(r, 0, sizeof *r);
}

const char *e2b_http_response_header(const e2b_http_response *r, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < r->headers_len; i++) {
        const char *h = r->headers[i];
        if (!strncasecmp(h, name, n) && h[n] == ':') {
            const char *v = h + n + 1;
            while (*v == ' ' || *v == '\t')
                v++;
            return v;
        }
    }
    return NULL;
}

/* ---- one transfer ------------------------------------------------------------------- */

typedef struct xfer {
    e2b_client *c;
    const e2b_http_request *req;
    e2b_http_response *resp;
    e2b_error *err;
    unsigned gen;
    bool headers_done;
    bool stream;     /* 2xx with on_data: hand the body over */
    bool will_retry; /* 429 that will be retried: swallow it */
    int retry_after_s;
    int retries_left;
    long long retry_deadline_ms; /* the retry must complete before this */
    long long headers_deadline_ms;
    e2b_code cb_code; /* set when a callback aborted the transfer */
    e2b_strbuf body;
    size_t body_cap;
    e2b_error cb_err; /* what a callback reported */
    CURL *easy;
    int sends; /* times libcurl was about to send the request in this attempt */
} xfer;

static bool cancelled(const xfer *x)
{
    return atomic_load(&x->c->cancel_gen) != x->gen ||
           (x->req->cancel && atomic_load(x->req->cancel));
}

/* Integer Retry-After, or -1. */
static int parse_retry_after(const char *v)
{
    if (!v)
        return -1;
    while (*v == ' ')
        v++;
    if (!isdigit((unsigned char)*v))
        return -1;
    char *end;
    errno = 0;
    long s = strtol(v, &end, 10);
    while (*end == ' ' || *end == '\r' || *end == '\n')
        end++;
    if (errno || *end || s < 0 || s > 86400)
        return -1;
    return (int)s;
}

int e2b_http_response_retry_after(const e2b_http_response *resp)
{
    return resp ? parse_retry_after(e2b_http_response_header(resp, "Retry-After")) : -1;
}

static void abort_with(xfer *x, e2b_code code, const e2b_error *e)
{
    if (x->cb_code != E2B_OK)
        return;
    x->cb_code = code;
    if (e && e->code == code)
        x->cb_err = *e;
    else
        e2b_error_set(&x->cb_err, code, (int)x->resp->status, "%s", e2b_code_name(code));
}

static void headers_complete(xfer *x, CURL *easy);

static size_t on_header_line(char *data, size_t size, size_t nmemb, void *ud)
{
    xfer *x = ud;
    size_t n = size * nmemb;
    if (x->cb_code != E2B_OK)
        return 0;
    e2b_http_response *r = x->resp;
    if (n >= 5 && !memcmp(data, "HTTP/", 5)) { /* a new response (after 1xx) */
        headers_clear(r);
        x->headers_done = false;
        return n;
    }
    size_t len = n;
    while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r'))
        len--;
    if (len == 0) { /* end of a header block; 1xx blocks are skipped */
        long status = 0;
        curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
        if (status >= 200)
            headers_complete(x, x->easy);
        return x->cb_code != E2B_OK ? 0 : n;
    }
    char *line = strndup(data, len);
    char **hs = line ? realloc(r->headers, (r->headers_len + 1) * sizeof *hs) : NULL;
    if (!hs) {
        free(line);
        abort_with(x, E2B_ERR_NO_MEMORY, NULL);
        return 0;
    }
    r->headers = hs;
    r->headers[r->headers_len++] = line;
    if (!strncasecmp(line, "Content-Type:", 13) && !r->content_type) {
        const char *v = line + 13;
        while (*v == ' ' || *v == '\t')
            v++;
        r->content_type = strdup(v);
    }
    return n;
}

/* Called once the final header block is complete (from the write callback or at the end
 * of a body-less response). */
static void headers_complete(xfer *x, CURL *easy)
{
    if (x->headers_done)
        return;
    x->headers_done = true;
    long status = 0;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    x->resp->status = status;
    x->will_retry = false;
    if (status == 429 && x->retries_left > 0) {
        int ra = parse_retry_after(e2b_http_response_header(x->resp, "Retry-After"));
        if (ra >= 0 && now_ms() + ra * 1000LL < x->retry_deadline_ms) {
            x->will_retry = true;
            x->retry_after_s = ra;
        }
    }
    x->stream = !x->will_retry && x->req->on_data && status >= 200 && status < 300;
    x->body_cap = x->stream || (x->req->on_data && !x->will_retry) ? E2B_HTTP_ERROR_BODY_MAX
                  : x->req->max_body                               ? x->req->max_body
                                                                   : DEFAULT_MAX_BODY;
    if (!x->will_retry && x->req->on_headers) {
        e2b_error e;
        e2b_error_clear(&e);
        e2b_code rc = x->req->on_headers(x->resp, x->req->ud, &e);
        if (rc != E2B_OK)
            abort_with(x, rc, &e);
    }
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
    xfer *x = ud;
    size_t n = size * nmemb;
    headers_complete(x, x->easy);
    if (x->cb_code != E2B_OK)
        return 0;
    if (x->stream) {
        e2b_error e;
        e2b_error_clear(&e);
        e2b_code rc = x->req->on_data(data, n, x->req->ud, &e);
        if (rc != E2B_OK) {
            abort_with(x, rc, &e);
            return 0;
        }
        return n;
    }
    size_t room = x->body_cap > x->body.len ? x->body_cap - x->body.len : 0;
    if (n > room) {
        if (x->req->on_data || x->will_retry) { /* error body: keep the head only */
            n = room;
        } else {
            e2b_error e;
            e2b_error_set(&e, E2B_ERR_PROTOCOL, (int)x->resp->status,
                          "response body larger than %zu bytes", x->body_cap);
            abort_with(x, E2B_ERR_PROTOCOL, &e);
            return 0;
        }
    }
    e2b_strbuf_append(&x->body, data, n);
    if (x->body.oom) {
        abort_with(x, E2B_ERR_NO_MEMORY, NULL);
        return 0;
    }
    return size * nmemb;
}

static int on_progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    (void)dt, (void)dn, (void)ut, (void)un;
    xfer *x = ud;
    if (x->cb_code != E2B_OK)
        return 1;
    if (cancelled(x)) {
        abort_with(x, E2B_ERR_CANCELLED, NULL);
        return 1;
    }
    return 0;
}

/* CURLOPT_PREREQFUNCTION: libcurl calls it right before it sends the request, once per
 * connection it sends it on. A second call within one transfer is libcurl's silent re-send
 * after a REUSED keep-alive connection died before any byte of the answer. Harmless when
 * the server never saw the first copy, a duplicate when it acted and the answer was lost:
 * refused for a request the server must not act on twice. */
static int on_prereq(void *ud, char *primary_ip, char *local_ip, int primary_port, int local_port)
{
    (void)primary_ip, (void)local_ip, (void)primary_port, (void)local_port;
    xfer *x = ud;
    if (++x->sends > 1 && x->req->non_idempotent) {
        e2b_error e;
        e2b_error_set(&e, E2B_ERR_NETWORK, 0,
                      "%s %s: the connection closed before any answer; not re-sent, as the "
                      "server may have acted on it",
                      x->req->method ? x->req->method : "request", x->req->url);
        abort_with(x, E2B_ERR_NETWORK, &e);
        return CURL_PREREQFUNC_ABORT;
    }
    return CURL_PREREQFUNC_OK;
}

typedef struct read_ctx {
    const e2b_http_request *req;
    xfer *x;
} read_ctx;

static size_t on_read(char *buf, size_t size, size_t nitems, void *ud)
{
    read_ctx *rc = ud;
    e2b_error e;
    e2b_error_clear(&e);
    size_t n = rc->req->read_fn(buf, size * nitems, rc->req->ud, &e);
    if (n == CURL_READFUNC_ABORT)
        abort_with(rc->x, e.code != E2B_OK ? e.code : E2B_ERR_IO, e.code != E2B_OK ? &e : NULL);
    return n;
}

/* Whether url's scheme is http or https (case-insensitive), the schemes libe2b speaks. */
static bool url_is_http(const char *url)
{
    return url && (!strncasecmp(url, "http://", 7) || !strncasecmp(url, "https://", 8));
}

static e2b_code map_curl(CURLcode cc, const xfer *x, const char *errbuf, e2b_error *err)
{
    const e2b_http_request *req = x->req;
    const char *detail = errbuf && *errbuf ? errbuf : curl_easy_strerror(cc);
    const char *method = req->method ? req->method : "request";
    e2b_code code;
    switch (cc) {
    case CURLE_OPERATION_TIMEDOUT:
        code = req->timeout_code != E2B_OK ? req->timeout_code : E2B_ERR_REQUEST_TIMEOUT;
        return e2b_error_set(err, code, 0, "%s %s: timed out (%s)", method, req->url, detail);
    case CURLE_URL_MALFORMAT: code = E2B_ERR_INVALID_ARGUMENT; break;
    case CURLE_UNSUPPORTED_PROTOCOL:
        /* The caller's fault only for a URL scheme libcurl cannot speak. With an http(s)
         * URL it is the server's: "Received HTTP/0.9 when not allowed" (curl >= 7.66) for
         * a reply that is not HTTP at all, or an unsupported HTTP version in the reply. */
        code = url_is_http(req->url) ? E2B_ERR_PROTOCOL : E2B_ERR_INVALID_ARGUMENT;
        break;
    case CURLE_OUT_OF_MEMORY: code = E2B_ERR_NO_MEMORY; break;
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_BAD_CONTENT_ENCODING:
    case CURLE_HTTP2:
    case CURLE_TOO_MANY_REDIRECTS: code = E2B_ERR_PROTOCOL; break;
    default: /* connect, DNS, send/recv, reset, empty reply, partial body, TLS */
        code = E2B_ERR_NETWORK;
        break;
    }
    return e2b_error_set(err, code, 0, "%s %s: %s", method, req->url, detail);
}

static e2b_code mime_build(CURL *easy, const e2b_http_request *req, curl_mime **out, e2b_error *err)
{
    curl_mime *m = curl_mime_init(easy);
    if (!m)
        return e2b_error_set(err, E2B_ERR_NO_MEMORY, 0, "out of memory");
    e2b_code rc = req->mime_fn(m, req->ud, err);
    if (rc != E2B_OK) {
        curl_mime_free(m);
        return rc;
    }
    *out = m;
    return E2B_OK;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {
    }
}

/* Waits ms unless cancelled; returns false when cancelled. */
static bool wait_retry(const xfer *x, long long ms)
{
    long long end = now_ms() + ms;
    for (;;) {
        if (cancelled(x))
            return false;
        long long left = end - now_ms();
        if (left <= 0)
            return true;
        sleep_ms(left < 20 ? (long)left : 20);
    }
}

/* One attempt on slot s. Returns E2B_OK when a full response arrived. */
static e2b_code attempt(e2b_client *c, e2b_http_slot *s, xfer *x, long timeout_ms,
                        struct curl_slist *hdrs, bool *reusable, e2b_error *err)
{
    const e2b_http_request *req = x->req;
    CURL *e = s->easy;
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_mime *mime = NULL;
    read_ctx rctx = {req, x};
    e2b_code rc;

    curl_easy_reset(e);
    x->easy = e;
    /* The string options are copied by libcurl and fail with CURLE_OUT_OF_MEMORY; unchecked,
     * a lost URL would surface later as "No URL set" (CURLE_URL_MALFORMAT, which map_curl
     * reports as the caller's invalid argument). */
    CURLcode sc = curl_easy_setopt(e, CURLOPT_URL, req->url);
    if (sc == CURLE_OK)
        sc = curl_easy_setopt(e, CURLOPT_USERAGENT, c->user_agent);
    if (sc != CURLE_OK)
        return map_curl(sc, x, NULL, err);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header_line);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(e, CURLOPT_XFERINFODATA, x);
    x->sends = 0;
    curl_easy_setopt(e, CURLOPT_PREREQFUNCTION, on_prereq);
    curl_easy_setopt(e, CURLOPT_PREREQDATA, x);
    if (timeout_ms > 0)
        curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
    long connect_ms = timeout_ms;
    if (req->headers_timeout_ms > 0 && (connect_ms <= 0 || req->headers_timeout_ms < connect_ms))
        connect_ms = req->headers_timeout_ms;
    if (connect_ms > 0)
        curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);

    const char *method = req->method;
    bool has_body = req->body || req->mime_fn || req->read_fn;
    if (!method)
        method = has_body ? "POST" : "GET";
    if (!strcmp(method, "GET") && !has_body) {
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    } else if (!strcmp(method, "HEAD")) {
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    } else {
        if (req->mime_fn) {
            if ((rc = mime_build(e, req, &mime, err)) != E2B_OK)
                return rc;
            curl_easy_setopt(e, CURLOPT_MIMEPOST, mime);
        } else if (req->read_fn) {
            curl_easy_setopt(e, CURLOPT_POST, 1L);
            curl_easy_setopt(e, CURLOPT_READFUNCTION, on_read);
            curl_easy_setopt(e, CURLOPT_READDATA, &rctx);
            curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->read_len);
        } else if (has_body || strcmp(method, "DELETE") != 0) {
            /* POST/PUT/PATCH: send the (possibly empty) body with Content-Length. */
            curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
            curl_easy_setopt(e, CURLOPT_POSTFIELDS, req->body ? (const char *)req->body : "");
        }
        if (strcmp(method, "POST") != 0 &&
            (sc = curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method)) != CURLE_OK) {
            curl_mime_free(mime);
            return map_curl(sc, x, NULL, err);
        }
    }

    CURLMcode mc = curl_multi_add_handle(s->multi, e);
    if (mc != CURLM_OK) {
        curl_mime_free(mime);
        *reusable = false;
        return e2b_error_set(err, E2B_ERR_INTERNAL, 0, "curl_multi_add_handle: %s",
                             curl_multi_strerror(mc));
    }
    CURLcode result = CURLE_OK;
    bool done = false;
    e2b_code local = E2B_OK; /* an abort decided by this loop */
    while (!done) {
        int running = 0;
        mc = curl_multi_perform(s->multi, &running);
        if (mc != CURLM_OK) {
            local = e2b_error_set(err, E2B_ERR_INTERNAL, 0, "curl_multi_perform: %s",
                                  curl_multi_strerror(mc));
            break;
        }
        int q;
        CURLMsg *msg;
        while ((msg = curl_multi_info_read(s->multi, &q)))
            if (msg->msg == CURLMSG_DONE) {
                result = msg->data.result;
                done = true;
            }
        if (done)
            break;
        if (x->cb_code != E2B_OK)
            break;
        if (cancelled(x)) {
            abort_with(x, E2B_ERR_CANCELLED, NULL);
            break;
        }
        int wait = 1000;
        if (!x->headers_done && x->headers_deadline_ms) {
            long long left = x->headers_deadline_ms - now_ms();
            if (left <= 0) {
                e2b_code tc = req->timeout_code != E2B_OK ? req->timeout_code
                                                          : E2B_ERR_REQUEST_TIMEOUT;
                local = e2b_error_set(err, tc, 0, "%s %s: no response headers within %ld ms",
                                      method, req->url, req->headers_timeout_ms);
                break;
            }
            if (left < wait)
                wait = (int)left + 1;
        }
        if (req->cancel && wait > 50)
            wait = 50;
        curl_multi_poll(s->multi, NULL, 0, wait, NULL);
    }
    if (done && result == CURLE_OK)
        headers_complete(x, e); /* body-less responses */
    long nc = 0;
    curl_easy_getinfo(e, CURLINFO_NUM_CONNECTS, &nc);
    x->resp->num_connects += nc;
    curl_multi_remove_handle(s->multi, e);
    curl_mime_free(mime);
    /* An interrupted transfer leaves the connection closed by libcurl; the slot is fine. */
    *reusable = true;

    if (local != E2B_OK)
        return local;
    if (x->cb_code != E2B_OK) {
        if (err) {
            *err = x->cb_err;
            if (x->cb_code == E2B_ERR_CANCELLED)
                snprintf(err->message, sizeof err->message, "%s %s: cancelled", method, req->url);
        }
        return x->cb_code;
    }
    if (result != CURLE_OK)
        return map_curl(result, x, errbuf, err);
    return E2B_OK;
}

e2b_code e2b_http_perform(e2b_client *c, const e2b_http_request *req, e2b_http_response *resp,
                          e2b_error *err)
{
    memset(resp, 0, sizeof *resp);
    if (!c || !req || !req->url)
        return e2b_error_set(err, E2B_ERR_INVALID_ARGUMENT, 0, "http: missing client or URL");
    if ((req->body ? 1 : 0) + (req->mime_fn ? 1 : 0) + (req->read_fn ? 1 : 0) > 1)
        return e2b_error_set(err, E2B_ERR_INVALID_ARGUMENT, 0,
                             "http: give at most one of body, mime_fn, read_fn");

    xfer x;
    memset(&x, 0, sizeof x);
    x.c = c;
    x.req = req;
    x.resp = resp;
    x.err = err;
    x.gen = atomic_load(&c->cancel_gen);

    long timeout = req->timeout_ms == 0  ? c->request_timeout_ms
                   : req->timeout_ms < 0 ? 0
                                         : req->timeout_ms;
    long long start = now_ms();
    long long deadline = timeout > 0 ? start + timeout : 0;
    int retries = req->max_retries_429 == E2B_HTTP_RETRIES_CLIENT ? c->max_retries_429
                  : req->max_retries_429 > 0                      ? req->max_retries_429
                                                                  : 0;
    if (req->read_fn) /* a stream cannot be re-sent */
        retries = 0;
    x.retry_deadline_ms = start + (timeout > 0 ? timeout : RETRY_WINDOW_NO_TIMEOUT_MS);

    /* Request headers: the caller's, then ours. */
    struct curl_slist *hdrs = NULL, *t;
    bool oom = false;
    char keyhdr[512];
    if (req->headers)
        for (const char *const *h = req->headers; *h && !oom; h++)
            (t = curl_slist_append(hdrs, *h)) ? (void)(hdrs = t) : (void)(oom = true);
    if (!oom && req->api_key && c->api_key) {
        snprintf(keyhdr, sizeof keyhdr, "X-API-Key: %s", c->api_key);
        (t = curl_slist_append(hdrs, keyhdr)) ? (void)(hdrs = t) : (void)(oom = true);
    }
    if (!oom)
        (t = curl_slist_append(hdrs, "Expect:")) ? (void)(hdrs = t) : (void)(oom = true);
    if (!oom && req->read_fn && req->read_len < 0)
        (t = curl_slist_append(hdrs, "Transfer-Encoding: chunked")) ? (void)(hdrs = t)
                                                                    : (void)(oom = true);
    if (oom) {
        curl_slist_free_all(hdrs);
        return e2b_error_set(err, E2B_ERR_NO_MEMORY, 0, "out of memory");
    }

    e2b_http_slot *s = slot_acquire(c);
    if (!s) {
        curl_slist_free_all(hdrs);
        return e2b_error_set(err, E2B_ERR_NO_MEMORY, 0, "out of memory (curl handle)");
    }

    e2b_code rc;
    for (;;) {
        long left = 0;
        if (deadline) {
            long long l = deadline - now_ms();
            if (l <= 0) {
                rc = e2b_error_set(err,
                                   req->timeout_code ? req->timeout_code : E2B_ERR_REQUEST_TIMEOUT,
                                   0, "%s: timed out after %ld ms", req->url, timeout);
                break;
            }
            left = (long)l;
        }
        headers_clear(resp);
        resp->status = 0;
        e2b_strbuf_free(&x.body);
        x.headers_done = x.stream = x.will_retry = false;
        x.retries_left = retries - resp->retries;
        x.headers_deadline_ms = req->headers_timeout_ms > 0 ? now_ms() + req->headers_timeout_ms
                                                            : 0;
        bool reusable = true;
        rc = attempt(c, s, &x, left, hdrs, &reusable, err);
        if (!reusable) {
            slot_release(c, s, false);
            s = NULL;
        }
        if (rc != E2B_OK || !x.will_retry || !s)
            break;
        if (!wait_retry(&x, x.retry_after_s * 1000LL)) {
            rc = e2b_error_set(err, E2B_ERR_CANCELLED, 0, "%s: cancelled", req->url);
            break;
        }
        resp->retries++;
    }
    if (s)
        slot_release(c, s, true);
    curl_slist_free_all(hdrs);

    if (rc == E2B_OK) {
        resp->body_len = x.body.len;
        resp->body = e2b_strbuf_take(&x.body);
        if (!resp->body)
            rc = e2b_error_set(err, E2B_ERR_NO_MEMORY, 0, "out of memory");
    }
    e2b_strbuf_free(&x.body);
    return rc;
}

/* ---- status -> error ---------------------------------------------------------------- */

/* The server's message: JSON "message", else the body text (trimmed, one line). */
static void server_message(long status, const char *body, size_t len, char *out, size_t outlen,
                           int *json_code)
{
    *json_code = 0;
    out[0] = '\0';
    if (body && len) {
        cJSON *j = e2b_json_parse(body, len, "error body", NULL);
        if (cJSON_IsObject(j)) {
            const char *m = e2b_json_str(j, "message");
            const cJSON *code = cJSON_GetObjectItemCaseSensitive(j, "code");
            if (cJSON_IsNumber(code))
                *json_code = code->valueint;
            if (m)
                snprintf(out, outlen, "%s", m);
        }
        cJSON_Delete(j);
        if (!out[0]) {
            size_t a = 0, b = len;
            while (a < b && isspace((unsigned char)body[a]))
                a++;
            while (b > a && isspace((unsigned char)body[b - 1]))
                b--;
            size_t n = b - a < outlen - 1 ? b - a : outlen - 1;
            for (size_t i = 0; i < n; i++) {
                unsigned char ch = (unsigned char)body[a + i];
                out[i] = ch == '\n' || ch == '\r' || ch == '\t' ? ' ' : (char)(ch ? ch : ' ');
            }
            out[n] = '\0';
        }
    }
    if (!out[0])
        snprintf(out, outlen, "HTTP %ld", status);
}

e2b_code e2b_http_error_from_status(long status, const char *body, size_t body_len,
                                    const char *retry_after, e2b_http_plane plane, e2b_error *err)
{
    if (status >= 100 && status < 400)
        return E2B_OK;
    char msg[384];
    int json_code;
    server_message(status, body, body_len, msg, sizeof msg, &json_code);
    int st = (int)status;
    bool data = plane != E2B_PLANE_CONTROL;
    switch (status) {
    case 400: return e2b_error_set(err, E2B_ERR_INVALID_ARGUMENT, st, "400: %s", msg);
    case 401:
    case 403:
        return e2b_error_set(err, E2B_ERR_AUTH, st,
                             "Unauthorized, please check your credentials. - %s", msg);
    case 404:
        if (!data && json_code == 404)
            return e2b_error_set(err, E2B_ERR_SANDBOX_NOT_FOUND, st, "404: %s", msg);
        return e2b_error_set(err, E2B_ERR_NOT_FOUND, st, "404: %s", msg);
    case 409: return e2b_error_set(err, E2B_ERR_CONFLICT, st, "409: %s", msg);
    case 429: {
        e2b_code rc = e2b_error_set(err, E2B_ERR_RATE_LIMITED, st,
                                    "Rate limit exceeded, please try again later - %s", msg);
        if (err)
            err->retry_after_s = parse_retry_after(retry_after);
        return rc;
    }
    case 502:
        if (data)
            return e2b_error_set(err, E2B_ERR_SANDBOX_GONE, st,
                                 "%s: This error is likely due to sandbox timeout. You can "
                                 "modify the sandbox timeout by passing a timeout when starting "
                                 "the sandbox or by setting it on the sandbox.",
                                 msg);
        return e2b_error_set(err, E2B_ERR_INTERNAL, st, "502: %s", msg);
    case 503:
        return e2b_error_set(err, E2B_ERR_SERVICE_BUSY, st,
                             "Service temporarily unavailable, please retry - %s", msg);
    case 507:
        if (data)
            return e2b_error_set(err, E2B_ERR_NOT_ENOUGH_SPACE, st, "507: %s", msg);
        break;
    default: break;
    }
    if (status >= 500 && status <= 599)
        return e2b_error_set(err, E2B_ERR_INTERNAL, st, "%ld: %s", status, msg);
    return e2b_error_set(err, E2B_ERR_SERVER, st, "%ld: %s", status, msg);
}

e2b_code e2b_http_check(const e2b_http_response *resp, e2b_http_plane plane, e2b_error *err)
{
    return e2b_http_error_from_status(resp->status, resp->body, resp->body_len,
                                      e2b_http_response_header(resp, "Retry-After"), plane, err);
}

/* ---- URLs --------------------------------------------------------------------------- */

char *e2b_http_escape(const char *s, size_t len)
{
    if (len == (size_t)-1)
        len = strlen(s);
    if (len > (size_t)0x7fffffff)
        return NULL;
    char *esc = curl_easy_escape(NULL, len ? s : "", (int)len);
    if (!esc)
        return NULL;
    char *copy = strdup(esc);
    curl_free(esc);
    return copy;
}

e2b_code e2b_http_url(char **out, const char *base, const char *path, const char *const *query,
                      e2b_error *err)
{
    *out = NULL;
    e2b_strbuf b = {0};
    size_t blen = strlen(base);
    while (blen > 0 && base[blen - 1] == '/')
        blen--;
    e2b_strbuf_append(&b, base, blen);
    if (path)
        e2b_strbuf_puts(&b, path);
    char sep = '?';
    if (query) {
        for (const char *const *q = query; q[0]; q += 2) {
            if (!q[1])
                continue;
            char *k = e2b_http_escape(q[0], (size_t)-1);
            char *v = e2b_http_escape(q[1], (size_t)-1);
            if (!k || !v)
                b.oom = true;
            else
                e2b_strbuf_printf(&b, "%c%s=%s", sep, k, v);
            free(k);
            free(v);
            sep = '&';
        }
    }
    *out = e2b_strbuf_take(&b);
    return *out ? E2B_OK : e2b_error_set(err, E2B_ERR_NO_MEMORY, 0, "out of memory");
}
