/* unit_commands.c - network-free parts of commands.c: the process event state machine
 * (start first, base64 output, end, keepalive), StartRequest JSON, ListResponse parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "commands_internal.h"
#include "connect.h"

typedef struct seen {
    char out[256];
    size_t out_len;
    char err[256];
    size_t err_len;
    int calls;
} seen;

static void on_out(void *ud, const char *d, size_t n)
{
    seen *s = ud;
    memcpy(s->out + s->out_len, d, n);
    s->out_len += n;
    s->calls++;
}

static void on_err(void *ud, const char *d, size_t n)
{
    seen *s = ud;
    memcpy(s->err + s->err_len, d, n);
    s->err_len += n;
    s->calls++;
}

static e2b_code feed(e2b_commands_state *st, const char *json, e2b_error *err)
{
    return e2b_commands_on_message(st, json, strlen(json), err);
}

static void test_stream_events(void **state)
{
    (void)state;
    seen s = {0};
    e2b_command_opts o = {.on_stdout = on_out, .on_stderr = on_err, .ud = &s};
    e2b_commands_state st;
    e2b_commands_state_init(&st, &o);
    e2b_error err;
    assert_int_equal(feed(&st, "{\"event\":{\"start\":{\"pid\":42}}}", &err), E2B_OK);
    assert_true(st.started);
    assert_int_equal(st.pid, 42);
    assert_int_equal(feed(&st, "{\"event\":{\"keepalive\":{}}}", &err), E2B_OK);
    assert_int_equal(feed(&st, "{\"event\":{\"data\":{\"stdout\":\"aGVsbG8K\"}}}", &err), E2B_OK);
    assert_int_equal(feed(&st, "{\"event\":{\"data\":{\"stderr\":\"d2Fybgo=\"}}}", &err), E2B_OK);
    /* binary output with a NUL survives */
    assert_int_equal(feed(&st, "{\"event\":{\"data\":{\"stdout\":\"AAE=\"}}}", &err), E2B_OK);
    assert_int_equal(feed(&st, "{\"unknown\":1}", &err), E2B_OK);
    assert_false(st.finished);
    assert_int_equal(feed(&st,
                          "{\"event\":{\"end\":{\"exitCode\":2,\"exited\":true,"
                          "\"status\":\"exit status 2\",\"error\":\"exit status 2\"}}}",
                          &err),
                     E2B_OK);
    assert_true(st.finished);
    assert_int_equal(s.out_len, 8);
    assert_memory_equal(s.out, "hello\n\x00\x01", 8);
    assert_int_equal(s.err_len, 5);
    assert_memory_equal(s.err, "warn\n", 5);
    assert_int_equal(s.calls, 3);

    e2b_command_result r;
    assert_int_equal(e2b_commands_state_result(&st, false, &r, &err), E2B_OK);
    assert_int_equal(r.pid, 42);
    assert_int_equal(r.exit_code, 2);
    assert_true(r.exited);
    assert_true(r.finished);
    assert_string_equal(r.error, "exit status 2");
    assert_string_equal(r.status, "exit status 2");
    assert_int_equal(r.stdout_len, 8);
    assert_memory_equal(r.stdout_data, "hello\n\x00\x01", 9); /* NUL-terminated */
    assert_string_equal(r.stderr_data, "warn\n");
    e2b_command_result_free(&r);
    /* copying left the state intact; taking moves */
    assert_int_equal(e2b_commands_state_result(&st, true, &r, &err), E2B_OK);
    assert_int_equal(r.stdout_len, 8);
    assert_null(st.out);
    e2b_command_result_free(&r);
    e2b_commands_state_free(&st);
}

static void test_exit_zero_and_signal(void **state)
{
    (void)state;
    e2b_commands_state st;
    e2b_commands_state_init(&st, NULL);
    e2b_error err;
    assert_int_equal(feed(&st, "{\"event\":{\"start\":{\"pid\":7}}}", &err), E2B_OK);
    /* proto3 omits exitCode 0 */
    assert_int_equal(
        feed(&st, "{\"event\":{\"end\":{\"exited\":true,\"status\":\"exit status 0\"}}}", &err),
        E2B_OK);
    e2b_command_result r;
    assert_int_equal(e2b_commands_state_result(&st, true, &r, &err), E2B_OK);
    assert_int_equal(r.exit_code, 0);
    assert_null(r.error);
    assert_string_equal(r.stdout_data, "");
    assert_string_equal(r.stderr_data, "");
    e2b_command_result_free(&r);
    e2b_commands_state_free(&st);

    e2b_commands_state_init(&st, NULL);
    assert_int_equal(feed(&st, "{\"event\":{\"start\":{\"pid\":8}}}", &err), E2B_OK);
    assert_int_equal(feed(&st,
                          "{\"event\":{\"end\":{\"exitCode\":-1,\"status\":\"signal: "
                          "killed\",\"error\":\"signal: killed\"}}}",
                          &err),
                     E2B_OK);
    assert_int_equal(e2b_commands_state_result(&st, true, &r, &err), E2B_OK);
    assert_int_equal(r.exit_code, -1);
    assert_false(r.exited);
    assert_true(r.finished);
    assert_string_equal(r.error, "signal: killed");
    e2b_command_result_free(&r);
    e2b_commands_state_free(&st);
}

static void test_start_required_first(void **state)
{
    (void)state;
    const char *first[] = {"{\"event\":{\"keepalive\":{}}}",
                           "{\"event\":{\"data\":{\"stdout\":\"aGk=\"}}}",
                           "{}",
                           "{\"event\":{\"start\":{\"pid\":\"x\"}}}",
                           "{\"event\":{\"start\":{\"pid\":-1}}}",
                           "{\"event\":5}",
                           "not json",
                           "[1]"};
    for (size_t i = 0; i < sizeof first / sizeof first[0]; i++) {
        e2b_commands_state st;
        e2b_commands_state_init(&st, NULL);
        e2b_error err;
        assert_int_equal(feed(&st, first[i], &err), E2B_ERR_PROTOCOL);
        assert_false(st.started);
        e2b_commands_state_free(&st);
    }
    e2b_commands_state st;
    e2b_commands_state_init(&st, NULL);
    e2b_error err;
    assert_int_equal(feed(&st, "{\"event\":{\"keepalive\":{}}}", &err), E2B_ERR_PROTOCOL);
    assert_non_null(strstr(err.message, "Expected start event"));
    e2b_commands_state_free(&st);
}

static void test_bad_events(void **state)
{
    (void)state;
    const char *bad[] = {
        "{\"event\":{\"data\":{\"stdout\":\"!!!\"}}}", "{\"event\":{\"data\":{\"stdout\":5}}}",
        "{\"event\":{\"end\":{\"exitCode\":\"x\"}}}",  "{\"event\":{\"end\":{\"exitCode\":1.5}}}",
        "{\"event\":{\"end\":{\"exited\":\"yes\"}}}",  "{\"event\":{\"end\":{\"error\":3}}}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        e2b_commands_state st;
        e2b_commands_state_init(&st, NULL);
        e2b_error err;
        assert_int_equal(feed(&st, "{\"event\":{\"start\":{\"pid\":1}}}", &err), E2B_OK);
        assert_int_equal(feed(&st, bad[i], &err), E2B_ERR_PROTOCOL);
        e2b_commands_state_free(&st);
    }
}

static void test_no_accumulate(void **state)
{
    (void)state;
    seen s = {0};
    e2b_command_opts o = {.on_stdout = on_out, .ud = &s, .no_accumulate = true};
    e2b_commands_state st;
    e2b_commands_state_init(&st, &o);
    e2b_error err;
    assert_int_equal(feed(&st, "{\"event\":{\"start\":{\"pid\":1}}}", &err), E2B_OK);
    assert_int_equal(feed(&st, "{\"event\":{\"data\":{\"stdout\":\"aGk=\"}}}", &err), E2B_OK);
    assert_null(st.out);
    assert_int_equal(s.out_len, 2);
    e2b_command_result r;
    assert_int_equal(e2b_commands_state_result(&st, true, &r, &err), E2B_OK);
    assert_null(r.stdout_data);
    assert_int_equal(r.exit_code, -1); /* never finished */
    assert_false(r.finished);
    e2b_command_result_free(&r);
    e2b_commands_state_free(&st);
}

/* The decoder + state machine together, on a recorded envd reply, byte by byte. */
static void test_recorded_stream_byte_by_byte(void **state)
{
    (void)state;
    const char *msgs[] = {"{\"event\":{\"start\":{\"pid\":1000}}}",
                          "{\"event\":{\"data\":{\"stdout\":\"aGkK\"}}}",
                          "{\"event\":{\"end\":{\"exited\":true,\"status\":\"exit status 0\"}}}"};
    char wire[512];
    size_t len = 0;
    for (size_t i = 0; i < 3; i++) {
        e2b_connect_envelope_header((unsigned char *)wire + len, 0, (uint32_t)strlen(msgs[i]));
        memcpy(wire + len + 5, msgs[i], strlen(msgs[i]));
        len += 5 + strlen(msgs[i]);
    }
    memcpy(wire + len, "\x02\x00\x00\x00\x02{}", 7);
    len += 7;
    e2b_connect_decoder d;
    e2b_connect_decoder_init(&d, 0, E2B_CONNECT_PROCESS);
    e2b_commands_state st;
    e2b_commands_state_init(&st, NULL);
    e2b_error err;
    for (size_t i = 0; i < len; i++)
        assert_int_equal(
            e2b_connect_decoder_feed(&d, wire + i, 1, e2b_commands_on_message, &st, &err), E2B_OK);
    assert_int_equal(e2b_connect_decoder_finish(&d, &err), E2B_OK);
    assert_int_equal(st.pid, 1000);
    assert_true(st.finished);
    assert_int_equal(st.exit_code, 0);
    assert_string_equal(st.out, "hi\n");
    e2b_commands_state_free(&st);
    e2b_connect_decoder_free(&d);
}

static void test_start_request(void **state)
{
    (void)state;
    cJSON *r = e2b_commands_start_request("echo hi", NULL);
    char *s = cJSON_PrintUnformatted(r);
    assert_string_equal(s, "{\"process\":{\"cmd\":\"/bin/bash\",\"args\":[\"-l\",\"-c\",\"echo "
                           "hi\"]},\"stdin\":false}");
    cJSON_free(s);
    cJSON_Delete(r);
    e2b_kv envs[] = {{"X", "1"}, {"Y", "two words"}};
    e2b_command_opts o = {.envs = envs, .envs_len = 2, .cwd = "/home/user/app", .stdin_open = true};
    r = e2b_commands_start_request("echo \"$X\"", &o);
    s = cJSON_PrintUnformatted(r);
    assert_string_equal(
        s,
        "{\"process\":{\"cmd\":\"/bin/bash\",\"args\":[\"-l\",\"-c\",\"echo \\\"$X\\\"\"],"
        "\"envs\":{\"X\":\"1\",\"Y\":\"two words\"},\"cwd\":\"/home/user/app\"},\"stdin\":true}");
    cJSON_free(s);
    cJSON_Delete(r);
}

static void test_parse_list(void **state)
{
    (void)state;
    cJSON *r = cJSON_Parse(
        "{\"processes\":[{\"config\":{\"cmd\":\"/bin/bash\",\"args\":[\"-l\",\"-c\",\"sleep 10\"],"
        "\"envs\":{\"A\":\"1\"},\"cwd\":\"/tmp\"},\"pid\":42,\"tag\":\"t\"},{\"pid\":43}]}");
    e2b_process_info *v;
    size_t n;
    e2b_error err;
    assert_int_equal(e2b_commands_parse_list(r, &v, &n, &err), E2B_OK);
    assert_int_equal(n, 2);
    assert_int_equal(v[0].pid, 42);
    assert_string_equal(v[0].tag, "t");
    assert_string_equal(v[0].cmd, "/bin/bash");
    assert_int_equal(v[0].args_len, 3);
    assert_string_equal(v[0].args[2], "sleep 10");
    assert_int_equal(v[0].envs_len, 1);
    assert_string_equal(v[0].envs[0].key, "A");
    assert_string_equal(v[0].cwd, "/tmp");
    assert_int_equal(v[1].pid, 43);
    assert_null(v[1].cmd);
    e2b_process_infos_free(v, n);
    cJSON_Delete(r);

    r = cJSON_Parse("{}");
    assert_int_equal(e2b_commands_parse_list(r, &v, &n, &err), E2B_OK);
    assert_int_equal(n, 0);
    assert_null(v);
    cJSON_Delete(r);
    const char *bad[] = {
        "{\"processes\":{}}", "{\"processes\":[{\"pid\":\"x\"}]}",
        "{\"processes\":[{\"pid\":1,\"config\":{\"args\":[1]}}]}",
        "{\"processes\":[{\"pid\":1},{\"pid\":2,\"config\":{\"envs\":{\"a\":1}}}]}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        r = cJSON_Parse(bad[i]);
        assert_int_equal(e2b_commands_parse_list(r, &v, &n, &err), E2B_ERR_PROTOCOL);
        assert_null(v);
        cJSON_Delete(r);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stream_events),
        cmocka_unit_test(test_exit_zero_and_signal),
        cmocka_unit_test(test_start_required_first),
        cmocka_unit_test(test_bad_events),
        cmocka_unit_test(test_no_accumulate),
        cmocka_unit_test(test_recorded_stream_byte_by_byte),
        cmocka_unit_test(test_start_request),
        cmocka_unit_test(test_parse_list),
    };
    return cmocka_run_group_tests_name("unit_commands", tests, NULL, NULL);
}
