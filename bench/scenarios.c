/* scenarios.c - the libe2b operations measured beside the official JS SDK (same e2b-mock,
 * same sandbox template, batches interleaved so drift affects both sides alike):
 *   createkill  e2b_sandbox_create + e2b_sandbox_kill
 *   runcode     e2b_run_code("x = 1") in a warm default Python context
 *   stdout      stdout streaming throughput of one execution printing a lot (MB/s)
 *   files       upload and download throughput, 64 MiB and --big MiB (streaming API, MB/s)
 *   smallfile   1 KiB file write + read round trip
 *   concurrency N executions in flight on one sandbox; N sandboxes each running one
 * Series are named libe2b_<op> and sdk_<op>; main.c prints libe2b/SDK ratios for such pairs.
 */
#include "bench.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void report_err(const char *what, e2b_code c, const e2b_error *err)
{
    fprintf(stderr, "e2b-bench: %s: %s: %s\n", what, e2b_code_name(c), err->message);
}

/* Common scenario frame: target, SDK, a warm sandbox. */
typedef struct frame {
    bench_target t;
    bench_sdk *sdk;
    e2b_sandbox *sbx; /* code-interpreter sandbox whose default kernel is running */
} frame;

static int frame_open(const bench_opts *opts, bench_report *r, frame *f, bool warm_sandbox)
{
    memset(f, 0, sizeof *f);
    if (bench_target_open(opts, &f->t, r) != 0)
        return -1;
    f->sdk = bench_sdk_start(opts, f->t.url, f->t.api_key);
    if (!warm_sandbox)
        return 0;
    if (bench_create_sandbox(f->t.client, &f->sbx) != 0)
        return -1;
    e2b_execution *ex = NULL;
    e2b_error err = {0};
    e2b_code c = e2b_run_code(f->sbx, "x = 0", NULL, &ex, &err);
    e2b_execution_free(ex);
    if (c != E2B_OK) {
        report_err("run_code (kernel start)", c, &err);
        return -1;
    }
    return 0;
}

static void frame_close(frame *f, bench_report *r)
{
    if (f->sdk) {
        long kb = bench_sdk_maxrss_kb(f->sdk);
        if (kb > 0)
            bench_metric_add(r, "sdk_process_peak_rss",
                             "node SDK process maxRSS after this scenario", (double)kb, "kB");
        bench_sdk_stop(f->sdk);
    }
    if (f->sbx) {
        e2b_sandbox_kill(f->t.client, e2b_sandbox_id(f->sbx), NULL, NULL);
        e2b_sandbox_free(f->sbx);
    }
    bench_target_close(&f->t, r);
}

/* Adds libe2b_<op> and (with an SDK) sdk_<op>. */
static int add_pair(bench_report *r, frame *f, const char *op, const char *what_c,
                    const char *what_sdk, size_t n, const char *unit, bench_series **c,
                    bench_series **s)
{
    char name[64];
    snprintf(name, sizeof name, "libe2b_%s", op);
    *c = bench_series_add(r, name, what_c, n);
    if (!*c)
        return -1;
    (*c)->new_connections = -1;
    snprintf((*c)->unit, sizeof(*c)->unit, "%s", unit);
    *s = NULL;
    if (f->sdk) {
        snprintf(name, sizeof name, "sdk_%s", op);
        *s = bench_series_add(r, name, what_sdk, n);
        if (!*s)
            return -1;
        (*s)->new_connections = -1;
        snprintf((*s)->unit, sizeof(*s)->unit, "%s", unit);
    }
    return 0;
}

static int batch_for(int n)
{
    int b = n / 10;
    return b < 1 ? 1 : b;
}

/* ---- createkill -------------------------------------------------------------------- */

static double op_create_kill(void *ctx, int i)
{
    (void)i;
    frame *f = ctx;
    e2b_sandbox *s = NULL;
    uint64_t t0 = bench_now_ns();
    if (bench_create_sandbox(f->t.client, &s) != 0)
        return -1;
    e2b_error err = {0};
    e2b_code c = e2b_sandbox_kill(f->t.client, e2b_sandbox_id(s), NULL, &err);
    uint64_t t1 = bench_now_ns();
    e2b_sandbox_free(s);
    if (c != E2B_OK) {
        report_err("kill", c, &err);
        return -1;
    }
    return (double)(t1 - t0) / 1000.0;
}

int bench_scenario_createkill(const bench_opts *opts, bench_report *r)
{
    frame f;
    int rc = -1;
    bench_series *c, *s;
    if (frame_open(opts, r, &f, false) != 0)
        goto out;
    int n = opts->n;
    if (add_pair(r, &f, "create_kill", "e2b_sandbox_create + e2b_sandbox_kill",
                 "Sandbox.create() + sandbox.kill()", (size_t)n, "", &c, &s) != 0)
        goto out;
    rc = bench_interleave(op_create_kill, &f, c, f.sdk, "\"op\":\"create_kill\"", s, opts->warmup,
                          batch_for(n));
out:
    frame_close(&f, r);
    return rc;
}

/* ---- runcode ----------------------------------------------------------------------- */

static double op_run_code(void *ctx, int i)
{
    (void)i;
    frame *f = ctx;
    e2b_execution *ex = NULL;
    e2b_error err = {0};
    uint64_t t0 = bench_now_ns();
    e2b_code c = e2b_run_code(f->sbx, "x = 1", NULL, &ex, &err);
    uint64_t t1 = bench_now_ns();
    bool bad = c != E2B_OK || !ex || ex->error;
    e2b_execution_free(ex);
    if (bad) {
        report_err("run_code x = 1", c, &err);
        return -1;
    }
    return (double)(t1 - t0) / 1000.0;
}

int bench_scenario_runcode(const bench_opts *opts, bench_report *r)
{
    frame f;
    int rc = -1;
    bench_series *c, *s;
    if (frame_open(opts, r, &f, true) != 0)
        goto out;
    if (add_pair(r, &f, "run_code", "e2b_run_code(\"x = 1\"), warm default Python context",
                 "sandbox.runCode('x = 1'), warm default Python context", (size_t)opts->n, "", &c,
                 &s) != 0)
        goto out;
    rc = bench_interleave(op_run_code, &f, c, f.sdk, "\"op\":\"run_code\",\"code\":\"x = 1\"", s,
                          opts->warmup, batch_for(opts->n));
out:
    frame_close(&f, r);
    return rc;
}

/* ---- stdout ------------------------------------------------------------------------ */

typedef struct stdout_ctx {
    frame *f;
    const char *code;
    size_t expect;
    size_t got;
} stdout_ctx;

static int count_stdout(const e2b_log_chunk *chunk, void *ud)
{
    ((stdout_ctx *)ud)->got += chunk->len;
    return 0;
}

static double op_stdout(void *ctx, int i)
{
    (void)i;
    stdout_ctx *x = ctx;
    x->got = 0;
    e2b_run_opts o;
    e2b_run_opts_init(&o);
    o.on_stdout = count_stdout;
    o.user_data = x;
    o.timeout_ms = 600000;
    e2b_execution *ex = NULL;
    e2b_error err = {0};
    uint64_t t0 = bench_now_ns();
    e2b_code c = e2b_run_code(x->f->sbx, x->code, &o, &ex, &err);
    uint64_t t1 = bench_now_ns();
    bool bad = c != E2B_OK || !ex || ex->error;
    e2b_execution_free(ex);
    if (bad || x->got < x->expect) {
        fprintf(stderr, "e2b-bench: stdout run: %s, %zu of %zu bytes\n", e2b_code_name(c), x->got,
                x->expect);
        return -1;
    }
    return (double)x->got / ((double)(t1 - t0) / 1000.0); /* bytes/us = MB/s */
}

int bench_scenario_stdout(const bench_opts *opts, bench_report *r)
{
    frame f;
    int rc = -1;
    if (frame_open(opts, r, &f, true) != 0)
        goto out;
    /* 1. 16 MiB as 1 KiB lines (one stdout event per line: per-event cost dominates)
     * 2. 16 MiB as 1 MiB writes (16 events: byte throughput of the pipeline) */
    struct {
        const char *op;
        size_t line, count;
    } kinds[2] = {{"stdout_mbps", 1024, opts->smoke ? 64 : 16384},
                  {"stdout_1mib_writes_mbps", 1u << 20, opts->smoke ? 1 : 16}};
    int n = opts->smoke ? 2 : 10;
    for (int k = 0; k < 2; k++) {
        size_t lines = kinds[k].count, len = kinds[k].line;
        char code[256], ccode[256];
        /* JSON-escaped for the SDK, plain for libe2b */
        snprintf(
            code, sizeof code,
            "import sys\\ns = 'x' * %zu + '\\\\n'\\nfor _ in range(%zu): sys.stdout.write(s)\\n",
            len - 1, lines);
        snprintf(ccode, sizeof ccode,
                 "import sys\ns = 'x' * %zu + '\\n'\nfor _ in range(%zu): sys.stdout.write(s)\n",
                 len - 1, lines);
        stdout_ctx x = {.f = &f, .code = ccode, .expect = lines * len};
        char what[128];
        snprintf(what, sizeof what, "one execution writing %zu x %zu B to stdout (on_stdout)",
                 lines, len);
        bench_series *c, *s;
        if (add_pair(r, &f, kinds[k].op, what, "same via runCode onStdout", (size_t)n, "MB/s", &c,
                     &s) != 0)
            goto out;
        char fields[512];
        snprintf(fields, sizeof fields, "\"op\":\"stdout\",\"bytes\":%zu,\"code\":\"%s\"",
                 lines * len, code);
        if (bench_interleave(op_stdout, &x, c, f.sdk, fields, s, 1, 1) != 0)
            goto out;
    }
    rc = 0;
out:
    frame_close(&f, r);
    return rc;
}

/* ---- files ------------------------------------------------------------------------- */

typedef struct xfer_ctx {
    frame *f;
    const char *path;
    size_t bytes;
    size_t pos;
    bool download;
} xfer_ctx;

/* The upload's bytes: a repeating a..z pattern copied from a table, so that generating
 * them costs a memcpy, not a division per byte (the bench must not be the bottleneck). */
static size_t src_pattern(void *ud, char *buf, size_t max)
{
    enum { PAT = 26 * 2521 }; /* ~64 KiB, a multiple of 26 */
    static char pat[PAT + 26];
    if (!pat[0])
        for (size_t k = 0; k < sizeof pat; k++)
            pat[k] = (char)('a' + k % 26);
    xfer_ctx *x = ud;
    size_t n = x->bytes - x->pos < max ? x->bytes - x->pos : max;
    for (size_t done = 0; done < n;) {
        size_t off = (x->pos + done) % 26, len = n - done < PAT ? n - done : PAT;
        memcpy(buf + done, pat + off, len);
        done += len;
    }
    x->pos += n;
    return n;
}

static e2b_code sink_count(void *ud, const char *data, size_t n, e2b_error *err)
{
    (void)data;
    (void)err;
    ((xfer_ctx *)ud)->pos += n;
    return E2B_OK;
}

static double op_xfer(void *ctx, int i)
{
    (void)i;
    xfer_ctx *x = ctx;
    e2b_files_opts fo = {0};
    fo.timeout_ms = E2B_FILES_NO_TIMEOUT;
    e2b_error err = {0};
    x->pos = 0;
    uint64_t t0 = bench_now_ns();
    e2b_code c;
    if (x->download) {
        c = e2b_files_read_to(x->f->sbx, x->path, &fo, sink_count, x, &err);
    } else {
        e2b_entry_info *info = NULL;
        c = e2b_files_write_stream(x->f->sbx, x->path, src_pattern, x, &fo, &info, &err);
        e2b_entry_info_free(info);
    }
    uint64_t t1 = bench_now_ns();
    if (c != E2B_OK || x->pos != x->bytes) {
        report_err(x->download ? "download" : "upload", c, &err);
        return -1;
    }
    return (double)x->bytes / ((double)(t1 - t0) / 1000.0);
}

int bench_scenario_files(const bench_opts *opts, bench_report *r)
{
    frame f;
    int rc = -1;
    if (frame_open(opts, r, &f, true) != 0)
        goto out;
    size_t sizes[2] = {opts->smoke ? 1 : 64, opts->smoke ? 2 : (size_t)opts->big_mib};
    int n = opts->smoke ? 1 : 3;
    for (int k = 0; k < 2; k++) {
        size_t bytes = sizes[k] << 20;
        for (int dir = 0; dir < 2; dir++) {
            xfer_ctx x = {
                .f = &f, .path = "/home/user/bench-big.bin", .bytes = bytes, .download = dir};
            char op[64], what[128], fields[256];
            snprintf(op, sizeof op, "%s_%zumib_mbps", dir ? "download" : "upload", sizes[k]);
            snprintf(what, sizeof what, "%s %zu MiB (e2b_files_%s)", dir ? "download" : "upload",
                     sizes[k], dir ? "read_to, counting sink" : "write_stream, generated bytes");
            bench_series *c, *s;
            if (add_pair(r, &f, op, what,
                         dir ? "files.read(format 'stream')" : "files.write(ArrayBuffer)",
                         (size_t)n, "MB/s", &c, &s) != 0)
                goto out;
            snprintf(fields, sizeof fields,
                     "\"op\":\"%s\",\"path\":\"/home/user/bench-big.bin\",\"bytes\":%zu",
                     dir ? "download" : "upload", bytes);
            if (bench_interleave(op_xfer, &x, c, f.sdk, fields, s, 0, 1) != 0)
                goto out;
        }
    }
    rc = 0;
out:
    frame_close(&f, r);
    return rc;
}

/* ---- smallfile --------------------------------------------------------------------- */

static double op_small_file(void *ctx, int i)
{
    (void)i;
    frame *f = ctx;
    static char text[1025];
    if (!text[0])
        memset(text, 'x', 1024);
    e2b_error err = {0};
    char *back = NULL;
    uint64_t t0 = bench_now_ns();
    e2b_code c = e2b_files_write_text(f->sbx, "/home/user/bench-small.txt", text, &err);
    if (c == E2B_OK)
        c = e2b_files_read_text(f->sbx, "/home/user/bench-small.txt", &back, &err);
    uint64_t t1 = bench_now_ns();
    bool bad = c != E2B_OK || !back || strcmp(back, text) != 0;
    free(back);
    if (bad) {
        report_err("small file write/read", c, &err);
        return -1;
    }
    return (double)(t1 - t0) / 1000.0;
}

int bench_scenario_smallfile(const bench_opts *opts, bench_report *r)
{
    frame f;
    int rc = -1;
    bench_series *c, *s;
    if (frame_open(opts, r, &f, true) != 0)
        goto out;
    if (add_pair(r, &f, "small_file", "1 KiB e2b_files_write_text + e2b_files_read_text",
                 "files.write + files.read (text)", (size_t)opts->n, "", &c, &s) != 0)
        goto out;
    rc = bench_interleave(
        op_small_file, &f, c, f.sdk,
        "\"op\":\"small_file\",\"bytes\":1024,\"path\":\"/home/user/bench-small.txt\"", s,
        opts->warmup, batch_for(opts->n));
out:
    frame_close(&f, r);
    return rc;
}

/* ---- concurrency ------------------------------------------------------------------- */

typedef struct par_ctx {
    frame *f;
    int conc;
    bool sandboxes; /* each thread creates its own sandbox */
    pthread_barrier_t *bar;
    int errors; /* summed over the run */
    pthread_mutex_t mu;
} par_ctx;

static void *par_thread(void *arg)
{
    par_ctx *p = arg;
    e2b_error err = {0};
    e2b_sandbox *s = NULL;
    bool failed = false;
    pthread_barrier_wait(p->bar);
    e2b_code c;
    if (p->sandboxes) {
        failed = bench_create_sandbox(p->f->t.client, &s) != 0;
    } else {
        /* handles are not shared between threads: one connected handle per thread */
        c = e2b_sandbox_connect(p->f->t.client, e2b_sandbox_id(p->f->sbx), 0, &s, NULL, &err);
        failed = c != E2B_OK;
    }
    if (!failed) {
        e2b_execution *ex = NULL;
        c = e2b_run_code(s, "x = 1", NULL, &ex, &err);
        failed = c != E2B_OK || !ex || ex->error;
        if (c != E2B_OK)
            report_err("parallel run_code", c, &err);
        e2b_execution_free(ex);
        if (p->sandboxes)
            failed |= e2b_sandbox_kill(p->f->t.client, e2b_sandbox_id(s), NULL, NULL) != E2B_OK;
    }
    e2b_sandbox_free(s);
    if (failed) {
        pthread_mutex_lock(&p->mu);
        p->errors++;
        pthread_mutex_unlock(&p->mu);
    }
    return NULL;
}

static double op_parallel(void *ctx, int i)
{
    (void)i;
    par_ctx *p = ctx;
    pthread_t *th = calloc((size_t)p->conc, sizeof *th);
    pthread_barrier_t bar;
    if (!th || pthread_barrier_init(&bar, NULL, (unsigned)p->conc + 1) != 0) {
        free(th);
        return -1;
    }
    p->bar = &bar;
    int started = 0;
    for (; started < p->conc; started++)
        if (pthread_create(&th[started], NULL, par_thread, p) != 0)
            break;
    if (started < p->conc) { /* cannot reach the barrier: abort hard, this is a bench */
        fprintf(stderr, "e2b-bench: could only start %d threads\n", started);
        exit(1);
    }
    pthread_barrier_wait(&bar);
    uint64_t t0 = bench_now_ns();
    for (int k = 0; k < started; k++)
        pthread_join(th[k], NULL);
    uint64_t t1 = bench_now_ns();
    pthread_barrier_destroy(&bar);
    free(th);
    return (double)(t1 - t0) / 1000.0;
}

int bench_scenario_concurrency(const bench_opts *opts, bench_report *r)
{
    frame f;
    int rc = -1;
    if (frame_open(opts, r, &f, true) != 0)
        goto out;
    int conc = opts->smoke ? 4 : opts->conc;
    int nsbx = opts->smoke ? 2 : (opts->conc < 20 ? opts->conc : 20);
    int n = opts->smoke ? 1 : 5;
    struct {
        bool sandboxes;
        int conc;
        const char *op, *sdk_op;
    } kinds[2] = {{false, conc, "exec_parallel", "exec_parallel"},
                  {true, nsbx, "sandboxes_parallel", "sandboxes_parallel"}};
    for (int k = 0; k < 2; k++) {
        par_ctx p = {.f = &f, .conc = kinds[k].conc, .sandboxes = kinds[k].sandboxes};
        pthread_mutex_init(&p.mu, NULL);
        char op[48], what[160], swhat[160], fields[128];
        snprintf(op, sizeof op, "%s_%d", kinds[k].op, kinds[k].conc);
        if (kinds[k].sandboxes)
            snprintf(what, sizeof what,
                     "wall time: %d threads each create a sandbox, run x = 1, kill", kinds[k].conc);
        else
            snprintf(what, sizeof what,
                     "wall time: %d threads each run x = 1 at once on one sandbox", kinds[k].conc);
        snprintf(swhat, sizeof swhat, "same with %d promises (Promise.allSettled)", kinds[k].conc);
        bench_series *c, *s;
        if (add_pair(r, &f, op, what, swhat, (size_t)n, "", &c, &s) != 0) {
            pthread_mutex_destroy(&p.mu);
            goto out;
        }
        snprintf(fields, sizeof fields, "\"op\":\"%s\",\"conc\":%d", kinds[k].sdk_op,
                 kinds[k].conc);
        /* run the SDK side through bench_interleave but collect its error count too */
        int prc = bench_interleave(op_parallel, &p, c, NULL, NULL, NULL, 0, 1);
        if (prc == 0 && f.sdk && s) {
            char cmd[256], *extra = NULL;
            snprintf(cmd, sizeof cmd, "{%s,\"n\":%d,\"warmup\":0}", fields, n);
            size_t got = 0;
            prc = bench_sdk_call(f.sdk, cmd, s->us, s->n, &got, &extra);
            int sdk_err = 0;
            if (extra) {
                const char *e = strstr(extra, "\"errors\":");
                if (e)
                    sdk_err = atoi(e + 9);
                free(extra);
            }
            snprintf(what, sizeof what, "SDK failed operations in %s (%d runs)", op, n);
            snprintf(cmd, sizeof cmd, "sdk_%s_errors", op);
            bench_metric_add(r, cmd, what, sdk_err, "count");
        }
        snprintf(what, sizeof what, "libe2b failed operations in %s (%d runs)", op, n);
        char mname[96];
        snprintf(mname, sizeof mname, "libe2b_%s_errors", op);
        bench_metric_add(r, mname, what, p.errors, "count");
        pthread_mutex_destroy(&p.mu);
        if (prc != 0)
            goto out;
    }
    rc = 0;
out:
    frame_close(&f, r);
    return rc;
}
