/* connect.c - Connect protocol JSON codec (client side) and the envd call layer.
 * See connect.h for the contracts. */
#include "connect.h"
#include "json_util.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <openssl/evp.h>

/* ==== 1. envelope codec ================================================================ */

void e2b_connect_decoder_init(e2b_connect_decoder *d, size_t max_message,
                              e2b_connect_service service)
{
    memset(d, 0, sizeof *d);
    d->max_message = max_message ? max_message : E2B_CONNECT_DEFAULT_MAX_MESSAGE;
    d->service = service;
}

void e2b_connect_decoder_free(e2b_connect_decoder *d)
{
    if (!d)
        return;
    free(d->buf);
    d->buf = NULL;
    d->len = d->cap = 0;
}

static e2b_code dec_fail(e2b_connect_decoder *d, e2b_error *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static e2b_code dec_fail(e2b_connect_decoder *d, e2b_error *err, const char *fmt, ...)
{
    char msg[E2B_ERROR_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    d->failed = true;
    d->len = 0;
    return e2b_error_set(err, E2B_ERR_PROTOCOL, 0, "%s", msg);
}

static e2b_code dec_append(e2b_connect_decoder *d, const char *data, size_t n, e2b_error *err)
{
    size_t need = d->len + n; /* <= d->need <= max_message: no overflow */
    if (need > d->cap) {
        size_t cap = d->cap ? d->cap : 4096;
        while (cap < need)
            cap *= 2;
        if (cap > d->max_message)
            cap = d->max_message;
        char *nb = realloc(d->buf, cap);
        if (!nb) {
            d->failed = true;
            return e2b_error_set(err, E2B_ERR_NO_MEMORY, 0, "Connect envelope buffer of %zu bytes",
                                 cap);
        }
        d->buf = nb;
        d->cap = cap;
    }
    memcpy(d->buf + d->len, data, n);
    d->len = need;
    return E2B_OK;
}

/* Handles the end-stream envelope's JSON. Sets ended/end_code; returns end_code. */
static e2b_code dec_end_stream(e2b_connect_decoder *d, const char *json, size_t n, e2b_error *err)
{
    cJSON *root = cJSON_ParseWithLength(json, n);
    if (!root && e2b_json_valid(json, n)) { /* cJSON failed on valid JSON: out of memory */
        d->failed = true;
        return e2b_error_set(err, E2B_ERR_NO_MEMORY, 0, "out of memory parsing EndStreamResponse");
    }
    if (!root || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        d->failed = true;
        return e2b_error_set(err, E2B_ERR_PROTOCOL, 0,
                             "EndStreamResponse is not a JSON object (%zu bytes)", n);
    }
    d->ended = true;
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(root, "error");
    if (e && !cJSON_IsNull(e)) {
        d->end_code = e2b_connect_error_from_json(e, 0, d->service, &d->end_err);
        d->failed = true;
        if (err)
            *err = d->end_err;
    } else {
        d->end_code = E2B_OK;
    }
    cJSON_Delete(root);
    return d->end_code;
}

static e2b_code dec_deliver(e2b_connect_decoder *d, const char *msg, size_t n,
                            e2b_connect_msg_fn fn, void *ud, e2b_error *err)
{
    d->in_payload = false;
    d->hdr_len = 0;
    if (d->flags & E2B_CONNECT_FLAG_END_STREAM)
        return dec_end_stream(d, msg, n, err);
    d->messages++;
    e2b_code rc = fn ? fn(ud, msg, n, err) : E2B_OK;
    if (rc != E2B_OK)
        d->failed = true;
    return rc;
}

e2b_code e2b_connect_decoder_feed(e2b_connect_decoder *d, const char *data, size_t len,
                                  e2b_connect_msg_fn fn, void *ud, e2b_error *err)
{
    if (d->failed) {
        if (d->ended && d->end_code != E2B_OK) {
            if (err)
                *err = d->end_err;
            return d->end_code;
        }
        return e2b_error_set(err, E2B_ERR_PROTOCOL, 0,
                             "Connect stream decoder already failed (after %zu messages)",
                             d->messages);
    }
    size_t pos = 0;
    while (pos < len) {
        if (d->ended)
            return dec_fail(d, err, "%zu bytes of data after EndStreamResponse", len - pos);
        if (!d->in_payload) {
            size_t take = E2B_CONNECT_ENVELOPE_HEADER - d->hdr_len;
            if (take > len - pos)
                take = len - pos;
            memcpy(d->hdr + d->hdr_len, data + pos, take);
            d->hdr_len += take;
            pos += take;
            if (d->hdr_len < E2B_CONNECT_ENVELOPE_HEADER)
                break;
            d->flags = d->hdr[0];
            d->need = ((size_t)d->hdr[1] << 24) | ((size_t)d->hdr[2] << 16) |
                      ((size_t)d->hdr[3] << 8) | (size_t)d->hdr[4];
            if (d->flags & E2B_CONNECT_FLAG_COMPRESSED)
                return dec_fail(d, err,
                                "compressed Connect envelope (flags 0x%02x) but no "
                                "compression was negotiated",
                                d->flags);
            if (d->flags & ~(unsigned)E2B_CONNECT_FLAG_END_STREAM)
                return dec_fail(d, err, "unknown Connect envelope flags 0x%02x", d->flags);
            if (d->need > d->max_message)
                return dec_fail(d, err, "Connect message of %zu bytes exceeds the limit of %zu",
                                d->need, d->max_message);
            d->in_payload = true;
            d->len = 0;
            if (d->need == 0) {
                e2b_code rc = dec_deliver(d, "", 0, fn, ud, err);
                if (rc != E2B_OK)
                    return rc;
            }
            continue;
        }
        size_t avail = len - pos;
        if (d->len == 0 && avail >= d->need) {
            /* the whole message is inside this chunk: no copy */
            const char *msg = data + pos;
            pos += d->need;
            e2b_code rc = dec_deliver(d, msg, d->need, fn, ud, err);
            if (rc != E2B_OK)
                return rc;
            continue;
        }
        size_t take = d->need - d->len;
        if (take > avail)
            take = avail;
        e2b_code rc = dec_append(d, data + pos, take, err);
        if (rc != E2B_OK)
            return rc;
        pos += take;
        if (d->len < d->need)
            break;
        size_t n = d->len;
        d->len = 0; /* the buffer stays valid during the callback */
        rc = dec_deliver(d, d->buf, n, fn, ud, err);
        if (rc != E2B_OK)
            return rc;
    }
    return E2B_OK;
}

e2b_code e2b_connect_decoder_finish(e2b_connect_decoder *d, e2b_error *err)
{
    if (d->ended && (d->end_code != E2B_OK || !d->failed)) {
        if (d->end_code != E2B_OK && err)
            *err = d->end_err;
        return d->end_code;
    }
    if (d->failed)
        return e2b_error_set(err, E2B_ERR_PROTOCOL, 0,
                             "Connect stream decoder already failed (after %zu messages)",
                             d->messages);
    d->failed = true;
    if (d->hdr_len > 0 || d->in_payload)
        return e2b_error_set(err, E2B_ERR_PROTOCOL, 0,
                             "incomplete envelope: the stream closed inside an envelope "
                             "(%zu of %zu payload bytes)",
                             d->len, d->in_payload ? d->need : (size_t)0);
    return e2b_error_set(err, E2B_ERR_PROTOCOL, 0,
                         "missing EndStreamResponse: the stream closed after %zu messages "
                         "without the end-stream envelope",
                         d->messages);
}

void e2b_connect_envelope_header(unsigned char hdr[E2B_CONNECT_ENVELOPE_HEADER],
                                 unsigned char flags, uint32_t len)
{
    hdr[0] = flags;
    hdr[1] = (unsigned char)(len >> 24);
    hdr[2] = (unsigned char)(len >> 16);
    hdr[3] = (unsigned char)(len >> 8);
    hdr[4] = (unsigned char)len;
}

char *e2b_connect_envelope(unsigned char flags, const char *payload, size_t len, size_t *out_len)
{
    if (len > UINT32_MAX)
        return NULL;
    char *out = malloc(len + E2B_CONNECT_ENVELOPE_HEADER);
    if (!out)
        return NULL;
    e2b_connect_envelope_header((unsigned char *)out, flags, (uint32_t)len);
    if (len)
        memcpy(out + E2B_CONNECT_ENVELOPE_HEADER, payload, len);
    if (out_len)
        *out_len = len + E2B_CONNECT_ENVELOPE_HEADER;
    return out;
}

/* ==== 2. error mapping ================================================================= */

e2b_code e2b_connect_code_from_string(const char *code, e2b_connect_service service)
{
    if (!code)
        return E2B_ERR_SERVER;
    if (!strcmp(code, "not_found"))
        return service == E2B_CONNECT_FILESYSTEM ? E2B_ERR_FILE_NOT_FOUND : E2B_ERR_NOT_FOUND;
    if (!strcmp(code, "unauthenticated") || !strcmp(code, "permission_denied"))
        return E2B_ERR_AUTH;
    if (!strcmp(code, "invalid_argument"))
        return E2B_ERR_INVALID_ARGUMENT;
    if (!strcmp(code, "already_exists"))
        return E2B_ERR_CONFLICT;
    if (!strcmp(code, "resource_exhausted"))
        return E2B_ERR_RATE_LIMITED;
    if (!strcmp(code, "unavailable"))
        return E2B_ERR_SANDBOX_GONE;
    if (!strcmp(code, "deadline_exceeded"))
        return E2B_ERR_OPERATION_TIMEOUT;
    if (!strcmp(code, "canceled"))
        return E2B_ERR_CANCELLED;
    if (!strcmp(code, "unimplemented"))
        return E2B_ERR_UNSUPPORTED;
    if (!strcmp(code, "internal") || !strcmp(code, "unknown") || !strcmp(code, "data_loss"))
        return E2B_ERR_INTERNAL;
    return E2B_ERR_SERVER;
}

const char *e2b_connect_code_for_status(int http_status)
{
    switch (http_status) {
    case 400: return "internal";
    case 401: return "unauthenticated";
    case 403: return "permission_denied";
    case 404: return "unimplemented";
    case 429:
    case 502:
    case 503:
    case 504: return "unavailable";
    default: return "unknown";
    }
}

e2b_code e2b_connect_code_for_http_status(int http_status, e2b_connect_service service)
{
    switch (http_status) {
    case 429: return E2B_ERR_RATE_LIMITED;
    case 502: return E2B_ERR_SANDBOX_GONE;
    case 503: return E2B_ERR_SERVICE_BUSY;
    default: break;
    }
    e2b_code c = e2b_connect_code_from_string(e2b_connect_code_for_status(http_status), service);
    if (c == E2B_ERR_INTERNAL && http_status > 0 && http_status < 500)
        return E2B_ERR_SERVER;
    return c;
}

bool e2b_connect_content_type_is(const char *ct, const char *want)
{
    if (!ct || !want)
        return false;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    size_t n = strlen(want);
    if (strncasecmp(ct, want, n) != 0)
        return false;
    char c = ct[n];
    return c == '\0' || c == ';' || c == ' ' || c == '\t';
}

/* Copies at most max printable bytes of s (others -> '?') into a message-sized buffer. */
static void printable(char *dst, size_t cap, const char *s, size_t len)
{
    size_t n = len < cap - 1 ? len : cap - 1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        dst[i] = (c >= 0x20 && c != 0x7f) || c >= 0x80 ? (char)c : ' ';
    }
    dst[n] = '\0';
    while (n > 0 && dst[n - 1] == ' ')
        dst[--n] = '\0';
}

e2b_code e2b_connect_error_from_json(const cJSON *obj, int http_status, e2b_connect_service service,
                                     e2b_error *err)
{
    if (!cJSON_IsObject(obj))
        return e2b_error_set(err, E2B_ERR_PROTOCOL, http_status,
                             "Connect error is not a JSON object");
    const cJSON *code = cJSON_GetObjectItemCaseSensitive(obj, "code");
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(obj, "message");
    const char *m = cJSON_IsString(msg) ? msg->valuestring : "";
    const char *name;
    e2b_code c;
    if (cJSON_IsString(code)) {
        name = code->valuestring;
        c = e2b_connect_code_from_string(name, service);
    } else if (http_status > 0) {
        name = e2b_connect_code_for_status(http_status);
        c = e2b_connect_code_for_http_status(http_status, service);
    } else {
        name = "unknown";
        c = E2B_ERR_INTERNAL;
    }
    return e2b_error_set(err, c, http_status, "%s: %s", name, m);
}

e2b_code e2b_connect_unary_error(int http_status, const char *content_type, const char *body,
                                 size_t len, e2b_connect_service service, e2b_error *err)
{
    if (body && len > 0 && e2b_connect_content_type_is(content_type, "application/json")) {
        cJSON *root = cJSON_ParseWithLength(body, len);
        if (cJSON_IsObject(root)) {
            e2b_code c = e2b_connect_error_from_json(root, http_status, service, err);
            cJSON_Delete(root);
            return c;
        }
        cJSON_Delete(root);
    }
    char text[256] = "";
    if (body && len)
        printable(text, sizeof text, body, len);
    e2b_code c = e2b_connect_code_for_http_status(http_status, service);
    return e2b_error_set(err, c, http_status, "HTTP %d (%s)%s%s", http_status,
                         e2b_connect_code_for_status(http_status), text[0] ? ": " : "", text);
}

/* ==== 3. proto3 JSON helpers =========================================================== */

const cJSON *e2b_connect_field(const cJSON *obj, const char *camel, const char *snake)
{
    if (!cJSON_IsObject(obj))
        return NULL;
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, camel);
    if (!it && snake)
        it = cJSON_GetObjectItemCaseSensitive(obj, snake);
    return it;
}

bool e2b_connect_get_int64(const cJSON *item, int64_t dflt, int64_t *out)
{
    *out = dflt;
    if (!item || cJSON_IsNull(item))
        return true;
    if (cJSON_IsString(item)) {
        const char *s = item->valuestring;
        if (!*s || isspace((unsigned char)*s))
            return false;
        char *end;
        errno = 0;
        long long v = strtoll(s, &end, 10);
        if (errno || *end)
            return false;
        *out = (int64_t)v;
        return true;
    }
    if (cJSON_IsNumber(item)) {
        double v = item->valuedouble;
        if (!isfinite(v) || v != floor(v) || v < -9223372036854775808.0 ||
            v >= 9223372036854775808.0)
            return false;
        *out = (int64_t)v;
        return true;
    }
    return false;
}

int e2b_connect_get_enum(const cJSON *item, const char *const *names, size_t n)
{
    if (!item || cJSON_IsNull(item))
        return 0;
    if (cJSON_IsString(item)) {
        for (size_t i = 0; i < n; i++)
            if (names[i] && !strcmp(names[i], item->valuestring))
                return (int)i;
        return -1;
    }
    if (cJSON_IsNumber(item)) {
        double v = item->valuedouble;
        if (v >= 0 && v <= INT_MAX && v == floor(v))
            return (int)v;
    }
    return -1;
}

static bool b64_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/';
}

unsigned char *e2b_connect_b64_decode(const char *s, size_t len, size_t *out_len)
{
    *out_len = 0;
    size_t n = len;
    while (n > 0 && s[n - 1] == '=')
        n--;
    if (len - n > 2 || len / 4 > INT_MAX / 3)
        return NULL;
    for (size_t i = 0; i < n; i++)
        if (!b64_char((unsigned char)s[i]))
            return NULL;
    size_t full = n / 4 * 4, rem = n - full;
    if (rem == 1)
        return NULL;
    if (len != n && (len % 4) != 0)
        return NULL; /* padded input must be whole quads */
    unsigned char *out = malloc(full / 4 * 3 + 3 + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    if (full) {
        int r = EVP_DecodeBlock(out, (const unsigned char *)s, (int)full);
        if (r != (int)(full / 4 * 3)) {
            free(out);
            return NULL;
        }
        o = (size_t)r;
    }
    if (rem) {
        unsigned char tmp[4] = {'=', '=', '=', '='}, dec[3];
        memcpy(tmp, s + full, rem);
        if (EVP_DecodeBlock(dec, tmp, 4) != 3) {
            free(out);
            return NULL;
        }
        memcpy(out + o, dec, rem - 1);
        o += rem - 1;
    }
    out[o] = '\0';
    *out_len = o;
    return out;
}

char *e2b_connect_b64_encode(const void *data, size_t len)
{
    if (len > (size_t)INT_MAX / 4 * 3 - 3)
        return NULL;
    size_t cap = (len + 2) / 3 * 4 + 1;
    char *out = malloc(cap);
    if (!out)
        return NULL;
    if (len == 0) {
        out[0] = '\0';
        return out;
    }
    EVP_EncodeBlock((unsigned char *)out, data, (int)len);
    return out;
}

static bool digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

bool e2b_connect_parse_time(const char *s, time_t *out)
{
    int Y, M, D, h, m, sec;
    if (!s || strlen(s) < 20)
        return false;
    if (!digits(s, 4, &Y) || s[4] != '-' || !digits(s + 5, 2, &M) || s[7] != '-' ||
        !digits(s + 8, 2, &D) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
        !digits(s + 11, 2, &h) || s[13] != ':' || !digits(s + 14, 2, &m) || s[16] != ':' ||
        !digits(s + 17, 2, &sec))
        return false;
    if (M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || sec > 60)
        return false;
    const char *p = s + 19;
    if (*p == '.') {
        p++;
        if (*p < '0' || *p > '9')
            return false;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    long off = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh, om;
        if (!digits(p + 1, 2, &oh) || p[3] != ':' || !digits(p + 4, 2, &om))
            return false;
        off = (oh * 3600L + om * 60L) * (*p == '-' ? -1 : 1);
        p += 6;
    } else {
        return false;
    }
    if (*p)
        return false;
    struct tm tm = {0};
    tm.tm_year = Y - 1900;
    tm.tm_mon = M - 1;
    tm.tm_mday = D;
    tm.tm_hour = h;
    tm.tm_min = m;
    tm.tm_sec = sec;
    time_t t = timegm(&tm);
    if (t == (time_t)-1 && !(Y == 1969))
        return false;
    *out = t - off;
    return true;
}

/* ==== 4. envd call layer ================================================================ */

#include "http.h"

e2b_code e2b_connect_envd_init_raw(e2b_envd *e, e2b_client *client, const char *sandbox_id,
                                   const char *domain, const char *token, const char *user,
                                   e2b_error *err)
{
    memset(e, 0, sizeof *e);
    if (!client || !sandbox_id || !*sandbox_id)
        return e2b_error_set(err, E2B_ERR_INVALID_ARGUMENT, 0, "a sandbox is required");
    e2b_code rc = e2b_client_sandbox_url(client, sandbox_id, domain, E2B_ENVD_PORT, e->base,
                                         sizeof e->base, err);
    if (rc != E2B_OK)
        return rc;
    e->client = client;
    int n = snprintf(e->h_sandbox_id, sizeof e->h_sandbox_id, "E2b-Sandbox-Id: %s", sandbox_id);
    if (n < 0 || (size_t)n >= sizeof e->h_sandbox_id || strpbrk(sandbox_id, "\r\n"))
        return e2b_error_set(err, E2B_ERR_INVALID_ARGUMENT, 0, "invalid sandbox id");
    if (token && *token) {
        n = snprintf(e->h_token, sizeof e->h_token, "X-Access-Token: %s", token);
        if (n < 0 || (size_t)n >= sizeof e->h_token || strpbrk(token, "\r\n"))
            return e2b_error_set(err, E2B_ERR_INVALID_ARGUMENT, 0, "invalid envd access token");
    }
    if (user && *user) {
        char plain[200];
        n = snprintf(plain, sizeof plain, "%s:", user);
        if (n < 0 || (size_t)n >= sizeof plain || strpbrk(user, "\r\n:"))
            return e2b_error_set(err, E2B_ERR_INVALID_ARGUMENT, 0, "invalid user name");
        char *b64 = e2b_connect_b64_encode(plain, (size_t)n);
        if (!b64)
            return e2b_error_set(err, E2B_ERR_NO_MEMORY, 0, "user header");
        snprintf(e->h_auth, sizeof e->h_auth, "Authorization: Basic %s", b64);
        free(b64);
        e->user = user;
    }
    return E2B_OK;
}

e2b_code e2b_connect_envd_init(e2b_envd *e, const e2b_sandbox *sbx, const char *user,
                               e2b_error *err)
{
    if (!sbx) {
        memset(e, 0, sizeof *e);
        return e2b_error_set(err, E2B_ERR_INVALID_ARGUMENT, 0, "sandbox is NULL");
    }
    return e2b_connect_envd_init_raw(e, e2b_sandbox_client(sbx), e2b_sandbox_id(sbx),
                                     e2b_sandbox_domain(sbx), e2b_sandbox_envd_access_token(sbx),
                                     user, err);
}

void e2b_connect_envd_headers(const e2b_envd *e, const char **hdrs, size_t *n)
{
    hdrs[(*n)++] = e->h_sandbox_id;
    hdrs[(*n)++] = "E2b-Sandbox-Port: 49983";
    if (e->h_token[0])
        hdrs[(*n)++] = e->h_token;
    hdrs[*n] = NULL;
}

/* Whether envd must not get the RPC twice: everything but the reads and the streams that
 * only watch (Stat, ListDir, List, Connect, WatchDir, GetWatcherEvents). */
static bool rpc_non_idempotent(const char *method)
{
    static const char *const reads[] = {"/Stat",    "/ListDir",  "/List",
                                        "/Connect", "/WatchDir", "/GetWatcherEvents"};
    const char *slash = method ? strrchr(method, '/') : NULL;
    if (!slash)
        return true;
    for (size_t i = 0; i < sizeof reads / sizeof reads[0]; i++)
        if (!strcmp(slash, reads[i]))
            return false;
    return true;
}

static e2b_code rpc_url(const e2b_envd *e, const char *method, char **url, e2b_error *err)
{
    return e2b_http_url(url, e->base, method, NULL, err);
}

e2b_code e2b_connect_probe_gone(const e2b_envd *e, e2b_code rc, e2b_error *err)
{
    if (rc != E2B_ERR_NETWORK && rc != E2B_ERR_PROTOCOL)
        return rc;
    if (rc == E2B_ERR_PROTOCOL && err && !strstr(err->message, "EndStreamResponse") &&
        !strstr(err->message, "incomplete envelope"))
        return rc; /* malformed data, not a dropped connection */
    char *url = NULL;
    e2b_error perr;
    if (e2b_http_url(&url, e->base, "/health", NULL, &perr) != E2B_OK)
        return rc;
    const char *hdrs[6];
    size_t n = 0;
    e2b_connect_envd_headers(e, hdrs, &n);
    e2b_http_request hr = {0};
    hr.method = "GET";
    hr.url = url;
    hr.headers = hdrs;
    hr.timeout_ms = E2B_CONNECT_HEALTH_TIMEOUT_MS;
    e2b_http_response resp = {0};
    e2b_code prc = e2b_http_perform(e->client, &hr, &resp, &perr);
    free(url);
    if (prc == E2B_OK && resp.status == 502) {
        char was[E2B_ERROR_MESSAGE_MAX];
        memcpy(was, err ? err->message : "", err ? sizeof was : 1);
        was[sizeof was - 1] = '\0';
        rc = e2b_error_set(err, E2B_ERR_SANDBOX_GONE, 502,
                           "the sandbox is gone (health check: 502) after: %.300s", was);
    }
    e2b_http_response_free(&resp);
    return rc;
}

e2b_code e2b_connect_unary(const e2b_envd *e, const char *method, e2b_connect_service svc,
                           const cJSON *req, long timeout_ms, cJSON **out, e2b_error *err)
{
    if (out)
        *out = NULL;
    char *url = NULL;
    e2b_code rc = rpc_url(e, method, &url, err);
    if (rc != E2B_OK)
        return rc;
    char *body = req ? cJSON_PrintUnformatted(req) : NULL;
    if (req && !body) {
        free(url);
        return e2b_error_set(err, E2B_ERR_NO_MEMORY, 0, "RPC request body");
    }
    const char *hdrs[10];
    size_t n = 0;
    hdrs[n++] = "Content-Type: application/json";
    hdrs[n++] = "Connect-Protocol-Version: 1";
    if (e->h_auth[0])
        hdrs[n++] = e->h_auth;
    e2b_connect_envd_headers(e, hdrs, &n);

    e2b_http_request hr = {0};
    hr.method = "POST";
    hr.url = url;
    hr.headers = hdrs;
    hr.body = body ? body : "{}";
    hr.body_len = strlen(hr.body);
    hr.timeout_ms = timeout_ms;
    hr.non_idempotent = rpc_non_idempotent(method);
    hr.max_body = 64u * 1024 * 1024;
    e2b_http_response resp = {0};
    rc = e2b_http_perform(e->client, &hr, &resp, err);
    cJSON_free(body);
    free(url);
    if (rc != E2B_OK) {
        rc = e2b_connect_probe_gone(e, rc, err);
        goto done;
    }
    if (resp.status != 200) {
        rc = e2b_connect_unary_error((int)resp.status, resp.content_type, resp.body, resp.body_len,
                                     svc, err);
        if (rc == E2B_ERR_RATE_LIMITED && err) /* as the REST planes: keep Retry-After */
            err->retry_after_s = e2b_http_response_retry_after(&resp);
        goto done;
    }
    if (!e2b_connect_content_type_is(resp.content_type, "application/json")) {
        rc = e2b_error_set(err, E2B_ERR_PROTOCOL, 200, "%s: unsupported content type '%s'", method,
                           resp.content_type ? resp.content_type : "");
        goto done;
    }
    cJSON *root = cJSON_ParseWithLength(resp.body ? resp.body : "", resp.body_len);
    if (!root && e2b_json_valid(resp.body, resp.body_len)) { /* cJSON ran out of memory */
        rc = e2b_error_set(err, E2B_ERR_NO_MEMORY, 0, "%s: out of memory parsing the reply",
                           method);
        goto done;
    }
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        rc = e2b_error_set(err, E2B_ERR_PROTOCOL, 200, "%s: reply is not a JSON object (%zu bytes)",
                           method, resp.body_len);
        goto done;
    }
    if (out)
        *out = root;
    else
        cJSON_Delete(root);
done:
    e2b_http_response_free(&resp);
    return rc;
}

typedef struct stream_ctx {
    e2b_connect_decoder dec;
    e2b_connect_msg_fn fn;
    void *ud;
    const char *method;
    bool ok_status; /* 200 + connect+json */
    bool got_headers;
} stream_ctx;

static e2b_code stream_on_headers(const e2b_http_response *resp, void *ud, e2b_error *err)
{
    stream_ctx *s = ud;
    s->got_headers = true;
    if (resp->status != 200)
        return E2B_OK; /* the body is buffered; mapped after perform */
    if (!e2b_connect_content_type_is(resp->content_type, "application/connect+json"))
        return e2b_error_set(err, E2B_ERR_PROTOCOL, 200, "%s: unsupported content type '%s'",
                             s->method, resp->content_type ? resp->content_type : "");
    s->ok_status = true;
    return E2B_OK;
}

static e2b_code stream_on_data(const char *p, size_t n, void *ud, e2b_error *err)
{
    stream_ctx *s = ud;
    return e2b_connect_decoder_feed(&s->dec, p, n, s->fn, s->ud, err);
}

e2b_code e2b_connect_stream(const e2b_envd *e, const char *method, e2b_connect_service svc,
                            const cJSON *req, const e2b_connect_stream_opts *opts,
                            e2b_connect_msg_fn fn, void *ud, e2b_error *err)
{
    static const e2b_connect_stream_opts no_opts = {0};
    if (!opts)
        opts = &no_opts;
    char *url = NULL;
    e2b_code rc = rpc_url(e, method, &url, err);
    if (rc != E2B_OK)
        return rc;
    char *json = req ? cJSON_PrintUnformatted(req) : NULL;
    size_t env_len = 0;
    char *env = json || !req
                    ? e2b_connect_envelope(0, json ? json : "{}", json ? strlen(json) : 2, &env_len)
                    : NULL;
    cJSON_free(json);
    if (!env) {
        free(url);
        return e2b_error_set(err, E2B_ERR_NO_MEMORY, 0, "RPC request envelope");
    }
    char h_timeout[64];
    const char *hdrs[12];
    size_t n = 0;
    hdrs[n++] = "Content-Type: application/connect+json";
    hdrs[n++] = "Connect-Protocol-Version: 1";
    if (opts->timeout_ms > 0) {
        snprintf(h_timeout, sizeof h_timeout, "Connect-Timeout-Ms: %ld", opts->timeout_ms);
        hdrs[n++] = h_timeout;
    }
    if (opts->keepalive)
        hdrs[n++] = E2B_CONNECT_KEEPALIVE_HEADER;
    if (e->h_auth[0])
        hdrs[n++] = e->h_auth;
    e2b_connect_envd_headers(e, hdrs, &n);

    stream_ctx s = {.fn = fn, .ud = ud, .method = method};
    e2b_connect_decoder_init(&s.dec, 0, svc);
    e2b_http_request hr = {0};
    hr.method = "POST";
    hr.url = url;
    hr.headers = hdrs;
    hr.body = env;
    hr.body_len = env_len;
    hr.non_idempotent = rpc_non_idempotent(method);
    hr.timeout_ms = opts->timeout_ms > 0 ? opts->timeout_ms : E2B_HTTP_NO_TIMEOUT;
    hr.headers_timeout_ms = e2b_client_request_timeout_ms(e->client);
    if (opts->timeout_ms > 0 && hr.headers_timeout_ms > opts->timeout_ms)
        hr.headers_timeout_ms = 0; /* the whole deadline comes first anyway */
    hr.timeout_code = E2B_ERR_OPERATION_TIMEOUT;
    hr.cancel = opts->cancel;
    hr.on_headers = stream_on_headers;
    hr.on_data = stream_on_data;
    hr.ud = &s;
    e2b_http_response resp = {0};
    rc = e2b_http_perform(e->client, &hr, &resp, err);
    free(env);
    free(url);
    if (rc == E2B_ERR_OPERATION_TIMEOUT && !s.got_headers && hr.headers_timeout_ms > 0) {
        /* no response headers within the request timeout: not the operation's deadline */
        rc = e2b_error_set(err, E2B_ERR_REQUEST_TIMEOUT, 0, "%s: no response within %ld ms", method,
                           hr.headers_timeout_ms);
    }
    if (rc == E2B_OK) {
        if (resp.status != 200) {
            /* connect-web ignores the body of a non-200 stream reply; we keep its text in
             * the message only */
            char text[200] = "";
            if (resp.body && resp.body_len)
                printable(text, sizeof text, resp.body, resp.body_len);
            rc = e2b_error_set(err, e2b_connect_code_for_http_status((int)resp.status, svc),
                               (int)resp.status, "%s: HTTP %ld (%s)%s%s", method, resp.status,
                               e2b_connect_code_for_status((int)resp.status), text[0] ? ": " : "",
                               text);
            if (rc == E2B_ERR_RATE_LIMITED && err)
                err->retry_after_s = e2b_http_response_retry_after(&resp);
        } else {
            rc = e2b_connect_decoder_finish(&s.dec, err);
        }
    }
    if (rc == E2B_ERR_NETWORK || (rc == E2B_ERR_PROTOCOL && !s.dec.ended))
        rc = e2b_connect_probe_gone(e, rc, err);
    e2b_connect_decoder_free(&s.dec);
    e2b_http_response_free(&resp);
    return rc;
}
