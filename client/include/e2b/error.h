/* e2b/error.h - the one error type of libe2b, used by every layer.
 *
 * Every fallible libe2b function returns an e2b_code (E2B_OK on success) and takes an
 * optional `e2b_error *err` (may be NULL) that receives the details. The error struct is
 * caller-owned storage: nothing in it needs freeing, and libe2b never allocates to report
 * an error (so an allocation failure can always be reported).
 *
 * Codes are stable: their numeric values never change once released.
 */
#ifndef E2B_ERROR_H
#define E2B_ERROR_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum e2b_code {
    E2B_OK = 0,
    E2B_ERR_AUTH = 1,              /* 401/403: missing or wrong API key or access token */
    E2B_ERR_SANDBOX_NOT_FOUND = 2, /* control plane 404 for a sandbox id */
    E2B_ERR_FILE_NOT_FOUND = 3,    /* envd: path does not exist */
    E2B_ERR_NOT_FOUND = 4,         /* other missing things: code context, process, watcher */
    E2B_ERR_RATE_LIMITED = 5,      /* 429; e2b_error.retry_after_s holds Retry-After or -1 */
    E2B_ERR_REQUEST_TIMEOUT = 6,   /* no (complete) answer within the request timeout */
    E2B_ERR_OPERATION_TIMEOUT = 7, /* an execution / command / watch ran past its own timeout */
    E2B_ERR_SANDBOX_GONE = 8,      /* data plane 502: the sandbox expired or was killed */
    E2B_ERR_INVALID_ARGUMENT = 9,  /* bad input, caught locally or answered 400 */
    E2B_ERR_CONFLICT = 10,         /* 409: state conflict (already paused, already exists) */
    E2B_ERR_SERVICE_BUSY = 11,     /* 503 */
    E2B_ERR_PROTOCOL = 12,         /* malformed server data: bad JSON, truncated stream ... */
    E2B_ERR_NETWORK = 13,          /* connect refused, reset, DNS ... */
    E2B_ERR_INTERNAL = 14,         /* 5xx other than 502/503, or a libe2b bug */
    E2B_ERR_NO_MEMORY = 15,        /* an allocation failed */
    E2B_ERR_CANCELLED = 16,        /* the caller cancelled the call */
    E2B_ERR_NOT_ENOUGH_SPACE = 17, /* 507 from envd */
    E2B_ERR_SERVER = 18,           /* any other unexpected HTTP status */
    E2B_ERR_UNSUPPORTED = 19,      /* the server or build does not support this */
    E2B_ERR_IO = 20                /* local file I/O failed (saving a result, reading a file) */
} e2b_code;

#define E2B_ERROR_MESSAGE_MAX 512

typedef struct e2b_error {
    e2b_code code;
    int http_status;   /* HTTP status that caused it, 0 when none */
    int retry_after_s; /* E2B_ERR_RATE_LIMITED: seconds from Retry-After, else -1 */
    char message[E2B_ERROR_MESSAGE_MAX]; /* human text, includes the server's message */
} e2b_error;

/* Stable lower_snake name of a code, e.g. "sandbox_not_found". Never NULL. */
const char *e2b_code_name(e2b_code code);

/* Resets *err to E2B_OK with an empty message. err may be NULL (no-op). */
void e2b_error_clear(e2b_error *err);

/* Sets err (if non-NULL) and returns code, so callers can write
 *   return e2b_error_set(err, E2B_ERR_INVALID_ARGUMENT, 0, "timeout must be > 0");
 * The message is printf-formatted and truncated to E2B_ERROR_MESSAGE_MAX-1 bytes. */
e2b_code e2b_error_set(e2b_error *err, e2b_code code, int http_status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#ifdef __cplusplus
}
#endif
#endif
