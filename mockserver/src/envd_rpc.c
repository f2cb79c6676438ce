/* envd_rpc.c - filesystem.Filesystem Connect service of e2b-mock (port 49983), on the
 * sandbox's real directory (confined by fs_safe):
 *
 *   Stat, MakeDir, Move, ListDir, Remove            unary (application/json)
 *   WatchDir                                        server stream (application/connect+json)
 *   CreateWatcher, GetWatcherEvents, RemoveWatcher  unary polling watchers
 *
 * Semantics follow envd (e2b-protocol.md §6.4): ListDir depth 0 = 1, paths reported under the
 * requested path, symlinks listed but never followed (recursion stops at 512 levels); MakeDir creates parents, an existing
 * directory is already_exists and an existing non-directory invalid_argument; Remove is
 * os.RemoveAll (a missing path is fine); Move creates the destination's parents.
 * Paths outside /home/user are invalid_argument (the mock serves only the home directory).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "envd_common.h"
#include "fs_safe.h"
#include "util.h"
#include "watch.h"

#define LIST_MAX_ENTRIES 200000 /* guard against a pathological tree */
#define LIST_MAX_LEVELS 512     /* recursion bound: keeps deep trees off the thread's stack */
#define MAX_POLL_WATCHERS \
    32 /* per sandbox: inotify instances are a host-wide resource
                                   (fs.inotify.max_user_instances, often 128) */

/* ------------------------------------------------------------------ helpers */

static const char *jstr(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* proto3 JSON also accepts the original snake_case field names */
static const char *jstr2(const cJSON *o, const char *camel, const char *snake)
{
    const char *v = jstr(o, camel);
    return v ? v : jstr(o, snake);
}

static bool jbool(const cJSON *o, const char *camel, const char *snake)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, camel);
    if (!v && snake)
        v = cJSON_GetObjectItemCaseSensitive(o, snake);
    return cJSON_IsTrue(v);
}

/* Resolves a request path to rel; on failure returns the Connect error response. */
static mock_response *resolve(const char *p, char *rel, size_t cap)
{
    if (!p || !*p)
        return envd_rpc_error(CONNECT_INVALID_ARGUMENT, "path is required");
    int n = fs_rel_path(p, strlen(p), rel, cap);
    if (n == -EXDEV)
        return envd_rpc_error(CONNECT_INVALID_ARGUMENT,
                              "path '%s' is outside the sandbox home %s (the mock serves only "
                              "the home directory)",
                              p, FS_HOME);
    if (n < 0)
        return envd_rpc_error(CONNECT_INVALID_ARGUMENT, "invalid path '%s': %s", p, strerror(-n));
    return NULL;
}

static mock_response *errno_reply(int neg, const char *what, const char *p)
{
    if (neg == -EXDEV || neg == -ELOOP)
        return envd_rpc_error(CONNECT_INVALID_ARGUMENT,
                              "%s: path '%s' resolves outside the sandbox home %s", what, p,
                              FS_HOME);
    return envd_rpc_error(envd_errno_code(neg), "%s: %s: %s", what, p, strerror(-neg));
}

/* ------------------------------------------------------------------ Stat */

static mock_response *fs_stat(int rootfd, const cJSON *in)
{
    const char *p = jstr(in, "path");
    char rel[FS_PATH_MAX];
    mock_response *bad = resolve(p, rel, sizeof rel);
    if (bad)
        return bad;
    int err = 0;
    cJSON *e = fs_entry_json(rootfd, rel, &err);
    if (!e) {
        if (err == -ENOENT || err == -ENOTDIR)
            return envd_rpc_error(CONNECT_NOT_FOUND, "file not found: %s", p);
        return errno_reply(err, "error getting file info", p);
    }
    cJSON *out = cJSON_CreateObject();
    if (!out) {
        cJSON_Delete(e);
        return NULL;
    }
    cJSON_AddItemToObject(out, "entry", e);
    return envd_rpc_ok(out);
}

/* ------------------------------------------------------------------ MakeDir */

static mock_response *fs_makedir(int rootfd, const cJSON *in)
{
    const char *p = jstr(in, "path");
    char rel[FS_PATH_MAX];
    mock_response *bad = resolve(p, rel, sizeof rel);
    if (bad)
        return bad;
    bool created = false;
    int r = fs_mkdir_p(rootfd, rel, 0755, &created);
    if (r == -ENOTDIR)
        return envd_rpc_error(CONNECT_INVALID_ARGUMENT,
                              "path already exists but it is not a directory: %s", p);
    if (r < 0)
        return errno_reply(r, "error creating directory", p);
    if (!created)
        return envd_rpc_error(CONNECT_ALREADY_EXISTS, "directory already exists: %s", p);
    int err = 0;
    cJSON *e = fs_entry_json(rootfd, rel, &err);
    if (!e)
        return errno_reply(err, "error getting directory info", p);
    cJSON *out = cJSON_CreateObject();
    if (!out) {
        cJSON_Delete(e);
        return NULL;
    }
    cJSON_AddItemToObject(out, "entry", e);
    return envd_rpc_ok(out);
}

/* ------------------------------------------------------------------ Move */

static mock_response *fs_move(int rootfd, const cJSON *in)
{
    const char *src = jstr(in, "source");
    const char *dst = jstr(in, "destination");
    char srel[FS_PATH_MAX], drel[FS_PATH_MAX];
    mock_response *bad = resolve(src, srel, sizeof srel);
    if (!bad)
        bad = resolve(dst, drel, sizeof drel);
    if (bad)
        return bad;
    if (!srel[0] || !drel[0])
        return envd_rpc_error(CONNECT_INVALID_ARGUMENT, "cannot move the home directory");
    struct stat st;
    int r = fs_lstat(rootfd, srel, &st);
    if (r == -ENOENT || r == -ENOTDIR)
        return envd_rpc_error(CONNECT_NOT_FOUND, "source file not found: %s", src);
    if (r < 0)
        return errno_reply(r, "error moving file", src);
    char *slash = strrchr(drel, '/');
    if (slash) {
        *slash = '\0';
        r = fs_mkdir_p(rootfd, drel, 0755, NULL);
        *slash = '/';
        if (r < 0)
            return errno_reply(r, "error creating destination directory", dst);
    }
    const char *sleaf, *dleaf;
    int sp = fs_open_parent(rootfd, srel, &sleaf);
    if (sp < 0)
        return errno_reply(sp, "error moving file", src);
    int dp = fs_open_parent(rootfd, drel, &dleaf);
    if (dp < 0) {
        close(sp);
        return errno_reply(dp, "error moving file", dst);
    }
    r = renameat(sp, sleaf, dp, dleaf) < 0 ? -errno : 0;
    close(sp);
    close(dp);
    if (r == -ENOENT)
        return envd_rpc_error(CONNECT_NOT_FOUND, "source file not found: %s", src);
    if (r < 0)
        return errno_reply(r, "error moving file", src);
    int err = 0;
    cJSON *e = fs_entry_json(rootfd, drel, &err);
    if (!e)
        return errno_reply(err, "error getting file info", dst);
    cJSON *out = cJSON_CreateObject();
    if (!out) {
        cJSON_Delete(e);
        return NULL;
    }
    cJSON_AddItemToObject(out, "entry", e);
    return envd_rpc_ok(out);
}

/* ------------------------------------------------------------------ ListDir */

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Appends the entries of directory dfd (path rel) to arr, pre-order, names sorted, descending
 * into real subdirectories (never symlinks) while depth > 1. Returns 0 or -errno. */
static int list_into(cJSON *arr, int dfd, const char *rel, unsigned depth, size_t *count,
                     unsigned level)
{
    int dup = fcntl(dfd, F_DUPFD_CLOEXEC, 0);
    if (dup < 0)
        return -errno;
    DIR *d = fdopendir(dup);
    if (!d) {
        int e = errno;
        close(dup);
        return -e;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 32;
            char **nn = realloc(names, cap * sizeof *nn);
            if (!nn) {
                rc = -ENOMEM;
                break;
            }
            names = nn;
        }
        if (!(names[n] = strdup(de->d_name))) {
            rc = -ENOMEM;
            break;
        }
        n++;
    }
    closedir(d);
    if (rc == 0 && n > 1) /* names is NULL for an empty directory */
        qsort(names, n, sizeof *names, cmp_names);
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (++*count > LIST_MAX_ENTRIES) {
            rc = -E2BIG;
            break;
        }
        struct stat st;
        if (fstatat(dfd, names[i], &st, AT_SYMLINK_NOFOLLOW) < 0)
            continue;      /* vanished meanwhile */
        char *crel = NULL; /* on the heap: this function recurses */
        int l = rel[0] ? asprintf(&crel, "%s/%s", rel, names[i]) : asprintf(&crel, "%s", names[i]);
        if (l < 0) {
            rc = -ENOMEM;
            break;
        }
        if ((size_t)l >= FS_PATH_MAX) {
            free(crel);
            continue;
        }
        cJSON *e = fs_entry_json_at(dfd, names[i], crel, &st);
        if (!e) {
            free(crel);
            rc = -ENOMEM;
            break;
        }
        cJSON_AddItemToArray(arr, e);
        if (depth > 1 && S_ISDIR(st.st_mode) && level < LIST_MAX_LEVELS) {
            int sub = openat(dfd, names[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub >= 0) {
                rc = list_into(arr, sub, crel, depth - 1, count, level + 1);
                close(sub);
                if (rc == -EACCES || rc == -EMFILE)
                    rc = 0; /* unreadable subdirectory / fd limit: listed, not descended */
            }
        }
        free(crel);
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return rc;
}

static mock_response *fs_listdir(int rootfd, const cJSON *in)
{
    const char *p = jstr(in, "path");
    char rel[FS_PATH_MAX];
    mock_response *bad = resolve(p, rel, sizeof rel);
    if (bad)
        return bad;
    const cJSON *dj = cJSON_GetObjectItemCaseSensitive(in, "depth");
    double dv = cJSON_IsNumber(dj)   ? dj->valuedouble
                : cJSON_IsString(dj) ? strtod(dj->valuestring, NULL)
                                     : 0;
    if (dv < 0 || dv > 1e6)
        return envd_rpc_error(CONNECT_INVALID_ARGUMENT, "invalid depth");
    unsigned depth = dv < 1 ? 1 : (unsigned)dv;
    int dfd = fs_open(rootfd, rel, O_RDONLY | O_DIRECTORY, 0);
    if (dfd == -ENOENT)
        return envd_rpc_error(CONNECT_NOT_FOUND, "directory not found: %s", p);
    if (dfd == -ENOTDIR) {
        struct stat st;
        if (fs_lstat(rootfd, rel, &st) == 0)
            return envd_rpc_error(CONNECT_INVALID_ARGUMENT, "path is not a directory: %s", p);
        return envd_rpc_error(CONNECT_NOT_FOUND, "directory not found: %s", p);
    }
    if (dfd < 0)
        return errno_reply(dfd, "error reading directory", p);
    cJSON *out = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(out, "entries");
    if (!out || !arr) {
        cJSON_Delete(out);
        close(dfd);
        return NULL;
    }
    size_t count = 0;
    int rc = list_into(arr, dfd, rel, depth, &count, 1);
    close(dfd);
    if (rc == -E2BIG) {
        cJSON_Delete(out);
        return envd_rpc_error(CONNECT_RESOURCE_EXHAUSTED, "too many entries under %s (limit %d)", p,
                              LIST_MAX_ENTRIES);
    }
    if (rc < 0) {
        cJSON_Delete(out);
        return errno_reply(rc, "error reading directory", p);
    }
    return envd_rpc_ok(out);
}

/* ------------------------------------------------------------------ Remove */

static mock_response *fs_remove(int rootfd, const cJSON *in)
{
    const char *p = jstr(in, "path");
    char rel[FS_PATH_MAX];
    mock_response *bad = resolve(p, rel, sizeof rel);
    if (bad)
        return bad;
    if (!rel[0])
        return envd_rpc_error(CONNECT_PERMISSION_DENIED, "cannot remove the home directory %s",
                              FS_HOME);
    int r = fs_remove_all(rootfd, rel);
    if (r < 0 && r != -ENOENT && r != -ENOTDIR)
        return errno_reply(r, "error removing file or directory", p);
    return envd_rpc_ok(NULL);
}

/* ------------------------------------------------------------------ watchers */

typedef struct poll_watcher {
    char id[40];
    char sandbox_id[64];
    fs_watch *fw;
    bool include_entry;
    int rootfd;
    struct poll_watcher *next;
} poll_watcher;

typedef struct rpc_mod {
    pthread_mutex_t lock;
    poll_watcher *watchers;
    mock_server *srv;
} rpc_mod;

static void poll_watcher_free(poll_watcher *w)
{
    fs_watch_close(w->fw);
    if (w->rootfd >= 0)
        close(w->rootfd);
    free(w);
}

static void rpc_mod_free(void *p)
{
    rpc_mod *m = p;
    while (m->watchers) {
        poll_watcher *n = m->watchers->next;
        poll_watcher_free(m->watchers);
        m->watchers = n;
    }
    pthread_mutex_destroy(&m->lock);
    free(m);
}

/* Event JSON {"name","type"[,"entry"]} (entry only for create/write/chmod with include). */
static cJSON *event_json(int rootfd, const char *name, const char *rel, const char *type,
                         bool include_entry)
{
    cJSON *ev = cJSON_CreateObject();
    if (!ev)
        return NULL;
    cJSON_AddStringToObject(ev, "name", name);
    cJSON_AddStringToObject(ev, "type", type);
    if (include_entry && strcmp(type, "EVENT_TYPE_REMOVE") != 0 &&
        strcmp(type, "EVENT_TYPE_RENAME") != 0) {
        cJSON *e = fs_entry_json(rootfd, rel, NULL);
        if (e)
            cJSON_AddItemToObject(ev, "entry", e);
    }
    return ev;
}

static mock_response *open_watch(int rootfd, const cJSON *in, const char **p_out, fs_watch **out,
                                 bool streaming)
{
    const char *p = jstr(in, "path");
    *p_out = p;
    char rel[FS_PATH_MAX];
    mock_response *bad = resolve(p, rel, sizeof rel);
    if (bad) {
        if (!streaming)
            return bad;
        mock_resp_free(bad);
        return envd_stream_error(CONNECT_INVALID_ARGUMENT,
                                 "path '%s' is outside the sandbox home %s", p ? p : "", FS_HOME);
    }
    int err = 0;
    *out = fs_watch_open(rootfd, rel, jbool(in, "recursive", NULL), &err);
    if (*out)
        return NULL;
    connect_code code = (err == -ENOENT)    ? CONNECT_NOT_FOUND
                        : (err == -ENOTDIR) ? CONNECT_INVALID_ARGUMENT
                                            : envd_errno_code(err);
    const char *fmt = (err == -ENOENT)    ? "path %s not found"
                      : (err == -ENOTDIR) ? "path %s not a directory"
                                          : "error watching %s";
    char msg[FS_PATH_MAX + 64];
    snprintf(msg, sizeof msg, fmt, p);
    if (err == -EXDEV || err == -ELOOP)
        snprintf(msg, sizeof msg, "path '%s' resolves outside the sandbox home %s", p, FS_HOME);
    return streaming ? envd_stream_error(code, "%s", msg) : envd_rpc_error(code, "%s", msg);
}

static mock_response *fs_create_watcher(mock_request *req, int rootfd, const cJSON *in)
{
    rpc_mod *m = mock_server_get_data(req->server, "envd_rpc");
    const char *p;
    fs_watch *fw = NULL;
    mock_response *bad = open_watch(rootfd, in, &p, &fw, false);
    if (bad)
        return bad;
    poll_watcher *w = calloc(1, sizeof *w);
    if (!w || mock_random_hex(w->id, 16) != 0) {
        fs_watch_close(fw);
        free(w);
        return NULL;
    }
    w->fw = fw;
    w->include_entry = jbool(in, "includeEntry", "include_entry");
    w->rootfd = fcntl(rootfd, F_DUPFD_CLOEXEC, 0);
    snprintf(w->sandbox_id, sizeof w->sandbox_id, "%s", req->sandbox_id);
    pthread_mutex_lock(&m->lock);
    size_t mine = 0;
    for (poll_watcher *o = m->watchers; o; o = o->next)
        mine += strcmp(o->sandbox_id, req->sandbox_id) == 0;
    if (mine >= MAX_POLL_WATCHERS) {
        pthread_mutex_unlock(&m->lock);
        poll_watcher_free(w);
        return envd_rpc_error(CONNECT_RESOURCE_EXHAUSTED,
                              "too many watchers in this sandbox (limit %d): remove some first",
                              MAX_POLL_WATCHERS);
    }
    w->next = m->watchers;
    m->watchers = w;
    pthread_mutex_unlock(&m->lock);
    cJSON *out = cJSON_CreateObject();
    cJSON_AddStringToObject(out, "watcherId", w->id);
    return envd_rpc_ok(out);
}

typedef struct collect_ctx {
    cJSON *arr;
    int rootfd;
    bool include_entry;
} collect_ctx;

static int collect_event(void *ud, const char *name, const char *rel, const char *type)
{
    collect_ctx *c = ud;
    cJSON *ev = event_json(c->rootfd, name, rel, type, c->include_entry);
    if (ev)
        cJSON_AddItemToArray(c->arr, ev);
    return 0;
}

static mock_response *fs_watcher_events(mock_request *req, const cJSON *in, bool remove)
{
    rpc_mod *m = mock_server_get_data(req->server, "envd_rpc");
    const char *id = jstr2(in, "watcherId", "watcher_id");
    if (!id)
        return envd_rpc_error(CONNECT_INVALID_ARGUMENT, "watcherId is required");
    pthread_mutex_lock(&m->lock);
    poll_watcher **pp = &m->watchers;
    while (*pp && !(strcmp((*pp)->id, id) == 0 && strcmp((*pp)->sandbox_id, req->sandbox_id) == 0))
        pp = &(*pp)->next;
    poll_watcher *w = *pp;
    if (!w) {
        pthread_mutex_unlock(&m->lock);
        return envd_rpc_error(CONNECT_NOT_FOUND, "watcher with id %s not found", id);
    }
    if (remove) {
        *pp = w->next;
        pthread_mutex_unlock(&m->lock);
        poll_watcher_free(w);
        return envd_rpc_ok(NULL);
    }
    cJSON *out = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(out, "events");
    collect_ctx c = {arr, w->rootfd, w->include_entry};
    int r = arr ? fs_watch_read(w->fw, collect_event, &c) : -ENOMEM;
    pthread_mutex_unlock(&m->lock);
    if (r < 0) {
        cJSON_Delete(out);
        return envd_rpc_error(CONNECT_INTERNAL, "error reading watcher events: %s", strerror(-r));
    }
    return envd_rpc_ok(out);
}

/* ---- WatchDir stream */

typedef struct watch_job {
    fs_watch *fw;
    mock_stream *st;
    int rootfd;
    bool include_entry;
    long long keepalive_ms;
    long long deadline; /* monotonic ms, 0 = none */
    bool dead;          /* the client went away */
    bool sent;          /* an event went out since the last keepalive tick */
} watch_job;

static int stream_event(void *ud, const char *name, const char *rel, const char *type)
{
    watch_job *j = ud;
    cJSON *ev = event_json(j->rootfd, name, rel, type, j->include_entry);
    cJSON *msg = cJSON_CreateObject();
    if (!ev || !msg) {
        cJSON_Delete(ev);
        cJSON_Delete(msg);
        return 0;
    }
    cJSON_AddItemToObject(msg, "filesystem", ev);
    if (envd_stream_send(j->st, msg) != 0) {
        j->dead = true;
        return 1;
    }
    j->sent = true;
    return 0;
}

static void watch_worker(envd_worker *w)
{
    watch_job *j = w->arg;
    mock_stream_on_cancel(j->st, envd_worker_cancel_cb, w);
    connect_code end = CONNECT_OK;
    const char *end_msg = NULL;
    static const char start[] = "{\"start\":{}}";
    static const char ka[] = "{\"keepalive\":{}}";
    if (envd_stream_send_raw(j->st, start, sizeof start - 1) != 0)
        j->dead = true;
    long long next_ka = envd_mono_ms() + j->keepalive_ms;
    while (!j->dead && !atomic_load(&w->stop)) {
        long long now = envd_mono_ms();
        if (j->deadline && now >= j->deadline) {
            end = CONNECT_DEADLINE_EXCEEDED;
            end_msg = "the watch reached its Connect-Timeout-Ms deadline";
            break;
        }
        if (now >= next_ka) {
            if (envd_stream_send_raw(j->st, ka, sizeof ka - 1) != 0)
                j->dead = true;
            next_ka = now + j->keepalive_ms;
            continue;
        }
        long long until = next_ka;
        if (j->deadline && j->deadline < until)
            until = j->deadline;
        struct pollfd pf[2] = {{fs_watch_fd(j->fw), POLLIN, 0}, {w->wake_fd, POLLIN, 0}};
        int pr = poll(pf, 2, (int)(until - now));
        if (pr < 0 && errno != EINTR)
            break;
        if (pr > 0 && (pf[0].revents & POLLIN)) {
            j->sent = false;
            if (fs_watch_read(j->fw, stream_event, j) < 0)
                break;
            if (j->sent)
                next_ka = envd_mono_ms() + j->keepalive_ms; /* data restarts the timer */
        }
    }
    if (atomic_load(&w->stop) && !j->dead && !mock_stream_cancelled(j->st)) {
        end = CONNECT_UNAVAILABLE; /* the sandbox was killed or the server is stopping */
        end_msg = "the sandbox is no longer running";
    }
    if (!j->dead)
        envd_stream_end(j->st, end, end_msg);
    mock_stream_close(j->st);
    fs_watch_close(j->fw);
    close(j->rootfd);
    free(j);
}

static mock_response *fs_watchdir(mock_request *req, int rootfd, const cJSON *in)
{
    const char *p;
    fs_watch *fw = NULL;
    mock_response *bad = open_watch(rootfd, in, &p, &fw, true);
    if (bad)
        return bad;
    watch_job *j = calloc(1, sizeof *j);
    mock_stream *st = NULL;
    mock_response *r = j ? mock_resp_stream(200, "application/connect+json", &st) : NULL;
    if (!r) {
        fs_watch_close(fw);
        free(j);
        return NULL;
    }
    j->fw = fw;
    j->st = st;
    j->rootfd = fcntl(rootfd, F_DUPFD_CLOEXEC, 0);
    j->include_entry = jbool(in, "includeEntry", "include_entry");
    j->keepalive_ms = (long long)envd_keepalive_s(req) * 1000;
    long long t = envd_timeout_ms(req);
    j->deadline = t ? envd_mono_ms() + t : 0;
    if (!envd_worker_start(req->server, req->sandbox_id, watch_worker, j)) {
        mock_stream_close(st);
        mock_resp_free(r);
        fs_watch_close(fw);
        close(j->rootfd);
        free(j);
        return envd_stream_error(CONNECT_INTERNAL, "cannot start the watcher");
    }
    return r;
}

/* ------------------------------------------------------------------ dispatch */

static mock_response *h_filesystem(mock_request *req)
{
    const char *method = mock_req_param(req, "*");
    bool streaming = method && strcmp(method, "WatchDir") == 0;
    if (!envd_token_ok(req))
        return envd_http_error(401, "%s", ENVD_UNAUTHORIZED_MSG);
    char bad_user[128];
    if (!envd_user_ok(req, false, bad_user, sizeof bad_user))
        return streaming
                   ? envd_stream_error(CONNECT_UNAUTHENTICATED, "invalid username: '%s'", bad_user)
                   : envd_rpc_error(CONNECT_UNAUTHENTICATED, "invalid username: '%s'", bad_user);
    const char *why = NULL;
    cJSON *in = envd_parse_request(req, streaming, &why);
    if (!in)
        return streaming ? envd_stream_error(CONNECT_INVALID_ARGUMENT, "%s", why)
                         : envd_rpc_error(CONNECT_INVALID_ARGUMENT, "%s", why);
    int rootfd = envd_root_fd(req);
    if (rootfd < 0) {
        cJSON_Delete(in);
        return envd_rpc_error(CONNECT_UNAVAILABLE, "sandbox directory unavailable");
    }
    mock_response *r;
    if (!method)
        r = envd_rpc_error(CONNECT_UNIMPLEMENTED, "no method");
    else if (strcmp(method, "Stat") == 0)
        r = fs_stat(rootfd, in);
    else if (strcmp(method, "MakeDir") == 0)
        r = fs_makedir(rootfd, in);
    else if (strcmp(method, "Move") == 0)
        r = fs_move(rootfd, in);
    else if (strcmp(method, "ListDir") == 0)
        r = fs_listdir(rootfd, in);
    else if (strcmp(method, "Remove") == 0)
        r = fs_remove(rootfd, in);
    else if (strcmp(method, "WatchDir") == 0)
        r = fs_watchdir(req, rootfd, in);
    else if (strcmp(method, "CreateWatcher") == 0)
        r = fs_create_watcher(req, rootfd, in);
    else if (strcmp(method, "GetWatcherEvents") == 0)
        r = fs_watcher_events(req, in, false);
    else if (strcmp(method, "RemoveWatcher") == 0)
        r = fs_watcher_events(req, in, true);
    else
        r = envd_rpc_error(CONNECT_UNIMPLEMENTED, "filesystem.Filesystem/%s is not implemented",
                           method);
    close(rootfd);
    cJSON_Delete(in);
    return r;
}

/* Sandbox destroyed: end its WatchDir streams and drop its polling watchers. */
static void rpc_on_destroy(mock_sandbox *sbx, void *ud)
{
    rpc_mod *m = ud;
    envd_workers_stop(m->srv, sbx->id);
    pthread_mutex_lock(&m->lock);
    poll_watcher **pp = &m->watchers;
    poll_watcher *dead = NULL;
    while (*pp) {
        poll_watcher *w = *pp;
        if (strcmp(w->sandbox_id, sbx->id) == 0) {
            *pp = w->next;
            w->next = dead;
            dead = w;
        } else {
            pp = &w->next;
        }
    }
    pthread_mutex_unlock(&m->lock);
    while (dead) {
        poll_watcher *n = dead->next;
        poll_watcher_free(dead);
        dead = n;
    }
}

static int envd_rpc_init(mock_server *s)
{
    if (envd_workers_attach(s) != 0)
        return -1;
    rpc_mod *m = calloc(1, sizeof *m);
    if (!m)
        return -1;
    pthread_mutex_init(&m->lock, NULL);
    m->srv = s;
    if (mock_server_set_data(s, "envd_rpc", m, rpc_mod_free) != 0) {
        rpc_mod_free(m);
        return -1;
    }
    if (store_on_destroy(mock_server_store(s), rpc_on_destroy, m) != 0)
        return -1;
    return mock_route_add(s, MOCK_PORT_ENVD, "POST", "/filesystem.Filesystem/", h_filesystem,
                          MOCK_ROUTE_PREFIX);
}

MOCK_MODULE(envd_rpc, envd_rpc_init, NULL)
