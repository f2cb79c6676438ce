/* envd_common.c - shared envd plumbing (see envd_common.h). */
#include "envd_common.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "fs_safe.h"
#include "util.h"

bool envd_token_ok(const mock_request *req)
{
    const mock_sandbox *sbx = req->sandbox;
    if (!sbx || sbx->access_token[0] == '\0')
        return true;
    const char *got = mock_req_header(req, "X-Access-Token");
    size_t want_len = strlen(sbx->access_token);
    if (!got || strlen(got) != want_len)
        return false;
    return CRYPTO_memcmp(got, sbx->access_token, want_len) == 0;
}

int envd_sign(const char *path, const char *operation, const char *username, const char *token,
              long long expiration, char *out, size_t cap)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx)
        return -1;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    char exp[32] = "";
    if (expiration >= 0)
        snprintf(exp, sizeof exp, ":%lld", expiration);
    int ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) &&
             EVP_DigestUpdate(ctx, path, strlen(path)) && EVP_DigestUpdate(ctx, ":", 1) &&
             EVP_DigestUpdate(ctx, operation, strlen(operation)) && EVP_DigestUpdate(ctx, ":", 1) &&
             EVP_DigestUpdate(ctx, username, strlen(username)) && EVP_DigestUpdate(ctx, ":", 1) &&
             EVP_DigestUpdate(ctx, token, strlen(token)) &&
             EVP_DigestUpdate(ctx, exp, strlen(exp)) && EVP_DigestFinal_ex(ctx, md, &mdlen);
    EVP_MD_CTX_free(ctx);
    if (!ok || cap < 3 + 4 * ((mdlen + 2) / 3) + 1)
        return -1;
    memcpy(out, "v1_", 3);
    int n = EVP_EncodeBlock((unsigned char *)out + 3, md, (int)mdlen);
    while (n > 0 && out[3 + n - 1] == '=')
        n--;
    out[3 + n] = '\0';
    return 0;
}

bool envd_signature_ok(const mock_request *req, const char *operation)
{
    const mock_sandbox *sbx = req->sandbox;
    const char *sig = mock_req_query(req, "signature");
    if (!sbx || !sig || !*sig || sbx->access_token[0] == '\0')
        return false;
    const char *path = mock_req_query(req, "path");
    const char *user = mock_req_query(req, "username");
    const char *exps = mock_req_query(req, "signature_expiration");
    long long exp = -1;
    if (exps && *exps) {
        char *end = NULL;
        errno = 0;
        exp = strtoll(exps, &end, 10);
        if (errno || *end || exp < 0)
            return false;
        if (exp < mock_now_ms() / 1000)
            return false; /* expired */
    }
    char want[96];
    if (envd_sign(path ? path : "", operation, user ? user : "", sbx->access_token, exp, want,
                  sizeof want) != 0)
        return false;
    size_t wl = strlen(want);
    return strlen(sig) == wl && CRYPTO_memcmp(sig, want, wl) == 0;
}

bool envd_user_ok(const mock_request *req, bool from_query, char *bad, size_t cap)
{
    char name[128] = "";
    if (from_query) {
        const char *u = mock_req_query(req, "username");
        if (u)
            snprintf(name, sizeof name, "%s", u);
    } else {
        const char *auth = mock_req_header(req, "Authorization");
        if (auth && strncasecmp(auth, "Basic ", 6) == 0) {
            size_t dl = 0;
            unsigned char *dec = envd_unb64(auth + 6, &dl);
            if (dec) {
                char *colon = memchr(dec, ':', dl);
                size_t ul = colon ? (size_t)(colon - (char *)dec) : dl;
                if (ul >= sizeof name)
                    ul = sizeof name - 1;
                memcpy(name, dec, ul);
                name[ul] = '\0';
                free(dec);
            } else {
                snprintf(name, sizeof name, "%s", auth + 6);
            }
        }
    }
    if (name[0] == '\0' || strcmp(name, "user") == 0 || strcmp(name, "root") == 0)
        return true;
    if (bad && cap)
        snprintf(bad, cap, "%s", name);
    return false;
}

static mock_response *json_response(int status, const char *content_type, cJSON *body)
{
    if (!body)
        return NULL;
    char *s = cJSON_PrintUnformatted(body);
    cJSON_Delete(body);
    if (!s)
        return NULL;
    /* cJSON allocates with malloc (default hooks), so the server may free() it */
    return mock_resp_take(status, content_type, s, strlen(s));
}

mock_response *envd_http_error(int status, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    cJSON_AddNumberToObject(o, "code", status);
    cJSON_AddStringToObject(o, "message", msg);
    mock_response *r = json_response(status, "application/json; charset=utf-8", o);
    if (r)
        mock_resp_header(r, "X-Content-Type-Options", "nosniff");
    return r;
}

mock_response *envd_rpc_error(connect_code code, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    char *s = connect_error_json(code, msg);
    if (!s)
        return NULL;
    return mock_resp_take(connect_code_http_status(code), "application/json", s, strlen(s));
}

mock_response *envd_rpc_ok(cJSON *body)
{
    if (!body)
        return mock_resp_bytes(200, "application/json", "{}", 2);
    return json_response(200, "application/json", body);
}

mock_response *envd_stream_error(connect_code code, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    size_t len = 0;
    unsigned char *env = connect_end_stream(code, code == CONNECT_OK ? NULL : msg, &len);
    if (!env)
        return NULL;
    return mock_resp_take(200, "application/connect+json", env, len);
}

typedef struct {
    const unsigned char *msg;
    size_t len;
    int data_msgs;
    bool bad_flags;
} one_envelope;

static int take_envelope(void *ud, uint8_t flags, const unsigned char *payload, size_t len)
{
    one_envelope *o = ud;
    if (flags != 0) {
        if (flags & CONNECT_FLAG_END_STREAM)
            return 0; /* a client end-stream frame carries nothing we need */
        o->bad_flags = true;
        return 1;
    }
    o->data_msgs++;
    o->msg = payload; /* points into req->body (one chunk: zero copy) */
    o->len = len;
    return 0;
}

cJSON *envd_parse_request(const mock_request *req, bool streaming, const char **why)
{
    const char *body = req->body ? req->body : "";
    size_t blen = req->body ? req->body_len : 0;
    const char *json = body;
    size_t jlen = blen;
    if (streaming) {
        connect_decoder d;
        connect_decoder_init(&d, 0);
        one_envelope o = {0};
        connect_dec_result r = connect_decoder_feed(&d, body, blen, take_envelope, &o);
        if (r == CONNECT_DEC_OK)
            r = connect_decoder_finish(&d);
        connect_decoder_free(&d);
        if (r != CONNECT_DEC_OK || o.bad_flags || o.data_msgs != 1) {
            *why = o.bad_flags           ? "compressed messages are not supported"
                   : r != CONNECT_DEC_OK ? connect_dec_strerror(r)
                                         : "expected exactly one request message";
            return NULL;
        }
        json = (const char *)o.msg;
        jlen = o.len;
    }
    if (jlen == 0)
        return cJSON_CreateObject();
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(json, jlen, &end, 0);
    if (j && end) {
        while ((size_t)(end - json) < jlen && strchr(" \t\r\n", *end))
            end++;
        if ((size_t)(end - json) != jlen) {
            cJSON_Delete(j);
            j = NULL;
        }
    }
    if (!j || !cJSON_IsObject(j)) {
        cJSON_Delete(j);
        *why = "request body is not a JSON object";
        return NULL;
    }
    return j;
}

int envd_root_fd(const mock_request *req)
{
    if (!req->sandbox || !req->sandbox->dir)
        return -ENOENT;
    return fs_root_open(req->sandbox->dir);
}

connect_code envd_errno_code(int neg_errno)
{
    switch (-neg_errno) {
    case ENOENT:
    case ENOTDIR: return CONNECT_NOT_FOUND;
    case EEXIST: return CONNECT_ALREADY_EXISTS;
    case EXDEV:
    case ELOOP:
    case EINVAL:
    case ENAMETOOLONG:
    case EISDIR:
    case ENOTEMPTY: return CONNECT_INVALID_ARGUMENT;
    case EACCES:
    case EPERM:
    case EROFS: return CONNECT_PERMISSION_DENIED;
    case ENOSPC:
    case EDQUOT: return CONNECT_RESOURCE_EXHAUSTED;
    default: return CONNECT_INTERNAL;
    }
}

int envd_keepalive_s(const mock_request *req)
{
    const char *h = mock_req_header(req, "Keepalive-Ping-Interval");
    if (h && *h) {
        char *end = NULL;
        long v = strtol(h, &end, 10);
        if (end && *end == '\0' && v > 0 && v < 86400)
            return (int)v;
    }
    return 90;
}

long long envd_timeout_ms(const mock_request *req)
{
    const char *h = mock_req_header(req, "Connect-Timeout-Ms");
    if (h && *h) {
        char *end = NULL;
        long long v = strtoll(h, &end, 10);
        if (end && *end == '\0' && v > 0)
            return v;
    }
    return 0;
}

long long envd_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

char *envd_b64(const void *data, size_t len)
{
    char *out = malloc(4 * ((len + 2) / 3) + 1);
    if (!out)
        return NULL;
    EVP_EncodeBlock((unsigned char *)out, data, (int)len);
    return out;
}

unsigned char *envd_unb64(const char *s, size_t *len_out)
{
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\r' || s[n - 1] == '\n'))
        n--;
    /* EVP_DecodeBlock needs padding to a multiple of 4: add it */
    size_t padded = (n + 3) / 4 * 4;
    if (n % 4 == 1)
        return NULL;
    char *tmp = malloc(padded + 1);
    unsigned char *out = malloc(padded / 4 * 3 + 1);
    if (!tmp || !out) {
        free(tmp);
        free(out);
        return NULL;
    }
    memcpy(tmp, s, n);
    for (size_t i = n; i < padded; i++)
        tmp[i] = '=';
    tmp[padded] = '\0';
    int dl = padded ? EVP_DecodeBlock(out, (unsigned char *)tmp, (int)padded) : 0;
    if (dl < 0) {
        free(tmp);
        free(out);
        return NULL;
    }
    /* EVP_DecodeBlock counts padding as zero bytes: trim them */
    size_t pad = 0;
    for (size_t i = padded; i > 0 && tmp[i - 1] == '=' && pad < 2; i--)
        pad++;
    free(tmp);
    *len_out = (size_t)dl - pad;
    out[*len_out] = '\0';
    return out;
}

/* ---- stream helpers */

int envd_stream_send_raw(mock_stream *st, const char *json, size_t len)
{
    char small[1024];
    char *buf = len + CONNECT_ENVELOPE_HEADER <= sizeof small
                    ? small
                    : malloc(len + CONNECT_ENVELOPE_HEADER);
    if (!buf)
        return -1;
    connect_envelope_header((unsigned char *)buf, 0, (uint32_t)len);
    memcpy(buf + CONNECT_ENVELOPE_HEADER, json, len);
    int r = mock_stream_write(st, buf, len + CONNECT_ENVELOPE_HEADER);
    if (buf != small)
        free(buf);
    return r;
}

int envd_stream_send(mock_stream *st, cJSON *msg)
{
    if (!msg)
        return -1;
    char *s = cJSON_PrintUnformatted(msg);
    cJSON_Delete(msg);
    if (!s)
        return -1;
    int r = envd_stream_send_raw(st, s, strlen(s));
    cJSON_free(s);
    return r;
}

int envd_stream_end(mock_stream *st, connect_code code, const char *message)
{
    size_t len = 0;
    unsigned char *env = connect_end_stream(code, message, &len);
    if (!env)
        return -1;
    int r = mock_stream_write(st, env, len);
    free(env);
    return r;
}

/* ---- workers */

typedef struct worker_reg {
    pthread_mutex_t lock;
    envd_worker *head;
} worker_reg;

static void worker_reg_free(void *p)
{
    worker_reg *r = p;
    /* every worker was joined by the modules' stop hooks; free any leftovers defensively */
    envd_worker *w = r->head;
    while (w) {
        envd_worker *n = w->next;
        pthread_join(w->thread, NULL);
        close(w->wake_fd);
        free(w);
        w = n;
    }
    pthread_mutex_destroy(&r->lock);
    free(r);
}

int envd_workers_attach(mock_server *s)
{
    if (mock_server_get_data(s, "envd_workers"))
        return 0;
    worker_reg *r = calloc(1, sizeof *r);
    if (!r)
        return -1;
    pthread_mutex_init(&r->lock, NULL);
    if (mock_server_set_data(s, "envd_workers", r, worker_reg_free) != 0) {
        pthread_mutex_destroy(&r->lock);
        free(r);
        return -1;
    }
    return 0;
}

static void *worker_main(void *p)
{
    envd_worker *w = p;
    w->fn(w);
    atomic_store(&w->done, 1);
    return NULL;
}

/* Unlinks finished workers (caller holds the lock) into *out for joining outside it. */
static void take_finished(worker_reg *r, envd_worker **out)
{
    envd_worker **pp = &r->head;
    while (*pp) {
        envd_worker *w = *pp;
        if (atomic_load(&w->done)) {
            *pp = w->next;
            w->next = *out;
            *out = w;
        } else {
            pp = &w->next;
        }
    }
}

static void join_list(envd_worker *w)
{
    while (w) {
        envd_worker *n = w->next;
        pthread_join(w->thread, NULL);
        close(w->wake_fd);
        free(w);
        w = n;
    }
}

envd_worker *envd_worker_start(mock_server *s, const char *sandbox_id, envd_worker_fn fn, void *arg)
{
    worker_reg *r = mock_server_get_data(s, "envd_workers");
    if (!r)
        return NULL;
    envd_worker *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->fn = fn;
    w->arg = arg;
    if (sandbox_id)
        snprintf(w->sandbox_id, sizeof w->sandbox_id, "%s", sandbox_id);
    w->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (w->wake_fd < 0) {
        free(w);
        return NULL;
    }
    envd_worker *finished = NULL;
    pthread_mutex_lock(&r->lock);
    take_finished(r, &finished);
    if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
        pthread_mutex_unlock(&r->lock);
        join_list(finished);
        close(w->wake_fd);
        free(w);
        return NULL;
    }
    w->next = r->head;
    r->head = w;
    pthread_mutex_unlock(&r->lock);
    join_list(finished);
    return w;
}

void envd_worker_wake(envd_worker *w)
{
    atomic_store(&w->stop, 1);
    uint64_t one = 1;
    ssize_t n = write(w->wake_fd, &one, sizeof one);
    (void)n;
}

void envd_worker_poke(envd_worker *w)
{
    uint64_t one = 1;
    ssize_t n = write(w->wake_fd, &one, sizeof one);
    (void)n;
}

void envd_worker_poke_cb(void *w)
{
    envd_worker_poke(w);
}

void envd_worker_drain(envd_worker *w)
{
    uint64_t v;
    ssize_t n = read(w->wake_fd, &v, sizeof v);
    (void)n;
}

void envd_worker_cancel_cb(void *w)
{
    envd_worker_wake(w);
}

void envd_workers_stop(mock_server *s, const char *sandbox_id)
{
    worker_reg *r = mock_server_get_data(s, "envd_workers");
    if (!r)
        return;
    envd_worker *mine = NULL;
    pthread_mutex_lock(&r->lock);
    envd_worker **pp = &r->head;
    while (*pp) {
        envd_worker *w = *pp;
        if (!sandbox_id || strcmp(w->sandbox_id, sandbox_id) == 0) {
            *pp = w->next;
            envd_worker_wake(w);
            w->next = mine;
            mine = w;
        } else {
            pp = &w->next;
        }
    }
    pthread_mutex_unlock(&r->lock);
    join_list(mine);
}
