/* startup_latency.c - sandbox start-up as libe2b sees it (ctest label `startup`):
 *   - an injected cloud-like create delay (--create-latency-ms) is what the client waits for,
 *     plus no more than a generous overhead;
 *   - e2b-mock's warm pool (--warm-pool N, GET /_mock/warm-pool) really serves creates, and
 *     create + first result on a pooled sandbox is bounded (generously; the cold vs warm
 *     comparison is a bench claim: `e2b-bench ttfr`);
 *   - a pooled sandbox behaves exactly like a cold one: fresh interpreter namespace (nothing
 *     leaks between two pooled sandboxes, execution count starts at 1), an empty
 *     /home/user that IS the sandbox's directory (files API and kernel agree), and the
 *     create's envVars visible to the code and its subprocesses.
 * libe2b reports no timing fields of its own, so there are none to cross-check.
 * Mock-only (needs e2b-mock options): skipped in live mode. */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#define LATENCY_MS 150
#define OVERHEAD_MS 2000 /* generous: loaded CI, sanitizers */
#define FIRST_RESULT_BOUND_MS 10000

static void defer_sbx(void *p)
{
    e2b_sandbox_free(p);
}

typedef struct pool_stats {
    long size, available, served, misses;
} pool_stats;

static pool_stats pool_get(harness_target *t)
{
    long status = 0;
    char *body = harness_mock_admin(t, "GET", "/_mock/warm-pool", NULL, &status);
    assert_int_equal(status, 200);
    cJSON *o = cJSON_Parse(body);
    free(body);
    assert_non_null(o);
    pool_stats s;
    const char *names[4] = {"size", "available", "served", "misses"};
    long *dst[4] = {&s.size, &s.available, &s.served, &s.misses};
    for (int i = 0; i < 4; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, names[i]);
        if (!cJSON_IsNumber(v)) {
            cJSON_Delete(o);
            fail_msg("/_mock/warm-pool: no numeric %s", names[i]);
        }
        *dst[i] = (long)v->valuedouble;
    }
    cJSON_Delete(o);
    return s;
}

/* Waits (generously) until the refill thread has `want` entries ready. */
static pool_stats pool_wait_full(harness_target *t, long want)
{
    int64_t t0 = harness_now_ms();
    for (;;) {
        pool_stats s = pool_get(t);
        if (s.available >= want)
            return s;
        if (harness_now_ms() - t0 > 30000)
            fail_msg("warm pool not refilled to %ld within 30 s (available %ld)", want,
                     s.available);
        usleep(20000);
    }
}

static e2b_sandbox *create(harness_target *t, const e2b_kv *env, size_t n_env)
{
    e2b_create_opts co;
    e2b_create_opts_init(&co);
    co.template_id = "code-interpreter-v1";
    co.timeout_s = 120;
    co.env_vars = env;
    co.env_vars_len = n_env;
    e2b_sandbox *sbx = NULL;
    e2b_error err;
    harness_assert_ok(e2b_sandbox_create(t->client, &co, &sbx, &err), &err, "create");
    harness_defer(defer_sbx, sbx);
    return sbx;
}

/* Runs code, asserts no error, returns its stdout (heap). */
static char *run_stdout(e2b_sandbox *sbx, const char *code, int *execution_count)
{
    e2b_execution *ex = NULL;
    e2b_error err;
    harness_assert_ok(e2b_run_code(sbx, code, NULL, &ex, &err), &err, "run_code");
    assert_non_null(ex);
    if (ex->error)
        fail_msg("%s: %s: %s", code, ex->error->name, ex->error->value);
    assert_true(ex->completed);
    if (execution_count)
        *execution_count = ex->execution_count;
    char *out = NULL;
    harness_assert_ok(e2b_execution_logs_text(ex, E2B_LOG_STDOUT, &out, &err), &err, "stdout");
    e2b_execution_free(ex);
    return out;
}

/* (a) the client's create latency includes the injected delay, plus a bounded overhead */
static void test_create_latency_injected(void **state)
{
    (void)state;
    const char *args[] = {"--create-latency-ms", "150", "--warm-pool", "0", NULL};
    harness_target_opts o = {.mock_args = args};
    harness_target *t = harness_target_start(&o);
    for (int i = 0; i < 3; i++) {
        int64_t t0 = harness_now_ms();
        e2b_sandbox *sbx = create(t, NULL, 0);
        int64_t dt = harness_now_ms() - t0;
        assert_non_null(sbx);
        if (dt < LATENCY_MS || dt >= LATENCY_MS + OVERHEAD_MS)
            fail_msg("create %d took %lld ms, expected [%d, %d)", i, (long long)dt, LATENCY_MS,
                     LATENCY_MS + OVERHEAD_MS);
    }
}

/* (b) creates are served from the pool; create + first result is bounded */
static void test_pool_serves_creates(void **state)
{
    (void)state;
    const char *args[] = {"--warm-pool", "2", NULL};
    harness_target_opts o = {.mock_args = args};
    harness_target *t = harness_target_start(&o);
    pool_stats s0 = pool_wait_full(t, 2);
    assert_int_equal(s0.size, 2);
    assert_int_equal(s0.served, 0);
    for (int i = 0; i < 4; i++) {
        pool_stats before = pool_wait_full(t, 2); /* refilled in the background */
        int64_t t0 = harness_now_ms();
        e2b_sandbox *sbx = create(t, NULL, 0);
        char *out = run_stdout(sbx, "print(1)", NULL);
        int64_t dt = harness_now_ms() - t0;
        assert_string_equal(out, "1\n");
        free(out);
        pool_stats after = pool_get(t);
        assert_int_equal(after.served, before.served + 1);
        assert_int_equal(after.misses, before.misses);
        if (dt >= FIRST_RESULT_BOUND_MS)
            fail_msg("pooled create + print(1) took %lld ms", (long long)dt);
    }
    /* a sandbox that wants the host network cannot take a (network-less) pooled kernel */
    pool_stats before = pool_wait_full(t, 2);
    e2b_create_opts co;
    e2b_create_opts_init(&co);
    co.template_id = "code-interpreter-v1";
    co.allow_internet_access = 1;
    e2b_sandbox *net = NULL;
    e2b_error err;
    harness_assert_ok(e2b_sandbox_create(t->client, &co, &net, &err), &err, "create (net)");
    harness_defer(defer_sbx, net);
    pool_stats after = pool_get(t);
    assert_int_equal(after.served, before.served);
    assert_int_equal(after.misses, before.misses + 1);
}

/* (b') pool disabled: every create is cold and the counters say so */
static void test_pool_disabled(void **state)
{
    (void)state;
    const char *args[] = {"--warm-pool", "0", NULL};
    harness_target_opts o = {.mock_args = args};
    harness_target *t = harness_target_start(&o);
    e2b_sandbox *sbx = create(t, NULL, 0);
    char *out = run_stdout(sbx, "print(1)", NULL);
    assert_string_equal(out, "1\n");
    free(out);
    pool_stats s = pool_get(t);
    assert_int_equal(s.size, 0);
    assert_int_equal(s.available, 0);
    assert_int_equal(s.served, 0);
}

/* (c) a pooled sandbox is indistinguishable from a cold one */
static void test_pooled_like_cold(void **state)
{
    (void)state;
    const char *args[] = {"--warm-pool", "2", NULL};
    harness_target_opts o = {.mock_args = args};
    harness_target *t = harness_target_start(&o);
    pool_stats s0 = pool_wait_full(t, 2);
    const e2b_kv env[] = {{"WP_VAR", "hello pool"}, {"WP_OTHER", "2"}};
    e2b_sandbox *a = create(t, env, 2);
    e2b_sandbox *b = create(t, NULL, 0);
    pool_stats s1 = pool_get(t);
    assert_int_equal(s1.served, s0.served + 2); /* both really came from the pool */

    int count = 0;
    char *out = run_stdout(a,
                           "import os, subprocess\n"
                           "secret_in_a = 41\n"
                           "print(os.getcwd(), sorted(os.listdir('/home/user')))\n"
                           "print(os.environ.get('WP_VAR'), os.environ.get('WP_OTHER'))\n"
                           "print(subprocess.check_output(['sh', '-c', 'echo $WP_VAR'])"
                           ".decode().strip())\n",
                           &count);
    assert_string_equal(out, "/home/user []\nhello pool 2\nhello pool\n");
    assert_int_equal(count, 1);
    free(out);

    /* the kernel's /home/user is the sandbox directory the files API serves */
    e2b_error err;
    harness_assert_ok(e2b_files_write(a, "/home/user/from_api.txt", "api", 3, NULL, NULL, &err),
                      &err, "files write");
    out = run_stdout(a,
                     "print(open('/home/user/from_api.txt').read())\n"
                     "open('/home/user/from_kernel.txt', 'w').write('kernel')\n",
                     &count);
    assert_string_equal(out, "api\n");
    assert_int_equal(count, 2);
    free(out);
    char *data = NULL;
    size_t len = 0;
    harness_assert_ok(e2b_files_read(a, "/home/user/from_kernel.txt", NULL, &data, &len, &err),
                      &err, "files read");
    assert_int_equal(len, 6);
    assert_memory_equal(data, "kernel", 6);
    free(data);

    /* b: fresh namespace, no env of a, empty dir */
    out = run_stdout(b,
                     "import os\n"
                     "print('secret_in_a' in globals(), os.environ.get('WP_VAR'), "
                     "sorted(os.listdir('/home/user')))\n",
                     &count);
    assert_string_equal(out, "False None []\n");
    assert_int_equal(count, 1);
    free(out);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_latency_injected),
        cmocka_unit_test(test_pool_serves_creates),
        cmocka_unit_test(test_pool_disabled),
        cmocka_unit_test(test_pooled_like_cold),
    };
    return harness_run(argc, argv, "startup_latency", tests, sizeof tests / sizeof tests[0]);
}
