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
 *   ttfr_pool         like ttfr_cold against a second e2b-mock with a warm pool
 *   ttfr_pool_create  (--warm-pool 2): the sandbox adopts a pre-started kernel. Before each
 *                     sample the bench waits (untimed) until GET /_mock/warm-pool shows the
 *                     pool refilled, so every sample is served from the pool.
 * A self-started ttfr_cold mock runs with --warm-pool 0 (every create starts a kernel). With
 * --url the target is used as is for ttfr_cold and the pool series are not run.
 * Each series has -n samples after --warmup untimed ones. Cold runs start a kernel each, so
 * use a small -n (e.g. `e2b-bench ttfr -n 30 --warmup 3`).
 */
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

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

static size_t collect(char *p, size_t sz, size_t nm, void *ud)
{
    char *buf = ud;
    size_t have = strlen(buf), n = sz * nm;
    if (have + n < 512) {
        memcpy(buf + have, p, n);
        buf[have + n] = '\0';
    }
    return n;
}

/* Waits (untimed, up to 20 s) until the mock's warm pool is full. Returns 0, -1. */
static int wait_pool_full(const char *url)
{
    char u[512];
    snprintf(u, sizeof u, "%s/_mock/warm-pool", url);
    CURL *h = curl_easy_init();
    if (!h)
        return -1;
    curl_easy_setopt(h, CURLOPT_URL, u);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
    int rc = -1;
    for (int i = 0; i < 2000 && rc != 0; i++) {
        char buf[512] = "";
        curl_easy_setopt(h, CURLOPT_WRITEDATA, (void *)buf);
        cJSON *o = curl_easy_perform(h) == CURLE_OK ? cJSON_Parse(buf) : NULL;
        const cJSON *sz = cJSON_GetObjectItemCaseSensitive(o, "size");
        const cJSON *av = cJSON_GetObjectItemCaseSensitive(o, "available");
        if (cJSON_IsNumber(sz) && cJSON_IsNumber(av) && sz->valuedouble > 0 &&
            av->valuedouble >= sz->valuedouble)
            rc = 0;
        cJSON_Delete(o);
        if (rc != 0)
            usleep(10000);
    }
    curl_easy_cleanup(h);
    if (rc != 0)
        fprintf(stderr, "e2b-bench: the warm pool of %s did not fill\n", url);
    return rc;
}

/* create + first print(1) samples into two new series; pool_url: wait for a full pool first. */
static int create_first_series(e2b_client *client, const bench_opts *opts, bench_report *report,
                               const char *name, const char *desc, const char *cname,
                               const char *cdesc, const char *pool_url)
{
    bench_series *all = bench_series_add(report, name, desc, (size_t)opts->n);
    bench_series *cr = bench_series_add(report, cname, cdesc, (size_t)opts->n);
    if (!all || !cr)
        return -1;
    all->new_connections = cr->new_connections = -1;
    for (int i = 0; i < opts->warmup + opts->n; i++) {
        if (pool_url && wait_pool_full(pool_url) != 0)
            return -1;
        e2b_sandbox *sbx = NULL;
        e2b_error err = {0};
        uint64_t t0 = bench_now_ns();
        e2b_code c = create(client, &sbx, &err);
        uint64_t t1 = bench_now_ns();
        if (c != E2B_OK) {
            fprintf(stderr, "e2b-bench: create: %s: %s\n", e2b_code_name(c), err.message);
            return -1;
        }
        uint64_t first = 0;
        int r = run_print1(sbx, &first);
        kill_free(client, sbx);
        if (r != 0)
            return -1;
        if (i >= opts->warmup) {
            all->us[i - opts->warmup] = (double)(first - t0) / 1000.0;
            cr->us[i - opts->warmup] = (double)(t1 - t0) / 1000.0;
        }
    }
    return 0;
}

int bench_scenario_ttfr(const bench_opts *opts, bench_report *report)
{
    int rc = -1;
    e2b_local *local = NULL, *pool_local = NULL;
    e2b_client *client = NULL, *pool_client = NULL;
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
        static const char *const cold_args[] = {"--warm-pool", "0", NULL};
        e2b_local_opts lo = {0};
        lo.mock_path = opts->mock_path;
        lo.quiet = true;
        lo.extra_args = cold_args;
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
    if (create_first_series(client, opts, report, "ttfr_cold",
                            "create sandbox + run print(1) until stdout arrives (no warm pool)",
                            "ttfr_cold_create", "the e2b_sandbox_create part of ttfr_cold",
                            NULL) != 0)
        goto out;

    /* warm pool: the same against a mock whose pool pre-started the kernel */
    if (!opts->url) {
        static const char *const pool_args[] = {"--warm-pool", "2", NULL};
        e2b_local_opts lo = {0};
        lo.mock_path = opts->mock_path;
        lo.quiet = true;
        lo.extra_args = pool_args;
        c = e2b_local_start(&lo, &pool_local, &err);
        if (c != E2B_OK) {
            fprintf(stderr, "e2b-bench: starting e2b-mock --warm-pool 2: %s: %s\n",
                    e2b_code_name(c), err.message);
            goto out;
        }
        e2b_config pcfg;
        e2b_config_init(&pcfg);
        e2b_local_config(pool_local, &pcfg);
        c = e2b_client_new(&pcfg, &pool_client, &err);
        if (c != E2B_OK) {
            fprintf(stderr, "e2b-bench: client: %s: %s\n", e2b_code_name(c), err.message);
            goto out;
        }
        if (create_first_series(pool_client, opts, report, "ttfr_pool",
                                "create sandbox + run print(1), kernel from the warm pool",
                                "ttfr_pool_create", "the e2b_sandbox_create part of ttfr_pool",
                                e2b_local_url(pool_local)) != 0)
            goto out;
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
    e2b_client_free(pool_client);
    if (local)
        e2b_local_stop(local);
    if (pool_local)
        e2b_local_stop(pool_local);
    return rc;
}
