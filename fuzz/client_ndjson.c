/* client_ndjson - the client's NDJSON splitter (client/src/ndjson.h).
 * Invariant: feeding the input all at once and in uneven pieces gives the same lines and
 * the same result code; no emitted line is blank, contains '\n', or exceeds max_line. */
#include <string.h>

#include "fuzz.h"
#include "ndjson.h"

typedef struct sink {
    char *buf;
    size_t len, cap, lines, max_line;
} sink;

static e2b_code on_line(void *ud, const char *line, size_t len, e2b_error *err)
{
    (void)err;
    sink *s = ud;
    FUZZ_CHECK(len > 0 && len <= s->max_line);
    FUZZ_CHECK(memchr(line, '\n', len) == NULL);
    if (s->len + len + sizeof len > s->cap) {
        size_t cap = (s->len + len + sizeof len) * 2;
        char *p = realloc(s->buf, cap);
        if (!p)
            return E2B_ERR_NO_MEMORY;
        s->buf = p;
        s->cap = cap;
    }
    memcpy(s->buf + s->len, &len, sizeof len);
    memcpy(s->buf + s->len + sizeof len, line, len);
    s->len += len + sizeof len;
    s->lines++;
    return E2B_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned seed = data[0];
    size_t max_line = (seed & 0x80) ? 32 : 0; /* small limit half of the time */
    data++, size--;

    sink a = {.max_line = max_line ? max_line : E2B_NDJSON_DEFAULT_MAX_LINE};
    sink b = a;
    e2b_ndjson p;
    e2b_error err;

    e2b_ndjson_init(&p, max_line);
    e2b_code ra = e2b_ndjson_feed(&p, (const char *)data, size, on_line, &a, &err);
    if (ra == E2B_OK)
        ra = e2b_ndjson_finish(&p, on_line, &a, &err);
    FUZZ_CHECK(!e2b_ndjson_pending(&p));
    e2b_ndjson_free(&p);

    e2b_ndjson_init(&p, max_line);
    e2b_code rb = E2B_OK;
    for (size_t off = 0, i = 0; rb == E2B_OK && off < size; i++) {
        size_t n = fuzz_step(seed, i);
        if (n > size - off)
            n = size - off;
        rb = e2b_ndjson_feed(&p, (const char *)data + off, n, on_line, &b, &err);
        off += n;
    }
    if (rb == E2B_OK)
        rb = e2b_ndjson_finish(&p, on_line, &b, &err);
    /* after a failure the parser must stay failed */
    if (rb != E2B_OK)
        FUZZ_CHECK(e2b_ndjson_feed(&p, "x\n", 2, on_line, &b, &err) != E2B_OK);
    e2b_ndjson_free(&p);

    FUZZ_CHECK(ra == rb);
    if (ra == E2B_OK)
        FUZZ_CHECK(a.len == b.len && a.lines == b.lines &&
                   (a.len == 0 || memcmp(a.buf, b.buf, a.len) == 0));
    free(a.buf);
    free(b.buf);
    return 0;
}
