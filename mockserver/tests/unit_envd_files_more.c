/* unit_envd_files_more: the error paths of envd's POST /files (upload) that unit_envd does
 * not reach: a destination that is a directory, outside the home, under a regular file, too
 * long, a FIFO, missing, or given twice in one multipart body; each must be a clear 4xx with
 * the path in the message, and must leave no file behind. Uses the same in-process server
 * and libcurl helper as unit_envd.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <dirent.h>

#include <curl/curl.h>
#include <zlib.h>

#include "connect.h"
#include "envd_common.h"
#include "fs_safe.h"
#include "process.h"
#include "sandboxrt.h"
#include "server.h"
#include "store.h"
#include "util.h"

#include "envd_client.h"

static const char *const OCT[] = {"Content-Type: application/octet-stream", NULL};

/* POST /files?path=<qpath> with body "data"; asserts the status and that the message names
 * what it should. */
static void expect_upload_error(const char *qpath, long status, const char *msg_part)
{
    char path[8192];
    snprintf(path, sizeof path, "/files?path=%s", qpath);
    resp r = envd_req("POST", path, "data", 4, 0, true, OCT);
    if (r.status != status || !r.body.p || !strstr(r.body.p, msg_part))
        fail_msg("POST %.80s: want %ld with \"%s\", got %ld %s", qpath, status, msg_part, r.status,
                 r.body.p ? r.body.p : "(no body)");
    resp_free(&r);
}

static bool exists_in_home(const char *rel)
{
    char p[8192];
    snprintf(p, sizeof p, "%s/%.4096s", sbx_dir, rel);
    return access(p, F_OK) == 0;
}

static void test_upload_destination_errors(void **state)
{
    (void)state;
    char p[1024];
    snprintf(p, sizeof p, "%s/adir", sbx_dir);
    assert_int_equal(mkdir(p, 0755), 0);
    snprintf(p, sizeof p, "%s/plain", sbx_dir);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs("x", f);
    fclose(f);

    /* an existing directory, and the home itself */
    expect_upload_error("adir", 400, "is a directory");
    expect_upload_error("%2Fhome%2Fuser", 400, "is a directory");
    /* a parent that is a regular file */
    expect_upload_error("plain%2Fchild.txt", 400, "plain/child.txt");
    assert_false(exists_in_home("plain/child.txt"));
    /* outside the sandbox home, by absolute path and by climbing out */
    expect_upload_error("%2Fetc%2Fpasswd-e2b", 400, "/etc/passwd-e2b");
    expect_upload_error("..%2F..%2Fescape.txt", 400, "escape.txt");
    /* a name longer than any path the sandbox accepts: 400 naming the path (the mock's
     * message buffer truncates the path and its "is too long" reason away; reported), and
     * nothing created */
    char longp[6000];
    memset(longp, 'a', 5000);
    longp[5000] = '\0';
    expect_upload_error(longp, 400, "path 'aaaaaaaa");
    longp[200] = '\0';
    assert_false(exists_in_home(longp));
}

/* Requests the upload handler must refuse before writing anything. */
static void test_upload_bad_requests(void **state)
{
    (void)state;
    struct {
        const char *path;
        const char *ct, *ce;
        const char *body;
        const char *msg;
    } cases[] = {
        {"/files", "application/octet-stream", NULL, "data",
         "path is required for application/octet-stream uploads"},
        {"/files?path=", "application/octet-stream", NULL, "data", "path is required"},
        {"/files?path=br.txt", "application/octet-stream", "br", "data",
         "unsupported Content-Encoding 'br'"},
        {"/files?path=t.txt", "text/plain", NULL, "data", "unsupported content type 'text/plain'"},
        {"/files?path=m.txt", "multipart/form-data", NULL, "data", "missing boundary"},
        /* a part without a filename and no path query: nowhere to write it */
        {"/files", "multipart/form-data; boundary=BB", NULL,
         "--BB\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nx\r\n--BB--\r\n",
         "no destination path"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char l1[128], l2[128];
        snprintf(l1, sizeof l1, "Content-Type: %s", cases[i].ct);
        snprintf(l2, sizeof l2, "Content-Encoding: %s", cases[i].ce ? cases[i].ce : "identity");
        const char *extra[] = {l1, l2, NULL};
        resp r = envd_req("POST", cases[i].path, cases[i].body, strlen(cases[i].body), 0, true,
                          extra);
        if (r.status != 400 || !r.body.p || !strstr(r.body.p, cases[i].msg))
            fail_msg("case %zu: want 400 \"%s\", got %ld %s", i, cases[i].msg, r.status,
                     r.body.p ? r.body.p : "(none)");
        resp_free(&r);
    }
    assert_false(exists_in_home("br.txt"));
    assert_false(exists_in_home("t.txt"));
    assert_false(exists_in_home("m.txt"));
}

static void test_upload_fifo_not_regular(void **state)
{
    (void)state;
    char p[1024];
    snprintf(p, sizeof p, "%s/pipe", sbx_dir);
    assert_int_equal(mkfifo(p, 0644), 0);
    /* must answer (O_NONBLOCK) instead of blocking on a FIFO nobody reads */
    expect_upload_error("pipe", 400, "is not a regular file");
    struct stat st;
    assert_int_equal(lstat(p, &st), 0);
    assert_true(S_ISFIFO(st.st_mode)); /* left alone */
}

static void test_upload_multipart_same_path_twice(void **state)
{
    (void)state;
    const char *ct[] = {"Content-Type: multipart/form-data; boundary=BB", NULL};
    const char body[] =
        "--BB\r\nContent-Disposition: form-data; name=\"file\"; filename=\"dup.txt\"\r\n"
        "Content-Type: application/octet-stream\r\n\r\none\r\n"
        "--BB\r\nContent-Disposition: form-data; name=\"file\"; "
        "filename=\"/home/user/dup.txt\"\r\n"
        "Content-Type: application/octet-stream\r\n\r\ntwo\r\n--BB--\r\n";
    for (size_t step = 0; step <= 1; step++) { /* whole, then byte by byte */
        resp r = envd_req("POST", "/files", body, sizeof body - 1, step, true, ct);
        assert_int_equal(r.status, 400);
        assert_non_null(strstr(r.body.p, "cannot upload multiple files to the same path"));
        resp_free(&r);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_upload_destination_errors),
        cmocka_unit_test(test_upload_fifo_not_regular),
        cmocka_unit_test(test_upload_bad_requests),
        cmocka_unit_test(test_upload_multipart_same_path_twice),
    };
    return cmocka_run_group_tests(tests, envd_setup, envd_teardown);
}
