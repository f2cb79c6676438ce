/* envd_files.c - envd plain-HTTP endpoints of e2b-mock (port 49983):
 *
 *   GET  /health  204, Cache-Control: no-store, no auth.
 *   GET  /envs    the sandbox's envVars as a JSON object (token required).
 *   GET  /files   ?path=&username= [&signature=&signature_expiration=]: the file's bytes,
 *                 sent from the fd (sendfile; RSS does not grow with the file). gzip only when
 *                 the client asks for nothing but gzip (`Accept-Encoding: gzip`, what the SDK's
 *                 read({gzip:true}) sends); undici's default "gzip, deflate" gets identity,
 *                 which HTTP always allows and which keeps the zero-copy path.
 *   POST /files   multipart/form-data (MHD_PostProcessor; parts named "file"; destination =
 *                 `path` query if present, else the part's filename verbatim) or
 *                 application/octet-stream (`path` required; Content-Encoding: gzip inflated
 *                 while streaming). Chunks are written as they arrive, never buffered whole.
 *                 200 [{"path","name","type":"file"}]; 400 duplicate/dir/bad input; 507 full.
 *                 Disk quota (sbxpol_disk_quota, --limit-disk-mb): the sandbox directory's
 *                 usage is measured once per request; an upload that would take it past the
 *                 quota (usage + bytes written by this request) is refused with 507 envd's
 *                 "not enough disk space available", before anything is written when the
 *                 octet-stream's Content-Length already says so, else at the chunk that
 *                 crosses it: the partial file is removed (files completed earlier in the same
 *                 multipart request stay).
 *
 * Auth: X-Access-Token must match the sandbox token, or (both /files routes) a valid v1
 * signature for the operation ("read"/"write") must be given: 401 with envd's exact text.
 * Paths are confined to the sandbox home by fs_safe (see fs_safe.h for the mapping rules).
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "envd_common.h"
#include "fs_safe.h"
#include "sbx_policy.h"
#include "util.h"

#define UPLOAD_PP_BUFFER 65536
#define ZBUF 65536

/* ------------------------------------------------------------------ helpers */

static mock_response *unauthorized(void)
{
    return envd_http_error(401, "%s", ENVD_UNAUTHORIZED_MSG);
}

/* 400/404/507/500 for a failed operation on a user path. */
static mock_response *path_error(int neg, const char *p)
{
    switch (-neg) {
    case ENOENT:
    case ENOTDIR: return envd_http_error(404, "path '%s' does not exist", p);
    case EISDIR: return envd_http_error(400, "path '%s' is a directory", p);
    case EXDEV:
    case ELOOP: return envd_http_error(400, "path '%s' is outside the sandbox home %s", p, FS_HOME);
    case EINVAL: return envd_http_error(400, "invalid path '%s'", p);
    case ENAMETOOLONG: return envd_http_error(400, "path '%.200s...' is too long", p);
    case ENOSPC:
    case EDQUOT: return envd_http_error(507, "not enough disk space available");
    case EACCES:
    case EPERM: return envd_http_error(403, "permission denied for path '%s'", p);
    default: return envd_http_error(500, "error accessing path '%s': %s", p, strerror(-neg));
    }
}

/* Token or signature; and a known user. NULL when allowed, else the error response. */
static mock_response *files_auth(mock_request *req, const char *op)
{
    if (!envd_token_ok(req) && !envd_signature_ok(req, op))
        return unauthorized();
    char bad[128];
    if (!envd_user_ok(req, true, bad, sizeof bad))
        return envd_http_error(401, "error looking up user '%s': user: unknown user %s", bad, bad);
    return NULL;
}

/* ------------------------------------------------------------------ GET /health */

static mock_response *h_health(mock_request *req)
{
    (void)req;
    mock_response *r = mock_resp_empty(204);
    if (r)
        mock_resp_header(r, "Cache-Control", "no-store");
    return r;
}

/* ------------------------------------------------------------------ GET /envs */

/* The sandbox's default environment variables (the create call's envVars). Token needed. */
static mock_response *h_envs(mock_request *req)
{
    if (!envd_token_ok(req))
        return unauthorized();
    cJSON *o = cJSON_Duplicate(req->sandbox->env_vars, 1);
    if (!o)
        return NULL;
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s ? mock_resp_take(200, "application/json", s, strlen(s)) : NULL;
}

/* ------------------------------------------------------------------ GET /files */

/* True when Accept-Encoding asks for gzip and nothing else (see the file comment). */
static bool wants_only_gzip(const char *ae)
{
    if (!ae)
        return false;
    while (*ae == ' ' || *ae == '\t')
        ae++;
    size_t n = strcspn(ae, " \t;,");
    if (n != 4 || strncasecmp(ae, "gzip", 4) != 0)
        return false;
    const char *rest = ae + 4;
    if (strchr(rest, ','))
        return false;
    const char *q = strstr(rest, "q=");
    return !q || strtod(q + 2, NULL) > 0;
}

typedef struct gz_job {
    int fd;
    mock_stream *stream;
} gz_job;

/* Worker: reads the file, deflates (level 1: cheap), writes to the stream as it goes. */
static void gzip_producer(envd_worker *w)
{
    gz_job *j = w->arg;
    mock_stream_on_cancel(j->stream, envd_worker_cancel_cb, w); /* before any close */
    z_stream z;
    memset(&z, 0, sizeof z);
    unsigned char *in = malloc(ZBUF), *out = malloc(ZBUF);
    bool ok = in && out && deflateInit2(&z, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK;
    bool zinit = ok;
    int flush = Z_NO_FLUSH;
    while (ok && flush != Z_FINISH && !atomic_load(&w->stop)) {
        ssize_t n = read(j->fd, in, ZBUF);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        flush = n == 0 ? Z_FINISH : Z_NO_FLUSH;
        z.next_in = in;
        z.avail_in = (uInt)n;
        do {
            z.next_out = out;
            z.avail_out = ZBUF;
            if (deflate(&z, flush) == Z_STREAM_ERROR) {
                ok = false;
                break;
            }
            size_t have = ZBUF - z.avail_out;
            if (have && mock_stream_write(j->stream, out, have) != 0) {
                ok = false; /* client gone */
                break;
            }
        } while (z.avail_out == 0);
    }
    if (zinit)
        deflateEnd(&z);
    free(in);
    free(out);
    close(j->fd);
    mock_stream_close(j->stream);
    free(j);
}

static mock_response *gzip_response(mock_request *req, int fd)
{
    gz_job *j = calloc(1, sizeof *j);
    mock_stream *st = NULL;
    mock_response *r = j ? mock_resp_stream(200, "application/octet-stream", &st) : NULL;
    if (!r) {
        free(j);
        close(fd);
        return NULL;
    }
    mock_resp_header(r, "Content-Encoding", "gzip");
    mock_resp_header(r, "Vary", "Accept-Encoding");
    j->fd = fd;
    j->stream = st;
    envd_worker *w = envd_worker_start(req->server, req->sandbox_id, gzip_producer, j);
    if (!w) {
        close(fd);
        free(j);
        mock_stream_close(st);
        mock_resp_free(r);
        return envd_http_error(500, "cannot start the gzip encoder");
    }
    return r;
}

static void set_disposition(mock_response *r, const char *rel)
{
    const char *base = strrchr(rel, '/');
    base = base ? base + 1 : rel;
    for (const char *c = base; *c; c++)
        if (*c == '"' || *c == '\\' || (unsigned char)*c < 0x20)
            return; /* no header rather than a malformed one */
    char h[FS_PATH_MAX + 40];
    snprintf(h, sizeof h, "inline; filename=\"%s\"", base);
    mock_resp_header(r, "Content-Disposition", h);
}

static mock_response *h_files_get(mock_request *req)
{
    mock_response *denied = files_auth(req, "read");
    if (denied)
        return denied;
    const char *p = mock_req_query(req, "path");
    if (!p || !*p)
        return envd_http_error(400, "path is required");
    char rel[FS_PATH_MAX];
    int n = fs_rel_path(p, strlen(p), rel, sizeof rel);
    if (n < 0)
        return path_error(n, p);
    int rootfd = envd_root_fd(req);
    if (rootfd < 0)
        return envd_http_error(500, "sandbox directory unavailable");
    /* O_NONBLOCK: a FIFO planted by sandbox code must not park this thread in open() */
    int fd = fs_open(rootfd, rel, O_RDONLY | O_NONBLOCK, 0);
    close(rootfd);
    if (fd < 0)
        return path_error(fd, p);
    struct stat st;
    if (fstat(fd, &st) < 0) {
        int e = errno;
        close(fd);
        return path_error(-e, p);
    }
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        return envd_http_error(400, "path '%s' is a directory", p);
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return envd_http_error(400, "path '%s' is not a regular file", p);
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    mock_response *r;
    if (wants_only_gzip(mock_req_header(req, "Accept-Encoding")))
        r = gzip_response(req, fd);
    else
        r = mock_resp_fd(200, "application/octet-stream", fd, 0, (uint64_t)st.st_size);
    if (r) {
        set_disposition(r, rel);
        char lm[64];
        struct tm tm;
        gmtime_r(&st.st_mtim.tv_sec, &tm);
        strftime(lm, sizeof lm, "%a, %d %b %Y %H:%M:%S GMT", &tm);
        mock_resp_header(r, "Last-Modified", lm);
    }
    return r;
}

/* ------------------------------------------------------------------ POST /files */

typedef struct upload {
    bool started;
    int status; /* first error: HTTP status (0 = none) */
    char msg[512];
    int rootfd;
    enum { UP_NONE, UP_MULTIPART, UP_OCTET } kind;
    struct MHD_PostProcessor *pp;
    const char *path_q; /* `path` query or NULL */
    /* current file */
    int fd;
    char *cur_user; /* destination as the client gave it (for messages) */
    char *cur_rel;
    bool part_active;    /* inside a part named "file" */
    bool part_seen;      /* a part was announced */
    uint64_t part_bytes; /* bytes received in the current part */
    char part_key[64];
    char part_filename[FS_PATH_MAX];
    /* octet-stream gzip */
    bool gzip;
    bool z_init, z_end;
    z_stream z;
    unsigned char *zbuf;
    /* X-Metadata-* headers (stored as xattrs on every written file, echoed in results) */
    cJSON *meta;
    size_t meta_bytes;
    /* disk quota: usage of the sandbox dir at the request's start + bytes written since */
    int64_t quota, used0, written;
    /* results */
    cJSON *results;
    char **seen; /* resolved destinations, for duplicate detection */
    size_t nseen;
} upload;

static void up_fail(upload *u, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void up_fail(upload *u, int status, const char *fmt, ...)
{
    if (u->status)
        return; /* the first error wins */
    u->status = status;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(u->msg, sizeof u->msg, fmt, ap);
    va_end(ap);
}

static void up_fail_errno(upload *u, int neg, const char *p)
{
    switch (-neg) {
    case ENOENT:
    case ENOTDIR:
        up_fail(u, 400, "path '%s' is not a valid destination: a parent is not a directory", p);
        break;
    case EISDIR: up_fail(u, 400, "path '%s' is a directory", p); break;
    case EXDEV:
    case ELOOP: up_fail(u, 400, "path '%s' is outside the sandbox home %s", p, FS_HOME); break;
    case EINVAL: up_fail(u, 400, "invalid path '%s'", p); break;
    case ENAMETOOLONG: up_fail(u, 400, "path '%.200s...' is too long", p); break;
    case ENOSPC:
    case EDQUOT: up_fail(u, 507, "not enough disk space available"); break;
    case EACCES:
    case EPERM: up_fail(u, 403, "permission denied for path '%s'", p); break;
    default: up_fail(u, 500, "error writing '%s': %s", p, strerror(-neg));
    }
}

/* 507: close and remove the current (partial) file; the rest of the sandbox is untouched */
static void drop_partial(upload *u)
{
    if (u->fd < 0)
        return;
    close(u->fd);
    u->fd = -1;
    if (!u->cur_rel)
        return;
    const char *leaf = NULL;
    int dfd = fs_open_parent(u->rootfd, u->cur_rel, &leaf);
    if (dfd >= 0) {
        (void)unlinkat(dfd, leaf, 0);
        close(dfd);
    }
}

static int write_all(upload *u, const void *data, size_t len)
{
    const char *p = data;
    if (u->quota > 0 && u->used0 + u->written + (int64_t)len > u->quota) {
        up_fail(u, 507, "not enough disk space available");
        drop_partial(u);
        return -1;
    }
    u->written += (int64_t)len;
    while (len > 0) {
        ssize_t w = write(u->fd, p, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            up_fail_errno(u, -errno, u->cur_user);
            if (u->status == 507)
                drop_partial(u);
            return -1;
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

/* Opens the destination dest (as given by the client) for writing. 0 or -1 (error set). */
static int begin_file(upload *u, const char *dest)
{
    if (!dest || !*dest) {
        up_fail(u, 400, "no destination path: give the path query or a part filename");
        return -1;
    }
    char rel[FS_PATH_MAX];
    int n = fs_rel_path(dest, strlen(dest), rel, sizeof rel);
    if (n < 0) {
        up_fail_errno(u, n, dest);
        return -1;
    }
    if (n == 0) {
        up_fail(u, 400, "path '%s' is a directory", dest);
        return -1;
    }
    for (size_t i = 0; i < u->nseen; i++) {
        if (strcmp(u->seen[i], rel) == 0) {
            up_fail(u, 400, "cannot upload multiple files to the same path '%s'", dest);
            return -1;
        }
    }
    char **ns = realloc(u->seen, (u->nseen + 1) * sizeof *ns);
    if (!ns) {
        up_fail(u, 500, "out of memory");
        return -1;
    }
    u->seen = ns;
    u->cur_rel = strdup(rel);
    u->cur_user = strdup(dest);
    if (!u->cur_rel || !u->cur_user) {
        up_fail(u, 500, "out of memory");
        return -1;
    }
    u->seen[u->nseen] = strdup(rel);
    if (!u->seen[u->nseen]) {
        up_fail(u, 500, "out of memory");
        return -1;
    }
    u->nseen++;
    char *slash = strrchr(rel, '/');
    if (slash) {
        *slash = '\0';
        int r = fs_mkdir_p(u->rootfd, rel, 0755, NULL);
        *slash = '/';
        if (r < 0) {
            up_fail_errno(u, r, dest);
            return -1;
        }
    }
    /* O_NONBLOCK: opening a FIFO planted by sandbox code must not block (ENXIO instead) */
    int fd = fs_open(u->rootfd, rel, O_WRONLY | O_CREAT | O_TRUNC | O_NONBLOCK, 0644);
    if (fd == -ENXIO) {
        up_fail(u, 400, "path '%s' is not a regular file", dest);
        return -1;
    }
    if (fd < 0) {
        up_fail_errno(u, fd, dest);
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) == 0 && !S_ISREG(st.st_mode)) {
        close(fd);
        up_fail(u, 400, "path '%s' is not a regular file", dest);
        return -1;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    u->fd = fd;
    int mr = fs_meta_set(fd, u->meta); /* each upload replaces the file's metadata */
    if (mr < 0 && !(mr == -ENOTSUP && !u->meta)) {
        if (mr == -ENOTSUP)
            up_fail(u, 400, "file metadata is not supported by the sandbox filesystem");
        else
            up_fail_errno(u, mr, dest);
        return -1;
    }
    return 0;
}

/* Closes the current file and records it in the results. */
static void end_file(upload *u)
{
    if (u->fd < 0)
        return;
    int rc = close(u->fd);
    int e = errno;
    u->fd = -1;
    if (rc < 0 && !u->status)
        up_fail_errno(u, -e, u->cur_user);
    if (!u->status) {
        char vis[FS_PATH_MAX + 16];
        fs_visible_path(u->cur_rel, vis, sizeof vis);
        cJSON *o = cJSON_CreateObject();
        if (o) {
            cJSON_AddStringToObject(o, "path", vis);
            cJSON_AddStringToObject(o, "name", strrchr(vis, '/') + 1);
            cJSON_AddStringToObject(o, "type", "file");
            if (u->meta)
                cJSON_AddItemToObject(o, "metadata", cJSON_Duplicate(u->meta, 1));
            cJSON_AddItemToArray(u->results, o);
        }
    }
    free(u->cur_rel);
    free(u->cur_user);
    u->cur_rel = u->cur_user = NULL;
}

static enum MHD_Result on_part(void *cls, enum MHD_ValueKind kind, const char *key,
                               const char *filename, const char *content_type,
                               const char *transfer_encoding, const char *data, uint64_t off,
                               size_t size)
{
    (void)kind;
    (void)content_type;
    (void)transfer_encoding;
    upload *u = cls;
    if (u->status)
        return MHD_NO;
    /* MHD announces a part with (off 0, size 0) as soon as its headers are parsed and calls
     * again with off 0 when the first data arrives: that second call continues the part.
     * (So two consecutive EMPTY parts with the same key and filename count as one.) */
    bool same_empty_part = u->part_seen && u->part_bytes == 0 &&
                           strcmp(key ? key : "", u->part_key) == 0 &&
                           strcmp(filename ? filename : "", u->part_filename) == 0;
    if (off == 0 && !same_empty_part) { /* a new part starts */
        end_file(u);
        u->part_seen = true;
        u->part_bytes = 0;
        snprintf(u->part_key, sizeof u->part_key, "%s", key ? key : "");
        snprintf(u->part_filename, sizeof u->part_filename, "%s", filename ? filename : "");
        u->part_active = key && strcmp(key, "file") == 0;
        if (u->part_active && begin_file(u, u->path_q ? u->path_q : filename) != 0)
            return MHD_NO;
    }
    u->part_bytes += size;
    if (!u->part_active || size == 0)
        return MHD_YES;
    return write_all(u, data, size) == 0 ? MHD_YES : MHD_NO;
}

static void upload_free(mock_request *req)
{
    upload *u = req->user;
    if (!u)
        return;
    if (u->pp)
        MHD_destroy_post_processor(u->pp);
    if (u->fd >= 0)
        close(u->fd);
    if (u->rootfd >= 0)
        close(u->rootfd);
    if (u->z_init)
        inflateEnd(&u->z);
    free(u->zbuf);
    free(u->cur_rel);
    free(u->cur_user);
    for (size_t i = 0; i < u->nseen; i++)
        free(u->seen[i]);
    free(u->seen);
    cJSON_Delete(u->results);
    cJSON_Delete(u->meta);
    free(u);
    req->user = NULL;
}

/* HTTP token characters (RFC 9110 tchar) */
static bool tchar(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static int collect_meta(const char *key, const char *value, void *ud)
{
    upload *u = ud;
    static const char pfx[] = "X-Metadata-";
    if (strncasecmp(key, pfx, sizeof pfx - 1) != 0)
        return 0;
    const char *k = key + sizeof pfx - 1;
    size_t kl = strlen(k);
    if (kl == 0 || kl > 246) {
        up_fail(u, 400, "invalid metadata key '%s': 1 to 246 characters", k);
        return 1;
    }
    char lower[256];
    for (size_t i = 0; i <= kl; i++) {
        unsigned char c = (unsigned char)k[i];
        if (c && !tchar(c)) {
            up_fail(u, 400, "invalid metadata key '%s'", k);
            return 1;
        }
        lower[i] = (char)tolower(c);
    }
    for (const unsigned char *v = (const unsigned char *)value; *v; v++) {
        if (*v < 0x20 || *v > 0x7e) {
            up_fail(u, 400, "invalid metadata value for key '%s': printable ASCII only", lower);
            return 1;
        }
    }
    u->meta_bytes += kl + strlen(value);
    if (u->meta_bytes > 4096) {
        up_fail(u, 400, "metadata too large: at most 4096 bytes in total");
        return 1;
    }
    if (!u->meta && !(u->meta = cJSON_CreateObject())) {
        up_fail(u, 500, "out of memory");
        return 1;
    }
    cJSON_DeleteItemFromObjectCaseSensitive(u->meta, lower);
    cJSON_AddStringToObject(u->meta, lower, value);
    return 0;
}

/* Creates the per-request state on the first body chunk (or in the handler for an empty
 * body). Auth and content-type decisions happen here, before any byte is written. */
static upload *upload_begin(mock_request *req)
{
    if (req->user)
        return req->user;
    upload *u = calloc(1, sizeof *u);
    if (!u)
        return NULL;
    u->fd = -1;
    u->rootfd = -1;
    u->started = true;
    req->user = u;
    if (mock_req_on_done(req, upload_free) != 0) {
        req->user = NULL;
        free(u);
        return NULL;
    }
    u->results = cJSON_CreateArray();
    if (!u->results) {
        up_fail(u, 500, "out of memory");
        return u;
    }
    if (!envd_token_ok(req) && !envd_signature_ok(req, "write")) {
        up_fail(u, 401, "%s", ENVD_UNAUTHORIZED_MSG);
        return u;
    }
    char bad[128];
    if (!envd_user_ok(req, true, bad, sizeof bad)) {
        up_fail(u, 401, "error looking up user '%s': user: unknown user %s", bad, bad);
        return u;
    }
    mock_req_each_header(req, collect_meta, u);
    if (u->status)
        return u;
    u->rootfd = envd_root_fd(req);
    if (u->rootfd < 0) {
        up_fail(u, 500, "sandbox directory unavailable");
        return u;
    }
    u->quota = sbxpol_disk_quota();
    if (u->quota > 0) {
        u->used0 = sbxpol_disk_usage(u->rootfd);
        if (u->used0 < 0 || u->used0 >= u->quota) { /* unmeasurable counts as full */
            up_fail(u, 507, "not enough disk space available");
            return u;
        }
    }
    const char *pq = mock_req_query(req, "path");
    u->path_q = (pq && *pq) ? pq : NULL;
    const char *ct = mock_req_header(req, "Content-Type");
    if (ct && strncasecmp(ct, "multipart/form-data", 19) == 0) {
        u->kind = UP_MULTIPART;
        u->pp = MHD_create_post_processor(mock_req_connection(req), UPLOAD_PP_BUFFER, on_part, u);
        if (!u->pp)
            up_fail(u, 400, "invalid multipart/form-data request (missing boundary?)");
    } else if (ct && strncasecmp(ct, "application/octet-stream", 24) == 0) {
        u->kind = UP_OCTET;
        if (!u->path_q) {
            up_fail(u, 400, "path is required for application/octet-stream uploads");
            return u;
        }
        const char *ce = mock_req_header(req, "Content-Encoding");
        if (ce && *ce && strcasecmp(ce, "identity") != 0) {
            if (strcasecmp(ce, "gzip") != 0) {
                up_fail(u, 400, "unsupported Content-Encoding '%s'", ce);
                return u;
            }
            u->gzip = true;
            u->zbuf = malloc(ZBUF);
            if (!u->zbuf || inflateInit2(&u->z, 15 + 16) != Z_OK) {
                up_fail(u, 500, "cannot start the gzip decoder");
                return u;
            }
            u->z_init = true;
        }
        const char *cl = mock_req_header(req, "Content-Length");
        long long n = cl && !u->gzip ? strtoll(cl, NULL, 10) : 0;
        if (u->quota > 0 && n > 0 && u->used0 + n > u->quota) { /* refused before any write */
            up_fail(u, 507, "not enough disk space available");
            return u;
        }
        begin_file(u, u->path_q);
    } else {
        up_fail(u, 400,
                "unsupported content type '%s': use multipart/form-data or "
                "application/octet-stream",
                ct ? ct : "");
    }
    return u;
}

static int inflate_chunk(upload *u, const char *data, size_t len)
{
    u->z.next_in = (unsigned char *)data;
    u->z.avail_in = (uInt)len;
    while (u->z.avail_in > 0) {
        if (u->z_end) { /* another gzip member follows (concatenated gzip) */
            if (inflateReset(&u->z) != Z_OK) {
                up_fail(u, 400, "invalid gzip body");
                return -1;
            }
            u->z_end = false;
        }
        u->z.next_out = u->zbuf;
        u->z.avail_out = ZBUF;
        int zr = inflate(&u->z, Z_NO_FLUSH);
        if (zr != Z_OK && zr != Z_STREAM_END && zr != Z_BUF_ERROR) {
            up_fail(u, 400, "invalid gzip body: %s", u->z.msg ? u->z.msg : "corrupt data");
            return -1;
        }
        size_t have = ZBUF - u->z.avail_out;
        if (have && write_all(u, u->zbuf, have) != 0)
            return -1;
        if (zr == Z_STREAM_END)
            u->z_end = true;
        else if (zr == Z_BUF_ERROR && have == 0)
            break;
    }
    return 0;
}

static int on_upload(mock_request *req, const char *data, size_t len)
{
    upload *u = upload_begin(req);
    if (!u)
        return 1;
    if (u->status)
        return 1;
    if (u->kind == UP_MULTIPART) {
        if (MHD_post_process(u->pp, data, len) != MHD_YES) {
            up_fail(u, 400, "malformed multipart/form-data body");
            return 1;
        }
    } else if (u->gzip) {
        if (inflate_chunk(u, data, len) != 0)
            return 1;
    } else if (write_all(u, data, len) != 0) {
        return 1;
    }
    return u->status ? 1 : 0;
}

static mock_response *h_files_post(mock_request *req)
{
    upload *u = upload_begin(req);
    if (!u)
        return NULL;
    if (u->kind == UP_MULTIPART && u->pp && !u->status) {
        /* flushes the last part through on_part */
        enum MHD_Result r = MHD_destroy_post_processor(u->pp);
        u->pp = NULL;
        if (r != MHD_YES)
            up_fail(u, 400, "malformed multipart/form-data body");
    }
    if (u->kind == UP_OCTET && u->gzip && !u->status && !u->z_end)
        up_fail(u, 400, "invalid gzip body: unexpected end of data");
    end_file(u);
    if (u->status)
        return envd_http_error(u->status, "%s", u->msg);
    if (cJSON_GetArraySize(u->results) == 0)
        return envd_http_error(400, "no file part named 'file' in the request");
    cJSON *res = u->results;
    u->results = NULL;
    char *s = cJSON_PrintUnformatted(res);
    cJSON_Delete(res);
    if (!s)
        return NULL;
    return mock_resp_take(200, "application/json", s, strlen(s));
}

/* ------------------------------------------------------------------ module */

static int envd_files_init(mock_server *s)
{
    if (envd_workers_attach(s) != 0)
        return -1;
    if (mock_route_add(s, MOCK_PORT_ENVD, "GET", "/health", h_health, 0) != 0 ||
        mock_route_add(s, MOCK_PORT_ENVD, "GET", "/envs", h_envs, 0) != 0 ||
        mock_route_add(s, MOCK_PORT_ENVD, "GET", "/files", h_files_get, 0) != 0 ||
        mock_route_add_upload(s, MOCK_PORT_ENVD, "POST", "/files", h_files_post, on_upload, 0) != 0)
        return -1;
    return 0;
}

/* Server shutdown: streams are already cancelled; end and join every envd worker. */
static void envd_files_stop(mock_server *s)
{
    envd_workers_stop(s, NULL);
}

MOCK_MODULE(envd_files, envd_files_init, envd_files_stop)
