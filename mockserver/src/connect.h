/* connect.h - Connect protocol helpers (JSON codec) for e2b-mock's envd RPC surface.
 *
 * Wire format (Connect protocol v1, e2b-protocol.md §6.1):
 *   unary:     the request/response body is the bare JSON message; errors are a non-200
 *              status with {"code":"<name>","message":"..."} as application/json.
 *   streaming: the body is a sequence of envelopes [flags:1][length:4, big-endian][payload].
 *              flags 0x00 = data message, 0x01 = compressed (never accepted here),
 *              0x02 = end-stream message ({} or {"error":{"code","message"}}).
 *
 * The envelope decoder is incremental: feed it bytes split anywhere; each complete envelope
 * is handed to a callback. Payloads that lie wholly inside one fed chunk are passed without a
 * copy; only an envelope split across chunks is assembled in one reusable buffer.
 *
 * Nothing here is thread-safe per object; distinct objects may be used from distinct threads.
 */
#ifndef E2B_MOCK_CONNECT_H
#define E2B_MOCK_CONNECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CONNECT_FLAG_COMPRESSED 0x01u
#define CONNECT_FLAG_END_STREAM 0x02u
#define CONNECT_ENVELOPE_HEADER 5u
/* Default per-message guard: requests of this service are small JSON documents. */
#define CONNECT_DEFAULT_MAX_MESSAGE ((size_t)4 * 1024 * 1024)

/* Connect error codes. Values are the gRPC numbers (CONNECT_OK = 0 means "no error"). */
typedef enum connect_code {
    CONNECT_OK = 0,
    CONNECT_CANCELED = 1,
    CONNECT_UNKNOWN = 2,
    CONNECT_INVALID_ARGUMENT = 3,
    CONNECT_DEADLINE_EXCEEDED = 4,
    CONNECT_NOT_FOUND = 5,
    CONNECT_ALREADY_EXISTS = 6,
    CONNECT_PERMISSION_DENIED = 7,
    CONNECT_RESOURCE_EXHAUSTED = 8,
    CONNECT_FAILED_PRECONDITION = 9,
    CONNECT_ABORTED = 10,
    CONNECT_OUT_OF_RANGE = 11,
    CONNECT_UNIMPLEMENTED = 12,
    CONNECT_INTERNAL = 13,
    CONNECT_UNAVAILABLE = 14,
    CONNECT_DATA_LOSS = 15,
    CONNECT_UNAUTHENTICATED = 16
} connect_code;

/* Wire name ("not_found", ...) of a code; "ok" for CONNECT_OK, "unknown" for values out of
 * range. Never NULL; static storage. */
const char *connect_code_name(connect_code code);

/* Parses a wire name (exact, case-sensitive). Returns false (and leaves *out) when unknown. */
bool connect_code_from_name(const char *name, connect_code *out);

/* HTTP status connect-go sends for a unary error with this code (not_found -> 404, ...).
 * CONNECT_OK -> 200; out-of-range values -> 500. */
int connect_code_http_status(connect_code code);

/* The code a Connect client derives from an HTTP status when the body carries none
 * (400 -> internal, 401 -> unauthenticated, 403 -> permission_denied, 404 -> unimplemented,
 * 429/502/503/504 -> unavailable, anything else -> unknown; 200 -> CONNECT_OK). */
connect_code connect_code_from_http_status(int status);

/* ---- envelope encoding -------------------------------------------------------------- */

/* Writes the 5-byte envelope header for a payload of len bytes. Cannot fail. */
void connect_envelope_header(unsigned char out[CONNECT_ENVELOPE_HEADER], uint8_t flags,
                             uint32_t len);

/* Returns a malloc'ed envelope (header + payload), its size in *out_len. The caller frees it.
 * NULL on allocation failure or if len > UINT32_MAX. */
unsigned char *connect_envelope(uint8_t flags, const void *payload, size_t len, size_t *out_len);

/* Returns a malloc'ed end-stream envelope (flags 0x02). With code == CONNECT_OK the payload
 * is "{}"; otherwise {"error":{"code":"<name>","message":"<message>"}} (message may be NULL,
 * then omitted). The caller frees it; NULL on allocation failure. */
unsigned char *connect_end_stream(connect_code code, const char *message, size_t *out_len);

/* Returns the malloc'ed, NUL-terminated unary error body
 * {"code":"<name>","message":"<message>"} (message NULL -> omitted). NULL on allocation
 * failure. Pair it with connect_code_http_status(code) and Content-Type application/json. */
char *connect_error_json(connect_code code, const char *message);

/* ---- incremental envelope decoder --------------------------------------------------- */

typedef enum connect_dec_result {
    CONNECT_DEC_OK = 0,
    CONNECT_DEC_TOO_LARGE = -1, /* an envelope announced more than max_message bytes */
    CONNECT_DEC_TRUNCATED = -2, /* finish() with a partial envelope buffered */
    CONNECT_DEC_NO_MEMORY = -3,
    CONNECT_DEC_CALLBACK = -4, /* the callback returned non-zero; the decoder stopped */
    CONNECT_DEC_FAILED = -5    /* the decoder had already failed; nothing was consumed */
} connect_dec_result;

/* Called once per complete envelope. payload is NOT NUL-terminated and is only valid during
 * the call. Return 0 to continue, non-zero to stop (feed then returns CONNECT_DEC_CALLBACK). */
typedef int (*connect_msg_fn)(void *ud, uint8_t flags, const unsigned char *payload, size_t len);

typedef struct connect_decoder {
    unsigned char hdr[CONNECT_ENVELOPE_HEADER];
    size_t hdr_len; /* header bytes collected for the current envelope */
    uint8_t flags;
    uint32_t msg_len;   /* announced payload length (valid once hdr_len == 5) */
    unsigned char *buf; /* partial payload carried across chunks */
    size_t buf_len, buf_cap;
    size_t max_message;
    size_t messages; /* envelopes delivered so far */
    bool failed;
} connect_decoder;

/* max_message 0 = CONNECT_DEFAULT_MAX_MESSAGE. No allocation; cannot fail. */
void connect_decoder_init(connect_decoder *d, size_t max_message);

/* Frees the carry buffer; the decoder may be re-initialised afterwards. */
void connect_decoder_free(connect_decoder *d);

/* Consumes len bytes (data may be NULL when len is 0), calling fn for every complete
 * envelope. After any error the decoder is failed: later calls return CONNECT_DEC_FAILED. */
connect_dec_result connect_decoder_feed(connect_decoder *d, const void *data, size_t len,
                                        connect_msg_fn fn, void *ud);

/* End of input: CONNECT_DEC_OK when no partial envelope is pending, else
 * CONNECT_DEC_TRUNCATED (or CONNECT_DEC_FAILED after an earlier failure). */
connect_dec_result connect_decoder_finish(const connect_decoder *d);

/* Human text for a decoder result ("message exceeds the size limit", ...). Static storage. */
const char *connect_dec_strerror(connect_dec_result r);

#endif
