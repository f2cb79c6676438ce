/* json_util.h - small typed helpers over cJSON (internal).
 *
 * All getters use cJSON_GetObjectItemCaseSensitive. Convention for the e2b_json_get_*
 * functions: a missing key or a JSON null leaves *out untouched and returns E2B_OK unless
 * `required`; a present value of the wrong type is E2B_ERR_PROTOCOL naming the key. */
#ifndef E2B_JSON_UTIL_H
#define E2B_JSON_UTIL_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>
#include "e2b/error.h"

/* Parses exactly one JSON value from buf[0..len) (need not be NUL-terminated); trailing
 * whitespace is allowed, anything else is E2B_ERR_PROTOCOL ("<what>: invalid JSON at byte
 * N"). Returns NULL on error (err set). cJSON returns NULL both for a syntax error and when
 * one of its allocations fails; a failed parse of text that e2b_json_valid() accepts is
 * therefore reported as E2B_ERR_NO_MEMORY, as is a failed copy. Free with cJSON_Delete. */
cJSON *e2b_json_parse(const char *buf, size_t len, const char *what, e2b_error *err);

/* True if buf[0..len) is one strict RFC 8259 JSON value with optional surrounding
 * whitespace. Allocates nothing; accepts only a subset of what cJSON 1.7.15 parses (nesting
 * <= 256, numbers <= 63 characters, paired surrogate escapes), so a NULL from cJSON on input
 * this accepts means cJSON ran out of memory. Used instead of cJSON_GetErrorPtr (process-global,
 * racy) and instead of cJSON_InitHooks (process-global too: it would replace an application's
 * own hooks, and the torture harness's). Callers that parse with cJSON directly map
 * "parse failed && e2b_json_valid" to E2B_ERR_NO_MEMORY. */
bool e2b_json_valid(const char *buf, size_t len);

/* The string value of key, or NULL when absent / not a string. Owned by obj. */
const char *e2b_json_str(const cJSON *obj, const char *key);

/* *out = strdup of the string value (caller frees). */
e2b_code e2b_json_get_strdup(const cJSON *obj, const char *key, bool required, char **out,
                             e2b_error *err);
/* Integral number in [INT_MIN, INT_MAX]. */
e2b_code e2b_json_get_int(const cJSON *obj, const char *key, bool required, int *out,
                          e2b_error *err);
/* Integral number (exact up to 2^53). */
e2b_code e2b_json_get_ll(const cJSON *obj, const char *key, bool required, long long *out,
                         e2b_error *err);
e2b_code e2b_json_get_double(const cJSON *obj, const char *key, bool required, double *out,
                             e2b_error *err);
e2b_code e2b_json_get_bool(const cJSON *obj, const char *key, bool required, bool *out,
                           e2b_error *err);

/* Serialises without formatting into a malloc'd string (free()); NULL on oom. */
char *e2b_json_print(const cJSON *item);

/* Parses an RFC 3339 date-time ("2024-01-02T03:04:05Z", fractional seconds and +hh:mm /
 * -hh:mm offsets, 't'/'z' in either case) into *out (UTC seconds; fractions dropped).
 * Returns false, leaving *out untouched, if s is not one. */
bool e2b_parse_rfc3339(const char *s, time_t *out);

/* Formats t as "YYYY-MM-DDThh:mm:ssZ" into buf (>= 21 bytes). */
void e2b_format_rfc3339(time_t t, char *buf, size_t len);

#endif
