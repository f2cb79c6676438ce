/* record.c - record mode: e2b-mock proxies every (non-admin) request to an upstream
 * E2B-compatible URL with libcurl and writes each exchange as a replayable scenario rule
 * (one file per exchange, "times": 1, in order) into the record directory; loading that
 * directory with --scenarios replays the session. See mockserver/ADMIN.md.
 * Limits: answers are buffered (a stream is recorded whole, then sent); upload routes
 * (multipart POST /files) are forwarded without their body. */
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
} rbuf;

static size_t on_body(char *d, size_t sz, size_t n, void *ud)
{
    rbuf *b = ud;
    char *np = realloc(b->p, b->len + sz * n + 1);
    if (!np)
        return 0;
    memcpy(np + b->len, d, sz * n);
    b->p = np;
    b->len += sz * n;
    b->p[b->len] = '\0';
    return sz * n;
}

static size_t on_header(char *d, size_t sz, size_t n, void *ud)
{
    rbuf *b = ud;
    size_t len = sz * n;
    const char *colon = memchr(d, ':', len);
    if (!colon || strncmp(d, "HTTP/", 5) == 0)
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
    if (strcasecmp(name, "Content-Type") == 0)
        snprintf(b->ctype, sizeof b->ctype, "%s", val);
    else if (!skipped)
        cJSON_AddStringToObject(b->headers, name, val);
    free(val);
    return len;
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

static void write_rule(recorder *r, mock_request *req, long status, rbuf *b)
{
    long seq = atomic_fetch_add(&r->seq, 1) + 1;
    cJSON *rule = cJSON_CreateObject();
    if (!rule)
        return;
    char name[64];
    snprintf(name, sizeof name, "rec-%05ld", seq);
    cJSON_AddStringToObject(rule, "name", name);
    cJSON_AddNumberToObject(rule, "times", 1);
    cJSON *m = cJSON_AddObjectToObject(rule, "match");
    cJSON_AddStringToObject(m, "method", req->method);
    cJSON_AddStringToObject(m, "path", req->path);
    if (req->port == MOCK_PORT_CONTROL)
        cJSON_AddStringToObject(m, "port", "control");
    else
        cJSON_AddNumberToObject(m, "port", req->port);
    cJSON *resp = cJSON_AddObjectToObject(rule, "respond");
    cJSON_AddNumberToObject(resp, "status", (double)status);
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
    for (const char *p = req->path; *p && k < sizeof clean - 1; p++)
        clean[k++] = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                             (*p >= '0' && *p <= '9') || *p == '-'
                         ? *p
                         : '_';
    clean[k] = '\0';
    snprintf(path, sizeof path, "%s/%05ld-%s%s.json", r->dir, seq, req->method, clean);
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

int record_handle(recorder *r, mock_request *req, mock_response **out)
{
    CURL *h = curl_easy_init();
    if (!h)
        return 0;
    char *url = NULL;
    size_t ul = 0;
    FILE *uf = open_memstream(&url, &ul);
    if (!uf) {
        curl_easy_cleanup(h);
        return 0;
    }
    fprintf(uf, "%s%s", r->upstream, req->path);
    qctx q = {.f = uf, .h = h, .first = 1};
    MHD_get_connection_values(mock_req_connection(req), MHD_GET_ARGUMENT_KIND, q_iter, &q);
    fclose(uf);
    hctx hc = {NULL};
    mock_req_each_header(req, hdr_iter, &hc);
    hc.list = curl_slist_append(hc.list, "Expect:");
    rbuf b = {0};
    b.headers = cJSON_CreateObject();
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req->method);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hc.list);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 600L);
    if (req->body && req->body_len) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, req->body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
    } else if (strcmp(req->method, "GET") && strcmp(req->method, "HEAD")) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
    }
    if (!strcmp(req->method, "HEAD"))
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &b);
    CURLcode cc = curl_easy_perform(h);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(hc.list);
    curl_easy_cleanup(h);
    free(url);
    if (cc != CURLE_OK || !b.headers) {
        mock_log(MOCK_LOG_WARN, "record: %s %s: %s", req->method, req->path,
                 curl_easy_strerror(cc));
        *out = mock_resp_error(502, "record: upstream failed: %s", curl_easy_strerror(cc));
        free(b.p);
        cJSON_Delete(b.headers);
        return 1;
    }
    write_rule(r, req, status, &b);
    mock_response *res = mock_resp_take((int)status, b.ctype[0] ? b.ctype : NULL,
                                        b.p ? b.p : calloc(1, 1), b.len);
    for (const cJSON *e = b.headers->child; res && e; e = e->next)
        mock_resp_header(res, e->string, e->valuestring);
    cJSON_Delete(b.headers);
    *out = res;
    return 1;
}
