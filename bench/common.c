/* common.c - what the scenarios share: the e2b-mock target (spawned here so that its pid,
 * and so its memory, is known), /proc readers, and the libe2b/SDK batch interleaver. */
#include "bench.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

int bench_current_mock_pid;

double bench_proc_cpu_us(int pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *rp = strrchr(buf, ')');
    unsigned long ut = 0, st = 0;
    /* after ")": state(3) ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime(14) stime(15) */
    if (!rp ||
        sscanf(rp + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) * 1e6 / (double)sysconf(_SC_CLK_TCK);
}

static int proc_ppid(int pid);

double bench_tree_cpu_us(int pid)
{
    double sum = 0;
    DIR *d = opendir("/proc");
    if (!d)
        return -1;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!isdigit((unsigned char)e->d_name[0]))
            continue;
        int p = atoi(e->d_name);
        /* walk up to pid (kernels are at most a few levels below the mock) */
        int cur = proc_ppid(p);
        for (int depth = 0; depth < 8 && cur > 1; depth++) {
            if (cur == pid) {
                double v = bench_proc_cpu_us(p);
                if (v > 0)
                    sum += v;
                break;
            }
            cur = proc_ppid(cur);
        }
    }
    closedir(d);
    return sum;
}

double bench_self_cpu_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

#define BENCH_KEY "e2b_bench_0123456789abcdef0123456789abcdef"

void bench_metric_add(bench_report *r, const char *name, const char *what, double value,
                      const char *unit)
{
    if (r->nmetrics == BENCH_MAX_METRICS)
        return;
    bench_metric *m = &r->metrics[r->nmetrics++];
    snprintf(m->name, sizeof m->name, "%s", name);
    snprintf(m->what, sizeof m->what, "%s", what);
    snprintf(m->unit, sizeof m->unit, "%s", unit);
    m->value = value;
}

/* e2b-mock: --mock, $E2B_MOCK_BIN, then next to this executable. */
static int find_mock(const bench_opts *opts, char *out, size_t len)
{
    if (opts->mock_path) {
        snprintf(out, len, "%s", opts->mock_path);
        return 0;
    }
    const char *env = getenv("E2B_MOCK_BIN");
    if (env && *env) {
        snprintf(out, len, "%s", env);
        return 0;
    }
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        return -1;
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    if (!slash)
        return -1;
    *slash = '\0';
    if (snprintf(out, len, "%s/e2b-mock", self) >= (int)len)
        return -1;
    return access(out, X_OK) == 0 ? 0 : -1;
}

static void *drain_main(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char buf[4096];
    while (read(fd, buf, sizeof buf) > 0) {
    }
    return NULL;
}

int bench_target_open(const bench_opts *opts, bench_target *t, bench_report *report)
{
    memset(t, 0, sizeof *t);
    t->mock_out = -1;
    if (opts->url) {
        snprintf(t->url, sizeof t->url, "%s", opts->url);
        const char *k = opts->api_key ? opts->api_key : getenv("E2B_API_KEY");
        snprintf(t->api_key, sizeof t->api_key, "%s", k ? k : "");
        snprintf(report->target, sizeof report->target, "%s", opts->url);
    } else {
        char bin[PATH_MAX];
        if (find_mock(opts, bin, sizeof bin) != 0) {
            fprintf(stderr, "e2b-bench: e2b-mock not found (use --mock or E2B_MOCK_BIN)\n");
            return -1;
        }
        snprintf(t->root, sizeof t->root, "/tmp/e2b-bench-XXXXXX");
        if (!mkdtemp(t->root)) {
            fprintf(stderr, "e2b-bench: mkdtemp: %s\n", strerror(errno));
            t->root[0] = '\0';
            return -1;
        }
        int p[2];
        if (pipe2(p, O_CLOEXEC) != 0)
            return -1;
        pid_t pid = fork();
        if (pid < 0) {
            close(p[0]);
            close(p[1]);
            return -1;
        }
        if (pid == 0) {
            prctl(PR_SET_PDEATHSIG, SIGTERM); /* never outlive a killed bench */
            dup2(p[1], 1);
            int devnull = open("/dev/null", O_WRONLY);
            if (devnull >= 0)
                dup2(devnull, 2);
            execl(bin, bin, "--port", "0", "--api-key", BENCH_KEY, "--root", t->root, "--quiet",
                  (char *)NULL);
            _exit(127);
        }
        close(p[1]);
        t->mock_pid = (int)pid;
        t->mock_out = p[0];
        /* first line: E2B_MOCK_URL=http://127.0.0.1:<port> */
        char line[512];
        size_t len = 0;
        while (len < sizeof line - 1) {
            struct pollfd pf = {.fd = p[0], .events = POLLIN};
            if (poll(&pf, 1, 10000) <= 0)
                break;
            ssize_t r = read(p[0], line + len, 1);
            if (r <= 0)
                break;
            if (line[len] == '\n')
                break;
            len++;
        }
        line[len] = '\0';
        if (strncmp(line, "E2B_MOCK_URL=", 13) != 0) {
            fprintf(stderr, "e2b-bench: %s did not print its URL (got '%s')\n", bin, line);
            return -1;
        }
        if (snprintf(t->url, sizeof t->url, "%s", line + 13) >= (int)sizeof t->url) {
            fprintf(stderr, "e2b-bench: URL too long: %s\n", line);
            return -1;
        }
        snprintf(t->api_key, sizeof t->api_key, "%s", BENCH_KEY);
        bench_current_mock_pid = t->mock_pid;
        pthread_t *th = malloc(sizeof *th);
        if (th && pthread_create(th, NULL, drain_main, (void *)(intptr_t)p[0]) == 0)
            t->drain = th;
        else
            free(th);
        if (snprintf(report->target, sizeof report->target,
                     "e2b-mock %s pid %d (started by e2b-bench)", t->url, t->mock_pid) < 0)
            report->target[0] = '\0';
    }
    e2b_config cfg;
    e2b_config_init(&cfg);
    cfg.api_url = t->url;
    cfg.sandbox_url = t->url;
    cfg.api_key = t->api_key;
    e2b_error err = {0};
    e2b_code c = e2b_client_new(&cfg, &t->client, &err);
    if (c != E2B_OK) {
        fprintf(stderr, "e2b-bench: client: %s: %s\n", e2b_code_name(c), err.message);
        return -1;
    }
    return 0;
}

void bench_target_close(bench_target *t, bench_report *report)
{
    if (t->mock_pid > 0 && report) {
        long hwm = bench_proc_status_kb(t->mock_pid, "VmHWM");
        if (hwm >= 0)
            bench_metric_add(report, "mock_peak_rss", "e2b-mock VmHWM at the end (server peak RSS)",
                             (double)hwm, "kB");
    }
    e2b_client_free(t->client);
    t->client = NULL;
    bench_current_mock_pid = 0;
    if (t->mock_pid > 0) {
        kill(t->mock_pid, SIGTERM);
        int st;
        for (int i = 0; i < 500; i++) {
            if (waitpid(t->mock_pid, &st, WNOHANG) == t->mock_pid) {
                t->mock_pid = 0;
                break;
            }
            usleep(10000);
        }
        if (t->mock_pid > 0) {
            kill(t->mock_pid, SIGKILL);
            waitpid(t->mock_pid, &st, 0);
        }
        t->mock_pid = 0;
    }
    if (t->drain) {
        pthread_join(*(pthread_t *)t->drain, NULL);
        free(t->drain);
        t->drain = NULL;
    }
    if (t->mock_out >= 0)
        close(t->mock_out);
    t->mock_out = -1;
    if (t->root[0])
        rmdir(t->root); /* the mock removes its sandboxes; the dir itself is ours */
}

long bench_proc_status_kb(int pid, const char *field)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t fl = strlen(field);
    long v = -1;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, field, fl) && line[fl] == ':') {
            v = strtol(line + fl + 1, NULL, 10);
            break;
        }
    fclose(f);
    return v;
}

static int proc_ppid(int pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *rp = strrchr(buf, ')'); /* comm may contain spaces */
    int ppid = -1;
    if (rp && sscanf(rp + 1, " %*c %d", &ppid) == 1)
        return ppid;
    return -1;
}

static bool cmdline_has(int pid, const char *match)
{
    if (!match)
        return true;
    char path[64], buf[4096];
    snprintf(path, sizeof path, "/proc/%d/cmdline", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    for (size_t i = 0; i < n; i++)
        if (buf[i] == '\0')
            buf[i] = ' ';
    buf[n] = '\0';
    return strstr(buf, match) != NULL;
}

static long smaps_pss_kb(int pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/smaps_rollup", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    long v = -1;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "Pss:", 4)) {
            v = strtol(line + 4, NULL, 10);
            break;
        }
    fclose(f);
    return v;
}

int bench_proc_tree_mem(int pid, const char *match, long *rss_kb, long *pss_kb)
{
    *rss_kb = 0;
    *pss_kb = 0;
    int pids[4096], ppids[4096];
    size_t n = 0;
    DIR *d = opendir("/proc");
    if (!d)
        return 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 4096) {
        if (!isdigit((unsigned char)e->d_name[0]))
            continue;
        int p = atoi(e->d_name);
        pids[n] = p;
        ppids[n] = proc_ppid(p);
        n++;
    }
    closedir(d);
    int count = 0;
    for (size_t i = 0; i < n; i++) {
        /* descendant of pid? walk up through the snapshot */
        int cur = ppids[i];
        bool desc = false;
        for (int depth = 0; depth < 64 && cur > 1; depth++) {
            if (cur == pid) {
                desc = true;
                break;
            }
            int next = -1;
            for (size_t j = 0; j < n; j++)
                if (pids[j] == cur) {
                    next = ppids[j];
                    break;
                }
            cur = next;
        }
        if (!desc || !cmdline_has(pids[i], match))
            continue;
        long rss = bench_proc_status_kb(pids[i], "VmRSS");
        long pss = smaps_pss_kb(pids[i]);
        if (rss > 0) {
            *rss_kb += rss;
            *pss_kb += pss > 0 ? pss : 0;
            count++;
        }
    }
    return count;
}

int bench_create_sandbox(e2b_client *c, e2b_sandbox **sbx_out)
{
    e2b_create_opts co;
    e2b_create_opts_init(&co);
    co.template_id = "code-interpreter-v1"; /* what the code-interpreter SDK creates */
    co.timeout_s = 3600;
    e2b_error err = {0};
    e2b_code rc = e2b_sandbox_create(c, &co, sbx_out, &err);
    if (rc != E2B_OK) {
        fprintf(stderr, "e2b-bench: create: %s: %s\n", e2b_code_name(rc), err.message);
        return -1;
    }
    return 0;
}

int bench_interleave(bench_op_fn fn, void *ctx, bench_series *s_c, bench_sdk *sdk,
                     const char *sdk_op_fields, bench_series *s_sdk, int warmup, int batch)
{
    size_t n = s_c->n;
    if (batch < 1)
        batch = 1;
    for (int i = 0; i < warmup; i++)
        if (fn(ctx, -1) < 0)
            return -1;
    if (sdk && s_sdk) {
        char cmd[1024];
        snprintf(cmd, sizeof cmd, "{%s,\"n\":0,\"warmup\":%d}", sdk_op_fields, warmup);
        size_t got = 0;
        if (bench_sdk_call(sdk, cmd, NULL, 0, &got, NULL) != 0)
            return -1;
    }
    size_t done_c = 0, done_sdk = 0;
    int mp = bench_current_mock_pid;
    double c_cpu = 0, c_srv = 0, s_cpu = 0, s_srv = 0, c_k = 0, s_k = 0;
    while (done_c < n || (sdk && s_sdk && done_sdk < s_sdk->n)) {
        /* /proc scans first: they must not count as the client's CPU */
        double k0 = mp ? bench_tree_cpu_us(mp) : 0;
        double srv0 = mp ? bench_proc_cpu_us(mp) : -1;
        double cpu0 = bench_self_cpu_us();
        for (int k = 0; k < batch && done_c < n; k++) {
            double v = fn(ctx, (int)done_c);
            if (v < 0)
                return -1;
            s_c->us[done_c++] = v;
        }
        c_cpu += bench_self_cpu_us() - cpu0;
        if (mp) {
            c_srv += bench_proc_cpu_us(mp) - srv0;
            c_k += bench_tree_cpu_us(mp) - k0;
        }
        if (sdk && s_sdk && done_sdk < s_sdk->n) {
            size_t want = s_sdk->n - done_sdk < (size_t)batch ? s_sdk->n - done_sdk : (size_t)batch;
            char cmd[1024];
            snprintf(cmd, sizeof cmd, "{%s,\"n\":%zu,\"warmup\":0}", sdk_op_fields, want);
            size_t got = 0;
            char *extra = NULL;
            double srv1 = mp ? bench_proc_cpu_us(mp) : -1;
            double k1 = mp ? bench_tree_cpu_us(mp) : 0;
            if (bench_sdk_call(sdk, cmd, s_sdk->us + done_sdk, want, &got, &extra) != 0)
                return -1;
            if (mp) {
                s_srv += bench_proc_cpu_us(mp) - srv1;
                s_k += bench_tree_cpu_us(mp) - k1;
            }
            const char *cu = extra ? strstr(extra, "\"cpu_us\":") : NULL;
            if (cu)
                s_cpu += atof(cu + 9);
            free(extra);
            if (got != want) {
                fprintf(stderr, "e2b-bench: SDK returned %zu of %zu samples\n", got, want);
                return -1;
            }
            done_sdk += got;
        }
    }
    if (n) {
        s_c->client_cpu_us = c_cpu / (double)n;
        s_c->server_cpu_us = mp ? c_srv / (double)n : -1;
        s_c->kernel_cpu_us = mp ? c_k / (double)n : -1;
    }
    if (sdk && s_sdk && s_sdk->n) {
        s_sdk->client_cpu_us = s_cpu / (double)s_sdk->n;
        s_sdk->server_cpu_us = mp ? s_srv / (double)s_sdk->n : -1;
        s_sdk->kernel_cpu_us = mp ? s_k / (double)s_sdk->n : -1;
    }
    return 0;
}
