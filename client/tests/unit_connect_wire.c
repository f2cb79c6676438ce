/* unit_connect_wire.c - files.c / commands.c / connect.c against a scripted in-process HTTP
 * server: the exact requests (paths, queries, headers, multipart and envelope bodies) and
 * the handling of replies (typed errors, 502 vs 404, split/slow streams, missing
 * end-stream, timeouts, gzip, watch stop from another thread). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include <cjson/cJSON.h>

#include "connect.h"
#include "e2b/e2b.h"
#include "http.h"
#include "sandbox_internal.h"
#include "wire_server.h"

/* ---- the scripted server ------------------------------------------------------------- */

/* Stream helpers: start a connect+json stream, send envelopes as chunks. */
static void stream_begin(int fd)
{
    wire_send_str(fd, "HTTP/1.1 200 OK\r\nContent-Type: application/connect+json\r\n"
                      "Transfer-Encoding: chunked\r\n\r\n");
}

static void stream_msg(int fd, unsigned char flags, const char *json)
{
    size_t n;
    char *env = e2b_connect_envelope(flags, json, strlen(json), &n);
    wire_send_chunk(fd, env, n);
    free(env);
}

/* Sends one envelope split into single-byte chunks (the client must reassemble). */
static void stream_msg_bytewise(int fd, const char *json)
{
    size_t n;
    char *env = e2b_connect_envelope(0, json, strlen(json), &n);
    for (size_t i = 0; i < n; i++)
        wire_send_chunk(fd, env + i, 1);
    free(env);
}

static void stream_end(int fd, const char *end_json)
{
    if (end_json)
        stream_msg(fd, E2B_CONNECT_FLAG_END_STREAM, end_json);
    wire_send_str(fd, "0\r\n\r\n");
}

static bool handle(int fd, const wire_req *r)
{
    const char *sc = wire_scenario();
    const char *p = r->path;
    if (!strcmp(p, "/health")) {
        if (!strncmp(sc, "gone_", 5))
            wire_send_reply(fd, 502, "application/json", NULL, "{\"code\":502}", 12);
        else
            wire_send_str(fd, "HTTP/1.1 204 No Content\r\n\r\n");
        return true;
    }
    if (!strcmp(sc, "rl429") && (!strncmp(p, "/filesystem.", 12) || !strncmp(p, "/process.", 9))) {
        /* envd's edge rate-limits every RPC, unary and stream alike */
        wire_send_reply(fd, 429, "application/json", "Retry-After: 7\r\n",
                        "{\"code\":429,\"message\":\"rate limit exceeded\"}", 44);
        return true;
    }
    if (!strcmp(p, "/files") && !strcmp(r->method, "GET") && strstr(sc, "drop")) {
        /* promise 1000 bytes, send 10, drop the connection */
        wire_send_str(
            fd, "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: "
                "1000\r\n\r\n0123456789");
        return false;
    }
    if (!strcmp(p, "/files") && !strcmp(r->method, "GET")) {
        if (!strcmp(sc, "404")) {
            wire_send_json(fd, 404, "{\"code\":404,\"message\":\"path '/nope' does not exist\"}");
        } else if (!strcmp(sc, "502")) {
            const char *b =
                "{\"sandboxId\":\"sbx1\",\"message\":\"The sandbox was not found\",\"code\":502}";
            wire_send_reply(fd, 502, "application/json; charset=utf-8", NULL, b, strlen(b));
        } else if (!strcmp(sc, "gzip")) {
            /* gzip the content on the fly */
            static const char text[] = "compressed hello\n";
            unsigned char z[256];
            z_stream zs = {0};
            deflateInit2(&zs, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY);
            zs.next_in = (Bytef *)text;
            zs.avail_in = sizeof text - 1;
            zs.next_out = z;
            zs.avail_out = sizeof z;
            deflate(&zs, Z_FINISH);
            size_t zn = sizeof z - zs.avail_out;
            deflateEnd(&zs);
            wire_send_reply(fd, 200, "text/plain", "Content-Encoding: gzip\r\n", z, zn);
        } else {
            wire_send_reply(fd, 200, "application/octet-stream", NULL, "a\0b", 3);
        }
        return true;
    }
    if (!strcmp(p, "/files") && !strcmp(r->method, "POST")) {
        if (!strcmp(sc, "empty_array"))
            wire_send_json(fd, 200, "[]");
        else if (!strcmp(sc, "507"))
            wire_send_json(fd, 507, "{\"code\":507,\"message\":\"no space\"}");
        else
            wire_send_json(fd, 200,
                           "[{\"path\":\"/home/user/a.txt\",\"name\":\"a.txt\",\"type\":\"file\"},"
                           "{\"path\":\"/home/user/b.txt\",\"name\":\"b.txt\",\"type\":\"file\"}]");
        return true;
    }
    if (!strcmp(p, "/filesystem.Filesystem/ListDir")) {
        if (!strcmp(sc, "plain404")) {
            wire_send_reply(fd, 404, "text/plain", NULL, "404 page not found", 18);
            return true;
        }
        wire_send_json(
            fd, 200,
            "{\"entries\":[{\"name\":\"a.txt\",\"type\":\"FILE_TYPE_FILE\",\"path\":\"/home/"
            "user/a.txt\","
            "\"size\":\"5\",\"mode\":420,\"permissions\":\"-rw-r--r--\",\"owner\":\"user\","
            "\"group\":\"user\","
            "\"modifiedTime\":\"2024-01-01T00:00:00Z\"},{\"name\":\"weird\",\"type\":\"FILE_"
            "TYPE_UNSPECIFIED\"},"
            "{\"name\":\"d\",\"type\":\"FILE_TYPE_DIRECTORY\",\"path\":\"/home/user/"
            "d\",\"size\":4096}]}");
        return true;
    }
    if (!strcmp(p, "/filesystem.Filesystem/Stat")) {
        if (strstr(r->body, "missing"))
            wire_send_json(fd, 404, "{\"code\":\"not_found\",\"message\":\"file not found\"}");
        else if (!strcmp(sc, "wrong_ctype"))
            wire_send_reply(fd, 200, "text/plain", NULL, "{}", 2);
        else
            wire_send_json(
                fd, 200,
                "{\"entry\":{\"name\":\"x\",\"type\":\"FILE_TYPE_FILE\",\"size\":\"12\"}}");
        return true;
    }
    if (!strcmp(p, "/filesystem.Filesystem/MakeDir")) {
        if (!strcmp(sc, "exists"))
            wire_send_json(fd, 409,
                           "{\"code\":\"already_exists\",\"message\":\"directory exists\"}");
        else
            wire_send_json(fd, 200,
                           "{\"entry\":{\"name\":\"d\",\"type\":\"FILE_TYPE_DIRECTORY\"}}");
        return true;
    }
    if (!strcmp(p, "/filesystem.Filesystem/Move") || !strcmp(p, "/filesystem.Filesystem/Remove")) {
        wire_send_json(fd, 200, "{\"entry\":{\"name\":\"b\",\"path\":\"/b\",\"type\":1}}");
        return true;
    }
    if (!strcmp(p, "/filesystem.Filesystem/WatchDir")) {
        stream_begin(fd);
        if (!strcmp(sc, "watch_nostart")) {
            stream_msg(fd, 0, "{\"keepalive\":{}}");
            stream_end(fd, "{}");
            return true;
        }
        stream_msg(fd, 0, "{\"start\":{}}");
        if (!wire_sleep_while_connected(fd, 100))
            return false;
        stream_msg(fd, 0, "{\"filesystem\":{\"name\":\"a.txt\",\"type\":\"EVENT_TYPE_CREATE\"}}");
        stream_msg(fd, 0, "{\"keepalive\":{}}");
        stream_msg(fd, 0,
                   "{\"filesystem\":{\"name\":\"a.txt\",\"type\":\"EVENT_TYPE_WRITE\","
                   "\"entry\":{\"name\":\"a.txt\",\"type\":\"FILE_TYPE_FILE\",\"size\":\"3\"}}}");
        while (wire_sleep_while_connected(fd, 50)) { /* hang until the client stops */
        }
        return false;
    }
    if (!strcmp(p, "/process.Process/Start") || !strcmp(p, "/process.Process/Connect")) {
        if (!strcmp(sc, "start502")) {
            const char *b = "{\"code\":502,\"message\":\"gone\"}";
            wire_send_reply(fd, 502, "application/json", NULL, b, strlen(b));
            return true;
        }
        if (!strcmp(sc, "connect_unknown")) {
            stream_begin(fd);
            stream_end(fd, "{\"error\":{\"code\":\"not_found\",\"message\":\"process with pid 99 "
                           "not found\"}}");
            return true;
        }
        stream_begin(fd);
        stream_msg_bytewise(fd, "{\"event\":{\"start\":{\"pid\":42}}}");
        if (!wire_sleep_while_connected(fd, 30))
            return false;
        stream_msg(fd, 0, "{\"event\":{\"keepalive\":{}}}");
        stream_msg_bytewise(fd, "{\"event\":{\"data\":{\"stdout\":\"aGVsbG8K\"}}}");
        stream_msg(fd, 0, "{\"event\":{\"data\":{\"stderr\":\"d2Fybgo=\"}}}");
        if (strstr(sc, "drop")) {
            return false; /* connection closed abruptly: no terminating chunk */
        }
        if (strstr(sc, "cleanclose")) {
            wire_send_str(fd,
                          "0\r\n\r\n"); /* clean end, but neither end event nor EndStreamResponse */
            return true;
        }
        if (!strcmp(sc, "hang")) {
            while (wire_sleep_while_connected(fd, 50)) {
            }
            return false;
        }
        if (!strcmp(sc, "deadline")) {
            stream_end(
                fd,
                "{\"error\":{\"code\":\"deadline_exceeded\",\"message\":\"deadline exceeded\"}}");
            return true;
        }
        if (!strcmp(sc, "wait_stdin")) {
            /* end only after a SendInput arrived */
            for (int i = 0; i < 300; i++) {
                bool got = false;
                got = wire_count_reqs("/process.Process/SendInput") > 0;
                if (got)
                    break;
                if (!wire_sleep_while_connected(fd, 10))
                    return false;
            }
        }
        stream_msg(
            fd, 0,
            "{\"event\":{\"end\":{\"exitCode\":2,\"exited\":true,\"status\":\"exit status 2\","
            "\"error\":\"exit status 2\"}}}");
        if (!strcmp(sc, "noend")) {
            wire_send_str(fd, "0\r\n\r\n"); /* clean close without the end-stream envelope */
            return true;
        }
        stream_end(fd, "{}");
        return true;
    }
    if (!strcmp(p, "/process.Process/SendSignal")) {
        if (strstr(r->body, "\"pid\":99"))
            wire_send_json(
                fd, 404, "{\"code\":\"not_found\",\"message\":\"process with pid 99 not found\"}");
        else
            wire_send_json(fd, 200, "{}");
        return true;
    }
    if (!strcmp(p, "/process.Process/SendInput") || !strcmp(p, "/process.Process/CloseStdin")) {
        wire_send_json(fd, 200, "{}");
        return true;
    }
    if (!strcmp(p, "/process.Process/List")) {
        wire_send_json(fd, 200,
                       "{\"processes\":[{\"config\":{\"cmd\":\"/bin/"
                       "bash\",\"args\":[\"-l\",\"-c\",\"sleep 10\"]},\"pid\":42}]}");
        return true;
    }
    wire_send_reply(fd, 404, "text/plain", NULL, "nope", 4);
    return true;
}

static void assert_envd_headers(const wire_req *r)
{
    assert_true(wire_has_header(r, "E2b-Sandbox-Id", "sbx1"));
    assert_true(wire_has_header(r, "E2b-Sandbox-Port", "49983"));
    assert_true(wire_has_header(r, "X-Access-Token", "tok123"));
}

/* ---- fixtures ------------------------------------------------------------------------ */

typedef struct fx {
    e2b_client *client;
    e2b_sandbox *sbx;
} fx;

static int setup(void **state)
{
    wire_start(handle);
    fx *f = calloc(1, sizeof *f);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", wire_port());
    e2b_config cfg;
    e2b_config_init(&cfg);
    cfg.api_key = "e2b_test";
    cfg.api_url = url;
    cfg.sandbox_url = url;
    cfg.request_timeout_ms = 5000;
    e2b_error err;
    if (e2b_client_new(&cfg, &f->client, &err) != E2B_OK)
        fail_msg("client: %s", err.message);
    cJSON *o = cJSON_Parse(
        "{\"sandboxID\":\"sbx1\",\"envdVersion\":\"0.5.7\",\"envdAccessToken\":\"tok123\"}");
    if (e2b_sandbox_from_json(f->client, o, &f->sbx, &err) != E2B_OK)
        fail_msg("sbx: %s", err.message);
    cJSON_Delete(o);
    wire_set_scenario("");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    e2b_sandbox_free(f->sbx);
    e2b_client_free(f->client);
    free(f);
    wire_stop();
    return 0;
}

/* ---- files ------------------------------------------------------------------------- */

static void test_read_bytes_and_errors(void **state)
{
    fx *f = *state;
    e2b_error err;
    char *data;
    size_t len;
    e2b_files_opts o = {.user = "root"};
    assert_int_equal(e2b_files_read(f->sbx, "/home/user/a b.txt", &o, &data, &len, &err), E2B_OK);
    assert_int_equal(len, 3);
    assert_memory_equal(data, "a\0b", 4); /* NUL-terminated too */
    free(data);
    wire_req r = wire_last_req("/files");
    assert_string_equal(r.method, "GET");
    assert_string_equal(r.target, "/files?path=%2Fhome%2Fuser%2Fa%20b.txt&username=root");
    assert_envd_headers(&r);
    assert_false(
        wire_has_header_name(&r, "Authorization")); /* the user goes in the query on /files */

    wire_set_scenario("404");
    assert_int_equal(e2b_files_read(f->sbx, "/nope", NULL, &data, &len, &err),
                     E2B_ERR_FILE_NOT_FOUND);
    assert_null(data);
    assert_non_null(strstr(err.message, "does not exist"));
    wire_set_scenario("502");
    assert_int_equal(e2b_files_read(f->sbx, "/nope", NULL, &data, &len, &err),
                     E2B_ERR_SANDBOX_GONE);
    assert_int_equal(err.http_status, 502);

    wire_set_scenario("gzip");
    o.gzip = true;
    assert_int_equal(e2b_files_read(f->sbx, "/z", &o, &data, &len, &err), E2B_OK);
    assert_string_equal(data, "compressed hello\n");
    free(data);
    assert_true(wire_has_header(&(wire_req){0}, "x", "y") == false);
    r = wire_last_req("/files");
    assert_true(wire_has_header(&r, "Accept-Encoding", "gzip"));

    /* size limit */
    wire_set_scenario("");
    o = (e2b_files_opts){.max_size = 2};
    assert_int_equal(e2b_files_read(f->sbx, "/a", &o, &data, &len, &err), E2B_ERR_PROTOCOL);
    assert_null(data);
    assert_int_equal(e2b_files_read(f->sbx, "", NULL, &data, &len, &err), E2B_ERR_INVALID_ARGUMENT);
}

static void test_write_multipart_and_stream(void **state)
{
    fx *f = *state;
    e2b_error err;
    e2b_entry_info *info = NULL;
    assert_int_equal(e2b_files_write(f->sbx, "/home/user/a.txt", "hello", 5, NULL, &info, &err),
                     E2B_OK);
    assert_string_equal(info->path, "/home/user/a.txt");
    assert_int_equal(info->type, E2B_FILE_TYPE_FILE);
    e2b_entry_info_free(info);
    wire_req r = wire_last_req("/files");
    assert_string_equal(r.method, "POST");
    assert_string_equal(r.target, "/files?path=%2Fhome%2Fuser%2Fa.txt");
    assert_envd_headers(&r);
    assert_non_null(strcasestr(r.headers, "Content-Type: multipart/form-data; boundary="));
    assert_non_null(strstr(
        r.body, "Content-Disposition: form-data; name=\"file\"; filename=\"/home/user/a.txt\""));
    assert_non_null(strstr(r.body, "Content-Type: application/octet-stream\r\n\r\nhello\r\n"));

    e2b_write_entry two[] = {{"/home/user/a.txt", "A", 1}, {"rel/b.txt", "BB", 2}};
    e2b_entry_info *v = NULL;
    size_t n = 0;
    assert_int_equal(e2b_files_write_many(f->sbx, two, 2, NULL, &v, &n, &err), E2B_OK);
    assert_int_equal(n, 2);
    assert_string_equal(v[1].name, "b.txt");
    e2b_entry_infos_free(v, n);
    r = wire_last_req("/files");
    assert_string_equal(r.target, "/files"); /* no path query for several files */
    assert_non_null(strstr(r.body, "filename=\"/home/user/a.txt\""));
    assert_non_null(strstr(r.body, "filename=\"rel/b.txt\""));
    e2b_write_entry dup[] = {{"/x", "A", 1}, {"/x", "B", 1}};
    assert_int_equal(e2b_files_write_many(f->sbx, dup, 2, NULL, NULL, NULL, &err),
                     E2B_ERR_INVALID_ARGUMENT);

    /* octet-stream from a FILE*, gzip-compressed on the fly */
    FILE *tmp = tmpfile();
    for (int i = 0; i < 20000; i++)
        fputs("line of text\n", tmp);
    rewind(tmp);
    e2b_files_opts o = {.gzip = true};
    assert_int_equal(e2b_files_write_from_file(f->sbx, "/big.txt", tmp, &o, NULL, &err), E2B_OK);
    fclose(tmp);
    r = wire_last_req("/files");
    assert_true(wire_has_header(&r, "Content-Type", "application/octet-stream"));
    assert_true(wire_has_header(&r, "Content-Encoding", "gzip"));
    assert_true(wire_has_header(&r, "Transfer-Encoding", "chunked"));
    assert_string_equal(r.target, "/files?path=%2Fbig.txt");
    /* the body inflates back to the file */
    unsigned char *plain = malloc(20000 * 13 + 16);
    z_stream zs = {0};
    inflateInit2(&zs, 31);
    zs.next_in = (Bytef *)r.body;
    zs.avail_in = (uInt)r.body_len;
    zs.next_out = plain;
    zs.avail_out = 20000 * 13 + 16;
    assert_int_equal(inflate(&zs, Z_FINISH), Z_STREAM_END);
    assert_int_equal(zs.total_out, 20000 * 13);
    inflateEnd(&zs);
    assert_memory_equal(plain + 13 * 19999, "line of text\n", 13);
    free(plain);
    assert_true(r.body_len < 20000 * 13 / 10);

    /* metadata headers on uploads; bad metadata is refused before sending */
    e2b_kv md[] = {{"Owner", "team a"}, {"build-id", "42"}};
    e2b_files_opts mo = {.metadata = md, .metadata_len = 2};
    assert_int_equal(e2b_files_write(f->sbx, "/m.txt", "m", 1, &mo, NULL, &err), E2B_OK);
    r = wire_last_req("/files");
    assert_true(wire_has_header(&r, "X-Metadata-Owner", "team a"));
    assert_true(wire_has_header(&r, "X-Metadata-build-id", "42"));
    int before = wire_nreqs();
    e2b_kv bad1[] = {{"sp ace", "v"}};
    e2b_kv bad2[] = {{"k", "caf\xc3\xa9"}};
    e2b_kv bad3[] = {{"", "v"}};
    const e2b_kv *bads[] = {bad1, bad2, bad3};
    for (int i = 0; i < 3; i++) {
        mo = (e2b_files_opts){.metadata = bads[i], .metadata_len = 1};
        assert_int_equal(e2b_files_write(f->sbx, "/m.txt", "m", 1, &mo, NULL, &err),
                         E2B_ERR_INVALID_ARGUMENT);
    }
    char big[300];
    memset(big, 'k', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    e2b_kv bad4[] = {{big, "v"}};
    mo = (e2b_files_opts){.metadata = bad4, .metadata_len = 1};
    assert_int_equal(e2b_files_write(f->sbx, "/m.txt", "m", 1, &mo, NULL, &err),
                     E2B_ERR_INVALID_ARGUMENT);
    assert_int_equal(wire_nreqs(), before);

    wire_set_scenario("empty_array");
    assert_int_equal(e2b_files_write_text(f->sbx, "/a", "x", &err), E2B_ERR_PROTOCOL);
    wire_set_scenario("507");
    assert_int_equal(e2b_files_write_text(f->sbx, "/a", "x", &err), E2B_ERR_NOT_ENOUGH_SPACE);
}

static void test_presigned_urls(void **state)
{
    fx *f = *state;
    e2b_error err;
    char *url = NULL;
    char want[256];
    /* the sandbox_url override is the envd direct URL; the token signs; no network call */
    int before = wire_nreqs();
    assert_int_equal(e2b_files_download_url(f->sbx, "/home/user/a.txt", "user", 0, &url, &err),
                     E2B_OK);
    char sig[64];
    assert_true(
        e2b_files_signature("/home/user/a.txt", "read", "user", "tok123", 0, sig, sizeof sig));
    char *esc = e2b_http_escape(sig, (size_t)-1);
    snprintf(want, sizeof want,
             "http://127.0.0.1:%d/files?username=user&path=%%2Fhome%%2Fuser%%2Fa.txt&signature=%s",
             wire_port(), esc);
    assert_string_equal(url, want);
    free(esc);
    free(url);
    assert_int_equal(e2b_files_upload_url(f->sbx, "/x", NULL, 60, &url, &err), E2B_OK);
    assert_non_null(strstr(url, "/files?path=%2Fx&signature=v1_"));
    assert_non_null(strstr(url, "&signature_expiration="));
    assert_null(strstr(url, "username="));
    free(url);
    assert_int_equal(wire_nreqs(), before);
    assert_int_equal(e2b_files_download_url(f->sbx, NULL, NULL, 0, &url, &err),
                     E2B_ERR_INVALID_ARGUMENT);
}

static void test_rpcs(void **state)
{
    fx *f = *state;
    e2b_error err;
    e2b_files_opts o = {.user = "user"};
    e2b_entry_info *v = NULL;
    size_t n = 0;
    assert_int_equal(e2b_files_list(f->sbx, "/home/user", 2, &o, &v, &n, &err), E2B_OK);
    assert_int_equal(n, 2); /* the UNSPECIFIED entry is dropped */
    assert_string_equal(v[0].name, "a.txt");
    assert_int_equal(v[0].size, 5);
    assert_int_equal(v[1].type, E2B_FILE_TYPE_DIR);
    assert_int_equal(v[1].size, 4096);
    e2b_entry_infos_free(v, n);
    wire_req r = wire_last_req("/filesystem.Filesystem/ListDir");
    assert_string_equal(r.method, "POST");
    assert_string_equal(r.body, "{\"path\":\"/home/user\",\"depth\":2}");
    assert_true(wire_has_header(&r, "Content-Type", "application/json"));
    assert_true(wire_has_header(&r, "Connect-Protocol-Version", "1"));
    assert_true(wire_has_header(&r, "Authorization", "Basic dXNlcjo="));
    assert_envd_headers(&r);
    assert_int_equal(e2b_files_list(f->sbx, "/", 0, NULL, &v, &n, &err), E2B_ERR_INVALID_ARGUMENT);
    wire_set_scenario("plain404");
    assert_int_equal(e2b_files_list(f->sbx, "/", 1, NULL, &v, &n, &err), E2B_ERR_UNSUPPORTED);
    wire_set_scenario("");

    bool b = true;
    assert_int_equal(e2b_files_exists(f->sbx, "/missing", NULL, &b, &err), E2B_OK);
    assert_false(b);
    assert_int_equal(e2b_files_exists(f->sbx, "/there", NULL, &b, &err), E2B_OK);
    assert_true(b);
    e2b_entry_info *e = NULL;
    assert_int_equal(e2b_files_stat(f->sbx, "/missing", NULL, &e, &err), E2B_ERR_FILE_NOT_FOUND);
    assert_null(e);
    assert_int_equal(e2b_files_stat(f->sbx, "/there", NULL, &e, &err), E2B_OK);
    assert_int_equal(e->size, 12);
    e2b_entry_info_free(e);
    wire_set_scenario("wrong_ctype");
    assert_int_equal(e2b_files_stat(f->sbx, "/there", NULL, &e, &err), E2B_ERR_PROTOCOL);
    assert_non_null(strstr(err.message, "unsupported content type"));

    wire_set_scenario("");
    assert_int_equal(e2b_files_make_dir(f->sbx, "/d", NULL, &b, &err), E2B_OK);
    assert_true(b);
    wire_set_scenario("exists");
    assert_int_equal(e2b_files_make_dir(f->sbx, "/d", NULL, &b, &err), E2B_OK);
    assert_false(b);
    wire_set_scenario("");
    assert_int_equal(e2b_files_rename(f->sbx, "/a", "/b", NULL, &e, &err), E2B_OK);
    assert_string_equal(e->path, "/b");
    e2b_entry_info_free(e);
    r = wire_last_req("/filesystem.Filesystem/Move");
    assert_string_equal(r.body, "{\"source\":\"/a\",\"destination\":\"/b\"}");
    assert_int_equal(e2b_files_remove(f->sbx, "/b", NULL, &err), E2B_OK);
    r = wire_last_req("/filesystem.Filesystem/Remove");
    assert_string_equal(r.body, "{\"path\":\"/b\"}");
}

typedef struct watch_seen {
    pthread_mutex_t mu;
    int n;
    e2b_fs_event_type types[8];
    int64_t entry_size;
} watch_seen;

static e2b_code on_fs_event(void *ud, const e2b_fs_event *ev)
{
    watch_seen *w = ud;
    pthread_mutex_lock(&w->mu);
    if (w->n < 8)
        w->types[w->n++] = ev->type;
    if (ev->entry)
        w->entry_size = ev->entry->size;
    assert_string_equal(ev->name, "a.txt");
    pthread_mutex_unlock(&w->mu);
    return E2B_OK;
}

static void test_watch_dir(void **state)
{
    fx *f = *state;
    e2b_error err;
    watch_seen ws = {.mu = PTHREAD_MUTEX_INITIALIZER};
    e2b_watch_opts o = {.recursive = true, .on_event = on_fs_event, .ud = &ws};
    e2b_watch *w = NULL;
    assert_int_equal(e2b_files_watch_dir(f->sbx, "/home/user", &o, &w, &err), E2B_OK);
    for (int i = 0; i < 500; i++) { /* generous: up to 5 s */
        pthread_mutex_lock(&ws.mu);
        int n = ws.n;
        pthread_mutex_unlock(&ws.mu);
        if (n >= 2)
            break;
        usleep(10000);
    }
    pthread_mutex_lock(&ws.mu);
    assert_int_equal(ws.n, 2);
    assert_int_equal(ws.types[0], E2B_FS_EVENT_CREATE);
    assert_int_equal(ws.types[1], E2B_FS_EVENT_WRITE);
    assert_int_equal(ws.entry_size, 3);
    pthread_mutex_unlock(&ws.mu);
    /* the server never ends the stream: stop must still return */
    e2b_watch_stop(w);
    assert_int_equal(e2b_watch_wait(w, &err), E2B_OK);
    e2b_watch_free(w);
    wire_req r = wire_last_req("/filesystem.Filesystem/WatchDir");
    assert_true(wire_has_header(&r, "Content-Type", "application/connect+json"));
    assert_true(wire_has_header(&r, "Keepalive-Ping-Interval", "50"));
    assert_false(wire_has_header_name(&r, "Connect-Timeout-Ms")); /* no limit by default */
    assert_int_equal((unsigned char)r.body[0], 0);
    assert_string_equal(r.body + 5, "{\"path\":\"/home/user\",\"recursive\":true}");

    wire_set_scenario("watch_nostart");
    w = NULL;
    assert_int_equal(e2b_files_watch_dir(f->sbx, "/home/user", &o, &w, &err), E2B_ERR_PROTOCOL);
    assert_null(w);
    assert_non_null(strstr(err.message, "Expected start event"));
}

/* ---- commands ------------------------------------------------------------------------ */

typedef struct out_seen {
    char out[64], err[64];
    size_t nout, nerr;
} out_seen;

static void cb_out(void *ud, const char *d, size_t n)
{
    out_seen *s = ud;
    memcpy(s->out + s->nout, d, n);
    s->nout += n;
}

static void cb_err(void *ud, const char *d, size_t n)
{
    out_seen *s = ud;
    memcpy(s->err + s->nerr, d, n);
    s->nerr += n;
}

static void test_run_foreground(void **state)
{
    fx *f = *state;
    e2b_error err;
    out_seen s = {0};
    e2b_kv envs[] = {{"X", "1"}};
    e2b_command_opts o = {.envs = envs,
                          .envs_len = 1,
                          .cwd = "/home/user/app",
                          .on_stdout = cb_out,
                          .on_stderr = cb_err,
                          .ud = &s};
    e2b_command_result r;
    assert_int_equal(e2b_commands_run(f->sbx, "echo hello", &o, &r, &err), E2B_OK);
    assert_int_equal(r.pid, 42);
    assert_int_equal(r.exit_code, 2); /* non-zero exit: a result, not an error */
    assert_string_equal(r.error, "exit status 2");
    assert_string_equal(r.stdout_data, "hello\n");
    assert_string_equal(r.stderr_data, "warn\n");
    assert_int_equal(s.nout, 6);
    assert_int_equal(s.nerr, 5);
    e2b_command_result_free(&r);
    wire_req q = wire_last_req("/process.Process/Start");
    assert_true(wire_has_header(&q, "Content-Type", "application/connect+json"));
    assert_true(wire_has_header(&q, "Connect-Protocol-Version", "1"));
    assert_true(wire_has_header(&q, "Connect-Timeout-Ms", "60000"));
    assert_true(wire_has_header(&q, "Keepalive-Ping-Interval", "50"));
    assert_envd_headers(&q);
    const char *want =
        "{\"process\":{\"cmd\":\"/bin/bash\",\"args\":[\"-l\",\"-c\",\"echo hello\"],"
        "\"envs\":{\"X\":\"1\"},\"cwd\":\"/home/user/app\"},\"stdin\":false}";
    assert_int_equal(q.body_len, 5 + strlen(want));
    assert_memory_equal(q.body, "\x00\x00\x00", 3);
    assert_int_equal(((unsigned char)q.body[3] << 8) | (unsigned char)q.body[4], strlen(want));
    assert_string_equal(q.body + 5, want);
}

static void test_run_failures_keep_partial_output(void **state)
{
    fx *f = *state;
    e2b_error err;
    e2b_command_result r;
    wire_set_scenario("noend");
    assert_int_equal(e2b_commands_run(f->sbx, "x", NULL, &r, &err), E2B_ERR_PROTOCOL);
    assert_non_null(strstr(err.message, "missing EndStreamResponse"));
    assert_string_equal(r.stdout_data, "hello\n");
    e2b_command_result_free(&r);

    wire_set_scenario("deadline");
    assert_int_equal(e2b_commands_run(f->sbx, "x", NULL, &r, &err), E2B_ERR_OPERATION_TIMEOUT);
    assert_string_equal(r.stdout_data, "hello\n");
    assert_false(r.finished);
    e2b_command_result_free(&r);

    /* the client's own deadline: the server hangs after some output */
    wire_set_scenario("hang");
    e2b_command_opts o = {.timeout_ms = 400};
    assert_int_equal(e2b_commands_run(f->sbx, "x", &o, &r, &err), E2B_ERR_OPERATION_TIMEOUT);
    assert_string_equal(r.stdout_data, "hello\n");
    assert_string_equal(r.stderr_data, "warn\n");
    e2b_command_result_free(&r);
    wire_req q = wire_last_req("/process.Process/Start");
    assert_true(wire_has_header(&q, "Connect-Timeout-Ms", "400"));

    wire_set_scenario("start502");
    assert_int_equal(e2b_commands_run(f->sbx, "x", NULL, &r, &err), E2B_ERR_SANDBOX_GONE);
    assert_int_equal(r.pid, 0);
    e2b_command_result_free(&r);
}

static void test_dropped_connection_probes_health(void **state)
{
    fx *f = *state;
    e2b_error err;
    e2b_command_result r;
    /* the sandbox is alive: the drop stays a network/protocol error */
    wire_set_scenario("drop");
    e2b_code rc = e2b_commands_run(f->sbx, "x", NULL, &r, &err);
    assert_true(rc == E2B_ERR_NETWORK || rc == E2B_ERR_PROTOCOL);
    assert_string_equal(r.stdout_data, "hello\n");
    e2b_command_result_free(&r);
    /* /health answers 502: the sandbox is gone */
    wire_set_scenario("gone_drop");
    assert_int_equal(e2b_commands_run(f->sbx, "x", NULL, &r, &err), E2B_ERR_SANDBOX_GONE);
    assert_non_null(strstr(err.message, "health check"));
    assert_string_equal(r.stdout_data, "hello\n");
    e2b_command_result_free(&r);
    wire_req q = wire_last_req("/health");
    assert_string_equal(q.method, "GET");
    assert_envd_headers(&q);
    wire_set_scenario("gone_cleanclose");
    assert_int_equal(e2b_commands_run(f->sbx, "x", NULL, &r, &err), E2B_ERR_SANDBOX_GONE);
    e2b_command_result_free(&r);
    wire_set_scenario("cleanclose");
    assert_int_equal(e2b_commands_run(f->sbx, "x", NULL, &r, &err), E2B_ERR_PROTOCOL);
    assert_non_null(strstr(err.message, "missing EndStreamResponse"));
    e2b_command_result_free(&r);
    /* downloads too */
    char *data = NULL;
    size_t len;
    wire_set_scenario("drop");
    assert_int_equal(e2b_files_read(f->sbx, "/a", NULL, &data, &len, &err), E2B_ERR_NETWORK);
    wire_set_scenario("gone_drop");
    assert_int_equal(e2b_files_read(f->sbx, "/a", NULL, &data, &len, &err), E2B_ERR_SANDBOX_GONE);
    assert_null(data);
}

static void test_rate_limited_keeps_retry_after(void **state)
{
    fx *f = *state;
    e2b_error err;
    wire_set_scenario("rl429");
    /* unary RPC */
    e2b_entry_info *e = NULL;
    assert_int_equal(e2b_files_stat(f->sbx, "/there", NULL, &e, &err), E2B_ERR_RATE_LIMITED);
    assert_null(e);
    assert_int_equal(err.http_status, 429);
    assert_int_equal(err.retry_after_s, 7);
    /* server-streaming RPC */
    e2b_command_result r;
    assert_int_equal(e2b_commands_run(f->sbx, "x", NULL, &r, &err), E2B_ERR_RATE_LIMITED);
    assert_int_equal(err.http_status, 429);
    assert_int_equal(err.retry_after_s, 7);
    e2b_command_result_free(&r);
    wire_set_scenario("");
}

static void test_background_handle(void **state)
{
    fx *f = *state;
    e2b_error err;
    wire_set_scenario("wait_stdin");
    out_seen s = {0};
    e2b_command_opts o = {.stdin_open = true, .on_stdout = cb_out, .ud = &s, .user = "root"};
    e2b_command_handle *h = NULL;
    assert_int_equal(e2b_commands_start(f->sbx, "cat", &o, &h, &err), E2B_OK);
    assert_int_equal(e2b_command_handle_pid(h), 42);
    assert_int_equal(e2b_command_send_stdin(h, "hi\n", 3, &err), E2B_OK);
    wire_req q = wire_last_req("/process.Process/SendInput");
    assert_string_equal(q.body, "{\"process\":{\"pid\":42},\"input\":{\"stdin\":\"aGkK\"}}");
    assert_true(wire_has_header(&q, "Authorization", "Basic cm9vdDo="));
    assert_int_equal(e2b_command_close_stdin(h, &err), E2B_OK);
    q = wire_last_req("/process.Process/CloseStdin");
    assert_string_equal(q.body, "{\"process\":{\"pid\":42}}");
    e2b_command_result r;
    assert_int_equal(e2b_command_wait(h, &r, &err), E2B_OK);
    assert_int_equal(r.exit_code, 2);
    assert_string_equal(r.stdout_data, "hello\n");
    e2b_command_result_free(&r);
    /* wait again: same outcome */
    assert_int_equal(e2b_command_wait(h, &r, &err), E2B_OK);
    assert_int_equal(r.exit_code, 2);
    e2b_command_result_free(&r);
    q = wire_last_req("/process.Process/Start");
    assert_string_equal(
        q.body + 5,
        "{\"process\":{\"cmd\":\"/bin/bash\",\"args\":[\"-l\",\"-c\",\"cat\"]},\"stdin\":true}");
    bool killed = false;
    assert_int_equal(e2b_command_kill(h, &killed, &err), E2B_OK);
    assert_true(killed);
    q = wire_last_req("/process.Process/SendSignal");
    assert_string_equal(q.body, "{\"process\":{\"pid\":42},\"signal\":\"SIGNAL_SIGKILL\"}");
    e2b_command_handle_free(h);
    assert_int_equal(s.nout, 6);

    /* free while the stream is still open returns promptly (disconnect) */
    wire_set_scenario("hang");
    assert_int_equal(e2b_commands_start(f->sbx, "sleep 100", NULL, &h, &err), E2B_OK);
    e2b_command_disconnect(h);
    assert_int_equal(e2b_command_wait(h, &r, &err), E2B_ERR_CANCELLED);
    e2b_command_result_free(&r);
    e2b_command_handle_free(h);

    wire_set_scenario("connect_unknown");
    h = NULL;
    assert_int_equal(e2b_commands_connect(f->sbx, 99, NULL, &h, &err), E2B_ERR_NOT_FOUND);
    assert_null(h);
    q = wire_last_req("/process.Process/Connect");
    assert_string_equal(q.body + 5, "{\"process\":{\"pid\":99}}");
}

static void test_by_pid(void **state)
{
    fx *f = *state;
    e2b_error err;
    bool killed = true;
    assert_int_equal(e2b_commands_kill(f->sbx, 99, &killed, &err), E2B_OK);
    assert_false(killed);
    assert_int_equal(e2b_commands_kill(f->sbx, 42, &killed, &err), E2B_OK);
    assert_true(killed);
    e2b_process_info *v = NULL;
    size_t n = 0;
    assert_int_equal(e2b_commands_list(f->sbx, NULL, &v, &n, &err), E2B_OK);
    assert_int_equal(n, 1);
    assert_int_equal(v[0].pid, 42);
    assert_string_equal(v[0].args[2], "sleep 10");
    e2b_process_infos_free(v, n);
    wire_req q = wire_last_req("/process.Process/List");
    assert_string_equal(q.body, "{}");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_read_bytes_and_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_multipart_and_stream, setup, teardown),
        cmocka_unit_test_setup_teardown(test_presigned_urls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rpcs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_watch_dir, setup, teardown),
        cmocka_unit_test_setup_teardown(test_run_foreground, setup, teardown),
        cmocka_unit_test_setup_teardown(test_run_failures_keep_partial_output, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dropped_connection_probes_health, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rate_limited_keeps_retry_after, setup, teardown),
        cmocka_unit_test_setup_teardown(test_background_handle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_by_pid, setup, teardown),
    };
    return cmocka_run_group_tests_name("unit_connect_wire", tests, NULL, NULL);
}
