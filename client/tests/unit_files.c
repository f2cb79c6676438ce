/* unit_files.c - network-free parts of files.c: EntryInfo proto3 JSON parsing, the upload
 * reply, the streaming gzip compressor and decompressor (split anywhere). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "files_internal.h"

static void test_entry_full(void **state)
{
    (void)state;
    const char *j =
        "{\"name\":\"a.txt\",\"type\":\"FILE_TYPE_FILE\",\"path\":\"/home/user/a.txt\","
        "\"size\":\"9007199254740993\",\"mode\":420,\"permissions\":\"-rw-r--r--\","
        "\"owner\":\"user\",\"group\":\"grp\",\"modifiedTime\":\"2024-01-01T00:00:00Z\","
        "\"symlinkTarget\":\"/x\",\"metadata\":{\"k\":\"v\"},\"unknownField\":[1,2]}";
    cJSON *o = cJSON_Parse(j);
    e2b_entry_info e = {0};
    e2b_error err;
    assert_int_equal(e2b_files_entry_from_json(o, &e, &err), E2B_OK);
    assert_string_equal(e.name, "a.txt");
    assert_int_equal(e.type, E2B_FILE_TYPE_FILE);
    assert_string_equal(e.path, "/home/user/a.txt");
    assert_true(e.size == 9007199254740993LL);
    assert_int_equal(e.mode, 0644);
    assert_string_equal(e.permissions, "-rw-r--r--");
    assert_string_equal(e.owner, "user");
    assert_string_equal(e.group, "grp");
    assert_string_equal(e.modified_time, "2024-01-01T00:00:00Z");
    assert_int_equal(e.modified_unix, 1704067200);
    assert_string_equal(e.symlink_target, "/x");
    assert_int_equal(e.metadata_len, 1);
    assert_string_equal(e.metadata[0].key, "k");
    assert_string_equal(e.metadata[0].value, "v");
    e2b_files_entry_clear(&e);
    assert_null(e.name);
    cJSON_Delete(o);
}

static void test_entry_variants(void **state)
{
    (void)state;
    static const struct {
        const char *json;
        e2b_file_type type;
        int64_t size;
    } cases[] = {
        {"{\"type\":2,\"size\":27}", E2B_FILE_TYPE_DIR, 27},
        {"{\"type\":\"FILE_TYPE_SYMLINK\"}", E2B_FILE_TYPE_SYMLINK, 0},
        {"{\"type\":\"file\"}", E2B_FILE_TYPE_FILE, 0}, /* upload replies */
        {"{\"type\":\"dir\"}", E2B_FILE_TYPE_DIR, 0},
        {"{\"type\":\"weird\"}", E2B_FILE_TYPE_UNKNOWN, 0},
        {"{\"type\":\"FILE_TYPE_UNSPECIFIED\"}", E2B_FILE_TYPE_UNKNOWN, 0},
        {"{\"type\":9}", E2B_FILE_TYPE_UNKNOWN, 0},
        {"{\"modified_time\":\"2024-01-01T00:00:00Z\",\"symlink_target\":\"t\"}",
         E2B_FILE_TYPE_UNKNOWN, 0},
        {"{\"size\":null,\"metadata\":null}", E2B_FILE_TYPE_UNKNOWN, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cJSON *o = cJSON_Parse(cases[i].json);
        e2b_entry_info e = {0};
        e2b_error err;
        assert_int_equal(e2b_files_entry_from_json(o, &e, &err), E2B_OK);
        assert_int_equal(e.type, cases[i].type);
        assert_true(e.size == cases[i].size);
        if (i == 7) {
            assert_int_equal(e.modified_unix, 1704067200);
            assert_string_equal(e.symlink_target, "t");
        }
        e2b_files_entry_clear(&e);
        cJSON_Delete(o);
    }
}

static void test_entry_bad_types(void **state)
{
    (void)state;
    const char *bad[] = {"{\"name\":5}",
                         "{\"size\":\"12x\"}",
                         "{\"size\":1.5}",
                         "{\"mode\":-1}",
                         "{\"mode\":\"abc\"}",
                         "{\"metadata\":[1]}",
                         "[]",
                         "{\"path\":{}}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cJSON *o = cJSON_Parse(bad[i]);
        e2b_entry_info e = {0};
        e2b_error err;
        assert_int_equal(e2b_files_entry_from_json(o, &e, &err), E2B_ERR_PROTOCOL);
        assert_int_equal(err.code, E2B_ERR_PROTOCOL);
        e2b_files_entry_clear(&e);
        cJSON_Delete(o);
    }
}

static void test_upload_reply(void **state)
{
    (void)state;
    const char *ok = "[{\"path\":\"/home/user/a.txt\",\"name\":\"a.txt\",\"type\":\"file\"},"
                     "{\"path\":\"/x\"}]";
    e2b_entry_info *v;
    size_t n;
    e2b_error err;
    assert_int_equal(e2b_files_parse_upload_reply(ok, strlen(ok), &v, &n, &err), E2B_OK);
    assert_int_equal(n, 2);
    assert_string_equal(v[0].path, "/home/user/a.txt");
    assert_int_equal(v[0].type, E2B_FILE_TYPE_FILE);
    assert_string_equal(v[1].path, "/x");
    assert_null(v[1].name);
    e2b_entry_infos_free(v, n);
    const char *bad[] = {"[]", "{}", "", "nope", "[{\"path\":1}]"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(e2b_files_parse_upload_reply(bad[i], strlen(bad[i]), &v, &n, &err),
                         E2B_ERR_PROTOCOL);
        assert_null(v);
        assert_int_equal(n, 0);
    }
    assert_int_equal(e2b_files_parse_upload_reply("[]", 2, &v, &n, &err), E2B_ERR_PROTOCOL);
    assert_non_null(strstr(err.message, "Expected to receive information about written file"));
}

/* ---- gzip ---------------------------------------------------------------------------- */

typedef struct src_state {
    const unsigned char *data;
    size_t len, pos, step;
    bool fail_at_end;
} src_state;

static size_t src_fn(void *ud, char *buf, size_t max)
{
    src_state *s = ud;
    size_t n = s->len - s->pos;
    if (n == 0 && s->fail_at_end)
        return E2B_FILES_SOURCE_ERROR;
    if (n > max)
        n = max;
    if (n > s->step)
        n = s->step;
    memcpy(buf, s->data + s->pos, n);
    s->pos += n;
    return n;
}

typedef struct sink_state {
    unsigned char *buf;
    size_t len;
    int fail_after; /* fail on this call number (1-based), 0 never */
    int calls;
} sink_state;

static e2b_code sink_fn(void *ud, const char *data, size_t n, e2b_error *err)
{
    sink_state *s = ud;
    if (s->fail_after && ++s->calls == s->fail_after)
        return e2b_error_set(err, E2B_ERR_IO, 0, "sink refused");
    s->buf = realloc(s->buf, s->len + n);
    memcpy(s->buf + s->len, data, n);
    s->len += n;
    return E2B_OK;
}

static unsigned char *make_data(size_t len)
{
    unsigned char *d = malloc(len ? len : 1);
    uint32_t x = 2463534242u;
    for (size_t i = 0; i < len; i++) {
        /* half compressible text, half noise */
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        d[i] = (i / 4096) % 2 ? (unsigned char)x : (unsigned char)("hello world\n"[i % 12]);
    }
    return d;
}

/* Compresses data with the streaming source (reading into buffers of out_step bytes). */
static unsigned char *gzip_all(const unsigned char *data, size_t len, size_t in_step,
                               size_t out_step, size_t *out_len)
{
    src_state s = {.data = data, .len = len, .step = in_step};
    e2b_files_gzip_src g;
    assert_true(e2b_files_gzip_src_init(&g, src_fn, &s));
    size_t cap = len + 1024; /* gzip output never exceeds input + a small overhead here */
    unsigned char *out = malloc(cap);
    size_t n = 0;
    char *buf = malloc(out_step);
    for (;;) {
        size_t k = e2b_files_gzip_src_read(&g, buf, out_step);
        assert_int_not_equal(k, E2B_FILES_SOURCE_ERROR);
        assert_true(k <= out_step);
        if (k == 0)
            break;
        assert_true(n + k <= cap);
        memcpy(out + n, buf, k);
        n += k;
    }
    assert_int_equal(e2b_files_gzip_src_read(&g, buf, out_step), 0); /* stays at the end */
    free(buf);
    e2b_files_gzip_src_free(&g);
    *out_len = n;
    return out;
}

static void test_gzip_roundtrip(void **state)
{
    (void)state;
    size_t sizes[] = {0, 1, 100, 70000, 300000};
    size_t steps[] = {1, 7, 4096, 1 << 20};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        unsigned char *data = make_data(sizes[i]);
        for (size_t k = 0; k < sizeof steps / sizeof steps[0]; k++) {
            if (sizes[i] > 1000 && steps[k] < 4096)
                continue; /* byte-wise only on small data: quick */
            size_t zlen;
            unsigned char *z = gzip_all(data, sizes[i], steps[k], k % 2 ? 13 : 16384, &zlen);
            assert_true(zlen >= 18); /* gzip header + trailer */
            assert_int_equal(z[0], 0x1f);
            assert_int_equal(z[1], 0x8b);
            /* decompress, fed in pieces of `step` bytes */
            sink_state out = {0};
            e2b_files_gunzip gz;
            assert_true(e2b_files_gunzip_init(&gz, sink_fn, &out));
            e2b_error err;
            for (size_t p = 0; p < zlen; p += steps[k]) {
                size_t n = zlen - p < steps[k] ? zlen - p : steps[k];
                assert_int_equal(e2b_files_gunzip_feed(&gz, (char *)z + p, n, &err), E2B_OK);
            }
            assert_int_equal(e2b_files_gunzip_finish(&gz, &err), E2B_OK);
            e2b_files_gunzip_free(&gz);
            assert_int_equal(out.len, sizes[i]);
            if (sizes[i])
                assert_memory_equal(out.buf, data, sizes[i]);
            free(out.buf);
            free(z);
        }
        free(data);
    }
}

static void test_gunzip_truncated_and_corrupt(void **state)
{
    (void)state;
    unsigned char *data = make_data(5000);
    size_t zlen;
    unsigned char *z = gzip_all(data, 5000, 5000, 65536, &zlen);
    /* every truncation point: finish reports truncated data, never success */
    for (size_t cut = 1; cut < zlen; cut++) {
        sink_state out = {0};
        e2b_files_gunzip gz;
        assert_true(e2b_files_gunzip_init(&gz, sink_fn, &out));
        e2b_error err;
        e2b_code rc = e2b_files_gunzip_feed(&gz, (char *)z, cut, &err);
        if (rc == E2B_OK)
            rc = e2b_files_gunzip_finish(&gz, &err);
        assert_int_equal(rc, E2B_ERR_PROTOCOL);
        e2b_files_gunzip_free(&gz);
        free(out.buf);
    }
    /* not gzip at all */
    sink_state out = {0};
    e2b_files_gunzip gz;
    assert_true(e2b_files_gunzip_init(&gz, sink_fn, &out));
    e2b_error err;
    assert_int_equal(e2b_files_gunzip_feed(&gz, "plain text, not gzip", 20, &err),
                     E2B_ERR_PROTOCOL);
    assert_int_equal(e2b_files_gunzip_feed(&gz, "x", 1, &err), E2B_ERR_PROTOCOL);
    e2b_files_gunzip_free(&gz);
    free(out.buf);
    /* two concatenated members decode to both payloads */
    unsigned char *two = malloc(2 * zlen);
    memcpy(two, z, zlen);
    memcpy(two + zlen, z, zlen);
    out = (sink_state){0};
    assert_true(e2b_files_gunzip_init(&gz, sink_fn, &out));
    assert_int_equal(e2b_files_gunzip_feed(&gz, (char *)two, 2 * zlen, &err), E2B_OK);
    assert_int_equal(e2b_files_gunzip_finish(&gz, &err), E2B_OK);
    assert_int_equal(out.len, 10000);
    assert_memory_equal(out.buf + 5000, data, 5000);
    e2b_files_gunzip_free(&gz);
    free(out.buf);
    /* a sink error stops and is returned */
    out = (sink_state){.fail_after = 1};
    assert_true(e2b_files_gunzip_init(&gz, sink_fn, &out));
    assert_int_equal(e2b_files_gunzip_feed(&gz, (char *)z, zlen, &err), E2B_ERR_IO);
    e2b_files_gunzip_free(&gz);
    free(out.buf);
    free(two);
    free(z);
    free(data);
}

static void test_gzip_source_error(void **state)
{
    (void)state;
    unsigned char d[10] = "abcdefghij";
    src_state s = {.data = d, .len = 10, .step = 3, .fail_at_end = true};
    e2b_files_gzip_src g;
    assert_true(e2b_files_gzip_src_init(&g, src_fn, &s));
    char buf[64];
    size_t k;
    do {
        k = e2b_files_gzip_src_read(&g, buf, sizeof buf);
    } while (k != E2B_FILES_SOURCE_ERROR && k != 0);
    assert_int_equal(k, E2B_FILES_SOURCE_ERROR);
    assert_int_equal(e2b_files_gzip_src_read(&g, buf, sizeof buf), E2B_FILES_SOURCE_ERROR);
    e2b_files_gzip_src_free(&g);
}

static void test_signature(void **state)
{
    (void)state;
    char sig[64];
    /* vectors computed independently (Python hashlib + base64) */
    assert_true(e2b_files_signature("/home/user/a.txt", "read", "user", "tok", 0, sig, sizeof sig));
    assert_string_equal(sig, "v1_p0WqJQYCLtO6YX+e4h7VbpybRsdJbMbIw7clYpulIJk");
    assert_true(e2b_files_signature("/home/user/a.txt", "write", NULL, "tok", 1700000000LL, sig,
                                    sizeof sig));
    assert_string_equal(sig, "v1_QdtRqpz7xKNXzcs4IguYpySRPZbSGp8b64s9hqOl+wo");
    assert_false(e2b_files_signature("/a", "read", "u", "t", 0, sig, 20));
}

static void test_names(void **state)
{
    (void)state;
    assert_string_equal(e2b_file_type_name(E2B_FILE_TYPE_DIR), "dir");
    assert_string_equal(e2b_file_type_name((e2b_file_type)77), "unknown");
    assert_string_equal(e2b_fs_event_type_name(E2B_FS_EVENT_RENAME), "rename");
    assert_string_equal(e2b_fs_event_type_name((e2b_fs_event_type)-1), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_entry_full),
        cmocka_unit_test(test_entry_variants),
        cmocka_unit_test(test_entry_bad_types),
        cmocka_unit_test(test_upload_reply),
        cmocka_unit_test(test_gzip_roundtrip),
        cmocka_unit_test(test_gunzip_truncated_and_corrupt),
        cmocka_unit_test(test_gzip_source_error),
        cmocka_unit_test(test_signature),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests_name("unit_files", tests, NULL, NULL);
}
