/* http.h - libe2b's internal HTTP transport (not installed, not public API).
 *
 * One call, e2b_http_perform, runs one HTTP/1.1 exchange on a pooled libcurl easy handle of
 * the e2b_client. Every layer (control plane, envd REST, envd Connect RPC, code-interpreter
 * /execute) goes through it, so they all share:
 *   - keep-alive reuse: handles (each with its own connection cache) come from a
 *     mutex-protected LIFO pool in the client and go back after the call, so sequential calls
 *     reuse one TCP connection and concurrent calls from many threads each get a handle;
 *   - TCP_NODELAY, no "Expect: 100-continue", the client's User-Agent, no redirects;
 *   - timeouts: a whole-request deadline and an optional "until response headers" deadline;
 *   - cancellation: e2b_client_cancel_all() bumps a generation counter and wakes every call in
 *     flight; a call whose generation changed returns E2B_ERR_CANCELLED promptly. A per-request
 *     cancel flag is also honoured;
 *   - 429 retries (control plane only, opt-in per request): a 429 whose Retry-After is an
 *     integer is retried after that many seconds while the whole-request deadline allows.
 *
 * Streaming: with on_data set, the body of a 2xx response is handed to on_data as it arrives
 * (any split: callers must parse incrementally) and NOT buffered. Bodies of non-2xx responses
 * are always buffered (capped at E2B_HTTP_ERROR_BODY_MAX) into resp->body so the caller can
 * build an error with e2b_http_error_from_status.
 *
 * Thread-safety: any number of threads may call e2b_http_perform on one client at once.
 * A request/response pair belongs to the calling thread.
 */
#ifndef E2B_HTTP_H
#define E2B_HTTP_H

#include <curl/curl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include "e2b/client.h"
#include "e2b/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define E2B_HTTP_ERROR_BODY_MAX (64 * 1024) /* bytes kept of a non-2xx body when streaming */
#define E2B_HTTP_NO_TIMEOUT (-1L)           /* timeout_ms: no whole-request deadline */
#define E2B_HTTP_RETRIES_CLIENT (-1)        /* max_retries_429: use cfg.max_retries_429 */

typedef struct e2b_http_response e2b_http_response;

/* Called once when the headers of the final response are complete (never for a 429 that is
 * about to be retried, never for 1xx). resp->status, resp->content_type and the header list
 * are valid. Return E2B_OK to go on; any other code aborts the transfer and
 * e2b_http_perform returns that code with whatever the callback put into err. */
typedef e2b_code (*e2b_http_headers_fn)(const e2b_http_response *resp, void *ud, e2b_error *err);

/* Called with each piece of a 2xx body, split anywhere, n > 0. Return E2B_OK to go on, or
 * an error code (after e2b_error_set(err, ...)) to abort; e2b_http_perform returns it. */
typedef e2b_code (*e2b_http_data_fn)(const char *p, size_t n, void *ud, e2b_error *err);

/* Streamed request body: fill buf with up to max bytes, return the count, 0 at the end, or
 * CURL_READFUNC_ABORT to abort (e2b_http_perform then returns E2B_ERR_IO unless the
 * callback stored another code in err->code). */
typedef size_t (*e2b_http_read_fn)(char *buf, size_t max, void *ud, e2b_error *err);

/* Builds a multipart body into mime (created by the transport on the handle that sends it
 * and freed after the call): curl_mime_addpart, curl_mime_name, curl_mime_filename,
 * curl_mime_data / curl_mime_filedata / curl_mime_data_cb, curl_mime_type. May be called
 * again for a retry. Return E2B_OK or an error (with err set) to abort before sending. */
typedef e2b_code (*e2b_http_mime_fn)(curl_mime *mime, void *ud, e2b_error *err);

typedef struct e2b_http_request {
    const char *method;         /* "GET", "POST", "DELETE", "PUT", "HEAD"...; NULL = GET,
                                    or POST when a body, mime or read_fn is given */
    const char *url;            /* absolute URL, already escaped (see e2b_http_url) */
    const char *const *headers; /* NULL-terminated "Name: value" strings; may be NULL */
    bool api_key;               /* add "X-API-Key: <cfg.api_key>" (control plane) */

    /* Request body: at most one of body, mime_fn, read_fn. */
    const void *body; /* borrowed for the call; may contain NULs */
    size_t body_len;
    e2b_http_mime_fn mime_fn; /* multipart/form-data body */
    e2b_http_read_fn read_fn; /* streamed body */
    long long read_len;       /* read_fn total length, or -1: Transfer-Encoding: chunked */

    /* Deadlines. timeout_ms: whole exchange, 0 = the client's request timeout (which may be
     * "none"), E2B_HTTP_NO_TIMEOUT = none. headers_timeout_ms: until the response headers
     * are complete, 0 = none (use it with a long timeout_ms for streams). Either deadline
     * passing returns timeout_code (0 = E2B_ERR_REQUEST_TIMEOUT). */
    long timeout_ms;
    long headers_timeout_ms;
    e2b_code timeout_code;

    /* 0 = never retry; E2B_HTTP_RETRIES_CLIENT = the client's max_retries_429; n = up to n. */
    int max_retries_429;

    /* A request the server must not act on twice (create, pause, run_code, a context,
     * process start/input/signal, filesystem changes). libcurl silently re-sends a request
     * once when a REUSED keep-alive connection dies before any byte of the answer
     * ("Connection died, retrying a fresh connect"): harmless when the server never saw it,
     * a duplicate when it acted and the answer was lost. true refuses that re-send (a
     * CURLOPT_PREREQFUNCTION sees the second send) and the call fails with E2B_ERR_NETWORK
     * instead; the connection is still reused, so this costs nothing on the hot path. 429
     * retries still apply (the server answered, so it did not act). */
    bool non_idempotent;

    atomic_int *cancel; /* optional: nonzero cancels this call (E2B_ERR_CANCELLED) */

    e2b_http_headers_fn on_headers; /* optional */
    e2b_http_data_fn on_data;       /* optional; NULL = buffer the body into resp->body */
    void *ud;                       /* passed to every callback */
    size_t max_body;                /* buffered body cap, 0 = 256 MiB; above -> E2B_ERR_PROTOCOL */
} e2b_http_request;

struct e2b_http_response {
    long status; /* final HTTP status */
    char *body;  /* buffered body, always NUL-terminated (body_len excludes
                                    the NUL) after E2B_OK; "" when empty or streamed */
    size_t body_len;
    char *content_type; /* Content-Type value or NULL */
    char **headers;     /* "Name: value" lines of the final response (trimmed) */
    size_t headers_len;
    long num_connects; /* new TCP connections this call opened (0 = reused) */
    int retries;       /* 429 retries performed */
};

/* Runs req and fills *resp (which the caller zero-initialises or reuses after
 * e2b_http_response_free). Returns E2B_OK whenever a complete HTTP response arrived,
 * WHATEVER its status: map the status with e2b_http_error_from_status. Otherwise:
 *   E2B_ERR_REQUEST_TIMEOUT (or req->timeout_code)  a deadline passed
 *   E2B_ERR_NETWORK     connect refused, DNS, reset, connection closed early, bad TLS
 *   E2B_ERR_CANCELLED   e2b_client_cancel_all or req->cancel
 *   E2B_ERR_PROTOCOL    malformed HTTP, body above max_body
 *   E2B_ERR_INVALID_ARGUMENT  bad URL or request fields
 *   E2B_ERR_NO_MEMORY
 *   any code returned by a callback (abort).
 * On error resp may hold partial data (status, headers); free it either way. */
e2b_code e2b_http_perform(e2b_client *client, const e2b_http_request *req, e2b_http_response *resp,
                          e2b_error *err);

/* Frees what resp holds and zeroes it. NULL is a no-op. */
void e2b_http_response_free(e2b_http_response *resp);

/* Value of the first response header called name (case-insensitive), or NULL. Owned by
 * resp. */
const char *e2b_http_response_header(const e2b_http_response *resp, const char *name);

/* Integer seconds of resp's Retry-After header (0..86400), or -1 when absent, an HTTP date
 * or malformed: what e2b_error.retry_after_s carries. */
int e2b_http_response_retry_after(const e2b_http_response *resp);

/* Which surface answered, for error mapping. */
typedef enum e2b_http_plane {
    E2B_PLANE_CONTROL = 0, /* the REST API (api_url) */
    E2B_PLANE_ENVD = 1,    /* envd REST /files, /health (port 49983) */
    E2B_PLANE_CODE = 2     /* code interpreter (port 49999) */
} e2b_http_plane;

/* Maps an HTTP status to E2B's typed errors and wording; returns E2B_OK for 1xx-3xx (err
 * untouched). body may be NULL. retry_after is the Retry-After header or NULL.
 *   400 -> INVALID_ARGUMENT       401/403 -> AUTH ("Unauthorized, please check your
 *   credentials. - <msg>")        404 -> control: SANDBOX_NOT_FOUND when the JSON body's
 *   "code" is 404, else NOT_FOUND; data planes: NOT_FOUND
 *   409 -> CONFLICT               429 -> RATE_LIMITED ("Rate limit exceeded, please try
 *   again later - <msg>", err->retry_after_s = integer Retry-After or -1)
 *   502 -> data planes: SANDBOX_GONE ("<msg>: This error is likely due to sandbox
 *   timeout..."); control: INTERNAL
 *   503 -> SERVICE_BUSY ("Service temporarily unavailable, please retry - <msg>")
 *   507 -> NOT_ENOUGH_SPACE (data planes)      500/504/other 5xx -> INTERNAL
 *   anything else >= 400 -> SERVER ("<status>: <msg>")
 * <msg> is the JSON body's "message" string, else the body text (trimmed, shortened), else
 * "HTTP <status>". err->http_status is set. */
e2b_code e2b_http_error_from_status(long status, const char *body, size_t body_len,
                                    const char *retry_after, e2b_http_plane plane, e2b_error *err);

/* Convenience: e2b_http_error_from_status on a response. */
e2b_code e2b_http_check(const e2b_http_response *resp, e2b_http_plane plane, e2b_error *err);

/* ---- URLs --------------------------------------------------------------------------- */

/* Percent-encodes s (length len, or strlen(s) when len is (size_t)-1) keeping only
 * A-Z a-z 0-9 - . _ ~ (curl_easy_escape). Returns a malloc'd string (free()) or NULL on
 * allocation failure. */
char *e2b_http_escape(const char *s, size_t len);

/* Builds base + path + "?" + query into a malloc'd string (*out, free()).
 *   base: "http://host:port" or with a path prefix; trailing '/' is dropped.
 *   path: starts with '/', already escaped (escape ids with e2b_http_escape);
 *   query: NULL or a NULL-terminated list of name, value pairs; pairs whose value is NULL
 *          are skipped; names and values are escaped with e2b_http_escape.
 * Fails with E2B_ERR_NO_MEMORY. */
e2b_code e2b_http_url(char **out, const char *base, const char *path, const char *const *query,
                      e2b_error *err);

/* ---- client internals the transport and the layers share --------------------------- */

/* The client's request timeout in ms (0 = none). */
long e2b_client_request_timeout_ms(const e2b_client *client);

/* The client's API key or NULL. */
const char *e2b_client_api_key(const e2b_client *client);

/* Whether the client is in debug mode (E2B_DEBUG). */
bool e2b_client_debug(const e2b_client *client);

#ifdef __cplusplus
}
#endif
#endif
