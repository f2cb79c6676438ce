/* demo.c - `e2bc demo`: the README's first command. Walks one sandbox through its
 * lifecycle (create with metadata, list, info, set timeout, kill) and prints what happened
 * the way a person wants to read it. Runs against a local e2b-mock unless E2B_API_KEY /
 * E2B_API_URL point it at E2B. */
#include "e2bc.h"

#include <string.h>
#include <time.h>

static double ms_since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (t.tv_sec - t0->tv_sec) * 1e3 + (t.tv_nsec - t0->tv_nsec) / 1e6;
}

#define STEP(n, title) printf("\n%d. %s\n", n, title)
#define TOOK(t0) printf("   (%.1f ms)\n", ms_since(&t0))

int e2bc_cmd_demo(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: e2bc demo\n\nCreates a sandbox with metadata, lists it, shows its "
                   "details, extends its\ntimeout and kills it. Uses a local e2b-mock unless "
                   "E2B_API_KEY or E2B_API_URL is set.\n");
            return 0;
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
    STEP(1, "create a sandbox (template \"base\", 5 min timeout, 2 metadata pairs)");
    e2b_create_opts co;
    e2b_create_opts_init(&co);
    co.template_id = "base";
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

    /* 2. list, filtered by our metadata */
    STEP(2, "list sandboxes with metadata run=<this run>");
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

    /* 3. info */
    STEP(3, "get its details");
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

    /* 4. set timeout */
    STEP(4, "extend its life to 10 minutes from now");
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

    /* 5. kill */
    STEP(5, "kill it (twice: the second kill finds nothing)");
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
