/* files_internal.h - the pure (network-free) parts of files.c, for unit tests (internal). */
#ifndef E2B_FILES_INTERNAL_H
#define E2B_FILES_INTERNAL_H

#include <cjson/cJSON.h>
#include <zlib.h>
#include "e2b/files.h"

/* Fills *out (zeroed by the caller) from a proto3-JSON EntryInfo object (lowerCamelCase or
 * snake_case names; size as string or number; type by name or number). Unknown fields are
 * ignored. Errors: E2B_ERR_PROTOCOL naming the bad field (wrong type, malformed size);
 * E2B_ERR_NO_MEMORY. On error *out may hold partial data: e2b_files_entry_clear it. */
e2b_code e2b_files_entry_from_json(const cJSON *obj, e2b_entry_info *out, e2b_error *err);

/* Frees the strings of *e and zeroes it (the struct itself is not freed). */
void e2b_files_entry_clear(e2b_entry_info *e);

/* Parses the reply of POST /files: a non-empty JSON array of EntryInfo.
 * Errors: E2B_ERR_PROTOCOL ("Expected to receive information about written file"). */
e2b_code e2b_files_parse_upload_reply(const char *body, size_t len, e2b_entry_info **out,
                                      size_t *out_len, e2b_error *err);

/* Streaming gzip compressor over an e2b_files_source_fn (the octet-stream upload body). */
typedef struct e2b_files_gzip_src {
    z_stream zs;
    e2b_files_source_fn source;
    void *ud;
    char *in; /* input buffer */
    size_t in_cap;
    bool src_eof, done, failed, init;
} e2b_files_gzip_src;

/* Initialises g (allocates the input buffer and the deflate state). Returns false on oom. */
bool e2b_files_gzip_src_init(e2b_files_gzip_src *g, e2b_files_source_fn source, void *ud);
/* Fills buf with up to max compressed bytes; returns the count, 0 at the end, or
 * E2B_FILES_SOURCE_ERROR when the source or zlib failed. */
size_t e2b_files_gzip_src_read(e2b_files_gzip_src *g, char *buf, size_t max);
void e2b_files_gzip_src_free(e2b_files_gzip_src *g);

/* Streaming gzip decompressor in front of a sink (gzip-encoded downloads). Accepts input
 * split anywhere and concatenated gzip members. */
typedef struct e2b_files_gunzip {
    z_stream zs;
    bool init, in_member, failed;
    e2b_files_sink_fn sink;
    void *ud;
} e2b_files_gunzip;

bool e2b_files_gunzip_init(e2b_files_gunzip *g, e2b_files_sink_fn sink, void *ud);
/* Errors: E2B_ERR_PROTOCOL (not gzip / corrupt), E2B_ERR_NO_MEMORY, the sink's code. */
e2b_code e2b_files_gunzip_feed(e2b_files_gunzip *g, const char *data, size_t n, e2b_error *err);
/* E2B_ERR_PROTOCOL when the input ended inside a gzip member. */
e2b_code e2b_files_gunzip_finish(e2b_files_gunzip *g, e2b_error *err);
void e2b_files_gunzip_free(e2b_files_gunzip *g);

#endif
