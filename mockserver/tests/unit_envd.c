/* unit_envd: e2b-mock's envd surface in process, over real sockets with libcurl:
 * /health, /files (auth, signatures, multipart and octet-stream uploads fed byte by byte,
 * gzip both ways, hostile paths, large files without RSS growth), filesystem.Filesystem
 * (Stat, MakeDir, Move, ListDir, Remove, WatchDir stream, polling watchers) and
 * process.Process (Start streams, stdin, signals, Connect replay, deadlines, destroy). */
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

/* Streaming Connect call: returns the decoded envelopes as a JSON array of
 * {"flags":n,"msg":<parsed>} in arrival order. */
typedef struct env_list {
    cJSON *arr;
} env_list;

static int collect_env(void *ud, uint8_t flags, const unsigned char *payload, size_t len)
{
    env_list *l = ud;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "flags", flags);
    cJSON *m = cJSON_ParseWithLength((const char *)payload, len);
    assert_non_null(m);
    cJSON_AddItemToObject(o, "msg", m);
    cJSON_AddItemToArray(l->arr, o);
    return 0;
}

static cJSON *stream_call(const char *method, const char *json, const char *const *more)
{
    size_t el;
    unsigned char *env = connect_envelope(0, json, strlen(json), &el);
    const char *extra[8] = {"Content-Type: application/connect+json",
                            "Connect-Protocol-Version: 1"};
    size_t n = 2;
    for (size_t i = 0; more && more[i] && n < 7; i++)
        extra[n++] = more[i];
    extra[n] = NULL;
    char path[128];
    snprintf(path, sizeof path, "/%s", method);
    resp r = envd_req("POST", path, env, el, 0, true, extra);
    free(env);
    assert_int_equal(r.status, 200);
    char ct[128];
    assert_non_null(hdr(&r, "Content-Type", ct, sizeof ct));
    assert_string_equal(ct, "application/connect+json");
    env_list l = {cJSON_CreateArray()};
    connect_decoder d;
    connect_decoder_init(&d, 0);
    /* byte by byte: the stream must decode at every split */
    for (size_t i = 0; i < r.body.n; i++)
        assert_int_equal(connect_decoder_feed(&d, r.body.p + i, 1, collect_env, &l),
                         CONNECT_DEC_OK);
    assert_int_equal(connect_decoder_finish(&d), CONNECT_DEC_OK);
    connect_decoder_free(&d);
    resp_free(&r);
    /* ALWAYS ends with exactly one end-stream frame */
    int sz = cJSON_GetArraySize(l.arr);
    assert_true(sz >= 1);
    for (int i = 0; i < sz; i++) {
        int flags =
            cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(l.arr, i), "flags")->valueint;
        assert_int_equal(flags, i == sz - 1 ? CONNECT_FLAG_END_STREAM : 0);
    }
    return l.arr;
}

static const cJSON *msg_at(const cJSON *arr, int i)
{
    return cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(arr, i), "msg");
}

/* The end-stream error code ("" for success). */
static const char *end_code(const cJSON *arr)
{
    const cJSON *m = msg_at(arr, cJSON_GetArraySize(arr) - 1);
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(m, "error");
    return e ? jstr(e, "code") : "";
}

static void put_file(const char *rel, const char *data)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", sbx_dir, rel);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(data, f);
    fclose(f);
}

static char *slurp(const char *rel, size_t *len)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", sbx_dir, rel);
    FILE *f = fopen(p, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    size_t got = fread(b, 1, (size_t)n, f);
    fclose(f);
    b[got] = '\0';
    if (len)
        *len = got;
    return b;
}

/* ------------------------------------------------------------------ fixtures */

static bool have_sandboxes(void)
{
    return sbxrt_bwrap_available() || getenv("E2B_MOCK_UNISOLATED");
}

/* ------------------------------------------------------------------ /health and auth */

static void test_health_and_auth(void **state)
{
    (void)state;
    resp r = envd_req("GET", "/health", NULL, 0, 0, false, NULL);
    assert_int_equal(r.status, 204);
    char v[256];
    assert_string_equal(hdr(&r, "Cache-Control", v, sizeof v), "no-store");
    resp_free(&r);

    static const char *const paths[] = {"/files?path=a.txt", "/filesystem.Filesystem/Stat",
                                        "/process.Process/List"};
    for (size_t i = 0; i < 3; i++) {
        for (int wrong = 0; wrong < 2; wrong++) {
            const char *bad[] = {"X-Access-Token: nope", NULL};
            r = envd_req(i ? "POST" : "GET", paths[i], i ? "{}" : NULL, i ? 2 : 0, 0, false,
                         wrong ? bad : NULL);
            assert_int_equal(r.status, 401);
            assert_string_equal(hdr(&r, "Content-Type", v, sizeof v),
                                "application/json; charset=utf-8");
            cJSON *j = cJSON_Parse(r.body.p);
            assert_int_equal(cJSON_GetObjectItemCaseSensitive(j, "code")->valueint, 401);
            assert_string_equal(jstr(j, "message"), ENVD_UNAUTHORIZED_MSG);
            cJSON_Delete(j);
            resp_free(&r);
        }
    }
    /* GET /envs: the create call's envVars */
    r = envd_req("GET", "/envs", NULL, 0, 0, true, NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body.p, "{\"SBX_VAR\":\"from-create\"}");
    resp_free(&r);
    r = envd_req("GET", "/envs", NULL, 0, 0, false, NULL);
    assert_int_equal(r.status, 401);
    resp_free(&r);

    /* an unknown user */
    r = envd_req("GET", "/files?path=a.txt&username=mallory", NULL, 0, 0, true, NULL);
    assert_int_equal(r.status, 401);
    assert_non_null(strstr(r.body.p, "mallory"));
    resp_free(&r);
    const char *basic[] = {"Content-Type: application/json",
                           "Authorization: Basic bWFsbG9yeTo=", NULL}; /* "mallory:" */
    r = envd_req("POST", "/filesystem.Filesystem/Stat", "{\"path\":\"/home/user\"}", 20, 0, true,
                 basic);
    assert_int_equal(r.status, 401);
    assert_non_null(strstr(r.body.p, "\"unauthenticated\""));
    assert_non_null(strstr(r.body.p, "invalid username: 'mallory'"));
    resp_free(&r);
}

static void test_signature(void **state)
{
    (void)state;
    char sig[96], path[512];
    /* the algorithm against a value computed independently (python hashlib/base64):
     * base64(sha256("/home/user/a.txt:read::tok")) without '=' */
    assert_int_equal(envd_sign("/home/user/a.txt", "read", "", "tok", -1, sig, sizeof sig), 0);
    assert_string_equal(sig, "v1_Zkbb3914oLJLvMBzCAHQhm2ydBLxbSx2eQUR/kLdvIY");

    assert_int_equal(envd_sign("signed.txt", "write", "", sbx_token, -1, sig, sizeof sig), 0);
    char *esc = curl_easy_escape(NULL, sig, 0);
    snprintf(path, sizeof path, "/files?path=signed.txt&signature=%s", esc);
    const char *oct[] = {"Content-Type: application/octet-stream", NULL};
    resp r = envd_req("POST", path, "signed", 6, 0, false, oct);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    /* a write signature does not allow reading */
    r = envd_req("GET", path, NULL, 0, 0, false, NULL);
    assert_int_equal(r.status, 401);
    resp_free(&r);
    curl_free(esc);
    assert_int_equal(envd_sign("signed.txt", "read", "", sbx_token, -1, sig, sizeof sig), 0);
    esc = curl_easy_escape(NULL, sig, 0);
    snprintf(path, sizeof path, "/files?path=signed.txt&signature=%s", esc);
    curl_free(esc);
    r = envd_req("GET", path, NULL, 0, 0, false, NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body.p, "signed");
    resp_free(&r);
    /* expiration: valid in the future, rejected in the past */
    long long now = mock_now_ms() / 1000;
    for (int past = 0; past < 2; past++) {
        long long exp = past ? now - 10 : now + 600;
        assert_int_equal(envd_sign("signed.txt", "read", "", sbx_token, exp, sig, sizeof sig), 0);
        esc = curl_easy_escape(NULL, sig, 0);
        snprintf(path, sizeof path, "/files?path=signed.txt&signature=%s&signature_expiration=%lld",
                 esc, exp);
        curl_free(esc);
        r = envd_req("GET", path, NULL, 0, 0, false, NULL);
        assert_int_equal(r.status, past ? 401 : 200);
        resp_free(&r);
    }
    /* a tampered signature */
    r = envd_req("GET", "/files?path=signed.txt&signature=v1_AAAA", NULL, 0, 0, false, NULL);
    assert_int_equal(r.status, 401);
    resp_free(&r);
}

/* ------------------------------------------------------------------ uploads */

static char *multipart(const char *boundary, const char *const *names, const char *const *files,
                       const char *const *datas, size_t n, size_t *len)
{
    size_t cap = 4096;
    for (size_t i = 0; i < n; i++)
        cap += strlen(datas[i]) + strlen(files[i]) + 256;
    char *b = malloc(cap);
    size_t o = 0;
    for (size_t i = 0; i < n; i++)
        o += (size_t)snprintf(b + o, cap - o,
                              "--%s\r\nContent-Disposition: form-data; name=\"%s\"; "
                              "filename=\"%s\"\r\nContent-Type: application/octet-stream\r\n\r\n"
                              "%s\r\n",
                              boundary, names[i], files[i], datas[i]);
    o += (size_t)snprintf(b + o, cap - o, "--%s--\r\n", boundary);
    *len = o;
    return b;
}

static void test_upload_multipart(void **state)
{
    (void)state;
    const char *ct[] = {"Content-Type: multipart/form-data; boundary=XBOUNDARYX", NULL};
    const char *names[] = {"file", "other", "file", "file"};
    const char *files[] = {"/home/user/up/a.txt", "ignored.txt", "rel/b.txt", "empty.txt"};
    const char *datas[] = {"alpha\r\n--not-a-boundary", "zzz", "beta", ""};
    size_t len;
    char *body = multipart("XBOUNDARYX", names, files, datas, 4, &len);
    /* all at once, then byte by byte (chunked): the same result */
    for (size_t step = 0; step <= 1; step++) {
        resp r = envd_req("POST", "/files", body, len, step, true, ct);
        if (r.status != 200)
            fail_msg("step %zu: %ld %s", step, r.status, r.body.p);
        cJSON *j = cJSON_Parse(r.body.p);
        assert_int_equal(cJSON_GetArraySize(j), 3);
        const cJSON *e0 = cJSON_GetArrayItem(j, 0);
        assert_string_equal(jstr(e0, "path"), "/home/user/up/a.txt");
        assert_string_equal(jstr(e0, "name"), "a.txt");
        assert_string_equal(jstr(e0, "type"), "file");
        assert_string_equal(jstr(cJSON_GetArrayItem(j, 1), "path"), "/home/user/rel/b.txt");
        assert_string_equal(jstr(cJSON_GetArrayItem(j, 2), "path"), "/home/user/empty.txt");
        cJSON_Delete(j);
        resp_free(&r);
        char *a = slurp("up/a.txt", NULL);
        assert_string_equal(a, "alpha\r\n--not-a-boundary");
        free(a);
        a = slurp("rel/b.txt", NULL);
        assert_string_equal(a, "beta");
        free(a);
        a = slurp("empty.txt", NULL);
        assert_string_equal(a, "");
        free(a);
        assert_null(slurp("ignored.txt", NULL));
    }
    free(body);

    /* the path query overrides the filename; an existing file is truncated */
    const char *n1[] = {"file"}, *f1[] = {"whatever"}, *d1[] = {"short"};
    body = multipart("BND", n1, f1, d1, 1, &len);
    const char *ctb[] = {"Content-Type: multipart/form-data; boundary=BND", NULL};
    resp r = envd_req("POST", "/files?path=%2Fhome%2Fuser%2Fup%2Fa.txt", body, len, 0, true, ctb);
    if (r.status != 200)
        fail_msg("%ld %s", r.status, r.body.p);
    resp_free(&r);
    free(body);
    char *a = slurp("up/a.txt", NULL);
    assert_string_equal(a, "short");
    free(a);

    /* two parts to the same path -> 400 */
    const char *n2[] = {"file", "file"}, *f2[] = {"dup.txt", "/home/user/dup.txt"},
               *d2[] = {"1", "2"};
    body = multipart("BND", n2, f2, d2, 2, &len);
    r = envd_req("POST", "/files", body, len, 0, true, ctb);
    assert_int_equal(r.status, 400);
    assert_non_null(strstr(r.body.p, "same path"));
    resp_free(&r);
    free(body);

    /* a directory as destination, an escape, and a symlink escape -> 400 */
    char link[1024];
    snprintf(link, sizeof link, "%s/toroot", sbx_dir);
    unlink(link);
    assert_int_equal(symlink("/", link), 0);
    const char *bad[] = {"up", "/etc/pwned.txt", "../../pwned.txt", "toroot/tmp/pwned_envd.txt"};
    for (size_t i = 0; i < 4; i++) {
        const char *f3[] = {bad[i]}, *d3[] = {"x"};
        body = multipart("BND", n1, f3, d3, 1, &len);
        r = envd_req("POST", "/files", body, len, 0, true, ctb);
        if (r.status != 400)
            fail_msg("%s -> %ld %s", bad[i], r.status, r.body.p);
        resp_free(&r);
        free(body);
    }
    assert_int_equal(access("/tmp/pwned_envd.txt", F_OK), -1);
    assert_int_equal(access("/etc/pwned.txt", F_OK), -1);

    /* no file part, bad content type */
    const char *n4[] = {"other"}, *f4[] = {"x.txt"}, *d4[] = {"x"};
    body = multipart("BND", n4, f4, d4, 1, &len);
    r = envd_req("POST", "/files", body, len, 0, true, ctb);
    assert_int_equal(r.status, 400);
    resp_free(&r);
    free(body);
    const char *ctj[] = {"Content-Type: application/json", NULL};
    r = envd_req("POST", "/files?path=x.txt", "{}", 2, 0, true, ctj);
    assert_int_equal(r.status, 400);
    assert_non_null(strstr(r.body.p, "unsupported content type"));
    resp_free(&r);
}

static unsigned char *gzip_of(const char *data, size_t len, size_t *out_len)
{
    z_stream z = {0};
    assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
    size_t cap = deflateBound(&z, len) + 64;
    unsigned char *out = malloc(cap);
    z.next_in = (unsigned char *)data;
    z.avail_in = (uInt)len;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
    *out_len = z.total_out;
    deflateEnd(&z);
    return out;
}

static void test_upload_octet_gzip(void **state)
{
    (void)state;
    const char *oct[] = {"Content-Type: application/octet-stream", NULL};
    resp r = envd_req("POST", "/files?path=o%2Fplain.bin", "raw bytes", 9, 1, true, oct);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body.p, "\"/home/user/o/plain.bin\""));
    resp_free(&r);
    char *a = slurp("o/plain.bin", NULL);
    assert_string_equal(a, "raw bytes");
    free(a);

    char text[5000];
    for (size_t i = 0; i < sizeof text - 1; i++)
        text[i] = (char)('a' + i % 23);
    text[sizeof text - 1] = '\0';
    size_t gl;
    unsigned char *gz = gzip_of(text, strlen(text), &gl);
    const char *octgz[] = {"Content-Type: application/octet-stream", "Content-Encoding: gzip",
                           NULL};
    for (size_t step = 0; step <= 1; step++) { /* whole, then one byte per chunk */
        unlink("o/gz.txt");
        r = envd_req("POST", "/files?path=o/gz.txt", gz, gl, step, true, octgz);
        assert_int_equal(r.status, 200);
        resp_free(&r);
        size_t n;
        a = slurp("o/gz.txt", &n);
        assert_int_equal(n, strlen(text));
        assert_string_equal(a, text);
        free(a);
    }
    /* truncated and corrupt gzip -> 400 */
    r = envd_req("POST", "/files?path=o/bad.txt", gz, gl / 2, 0, true, octgz);
    assert_int_equal(r.status, 400);
    resp_free(&r);
    r = envd_req("POST", "/files?path=o/bad.txt", "not gzip at all", 15, 0, true, octgz);
    assert_int_equal(r.status, 400);
    resp_free(&r);
    free(gz);
    /* path is required */
    r = envd_req("POST", "/files", "x", 1, 0, true, oct);
    assert_int_equal(r.status, 400);
    resp_free(&r);
    /* X-Metadata-* headers: stored, echoed, reported by Stat, replaced by the next upload */
    const char *octm[] = {"Content-Type: application/octet-stream", "X-Metadata-Owner-Team: Data",
                          "X-Metadata-v: 1 2", NULL};
    r = envd_req("POST", "/files?path=o/meta.txt", "m", 1, 0, true, octm);
    assert_int_equal(r.status, 200);
    cJSON *mj = cJSON_Parse(r.body.p);
    const cJSON *md = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(mj, 0), "metadata");
    assert_string_equal(jstr(md, "owner-team"), "Data");
    assert_string_equal(jstr(md, "v"), "1 2");
    cJSON_Delete(mj);
    resp_free(&r);
    mj = rpc("filesystem.Filesystem/Stat", "{\"path\":\"o/meta.txt\"}", 200);
    md = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(mj, "entry"),
                                          "metadata");
    assert_string_equal(jstr(md, "owner-team"), "Data");
    assert_string_equal(jstr(md, "v"), "1 2");
    cJSON_Delete(mj);
    r = envd_req("POST", "/files?path=o/meta.txt", "m", 1, 0, true, oct);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    mj = rpc("filesystem.Filesystem/Stat", "{\"path\":\"o/meta.txt\"}", 200);
    assert_null(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(mj, "entry"),
                                                 "metadata"));
    cJSON_Delete(mj);
    const char *octbad[] = {"Content-Type: application/octet-stream", "X-Metadata-k: caf\xc3\xa9",
                            NULL};
    r = envd_req("POST", "/files?path=o/meta2.txt", "m", 1, 0, true, octbad);
    assert_int_equal(r.status, 400);
    resp_free(&r);

    /* an empty body creates an empty file */
    r = envd_req("POST", "/files?path=o/zero.txt", "", 0, 0, true, oct);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    size_t n = 99;
    a = slurp("o/zero.txt", &n);
    assert_int_equal(n, 0);
    free(a);
}

/* ------------------------------------------------------------------ downloads */

static void test_download(void **state)
{
    (void)state;
    put_file("dl.txt", "download me");
    resp r = envd_req("GET", "/files?path=%2Fhome%2Fuser%2Fdl.txt", NULL, 0, 0, true, NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body.p, "download me");
    char v[256];
    assert_string_equal(hdr(&r, "Content-Length", v, sizeof v), "11");
    assert_non_null(strstr(hdr(&r, "Content-Disposition", v, sizeof v), "dl.txt"));
    resp_free(&r);

    r = envd_req("GET", "/files?path=missing.txt", NULL, 0, 0, true, NULL);
    assert_int_equal(r.status, 404);
    assert_non_null(strstr(r.body.p, "\"path 'missing.txt' does not exist\""));
    resp_free(&r);
    r = envd_req("GET", "/files?path=%2Fhome%2Fuser", NULL, 0, 0, true, NULL);
    assert_int_equal(r.status, 400);
    assert_non_null(strstr(r.body.p, "\"path '/home/user' is a directory\""));
    resp_free(&r);

    /* hostile paths never serve host files */
    char link[1024];
    snprintf(link, sizeof link, "%s/rootlink", sbx_dir);
    unlink(link);
    assert_int_equal(symlink("/", link), 0);
    snprintf(link, sizeof link, "%s/passwdlink", sbx_dir);
    unlink(link);
    assert_int_equal(symlink("/etc/passwd", link), 0);
    static const char *const hostile[] = {"/files?path=/etc/passwd",
                                          "/files?path=../../../../etc/passwd",
                                          "/files?path=/home/user/../../etc/passwd",
                                          "/files?path=rootlink/etc/passwd",
                                          "/files?path=passwdlink",
                                          "/files?path=a%00/../../etc/passwd"};
    for (size_t i = 0; i < sizeof hostile / sizeof hostile[0]; i++) {
        r = envd_req("GET", hostile[i], NULL, 0, 0, true, NULL);
        if (r.status == 200 || strstr(r.body.p ? r.body.p : "", "root:"))
            fail_msg("%s served %ld: %s", hostile[i], r.status, r.body.p);
        assert_true(r.status == 400 || r.status == 404);
        resp_free(&r);
    }
    /* a FIFO planted in the sandbox: answered at once, never read or written */
    char fifo[1024];
    snprintf(fifo, sizeof fifo, "%s/pipe", sbx_dir);
    unlink(fifo);
    assert_int_equal(mkfifo(fifo, 0644), 0);
    r = envd_req("GET", "/files?path=pipe", NULL, 0, 0, true, NULL);
    assert_int_equal(r.status, 400);
    assert_non_null(strstr(r.body.p, "not a regular file"));
    resp_free(&r);
    const char *oct[] = {"Content-Type: application/octet-stream", NULL};
    r = envd_req("POST", "/files?path=pipe", "x", 1, 0, true, oct);
    assert_int_equal(r.status, 400);
    resp_free(&r);
    unlink(fifo);

    char *lng = malloc(9000);
    strcpy(lng, "/files?path=");
    memset(lng + 12, 'a', 8000);
    lng[8012] = '\0';
    r = envd_req("GET", lng, NULL, 0, 0, true, NULL);
    assert_int_equal(r.status, 400);
    resp_free(&r);
    free(lng);

    /* gzip only when asked for gzip alone */
    const char *ae[] = {"Accept-Encoding: gzip", NULL};
    r = envd_req("GET", "/files?path=dl.txt", NULL, 0, 0, true, ae);
    assert_int_equal(r.status, 200);
    assert_string_equal(hdr(&r, "Content-Encoding", v, sizeof v), "gzip");
    char out[64];
    z_stream z = {0};
    assert_int_equal(inflateInit2(&z, 15 + 16), Z_OK);
    z.next_in = (unsigned char *)r.body.p;
    z.avail_in = (uInt)r.body.n;
    z.next_out = (unsigned char *)out;
    z.avail_out = sizeof out;
    assert_int_equal(inflate(&z, Z_FINISH), Z_STREAM_END);
    assert_int_equal(z.total_out, 11);
    assert_memory_equal(out, "download me", 11);
    inflateEnd(&z);
    resp_free(&r);
    const char *ae2[] = {"Accept-Encoding: gzip, deflate", NULL};
    r = envd_req("GET", "/files?path=dl.txt", NULL, 0, 0, true, ae2);
    assert_null(hdr(&r, "Content-Encoding", v, sizeof v));
    assert_string_equal(r.body.p, "download me");
    resp_free(&r);
}

/* Peak RSS of this process in KiB (VmHWM), after resetting it when possible. */
static long vm_kib(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    size_t fl = strlen(field);
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, field, fl) == 0)
            v = strtol(line + fl + 1, NULL, 10);
    if (f)
        fclose(f);
    return v;
}

typedef struct gen {
    size_t total, off;
    uint32_t sum;
} gen;

static size_t gen_read(char *out, size_t sz, size_t n, void *ud)
{
    gen *g = ud;
    size_t take = sz * n;
    if (take > g->total - g->off)
        take = g->total - g->off;
    for (size_t i = 0; i < take; i++)
        out[i] = (char)((g->off + i) * 2654435761u >> 24);
    g->off += take;
    return take;
}

static size_t sum_write(char *p, size_t sz, size_t n, void *ud)
{
    gen *g = ud;
    for (size_t i = 0; i < sz * n; i++) {
        if ((unsigned char)p[i] != (unsigned char)((g->off + i) * 2654435761u >> 24))
            g->sum++; /* mismatches */
    }
    g->off += sz * n;
    return sz * n;
}

static void test_large_file_streams(void **state)
{
    (void)state;
    const size_t size = (size_t)96 << 20;
    FILE *cr = fopen("/proc/self/clear_refs", "w"); /* "5" resets VmHWM to the current RSS */
    if (cr) {
        fputs("5", cr);
        fclose(cr);
    }
    long before = vm_kib("VmRSS:");
    char url[256], l1[128], l2[128];
    snprintf(url, sizeof url, "%s/files?path=big.bin", base);
    snprintf(l1, sizeof l1, "E2b-Sandbox-Id: %s", sbx_id);
    snprintf(l2, sizeof l2, "X-Access-Token: %s", sbx_token);
    struct curl_slist *hl = NULL;
    hl = curl_slist_append(hl, l1);
    hl = curl_slist_append(hl, "E2b-Sandbox-Port: 49983");
    hl = curl_slist_append(hl, l2);
    hl = curl_slist_append(hl, "Content-Type: application/octet-stream");
    hl = curl_slist_append(hl, "Transfer-Encoding: chunked");
    CURL *h = curl_easy_init();
    gen g = {size, 0, 0};
    buf b = {0};
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "POST");
    curl_easy_setopt(h, CURLOPT_READFUNCTION, gen_read);
    curl_easy_setopt(h, CURLOPT_READDATA, &g);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
    assert_int_equal(curl_easy_perform(h), CURLE_OK);
    long st = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &st);
    assert_int_equal(st, 200);
    free(b.p);
    struct stat sb;
    char p[1024];
    snprintf(p, sizeof p, "%s/big.bin", sbx_dir);
    assert_int_equal(stat(p, &sb), 0);
    assert_int_equal((size_t)sb.st_size, size);

    curl_easy_reset(h);
    curl_slist_free_all(hl);
    hl = NULL;
    hl = curl_slist_append(hl, l1);
    hl = curl_slist_append(hl, "E2b-Sandbox-Port: 49983");
    hl = curl_slist_append(hl, l2);
    gen check = {size, 0, 0};
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sum_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &check);
    assert_int_equal(curl_easy_perform(h), CURLE_OK);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &st);
    assert_int_equal(st, 200);
    assert_int_equal(check.off, size);
    assert_int_equal(check.sum, 0);
    curl_easy_cleanup(h);
    curl_slist_free_all(hl);
    long peak = vm_kib("VmHWM:");
    /* server and client share this process: 192 MiB moved, the peak must stay far below */
    if (cr && peak - before > 48 * 1024)
        fail_msg("peak RSS grew by %ld KiB moving 96 MiB each way", peak - before);
    unlink(p);
}

/* ------------------------------------------------------------------ filesystem RPC */

static void test_fs_rpc(void **state)
{
    (void)state;
    put_file("st.txt", "12345");
    char p[1024];
    snprintf(p, sizeof p, "%s/st.txt", sbx_dir);
    chmod(p, 0640);
    cJSON *j = rpc("filesystem.Filesystem/Stat", "{\"path\":\"/home/user/st.txt\"}", 200);
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "entry");
    assert_string_equal(jstr(e, "name"), "st.txt");
    assert_string_equal(jstr(e, "type"), "FILE_TYPE_FILE");
    assert_string_equal(jstr(e, "path"), "/home/user/st.txt");
    assert_string_equal(jstr(e, "size"), "5");
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(e, "mode")->valueint, 0640);
    assert_string_equal(jstr(e, "permissions"), "-rw-r-----");
    assert_non_null(jstr(e, "owner"));
    assert_non_null(jstr(e, "group"));
    int64_t ns;
    assert_int_equal(mock_parse_rfc3339_ns(jstr(e, "modifiedTime"), &ns), 0);
    cJSON_Delete(j);
    expect_rpc_error("filesystem.Filesystem/Stat", "{\"path\":\"nope.txt\"}", 404, "not_found",
                     "nope.txt");
    expect_rpc_error("filesystem.Filesystem/Stat", "{\"path\":\"/etc/passwd\"}", 400,
                     "invalid_argument", "outside the sandbox home");
    expect_rpc_error("filesystem.Filesystem/Stat", "{\"path\":", 400, "invalid_argument", NULL);
    expect_rpc_error("filesystem.Filesystem/Frobnicate", "{}", 501, "unimplemented", NULL);

    /* MakeDir: created, already_exists, invalid_argument on a file */
    j = rpc("filesystem.Filesystem/MakeDir", "{\"path\":\"mk/a/b\"}", 200);
    e = cJSON_GetObjectItemCaseSensitive(j, "entry");
    assert_string_equal(jstr(e, "type"), "FILE_TYPE_DIRECTORY");
    assert_string_equal(jstr(e, "path"), "/home/user/mk/a/b");
    cJSON_Delete(j);
    expect_rpc_error("filesystem.Filesystem/MakeDir", "{\"path\":\"mk/a/b\"}", 409,
                     "already_exists", NULL);
    expect_rpc_error("filesystem.Filesystem/MakeDir", "{\"path\":\"st.txt\"}", 400,
                     "invalid_argument", NULL);

    /* ListDir: depth, order, symlinks listed not followed */
    put_file("mk/a/f1.txt", "1");
    put_file("mk/a/b/f2.txt", "2");
    snprintf(p, sizeof p, "%s/mk/link", sbx_dir);
    assert_int_equal(symlink("a", p), 0);
    j = rpc("filesystem.Filesystem/ListDir", "{\"path\":\"/home/user/mk\"}", 200);
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(j, "entries");
    assert_int_equal(cJSON_GetArraySize(arr), 2); /* depth 0 = 1: a, link */
    assert_string_equal(jstr(cJSON_GetArrayItem(arr, 0), "path"), "/home/user/mk/a");
    const cJSON *ln = cJSON_GetArrayItem(arr, 1);
    assert_string_equal(jstr(ln, "type"), "FILE_TYPE_SYMLINK");
    assert_string_equal(jstr(ln, "symlinkTarget"), "/home/user/mk/a");
    cJSON_Delete(j);
    j = rpc("filesystem.Filesystem/ListDir", "{\"path\":\"mk\",\"depth\":3}", 200);
    arr = cJSON_GetObjectItemCaseSensitive(j, "entries");
    const char *want[] = {"/home/user/mk/a", "/home/user/mk/a/b", "/home/user/mk/a/b/f2.txt",
                          "/home/user/mk/a/f1.txt", "/home/user/mk/link"};
    assert_int_equal(cJSON_GetArraySize(arr), 5); /* nothing under the link */
    for (int i = 0; i < 5; i++)
        assert_string_equal(jstr(cJSON_GetArrayItem(arr, i), "path"), want[i]);
    cJSON_Delete(j);
    /* listing through the inside symlink reports paths under the requested path */
    if (fs_using_openat2()) {
        j = rpc("filesystem.Filesystem/ListDir", "{\"path\":\"mk/link\",\"depth\":1}", 200);
        arr = cJSON_GetObjectItemCaseSensitive(j, "entries");
        assert_string_equal(jstr(cJSON_GetArrayItem(arr, 0), "path"), "/home/user/mk/link/b");
        cJSON_Delete(j);
    } else { /* the O_NOFOLLOW fallback (e.g. valgrind) follows no symlink at all */
        expect_rpc_error("filesystem.Filesystem/ListDir", "{\"path\":\"mk/link\"}", 400,
                         "invalid_argument", NULL);
    }
    snprintf(p, sizeof p, "%s/emptydir", sbx_dir); /* an empty directory: no entries */
    mkdir(p, 0755);
    j = rpc("filesystem.Filesystem/ListDir", "{\"path\":\"emptydir\"}", 200);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "entries")), 0);
    cJSON_Delete(j);
    expect_rpc_error("filesystem.Filesystem/ListDir", "{\"path\":\"nodir\"}", 404, "not_found",
                     "directory not found");
    expect_rpc_error("filesystem.Filesystem/ListDir", "{\"path\":\"st.txt\"}", 400,
                     "invalid_argument", "not a directory");

    /* Move */
    j = rpc("filesystem.Filesystem/Move",
            "{\"source\":\"st.txt\",\"destination\":\"/home/user/moved/st2.txt\"}", 200);
    assert_string_equal(jstr(cJSON_GetObjectItemCaseSensitive(j, "entry"), "path"),
                        "/home/user/moved/st2.txt");
    cJSON_Delete(j);
    char *a = slurp("moved/st2.txt", NULL);
    assert_string_equal(a, "12345");
    free(a);
    expect_rpc_error("filesystem.Filesystem/Move", "{\"source\":\"st.txt\",\"destination\":\"x\"}",
                     404, "not_found", "source file not found");

    /* Remove: recursive, never through a symlink; missing is fine */
    char canary_dir[600];
    snprintf(canary_dir, sizeof canary_dir, "%s.canary", sbx_dir);
    mkdir(canary_dir, 0755);
    snprintf(p, sizeof p, "%s/keep", canary_dir);
    FILE *f = fopen(p, "w");
    fclose(f);
    char l[1024];
    snprintf(l, sizeof l, "%s/mk/a/out", sbx_dir);
    assert_int_equal(symlink(canary_dir, l), 0);
    j = rpc("filesystem.Filesystem/Remove", "{\"path\":\"mk\"}", 200);
    cJSON_Delete(j);
    assert_int_equal(access(p, F_OK), 0);
    unlink(p);
    rmdir(canary_dir);
    snprintf(p, sizeof p, "%s/mk", sbx_dir);
    assert_int_equal(access(p, F_OK), -1);
    j = rpc("filesystem.Filesystem/Remove", "{\"path\":\"mk\"}", 200);
    cJSON_Delete(j);
    expect_rpc_error("filesystem.Filesystem/Remove", "{\"path\":\"/home/user\"}", 403,
                     "permission_denied", NULL);
}

/* A 1800-level directory chain planted by sandbox code must not crash the server (stack) */
static void test_deep_tree(void **state)
{
    (void)state;
    char p[1024];
    snprintf(p, sizeof p, "%s/deep", sbx_dir);
    mkdir(p, 0755);
    int fd = open(p, O_RDONLY | O_DIRECTORY);
    assert_true(fd >= 0);
    for (int i = 0; i < 1800; i++) {
        assert_int_equal(mkdirat(fd, "d", 0755), 0);
        int nfd = openat(fd, "d", O_RDONLY | O_DIRECTORY);
        close(fd);
        fd = nfd;
        assert_true(fd >= 0);
    }
    close(fd);
    cJSON *j = rpc("filesystem.Filesystem/ListDir", "{\"path\":\"deep\",\"depth\":100000}", 200);
    int n = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "entries"));
    assert_true(n >= 500 && n <= 1800); /* listed down to the recursion bound */
    cJSON_Delete(j);
    j = rpc("filesystem.Filesystem/CreateWatcher", "{\"path\":\"deep\",\"recursive\":true}", 200);
    char q[128];
    snprintf(q, sizeof q, "{\"watcherId\":\"%s\"}", jstr(j, "watcherId"));
    cJSON_Delete(j);
    j = rpc("filesystem.Filesystem/RemoveWatcher", q, 200);
    cJSON_Delete(j);
    j = rpc("filesystem.Filesystem/Remove", "{\"path\":\"deep\"}", 200);
    cJSON_Delete(j);
    assert_int_equal(access(p, F_OK), -1);
}

/* ------------------------------------------------------------------ watches */

static void *touch_later(void *arg)
{
    (void)arg;
    usleep(300 * 1000);
    put_file("wd/new.txt", "x");
    return NULL;
}

static void test_watchdir_stream(void **state)
{
    (void)state;
    char p[1024];
    snprintf(p, sizeof p, "%s/wd", sbx_dir);
    mkdir(p, 0755);
    pthread_t t;
    pthread_create(&t, NULL, touch_later, NULL);
    const char *more[] = {"Connect-Timeout-Ms: 2500", "Keepalive-Ping-Interval: 1", NULL};
    cJSON *arr = stream_call("filesystem.Filesystem/WatchDir",
                             "{\"path\":\"/home/user/wd\",\"includeEntry\":true}", more);
    pthread_join(t, NULL);
    assert_non_null(cJSON_GetObjectItemCaseSensitive(msg_at(arr, 0), "start"));
    bool created = false, keepalive = false;
    for (int i = 1; i < cJSON_GetArraySize(arr) - 1; i++) {
        const cJSON *m = msg_at(arr, i);
        const cJSON *fsev = cJSON_GetObjectItemCaseSensitive(m, "filesystem");
        if (fsev && strcmp(jstr(fsev, "name"), "new.txt") == 0 &&
            strcmp(jstr(fsev, "type"), "EVENT_TYPE_CREATE") == 0) {
            created = true;
            const cJSON *en = cJSON_GetObjectItemCaseSensitive(fsev, "entry");
            assert_string_equal(jstr(en, "path"), "/home/user/wd/new.txt");
        }
        if (cJSON_GetObjectItemCaseSensitive(m, "keepalive"))
            keepalive = true;
    }
    assert_true(created);
    assert_true(keepalive);
    assert_string_equal(end_code(arr), "deadline_exceeded");
    cJSON_Delete(arr);

    arr = stream_call("filesystem.Filesystem/WatchDir", "{\"path\":\"nowhere\"}", NULL);
    assert_int_equal(cJSON_GetArraySize(arr), 1);
    assert_string_equal(end_code(arr), "not_found");
    cJSON_Delete(arr);
}

static void test_poll_watcher(void **state)
{
    (void)state;
    char p[1024];
    snprintf(p, sizeof p, "%s/pw/sub", sbx_dir);
    mock_mkdir_p(p, 0755);
    cJSON *j = rpc("filesystem.Filesystem/CreateWatcher", "{\"path\":\"pw\",\"recursive\":true}",
                   200);
    char id[64];
    snprintf(id, sizeof id, "%s", jstr(j, "watcherId"));
    cJSON_Delete(j);
    put_file("pw/sub/deep.txt", "d");
    snprintf(p, sizeof p, "%s/pw/sub/deep.txt", sbx_dir);
    unlink(p);
    char q[128];
    snprintf(q, sizeof q, "{\"watcherId\":\"%s\"}", id);
    j = rpc("filesystem.Filesystem/GetWatcherEvents", q, 200);
    const cJSON *evs = cJSON_GetObjectItemCaseSensitive(j, "events");
    bool create = false, remove = false;
    const cJSON *ev;
    cJSON_ArrayForEach(ev, evs)
    {
        assert_string_equal(jstr(ev, "name"), "sub/deep.txt");
        create |= strcmp(jstr(ev, "type"), "EVENT_TYPE_CREATE") == 0;
        remove |= strcmp(jstr(ev, "type"), "EVENT_TYPE_REMOVE") == 0;
    }
    assert_true(create && remove);
    cJSON_Delete(j);
    j = rpc("filesystem.Filesystem/GetWatcherEvents", q, 200); /* drained */
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "events")), 0);
    cJSON_Delete(j);
    /* a directory made between two polls, with files (and a subdirectory) written into it
     * before the next poll adds its watch: its contents are reported, then watched */
    j = rpc("filesystem.Filesystem/MakeDir", "{\"path\":\"pw/new/inner\"}", 200);
    cJSON_Delete(j);
    put_file("pw/new/f.txt", "f");
    put_file("pw/new/inner/g.txt", "g");
    j = rpc("filesystem.Filesystem/GetWatcherEvents", q, 200);
    static const char *const want[] = {"new", "new/f.txt", "new/inner", "new/inner/g.txt"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        bool seen = false;
        cJSON_ArrayForEach(ev, cJSON_GetObjectItemCaseSensitive(j, "events"))
        {
            seen |= strcmp(jstr(ev, "name"), want[i]) == 0 &&
                    strcmp(jstr(ev, "type"), "EVENT_TYPE_CREATE") == 0;
        }
        if (!seen)
            fail_msg("no CREATE of %s in %s", want[i], cJSON_PrintUnformatted(j));
    }
    cJSON_Delete(j);
    put_file("pw/new/inner/g.txt", "g2"); /* now watched: its own event */
    j = rpc("filesystem.Filesystem/GetWatcherEvents", q, 200);
    bool later = false;
    cJSON_ArrayForEach(ev, cJSON_GetObjectItemCaseSensitive(j, "events"))
    {
        later |= strcmp(jstr(ev, "name"), "new/inner/g.txt") == 0;
    }
    assert_true(later);
    cJSON_Delete(j);
    j = rpc("filesystem.Filesystem/RemoveWatcher", q, 200);
    cJSON_Delete(j);
    expect_rpc_error("filesystem.Filesystem/GetWatcherEvents", q, 404, "not_found", id);

    /* a per-sandbox cap protects the host's inotify instances */
    char ids[40][64];
    int made = 0;
    for (; made < 40; made++) {
        const char *extra[] = {"Content-Type: application/json", NULL};
        resp r = envd_req("POST", "/filesystem.Filesystem/CreateWatcher", "{\"path\":\"pw\"}", 13,
                          0, true, extra);
        if (r.status != 200) {
            assert_int_equal(r.status, 429);
            assert_non_null(strstr(r.body.p, "resource_exhausted"));
            resp_free(&r);
            break;
        }
        cJSON *cj = cJSON_Parse(r.body.p);
        const char *wid = jstr(cj, "watcherId");
        assert_non_null(wid);
        snprintf(ids[made], sizeof ids[made], "%s", wid ? wid : "");
        cJSON_Delete(cj);
        resp_free(&r);
    }
    assert_int_equal(made, 32);
    for (int i = 0; i < made; i++) {
        snprintf(q, sizeof q, "{\"watcherId\":\"%.63s\"}", ids[i]);
        j = rpc("filesystem.Filesystem/RemoveWatcher", q, 200);
        cJSON_Delete(j);
    }
}

/* ------------------------------------------------------------------ processes */

/* Concatenated base64-decoded output of one stream ("stdout"/"stderr"). */
static char *output_of(const cJSON *arr, const char *which, size_t *chunks_over)
{
    size_t cap = 1 << 20, n = 0;
    char *out = calloc(1, cap);
    for (int i = 0; i < cJSON_GetArraySize(arr); i++) {
        const cJSON *ev = cJSON_GetObjectItemCaseSensitive(msg_at(arr, i), "event");
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(ev, "data");
        const char *b = d ? jstr(d, which) : NULL;
        if (!b)
            continue;
        size_t l;
        unsigned char *raw = envd_unb64(b, &l);
        assert_non_null(raw);
        if (chunks_over && l > 32 * 1024)
            (*chunks_over)++;
        if (n + l + 1 > cap) {
            cap = (n + l + 1) * 2;
            out = realloc(out, cap);
        }
        memcpy(out + n, raw, l);
        n += l;
        out[n] = '\0';
        free(raw);
    }
    return out;
}

static const cJSON *end_event(const cJSON *arr)
{
    const cJSON *ev = cJSON_GetObjectItemCaseSensitive(msg_at(arr, cJSON_GetArraySize(arr) - 2),
                                                       "event");
    const cJSON *end = cJSON_GetObjectItemCaseSensitive(ev, "end");
    assert_non_null(end);
    return end;
}

static void test_process_start(void **state)
{
    (void)state;
    if (!have_sandboxes())
        skip();
    const char *more[] = {"Connect-Timeout-Ms: 30000", "Keepalive-Ping-Interval: 50", NULL};
    cJSON *arr = stream_call("process.Process/Start",
                             "{\"process\":{\"cmd\":\"/bin/bash\",\"args\":[\"-l\",\"-c\","
                             "\"echo hi; pwd; echo $FOO$SBX_VAR; echo err >&2; exit 3\"],"
                             "\"envs\":{\"FOO\":\"bar\"}},\"stdin\":false}",
                             more);
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(msg_at(arr, 0), "event"), "start");
    assert_non_null(st);
    assert_true(cJSON_GetObjectItemCaseSensitive(st, "pid")->valueint >= PROCESS_FIRST_PID);
    char *out = output_of(arr, "stdout", NULL), *err = output_of(arr, "stderr", NULL);
    assert_string_equal(out, "hi\n/home/user\nbarfrom-create\n");
    assert_string_equal(err, "err\n");
    free(out);
    free(err);
    const cJSON *end = end_event(arr);
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(end, "exitCode")->valueint, 3);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(end, "exited")));
    assert_string_equal(jstr(end, "status"), "exit status 3");
    assert_string_equal(jstr(end, "error"), "exit status 3");
    assert_string_equal(end_code(arr), "");
    cJSON_Delete(arr);

    /* exit 0: exitCode and error omitted; cwd honoured; big output in <= 32 KiB chunks */
    put_file("cwdtest.txt", "");
    arr = stream_call("process.Process/Start",
                      "{\"process\":{\"cmd\":\"/bin/sh\",\"args\":[\"-c\",\"pwd; head -c 200000 "
                      "/dev/zero | tr '\\\\0' x\"],\"cwd\":\"/tmp\"}}",
                      NULL);
    size_t over = 0;
    out = output_of(arr, "stdout", &over);
    assert_int_equal(strlen(out), 5 + 200000);
    assert_memory_equal(out, "/tmp\n", 5);
    assert_int_equal(over, 0);
    free(out);
    end = end_event(arr);
    assert_null(cJSON_GetObjectItemCaseSensitive(end, "exitCode"));
    assert_null(cJSON_GetObjectItemCaseSensitive(end, "error"));
    assert_string_equal(jstr(end, "status"), "exit status 0");
    cJSON_Delete(arr);

    /* a missing cwd is invalid_argument with envd's text, before any start event */
    arr = stream_call("process.Process/Start",
                      "{\"process\":{\"cmd\":\"/bin/true\",\"cwd\":\"/home/user/nope\"}}", NULL);
    assert_int_equal(cJSON_GetArraySize(arr), 1);
    assert_string_equal(end_code(arr), "invalid_argument");
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(msg_at(arr, 0), "error");
    assert_string_equal(jstr(e, "message"), "cwd '/home/user/nope' does not exist");
    cJSON_Delete(arr);
}

typedef struct bg {
    const char *json;
    const char *more[4];
    cJSON *result;
} bg;

static void *bg_call(void *arg)
{
    bg *b = arg;
    b->result = stream_call("process.Process/Start", b->json, b->more);
    return NULL;
}

/* Waits until List shows a process whose args contain marker; returns its pid. */
static int wait_listed(const char *marker)
{
    for (int i = 0; i < 200; i++) {
        cJSON *j = rpc("process.Process/List", "{}", 200);
        const cJSON *ps = cJSON_GetObjectItemCaseSensitive(j, "processes"), *p;
        cJSON_ArrayForEach(p, ps)
        {
            char *s = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(p, "config"));
            bool hit = strstr(s, marker) != NULL;
            cJSON_free(s);
            if (hit) {
                int pid = cJSON_GetObjectItemCaseSensitive(p, "pid")->valueint;
                cJSON_Delete(j);
                return pid;
            }
        }
        cJSON_Delete(j);
        usleep(20 * 1000);
    }
    fail_msg("process %s never listed", marker);
    return -1;
}

static void test_process_signal_stdin_connect(void **state)
{
    (void)state;
    if (!have_sandboxes())
        skip();
    /* SIGKILL -> "signal: killed", exitCode -1 */
    bg b = {"{\"process\":{\"cmd\":\"/bin/sleep\",\"args\":[\"30\"]},\"tag\":\"sleeper\"}",
            {NULL},
            NULL};
    pthread_t t;
    pthread_create(&t, NULL, bg_call, &b);
    int pid = wait_listed("\"30\"");
    char q[256];
    snprintf(q, sizeof q, "{\"process\":{\"pid\":%d},\"signal\":\"SIGNAL_SIGKILL\"}", pid);
    cJSON *j = rpc("process.Process/SendSignal", q, 200);
    cJSON_Delete(j);
    pthread_join(t, NULL);
    const cJSON *end = end_event(b.result);
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(end, "exitCode")->valueint, -1);
    assert_string_equal(jstr(end, "status"), "signal: killed");
    assert_string_equal(jstr(end, "error"), "signal: killed");
    assert_null(cJSON_GetObjectItemCaseSensitive(end, "exited"));
    cJSON_Delete(b.result);
    /* gone: signal -> not_found with envd's text; Connect replays start + end */
    char msg[64];
    snprintf(msg, sizeof msg, "process with pid %d not found", pid);
    expect_rpc_error("process.Process/SendSignal", q, 404, "not_found", msg);
    snprintf(q, sizeof q, "{\"process\":{\"pid\":%d}}", pid);
    cJSON *arr = stream_call("process.Process/Connect", q, NULL);
    assert_int_equal(cJSON_GetArraySize(arr), 3);
    assert_string_equal(jstr(end_event(arr), "status"), "signal: killed");
    cJSON_Delete(arr);
    arr = stream_call("process.Process/Connect", "{\"process\":{\"pid\":99999}}", NULL);
    assert_string_equal(end_code(arr), "not_found");
    cJSON_Delete(arr);

    /* SIGTERM, selected by tag; other signals are unimplemented */
    bg b2 = {
        "{\"process\":{\"cmd\":\"/bin/sleep\",\"args\":[\"31\"]},\"tag\":\"t31\"}", {NULL}, NULL};
    pthread_create(&t, NULL, bg_call, &b2);
    pid = wait_listed("\"31\"");
    expect_rpc_error("process.Process/SendSignal",
                     "{\"process\":{\"tag\":\"t31\"},\"signal\":\"SIGNAL_UNSPECIFIED\"}", 501,
                     "unimplemented", NULL);
    j = rpc("process.Process/SendSignal",
            "{\"process\":{\"tag\":\"t31\"},\"signal\":\"SIGNAL_SIGTERM\"}", 200);
    cJSON_Delete(j);
    pthread_join(t, NULL);
    assert_string_equal(jstr(end_event(b2.result), "status"), "signal: terminated");
    cJSON_Delete(b2.result);

    /* stdin: SendInput then CloseStdin, while a Connect stream follows the same process */
    bg b3 = {"{\"process\":{\"cmd\":\"/bin/sh\",\"args\":[\"-c\",\"cat; echo "
             "done-32\"]},\"stdin\":true}",
             {NULL},
             NULL};
    pthread_create(&t, NULL, bg_call, &b3);
    pid = wait_listed("done-32");
    snprintf(q, sizeof q, "{\"process\":{\"pid\":%d},\"input\":{\"stdin\":\"aGVsbG8K\"}}", pid);
    j = rpc("process.Process/SendInput", q, 200);
    cJSON_Delete(j);
    snprintf(q, sizeof q, "{\"process\":{\"pid\":%d}}", pid);
    j = rpc("process.Process/CloseStdin", q, 200);
    cJSON_Delete(j);
    pthread_join(t, NULL);
    char *out = output_of(b3.result, "stdout", NULL);
    assert_string_equal(out, "hello\ndone-32\n");
    free(out);
    cJSON_Delete(b3.result);
    expect_rpc_error("process.Process/Update", q, 404, "not_found", NULL);
    expect_rpc_error("process.Process/SendInput",
                     "{\"process\":{\"pid\":99999},\"input\":{\"stdin\":\"eA==\"}}", 404,
                     "not_found", "process with pid 99999 not found");
}

static long file_size(const char *rel)
{
    char p[1024];
    struct stat st;
    snprintf(p, sizeof p, "%s/%s", sbx_dir, rel);
    return stat(p, &st) == 0 ? (long)st.st_size : -1;
}

static void test_process_pause_resume(void **state)
{
    (void)state;
    if (!have_sandboxes())
        skip();
    bg b = {"{\"process\":{\"cmd\":\"/bin/sh\",\"args\":[\"-c\",\"while :; do echo x >> tick36; "
            "sleep 0.05; done\"]}}",
            {NULL},
            NULL};
    pthread_t t;
    pthread_create(&t, NULL, bg_call, &b);
    int pid = wait_listed("tick36");
    for (int i = 0; i < 200 && file_size("tick36") <= 0; i++)
        usleep(10000);
    assert_int_equal(store_pause(mock_server_store(srv), sbx_id), STORE_OK);
    usleep(200 * 1000);
    long frozen = file_size("tick36");
    usleep(500 * 1000);
    assert_int_equal(file_size("tick36"), frozen); /* stopped processes write nothing */
    int resumed = 0;
    assert_int_equal(store_connect(mock_server_store(srv), sbx_id, 600000, &resumed), STORE_OK);
    assert_int_equal(resumed, 1);
    for (int i = 0; i < 500 && file_size("tick36") == frozen; i++)
        usleep(10000);
    assert_true(file_size("tick36") > frozen);
    char q[128];
    snprintf(q, sizeof q, "{\"process\":{\"pid\":%d},\"signal\":\"SIGNAL_SIGKILL\"}", pid);
    cJSON *j = rpc("process.Process/SendSignal", q, 200);
    cJSON_Delete(j);
    pthread_join(t, NULL);
    assert_string_equal(jstr(end_event(b.result), "status"), "signal: killed");
    cJSON_Delete(b.result);
}

static void test_pty_command_quoting(void **state)
{
    (void)state;
    cJSON *args = cJSON_Parse("[\"-c\",\"echo 'it''s' \\\"$HOME\\\"\",7,\"\"]");
    char *c = pty_command("/bin/bash", args, 80, 24);
    assert_string_equal(c, "stty cols 80 rows 24 2>/dev/null; exec '/bin/bash' '-c' "
                           "'echo '\\''it'\\'''\\''s'\\'' \"$HOME\"' ''");
    free(c);
    cJSON_Delete(args);
    c = pty_command("ls", NULL, 1, 2);
    assert_string_equal(c, "stty cols 1 rows 2 2>/dev/null; exec 'ls'");
    free(c);
}

static void test_process_pty(void **state)
{
    (void)state;
    if (!have_sandboxes())
        skip();
    /* the initial size reaches the program; output is pty data only; the exit code is kept */
    cJSON *arr = stream_call("process.Process/Start",
                             "{\"process\":{\"cmd\":\"/bin/sh\",\"args\":[\"-c\",\"stty size; tty; "
                             "exit 6\"]},\"pty\":{\"size\":{\"cols\":81,\"rows\":25}}}",
                             NULL);
    char *out = output_of(arr, "pty", NULL);
    if (!strstr(out, "25 81\r\n/dev/pts/"))
        fail_msg("pty output: %s", out);
    free(out);
    char *plain = output_of(arr, "stdout", NULL);
    assert_string_equal(plain, ""); /* a PTY reports only pty data */
    free(plain);
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(end_event(arr), "exitCode")->valueint, 6);
    cJSON_Delete(arr);

    /* an interactive shell: resize, then input */
    bg b = {"{\"process\":{\"cmd\":\"/bin/bash\",\"args\":[\"-i\",\"-l\"],\"envs\":{\"TERM\":"
            "\"xterm-256color\"}},\"pty\":{\"size\":{\"cols\":80,\"rows\":24}}}",
            {NULL},
            NULL};
    pthread_t t;
    pthread_create(&t, NULL, bg_call, &b);
    int pid = wait_listed("xterm-256color");
    char q[256];
    snprintf(q, sizeof q,
             "{\"process\":{\"pid\":%d},\"pty\":{\"size\":{\"cols\":101,\"rows\":31}}}", pid);
    cJSON *j = rpc("process.Process/Update", q, 200);
    cJSON_Delete(j);
    /* "stty size; exit 7\n" */
    snprintf(q, sizeof q,
             "{\"process\":{\"pid\":%d},\"input\":{\"pty\":\"c3R0eSBzaXplOyBleGl0IDcK\"}}", pid);
    j = rpc("process.Process/SendInput", q, 200);
    cJSON_Delete(j);
    pthread_join(t, NULL);
    out = output_of(b.result, "pty", NULL);
    if (!strstr(out, "31 101"))
        fail_msg("pty output: %s", out);
    free(out);
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(end_event(b.result), "exitCode")->valueint,
                     7);
    cJSON_Delete(b.result);
    /* Update on a process without a PTY */
    bg b2 = {"{\"process\":{\"cmd\":\"/bin/sleep\",\"args\":[\"39\"]}}", {NULL}, NULL};
    pthread_create(&t, NULL, bg_call, &b2);
    pid = wait_listed("\"39\"");
    snprintf(q, sizeof q, "{\"process\":{\"pid\":%d},\"pty\":{\"size\":{\"cols\":1,\"rows\":1}}}",
             pid);
    expect_rpc_error("process.Process/Update", q, 400, "failed_precondition", "has no PTY");
    snprintf(q, sizeof q, "{\"process\":{\"pid\":%d},\"signal\":\"SIGNAL_SIGKILL\"}", pid);
    j = rpc("process.Process/SendSignal", q, 200);
    cJSON_Delete(j);
    pthread_join(t, NULL);
    cJSON_Delete(b2.result);
}

/* Collects like on_data, then aborts the transfer once one whole envelope has arrived. */
static size_t on_data_then_hang_up(char *p, size_t sz, size_t n, void *ud)
{
    buf *b = ud;
    on_data(p, sz, n, ud);
    if (b->n >= 5) {
        size_t len = (size_t)(unsigned char)b->p[1] << 24 | (size_t)(unsigned char)b->p[2] << 16 |
                     (size_t)(unsigned char)b->p[3] << 8 | (unsigned char)b->p[4];
        if (b->n >= 5 + len)
            return 0;
    }
    return sz * n;
}

/* Number of host processes whose command line is exactly "/bin/sleep <arg>". */
static int host_process_count(const char *arg)
{
    char want[64];
    int wl = snprintf(want, sizeof want, "/bin/sleep%c%s%c", 0, arg, 0);
    int n = 0;
    DIR *d = opendir("/proc");
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL) {
        if (de->d_name[0] < '1' || de->d_name[0] > '9')
            continue;
        char p[300], buf[64];
        snprintf(p, sizeof p, "/proc/%s/cmdline", de->d_name);
        int fd = open(p, O_RDONLY);
        if (fd < 0)
            continue;
        ssize_t r = read(fd, buf, sizeof buf);
        close(fd);
        if (r == wl && memcmp(buf, want, (size_t)wl) == 0)
            n++;
    }
    if (d)
        closedir(d);
    return n;
}

/* A Start whose stream may be cut: returns only when the transfer is over, any outcome. */
static void *raw_start(void *arg)
{
    const char *json = arg;
    size_t el;
    unsigned char *env = connect_envelope(0, json, strlen(json), &el);
    CURL *h = curl_easy_init();
    char url[256], l1[128], l2[128];
    snprintf(url, sizeof url, "%s/process.Process/Start", base);
    snprintf(l1, sizeof l1, "E2b-Sandbox-Id: %s", sbx_id);
    snprintf(l2, sizeof l2, "X-Access-Token: %s", sbx_token);
    struct curl_slist *hl = NULL;
    hl = curl_slist_append(hl, l1);
    hl = curl_slist_append(hl, l2);
    hl = curl_slist_append(hl, "E2b-Sandbox-Port: 49983");
    hl = curl_slist_append(hl, "Content-Type: application/connect+json");
    buf sink = {0};
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, (const char *)env);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)el);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 60L);
    curl_easy_perform(h);
    curl_easy_cleanup(h);
    curl_slist_free_all(hl);
    free(env);
    free(sink.p);
    return NULL;
}

static void test_process_deadline_and_destroy(void **state)
{
    (void)state;
    if (!have_sandboxes())
        skip();
    /* Connect-Timeout-Ms kills the process at the deadline */
    const char *more[] = {"Connect-Timeout-Ms: 400", NULL};
    cJSON *arr = stream_call("process.Process/Start",
                             "{\"process\":{\"cmd\":\"/bin/sleep\",\"args\":[\"33\"]}}", more);
    assert_string_equal(jstr(end_event(arr), "status"), "signal: killed");
    cJSON_Delete(arr);

    /* the deadline holds even after the Start client went away */
    size_t el;
    const char *js = "{\"process\":{\"cmd\":\"/bin/sleep\",\"args\":[\"37\"]}}";
    unsigned char *env = connect_envelope(0, js, strlen(js), &el);
    CURL *h = curl_easy_init();
    char url[256], l1[128], l2[128];
    snprintf(url, sizeof url, "%s/process.Process/Start", base);
    snprintf(l1, sizeof l1, "E2b-Sandbox-Id: %s", sbx_id);
    snprintf(l2, sizeof l2, "X-Access-Token: %s", sbx_token);
    struct curl_slist *hl = NULL;
    hl = curl_slist_append(hl, l1);
    hl = curl_slist_append(hl, l2);
    hl = curl_slist_append(hl, "E2b-Sandbox-Port: 49983");
    hl = curl_slist_append(hl, "Content-Type: application/connect+json");
    hl = curl_slist_append(hl, "Connect-Timeout-Ms: 1500");
    buf ignored = {0};
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, (const char *)env);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)el);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data_then_hang_up);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &ignored);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 60L);
    /* the client hangs up as soon as the start event is in, long before the deadline */
    assert_int_equal(curl_easy_perform(h), CURLE_WRITE_ERROR);
    curl_easy_cleanup(h);
    curl_slist_free_all(hl);
    free(env);
    /* the start event arrived before the client gave up: take the pid from it */
    assert_true(ignored.n > 5);
    cJSON *sj = cJSON_ParseWithLength(ignored.p + 5, ignored.n - 5);
    assert_non_null(sj);
    int gone_pid = cJSON_GetObjectItemCaseSensitive(
                       cJSON_GetObjectItemCaseSensitive(
                           cJSON_GetObjectItemCaseSensitive(sj, "event"), "start"),
                       "pid")
                       ->valueint;
    cJSON_Delete(sj);
    free(ignored.p);
    /* Connect follows it to its end: killed at the 1.5 s deadline, not after 37 s */
    char q0[128];
    snprintf(q0, sizeof q0, "{\"process\":{\"pid\":%d}}", gone_pid);
    arr = stream_call("process.Process/Connect", q0, NULL);
    assert_string_equal(jstr(end_event(arr), "status"), "signal: killed");
    cJSON_Delete(arr);

    /* a Connect subscriber sees live output and the end */
    bg b = {"{\"process\":{\"cmd\":\"/bin/sh\",\"args\":[\"-c\",\"sleep 0.5; echo live-34\"]}}",
            {NULL},
            NULL};
    pthread_t t;
    pthread_create(&t, NULL, bg_call, &b);
    int pid = wait_listed("live-34");
    char q[128];
    snprintf(q, sizeof q, "{\"process\":{\"pid\":%d}}", pid);
    arr = stream_call("process.Process/Connect", q, NULL);
    pthread_join(t, NULL);
    char *out = output_of(arr, "stdout", NULL);
    assert_string_equal(out, "live-34\n");
    free(out);
    cJSON_Delete(arr);
    cJSON_Delete(b.result);

    /* destroying the sandbox kills its processes; the server drops the sandbox's
     * connections (as E2B does), so the stream is cut rather than ended */
    pthread_create(&t, NULL, raw_start, "{\"process\":{\"cmd\":\"/bin/sleep\",\"args\":[\"35\"]}}");
    wait_listed("\"35\"");
    for (int i = 0; i < 500 && host_process_count("35") == 0; i++)
        usleep(10000); /* listed at spawn; the exec of sleep follows */
    assert_true(host_process_count("35") >= 1);
    assert_int_equal(store_kill(mock_server_store(srv), sbx_id), STORE_OK);
    pthread_join(t, NULL);
    int left = 1;
    for (int i = 0; i < 500 && (left = host_process_count("35")) > 0; i++)
        usleep(10000);
    assert_int_equal(left, 0);
    new_sandbox(); /* for whatever runs next */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_health_and_auth),
        cmocka_unit_test(test_signature),
        cmocka_unit_test(test_upload_multipart),
        cmocka_unit_test(test_upload_octet_gzip),
        cmocka_unit_test(test_download),
        cmocka_unit_test(test_large_file_streams),
        cmocka_unit_test(test_fs_rpc),
        cmocka_unit_test(test_deep_tree),
        cmocka_unit_test(test_watchdir_stream),
        cmocka_unit_test(test_poll_watcher),
        cmocka_unit_test(test_process_start),
        cmocka_unit_test(test_process_signal_stdin_connect),
        cmocka_unit_test(test_process_pause_resume),
        cmocka_unit_test(test_pty_command_quoting),
        cmocka_unit_test(test_process_pty),
        cmocka_unit_test(test_process_deadline_and_destroy),
    };
    if (getenv("E2B_TEST_FILTER"))
        cmocka_set_test_filter(getenv("E2B_TEST_FILTER"));
    if (getenv("E2B_TEST_SKIP")) /* e.g. the 96 MiB test under valgrind */
        cmocka_set_skip_filter(getenv("E2B_TEST_SKIP"));
    return cmocka_run_group_tests_name("envd", tests, envd_setup, envd_teardown);
}
