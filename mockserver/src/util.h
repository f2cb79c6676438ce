/* util.h - small helpers shared by e2b-mock modules: the mock clock, logging, randomness,
 * time formatting, base64url, and filesystem helpers. */
#ifndef E2B_MOCK_UTIL_H
#define E2B_MOCK_UTIL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- clock: wall-clock time plus an adjustable offset (for expiry tests / admin API) */

/* Milliseconds since the Unix epoch, plus the offset. Thread-safe. */
int64_t mock_now_ms(void);

/* Nanoseconds since the epoch, plus the offset (for RFC3339Nano start times). */
int64_t mock_now_ns(void);

/* Moves the mock clock forward (or back, if negative) by delta_ms. Thread-safe. */
void mock_clock_advance_ms(int64_t delta_ms);

/* Current offset in ms. */
int64_t mock_clock_offset_ms(void);

/* ---- logging (stderr). Level: 0 error, 1 warn, 2 info, 3 debug. */

void mock_log_set_level(int level);
int mock_log_level(void);
void mock_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define MOCK_LOG_ERROR 0
#define MOCK_LOG_WARN 1
#define MOCK_LOG_INFO 2
#define MOCK_LOG_DEBUG 3

/* ---- randomness (OpenSSL RAND_bytes) */

/* Fills out[0..n) with random lowercase alnum chars and NUL-terminates (out has n+1 bytes).
 * Returns 0, -1 if the RNG failed. */
int mock_random_alnum(char *out, size_t n);

/* Writes 2*nbytes random lowercase hex chars + NUL into out. Returns 0 or -1. */
int mock_random_hex(char *out, size_t nbytes);

/* ---- time formatting */

/* RFC 3339 UTC with millisecond precision: "2026-11-26T09:15:14.123Z". out >= 32 bytes. */
void mock_format_rfc3339_ms(int64_t ms, char *out, size_t outlen);

/* RFC 3339 UTC with nanoseconds, Go's RFC3339Nano (trailing zeros trimmed). out >= 40. */
void mock_format_rfc3339_nano(int64_t ns, char *out, size_t outlen);

/* Parses RFC 3339 ("2026-11-26T09:15:14Z", fractional seconds and +hh:mm offsets allowed)
 * into ns since the epoch. Returns 0, -1 if malformed. */
int mock_parse_rfc3339_ns(const char *s, int64_t *ns_out);

/* ---- base64url (no padding) */

/* Encodes; returns a malloc'd NUL-terminated string or NULL. */
char *mock_base64url_encode(const void *data, size_t len);

/* Decodes (padding optional); returns malloc'd bytes (NUL-terminated, *len_out = length) or
 * NULL if malformed. */
unsigned char *mock_base64url_decode(const char *s, size_t *len_out);

/* ---- URL decoding */

/* Percent-decodes s (and '+' -> ' ' when form != 0). Returns malloc'd string or NULL when
 * malformed (bad %xx) or OOM. */
char *mock_url_decode(const char *s, size_t len, int form);

/* ---- filesystem */

/* rm -rf path (does not follow symlinks). Returns 0, -1 on error (errno set). */
int mock_rm_rf(const char *path);

/* mkdir -p path with mode. Returns 0 or -1. */
int mock_mkdir_p(const char *path, unsigned mode);

/* Bytes used by regular files under path (like du -sb, no symlink following). */
uint64_t mock_disk_usage(const char *path);

#ifdef __cplusplus
}
#endif
#endif
