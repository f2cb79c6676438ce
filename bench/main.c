/* main.c - e2b-bench: libe2b measured beside the official JS SDK and the physical floors.
 *
 *   e2b-bench [options] <scenario>... | all       e2b-bench --list
 *
 * Options: -n N (timed operations, default 2000), --warmup N (default 200),
 * --json [FILE] (machine-readable: FILE, or stdout when no FILE follows),
 * --plot FILE.png (latency distributions via bench/plot.py, needs --json FILE),
 * --sdk / --no-sdk (the JS SDK side; default on when conformance/sdk/node_modules exists),
 * --conc N (concurrency, default 100), --big MIB (largest file transfer, default 256),
 * --smoke (tiny sizes: proves every scenario works), --url URL / --api-key K (use a running
 * server instead of starting e2b-mock), --mock PATH (e2b-mock to start). Scenario "live"
 * targets real E2B from the environment (E2B_LIVE=1 + E2B_API_KEY, see bench/live.c).
 *
 * Timings are reported, never judged: targets are printed as met/missed, exit status is 0
 * whenever every scenario ran.
 */
#include "bench.h"

#include <curl/curl.h>
#include <limits.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef E2B_BENCH_SOURCE_DIR
#define E2B_BENCH_SOURCE_DIR "."
#endif

/* The scenario table: add a line (and a run function) to add a scenario. `all` runs them
 * in this order. */
static const bench_scenario k_scenarios[] = {
    {"getinfo", "get_info round trips: libe2b vs JS SDK vs raw curl vs a static MHD floor",
     bench_scenario_getinfo, 0, 0},
    {"createkill", "sandbox create + kill: libe2b vs JS SDK", bench_scenario_createkill, 500, 20},
    {"runcode", "run_code('x = 1') in a warm Python context: libe2b vs JS SDK",
     bench_scenario_runcode, 0, 0},
    {"pipefloor", "raw local exec floor: persistent python3 worker, one line in, one line out",
     bench_scenario_pipefloor, 0, 0},
    {"stdout", "stdout streaming throughput of one big execution (MB/s): libe2b vs JS SDK",
     bench_scenario_stdout, 0, 0},
    {"files", "file upload/download throughput, 64 MiB and --big MiB (MB/s): libe2b vs JS SDK",
     bench_scenario_files, 0, 0},
    {"smallfile", "1 KiB file write + read round trip: libe2b vs JS SDK", bench_scenario_smallfile,
     0, 0},
    {"concurrency", "N parallel executions on one sandbox; parallel sandboxes each running one",
     bench_scenario_concurrency, 0, 0},
    {"wrk", "e2b-mock control-plane req/s under wrk vs the static MHD endpoint", bench_scenario_wrk,
     0, 0},
    {"memory", "peak RSS: libe2b client vs JS SDK (same workload, fresh processes) and e2b-mock",
     bench_scenario_memory, 0, 0},
    {"idle", "idle cost (PSS/RSS) of a local Python sandbox after one cell", bench_scenario_idle, 0,
     0},
    {"ttfr", "time to first result of print(1): cold (create + first run) and warm kernel",
     bench_scenario_ttfr, 50, 3},
    {"live", "real E2B (E2B_LIVE=1 + E2B_API_KEY): create -> print(1) -> kill, -n rounds (20)",
     bench_scenario_live, 200, 0},
};
#define N_SCENARIOS (sizeof k_scenarios / sizeof k_scenarios[0])

bench_series *bench_series_add(bench_report *r, const char *name, const char *what, size_t n)
{
    if (r->nseries == BENCH_MAX_SERIES)
        return NULL;
    bench_series *s = &r->series[r->nseries];
    memset(s, 0, sizeof *s);
    s->us = calloc(n ? n : 1, sizeof *s->us);
    if (!s->us) {
        fprintf(stderr, "e2b-bench: out of memory\n");
        return NULL;
    }
    s->n = n;
    s->client_cpu_us = -1;
    s->server_cpu_us = -1;
    s->kernel_cpu_us = -1;
    snprintf(s->name, sizeof s->name, "%s", name);
    snprintf(s->what, sizeof s->what, "%s", what);
    r->nseries++;
    return s;
}

void bench_report_free(bench_report *r)
{
    for (size_t i = 0; i < r->nseries; i++)
        free(r->series[i].us);
    r->nseries = 0;
}

typedef struct summary {
    double p50, p90, p95, p99, max, mean;
} summary;

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted v[0..n). */
static double pct(const double *v, size_t n, double p)
{
    size_t rank = (size_t)(p / 100.0 * (double)n + 0.999999);
    if (rank < 1)
        rank = 1;
    if (rank > n)
        rank = n;
    return v[rank - 1];
}

static summary summarize(bench_series *s)
{
    summary m = {0};
    if (s->n == 0)
        return m;
    qsort(s->us, s->n, sizeof *s->us, cmp_double);
    double sum = 0;
    for (size_t i = 0; i < s->n; i++)
        sum += s->us[i];
    m.p50 = pct(s->us, s->n, 50);
    m.p90 = pct(s->us, s->n, 90);
    m.p95 = pct(s->us, s->n, 95);
    m.p99 = pct(s->us, s->n, 99);
    m.max = s->us[s->n - 1];
    m.mean = sum / (double)s->n;
    return m;
}

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

static const char *unit_of(const bench_series *s)
{
    return s->unit[0] ? s->unit : "us";
}

/* One finished scenario. */
typedef struct ran {
    const bench_scenario *sc;
    bench_report r;
    summary sm[BENCH_MAX_SERIES];
    int rc;
    double seconds;
} ran;

static const bench_series *find_series(ran *runs, size_t nrun, const char *name, summary *out)
{
    for (size_t i = 0; i < nrun; i++)
        for (size_t k = 0; k < runs[i].r.nseries; k++)
            if (!strcmp(runs[i].r.series[k].name, name)) {
                *out = runs[i].sm[k];
                return &runs[i].r.series[k];
            }
    return NULL;
}

/* First metric whose name starts with prefix and ends with suffix. */
static const bench_metric *find_metric(ran *runs, size_t nrun, const char *prefix,
                                       const char *suffix)
{
    for (size_t i = 0; i < nrun; i++)
        for (size_t k = 0; k < runs[i].r.nmetrics; k++) {
            const char *n = runs[i].r.metrics[k].name;
            size_t ln = strlen(n), lp = strlen(prefix), ls = strlen(suffix);
            if (ln >= lp + ls && !strncmp(n, prefix, lp) && !strcmp(n + ln - ls, suffix))
                return &runs[i].r.metrics[k];
        }
    return NULL;
}

/* ---- ratios and targets -------------------------------------------------------------- */

typedef struct ratio {
    char op[64];
    const char *unit;
    double c, sdk, ratio; /* p50s */
} ratio;

static size_t collect_ratios(ran *runs, size_t nrun, ratio *out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < nrun; i++)
        for (size_t k = 0; k < runs[i].r.nseries; k++) {
            const bench_series *c = &runs[i].r.series[k];
            if (strncmp(c->name, "libe2b_", 7) != 0)
                continue;
            char sname[80];
            snprintf(sname, sizeof sname, "sdk_%s", c->name + 7);
            for (size_t j = 0; j < runs[i].r.nseries && n < max; j++)
                if (!strcmp(runs[i].r.series[j].name, sname) && runs[i].sm[j].p50 > 0) {
                    snprintf(out[n].op, sizeof out[n].op, "%s", c->name + 7);
                    out[n].unit = unit_of(c);
                    out[n].c = runs[i].sm[k].p50;
                    out[n].sdk = runs[i].sm[j].p50;
                    out[n].ratio = out[n].c / out[n].sdk;
                    n++;
                }
        }
    const bench_metric *mc = find_metric(runs, nrun, "libe2b_peak_rss", "");
    const bench_metric *ms = find_metric(runs, nrun, "sdk_peak_rss", "");
    if (mc && ms && ms->value > 0 && n < max) {
        snprintf(out[n].op, sizeof out[n].op, "peak_rss");
        out[n].unit = "kB";
        out[n].c = mc->value;
        out[n].sdk = ms->value;
        out[n].ratio = mc->value / ms->value;
        n++;
    }
    return n;
}

typedef struct target {
    const char *name;
    const char *goal; /* human text */
    double value;     /* measured (NAN-free: -1 = not measured) */
    bool measured, met;
} target;

static size_t eval_targets(ran *runs, size_t nrun, target *t)
{
    size_t n = 0;
    summary a, b;
    static const char *const vs_sdk[] = {"get_info", "create_kill", "run_code", "small_file"};
    for (size_t i = 0; i < 4; i++) {
        char cn[64], sn[64];
        snprintf(cn, sizeof cn, "libe2b_%s", vs_sdk[i]);
        snprintf(sn, sizeof sn, "sdk_%s", vs_sdk[i]);
        static char names[4][64];
        snprintf(names[i], sizeof names[i], "%s p50 libe2b/SDK", vs_sdk[i]);
        t[n] = (target){names[i], "<= 0.20", -1, false, false};
        if (find_series(runs, nrun, cn, &a) && find_series(runs, nrun, sn, &b) && b.p50 > 0) {
            t[n].value = a.p50 / b.p50;
            t[n].measured = true;
            t[n].met = t[n].value <= 0.2;
        }
        n++;
    }
    const bench_metric *mc = find_metric(runs, nrun, "libe2b_peak_rss", "");
    const bench_metric *ms = find_metric(runs, nrun, "sdk_peak_rss", "");
    t[n] = (target){"peak RSS libe2b/SDK", "<= 0.10", -1, false, false};
    if (mc && ms && ms->value > 0) {
        t[n].value = mc->value / ms->value;
        t[n].measured = true;
        t[n].met = t[n].value <= 0.1;
    }
    n++;
    t[n] = (target){"get_info p50 / raw curl static floor p50", "<= 1.5", -1, false, false};
    if (find_series(runs, nrun, "libe2b_get_info", &a) &&
        find_series(runs, nrun, "curl_static_floor", &b) && b.p50 > 0) {
        t[n].value = a.p50 / b.p50;
        t[n].measured = true;
        t[n].met = t[n].value <= 1.5;
    }
    n++;
    mc = find_metric(runs, nrun, "mock_get_info_rps", "");
    ms = find_metric(runs, nrun, "static_mhd_rps", "");
    t[n] = (target){"mock req/s / static MHD req/s (wrk)", ">= 0.5", -1, false, false};
    if (mc && ms && ms->value > 0) {
        t[n].value = mc->value / ms->value;
        t[n].measured = true;
        t[n].met = t[n].value >= 0.5;
    }
    n++;
    t[n] = (target){"run_code x = 1 p50 (us)", "<= 500", -1, false, false};
    if (find_series(runs, nrun, "libe2b_run_code", &a)) {
        t[n].value = a.p50;
        t[n].measured = true;
        t[n].met = a.p50 <= 500;
    }
    n++;
    t[n] = (target){"stdout streaming p50 (MB/s)", ">= 200", -1, false, false};
    if (find_series(runs, nrun, "libe2b_stdout_mbps", &a)) {
        t[n].value = a.p50;
        t[n].measured = true;
        t[n].met = a.p50 >= 200;
    }
    n++;
    mc = find_metric(runs, nrun, "libe2b_exec_parallel_", "_errors");
    static char cname[96];
    snprintf(cname, sizeof cname, "%s (failed executions)",
             mc ? mc->name + 7 : "exec_parallel_N_errors");
    t[n] = (target){cname, "== 0 at N = 100", -1, false, false};
    if (mc) {
        t[n].value = mc->value;
        t[n].measured = true;
        t[n].met = mc->value == 0 && strstr(mc->name, "_100_") != NULL;
    }
    n++;
    mc = find_metric(runs, nrun, "idle_sandbox_pss", "");
    t[n] = (target){"idle local Python sandbox PSS (kB)", "<= 15360", -1, false, false};
    if (mc) {
        t[n].value = mc->value;
        t[n].measured = true;
        t[n].met = mc->value <= 15360;
    }
    n++;
    return n;
}

/* ---- output -------------------------------------------------------------------------- */

static void print_table(const ran *x, const bench_opts *o)
{
    const bench_report *r = &x->r;
    printf("== %s: %s\n", x->sc->name, x->sc->summary);
    printf("   target %s (%.1f s)\n", r->target, x->seconds);
    if (x->rc != 0)
        printf("   FAILED (see stderr)\n");
    if (r->nseries) {
        printf("   %-30s %6s %9s %9s %9s %9s %9s %9s %5s %8s %8s %8s  %s\n", "series", "unit",
               "p50", "p90", "p95", "p99", "max", "mean", "n", "cpu/op", "srv/op", "krn/op",
               "what");
        for (size_t i = 0; i < r->nseries; i++) {
            const summary *m = &x->sm[i];
            char cc[16] = "-", sc[16] = "-", kc[16] = "-";
            if (r->series[i].kernel_cpu_us >= 0)
                snprintf(kc, sizeof kc, "%.1f", r->series[i].kernel_cpu_us);
            if (r->series[i].client_cpu_us >= 0)
                snprintf(cc, sizeof cc, "%.1f", r->series[i].client_cpu_us);
            if (r->series[i].server_cpu_us >= 0)
                snprintf(sc, sizeof sc, "%.1f", r->series[i].server_cpu_us);
            printf("   %-30s %6s %9.1f %9.1f %9.1f %9.1f %9.1f %9.1f %5zu %8s %8s %8s  %s\n",
                   r->series[i].name, unit_of(&r->series[i]), m->p50, m->p90, m->p95, m->p99,
                   m->max, m->mean, r->series[i].n, cc, sc, kc, r->series[i].what);
        }
    }
    for (size_t i = 0; i < r->nmetrics; i++)
        printf("   %-30s %6s %9.1f  %s\n", r->metrics[i].name, r->metrics[i].unit,
               r->metrics[i].value, r->metrics[i].what);
    (void)o;
    printf("\n");
}

static void machine_json(FILE *f)
{
    char model[256] = "unknown", line[512];
    FILE *c = fopen("/proc/cpuinfo", "r");
    if (c) {
        while (fgets(line, sizeof line, c))
            if (!strncmp(line, "model name", 10)) {
                char *p = strchr(line, ':');
                if (p) {
                    p++;
                    while (*p == ' ')
                        p++;
                    p[strcspn(p, "\n")] = '\0';
                    snprintf(model, sizeof model, "%s", p);
                }
                break;
            }
        fclose(c);
    }
    struct utsname u;
    uname(&u);
    char node[64] = "";
    FILE *pn = popen("/usr/bin/node --version 2>/dev/null", "r");
    if (pn) {
        if (fgets(node, sizeof node, pn))
            node[strcspn(node, "\n")] = '\0';
        pclose(pn);
    }
    char when[64];
    time_t now = time(NULL);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    fprintf(f, "{\"cpu_model\":");
    json_str(f, model);
    fprintf(f, ",\"cores\":%ld,\"kernel\":", sysconf(_SC_NPROCESSORS_ONLN));
    json_str(f, u.release);
    fprintf(f, ",\"machine\":");
    json_str(f, u.machine);
    fprintf(f, ",\"libcurl\":");
    json_str(f, curl_version());
    fprintf(f, ",\"libmicrohttpd\":");
    json_str(f, MHD_get_version());
    fprintf(f, ",\"node\":");
    json_str(f, node);
    fprintf(f, ",\"libe2b\":");
    json_str(f, e2b_version());
    fprintf(f, ",\"sdk\":\"e2b@2.51.0 + @e2b/code-interpreter@2.8.0\",\"date\":\"%s\"}", when);
}

/* The "live" scenario's whole-round summary (ms) when it measured anything. */
static bool live_round_ms(ran *runs, size_t nrun, summary *ms)
{
    summary m;
    const bench_series *s = find_series(runs, nrun, "live_round", &m);
    if (!s || s->n == 0)
        return false;
    *ms = (summary){m.p50 / 1e3, m.p90 / 1e3, m.p95 / 1e3, m.p99 / 1e3, m.max / 1e3, m.mean / 1e3};
    return true;
}

static void write_json(FILE *f, ran *runs, size_t nrun, const bench_opts *o, int argc, char **argv)
{
    fprintf(f, "{\"tool\":\"e2b-bench\",\"command\":");
    char cmd[2048] = "";
    for (int i = 0; i < argc; i++) {
        size_t l = strlen(cmd);
        snprintf(cmd + l, sizeof cmd - l, "%s%s", i ? " " : "", argv[i]);
    }
    json_str(f, cmd);
    fprintf(f, ",\"machine\":");
    machine_json(f);
    fprintf(f, ",\"n\":%d,\"warmup\":%d,\"sdk\":%s,\"scenarios\":[", o->n, o->warmup,
            o->sdk ? "true" : "false");
    for (size_t i = 0; i < nrun; i++) {
        const bench_report *r = &runs[i].r;
        fprintf(f, "%s{\"scenario\":", i ? "," : "");
        json_str(f, runs[i].sc->name);
        fprintf(f, ",\"ok\":%s,\"seconds\":%.2f,\"target\":", runs[i].rc == 0 ? "true" : "false",
                runs[i].seconds);
        json_str(f, r->target);
        fprintf(f, ",\"series\":[");
        for (size_t k = 0; k < r->nseries; k++) {
            const summary *m = &runs[i].sm[k];
            fprintf(f, "%s{\"name\":", k ? "," : "");
            json_str(f, r->series[k].name);
            fprintf(f, ",\"what\":");
            json_str(f, r->series[k].what);
            fprintf(f,
                    ",\"unit\":\"%s\",\"n\":%zu,\"p50\":%.3f,\"p90\":%.3f,\"p95\":%.3f,"
                    "\"p99\":%.3f,\"max\":%.3f,\"mean\":%.3f,\"new_connections\":%ld,"
                    "\"client_cpu_us_per_op\":%.3f,\"server_cpu_us_per_op\":%.3f,"
                    "\"kernel_cpu_us_per_op\":%.3f,\"samples\":[",
                    unit_of(&r->series[k]), r->series[k].n, m->p50, m->p90, m->p95, m->p99, m->max,
                    m->mean, r->series[k].new_connections, r->series[k].client_cpu_us,
                    r->series[k].server_cpu_us, r->series[k].kernel_cpu_us);
            for (size_t s = 0; s < r->series[k].n; s++)
                fprintf(f, "%s%.3f", s ? "," : "", r->series[k].us[s]);
            fprintf(f, "]}");
        }
        fprintf(f, "],\"metrics\":[");
        for (size_t k = 0; k < r->nmetrics; k++) {
            fprintf(f, "%s{\"name\":", k ? "," : "");
            json_str(f, r->metrics[k].name);
            fprintf(f, ",\"what\":");
            json_str(f, r->metrics[k].what);
            fprintf(f, ",\"value\":%.3f,\"unit\":", r->metrics[k].value);
            json_str(f, r->metrics[k].unit);
            fprintf(f, "}");
        }
        fprintf(f, "]}");
    }
    ratio rt[64];
    size_t nr = collect_ratios(runs, nrun, rt, 64);
    fprintf(f, "],\"ratios\":[");
    for (size_t i = 0; i < nr; i++) {
        fprintf(f, "%s{\"op\":", i ? "," : "");
        json_str(f, rt[i].op);
        fprintf(f,
                ",\"unit\":\"%s\",\"libe2b_p50\":%.3f,\"sdk_p50\":%.3f,\"libe2b_over_sdk\":%.4f}",
                rt[i].unit, rt[i].c, rt[i].sdk, rt[i].ratio);
    }
    target t[16];
    size_t nt = eval_targets(runs, nrun, t);
    fprintf(f, "],\"targets\":[");
    for (size_t i = 0; i < nt; i++) {
        fprintf(f, "%s{\"target\":", i ? "," : "");
        json_str(f, t[i].name);
        fprintf(f, ",\"goal\":");
        json_str(f, t[i].goal);
        if (t[i].measured)
            fprintf(f, ",\"value\":%.4f,\"met\":%s}", t[i].value, t[i].met ? "true" : "false");
        else
            fprintf(f, ",\"value\":null,\"met\":null}");
    }
    summary lm;
    const double *pub = bench_live_published_ms;
    fprintf(f, "],\"live_vs_published\":");
    if (live_round_ms(runs, nrun, &lm))
        fprintf(f,
                "{\"measured_ms\":{\"p50\":%.3f,\"p95\":%.3f,\"p99\":%.3f,\"max\":%.3f},"
                "\"published_ms\":{\"p50\":%.0f,\"p95\":%.0f,\"p99\":%.0f}}",
                lm.p50, lm.p95, lm.p99, lm.max, pub[0], pub[1], pub[2]);
    else
        fprintf(f, "null");
    fprintf(f, "}\n");
}

static void print_live(ran *runs, size_t nrun)
{
    summary m;
    if (!live_round_ms(runs, nrun, &m))
        return;
    const double *pub = bench_live_published_ms;
    printf("== live create -> exec -> kill round (ms) beside the published third-party figures\n");
    printf("   %-12s %10s %10s %10s %10s\n", "", "p50", "p95", "p99", "max");
    printf("   %-12s %10.1f %10.1f %10.1f %10.1f\n", "measured", m.p50, m.p95, m.p99, m.max);
    printf("   %-12s %10.1f %10.1f %10.1f %10s\n\n", "published", pub[0], pub[1], pub[2], "-");
}

static void print_summary(ran *runs, size_t nrun)
{
    print_live(runs, nrun);
    ratio rt[64];
    size_t nr = collect_ratios(runs, nrun, rt, 64);
    if (nr) {
        printf("== libe2b / JS SDK (p50; for MB/s a ratio > 1 means libe2b is faster)\n");
        printf("   %-30s %6s %12s %12s %10s\n", "operation", "unit", "libe2b", "SDK", "ratio");
        for (size_t i = 0; i < nr; i++)
            printf("   %-30s %6s %12.1f %12.1f %10.3f\n", rt[i].op, rt[i].unit, rt[i].c, rt[i].sdk,
                   rt[i].ratio);
        printf("\n");
    }
    bool cpu_header = false;
    for (size_t i = 0; i < nrun; i++)
        for (size_t k = 0; k < runs[i].r.nseries; k++) {
            const bench_series *c = &runs[i].r.series[k];
            if (strncmp(c->name, "libe2b_", 7) != 0 || c->client_cpu_us < 0)
                continue;
            char sname[80];
            snprintf(sname, sizeof sname, "sdk_%s", c->name + 7);
            for (size_t j = 0; j < runs[i].r.nseries; j++) {
                const bench_series *s = &runs[i].r.series[j];
                if (strcmp(s->name, sname) != 0 || s->client_cpu_us <= 0)
                    continue;
                if (!cpu_header) {
                    printf("== CPU per operation (us; load-independent): client process, e2b-mock "
                           "process, sandbox kernels\n");
                    printf("   %-30s %10s %10s %8s %12s %12s %12s %12s\n", "operation", "libe2b",
                           "SDK", "ratio", "mock(libe2b)", "mock(SDK)", "krn(libe2b)", "krn(SDK)");
                    cpu_header = true;
                }
                printf("   %-30s %10.1f %10.1f %8.3f %12.1f %12.1f %12.1f %12.1f\n", c->name + 7,
                       c->client_cpu_us, s->client_cpu_us, c->client_cpu_us / s->client_cpu_us,
                       c->server_cpu_us, s->server_cpu_us, c->kernel_cpu_us, s->kernel_cpu_us);
            }
        }
    if (cpu_header)
        printf("\n");
    target t[16];
    size_t nt = eval_targets(runs, nrun, t);
    printf("== targets (reported, not enforced)\n");
    for (size_t i = 0; i < nt; i++) {
        if (t[i].measured)
            printf("   %-46s %-16s %12.3f  %s\n", t[i].name, t[i].goal, t[i].value,
                   t[i].met ? "met" : "MISSED");
        else
            printf("   %-46s %-16s %12s  not measured\n", t[i].name, t[i].goal, "-");
    }
}

static void usage(FILE *f)
{
    fprintf(f, "usage: e2b-bench [-n N] [--warmup N] [--json [FILE]] [--plot FILE.png] "
               "[--sdk|--no-sdk]\n"
               "                 [--conc N] [--big MIB] [--smoke] [--url URL] [--api-key K] "
               "[--mock PATH]\n"
               "                 <scenario>... | all\n"
               "       e2b-bench --list\nscenarios:\n");
    for (size_t i = 0; i < N_SCENARIOS; i++)
        fprintf(f, "  %-12s %s\n", k_scenarios[i].name, k_scenarios[i].summary);
}

static int parse_count(const char *s, int *out, int min)
{
    char *end = NULL;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < min || v > 100000000)
        return -1;
    *out = (int)v;
    return 0;
}

static const bench_scenario *scenario_named(const char *name)
{
    for (size_t k = 0; k < N_SCENARIOS; k++)
        if (!strcmp(k_scenarios[k].name, name))
            return &k_scenarios[k];
    return NULL;
}

static bool dir_has_sdk(const char *dir)
{
    char p[PATH_MAX + 64];
    snprintf(p, sizeof p, "%s/node_modules/@e2b/code-interpreter/package.json", dir);
    return access(p, R_OK) == 0;
}

int main(int argc, char **argv)
{
    /* The stdout scenario streams more than e2b-mock's default per-stream output cap
     * (16 MiB, a safety limit for untrusted code): raise it for the mocks the bench starts,
     * unless the caller chose a value. */
    setenv("E2B_MOCK_LIMIT_OUTPUT_MB", "4096", 0);
    if (argc == 5 && !strcmp(argv[1], "--memory-worker")) {
        int n = atoi(argv[4]);
        return bench_memory_worker(argv[2], argv[3], n);
    }
    bench_opts o = {.n = 2000, .warmup = 200, .conc = 100, .big_mib = 256};
    const char *src = getenv("E2B_SOURCE_DIR");
    o.source_dir = src && *src ? src : E2B_BENCH_SOURCE_DIR;
    static char sdkdir[PATH_MAX];
    snprintf(sdkdir, sizeof sdkdir, "%s/conformance/sdk", o.source_dir);
    o.sdk_dir = sdkdir;
    o.sdk = dir_has_sdk(sdkdir);
    const char *json_file = NULL, *plot_file = NULL;
    const bench_scenario *chosen[N_SCENARIOS * 2];
    size_t nchosen = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *next = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--list")) {
            for (size_t k = 0; k < N_SCENARIOS; k++)
                printf("%s\t%s\n", k_scenarios[k].name, k_scenarios[k].summary);
            return 0;
        } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--json")) {
            o.json = true;
            /* optional FILE: anything that is not an option or a scenario name */
            if (next && next[0] != '-' && !scenario_named(next) && strcmp(next, "all") != 0) {
                json_file = next;
                i++;
            }
        } else if (!strcmp(a, "--plot") && next) {
            plot_file = argv[++i];
        } else if (!strcmp(a, "--sdk")) {
            o.sdk = true;
        } else if (!strcmp(a, "--no-sdk")) {
            o.sdk = false;
        } else if (!strcmp(a, "--smoke")) {
            o.smoke = true;
        } else if ((!strcmp(a, "-n") || !strcmp(a, "--iterations")) && next) {
            if (parse_count(next, &o.n, 1) != 0) {
                fprintf(stderr, "e2b-bench: bad -n '%s'\n", next);
                return 2;
            }
            o.n_given = true;
            i++;
        } else if (!strcmp(a, "--warmup") && next) {
            if (parse_count(next, &o.warmup, 0) != 0) {
                fprintf(stderr, "e2b-bench: bad --warmup '%s'\n", next);
                return 2;
            }
            i++;
        } else if (!strcmp(a, "--conc") && next) {
            if (parse_count(next, &o.conc, 1) != 0 || o.conc > 1000) {
                fprintf(stderr, "e2b-bench: bad --conc '%s' (1..1000)\n", next);
                return 2;
            }
            i++;
        } else if (!strcmp(a, "--big") && next) {
            if (parse_count(next, &o.big_mib, 1) != 0 || o.big_mib > 4096) {
                fprintf(stderr, "e2b-bench: bad --big '%s' (1..4096 MiB)\n", next);
                return 2;
            }
            i++;
        } else if (!strcmp(a, "--url") && next) {
            o.url = argv[++i];
        } else if (!strcmp(a, "--api-key") && next) {
            o.api_key = argv[++i];
        } else if (!strcmp(a, "--mock") && next) {
            o.mock_path = argv[++i];
        } else if (a[0] == '-') {
            fprintf(stderr, "e2b-bench: unexpected argument '%s'\n", a);
            usage(stderr);
            return 2;
        } else if (!strcmp(a, "all")) {
            /* "live" costs real sandboxes: only when it is switched on */
            for (size_t k = 0; k < N_SCENARIOS && nchosen < N_SCENARIOS * 2; k++)
                if (k_scenarios[k].run != bench_scenario_live || bench_live_enabled())
                    chosen[nchosen++] = &k_scenarios[k];
        } else {
            const bench_scenario *sc = scenario_named(a);
            if (!sc) {
                fprintf(stderr, "e2b-bench: unknown scenario '%s'\n", a);
                usage(stderr);
                return 2;
            }
            if (nchosen < N_SCENARIOS * 2)
                chosen[nchosen++] = sc;
        }
    }
    if (!nchosen) {
        usage(stderr);
        return 2;
    }
    if (plot_file && !json_file) {
        fprintf(stderr, "e2b-bench: --plot needs --json FILE (plot.py reads it)\n");
        return 2;
    }
    if (o.sdk && !dir_has_sdk(sdkdir))
        fprintf(stderr,
                "e2b-bench: --sdk: no SDK in %s/node_modules (scripts/deps.sh --with-npm)\n",
                sdkdir);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    ran *runs = calloc(nchosen, sizeof *runs);
    if (!runs)
        return 1;
    int failed = 0;
    for (size_t i = 0; i < nchosen; i++) {
        runs[i].sc = chosen[i];
        fprintf(stderr, "e2b-bench: running %s ...\n", chosen[i]->name);
        uint64_t t0 = bench_now_ns();
        bench_opts so = o; /* per-scenario caps (cold starts cost ~0.1-0.5 s each) */
        if (chosen[i]->max_n && so.n > chosen[i]->max_n)
            so.n = chosen[i]->max_n;
        if (chosen[i]->max_warmup && so.warmup > chosen[i]->max_warmup)
            so.warmup = chosen[i]->max_warmup;
        runs[i].rc = chosen[i]->run(&so, &runs[i].r);
        runs[i].seconds = (double)(bench_now_ns() - t0) / 1e9;
        for (size_t k = 0; k < runs[i].r.nseries; k++)
            runs[i].sm[k] = summarize(&runs[i].r.series[k]);
        if (runs[i].rc != 0) {
            failed++;
            fprintf(stderr, "e2b-bench: scenario %s FAILED\n", chosen[i]->name);
        }
        if (!o.json || json_file)
            print_table(&runs[i], &o);
        fflush(stdout);
    }
    if (!o.json || json_file)
        print_summary(runs, nchosen);
    if (o.json) {
        FILE *f = json_file ? fopen(json_file, "w") : stdout;
        if (!f) {
            perror(json_file);
            failed++;
        } else {
            write_json(f, runs, nchosen, &o, argc, argv);
            if (f != stdout && fclose(f) != 0) {
                perror(json_file);
                failed++;
            } else if (json_file) {
                printf("\njson: %s\n", json_file);
            }
        }
    }
    if (plot_file && json_file) {
        char script[PATH_MAX];
        snprintf(script, sizeof script, "%s/bench/plot.py", o.source_dir);
        fflush(stdout);
        pid_t pid = fork();
        if (pid == 0) {
            char *envp[] = {"PATH=/usr/bin:/bin", "HOME=/tmp", "MPLCONFIGDIR=/tmp/e2b-bench-mpl",
                            "MPLBACKEND=Agg", NULL};
            execle("/usr/bin/python3", "/usr/bin/python3", script, (char *)json_file,
                   (char *)plot_file, (char *)NULL, envp);
            _exit(127);
        }
        int st = 0;
        if (pid < 0 || waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            fprintf(stderr, "e2b-bench: plot.py failed\n");
            failed++;
        } else {
            printf("plot: %s\n", plot_file);
        }
    }
    for (size_t i = 0; i < nchosen; i++)
        bench_report_free(&runs[i].r);
    free(runs);
    curl_global_cleanup();
    return failed ? 1 : 0;
}
