/* server.h - the e2b-mock HTTP core and its plug-in API.
 *
 * e2b-mock serves three surfaces on ONE TCP port (like E2B with E2B_API_URL and
 * E2B_SANDBOX_URL pointing at the same place):
 *   - the control plane (port 0 below): /v2/sandboxes, /sandboxes/..., X-API-Key auth;
 *   - envd (MOCK_PORT_ENVD = 49983) and the code interpreter (MOCK_PORT_CODE = 49999):
 *     requests that carry `E2b-Sandbox-Id` + `E2b-Sandbox-Port` headers, or a Host header
 *     `<port>-<sandboxID>.<anything>` as the real E2B edge proxy accepts.
 *
 * Threading: libmicrohttpd in thread-per-connection mode. Every handler runs on its
 * connection's thread and MAY block (it blocks only that connection). Streaming responses
 * are pushed from any thread through mock_stream (no busy wait: the connection thread sleeps
 * on a condition variable until data arrives).
 *
 * Plugging in a module (envd files, process, code interpreter ...):
 *
 *     static mock_response *h_health(mock_request *req) { return mock_resp_empty(204); }
 *     static int envd_init(mock_server *s) {
 *         return mock_route_add(s, MOCK_PORT_ENVD, "GET", "/health", h_health, 0);
 *     }
 *     MOCK_MODULE(envd, envd_init, NULL)
 *
 * The build scans mockserver/src/<file>.c for lines starting with MOCK_MODULE( and generates the
 * module table; every mock_server_new() calls every module's init, so no shared file needs
 * editing and no other reference is needed for the file to be linked in.
 *
 * Dispatch order for a request:
 *   1. Sandbox request (routing headers or host)?  -> look the sandbox up in the store:
 *      unknown/killed -> 502 {"sandboxId","message":"The sandbox was not found","code":502};
 *      paused -> 502 (same body); port without routes -> 502 {"sandboxId","message":
 *      "The sandbox is running but port is not open","port",code:502}. All with
 *      Content-Type: application/json; charset=utf-8.
 *      Otherwise control plane: X-API-Key is checked (401) unless MOCK_ROUTE_NO_AUTH.
 *   2. Route match on (port, path); exact patterns win over prefix patterns; among equals the
 *      first registered wins. Path matches but method does not -> 405; nothing -> 404.
 *   3. MOCK_ROUTE_ACCESS_TOKEN: X-Access-Token must equal the sandbox's envdAccessToken
 *      (401 otherwise).
 *   4. The body is received (de-chunked by MHD) into req->body, or fed to on_upload_chunk.
 *   5. handler(req) -> response; NULL means 500.
 */
#ifndef E2B_MOCK_SERVER_H
#define E2B_MOCK_SERVER_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "store.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MOCK_PORT_CONTROL 0  /* control plane: no routing headers */
#define MOCK_PORT_ENVD 49983 /* envd: /files, /health, Connect RPC */
#define MOCK_PORT_CODE 49999 /* code interpreter: /execute, /contexts */

typedef struct mock_server mock_server;
typedef struct mock_request mock_request;
typedef struct mock_response mock_response;
typedef struct mock_stream mock_stream;

/* ------------------------------------------------------------------ server lifecycle */

typedef struct mock_server_config {
    const char *host;            /* bind address; NULL = "127.0.0.1" */
    unsigned short port;         /* 0 = a free port (see mock_server_port) */
    const char *const *api_keys; /* accepted X-API-Key values; n_api_keys == 0 = any non-empty */
    size_t n_api_keys;
    const char *root;           /* sandbox dirs live in <root>/<id>/; NULL = fresh mkdtemp,
                                   removed at mock_server_free. A given root is kept. */
    unsigned create_latency_ms; /* injected delay on create */
    unsigned max_timeout_s;     /* upper bound for sandbox timeouts; 0 = 3600 */
    const char *fixtures_dir;   /* where templates.json lives; NULL = E2B_FIXTURES_DIR env or
                                   a built-in list (base, code-interpreter-v1, desktop,
                                   mcp-gateway) */
} mock_server_config;

/* Creates the server, calls every MOCK_MODULE init, binds and starts serving.
 * Returns NULL on failure (message logged). Free with mock_server_free. */
mock_server *mock_server_new(const mock_server_config *cfg);

/* The bound TCP port. */
unsigned short mock_server_port(const mock_server *s);

/* "http://<host>:<port>" (owned by the server). */
const char *mock_server_url(const mock_server *s);

/* The sandbox store of this server (owned by the server). */
mock_store *mock_server_store(mock_server *s);

/* Server config values after defaults were applied. */
unsigned mock_server_max_timeout_s(const mock_server *s);

/* --create-latency-ms value. */
unsigned mock_server_create_latency_ms(const mock_server *s);

/* Sleeps ms milliseconds, or less when the server starts shutting down. Returns 0 after the
 * full sleep, -1 when cut short by shutdown. For handlers that wait (e.g. injected latency). */
int mock_server_sleep_ms(mock_server *s, unsigned ms);

/* Non-zero once mock_server_free has begun (handlers should wind down). */
int mock_server_stopping(mock_server *s);

/* Route lookup without a request (tests, diagnostics): the pattern of the route that would
 * serve (port, method, path), or NULL; *status (nullable) = 200, 404 (no path match) or 405
 * (path matches, method does not). */
const char *mock_route_lookup(const mock_server *s, int port, const char *method, const char *path,
                              int *status);

/* Stops serving and frees everything: cancels open streams, runs each module's stop, kills
 * every sandbox (destroy hooks run, dirs removed), stops MHD (joins connection threads),
 * frees module data, removes a temporary root. NULL is a no-op. */
void mock_server_free(mock_server *s);

/* Per-server module state: set once in a module's init, read from handlers.
 * free_fn (nullable) runs in mock_server_free after MHD has stopped. Returns 0, -1 on OOM. */
int mock_server_set_data(mock_server *s, const char *key, void *data, void (*free_fn)(void *));
void *mock_server_get_data(mock_server *s, const char *key);

/* ------------------------------------------------------------------ modules */

typedef struct mock_module {
    const char *name;
    int (*init)(mock_server *s);  /* add routes, hooks, data. Non-zero fails mock_server_new */
    void (*stop)(mock_server *s); /* nullable: server is shutting down (before sandboxes are
                                     killed and before MHD joins connection threads): wake any
                                     handler that blocks */
} mock_module;

/* Declares a module. Write it at the START of a line, at file scope, in a mockserver/src/<file>.c
 * file: the build scans for /^MOCK_MODULE\(name/ and generates the module table
 * (e2b_mock_modules[], see modules.cmake), which also makes the linker pull the file out of
 * the static library. Modules are initialised in file-name order. */
#define MOCK_MODULE(NAME, INIT, STOP) mock_module mock_module_##NAME = {#NAME, INIT, STOP};

/* NULL-terminated table generated by the build. */
extern mock_module *const e2b_mock_modules[];

/* ------------------------------------------------------------------ routes */

/* Route flags */
#define MOCK_ROUTE_PREFIX 0x1u       /* pattern is a path prefix ("/process.Process/") */
#define MOCK_ROUTE_NO_AUTH 0x2u      /* control plane: no X-API-Key needed (e.g. /health) */
#define MOCK_ROUTE_ACCESS_TOKEN 0x4u /* data plane: require X-Access-Token == envdAccessToken */

/* A handler returns the response (ownership passes to the server); NULL -> 500.
 * It runs on the connection thread and may block. */
typedef mock_response *(*mock_handler_fn)(mock_request *req);

/* Streaming upload hook: called with each piece of the (de-chunked) request body as it arrives,
 * on the connection thread, before the handler. req->body stays NULL for such routes.
 * Keep per-request state in req->user (free it via mock_req_on_done).
 * Return 0 to continue; non-zero to discard the rest of the body (the handler still runs and
 * should report the error it recorded in its state). */
typedef int (*mock_upload_fn)(mock_request *req, const char *data, size_t len);

/* Adds a route. port: MOCK_PORT_CONTROL, MOCK_PORT_ENVD, MOCK_PORT_CODE (any other sandbox port
 * works too). method: "GET", "POST", ... or "*" for any. pattern: "/sandboxes/{id}/timeout"
 * ({name} matches one non-empty segment, read it with mock_req_param) or, with
 * MOCK_ROUTE_PREFIX, a literal prefix. Strings are copied. Returns 0, -1 on bad pattern/OOM.
 * Call from a module init (before serving); not thread-safe against running requests. */
int mock_route_add(mock_server *s, int port, const char *method, const char *pattern,
                   mock_handler_fn handler, unsigned flags);

/* Same, with a streaming-upload hook (see mock_upload_fn). */
int mock_route_add_upload(mock_server *s, int port, const char *method, const char *pattern,
                          mock_handler_fn handler, mock_upload_fn on_upload_chunk, unsigned flags);

/* ------------------------------------------------------------------ requests */

struct mock_request {
    mock_server *server;
    const char *method;     /* "GET" ... */
    const char *path;       /* URL path without the query string, as received (MHD unescapes) */
    int port;               /* MOCK_PORT_CONTROL or the sandbox port */
    const char *sandbox_id; /* NULL on the control plane */
    mock_sandbox *sandbox;  /* data plane: the target sandbox, referenced for the whole request
                               (running when dispatched); NULL on the control plane */
    const char *body;       /* full request body, NUL-terminated (NULL for upload routes) */
    size_t body_len;
    void *user;                 /* free for the handler / upload hook */
    struct mock_req_priv *priv; /* internal */
};

/* Header value, case-insensitive name; NULL if absent. Valid for the request's lifetime. */
const char *mock_req_header(const mock_request *req, const char *name);

/* Decoded query parameter; NULL if absent ("" if present without value). */
const char *mock_req_query(const mock_request *req, const char *name);

/* Calls fn(key, value, ud) for each header (e.g. X-Metadata-*); stop by returning non-zero. */
void mock_req_each_header(const mock_request *req,
                          int (*fn)(const char *key, const char *value, void *ud), void *ud);

/* A {name} capture of the matched pattern; for PREFIX routes name "*" is the rest of the path. */
const char *mock_req_param(const mock_request *req, const char *name);

/* The underlying MHD connection (e.g. for MHD_create_post_processor). Do not queue responses
 * on it yourself. */
struct MHD_Connection;
struct MHD_Connection *mock_req_connection(mock_request *req);

/* Parses req->body as JSON (NULL if empty or invalid). The caller owns the result. */
cJSON *mock_req_json(const mock_request *req);

/* Registers fn(req) to run when the request is finished (response sent, or connection lost);
 * at most 4 per request. Returns 0, -1 if full. */
int mock_req_on_done(mock_request *req, void (*fn)(mock_request *req));

/* ------------------------------------------------------------------ responses */

/* All constructors return NULL only on OOM (the server then answers 500). */

/* JSON body from a cJSON tree; takes ownership of body. Content-Type: application/json. */
mock_response *mock_resp_json(int status, cJSON *body);

/* JSON body from text (copied). */
mock_response *mock_resp_json_str(int status, const char *json);

/* E2B error: {"code":<status>,"message":"<formatted>"}, application/json. */
mock_response *mock_resp_error(int status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Empty body with Content-Length: 0 (204, 200 ...). */
mock_response *mock_resp_empty(int status);

/* Raw bytes (copied); content_type may be NULL (no Content-Type header). */
mock_response *mock_resp_bytes(int status, const char *content_type, const void *data, size_t len);

/* Raw bytes from a malloc'd buffer; takes ownership of data (freed with free()). */
mock_response *mock_resp_take(int status, const char *content_type, void *data, size_t len);

/* File contents: `size` bytes from `offset` of fd; takes ownership of fd (closed when done,
 * also on failure). Uses sendfile where possible. */
mock_response *mock_resp_fd(int status, const char *content_type, int fd, uint64_t offset,
                            uint64_t size);

/* Streaming body (Transfer-Encoding: chunked). *out receives the producer side; feed it with
 * mock_stream_write from any thread and finish with mock_stream_close (exactly once, always,
 * even if the response is never sent or the client went away). Headers go out when the handler
 * returns. Content-Type e.g. "application/connect+json" or "application/x-ndjson". */
mock_response *mock_resp_stream(int status, const char *content_type, mock_stream **out);

/* Adds a header to a response. Returns 0, -1 on failure. */
int mock_resp_header(mock_response *r, const char *name, const char *value);

/* Frees a response that was not returned to the server (a stream response also closes its
 * producer side only when nobody holds it: call mock_stream_close yourself). NULL ok. */
void mock_resp_free(mock_response *r);

/* ------------------------------------------------------------------ streams */

/* Cancels (drops the connection of) every open streaming response of one sandbox's
 * data-plane requests, or of all requests when sandbox_id is NULL - what E2B's edge does when
 * a sandbox disappears. The admin module calls it on kill/expiry unless its cutStreamsOnKill
 * setting is off (then the modules end their streams gracefully); available to modules too. */
void mock_server_cancel_streams(mock_server *s, const char *sandbox_id);

/* Appends data to the stream; it is sent as soon as the connection thread wakes (writes queued
 * meanwhile may be coalesced into one chunk). Blocks while more than 4 MiB are queued (backpressure).
 * Returns 0, or -1 when the stream is cancelled (client disconnected, server stopping,
 * mock_server_cancel_streams) or already closed - the producer should stop and call
 * mock_stream_close. */
int mock_stream_write(mock_stream *s, const void *data, size_t len);

/* Convenience: printf into the stream. Same return as mock_stream_write. */
int mock_stream_printf(mock_stream *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Ends the body after the queued data is sent, and releases the producer's reference:
 * s must not be used afterwards. Waits for a running cancel callback to return first.
 * After it returns, the cancel callback is never called. */
void mock_stream_close(mock_stream *s);

/* Non-zero once the client went away or the server is stopping. Never blocks. */
int mock_stream_cancelled(mock_stream *s);

/* Registers fn(ud), called at most once when the stream is cancelled (client disconnected,
 * detected within ~0.25 s even when idle; server stopping; or mock_server_cancel_streams).
 * Killing or pausing a sandbox does NOT cancel its streams by itself: the owning module ends
 * them (e.g. with a final event) from its store hooks. Called immediately if already
 * cancelled. It runs on a server thread: it must not block long and must NOT call
 * mock_stream_close (signal your producer instead). Replaces a previous registration. */
void mock_stream_on_cancel(mock_stream *s, void (*fn)(void *ud), void *ud);

/* ------------------------------------------------------------------ interception hooks */

/* One set of hooks per server (the admin/scenario module installs them at init). Both run on
 * the connection thread in the request's final call, once the body is complete (req->body is
 * set; "" for early errors and upload routes).
 *   before: runs first, also for requests that already got an early error (404/405/401/502).
 *           Return 0 to proceed normally, 1 to answer with *out instead (ownership passes; an
 *           early error is discarded), or -1 to drop the connection without an answer (the
 *           hook may have written raw bytes to mock_req_fd first).
 *   after:  runs with the status about to be sent (also for answers given by before); return
 *           0 to send it, -1 to discard it and drop the connection (e.g. a lost create answer).
 * Either may be NULL. Set before serving (from a module init). */
typedef struct mock_hooks {
    int (*before)(mock_request *req, mock_response **out, void *ud);
    int (*after)(mock_request *req, int status, void *ud);
    void *ud;
    /* Non-zero: every request body (also of upload routes and of requests that got an early
     * error) is buffered into req->body before `before` runs (record mode forwards it). */
    int buffer_all_bodies;
} mock_hooks;
void mock_server_set_hooks(mock_server *s, const mock_hooks *h);

/* The client socket of the request's connection (-1 if unknown). Only for hooks that write
 * raw bytes and then return -1 (the server closes the connection); never close it. */
int mock_req_fd(mock_request *req);

/* The HTTP status of a response. */
int mock_resp_status(const mock_response *r);

#ifdef __cplusplus
}
#endif
#endif
