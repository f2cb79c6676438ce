/* e2b/sandbox.h - sandbox lifecycle on the E2B control plane.
 *
 * Calls map 1:1 to E2B's REST API (POST /v2/sandboxes, GET /sandboxes/{id}, GET
 * /v2/sandboxes, POST /sandboxes/{id}/timeout, /pause, POST /v2/sandboxes/{id}/connect,
 * DELETE /sandboxes/{id}, GET /sandboxes/{id}/metrics). Timeouts are whole seconds on the
 * wire. A 429 with an integer Retry-After is retried up to cfg.max_retries_429 times while
 * the request timeout allows; nothing else is retried.
 *
 * Lost answers (connection dropped after the request was sent): libcurl by itself re-sends
 * a request ONCE, silently, when a reused keep-alive connection dies before any byte of the
 * answer. Per call:
 *   - create and pause are NOT idempotent (a second sandbox; a re-sent pause reports
 *     "already paused"): they always open a fresh connection, on which libcurl never
 *     re-sends, so a lost answer fails with E2B_ERR_NETWORK and the server saw exactly one
 *     request. Cost: one TCP connect per call (~30 us on loopback; a TCP+TLS handshake,
 *     a few round trips, against the real API - small next to a sandbox boot). After
 *     E2B_ERR_NETWORK from create, a sandbox may exist: list by metadata to find it.
 *   - connect, set_timeout, kill, get_info, list, metrics are idempotent (the same
 *     sandbox / timeout / state again) and keep reusing the connection; a re-send there
 *     is harmless (kill may then report killed = false).
 *   The data planes (code.h /execute, commands, files) keep reusing connections too: a
 *   re-send happens only when not one byte of the answer arrived, and those servers answer
 *   headers as soon as work starts.
 *
 * Errors (besides those of any call: E2B_ERR_AUTH, E2B_ERR_RATE_LIMITED,
 * E2B_ERR_REQUEST_TIMEOUT, E2B_ERR_NETWORK, E2B_ERR_PROTOCOL, E2B_ERR_SERVICE_BUSY,
 * E2B_ERR_INTERNAL, E2B_ERR_SERVER, E2B_ERR_NO_MEMORY, E2B_ERR_CANCELLED) are listed per
 * function.
 */
#ifndef E2B_SANDBOX_H
#define E2B_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>
#include "e2b/client.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- sandbox handle ------------------------------------------------------------- */

/* A connected sandbox: what create/connect returned. Owns copies of its strings and a
 * reference to nothing else: the e2b_client it came from must outlive it. */
typedef struct e2b_sandbox e2b_sandbox;

typedef struct e2b_create_opts {
    const char *template_id; /* default "base" */
    int timeout_s;           /* 0 = server default (300 s) */
    const e2b_kv *metadata;  /* may be NULL */
    size_t metadata_len;
    const e2b_kv *env_vars; /* sandbox-wide env vars (envVars), may be NULL */
    size_t env_vars_len;
    bool auto_pause;           /* on timeout pause instead of kill (autoPause) */
    int allow_internet_access; /* -1 unset (server default), 0 false, 1 true */
} e2b_create_opts;

/* Zeroes opts and sets allow_internet_access = -1. */
void e2b_create_opts_init(e2b_create_opts *opts);

/* Creates a sandbox. opts may be NULL (all defaults). On success *out is a new handle
 * (free with e2b_sandbox_free; freeing does not kill the sandbox).
 * Errors: E2B_ERR_INVALID_ARGUMENT (400: bad timeout, template reference),
 * E2B_ERR_NOT_FOUND (unknown template), E2B_ERR_PROTOCOL (reply without sandboxID or
 * envdVersion, or envdVersion < 0.1.0). */
e2b_code e2b_sandbox_create(e2b_client *client, const e2b_create_opts *opts, e2b_sandbox **out,
                            e2b_error *err);

/* Connects to a running sandbox, or resumes a paused one (POST /v2/sandboxes/{id}/connect).
 * timeout_s 0 = server default; the TTL is only ever extended. *resumed (may be NULL) is
 * set to true when the server answered 201 (it was paused).
 * Errors: E2B_ERR_SANDBOX_NOT_FOUND, E2B_ERR_CONFLICT. */
e2b_code e2b_sandbox_connect(e2b_client *client, const char *sandbox_id, int timeout_s,
                             e2b_sandbox **out, bool *resumed, e2b_error *err);

/* Frees the local handle only. NULL is a no-op. */
void e2b_sandbox_free(e2b_sandbox *sbx);

/* Accessors; strings are owned by the handle. NULL when the server sent none. */
const char *e2b_sandbox_id(const e2b_sandbox *sbx);
const char *e2b_sandbox_template_id(const e2b_sandbox *sbx);
const char *e2b_sandbox_envd_version(const e2b_sandbox *sbx);
const char *e2b_sandbox_envd_access_token(const e2b_sandbox *sbx);
const char *e2b_sandbox_traffic_access_token(const e2b_sandbox *sbx);
const char *e2b_sandbox_domain(const e2b_sandbox *sbx);
e2b_client *e2b_sandbox_client(const e2b_sandbox *sbx);

/* ---- information ---------------------------------------------------------------- */

typedef enum e2b_sandbox_state {
    E2B_STATE_UNKNOWN = 0,
    E2B_STATE_RUNNING = 1,
    E2B_STATE_PAUSED = 2
} e2b_sandbox_state;

/* Every SandboxDetail / ListedSandbox field. Strings are owned by the struct; NULL when
 * absent. */
typedef struct e2b_sandbox_info {
    char *sandbox_id;
    char *template_id;
    char *alias;
    char *client_id;
    char *envd_version;
    char *envd_access_token;
    char *domain;
    char *started_at;       /* RFC 3339 as sent */
    char *end_at;           /* RFC 3339 as sent */
    time_t started_at_unix; /* parsed; 0 if unparsable */
    time_t end_at_unix;
    e2b_sandbox_state state;
    int cpu_count;
    int memory_mb;
    int disk_size_mb;
    int allow_internet_access; /* -1 absent, 0, 1 */
    bool lifecycle_auto_resume;
    char *lifecycle_on_timeout; /* "kill" | "pause" | NULL */
    e2b_kv *metadata;           /* key/value strings owned by the struct */
    size_t metadata_len;
} e2b_sandbox_info;

/* GET /sandboxes/{id}. On success *out is a new info (free with e2b_sandbox_info_free).
 * Errors: E2B_ERR_SANDBOX_NOT_FOUND. */
e2b_code e2b_sandbox_get_info(e2b_client *client, const char *sandbox_id, e2b_sandbox_info **out,
                              e2b_error *err);

/* Frees an info. NULL is a no-op. */
void e2b_sandbox_info_free(e2b_sandbox_info *info);

/* ---- listing -------------------------------------------------------------------- */

typedef struct e2b_list_opts {
    const e2b_kv *metadata; /* filter: every pair must match; may be NULL */
    size_t metadata_len;
    bool running; /* state filter; both false = no filter (all states) */
    bool paused;
    int limit;              /* page size 1..100; 0 = server default (100) */
    const char *next_token; /* resume from this page token; NULL = first page */
    bool order_asc;         /* default descending by start time */
} e2b_list_opts;

typedef struct e2b_sandbox_page {
    e2b_sandbox_info *items; /* array of len infos, owned by the page */
    size_t len;
    char *next_token;  /* NULL when this is the last page */
    int total_running; /* X-Total-Running, -1 when absent */
} e2b_sandbox_page;

/* One page of GET /v2/sandboxes. opts may be NULL. On success *out is a new page (free
 * with e2b_sandbox_page_free). Errors: E2B_ERR_INVALID_ARGUMENT. */
e2b_code e2b_sandbox_list(e2b_client *client, const e2b_list_opts *opts, e2b_sandbox_page **out,
                          e2b_error *err);
void e2b_sandbox_page_free(e2b_sandbox_page *page);

/* Iterator over all pages. e2b_sandbox_iter_next sets *item to the next sandbox (owned by
 * the iterator, valid until the next call) or to NULL at the end, fetching pages as
 * needed. On error the iterator stays usable: the same call can be retried. */
typedef struct e2b_sandbox_iter e2b_sandbox_iter;
e2b_code e2b_sandbox_iter_new(e2b_client *client, const e2b_list_opts *opts, e2b_sandbox_iter **out,
                              e2b_error *err);
e2b_code e2b_sandbox_iter_next(e2b_sandbox_iter *it, const e2b_sandbox_info **item, e2b_error *err);
void e2b_sandbox_iter_free(e2b_sandbox_iter *it);

/* ---- lifetime ------------------------------------------------------------------- */

/* POST /sandboxes/{id}/timeout: the sandbox now expires timeout_s seconds from now (can
 * shorten). Errors: E2B_ERR_SANDBOX_NOT_FOUND, E2B_ERR_INVALID_ARGUMENT (<= 0 or above the
 * maximum). */
e2b_code e2b_sandbox_set_timeout(e2b_client *client, const char *sandbox_id, int timeout_s,
                                 e2b_error *err);

/* DELETE /sandboxes/{id}. *killed (may be NULL) is true when it was killed, false when it
 * did not exist (404 is not an error here). */
e2b_code e2b_sandbox_kill(e2b_client *client, const char *sandbox_id, bool *killed, e2b_error *err);

/* POST /sandboxes/{id}/pause. *paused (may be NULL) is false when it was already paused
 * (409). Errors: E2B_ERR_SANDBOX_NOT_FOUND. */
e2b_code e2b_sandbox_pause(e2b_client *client, const char *sandbox_id, bool *paused,
                           e2b_error *err);

/* ---- metrics -------------------------------------------------------------------- */

typedef struct e2b_metric {
    time_t timestamp_unix;
    int cpu_count;
    double cpu_used_pct;
    long long mem_used, mem_total, mem_cache, disk_used, disk_total; /* bytes */
} e2b_metric;

/* GET /sandboxes/{id}/metrics[?start=&end=] (0 = unset). On success *out is a malloc'd
 * array of *len metrics (free with free(); may be NULL when *len is 0).
 * Errors: E2B_ERR_SANDBOX_NOT_FOUND. */
e2b_code e2b_sandbox_metrics(e2b_client *client, const char *sandbox_id, time_t start, time_t end,
                             e2b_metric **out, size_t *len, e2b_error *err);

#ifdef __cplusplus
}
#endif
#endif
