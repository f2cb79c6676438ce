/* commands_basic.c - commands end to end (e2b/commands.h against a private e2b-mock, or
 * real E2B with E2B_LIVE=1): exit codes as results, stdout/stderr separation and live
 * callbacks, envs and cwd, stdin, background handles with list/kill/connect, timeouts that
 * keep partial output, and typed errors. */
#include "harness.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void defer_sandbox(void *p)
{
    e2b_sandbox *sbx = p;
    e2b_error err;
    e2b_sandbox_kill(e2b_sandbox_client(sbx), e2b_sandbox_id(sbx), NULL, &err);
    e2b_sandbox_free(sbx);
}

static e2b_sandbox *new_sandbox(harness_target **tp)
{
    harness_target *t = harness_target_start(NULL);
    e2b_error err;
    e2b_sandbox *sbx = NULL;
    e2b_create_opts co;
    e2b_create_opts_init(&co);
    e2b_kv md = {"run", harness_run_tag()};
    co.metadata = &md;
    co.metadata_len = 1;
    harness_assert_ok(e2b_sandbox_create(t->client, &co, &sbx, &err), &err, "create");
    harness_defer(defer_sandbox, sbx);
    if (tp)
        *tp = t;
    return sbx;
}

static void defer_result(void *p)
{
    e2b_command_result_free(p);
    free(p);
}

static e2b_command_result *new_result(void)
{
    e2b_command_result *r = calloc(1, sizeof *r);
    harness_defer(defer_result, r);
    return r;
}

static void defer_handle(void *p)
{
    e2b_command_handle_free(p);
}

static void test_exit_codes_are_results(void **state)
{
    (void)state;
    e2b_sandbox *sbx = new_sandbox(NULL);
    e2b_error err;
    e2b_command_result *r = new_result();
    harness_assert_ok(e2b_commands_run(sbx, "echo hello", NULL, r, &err), &err, "run echo");
    assert_int_equal(r->exit_code, 0);
    assert_true(r->exited);
    assert_string_equal(r->stdout_data, "hello\n");
    assert_string_equal(r->stderr_data, "");
    assert_null(r->error);
    assert_true(r->pid > 0);
    e2b_command_result_free(r);

    harness_assert_ok(e2b_commands_run(sbx, "echo out; echo err >&2; exit 3", NULL, r, &err), &err,
                      "run exit 3");
    assert_int_equal(r->exit_code, 3);
    assert_string_equal(r->stdout_data, "out\n");
    assert_string_equal(r->stderr_data, "err\n");
    assert_non_null(r->error);
    assert_non_null(strstr(r->error, "3"));
}

static void test_envs_cwd_and_login_shell(void **state)
{
    (void)state;
    e2b_sandbox *sbx = new_sandbox(NULL);
    e2b_error err;
    harness_assert_ok(e2b_files_make_dir(sbx, "/home/user/work", NULL, NULL, &err), &err, "mkdir");
    e2b_kv envs[] = {{"GREETING", "hi there"}, {"N", "42"}};
    e2b_command_opts o = {.envs = envs, .envs_len = 2, .cwd = "/home/user/work"};
    e2b_command_result *r = new_result();
    harness_assert_ok(e2b_commands_run(sbx, "echo \"$GREETING $N\"; pwd", &o, r, &err), &err,
                      "run");
    assert_int_equal(r->exit_code, 0);
    assert_string_equal(r->stdout_data, "hi there 42\n/home/user/work\n");
    e2b_command_result_free(r);
    o.cwd = "/home/user/does-not-exist";
    e2b_code rc = e2b_commands_run(sbx, "pwd", &o, r, &err);
    if (rc == E2B_OK)
        fail_msg("a missing cwd must not run (exit %d)", r->exit_code);
    harness_assert_code(rc, E2B_ERR_INVALID_ARGUMENT, &err, "missing cwd");
}

typedef struct live {
    pthread_mutex_t mu;
    int64_t first_ms;
    size_t chunks;
    char out[256];
    size_t len;
} live;

static void on_out(void *ud, const char *d, size_t n)
{
    live *l = ud;
    pthread_mutex_lock(&l->mu);
    if (!l->chunks++)
        l->first_ms = harness_now_ms();
    if (l->len + n < sizeof l->out) {
        memcpy(l->out + l->len, d, n);
        l->len += n;
    }
    pthread_mutex_unlock(&l->mu);
}

static void test_output_arrives_while_running(void **state)
{
    (void)state;
    e2b_sandbox *sbx = new_sandbox(NULL);
    e2b_error err;
    live l = {.mu = PTHREAD_MUTEX_INITIALIZER};
    e2b_command_opts o = {.on_stdout = on_out, .ud = &l};
    e2b_command_result *r = new_result();
    harness_assert_ok(e2b_commands_run(sbx, "echo first; sleep 1; echo second", &o, r, &err), &err,
                      "run");
    int64_t end = harness_now_ms();
    assert_string_equal(r->stdout_data, "first\nsecond\n");
    assert_int_equal(l.len, 13);
    assert_true(l.chunks >= 2);
    /* the first chunk came well before the command ended (generous bound) */
    assert_true(end - l.first_ms > 500);
}

static void test_stdin(void **state)
{
    (void)state;
    e2b_sandbox *sbx = new_sandbox(NULL);
    e2b_error err;
    e2b_command_opts o = {.stdin_open = true};
    e2b_command_handle *h = NULL;
    harness_assert_ok(e2b_commands_start(sbx, "cat; echo done", &o, &h, &err), &err, "start cat");
    harness_defer(defer_handle, h);
    harness_assert_ok(e2b_command_send_stdin(h, "line one\n", 9, &err), &err, "stdin 1");
    harness_assert_ok(e2b_commands_send_stdin(sbx, e2b_command_handle_pid(h), "two\n", 4, &err),
                      &err, "stdin by pid");
    harness_assert_ok(e2b_command_close_stdin(h, &err), &err, "close stdin");
    e2b_command_result *r = new_result();
    harness_assert_ok(e2b_command_wait(h, r, &err), &err, "wait");
    assert_int_equal(r->exit_code, 0);
    assert_string_equal(r->stdout_data, "line one\ntwo\ndone\n");

    /* without stdin_open, stdin is closed: cat ends at once */
    e2b_command_result_free(r);
    harness_assert_ok(e2b_commands_run(sbx, "cat; echo eof", NULL, r, &err), &err,
                      "cat without stdin");
    assert_string_equal(r->stdout_data, "eof\n");
}

static void test_background_list_kill_connect(void **state)
{
    (void)state;
    e2b_sandbox *sbx = new_sandbox(NULL);
    e2b_error err;
    e2b_command_handle *h = NULL;
    live l0 = {.mu = PTHREAD_MUTEX_INITIALIZER};
    e2b_command_opts o0 = {.on_stdout = on_out, .ud = &l0};
    harness_assert_ok(e2b_commands_start(sbx, "echo started; sleep 30", &o0, &h, &err), &err,
                      "start");
    harness_defer(defer_handle, h);
    uint32_t pid = e2b_command_handle_pid(h);
    assert_true(pid > 0);
    /* the output arrives on the handle's thread while the command keeps running */
    for (int i = 0; i < 1000; i++) {
        pthread_mutex_lock(&l0.mu);
        size_t got = l0.len;
        pthread_mutex_unlock(&l0.mu);
        if (got >= 8)
            break;
        usleep(10000);
    }
    pthread_mutex_lock(&l0.mu);
    assert_int_equal(l0.len, 8);
    assert_memory_equal(l0.out, "started\n", 8);
    pthread_mutex_unlock(&l0.mu);

    e2b_process_info *v = NULL;
    size_t n = 0;
    harness_assert_ok(e2b_commands_list(sbx, NULL, &v, &n, &err), &err, "list");
    bool found = false;
    for (size_t i = 0; i < n; i++)
        if (v[i].pid == pid) {
            found = true;
            assert_string_equal(v[i].cmd, "/bin/bash");
            assert_int_equal(v[i].args_len, 3);
            assert_string_equal(v[i].args[2], "echo started; sleep 30");
        }
    e2b_process_infos_free(v, n);
    assert_true(found);

    /* a second observer of the same process */
    live l = {.mu = PTHREAD_MUTEX_INITIALIZER};
    e2b_command_opts co = {.on_stdout = on_out, .ud = &l};
    e2b_command_handle *h2 = NULL;
    harness_assert_ok(e2b_commands_connect(sbx, pid, &co, &h2, &err), &err, "connect");
    harness_defer(defer_handle, h2);
    assert_int_equal(e2b_command_handle_pid(h2), pid);

    int64_t t0 = harness_now_ms();
    bool killed = false;
    harness_assert_ok(e2b_command_kill(h, &killed, &err), &err, "kill");
    assert_true(killed);
    e2b_command_result *r = new_result();
    harness_assert_ok(e2b_command_wait(h, r, &err), &err, "wait killed");
    assert_true(harness_now_ms() - t0 < 20000); /* did not wait for sleep 30 */
    assert_true(r->finished);
    assert_false(r->exited);
    assert_int_equal(r->exit_code, -1);
    assert_string_equal(r->stdout_data, "started\n");
    e2b_command_result *r2 = new_result();
    harness_assert_ok(e2b_command_wait(h2, r2, &err), &err, "wait connected");
    assert_int_equal(r2->exit_code, -1);

    /* gone now */
    harness_assert_ok(e2b_commands_kill(sbx, pid, &killed, &err), &err, "kill again");
    assert_false(killed);
    harness_assert_ok(e2b_commands_kill(sbx, 999999, &killed, &err), &err, "kill unknown");
    assert_false(killed);
    e2b_command_handle *h3 = NULL;
    harness_assert_code(e2b_commands_connect(sbx, 999999, NULL, &h3, &err), E2B_ERR_NOT_FOUND, &err,
                        "connect unknown");
    assert_null(h3);
    harness_assert_code(e2b_commands_send_stdin(sbx, 999999, "x", 1, &err), E2B_ERR_NOT_FOUND, &err,
                        "stdin unknown");
}

static void test_timeout_keeps_partial_output(void **state)
{
    (void)state;
    e2b_sandbox *sbx = new_sandbox(NULL);
    e2b_error err;
    e2b_command_opts o = {.timeout_ms = 3000}; /* room for a slow login shell under load */
    e2b_command_result *r = new_result();
    int64_t t0 = harness_now_ms();
    harness_assert_code(e2b_commands_run(sbx, "echo before; sleep 60; echo after", &o, r, &err),
                        E2B_ERR_OPERATION_TIMEOUT, &err, "run past its timeout");
    assert_true(harness_now_ms() - t0 < 30000); /* far less than the 60 s sleep */
    assert_string_equal(r->stdout_data, "before\n");
    /* the sandbox is fine afterwards */
    e2b_command_result_free(r);
    harness_assert_ok(e2b_commands_run(sbx, "echo ok", NULL, r, &err), &err, "run after timeout");
    assert_string_equal(r->stdout_data, "ok\n");
}

static void test_sandbox_gone(void **state)
{
    (void)state;
    harness_target *t;
    e2b_sandbox *sbx = new_sandbox(&t);
    e2b_error err;
    harness_assert_ok(e2b_sandbox_kill(t->client, e2b_sandbox_id(sbx), NULL, &err), &err,
                      "kill sandbox");
    e2b_command_result *r = new_result();
    harness_assert_code(e2b_commands_run(sbx, "echo x", NULL, r, &err), E2B_ERR_SANDBOX_GONE, &err,
                        "run in a killed sandbox");
    bool killed;
    harness_assert_code(e2b_commands_kill(sbx, 1, &killed, &err), E2B_ERR_SANDBOX_GONE, &err,
                        "kill in a killed sandbox");
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exit_codes_are_results),
        cmocka_unit_test(test_envs_cwd_and_login_shell),
        cmocka_unit_test(test_output_arrives_while_running),
        cmocka_unit_test(test_stdin),
        cmocka_unit_test(test_background_list_kill_connect),
        cmocka_unit_test(test_timeout_keeps_partial_output),
        cmocka_unit_test(test_sandbox_gone),
    };
    return harness_run(argc, argv, "commands_basic", tests, sizeof tests / sizeof tests[0]);
}
