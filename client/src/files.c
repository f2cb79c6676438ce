/* files.c - the sandbox filesystem over envd: /files (download, multipart and octet-stream
 * uploads) and filesystem.Filesystem Connect RPCs. See e2b/files.h for the contracts. */
#include "e2b/files.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/evp.h>

#include "connect.h"
#include "files_internal.h"
#include "json_util.h"
#include "http.h"

#define FS E2B_CONNECT_FILESYSTEM
#define DEFAULT_MAX_READ ((size_t)1 << 30)
#define ZCHUNK (64 * 1024)

/* ==== names ============================================================================ */

const char *e2b_file_type_name(e2b_file_type t)
{
    switch (t) {
    case E2B_FILE_TYPE_FILE: return "file";
    case E2B_FILE_TYPE_DIR: return "dir";
    case E2B_FILE_TYPE_SYMLINK: return "symlink";
    default: return "unknown";
    }
}

const char *e2b_fs_event_type_name(e2b_fs_event_type t)
{
    switch (t) {
    case E2B_FS_EVENT_CREATE: return "create";
    case E2B_FS_EVENT_WRITE: return "write";
    case E2B_FS_EVENT_REMOVE: return "remove";
    case E2B_FS_EVENT_RENAME: return "rename";
    case E2B_FS_EVENT_CHMOD: return "chmod";
    default: return "unknown";
    }
}

static const char *const FILE_TYPE_NAMES[] = {"FILE_TYPE_UNSPECIFIED", "FILE_TYPE_FILE",
                                              "FILE_TYPE_DIRECTORY", "FILE_TYPE_SYMLINK"};
static const char *const EVENT_TYPE_NAMES[] = {"EVENT_TYPE_UNSPECIFIED", "EVENT_TYPE_CREATE",
                                               "EVENT_TYPE_WRITE",       "EVENT_TYPE_REMOVE",
                                               "EVENT_TYPE_RENAME",      "EVENT_TYPE_CHMOD"};

/* ==== EntryInfo ========================================================================= */

void e2b_files_entry_clear(e2b_entry_info *e)
{
    if (!e)
        return;
    free(e->name);
    free(e->path);
    free(e->permissions);
    free(e->owner);
    free(e->group);
    free(e->modified_time);
    free(e->symlink_target);
    for (size_t i = 0; i < e->metadata_len; i++) {
        free((char *)e->metadata[i].key);
        free((char *)e->metadata[i].value);
    }
    free(e->metadata);
    memset(e, 0, sizeof *e);
}

void e2b_entry_info_free(e2b_entry_info *info)
{
    if (!info)
        return;
    e2b_files_entry_clear(info);
    free(info);
}

void e2b_entry_infos_free(e2b_entry_info *infos, size_t n)
{
    if (!infos)
        return;
    for (size_t i = 0; i < n; i++)
        e2b_files_entry_clear(&infos[i]);
    free(infos);
}

static e2b_code get_str(const cJSON *obj, const char *camel, const char *snake, char **out,
                        e2b_error *err)
{
    const cJSON *it = e2b_connect_field(obj, camel, snake);
    if (!it || cJSON_IsNull(it))
        return E2B_OK;
    if (!cJSON_IsString(it))
        return e2b_error_set(err, E2B_ERR_PROTOCOL, 0, "EntryInfo.%s is not a string", camel);
    *out = strdup(it->valuestring);
    if (!*out)
        return e2b_error_set(err, E2B_ERR_NO_MEMORY, 0, "EntryInfo.%s", camel);
    return E2B_OK;
}

e2b_code e2b_files_entry_from_json(const cJSON *obj, e2b_entry_info *out, e2b_error *err)
{
    if (!cJSON_IsObject(obj))
        return e2b_error_set(err, E2B_ERR_PROTOCOL, 0, "EntryInfo is not a JSON object");
    e2b_code rc;
    if ((rc = get_str(obj, "name", NULL, &out->name, err)) ||
        (rc = get_str(obj, "path", NULL, &out->path, err)) ||
        (rc = get_str(obj, "permissions", NULL, &out->permissions, err)) ||
        (rc = get_str(obj, "owner", NULL, &out->owner, err)) ||
        (rc = get_str(obj, "group", NULL, &out->group, err)) ||
        (rc = get_str(obj, "modifiedTime", "modified_time", &out->modified_time, err)) ||
        (rc = get_str(obj, "symlinkTarget", "symlink_target", &out->symlink_target, err)))
        return rc;
    const cJSON *t = e2b_connect_field(obj, "type", NULL);
    if (cJSON_IsString(t) && !strcmp(t->valuestring, "file")) {
        out->type = E2B_FILE_TYPE_FILE; /* /files upload replies use short names */
    } else if (cJSON_IsString(t) &&
               (!strcmp(t->valuestring, "dir") || !strcmp(t->valuestring, "directory"))) {
        out->type = E2B_FILE_TYPE_DIR;
    } else {
        int v = e2b_connect_get_enum(t, FILE_TYPE_NAMES, 4);
        out->type = v >= 0 && v <= 3 ? (e2b_file_type)v : E2B_FILE_TYPE_UNKNOWN;
    }
    if (!e2b_connect_get_int64(e2b_connect_field(obj, "size", NULL), 0, &out->size))
        return e2b_error_set(err, E2B_ERR_PROTOCOL, 0, "EntryInfo.size is not an int64");
    int64_t mode;
    if (!e2b_connect_get_int64(e2b_connect_field(obj, "mode", NULL), 0, &mode) || mode < 0 ||
        mode > UINT32_MAX)
        return e2b_error_set(err, E2B_ERR_PROTOCOL, 0, "EntryInfo.mode is not a uint32");
    out->mode = (uint32_t)mode;
    if (out->modified_time && !e2b_connect_parse_time(out->modified_time, &out->modified_unix))
        out->modified_unix = 0;
    const cJSON *md = e2b_connect_field(obj, "metadata", NULL);
    if (cJSON_IsObject(md)) {
        size_t n = (size_t)cJSON_GetArraySize(md);
        if (n) {
            out->metadata = calloc(n, sizeof *out->metadata);
            if (!out->metadata)
                return e2b_error_set(err, E2B_ERR_NO_MEMORY, 0, "metadata");
            const cJSON *kv;
            cJSON_ArrayForEach(kv, md)
            {
                if (!cJSON_IsString(kv) || !kv->string)
                    continue;
                char *k = strdup(kv->string), *v = strdup(kv->valuestring);
                if (!k || !v) {
                    free(k);
                    free(v);
                    return e2b_error_set(err, E2B_ERR_NO_MEMORY, 0, "metadata");
                }
                out->metadata[out->metadata_len].key = k;
                out->metadata[out->metadata_len].value = v;
                out->metadata_len++;
            }
        }
    } else if (md && !cJSON_IsNull(md)) {
        return e2b_error_set(err, E2B_ERR_PROTOCOL, 0, "EntryInfo.metadata is not an object");
    }
    return E2B_OK;
}

static e2b_code entry_dup_from(const cJSON *obj, e2b_entry_info **out, e2b_error *err)
{
    e2b_entry_info *e = calloc(1, sizeof *e);
    if (!e)
        return e2b_error_set(err, E2B_ERR_NO_MEMORY, 0, "EntryInfo");
    e2b_code rc = e2b_files_entry_from_json(obj, e, err);
    if (rc != E2B_OK) {
        e2b_entry_info_free(e);
        return rc;
    }
    *out = e;
    return E2B_OK;
}

static e2b_code entries_from_array(const cJSON *arr, bool drop_unknown, e2b_entry_info **out,
                                   size_t *out_len, e2b_error *err)
{
    *out = NULL;
    *out_len = 0;
    size_t n = (size_t)cJSON_GetArraySize(arr);
    if (n == 0)
        return E2B_OK;
    e2b_entry_info *v = calloc(n, sizeof *v);
    if (!v)
        return e2b_error_set(err, E2B_ERR_NO_MEMORY, 0, "%zu entries", n);
    size_t k = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, arr)
    {
        e2b_code rc = e2b_files_entry_from_json(it, &v[k], err);
        if (rc != E2B_OK) {
            e2b_entry_infos_free(v, k + 1);
            return rc;
        }
        if (drop_unknown && v[k].type == E2B_FILE_TYPE_UNKNOWN) {
            e2b_files_entry_clear(&v[k]);
            continue;
        }
        k++;
    }
    if (k == 0) {
        free(v);
        v = NULL;
    }
    *out = v;
    *out_len = k;
    return E2B_OK;
}

e2b_code e2b_files_parse_upload_reply(const char *body, size_t len, e2b_entry_info **out,
                                      size_t *out_len, e2b_error *err)
{
    *out = NULL;
    *out_len = 0;
    cJSON *root = cJSON_ParseWithLength(body ? body : "", len);
    if (!root && e2b_json_valid(body, len)) /* cJSON failed on valid JSON: out of memory */
        return e2b_error_set(err, E2B_ERR_NO_MEMORY, 0, "out of memory parsing the upload reply");
    if (!cJSON_IsArray(root) || cJSON_GetArraySize(root) == 0) {
        cJSON_Delete(root);
        return e2b_error_set(err, E2B_ERR_PROTOCOL, 200,
                             "Expected to receive information about written file");
    }
    e2b_code rc = entries_from_array(root, false, out, out_len, err);
    cJSON_Delete(root);
    return rc;
}

/* ==== gzip ============================================================================== */

bool e2b_files_gzip_src_init(e2b_files_gzip_src *g, e2b_files_source_fn source, void *ud)
{
    memset(g, 0, sizeof *g);
    g->source = source;
    g->ud = ud;
    g->in_cap = ZCHUNK;
    g->in = malloc(g->in_cap);
    if (!g->in)
        return false;
    /* windowBits 15 + 16 = gzip wrapper; fastest level: the link is the bottleneck rarely,
     * the CPU often */
    if (deflateInit2(&g->zs, Z_BEST_SPEED, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
        free(g->in);
        g->in = NULL;
        return false;
    }
    g->init = true;
    return true;
}

size_t e2b_files_gzip_src_read(e2b_files_gzip_src *g, char *buf, size_t max)
{
    if (g->failed)
        return E2B_FILES_SOURCE_ERROR;
    if (g->done)
        return 0;
    g->zs.next_out = (Bytef *)buf;
    g->zs.avail_out = (uInt)(max > UINT32_MAX ? UINT32_MAX : max);
    uInt start = g->zs.avail_out;
    while (g->zs.avail_out > 0) {
        if (g->zs.avail_in == 0 && !g->src_eof) {
            size_t n = g->source(g->ud, g->in, g->in_cap);
            if (n == E2B_FILES_SOURCE_ERROR || n > g->in_cap) {
                g->failed = true;
                return E2B_FILES_SOURCE_ERROR;
            }
            if (n == 0)
                g->src_eof = true;
            g->zs.next_in = (Bytef *)g->in;
            g->zs.avail_in = (uInt)n;
        }
        int r = deflate(&g->zs, g->src_eof ? Z_FINISH : Z_NO_FLUSH);
        if (r == Z_STREAM_END) {
            g->done = true;
            break;
        }
        if (r != Z_OK && r != Z_BUF_ERROR) {
            g->failed = true;
            return E2B_FILES_SOURCE_ERROR;
        }
    }
    return (size_t)(start - g->zs.avail_out);
}

void e2b_files_gzip_src_free(e2b_files_gzip_src *g)
{
    if (g->init)
        deflateEnd(&g->zs);
    free(g->in);
    memset(g, 0, sizeof *g);
}

bool e2b_files_gunzip_init(e2b_files_gunzip *g, e2b_files_sink_fn sink, void *ud)
{
    memset(g, 0, sizeof *g);
    g->sink = sink;
    g->ud = ud;
    if (inflateInit2(&g->zs, 15 + 16) != Z_OK)
        return false;
    g->init = true;
    return true;
}

e2b_code e2b_files_gunzip_feed(e2b_files_gunzip *g, const char *data, size_t n, e2b_error *err)
{
    if (g->failed)
        return e2b_error_set(err, E2B_ERR_PROTOCOL, 0, "gzip stream already failed");
    char out[ZCHUNK];
    g->zs.next_in = (Bytef *)data;
    g->zs.avail_in = (uInt)n;
    while (g->zs.avail_in > 0) {
        g->in_member = true;
        g->zs.next_out = (Bytef *)out;
        g->zs.avail_out = sizeof out;
        int r = inflate(&g->zs, Z_NO_FLUSH);
        size_t produced = sizeof out - g->zs.avail_out;
        if (produced) {
            e2b_code rc = g->sink(g->ud, out, produced, err);
            if (rc != E2B_OK) {
                g->failed = true;
                return rc;
            }
        }
        if (r == Z_STREAM_END) {
            g->in_member = false;
            inflateReset(&g->zs); /* a following gzip member, if any */
            continue;
        }
        if (r == Z_MEM_ERROR) {
            g->failed = true;
            return e2b_error_set(err, E2B_ERR_NO_MEMORY, 0, "gzip inflate");
        }
        if (r != Z_OK && !(r == Z_BUF_ERROR && produced)) {
            g->failed = true;
            return e2b_error_set(err, E2B_ERR_PROTOCOL, 0, "corrupt gzip data: %s",
                                 g->zs.msg ? g->zs.msg : "inflate failed");
        }
    }
    return E2B_OK;
}

e2b_code e2b_files_gunzip_finish(e2b_files_gunzip *g, e2b_error *err)
{
    if (g->failed)
        return e2b_error_set(err, E2B_ERR_PROTOCOL, 0, "gzip stream already failed");
    if (g->in_member)
        return e2b_error_set(err, E2B_ERR_PROTOCOL, 0, "truncated gzip data");
    return E2B_OK;
}

void e2b_files_gunzip_free(e2b_files_gunzip *g)
{
    if (g->init)
        inflateEnd(&g->zs);
    memset(g, 0, sizeof *g);
}

/* ==== common ============================================================================ */

static const e2b_files_opts NO_OPTS = {0};

static long req_timeout(const e2b_files_opts *o)
{
    if (o->timeout_ms == E2B_FILES_NO_TIMEOUT)
        return E2B_HTTP_NO_TIMEOUT;
    return o->timeout_ms > 0 ? o->timeout_ms : 0;
}

static e2b_code check_path(const char *path, const char *what, e2b_error *err)
{
    if (!path || !*path)
        return e2b_error_set(err, E2B_ERR_INVALID_ARGUMENT, 0, "%s: a path is required", what);
    return E2B_OK;
}

/* Maps a non-2xx /files reply: the transport's envd table, with 404 = file not found. */
static e2b_code files_http_error(const e2b_http_response *resp, e2b_error *err)
{
    e2b_code rc = e2b_http_check(resp, E2B_PLANE_ENVD, err);
    if (resp->status == 404) {
        rc = E2B_ERR_FILE_NOT_FOUND;
        if (err)
            err->code = rc;
    }
    if (rc == E2B_OK) /* 1xx/3xx: not a success for us */
        rc = e2b_error_set(err, E2B_ERR_SERVER, (int)resp->status, "unexpected HTTP %ld",
                           resp->status);
    return rc;
}

/* ==== reading =========================================================================== */

typedef struct read_ctx {
    e2b_files_sink_fn sink;
    void *ud;
    bool want_gzip;
    bool inflating;
    e2b_files_gunzip gz;
    /* memory sink */
    char *buf;
    size_t len, cap, max;
} read_ctx;

static e2b_code read_on_headers(const e2b_http_response *resp, void *ud, e2b_error *err)
{
    read_ctx *r = ud;
    if (resp->status < 200 || resp->status > 299)
        return E2B_OK;
    const char *ce = e2b_http_response_header(resp, "Content-Encoding");
    if (r->want_gzip && ce && e2b_connect_content_type_is(ce, "gzip")) {
        if (!e2b_files_gunzip_init(&r->gz, r->sink, r->ud))
            return e2b_error_set(err, E2B_ERR_NO_MEMORY, 0, "gzip inflate state");
        r->inflating = true;
    } else if (ce && *ce && !e2b_connect_content_type_is(ce, "identity")) {
        return e2b_error_set(err, E2B_ERR_PROTOCOL, (int)resp->status,
                             "unexpected Content-Encoding '%s'", ce);
    }
    return E2B_OK;
}

static e2b_code read_on_data(const char *p, size_t n, void *ud, e2b_error *err)
{
    read_ctx *r = ud;
    if (r->inflating)
        return e2b_files_gunzip_feed(&r->gz, p, n, err);
    return r->sink(r->ud, p, n, err);
}

static e2b_code do_read(e2b_sandbox *sbx, const char *path, const e2b_files_opts *o, read_ctx *r,
                        e2b_error *err)
{
    e2b_code rc = check_path(path, "read", err);
    if (rc != E2B_OK)
        return rc;
    e2b_envd env;
    if ((rc = e2b_connect_envd_init(&env, sbx, o->user, err)) != E2B_OK)
        return rc;
    const char *q[] = {"path", path, "username", o->user, NULL};
    char *url = NULL;
    if ((rc = e2b_http_url(&url, env.base, "/files", q, err)) != E2B_OK)
        return rc;
    const char *hdrs[8];
    size_t n = 0;
    if (o->gzip)
        hdrs[n++] = "Accept-Encoding: gzip";
    e2b_connect_envd_headers(&env, hdrs, &n);
    r->want_gzip = o->gzip;
    e2b_http_request hr = {0};
    hr.method = "GET";
    hr.url = url;
    hr.headers = hdrs;
    hr.timeout_ms = req_timeout(o);
    hr.on_headers = read_on_headers;
    hr.on_data = read_on_data;
    hr.ud = r;
    e2b_http_response resp = {0};
    rc = e2b_http_perform(env.client, &hr, &resp, err);
    free(url);
    if (rc == E2B_OK) {
        if (resp.status < 200 || resp.status > 299)
            rc = files_http_error(&resp, err);
        else if (r->inflating)
            rc = e2b_files_gunzip_finish(&r->gz, err);
    } else if (rc == E2B_ERR_NETWORK) {
        rc = e2b_connect_probe_gone(&env, rc, err); /* dropped: sandbox gone, or network? */
    }
    if (r->inflating)
        e2b_files_gunzip_free(&r->gz);
    e2b_http_response_free(&resp);
    return rc;
}

static e2b_code mem_sink(void *ud, const char *data, size_t n, e2b_error *err)
{
    read_ctx *r = ud;
    if (n > r->max - r->len)
        return e2b_error_set(err, E2B_ERR_PROTOCOL, 0,
                             "file is larger than the read limit of %zu bytes", r->max);
    if (r->len + n + 1 > r->cap) {
        size_t cap = r->cap ? r->cap : 64 * 1024;
        while (cap < r->len + n + 1)
            cap *= 2;
        char *nb = realloc(r->buf, cap);
        if (!nb)
            return e2b_error_set(err, E2B_ERR_NO_MEMORY, 0, "read buffer of %zu bytes", cap);
        r->buf = nb;
        r->cap = cap;
    }
    memcpy(r->buf + r->len, data, n);
    r->len += n;
    return E2B_OK;
}

e2b_code e2b_files_read(e2b_sandbox *sbx, const char *path, const e2b_files_opts *opts, char **data,
                        size_t *len, e2b_error *err)
{
    if (!opts)
        opts = &NO_OPTS;
    if (data)
        *data = NULL;
    if (len)
        *len = 0;
    if (!data)
        return e2b_error_set(err, E2B_ERR_INVALID_ARGUMENT, 0, "read: data is NULL");
    read_ctx r = {0};
    r.sink = mem_sink;
    r.ud = &r;
    r.max = opts->max_size ? opts->max_size : DEFAULT_MAX_READ;
    e2b_code rc = do_read(sbx, path, opts, &r, err);
    if (rc != E2B_OK) {
        free(r.buf);
        return rc;
    }
    if (!r.buf) {
        r.buf = malloc(1);
        if (!r.buf)
            return e2b_error_set(err, E2B_ERR_NO_MEMORY, 0, "read buffer");
    }
    r.buf[r.len] = '\0';
    *data = r.buf;
    if (len)
        *len = r.len;
    return E2B_OK;
}

e2b_code e2b_files_read_to(e2b_sandbox *sbx, const char *path, const e2b_files_opts *opts,
                           e2b_files_sink_fn sink, void *ud, e2b_error *err)
{
    if (!opts)
        opts = &NO_OPTS;
    if (!sink)
        return e2b_error_set(err, E2B_ERR_INVALID_ARGUMENT, 0, "read: sink is NULL");
    read_ctx r = {0};
    r.sink = sink;
    r.ud = ud;
    return do_read(sbx, path, opts, &r, err);
}

static e2b_code file_sink(void *ud, const char *data, size_t n, e2b_error *err)
{
    if (fwrite(data, 1, n, (FILE *)ud) != n)
        return e2b_error_set(err, E2B_ERR_IO, 0, "writing the downloaded file failed");
    return E2B_OK;
}

e2b_code e2b_files_read_to_file(e2b_sandbox *sbx, const char *path, const e2b_files_opts *opts,
                                FILE *out, e2b_error *err)
{
    if (!out)
        return e2b_error_set(err, E2B_ERR_INVALID_ARGUMENT, 0, "read: FILE is NULL");
    return e2b_files_read_to(sbx, path, opts, file_sink, out, err);
}

/* ==== writing =========================================================================== */

typedef struct part_cursor {
    const char *data;
    size_t len, pos;
} part_cursor;

static size_t part_read(char *buf, size_t size, size_t nitems, void *arg)
{
    part_cursor *c = arg;
    size_t n = size * nitems, left = c->len - c->pos;
    if (n > left)
        n = left;
    if (n)
        memcpy(buf, c->data + c->pos, n);
    c->pos += n;
    return n;
}

static int part_seek(void *arg, curl_off_t offset, int origin)
{
    part_cursor *c = arg;
    if (origin != SEEK_SET || offset < 0 || (size_t)offset > c->len)
        return CURL_SEEKFUNC_FAIL;
    c->pos = (size_t)offset;
    return CURL_SEEKFUNC_OK;
}

typedef struct mime_ctx {
    const e2b_write_entry *files;
    size_t n;
    part_cursor *cur;
} mime_ctx;

static e2b_code build_mime(curl_mime *mime, void *ud, e2b_error *err)
{
    mime_ctx *m = ud;
    for (size_t i = 0; i < m->n; i++) {
        m->cur[i].data = m->files[i].data;
        m->cur[i].len = m->files[i].len;
        m->cur[i].pos = 0;
        curl_mimepart *part = curl_mime_addpart(mime);
        if (!part || curl_mime_name(part, "file") != CURLE_OK ||
            curl_mime_filename(part, m->files[i].path) != CURLE_OK ||
            curl_mime_type(part, "application/octet-stream") != CURLE_OK ||
            curl_mime_data_cb(part, (curl_off_t)m->files[i].len, part_read, part_seek, NULL,
                              &m->cur[i]) != CURLE_OK)
            return e2b_error_set(err, E2B_ERR_NO_MEMORY, 0, "multipart part %zu", i);
    }
    return E2B_OK;
}

typedef struct stream_src {
    e2b_files_source_fn source;
    void *ud;
    e2b_files_gzip_src gz;
    bool gzip;
} stream_src;

static size_t stream_read(char *buf, size_t max, void *ud, e2b_error *err)
{
    stream_src *s = ud;
    size_t n = s->gzip ? e2b_files_gzip_src_read(&s->gz, buf, max) : s->source(s->ud, buf, max);
    if (n == E2B_FILES_SOURCE_ERROR || n > max) {
        e2b_error_set(err, E2B_ERR_IO, 0, "the upload source failed");
        return CURL_READFUNC_ABORT;
    }
    return n;
}

static bool tchar(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* Validates opts->metadata and builds the X-Metadata-* header lines (*out: malloc'd array
 * of malloc'd strings, free with free_lines). */
static e2b_code metadata_headers(const e2b_files_opts *o, char ***out, e2b_error *err)
{
    *out = NULL;
    if (!o->metadata || !o->metadata_len)
        return E2B_OK;
    size_t total = 0;
    for (size_t i = 0; i < o->metadata_len; i++) {
        const char *k = o->metadata[i].key, *v = o->metadata[i].value;
        if (!k || !v)
            return e2b_error_set(err, E2B_ERR_INVALID_ARGUMENT, 0,
                                 "metadata %zu: NULL key or value", i);
        size_t kl = strlen(k);
        if (kl == 0 || kl > 246)
            return e2b_error_set(err, E2B_ERR_INVALID_ARGUMENT, 0,
                                 "metadata key '%.64s': 1 to 246 characters", k);
        for (size_t j = 0; j < kl; j++)
            if (!tchar((unsigned char)k[j]))
                return e2b_error_set(err, E2B_ERR_INVALID_ARGUMENT, 0,
                                     "metadata key '%.64s': only HTTP token characters", k);
        for (const unsigned char *p = (const unsigned char *)v; *p; p++)
            if (*p < 0x20 || *p > 0x7e)
                return e2b_error_set(err, E2B_ERR_INVALID_ARGUMENT, 0,
                                     "metadata value of '%.64s': printable ASCII only", k);
        total += kl + strlen(v);
    }
    if (total > 4096)
        return e2b_error_set(err, E2B_ERR_INVALID_ARGUMENT, 0,
                             "metadata too large: %zu bytes, at most 4096", total);
    char **lines = calloc(o->metadata_len + 1, sizeof *lines);
    if (!lines)
        return e2b_error_set(err, E2B_ERR_NO_MEMORY, 0, "metadata headers");
    for (size_t i = 0; i < o->metadata_len; i++) {
        if (asprintf(&lines[i], "X-Metadata-%s: %s", o->metadata[i].key, o->metadata[i].value) <
            0) {
            lines[i] = NULL;
            for (size_t j = 0; j < i; j++)
                free(lines[j]);
            free(lines);
            return e2b_error_set(err, E2B_ERR_NO_MEMORY, 0, "metadata headers");
        }
    }
    *out = lines;
    return E2B_OK;
}

static void free_lines(char **lines)
{
    if (!lines)
        return;
    for (char **p = lines; *p; p++)
        free(*p);
    free(lines);
}

/* POST /files with either a multipart body (m) or a streamed octet-stream body (s). */
static e2b_code do_upload(e2b_sandbox *sbx, const char *path, const e2b_files_opts *o, mime_ctx *m,
                          stream_src *s, e2b_entry_info **out, size_t *out_len, e2b_error *err)
{
    *out = NULL;
    *out_len = 0;
    e2b_envd env;
    e2b_code rc = e2b_connect_envd_init(&env, sbx, o->user, err);
    if (rc != E2B_OK)
        return rc;
    char **meta = NULL;
    if ((rc = metadata_headers(o, &meta, err)) != E2B_OK)
        return rc;
    const char *q[] = {"path", path, "username", o->user, NULL};
    char *url = NULL;
    if ((rc = e2b_http_url(&url, env.base, "/files", q, err)) != E2B_OK) {
        free_lines(meta);
        return rc;
    }
    const char **hdrs = calloc(8 + o->metadata_len, sizeof *hdrs);
    if (!hdrs) {
        free(url);
        free_lines(meta);
        return e2b_error_set(err, E2B_ERR_NO_MEMORY, 0, "upload headers");
    }
    size_t n = 0;
    if (s) {
        hdrs[n++] = "Content-Type: application/octet-stream";
        if (s->gzip)
            hdrs[n++] = "Content-Encoding: gzip";
    }
    for (char **p = meta; p && *p; p++)
        hdrs[n++] = *p;
    e2b_connect_envd_headers(&env, hdrs, &n);
    e2b_http_request hr = {0};
    hr.method = "POST";
    hr.url = url;
    hr.headers = hdrs;
    hr.timeout_ms = req_timeout(o);
    hr.max_body = 16u * 1024 * 1024;
    if (m) {
        hr.mime_fn = build_mime;
        hr.ud = m;
    } else {
        hr.read_fn = stream_read;
        hr.read_len = -1;
        hr.ud = s;
    }
    e2b_http_response resp = {0};
    rc = e2b_http_perform(env.client, &hr, &resp, err);
    free(url);
    free(hdrs);
    free_lines(meta);
    if (rc == E2B_ERR_NETWORK)
        rc = e2b_connect_probe_gone(&env, rc, err);
    if (rc == E2B_OK) {
        if (resp.status < 200 || resp.status > 299)
            rc = files_http_error(&resp, err);
        else
            rc = e2b_files_parse_upload_reply(resp.body, resp.body_len, out, out_len, err);
    }
    e2b_http_response_free(&resp);
    return rc;
}

static e2b_code write_parts(e2b_sandbox *sbx, const char *query_path, const e2b_write_entry *files,
                            size_t n, const e2b_files_opts *o, e2b_entry_info **out,
                            size_t *out_len, e2b_error *err)
{
    part_cursor one;
    part_cursor *cur = n == 1 ? &one : calloc(n, sizeof *cur);
    if (!cur)
        return e2b_error_set(err, E2B_ERR_NO_MEMORY, 0, "write cursors");
    mime_ctx m = {.files = files, .n = n, .cur = cur};
    e2b_code rc = do_upload(sbx, query_path, o, &m, NULL, out, out_len, err);
    if (cur != &one)
        free(cur);
    return rc;
}

e2b_code e2b_files_write(e2b_sandbox *sbx, const char *path, const void *data, size_t len,
                         const e2b_files_opts *opts, e2b_entry_info **out, e2b_error *err)
{
    if (!opts)
        opts = &NO_OPTS;
    if (out)
        *out = NULL;
    e2b_code rc = check_path(path, "write", err);
    if (rc != E2B_OK)
        return rc;
    if (!data && len)
        return e2b_error_set(err, E2B_ERR_INVALID_ARGUMENT, 0, "write: data is NULL");
    e2b_write_entry f = {.path = path, .data = data ? data : "", .len = len};
    e2b_entry_info *infos;
    size_t n;
    rc = write_parts(sbx, path, &f, 1, opts, &infos, &n, err);
    if (rc != E2B_OK)
        return rc;
    if (out) {
        /* hand over element 0 (the single-path form returns results[0], as the SDK) */
        e2b_entry_info *one = malloc(sizeof *one);
        if (!one) {
            e2b_entry_infos_free(infos, n);
            return e2b_error_set(err, E2B_ERR_NO_MEMORY, 0, "write result");
        }
        *one = infos[0];
        memset(&infos[0], 0, sizeof infos[0]);
        *out = one;
    }
    e2b_entry_infos_free(infos, n);
    return E2B_OK;
}

e2b_code e2b_files_write_many(e2b_sandbox *sbx, const e2b_write_entry *files, size_t n,
                              const e2b_files_opts *opts, e2b_entry_info **out, size_t *out_len,
                              e2b_error *err)
{
    if (!opts)
        opts = &NO_OPTS;
    if (out)
        *out = NULL;
    if (out_len)
        *out_len = 0;
    if (!files || n == 0)
        return e2b_error_set(err, E2B_ERR_INVALID_ARGUMENT, 0, "write_many: no files");
    for (size_t i = 0; i < n; i++) {
        e2b_code rc = check_path(files[i].path, "write_many", err);
        if (rc != E2B_OK)
            return rc;
        if (!files[i].data && files[i].len)
            return e2b_error_set(err, E2B_ERR_INVALID_ARGUMENT, 0, "write_many: data of %s is NULL",
                                 files[i].path);
        for (size_t j = 0; j < i; j++)
            if (!strcmp(files[i].path, files[j].path))
                return e2b_error_set(err, E2B_ERR_INVALID_ARGUMENT, 0,
                                     "write_many: %s is given twice", files[i].path);
    }
    e2b_entry_info *infos;
    size_t k;
    e2b_code rc = write_parts(sbx, NULL, files, n, opts, &infos, &k, err);
    if (rc != E2B_OK)
        return rc;
    if (out) {
        *out = infos;
        if (out_len)
            *out_len = k;
    } else {
        e2b_entry_infos_free(infos, k);
    }
    return E2B_OK;
}

e2b_code e2b_files_write_stream(e2b_sandbox *sbx, const char *path, e2b_files_source_fn source,
                                void *ud, const e2b_files_opts *opts, e2b_entry_info **out,
                                e2b_error *err)
{
    if (!opts)
        opts = &NO_OPTS;
    if (out)
        *out = NULL;
    e2b_code rc = check_path(path, "write_stream", err);
    if (rc != E2B_OK)
        return rc;
    if (!source)
        return e2b_error_set(err, E2B_ERR_INVALID_ARGUMENT, 0, "write_stream: no source");
    stream_src s = {.source = source, .ud = ud, .gzip = opts->gzip};
    if (s.gzip && !e2b_files_gzip_src_init(&s.gz, source, ud))
        return e2b_error_set(err, E2B_ERR_NO_MEMORY, 0, "gzip deflate state");
    e2b_entry_info *infos = NULL;
    size_t n = 0;
    rc = do_upload(sbx, path, opts, NULL, &s, &infos, &n, err);
    if (s.gzip)
        e2b_files_gzip_src_free(&s.gz);
    if (rc == E2B_OK && out) {
        e2b_entry_info *one = malloc(sizeof *one);
        if (!one) {
            rc = e2b_error_set(err, E2B_ERR_NO_MEMORY, 0, "write result");
        } else {
            *one = infos[0];
            memset(&infos[0], 0, sizeof infos[0]);
            *out = one;
        }
    }
    e2b_entry_infos_free(infos, n);
    return rc;
}

static size_t file_source(void *ud, char *buf, size_t max)
{
    FILE *f = ud;
    size_t n = fread(buf, 1, max, f);
    if (n == 0 && ferror(f))
        return E2B_FILES_SOURCE_ERROR;
    return n;
}

e2b_code e2b_files_write_from_file(e2b_sandbox *sbx, const char *path, FILE *in,
                                   const e2b_files_opts *opts, e2b_entry_info **out, e2b_error *err)
{
    if (!in)
        return e2b_error_set(err, E2B_ERR_INVALID_ARGUMENT, 0, "write: FILE is NULL");
    return e2b_files_write_stream(sbx, path, file_source, in, opts, out, err);
}

/* ==== text convenience =================================================================== */

e2b_code e2b_files_write_text(e2b_sandbox *sbx, const char *path, const char *text, e2b_error *err)
{
    if (!text)
        return e2b_error_set(err, E2B_ERR_INVALID_ARGUMENT, 0, "write_text: text is NULL");
    return e2b_files_write(sbx, path, text, strlen(text), NULL, NULL, err);
}

e2b_code e2b_files_read_text(e2b_sandbox *sbx, const char *path, char **text, e2b_error *err)
{
    return e2b_files_read(sbx, path, NULL, text, NULL, err);
}

e2b_code e2b_write_file_to_sandbox(e2b_client *client, const char *sandbox_id, const char *path,
                                   const char *content, e2b_error *err)
{
    e2b_sandbox *sbx = NULL;
    e2b_code rc = e2b_sandbox_connect(client, sandbox_id, 0, &sbx, NULL, err);
    if (rc != E2B_OK)
        return rc;
    rc = e2b_files_write_text(sbx, path, content, err);
    e2b_sandbox_free(sbx);
    return rc;
}

e2b_code e2b_read_file_from_sandbox(e2b_client *client, const char *sandbox_id, const char *path,
                                    char **content, e2b_error *err)
{
    if (content)
        *content = NULL;
    e2b_sandbox *sbx = NULL;
    e2b_code rc = e2b_sandbox_connect(client, sandbox_id, 0, &sbx, NULL, err);
    if (rc != E2B_OK)
        return rc;
    rc = e2b_files_read_text(sbx, path, content, err);
    e2b_sandbox_free(sbx);
    return rc;
}

/* ==== pre-signed URLs ===================================================================== */

bool e2b_files_signature(const char *path, const char *operation, const char *user,
                         const char *token, long long expiration_unix, char *buf, size_t len)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    bool ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
    const char *parts[4] = {path ? path : "", operation ? operation : "", user ? user : "",
                            token ? token : ""};
    for (int i = 0; ok && i < 4; i++) {
        ok = (i == 0 || EVP_DigestUpdate(ctx, ":", 1)) &&
             EVP_DigestUpdate(ctx, parts[i], strlen(parts[i]));
    }
    if (ok && expiration_unix > 0) {
        char exp[32];
        int n = snprintf(exp, sizeof exp, ":%lld", expiration_unix);
        ok = EVP_DigestUpdate(ctx, exp, (size_t)n);
    }
    ok = ok && EVP_DigestFinal_ex(ctx, md, &mdlen);
    EVP_MD_CTX_free(ctx);
    if (!ok)
        return false;
    char b64[64];
    int n = EVP_EncodeBlock((unsigned char *)b64, md, (int)mdlen);
    while (n > 0 && b64[n - 1] == '=')
        n--;
    if ((size_t)n + 4 > len)
        return false;
    memcpy(buf, "v1_", 3);
    memcpy(buf + 3, b64, (size_t)n);
    buf[3 + n] = '\0';
    return true;
}

static e2b_code presigned_url(const e2b_sandbox *sbx, const char *path, const char *user,
                              long expires_in_s, const char *op, char **url, e2b_error *err)
{
    if (url)
        *url = NULL;
    if (!sbx || !path || !url)
        return e2b_error_set(err, E2B_ERR_INVALID_ARGUMENT, 0,
                             "%s url: sandbox, path and url are required", op);
    const char *id = e2b_sandbox_id(sbx);
    const char *token = e2b_sandbox_envd_access_token(sbx);
    if (token && !*token)
        token = NULL;
    if (expires_in_s > 0 && !token)
        return e2b_error_set(err, E2B_ERR_INVALID_ARGUMENT, 0,
                             "signature expiration needs a sandbox with an envd access token");
    char base[1024];
    e2b_code rc = e2b_client_sandbox_url(e2b_sandbox_client(sbx), id, e2b_sandbox_domain(sbx),
                                         E2B_ENVD_PORT, base, sizeof base, err);
    if (rc != E2B_OK)
        return rc;
    static const char shared[] = "https://sandbox.";
    if (!strncmp(base, shared, sizeof shared - 1)) { /* the direct per-sandbox host instead */
        char direct[1024];
        int n = snprintf(direct, sizeof direct, "https://%d-%s.%s", E2B_ENVD_PORT, id,
                         base + sizeof shared - 1);
        if (n < 0 || (size_t)n >= sizeof direct)
            return e2b_error_set(err, E2B_ERR_INVALID_ARGUMENT, 0, "sandbox URL too long");
        memcpy(base, direct, (size_t)n + 1);
    }
    char sig[64] = "", exp[32] = "";
    if (token) {
        long long expiration = 0;
        if (expires_in_s > 0) {
            expiration = (long long)time(NULL) + expires_in_s;
            snprintf(exp, sizeof exp, "%lld", expiration);
        }
        if (!e2b_files_signature(path, op, user, token, expiration, sig, sizeof sig))
            return e2b_error_set(err, E2B_ERR_NO_MEMORY, 0, "signature");
    }
    const char *q[] = {"username",
                       user && *user ? user : NULL,
                       "path",
                       *path ? path : NULL,
                       "signature",
                       sig[0] ? sig : NULL,
                       "signature_expiration",
                       exp[0] ? exp : NULL,
                       NULL};
    return e2b_http_url(url, base, "/files", q, err);
}

e2b_code e2b_files_download_url(const e2b_sandbox *sbx, const char *path, const char *user,
                                long expires_in_s, char **url, e2b_error *err)
{
    return presigned_url(sbx, path, user, expires_in_s, "read", url, err);
}

e2b_code e2b_files_upload_url(const e2b_sandbox *sbx, const char *path, const char *user,
                              long expires_in_s, char **url, e2b_error *err)
{
    return presigned_url(sbx, path, user, expires_in_s, "write", url, err);
}

/* ==== RPCs ================================================================================ */

static e2b_code fs_call(e2b_sandbox *sbx, const e2b_files_opts *o, const char *method, cJSON *req,
                        cJSON **reply, e2b_error *err)
{
    e2b_envd env;
    e2b_code rc = e2b_connect_envd_init(&env, sbx, o->user, err);
    if (rc == E2B_OK) {
        if (!req)
            rc = e2b_error_set(err, E2B_ERR_NO_MEMORY, 0, "%s request", method);
        else
            rc = e2b_connect_unary(&env, method, FS, req, req_timeout(o), reply, err);
    }
    cJSON_Delete(req);
    return rc;
}

static cJSON *path_req(const char *path)
{
    cJSON *o = cJSON_CreateObject();
    if (o && !cJSON_AddStringToObject(o, "path", path)) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static e2b_code entry_reply(cJSON *reply, const char *method, e2b_entry_info **out, e2b_error *err)
{
    const cJSON *entry = cJSON_GetObjectItemCaseSensitive(reply, "entry");
    if (!cJSON_IsObject(entry))
        return e2b_error_set(err, E2B_ERR_PROTOCOL, 200, "%s reply has no entry", method);
    return entry_dup_from(entry, out, err);
}

e2b_code e2b_files_list(e2b_sandbox *sbx, const char *path, int depth, const e2b_files_opts *opts,
                        e2b_entry_info **out, size_t *len, e2b_error *err)
{
    if (!opts)
        opts = &NO_OPTS;
    if (out)
        *out = NULL;
    if (len)
        *len = 0;
    e2b_code rc = check_path(path, "list", err);
    if (rc != E2B_OK)
        return rc;
    if (!out || !len)
        return e2b_error_set(err, E2B_ERR_INVALID_ARGUMENT, 0, "list: out is NULL");
    if (depth < 1)
        return e2b_error_set(err, E2B_ERR_INVALID_ARGUMENT, 0, "depth should be at least one");
    cJSON *req = path_req(path);
    if (req && !cJSON_AddNumberToObject(req, "depth", depth)) {
        cJSON_Delete(req);
        req = NULL;
    }
    cJSON *reply = NULL;
    rc = fs_call(sbx, opts, "/filesystem.Filesystem/ListDir", req, &reply, err);
    if (rc != E2B_OK)
        return rc;
    const cJSON *entries = cJSON_GetObjectItemCaseSensitive(reply, "entries");
    if (entries && !cJSON_IsNull(entries) && !cJSON_IsArray(entries))
        rc = e2b_error_set(err, E2B_ERR_PROTOCOL, 200, "ListDir entries is not an array");
    else if (entries && cJSON_IsArray(entries))
        rc = entries_from_array(entries, true, out, len, err);
    cJSON_Delete(reply);
    return rc;
}

e2b_code e2b_files_stat(e2b_sandbox *sbx, const char *path, const e2b_files_opts *opts,
                        e2b_entry_info **out, e2b_error *err)
{
    if (!opts)
        opts = &NO_OPTS;
    if (out)
        *out = NULL;
    e2b_code rc = check_path(path, "stat", err);
    if (rc != E2B_OK)
        return rc;
    if (!out)
        return e2b_error_set(err, E2B_ERR_INVALID_ARGUMENT, 0, "stat: out is NULL");
    cJSON *reply = NULL;
    rc = fs_call(sbx, opts, "/filesystem.Filesystem/Stat", path_req(path), &reply, err);
    if (rc != E2B_OK)
        return rc;
    rc = entry_reply(reply, "Stat", out, err);
    cJSON_Delete(reply);
    return rc;
}

e2b_code e2b_files_exists(e2b_sandbox *sbx, const char *path, const e2b_files_opts *opts,
                          bool *exists, e2b_error *err)
{
    if (!opts)
        opts = &NO_OPTS;
    if (exists)
        *exists = false;
    e2b_code rc = check_path(path, "exists", err);
    if (rc != E2B_OK)
        return rc;
    e2b_error local;
    rc = fs_call(sbx, opts, "/filesystem.Filesystem/Stat", path_req(path), NULL, &local);
    if (rc == E2B_ERR_FILE_NOT_FOUND)
        return E2B_OK;
    if (rc != E2B_OK) {
        if (err)
            *err = local;
        return rc;
    }
    if (exists)
        *exists = true;
    return E2B_OK;
}

e2b_code e2b_files_make_dir(e2b_sandbox *sbx, const char *path, const e2b_files_opts *opts,
                            bool *created, e2b_error *err)
{
    if (!opts)
        opts = &NO_OPTS;
    if (created)
        *created = false;
    e2b_code rc = check_path(path, "make_dir", err);
    if (rc != E2B_OK)
        return rc;
    e2b_error local;
    rc = fs_call(sbx, opts, "/filesystem.Filesystem/MakeDir", path_req(path), NULL, &local);
    if (rc == E2B_ERR_CONFLICT)
        return E2B_OK; /* already_exists: false, not an error */
    if (rc != E2B_OK) {
        if (err)
            *err = local;
        return rc;
    }
    if (created)
        *created = true;
    return E2B_OK;
}

e2b_code e2b_files_rename(e2b_sandbox *sbx, const char *from, const char *to,
                          const e2b_files_opts *opts, e2b_entry_info **out, e2b_error *err)
{
    if (!opts)
        opts = &NO_OPTS;
    if (out)
        *out = NULL;
    e2b_code rc = check_path(from, "rename", err);
    if (rc == E2B_OK)
        rc = check_path(to, "rename", err);
    if (rc != E2B_OK)
        return rc;
    cJSON *req = cJSON_CreateObject();
    if (req && (!cJSON_AddStringToObject(req, "source", from) ||
                !cJSON_AddStringToObject(req, "destination", to))) {
        cJSON_Delete(req);
        req = NULL;
    }
    cJSON *reply = NULL;
    rc = fs_call(sbx, opts, "/filesystem.Filesystem/Move", req, &reply, err);
    if (rc != E2B_OK)
        return rc;
    if (out)
        rc = entry_reply(reply, "Move", out, err);
    cJSON_Delete(reply);
    return rc;
}

e2b_code e2b_files_remove(e2b_sandbox *sbx, const char *path, const e2b_files_opts *opts,
                          e2b_error *err)
{
    if (!opts)
        opts = &NO_OPTS;
    e2b_code rc = check_path(path, "remove", err);
    if (rc != E2B_OK)
        return rc;
    return fs_call(sbx, opts, "/filesystem.Filesystem/Remove", path_req(path), NULL, err);
}

/* ==== watching ============================================================================ */

struct e2b_watch {
    e2b_envd env;
    cJSON *req;
    long timeout_ms;
    e2b_watch_fn fn;
    void *ud;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    atomic_int cancel;
    atomic_bool stop_requested;
    bool started; /* the start message arrived */
    bool ended;   /* the thread finished */
    bool joined;
    e2b_code result;
    e2b_error err;
};

static e2b_code watch_msg(void *ud, const char *json, size_t len, e2b_error *err)
{
    e2b_watch *w = ud;
    cJSON *m = cJSON_ParseWithLength(json, len);
    if (!m && e2b_json_valid(json, len)) /* cJSON failed on valid JSON: out of memory */
        return e2b_error_set(err, E2B_ERR_NO_MEMORY, 0, "out of memory parsing a WatchDir message");
    if (!cJSON_IsObject(m)) {
        cJSON_Delete(m);
        return e2b_error_set(err, E2B_ERR_PROTOCOL, 0, "WatchDir message is not a JSON object");
    }
    e2b_code rc = E2B_OK;
    if (!w->started) {
        if (!cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(m, "start"))) {
            rc = e2b_error_set(err, E2B_ERR_PROTOCOL, 0, "Expected start event");
        } else {
            pthread_mutex_lock(&w->mu);
            w->started = true;
            pthread_cond_broadcast(&w->cv);
            pthread_mutex_unlock(&w->mu);
        }
        cJSON_Delete(m);
        return rc;
    }
    const cJSON *fe = cJSON_GetObjectItemCaseSensitive(m, "filesystem");
    if (cJSON_IsObject(fe) && !atomic_load(&w->stop_requested)) {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(fe, "name");
        int t = e2b_connect_get_enum(cJSON_GetObjectItemCaseSensitive(fe, "type"), EVENT_TYPE_NAMES,
                                     6);
        e2b_fs_event ev = {
            .name = cJSON_IsString(name) ? name->valuestring : "",
            .type = t >= 0 && t <= 5 ? (e2b_fs_event_type)t : E2B_FS_EVENT_UNKNOWN,
        };
        e2b_entry_info entry = {0};
        const cJSON *eo = cJSON_GetObjectItemCaseSensitive(fe, "entry");
        if (cJSON_IsObject(eo)) {
            rc = e2b_files_entry_from_json(eo, &entry, err);
            ev.entry = &entry;
        }
        if (rc == E2B_OK) {
            rc = w->fn(w->ud, &ev);
            if (rc != E2B_OK)
                e2b_error_set(err, rc, 0, "watch callback ended the watch (%s)", e2b_code_name(rc));
        }
        e2b_files_entry_clear(&entry);
    }
    /* keepalive and unknown members are ignored */
    cJSON_Delete(m);
    return rc;
}

static void *watch_thread(void *arg)
{
    e2b_watch *w = arg;
    e2b_connect_stream_opts so = {
        .timeout_ms = w->timeout_ms, .keepalive = true, .cancel = &w->cancel};
    e2b_error err;
    e2b_error_clear(&err);
    e2b_code rc = e2b_connect_stream(&w->env, "/filesystem.Filesystem/WatchDir", FS, w->req, &so,
                                     watch_msg, w, &err);
    if (rc == E2B_ERR_CANCELLED && atomic_load(&w->stop_requested))
        rc = E2B_OK;
    if (rc == E2B_OK && !w->started)
        rc = e2b_error_set(&err, E2B_ERR_PROTOCOL, 0, "Expected start event");
    pthread_mutex_lock(&w->mu);
    w->result = rc;
    w->err = err;
    w->ended = true;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

static void watch_destroy(e2b_watch *w)
{
    cJSON_Delete(w->req);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    free(w);
}

e2b_code e2b_files_watch_dir(e2b_sandbox *sbx, const char *path, const e2b_watch_opts *opts,
                             e2b_watch **out, e2b_error *err)
{
    if (out)
        *out = NULL;
    e2b_code rc = check_path(path, "watch_dir", err);
    if (rc != E2B_OK)
        return rc;
    if (!opts || !opts->on_event || !out)
        return e2b_error_set(err, E2B_ERR_INVALID_ARGUMENT, 0,
                             "watch_dir: on_event and out are required");
    e2b_watch *w = calloc(1, sizeof *w);
    if (!w)
        return e2b_error_set(err, E2B_ERR_NO_MEMORY, 0, "watch");
    rc = e2b_connect_envd_init(&w->env, sbx, opts->user, err);
    if (rc != E2B_OK) {
        free(w);
        return rc;
    }
    w->req = path_req(path);
    if (w->req && ((opts->recursive && !cJSON_AddTrueToObject(w->req, "recursive")) ||
                   (opts->include_entry && !cJSON_AddTrueToObject(w->req, "includeEntry")))) {
        cJSON_Delete(w->req);
        w->req = NULL;
    }
    if (!w->req) {
        free(w);
        return e2b_error_set(err, E2B_ERR_NO_MEMORY, 0, "watch request");
    }
    w->timeout_ms = opts->timeout_ms > 0 ? opts->timeout_ms : 0;
    w->fn = opts->on_event;
    w->ud = opts->ud;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    atomic_init(&w->cancel, 0);
    atomic_init(&w->stop_requested, false);
    if (pthread_create(&w->thread, NULL, watch_thread, w) != 0) {
        watch_destroy(w);
        return e2b_error_set(err, E2B_ERR_IO, 0, "watch_dir: cannot start a thread");
    }
    pthread_mutex_lock(&w->mu);
    while (!w->started && !w->ended)
        pthread_cond_wait(&w->cv, &w->mu);
    bool ok = w->started;
    pthread_mutex_unlock(&w->mu);
    if (!ok) {
        pthread_join(w->thread, NULL);
        rc = w->result;
        if (err)
            *err = w->err;
        watch_destroy(w);
        return rc;
    }
    *out = w;
    return E2B_OK;
}

void e2b_watch_stop(e2b_watch *w)
{
    if (!w)
        return;
    atomic_store(&w->stop_requested, true);
    atomic_store(&w->cancel, 1);
}

e2b_code e2b_watch_wait(e2b_watch *w, e2b_error *err)
{
    if (!w)
        return e2b_error_set(err, E2B_ERR_INVALID_ARGUMENT, 0, "watch is NULL");
    if (!w->joined) {
        pthread_join(w->thread, NULL);
        w->joined = true;
    }
    if (w->result != E2B_OK && err)
        *err = w->err;
    return w->result;
}

void e2b_watch_free(e2b_watch *w)
{
    if (!w)
        return;
    e2b_watch_stop(w);
    e2b_watch_wait(w, NULL);
    watch_destroy(w);
}
