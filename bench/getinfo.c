/* getinfo.c - scenario "getinfo": latency of one control-plane round trip.
 *
 * Series in one run, against the same data:
 *   libe2b_get_info   e2b_sandbox_get_info through libe2b against the target (e2b-mock)
 *   sdk_get_info      Sandbox.getInfo through the official JS SDK, same target, batches
 *                     interleaved with libe2b's (only with the SDK side enabled)
 *   curl_target       a raw libcurl GET of the same URL (reused handle): the target's cost
 *                     without libe2b
 *   curl_static_floor a raw libcurl GET of the same JSON body served by a static in-process
 *                     libmicrohttpd endpoint: the loopback HTTP floor
 * libe2b - curl_target is the client's overhead; curl_target - floor is the server's.
 */
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "e2b/e2b.h"

typedef struct gi_ctx {
    e2b_client *client;
    const char *id;
} gi_ctx;

static double op_get_info(void *ctx, int i)
{
    (void)i;
    gi_ctx *g = ctx;
    e2b_sandbox_info *info = NULL;
    e2b_error err = {0};
    uint64_t t0 = bench_now_ns();
    e2b_code c = e2b_sandbox_get_info(g->client, g->id, &info, &err);
    uint64_t t1 = bench_now_ns();
    e2b_sandbox_info_free(info);
    if (c != E2B_OK) {
        fprintf(stderr, "e2b-bench: get_info: %s: %s\n", e2b_code_name(c), err.message);
        return -1;
    }
    return (double)(t1 - t0) / 1000.0;
}

int bench_scenario_getinfo(const bench_opts *opts, bench_report *report)
{
    int rc = -1;
    bench_target t;
    bench_sdk *sdk = NULL;
    e2b_sandbox *sbx = NULL;
    bench_static_server *floor_srv = NULL;
    char *body = NULL;
    size_t body_len = 0;

    if (bench_target_open(opts, &t, report) != 0 || bench_create_sandbox(t.client, &sbx) != 0)
        goto out;
    sdk = bench_sdk_start(opts, t.url, t.api_key);
    const char *id = e2b_sandbox_id(sbx);

    /* 1. libe2b, interleaved with 2. the official SDK (batches of n/10) */
    bench_series *s = bench_series_add(report, "libe2b_get_info", "e2b_sandbox_get_info -> target",
                                       (size_t)opts->n);
    if (!s)
        goto out;
    s->new_connections = -1;
    bench_series *ss = NULL;
    if (sdk) {
        ss = bench_series_add(report, "sdk_get_info", "Sandbox.getInfo(id) (JS SDK) -> target",
                              (size_t)opts->n);
        if (!ss)
            goto out;
        ss->new_connections = -1;
    }
    gi_ctx g = {t.client, id};
    int batch = opts->n / 10 > 0 ? opts->n / 10 : 1;
    if (bench_interleave(op_get_info, &g, s, sdk, "\"op\":\"get_info\"", ss, opts->warmup, batch) !=
        0)
        goto out;

    /* 3. raw curl against the same URL; keeps the body for the floor */
    char url[1024];
    snprintf(url, sizeof url, "%s/sandboxes/%s", e2b_client_api_url(t.client), id);
    s = bench_series_add(report, "curl_target", "raw libcurl GET /sandboxes/{id} -> target",
                         (size_t)opts->n);
    if (!s || bench_curl_get_loop(url, t.api_key, opts->warmup, s, &body, &body_len) != 0)
        goto out;

    /* 4. floor: same body from a static in-process endpoint */
    floor_srv = bench_static_start(body, body_len);
    if (!floor_srv)
        goto out;
    char furl[256];
    snprintf(furl, sizeof furl, "%s/sandboxes/%s", bench_static_url(floor_srv), id);
    s = bench_series_add(report, "curl_static_floor",
                         "raw libcurl GET -> static MHD (thread/conn), same body", (size_t)opts->n);
    if (!s || bench_curl_get_loop(furl, NULL, opts->warmup, s, NULL, NULL) != 0)
        goto out;
    rc = 0;

out:
    bench_static_stop(floor_srv);
    free(body);
    if (sdk) {
        long kb = bench_sdk_maxrss_kb(sdk);
        if (kb > 0)
            bench_metric_add(report, "sdk_process_peak_rss",
                             "node SDK process maxRSS after this scenario", (double)kb, "kB");
        bench_sdk_stop(sdk);
    }
    if (sbx) {
        e2b_sandbox_kill(t.client, e2b_sandbox_id(sbx), NULL, NULL);
        e2b_sandbox_free(sbx);
    }
    bench_target_close(&t, report);
    return rc;
}
