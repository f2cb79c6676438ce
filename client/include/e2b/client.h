/* e2b/client.h - configuration and the client handle.
 *
 * Thread-safety: an e2b_client may be shared by any number of threads; every call is
 * independent (the client keeps a mutex-protected pool of libcurl handles, so keep-alive
 * connections are reused across calls and threads). Objects returned by calls (sandbox
 * handles, infos, executions) belong to the caller and must not be used by two threads at
 * once without the caller's own locking. e2b_client_free must not race with other calls.
 * libe2b calls curl_global_init itself on the first e2b_client_new (thread-safe since
 * libcurl 7.84).
 */
#ifndef E2B_CLIENT_H
#define E2B_CLIENT_H

#include <stdbool.h>
#include <stdint.h>
#include "e2b/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define E2B_DEFAULT_DOMAIN "e2b.app"
#define E2B_DEFAULT_REQUEST_TIMEOUT_MS 60000L
#define E2B_ENVD_PORT 49983
#define E2B_CODE_INTERPRETER_PORT 49999

/* A key/value pair (metadata, env vars). Strings are borrowed, never freed by libe2b. */
typedef struct e2b_kv {
    const char *key;
    const char *value;
} e2b_kv;

/* Configuration. All strings are borrowed for the duration of e2b_client_new, which
 * copies them. NULL means "not set". */
typedef struct e2b_config {
    const char *api_key;     /* sent as X-API-Key; required for the control plane */
    const char *api_url;     /* control plane base; default https://api.<domain> */
    const char *sandbox_url; /* base for all sandbox traffic (envd and code interpreter) */
    const char *domain;      /* default "e2b.app" */
    bool debug;              /* E2B_DEBUG: api http://localhost:3000, sandboxes on localhost */
    long request_timeout_ms; /* per request; default 60000; 0 = no timeout */
    int max_retries_429;     /* 429 + integer Retry-After retries; default 3; 0 = none.
                                Control plane (api_url) only: the data planes (envd REST
                                and RPC, /execute) never retry a 429, as E2B's official SDKs
                                do not; they fail with E2B_ERR_RATE_LIMITED and
                                e2b_error.retry_after_s (integer Retry-After, else -1) so
                                the caller can back off. */
    const char *user_agent;  /* default "libe2b/<version>" */
} e2b_config;

/* Fills cfg with the defaults (everything unset, timeout 60 s, 3 retries). Cannot fail. */
void e2b_config_init(e2b_config *cfg);

/* e2b_config_init, then reads E2B_API_KEY, E2B_API_URL, E2B_SANDBOX_URL, E2B_DOMAIN,
 * E2B_DEBUG (true/1/yes) and E2B_REQUEST_TIMEOUT_MS. The strings point into the process
 * environment (getenv) and stay valid until the environment changes.
 * Fails with E2B_ERR_INVALID_ARGUMENT on an unparsable number. */
e2b_code e2b_config_from_env(e2b_config *cfg, e2b_error *err);

typedef struct e2b_client e2b_client;

/* Creates a client from cfg (copied). On success *out is a new client the caller frees
 * with e2b_client_free. Fails with E2B_ERR_INVALID_ARGUMENT (bad URL or timeout) or
 * E2B_ERR_NO_MEMORY; *out is then NULL. */
e2b_code e2b_client_new(const e2b_config *cfg, e2b_client **out, e2b_error *err);

/* Frees the client and closes its connections. NULL is a no-op. Every sandbox handle made
 * from it must be freed first. */
void e2b_client_free(e2b_client *client);

/* The effective control-plane base URL, e.g. "https://api.e2b.app". Owned by the client. */
const char *e2b_client_api_url(const e2b_client *client);

/* Effective base URL for a sandbox service port (E2B_ENVD_PORT or
 * E2B_CODE_INTERPRETER_PORT), following the rules of the E2B SDKs: sandbox_url, then debug
 * (http://localhost:<port>), then https://sandbox.<domain> for E2B's own domains (envd only)
 * and https://<port>-<id>.<domain> otherwise. Writes a NUL-terminated string into buf;
 * fails with E2B_ERR_INVALID_ARGUMENT if it does not fit. */
e2b_code e2b_client_sandbox_url(const e2b_client *client, const char *sandbox_id,
                                const char *sandbox_domain, int port, char *buf, size_t len,
                                e2b_error *err);

/* Requests cancellation of every call in flight on this client, from any thread (for
 * example a signal-handling thread). Calls in flight return E2B_ERR_CANCELLED promptly;
 * later calls are unaffected. */
void e2b_client_cancel_all(e2b_client *client);

/* Version string of libe2b, e.g. "0.1.0". */
const char *e2b_version(void);

#ifdef __cplusplus
}
#endif
#endif
