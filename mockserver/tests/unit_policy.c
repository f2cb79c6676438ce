/* unit_policy.c - sbx_policy: limits from the environment, the seccomp BPF memfd, /etc masks,
 * the runtime passwd, and per-sandbox cgroups (skipped where cgroups are not writable). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sandboxrt.h"
#include "sbx_policy.h"

static void test_limits_env(void **state)
{
    (void)state;
    sbxpol_limits d;
    sbxpol_default_limits(&d);
    assert_true(d.memory_bytes > 0 && d.pids > 0 && d.cpu_seconds > 0 && d.fsize_bytes > 0 &&
                d.output_bytes > 0);
    setenv("E2B_MOCK_LIMIT_MEMORY_MB", "64", 1);
    setenv("E2B_MOCK_LIMIT_PIDS", "7", 1);
    setenv("E2B_MOCK_LIMIT_CPU_S", "bogus", 1); /* ignored: default kept */
    setenv("E2B_MOCK_LIMIT_OUTPUT_MB", "0", 1); /* 0 = none */
    sbxpol_load_env();
    sbxpol_limits l;
    sbxpol_get_limits(&l);
    assert_int_equal(l.memory_bytes, 64LL << 20);
    assert_int_equal(l.pids, 7);
    assert_int_equal(l.cpu_seconds, d.cpu_seconds);
    assert_int_equal(l.output_bytes, 0);
    assert_int_equal(sbxpol_output_cap(), 0);
    l.output_bytes = 1234;
    sbxpol_set_limits(&l);
    assert_int_equal(sbxpol_output_cap(), 1234);
    unsetenv("E2B_MOCK_LIMIT_MEMORY_MB");
    unsetenv("E2B_MOCK_LIMIT_PIDS");
    unsetenv("E2B_MOCK_LIMIT_CPU_S");
    unsetenv("E2B_MOCK_LIMIT_OUTPUT_MB");
    sbxpol_load_env();
    sbxpol_get_limits(&l);
    assert_int_equal(l.pids, d.pids);
}

static void test_seccomp_fd(void **state)
{
    (void)state;
#ifdef E2B_HAVE_SECCOMP
    for (int inet = 0; inet < 2; inet++) {
        int fd = sbxpol_seccomp_fd(inet);
        assert_true(fd >= 0);
        assert_int_equal(fcntl(fd, F_GETFD) & FD_CLOEXEC, 0); /* bwrap must inherit it */
        assert_int_equal(lseek(fd, 0, SEEK_CUR), 0);
        off_t len = lseek(fd, 0, SEEK_END);
        assert_true(len > 0 && len % 8 == 0); /* struct sock_filter = 8 bytes */
        close(fd);
    }
    /* the inet variant has fewer socket() denials: a different program */
    int a = sbxpol_seccomp_fd(0), b = sbxpol_seccomp_fd(1);
    assert_int_not_equal(lseek(a, 0, SEEK_END), lseek(b, 0, SEEK_END));
    close(a);
    close(b);
#else
    assert_int_equal(sbxpol_seccomp_fd(0), -1);
#endif
}

static void test_runtime_and_masks(void **state)
{
    (void)state;
    const char *rt = sbxpol_runtime_dir();
    assert_non_null(rt);
    char p[256], buf[512];
    snprintf(p, sizeof p, "%s/passwd", rt);
    FILE *f = fopen(p, "r");
    assert_non_null(f);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    assert_non_null(strstr(buf, "user:x:1000:1000:user:/home/user:"));
    snprintf(p, sizeof p, "%s/empty", rt);
    struct stat sb;
    assert_int_equal(stat(p, &sb), 0);
    assert_int_equal(sb.st_size, 0);
    const unsigned char *is_dir = NULL;
    const char *const *m = sbxpol_etc_masks(&is_dir);
    assert_non_null(m);
    int shadow = 0;
    for (size_t i = 0; m[i]; i++) {
        assert_int_equal(strncmp(m[i], "/etc/", 5), 0);
        assert_int_equal(stat(m[i], &sb), 0);
        assert_int_equal(sb.st_mode & S_IROTH, 0); /* only non-world-readable entries */
        assert_int_equal(is_dir[i] != 0, S_ISDIR(sb.st_mode) != 0);
        if (!strcmp(m[i], "/etc/shadow"))
            shadow = 1;
    }
    if (stat("/etc/shadow", &sb) == 0 && !(sb.st_mode & S_IROTH))
        assert_true(shadow);
}

static void test_cgroup_lifecycle(void **state)
{
    (void)state;
    if (geteuid() != 0 || !sbxpol_cgroup_available())
        skip();
    char name[64];
    snprintf(name, sizeof name, "e2b-unit-policy-%d", (int)getpid());
    assert_int_equal(sbxpol_cgroup_prepare("../escape"), -1); /* names are one component */
    assert_int_equal(sbxpol_cgroup_prepare(name), 0);
    assert_int_equal(sbxpol_cgroup_prepare(name), 0); /* idempotent */
    assert_int_equal(sbxpol_cgroup_count(name), 0);
    /* a child forked while this thread is in the cgroup lands there, and its own
     * double-forked orphan too; destroy kills both */
    assert_int_equal(sbxpol_cgroup_enter(name), 0);
    pid_t pid = fork();
    if (pid == 0) {
        if (fork() == 0) {
            setsid();
            execl("/bin/sleep", "sleep", "300", (char *)NULL);
            _exit(127);
        }
        execl("/bin/sleep", "sleep", "300", (char *)NULL);
        _exit(127);
    }
    sbxpol_cgroup_leave();
    assert_true(pid > 0);
    int cnt = 0;
    for (int i = 0; i < 200 && (cnt = sbxpol_cgroup_count(name)) < 2; i++)
        usleep(10000);
    assert_int_equal(cnt, 2);
    int st = 0;
    /* our child is killed by destroy; reap it concurrently-safe afterwards */
    int killed = sbxpol_cgroup_destroy(name);
    assert_true(killed >= 2);
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    assert_int_equal(sbxpol_cgroup_count(name), -1); /* removed */
    sbxpol_cgroup_release(name);                     /* no-op on a missing cgroup */
}

static void rm_tree(const char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static void write_file(const char *path, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    char buf[4096];
    memset(buf, 1, sizeof buf);
    for (size_t i = 0; i < len; i += sizeof buf)
        assert_int_equal(fwrite(buf, 1, sizeof buf, f), sizeof buf);
    assert_int_equal(fclose(f), 0);
}

static void test_disk_usage(void **state)
{
    (void)state;
    char dir[] = "/tmp/e2b-unit-du-XXXXXX", p[600];
    assert_non_null(mkdtemp(dir));
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    assert_true(fd >= 0);
    int64_t empty = sbxpol_disk_usage(fd);
    assert_true(empty >= 0 && empty < 64 * 1024);
    snprintf(p, sizeof p, "%s/a", dir);
    assert_int_equal(mkdir(p, 0755), 0);
    snprintf(p, sizeof p, "%s/a/one-mib", dir);
    write_file(p, 1 << 20);
    snprintf(p, sizeof p, "%s/usr", dir);
    assert_int_equal(symlink("/usr", p), 0); /* not followed */
    snprintf(p, sizeof p, "%s/sparse", dir);
    int sfd = open(p, O_WRONLY | O_CREAT, 0644);
    assert_true(sfd >= 0);
    assert_int_equal(ftruncate(sfd, (off_t)1 << 30), 0); /* 1 GiB apparent, no blocks */
    close(sfd);
    int64_t used = sbxpol_disk_usage(fd);
    assert_true(used >= (1 << 20) && used < (2 << 20));
    /* deeper than the walk goes: unmeasurable (callers count it as full) */
    assert_int_equal(chdir(dir), 0);
    for (int i = 0; i < 140; i++) {
        assert_int_equal(mkdir("d", 0755), 0);
        assert_int_equal(chdir("d"), 0);
    }
    assert_int_equal(chdir("/"), 0);
    assert_int_equal(sbxpol_disk_usage(fd), -1);
    close(fd);
    rm_tree(dir);
    assert_int_equal(sbxpol_disk_usage(-1), -1);
}

static void test_cgroup_rename(void **state)
{
    (void)state;
    if (geteuid() != 0 || !sbxpol_cgroup_available())
        skip();
    char a[64], b[64];
    snprintf(a, sizeof a, "e2b-unit-ren-a-%d", (int)getpid());
    snprintf(b, sizeof b, "e2b-unit-ren-b-%d", (int)getpid());
    assert_int_equal(sbxpol_cgroup_prepare(a), 0);
    assert_int_equal(sbxpol_cgroup_prepare(b), 0);
    errno = 0;
    assert_int_equal(sbxpol_cgroup_rename(a, b), -1); /* never onto an existing one */
    assert_int_equal(errno, EEXIST);
    assert_int_equal(sbxpol_cgroup_destroy(b), 0);
    assert_int_equal(sbxpol_cgroup_enter(a), 0);
    pid_t pid = fork();
    if (pid == 0) {
        execl("/bin/sleep", "sleep", "300", (char *)NULL);
        _exit(127);
    }
    sbxpol_cgroup_leave();
    assert_true(pid > 0);
    assert_int_equal(sbxpol_cgroup_rename(a, "../x"), -1);
    assert_int_equal(sbxpol_cgroup_rename(a, b), 0);
    assert_int_equal(sbxpol_cgroup_count(a), -1);
    assert_int_equal(sbxpol_cgroup_count(b), 1); /* the process moved with it */
    pid_t got = 0;
    assert_int_equal(sbxpol_cgroup_pids(b, &got, 1), 1);
    assert_int_equal(got, pid);
    assert_int_equal(sbxpol_cgroup_destroy(b), 1);
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_int_equal(sbxpol_cgroup_count(b), -1);
}

static long soft_fsize(pid_t pid)
{
    struct rlimit r;
    if (prlimit(pid, RLIMIT_FSIZE, NULL, &r) != 0)
        return -2;
    return r.rlim_cur == RLIM_INFINITY ? -1 : (long)r.rlim_cur;
}

/* The disk monitor clamps a sandboxed process's soft RLIMIT_FSIZE to 0 while its directory
 * is over quota and restores the configured limit once it is back under. */
static void test_disk_monitor_clamps(void **state)
{
    (void)state;
    if (!sbxrt_bwrap_available())
        skip();
    sbxpol_limits saved, l;
    sbxpol_get_limits(&saved);
    l = saved;
    l.disk_bytes = (int64_t)4 << 20;
    l.fsize_bytes = (int64_t)8 << 20;
    sbxpol_set_limits(&l);
    char dir[] = "/tmp/e2b-unit-dq-XXXXXX", p[600];
    assert_non_null(mkdtemp(dir));
    const char *argv[] = {"/bin/sleep", "300", NULL};
    sbxrt_spec spec = {dir, NULL, argv, NULL, 0};
    sbxrt_proc proc;
    char err[256];
    if (sbxrt_spawn(&spec, &proc, err, sizeof err) != 0)
        fail_msg("spawn: %s", err);
    /* the program: the child of bwrap's sandbox init (proc.pgid) */
    pid_t inner = 0;
    for (int i = 0; i < 300 && inner <= 0; i++) {
        char cp[128];
        snprintf(cp, sizeof cp, "/proc/%d/task/%d/children", (int)proc.pgid, (int)proc.pgid);
        FILE *cf = fopen(cp, "re");
        int c = 0;
        if (cf && fscanf(cf, "%d", &c) == 1)
            inner = (pid_t)c;
        if (cf)
            fclose(cf);
        if (inner <= 0 || soft_fsize(inner) != 8 << 20) { /* until prlimit has exec'd */
            inner = 0;
            usleep(10000);
        }
    }
    assert_true(inner > 0);
    assert_int_equal(sbxrt_disk_poll(), 0);
    assert_int_equal(soft_fsize(inner), 8 << 20);
    snprintf(p, sizeof p, "%s/big", dir);
    write_file(p, 6 << 20); /* the server side writes past the quota */
    assert_int_equal(sbxrt_disk_poll(), 1);
    assert_true(sbxrt_disk_clamped(dir));
    assert_int_equal(soft_fsize(inner), 0);
    /* a spawn meanwhile starts clamped */
    const char *argv2[] = {"/bin/sh", "-c", "head -c 100000 /dev/zero > f2; echo rc=$?", NULL};
    sbxrt_spec spec2 = {dir, NULL, argv2, NULL, 0};
    sbxrt_proc p2;
    assert_int_equal(sbxrt_spawn(&spec2, &p2, err, sizeof err), 0);
    char out[256] = "";
    size_t n = 0;
    for (int i = 0; i < 500 && !strchr(out, '\n'); i++) {
        ssize_t k = read(p2.out_fd, out + n, sizeof out - 1 - n);
        if (k > 0)
            n += (size_t)k;
        out[n] = '\0';
        usleep(10000);
    }
    assert_non_null(strstr(out, "rc=153")); /* head killed by SIGXFSZ (128 + 25) */
    sbxrt_kill(&p2);
    assert_int_equal(unlink(p), 0);
    assert_int_equal(sbxrt_disk_poll(), 0);
    assert_false(sbxrt_disk_clamped(dir));
    assert_int_equal(soft_fsize(inner), 8 << 20); /* restored */
    sbxrt_kill(&proc);
    (void)sbxrt_sandbox_destroy(dir);
    rm_tree(dir);
    sbxpol_set_limits(&saved);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_limits_env),          cmocka_unit_test(test_seccomp_fd),
        cmocka_unit_test(test_runtime_and_masks),   cmocka_unit_test(test_cgroup_lifecycle),
        cmocka_unit_test(test_disk_usage),          cmocka_unit_test(test_cgroup_rename),
        cmocka_unit_test(test_disk_monitor_clamps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
