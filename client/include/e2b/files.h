/* e2b/files.h - the sandbox filesystem (envd on port 49983).
 *
 * Maps 1:1 to what the official SDKs call: GET/POST /files (raw bytes, multipart or
 * octet-stream uploads) and the Connect RPC service filesystem.Filesystem (Stat, ListDir,
 * MakeDir, Move, Remove, WatchDir), JSON codec. Paths are sent as given: absolute, or
 * relative to the user's home (envd resolves them).
 *
 * Every call sends E2b-Sandbox-Id, E2b-Sandbox-Port: 49983 and X-Access-Token (when the
 * sandbox has an envd access token). With opts->user set, RPCs carry
 * `Authorization: Basic base64("<user>:")` and /files calls `username=<user>`.
 * Connections are reused through the client's keep-alive pool.
 *
 * Errors common to every call (besides those listed per function):
 *   E2B_ERR_FILE_NOT_FOUND   the path (or a parent) does not exist (404 / not_found)
 *   E2B_ERR_SANDBOX_GONE     the sandbox is unknown, expired or killed (proxy 502,
 *                            `unavailable`): distinct from a missing file. After a dropped
 *                            connection the client asks GET /health (5 s) like the SDKs:
 *                            a 502 there also gives SANDBOX_GONE, else NETWORK stays
 *   E2B_ERR_AUTH             401/403, bad access token, unknown user
 *   E2B_ERR_INVALID_ARGUMENT bad arguments (checked locally) or a 400 / invalid_argument
 *   E2B_ERR_REQUEST_TIMEOUT, E2B_ERR_NETWORK, E2B_ERR_PROTOCOL, E2B_ERR_RATE_LIMITED,
 *   E2B_ERR_SERVICE_BUSY, E2B_ERR_INTERNAL, E2B_ERR_SERVER, E2B_ERR_NO_MEMORY,
 *   E2B_ERR_CANCELLED (e2b_client_cancel_all).
 *
 * Thread-safety: calls on one sandbox handle may run from several threads at once.
 */
#ifndef E2B_FILES_H
#define E2B_FILES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include "e2b/client.h"
#include "e2b/error.h"
#include "e2b/sandbox.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- entries ------------------------------------------------------------------------ */

typedef enum e2b_file_type {
    E2B_FILE_TYPE_UNKNOWN = 0, /* FILE_TYPE_UNSPECIFIED, or absent (upload replies) */
    E2B_FILE_TYPE_FILE = 1,
    E2B_FILE_TYPE_DIR = 2,
    E2B_FILE_TYPE_SYMLINK = 3
} e2b_file_type;

/* "file", "dir", "symlink" or "unknown". Never NULL. */
const char *e2b_file_type_name(e2b_file_type t);

/* filesystem.EntryInfo. Strings are owned by the struct; NULL when the server sent none.
 * Upload replies carry only name, type and path. */
typedef struct e2b_entry_info {
    char *name;
    e2b_file_type type;
    char *path;
    int64_t size;      /* int64 from a JSON string or number; 0 when absent */
    uint32_t mode;     /* e.g. 0644 | directory bits as envd reports them */
    char *permissions; /* e.g. "-rw-r--r--" */
    char *owner;
    char *group;
    char *modified_time;  /* RFC 3339 as sent */
    time_t modified_unix; /* parsed; 0 when absent or unparsable */
    char *symlink_target; /* NULL unless a symlink */
    e2b_kv *metadata;     /* keys/values owned by the struct (free()'d with it) */
    size_t metadata_len;
} e2b_entry_info;

/* Frees one entry returned alone (stat, rename, write). NULL is a no-op. */
void e2b_entry_info_free(e2b_entry_info *info);

/* Frees an array of n entries (list, write_many). NULL is a no-op. */
void e2b_entry_infos_free(e2b_entry_info *infos, size_t n);

/* ---- options ---------------------------------------------------------------------- */

#define E2B_FILES_NO_TIMEOUT (-1L)

typedef struct e2b_files_opts {
    const char *user;       /* run as this user; NULL = the sandbox's default user */
    long timeout_ms;        /* whole request; 0 = the client's request timeout,
                           E2B_FILES_NO_TIMEOUT = none (for very large transfers) */
    bool gzip;              /* reads: Accept-Encoding: gzip, decompressed while streaming;
                           stream uploads: Content-Encoding: gzip, compressed while
                           streaming (envd >= 0.5.7) */
    size_t max_size;        /* e2b_files_read (into memory): refuse a file larger than this,
                           0 = 1 GiB. Streamed reads have no limit. */
    const e2b_kv *metadata; /* uploads: stored with every written file (envd >= 0.6.2) as
                               `X-Metadata-<key>: <value>` headers; keys are HTTP token
                               characters, 1..246 bytes (envd lower-cases them), values
                               printable ASCII, at most 4096 bytes in total, else
                               E2B_ERR_INVALID_ARGUMENT before anything is sent. Each
                               upload replaces the file's metadata. */
    size_t metadata_len;
} e2b_files_opts;

/* ---- reading ------------------------------------------------------------------------ */

/* Receives the file's bytes as they arrive (n > 0, any split). Return E2B_OK to go on; any
 * other code (after e2b_error_set) aborts the download and is returned by the read call. */
typedef e2b_code (*e2b_files_sink_fn)(void *ud, const char *data, size_t n, e2b_error *err);

/* GET /files?path=: reads the whole file into memory. On success *data is a malloc'd
 * buffer (free()) of *len bytes, always followed by a NUL (so text can be used as a C
 * string; the file itself may contain NULs), and "" for an empty file.
 * Errors: E2B_ERR_INVALID_ARGUMENT (path is a directory: 400), E2B_ERR_PROTOCOL (larger
 * than opts->max_size, bad gzip data). *data is NULL on error. */
e2b_code e2b_files_read(e2b_sandbox *sbx, const char *path, const e2b_files_opts *opts, char **data,
                        size_t *len, e2b_error *err);

/* Streams the file to sink without buffering it (constant memory whatever its size).
 * Errors: as e2b_files_read, plus the sink's code. On error the sink may have received
 * part of the file. */
e2b_code e2b_files_read_to(e2b_sandbox *sbx, const char *path, const e2b_files_opts *opts,
                           e2b_files_sink_fn sink, void *ud, e2b_error *err);

/* Streams the file into out (fwrite, not closed, not flushed). Errors: as
 * e2b_files_read_to, plus E2B_ERR_IO when fwrite fails. */
e2b_code e2b_files_read_to_file(e2b_sandbox *sbx, const char *path, const e2b_files_opts *opts,
                                FILE *out, e2b_error *err);

/* ---- writing ------------------------------------------------------------------------ */

/* Writes one file: POST /files?path=<path> with a multipart/form-data body, one part named
 * "file" whose filename is the full path (what the JS SDK sends). Parent directories are
 * created, an existing file is overwritten. data may be NULL when len is 0; it is sent
 * straight from the caller's buffer (not copied). out (may be NULL) receives the written
 * entry (e2b_entry_info_free). Errors: E2B_ERR_INVALID_ARGUMENT (path is a directory),
 * E2B_ERR_NOT_ENOUGH_SPACE (507), E2B_ERR_PROTOCOL (reply not a non-empty array). */
e2b_code e2b_files_write(e2b_sandbox *sbx, const char *path, const void *data, size_t len,
                         const e2b_files_opts *opts, e2b_entry_info **out, e2b_error *err);

typedef struct e2b_write_entry {
    const char *path; /* full path, sent as the part's filename */
    const void *data; /* borrowed; may be NULL when len is 0 */
    size_t len;
} e2b_write_entry;

/* Writes several files in ONE request: POST /files without a path query, one "file" part
 * per entry. On success *out (may be NULL) is an array of *out_len entries, one per written
 * file (e2b_entry_infos_free). Errors: as e2b_files_write; E2B_ERR_INVALID_ARGUMENT for
 * n == 0, a NULL path, or two entries with the same path (the server answers 400 too). */
e2b_code e2b_files_write_many(e2b_sandbox *sbx, const e2b_write_entry *files, size_t n,
                              const e2b_files_opts *opts, e2b_entry_info **out, size_t *out_len,
                              e2b_error *err);

/* Supplies upload bytes: fill buf with up to max bytes and return the count, 0 at the end,
 * or E2B_FILES_SOURCE_ERROR to abort (the write then fails with E2B_ERR_IO). */
typedef size_t (*e2b_files_source_fn)(void *ud, char *buf, size_t max);
#define E2B_FILES_SOURCE_ERROR ((size_t)-1)

/* Streams one file as application/octet-stream (POST /files?path=, chunked), reading the
 * bytes from source as the upload proceeds: memory use is constant whatever the size. With
 * opts->gzip the body is gzip-compressed on the fly (zlib) and sent with
 * Content-Encoding: gzip. Needs envd >= 0.5.7. Errors: as e2b_files_write, plus E2B_ERR_IO
 * (the source failed). */
e2b_code e2b_files_write_stream(e2b_sandbox *sbx, const char *path, e2b_files_source_fn source,
                                void *ud, const e2b_files_opts *opts, e2b_entry_info **out,
                                e2b_error *err);

/* e2b_files_write_stream reading from an open FILE* (from its current position to EOF;
 * not closed). Errors: as e2b_files_write_stream; E2B_ERR_IO when fread fails. */
e2b_code e2b_files_write_from_file(e2b_sandbox *sbx, const char *path, FILE *in,
                                   const e2b_files_opts *opts, e2b_entry_info **out,
                                   e2b_error *err);

/* ---- text convenience ---------------------------------------------------------------- */

/* Writes a NUL-terminated string as the file's whole content (e2b_files_write). */
e2b_code e2b_files_write_text(e2b_sandbox *sbx, const char *path, const char *text, e2b_error *err);

/* Reads a file as text: *text is a malloc'd NUL-terminated string (free()). Content after
 * an embedded NUL is not visible through the C string; use e2b_files_read for bytes. */
e2b_code e2b_files_read_text(e2b_sandbox *sbx, const char *path, char **text, e2b_error *err);

/* The ElizaOS service helpers, done safely (no code execution, no escaping problems):
 * connect to the sandbox by id (POST /v2/sandboxes/{id}/connect, which also resumes a
 * paused sandbox), then write/read the file over envd. A missing file is
 * E2B_ERR_FILE_NOT_FOUND (the plugin returned ""). Errors: those of e2b_sandbox_connect
 * (E2B_ERR_SANDBOX_NOT_FOUND for an unknown id) and of the file call. */
e2b_code e2b_write_file_to_sandbox(e2b_client *client, const char *sandbox_id, const char *path,
                                   const char *content, e2b_error *err);
e2b_code e2b_read_file_from_sandbox(e2b_client *client, const char *sandbox_id, const char *path,
                                    char **content, e2b_error *err);

/* ---- pre-signed URLs ---------------------------------------------------------------- */

/* URLs that let a party without the access token download / upload one file with a plain
 * HTTP GET / POST (multipart part "file" or octet-stream), as the SDK's downloadUrl /
 * uploadUrl: <envd direct URL>/files?username=&path=&signature=v1_...[&signature_expiration=]
 * with signature = "v1_" + base64(sha256("<path>:<read|write>:<user>:<token>[:<exp>]")),
 * padding removed. The envd direct URL is the sandbox_url override, else
 * https://49983-<id>.<domain> (never the shared sandbox.<domain> host, which needs
 * headers). When the sandbox has no envd access token the URL is unsigned (envd is open).
 * user may be NULL. expires_in_s > 0 adds an expiry that many seconds from now (needs a
 * token). On success *url is malloc'd (free()). Errors: E2B_ERR_INVALID_ARGUMENT (NULL
 * arguments, an expiry without a token), E2B_ERR_NO_MEMORY. No network call is made. */
e2b_code e2b_files_download_url(const e2b_sandbox *sbx, const char *path, const char *user,
                                long expires_in_s, char **url, e2b_error *err);
e2b_code e2b_files_upload_url(const e2b_sandbox *sbx, const char *path, const char *user,
                              long expires_in_s, char **url, e2b_error *err);

/* The signature alone (for tests and other clients): writes "v1_<base64 without padding>"
 * into buf (>= 48 bytes). expiration_unix 0 = none. Returns false if buf is too small. */
bool e2b_files_signature(const char *path, const char *operation, const char *user,
                         const char *token, long long expiration_unix, char *buf, size_t len);

/* ---- metadata and directory operations (Connect RPC) ---------------------------------- */

/* ListDir: entries under path down to depth levels (depth >= 1; 1 = direct children).
 * Entries of unknown type are dropped (as the SDK does). On success *out is an array of
 * *len entries (e2b_entry_infos_free; NULL when *len is 0).
 * Errors: E2B_ERR_INVALID_ARGUMENT (depth < 1, path is not a directory). */
e2b_code e2b_files_list(e2b_sandbox *sbx, const char *path, int depth, const e2b_files_opts *opts,
                        e2b_entry_info **out, size_t *len, e2b_error *err);

/* Stat: *out is a new entry (e2b_entry_info_free). Errors: E2B_ERR_PROTOCOL (no entry). */
e2b_code e2b_files_stat(e2b_sandbox *sbx, const char *path, const e2b_files_opts *opts,
                        e2b_entry_info **out, e2b_error *err);

/* Stat: *exists is false when the path does not exist (not an error). */
e2b_code e2b_files_exists(e2b_sandbox *sbx, const char *path, const e2b_files_opts *opts,
                          bool *exists, e2b_error *err);

/* MakeDir (creates parents). *created (may be NULL) is false when the directory already
 * existed (not an error). Errors: E2B_ERR_INVALID_ARGUMENT (a non-directory is there). */
e2b_code e2b_files_make_dir(e2b_sandbox *sbx, const char *path, const e2b_files_opts *opts,
                            bool *created, e2b_error *err);

/* Move: renames/moves from -> to. out (may be NULL) receives the new entry.
 * Errors: E2B_ERR_FILE_NOT_FOUND (source missing). */
e2b_code e2b_files_rename(e2b_sandbox *sbx, const char *from, const char *to,
                          const e2b_files_opts *opts, e2b_entry_info **out, e2b_error *err);

/* Remove: deletes a file or a directory tree. */
e2b_code e2b_files_remove(e2b_sandbox *sbx, const char *path, const e2b_files_opts *opts,
                          e2b_error *err);

/* ---- watching -------------------------------------------------------------------------- */

typedef enum e2b_fs_event_type {
    E2B_FS_EVENT_UNKNOWN = 0,
    E2B_FS_EVENT_CREATE = 1,
    E2B_FS_EVENT_WRITE = 2,
    E2B_FS_EVENT_REMOVE = 3,
    E2B_FS_EVENT_RENAME = 4,
    E2B_FS_EVENT_CHMOD = 5
} e2b_fs_event_type;

/* "create", "write", "remove", "rename", "chmod" or "unknown". Never NULL. */
const char *e2b_fs_event_type_name(e2b_fs_event_type t);

/* One filesystem event, valid only during the callback. */
typedef struct e2b_fs_event {
    const char *name; /* path relative to the watched directory */
    e2b_fs_event_type type;
    const e2b_entry_info *entry; /* with include_entry (envd >= 0.6.3), else NULL */
} e2b_fs_event;

/* Called on the watch's own thread for each event. Return E2B_OK to go on; any other code
 * ends the watch (e2b_watch_wait then returns that code). */
typedef e2b_code (*e2b_watch_fn)(void *ud, const e2b_fs_event *ev);

typedef struct e2b_watch_opts {
    const char *user;
    bool recursive;     /* envd >= 0.1.4 */
    bool include_entry; /* envd >= 0.6.3 */
    long timeout_ms;    /* how long the watch may run: 0 = no limit (unlike the JS
                             default of 60 s), > 0 = Connect-Timeout-Ms; when it passes the
                             watch ends with E2B_ERR_OPERATION_TIMEOUT */
    e2b_watch_fn on_event;
    void *ud;
} e2b_watch_opts;

typedef struct e2b_watch e2b_watch;

/* WatchDir (server stream). Returns once the server confirmed the watch (its mandatory
 * `start` message), so events caused after this returns are seen. Events are delivered to
 * opts->on_event on a thread owned by the watch. On success *out is a handle: stop it with
 * e2b_watch_stop (any thread) and release it with e2b_watch_free.
 * Errors: E2B_ERR_FILE_NOT_FOUND (directory missing), E2B_ERR_INVALID_ARGUMENT (not a
 * directory, no on_event), E2B_ERR_PROTOCOL (first message not `start`), E2B_ERR_IO
 * (thread creation). */
e2b_code e2b_files_watch_dir(e2b_sandbox *sbx, const char *path, const e2b_watch_opts *opts,
                             e2b_watch **out, e2b_error *err);

/* Asks the watch to stop, from any thread (also from inside on_event). Returns at once;
 * no callback runs after e2b_watch_wait/e2b_watch_free returns. Idempotent. */
void e2b_watch_stop(e2b_watch *w);

/* Waits until the watch ended (stopped, failed, timed out, or ended by the server) and
 * returns how: E2B_OK when stopped by e2b_watch_stop or the server closed it cleanly,
 * otherwise the error (with err filled). Call it from one thread at a time (e2b_watch_stop
 * may be called from any thread meanwhile). */
e2b_code e2b_watch_wait(e2b_watch *w, e2b_error *err);

/* Stops, waits and frees. NULL is a no-op. Must not be called from inside on_event. */
void e2b_watch_free(e2b_watch *w);

#ifdef __cplusplus
}
#endif
#endif
