/* record.c - record mode: e2b-mock proxies every (non-admin) request to an upstream
 * E2B-compatible URL with libcurl and writes each exchange as a replayable scenario rule
 * (one file per exchange, "times": 1, in order) into the record directory; loading that
 * directory with --scenarios replays the session. See mockserver/ADMIN.md.
 * Request bodies (JSON, multipart and octet-stream uploads alike) are buffered whole by the
 * server (mock_hooks.buffer_all_bodies) and forwarded. Answers with a Content-Length are
 * buffered; chunked answers (/execute NDJSON, Connect streams) are streamed through to the
 * client as they arrive by a proxy thread while being collected for the recording. */
#include "record.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <microhttpd.h>
#include <openssl/evp.h>

#include "util.h"

struct recorder {
    char *upstream;
    char *dir;
    atomic_long seq;
    pthread_mutex_t mu; /* guards active */
    pthread_cond_t cv;
    int active; /* proxy threads still running */
};

recorder *record_new_from_env(void)
{
    const char *up = getenv("E2B_MOCK_RECORD");
    const char *dir = getenv("E2B_MOCK_RECORD_DIR");
    if (!up || !*up)
        return NULL;
    recorder *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    r->upstream = strdup(up);
    r->dir = strdup(dir && *dir ? dir : "recorded");
    size_t n = strlen(r->upstream);
    while (n > 0 && r->upstream[n - 1] == '/')
        r->upstream[--n] = '\0';
    if (mock_mkdir_p(r->dir, 0755) != 0) {
        mock_log(MOCK_LOG_ERROR, "--record-dir %s: cannot create", r->dir);
        record_free(r);
        return NULL;
    }
    mock_log(MOCK_LOG_INFO, "recording %s into %s", r->upstream, r->dir);
    return r;
}

void record_free(recorder *r)
{
    if (!r)
        return;
    /* the server cancelled every stream before freeing the modules, so running proxies abort
     * within about a second (curl's progress callback); wait for them, they use r */
    pthread_mutex_lock(&r->mu);
    while (r->active > 0)
        pthread_cond_wait(&r->cv, &r->mu);
    pthread_mutex_unlock(&r->mu);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
    free(r->upstream);
    free(r->dir);
    free(r);
}

typedef struct qctx {
    FILE *f;
    CURL *h;
    int first;
} qctx;

static enum MHD_Result q_iter(void *cls, enum MHD_ValueKind kind, const char *k, const char *v)
{
    (void)kind;
    qctx *q = cls;
    char *ek = curl_easy_escape(q->h, k, 0);
    char *ev = v ? curl_easy_escape(q->h, v, 0) : NULL;
    fprintf(q->f, "%c%s%s%s", q->first ? '?' : '&', ek ? ek : "", ev ? "=" : "", ev ? ev : "");
    q->first = 0;
    curl_free(ek);
    curl_free(ev);
    return MHD_YES;
}

typedef struct hctx {
    struct curl_slist *list;
} hctx;

static int hdr_iter(const char *k, const char *v, void *ud)
{
    hctx *h = ud;
    static const char *const skip[] = {
        "Host", "Content-Length", "Connection", "Transfer-Encoding", "Accept-Encoding", "Expect",
        NULL};
    for (size_t i = 0; skip[i]; i++)
        if (strcasecmp(k, skip[i]) == 0)
            return 0;
    char line[4096];
    snprintf(line, sizeof line, "%s: %s", k, v);
    struct curl_slist *n = curl_slist_append(h->list, line);
    if (n)
        h->list = n;
    return 0;
}

typedef struct rbuf {
    char *p;
    size_t len;
    cJSON *headers;
    char ctype[256];
    int chunked;     /* the answer came with Transfer-Encoding: chunked */
    int has_length;  /* ... or with a Content-Length */
    int headers_end; /* the blank line after the final (non-1xx) header block was seen */
} rbuf;

/* One proxied exchange, shared by the connection thread (record_handle) and the proxy thread
 * that runs curl. Reference counted: freed by whoever lets go last. */
typedef struct px {
    recorder *r;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int refs;
    int decided;     /* record_handle chose: stream (st set) or buffered */
    int finished;    /* curl_easy_perform returned */
    int cancelled;   /* the client went away / the server is stopping */
    mock_stream *st; /* set when the answer is streamed through */
    CURL *h;
    rbuf b;
    long status;
    CURLcode cc;
    /* request copies (the request may be gone when the proxy thread records) */
    char *method, *path;
    int port;
    long seq;
    struct curl_slist *hdrs;
} px;

static void px_unref(px *x)
{
    pthread_mutex_lock(&x->mu);
    int left = --x->refs;
    pthread_mutex_unlock(&x->mu);
    if (left)
        return;
    pthread_mutex_destroy(&x->mu);
    pthread_cond_destroy(&x->cv);
    free(x->b.p);
    cJSON_Delete(x->b.headers);
    free(x->method);
    free(x->path);
    free(x);
}

static size_t on_body(char *d, size_t sz, size_t n, void *ud)
{
    px *x = ud;
    rbuf *b = &x->b;
    size_t len = sz * n;
    pthread_mutex_lock(&x->mu);
    if (!b->headers_end) { /* a body without a blank line first (HTTP/1.0 style): headers done */
        b->headers_end = 1;
        pthread_cond_broadcast(&x->cv);
    }
    while (!x->decided && !x->cancelled)
        pthread_cond_wait(&x->cv, &x->mu);
    mock_stream *st = x->st;
    int cancelled = x->cancelled;
    pthread_mutex_unlock(&x->mu);
    if (cancelled)
        return 0; /* aborts the transfer */
    char *np = realloc(b->p, b->len + len + 1);
    if (!np)
        return 0;
    memcpy(np + b->len, d, len);
    b->p = np;
    b->len += len;
    b->p[b->len] = '\0';
    if (st && mock_stream_write(st, d, len) != 0)
        return 0; /* the client went away */
    return len;
}

static size_t on_header(char *d, size_t sz, size_t n, void *ud)
{
    px *x = ud;
    rbuf *b = &x->b;
    size_t len = sz * n;
    if (len <= 2 && (len == 0 || d[0] == '\r' || d[0] == '\n')) { /* end of a header block */
        long code = 0;
        curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &code);
        if (code >= 200) {
            pthread_mutex_lock(&x->mu);
            x->status = code;
            b->headers_end = 1;
            pthread_cond_broadcast(&x->cv);
            pthread_mutex_unlock(&x->mu);
        }
        return len;
    }
    if (strncmp(d, "HTTP/", 5) == 0) { /* a new header block (after a 1xx): start over */
        cJSON_Delete(b->headers);
        b->headers = cJSON_CreateObject();
        b->ctype[0] = '\0';
        b->chunked = b->has_length = 0;
        return b->headers ? len : 0;
    }
    const char *colon = memchr(d, ':', len);
    if (!colon)
        return len;
    char name[128];
    size_t nl = (size_t)(colon - d) < sizeof name - 1 ? (size_t)(colon - d) : sizeof name - 1;
    memcpy(name, d, nl);
    name[nl] = '\0';
    const char *v = colon + 1;
    while (v < d + len && (*v == ' ' || *v == '\t'))
        v++;
    size_t vl = (size_t)(d + len - v);
    while (vl > 0 && (v[vl - 1] == '\r' || v[vl - 1] == '\n'))
        vl--;
    char *val = strndup(v, vl);
    if (!val)
        return 0;
    static const char *const skip[] = {"Content-Length", "Transfer-Encoding", "Connection",
                                       "Date",           "Keep-Alive",        NULL};
    int skipped = 0;
    for (size_t i = 0; skip[i]; i++)
        skipped |= strcasecmp(name, skip[i]) == 0;
    if (strcasecmp(name, "Transfer-Encoding") == 0 && strcasestr(val, "chunked"))
        b->chunked = 1;
    if (strcasecmp(name, "Content-Length") == 0)
        b->has_length = 1;
    if (strcasecmp(name, "Content-Type") == 0)
        snprintf(b->ctype, sizeof b->ctype, "%s", val);
    else if (!skipped)
        cJSON_AddStringToObject(b->headers, name, val);
    free(val);
    return len;
}

/* curl's progress callback (about once a second even when idle, and on every transfer step):
 * non-zero aborts a transfer whose client went away or whose server is stopping. */
static int on_progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    (void)dt;
    (void)dn;
    (void)ut;
    (void)un;
    px *x = ud;
    pthread_mutex_lock(&x->mu);
    int c = x->cancelled;
    pthread_mutex_unlock(&x->mu);
    return c;
}

static void on_stream_cancel(void *ud)
{
    px *x = ud;
    pthread_mutex_lock(&x->mu);
    x->cancelled = 1;
    pthread_cond_broadcast(&x->cv);
    pthread_mutex_unlock(&x->mu);
}

static int is_text(const char *p, size_t n)
{
    if (memchr(p, '\0', n))
        return 0;
    for (size_t i = 0; i < n;) { /* cJSON prints bytes as they are: require UTF-8 */
        unsigned char c = (unsigned char)p[i];
        size_t k = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        if (!k || i + k > n)
            return 0;
        for (size_t j = 1; j < k; j++)
            if (((unsigned char)p[i + j] >> 6) != 2)
                return 0;
        i += k;
    }
    return 1;
}

static void write_rule(recorder *r, const px *x)
{
    const rbuf *b = &x->b;
    long seq = x->seq;
    cJSON *rule = cJSON_CreateObject();
    if (!rule)
        return;
    char name[64];
    snprintf(name, sizeof name, "rec-%05ld", seq);
    cJSON_AddStringToObject(rule, "name", name);
    cJSON_AddNumberToObject(rule, "times", 1);
    cJSON *m = cJSON_AddObjectToObject(rule, "match");
    cJSON_AddStringToObject(m, "method", x->method);
    cJSON_AddStringToObject(m, "path", x->path);
    if (x->port == MOCK_PORT_CONTROL)
        cJSON_AddStringToObject(m, "port", "control");
    else
        cJSON_AddNumberToObject(m, "port", x->port);
    cJSON *resp = cJSON_AddObjectToObject(rule, "respond");
    cJSON_AddNumberToObject(resp, "status", (double)x->status);
    if (b->ctype[0])
        cJSON_AddStringToObject(resp, "contentType", b->ctype);
    cJSON_AddItemToObject(resp, "headers", cJSON_Duplicate(b->headers, 1));
    if (b->len && is_text(b->p, b->len)) {
        cJSON_AddStringToObject(resp, "body", b->p);
    } else if (b->len) {
        char *enc = malloc(4 * ((b->len + 2) / 3) + 1);
        if (enc) {
            EVP_EncodeBlock((unsigned char *)enc, (const unsigned char *)b->p, (int)b->len);
            cJSON_AddStringToObject(resp, "bodyBase64", enc);
            free(enc);
        }
    } else {
        cJSON_AddStringToObject(resp, "body", "");
    }
    char *txt = cJSON_Print(rule);
    cJSON_Delete(rule);
    char path[4096], clean[96];
    size_t k = 0;
    for (const char *p = x->path; *p && k < sizeof clean - 1; p++)
        clean[k++] = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                             (*p >= '0' && *p <= '9') || *p == '-'
                         ? *p
                         : '_';
    clean[k] = '\0';
    snprintf(path, sizeof path, "%s/%05ld-%s%s.json", r->dir, seq, x->method, clean);
    FILE *f = txt ? fopen(path, "w") : NULL;
    if (f) {
        fputs(txt, f);
        fputc('\n', f);
        fclose(f);
    } else {
        mock_log(MOCK_LOG_ERROR, "record: cannot write %s", path);
    }
    free(txt);
}

/* The proxy thread: runs the transfer, records the exchange, ends a streamed answer. */
static void *px_thread(void *p)
{
    px *x = p;
    CURLcode cc = curl_easy_perform(x->h);
    long status = 0;
    curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(x->h);
    x->h = NULL;
    curl_slist_free_all(x->hdrs);
    x->hdrs = NULL;
    pthread_mutex_lock(&x->mu);
    if (!x->status)
        x->status = status;
    mock_stream *st = x->st;
    int cancelled = x->cancelled;
    pthread_mutex_unlock(&x->mu);
    /* recorded before `finished` is set: a buffered answer's body then passes to the response */
    if (cc == CURLE_OK)
        write_rule(x->r, x);
    else
        mock_log(MOCK_LOG_WARN, "record: %s %s: %s%s (not recorded)", x->method, x->path,
                 curl_easy_strerror(cc), cancelled ? " (client gone)" : "");
    pthread_mutex_lock(&x->mu);
    x->cc = cc;
    x->finished = 1;
    pthread_cond_broadcast(&x->cv);
    pthread_mutex_unlock(&x->mu);
    if (st)
        mock_stream_close(st); /* after this the cancel callback is never called */
    recorder *r = x->r;
    px_unref(x);
    pthread_mutex_lock(&r->mu);
    r->active--;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

int record_handle(recorder *r, mock_request *req, mock_response **out)
{
    px *x = calloc(1, sizeof *x);
    if (!x)
        return 0;
    pthread_mutex_init(&x->mu, NULL);
    pthread_cond_init(&x->cv, NULL);
    x->refs = 1;
    x->r = r;
    x->port = req->port;
    x->method = strdup(req->method);
    x->path = strdup(req->path);
    x->b.headers = cJSON_CreateObject();
    x->h = curl_easy_init();
    char *url = NULL;
    size_t ul = 0;
    FILE *uf = x->h && x->method && x->path && x->b.headers ? open_memstream(&url, &ul) : NULL;
    if (!uf) {
        curl_easy_cleanup(x->h);
        px_unref(x);
        return 0;
    }
    /* numbered in request order, so a replay serves repeated calls in the order they came */
    x->seq = atomic_fetch_add(&r->seq, 1) + 1;
    CURL *h = x->h;
    fprintf(uf, "%s%s", r->upstream, req->path);
    qctx q = {.f = uf, .h = h, .first = 1};
    MHD_get_connection_values(mock_req_connection(req), MHD_GET_ARGUMENT_KIND, q_iter, &q);
    fclose(uf);
    hctx hc = {NULL};
    mock_req_each_header(req, hdr_iter, &hc);
    hc.list = curl_slist_append(hc.list, "Expect:");
    x->hdrs = hc.list;
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req->method);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hc.list);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 600L);
    if (req->body && req->body_len) { /* any body: JSON, multipart, octet-stream (copied) */
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
        curl_easy_setopt(h, CURLOPT_COPYPOSTFIELDS, req->body);
    } else if (strcmp(req->method, "GET") && strcmp(req->method, "HEAD")) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
    }
    if (!strcmp(req->method, "HEAD"))
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, x);
    free(url); /* libcurl copies CURLOPT_URL */

    pthread_mutex_lock(&r->mu);
    r->active++;
    pthread_mutex_unlock(&r->mu);
    x->refs = 2; /* this call and the proxy thread */
    pthread_t th;
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    int trc = pthread_create(&th, &at, px_thread, x);
    pthread_attr_destroy(&at);
    if (trc != 0) {
        x->refs = 1;
        pthread_mutex_lock(&r->mu);
        r->active--;
        pthread_mutex_unlock(&r->mu);
        curl_easy_cleanup(x->h);
        curl_slist_free_all(x->hdrs);
        px_unref(x);
        *out = mock_resp_error(502, "record: cannot start the proxy thread");
        return 1;
    }

    /* wait for the answer's headers (or the end of the transfer) */
    pthread_mutex_lock(&x->mu);
    while (!x->b.headers_end && !x->finished)
        pthread_cond_wait(&x->cv, &x->mu);
    int stream = !x->finished && x->b.chunked && !x->b.has_length;
    if (!stream) { /* buffered: let the body flow into x->b, wait for the end */
        x->decided = 1;
        pthread_cond_broadcast(&x->cv);
        while (!x->finished)
            pthread_cond_wait(&x->cv, &x->mu);
    }
    pthread_mutex_unlock(&x->mu);

    mock_response *res;
    if (stream) {
        /* stream it through: headers now, each piece as curl hands it over */
        mock_stream *st = NULL;
        res = mock_resp_stream((int)x->status, x->b.ctype[0] ? x->b.ctype : NULL, &st);
        for (const cJSON *e = x->b.headers->child; res && e; e = e->next)
            mock_resp_header(res, e->string, e->valuestring);
        if (st)
            mock_stream_on_cancel(st, on_stream_cancel, x);
        pthread_mutex_lock(&x->mu);
        x->st = st;
        x->cancelled |= !st;
        x->decided = 1;
        pthread_cond_broadcast(&x->cv);
        pthread_mutex_unlock(&x->mu);
    } else if (x->cc != CURLE_OK) {
        res = mock_resp_error(502, "record: upstream failed: %s", curl_easy_strerror(x->cc));
    } else {
        res = mock_resp_take((int)x->status, x->b.ctype[0] ? x->b.ctype : NULL,
                             x->b.p ? x->b.p : calloc(1, 1), x->b.len);
        x->b.p = NULL;
        x->b.len = 0;
        for (const cJSON *e = x->b.headers->child; res && e; e = e->next)
            mock_resp_header(res, e->string, e->valuestring);
    }
    px_unref(x);
    *out = res;
    return 1;
}
