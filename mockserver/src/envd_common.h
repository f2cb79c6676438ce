/* envd_common.h - shared plumbing of e2b-mock's envd surface (port 49983): access-token and
 * user checks, envd HTTP error bodies, Connect unary replies, and sandbox root fds.
 *
 * Modules using it: envd_files.c (GET /health, GET/POST /files), envd_rpc.c
 * (filesystem.Filesystem), process.c (process.Process), watch.c (inotify watchers).
 */
#ifndef E2B_MOCK_ENVD_COMMON_H
#define E2B_MOCK_ENVD_COMMON_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "connect.h"
#include "server.h"

/* The exact 401 text of envd's auth middleware (INFRA envd/internal/api/auth.go). */
#define ENVD_UNAUTHORIZED_MSG \
    "unauthorized access, please provide a valid access token or method signing if supported"

/* True when the request carries the sandbox's access token in X-Access-Token, or the sandbox
 * has no token (then everything is open). Constant-time comparison. */
bool envd_token_ok(const mock_request *req);

/* Checks the v1 pre-signed URL signature of a /files request (query signature,
 * signature_expiration, path, username) for operation "read" or "write":
 *   "v1_" + base64(sha256("<path>:<op>:<username>:<token>[:<expiration>]")) without '='.
 * False when absent, wrong or expired (expiration < now, mock clock). */
bool envd_signature_ok(const mock_request *req, const char *operation);

/* Computes the signature above into out (>= 64 bytes); expiration < 0 = none. For tests and
 * for a client wanting to sign. Returns 0, -1 on failure. */
int envd_sign(const char *path, const char *operation, const char *username, const char *token,
              long long expiration, char *out, size_t cap);

/* The user a request acts as: the `username` query (files) or HTTP Basic user (RPC), default
 * "user". Only "user" and "root" exist in the mock. Returns false for any other name, with the
 * name copied to bad (cap bytes) for the error message. */
bool envd_user_ok(const mock_request *req, bool from_query, char *bad, size_t cap);

/* envd HTTP error: {"code":<status>,"message":"<fmt>"} with
 * Content-Type: application/json; charset=utf-8 and X-Content-Type-Options: nosniff. */
mock_response *envd_http_error(int status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Connect unary error: status from the code table, {"code":"<name>","message":"<fmt>"}. */
mock_response *envd_rpc_error(connect_code code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Connect unary success: 200 application/json with body (ownership taken; NULL -> {}). */
mock_response *envd_rpc_ok(cJSON *body);

/* A whole stream response that is only an end-stream frame: HTTP 200,
 * application/connect+json, {"error":{...}} (or {} for CONNECT_OK). */
mock_response *envd_stream_error(connect_code code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Parses a Connect request body: unary JSON, or (streaming) exactly one data envelope holding
 * JSON. Empty unary body = {}. Returns the parsed object or NULL with *why set to a static
 * description. */
cJSON *envd_parse_request(const mock_request *req, bool streaming, const char **why);

/* Opens the sandbox's home as an O_PATH fd (see fs_safe.h). Returns fd or -errno. */
int envd_root_fd(const mock_request *req);

/* Maps a fs_safe/errno failure on a sandbox path to a Connect code. */
connect_code envd_errno_code(int neg_errno);

/* Reads the Keepalive-Ping-Interval (seconds, default 90) and Connect-Timeout-Ms (0 = none)
 * headers. */
int envd_keepalive_s(const mock_request *req);
long long envd_timeout_ms(const mock_request *req);

/* Monotonic clock in ms. */
long long envd_mono_ms(void);

/* Base64 (standard, padded) of data as a malloc'ed string; NULL on OOM. */
char *envd_b64(const void *data, size_t len);

/* Decodes standard base64 (padding optional). Returns malloc'ed bytes, *len_out set; NULL
 * when malformed or OOM. */
unsigned char *envd_unb64(const char *s, size_t *len_out);

/* ---- stream helpers (Connect server streams) */

/* Sends one data envelope holding json (len bytes) as ONE stream write (one chunk).
 * Returns mock_stream_write's result (-1: client gone / stream cancelled). */
int envd_stream_send_raw(mock_stream *st, const char *json, size_t len);

/* Same for a cJSON message (serialized, then deleted: ownership taken). -1 also on OOM. */
int envd_stream_send(mock_stream *st, cJSON *msg);

/* Sends the end-stream frame ({} for CONNECT_OK, else the error). Does not close. */
int envd_stream_end(mock_stream *st, connect_code code, const char *message);

/* ---- worker threads (stream producers: WatchDir, process readers, gzip downloads)
 *
 * Every background thread of the envd modules is an envd_worker, registered per server, so
 * that a sandbox's destroy hook and the server's stop can end and JOIN them (no thread
 * outlives what it uses). A worker polls w->wake_fd (an eventfd) and must return promptly
 * once atomic_load(&w->stop) is set; it owns whatever its arg points to. */
#include <pthread.h>
#include <stdatomic.h>

typedef struct envd_worker envd_worker;
typedef void (*envd_worker_fn)(envd_worker *w);

struct envd_worker {
    envd_worker_fn fn;
    void *arg;
    char sandbox_id[64]; /* "" = not tied to a sandbox */
    int wake_fd;         /* eventfd (EFD_NONBLOCK|EFD_CLOEXEC); readable after a wake */
    atomic_int stop;
    atomic_int done;
    pthread_t thread;
    envd_worker *next;
};

/* Makes sure the registry exists for server s (idempotent; call from module init).
 * Returns 0, -1 on OOM. */
int envd_workers_attach(mock_server *s);

/* Starts fn(w) on a new thread with w->arg = arg. Returns the worker (owned by the registry;
 * valid until joined) or NULL (arg untouched, caller cleans up). Also joins finished
 * workers. */
envd_worker *envd_worker_start(mock_server *s, const char *sandbox_id, envd_worker_fn fn,
                               void *arg);

/* Sets w->stop and wakes it. Thread-safe; w must still be registered. */
void envd_worker_wake(envd_worker *w);

/* Wakes w WITHOUT asking it to stop (e.g. a subscriber stream was cancelled). */
void envd_worker_poke(envd_worker *w);

/* A mock_stream cancel callback that only pokes the worker (ud = the worker). */
void envd_worker_poke_cb(void *w);

/* Drains w->wake_fd (call after poll reported it readable). */
void envd_worker_drain(envd_worker *w);

/* Stops and joins every worker of the sandbox (sandbox_id NULL = all workers). */
void envd_workers_stop(mock_server *s, const char *sandbox_id);

/* Convenience for stream producers: a mock_stream cancel callback that wakes the worker. */
void envd_worker_cancel_cb(void *w);

#endif
