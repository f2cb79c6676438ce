/* ndjson.c - incremental NDJSON line splitter. See ndjson.h for the contract. */
#include "ndjson.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void e2b_ndjson_init(e2b_ndjson *p, size_t max_line)
{
    memset(p, 0, sizeof *p);
    p->max_line = max_line ? max_line : E2B_NDJSON_DEFAULT_MAX_LINE;
}

void e2b_ndjson_free(e2b_ndjson *p)
{
    if (!p)
        return;
    free(p->buf);
    p->buf = NULL;
    p->len = p->cap = 0;
}

void e2b_ndjson_reset(e2b_ndjson *p)
{
    p->len = 0;
    p->lines = 0;
    p->failed = false;
}

bool e2b_ndjson_pending(const e2b_ndjson *p)
{
    return p->len > 0;
}

static e2b_code too_long(e2b_ndjson *p, e2b_error *err)
{
    p->failed = true;
    p->len = 0;
    return e2b_error_set(err, E2B_ERR_PROTOCOL, 0,
                         "NDJSON line %zu is longer than the limit of %zu bytes", p->lines + 1,
                         p->max_line);
}

/* Appends n bytes to the carry-over buffer, growing it geometrically up to max_line. */
static e2b_code append(e2b_ndjson *p, const char *data, size_t n, e2b_error *err)
{
    if (n > p->max_line - p->len)
        return too_long(p, err);
    size_t need = p->len + n;
    if (need > p->cap) {
        size_t cap = p->cap ? p->cap : 4096;
        while (cap < need)
            cap = cap > SIZE_MAX / 2 ? need : cap * 2;
        char *nb = realloc(p->buf, cap);
        if (!nb) {
            p->failed = true;
            return e2b_error_set(err, E2B_ERR_NO_MEMORY, 0, "NDJSON buffer of %zu bytes", cap);
        }
        p->buf = nb;
        p->cap = cap;
    }
    memcpy(p->buf + p->len, data, n);
    p->len = need;
    return E2B_OK;
}

static bool is_blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        switch (s[i]) {
        case ' ':
        case '\t':
        case '\r':
        case '\f':
        case '\v': break;
        default: return false;
        }
    }
    return true;
}

static e2b_code emit(e2b_ndjson *p, const char *line, size_t n, e2b_ndjson_line_fn fn, void *ud,
                     e2b_error *err)
{
    if (n > 0 && line[n - 1] == '\r')
        n--;
    if (is_blank(line, n))
        return E2B_OK;
    p->lines++;
    e2b_code rc = fn(ud, line, n, err);
    if (rc != E2B_OK)
        p->failed = true;
    return rc;
}

static e2b_code failed_error(const e2b_ndjson *p, e2b_error *err)
{
    return e2b_error_set(err, E2B_ERR_PROTOCOL, 0, "NDJSON parser already failed (after %zu lines)",
                         p->lines);
}

e2b_code e2b_ndjson_feed(e2b_ndjson *p, const char *data, size_t len, e2b_ndjson_line_fn fn,
                         void *ud, e2b_error *err)
{
    if (p->failed)
        return failed_error(p, err);
    size_t pos = 0;
    while (pos < len) {
        const char *start = data + pos;
        const char *nl = memchr(start, '\n', len - pos);
        if (!nl)
            return append(p, start, len - pos, err);
        size_t seg = (size_t)(nl - start);
        e2b_code rc;
        if (p->len == 0) {
            /* the whole line is inside this chunk: hand it over without copying */
            if (seg > p->max_line)
                return too_long(p, err);
            rc = emit(p, start, seg, fn, ud, err);
        } else {
            rc = append(p, start, seg, err);
            if (rc != E2B_OK)
                return rc;
            size_t n = p->len;
            p->len = 0; /* before the callback: the buffer content stays valid during it */
            rc = emit(p, p->buf, n, fn, ud, err);
        }
        if (rc != E2B_OK)
            return rc;
        pos += seg + 1;
    }
    return E2B_OK;
}

e2b_code e2b_ndjson_finish(e2b_ndjson *p, e2b_ndjson_line_fn fn, void *ud, e2b_error *err)
{
    if (p->failed)
        return failed_error(p, err);
    size_t n = p->len;
    p->len = 0;
    if (n == 0)
        return E2B_OK;
    return emit(p, p->buf, n, fn, ud, err);
}
