/* files_basic.c - the sandbox filesystem end to end (e2b/files.h against a private e2b-mock,
 * or real E2B with E2B_LIVE=1): text and bytes round trips, a 64 MiB streamed transfer
 * checked by SHA-256 with bounded client memory, gzip uploads, several files in one
 * request, list depth, make_dir twice, rename/remove/exists, typed errors (missing file vs
 * killed sandbox) and directory watching.
 *
 * E2B_BIG_FILE_MB overrides the size of the big transfer (default 64).
 */
#include "harness.h"

#include <curl/curl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static void defer_sandbox(void *p)
{
    e2b_sandbox *sbx = p;
    e2b_error err;
    e2b_sandbox_kill(e2b_sandbox_client(sbx), e2b_sandbox_id(sbx), NULL, &err);
    e2b_sandbox_free(sbx);
}

static e2b_sandbox *new_sandbox(harness_target **tp)
{
    harness_target *t = harness_target_start(NULL);
    e2b_error err;
    e2b_sandbox *sbx = NULL;
    e2b_create_opts co;
    e2b_create_opts_init(&co);
    e2b_kv md = {"run", harness_run_tag()};
    co.metadata = &md;
    co.metadata_len = 1;
    harness_assert_ok(e2b_sandbox_create(t->client, &co, &sbx, &err), &err, "create");
    harness_defer(defer_sandbox, sbx);
    if (tp)
        *tp = t;
    return sbx;
}

/* ---- deterministic data with a running SHA-256 --------------------------------------- */

typedef struct gen {
    uint64_t x;
    size_t left;
    EVP_MD_CTX *md;
} gen;

static void gen_fill(gen *g, char *buf, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        g->x ^= g->x << 13;
        g->x ^= g->x >> 7;
        g->x ^= g->x << 17;
        /* mostly text with some noise: compressible but not trivially */
        buf[i] = (i & 63) < 48 ? (char)('a' + (g->x % 26)) : (char)(g->x >> 24);
    }
}

static size_t gen_source(void *ud, char *buf, size_t max)
{
    gen *g = ud;
    size_t n = max < g->left ? max : g->left;
    gen_fill(g, buf, n);
    EVP_DigestUpdate(g->md, buf, n);
    g->left -= n;
    return n;
}

typedef struct hash_sink {
    EVP_MD_CTX *md;
    size_t total;
} hash_sink;

static e2b_code sink_hash(void *ud, const char *data, size_t n, e2b_error *err)
{
    (void)err;
    hash_sink *h = ud;
    EVP_DigestUpdate(h->md, data, n);
    h->total += n;
    return E2B_OK;
}

static long maxrss_kb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

static void big_roundtrip(e2b_sandbox *sbx, const char *path, size_t size, bool gzip)
{
    e2b_error err;
    unsigned char want[32], got[32];
    unsigned int wl, gl;
    gen g = {.x = 88172645463325252ull ^ size, .left = size, .md = EVP_MD_CTX_new()};
    EVP_DigestInit_ex(g.md, EVP_sha256(), NULL);
    e2b_files_opts o = {.gzip = gzip, .timeout_ms = 300000};
    e2b_entry_info *info = NULL;
    harness_assert_ok(e2b_files_write_stream(sbx, path, gen_source, &g, &o, &info, &err), &err,
                      "write_stream");
    assert_int_equal(g.left, 0);
    EVP_DigestFinal_ex(g.md, want, &wl);
    EVP_MD_CTX_free(g.md);
    assert_non_null(info);
    e2b_entry_info_free(info);

    e2b_entry_info *st = NULL;
    harness_assert_ok(e2b_files_stat(sbx, path, NULL, &st, &err), &err, "stat");
    assert_true(st->size == (int64_t)size);
    e2b_entry_info_free(st);

    hash_sink h = {.md = EVP_MD_CTX_new()};
    EVP_DigestInit_ex(h.md, EVP_sha256(), NULL);
    harness_assert_ok(e2b_files_read_to(sbx, path, &o, sink_hash, &h, &err), &err, "read_to");
    EVP_DigestFinal_ex(h.md, got, &gl);
    EVP_MD_CTX_free(h.md);
    assert_int_equal(h.total, size);
    assert_memory_equal(want, got, 32);
}

/* ---- tests ------------------------------------------------------------------------------- */

static void test_text_and_bytes_roundtrip(void **state)
{
    (void)state;
    e2b_sandbox *sbx = new_sandbox(NULL);
    e2b_error err;
    harness_assert_ok(e2b_files_write_text(sbx, "/home/user/hello.txt", "hello world\n", &err),
                      &err, "write_text");
    char *text = NULL;
    harness_assert_ok(e2b_files_read_text(sbx, "/home/user/hello.txt", &text, &err), &err,
                      "read_text");
    assert_string_equal(text, "hello world\n");
    free(text);

    /* every byte value, relative path (resolved against the home directory) */
    unsigned char bin[512];
    for (size_t i = 0; i < sizeof bin; i++)
        bin[i] = (unsigned char)i;
    e2b_entry_info *info = NULL;
    harness_assert_ok(e2b_files_write(sbx, "sub/dir/bin.dat", bin, sizeof bin, NULL, &info, &err),
                      &err, "write");
    assert_non_null(info->path);
    assert_non_null(strstr(info->path, "sub/dir/bin.dat"));
    e2b_entry_info_free(info);
    char *data = NULL;
    size_t len = 0;
    harness_assert_ok(e2b_files_read(sbx, "/home/user/sub/dir/bin.dat", NULL, &data, &len, &err),
                      &err, "read");
    assert_int_equal(len, sizeof bin);
    assert_memory_equal(data, bin, sizeof bin);
    free(data);

    /* empty file; overwrite truncates */
    harness_assert_ok(e2b_files_write(sbx, "/home/user/hello.txt", NULL, 0, NULL, NULL, &err), &err,
                      "write empty");
    harness_assert_ok(e2b_files_read(sbx, "/home/user/hello.txt", NULL, &data, &len, &err), &err,
                      "read empty");
    assert_int_equal(len, 0);
    assert_string_equal(data, "");
    free(data);
}

static void test_errors_are_typed(void **state)
{
    (void)state;
    harness_target *t;
    e2b_sandbox *sbx = new_sandbox(&t);
    e2b_error err;
    char *data = NULL;
    size_t len;
    harness_assert_code(e2b_files_read(sbx, "/home/user/nope.txt", NULL, &data, &len, &err),
                        E2B_ERR_FILE_NOT_FOUND, &err, "read missing");
    assert_null(data);
    e2b_entry_info *e = NULL;
    harness_assert_code(e2b_files_stat(sbx, "/home/user/nope.txt", NULL, &e, &err),
                        E2B_ERR_FILE_NOT_FOUND, &err, "stat missing");
    harness_assert_code(e2b_files_rename(sbx, "/home/user/nope", "/home/user/x", NULL, NULL, &err),
                        E2B_ERR_FILE_NOT_FOUND, &err, "rename missing");
    harness_assert_ok(e2b_files_make_dir(sbx, "/home/user/adir", NULL, NULL, &err), &err, "mkdir");
    harness_assert_code(e2b_files_read(sbx, "/home/user/adir", NULL, &data, &len, &err),
                        E2B_ERR_INVALID_ARGUMENT, &err, "read a directory");
    e2b_entry_info *v = NULL;
    size_t n;
    harness_assert_code(e2b_files_list(sbx, "/home/user/nope", 1, NULL, &v, &n, &err),
                        E2B_ERR_FILE_NOT_FOUND, &err, "list missing");

    /* a killed sandbox is not a missing file */
    bool killed = false;
    harness_assert_ok(e2b_sandbox_kill(t->client, e2b_sandbox_id(sbx), &killed, &err), &err,
                      "kill");
    assert_true(killed);
    harness_assert_code(e2b_files_read(sbx, "/home/user/adir/x", NULL, &data, &len, &err),
                        E2B_ERR_SANDBOX_GONE, &err, "read after kill");
    harness_assert_code(e2b_files_list(sbx, "/home/user", 1, NULL, &v, &n, &err),
                        E2B_ERR_SANDBOX_GONE, &err, "list after kill");
    harness_assert_code(e2b_files_write_text(sbx, "/home/user/x", "x", &err), E2B_ERR_SANDBOX_GONE,
                        &err, "write after kill");
}

static void test_big_file_streamed_with_low_memory(void **state)
{
    (void)state;
    e2b_sandbox *sbx = new_sandbox(NULL);
    const char *mb_env = getenv("E2B_BIG_FILE_MB");
    size_t mb = mb_env && atoi(mb_env) > 0 ? (size_t)atoi(mb_env) : 64;
    size_t size = mb * 1024 * 1024;
    /* warm up the connection and allocator so the measurement sees only the transfer */
    big_roundtrip(sbx, "/home/user/warm.bin", 1 << 20, false);
    long before = maxrss_kb();
    int64_t t0 = harness_now_ms();
    big_roundtrip(sbx, "/home/user/big.bin", size, false);
    int64_t ms = harness_now_ms() - t0;
    long after = maxrss_kb();
    print_message("%zu MiB up + down + SHA-256 in %lld ms; client max RSS %ld -> %ld KiB\n", mb,
                  (long long)ms, before, after);
    /* streamed both ways: peak memory must not grow by anything like the file size
     * (generous bound: a quarter of it, at least 16 MiB of slack for sanitizers) */
    long limit_kb = (long)(size / 4 / 1024);
    if (limit_kb < 16 * 1024)
        limit_kb = 16 * 1024;
    if (after - before > limit_kb)
        fail_msg("max RSS grew by %ld KiB during a %zu MiB transfer (limit %ld KiB)",
                 after - before, mb, limit_kb);
}

static void test_gzip_upload_and_download(void **state)
{
    (void)state;
    e2b_sandbox *sbx = new_sandbox(NULL);
    big_roundtrip(sbx, "/home/user/gz.bin", 3 * 1024 * 1024 + 17, true);
}

static void test_write_many_in_one_request(void **state)
{
    (void)state;
    e2b_sandbox *sbx = new_sandbox(NULL);
    e2b_error err;
    e2b_write_entry files[] = {{"/home/user/m/a.txt", "alpha", 5},
                               {"/home/user/m/deep/b.txt", "beta", 4},
                               {"/home/user/m/c.txt", "", 0}};
    e2b_entry_info *v = NULL;
    size_t n = 0;
    harness_assert_ok(e2b_files_write_many(sbx, files, 3, NULL, &v, &n, &err), &err, "write_many");
    assert_int_equal(n, 3);
    e2b_entry_infos_free(v, n);
    for (size_t i = 0; i < 3; i++) {
        char *data;
        size_t len;
        harness_assert_ok(e2b_files_read(sbx, files[i].path, NULL, &data, &len, &err), &err,
                          "read back");
        assert_int_equal(len, files[i].len);
        assert_memory_equal(data, files[i].data, len);
        free(data);
    }
}

static size_t count_named(const e2b_entry_info *v, size_t n, const char *name, e2b_file_type t)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (v[i].name && !strcmp(v[i].name, name) && v[i].type == t)
            k++;
    return k;
}

static void test_list_depth_and_dirs(void **state)
{
    (void)state;
    e2b_sandbox *sbx = new_sandbox(NULL);
    e2b_error err;
    bool created = false;
    harness_assert_ok(e2b_files_make_dir(sbx, "/home/user/tree/a/b", NULL, &created, &err), &err,
                      "mkdir -p");
    assert_true(created);
    harness_assert_ok(e2b_files_make_dir(sbx, "/home/user/tree/a/b", NULL, &created, &err), &err,
                      "mkdir again");
    assert_false(created); /* already exists: false, not an error */
    harness_assert_ok(e2b_files_write_text(sbx, "/home/user/tree/top.txt", "1", &err), &err,
                      "write");
    harness_assert_ok(e2b_files_write_text(sbx, "/home/user/tree/a/mid.txt", "22", &err), &err,
                      "write");
    harness_assert_ok(e2b_files_write_text(sbx, "/home/user/tree/a/b/low.txt", "333", &err), &err,
                      "write");

    e2b_entry_info *v = NULL;
    size_t n = 0;
    harness_assert_ok(e2b_files_list(sbx, "/home/user/tree", 1, NULL, &v, &n, &err), &err,
                      "list 1");
    assert_int_equal(n, 2);
    assert_int_equal(count_named(v, n, "top.txt", E2B_FILE_TYPE_FILE), 1);
    assert_int_equal(count_named(v, n, "a", E2B_FILE_TYPE_DIR), 1);
    for (size_t i = 0; i < n; i++)
        if (!strcmp(v[i].name, "top.txt")) {
            assert_int_equal(v[i].size, 1);
            assert_string_equal(v[i].path, "/home/user/tree/top.txt");
            assert_non_null(v[i].permissions);
            assert_true(v[i].modified_unix > 0);
        }
    e2b_entry_infos_free(v, n);
    harness_assert_ok(e2b_files_list(sbx, "/home/user/tree", 3, NULL, &v, &n, &err), &err,
                      "list 3");
    assert_int_equal(n, 5);
    assert_int_equal(count_named(v, n, "low.txt", E2B_FILE_TYPE_FILE), 1);
    e2b_entry_infos_free(v, n);

    /* a file where a directory is asked for */
    harness_assert_code(e2b_files_make_dir(sbx, "/home/user/tree/top.txt", NULL, &created, &err),
                        E2B_ERR_INVALID_ARGUMENT, &err, "mkdir over a file");
    harness_assert_code(e2b_files_list(sbx, "/home/user/tree/top.txt", 1, NULL, &v, &n, &err),
                        E2B_ERR_INVALID_ARGUMENT, &err, "list a file");

    /* rename, remove, exists */
    e2b_entry_info *moved = NULL;
    harness_assert_ok(e2b_files_rename(sbx, "/home/user/tree/top.txt",
                                       "/home/user/tree/a/moved.txt", NULL, &moved, &err),
                      &err, "rename");
    assert_string_equal(moved->name, "moved.txt");
    e2b_entry_info_free(moved);
    bool exists = true;
    harness_assert_ok(e2b_files_exists(sbx, "/home/user/tree/top.txt", NULL, &exists, &err), &err,
                      "exists");
    assert_false(exists);
    harness_assert_ok(e2b_files_exists(sbx, "/home/user/tree/a/moved.txt", NULL, &exists, &err),
                      &err, "exists");
    assert_true(exists);
    harness_assert_ok(e2b_files_remove(sbx, "/home/user/tree/a", NULL, &err), &err, "remove tree");
    harness_assert_ok(e2b_files_exists(sbx, "/home/user/tree/a/b/low.txt", NULL, &exists, &err),
                      &err, "exists");
    assert_false(exists);
}

typedef struct watch_log {
    pthread_mutex_t mu;
    int create, write, remove;
    char last_name[256];
} watch_log;

static e2b_code on_event(void *ud, const e2b_fs_event *ev)
{
    watch_log *w = ud;
    pthread_mutex_lock(&w->mu);
    if (ev->type == E2B_FS_EVENT_CREATE)
        w->create++;
    if (ev->type == E2B_FS_EVENT_WRITE)
        w->write++;
    if (ev->type == E2B_FS_EVENT_REMOVE)
        w->remove++;
    snprintf(w->last_name, sizeof w->last_name, "%s", ev->name);
    pthread_mutex_unlock(&w->mu);
    return E2B_OK;
}

static bool wait_for(watch_log *w, int *counter, int n)
{
    for (int i = 0; i < 1000; i++) { /* up to 10 s */
        pthread_mutex_lock(&w->mu);
        int v = *counter;
        pthread_mutex_unlock(&w->mu);
        if (v >= n)
            return true;
        usleep(10000);
    }
    return false;
}

static void test_watch_dir(void **state)
{
    (void)state;
    e2b_sandbox *sbx = new_sandbox(NULL);
    e2b_error err;
    harness_assert_ok(e2b_files_make_dir(sbx, "/home/user/watched", NULL, NULL, &err), &err,
                      "mkdir");
    watch_log wl = {.mu = PTHREAD_MUTEX_INITIALIZER};
    e2b_watch_opts o = {.on_event = on_event, .ud = &wl};
    e2b_watch *w = NULL;
    harness_assert_ok(e2b_files_watch_dir(sbx, "/home/user/watched", &o, &w, &err), &err,
                      "watch_dir");
    harness_assert_ok(e2b_files_write_text(sbx, "/home/user/watched/new.txt", "x", &err), &err,
                      "write");
    assert_true(wait_for(&wl, &wl.create, 1));
    harness_assert_ok(e2b_files_remove(sbx, "/home/user/watched/new.txt", NULL, &err), &err,
                      "remove");
    assert_true(wait_for(&wl, &wl.remove, 1));
    pthread_mutex_lock(&wl.mu);
    assert_string_equal(wl.last_name, "new.txt");
    pthread_mutex_unlock(&wl.mu);
    int64_t t0 = harness_now_ms();
    e2b_watch_stop(w);
    harness_assert_ok(e2b_watch_wait(w, &err), &err, "watch_wait");
    assert_true(harness_now_ms() - t0 < 10000); /* stop does not wait for a keepalive */
    e2b_watch_free(w);

    w = NULL;
    harness_assert_code(e2b_files_watch_dir(sbx, "/home/user/not-there", &o, &w, &err),
                        E2B_ERR_FILE_NOT_FOUND, &err, "watch missing dir");
    assert_null(w);
}

static void test_upload_metadata(void **state)
{
    (void)state;
    e2b_sandbox *sbx = new_sandbox(NULL);
    e2b_error err;
    e2b_kv md[] = {{"Owner", "team a"}, {"build", "42"}};
    e2b_files_opts o = {.metadata = md, .metadata_len = 2};
    e2b_entry_info *info = NULL;
    e2b_code rc = e2b_files_write(sbx, "/home/user/meta.txt", "m", 1, &o, &info, &err);
    if (rc == E2B_ERR_INVALID_ARGUMENT && strstr(err.message, "not supported"))
        skip(); /* the mock's filesystem has no user xattrs here */
    harness_assert_ok(rc, &err, "write with metadata");
    assert_int_equal(info->metadata_len, 2);
    for (size_t i = 0; i < info->metadata_len; i++) {
        if (!strcmp(info->metadata[i].key, "owner"))
            assert_string_equal(info->metadata[i].value, "team a");
        else
            assert_string_equal(info->metadata[i].key, "build");
    }
    e2b_entry_info_free(info);
    /* Stat reports it too (EntryInfo.metadata) */
    harness_assert_ok(e2b_files_stat(sbx, "/home/user/meta.txt", NULL, &info, &err), &err, "stat");
    assert_int_equal(info->metadata_len, 2);
    e2b_entry_info_free(info);
    /* the next upload replaces it */
    harness_assert_ok(e2b_files_write(sbx, "/home/user/meta.txt", "n", 1, NULL, NULL, &err), &err,
                      "rewrite");
    harness_assert_ok(e2b_files_stat(sbx, "/home/user/meta.txt", NULL, &info, &err), &err, "stat");
    assert_int_equal(info->metadata_len, 0);
    e2b_entry_info_free(info);
}

typedef struct membuf {
    char data[256];
    size_t len;
} membuf;

static size_t membuf_write(char *p, size_t sz, size_t n, void *ud)
{
    membuf *m = ud;
    size_t k = sz * n;
    if (k > sizeof m->data - 1 - m->len)
        k = sizeof m->data - 1 - m->len;
    memcpy(m->data + m->len, p, k);
    m->len += k;
    m->data[m->len] = '\0';
    return sz * n;
}

/* A plain HTTP request to a pre-signed URL: no access token. Only the routing headers
 * (needed because the mock serves every sandbox on one host) are sent. */
static long plain_request(e2b_sandbox *sbx, const char *url, const char *upload, membuf *out)
{
    CURL *c = curl_easy_init();
    char hid[128];
    snprintf(hid, sizeof hid, "E2b-Sandbox-Id: %s", e2b_sandbox_id(sbx));
    struct curl_slist *h = curl_slist_append(NULL, hid);
    h = curl_slist_append(h, "E2b-Sandbox-Port: 49983");
    if (upload)
        h = curl_slist_append(h, "Content-Type: application/octet-stream");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    if (upload)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, upload);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, membuf_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 20000L);
    long status = 0;
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return status;
}

static void test_presigned_urls(void **state)
{
    (void)state;
    e2b_sandbox *sbx = new_sandbox(NULL);
    if (!e2b_sandbox_envd_access_token(sbx))
        skip(); /* unsigned sandbox: nothing to check */
    e2b_error err;
    harness_assert_ok(e2b_files_write_text(sbx, "/home/user/shared.txt", "shared!", &err), &err,
                      "write");
    char *url = NULL;
    harness_assert_ok(e2b_files_download_url(sbx, "/home/user/shared.txt", NULL, 300, &url, &err),
                      &err, "download_url");
    membuf m = {0};
    assert_int_equal(plain_request(sbx, url, NULL, &m), 200);
    assert_string_equal(m.data, "shared!");
    /* a tampered signature is refused */
    char *sig = strstr(url, "signature=v1_");
    assert_non_null(sig);
    sig[13] = sig[13] == 'A' ? 'B' : 'A';
    m.len = 0;
    assert_int_equal(plain_request(sbx, url, NULL, &m), 401);
    free(url);
    /* an upload URL takes a plain POST with the raw bytes */
    harness_assert_ok(e2b_files_upload_url(sbx, "/home/user/up.txt", NULL, 0, &url, &err), &err,
                      "upload_url");
    m.len = 0;
    assert_int_equal(plain_request(sbx, url, "uploaded", &m), 200);
    free(url);
    char *text = NULL;
    harness_assert_ok(e2b_files_read_text(sbx, "/home/user/up.txt", &text, &err), &err,
                      "read back");
    assert_string_equal(text, "uploaded");
    free(text);
}

static void test_users_and_by_id_helpers(void **state)
{
    (void)state;
    harness_target *t;
    e2b_sandbox *sbx = new_sandbox(&t);
    e2b_error err;
    e2b_files_opts root = {.user = "root"};
    harness_assert_ok(e2b_files_write(sbx, "/home/user/by-root.txt", "r", 1, &root, NULL, &err),
                      &err, "write as root");
    char *data = NULL;
    size_t len;
    harness_assert_ok(e2b_files_read(sbx, "/home/user/by-root.txt", &root, &data, &len, &err), &err,
                      "read as root");
    free(data);
    e2b_entry_info *v = NULL;
    size_t n = 0;
    harness_assert_ok(e2b_files_list(sbx, "/home/user", 1, &root, &v, &n, &err), &err,
                      "list as root");
    e2b_entry_infos_free(v, n);
    e2b_files_opts nobody = {.user = "no-such-user"};
    harness_assert_code(e2b_files_read(sbx, "/home/user/by-root.txt", &nobody, &data, &len, &err),
                        E2B_ERR_AUTH, &err, "read as an unknown user");
    harness_assert_code(e2b_files_list(sbx, "/home/user", 1, &nobody, &v, &n, &err), E2B_ERR_AUTH,
                        &err, "list as an unknown user");

    /* the plugin-style helpers, by sandbox id */
    const char *id = e2b_sandbox_id(sbx);
    harness_assert_ok(e2b_write_file_to_sandbox(t->client, id, "/home/user/svc.txt",
                                                "with \"\"\" quotes and \\ backslashes\n", &err),
                      &err, "write_file_to_sandbox");
    char *text = NULL;
    harness_assert_ok(e2b_read_file_from_sandbox(t->client, id, "/home/user/svc.txt", &text, &err),
                      &err, "read_file_from_sandbox");
    assert_string_equal(text, "with \"\"\" quotes and \\ backslashes\n");
    free(text);
    harness_assert_code(
        e2b_read_file_from_sandbox(t->client, id, "/home/user/none.txt", &text, &err),
        E2B_ERR_FILE_NOT_FOUND, &err, "read_file_from_sandbox missing");
    assert_null(text);
    harness_assert_code(e2b_read_file_from_sandbox(t->client, "nosuchsandbox", "/x", &text, &err),
                        E2B_ERR_SANDBOX_NOT_FOUND, &err, "read_file_from_sandbox unknown id");
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_and_bytes_roundtrip),
        cmocka_unit_test(test_errors_are_typed),
        cmocka_unit_test(test_big_file_streamed_with_low_memory),
        cmocka_unit_test(test_gzip_upload_and_download),
        cmocka_unit_test(test_write_many_in_one_request),
        cmocka_unit_test(test_list_depth_and_dirs),
        cmocka_unit_test(test_watch_dir),
        cmocka_unit_test(test_upload_metadata),
        cmocka_unit_test(test_presigned_urls),
        cmocka_unit_test(test_users_and_by_id_helpers),
    };
    return harness_run(argc, argv, "files_basic", tests, sizeof tests / sizeof tests[0]);
}
