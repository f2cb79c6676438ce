/* e2b/commands.h - running commands in a sandbox (envd process.Process, port 49983).
 *
 * A command runs as `/bin/bash -l -c <cmd>` (what the official SDKs send) through the
 * server-streaming RPC process.Process/Start, JSON codec: start event (pid), output chunks
 * (stdout/stderr, base64 on the wire, raw bytes here), end event (exit code), then the
 * mandatory end-stream envelope. Headers: Connect-Timeout-Ms (the command's timeout),
 * Keepalive-Ping-Interval: 50, plus the envd headers of e2b/files.h.
 *
 * Exit status semantics (E2B's): a command that RAN and exited non-zero is NOT an error of
 * the call. The call returns E2B_OK and the result holds exit_code != 0 and `error` (envd's
 * text, e.g. "exit status 2"). Check result.exit_code. Errors of the call are failures to
 * run or to observe the command: E2B_ERR_OPERATION_TIMEOUT (the command's timeout passed;
 * envd kills it), E2B_ERR_SANDBOX_GONE, E2B_ERR_INVALID_ARGUMENT (e.g. cwd does not exist),
 * E2B_ERR_PROTOCOL (no start event, no end event, missing EndStreamResponse), plus the
 * common errors of e2b/files.h (AUTH, NETWORK, REQUEST_TIMEOUT, CANCELLED, ...).
 * Output received before an error is kept in the result.
 *
 * Background commands: e2b_commands_start returns a handle once the process started. The
 * output stream is read by a thread owned by the handle (one per running handle; blocking
 * libcurl on the client's pooled connections), which calls on_stdout/on_stderr as output
 * arrives and accumulates it for e2b_command_wait.
 *
 * Callbacks run on the thread that reads the stream: the caller's thread for
 * e2b_commands_run, the handle's thread for background commands. They must not call
 * e2b_command_wait / e2b_command_handle_free on their own handle.
 */
#ifndef E2B_COMMANDS_H
#define E2B_COMMANDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "e2b/client.h"
#include "e2b/error.h"
#include "e2b/sandbox.h"

#ifdef __cplusplus
extern "C" {
#endif

#define E2B_COMMAND_DEFAULT_TIMEOUT_MS 60000L
#define E2B_COMMAND_NO_TIMEOUT (-1L)

/* Receives output bytes as they arrive (a chunk of at most 32 KiB, split anywhere, not
 * NUL-terminated, may contain any byte; envd does no line framing). */
typedef void (*e2b_output_fn)(void *ud, const char *data, size_t len);

typedef struct e2b_command_opts {
    const e2b_kv *envs; /* environment variables for this command; may be NULL */
    size_t envs_len;
    const char *cwd;         /* working directory; NULL = the user's home */
    const char *user;        /* run as this user; NULL = the sandbox's default user */
    bool stdin_open;         /* keep stdin open for e2b_command_send_stdin ("stdin": true);
                               default false: stdin is closed (/dev/null-like) */
    long timeout_ms;         /* 0 = 60 s (the SDK default); E2B_COMMAND_NO_TIMEOUT = none.
                               Sent as Connect-Timeout-Ms: envd kills the command when it
                               passes, and the call fails with E2B_ERR_OPERATION_TIMEOUT */
    e2b_output_fn on_stdout; /* optional */
    e2b_output_fn on_stderr; /* optional */
    void *ud;                /* passed to the callbacks */
    bool no_accumulate;      /* don't keep stdout/stderr in the result (callbacks only):
                               constant memory for commands with huge output */
} e2b_command_opts;

/* The outcome of a command. Filled by e2b_commands_run / e2b_command_wait, which always
 * initialise it (also on error): release it with e2b_command_result_free. */
typedef struct e2b_command_result {
    uint32_t pid;      /* 0 if the command never started */
    char *stdout_data; /* all stdout bytes, NUL-terminated ("" when none; NULL with
                              no_accumulate) */
    size_t stdout_len;
    char *stderr_data; /* same for stderr */
    size_t stderr_len;
    int exit_code; /* exit status; -1 when killed by a signal or not finished */
    bool exited;   /* true when an end event arrived and the process exited
                              normally (false for a signal) */
    bool finished; /* an end event arrived */
    char *error;   /* envd's error text ("exit status 2", "signal: killed"), NULL
                              when none */
    char *status;  /* envd's status text ("exit status 0"), NULL when none */
} e2b_command_result;

/* Frees what r holds and zeroes it. NULL is a no-op. */
void e2b_command_result_free(e2b_command_result *r);

/* Runs cmd in the foreground and waits for it to end. opts may be NULL. *result is always
 * initialised (free it with e2b_command_result_free, even on error). Returns E2B_OK when
 * the command ran to its end, whatever its exit code (see the header comment). */
e2b_code e2b_commands_run(e2b_sandbox *sbx, const char *cmd, const e2b_command_opts *opts,
                          e2b_command_result *result, e2b_error *err);

/* ---- background commands -------------------------------------------------------------- */

typedef struct e2b_command_handle e2b_command_handle;

/* Starts cmd in the background and returns once envd reported its pid. On success *out is
 * a handle (e2b_command_handle_free). The handle copies what it needs from sbx and opts
 * (not the callbacks' ud), so both may go away; the client must outlive the handle.
 * Errors: as e2b_commands_run before the start event; E2B_ERR_IO (thread creation). */
e2b_code e2b_commands_start(e2b_sandbox *sbx, const char *cmd, const e2b_command_opts *opts,
                            e2b_command_handle **out, e2b_error *err);

/* Attaches to a running process (process.Process/Connect): its future output goes to the
 * callbacks of opts (envs/cwd/stdin_open are ignored), and e2b_command_wait gives its
 * result. Errors: E2B_ERR_NOT_FOUND (no such pid). */
e2b_code e2b_commands_connect(e2b_sandbox *sbx, uint32_t pid, const e2b_command_opts *opts,
                              e2b_command_handle **out, e2b_error *err);

/* The process id. */
uint32_t e2b_command_handle_pid(const e2b_command_handle *h);

/* Waits for the end of the command and fills *result (always initialised; free it), with
 * all output received since the start. Returns as e2b_commands_run. May be called again:
 * later calls return the same outcome with a fresh copy. Call it from one thread at a time;
 * kill/send_stdin/close_stdin/disconnect may be called from other threads meanwhile. */
e2b_code e2b_command_wait(e2b_command_handle *h, e2b_command_result *result, e2b_error *err);

/* Sends SIGKILL (SendSignal). *killed (may be NULL) is false when the process no longer
 * exists (not an error). The stream then ends; e2b_command_wait reports exit_code -1. */
e2b_code e2b_command_kill(e2b_command_handle *h, bool *killed, e2b_error *err);

/* Writes bytes to the process's stdin (SendInput). Needs opts.stdin_open at start.
 * Errors: E2B_ERR_NOT_FOUND (process gone). */
e2b_code e2b_command_send_stdin(e2b_command_handle *h, const void *data, size_t len,
                                e2b_error *err);

/* Closes the process's stdin (CloseStdin; envd >= 0.5.2), so readers see EOF. */
e2b_code e2b_command_close_stdin(e2b_command_handle *h, e2b_error *err);

/* Stops receiving events without killing the process (the stream is closed). A later
 * e2b_command_wait returns E2B_ERR_CANCELLED unless the command had already ended. */
void e2b_command_disconnect(e2b_command_handle *h);

/* Disconnects (does NOT kill the process), waits for the reader thread, frees. NULL is a
 * no-op. */
void e2b_command_handle_free(e2b_command_handle *h);

/* ---- by pid --------------------------------------------------------------------------- */

/* process.ProcessInfo. Strings owned by the struct. */
typedef struct e2b_process_info {
    uint32_t pid;
    char *tag; /* NULL when none */
    char *cmd;
    char **args; /* args_len strings */
    size_t args_len;
    e2b_kv *envs; /* keys/values owned by the struct */
    size_t envs_len;
    char *cwd; /* NULL when none */
} e2b_process_info;

/* Lists running processes (process.Process/List). *out is an array of *len infos
 * (e2b_process_infos_free; NULL when *len is 0). user may be NULL. */
e2b_code e2b_commands_list(e2b_sandbox *sbx, const char *user, e2b_process_info **out, size_t *len,
                           e2b_error *err);
void e2b_process_infos_free(e2b_process_info *infos, size_t n);

/* SIGKILLs a process by pid. *killed (may be NULL) is false when no such process (not an
 * error). */
e2b_code e2b_commands_kill(e2b_sandbox *sbx, uint32_t pid, bool *killed, e2b_error *err);

/* SendInput / CloseStdin by pid. Errors: E2B_ERR_NOT_FOUND. */
e2b_code e2b_commands_send_stdin(e2b_sandbox *sbx, uint32_t pid, const void *data, size_t len,
                                 e2b_error *err);
e2b_code e2b_commands_close_stdin(e2b_sandbox *sbx, uint32_t pid, e2b_error *err);

#ifdef __cplusplus
}
#endif
#endif
