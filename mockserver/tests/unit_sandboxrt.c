/* unit_sandboxrt: the refusal path when bubblewrap is unusable (E2B_MOCK_BWRAP points at a
 * missing binary), explicit unisolated mode, host path mapping, and signals/kill/reap. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sandboxrt.h"
#include "util.h"

static void test_host_path(void **state)
{
    (void)state;
    char *p = sbxrt_host_path("/srv/s1", "/home/user");
    assert_string_equal(p, "/srv/s1");
    free(p);
    p = sbxrt_host_path("/srv/s1", "/home/user/a/b");
    assert_string_equal(p, "/srv/s1/a/b");
    free(p);
    assert_null(sbxrt_host_path("/srv/s1", "/home/username"));
    assert_null(sbxrt_host_path("/srv/s1", "/tmp"));
    assert_null(sbxrt_host_path("/srv/s1", "/home/user/../etc"));
    assert_null(sbxrt_host_path("/srv/s1", "/home/user/a/.."));
    p = sbxrt_host_path("/srv/s1", "/home/user/..x");
    assert_string_equal(p, "/srv/s1/..x"); /* a name starting with dots is fine */
    free(p);
}

/* reads fd until EOF (or 10 s) into buf */
static size_t read_all(int fd, char *buf, size_t cap)
{
    size_t len = 0;
    for (;;) {
        struct pollfd pfd = {fd, POLLIN, 0};
        if (poll(&pfd, 1, 10000) <= 0)
            break;
        ssize_t n = read(fd, buf + len, cap - 1 - len);
        if (n < 0 && errno == EAGAIN)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    buf[len] = '\0';
    return len;
}

static void test_refuses_without_bwrap_then_unisolated(void **state)
{
    (void)state;
    /* must run before anything probes bubblewrap in this process */
    setenv("E2B_MOCK_BWRAP", "/nonexistent/bwrap", 1);
    unsetenv("E2B_MOCK_UNISOLATED");
    assert_int_equal(sbxrt_bwrap_available(), 0);
    char dir[] = "/tmp/e2b-unit-sbxrt-XXXXXX";
    assert_non_null(mkdtemp(dir));
    const char *argv[] = {"/usr/bin/sh", "-c", "echo \"out:$HOME:$(pwd)\"; echo ev >&3", NULL};
    sbxrt_spec spec = {dir, "/home/user/sub", argv, NULL, 0};
    sbxrt_proc p;
    char err[512] = "";
    assert_int_equal(sbxrt_spawn(&spec, &p, err, sizeof err), -1);
    assert_non_null(strstr(err, "/nonexistent/bwrap"));
    assert_non_null(strstr(err, "E2B_MOCK_UNISOLATED"));

    if (access("/usr/bin/sh", X_OK) != 0) {
        mock_rm_rf(dir);
        skip();
    }
    sbxrt_set_unisolated(1);
    const char *env[] = {"EXTRA=1", NULL};
    spec.env = env;
    assert_int_equal(sbxrt_spawn(&spec, &p, err, sizeof err), 0);
    assert_int_equal(p.isolated, 0);
    assert_true(p.pid > 0 && p.pgid == p.pid);
    char buf[1024];
    read_all(p.out_fd, buf, sizeof buf);
    char expect[600];
    snprintf(expect, sizeof expect, "out:%s:%s/sub\n", dir, dir);
    assert_string_equal(buf, expect);
    read_all(p.ev_fd, buf, sizeof buf);
    assert_string_equal(buf, "ev\n");
    sbxrt_reap(&p);
    assert_int_equal(p.pid, 0);
    assert_int_equal(p.ev_fd, -1);

    /* SIGINT reaches the process group; kill is idempotent */
    const char *argv2[] = {"/usr/bin/sh", "-c",
                           "trap 'echo int >&3; exit 0' INT; "
                           "echo ready >&3; while :; do sleep 0.05; done",
                           NULL};
    spec.argv = argv2;
    assert_int_equal(sbxrt_spawn(&spec, &p, err, sizeof err), 0);
    struct pollfd pfd = {p.ev_fd, POLLIN, 0};
    assert_int_equal(poll(&pfd, 1, 10000), 1);
    ssize_t n = read(p.ev_fd, buf, sizeof buf - 1);
    assert_true(n > 0);
    assert_int_equal(sbxrt_signal(&p, SIGINT), 0);
    read_all(p.ev_fd, buf, sizeof buf);
    assert_string_equal(buf, "int\n");
    sbxrt_kill(&p);
    sbxrt_kill(&p);
    assert_int_equal(sbxrt_signal(&p, SIGINT), 0); /* stale proc: no-op */
    sbxrt_set_unisolated(0);
    mock_rm_rf(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_host_path),
        cmocka_unit_test(test_refuses_without_bwrap_then_unisolated),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
