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

#include "e2b/e2b.h"

typedef struct bench_opts {
    int n;                  /* timed operations per series (default 2000) */
    bool n_given;           /* -n was on the command line (scenarios with their own default) */
    int warmup;             /* untimed operations first (default 200) */
    bool json;              /* machine-readable output */
    const char *url;        /* target an existing server instead of starting e2b-mock */
    const char *api_key;    /* key for url (default $E2B_API_KEY) */
    const char *mock_path;  /* e2b-mock to start (default: $E2B_MOCK_BIN, next to e2b-bench) */
    bool sdk;               /* also run the official JS SDK side (bench/sdk/bench.mjs) */
    const char *sdk_dir;    /* dir holding node_modules/e2b and @e2b/code-interpreter */
    const char *source_dir; /* source tree (bench/sdk/bench.mjs, bench/plot.py) */
    int conc;               /* concurrency level for "concurrency" (default 100) */
    int big_mib;            /* largest upload/download size in MiB (default 256) */
    bool smoke;             /* tiny sizes everywhere: proves the scenarios work */
} bench_opts;

#define BENCH_MAX_SERIES 16
#define BENCH_MAX_METRICS 24

typedef struct bench_series {
    char name[64];  /* short id, e.g. "libe2b_get_info" */
    char what[128]; /* human description */
    double *us;     /* n samples in microseconds (malloc'd, owned by the series) */
    size_t n;
    long new_connections; /* connections opened during the timed loop, -1 unknown */
    char unit[12];        /* unit of the samples: "" = "us" (latency); e.g. "MB/s" */
    /* CPU time per timed operation in microseconds, -1 = not measured. client: the measuring
     * process (e2b-bench for libe2b, node for the SDK); server: the e2b-mock process (all its
     * threads, not its kernels). Load-independent, unlike wall-clock samples. */
    double client_cpu_us;
    double server_cpu_us;
    double kernel_cpu_us; /* the mock's descendants (sandbox kernels, bwrap) */
} bench_series;

/* A single measured value (memory, throughput under wrk, error counts). */
typedef struct bench_metric {
    char name[64];
    char what[128];
    double value;
    char unit[12]; /* "kB", "req/s", "MB/s", "count", ... */
} bench_metric;

typedef struct bench_report {
    char target[256]; /* what was measured against */
    bench_series series[BENCH_MAX_SERIES];
    size_t nseries;
    bench_metric metrics[BENCH_MAX_METRICS];
    size_t nmetrics;
} bench_report;

typedef int (*bench_run_fn)(const bench_opts *opts, bench_report *report);

typedef struct bench_scenario {
    const char *name;
    const char *summary;
    bench_run_fn run;
    int max_n;      /* cap on -n for this scenario (0 = none): each op is expensive */
    int max_warmup; /* cap on --warmup (0 = none) */
} bench_scenario;

/* Appends a series with room for n samples; returns it or NULL (out of memory / full). */
bench_series *bench_series_add(bench_report *r, const char *name, const char *what, size_t n);

/* Appends a metric (ignored when the table is full). */
void bench_metric_add(bench_report *r, const char *name, const char *what, double value,
                      const char *unit);

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

/* ---- target: an e2b-mock child the bench spawns itself (so its pid is known) ---------- */

typedef struct bench_target {
    int mock_pid;  /* e2b-mock child, 0 with --url */
    int mock_out;  /* its stdout (drained by a thread) */
    void *drain;   /* drain thread state */
    char url[256]; /* base URL (control plane and sandboxes) */
    char api_key[128];
    char root[256]; /* --root of the mock: sandboxes live in root/<id>/ ("" with --url) */
    e2b_client *client;
} bench_target;

/* Starts e2b-mock (or uses opts->url), makes a client, writes a description into
 * report->target. Returns 0 or -1 (message on stderr). */
int bench_target_open(const bench_opts *opts, bench_target *t, bench_report *report);
/* Adds the mock's VmHWM/VmRSS as metrics (when it is our child), frees the client, stops
 * the mock. Safe on a zeroed or half-opened target. */
void bench_target_close(bench_target *t, bench_report *report);

/* pid of the e2b-mock of the open target (0 = none / --url): for server CPU accounting. */
extern int bench_current_mock_pid;
/* utime + stime of a process in microseconds (clock-tick resolution), -1 when unreadable. */
double bench_proc_cpu_us(int pid);
/* Summed utime + stime of every descendant of pid, in microseconds. */
double bench_tree_cpu_us(int pid);
/* CPU time of this whole process in microseconds. */
double bench_self_cpu_us(void);

/* /proc/<pid>/status field in kB (e.g. "VmHWM"), -1 when unreadable. */
long bench_proc_status_kb(int pid, const char *field);
/* Sums VmRSS and Pss (smaps_rollup) over every descendant of pid (not pid itself) whose
 * command line contains `match` (NULL = all). Returns the process count. */
int bench_proc_tree_mem(int pid, const char *match, long *rss_kb, long *pss_kb);

/* Creates a sandbox from the code-interpreter template (the SDK's default). */
int bench_create_sandbox(e2b_client *c, e2b_sandbox **sbx_out);

/* ---- the official JS SDK side (bench/sdk/bench.mjs in a node child) ------------------- */

typedef struct bench_sdk bench_sdk;
/* Starts node on bench.mjs against url. NULL when opts->sdk is off or node_modules is
 * missing (a note on stderr) or node fails. */
bench_sdk *bench_sdk_start(const bench_opts *opts, const char *url, const char *api_key);
/* Sends one command line, e.g. {"op":"get_info","n":100,"warmup":10}, and waits for the
 * one-line JSON reply. Writes up to max samples (us, or the op's unit) into out, *got =
 * count. extra (may be NULL) receives the reply's "extra" object serialized (malloc'd,
 * free()). Returns 0 or -1 (the SDK's error message on stderr). */
int bench_sdk_call(bench_sdk *sdk, const char *cmd_json, double *out, size_t max, size_t *got,
                   char **extra);
/* The SDK process's own peak RSS (process.resourceUsage().maxRSS) in kB, -1 on error. */
long bench_sdk_maxrss_kb(bench_sdk *sdk);
void bench_sdk_stop(bench_sdk *sdk);

/* One libe2b operation for bench_interleave: returns the sample (us or unit) or < 0. */
typedef double (*bench_op_fn)(void *ctx, int i);
/* Runs warmup + s_c->n operations of fn and, when sdk is non-NULL, the same count of the
 * SDK op (cmd_json without n/warmup: the "op" object's fields; n and warmup are added),
 * alternating batches of `batch` operations: C, SDK, C, SDK... s_sdk may be NULL when sdk
 * is NULL. Returns 0 or -1. */
int bench_interleave(bench_op_fn fn, void *ctx, bench_series *s_c, bench_sdk *sdk,
                     const char *sdk_op_fields, bench_series *s_sdk, int warmup, int batch);

/* ---- scenarios ---------------------------------------------------------------------- */

int bench_scenario_getinfo(const bench_opts *opts, bench_report *report);
int bench_scenario_ttfr(const bench_opts *opts, bench_report *report);
int bench_scenario_createkill(const bench_opts *opts, bench_report *report);
int bench_scenario_runcode(const bench_opts *opts, bench_report *report);
int bench_scenario_stdout(const bench_opts *opts, bench_report *report);
int bench_scenario_files(const bench_opts *opts, bench_report *report);
int bench_scenario_smallfile(const bench_opts *opts, bench_report *report);
int bench_scenario_concurrency(const bench_opts *opts, bench_report *report);
int bench_scenario_wrk(const bench_opts *opts, bench_report *report);
int bench_scenario_memory(const bench_opts *opts, bench_report *report);
int bench_scenario_pipefloor(const bench_opts *opts, bench_report *report);
int bench_scenario_idle(const bench_opts *opts, bench_report *report);
/* live.c: create -> print(1) -> kill against real E2B (E2B_LIVE=1 + E2B_API_KEY, client from
 * e2b_config_from_env); without them it reports "skipped: ..." and returns 0. */
int bench_scenario_live(const bench_opts *opts, bench_report *report);
/* True when E2B_LIVE is 1/true/yes and E2B_API_KEY is non-empty (`all` includes "live"). */
bool bench_live_enabled(void);
/* Published third-party create -> exec -> kill figures in ms: p50, p95, p99. */
extern const double bench_live_published_ms[3];
/* Hidden: the libe2b memory workload, run in a fresh e2b-bench process by "memory". */
int bench_memory_worker(const char *url, const char *api_key, int n);

#endif
