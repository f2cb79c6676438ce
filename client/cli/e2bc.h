/* e2bc.h - shared plumbing of the e2bc command line (commands live in cmd_*.c / demo.c). */
#ifndef E2BC_H
#define E2BC_H

#include <stdbool.h>
#include <stdio.h>
#include <time.h>
#include "e2b/e2b.h"

/* One command: `e2bc <name> ...`. run gets argv with argv[0] = name; returns the exit code.
 * To add a command, add a row to the table in e2bc.c.
 * Exit codes (run, chat, sandbox, files, demo): 0 ok; 1 the user's side - the code raised,
 * or the request named something missing or invalid (unknown sandbox/file/process, a 400,
 * a 409 conflict); 2 bad usage or infrastructure (network, timeouts, 5xx, protocol,
 * authentication, the local mock not starting). `cmd` passes the command's own exit code
 * through and uses 255 for e2bc's own failures (like ssh). */
typedef struct e2bc_cmd {
    const char *name;
    const char *summary; /* one line for `e2bc --help` */
    int (*run)(int argc, char **argv);
} e2bc_cmd;

#define E2BC_EXIT_FAIL 1  /* the user's side (see above) */
#define E2BC_EXIT_USAGE 2 /* bad usage */
#define E2BC_EXIT_INFRA 2 /* infrastructure */

/* E2BC_EXIT_FAIL for errors of the user's request (not found, invalid argument, conflict),
 * E2BC_EXIT_INFRA for everything else. */
int e2bc_exit_for(e2b_code code);

/* A client configured from the environment, or, when neither E2B_API_KEY nor E2B_API_URL
 * is set, pointed at a local e2b-mock child started for the duration of the command. */
typedef struct e2bc_conn {
    e2b_client *client;
    e2b_local *local; /* non-NULL when running against the local mock */
    e2b_config cfg;
} e2bc_conn;

/* Opens the connection; on failure prints the reason and returns false. When a local mock
 * is started and announce is true, says so on stderr. */
bool e2bc_open(e2bc_conn *c, bool announce);
void e2bc_close(e2bc_conn *c);

/* Prints "e2bc: <what>: <message> (<code name>)" to stderr (erasing the progress line
 * first); returns e2bc_exit_for(err->code) (E2BC_EXIT_INFRA when err is NULL). */
int e2bc_fail(const char *what, const e2b_error *err);

/* Parses "key=value" into kv (pointing into s, which is modified). */
bool e2bc_parse_kv(char *s, e2b_kv *kv);

/* "2026-11-26 09:30:00 UTC" (or "-" for 0). */
void e2bc_fmt_time(time_t t, char *buf, size_t len);
/* "in 4m 59s" / "3s ago" relative to now. */
void e2bc_fmt_rel(time_t t, char *buf, size_t len);
/* Writes one sandbox info as a JSON object (with the wire's field names) + newline. */
void e2bc_print_info_json(FILE *f, const e2b_sandbox_info *info);
/* Human "key   value" block for one sandbox info, indented by `indent` spaces. */
void e2bc_print_info_block(FILE *f, const e2b_sandbox_info *info, int indent);
/* Human table of sandboxes (header row + one row each). */
void e2bc_print_info_table(FILE *f, const e2b_sandbox_info *const *items, size_t n, int indent);
const char *e2bc_state_name(e2b_sandbox_state s);

/* The progress indicator (progress.c): a line on stderr, only when stderr is a terminal,
 * shown once a wait has lasted 300 ms ("e2bc: creating sandbox... 1.2s"), erased before
 * any output and at the end. Off with --no-progress or E2BC_NO_PROGRESS=1.
 *   setup      once in main (decides from isatty(2) and the environment)
 *   disable    --no-progress
 *   begin      a wait for `label` starts (or the label of the current wait changes)
 *   end        the wait is over: the line is erased
 *   write      fwrite+fflush to f with the line erased first (streamed output)
 *   hold/release  bracket several writes (the line stays off until release)
 *   shutdown   erase and join the helper thread (main, before exit) */
void e2bc_progress_setup(void);
void e2bc_progress_disable(void);
void e2bc_progress_begin(const char *label);
void e2bc_progress_end(void);
void e2bc_progress_write(FILE *f, const void *data, size_t len);
void e2bc_progress_hold(void);
void e2bc_progress_release(void);
void e2bc_progress_shutdown(void);
/* e2bc_progress_end(), then returns rc: `if (e2bc_progress_done(e2b_x(...)) != E2B_OK)`. */
e2b_code e2bc_progress_done(e2b_code rc);
#define E2BC_OPT_NO_PROGRESS 0x100 /* getopt_long value of --no-progress */

/* Commands. */
int e2bc_cmd_demo(int argc, char **argv);
int e2bc_cmd_sandbox(int argc, char **argv);

#endif
