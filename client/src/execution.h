/* execution.h - building an e2b_execution from the /execute NDJSON stream (internal).
 *
 * A stream couples the NDJSON splitter with the event parser: feed it body chunks as they
 * arrive (e2b_exec_stream_feed), then e2b_exec_stream_finish at the end of the body.
 * Callbacks from the run options are invoked as lines complete.
 */
#ifndef E2B_EXECUTION_INTERNAL_H
#define E2B_EXECUTION_INTERNAL_H

#include "e2b/code.h"
#include "ndjson.h"

typedef struct e2b_exec_stream {
    e2b_ndjson nd;
    e2b_execution *ex;        /* being built; owned until e2b_exec_stream_take */
    const e2b_run_opts *opts; /* callbacks; may be NULL */
    size_t line_no;           /* lines handled, for messages */
} e2b_exec_stream;

/* Allocates the execution. max_line 0 = default. Errors: E2B_ERR_NO_MEMORY. */
e2b_code e2b_exec_stream_init(e2b_exec_stream *s, const e2b_run_opts *opts, size_t max_line,
                              e2b_error *err);

/* Feeds a body chunk. Errors: E2B_ERR_PROTOCOL (bad line), E2B_ERR_CANCELLED (a callback
 * asked to stop), E2B_ERR_NO_MEMORY. After an error the stream is failed. */
e2b_code e2b_exec_stream_feed(e2b_exec_stream *s, const char *data, size_t len, e2b_error *err);

/* End of body: parses a trailing unterminated line, then fails with E2B_ERR_PROTOCOL if
 * end_of_execution never arrived. */
e2b_code e2b_exec_stream_finish(e2b_exec_stream *s, e2b_error *err);

/* Hands the execution to the caller (the stream no longer owns it). */
e2b_execution *e2b_exec_stream_take(e2b_exec_stream *s);

/* Frees the parser and, unless taken, the execution. */
void e2b_exec_stream_free(e2b_exec_stream *s);

/* Parses one NDJSON line (not NUL-terminated) into ex, calling opts' callbacks.
 * line_no is used in error messages only. */
e2b_code e2b_execution_handle_line(e2b_execution *ex, const e2b_run_opts *opts, const char *line,
                                   size_t len, size_t line_no, e2b_error *err);

#endif
