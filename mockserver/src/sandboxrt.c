/* sandboxrt.c - see sandboxrt.h. */
#include "sandboxrt.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "sbx_policy.h"
#include "store.h"
#include "util.h"

#define BWRAP_DEFAULT "/usr/bin/bwrap"
#define INFO_TIMEOUT_MS 10000

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t g_cg_lock = PTHREAD_MUTEX_INITIALIZER; /* cgroup create/enter vs rmdir */
static int g_unisolated = -1;                                 /* -1 = not decided: read the env */
static pthread_once_t g_probe_once = PTHREAD_ONCE_INIT;
static int g_bwrap_ok;

void sbxrt_set_unisolated(int allow)
{
    pthread_mutex_lock(&g_lock);
    g_unisolated = allow ? 1 : 0;
    pthread_mutex_unlock(&g_lock);
}

int sbxrt_unisolated_allowed(void)
{
    pthread_mutex_lock(&g_lock);
    if (g_unisolated < 0) {
        const char *v = getenv("E2B_MOCK_UNISOLATED");
        g_unisolated = v && (!strcmp(v, "1") || !strcasecmp(v, "true") || !strcasecmp(v, "yes"));
    }
    int r = g_unisolated;
    pthread_mutex_unlock(&g_lock);
    return r;
}

static void seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* ---------------------------------------------------------------- small argv builder */

typedef struct strvec {
    char **v;
    size_t n, cap;
    int oom;
} strvec;

static void sv_push(strvec *sv, const char *s)
{
    if (sv->oom)
        return;
    if (sv->n + 2 > sv->cap) {
        size_t cap = sv->cap ? sv->cap * 2 : 64;
        char **nv = realloc(sv->v, cap * sizeof *nv);
        if (!nv) {
            sv->oom = 1;
            return;
        }
        sv->v = nv;
        sv->cap = cap;
    }
    char *d = strdup(s);
    if (!d) {
        sv->oom = 1;
        return;
    }
    sv->v[sv->n++] = d;
    sv->v[sv->n] = NULL;
}

static void sv_free(strvec *sv)
{
    for (size_t i = 0; i < sv->n; i++)
        free(sv->v[i]);
    free(sv->v);
    memset(sv, 0, sizeof *sv);
}

/* The bubblewrap binary: /usr/bin/bwrap, or E2B_MOCK_BWRAP (read once; tests point it at a
 * missing file to exercise the refusal path). */
static const char *g_bwrap = BWRAP_DEFAULT;
#define BWRAP_PATH g_bwrap

/* The bubblewrap flags shared by the probe and every spawn (platform-notes §6). */
static void push_bwrap_base(strvec *a)
{
    sv_push(a, BWRAP_PATH);
    static const char *const base[] = {
        "--ro-bind",      "/usr",        "/usr",       "--symlink", "usr/lib",
        "/lib",           "--symlink",   "usr/lib64",  "/lib64",    "--symlink",
        "usr/bin",        "/bin",        "--symlink",  "usr/sbin",  "/sbin",
        "--ro-bind",      "/etc",        "/etc",       "--proc",    "/proc",
        "--dev",          "/dev",        "--tmpfs",    "/tmp",      "--unshare-all",
        "--unshare-user", "--uid",       "1000",       "--gid",     "1000",
        "--hostname",     "e2b-sandbox", "--cap-drop", "ALL",       "--die-with-parent",
        "--new-session",  "--clearenv",  NULL};
    for (size_t i = 0; base[i]; i++)
        sv_push(a, base[i]);
    /* the sandbox uid maps to host root for permission checks: hide every /etc entry that is
     * not world-readable (shadow, gshadow, ssl/private, ...) and show our own passwd/group */
    const char *rt = sbxpol_runtime_dir();
    if (rt) {
        char p[128];
        const unsigned char *is_dir = NULL;
        const char *const *m = sbxpol_etc_masks(&is_dir);
        for (size_t i = 0; m[i]; i++) {
            snprintf(p, sizeof p, "%s/%s", rt, is_dir[i] ? "emptydir" : "empty");
            sv_push(a, "--ro-bind");
            sv_push(a, p);
            sv_push(a, m[i]);
        }
        snprintf(p, sizeof p, "%s/passwd", rt);
        sv_push(a, "--ro-bind");
        sv_push(a, p);
        sv_push(a, "/etc/passwd");
        snprintf(p, sizeof p, "%s/group", rt);
        sv_push(a, "--ro-bind");
        sv_push(a, p);
        sv_push(a, "/etc/group");
    } else {
        a->oom = 1; /* never run with /etc/shadow visible */
    }
}

static void probe(void)
{
    const char *env = getenv("E2B_MOCK_BWRAP");
    if (env && env[0] == '/')
        g_bwrap = env;
    if (access(BWRAP_PATH, X_OK) != 0) {
        g_bwrap_ok = 0;
        return;
    }
    strvec a = {0};
    push_bwrap_base(&a);
    sv_push(&a, "--");
    sv_push(&a, "/usr/bin/true");
    if (a.oom) {
        sv_free(&a);
        return;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    char *envp[] = {"PATH=/usr/bin:/bin", NULL};
    pid_t pid;
    int rc = posix_spawn(&pid, BWRAP_PATH, &fa, NULL, a.v, envp);
    posix_spawn_file_actions_destroy(&fa);
    sv_free(&a);
    if (rc != 0) {
        g_bwrap_ok = 0;
        return;
    }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    g_bwrap_ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
    if (!g_bwrap_ok)
        mock_log(MOCK_LOG_WARN, "sandboxrt: bubblewrap probe failed (status %d)", st);
}

int sbxrt_bwrap_available(void)
{
    pthread_once(&g_probe_once, probe);
    return g_bwrap_ok;
}

char *sbxrt_host_path(const char *dir, const char *p)
{
    size_t hl = strlen(SBXRT_HOME);
    if (!dir || !p || strncmp(p, SBXRT_HOME, hl) != 0 || (p[hl] != '\0' && p[hl] != '/'))
        return NULL;
    const char *rest = p + hl;
    /* refuse ".." components: the path must stay inside the sandbox directory */
    for (const char *s = rest; *s;) {
        while (*s == '/')
            s++;
        const char *e = s;
        while (*e && *e != '/')
            e++;
        if (e - s == 2 && s[0] == '.' && s[1] == '.')
            return NULL;
        s = e;
    }
    size_t n = strlen(dir) + strlen(rest) + 1;
    char *out = malloc(n);
    if (out)
        snprintf(out, n, "%s%s", dir, rest);
    return out;
}

/* pipe with both ends O_CLOEXEC and moved to fds >= 10, so the child's dup2 to 1..5 can never
 * clobber another source fd. */
static int pipe_hi(int fds[2])
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0)
        return -1;
    for (int i = 0; i < 2; i++) {
        int h = fcntl(p[i], F_DUPFD_CLOEXEC, 10);
        if (h < 0) {
            close(p[0]);
            close(p[1]);
            if (i == 1)
                close(fds[0]);
            return -1;
        }
        close(p[i]);
        fds[i] = h;
    }
    return 0;
}

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads bwrap's --info-fd JSON ({"child-pid": N, ...}). Returns the pid or -1 (EOF/timeout). */
static pid_t read_info_pid(int fd)
{
    char buf[1024];
    size_t len = 0;
    int64_t deadline = mono_ms() + INFO_TIMEOUT_MS;
    for (;;) {
        int64_t left = deadline - mono_ms();
        if (left <= 0)
            return -1;
        struct pollfd pfd = {fd, POLLIN, 0};
        int r = poll(&pfd, 1, (int)left);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        ssize_t n = read(fd, buf + len, sizeof buf - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        len += (size_t)n;
        buf[len] = '\0';
        cJSON *j = cJSON_Parse(buf);
        if (j) {
            const cJSON *cp = cJSON_GetObjectItemCaseSensitive(j, "child-pid");
            pid_t pid = cJSON_IsNumber(cp) ? (pid_t)cp->valuedouble : -1;
            cJSON_Delete(j);
            return pid;
        }
        if (len >= sizeof buf - 1)
            return -1;
    }
}

/* Collects whatever the child wrote on stderr (non-blocking) into msg. */
static void read_stderr(int fd, char *msg, size_t cap)
{
    size_t len = 0;
    msg[0] = '\0';
    int64_t deadline = mono_ms() + 500;
    while (len + 1 < cap) {
        struct pollfd pfd = {fd, POLLIN, 0};
        int64_t left = deadline - mono_ms();
        if (left <= 0 || poll(&pfd, 1, (int)left) <= 0)
            break;
        ssize_t n = read(fd, msg + len, cap - 1 - len);
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    msg[len] = '\0';
    while (len && (msg[len - 1] == '\n' || msg[len - 1] == '\r'))
        msg[--len] = '\0';
}

/* ---------------------------------------------------------------- spawner thread
 * bwrap --die-with-parent uses PR_SET_PDEATHSIG, which fires when the THREAD that forked the
 * child exits, not the process. Requests (and their short-lived producer threads) must not
 * take the kernel with them, so every posix_spawn happens on one process-lifetime thread. */

typedef struct spawn_req {
    const char *path;
    const posix_spawn_file_actions_t *fa;
    const posix_spawnattr_t *at;
    char *const *argv;
    char *const *envp;
    const char *cg; /* cgroup (sandbox name) the child starts in; NULL = ours */
    pid_t pid;
    int rc;
    int done;
    struct spawn_req *next;
} spawn_req;

static pthread_mutex_t sp_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t sp_cond = PTHREAD_COND_INITIALIZER;
static spawn_req *sp_head;
static pthread_once_t sp_once = PTHREAD_ONCE_INIT;
static int sp_ok;

static void *spawner_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&sp_lock);
    for (;;) {
        while (!sp_head)
            pthread_cond_wait(&sp_cond, &sp_lock);
        spawn_req *r = sp_head;
        sp_head = r->next;
        pthread_mutex_unlock(&sp_lock);
        /* the child inherits the spawning THREAD's cgroups (v1 moves single tasks) */
        pthread_mutex_lock(&g_cg_lock); /* no rmdir between prepare and spawn */
        int in_cg = r->cg && sbxpol_cgroup_prepare(r->cg) == 0 && sbxpol_cgroup_enter(r->cg) == 0;
        if (r->cg && !in_cg) /* once more: another server starting may have swept an old
                                empty group between prepare and enter (sbx_policy.c) */
            in_cg = sbxpol_cgroup_prepare(r->cg) == 0 && sbxpol_cgroup_enter(r->cg) == 0;
        if (r->cg && !in_cg)
            r->rc = errno ? errno : EPERM;
        else
            r->rc = posix_spawn(&r->pid, r->path, r->fa, r->at, r->argv, r->envp);
        if (in_cg)
            sbxpol_cgroup_leave();
        pthread_mutex_unlock(&g_cg_lock);
        pthread_mutex_lock(&sp_lock);
        r->done = 1;
        pthread_cond_broadcast(&sp_cond);
    }
    return NULL;
}

static void spawner_start(void)
{
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old); /* the spawner never handles signals */
    pthread_t th;
    sp_ok = pthread_create(&th, &at, spawner_main, NULL) == 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&at);
}

static int spawn_on_spawner(pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
                            const posix_spawnattr_t *at, char *const *argv, char *const *envp,
                            const char *cg)
{
    pthread_once(&sp_once, spawner_start);
    if (!sp_ok)
        return cg ? EAGAIN : posix_spawn(pid, path, fa, at, argv, envp);
    spawn_req r = {path, fa, at, argv, envp, cg, 0, 0, 0, NULL};
    pthread_mutex_lock(&sp_lock);
    spawn_req **pp = &sp_head;
    while (*pp)
        pp = &(*pp)->next;
    *pp = &r;
    pthread_cond_broadcast(&sp_cond);
    while (!r.done)
        pthread_cond_wait(&sp_cond, &sp_lock);
    pthread_mutex_unlock(&sp_lock);
    *pid = r.pid;
    return r.rc;
}

/* ---------------------------------------------------------------- disk quota monitor */

typedef struct dwatch {
    unsigned id;
    pid_t root; /* our direct child (bwrap) */
    char *dir;
    char cg[72];
    struct dwatch *next;
} dwatch;

typedef struct dclamp { /* a directory over quota (kept until back under it or destroyed) */
    char *dir;
    pid_t *pids; /* the processes clamped by the last pass */
    int npids;
    struct dclamp *next;
} dclamp;

static pthread_mutex_t dw_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t dw_cond;
static pthread_once_t dw_once = PTHREAD_ONCE_INIT;
static dwatch *dw_head;
static dclamp *dw_clamped;
static unsigned dw_next_id;
static int dw_kick;

static void *disk_main(void *arg);

static void dw_start(void)
{
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&dw_cond, &ca);
    pthread_condattr_destroy(&ca);
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    pthread_t th;
    if (pthread_create(&th, &at, disk_main, NULL) != 0)
        mock_log(MOCK_LOG_ERROR, "sandboxrt: cannot start the disk quota monitor");
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&at);
}

/* 1 when RLIMIT_NPROC is counted per user namespace (Linux >= 5.14, "ucounts"): set by a
 * process inside a fresh user namespace, it bounds that namespace's tasks (threads included)
 * and nothing else, so it can stand in for the pids cgroup. Older kernels count every process
 * of the host uid, which would refuse forks in a sandbox of a busy user: not used there. */
static int nproc_per_userns(void)
{
    static int cached = -1;
    int v = __atomic_load_n(&cached, __ATOMIC_RELAXED);
    if (v < 0) {
        struct utsname u;
        int major = 0, minor = 0;
        v = uname(&u) == 0 && sscanf(u.release, "%d.%d", &major, &minor) == 2 &&
            (major > 5 || (major == 5 && minor >= 14));
        __atomic_store_n(&cached, v, __ATOMIC_RELAXED);
    }
    return v;
}

const char *sbxrt_process_limit_kind(void)
{
    sbxpol_limits lim;
    sbxpol_get_limits(&lim);
    if (lim.pids <= 0)
        return "none";
    if (sbxpol_cgroup_available())
        return "cgroup";
    /* root's tasks are exempt from RLIMIT_NPROC (the sandbox uid maps to host root) */
    return geteuid() != 0 && nproc_per_userns() ? "rlimit" : "none";
}

const char *sbxrt_memory_limit_kind(void)
{
    sbxpol_limits lim;
    sbxpol_get_limits(&lim);
    if (lim.memory_bytes <= 0)
        return "none";
    return sbxpol_cgroup_available() ? "cgroup" : "rlimit";
}

static unsigned watch_add(const char *dir, const char *cg, pid_t root)
{
    pthread_once(&dw_once, dw_start);
    dwatch *w = calloc(1, sizeof *w);
    if (!w || !(w->dir = strdup(dir))) {
        free(w);
        return 0;
    }
    w->root = root;
    snprintf(w->cg, sizeof w->cg, "%s", cg ? cg : "");
    pthread_mutex_lock(&dw_lock);
    if (++dw_next_id == 0)
        dw_next_id = 1;
    w->id = dw_next_id;
    w->next = dw_head;
    dw_head = w;
    dw_kick = 1; /* measure the new directory at once */
    pthread_cond_broadcast(&dw_cond);
    pthread_mutex_unlock(&dw_lock);
    return w->id;
}

static void watch_del(unsigned id)
{
    if (!id)
        return;
    pthread_mutex_lock(&dw_lock);
    for (dwatch **pp = &dw_head; *pp; pp = &(*pp)->next) {
        if ((*pp)->id == id) {
            dwatch *w = *pp;
            *pp = w->next;
            free(w->dir);
            free(w);
            break;
        }
    }
    pthread_mutex_unlock(&dw_lock);
}

/* dw_lock held */
static dclamp **clamp_find(const char *dir)
{
    dclamp **pp = &dw_clamped;
    while (*pp && strcmp((*pp)->dir, dir))
        pp = &(*pp)->next;
    return pp;
}

static void clamp_set(const char *dir, int on)
{
    pthread_mutex_lock(&dw_lock);
    dclamp **pp = clamp_find(dir);
    if (on && !*pp) {
        dclamp *c = calloc(1, sizeof *c);
        if (c && (c->dir = strdup(dir)) != NULL) {
            *pp = c;
        } else {
            free(c);
        }
    } else if (!on && *pp) {
        dclamp *c = *pp;
        *pp = c->next;
        free(c->dir);
        free(c->pids);
        free(c);
    }
    pthread_mutex_unlock(&dw_lock);
}

/* remembers (or, pids NULL, copies out into *out) the pids clamped in dir */
static int clamp_pids(const char *dir, const pid_t *pids, int n, pid_t **out)
{
    int r = 0;
    pthread_mutex_lock(&dw_lock);
    dclamp *c = *clamp_find(dir);
    if (c && pids) {
        pid_t *np = n > 0 ? malloc((size_t)n * sizeof *np) : NULL;
        if (np || n == 0) {
            if (n > 0)
                memcpy(np, pids, (size_t)n * sizeof *np);
            free(c->pids);
            c->pids = np;
            c->npids = n;
        }
    } else if (c && out && c->npids > 0 && (*out = malloc((size_t)c->npids * sizeof **out))) {
        memcpy(*out, c->pids, (size_t)c->npids * sizeof **out);
        r = c->npids;
    }
    pthread_mutex_unlock(&dw_lock);
    return r;
}

int sbxrt_disk_clamped(const char *dir)
{
    if (!dir)
        return 0;
    pthread_mutex_lock(&dw_lock);
    int r = *clamp_find(dir) != NULL;
    pthread_mutex_unlock(&dw_lock);
    return r;
}

/* pids of one sandbox: its pids cgroup, else every descendant of the given roots (a pid
 * namespace's init reaps its orphans, so all of them stay below the outer bwrap) */
static int sandbox_pids(const char *cg, const pid_t *roots, int nroots, pid_t *out, int cap)
{
    if (cg[0]) {
        int n = sbxpol_cgroup_pids(cg, out, cap);
        if (n >= 0)
            return n;
    }
    int n = 0;
    for (int i = 0; i < nroots && n < cap; i++)
        out[n++] = roots[i];
    size_t np = 0, capp = 256;
    pid_t(*pp)[2] = malloc(capp * sizeof *pp);
    if (!pp)
        return n;
    DIR *d = opendir("/proc");
    if (!d) {
        free(pp);
        return n;
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] < '1' || e->d_name[0] > '9')
            continue;
        char path[64], buf[512];
        snprintf(path, sizeof path, "/proc/%.20s/stat", e->d_name);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        ssize_t k = read(fd, buf, sizeof buf - 1);
        close(fd);
        if (k <= 0)
            continue;
        buf[k] = '\0';
        char *rp = strrchr(buf, ')');
        char st;
        int ppid;
        if (!rp || sscanf(rp + 1, " %c %d", &st, &ppid) != 2)
            continue;
        if (np == capp) {
            void *nw = realloc(pp, 2 * capp * sizeof *pp);
            if (!nw)
                break;
            pp = nw;
            capp *= 2;
        }
        pp[np][0] = (pid_t)atoi(e->d_name);
        pp[np][1] = (pid_t)ppid;
        np++;
    }
    closedir(d);
    for (int i = 0; i < n && n < cap; i++) /* breadth-first over the parent links */
        for (size_t j = 0; j < np && n < cap; j++)
            if (pp[j][1] == out[i])
                out[n++] = pp[j][0];
    free(pp);
    return n;
}

/* Clamps (soft limit 0, hard limit kept) or restores (soft = the configured limit) one
 * process's RLIMIT_FSIZE. Only the soft limit moves: raising a hard limit back needs
 * CAP_SYS_RESOURCE, which a non-root server (or a container's root) lacks. A process that
 * raised its own soft limit while clamped (again: was clamped on an earlier pass) loses its
 * hard limit too, for good. Returns 1 when that happened. */
static int set_fsize(pid_t pid, int clamp, int again, int64_t conf)
{
    struct rlimit cur, nl;
    if (prlimit(pid, RLIMIT_FSIZE, NULL, &cur) != 0)
        return 0;
    rlim_t want = conf > 0 ? (rlim_t)conf : RLIM_INFINITY;
    nl.rlim_max = cur.rlim_max;
    int penal = 0;
    if (clamp) {
        nl.rlim_cur = 0;
        if (again && cur.rlim_cur != 0) {
            nl.rlim_max = 0;
            penal = 1;
        }
    } else {
        nl.rlim_cur = want < cur.rlim_max ? want : cur.rlim_max;
    }
    if (cur.rlim_cur != nl.rlim_cur || cur.rlim_max != nl.rlim_max)
        (void)prlimit(pid, RLIMIT_FSIZE, &nl, NULL);
    return penal;
}

typedef struct dsnap {
    char *dir;
    char cg[72];
    pid_t roots[64];
    int nroots;
} dsnap;

int sbxrt_disk_poll(void)
{
    sbxpol_limits lim;
    sbxpol_get_limits(&lim);
    /* snapshot: one entry per watched directory */
    size_t n = 0, cap = 0;
    dsnap *v = NULL;
    pthread_mutex_lock(&dw_lock);
    for (dwatch *w = dw_head; w; w = w->next) {
        size_t i = 0;
        while (i < n && strcmp(v[i].dir, w->dir))
            i++;
        if (i == n) {
            if (n == cap) {
                size_t nc = cap ? 2 * cap : 8;
                dsnap *nv = realloc(v, nc * sizeof *nv);
                if (!nv)
                    break;
                v = nv;
                cap = nc;
            }
            memset(&v[n], 0, sizeof v[n]);
            if (!(v[n].dir = strdup(w->dir)))
                break;
            n++;
        }
        if (w->cg[0])
            snprintf(v[i].cg, sizeof v[i].cg, "%s", w->cg);
        if (v[i].nroots < 64)
            v[i].roots[v[i].nroots++] = w->root;
    }
    for (dclamp *c = dw_clamped; c; c = c->next) { /* clamped but idle: may be back under */
        size_t i = 0;
        while (i < n && strcmp(v[i].dir, c->dir))
            i++;
        if (i < n)
            continue;
        if (n == cap) {
            size_t nc = cap ? 2 * cap : 8;
            dsnap *nv = realloc(v, nc * sizeof *nv);
            if (!nv)
                break;
            v = nv;
            cap = nc;
        }
        memset(&v[n], 0, sizeof v[n]);
        if (!(v[n].dir = strdup(c->dir)))
            break;
        n++;
    }
    pthread_mutex_unlock(&dw_lock);

    int nclamped = 0;
    pid_t *pids = malloc(4096 * sizeof *pids);
    for (size_t i = 0; i < n; i++) {
        int was = sbxrt_disk_clamped(v[i].dir);
        int over = 0;
        if (lim.disk_bytes > 0) {
            int fd = open(v[i].dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            if (fd < 0) { /* gone: nothing to guard */
                if (was)
                    clamp_set(v[i].dir, 0);
                free(v[i].dir);
                continue;
            }
            int64_t used = sbxpol_disk_usage(fd);
            close(fd);
            over = used < 0 || used > lim.disk_bytes;
            if (over && !was)
                mock_log(MOCK_LOG_WARN,
                         "sandboxrt: %s is over its disk quota (%lld of %lld bytes): file "
                         "writes refused until files are removed",
                         v[i].dir, (long long)used, (long long)lim.disk_bytes);
        }
        if (over || was) {
            /* while over: every pass (new processes, a soft limit raised back) */
            int np = pids && (v[i].nroots || v[i].cg[0])
                         ? sandbox_pids(v[i].cg, v[i].roots, v[i].nroots, pids, 4096)
                         : 0;
            pid_t *prev = NULL;
            int nprev = was && over ? clamp_pids(v[i].dir, NULL, 0, &prev) : 0;
            for (int j = 0; j < np; j++) {
                int again = 0; /* clamped by an earlier pass (not a new process) */
                for (int k = 0; k < nprev && !again; k++)
                    again = prev[k] == pids[j];
                if (pids[j] > 1 && pids[j] != getpid() &&
                    set_fsize(pids[j], over, again, lim.fsize_bytes))
                    mock_log(MOCK_LOG_WARN,
                             "sandboxrt: pid %d raised its file size limit over the disk "
                             "quota of %s: its hard limit is now 0",
                             (int)pids[j], v[i].dir);
            }
            free(prev);
            if (over != was)
                clamp_set(v[i].dir, over);
            if (over)
                (void)clamp_pids(v[i].dir, pids, np, NULL);
        }
        nclamped += over;
        free(v[i].dir);
    }
    free(pids);
    free(v);
    return nclamped;
}

static void *disk_main(void *arg)
{
    (void)arg;
    int64_t pause_ms = SBXRT_DISK_POLL_MS;
    for (;;) {
        pthread_mutex_lock(&dw_lock);
        while (!dw_head && !dw_clamped)
            pthread_cond_wait(&dw_cond, &dw_lock);
        if (!dw_kick) {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            ts.tv_sec += pause_ms / 1000;
            ts.tv_nsec += (pause_ms % 1000) * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&dw_cond, &dw_lock, &ts);
        }
        dw_kick = 0;
        pthread_mutex_unlock(&dw_lock);
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        (void)sbxrt_disk_poll();
        clock_gettime(CLOCK_MONOTONIC, &b);
        int64_t took = (int64_t)(b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
        pause_ms = 3 * took > SBXRT_DISK_POLL_MS ? 3 * took : SBXRT_DISK_POLL_MS;
    }
    return NULL;
}

int sbxrt_move(sbxrt_proc *p, const char *new_dir)
{
    if (!p || !new_dir)
        return -1;
    const char *b = strrchr(new_dir, '/');
    const char *name = b ? b + 1 : new_dir;
    int rc = 0;
    if (p->cg[0] && strcmp(p->cg, name)) {
        pthread_mutex_lock(&g_cg_lock);
        rc = sbxpol_cgroup_rename(p->cg, name);
        if (rc == 0)
            snprintf(p->cg, sizeof p->cg, "%s", name);
        pthread_mutex_unlock(&g_cg_lock);
        if (rc != 0)
            mock_log(MOCK_LOG_WARN, "sandboxrt: cannot rename cgroup %s to %s: %s", p->cg, name,
                     strerror(errno));
    }
    if (p->watch) {
        char *nd = strdup(new_dir);
        pthread_mutex_lock(&dw_lock);
        for (dwatch *w = dw_head; w && nd; w = w->next) {
            if (w->id == p->watch) {
                free(w->dir);
                w->dir = nd;
                nd = NULL;
                snprintf(w->cg, sizeof w->cg, "%s", p->cg);
                break;
            }
        }
        pthread_mutex_unlock(&dw_lock);
        free(nd);
    }
    return rc;
}

int sbxrt_spawn(const sbxrt_spec *spec, sbxrt_proc *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->req_fd = out->ev_fd = out->out_fd = out->err_fd = -1;
    if (!spec || !spec->dir || !spec->argv || !spec->argv[0] || spec->argv[0][0] != '/') {
        seterr(err, errlen, "invalid spawn spec");
        return -1;
    }
    int isolated = sbxrt_bwrap_available();
    if (!isolated && !sbxrt_unisolated_allowed()) {
        seterr(err, errlen,
               "bubblewrap (%s) is not available or does not work on this host; refusing to "
               "run code unisolated (set E2B_MOCK_UNISOLATED=1 to allow it)",
               BWRAP_PATH);
        return -1;
    }
    const char *cwd = spec->cwd && spec->cwd[0] ? spec->cwd : SBXRT_HOME;
    if (cwd[0] != '/') {
        seterr(err, errlen, "cwd must be an absolute path: %s", cwd);
        return -1;
    }
    char *host_cwd = sbxrt_host_path(spec->dir, cwd);
    if (host_cwd) {
        if (mock_mkdir_p(host_cwd, 0755) != 0) {
            seterr(err, errlen, "cannot create cwd %s: %s", cwd, strerror(errno));
            free(host_cwd);
            return -1;
        }
    } else if (!strncmp(cwd, SBXRT_HOME, strlen(SBXRT_HOME))) {
        seterr(err, errlen, "invalid cwd %s", cwd);
        return -1;
    }

    strvec a = {0}, env = {0};
    int secfd = -1;
    const char *cg = NULL;
    char cgname[64] = "";
    sbxpol_limits lim;
    sbxpol_get_limits(&lim);
    if (isolated) {
        /* the cgroup is named after the sandbox directory (= the sandbox id) */
        const char *b = strrchr(spec->dir, '/');
        snprintf(cgname, sizeof cgname, "%s", b ? b + 1 : spec->dir);
        if (sbxpol_cgroup_available())
            cg = cgname; /* created by the spawner thread */
        push_bwrap_base(&a);
        if (spec->allow_net)
            sv_push(&a, "--share-net");
#ifdef E2B_HAVE_SECCOMP
        secfd = sbxpol_seccomp_fd(spec->allow_net);
        if (secfd >= 0 && secfd < 10) { /* keep it clear of the child's dup2 targets 0..6 */
            int h = fcntl(secfd, F_DUPFD_CLOEXEC, 10);
            close(secfd);
            secfd = h;
        }
        if (secfd < 0) {
            seterr(err, errlen, "cannot build the seccomp filter");
            free(host_cwd);
            sv_free(&a);
            return -1;
        }
        sv_push(&a, "--seccomp");
        sv_push(&a, "6");
#endif
        sv_push(&a, "--bind");
        sv_push(&a, spec->dir);
        sv_push(&a, SBXRT_HOME);
        sv_push(&a, "--chdir");
        sv_push(&a, cwd);
        static const char *const kv[] = {"HOME",
                                         SBXRT_HOME,
                                         "PATH",
                                         "/usr/local/bin:/usr/bin:/bin",
                                         "LANG",
                                         "C.UTF-8",
                                         "MPLCONFIGDIR",
                                         "/tmp/mpl",
                                         "USER",
                                         "user",
                                         NULL};
        for (size_t i = 0; kv[i]; i += 2) {
            sv_push(&a, "--setenv");
            sv_push(&a, kv[i]);
            sv_push(&a, kv[i + 1]);
        }
        for (size_t i = 0; spec->env && spec->env[i]; i++) {
            const char *eq = strchr(spec->env[i], '=');
            if (!eq || eq == spec->env[i])
                continue;
            char *name = strndup(spec->env[i], (size_t)(eq - spec->env[i]));
            if (!name) {
                a.oom = 1;
                break;
            }
            sv_push(&a, "--setenv");
            sv_push(&a, name);
            sv_push(&a, eq + 1);
            free(name);
        }
        sv_push(&a, "--remount-ro"); /* bwrap's root tmpfs: nothing writable outside home, /tmp */
        sv_push(&a, "/");
        sv_push(&a, "--info-fd");
        sv_push(&a, "5");
        sv_push(&a, "--");
        sv_push(&env, "PATH=/usr/bin:/bin");
        /* per-process rlimits, applied inside the sandbox right before the program */
        char v[64];
        sv_push(&a, "/usr/bin/prlimit");
        sv_push(&a, "--core=0");
        if (lim.cpu_seconds > 0) {
            snprintf(v, sizeof v, "--cpu=%d", lim.cpu_seconds);
            sv_push(&a, v);
        }
        if (lim.disk_bytes > 0 && sbxrt_disk_clamped(spec->dir)) {
            /* over the disk quota: start clamped (the monitor restores it) */
            if (lim.fsize_bytes > 0)
                snprintf(v, sizeof v, "--fsize=0:%lld", (long long)lim.fsize_bytes);
            else
                snprintf(v, sizeof v, "--fsize=0:unlimited");
            sv_push(&a, v);
        } else if (lim.fsize_bytes > 0) {
            snprintf(v, sizeof v, "--fsize=%lld", (long long)lim.fsize_bytes);
            sv_push(&a, v);
        }
        if (!cg && lim.memory_bytes > 0) {
            /* no memory cgroup: RLIMIT_DATA per process. It counts private writable mappings
             * (what a memory bomb grows), not address space that is only reserved, so V8's
             * multi-GiB reservations still fit (RLIMIT_AS kept node from starting) */
            snprintf(v, sizeof v, "--data=%lld", (long long)lim.memory_bytes);
            sv_push(&a, v);
        }
        if (!cg && lim.pids > 0 && geteuid() != 0 && nproc_per_userns()) {
            /* no pids cgroup: RLIMIT_NPROC, set inside the sandbox's own user namespace, where
             * it counts the tasks of this spawn only (see nproc_per_userns) */
            snprintf(v, sizeof v, "--nproc=%d", lim.pids);
            sv_push(&a, v);
        }
        sv_push(&a, "--");
    } else {
        size_t n = strlen(spec->dir) + 6;
        char *home = malloc(n);
        if (home) {
            snprintf(home, n, "HOME=%s", spec->dir);
            sv_push(&env, home);
            free(home);
        } else {
            env.oom = 1;
        }
        sv_push(&env, "PATH=/usr/local/bin:/usr/bin:/bin");
        sv_push(&env, "LANG=C.UTF-8");
        sv_push(&env, "MPLCONFIGDIR=/tmp/e2b-mock-mpl");
        for (size_t i = 0; spec->env && spec->env[i]; i++)
            sv_push(&env, spec->env[i]);
    }
    for (size_t i = 0; spec->argv[i]; i++)
        sv_push(&a, spec->argv[i]);

    int outp[2] = {-1, -1}, errp[2] = {-1, -1}, evp[2] = {-1, -1}, reqp[2] = {-1, -1},
        infop[2] = {-1, -1};
    int rc = -1;
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    int fa_ok = 0, at_ok = 0;
    if (a.oom || env.oom) {
        seterr(err, errlen, "out of memory");
        goto done;
    }
    if (pipe_hi(outp) || pipe_hi(errp) || pipe_hi(evp) || pipe_hi(reqp) ||
        (isolated && pipe_hi(infop))) {
        seterr(err, errlen, "pipe: %s", strerror(errno));
        goto done;
    }
    posix_spawn_file_actions_init(&fa);
    fa_ok = 1;
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, outp[1], 1);
    posix_spawn_file_actions_adddup2(&fa, errp[1], 2);
    posix_spawn_file_actions_adddup2(&fa, evp[1], 3);
    posix_spawn_file_actions_adddup2(&fa, reqp[0], 4);
    if (isolated)
        posix_spawn_file_actions_adddup2(&fa, infop[1], 5);
    if (secfd >= 0)
        posix_spawn_file_actions_adddup2(&fa, secfd, 6); /* read once by bwrap */
    posix_spawn_file_actions_addclosefrom_np(&fa, isolated ? (secfd >= 0 ? 7 : 6) : 5);
    if (!isolated && host_cwd)
        posix_spawn_file_actions_addchdir_np(&fa, host_cwd);
    else if (!isolated)
        posix_spawn_file_actions_addchdir_np(&fa, cwd);

    posix_spawnattr_init(&at);
    at_ok = 1;
    sigset_t none, deflt;
    sigemptyset(&none);
    sigemptyset(&deflt);
    int defsigs[] = {SIGINT, SIGTERM, SIGPIPE, SIGHUP, SIGQUIT, SIGCHLD, SIGUSR1, SIGUSR2, SIGALRM};
    for (size_t i = 0; i < sizeof defsigs / sizeof defsigs[0]; i++)
        sigaddset(&deflt, defsigs[i]);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &deflt);
    posix_spawnattr_setflags(&at,
                             POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    pid_t pid;
    int src = spawn_on_spawner(&pid, a.v[0], &fa, &at, a.v, env.v, cg);
    if (src != 0) {
        seterr(err, errlen, "cannot start %s%s: %s", a.v[0], cg ? " in the sandbox cgroup" : "",
               strerror(src));
        goto done;
    }
    close_fd(&outp[1]);
    close_fd(&errp[1]);
    close_fd(&evp[1]);
    close_fd(&reqp[0]);
    close_fd(&infop[1]);
    out->pid = pid;
    out->isolated = isolated;
    if (cg)
        snprintf(out->cg, sizeof out->cg, "%s", cg);
    out->req_fd = reqp[1];
    out->ev_fd = evp[0];
    out->out_fd = outp[0];
    out->err_fd = errp[0];
    reqp[1] = evp[0] = outp[0] = errp[0] = -1;
    fcntl(out->ev_fd, F_SETFL, O_NONBLOCK);
    fcntl(out->out_fd, F_SETFL, O_NONBLOCK);
    fcntl(out->err_fd, F_SETFL, O_NONBLOCK);
    if (isolated) {
        pid_t child = read_info_pid(infop[0]);
        if (child <= 0) {
            char msg[512];
            read_stderr(out->err_fd, msg, sizeof msg);
            seterr(err, errlen, "bubblewrap failed to start the sandbox%s%s", msg[0] ? ": " : "",
                   msg);
            sbxrt_kill(out);
            goto done;
        }
        out->pgid = child; /* bwrap's sandbox init: --new-session made it the group leader */
        out->watch = watch_add(spec->dir, out->cg, out->pid);
    } else {
        out->pgid = pid; /* POSIX_SPAWN_SETSID */
    }
    rc = 0;
done:
    if (fa_ok)
        posix_spawn_file_actions_destroy(&fa);
    if (at_ok)
        posix_spawnattr_destroy(&at);
    close_fd(&outp[0]);
    close_fd(&outp[1]);
    close_fd(&errp[0]);
    close_fd(&errp[1]);
    close_fd(&evp[0]);
    close_fd(&evp[1]);
    close_fd(&reqp[0]);
    close_fd(&reqp[1]);
    close_fd(&infop[0]);
    close_fd(&infop[1]);
    close_fd(&secfd);
    sv_free(&a);
    sv_free(&env);
    free(host_cwd);
    return rc;
}

int sbxrt_signal(const sbxrt_proc *p, int sig)
{
    if (!p || p->pid <= 0)
        return 0;
    if (p->pgid > 0)
        return kill(-p->pgid, sig);
    return kill(p->pid, sig);
}

static void close_all(sbxrt_proc *p)
{
    close_fd(&p->req_fd);
    close_fd(&p->ev_fd);
    close_fd(&p->out_fd);
    close_fd(&p->err_fd);
}

void sbxrt_kill(sbxrt_proc *p)
{
    if (!p)
        return;
    watch_del(p->watch);
    p->watch = 0;
    pid_t pgid = p->pid > 0 ? p->pgid : 0;
    if (p->pid > 0) {
        int reaped = 0;
        if (p->pgid > 0)
            kill(-p->pgid, SIGKILL);
        if (p->isolated && p->pgid > 0 && p->pgid != p->pid) {
            /* let the outer bwrap reap its sandbox init itself (it exits when init dies):
             * killed at once, init's zombie would be orphaned to the host's pid 1, which in
             * some containers never reaps, and would keep the sandbox cgroup busy */
            for (int i = 0; i < 50; i++) {
                pid_t r = waitpid(p->pid, NULL, WNOHANG);
                if (r == p->pid) {
                    reaped = 1;
                    break;
                }
                if (r < 0 && errno != EINTR)
                    break;
                struct timespec ts = {0, 2 * 1000 * 1000};
                nanosleep(&ts, NULL);
            }
        }
        if (!reaped) {
            kill(p->pid, SIGKILL);
            if (p->pgid != p->pid)
                kill(-p->pid, SIGKILL); /* the outer bwrap's own session */
            while (waitpid(p->pid, NULL, 0) < 0 && errno == EINTR) {
            }
        }
    }
    if (p->cg[0]) { /* the sandbox's last process gone: drop its cgroups (EBUSY otherwise) */
        /* the SIGKILLed sandbox init exits asynchronously (it is not our child): give it a
         * moment so the cgroup can be empty; bounded to ~100 ms */
        for (int i = 0; i < 50 && pgid > 0 && (kill(-pgid, 0) == 0 || errno != ESRCH); i++) {
            struct timespec ts = {0, 2 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        pthread_mutex_lock(&g_cg_lock);
        sbxpol_cgroup_release(p->cg);
        pthread_mutex_unlock(&g_cg_lock);
        p->cg[0] = '\0';
    }
    close_all(p);
    p->pid = 0;
    p->pgid = 0;
}

void sbxrt_reap(sbxrt_proc *p)
{
    if (!p)
        return;
    if (p->pid <= 0) {
        watch_del(p->watch);
        p->watch = 0;
    }
    if (p->pid <= 0 && p->cg[0]) { /* reaped by the caller */
        pthread_mutex_lock(&g_cg_lock);
        sbxpol_cgroup_release(p->cg);
        pthread_mutex_unlock(&g_cg_lock);
        p->cg[0] = '\0';
    }
    if (p->pid > 0) {
        /* the program is gone; make sure nothing of the sandbox lingers, then reap */
        sbxrt_kill(p);
        return;
    }
    close_all(p);
}

int sbxrt_sandbox_destroy(const char *dir)
{
    if (!dir)
        return 0;
    const char *b = strrchr(dir, '/');
    pthread_mutex_lock(&g_cg_lock);
    int n = sbxpol_cgroup_destroy(b ? b + 1 : dir);
    pthread_mutex_unlock(&g_cg_lock);
    clamp_set(dir, 0);
    return n;
}

void sbxrt_destroy_hook(struct mock_sandbox *sbx, void *ud)
{
    (void)ud;
    int n = sbxrt_sandbox_destroy(sbx->dir);
    if (n > 0)
        mock_log(MOCK_LOG_DEBUG, "sandboxrt: %d leftover process(es) of %s killed", n, sbx->id);
}
