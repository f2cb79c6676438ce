/* ttfr.c - scenario "ttfr": time to first result of code execution.
 *
 * Time to first result = from the start of the work until on_stdout receives the "1" of
 * `print(1)` (the rest of the execution is drained untimed). Series:
 *   ttfr_cold         e2b_sandbox_create + e2b_run_code("print(1)") in the new sandbox:
 *                     includes starting the sandbox's Python kernel. The sandbox is killed
 *                     after each run (untimed).
 *   ttfr_cold_create  the e2b_sandbox_create part of each ttfr_cold sample, so
 *                     ttfr_cold - ttfr_cold_create is the first execution's share.
 *   ttfr_warm         e2b_run_code("print(1)") in one sandbox whose kernel already runs
 *                     (one untimed run starts it first).
 * Each series has -n samples after --warmup untimed ones. Cold runs start a kernel each, so
 * use a small -n (e.g. `e2b-bench ttfr -n 30 --warmup 3`).
 */
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "e2b/e2b.h"

typedef struct first_out {
    uint64_t t_ns; /* 0 until the first stdout chunk */
    bool saw_one;  /* the chunk is the expected "1\n" */
} first_out;

static int on_first_stdout(const e2b_log_chunk *chunk, void *ud)
{
    first_out *f = ud;
    if (f->t_ns == 0) {
        f->t_ns = bench_now_ns();
        f->saw_one = chunk->text && !strcmp(chunk->text, "1\n");
    }
    return 0;
}

/* Runs print(1) in sbx; on success *first_ns is when its stdout arrived. */
static int run_print1(e2b_sandbox *sbx, uint64_t *first_ns)
{
    first_out f = {0};
    e2b_run_opts o;
    e2b_run_opts_init(&o);
    o.on_stdout = on_first_stdout;
    o.user_data = &f;
    e2b_execution *ex = NULL;
    e2b_error err = {0};
    e2b_code c = e2b_run_code(sbx, "print(1)", &o, &ex, &err);
    int rc = 0;
    if (c != E2B_OK) {
        fprintf(stderr, "e2b-bench: run_code: %s: %s\n", e2b_code_name(c), err.message);
        rc = -1;
    } else if (ex->error) {
        fprintf(stderr, "e2b-bench: print(1) raised %s: %s\n", ex->error->name, ex->error->value);
        rc = -1;
    } else if (!f.t_ns || !f.saw_one) {
        fprintf(stderr, "e2b-bench: print(1) gave no \"1\\n\" on stdout\n");
        rc = -1;
    }
    e2b_execution_free(ex);
    *first_ns = f.t_ns;
    return rc;
}

static e2b_code create(e2b_client *client, e2b_sandbox **sbx, e2b_error *err)
{
    e2b_create_opts co;
    e2b_create_opts_init(&co);
    co.template_id = "code-interpreter-v1";
    co.timeout_s = 600;
    e2b_kv md[1] = {{"purpose", "e2b-bench-ttfr"}};
    co.metadata = md;
    co.metadata_len = 1;
    return e2b_sandbox_create(client, &co, sbx, err);
}

static void kill_free(e2b_client *client, e2b_sandbox *sbx)
{
    if (!sbx)
        return;
    e2b_sandbox_kill(client, e2b_sandbox_id(sbx), NULL, NULL);
    e2b_sandbox_free(sbx);
}

int bench_scenario_ttfr(const bench_opts *opts, bench_report *report)
{
    int rc = -1;
    e2b_local *local = NULL;
    e2b_client *client = NULL;
    e2b_sandbox *warm = NULL;
    e2b_error err = {0};
    e2b_config cfg;
    e2b_config_init(&cfg);

    if (opts->url) {
        cfg.api_url = opts->url;
        cfg.sandbox_url = opts->url;
        cfg.api_key = opts->api_key ? opts->api_key : getenv("E2B_API_KEY");
        snprintf(report->target, sizeof report->target, "%s", opts->url);
    } else {
        e2b_local_opts lo = {0};
        lo.mock_path = opts->mock_path;
        lo.quiet = true;
        e2b_code c = e2b_local_start(&lo, &local, &err);
        if (c != E2B_OK) {
            fprintf(stderr, "e2b-bench: starting e2b-mock: %s: %s\n", e2b_code_name(c),
                    err.message);
            return -1;
        }
        e2b_local_config(local, &cfg);
        snprintf(report->target, sizeof report->target,
                 "e2b-mock %s (started by e2b-bench; real kernels)", e2b_local_url(local));
    }
    e2b_code c = e2b_client_new(&cfg, &client, &err);
    if (c != E2B_OK) {
        fprintf(stderr, "e2b-bench: client: %s: %s\n", e2b_code_name(c), err.message);
        goto out;
    }

    /* cold: create + first print(1), kill after */
    bench_series *cold = bench_series_add(
        report, "ttfr_cold", "create sandbox + run print(1) until stdout arrives", (size_t)opts->n);
    bench_series *cold_create = bench_series_add(
        report, "ttfr_cold_create", "the e2b_sandbox_create part of ttfr_cold", (size_t)opts->n);
    if (!cold || !cold_create)
        goto out;
    cold->new_connections = cold_create->new_connections = -1;
    for (int i = 0; i < opts->warmup + opts->n; i++) {
        e2b_sandbox *sbx = NULL;
        uint64_t t0 = bench_now_ns();
        c = create(client, &sbx, &err);
        uint64_t t1 = bench_now_ns();
        if (c != E2B_OK) {
            fprintf(stderr, "e2b-bench: create: %s: %s\n", e2b_code_name(c), err.message);
            goto out;
        }
        uint64_t first = 0;
        int r = run_print1(sbx, &first);
        kill_free(client, sbx);
        if (r != 0)
            goto out;
        if (i >= opts->warmup) {
            cold->us[i - opts->warmup] = (double)(first - t0) / 1000.0;
            cold_create->us[i - opts->warmup] = (double)(t1 - t0) / 1000.0;
        }
    }

    /* warm: the kernel of one sandbox is already running */
    bench_series *ws = bench_series_add(
        report, "ttfr_warm", "run print(1) until stdout arrives, kernel running", (size_t)opts->n);
    if (!ws)
        goto out;
    ws->new_connections = -1;
    c = create(client, &warm, &err);
    if (c != E2B_OK) {
        fprintf(stderr, "e2b-bench: create: %s: %s\n", e2b_code_name(c), err.message);
        goto out;
    }
    uint64_t first = 0;
    if (run_print1(warm, &first) != 0) /* starts the kernel; untimed */
        goto out;
    for (int i = 0; i < opts->warmup + opts->n; i++) {
        uint64_t t0 = bench_now_ns();
        if (run_print1(warm, &first) != 0)
            goto out;
        if (i >= opts->warmup)
            ws->us[i - opts->warmup] = (double)(first - t0) / 1000.0;
    }
    rc = 0;

out:
    kill_free(client, warm);
    e2b_client_free(client);
    if (local)
        e2b_local_stop(local);
    return rc;
}
