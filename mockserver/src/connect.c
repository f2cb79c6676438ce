/* connect.c - Connect protocol (JSON codec) envelopes, end-stream frames and error codes. */
#include "connect.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *name;
    int http;
} code_table[] = {
    [CONNECT_OK] = {"ok", 200},
    [CONNECT_CANCELED] = {"canceled", 499},
    [CONNECT_UNKNOWN] = {"unknown", 500},
    [CONNECT_INVALID_ARGUMENT] = {"invalid_argument", 400},
    [CONNECT_DEADLINE_EXCEEDED] = {"deadline_exceeded", 504},
    [CONNECT_NOT_FOUND] = {"not_found", 404},
    [CONNECT_ALREADY_EXISTS] = {"already_exists", 409},
    [CONNECT_PERMISSION_DENIED] = {"permission_denied", 403},
    [CONNECT_RESOURCE_EXHAUSTED] = {"resource_exhausted", 429},
    [CONNECT_FAILED_PRECONDITION] = {"failed_precondition", 400},
    [CONNECT_ABORTED] = {"aborted", 409},
    [CONNECT_OUT_OF_RANGE] = {"out_of_range", 400},
    [CONNECT_UNIMPLEMENTED] = {"unimplemented", 501},
    [CONNECT_INTERNAL] = {"internal", 500},
    [CONNECT_UNAVAILABLE] = {"unavailable", 503},
    [CONNECT_DATA_LOSS] = {"data_loss", 500},
    [CONNECT_UNAUTHENTICATED] = {"unauthenticated", 401},
};
#define CODE_COUNT (sizeof code_table / sizeof code_table[0])

const char *connect_code_name(connect_code code)
{
    if ((unsigned)code >= CODE_COUNT)
        return "unknown";
    return code_table[code].name;
}

bool connect_code_from_name(const char *name, connect_code *out)
{
    if (!name)
        return false;
    for (size_t i = 1; i < CODE_COUNT; i++) {
        if (strcmp(code_table[i].name, name) == 0) {
            *out = (connect_code)i;
            return true;
        }
    }
    return false;
}

int connect_code_http_status(connect_code code)
{
    if ((unsigned)code >= CODE_COUNT)
        return 500;
    return code_table[code].http;
}

connect_code connect_code_from_http_status(int status)
{
    switch (status) {
    case 200: return CONNECT_OK;
    case 400: return CONNECT_INTERNAL;
    case 401: return CONNECT_UNAUTHENTICATED;
    case 403: return CONNECT_PERMISSION_DENIED;
    case 404: return CONNECT_UNIMPLEMENTED;
    case 429:
    case 502:
    case 503:
    case 504: return CONNECT_UNAVAILABLE;
    default: return CONNECT_UNKNOWN;
    }
}

void connect_envelope_header(unsigned char out[CONNECT_ENVELOPE_HEADER], uint8_t flags,
                             uint32_t len)
{
    out[0] = flags;
    out[1] = (unsigned char)(len >> 24);
    out[2] = (unsigned char)(len >> 16);
    out[3] = (unsigned char)(len >> 8);
    out[4] = (unsigned char)len;
}

unsigned char *connect_envelope(uint8_t flags, const void *payload, size_t len, size_t *out_len)
{
    if (len > UINT32_MAX)
        return NULL;
    unsigned char *out = malloc(CONNECT_ENVELOPE_HEADER + len);
    if (!out)
        return NULL;
    connect_envelope_header(out, flags, (uint32_t)len);
    if (len)
        memcpy(out + CONNECT_ENVELOPE_HEADER, payload, len);
    if (out_len)
        *out_len = CONNECT_ENVELOPE_HEADER + len;
    return out;
}

/* {"code":..,"message":..} as a cJSON object (NULL on allocation failure). */
static cJSON *error_object(connect_code code, const char *message)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    if (!cJSON_AddStringToObject(o, "code", connect_code_name(code)) ||
        (message && !cJSON_AddStringToObject(o, "message", message))) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

char *connect_error_json(connect_code code, const char *message)
{
    cJSON *o = error_object(code, message);
    if (!o)
        return NULL;
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

unsigned char *connect_end_stream(connect_code code, const char *message, size_t *out_len)
{
    if (code == CONNECT_OK)
        return connect_envelope(CONNECT_FLAG_END_STREAM, "{}", 2, out_len);
    cJSON *root = cJSON_CreateObject();
    cJSON *err = error_object(code, message);
    if (!root || !err) {
        cJSON_Delete(root);
        cJSON_Delete(err);
        return NULL;
    }
    cJSON_AddItemToObject(root, "error", err);
    char *s = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (!s)
        return NULL;
    unsigned char *env = connect_envelope(CONNECT_FLAG_END_STREAM, s, strlen(s), out_len);
    cJSON_free(s);
    return env;
}

/* ---- decoder ------------------------------------------------------------------------ */

void connect_decoder_init(connect_decoder *d, size_t max_message)
{
    memset(d, 0, sizeof *d);
    d->max_message = max_message ? max_message : CONNECT_DEFAULT_MAX_MESSAGE;
}

void connect_decoder_free(connect_decoder *d)
{
    free(d->buf);
    d->buf = NULL;
    d->buf_len = d->buf_cap = 0;
}

static connect_dec_result fail(connect_decoder *d, connect_dec_result r)
{
    d->failed = true;
    return r;
}

connect_dec_result connect_decoder_feed(connect_decoder *d, const void *data, size_t len,
                                        connect_msg_fn fn, void *ud)
{
    if (d->failed)
        return CONNECT_DEC_FAILED;
    const unsigned char *p = data;
    while (len > 0) {
        if (d->hdr_len < CONNECT_ENVELOPE_HEADER) {
            size_t take = CONNECT_ENVELOPE_HEADER - d->hdr_len;
            if (take > len)
                take = len;
            memcpy(d->hdr + d->hdr_len, p, take);
            d->hdr_len += take;
            p += take;
            len -= take;
            if (d->hdr_len < CONNECT_ENVELOPE_HEADER)
                break;
            d->flags = d->hdr[0];
            d->msg_len = (uint32_t)d->hdr[1] << 24 | (uint32_t)d->hdr[2] << 16 |
                         (uint32_t)d->hdr[3] << 8 | (uint32_t)d->hdr[4];
            if (d->msg_len > d->max_message)
                return fail(d, CONNECT_DEC_TOO_LARGE);
            d->buf_len = 0;
        }
        const unsigned char *payload;
        size_t need = d->msg_len - d->buf_len;
        if (d->buf_len == 0 && len >= need) {
            payload = p; /* whole payload inside this chunk: no copy */
            p += need;
            len -= need;
        } else {
            size_t take = need < len ? need : len;
            if (d->buf_cap < d->msg_len) {
                unsigned char *nb = realloc(d->buf, d->msg_len);
                if (!nb)
                    return fail(d, CONNECT_DEC_NO_MEMORY);
                d->buf = nb;
                d->buf_cap = d->msg_len;
            }
            memcpy(d->buf + d->buf_len, p, take);
            d->buf_len += take;
            p += take;
            len -= take;
            if (d->buf_len < d->msg_len)
                break;
            payload = d->buf;
        }
        d->hdr_len = 0;
        d->buf_len = 0;
        d->messages++;
        if (fn && fn(ud, d->flags, payload, d->msg_len) != 0)
            return fail(d, CONNECT_DEC_CALLBACK);
    }
    return CONNECT_DEC_OK;
}

connect_dec_result connect_decoder_finish(const connect_decoder *d)
{
    if (d->failed)
        return CONNECT_DEC_FAILED;
    return (d->hdr_len > 0 || d->buf_len > 0) ? CONNECT_DEC_TRUNCATED : CONNECT_DEC_OK;
}

const char *connect_dec_strerror(connect_dec_result r)
{
    switch (r) {
    case CONNECT_DEC_OK: return "ok";
    case CONNECT_DEC_TOO_LARGE: return "message exceeds the size limit";
    case CONNECT_DEC_TRUNCATED: return "incomplete envelope";
    case CONNECT_DEC_NO_MEMORY: return "out of memory";
    case CONNECT_DEC_CALLBACK: return "message rejected";
    case CONNECT_DEC_FAILED: return "decoder already failed";
    }
    return "unknown decoder error";
}
