/* getinfo.c - scenario "getinfo": latency of one control-plane round trip.
 *
 * Three series in one run, against the same data:
 *   libe2b_get_info   e2b_sandbox_get_info through libe2b against the target (e2b-mock)
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

int bench_scenario_getinfo(const bench_opts *opts, bench_report *report)
{
    int rc = -1;
    e2b_local *local = NULL;
    e2b_client *client = NULL;
    e2b_sandbox *sbx = NULL;
    bench_static_server *floor_srv = NULL;
    char *body = NULL;
    size_t body_len = 0;
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
        snprintf(report->target, sizeof report->target, "e2b-mock %s (started by e2b-bench)",
                 e2b_local_url(local));
    }
    e2b_code c = e2b_client_new(&cfg, &client, &err);
    if (c != E2B_OK) {
        fprintf(stderr, "e2b-bench: client: %s: %s\n", e2b_code_name(c), err.message);
        goto out;
    }
    e2b_create_opts co;
    e2b_create_opts_init(&co);
    co.timeout_s = 3600;
    e2b_kv md[1] = {{"purpose", "e2b-bench"}};
    co.metadata = md;
    co.metadata_len = 1;
    c = e2b_sandbox_create(client, &co, &sbx, &err);
    if (c != E2B_OK) {
        fprintf(stderr, "e2b-bench: create: %s: %s\n", e2b_code_name(c), err.message);
        goto out;
    }
    const char *id = e2b_sandbox_id(sbx);

    /* 1. libe2b */
    bench_series *s = bench_series_add(report, "libe2b_get_info",
                                       "e2b_sandbox_get_info -> target", (size_t)opts->n);
    if (!s)
        goto out;
    s->new_connections = -1;
    for (int i = 0; i < opts->warmup + opts->n; i++) {
        e2b_sandbox_info *info = NULL;
        uint64_t t0 = bench_now_ns();
        c = e2b_sandbox_get_info(client, id, &info, &err);
        uint64_t t1 = bench_now_ns();
        if (c != E2B_OK) {
            fprintf(stderr, "e2b-bench: get_info: %s: %s\n", e2b_code_name(c), err.message);
            goto out;
        }
        e2b_sandbox_info_free(info);
        if (i >= opts->warmup)
            s->us[i - opts->warmup] = (double)(t1 - t0) / 1000.0;
    }

    /* 2. raw curl against the same URL; keeps the body for the floor */
    char url[1024];
    snprintf(url, sizeof url, "%s/sandboxes/%s", e2b_client_api_url(client), id);
    s = bench_series_add(report, "curl_target", "raw libcurl GET /sandboxes/{id} -> target",
                         (size_t)opts->n);
    if (!s || bench_curl_get_loop(url, cfg.api_key, opts->warmup, s, &body, &body_len) != 0)
        goto out;

    /* 3. floor: same body from a static in-process endpoint */
    floor_srv = bench_static_start(body, body_len);
    if (!floor_srv)
        goto out;
    char furl[256];
    snprintf(furl, sizeof furl, "%s/sandboxes/%s", bench_static_url(floor_srv), id);
    s = bench_series_add(report, "curl_static_floor",
                         "raw libcurl GET -> static MHD (thread/conn), same body",
                         (size_t)opts->n);
    if (!s || bench_curl_get_loop(furl, NULL, opts->warmup, s, NULL, NULL) != 0)
        goto out;
    rc = 0;

out:
    bench_static_stop(floor_srv);
    free(body);
    if (sbx) {
        e2b_sandbox_kill(client, e2b_sandbox_id(sbx), NULL, NULL);
        e2b_sandbox_free(sbx);
    }
    e2b_client_free(client);
    if (local)
        e2b_local_stop(local);
    return rc;
}
