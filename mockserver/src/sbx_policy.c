/* sbx_policy.c - see sbx_policy.h. */
#include "sbx_policy.h"

#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifdef E2B_HAVE_SECCOMP
#include <sched.h>
#include <seccomp.h>
#endif

#include "util.h"

/* ------------------------------------------------------------------ limits */

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static sbxpol_limits g_limits = {
    (int64_t)512 << 20, 256, 3600, (int64_t)512 << 20, (int64_t)16 << 20, (int64_t)1024 << 20};

void sbxpol_default_limits(sbxpol_limits *l)
{
    l->memory_bytes = (int64_t)512 << 20;
    l->pids = 256;
    l->cpu_seconds = 3600;
    l->fsize_bytes = (int64_t)512 << 20;
    l->output_bytes = (int64_t)16 << 20;
    l->disk_bytes = (int64_t)1024 << 20;
}

static pthread_once_t g_env_once = PTHREAD_ONCE_INIT;

static int env_ll(const char *name, long long max, long long *out)
{
    const char *v = getenv(name);
    if (!v || !*v)
        return 0;
    char *end = NULL;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno || *end || x < 0 || x > max) {
        mock_log(MOCK_LOG_WARN, "sbx_policy: ignoring %s=%s (0..%lld)", name, v, max);
        return 0;
    }
    *out = x;
    return 1;
}

void sbxpol_load_env(void)
{
    sbxpol_limits l;
    sbxpol_default_limits(&l);
    long long x;
    if (env_ll("E2B_MOCK_LIMIT_MEMORY_MB", 1LL << 30, &x))
        l.memory_bytes = x << 20;
    if (env_ll("E2B_MOCK_LIMIT_PIDS", 1 << 22, &x))
        l.pids = (int)x;
    if (env_ll("E2B_MOCK_LIMIT_CPU_S", 1 << 30, &x))
        l.cpu_seconds = (int)x;
    if (env_ll("E2B_MOCK_LIMIT_FSIZE_MB", 1LL << 30, &x))
        l.fsize_bytes = x << 20;
    if (env_ll("E2B_MOCK_LIMIT_OUTPUT_MB", 1LL << 30, &x))
        l.output_bytes = x << 20;
    if (env_ll("E2B_MOCK_LIMIT_DISK_MB", 1LL << 30, &x))
        l.disk_bytes = x << 20;
    pthread_mutex_lock(&g_lock);
    g_limits = l;
    pthread_mutex_unlock(&g_lock);
}

static void env_once(void)
{
    sbxpol_load_env();
}

int64_t sbxpol_output_cap(void)
{
    sbxpol_limits l;
    sbxpol_get_limits(&l);
    return l.output_bytes;
}

int64_t sbxpol_disk_quota(void)
{
    sbxpol_limits l;
    sbxpol_get_limits(&l);
    return l.disk_bytes;
}

/* ------------------------------------------------------------------ disk usage */

#define DU_MAX_DEPTH 128

/* adds the usage below the directory open at fd (consumed); -1 when incomplete */
static int du_dir(int fd, dev_t dev, int depth, int64_t *sum)
{
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return -1;
    }
    int rc = 0;
    for (;;) {
        errno = 0; /* readdir's end vs error */
        struct dirent *e = readdir(d);
        if (!e) {
            if (errno != 0)
                rc = -1;
            break;
        }
        if (rc != 0)
            break;
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        struct stat st;
        if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
            if (errno != ENOENT) /* removed meanwhile: nothing to count */
                rc = -1;
            continue;
        }
        *sum += (int64_t)st.st_blocks * 512;
        if (!S_ISDIR(st.st_mode) || st.st_dev != dev)
            continue;
        if (depth >= DU_MAX_DEPTH) {
            rc = -1;
            break;
        }
        int cfd = openat(dirfd(d), e->d_name,
                         O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
        if (cfd < 0) {
            if (errno != ENOENT)
                rc = -1;
            continue;
        }
        rc = du_dir(cfd, dev, depth + 1, sum);
    }
    closedir(d);
    return rc;
}

int64_t sbxpol_disk_usage(int dirfd_in)
{
    int fd = openat(dirfd_in, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return -1;
    }
    int64_t sum = (int64_t)st.st_blocks * 512;
    return du_dir(fd, st.st_dev, 1, &sum) == 0 ? sum : -1;
}

void sbxpol_set_limits(const sbxpol_limits *l)
{
    pthread_once(&g_env_once, env_once); /* so a later first get does not override l */
    pthread_mutex_lock(&g_lock);
    g_limits = *l;
    pthread_mutex_unlock(&g_lock);
}

void sbxpol_get_limits(sbxpol_limits *l)
{
    pthread_once(&g_env_once, env_once);
    pthread_mutex_lock(&g_lock);
    *l = g_limits;
    pthread_mutex_unlock(&g_lock);
}

/* ------------------------------------------------------------------ seccomp */

#ifdef E2B_HAVE_SECCOMP
/* BPF bytes per variant (0 = no inet, 1 = inet), built once. */
static unsigned char *g_bpf[2];
static size_t g_bpf_len[2];
static pthread_once_t g_bpf_once = PTHREAD_ONCE_INIT;

static int build_bpf(int allow_inet, unsigned char **out, size_t *outlen)
{
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
    if (!ctx)
        return -1;
    int rc = 0;
    static const char *const denied[] = {"ptrace",
                                         "mount",
                                         "umount2",
                                         "pivot_root",
                                         "chroot",
                                         "init_module",
                                         "finit_module",
                                         "delete_module",
                                         "kexec_load",
                                         "kexec_file_load",
                                         "add_key",
                                         "request_key",
                                         "keyctl",
                                         "bpf",
                                         "perf_event_open",
                                         "unshare",
                                         "setns",
                                         "process_vm_readv",
                                         "process_vm_writev",
                                         "swapon",
                                         "swapoff",
                                         "reboot",
                                         "open_by_handle_at",
                                         "name_to_handle_at",
                                         "fsopen",
                                         "fsmount",
                                         "fsconfig",
                                         "move_mount",
                                         "open_tree",
                                         "mount_setattr",
                                         "userfaultfd",
                                         "iopl",
                                         "ioperm",
                                         "acct",
                                         "settimeofday",
                                         "clock_settime",
                                         "adjtimex",
                                         "syslog",
                                         "quotactl",
                                         "lookup_dcookie",
                                         "vhangup",
                                         NULL};
    for (size_t i = 0; denied[i] && rc == 0; i++) {
        int nr = seccomp_syscall_resolve_name(denied[i]);
        if (nr == __NR_SCMP_ERROR)
            continue; /* not on this arch */
        rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0);
    }
    /* no new namespaces through clone(2); clone3 cannot be filtered by flags: ENOSYS makes
     * glibc fall back to clone */
    if (rc == 0)
        rc = seccomp_rule_add(
            ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
            SCMP_A0(SCMP_CMP_MASKED_EQ, (scmp_datum_t)CLONE_NEWUSER, (scmp_datum_t)CLONE_NEWUSER));
    if (rc == 0)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
    /* socket(): AF_UNIX always; AF_INET/AF_INET6 only with internet access */
    for (int d = 0; d <= AF_MAX && rc == 0; d++) {
        if (d == AF_UNIX || (allow_inet && (d == AF_INET || d == AF_INET6)))
            continue;
        rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EAFNOSUPPORT), SCMP_SYS(socket), 1,
                              SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)d, 0)); /* datum_b unused */
    }
    if (rc == 0)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EAFNOSUPPORT), SCMP_SYS(socket), 1,
                              SCMP_A0(SCMP_CMP_GT, (scmp_datum_t)AF_MAX, 0));
    int fd = -1;
    if (rc == 0) {
        fd = memfd_create("e2b-seccomp-build", MFD_CLOEXEC);
        if (fd < 0 || seccomp_export_bpf(ctx, fd) != 0)
            rc = -1;
    }
    seccomp_release(ctx);
    if (rc != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    off_t len = lseek(fd, 0, SEEK_END);
    unsigned char *buf = len > 0 ? malloc((size_t)len) : NULL;
    if (!buf || pread(fd, buf, (size_t)len, 0) != len) {
        free(buf);
        close(fd);
        return -1;
    }
    close(fd);
    *out = buf;
    *outlen = (size_t)len;
    return 0;
}

static void bpf_init(void)
{
    for (int i = 0; i < 2; i++)
        if (build_bpf(i, &g_bpf[i], &g_bpf_len[i]) != 0)
            mock_log(MOCK_LOG_WARN, "sbx_policy: cannot build the seccomp filter");
}
#endif

int sbxpol_seccomp_fd(int allow_inet)
{
#ifdef E2B_HAVE_SECCOMP
    pthread_once(&g_bpf_once, bpf_init);
    int v = allow_inet ? 1 : 0;
    if (!g_bpf[v])
        return -1;
    int fd = memfd_create("e2b-seccomp", 0);
    if (fd < 0)
        return -1;
    size_t off = 0;
    while (off < g_bpf_len[v]) {
        ssize_t n = write(fd, g_bpf[v] + off, g_bpf_len[v] - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            close(fd);
            return -1;
        }
        off += (size_t)n;
    }
    lseek(fd, 0, SEEK_SET);
    return fd;
#else
    (void)allow_inet;
    return -1;
#endif
}

/* ------------------------------------------------------------------ cgroups (v1) */

#define CG_MNT "/sys/fs/cgroup"
static const char *const g_ctrls[2] = {"memory", "pids"};
static char g_own[2][512]; /* our own cgroup path per controller ("/process_api/x") */
static int g_cg_ok;
static pthread_once_t g_cg_once = PTHREAD_ONCE_INIT;

static int write_str(const char *path, const char *s)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return -1;
    ssize_t n = write(fd, s, strlen(s));
    int e = errno;
    close(fd);
    errno = e;
    return n == (ssize_t)strlen(s) ? 0 : -1;
}

static void cg_dir(char *out, size_t cap, int c, const char *name)
{
    if (name)
        snprintf(out, cap, CG_MNT "/%s%s/e2b-mock/%s", g_ctrls[c],
                 strcmp(g_own[c], "/") ? g_own[c] : "", name);
    else
        snprintf(out, cap, CG_MNT "/%s%s/e2b-mock", g_ctrls[c],
                 strcmp(g_own[c], "/") ? g_own[c] : "");
}

static void cg_init(void)
{
    const char *off = getenv("E2B_MOCK_NO_CGROUPS"); /* --no-cgroups: rlimits only */
    if (off && *off && strcmp(off, "0") != 0) {
        mock_log(MOCK_LOG_INFO, "sbx_policy: cgroups off (--no-cgroups): rlimits only");
        return;
    }
    FILE *f = fopen("/proc/self/cgroup", "re");
    if (!f)
        return;
    char line[1024];
    int found = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        char *a = strchr(line, ':');
        char *b = a ? strchr(a + 1, ':') : NULL;
        if (!b)
            continue;
        *b = '\0';
        for (int c = 0; c < 2; c++) {
            /* the controller list may be "cpu,cpuacct"; ours are alone on this host */
            if (!strcmp(a + 1, g_ctrls[c])) {
                snprintf(g_own[c], sizeof g_own[c], "%s", b + 1);
                found |= 1 << c;
            }
        }
    }
    fclose(f);
    if (found != 3)
        return;
    for (int c = 0; c < 2; c++) {
        char d[1600];
        cg_dir(d, sizeof d, c, NULL);
        /* EEXIST is not enough: another user (root) may have made it, and we then cannot
         * create sandbox groups in it nor move into them */
        if ((mkdir(d, 0755) != 0 && errno != EEXIST) || access(d, W_OK | X_OK) != 0) {
            mock_log(MOCK_LOG_WARN, "sbx_policy: no cgroup %s (%s): rlimits only", d,
                     strerror(errno));
            return;
        }
    }
    g_cg_ok = 1;
    /* a server that was SIGKILLed leaves its (then empty) sandbox groups behind: remove the
     * empty ones. Only groups older than a minute: a live server's group is empty only
     * between its creation and the spawn moving into it (milliseconds), and rmdir refuses
     * a group that has processes anyway. */
    for (int c = 0; c < 2; c++) {
        char d[1600], sub[1900];
        cg_dir(d, sizeof d, c, NULL);
        DIR *dp = opendir(d);
        if (!dp)
            continue;
        struct dirent *e;
        time_t now = time(NULL);
        int swept = 0;
        while ((e = readdir(dp))) {
            struct stat st;
            if (e->d_name[0] == '.' || e->d_type != DT_DIR)
                continue;
            snprintf(sub, sizeof sub, "%s/%s", d, e->d_name);
            if (stat(sub, &st) == 0 && now - st.st_mtime > 60 && rmdir(sub) == 0)
                swept++;
        }
        closedir(dp);
        if (swept)
            mock_log(MOCK_LOG_INFO, "sbx_policy: removed %d stale empty cgroup(s) in %s", swept, d);
    }
}

int sbxpol_cgroup_available(void)
{
    pthread_once(&g_cg_once, cg_init);
    return g_cg_ok;
}

static int valid_name(const char *n)
{
    if (!n || !*n || strlen(n) > 64 || !strcmp(n, ".") || !strcmp(n, ".."))
        return 0;
    for (const char *p = n; *p; p++)
        if (*p == '/')
            return 0;
    return 1;
}

int sbxpol_cgroup_prepare(const char *name)
{
    if (!sbxpol_cgroup_available() || !valid_name(name))
        return -1;
    sbxpol_limits l;
    sbxpol_get_limits(&l);
    char d[1600], f[1700], v[64];
    for (int c = 0; c < 2; c++) {
        cg_dir(d, sizeof d, c, name);
        if (mkdir(d, 0755) != 0 && errno != EEXIST)
            return -1;
    }
    if (l.memory_bytes > 0) {
        cg_dir(d, sizeof d, 0, name);
        snprintf(v, sizeof v, "%lld", (long long)l.memory_bytes);
        snprintf(f, sizeof f, "%s/memory.limit_in_bytes", d);
        if (write_str(f, v) != 0)
            return -1;
        snprintf(f, sizeof f, "%s/memory.memsw.limit_in_bytes", d); /* no swap escape */
        (void)write_str(f, v);
    }
    if (l.pids > 0) {
        cg_dir(d, sizeof d, 1, name);
        snprintf(v, sizeof v, "%d", l.pids);
        snprintf(f, sizeof f, "%s/pids.max", d);
        if (write_str(f, v) != 0)
            return -1;
    }
    return 0;
}

static int move_self(const char *dir)
{
    char f[1700], v[32];
    snprintf(f, sizeof f, "%s/tasks", dir);
    snprintf(v, sizeof v, "%ld", (long)syscall(SYS_gettid));
    return write_str(f, v);
}

int sbxpol_cgroup_enter(const char *name)
{
    if (!sbxpol_cgroup_available() || !valid_name(name))
        return -1;
    char d[1600];
    for (int c = 0; c < 2; c++) {
        cg_dir(d, sizeof d, c, name);
        if (move_self(d) != 0) {
            sbxpol_cgroup_leave();
            return -1;
        }
    }
    return 0;
}

void sbxpol_cgroup_leave(void)
{
    if (!g_cg_ok)
        return;
    char d[1600];
    for (int c = 0; c < 2; c++) {
        snprintf(d, sizeof d, CG_MNT "/%s%s", g_ctrls[c], strcmp(g_own[c], "/") ? g_own[c] : "");
        if (move_self(d) != 0)
            mock_log(MOCK_LOG_ERROR, "sbx_policy: cannot leave the sandbox cgroup: %s",
                     strerror(errno));
    }
}

/* Kills every pid listed in dir/cgroup.procs; returns how many were listed. */
static int kill_listed(const char *dir)
{
    char f[1700];
    snprintf(f, sizeof f, "%s/cgroup.procs", dir);
    FILE *fp = fopen(f, "re");
    if (!fp)
        return 0;
    int n = 0;
    long pid;
    while (fscanf(fp, "%ld", &pid) == 1) {
        if (pid > 1 && pid != (long)getpid()) {
            kill((pid_t)pid, SIGKILL);
            n++;
        }
    }
    fclose(fp);
    return n;
}

void sbxpol_cgroup_release(const char *name)
{
    if (!sbxpol_cgroup_available() || !valid_name(name))
        return;
    char d[1600];
    for (int c = 0; c < 2; c++) {
        cg_dir(d, sizeof d, c, name);
        (void)rmdir(d);
    }
}

int sbxpol_cgroup_count(const char *name)
{
    if (!sbxpol_cgroup_available() || !valid_name(name))
        return -1;
    char d[1600], f[1700];
    cg_dir(d, sizeof d, 1, name);
    snprintf(f, sizeof f, "%s/cgroup.procs", d);
    FILE *fp = fopen(f, "re");
    if (!fp)
        return -1;
    int n = 0;
    long pid;
    while (fscanf(fp, "%ld", &pid) == 1)
        n++;
    fclose(fp);
    return n;
}

int sbxpol_cgroup_pids(const char *name, pid_t *out, int cap)
{
    if (!sbxpol_cgroup_available() || !valid_name(name))
        return -1;
    char d[1600], f[1700];
    cg_dir(d, sizeof d, 1, name);
    snprintf(f, sizeof f, "%s/cgroup.procs", d);
    FILE *fp = fopen(f, "re");
    if (!fp)
        return -1;
    int n = 0;
    long pid;
    while (n < cap && fscanf(fp, "%ld", &pid) == 1)
        out[n++] = (pid_t)pid;
    fclose(fp);
    return n;
}

int sbxpol_cgroup_rename(const char *from, const char *to)
{
    if (!sbxpol_cgroup_available() || !valid_name(from) || !valid_name(to)) {
        errno = EINVAL;
        return -1;
    }
    char a[1600], b[1600];
    struct stat sb;
    for (int c = 0; c < 2; c++) {
        cg_dir(b, sizeof b, c, to);
        if (stat(b, &sb) == 0) {
            errno = EEXIST;
            return -1;
        }
    }
    int rc = 0;
    for (int c = 0; c < 2; c++) {
        cg_dir(a, sizeof a, c, from);
        cg_dir(b, sizeof b, c, to);
        if (rename(a, b) != 0 && errno != ENOENT)
            rc = -1;
    }
    return rc;
}

int sbxpol_cgroup_destroy(const char *name)
{
    if (!sbxpol_cgroup_available() || !valid_name(name))
        return 0;
    int killed = 0;
    char d[1600];
    for (int c = 0; c < 2; c++) {
        cg_dir(d, sizeof d, c, name);
        struct stat sb;
        if (stat(d, &sb) != 0)
            continue;
        /* kill until empty: a fork racing the first pass shows up in the next one (the pids
         * cgroup freezes nothing, but SIGKILL'd parents cannot fork again) */
        for (int i = 0; i < 200; i++) {
            int n = kill_listed(d);
            if (i == 0)
                killed += n;
            if (rmdir(d) == 0 || errno == ENOENT)
                break;
            struct timespec ts = {0, 5 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
    return killed;
}

/* ------------------------------------------------------------------ runtime dir, /etc masks */

static char g_rt[64];
static pthread_once_t g_rt_once = PTHREAD_ONCE_INIT;
static char **g_masks;
static unsigned char *g_mask_dir;
static size_t g_nmasks, g_capmasks;

static pid_t g_rt_owner;

static void rt_cleanup(void)
{
    if (!g_rt[0] || getpid() != g_rt_owner)
        return; /* a forked child exiting: not ours */
    static const char *const files[] = {"passwd", "group", "empty", NULL};
    char p[128];
    for (size_t i = 0; files[i]; i++) {
        snprintf(p, sizeof p, "%s/%s", g_rt, files[i]);
        unlink(p);
    }
    snprintf(p, sizeof p, "%s/emptydir", g_rt);
    rmdir(p);
    rmdir(g_rt);
    for (size_t i = 0; i < g_nmasks; i++)
        free(g_masks[i]);
    free(g_masks);
    free(g_mask_dir);
    g_masks = NULL;
    g_mask_dir = NULL;
}

static int write_file(const char *dir, const char *name, const char *content)
{
    char p[128];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    int fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0444);
    if (fd < 0)
        return -1;
    size_t len = strlen(content);
    ssize_t n = len ? write(fd, content, len) : 0;
    close(fd);
    return n == (ssize_t)len ? 0 : -1;
}

static int add_mask(const char *path, int is_dir)
{
    if (g_nmasks + 2 > g_capmasks) {
        size_t cap = g_capmasks ? g_capmasks * 2 : 16;
        char **nm = realloc(g_masks, cap * sizeof *nm);
        if (!nm)
            return -1;
        g_masks = nm;
        unsigned char *nd = realloc(g_mask_dir, cap);
        if (!nd)
            return -1;
        g_mask_dir = nd;
        g_capmasks = cap;
    }
    g_masks[g_nmasks] = strdup(path);
    if (!g_masks[g_nmasks])
        return -1;
    g_mask_dir[g_nmasks] = (unsigned char)is_dir;
    g_nmasks++;
    g_masks[g_nmasks] = NULL;
    return 0;
}

static int etc_walk(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)ftw;
    if (type == FTW_SL || type == FTW_SLN)
        return FTW_CONTINUE;
    if (type == FTW_DNR || ((type == FTW_D || type == FTW_F) && !(sb->st_mode & S_IROTH))) {
        int is_dir = type != FTW_F;
        if (type == FTW_F && !S_ISREG(sb->st_mode))
            return FTW_CONTINUE; /* fifos, sockets */
        add_mask(path, is_dir);
        return is_dir ? FTW_SKIP_SUBTREE : FTW_CONTINUE;
    }
    return FTW_CONTINUE;
}

static void rt_init(void)
{
    char tmpl[] = "/tmp/e2b-mock-rt-XXXXXX";
    if (!mkdtemp(tmpl)) {
        mock_log(MOCK_LOG_WARN, "sbx_policy: cannot create the runtime dir: %s", strerror(errno));
        return;
    }
    chmod(tmpl, 0755);
    char passwd[512], group[256], p[128];
    snprintf(passwd, sizeof passwd,
             "root:x:0:0:root:/root:/usr/sbin/nologin\n"
             "user:x:%d:%d:user:/home/user:/bin/bash\n"
             "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
             SBXPOL_UID, SBXPOL_UID);
    snprintf(group, sizeof group, "root:x:0:\nuser:x:%d:\nnogroup:x:65534:\n", SBXPOL_UID);
    snprintf(p, sizeof p, "%s/emptydir", tmpl);
    if (write_file(tmpl, "passwd", passwd) || write_file(tmpl, "group", group) ||
        write_file(tmpl, "empty", "") || mkdir(p, 0555)) {
        mock_log(MOCK_LOG_WARN, "sbx_policy: cannot fill the runtime dir %s", tmpl);
        snprintf(g_rt, sizeof g_rt, "%s", tmpl);
        g_rt_owner = getpid();
        rt_cleanup();
        g_rt[0] = '\0';
        return;
    }
    snprintf(g_rt, sizeof g_rt, "%s", tmpl);
    g_rt_owner = getpid();
    nftw("/etc", etc_walk, 16, FTW_PHYS | FTW_MOUNT | FTW_ACTIONRETVAL);
    atexit(rt_cleanup);
}

const char *sbxpol_runtime_dir(void)
{
    pthread_once(&g_rt_once, rt_init);
    return g_rt[0] ? g_rt : NULL;
}

const char *const *sbxpol_etc_masks(const unsigned char **is_dir)
{
    static const char *const none[] = {NULL};
    static const unsigned char nodir[1] = {0};
    if (!sbxpol_runtime_dir() || !g_masks) {
        if (is_dir)
            *is_dir = nodir;
        return none;
    }
    if (is_dir)
        *is_dir = g_mask_dir;
    return (const char *const *)g_masks;
}
