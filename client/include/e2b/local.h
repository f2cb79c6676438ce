/* e2b/local.h - the local embedded default: an e2b-mock child process.
 *
 * With no E2B_API_KEY and no E2B_API_URL, tools (e2bc, the conformance harness, the demo)
 * start `e2b-mock --port 0` as a child, read its first stdout line
 * "E2B_MOCK_URL=http://127.0.0.1:<port>", and point a client at it. The child is stopped
 * (SIGTERM, then SIGKILL after a grace period) by e2b_local_stop.
 */
#ifndef E2B_LOCAL_H
#define E2B_LOCAL_H

#include "e2b/client.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct e2b_local e2b_local;

typedef struct e2b_local_opts {
    const char *mock_path;         /* path of e2b-mock; NULL: $E2B_MOCK_BIN, then e2b-mock next to
                                the running executable, then PATH */
    const char *const *extra_args; /* NULL-terminated extra arguments, may be NULL */
    int start_timeout_ms;          /* how long to wait for the URL line; default 10000 */
    bool quiet;                    /* send the child's stderr to /dev/null */
} e2b_local_opts;

/* Starts e2b-mock and waits for its URL. opts may be NULL. On success *out is a handle
 * (stop with e2b_local_stop). Errors: E2B_ERR_INVALID_ARGUMENT (binary not found),
 * E2B_ERR_IO (spawn failed), E2B_ERR_PROTOCOL (the first line was not the URL line),
 * E2B_ERR_REQUEST_TIMEOUT (no URL in time; the child is killed). */
e2b_code e2b_local_start(const e2b_local_opts *opts, e2b_local **out, e2b_error *err);

/* The mock's base URL, e.g. "http://127.0.0.1:41234". Owned by the handle. */
const char *e2b_local_url(const e2b_local *local);

/* Fills cfg so that a client talks to this mock: api_url = sandbox_url = the URL, a
 * placeholder API key. Strings are owned by the handle. */
void e2b_local_config(const e2b_local *local, e2b_config *cfg);

/* Stops the child (SIGTERM, waits up to 5 s, then SIGKILL), reaps it and frees the
 * handle. Returns the child's exit status (0 = clean shutdown), or -1 if it had to be
 * killed. NULL is a no-op returning 0. */
int e2b_local_stop(e2b_local *local);

#ifdef __cplusplus
}
#endif
#endif
