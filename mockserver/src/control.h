/* control.h - e2b-mock control plane (e2b-protocol.md §4): the pieces unit tests reach. The
 * routes themselves are registered by the "control" MOCK_MODULE. */
#ifndef E2B_MOCK_CONTROL_H
#define E2B_MOCK_CONTROL_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

/* Decodes a `metadata` list filter as the JS/Python SDKs send it, given the query value after
 * the framework's one URL-decoding (sdk-traffic.md §4.1 note (c)): split on '&' and '=', then
 * form-decode each part, then percent-decode it once more. "" gives an empty object.
 * Returns a new object {key: value} (caller frees) or NULL if malformed (e.g. a part without
 * '=', an empty key, bad %xx). */
cJSON *control_parse_metadata_filter(const char *value);

/* Pagination cursor: base64url("<RFC3339Nano>__<sandboxID>"). Returns malloc'd or NULL. */
char *control_encode_token(int64_t started_ns, const char *sandbox_id);

/* Decodes a cursor. id must hold idlen bytes. Returns 0, -1 if malformed. */
int control_decode_token(const char *token, int64_t *started_ns, char *id, size_t idlen);

#endif
