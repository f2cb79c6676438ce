/* sdk.c - drives the official JS SDK side: /usr/bin/node bench/sdk/bench.mjs as a child
 * with a clean environment, one JSON command line in, one JSON reply line out. Node starts
 * once per scenario, so its start-up cost is never in a sample. */
#include "bench.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#define NODE "/usr/bin/node"

struct bench_sdk {
    pid_t pid;
    FILE *to;   /* node's stdin */
    FILE *from; /* node's stdout */
    char *line;
    size_t cap;
};

bench_sdk *bench_sdk_start(const bench_opts *opts, const char *url, const char *api_key)
{
    if (!opts->sdk || !opts->sdk_dir || !opts->source_dir)
        return NULL;
    char script[PATH_MAX], ci[PATH_MAX];
    snprintf(script, sizeof script, "%s/bench/sdk/bench.mjs", opts->source_dir);
    snprintf(ci, sizeof ci, "%s/node_modules/@e2b/code-interpreter/package.json", opts->sdk_dir);
    if (access(script, R_OK) != 0 || access(ci, R_OK) != 0 || access(NODE, X_OK) != 0) {
        fprintf(stderr, "e2b-bench: SDK side skipped (need %s, %s and %s)\n", NODE, script, ci);
        return NULL;
    }
    int in[2], out[2];
    if (pipe2(in, O_CLOEXEC) != 0)
        return NULL;
    if (pipe2(out, O_CLOEXEC) != 0) {
        close(in[0]);
        close(in[1]);
        return NULL;
    }
    char e_url[512], e_surl[512], e_key[256], e_dir[PATH_MAX + 16];
    snprintf(e_url, sizeof e_url, "E2B_API_URL=%s", url);
    snprintf(e_surl, sizeof e_surl, "E2B_SANDBOX_URL=%s", url);
    snprintf(e_key, sizeof e_key, "E2B_API_KEY=%s", api_key);
    snprintf(e_dir, sizeof e_dir, "E2B_SDK_DIR=%s", opts->sdk_dir);
    /* clean environment: no NODE_EXTRA_CA_CERTS (+50-70 ms per start), no E2B_DEBUG */
    char *envp[] = {"PATH=/usr/bin:/bin", "HOME=/tmp", e_url, e_surl, e_key, e_dir, NULL};
    pid_t pid = fork();
    if (pid < 0)
        return NULL;
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        dup2(in[0], 0);
        dup2(out[1], 1);
        execle(NODE, NODE, script, (char *)NULL, envp);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    bench_sdk *s = calloc(1, sizeof *s);
    if (!s) {
        close(in[1]);
        close(out[0]);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        return NULL;
    }
    s->pid = pid;
    s->to = fdopen(in[1], "w");
    s->from = fdopen(out[0], "r");
    /* readiness: {"op":"hello"} answers once the SDK is imported */
    size_t got;
    if (!s->to || !s->from ||
        bench_sdk_call(s, "{\"op\":\"hello\",\"n\":0,\"warmup\":0}", NULL, 0, &got, NULL) != 0) {
        fprintf(stderr, "e2b-bench: SDK side did not start\n");
        bench_sdk_stop(s);
        return NULL;
    }
    return s;
}

int bench_sdk_call(bench_sdk *sdk, const char *cmd_json, double *out, size_t max, size_t *got,
                   char **extra)
{
    *got = 0;
    if (extra)
        *extra = NULL;
    if (fprintf(sdk->to, "%s\n", cmd_json) < 0 || fflush(sdk->to) != 0) {
        fprintf(stderr, "e2b-bench: SDK: write: %s\n", strerror(errno));
        return -1;
    }
    ssize_t n = getline(&sdk->line, &sdk->cap, sdk->from);
    if (n <= 0) {
        fprintf(stderr, "e2b-bench: SDK: no reply to %s\n", cmd_json);
        return -1;
    }
    cJSON *j = cJSON_ParseWithLength(sdk->line, (size_t)n);
    if (!j) {
        fprintf(stderr, "e2b-bench: SDK: bad reply: %.200s\n", sdk->line);
        return -1;
    }
    int rc = 0;
    const cJSON *ok = cJSON_GetObjectItemCaseSensitive(j, "ok");
    if (!cJSON_IsTrue(ok)) {
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "error");
        fprintf(stderr, "e2b-bench: SDK %s: %s\n", cmd_json,
                cJSON_IsString(e) ? e->valuestring : "failed");
        rc = -1;
    } else {
        const cJSON *us = cJSON_GetObjectItemCaseSensitive(j, "samples");
        const cJSON *v;
        cJSON_ArrayForEach(v, us)
        {
            if (*got < max && cJSON_IsNumber(v))
                out[(*got)++] = v->valuedouble;
        }
        const cJSON *x = cJSON_GetObjectItemCaseSensitive(j, "extra");
        if (extra && x)
            *extra = cJSON_PrintUnformatted(x);
    }
    cJSON_Delete(j);
    return rc;
}

long bench_sdk_maxrss_kb(bench_sdk *sdk)
{
    size_t got = 0;
    double v = -1;
    if (bench_sdk_call(sdk, "{\"op\":\"maxrss\",\"n\":1,\"warmup\":0}", &v, 1, &got, NULL) != 0 ||
        got != 1)
        return -1;
    return (long)v;
}

void bench_sdk_stop(bench_sdk *sdk)
{
    if (!sdk)
        return;
    if (sdk->to) {
        fprintf(sdk->to, "{\"op\":\"exit\"}\n");
        fclose(sdk->to);
    }
    int st;
    for (int i = 0; i < 500; i++) {
        if (waitpid(sdk->pid, &st, WNOHANG) == sdk->pid) {
            sdk->pid = 0;
            break;
        }
        usleep(10000);
    }
    if (sdk->pid) {
        kill(sdk->pid, SIGKILL);
        waitpid(sdk->pid, &st, 0);
    }
    if (sdk->from)
        fclose(sdk->from);
    free(sdk->line);
    free(sdk);
}
