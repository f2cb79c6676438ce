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

static mock_server *srv;
static char base[128];
static char sbx_id[64], sbx_token[64], sbx_dir[512];

/* ------------------------------------------------------------------ http helper */

typedef struct buf {
    char *p;
    size_t n;
} buf;

typedef struct resp {
    long status;
    buf body, hdr;
} resp;

static size_t on_data(char *p, size_t sz, size_t n, void *ud)
{
    buf *b = ud;
    b->p = realloc(b->p, b->n + sz * n + 1);
    memcpy(b->p + b->n, p, sz * n);
    b->n += sz * n;
    b->p[b->n] = '\0';
    return sz * n;
}

static void resp_free(resp *r)
{
    free(r->body.p);
    free(r->hdr.p);
    memset(r, 0, sizeof *r);
}


/* Request body fed through a read callback `step` bytes at a time (0 = all at once). */
typedef struct feeder {
    const unsigned char *p;
    size_t len, off, step;
} feeder;

static size_t on_read(char *out, size_t sz, size_t n, void *ud)
{
    feeder *f = ud;
    size_t room = sz * n, left = f->len - f->off;
    size_t take = left < room ? left : room;
    if (f->step && take > f->step)
        take = f->step;
    memcpy(out, f->p + f->off, take);
    f->off += take;
    return take;
}

/* One envd request. body may be NULL (GET); step > 0 sends it chunked in step-byte pieces.
 * extra: NULL-terminated header lines; token adds X-Access-Token. */
static resp envd_req(const char *method, const char *path, const void *body, size_t len,
                     size_t step, bool token, const char *const *extra)
{
    resp r = {0};
    CURL *h = curl_easy_init();
    char url[FS_PATH_MAX + 256];
    snprintf(url, sizeof url, "%s%s", base, path);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &r.body);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &r.hdr);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 60L);
    struct curl_slist *hl = NULL;
    char l1[128], l2[128];
    snprintf(l1, sizeof l1, "E2b-Sandbox-Id: %s", sbx_id);
    hl = curl_slist_append(hl, l1);
    hl = curl_slist_append(hl, "E2b-Sandbox-Port: 49983");
    if (token) {
        snprintf(l2, sizeof l2, "X-Access-Token: %s", sbx_token);
        hl = curl_slist_append(hl, l2);
    }
    for (size_t i = 0; extra && extra[i]; i++)
        hl = curl_slist_append(hl, extra[i]);
    feeder f = {body, len, 0, step};
    if (body) {
        curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(h, CURLOPT_READDATA, &f);
        if (step)
            hl = curl_slist_append(hl, "Transfer-Encoding: chunked");
        else
            curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)len);
        hl = curl_slist_append(hl, "Expect:");
    }
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
    CURLcode rc = curl_easy_perform(h);
    if (rc != CURLE_OK)
        fail_msg("%s %s (%.60s): %s", method, path,
                 body && len > 5 ? (const char *)body + (((const char *)body)[0] == 0 ? 5 : 0) : "",
                 curl_easy_strerror(rc));
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r.status);
    curl_slist_free_all(hl);
    curl_easy_cleanup(h);
    return r;
}
static void new_sandbox(void)
{
    cJSON *envs = cJSON_CreateObject();
    cJSON_AddStringToObject(envs, "SBX_VAR", "from-create");
    store_create_opts o = {
        .template_id = "base", .timeout_ms = 600000, .allow_internet_access = -1, .env_vars = envs};
    mock_sandbox *s = store_create(mock_server_store(srv), &o);
    assert_non_null(s);
    snprintf(sbx_id, sizeof sbx_id, "%s", s->id);
    snprintf(sbx_token, sizeof sbx_token, "%s", s->access_token);
    snprintf(sbx_dir, sizeof sbx_dir, "%s", s->dir);
    store_release(s);
    cJSON_Delete(envs);
}

static int setup(void **state)
{
    (void)state;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    mock_log_set_level(MOCK_LOG_ERROR);
    mock_server_config cfg = {0};
    srv = mock_server_new(&cfg);
    assert_non_null(srv);
    snprintf(base, sizeof base, "%s", mock_server_url(srv));
    new_sandbox();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    mock_server_free(srv);
    curl_global_cleanup();
    return 0;
}

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
    return cmocka_run_group_tests(tests, setup, teardown);
}
