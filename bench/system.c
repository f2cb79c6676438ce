/* system.c - scenarios that measure the system rather than one call:
 *   wrk        e2b-mock's control-plane throughput (GET /sandboxes/{id}) under wrk, beside
 *              wrk against the static in-process MHD endpoint of floor.c
 *   memory     peak RSS of the client (a fresh e2b-bench worker process running a fixed
 *              workload through libe2b), of the SDK (a fresh node process running the same
 *              workload) and of the server (the mock's VmHWM)
 *   pipefloor  the raw local-exec floor: a persistent /usr/bin/python3 worker over a pipe,
 *              one request line -> one reply line
 *   idle       the idle cost of a local Python sandbox: memory of its processes (kernel
 *              and sandbox wrapper) once the kernel has run one cell and sits idle
 */
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

/* Runs argv (absolute path, clean env) and captures stdout into buf. Returns exit status
 * or -1. */
static int run_capture(char *const argv[], char *const envp[], char *buf, size_t len)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        dup2(p[1], 1);
        execve(argv[0], argv, envp);
        _exit(127);
    }
    close(p[1]);
    size_t got = 0;
    ssize_t r;
    while ((r = read(p[0], buf + got, len - 1 - got)) > 0) {
        got += (size_t)r;
        if (got == len - 1)
            break;
    }
    buf[got] = '\0';
    close(p[0]);
    int st = 0;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* wrk output: "Requests/sec: 12345.67" and, with --latency, "50%  123.45us". */
static double wrk_value(const char *out, const char *key)
{
    const char *p = strstr(out, key);
    if (!p)
        return -1;
    p += strlen(key);
    char *end;
    double v = strtod(p, &end);
    if (end == p)
        return -1;
    while (*end == ' ')
        end++;
    if (!strncmp(end, "us", 2))
        return v;
    if (!strncmp(end, "ms", 2))
        return v * 1000;
    if (*end == 's')
        return v * 1e6;
    return v;
}

static int run_wrk(const char *url, const char *key, int secs, bench_report *r, const char *tag,
                   const char *what)
{
    char dur[16], hdr[256];
    snprintf(dur, sizeof dur, "%ds", secs);
    snprintf(hdr, sizeof hdr, "X-API-Key: %s", key ? key : "");
    char *argv[] = {"/usr/bin/wrk", "-t2", "-c16", "-d",        dur,
                    "--latency",    "-H",  hdr,    (char *)url, NULL};
    char *envp[] = {"PATH=/usr/bin:/bin", NULL};
    static char out[16384];
    int st = run_capture(argv, envp, out, sizeof out);
    double rps = wrk_value(out, "Requests/sec:");
    if (st != 0 || rps < 0) {
        fprintf(stderr, "e2b-bench: wrk against %s failed (status %d):\n%s\n", url, st, out);
        return -1;
    }
    if (strstr(out, "Non-2xx")) {
        fprintf(stderr, "e2b-bench: wrk saw non-2xx answers from %s:\n%s\n", url, out);
        return -1;
    }
    char name[64], w[128];
    snprintf(name, sizeof name, "%s_rps", tag);
    bench_metric_add(r, name, what, rps, "req/s");
    snprintf(name, sizeof name, "%s_p50", tag);
    snprintf(w, sizeof w, "wrk latency p50 (%s)", tag);
    bench_metric_add(r, name, w, wrk_value(out, "50%"), "us");
    snprintf(name, sizeof name, "%s_p99", tag);
    snprintf(w, sizeof w, "wrk latency p99 (%s)", tag);
    bench_metric_add(r, name, w, wrk_value(out, "99%"), "us");
    return 0;
}

int bench_scenario_wrk(const bench_opts *opts, bench_report *r)
{
    bench_target t;
    int rc = -1;
    e2b_sandbox *sbx = NULL;
    bench_static_server *srv = NULL;
    char *body = NULL;
    size_t body_len = 0;
    if (access("/usr/bin/wrk", X_OK) != 0) {
        fprintf(stderr, "e2b-bench: /usr/bin/wrk is missing (scripts/deps.sh installs it)\n");
        return -1;
    }
    if (bench_target_open(opts, &t, r) != 0 || bench_create_sandbox(t.client, &sbx) != 0)
        goto out;
    char url[512];
    snprintf(url, sizeof url, "%s/sandboxes/%s", t.url, e2b_sandbox_id(sbx));
    /* the floor serves the same body the mock sends */
    bench_series one = {.n = 1};
    double tmp;
    one.us = &tmp;
    if (bench_curl_get_loop(url, t.api_key, 0, &one, &body, &body_len) != 0)
        goto out;
    srv = bench_static_start(body, body_len);
    if (!srv)
        goto out;
    char furl[512];
    snprintf(furl, sizeof furl, "%s/sandboxes/%s", bench_static_url(srv), e2b_sandbox_id(sbx));
    int secs = opts->smoke ? 1 : 5;
    if (run_wrk(url, t.api_key, secs, r, "mock_get_info",
                "wrk -t2 -c16 GET /sandboxes/{id} -> e2b-mock (req/s)") != 0)
        goto out;
    if (run_wrk(furl, t.api_key, secs, r, "static_mhd",
                "wrk -t2 -c16 GET -> static MHD endpoint, same body (req/s)") != 0)
        goto out;
    rc = 0;
out:
    bench_static_stop(srv);
    free(body);
    if (sbx) {
        e2b_sandbox_kill(t.client, e2b_sandbox_id(sbx), NULL, NULL);
        e2b_sandbox_free(sbx);
    }
    bench_target_close(&t, r);
    return rc;
}

/* ---- memory -------------------------------------------------------------------------- */

static size_t gen_src(void *ud, char *buf, size_t max)
{
    size_t *left = ud;
    size_t n = *left < max ? *left : max;
    memset(buf, 'a', n);
    *left -= n;
    return n;
}

static e2b_code null_sink(void *ud, const char *d, size_t n, e2b_error *err)
{
    (void)d;
    (void)err;
    *(size_t *)ud += n;
    return E2B_OK;
}

/* The libe2b workload (in a fresh process): create, n x (get_info, run_code, 1 KiB write +
 * read), 8 MiB upload + download, kill. Prints "maxrss_kb=<n>". The SDK's --rss-workload
 * does the same. */
int bench_memory_worker(const char *url, const char *api_key, int n)
{
    e2b_config cfg;
    e2b_config_init(&cfg);
    cfg.api_url = url;
    cfg.sandbox_url = url;
    cfg.api_key = api_key;
    e2b_client *c = NULL;
    e2b_sandbox *s = NULL;
    e2b_error err = {0};
    int rc = 1;
    if (e2b_client_new(&cfg, &c, &err) != E2B_OK || bench_create_sandbox(c, &s) != 0)
        goto out;
    char text[1025];
    memset(text, 'x', 1024);
    text[1024] = '\0';
    for (int i = 0; i < n; i++) {
        e2b_sandbox_info *info = NULL;
        e2b_execution *ex = NULL;
        char *back = NULL;
        if (e2b_sandbox_get_info(c, e2b_sandbox_id(s), &info, &err) != E2B_OK ||
            e2b_run_code(s, "x = 1", NULL, &ex, &err) != E2B_OK ||
            e2b_files_write_text(s, "/home/user/bench-rss.txt", text, &err) != E2B_OK ||
            e2b_files_read_text(s, "/home/user/bench-rss.txt", &back, &err) != E2B_OK) {
            fprintf(stderr, "e2b-bench worker: %s\n", err.message);
            e2b_sandbox_info_free(info);
            e2b_execution_free(ex);
            free(back);
            goto out;
        }
        e2b_sandbox_info_free(info);
        e2b_execution_free(ex);
        free(back);
    }
    size_t left = 8u << 20, got = 0;
    e2b_files_opts fo = {0};
    if (e2b_files_write_stream(s, "/home/user/bench-rss.bin", gen_src, &left, &fo, NULL, &err) !=
            E2B_OK ||
        e2b_files_read_to(s, "/home/user/bench-rss.bin", &fo, null_sink, &got, &err) != E2B_OK ||
        got != 8u << 20) {
        fprintf(stderr, "e2b-bench worker: %s\n", err.message);
        goto out;
    }
    rc = 0;
out:
    if (s) {
        e2b_sandbox_kill(c, e2b_sandbox_id(s), NULL, NULL);
        e2b_sandbox_free(s);
    }
    e2b_client_free(c);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    if (rc == 0)
        printf("maxrss_kb=%ld\n", ru.ru_maxrss);
    return rc;
}

int bench_scenario_memory(const bench_opts *opts, bench_report *r)
{
    bench_target t;
    int rc = -1;
    if (bench_target_open(opts, &t, r) != 0)
        goto out;
    int n = opts->smoke ? 3 : 200;
    long mock_before = t.mock_pid ? bench_proc_status_kb(t.mock_pid, "VmRSS") : -1;
    if (mock_before > 0)
        bench_metric_add(r, "mock_start_rss", "e2b-mock VmRSS before any request",
                         (double)mock_before, "kB");
    char self[PATH_MAX];
    ssize_t sl = readlink("/proc/self/exe", self, sizeof self - 1);
    if (sl <= 0)
        goto out;
    self[sl] = '\0';
    char ns[16], out[4096];
    snprintf(ns, sizeof ns, "%d", n);
    char *argv[] = {self, "--memory-worker", t.url, t.api_key, ns, NULL};
    char *envp[] = {"PATH=/usr/bin:/bin", NULL};
    if (run_capture(argv, envp, out, sizeof out) != 0 || strncmp(out, "maxrss_kb=", 10) != 0) {
        fprintf(stderr, "e2b-bench: the libe2b memory worker failed: %s\n", out);
        goto out;
    }
    char what[128];
    snprintf(
        what, sizeof what,
        "libe2b client peak RSS (fresh process: %d x get_info/run_code/1 KiB w+r, 8 MiB up+down)",
        n);
    bench_metric_add(r, "libe2b_peak_rss", what, atof(out + 10), "kB");
    if (opts->sdk && opts->sdk_dir && opts->source_dir) {
        char script[PATH_MAX], e_url[512], e_surl[512], e_key[256], e_dir[PATH_MAX + 16];
        snprintf(script, sizeof script, "%s/bench/sdk/bench.mjs", opts->source_dir);
        snprintf(e_url, sizeof e_url, "E2B_API_URL=%s", t.url);
        snprintf(e_surl, sizeof e_surl, "E2B_SANDBOX_URL=%s", t.url);
        snprintf(e_key, sizeof e_key, "E2B_API_KEY=%s", t.api_key);
        snprintf(e_dir, sizeof e_dir, "E2B_SDK_DIR=%s", opts->sdk_dir);
        char *nargv[] = {"/usr/bin/node", script, "--rss-workload", ns, NULL};
        char *nenvp[] = {"PATH=/usr/bin:/bin", "HOME=/tmp", e_url, e_surl, e_key, e_dir, NULL};
        const char *k = NULL;
        if (access(nargv[0], X_OK) == 0 && run_capture(nargv, nenvp, out, sizeof out) == 0 &&
            (k = strstr(out, "\"samples\":[")) != NULL) {
            bench_metric_add(r, "sdk_peak_rss",
                             "JS SDK peak RSS (fresh node process, same workload)", atof(k + 11),
                             "kB");
        } else {
            fprintf(stderr, "e2b-bench: the SDK memory workload failed: %s\n", out);
            goto out;
        }
    }
    rc = 0;
out:
    bench_target_close(&t, r); /* adds mock_peak_rss */
    return rc;
}

/* ---- pipefloor ----------------------------------------------------------------------- */

int bench_scenario_pipefloor(const bench_opts *opts, bench_report *r)
{
    int to[2], from[2];
    if (pipe2(to, O_CLOEXEC) != 0 || pipe2(from, O_CLOEXEC) != 0)
        return -1;
    static const char worker[] = "import sys\n"
                                 "rl = sys.stdin.readline\n"
                                 "w = sys.stdout.write\n"
                                 "fl = sys.stdout.flush\n"
                                 "while True:\n"
                                 "    line = rl()\n"
                                 "    if not line: break\n"
                                 "    exec(line)\n"
                                 "    w('ok\\n'); fl()\n";
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        dup2(to[0], 0);
        dup2(from[1], 1);
        char *envp[] = {"PATH=/usr/bin:/bin", NULL};
        execle("/usr/bin/python3", "/usr/bin/python3", "-I", "-S", "-c", worker, (char *)NULL,
               envp);
        _exit(127);
    }
    close(to[0]);
    close(from[1]);
    snprintf(r->target, sizeof r->target, "/usr/bin/python3 -I -S worker over two pipes, pid %d",
             (int)pid);
    bench_series *s = bench_series_add(r, "pipe_floor_exec",
                                       "one line 'x = 1' -> exec -> 'ok' line (python3 worker)",
                                       (size_t)opts->n);
    int rc = s ? 0 : -1;
    if (s)
        s->new_connections = -1;
    static const char req[] = "x = 1\n";
    for (int i = 0; rc == 0 && i < opts->warmup + opts->n; i++) {
        uint64_t t0 = bench_now_ns();
        if (write(to[1], req, sizeof req - 1) != (ssize_t)(sizeof req - 1)) {
            rc = -1;
            break;
        }
        char buf[16];
        size_t got = 0;
        while (got < 3) {
            ssize_t k = read(from[0], buf + got, sizeof buf - got);
            if (k <= 0) {
                rc = -1;
                break;
            }
            got += (size_t)k;
        }
        uint64_t t1 = bench_now_ns();
        if (rc == 0 && memcmp(buf, "ok\n", 3) != 0)
            rc = -1;
        if (i >= opts->warmup)
            s->us[i - opts->warmup] = (double)(t1 - t0) / 1000.0;
    }
    if (rc != 0)
        fprintf(stderr, "e2b-bench: the python pipe worker failed\n");
    close(to[1]);
    close(from[0]);
    int st;
    waitpid(pid, &st, 0);
    return rc;
}

/* ---- idle ---------------------------------------------------------------------------- */

int bench_scenario_idle(const bench_opts *opts, bench_report *r)
{
    bench_target t;
    int rc = -1;
    enum { MAXS = 4 };
    e2b_sandbox *sbx[MAXS] = {0};
    int ns = opts->smoke ? 1 : 3;
    if (opts->url) {
        fprintf(stderr, "e2b-bench: idle needs a mock started by e2b-bench (not --url)\n");
        return -1;
    }
    if (bench_target_open(opts, &t, r) != 0)
        goto out;
    long rss0, pss0;
    int np0 = bench_proc_tree_mem(t.mock_pid, NULL, &rss0, &pss0);
    for (int i = 0; i < ns; i++) {
        if (bench_create_sandbox(t.client, &sbx[i]) != 0)
            goto out;
        e2b_execution *ex = NULL;
        e2b_error err = {0};
        e2b_code c = e2b_run_code(sbx[i], "x = 1", NULL, &ex, &err);
        e2b_execution_free(ex);
        if (c != E2B_OK) {
            fprintf(stderr, "e2b-bench: run_code: %s\n", err.message);
            goto out;
        }
    }
    usleep(opts->smoke ? 200000 : 1000000); /* let the kernels settle into idle */
    long rss1, pss1;
    int np1 = bench_proc_tree_mem(t.mock_pid, NULL, &rss1, &pss1);
    char what[160];
    snprintf(what, sizeof what,
             "PSS of one idle local Python sandbox after one cell (mean of %d; %d processes each)",
             ns, ns ? (np1 - np0) / ns : 0);
    bench_metric_add(r, "idle_sandbox_pss", what, (double)(pss1 - pss0) / ns, "kB");
    snprintf(what, sizeof what, "RSS sum of the same processes (shared pages counted per process)");
    bench_metric_add(r, "idle_sandbox_rss", what, (double)(rss1 - rss0) / ns, "kB");
    bench_metric_add(r, "idle_sandbox_procs", "processes per idle sandbox",
                     (double)(np1 - np0) / ns, "count");
    rc = 0;
out:
    for (int i = 0; i < MAXS; i++)
        if (sbx[i]) {
            e2b_sandbox_kill(t.client, e2b_sandbox_id(sbx[i]), NULL, NULL);
            e2b_sandbox_free(sbx[i]);
        }
    bench_target_close(&t, r);
    return rc;
}
