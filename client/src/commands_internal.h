/* commands_internal.h - the pure (network-free) parts of commands.c, for unit tests. */
#ifndef E2B_COMMANDS_INTERNAL_H
#define E2B_COMMANDS_INTERNAL_H

#include <cjson/cJSON.h>
#include <pthread.h>
#include "e2b/commands.h"

/* Progress of one process event stream (Start or Connect replies). */
typedef struct e2b_commands_state {
    e2b_output_fn on_stdout, on_stderr;
    void *ud;
    bool accumulate;
    bool started;
    uint32_t pid;
    char *out, *errb; /* accumulated stdout / stderr (NUL-terminated) */
    size_t out_len, out_cap, err_len, err_cap;
    bool finished, exited;
    int exit_code;
    char *error, *status;
    pthread_mutex_t *mu; /* when set, `started` is published under it and cv */
    pthread_cond_t *cv;
} e2b_commands_state;

/* Initialises st from opts (NULL = no callbacks, accumulate). */
void e2b_commands_state_init(e2b_commands_state *st, const e2b_command_opts *opts);
void e2b_commands_state_free(e2b_commands_state *st);

/* Handles one JSON message of a Start/Connect stream ({"event":{...}}): the first must be
 * `start` (else E2B_ERR_PROTOCOL "Expected start event"); data chunks are base64-decoded,
 * passed to the callbacks and accumulated; `end` records the exit; keepalive and unknown
 * members are ignored. Matches e2b_connect_msg_fn with st as ud.
 * Errors: E2B_ERR_PROTOCOL (not JSON, bad base64, bad types), E2B_ERR_NO_MEMORY. */
e2b_code e2b_commands_on_message(void *st, const char *json, size_t len, e2b_error *err);

/* Moves (take = true, st loses them) or copies the outcome into *r (zeroed first). */
e2b_code e2b_commands_state_result(e2b_commands_state *st, bool take, e2b_command_result *r,
                                   e2b_error *err);

/* The StartRequest for cmd and opts (proto3 JSON): {"process":{"cmd":"/bin/bash","args":
 * ["-l","-c",cmd],"envs"?,"cwd"?},"stdin":<bool>}. NULL on oom. */
cJSON *e2b_commands_start_request(const char *cmd, const e2b_command_opts *opts);

/* Parses a ListResponse. */
e2b_code e2b_commands_parse_list(const cJSON *reply, e2b_process_info **out, size_t *len,
                                 e2b_error *err);

#endif
