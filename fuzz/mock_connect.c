/* mock_connect - e2b-mock's Connect envelope decoder (mockserver/src/connect.h), i.e. what
 * the server reads from a client's streaming request body.
 * Invariants: one-shot and split feeding agree; a decoded envelope re-encodes to the same
 * bytes; code names round-trip. */
#include <string.h>

#include "connect.h"
#include "fuzz.h"

typedef struct sink {
    size_t count;
    uint64_t hash;
    const uint8_t *input; /* one-shot: the envelopes re-encoded must match the input */
    size_t off;
} sink;

static int on_msg(void *ud, uint8_t flags, const unsigned char *payload, size_t len)
{
    sink *s = ud;
    s->count++;
    uint64_t h = (s->hash ^ flags ^ (len * 0x9e3779b97f4a7c15ull));
    for (size_t i = 0; i < len; i++)
        h = (h ^ payload[i]) * 0x100000001b3ull;
    s->hash = h;
    if (s->input) {
        size_t n = 0;
        unsigned char *env = connect_envelope(flags, payload, len, &n);
        if (env) {
            FUZZ_CHECK(n == len + CONNECT_ENVELOPE_HEADER);
            FUZZ_CHECK(memcmp(env, s->input + s->off, n) == 0);
            free(env);
        }
        s->off += len + CONNECT_ENVELOPE_HEADER;
    }
    return (flags & 0x80) ? 1 : 0; /* lets the fuzzer reach the callback-stop path */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned seed = data[0];
    data++, size--;
    size_t max = (seed & 1) ? 64 : 0;

    sink a = {.input = data}, b = {0};
    connect_decoder d;
    connect_decoder_init(&d, max);
    connect_dec_result ra = connect_decoder_feed(&d, data, size, on_msg, &a);
    if (ra == CONNECT_DEC_OK)
        ra = connect_decoder_finish(&d);
    FUZZ_CHECK(connect_dec_strerror(ra) != NULL);
    connect_decoder_free(&d);

    connect_decoder_init(&d, max);
    connect_dec_result rb = CONNECT_DEC_OK;
    for (size_t off = 0, i = 0; rb == CONNECT_DEC_OK && off < size; i++) {
        size_t n = fuzz_step(seed, i);
        if (n > size - off)
            n = size - off;
        rb = connect_decoder_feed(&d, data + off, n, on_msg, &b);
        off += n;
    }
    if (rb == CONNECT_DEC_OK)
        rb = connect_decoder_finish(&d);
    if (rb != CONNECT_DEC_OK && rb != CONNECT_DEC_TRUNCATED)
        FUZZ_CHECK(connect_decoder_feed(&d, "", 0, on_msg, &b) == CONNECT_DEC_FAILED ||
                   connect_decoder_feed(&d, "x", 1, on_msg, &b) == CONNECT_DEC_FAILED);
    connect_decoder_free(&d);

    FUZZ_CHECK(ra == rb);
    FUZZ_CHECK(a.count == b.count && a.hash == b.hash);

    /* code names */
    char name[32];
    size_t n = size < sizeof name - 1 ? size : sizeof name - 1;
    memcpy(name, data, n);
    name[n] = '\0';
    connect_code c;
    if (connect_code_from_name(name, &c))
        FUZZ_CHECK(strcmp(connect_code_name(c), name) == 0);
    connect_code any = (connect_code)(seed % 20);
    char *ej = connect_error_json(any, name);
    free(ej);
    size_t elen;
    unsigned char *es = connect_end_stream(any, (seed & 2) ? name : NULL, &elen);
    free(es);
    (void)connect_code_http_status(any);
    (void)connect_code_from_http_status((int)(seed * 3));
    return 0;
}
