/* bench.h - e2b-bench internals: scenarios, latency series, and shared helpers.
 *
 * A scenario is one entry of the table in main.c: a name, a one-line summary and a run
 * function that fills a bench_report with one or more latency series (microseconds per
 * operation). main.c turns reports into the table or --json output, so adding a scenario is
 * writing one run function and one table line.
 */
#ifndef E2B_BENCH_H
#define E2B_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct bench_opts {
    int n;                 /* timed operations per series (default 2000) */
    int warmup;            /* untimed operations first (default 200) */
    bool json;             /* machine-readable output */
    const char *url;       /* target an existing server instead of starting e2b-mock */
    const char *api_key;   /* key for url (default $E2B_API_KEY) */
    const char *mock_path; /* e2b-mock to start (default: $E2B_MOCK_BIN, next to e2b-bench) */
} bench_opts;

#define BENCH_MAX_SERIES 8

typedef struct bench_series {
    char name[64];        /* short id, e.g. "libe2b_get_info" */
    char what[128];       /* human description */
    double *us;           /* n samples in microseconds (malloc'd, owned by the series) */
    size_t n;
    long new_connections; /* connections opened during the timed loop, -1 unknown */
} bench_series;

typedef struct bench_report {
    char target[256]; /* what was measured against */
    bench_series series[BENCH_MAX_SERIES];
    size_t nseries;
} bench_report;

typedef int (*bench_run_fn)(const bench_opts *opts, bench_report *report);

typedef struct bench_scenario {
    const char *name;
    const char *summary;
    bench_run_fn run;
} bench_scenario;

/* Appends a series with room for n samples; returns it or NULL (out of memory / full). */
bench_series *bench_series_add(bench_report *r, const char *name, const char *what, size_t n);

/* Frees every series' samples. */
void bench_report_free(bench_report *r);

/* Monotonic time in nanoseconds. */
uint64_t bench_now_ns(void);

/* ---- floor: a static in-process HTTP endpoint and a raw libcurl loop ---------------- */

typedef struct bench_static_server bench_static_server;

/* Starts libmicrohttpd on 127.0.0.1:<ephemeral> (thread per connection, two-call idiom so
 * keep-alive holds) answering every GET with body (copied) as application/json. Returns
 * NULL on failure (message on stderr). */
bench_static_server *bench_static_start(const char *body, size_t len);
/* "http://127.0.0.1:<port>" (owned by the server). */
const char *bench_static_url(const bench_static_server *s);
void bench_static_stop(bench_static_server *s);

/* GETs url with one reused libcurl easy handle (keep-alive, TCP_NODELAY): warmup untimed,
 * then s->n timed requests into s->us. Adds header "X-API-Key: <api_key>" when api_key is
 * non-NULL. If body_out is non-NULL, the first response body is stored there (malloc'd,
 * NUL-terminated). Returns 0, or -1 on an HTTP/transport error (message on stderr). */
int bench_curl_get_loop(const char *url, const char *api_key, int warmup, bench_series *s,
                        char **body_out, size_t *body_len);

/* ---- scenarios ---------------------------------------------------------------------- */

int bench_scenario_getinfo(const bench_opts *opts, bench_report *report);
int bench_scenario_ttfr(const bench_opts *opts, bench_report *report);

#endif
