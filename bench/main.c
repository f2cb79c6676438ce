/* main.c - e2b-bench: latency scenarios for libe2b, with the physical floor beside them.
 *
 *   e2b-bench [options] <scenario>      e2b-bench --list
 *
 * Options: -n N (timed operations, default 2000), --warmup N (default 200), --json,
 * --url URL (use a running server instead of starting e2b-mock), --api-key K (with --url;
 * default $E2B_API_KEY), --mock PATH (e2b-mock to start).
 *
 * Timings are reported, never judged: there is no pass/fail on numbers.
 */
#include "bench.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The scenario table: add a line (and a run function) to add a scenario. */
static const bench_scenario k_scenarios[] = {
    {"getinfo", "get_info round trips via libe2b vs raw curl vs a static MHD floor",
     bench_scenario_getinfo},
    {"ttfr", "time to first result of print(1): cold (create + first run) and warm kernel",
     bench_scenario_ttfr},
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
    double p50, p90, p99, max, mean;
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
    m.p99 = pct(s->us, s->n, 99);
    m.max = s->us[s->n - 1];
    m.mean = sum / (double)s->n;
    return m;
}

static void print_json_string(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20)
            printf("\\u%04x", c);
        else
            putchar(c);
    }
    putchar('"');
}

static void print_report(const bench_scenario *sc, const bench_opts *o, bench_report *r)
{
    summary sm[BENCH_MAX_SERIES];
    for (size_t i = 0; i < r->nseries; i++)
        sm[i] = summarize(&r->series[i]);

    if (o->json) {
        printf("{\"scenario\":");
        print_json_string(sc->name);
        printf(",\"target\":");
        print_json_string(r->target);
        printf(",\"n\":%d,\"warmup\":%d,\"unit\":\"us\",\"series\":[", o->n, o->warmup);
        for (size_t i = 0; i < r->nseries; i++) {
            printf("%s{\"name\":", i ? "," : "");
            print_json_string(r->series[i].name);
            printf(",\"what\":");
            print_json_string(r->series[i].what);
            printf(",\"n\":%zu,\"p50\":%.1f,\"p90\":%.1f,\"p99\":%.1f,\"max\":%.1f,"
                   "\"mean\":%.1f,\"new_connections\":%ld}",
                   r->series[i].n, sm[i].p50, sm[i].p90, sm[i].p99, sm[i].max, sm[i].mean,
                   r->series[i].new_connections);
        }
        printf("]}\n");
        return;
    }
    printf("scenario %s: %s\n", sc->name, sc->summary);
    printf("target   %s\n", r->target);
    printf("samples  %d timed after %d warm-up, per series; times in microseconds\n\n", o->n,
           o->warmup);
    printf("%-20s %9s %9s %9s %9s %9s %6s  %s\n", "series", "p50", "p90", "p99", "max", "mean",
           "conns", "what");
    for (size_t i = 0; i < r->nseries; i++) {
        char conns[24];
        if (r->series[i].new_connections < 0)
            snprintf(conns, sizeof conns, "-");
        else
            snprintf(conns, sizeof conns, "%ld", r->series[i].new_connections);
        printf("%-20s %9.1f %9.1f %9.1f %9.1f %9.1f %6s  %s\n", r->series[i].name, sm[i].p50,
               sm[i].p90, sm[i].p99, sm[i].max, sm[i].mean, conns, r->series[i].what);
    }
    if (r->nseries >= 2) {
        printf("\np50 differences: ");
        for (size_t i = 0; i + 1 < r->nseries; i++)
            printf("%s%s - %s = %+.1f us", i ? ", " : "", r->series[i].name,
                   r->series[i + 1].name, sm[i].p50 - sm[i + 1].p50);
        printf("\n");
    }
    printf("(conns = TCP connections opened during the timed loop; 0 means keep-alive held)\n");
}

static void usage(FILE *f)
{
    fprintf(f, "usage: e2b-bench [-n N] [--warmup N] [--json] [--url URL] [--api-key K] "
               "[--mock PATH] <scenario>\n       e2b-bench --list\nscenarios:\n");
    for (size_t i = 0; i < N_SCENARIOS; i++)
        fprintf(f, "  %-10s %s\n", k_scenarios[i].name, k_scenarios[i].summary);
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

int main(int argc, char **argv)
{
    bench_opts o = {.n = 2000, .warmup = 200};
    const char *name = NULL;
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
        } else if ((!strcmp(a, "-n") || !strcmp(a, "--iterations")) && next) {
            if (parse_count(next, &o.n, 1) != 0) {
                fprintf(stderr, "e2b-bench: bad -n '%s'\n", next);
                return 2;
            }
            i++;
        } else if (!strcmp(a, "--warmup") && next) {
            if (parse_count(next, &o.warmup, 0) != 0) {
                fprintf(stderr, "e2b-bench: bad --warmup '%s'\n", next);
                return 2;
            }
            i++;
        } else if (!strcmp(a, "--url") && next) {
            o.url = argv[++i];
        } else if (!strcmp(a, "--api-key") && next) {
            o.api_key = argv[++i];
        } else if (!strcmp(a, "--mock") && next) {
            o.mock_path = argv[++i];
        } else if (a[0] == '-' || name) {
            fprintf(stderr, "e2b-bench: unexpected argument '%s'\n", a);
            usage(stderr);
            return 2;
        } else {
            name = a;
        }
    }
    if (!name) {
        usage(stderr);
        return 2;
    }
    const bench_scenario *sc = NULL;
    for (size_t k = 0; k < N_SCENARIOS; k++)
        if (!strcmp(k_scenarios[k].name, name))
            sc = &k_scenarios[k];
    if (!sc) {
        fprintf(stderr, "e2b-bench: unknown scenario '%s'\n", name);
        usage(stderr);
        return 2;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    bench_report r;
    memset(&r, 0, sizeof r);
    int rc = sc->run(&o, &r);
    if (rc == 0)
        print_report(sc, &o, &r);
    bench_report_free(&r);
    curl_global_cleanup();
    return rc == 0 ? 0 : 1;
}
