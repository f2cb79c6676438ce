/* process.h - process.Process Connect service of e2b-mock (port 49983).
 *
 * Real processes run inside the sandbox through sandboxrt (bubblewrap, the sandbox directory
 * bound at /home/user). RPCs: Start and Connect (server streams), List, SendInput,
 * CloseStdin, SendSignal (SIGTERM/SIGKILL), Update (PTY resize); StreamInput (client
 * streaming, unusable from the SDKs) is unimplemented.
 *
 * PTY (Start with "pty"): the command runs under script(1) inside the sandbox, on a real
 * terminal of the sandbox's own devpts (initial size from pty.size); its output is sent as
 * {"data":{"pty":...}} chunks <= 16 KiB, SendInput's input.pty goes to the terminal, and
 * Update resizes it (TIOCSWINSZ on the pts, reached through /proc; the kernel sends SIGWINCH).
 * The sandbox has no controlling-terminal job control (bubblewrap --new-session).
 *
 * Pausing the sandbox SIGSTOPs its processes, resuming SIGCONTs them (like a frozen VM).
 *
 * Pids: a per-server counter starting at 1000, so they are unique in every sandbox and never
 * reused (the host pid of the bubblewrap process is not exposed). Finished processes are kept
 * (up to PROCESS_RETAIN_FINISHED per server) so Connect can replay their end event.
 *
 * Streams: first {"event":{"start":{"pid":N}}}, then stdout/stderr chunks AS PRODUCED (base64,
 * <= 32 KiB each), {"event":{"keepalive":{}}} every Keepalive-Ping-Interval seconds without
 * data, then {"event":{"end":{...}}} and ALWAYS the end-stream frame. Connect-Timeout-Ms on
 * Start kills the process at the deadline (on Connect it only ends that stream).
 */
#ifndef E2B_MOCK_PROCESS_H
#define E2B_MOCK_PROCESS_H

#include <stdbool.h>

#define PROCESS_CHUNK_MAX (32 * 1024)
#define PROCESS_PTY_CHUNK_MAX (16 * 1024)
#define PROCESS_RETAIN_FINISHED 256
#define PROCESS_FIRST_PID 1000

/* The end event for a reaped child: {"event":{"end":{...}}} as Go's ProcessState reports it:
 *   exit 0         -> {"exited":true,"status":"exit status 0"}
 *   exit N         -> {"exitCode":N,"exited":true,"status":"exit status N","error":"exit status N"}
 *   signal S       -> {"exitCode":-1,"status":"signal: killed","error":"signal: killed"}
 * wait_status is waitpid()'s status. sent_sig is the signal WE sent (0 = none): bubblewrap
 * reports a killed sandbox as exit 128+sig, which is mapped back to that signal.
 * Returns a malloc'ed string (free()), NULL on OOM. */
char *process_end_event_json(int wait_status, int sent_sig);

/* The script(1) -c command line for a PTY process:
 * "stty cols C rows R 2>/dev/null; exec 'cmd' 'arg'..." (each word single-quoted for sh).
 * args is a JSON array of strings (others skipped; may be NULL). malloc'ed; NULL on OOM. */
struct cJSON;
char *pty_command(const char *cmd, const struct cJSON *args, unsigned cols, unsigned rows);

/* Go's lower-case signal description ("killed", "terminated", "interrupt", ...). */
const char *process_signal_name(int sig);

#endif
