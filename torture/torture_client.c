/* torture_client - one libe2b call sequence per scenario, for allocation-failure torture.
 *
 * Usage: torture_client <scenario>     (scripts/torture.sh runs it for n = 1, 2, ...)
 * Scenarios:
 *   parse      e2b_execution_parse (+ to_json), Connect envelope decoding, sandbox JSON
 *   lifecycle  e2b_client_new, create, get_info, list, set_timeout, kill, client_free
 *   run_code   create, e2b_run_code of a scripted answer ("e2b_mock_hello()"), kill
 * Env: E2B_TORTURE_URL  base URL of a running e2b-mock (lifecycle/run_code; the mock must
 *                       have E2B_MOCK_EXECUTE_SCRIPTS=<fixtures/execute-scripts> for run_code)
 *      E2B_TORTURE_FAIL_AT=n  fail the n-th allocation (0/unset: none; failalloc.h)
 *      E2B_TORTURE_CURL=1     also route libcurl's allocations through the counter
 *
 * Exit status (read by torture.sh):
 *   0  the sequence completed and no failure was injected (n is past the last allocation)
 *   10 a failure was injected and a call returned an error (the expected outcome)
 *   13 a failure was injected and every call still succeeded with valid results (tolerated)
 *   11 a call succeeded with a wrong/garbage result after an injected failure (BUG)
 *   12 a call failed although nothing was injected (environment problem)
 * The first line of stdout is "allocations=<count> injected=<0|1> ...". Leaks are found by
 * LeakSanitizer (build with -DE2B_SANITIZE=ON), crashes by the signal.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "connect.h"
#include "e2b/e2b.h"
#include "failalloc.h"
#include "sandbox_internal.h"

static int verdict = 0;       /* 0 ok so far, 11 garbage */
static const char *failed_in; /* call that returned an error */
static e2b_code failed_rc;
static char failed_msg[E2B_ERROR_MESSAGE_MAX];

/* Checks one call: on error remember it and return false (the sequence stops). */
static bool call(const char *name, e2b_code rc, const e2b_error *err, bool valid)
{
    if (rc != E2B_OK) {
        failed_in = name;
        failed_rc = rc;
        snprintf(failed_msg, sizeof failed_msg, "%s", err->message);
        return false;
    }
    if (!valid) {
        fprintf(stderr, "torture: %s returned E2B_OK with an invalid result (fail_at=%ld)\n", name,
                failalloc_fail_at());
        verdict = 11;
    }
    return true;
}

/* ---- parse ------------------------------------------------------------------------- */

static const char exec_body[] =
    "{\"type\":\"number_of_executions\",\"execution_count\":1}\n"
    "{\"type\":\"stdout\",\"text\":\"hello\\n\",\"timestamp\":\"2024-01-01T00:00:00Z\"}\n"
    "{\"type\":\"stderr\",\"text\":\"warn\\n\"}\n"
    "{\"type\":\"result\",\"text\":\"2\",\"is_main_result\":true,\"png\":\"iVBORw0KGgo=\","
    "\"chart\":{\"type\":\"line\",\"title\":\"t\"},\"extra\":{\"x/y\":1}}\n"
    "{\"type\":\"error\",\"name\":\"E\",\"value\":\"v\",\"traceback\":[\"a\",\"b\"]}\n"
    "{\"type\":\"end_of_execution\"}\n";

static e2b_code on_env(void *ud, const char *json, size_t len, e2b_error *err)
{
    (void)json;
    (void)len;
    (void)err;
    ++*(int *)ud;
    return E2B_OK;
}

static void scenario_parse(void)
{
    e2b_error err;
    e2b_execution *ex = NULL;
    e2b_code rc = e2b_execution_parse(exec_body, sizeof exec_body - 1, NULL, &ex, &err);
    bool ok = call("e2b_execution_parse", rc, &err,
                   ex && ex->completed && ex->logs_len == 2 && ex->results_len == 1 && ex->text &&
                       strcmp(ex->text, "2") == 0 && ex->error &&
                       strcmp(ex->error->name, "E") == 0 && ex->execution_count == 1 &&
                       ex->results[0].png && ex->results[0].chart_type &&
                       strcmp(ex->results[0].chart_type, "line") == 0);
    if (ok) {
        char *json = NULL;
        rc = e2b_execution_to_json(ex, &json, &err);
        ok = call("e2b_execution_to_json", rc, &err, json && strstr(json, "\"hello\\n\""));
        free(json);
    }
    e2b_execution_free(ex);
    if (!ok)
        return;

    /* Connect: two data envelopes split byte by byte, then end-stream */
    static const char m1[] = "{\"event\":{\"start\":{\"pid\":1}}}", end[] = "{}";
    size_t l1 = 0, l2 = 0;
    char *e1 = e2b_connect_envelope(0, m1, sizeof m1 - 1, &l1);
    char *e2 = e2b_connect_envelope(E2B_CONNECT_FLAG_END_STREAM, end, sizeof end - 1, &l2);
    if (!e1 || !e2) {
        free(e1);
        free(e2);
        call("e2b_connect_envelope", E2B_ERR_NO_MEMORY, &(e2b_error){0}, true);
        return;
    }
    e2b_connect_decoder d;
    e2b_connect_decoder_init(&d, 0, E2B_CONNECT_PROCESS);
    int msgs = 0;
    rc = E2B_OK;
    for (size_t i = 0; rc == E2B_OK && i < l1; i++)
        rc = e2b_connect_decoder_feed(&d, e1 + i, 1, on_env, &msgs, &err);
    for (size_t i = 0; rc == E2B_OK && i < l2; i++)
        rc = e2b_connect_decoder_feed(&d, e2 + i, 1, on_env, &msgs, &err);
    if (rc == E2B_OK)
        rc = e2b_connect_decoder_finish(&d, &err);
    e2b_connect_decoder_free(&d);
    free(e1);
    free(e2);
    if (!call("e2b_connect_decoder_feed", rc, &err, msgs == 1))
        return;

    /* control-plane JSON */
    static const char info_json[] =
        "{\"sandboxID\":\"i1\",\"templateID\":\"base\",\"startedAt\":\"2024-01-01T00:00:00Z\","
        "\"endAt\":\"2024-01-01T00:05:00Z\",\"cpuCount\":2,\"memoryMB\":512,"
        "\"envdVersion\":\"0.2.0\",\"state\":\"running\",\"metadata\":{\"k\":\"v\"}}";
    cJSON *o = cJSON_Parse(info_json);
    if (!o) {
        call("cJSON_Parse", E2B_ERR_NO_MEMORY, &err, true);
        return;
    }
    e2b_sandbox_info info;
    memset(&info, 0, sizeof info);
    rc = e2b_sandbox_info_from_json(o, &info, &err);
    call("e2b_sandbox_info_from_json", rc, &err,
         info.sandbox_id && strcmp(info.sandbox_id, "i1") == 0 && info.metadata_len == 1 &&
             strcmp(info.metadata[0].value, "v") == 0 && info.cpu_count == 2);
    e2b_sandbox_info_clear(&info);
    cJSON_Delete(o);
}

/* ---- lifecycle / run_code ----------------------------------------------------------- */

/* Evaluates expr BEFORE the validity check (function arguments are unsequenced). */
#define CALL(name, expr, valid) (rc_ = (expr), call((name), rc_, &err, rc_ != E2B_OK || (valid)))

static void scenario_remote(const char *url, bool run)
{
    e2b_error err;
    e2b_code rc_;
    e2b_config cfg;
    e2b_config_init(&cfg);
    cfg.api_key = "torture-key";
    cfg.api_url = url;
    cfg.sandbox_url = url;
    cfg.request_timeout_ms = 20000;
    e2b_client *c = NULL;
    e2b_sandbox *sbx = NULL;
    e2b_sandbox_info *info = NULL;
    e2b_sandbox_page *page = NULL;
    e2b_execution *ex = NULL;
    char id[128] = "";

    if (!CALL("e2b_client_new", e2b_client_new(&cfg, &c, &err), c != NULL))
        goto out;
    e2b_create_opts co;
    e2b_create_opts_init(&co);
    /* A value of this run's own: runs go in parallel against one mock, and sandboxes whose
     * create answer was lost to an injected failure stay until their timeout, so a shared
     * value would let list's page fill with other runs' sandboxes. */
    char tag[32];
    snprintf(tag, sizeof tag, "run-%ld", (long)getpid());
    e2b_kv md = {"torture", tag};
    co.metadata = &md;
    co.metadata_len = 1;
    co.timeout_s = 60;
    if (!CALL("e2b_sandbox_create", e2b_sandbox_create(c, &co, &sbx, &err),
              sbx && e2b_sandbox_id(sbx) && e2b_sandbox_id(sbx)[0]))
        goto out;
    snprintf(id, sizeof id, "%s", e2b_sandbox_id(sbx));
    if (run) {
        if (!CALL("e2b_run_code", e2b_run_code(sbx, "e2b_mock_hello()", NULL, &ex, &err),
                  ex && ex->completed && ex->logs_len >= 1 &&
                      strstr(ex->logs[0].text, "Hello") != NULL))
            goto out;
    } else {
        if (!CALL("e2b_sandbox_get_info", e2b_sandbox_get_info(c, id, &info, &err),
                  info && info->sandbox_id && strcmp(info->sandbox_id, id) == 0 &&
                      info->metadata_len == 1 && strcmp(info->metadata[0].key, "torture") == 0))
            goto out;
        e2b_list_opts lo = {.metadata = &md, .metadata_len = 1, .limit = 100};
        bool found = false;
        e2b_code rc = e2b_sandbox_list(c, &lo, &page, &err);
        for (size_t i = 0; rc == E2B_OK && page && i < page->len; i++)
            found |= page->items[i].sandbox_id && strcmp(page->items[i].sandbox_id, id) == 0;
        if (!call("e2b_sandbox_list", rc, &err, page && found))
            goto out;
        if (!CALL("e2b_sandbox_set_timeout", e2b_sandbox_set_timeout(c, id, 60, &err), true))
            goto out;
    }
    bool killed = false;
    if (!CALL("e2b_sandbox_kill", e2b_sandbox_kill(c, id, &killed, &err), killed))
        goto out;
out:
    /* best effort: do not leave sandboxes behind on the shared mock */
    if (id[0] && failed_in && c) {
        failalloc_disarm();
        bool k;
        e2b_sandbox_kill(c, id, &k, NULL);
    }
    e2b_execution_free(ex);
    e2b_sandbox_page_free(page);
    e2b_sandbox_info_free(info);
    e2b_sandbox_free(sbx);
    e2b_client_free(c);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: torture_client parse|lifecycle|run_code\n");
        return 2;
    }
    const char *url = getenv("E2B_TORTURE_URL");
    const char *with_curl = getenv("E2B_TORTURE_CURL");
    failalloc_init(with_curl && *with_curl == '1');
    bool remote = strcmp(argv[1], "parse") != 0;
    if (remote && (!url || !*url)) {
        fprintf(stderr, "torture_client: %s needs E2B_TORTURE_URL\n", argv[1]);
        return 2;
    }
    failalloc_arm();
    if (strcmp(argv[1], "parse") == 0)
        scenario_parse();
    else if (strcmp(argv[1], "lifecycle") == 0)
        scenario_remote(url, false);
    else if (strcmp(argv[1], "run_code") == 0)
        scenario_remote(url, true);
    else {
        fprintf(stderr, "torture_client: unknown scenario %s\n", argv[1]);
        return 2;
    }
    failalloc_disarm();
    bool inj = failalloc_injected();
    printf("allocations=%ld injected=%d failed_in=%s rc=%s msg=%s\n", failalloc_count(), inj,
           failed_in ? failed_in : "-", failed_in ? e2b_code_name(failed_rc) : "-",
           failed_in ? failed_msg : "");
    if (failed_in && !inj)
        return 12;
    if (verdict)
        return verdict;
    if (failed_in)
        return 10;
    return inj ? 13 : 0;
}
