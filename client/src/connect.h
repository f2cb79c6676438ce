/* connect.h - Connect protocol (JSON codec), client side (internal).
 *
 * What envd speaks on port 49983 for filesystem.Filesystem and process.Process:
 *   - unary:  POST application/json, body = proto3 JSON; 200 + JSON reply, or non-200 + a
 *             JSON error body {"code":"not_found","message":"..."};
 *   - server streams: POST application/connect+json, body = ONE envelope; reply 200 +
 *             application/connect+json, a sequence of envelopes
 *             [flags:1][length:4 big-endian][JSON], data (flags 0x00) then one mandatory
 *             end-stream envelope (flags 0x02) {"error"?:{code,message},"metadata"?:{..}}.
 *
 * This header has three parts:
 *   1. the envelope codec (pure, no I/O): an incremental decoder that accepts input split
 *      anywhere, and the request envelope encoder;
 *   2. error mapping: Connect code strings and HTTP statuses to e2b_code;
 *   3. proto3 JSON helpers (int64 as string or number, enums by name or number, base64
 *      bytes, RFC 3339 timestamps);
 *   4. the envd call layer (URL, headers, unary and streaming RPC over http.h), used by
 *      files.c and commands.c.
 */
#ifndef E2B_CONNECT_H
#define E2B_CONNECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <cjson/cJSON.h>
#include "e2b/error.h"

/* ---- 1. envelope codec ------------------------------------------------------------ */

#define E2B_CONNECT_FLAG_COMPRESSED 0x01u
#define E2B_CONNECT_FLAG_END_STREAM 0x02u
#define E2B_CONNECT_ENVELOPE_HEADER 5
/* Default cap on one message. envd's data chunks are <= 32 KiB raw (~44 KiB of base64);
 * a ListDir-sized reply never travels in a stream. */
#define E2B_CONNECT_DEFAULT_MAX_MESSAGE ((size_t)16 * 1024 * 1024)

/* Which service a call belongs to: decides what `not_found` means. */
typedef enum e2b_connect_service {
    E2B_CONNECT_FILESYSTEM = 0, /* not_found -> E2B_ERR_FILE_NOT_FOUND */
    E2B_CONNECT_PROCESS = 1     /* not_found -> E2B_ERR_NOT_FOUND */
} e2b_connect_service;

/* Called once per data envelope (flags 0x00) with its JSON payload (NOT NUL-terminated).
 * Return E2B_OK to continue; any other code stops the decoder and feed returns it. */
typedef e2b_code (*e2b_connect_msg_fn)(void *ud, const char *json, size_t len, e2b_error *err);

/* Incremental envelope decoder. A message wholly inside one fed chunk is passed straight
 * from the chunk (no copy); only a message split across chunks is accumulated, in one
 * buffer reused for the life of the decoder. States: reading header / reading payload /
 * ended (end-stream seen) / failed. */
typedef struct e2b_connect_decoder {
    unsigned char hdr[E2B_CONNECT_ENVELOPE_HEADER];
    size_t hdr_len;      /* header bytes collected so far (0..5) */
    size_t need;         /* payload length of the current envelope */
    unsigned char flags; /* flags of the current envelope */
    char *buf;           /* partial payload carried over between chunks */
    size_t len, cap;
    size_t max_message;
    size_t messages; /* data envelopes delivered */
    e2b_connect_service service;
    bool in_payload;
    bool ended; /* a valid end-stream envelope was decoded */
    bool failed;
    e2b_code end_code; /* code carried by the end-stream envelope (E2B_OK for `{}`) */
    e2b_error end_err; /* its details, reported again by feed/finish */
} e2b_connect_decoder;

/* Initialises d. max_message 0 = E2B_CONNECT_DEFAULT_MAX_MESSAGE. No allocation. */
void e2b_connect_decoder_init(e2b_connect_decoder *d, size_t max_message,
                              e2b_connect_service service);

/* Frees the carry-over buffer. The struct may be re-initialised afterwards. */
void e2b_connect_decoder_free(e2b_connect_decoder *d);

/* Consumes len bytes. Calls fn for each complete data envelope.
 * Errors (the decoder is then failed and further feeds return E2B_ERR_PROTOCOL):
 *   E2B_ERR_PROTOCOL  - compressed envelope (flags 0x01), unknown flag bits, a message over
 *                       max_message, data after the end-stream envelope, an end-stream
 *                       payload that is not a JSON object;
 *   the end-stream error, mapped with e2b_connect_code_from_string (for example
 *   E2B_ERR_FILE_NOT_FOUND), when the end-stream envelope carries {"error":{..}};
 *   E2B_ERR_NO_MEMORY, or the callback's code. */
e2b_code e2b_connect_decoder_feed(e2b_connect_decoder *d, const char *data, size_t len,
                                  e2b_connect_msg_fn fn, void *ud, e2b_error *err);

/* End of the response body. E2B_OK when a successful end-stream envelope was seen.
 * Errors: E2B_ERR_PROTOCOL "incomplete envelope" (bytes of an unfinished envelope are
 * pending) or "missing EndStreamResponse" (the stream closed at an envelope boundary but
 * without the end-stream envelope); the end-stream error again if it carried one. */
e2b_code e2b_connect_decoder_finish(e2b_connect_decoder *d, e2b_error *err);

/* Writes the 5-byte envelope header for a payload of len bytes. */
void e2b_connect_envelope_header(unsigned char hdr[E2B_CONNECT_ENVELOPE_HEADER],
                                 unsigned char flags, uint32_t len);

/* Returns a malloc'd envelope (header + payload) of *out_len bytes, or NULL when out of
 * memory or len does not fit in 32 bits. Caller frees. */
char *e2b_connect_envelope(unsigned char flags, const char *payload, size_t len, size_t *out_len);

/* ---- 2. error mapping --------------------------------------------------------------- */

/* Maps a Connect code name ("not_found", "unavailable", ...) to an e2b_code:
 *   not_found -> FILE_NOT_FOUND (filesystem) / NOT_FOUND (process); unauthenticated and
 *   permission_denied -> AUTH; invalid_argument -> INVALID_ARGUMENT; already_exists ->
 *   CONFLICT; resource_exhausted -> RATE_LIMITED; unavailable -> SANDBOX_GONE;
 *   deadline_exceeded -> OPERATION_TIMEOUT; canceled -> CANCELLED; unimplemented ->
 *   UNSUPPORTED; internal, unknown, data_loss -> INTERNAL; NULL or anything else
 *   (failed_precondition, aborted, out_of_range, unrecognised) -> SERVER.
 *   Never returns E2B_OK. */
e2b_code e2b_connect_code_from_string(const char *code, e2b_connect_service service);

/* The Connect code connect-web derives from an HTTP status when the body carries none:
 * 400 internal, 401 unauthenticated, 403 permission_denied, 404 unimplemented,
 * 429/502/503/504 unavailable, anything else unknown. Never NULL. */
const char *e2b_connect_code_for_status(int http_status);

/* e2b_code for a failed HTTP exchange with no usable Connect code in the body. Follows
 * connect-web (e2b_connect_code_for_status), with these refinements: 502 (the edge proxy:
 * unknown or dead sandbox) -> SANDBOX_GONE, 429 -> RATE_LIMITED, 503 -> SERVICE_BUSY,
 * 504 -> SANDBOX_GONE. */
e2b_code e2b_connect_code_for_http_status(int http_status, e2b_connect_service service);

/* Fills err from a unary error reply (status != 200). When content_type is a JSON type and
 * the body is an object with a string "code", that code decides; else the status does.
 * The message is "<code>: <message>" (or the body text / status). Returns the code. */
e2b_code e2b_connect_unary_error(int http_status, const char *content_type, const char *body,
                                 size_t len, e2b_connect_service service, e2b_error *err);

/* Fills err from the "error" object of an end-stream envelope (or any Connect error
 * object). Returns the mapped code (E2B_ERR_PROTOCOL when obj is not an object). */
e2b_code e2b_connect_error_from_json(const cJSON *obj, int http_status, e2b_connect_service service,
                                     e2b_error *err);

/* True when a Content-Type value is application/json (parameters such as
 * "; charset=utf-8" allowed, case-insensitive). `want` is the bare type to match. */
bool e2b_connect_content_type_is(const char *content_type, const char *want);

/* ---- 3. proto3 JSON helpers ---------------------------------------------------------- */

/* Looks up a field by its lowerCamelCase name, then its snake_case name (NULL allowed). */
const cJSON *e2b_connect_field(const cJSON *obj, const char *camel, const char *snake);

/* int64 from a JSON string ("27") or an integral number; absent/null -> dflt.
 * Returns false (and leaves *out = dflt) on a malformed value. */
bool e2b_connect_get_int64(const cJSON *item, int64_t dflt, int64_t *out);

/* Enum value from its name (names[i] is value i; NULL entries skipped) or a number.
 * Absent/null -> 0. Unknown names -> -1. */
int e2b_connect_get_enum(const cJSON *item, const char *const *names, size_t n);

/* Base64 (standard alphabet, padding optional) -> malloc'd buffer of *out_len bytes,
 * NUL-terminated for convenience. Returns NULL on bad input (*out_len = 0) or no memory. */
unsigned char *e2b_connect_b64_decode(const char *s, size_t len, size_t *out_len);

/* Bytes -> malloc'd NUL-terminated standard base64 with padding. NULL when out of memory. */
char *e2b_connect_b64_encode(const void *data, size_t len);

/* RFC 3339 ("2024-01-01T00:00:00Z", fractional seconds and +hh:mm offsets accepted) ->
 * Unix seconds. Returns false on a malformed string. */
bool e2b_connect_parse_time(const char *s, time_t *out);

/* ---- 4. envd call layer --------------------------------------------------------------- */

#include <stdatomic.h>
#include "e2b/client.h"
#include "e2b/sandbox.h"

#define E2B_CONNECT_KEEPALIVE_HEADER "Keepalive-Ping-Interval: 50"

/* How to reach one sandbox's envd: base URL and the headers every envd request carries
 * (E2b-Sandbox-Id, E2b-Sandbox-Port: 49983, X-Access-Token when there is one) plus the
 * optional user. Lives on the caller's stack: no allocation, nothing to free. */
typedef struct e2b_envd {
    e2b_client *client;
    char base[1024];
    char h_sandbox_id[300]; /* "E2b-Sandbox-Id: <id>" */
    char h_token[1100];     /* "X-Access-Token: <t>" or "" */
    char h_auth[400];       /* "Authorization: Basic base64(<user>:)" or "" */
    const char *user;       /* borrowed; username= on /files */
} e2b_envd;

/* Fills *e for sbx and an optional user (NULL = the sandbox's default user). The base URL
 * comes from e2b_client_sandbox_url(client, id, domain, E2B_ENVD_PORT).
 * Errors: E2B_ERR_INVALID_ARGUMENT (NULL sandbox, id/token/user too long). */
e2b_code e2b_connect_envd_init(e2b_envd *e, const e2b_sandbox *sbx, const char *user,
                               e2b_error *err);

/* Same, from parts (for callers without a handle). token and domain may be NULL. */
e2b_code e2b_connect_envd_init_raw(e2b_envd *e, e2b_client *client, const char *sandbox_id,
                                   const char *domain, const char *token, const char *user,
                                   e2b_error *err);

/* Appends the common envd headers (id, port, token) to hdrs starting at index *n (the
 * array must have room for 3 more plus the NULL terminator, which is written). */
void e2b_connect_envd_headers(const e2b_envd *e, const char **hdrs, size_t *n);

/* Unary RPC: POST <base><method> (method like "/filesystem.Filesystem/Stat") with req as
 * the JSON body. timeout_ms 0 = the client's request timeout. On success *out (may be
 * NULL when the reply is not needed) is the parsed reply object (cJSON_Delete).
 * Errors: e2b_connect_unary_error mapping of a non-200 reply (a 429 keeps its integer
 * Retry-After in err->retry_after_s, else -1); E2B_ERR_PROTOCOL (200 with a
 * non-JSON content type or a body that is not a JSON object); transport errors of
 * e2b_http_perform. */
e2b_code e2b_connect_unary(const e2b_envd *e, const char *method, e2b_connect_service svc,
                           const cJSON *req, long timeout_ms, cJSON **out, e2b_error *err);

#define E2B_CONNECT_HEALTH_TIMEOUT_MS 5000L

/* After a call failed with a dropped connection (E2B_ERR_NETWORK, or E2B_ERR_PROTOCOL for a
 * stream that closed without its EndStreamResponse), asks GET <envd>/health (5 s), as the
 * SDKs do: a 502 there means the sandbox itself is gone, and rc becomes
 * E2B_ERR_SANDBOX_GONE (err rewritten, keeping the original text). Otherwise rc and err are
 * returned unchanged. */
e2b_code e2b_connect_probe_gone(const e2b_envd *e, e2b_code rc, e2b_error *err);

typedef struct e2b_connect_stream_opts {
    long timeout_ms;    /* > 0: Connect-Timeout-Ms and a client deadline that gives
                              E2B_ERR_OPERATION_TIMEOUT; <= 0: none */
    bool keepalive;     /* send Keepalive-Ping-Interval: 50 */
    atomic_int *cancel; /* optional: nonzero aborts with E2B_ERR_CANCELLED */
} e2b_connect_stream_opts;

/* Server-streaming RPC: sends req as one envelope, decodes the reply envelopes as they
 * arrive, calling fn for each data message (on the calling thread). Returns E2B_OK only
 * after a successful end-stream envelope. Errors: a non-200 status mapped from the status
 * alone (as connect-web; 502 -> SANDBOX_GONE; 429 -> RATE_LIMITED with the integer
 * Retry-After in err->retry_after_s, else -1); 200 with a content type other than
 * application/connect+json -> E2B_ERR_PROTOCOL; decoder errors (missing EndStreamResponse,
 * end-stream error codes, ...); fn's code; transport errors (the deadline gives
 * E2B_ERR_OPERATION_TIMEOUT, the cancel flag E2B_ERR_CANCELLED). */
e2b_code e2b_connect_stream(const e2b_envd *e, const char *method, e2b_connect_service svc,
                            const cJSON *req, const e2b_connect_stream_opts *opts,
                            e2b_connect_msg_fn fn, void *ud, e2b_error *err);

#endif
