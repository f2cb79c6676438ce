/* live.c - scenario "live": create -> exec -> kill round trips against real E2B.
 *
 * Runs only with E2B_LIVE=1 (or true/yes, like the conformance harness) and a non-empty
 * E2B_API_KEY; otherwise it prints "skipped: set E2B_LIVE=1 and E2B_API_KEY to measure real
 * E2B" and succeeds without measuring. The client comes from e2b_config_from_env, so
 * E2B_API_URL / E2B_SANDBOX_URL / E2B_DOMAIN are honoured (pointing them at an e2b-mock
 * started with --create-latency-ms makes a local stand-in for E2B; --api-key overrides
 * E2B_API_KEY). No e2b-mock is started and --url is not used: this is the same libe2b code
 * path every other scenario exercises against the mock, aimed at the configured cloud.
 *
 * One round, timed as a whole and per phase (-n rounds, default 20, no warm-up: a real
 * sandbox costs money and every round is a cold start anyway):
 *   live_create   e2b_sandbox_create(template code-interpreter-v1, timeout 60 s)
 *   live_exec     e2b_run_code("print(1)") from the call until "1\n" reaches on_stdout
 *   live_run      the whole e2b_run_code call (exec plus draining the end of the stream)
 *   live_kill     e2b_sandbox_kill
 *   live_round    create start -> kill return (all of the above)
 * A sandbox that was created is always killed, also when the execution fails; a failed
 * round is counted (metric live_failed_rounds) and left out of the series, and the scenario
 * then reports failure (after 3 failed rounds in a row it stops trying). The published
 * third-party figures for the same round trip (p50 442 ms, p95 811 ms, p99 4,135 ms) are
 * added as metrics so the table and the JSON carry both.
 */
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "e2b/e2b.h"

#define LIVE_TEMPLATE "code-interpreter-v1"
#define LIVE_DEFAULT_N 20
#define LIVE_GIVE_UP 3 /* consecutive failed rounds that end the run */

const double bench_live_published_ms[3] = {442.0, 811.0, 4135.0}; /* p50, p95, p99 */

bool bench_live_enabled(void)
{
    const char *v = getenv("E2B_LIVE");
    const char *k = getenv("E2B_API_KEY");
    bool on = v && (!strcmp(v, "1") || !strcasecmp(v, "true") || !strcasecmp(v, "yes"));
    return on && k && *k;
}

typedef struct first_out {
    uint64_t t_ns; /* 0 until the first stdout chunk */
    bool saw_one;  /* that chunk is "1\n" */
} first_out;

static int on_stdout(const e2b_log_chunk *chunk, void *ud)
{
    first_out *f = ud;
    if (f->t_ns == 0) {
        f->t_ns = bench_now_ns();
        f->saw_one = chunk->text && !strcmp(chunk->text, "1\n");
    }
    return 0;
}

typedef struct round_times {
    uint64_t create, exec, run, kill, round; /* ns */
} round_times;

/* One create -> print(1) -> kill round. Returns 0 with *t filled, or -1 (message on
 * stderr). Whatever was created is killed before returning. */
static int one_round(e2b_client *client, round_times *t)
{
    e2b_error err = {0};
    e2b_create_opts co;
    e2b_create_opts_init(&co);
    co.template_id = LIVE_TEMPLATE;
    co.timeout_s = 60; /* a sandbox whose kill got lost dies on its own soon */
    e2b_kv md[1] = {{"purpose", "e2b-bench-live"}};
    co.metadata = md;
    co.metadata_len = 1;

    e2b_sandbox *sbx = NULL;
    uint64_t t0 = bench_now_ns();
    e2b_code c = e2b_sandbox_create(client, &co, &sbx, &err);
    uint64_t t1 = bench_now_ns();
    if (c != E2B_OK) {
        fprintf(stderr, "e2b-bench: live: create: %s: %s\n", e2b_code_name(c), err.message);
        return -1;
    }

    int rc = 0;
    first_out f = {0};
    e2b_run_opts ro;
    e2b_run_opts_init(&ro);
    ro.on_stdout = on_stdout;
    ro.user_data = &f;
    e2b_execution *ex = NULL;
    c = e2b_run_code(sbx, "print(1)", &ro, &ex, &err);
    uint64_t t2 = bench_now_ns();
    if (c != E2B_OK) {
        fprintf(stderr, "e2b-bench: live: run_code in %s: %s: %s\n", e2b_sandbox_id(sbx),
                e2b_code_name(c), err.message);
        rc = -1;
    } else if (ex->error) {
        fprintf(stderr, "e2b-bench: live: print(1) raised %s: %s\n", ex->error->name,
                ex->error->value);
        rc = -1;
    } else if (!f.t_ns || !f.saw_one) {
        fprintf(stderr, "e2b-bench: live: print(1) gave no \"1\\n\" on stdout\n");
        rc = -1;
    }
    e2b_execution_free(ex);

    /* always: kill what we created, whatever happened above */
    e2b_error kerr = {0};
    c = e2b_sandbox_kill(client, e2b_sandbox_id(sbx), NULL, &kerr);
    uint64_t t3 = bench_now_ns();
    if (c != E2B_OK) {
        fprintf(stderr, "e2b-bench: live: kill %s: %s: %s (it expires after %d s)\n",
                e2b_sandbox_id(sbx), e2b_code_name(c), kerr.message, co.timeout_s);
        rc = -1;
    }
    e2b_sandbox_free(sbx);
    if (rc == 0) {
        t->create = t1 - t0;
        t->exec = f.t_ns - t1;
        t->run = t2 - t1;
        t->kill = t3 - t2;
        t->round = t3 - t0;
    }
    return rc;
}

int bench_scenario_live(const bench_opts *opts, bench_report *report)
{
    if (!bench_live_enabled()) {
        snprintf(report->target, sizeof report->target,
                 "skipped: set E2B_LIVE=1 and E2B_API_KEY to measure real E2B");
        fprintf(stderr, "e2b-bench: live: skipped: set E2B_LIVE=1 and E2B_API_KEY to measure "
                        "real E2B\n");
        return 0;
    }
    e2b_config cfg;
    e2b_error err = {0};
    e2b_code c = e2b_config_from_env(&cfg, &err);
    if (c != E2B_OK) {
        fprintf(stderr, "e2b-bench: live: config: %s: %s\n", e2b_code_name(c), err.message);
        return -1;
    }
    if (opts->api_key)
        cfg.api_key = opts->api_key;
    e2b_client *client = NULL;
    c = e2b_client_new(&cfg, &client, &err);
    if (c != E2B_OK) {
        fprintf(stderr, "e2b-bench: live: client: %s: %s\n", e2b_code_name(c), err.message);
        return -1;
    }
    const char *sbx_url = getenv("E2B_SANDBOX_URL");
    snprintf(report->target, sizeof report->target, "live E2B: %s%s%s (template %s)",
             e2b_client_api_url(client), sbx_url && *sbx_url ? ", sandboxes " : "",
             sbx_url && *sbx_url ? sbx_url : "", LIVE_TEMPLATE);

    /* -n defaults to 2000 for the cheap scenarios; the table caps live at 200, and an
     * untouched -n means the live default of 20 rounds. */
    size_t n = opts->n_given ? (size_t)opts->n : LIVE_DEFAULT_N;
    bench_series *s_round = bench_series_add(report, "live_round",
                                             "create -> print(1) stdout -> kill, whole round", n);
    bench_series *s_create = bench_series_add(report, "live_create",
                                              "e2b_sandbox_create " LIVE_TEMPLATE, n);
    bench_series *s_exec = bench_series_add(report, "live_exec",
                                            "run_code print(1): call -> \"1\" on stdout", n);
    bench_series *s_run = bench_series_add(report, "live_run", "run_code print(1): whole call", n);
    bench_series *s_kill = bench_series_add(report, "live_kill", "e2b_sandbox_kill", n);
    if (!s_round || !s_create || !s_exec || !s_run || !s_kill) {
        e2b_client_free(client);
        return -1;
    }

    size_t ok = 0, failed = 0;
    int in_a_row = 0;
    for (size_t i = 0; i < n; i++) {
        round_times t;
        if (one_round(client, &t) != 0) {
            failed++;
            if (++in_a_row == LIVE_GIVE_UP) { /* unreachable / bad key: do not hammer */
                fprintf(stderr, "e2b-bench: live: %d rounds in a row failed, giving up\n",
                        LIVE_GIVE_UP);
                break;
            }
            continue;
        }
        in_a_row = 0;
        s_round->us[ok] = (double)t.round / 1e3;
        s_create->us[ok] = (double)t.create / 1e3;
        s_exec->us[ok] = (double)t.exec / 1e3;
        s_run->us[ok] = (double)t.run / 1e3;
        s_kill->us[ok] = (double)t.kill / 1e3;
        ok++;
    }
    s_round->n = s_create->n = s_exec->n = s_run->n = s_kill->n = ok;
    e2b_client_free(client);

    bench_metric_add(report, "live_rounds_ok", "rounds measured", (double)ok, "count");
    bench_metric_add(report, "live_failed_rounds", "rounds that failed (left out of the series)",
                     (double)failed, "count");
    bench_metric_add(report, "published_round_p50", "published create->exec->kill p50",
                     bench_live_published_ms[0], "ms");
    bench_metric_add(report, "published_round_p95", "published create->exec->kill p95",
                     bench_live_published_ms[1], "ms");
    bench_metric_add(report, "published_round_p99", "published create->exec->kill p99",
                     bench_live_published_ms[2], "ms");
    return failed ? -1 : 0;
}
