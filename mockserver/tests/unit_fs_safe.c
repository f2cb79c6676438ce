/* unit_fs_safe.c - sandbox path confinement: lexical mapping, hostile paths and symlinks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs_safe.h"

/* An escape attempt fails with EXDEV under openat2; the fallback walk refuses the symlink
 * itself (ELOOP / ENOTDIR). */
#define assert_escape(r)                                                 \
    do {                                                                 \
        int r_ = (r);                                                    \
        if (fs_using_openat2())                                          \
            assert_int_equal(r_, -EXDEV);                                \
        else                                                             \
            assert_true(r_ == -ELOOP || r_ == -ENOTDIR || r_ == -EXDEV); \
    } while (0)

typedef struct {
    char root[256];    /* the sandbox dir */
    char outside[300]; /* a dir outside it with a canary file */
    int rootfd;
} fx;

static void put(const char *path, const char *data)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(data, f);
    fclose(f);
}

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    snprintf(f->root, sizeof f->root, "/tmp/fs_safe_XXXXXX");
    assert_non_null(mkdtemp(f->root));
    snprintf(f->outside, sizeof f->outside, "%s.outside", f->root);
    assert_int_equal(mkdir(f->outside, 0755), 0);
    char p[600];
    snprintf(p, sizeof p, "%s/canary", f->outside);
    put(p, "canary");
    assert_int_equal(chdir(f->root), 0);
    put("a.txt", "hello");
    assert_int_equal(chmod("a.txt", 0644), 0);
    assert_int_equal(mkdir("sub", 0755), 0);
    assert_int_equal(symlink("/", "evil"), 0);               /* absolute, to the host root */
    assert_int_equal(symlink("../../../../..", "evil2"), 0); /* relative climb */
    assert_int_equal(symlink("c2", "c1"), 0);                /* chain ending outside */
    assert_int_equal(symlink("/etc", "c2"), 0);
    assert_int_equal(symlink("a.txt", "in"), 0);     /* stays inside */
    assert_int_equal(symlink("sub", "d"), 0);        /* dir link inside */
    assert_int_equal(symlink(f->outside, "out"), 0); /* to the canary dir */
    snprintf(p, sizeof p, "%s/newfile", f->outside);
    assert_int_equal(symlink(p, "dangling_out"), 0); /* would create outside */
    assert_int_equal(chdir("/"), 0);
    f->rootfd = fs_root_open(f->root);
    assert_true(f->rootfd >= 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    fs_force_fallback(false);
    close(f->rootfd);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s'", f->root, f->outside);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static void expect_rel(const char *in, const char *want)
{
    char out[FS_PATH_MAX];
    int n = fs_rel_path(in, strlen(in), out, sizeof out);
    if (n < 0)
        fail_msg("fs_rel_path(%s) = %d, want \"%s\"", in, n, want);
    assert_string_equal(out, want);
    assert_int_equal((size_t)n, strlen(want));
}

static void expect_rel_err(const char *in, size_t len, int err)
{
    char out[FS_PATH_MAX];
    int n = fs_rel_path(in, len, out, sizeof out);
    if (n != err)
        fail_msg("fs_rel_path(%.*s) = %d, want %d", (int)len, in, n, err);
}

static void test_rel_path(void **state)
{
    (void)state;
    expect_rel("/home/user", "");
    expect_rel("/home/user/", "");
    expect_rel("/home//user/./", "");
    expect_rel(".", "");
    expect_rel("/home/user/a/b.txt", "a/b.txt");
    expect_rel("a.txt", "a.txt");
    expect_rel("./a//b/", "a/b");
    expect_rel("a/../b", "b");
    expect_rel("/home/user/../user/x", "x");
    expect_rel("/../home/user/x", "x"); /* "/.." is "/" */
    expect_rel("...", "...");           /* a legal name */
    expect_rel("a/..b/c..", "a/..b/c..");

    expect_rel_err("/etc/passwd", 11, -EXDEV);
    expect_rel_err("/home/userx", 11, -EXDEV);
    expect_rel_err("/home", 5, -EXDEV);
    expect_rel_err("/", 1, -EXDEV);
    expect_rel_err("/tmp/x", 6, -EXDEV);
    expect_rel_err("/home/user/..", 13, -EXDEV);
    expect_rel_err("../../etc/passwd", 16, -EXDEV);
    expect_rel_err("/home/user/../../etc/passwd", 27, -EXDEV);
    expect_rel_err("a/../../x", 9, -EXDEV);
    expect_rel_err("..", 2, -EXDEV);
    expect_rel_err("", 0, -EINVAL);
    expect_rel_err("a.txt\0/../../etc/passwd", 23, -EINVAL); /* embedded NUL */

    char *lng = malloc(FS_PATH_MAX + 10);
    memset(lng, 'a', FS_PATH_MAX + 9);
    for (int i = 100; i < FS_PATH_MAX + 9; i += 100)
        lng[i] = '/';
    expect_rel_err(lng, FS_PATH_MAX + 9, -ENAMETOOLONG);
    memset(lng, 'b', NAME_MAX + 1); /* one component over NAME_MAX */
    expect_rel_err(lng, NAME_MAX + 1, -ENAMETOOLONG);
    expect_rel_err(lng, NAME_MAX, 255); /* exactly NAME_MAX is fine */
    free(lng);

    char small[8];
    assert_int_equal(fs_rel_path("abcdefgh", 8, small, sizeof small), -ENAMETOOLONG);
    assert_int_equal(fs_rel_path("abcdefg", 7, small, sizeof small), 7);

    char vis[64];
    assert_int_equal(fs_visible_path("", vis, sizeof vis), 10);
    assert_string_equal(vis, "/home/user");
    fs_visible_path("a/b", vis, sizeof vis);
    assert_string_equal(vis, "/home/user/a/b");
    assert_int_equal(fs_visible_path("a/b", vis, 8), -ENAMETOOLONG);
}

static void read_all(int fd, char *buf, size_t cap)
{
    ssize_t n = read(fd, buf, cap - 1);
    assert_true(n >= 0);
    buf[n] = '\0';
}

static void check_symlink_confinement(fx *f, bool fallback)
{
    fs_force_fallback(fallback);
    static const char *hostile[] = {
        "evil/etc/passwd", "evil", "evil2/etc/passwd", "evil2",
        "c1/passwd",       "c1",   "out/canary",       "sub/../evil/etc/hostname"};
    for (size_t i = 0; i < sizeof hostile / sizeof hostile[0]; i++) {
        int fd = fs_open(f->rootfd, hostile[i], O_RDONLY, 0);
        if (fd >= 0)
            fail_msg("%s opened (fallback=%d)", hostile[i], fallback);
        assert_escape(fd);
    }
    /* creating through a dangling symlink that points outside must not create anything */
    int fd = fs_open(f->rootfd, "dangling_out", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd < 0);
    char p[600];
    snprintf(p, sizeof p, "%s/newfile", f->outside);
    assert_int_equal(access(p, F_OK), -1);
    /* writing through a dir symlink to outside */
    fd = fs_open(f->rootfd, "out/canary", O_WRONLY | O_TRUNC, 0);
    assert_true(fd < 0);

    /* ordinary files open */
    char buf[64];
    fd = fs_open(f->rootfd, "a.txt", O_RDONLY, 0);
    assert_true(fd >= 0);
    read_all(fd, buf, sizeof buf);
    assert_string_equal(buf, "hello");
    close(fd);
    fd = fs_open(f->rootfd, "", O_RDONLY | O_DIRECTORY, 0);
    assert_true(fd >= 0);
    close(fd);
    fd = fs_open(f->rootfd, "missing", O_RDONLY, 0);
    assert_int_equal(fd, -ENOENT);
}

static void test_confinement_openat2(void **state)
{
    fx *f = *state;
    if (!fs_using_openat2())
        skip(); /* e.g. under valgrind: the fallback test covers this run */
    check_symlink_confinement(f, false);
    /* inside links are followed with openat2 */
    char buf[64];
    int fd = fs_open(f->rootfd, "in", O_RDONLY, 0);
    assert_true(fd >= 0);
    read_all(fd, buf, sizeof buf);
    assert_string_equal(buf, "hello");
    close(fd);
    fd = fs_open(f->rootfd, "d/new.txt", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    close(fd);
    struct stat st;
    char p[600];
    snprintf(p, sizeof p, "%s/sub/new.txt", f->root);
    assert_int_equal(stat(p, &st), 0);
}

static void test_confinement_fallback(void **state)
{
    fx *f = *state;
    check_symlink_confinement(f, true);
    /* the walk follows no symlink at all */
    assert_int_equal(fs_open(f->rootfd, "in", O_RDONLY, 0), -ELOOP);
    int fd = fs_open(f->rootfd, "d/x", O_RDONLY, 0);
    assert_true(fd == -ENOTDIR || fd == -ELOOP);
    fs_force_fallback(false);
}

static void test_parent_and_lstat(void **state)
{
    fx *f = *state;
    const char *leaf = NULL;
    assert_int_equal(fs_open_parent(f->rootfd, "", &leaf), -EINVAL);
    int pfd = fs_open_parent(f->rootfd, "sub/x/y", &leaf);
    assert_int_equal(pfd, -ENOENT);
    pfd = fs_open_parent(f->rootfd, "evil/etc", &leaf);
    assert_escape(pfd);
    pfd = fs_open_parent(f->rootfd, "a.txt", &leaf);
    assert_true(pfd >= 0);
    assert_string_equal(leaf, "a.txt");
    close(pfd);

    struct stat st;
    assert_int_equal(fs_lstat(f->rootfd, "evil", &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    assert_int_equal(fs_lstat(f->rootfd, "", &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(fs_lstat(f->rootfd, "nope", &st), -ENOENT);
    assert_escape(fs_lstat(f->rootfd, "evil/etc", &st));
}

static void test_mkdir_p(void **state)
{
    fx *f = *state;
    bool created = false;
    assert_int_equal(fs_mkdir_p(f->rootfd, "x/y/z", 0755, &created), 0);
    assert_true(created);
    assert_int_equal(fs_mkdir_p(f->rootfd, "x/y/z", 0755, &created), 0);
    assert_false(created);
    assert_int_equal(fs_mkdir_p(f->rootfd, "x/y", 0755, &created), 0);
    assert_false(created);
    assert_int_equal(fs_mkdir_p(f->rootfd, "a.txt", 0755, &created), -ENOTDIR);
    assert_int_equal(fs_mkdir_p(f->rootfd, "a.txt/q", 0755, &created), -ENOTDIR);
    if (fs_using_openat2()) { /* the fallback follows no link, not even an inside one */
        assert_int_equal(fs_mkdir_p(f->rootfd, "d/inner", 0755, &created), 0);
        assert_true(created);
    }
    int r = fs_mkdir_p(f->rootfd, "out/pwn", 0755, &created);
    assert_true(r < 0);
    r = fs_mkdir_p(f->rootfd, "evil/tmp/pwn_fs_safe", 0755, &created);
    assert_true(r < 0);
    char p[600];
    snprintf(p, sizeof p, "%s/pwn", f->outside);
    assert_int_equal(access(p, F_OK), -1);
    assert_int_equal(access("/tmp/pwn_fs_safe", F_OK), -1);
    assert_int_equal(fs_mkdir_p(f->rootfd, "", 0755, &created), 0);
}

static void test_remove_all(void **state)
{
    fx *f = *state;
    assert_int_equal(fs_mkdir_p(f->rootfd, "t/u/v", 0755, NULL), 0);
    char p[600];
    snprintf(p, sizeof p, "%s/t/u/v/file", f->root);
    put(p, "x");
    snprintf(p, sizeof p, "%s/t/u/link_out", f->root);
    assert_int_equal(symlink(f->outside, p), 0); /* removing the tree must keep the canary */
    assert_int_equal(fs_remove_all(f->rootfd, "t"), 0);
    snprintf(p, sizeof p, "%s/t", f->root);
    assert_int_equal(access(p, F_OK), -1);
    snprintf(p, sizeof p, "%s/canary", f->outside);
    assert_int_equal(access(p, F_OK), 0);

    /* a symlink to outside: the link goes, the target stays */
    assert_int_equal(fs_remove_all(f->rootfd, "out"), 0);
    assert_int_equal(access(p, F_OK), 0);
    assert_int_equal(fs_remove_all(f->rootfd, "out"), -ENOENT);
    assert_int_equal(fs_remove_all(f->rootfd, ""), -EPERM);
    assert_escape(fs_remove_all(f->rootfd, "evil/etc/hostname"));
    assert_int_equal(access("/etc/hostname", F_OK), 0);
}

static void test_entry_json(void **state)
{
    fx *f = *state;
    int err = 1;
    cJSON *e = fs_entry_json(f->rootfd, "a.txt", &err);
    assert_non_null(e);
    assert_int_equal(err, 0);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(e, "name")->valuestring, "a.txt");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(e, "type")->valuestring, "FILE_TYPE_FILE");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(e, "path")->valuestring,
                        "/home/user/a.txt");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(e, "size")->valuestring, "5");
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(e, "mode")->valueint, 0644);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(e, "permissions")->valuestring,
                        "-rw-r--r--");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(e, "owner")->valuestring, "user");
    const char *mt = cJSON_GetObjectItemCaseSensitive(e, "modifiedTime")->valuestring;
    assert_int_equal(strlen(mt) >= 20, 1);
    assert_int_equal(mt[4], '-');
    assert_int_equal(mt[10], 'T');
    assert_int_equal(mt[strlen(mt) - 1], 'Z');
    assert_null(cJSON_GetObjectItemCaseSensitive(e, "symlinkTarget"));
    cJSON_Delete(e);

    e = fs_entry_json(f->rootfd, "in", &err);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(e, "type")->valuestring,
                        "FILE_TYPE_SYMLINK");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(e, "symlinkTarget")->valuestring,
                        "/home/user/a.txt");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(e, "permissions")->valuestring,
                        "Lrwxrwxrwx");
    cJSON_Delete(e);

    e = fs_entry_json(f->rootfd, "evil", &err);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(e, "symlinkTarget")->valuestring, "/");
    cJSON_Delete(e);

    e = fs_entry_json(f->rootfd, "", &err);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(e, "name")->valuestring, "user");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(e, "path")->valuestring, "/home/user");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(e, "type")->valuestring,
                        "FILE_TYPE_DIRECTORY");
    cJSON_Delete(e);

    assert_null(fs_entry_json(f->rootfd, "missing", &err));
    assert_int_equal(err, -ENOENT);
    assert_null(fs_entry_json(f->rootfd, "evil/etc/passwd", &err));
    assert_escape(err);
}

static void test_formats(void **state)
{
    (void)state;
    char b[40];
    assert_string_equal(fs_mode_string(S_IFDIR | 0755, b), "drwxr-xr-x");
    assert_string_equal(fs_mode_string(S_IFREG | 0600, b), "-rw-------");
    assert_string_equal(fs_mode_string(S_IFLNK | 0777, b), "Lrwxrwxrwx");
    assert_string_equal(fs_mode_string(S_IFREG | S_ISUID | 0755, b), "urwxr-xr-x");
    assert_string_equal(fs_mode_string(S_IFDIR | S_ISVTX | 0777, b), "dtrwxrwxrwx");
    assert_string_equal(fs_mode_string(S_IFIFO | 0644, b), "prw-r--r--");

    struct timespec ts = {0, 0};
    assert_string_equal(fs_rfc3339(&ts, b), "1970-01-01T00:00:00Z");
    ts.tv_sec = 1704067200; /* 2024-01-01 */
    ts.tv_nsec = 500000000;
    assert_string_equal(fs_rfc3339(&ts, b), "2024-01-01T00:00:00.500Z");
    ts.tv_nsec = 123000;
    assert_string_equal(fs_rfc3339(&ts, b), "2024-01-01T00:00:00.000123Z");
    ts.tv_nsec = 1500;
    assert_string_equal(fs_rfc3339(&ts, b), "2024-01-01T00:00:00.000001500Z");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rel_path),
        cmocka_unit_test_setup_teardown(test_confinement_openat2, setup, teardown),
        cmocka_unit_test_setup_teardown(test_confinement_fallback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_parent_and_lstat, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mkdir_p, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remove_all, setup, teardown),
        cmocka_unit_test_setup_teardown(test_entry_json, setup, teardown),
        cmocka_unit_test(test_formats),
    };
    return cmocka_run_group_tests_name("fs_safe", tests, NULL, NULL);
}
