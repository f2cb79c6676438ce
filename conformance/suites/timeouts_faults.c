/* timeouts_faults.c - timeouts, expiry and kills as libe2b sees them, driven through the
 * e2b-mock admin API (scenarios, controllable clock, journal):
 *   - a request timeout, an execution timeout and a sandbox expiry are three DISTINCT errors;
 *   - expiry happens on the mock clock (POST /_mock/clock/advance), no sleeping, and the
 *     journal proves how many calls the client made;
 *   - a `vanish` fault makes a sandbox expire N (mock) seconds after a call;
 *   - killing a sandbox while an execution / a command streams ends the call promptly with
 *     sandbox_gone and keeps the output that arrived;
 *   - a hanging answer is bounded by the request timeout and does not wedge the client.
 * Timing assertions are generous bounds only. */
#include "harness.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BOUND_MS 25000

static void defer_sbx(void *p)
{
    e2b_sandbox_free(p);
}
static void defer_client(void *p)
{
    e2b_client_free(p);
}

static e2b_client *client_with_timeout(harness_target *t, long request_timeout_ms)
{
    e2b_config cfg = t->cfg;
    cfg.request_timeout_ms = request_timeout_ms;
    e2b_client *cl = NULL;
    e2b_error err;
    harness_assert_ok(e2b_client_new(&cfg, &cl, &err), &err, "client");
    harness_defer(defer_client, cl);
    return cl;
}

static e2b_sandbox *make_sandbox(e2b_client *cl, const char *tmpl, int timeout_s)
{
    e2b_create_opts co;
    e2b_create_opts_init(&co);
    co.template_id = tmpl;
    co.timeout_s = timeout_s;
    e2b_sandbox *sbx = NULL;
    e2b_error err;
    harness_assert_ok(e2b_sandbox_create(cl, &co, &sbx, &err), &err, "create");
    harness_defer(defer_sbx, sbx);
    return sbx;
}

/* One machine-readable line per observed case (conformance/faults_table.py -> FAULTS.md). */
static void cell(const char *row, const char *family, e2b_code rc, const e2b_error *err, int64_t t0)
{
    print_message("FAULTCELL|%s|%s|%s|%d|-|%lld|-\n", row, family, e2b_code_name(rc),
                  err->http_status, (long long)(harness_now_ms() - t0));
}

/* request timeout vs execution timeout vs sandbox expiry: three distinct codes */
static void test_three_distinct_timeouts(void **state)
{
    (void)state;
    harness_target *t = harness_target_start(NULL);
    e2b_client *cl = client_with_timeout(t, 2000);
    e2b_sandbox *sbx = make_sandbox(cl, "code-interpreter-v1", 60);
    e2b_error err;

    /* 1. request timeout: get_info never answered */
    harness_mock_scenarios(t,
                           "[{\"name\":\"hang\",\"match\":{\"method\":\"GET\","
                           "\"path\":\"/sandboxes/*\",\"port\":\"control\"},\"fault\":\"hang\"}]");
    e2b_sandbox_info *info = NULL;
    int64_t t0 = harness_now_ms();
    e2b_code c1 = e2b_sandbox_get_info(cl, e2b_sandbox_id(sbx), &info, &err);
    e2b_sandbox_info_free(info);
    cell("request_timeout", "control", c1, &err, t0);
    harness_assert_code(c1, E2B_ERR_REQUEST_TIMEOUT, &err, "hanging get_info");
    assert_true(harness_now_ms() - t0 < BOUND_MS);

    /* 2. execution timeout: the stream started, then stalls */
    harness_mock_scenarios(
        t, "[{\"name\":\"stall\",\"match\":{\"port\":\"code\",\"path\":\"/execute\"},"
           "\"fault\":\"stream\",\"stream\":{\"events\":[{\"type\":\"stdout\",\"text\":\"x\\n\","
           "\"timestamp\":\"2026-11-26T10:00:00Z\"}],\"end\":\"hang\"}}]");
    e2b_run_opts ro;
    e2b_run_opts_init(&ro);
    ro.timeout_ms = 2500;
    e2b_execution *ex = NULL;
    t0 = harness_now_ms();
    e2b_code c2 = e2b_run_code(sbx, "print('x')", &ro, &ex, &err);
    cell("execution_timeout", "execute", c2, &err, t0);
    assert_non_null(ex); /* the partial execution is kept */
    assert_true(ex->logs_len >= 1);
    e2b_execution_free(ex);
    harness_assert_code(c2, E2B_ERR_OPERATION_TIMEOUT, &err, "stalled execution");
    assert_true(harness_now_ms() - t0 < BOUND_MS);

    /* 3. sandbox expiry on the mock clock */
    free(harness_mock_admin(t, "DELETE", "/_mock/scenarios", NULL, NULL));
    harness_mock_advance_clock(t, 61 * 1000);
    e2b_entry_info *ei = NULL;
    t0 = harness_now_ms();
    e2b_code c3 = e2b_files_stat(sbx, "/home/user", NULL, &ei, &err);
    cell("sandbox_expiry", "envd_unary", c3, &err, t0);
    e2b_entry_info_free(ei);
    harness_assert_code(c3, E2B_ERR_SANDBOX_GONE, &err, "data plane after expiry");
    t0 = harness_now_ms();
    e2b_code c4 = e2b_sandbox_get_info(cl, e2b_sandbox_id(sbx), &info, &err);
    cell("sandbox_expiry", "control", c4, &err, t0);
    e2b_sandbox_info_free(info);
    harness_assert_code(c4, E2B_ERR_SANDBOX_NOT_FOUND, &err, "get_info after expiry");
    assert_true(c1 != c2 && c2 != c3 && c1 != c3);
}

/* expiry through the clock, and the journal counts exactly the calls made */
static void test_expiry_on_mock_clock(void **state)
{
    (void)state;
    harness_target *t = harness_target_start(NULL);
    e2b_client *cl = client_with_timeout(t, 10000);
    e2b_sandbox *sbx = make_sandbox(cl, "base", 60);
    e2b_error err;
    e2b_sandbox_info *info = NULL;
    harness_mock_advance_clock(t, 30 * 1000); /* half-way: still there */
    harness_assert_ok(e2b_sandbox_get_info(cl, e2b_sandbox_id(sbx), &info, &err), &err,
                      "get_info at 30 s");
    e2b_sandbox_info_free(info);
    info = NULL;
    harness_mock_advance_clock(t, 31 * 1000); /* past endAt */
    harness_assert_code(e2b_sandbox_get_info(cl, e2b_sandbox_id(sbx), &info, &err),
                        E2B_ERR_SANDBOX_NOT_FOUND, &err, "get_info at 61 s");
    e2b_sandbox_info_free(info);
    char q[128];
    snprintf(q, sizeof q, "method=GET&path=/sandboxes/%s", e2b_sandbox_id(sbx));
    assert_int_equal(harness_mock_journal_count(t, q), 2);
    assert_int_equal(harness_mock_journal_count(t, "method=GET&path=/sandboxes/*&status=404"), 1);
    /* reset puts the clock back */
    char *clk = harness_mock_admin(t, "POST", "/_mock/reset", NULL, NULL);
    free(clk);
    clk = harness_mock_admin(t, "GET", "/_mock/clock", NULL, NULL);
    assert_non_null(strstr(clk, "\"offsetMs\":0"));
    free(clk);
    assert_int_equal(harness_mock_journal_count(t, ""), 0);
}

/* `vanish`: the sandbox expires N mock seconds after the matched call */
static void test_vanish_after_call(void **state)
{
    (void)state;
    harness_target *t = harness_target_start(NULL);
    e2b_client *cl = client_with_timeout(t, 10000);
    e2b_sandbox *sbx = make_sandbox(cl, "base", 3600);
    e2b_error err;
    harness_mock_scenarios(t, "[{\"name\":\"vanish\",\"match\":{\"port\":\"envd\","
                              "\"path\":\"/filesystem.Filesystem/Stat\",\"nth\":1},"
                              "\"fault\":\"vanish\",\"faultArgs\":{\"seconds\":5}}]");
    e2b_entry_info *ei = NULL;
    harness_assert_ok(e2b_files_stat(sbx, "/home/user", NULL, &ei, &err), &err, "stat (served)");
    e2b_entry_info_free(ei);
    ei = NULL;
    harness_assert_ok(e2b_files_stat(sbx, "/home/user", NULL, &ei, &err), &err, "stat at +0 s");
    e2b_entry_info_free(ei);
    ei = NULL;
    harness_mock_advance_clock(t, 6000);
    harness_assert_code(e2b_files_stat(sbx, "/home/user", NULL, &ei, &err), E2B_ERR_SANDBOX_GONE,
                        &err, "stat at +6 s");
    e2b_entry_info_free(ei);
    assert_int_equal(harness_mock_journal_count(t, "rule=vanish"), 1);
}

/* ---- kill while streaming ---------------------------------------------------------- */

typedef struct killer {
    e2b_client *cl;
    const char *id;
    atomic_int saw_output;
    atomic_int killed;
    pthread_t th;
} killer;

static void *kill_thread(void *p)
{
    killer *k = p;
    for (int i = 0; i < 3000 && !atomic_load(&k->saw_output); i++)
        usleep(10000);
    e2b_error err;
    bool killed = false;
    e2b_sandbox_kill(k->cl, k->id, &killed, &err);
    atomic_store(&k->killed, killed ? 1 : -1);
    return NULL;
}

static int on_stdout(const e2b_log_chunk *c, void *ud)
{
    (void)c;
    atomic_store(&((killer *)ud)->saw_output, 1);
    return 0;
}

static void cmd_out(void *ud, const char *data, size_t len)
{
    (void)data;
    (void)len;
    atomic_store(&((killer *)ud)->saw_output, 1);
}

/* Kills the sandbox once output arrived; cut = the mock's default (cutStreamsOnKill true: the
 * streams are dropped as E2B's edge does when the VM disappears), else the test sets
 * cutStreamsOnKill false and the mock's modules end them gracefully. */
static void set_cut_streams(harness_target *t, bool cut)
{
    char *r = harness_mock_admin(t, "GET", "/_mock/settings", NULL, NULL);
    assert_non_null(r);
    assert_non_null(strstr(r, "\"cutStreamsOnKill\":true")); /* the default */
    free(r);
    if (cut)
        return;
    r = harness_mock_admin(t, "POST", "/_mock/settings", "{\"cutStreamsOnKill\":false}", NULL);
    assert_non_null(r);
    assert_non_null(strstr(r, "\"cutStreamsOnKill\":false"));
    free(r);
}

static e2b_code kill_during_execution(bool cut, bool *kept_output, e2b_error *err)
{
    harness_target *t = harness_target_start(NULL);
    set_cut_streams(t, cut);
    e2b_client *cl = client_with_timeout(t, 10000);
    e2b_sandbox *sbx = make_sandbox(cl, "code-interpreter-v1", 300);
    killer k = {.cl = cl, .id = e2b_sandbox_id(sbx)};
    assert_int_equal(pthread_create(&k.th, NULL, kill_thread, &k), 0);
    e2b_run_opts ro;
    e2b_run_opts_init(&ro);
    ro.timeout_ms = 60000;
    ro.on_stdout = on_stdout;
    ro.user_data = &k;
    e2b_execution *ex = NULL;
    int64_t t0 = harness_now_ms();
    e2b_error_clear(err);
    e2b_code rc = e2b_run_code(sbx, "import time\nprint('started', flush=True)\ntime.sleep(60)\n",
                               &ro, &ex, err);
    int64_t took = harness_now_ms() - t0;
    pthread_join(k.th, NULL);
    cell(cut ? "kill_mid_stream" : "kill_mid_stream_graceful", "execute", rc, err, t0);
    print_message("[ kill ] run_code (%s) -> %s in %lld ms: %s; completed=%d error=%s\n",
                  cut ? "cut" : "graceful", e2b_code_name(rc), (long long)took, err->message,
                  ex ? ex->completed : -1, ex && ex->error ? ex->error->name : "-");
    assert_int_equal(atomic_load(&k.killed), 1);
    assert_true(took < 30000); /* well before the 60 s sleep and the execution timeout */
    char *out = NULL;
    e2b_error e2;
    if (ex)
        e2b_execution_logs_text(ex, E2B_LOG_STDOUT, &out, &e2);
    *kept_output = out && strstr(out, "started");
    free(out);
    if (!cut && rc == E2B_OK) {
        assert_true(ex->completed);
        assert_non_null(ex->error);
        assert_string_equal(ex->error->name, "ExecutionAborted");
    }
    e2b_execution_free(ex);
    return rc;
}

static e2b_code kill_during_command(bool cut, bool *kept_output, e2b_error *err)
{
    harness_target *t = harness_target_start(NULL);
    set_cut_streams(t, cut);
    e2b_client *cl = client_with_timeout(t, 10000);
    e2b_sandbox *sbx = make_sandbox(cl, "base", 300);
    killer k = {.cl = cl, .id = e2b_sandbox_id(sbx)};
    assert_int_equal(pthread_create(&k.th, NULL, kill_thread, &k), 0);
    e2b_command_opts op = {0};
    op.timeout_ms = 60000;
    op.on_stdout = cmd_out;
    op.ud = &k;
    e2b_command_result res;
    int64_t t0 = harness_now_ms();
    e2b_error_clear(err);
    e2b_code rc = e2b_commands_run(sbx, "echo started; sleep 60", &op, &res, err);
    int64_t took = harness_now_ms() - t0;
    pthread_join(k.th, NULL);
    cell(cut ? "kill_mid_stream" : "kill_mid_stream_graceful", "envd_stream", rc, err, t0);
    print_message("[ kill ] commands_run (%s) -> %s in %lld ms: %s; finished=%d exit=%d "
                  "status=%s\n",
                  cut ? "cut" : "graceful", e2b_code_name(rc), (long long)took, err->message,
                  res.finished, res.exit_code, res.status ? res.status : "-");
    *kept_output = res.stdout_data && strstr(res.stdout_data, "started");
    bool killed_end = res.finished && !res.exited && res.exit_code == -1 && res.status &&
                      strcmp(res.status, "signal: killed") == 0;
    e2b_command_result_free(&res);
    if (!cut && rc == E2B_OK)
        assert_true(killed_end);
    assert_int_equal(atomic_load(&k.killed), 1);
    assert_true(took < 30000);
    return rc;
}

/* Default: E2B drops the connection when the sandbox disappears: sandbox_gone, output kept */
static void test_kill_while_executing_cut(void **state)
{
    (void)state;
    bool kept = false;
    e2b_error err;
    e2b_code rc = kill_during_execution(true, &kept, &err);
    assert_true(kept);
    /* run_code probes envd /health after the broken transfer, as commands and files do */
    harness_assert_code(rc, E2B_ERR_SANDBOX_GONE, &err, "run_code when killed (default: cut)");
}

static void test_kill_while_command_runs_cut(void **state)
{
    (void)state;
    bool kept = false;
    e2b_error err;
    e2b_code rc = kill_during_command(true, &kept, &err);
    assert_true(kept);
    harness_assert_code(rc, E2B_ERR_SANDBOX_GONE, &err, "commands_run when killed (default: cut)");
}

/* cutStreamsOnKill false: the modules end the streams themselves when the sandbox is killed. */
static void test_kill_while_executing_graceful(void **state)
{
    (void)state;
    bool kept = false;
    e2b_error err;
    e2b_code rc = kill_during_execution(false, &kept, &err);
    assert_true(kept);
    /* the mock's code interpreter ends the stream with an ExecutionAborted error and
     * end_of_execution: a complete execution whose error says it was aborted */
    harness_assert_code(rc, E2B_OK, &err, "run_code when killed (graceful)");
}

static void test_kill_while_command_runs_graceful(void **state)
{
    (void)state;
    bool kept = false;
    e2b_error err;
    e2b_code rc = kill_during_command(false, &kept, &err);
    assert_true(kept);
    /* envd ends the stream with end{exitCode:-1, status:"signal: killed"}: E2B_OK, not exited */
    harness_assert_code(rc, E2B_OK, &err, "commands_run when killed (graceful)");
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_three_distinct_timeouts),
        cmocka_unit_test(test_expiry_on_mock_clock),
        cmocka_unit_test(test_vanish_after_call),
        cmocka_unit_test(test_kill_while_executing_cut),
        cmocka_unit_test(test_kill_while_command_runs_cut),
        cmocka_unit_test(test_kill_while_executing_graceful),
        cmocka_unit_test(test_kill_while_command_runs_graceful),
    };
    return harness_run(argc, argv, "timeouts_faults", tests, sizeof tests / sizeof tests[0]);
}
