/* ndjson.h - incremental NDJSON line splitter (internal).
 *
 * Feed arbitrary byte chunks; every complete line is handed to a callback as soon as its
 * '\n' arrives. Lines that lie wholly inside one chunk are passed straight from the chunk
 * (no copy); only a line split across chunks is accumulated, in one growable buffer that
 * is reused for the life of the parser (no per-line or per-byte allocation).
 *
 * Line rules (those of the E2B SDKs, minus their blank-line bug):
 *   - lines end at '\n'; one trailing '\r' is dropped ("\r\n" endings);
 *   - empty and whitespace-only lines (space, \t, \r, \f, \v) are skipped;
 *   - a trailing line without '\n' is emitted by e2b_ndjson_finish;
 *   - a line longer than max_line bytes (terminator excluded) is E2B_ERR_PROTOCOL.
 * The line passed to the callback is NOT NUL-terminated; use (line, len).
 *
 * After an error (overlong line, or a callback that returned non-OK) the parser is
 * "failed": further feed/finish calls return E2B_ERR_PROTOCOL without calling back, until
 * e2b_ndjson_reset.
 */
#ifndef E2B_NDJSON_H
#define E2B_NDJSON_H

#include <stdbool.h>
#include <stddef.h>
#include "e2b/error.h"

#define E2B_NDJSON_DEFAULT_MAX_LINE ((size_t)64 * 1024 * 1024) /* png results are one line */

/* Called once per non-blank line. Return E2B_OK to continue; any other code stops the
 * parser, and feed/finish return that code (err is whatever the callback set). */
typedef e2b_code (*e2b_ndjson_line_fn)(void *ud, const char *line, size_t len, e2b_error *err);

typedef struct e2b_ndjson {
    char *buf; /* partial line carried over between chunks */
    size_t len, cap;
    size_t max_line;
    size_t lines; /* non-blank lines emitted so far */
    bool failed;
} e2b_ndjson;

/* Initialises p. max_line 0 = E2B_NDJSON_DEFAULT_MAX_LINE. Cannot fail (no allocation). */
void e2b_ndjson_init(e2b_ndjson *p, size_t max_line);

/* Frees the buffer. The struct can be re-initialised afterwards. */
void e2b_ndjson_free(e2b_ndjson *p);

/* Forgets any partial line and the failed state; keeps the buffer for reuse. */
void e2b_ndjson_reset(e2b_ndjson *p);

/* Consumes len bytes (data may be NULL when len is 0). Calls fn for each complete line.
 * Errors: E2B_ERR_PROTOCOL (line over max_line; parser failed), E2B_ERR_NO_MEMORY, or the
 * callback's code. */
e2b_code e2b_ndjson_feed(e2b_ndjson *p, const char *data, size_t len, e2b_ndjson_line_fn fn,
                         void *ud, e2b_error *err);

/* End of input: emits a pending unterminated line (if not blank). Leaves the parser empty
 * (ready for a new stream). Errors as e2b_ndjson_feed. */
e2b_code e2b_ndjson_finish(e2b_ndjson *p, e2b_ndjson_line_fn fn, void *ud, e2b_error *err);

/* True when a partial (unterminated, non-empty) line is buffered. */
bool e2b_ndjson_pending(const e2b_ndjson *p);

#endif
