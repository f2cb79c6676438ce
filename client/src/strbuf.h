/* strbuf.h - a small growable byte buffer (internal). Always NUL-terminated once anything
 * was appended. Appending never fails loudly: on allocation failure the buffer records
 * `oom` and later appends are no-ops, so callers check once at the end. */
#ifndef E2B_STRBUF_H
#define E2B_STRBUF_H

#include <stdbool.h>
#include <stddef.h>

typedef struct e2b_strbuf {
    char *p;
    size_t len;
    size_t cap;
    bool oom;
} e2b_strbuf;

/* Ensures room for n more bytes plus a NUL. Returns false (and sets oom) on failure. */
bool e2b_strbuf_reserve(e2b_strbuf *b, size_t n);
void e2b_strbuf_append(e2b_strbuf *b, const void *data, size_t n);
void e2b_strbuf_puts(e2b_strbuf *b, const char *s);
void e2b_strbuf_printf(e2b_strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Percent-encodes s, keeping ASCII alphanumerics and the bytes in `keep` as they are. */
void e2b_strbuf_pct(e2b_strbuf *b, const char *s, const char *keep);
/* Returns the buffer (caller frees with free()), "" if empty; NULL on oom (buffer freed). */
char *e2b_strbuf_take(e2b_strbuf *b);
void e2b_strbuf_free(e2b_strbuf *b);

/* Keep-sets of the JavaScript encoders, for byte-exact compatibility with the JS SDK. */
#define E2B_PCT_URI_COMPONENT "-_.!~*'()" /* encodeURIComponent */
#define E2B_PCT_FORM "*-._"               /* URLSearchParams (application/x-www-form-urlencoded) */

#endif
