/* demo.c - `e2bc demo`: the README's first command. Creates a sandbox, runs the seed's
 * sine-wave example in it (real Python, output streamed as it arrives, the plot saved to a
 * PNG file whose path is printed), shows that variables persist and that JavaScript runs
 * too, then walks the rest of the lifecycle (list, info, set timeout, kill). Runs against
 * a local e2b-mock unless E2B_API_KEY / E2B_API_URL point it at E2B. */
#include "e2bc.h"

#include <string.h>
#include <sys/stat.h>
#include <time.h>

static double ms_since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (t.tv_sec - t0->tv_sec) * 1e3 + (t.tv_nsec - t0->tv_nsec) / 1e6;
}

/* The seed README's example: a sine wave, plotted with matplotlib. */
static const char SINE_WAVE[] =
    "import matplotlib.pyplot as plt\n"
    "import numpy as np\n"
    "\n"
    "x = np.linspace(0, 2 * np.pi, 200)\n"
    "y = np.sin(x)\n"
    "print(f\"{len(x)} points, y from {y.min():.2f} to {y.max():.2f}\")\n"
    "plt.figure(figsize=(6, 3))\n"
    "plt.plot(x, y, label='sin(x)')\n"
    "plt.title('Sine wave')\n"
    "plt.legend()\n"
    "plt.show()\n";

/* Prints each output chunk as it arrives, prefixed, so the streaming is visible. */
static int print_chunk(const e2b_log_chunk *chunk, void *ud)
{
    (void)ud;
    const char *p = chunk->text, *end = chunk->text + chunk->len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        printf("   %s %.*s\n", chunk->stream == E2B_LOG_STDERR ? "err|" : "out|", (int)n, p);
        p += n + (nl ? 1 : 0);
    }
    fflush(stdout);
    return 0;
}

/* Runs code, streaming its output; prints its main result and error. Returns 0, or an
 * exit code after printing why. */
static int run_step(e2b_sandbox *sbx, const char *code, const char *language, e2b_execution **out)
{
    e2b_run_opts ro;
    e2b_run_opts_init(&ro);
    ro.language = language;
    ro.on_stdout = print_chunk;
    ro.on_stderr = print_chunk;
    e2b_error err;
    e2b_execution *ex = NULL;
    if (e2b_run_code(sbx, code, &ro, &ex, &err) != E2B_OK) {
        e2b_execution_free(ex);
        return e2bc_fail("run code", &err);
    }
    if (ex->text)
        printf("   result: %s\n", ex->text);
    if (ex->error) {
        printf("   error: %s: %s\n", ex->error->name, ex->error->value);
        e2b_execution_free(ex);
        return E2BC_EXIT_FAIL;
    }
    *out = ex;
    return 0;
}

#define STEP(n, title) printf("\n%d. %s\n", n, title)
#define TOOK(t0) printf("   (%.1f ms)\n", ms_since(&t0))

int e2bc_cmd_demo(int argc, char **argv)
{
    const char *out_dir = "e2b-out";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: e2bc demo [--out DIR]\n\nCreates a sandbox, runs the sine-wave "
                   "example in it (the plot is saved as\nDIR/sine-wave.png, default DIR "
                   "./e2b-out), shows persistence and JavaScript,\nthen lists the sandbox, "
                   "shows its details, extends its timeout and kills it.\nUses a local "
                   "e2b-mock unless E2B_API_KEY or E2B_API_URL is set.\n");
            return 0;
        }
        if (!strcmp(argv[i], "--out") && i + 1 < argc) {
            out_dir = argv[++i];
            continue;
        }
        fprintf(stderr, "e2bc demo: unexpected argument \"%s\"\n", argv[i]);
        return E2BC_EXIT_USAGE;
    }
    struct timespec start, t0;
    clock_gettime(CLOCK_MONOTONIC, &start);
    e2bc_conn c;
    if (!e2bc_open(&c, false))
        return E2BC_EXIT_FAIL;
    printf("e2bc demo - libe2b %s\n", e2b_version());
    if (c.local)
        printf("server: local e2b-mock at %s (started %.0f ms ago; set E2B_API_KEY to use "
               "E2B)\n",
               e2b_local_url(c.local), ms_since(&start));
    else
        printf("server: %s\n", e2b_client_api_url(c.client));

    int rc = 0;
    bool killed_ok = false;
    e2b_error err;
    e2b_sandbox *sbx = NULL;
    char run_tag[32];
    snprintf(run_tag, sizeof run_tag, "demo-%ld", (long)time(NULL));
    e2b_kv md[] = {{"purpose", "e2bc-demo"}, {"run", run_tag}};

    /* 1. create */
    STEP(1, "create a sandbox (template \"code-interpreter-v1\", 5 min timeout, 2 metadata pairs)");
    e2b_create_opts co;
    e2b_create_opts_init(&co);
    co.template_id = "code-interpreter-v1";
    co.timeout_s = 300;
    co.metadata = md;
    co.metadata_len = 2;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (e2b_sandbox_create(c.client, &co, &sbx, &err) != E2B_OK) {
        rc = e2bc_fail("create", &err);
        goto out;
    }
    printf("   sandbox   %s\n   envd      %s%s\n", e2b_sandbox_id(sbx),
           e2b_sandbox_envd_version(sbx),
           e2b_sandbox_envd_access_token(sbx) ? " (secured with an access token)" : "");
    TOOK(t0);
    const char *id = e2b_sandbox_id(sbx);

    /* 2. the sine wave: real Python in the sandbox, the plot saved to a file */
    STEP(2, "run the sine-wave example (Python, matplotlib) and save the plot");
    e2b_execution *ex = NULL;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if ((rc = run_step(sbx, SINE_WAVE, NULL, &ex)) != 0)
        goto out;
    {
        char path[4096];
        size_t saved = 0;
        for (size_t k = 0; k < ex->results_len; k++) {
            if (!ex->results[k].png)
                continue;
            mkdir(out_dir, 0777);
            snprintf(path, sizeof path, "%s/sine-wave%s.png", out_dir, saved ? "-2" : "");
            if (e2b_result_save(&ex->results[k], "png", path, &err) != E2B_OK) {
                e2b_execution_free(ex);
                rc = e2bc_fail("save plot", &err);
                goto out;
            }
            struct stat st;
            printf("   plot saved: %s (%lld bytes, PNG)\n", path,
                   stat(path, &st) == 0 ? (long long)st.st_size : 0LL);
            saved++;
        }
        e2b_execution_free(ex);
        if (!saved) {
            fprintf(stderr, "e2bc: the sine-wave example returned no PNG result\n");
            rc = E2BC_EXIT_FAIL;
            goto out;
        }
    }
    TOOK(t0);

    /* 3. the session persists: y is still defined */
    STEP(3, "the session persists: use y from the previous run");
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if ((rc = run_step(sbx,
                       "print('y still holds', len(y), 'points; its peak is at x =',\n"
                       "      round(float(x[y.argmax()]), 4))\n"
                       "round(float(np.trapz(np.abs(y), x)), 3)  # area under |sin|",
                       NULL, &ex)) != 0)
        goto out;
    e2b_execution_free(ex);
    TOOK(t0);

    /* 4. JavaScript in the same sandbox */
    STEP(4, "JavaScript in the same sandbox");
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if ((rc = run_step(sbx,
                       "const xs = [1, 2, 3, 4];\n"
                       "console.log('squares:', xs.map(v => v * v).join(' '));\n"
                       "xs.reduce((a, b) => a + b, 0)",
                       "javascript", &ex)) != 0)
        goto out;
    e2b_execution_free(ex);
    TOOK(t0);

    /* 5. list, filtered by our metadata */
    STEP(5, "list sandboxes with metadata run=<this run>");
    e2b_list_opts lo = {.metadata = &md[1], .metadata_len = 1};
    e2b_sandbox_page *page = NULL;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (e2b_sandbox_list(c.client, &lo, &page, &err) != E2B_OK) {
        rc = e2bc_fail("list", &err);
        goto out;
    }
    {
        const e2b_sandbox_info *rows[64];
        size_t n = page->len < 64 ? page->len : 64;
        bool found = false;
        for (size_t k = 0; k < n; k++) {
            rows[k] = &page->items[k];
            found |= !strcmp(page->items[k].sandbox_id, id);
        }
        if (n)
            e2bc_print_info_table(stdout, rows, n, 3);
        printf("   %zu match%s%s\n", page->len, page->len == 1 ? "" : "es",
               found ? ", including ours" : "");
        e2b_sandbox_page_free(page);
        if (!found) {
            fprintf(stderr, "e2bc: list: the new sandbox %s is missing from the list\n", id);
            rc = E2BC_EXIT_FAIL;
            goto out;
        }
    }
    TOOK(t0);

    /* 6. info */
    STEP(6, "get its details");
    e2b_sandbox_info *info = NULL;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (e2b_sandbox_get_info(c.client, id, &info, &err) != E2B_OK) {
        rc = e2bc_fail("info", &err);
        goto out;
    }
    e2bc_print_info_block(stdout, info, 3);
    time_t old_end = info->end_at_unix;
    e2b_sandbox_info_free(info);
    TOOK(t0);

    /* 7. set timeout */
    STEP(7, "extend its life to 10 minutes from now");
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (e2b_sandbox_set_timeout(c.client, id, 600, &err) != E2B_OK ||
        e2b_sandbox_get_info(c.client, id, &info, &err) != E2B_OK) {
        rc = e2bc_fail("set timeout", &err);
        goto out;
    }
    {
        char a[40], b[40], r[40];
        e2bc_fmt_time(old_end, a, sizeof a);
        e2bc_fmt_time(info->end_at_unix, b, sizeof b);
        e2bc_fmt_rel(info->end_at_unix, r, sizeof r);
        printf("   ends      %s -> %s (%s)\n", a, b, r);
    }
    e2b_sandbox_info_free(info);
    TOOK(t0);

    /* 8. kill */
    STEP(8, "kill it (twice: the second kill finds nothing)");
    bool killed = false, again = true;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (e2b_sandbox_kill(c.client, id, &killed, &err) != E2B_OK ||
        e2b_sandbox_kill(c.client, id, &again, &err) != E2B_OK) {
        rc = e2bc_fail("kill", &err);
        goto out;
    }
    printf("   first kill   %s\n   second kill  %s\n", killed ? "killed" : "not found",
           again ? "killed (unexpected)" : "not found (as expected)");
    if (e2b_sandbox_get_info(c.client, id, &info, &err) == E2B_OK) {
        printf("   info after kill: still there, state %s\n", e2bc_state_name(info->state));
        e2b_sandbox_info_free(info);
    } else {
        printf("   info after kill: %s\n", e2b_code_name(err.code));
    }
    TOOK(t0);
    killed_ok = killed;
    if (!killed) {
        fprintf(stderr, "e2bc: kill: the sandbox was not found when killing it\n");
        rc = E2BC_EXIT_FAIL;
        goto out;
    }
    printf("\ndone in %.0f ms\n", ms_since(&start));
out:
    if (sbx && rc != 0 && !killed_ok) /* do not leave a sandbox running on failure */
        e2b_sandbox_kill(c.client, e2b_sandbox_id(sbx), NULL, NULL);
    e2b_sandbox_free(sbx);
    e2bc_close(&c);
    return rc;
}
