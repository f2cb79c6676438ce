/* client_connect - the client's Connect envelope decoder, end-stream JSON and error-body
 * mapping, and the proto3 JSON helpers (client/src/connect.h).
 * Invariants: one-shot and split feeding agree (code, message count, payload bytes); finish
 * is E2B_OK only after a successful end-stream envelope; base64 round-trips. */
#include <string.h>

#include "connect.h"
#include "fuzz.h"

typedef struct sink {
    size_t count;
    uint64_t hash;
} sink;

static e2b_code on_msg(void *ud, const char *json, size_t len, e2b_error *err)
{
    (void)err;
    sink *s = ud;
    s->count++;
    uint64_t h = s->hash ^ (len * 0x9e3779b97f4a7c15ull);
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)json[i]) * 0x100000001b3ull;
    s->hash = h;
    return E2B_OK;
}

static e2b_code decode(const uint8_t *data, size_t size, unsigned seed, int split, sink *s,
                       bool *ended)
{
    e2b_connect_decoder d;
    e2b_error err;
    e2b_connect_service svc = (seed & 1) ? E2B_CONNECT_PROCESS : E2B_CONNECT_FILESYSTEM;
    e2b_connect_decoder_init(&d, (seed & 2) ? 64 : 0, svc);
    e2b_code rc = E2B_OK;
    if (!split) {
        rc = e2b_connect_decoder_feed(&d, (const char *)data, size, on_msg, s, &err);
    } else {
        for (size_t off = 0, i = 0; rc == E2B_OK && off < size; i++) {
            size_t n = fuzz_step(seed, i);
            if (n > size - off)
                n = size - off;
            rc = e2b_connect_decoder_feed(&d, (const char *)data + off, n, on_msg, s, &err);
            off += n;
        }
    }
    if (rc == E2B_OK)
        rc = e2b_connect_decoder_finish(&d, &err);
    *ended = d.ended;
    if (rc == E2B_OK)
        FUZZ_CHECK(d.ended);
    e2b_connect_decoder_free(&d);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned seed = data[0];
    data++, size--;

    sink a = {0}, b = {0};
    bool ea, eb;
    e2b_code ra = decode(data, size, seed, 0, &a, &ea);
    e2b_code rb = decode(data, size, seed, 1, &b, &eb);
    FUZZ_CHECK(ra == rb);
    FUZZ_CHECK(ea == eb);
    FUZZ_CHECK(a.count == b.count && a.hash == b.hash);

    /* the same bytes as a unary error body */
    e2b_error err;
    static const int statuses[] = {400, 401, 403, 404, 408, 409, 429, 500, 502, 503, 504, 507};
    int status = statuses[seed % (sizeof statuses / sizeof statuses[0])];
    e2b_code ru = e2b_connect_unary_error(
        status, (seed & 4) ? "application/json" : "text/plain", (const char *)data, size,
        (seed & 1) ? E2B_CONNECT_PROCESS : E2B_CONNECT_FILESYSTEM, &err);
    FUZZ_CHECK(ru != E2B_OK && err.code == ru);
    FUZZ_CHECK(memchr(err.message, '\0', sizeof err.message) != NULL);

    /* NUL-terminated copy for the string helpers */
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    size_t blen = 0;
    unsigned char *bytes = e2b_connect_b64_decode(s, size, &blen);
    if (bytes) {
        char *again = e2b_connect_b64_encode(bytes, blen);
        if (again) {
            size_t back = 0;
            unsigned char *bytes2 = e2b_connect_b64_decode(again, strlen(again), &back);
            FUZZ_CHECK(bytes2 && back == blen && memcmp(bytes, bytes2, blen) == 0);
            free(bytes2);
        }
        free(again);
        free(bytes);
    }
    time_t t;
    (void)e2b_connect_parse_time(s, &t);
    (void)e2b_connect_content_type_is(s, "application/json");
    (void)e2b_connect_code_from_string(s, E2B_CONNECT_FILESYSTEM);

    cJSON *j = cJSON_ParseWithLength(s, size);
    if (j) {
        int64_t v;
        (void)e2b_connect_get_int64(j, 7, &v);
        static const char *const names[] = {"A", NULL, "C"};
        int e = e2b_connect_get_enum(j, names, 3);
        FUZZ_CHECK(e >= -1);
        const cJSON *errobj = e2b_connect_field(j, "error", "error");
        e2b_code rj = e2b_connect_error_from_json(errobj ? errobj : j, 200, E2B_CONNECT_PROCESS,
                                                  &err);
        FUZZ_CHECK(rj != E2B_OK);
        cJSON_Delete(j);
    }
    free(s);
    return 0;
}
