/* mock_query - e2b-mock's URL/query decoding: the `metadata` list filter
 * (control_parse_metadata_filter), the pagination cursor (control_decode_token),
 * percent/form decoding (mock_url_decode), base64url and RFC 3339 parsing (util.h), and
 * route lookup of a method + path on each port (mock_route_lookup on a real, idle server).
 * Input: "<method>\n<path>\n<rest>"; every helper also sees the raw input.
 * Invariants: decode(encode(x)) == x for the cursor and base64url; route lookup answers
 * 200/404/405 only and a 200 names a pattern. */
#include <string.h>

#include "control.h"
#include "fuzz.h"
#include "server.h"
#include "util.h"

static mock_server *server;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    mock_log_set_level(MOCK_LOG_ERROR - 1); /* quiet */
    mock_server_config cfg;
    memset(&cfg, 0, sizeof cfg);
    server = mock_server_new(&cfg);
    if (!server) {
        fprintf(stderr, "mock_query: mock_server_new failed\n");
        abort();
    }
    return 0;
}

static char *dup_n(const uint8_t *p, size_t n)
{
    char *s = malloc(n + 1);
    if (s) {
        memcpy(s, p, n);
        s[n] = '\0';
    }
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!server)
        LLVMFuzzerInitialize(NULL, NULL);
    char *all = dup_n(data, size);
    if (!all)
        return 0;

    cJSON *f = control_parse_metadata_filter(all);
    if (f) {
        FUZZ_CHECK(cJSON_IsObject(f));
        const cJSON *it;
        cJSON_ArrayForEach(it, f) FUZZ_CHECK(cJSON_IsString(it) && it->string && it->string[0]);
        cJSON_Delete(f);
    }

    int64_t ns = 0;
    char id[128];
    if (control_decode_token(all, &ns, id, sizeof id) == 0) {
        FUZZ_CHECK(memchr(id, '\0', sizeof id) != NULL);
        char *tok = control_encode_token(ns, id);
        if (tok) {
            int64_t ns2 = 0;
            char id2[128];
            FUZZ_CHECK(control_decode_token(tok, &ns2, id2, sizeof id2) == 0);
            FUZZ_CHECK(strcmp(id, id2) == 0);
            free(tok);
        }
    }

    for (int form = 0; form < 2; form++) {
        char *u = mock_url_decode((const char *)data, size, form);
        free(u);
    }

    size_t blen = 0;
    unsigned char *b = mock_base64url_decode(all, &blen);
    if (b) {
        char *enc = mock_base64url_encode(b, blen);
        if (enc) {
            size_t blen2 = 0;
            unsigned char *b2 = mock_base64url_decode(enc, &blen2);
            FUZZ_CHECK(b2 && blen2 == blen && memcmp(b, b2, blen) == 0);
            free(b2);
            free(enc);
        }
        free(b);
    }

    int64_t t;
    if (mock_parse_rfc3339_ns(all, &t) == 0) {
        char buf[64];
        mock_format_rfc3339_nano(t, buf, sizeof buf);
        mock_format_rfc3339_ms(t / 1000000, buf, sizeof buf);
    }

    /* "<method>\n<path>" -> route lookup on each surface */
    char *nl = strchr(all, '\n');
    if (nl) {
        *nl = '\0';
        char *path = nl + 1;
        char *nl2 = strchr(path, '\n');
        if (nl2)
            *nl2 = '\0';
        static const int ports[] = {MOCK_PORT_CONTROL, MOCK_PORT_ENVD, MOCK_PORT_CODE, 1234};
        for (size_t i = 0; i < sizeof ports / sizeof ports[0]; i++) {
            int status = 0;
            const char *pat = mock_route_lookup(server, ports[i], all, path, &status);
            FUZZ_CHECK(status == 200 || status == 404 || status == 405);
            FUZZ_CHECK((status == 200) == (pat != NULL));
        }
    }
    free(all);
    return 0;
}
