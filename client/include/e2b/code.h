/* e2b/code.h - code execution on the sandbox's code interpreter (port 49999).
 *
 * e2b_run_code POSTs to <code interpreter>/execute and reads the NDJSON reply as it
 * streams: every line becomes an event (stdout/stderr chunk, result, error, execution
 * count), is appended to the e2b_execution being built, and is passed to the caller's
 * callback at once. The body is never buffered whole (only a line split across network
 * chunks is held).
 *
 * An error raised by the user's code is NOT a call failure: the call returns E2B_OK and
 * the error is in execution->error (and was passed to on_error).
 *
 * Headers sent on every call: Content-Type: application/json, E2b-Sandbox-Id,
 * E2b-Sandbox-Port: 49999 and E2B-Traffic-Access-Token (when the sandbox has one).
 * X-Access-Token (the envd access token) is sent on /execute only, never on /contexts*:
 * this is byte-for-byte what the official SDKs send (the code interpreter forwards the
 * token to envd only to read env vars while executing), so fixtures recorded from them
 * match ours.
 *
 * Errors common to every function here: E2B_ERR_SANDBOX_GONE (502: the sandbox expired or
 * was killed), E2B_ERR_AUTH (401/403), E2B_ERR_REQUEST_TIMEOUT (no response headers
 * within the client's request timeout), E2B_ERR_NETWORK, E2B_ERR_CANCELLED
 * (e2b_client_cancel_all), E2B_ERR_SERVICE_BUSY, E2B_ERR_INTERNAL (500), E2B_ERR_SERVER,
 * E2B_ERR_NO_MEMORY, E2B_ERR_INVALID_ARGUMENT (NULL arguments or a 400 answer),
 * E2B_ERR_PROTOCOL (a reply that is not the JSON it should be).
 */
#ifndef E2B_CODE_H
#define E2B_CODE_H

#include <stdbool.h>
#include <stddef.h>
#include "e2b/client.h"
#include "e2b/error.h"
#include "e2b/sandbox.h"

#ifdef __cplusplus
extern "C" {
#endif

#define E2B_DEFAULT_EXECUTION_TIMEOUT_MS 60000L

/* ---- the execution model ---------------------------------------------------------- */

/* One `result` line: an execute_result (is_main_result) or display_data. Every field is
 * a NUL-terminated heap string owned by the execution, NULL when the server did not send
 * it. png and jpeg are base64 as sent; json, data, chart and extra hold raw JSON text
 * (re-serialised compactly); chart_type/chart_title are parsed from chart. */
typedef struct e2b_result {
    char *text;        /* text/plain */
    char *html;        /* text/html */
    char *markdown;    /* text/markdown */
    char *svg;         /* image/svg+xml */
    char *png;         /* image/png, base64 */
    char *jpeg;        /* image/jpeg, base64 */
    char *pdf;         /* application/pdf */
    char *latex;       /* text/latex */
    char *json;        /* application/json, raw JSON */
    char *javascript;  /* application/javascript */
    char *data;        /* e2b/data, raw JSON */
    char *chart;       /* e2b/chart, raw JSON */
    char *chart_type;  /* chart.type ("line", "bar", ...) when a string */
    char *chart_title; /* chart.title when a string */
    char *extra;       /* the server's `extra` object (other MIME types), raw JSON */
    bool is_main_result;
} e2b_result;

typedef enum e2b_log_stream { E2B_LOG_STDOUT = 1, E2B_LOG_STDERR = 2 } e2b_log_stream;

/* One stdout or stderr chunk as received (chunks are not line-aligned). */
typedef struct e2b_log_chunk {
    e2b_log_stream stream;
    char *text;      /* owned by the execution */
    size_t len;      /* strlen(text) */
    char *timestamp; /* the server's ISO timestamp as sent, NULL when absent */
} e2b_log_chunk;

/* The error raised by the executed code (or a synthetic one such as ContextRestarting).
 * Fields are never NULL: a missing one is "". */
typedef struct e2b_exec_error {
    char *name;
    char *value;
    char *traceback; /* the Jupyter traceback joined, ANSI colour codes included */
} e2b_exec_error;

/* An execution: everything that arrived, in order. Owned by the caller; free with
 * e2b_execution_free. */
typedef struct e2b_execution {
    e2b_result *results; /* results_len results, in arrival order */
    size_t results_len;
    e2b_log_chunk *logs; /* stdout and stderr chunks interleaved, in arrival order */
    size_t logs_len;
    e2b_exec_error *error; /* NULL when the code raised nothing (the last error wins) */
    int execution_count;   /* from number_of_executions; -1 when not sent */
    const char *text;      /* text of the first main result (points into results), or NULL */
    bool completed;        /* the end_of_execution line arrived */
} e2b_execution;

/* Frees an execution and everything it owns. NULL is a no-op. */
void e2b_execution_free(e2b_execution *ex);

/* Concatenates the chunks of one stream. On success *out is a heap string (free with
 * free()), "" when there were none. Errors: E2B_ERR_INVALID_ARGUMENT, E2B_ERR_NO_MEMORY. */
e2b_code e2b_execution_logs_text(const e2b_execution *ex, e2b_log_stream stream, char **out,
                                 e2b_error *err);

/* Serialises ex as JSON in the shape of the JS SDK's Execution.toJSON(), plus the count:
 *   {"results":[{<wire field names>...}],"logs":{"stdout":[..],"stderr":[..]},
 *    "error":{"name","value","traceback"}|null,"execution_count":N|null}
 * On success *out is a heap string (free with free()). Errors: E2B_ERR_INVALID_ARGUMENT,
 * E2B_ERR_NO_MEMORY. */
e2b_code e2b_execution_to_json(const e2b_execution *ex, char **out, e2b_error *err);

/* Writes one representation of a result to path (created or truncated, mode 0666 &
 * ~umask). format is "png" or "jpeg" (base64-decoded), or "svg" or "pdf" (written as the
 * text that was sent). Errors: E2B_ERR_INVALID_ARGUMENT (unknown format, or the result
 * has no such representation), E2B_ERR_PROTOCOL (invalid base64), E2B_ERR_IO (open or
 * write failed; errno text in the message; a partly written file is removed). */
e2b_code e2b_result_save(const e2b_result *r, const char *format, const char *path, e2b_error *err);

/* Saves every png, jpeg, svg and pdf of every result into dir (created, with parents,
 * if missing) as "<prefix>-<result index>.<format>"; prefix NULL = "result". Existing
 * files of the same name are overwritten. On success *paths is a heap array of *n heap
 * strings (free with e2b_paths_free; NULL when *n is 0). On error nothing is returned
 * (*paths NULL, *n 0), but files already written stay. Errors: as e2b_result_save, and
 * E2B_ERR_IO when dir cannot be created. */
e2b_code e2b_execution_save_images(const e2b_execution *ex, const char *dir, const char *prefix,
                                   char ***paths, size_t *n, e2b_error *err);

/* Frees an array returned by e2b_execution_save_images. NULL is a no-op. */
void e2b_paths_free(char **paths, size_t n);

/* ---- running code ----------------------------------------------------------------- */

/* Event callbacks, called on the calling thread while the call is in progress, in the
 * order the events arrive. The pointer is valid only during the callback (copy what you
 * keep; the same data stays in the execution). Return 0 to continue; any other value
 * aborts the execution: the call returns E2B_ERR_CANCELLED with the partial execution. */
typedef int (*e2b_log_fn)(const e2b_log_chunk *chunk, void *user_data);
typedef int (*e2b_result_fn)(const e2b_result *result, void *user_data);
typedef int (*e2b_exec_error_fn)(const e2b_exec_error *error, void *user_data);

typedef struct e2b_run_opts {
    const char *language;   /* "python" (server default), "javascript", "r", "bash" ...; */
    const char *context_id; /*   or a context from e2b_context_create; not both */
    const e2b_kv *env_vars; /* env vars for this execution only; may be NULL */
    size_t env_vars_len;
    long timeout_ms;       /* execution timeout covering the whole stream;
                               e2b_run_opts_init sets E2B_DEFAULT_EXECUTION_TIMEOUT_MS;
                               0 = none. The client's request timeout bounds only the wait
                               for the response headers. */
    size_t max_line_bytes; /* longest NDJSON line accepted (a png result is one line);
                               0 = 64 MiB. Longer: E2B_ERR_PROTOCOL */
    e2b_log_fn on_stdout;  /* each may be NULL */
    e2b_log_fn on_stderr;
    e2b_result_fn on_result;
    e2b_exec_error_fn on_error;
    void *user_data; /* passed to every callback */
} e2b_run_opts;

/* Zeroes opts and sets timeout_ms = E2B_DEFAULT_EXECUTION_TIMEOUT_MS. Cannot fail.
 * (A zero-initialised struct without this call means "no execution timeout".) */
void e2b_run_opts_init(e2b_run_opts *opts);

/* Runs code (UTF-8, NUL-terminated) in the sandbox. opts may be NULL (default Python
 * context, 60 s execution timeout, no callbacks).
 *
 * On E2B_OK, *out is the complete execution (free with e2b_execution_free); a user-code
 * error is in (*out)->error.
 *
 * On failure: if the server had accepted the execution (a 2xx response began), *out
 * still holds the PARTIAL execution - everything that arrived before the failure - and
 * the caller must free it; otherwise *out is NULL. The failures that come with a partial
 * execution are:
 *   E2B_ERR_OPERATION_TIMEOUT  opts->timeout_ms passed; the request was aborted (the
 *                              server then interrupts the kernel);
 *   E2B_ERR_PROTOCOL           the stream ended without end_of_execution, or a line was
 *                              not valid JSON of the expected shape (the message quotes
 *                              the start of the line);
 *   E2B_ERR_CANCELLED          a callback returned non-zero, or e2b_client_cancel_all;
 *   E2B_ERR_NETWORK            the connection broke mid-stream;
 *   E2B_ERR_SANDBOX_GONE       the connection broke and envd's GET /health then answered
 *                              502: the sandbox was killed or expired mid-execution (the
 *                              same probe as the files and commands calls; the context
 *                              calls below do it too, without a partial result).
 * Failures before the stream (no *out): E2B_ERR_INVALID_ARGUMENT (both language and
 * context_id set - checked locally, nothing is sent - or a 400 answer),
 * E2B_ERR_NOT_FOUND (404: unknown context), E2B_ERR_INTERNAL (500: the default context
 * could not be created), E2B_ERR_OPERATION_TIMEOUT (timeout_ms passed before the headers),
 * and the common ones. */
e2b_code e2b_run_code(e2b_sandbox *sbx, const char *code, const e2b_run_opts *opts,
                      e2b_execution **out, e2b_error *err);

/* Parses a complete recorded /execute body (NDJSON) into an execution, calling the
 * callbacks of opts (may be NULL; other fields are ignored) exactly as e2b_run_code would.
 * On E2B_OK, E2B_ERR_PROTOCOL (bad line, line over 64 MiB, or no end_of_execution) and
 * E2B_ERR_CANCELLED (a callback returned non-zero), *out is the (partial) execution, to be
 * freed by the caller; on E2B_ERR_INVALID_ARGUMENT / E2B_ERR_NO_MEMORY it is NULL. */
e2b_code e2b_execution_parse(const char *ndjson, size_t len, const e2b_run_opts *opts,
                             e2b_execution **out, e2b_error *err);

/* ---- contexts (kernels) ----------------------------------------------------------- */

/* A code context: state (variables, imports) persists across executions in it. */
typedef struct e2b_context {
    char *id;
    char *language;
    char *cwd;
} e2b_context;

/* POST /contexts. language NULL = server default ("python"); cwd NULL = server default
 * ("/home/user"). On success *out is a new context (free with e2b_context_free).
 * Errors: the common ones (E2B_ERR_PROTOCOL when the reply has no string "id"). */
e2b_code e2b_context_create(e2b_sandbox *sbx, const char *language, const char *cwd,
                            e2b_context **out, e2b_error *err);

/* GET /contexts: every context, including the server's default ones. On success *out is
 * a heap array of *len contexts (free with e2b_context_list_free; NULL when *len is 0).
 * Entries without a string id are skipped. */
e2b_code e2b_context_list(e2b_sandbox *sbx, e2b_context **out, size_t *len, e2b_error *err);

/* POST /contexts/{id}/restart: a fresh kernel, state lost. Errors: E2B_ERR_NOT_FOUND. */
e2b_code e2b_context_restart(e2b_sandbox *sbx, const char *context_id, e2b_error *err);

/* DELETE /contexts/{id}. Errors: E2B_ERR_NOT_FOUND. */
e2b_code e2b_context_remove(e2b_sandbox *sbx, const char *context_id, e2b_error *err);

/* Free a context / an array from e2b_context_list. NULL is a no-op. */
void e2b_context_free(e2b_context *ctx);
void e2b_context_list_free(e2b_context *list, size_t len);

#ifdef __cplusplus
}
#endif
#endif
