/* client_execution - /execute NDJSON stream -> e2b_execution (client/src/execution.h).
 * Invariants: one-shot parse and split feeding agree on the code and on the execution's
 * JSON rendering; every successfully parsed execution can be serialised. */
#include <string.h>

#include "e2b/code.h"
#include "execution.h"
#include "fuzz.h"

static int on_log(const e2b_log_chunk *c, void *ud)
{
    (void)ud;
    FUZZ_CHECK(c->text != NULL && strlen(c->text) == c->len);
    return 0;
}

static int on_result(const e2b_result *r, void *ud)
{
    (void)r;
    (void)ud;
    return 0;
}

static int on_error(const e2b_exec_error *e, void *ud)
{
    (void)ud;
    FUZZ_CHECK(e->name && e->value && e->traceback);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned seed = data[0];
    data++, size--;

    e2b_run_opts opts;
    e2b_run_opts_init(&opts);
    opts.on_stdout = on_log;
    opts.on_stderr = on_log;
    opts.on_result = on_result;
    opts.on_error = on_error;

    e2b_error err;
    e2b_execution *one = NULL;
    e2b_code r1 = e2b_execution_parse((const char *)data, size, &opts, &one, &err);
    char *j1 = NULL;
    if (one) {
        e2b_code rj = e2b_execution_to_json(one, &j1, &err);
        FUZZ_CHECK(rj == E2B_OK || rj == E2B_ERR_NO_MEMORY);
        char *text = NULL;
        if (e2b_execution_logs_text(one, E2B_LOG_STDOUT, &text, &err) == E2B_OK)
            FUZZ_CHECK(text != NULL);
        free(text);
    }

    e2b_exec_stream s;
    e2b_code r2 = e2b_exec_stream_init(&s, &opts, (seed & 0x80) ? 64 : 0, &err);
    if (r2 == E2B_OK) {
        for (size_t off = 0, i = 0; r2 == E2B_OK && off < size; i++) {
            size_t n = fuzz_step(seed, i);
            if (n > size - off)
                n = size - off;
            r2 = e2b_exec_stream_feed(&s, (const char *)data + off, n, &err);
            off += n;
        }
        if (r2 == E2B_OK)
            r2 = e2b_exec_stream_finish(&s, &err);
        e2b_execution *two = e2b_exec_stream_take(&s);
        e2b_exec_stream_free(&s);
        if (!(seed & 0x80)) { /* same line limit as the one-shot parse */
            FUZZ_CHECK(r1 == r2);
            if (r1 == E2B_OK) {
                char *j2 = NULL;
                if (e2b_execution_to_json(two, &j2, &err) == E2B_OK && j1)
                    FUZZ_CHECK(strcmp(j1, j2) == 0);
                free(j2);
            }
        }
        e2b_execution_free(two);
    }
    free(j1);
    e2b_execution_free(one);
    return 0;
}
