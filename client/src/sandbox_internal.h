/* sandbox_internal.h - the pure (network-free) parts of sandbox.c, exposed for unit tests
 * and for other layers (internal). */
#ifndef E2B_SANDBOX_INTERNAL_H
#define E2B_SANDBOX_INTERNAL_H

#include <cjson/cJSON.h>
#include "e2b/sandbox.h"

/* Appends the `metadata` query value exactly as the JS SDK sends it (already escaped; the
 * caller writes "metadata=" before it): encodeURIComponent(key) "=" encodeURIComponent(value)
 * joined with "&", form-encoded (URLSearchParams), then encodeURIComponent'd as a whole.
 * {"k":"v w"} -> "k%3Dv%252520w". Returns a malloc'd string or NULL on oom. */
char *e2b_metadata_query_value(const e2b_kv *metadata, size_t len);

/* The query string (without '?', possibly "") of GET /v2/sandboxes for opts (NULL = none):
 * metadata, state (comma-joined), limit, nextToken, order. Fails with
 * E2B_ERR_INVALID_ARGUMENT (limit out of 0..100, NULL metadata key/value) or
 * E2B_ERR_NO_MEMORY. *out is malloc'd. */
e2b_code e2b_list_query(const e2b_list_opts *opts, const char *next_token, char **out,
                        e2b_error *err);

/* Fills *info (zeroed by the caller) from a SandboxDetail / ListedSandbox object. Only
 * sandboxID is required; every present field must have its documented type (JSON null
 * counts as absent), else E2B_ERR_PROTOCOL naming the field. On error *info may hold
 * partial data: release it with e2b_sandbox_info_clear. */
e2b_code e2b_sandbox_info_from_json(const cJSON *obj, e2b_sandbox_info *info, e2b_error *err);

/* Frees the strings of *info and zeroes it (the struct itself is not freed). */
void e2b_sandbox_info_clear(e2b_sandbox_info *info);

/* Parses a create/connect reply (`Sandbox`) into a new handle. Requires sandboxID and an
 * envdVersion >= 0.1.0 (leading 'v' allowed), else E2B_ERR_PROTOCOL. */
e2b_code e2b_sandbox_from_json(e2b_client *client, const cJSON *obj, e2b_sandbox **out,
                               e2b_error *err);

/* Compares semantic versions "MAJOR.MINOR.PATCH" (leading 'v' allowed, pre-release suffix
 * ignored). Returns <0, 0, >0; returns false in *ok when a is not a version. */
int e2b_semver_cmp(const char *a, const char *b, bool *ok);

#endif
