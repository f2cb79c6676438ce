/* kernel.h - persistent code-interpreter kernels (python, javascript, bash) of e2b-mock.
 *
 * A kernel is one long-lived interpreter process started in a sandbox directory (through
 * sandboxrt, under bubblewrap) from the scripts embedded in the binary
 * (the files in mockserver/kernels/). It keeps its state (variables, imports, cwd) between executions.
 *
 * kernel_execute() runs one cell and reports the /execute NDJSON lines of E2B's code
 * interpreter (e2b-protocol.md §7.2) through a callback, in order, each as one compact JSON
 * text without the trailing newline:
 *     number_of_executions, stdout/stderr (with ISO timestamps, streamed as produced),
 *     result (MIME bundle mapped to text/html/png/... + "extra"), error, keepalive (every
 *     keepalive_ms of silence), and ALWAYS last {"type":"end_of_execution"}.
 * Synthetic errors: UnexpectedEndOfExecution (the kernel died mid-execution; it is restarted
 * lazily by the next execution), ContextRestarting (kernel_restart during the execution),
 * ExecutionAborted (kernel_shutdown during the execution, or an interrupt was ignored).
 *
 * Threading: executions on one kernel are serialized (a mutex; callers queue). kernel_interrupt,
 * kernel_restart and kernel_shutdown may be called from any thread at any time, also while an
 * execution runs. kernel_free must be called exactly once, when no other thread can still use
 * the kernel (callers refcount their contexts).
 */
#ifndef E2B_MOCK_KERNEL_H
#define E2B_MOCK_KERNEL_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct kernel kernel;

typedef enum kernel_kind {
    KERNEL_PYTHON = 0,
    KERNEL_JAVASCRIPT = 1, /* also runs "typescript" contexts (as plain JavaScript) */
    KERNEL_BASH = 2
} kernel_kind;

/* Normalizes a language like E2B does (lower-case, trim; NULL/"" -> "python"; "js" ->
 * "javascript"; "ts" -> "typescript"). Writes into out (NUL-terminated, truncated to cap). */
void kernel_normalize_language(const char *lang, char *out, size_t cap);

/* Maps a NORMALIZED language to a kernel kind. Returns 0 and sets *kind, or -1 with a clear
 * message in err (e.g. r / java: no interpreter in this mock; unknown languages). */
int kernel_kind_for_language(const char *lang, kernel_kind *kind, char *err, size_t errlen);

typedef struct kernel_opts {
    kernel_kind kind;
    const char *dir;       /* host directory of the sandbox (shown as /home/user) */
    const char *cwd;       /* working directory inside the sandbox; NULL = /home/user */
    const cJSON *env_vars; /* sandbox-level env vars {str: str} (nullable), set for the
                                 kernel's whole life */
    int allow_net;         /* allow_internet_access: the kernel shares the host network */
} kernel_opts;

/* Creates a kernel and starts its process (waits until it is ready: ~0.1 s python/node).
 * Returns NULL with a message in err on failure (no interpreter, bwrap refused, start-up
 * error). Options are copied. */
kernel *kernel_new(const kernel_opts *opts, char *err, size_t errlen);

/* Creates the kernel object without starting the process: the first execution starts it
 * (and reports a start failure as an error line). Returns NULL only on OOM / bad options. */
kernel *kernel_new_lazy(const kernel_opts *opts, char *err, size_t errlen);

/* Hands a started kernel over to a sandbox (e2b-mock's warm pool, warmpool.h): later
 * (re)starts use dir, and env_vars ({str: str}, nullable) are added to the kernel's
 * environment for its whole life - a running python kernel gets them at once through a
 * one-way "set_env" request that is processed before any later execution. The caller must
 * have renamed the kernel's old directory to dir (the running process keeps its bind mount).
 * Returns 0, or -1 with err (OOM, the kernel pipe is gone: the next execution then
 * reports/restarts as usual). Not concurrently with kernel_execute on the same kernel. */
int kernel_adopt(kernel *k, const char *dir, const cJSON *env_vars, char *err, size_t errlen);

/* Event classes reported with each line. */
typedef enum kernel_event_type {
    KEV_NUMBER_OF_EXECUTIONS,
    KEV_STDOUT,
    KEV_STDERR,
    KEV_RESULT,
    KEV_ERROR,
    KEV_KEEPALIVE,
    KEV_END_OF_EXECUTION
} kernel_event_type;

/* Receives one NDJSON line (no '\n'; line[len] == '\0'; valid only during the call).
 * Return 0 to continue, non-zero when the consumer is gone (the execution is then
 * interrupted and its remaining output discarded; no further calls are made). */
typedef int (*kernel_emit_fn)(void *ud, kernel_event_type type, const char *line, size_t len);

typedef struct kernel_exec_opts {
    const char *code;      /* required */
    const cJSON *env_vars; /* {str: str} for this execution only (nullable) */
    int64_t timeout_ms;    /* 0 = none; on expiry the cell is interrupted (SIGINT) */
    int64_t keepalive_ms;  /* 0 = 5000 */
    kernel_emit_fn emit;   /* required */
    void *ud;
    const atomic_int *cancel; /* nullable: when it becomes non-zero (call kernel_wake to
                                   notice at once) the execution is interrupted and its output
                                   discarded, like a consumer that went away */
} kernel_exec_opts;

typedef enum kernel_exec_status {
    KEXEC_DONE = 0,        /* the kernel finished the cell (maybe with an error line) */
    KEXEC_INTERRUPTED = 1, /* timeout or cancel: interrupted, kernel kept */
    KEXEC_KERNEL_LOST = 2, /* the kernel died / was restarted / shut down / could not start */
    KEXEC_BAD_ARGS = 3     /* no code or no emit function: nothing was emitted */
} kernel_exec_status;

/* Runs one execution (blocks; serialized per kernel). Every line goes through opts->emit;
 * the last one is always end_of_execution unless the consumer returned non-zero. */
kernel_exec_status kernel_execute(kernel *k, const kernel_exec_opts *opts);

/* Sends SIGINT to the running cell (no-op when idle). Returns 0. */
int kernel_interrupt(kernel *k);

/* Wakes a running kernel_execute so it re-checks its cancel flag. Any thread. */
void kernel_wake(kernel *k);

/* Restarts the interpreter (fresh state, execution_count back to 1). A running execution
 * ends with a ContextRestarting error. Returns 0, or -1 with err if the new process did not
 * start (the kernel then restarts lazily on the next execution). */
int kernel_restart(kernel *k, char *err, size_t errlen);

/* Freezes (SIGSTOP, frozen != 0) or thaws (SIGCONT) the kernel's processes, like a paused
 * sandbox VM: state is kept, nothing runs. A running execution just stalls (keepalives go on).
 * A kernel started later while frozen starts thawed. Any thread. */
void kernel_freeze(kernel *k, int frozen);

/* Kills the process for good: a running execution ends with ExecutionAborted, later ones are
 * refused the same way. Does not free. Any thread, idempotent. */
void kernel_shutdown(kernel *k);

/* Shuts down (if needed), waits for a running execution to return, frees. NULL ok. */
void kernel_free(kernel *k);

/* Kind and pid (0 when not running) for diagnostics and tests. */
kernel_kind kernel_get_kind(const kernel *k);
int kernel_pid(kernel *k);

/* ---- incremental line reader (exposed for unit tests) */

typedef struct kernel_linebuf {
    char *buf;
    size_t len, cap, start;
    size_t max_line; /* 0 = 256 MiB */
} kernel_linebuf;

/* Appends bytes. Returns 0, -1 on OOM or when an unterminated line exceeds max_line. */
int kernel_linebuf_feed(kernel_linebuf *lb, const char *data, size_t len);

/* Pops the next complete line (without '\n'; a trailing '\r' is kept). The returned pointer
 * is NUL-terminated and valid until the next feed/next call. Returns NULL when none. */
char *kernel_linebuf_next(kernel_linebuf *lb, size_t *len);

void kernel_linebuf_free(kernel_linebuf *lb);

/* ---- event mapping (exposed for unit tests and scripted answers) */

/* Converts one kernel-protocol event object into the wire line (malloc'd, compact JSON) and
 * its type. Kernel "result" events carry {"bundle": {mime: value}}; wire-form results (with
 * text/html/... fields) are accepted too. stdout/stderr get "timestamp" (now) if missing,
 * results get "extra": {} if missing. Returns NULL for events that are not forwarded
 * (ready, end, unknown types) or invalid ones. */
char *kernel_event_to_wire(const cJSON *ev, kernel_event_type *type);

/* ISO-8601 UTC timestamp with microseconds ("2026-11-26T09:15:14.123456Z"), out >= 32. */
void kernel_timestamp(char *out, size_t cap);

#ifdef __cplusplus
}
#endif
#endif
