/* agent_fuzz.c - one fuzzing entry point for every parser of e2b/agent.h. */
#include "e2b/agent.h"

#include <stdlib.h>
#include <string.h>

static void check(bool ok)
{
    if (!ok)
        abort();
}

static void same_code(const e2b_agent_code *a, const e2b_agent_code *b)
{
    check(a->count == b->count && a->source == b->source && a->trigger == b->trigger);
    for (size_t i = 0; i < a->count; i++) {
        const e2b_agent_block *x = &a->blocks[i], *y = &b->blocks[i];
        check(x->lang == y->lang && x->source == y->source &&
              x->lang_detected == y->lang_detected && x->unterminated == y->unterminated &&
              strcmp(x->tag, y->tag) == 0 && x->code_len == y->code_len &&
              memcmp(x->code, y->code, x->code_len) == 0 && x->code[x->code_len] == '\0' &&
              x->code_len > 0);
    }
}

int e2b_agent_fuzz_one(const uint8_t *data, size_t size)
{
    e2b_agent_code one, streamed;
    e2b_code rc1 = e2b_agent_extract_code(data, size, &one, NULL);

    /* the same message in uneven pieces: sizes 1, 2, 3, ... 7, 1, 2 ... */
    e2b_agent_scanner *sc = NULL;
    e2b_code rc2 = e2b_agent_scanner_new(&sc, NULL);
    for (size_t off = 0, step = 1; rc2 == E2B_OK && off < size; step = step % 7 + 1) {
        size_t n = size - off < step ? size - off : step;
        rc2 = e2b_agent_scanner_feed(sc, data + off, n, NULL);
        off += n;
    }
    if (rc2 == E2B_OK)
        rc2 = e2b_agent_scanner_finish(sc, &streamed, NULL);
    else
        memset(&streamed, 0, sizeof streamed);
    e2b_agent_scanner_free(sc);
    check(rc1 == rc2);
    if (rc1 == E2B_OK)
        same_code(&one, &streamed);

    /* format whatever was found as if it had run, with the message as its output */
    if (rc1 == E2B_OK && one.count) {
        char *text = malloc(size + 1);
        if (text) {
            memcpy(text, data, size);
            text[size] = '\0';
            const char *chunks[2] = {text, one.blocks[0].code};
            e2b_agent_exec_result r = {.language = e2b_agent_lang_name(one.blocks[0].lang),
                                       .code = one.blocks[0].code,
                                       .text = text,
                                       .stdout_chunks = chunks,
                                       .stdout_count = 2,
                                       .stderr_chunks = chunks,
                                       .stderr_count = 1,
                                       .error_name = (size & 1) ? "Error" : NULL,
                                       .error_value = text,
                                       .error_traceback = one.blocks[0].code};
            e2b_agent_format_opts opts = {.max_stream_bytes = size / 2};
            char *reply = NULL;
            if (e2b_agent_format_reply(&r, 1, &opts, &reply, NULL) == E2B_OK)
                check(reply != NULL);
            free(reply);
            cJSON *json = NULL;
            if (e2b_agent_format_json(&r, 1, NULL, 0, &json, NULL) == E2B_OK) {
                char *s = cJSON_PrintUnformatted(json);
                cJSON_free(s);
            }
            cJSON_Delete(json);
            free(text);
        }
    }
    e2b_agent_code_free(&one);
    e2b_agent_code_free(&streamed);

    e2b_agent_intent in;
    e2b_code rc3 = e2b_agent_parse_intent(data, size, &in, NULL);
    check(rc3 != E2B_OK || in.kind != E2B_INTENT_UNKNOWN || in.reason != NULL);
    check(memchr(in.sandbox_id, '\0', sizeof in.sandbox_id) != NULL);
    check(in.metadata_len <= E2B_AGENT_META_MAX);
    return 0;
}
