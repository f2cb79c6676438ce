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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_limits_env),
        cmocka_unit_test(test_seccomp_fd),
        cmocka_unit_test(test_runtime_and_masks),
        cmocka_unit_test(test_cgroup_lifecycle),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
