/* store.h - the sandbox store of e2b-mock: sandboxes, their lifecycle, and hooks.
 *
 * Every sandbox has an immutable identity (id, template, access token, private directory,
 * envVars, metadata) and a mutable lifecycle state guarded by the store lock:
 *
 *     running --pause--> paused --resume/connect--> running
 *     running|paused --kill / expiry(endAt) / server shutdown--> killed (terminal)
 *     running --expiry with autoPause--> paused
 *
 * Lookups return a REFERENCED sandbox: it cannot be freed while you hold the reference, even
 * if it is killed meanwhile (check store_sandbox_state). Release with store_release.
 *
 * Hooks let other modules react: store_on_destroy (killed: explicit, expired, shutdown) and
 * store_on_pause / store_on_resume. Hooks run WITHOUT the store lock held, on the thread that
 * caused the transition (a handler, the reaper, or mock_server_free), BEFORE the sandbox
 * directory is removed (destroy). A paused sandbox keeps its directory. A hook may block
 * briefly (e.g. kill and reap processes) and may call store_get/store_release, but must not
 * pause/kill sandboxes itself.
 *
 * Time is mock_now_ms() (util.h), which tests and the admin API can advance.
 */
#ifndef E2B_MOCK_STORE_H
#define E2B_MOCK_STORE_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mock_store mock_store;

typedef enum mock_sbx_state {
    MOCK_SBX_RUNNING = 0,
    MOCK_SBX_PAUSED = 1,
    MOCK_SBX_KILLED = 2
} mock_sbx_state;

#define MOCK_SANDBOX_ID_LEN 20
#define MOCK_TOKEN_HEX_LEN 32

/* Public, IMMUTABLE after creation: safe to read while holding a reference. Mutable state
 * (state, endAt, ...) is private; use the accessors below. */
typedef struct mock_sandbox {
    char id[MOCK_SANDBOX_ID_LEN + 1];          /* 20 lowercase alnum chars */
    char access_token[MOCK_TOKEN_HEX_LEN + 1]; /* envdAccessToken (128-bit hex) */
    char client_id[9];
    const char *template_id; /* as requested ("base", ...) */
    const char *alias;       /* template alias (may equal template_id) */
    const char *dir;         /* <root>/<id>, created at create time */
    const cJSON *env_vars;   /* object {string: string}, never NULL */
    const cJSON *metadata;   /* object {string: string}, never NULL */
    int64_t started_at_ms;   /* creation time (mock clock) */
    int cpu_count;
    int memory_mb;
    int disk_size_mb;
    struct mock_sandbox_priv *priv; /* internal */
} mock_sandbox;

/* Options for store_create. */
typedef struct store_create_opts {
    const char *template_id;   /* required */
    const char *alias;         /* NULL = template_id */
    int64_t timeout_ms;        /* > 0 */
    const cJSON *metadata;     /* nullable, copied */
    const cJSON *env_vars;     /* nullable, copied */
    int auto_pause;            /* on expiry pause instead of kill */
    int auto_resume;           /* lifecycle.autoResume (reported only) */
    int allow_internet_access; /* -1 = null / not given, 0, 1 */
    int cpu_count;             /* 0 = 2 */
    int memory_mb;             /* 0 = 512 */
    int disk_size_mb;          /* 0 = 1024 */
    const char *adopt_dir;     /* nullable: an existing directory under the root (warm pool)
                                  that is rename()d to <root>/<id> instead of a fresh mkdir */
} store_create_opts;

/* ---- lifetime of the store itself (used by server.c) */

/* Creates a store whose sandbox dirs live under root (must exist). Starts the reaper thread.
 * Returns NULL on failure. */
mock_store *store_new(const char *root);

/* Same; start_reaper = 0 runs no reaper thread (expiry only through store_reap: tests). */
mock_store *store_new_ex(const char *root, int start_reaper);

/* Kills every sandbox (destroy hooks run, dirs removed), stops the reaper, frees the store
 * once every outstanding reference was released... callers must release theirs first. */
void store_free(mock_store *st);

const char *store_root(const mock_store *st);

/* ---- hooks */

typedef void (*store_hook_fn)(mock_sandbox *sbx, void *ud);

/* Register a hook (duplicates of the same fn+ud are ignored). Returns 0, -1 on OOM. */
int store_on_destroy(mock_store *st, store_hook_fn fn, void *ud);
int store_on_pause(mock_store *st, store_hook_fn fn, void *ud);
int store_on_resume(mock_store *st, store_hook_fn fn, void *ud);

/* ---- sandboxes */

/* Creates a running sandbox with a fresh id, token and directory. Returns a referenced
 * sandbox (release it) or NULL (errno set). */
mock_sandbox *store_create(mock_store *st, const store_create_opts *opts);

/* Looks up a sandbox that is not killed. Returns it referenced, or NULL. */
mock_sandbox *store_get(mock_store *st, const char *id);

/* Takes another reference (e.g. for a producer thread). Returns sbx. */
mock_sandbox *store_ref(mock_sandbox *sbx);

/* Drops a reference. NULL is a no-op. */
void store_release(mock_sandbox *sbx);

/* Current state (thread-safe snapshot). */
mock_sbx_state store_sandbox_state(mock_sandbox *sbx);

/* Current expiry time (mock clock, ms). */
int64_t store_sandbox_end_at_ms(mock_sandbox *sbx);

/* autoPause / autoResume flags given at create. */
int store_sandbox_auto_pause(mock_sandbox *sbx);
int store_sandbox_auto_resume(mock_sandbox *sbx);
int store_sandbox_allow_internet(mock_sandbox *sbx); /* -1 = null */

/* Results of state transitions. */
typedef enum store_result {
    STORE_OK = 0,
    STORE_NOT_FOUND = 1, /* killed or unknown */
    STORE_CONFLICT = 2   /* e.g. pausing a paused sandbox */
} store_result;

/* Kills a sandbox: runs destroy hooks, removes its dir, removes it from the store. */
store_result store_kill(mock_store *st, const char *id);

/* Pauses a running sandbox (pause hooks). Paused sandboxes do not expire. */
store_result store_pause(mock_store *st, const char *id);

/* Resumes a paused sandbox (resume hooks) with endAt = now + timeout_ms; a running one ->
 * STORE_CONFLICT. For connect semantics use store_connect. */
store_result store_resume(mock_store *st, const char *id, int64_t timeout_ms);

/* Connect: a running sandbox gets endAt = max(endAt, now + timeout_ms); a paused one is
 * resumed with endAt = now + timeout_ms. *resumed = 1 when it was paused. */
store_result store_connect(mock_store *st, const char *id, int64_t timeout_ms, int *resumed);

/* setTimeout: endAt = now + timeout_ms (may shorten). Running sandboxes only (a paused one is
 * STORE_NOT_FOUND, as on E2B where it is not in the running cache). */
store_result store_set_timeout(mock_store *st, const char *id, int64_t timeout_ms);

/* Refresh: endAt = max(endAt, now + duration_ms) for running sandboxes. */
store_result store_refresh(mock_store *st, const char *id, int64_t duration_ms);

/* Expires due sandboxes now (kill, or pause when autoPause). The reaper thread calls it; tests
 * call it after mock_clock_advance_ms. Returns how many sandboxes changed state. */
int store_reap(mock_store *st);

/* Wakes the reaper (e.g. after the clock was advanced). */
void store_kick(mock_store *st);

/* Snapshot of all non-killed sandboxes, each referenced; *n receives the count. Release each
 * with store_release and free the array. Returns NULL when empty or on OOM (*n = 0). */
mock_sandbox **store_snapshot(mock_store *st, size_t *n);

/* Number of non-killed sandboxes in a state. */
size_t store_count(mock_store *st, mock_sbx_state state);

/* Kills every sandbox (shutdown). */
void store_kill_all(mock_store *st);

/* "running" / "paused" / "killed". */
const char *store_state_name(mock_sbx_state s);

#ifdef __cplusplus
}
#endif
#endif
