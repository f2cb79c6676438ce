/* harness.c - suite runner, deferred cleanup and targets (mock or live). See harness.h. */
#include "harness.h"

#include <errno.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

/* ---- deferred cleanup ---------------------------------------------------------------- */

typedef struct deferred {
    void (*fn)(void *);
    void *p;
} deferred;

static deferred *g_deferred;
static size_t g_deferred_len, g_deferred_cap;

void harness_defer(void (*fn)(void *), void *p)
{
    if (g_deferred_len == g_deferred_cap) {
        size_t cap = g_deferred_cap ? g_deferred_cap * 2 : 16;
        deferred *d = realloc(g_deferred, cap * sizeof *d);
        if (!d) {
            fn(p); /* cannot remember it: release now rather than leak */
            fail_msg("harness_defer: out of memory");
        }
        g_deferred = d;
        g_deferred_cap = cap;
    }
    g_deferred[g_deferred_len].fn = fn;
    g_deferred[g_deferred_len].p = p;
    g_deferred_len++;
}

void harness_cleanup(void)
{
    while (g_deferred_len > 0) {
        deferred d = g_deferred[--g_deferred_len];
        d.fn(d.p);
    }
}

int harness_teardown(void **state)
{
    (void)state;
    harness_cleanup();
    return 0;
}

/* ---- misc ---------------------------------------------------------------------------- */

int64_t harness_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *harness_run_tag(void)
{
    static char tag[40];
    if (!tag[0])
        snprintf(tag, sizeof tag, "t%lx%llx", (unsigned long)getpid(),
                 (unsigned long long)time(NULL));
    return tag;
}

bool harness_code_from_name(const char *name, e2b_code *out)
{
    if (!name)
        return false;
    for (int c = 0; c <= 64; c++) {
        if (strcmp(e2b_code_name((e2b_code)c), name) == 0) {
            *out = (e2b_code)c;
            return true;
        }
    }
    return false;
}

bool harness_live_requested(void)
{
    const char *v = getenv("E2B_LIVE");
    return v && (!strcmp(v, "1") || !strcasecmp(v, "true") || !strcasecmp(v, "yes"));
}

/* ---- running a suite ------------------------------------------------------------------ */

static void usage(FILE *f, const char *argv0)
{
    fprintf(f,
            "usage: %s [--filter <glob>] [--list]\n"
            "  --filter <glob>  run only the tests whose name matches (also E2B_TEST_FILTER)\n"
            "  --list           print the test names and exit\n"
            "environment: E2B_MOCK_BIN (e2b-mock to start), E2B_FIXTURES_DIR,\n"
            "  E2B_LIVE=1 + E2B_API_KEY (run against real E2B), E2B_MOCK_VERBOSE=1 (mock stderr)\n",
            argv0);
}

int harness_run(int argc, char **argv, const char *group_name, const struct CMUnitTest *tests,
                size_t n)
{
    const char *filter = NULL;
    bool list = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--filter") && i + 1 < argc) {
            filter = argv[++i];
        } else if (!strncmp(argv[i], "--filter=", 9)) {
            filter = argv[i] + 9;
        } else if (!strcmp(argv[i], "--list")) {
            list = true;
        } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout, argv[0]);
            return 0;
        } else {
            fprintf(stderr, "%s: unknown argument '%s'\n", argv[0], argv[i]);
            usage(stderr, argv[0]);
            return 2;
        }
    }
    if (!filter) {
        const char *env = getenv("E2B_TEST_FILTER");
        if (env && *env)
            filter = env;
    }

    if (list) {
        for (size_t i = 0; i < n; i++)
            if (!filter || fnmatch(filter, tests[i].name, 0) == 0)
                printf("%s\n", tests[i].name);
        return 0;
    }

    struct CMUnitTest *copy = calloc(n ? n : 1, sizeof *copy);
    if (!copy) {
        fprintf(stderr, "%s: out of memory\n", argv[0]);
        return 1;
    }
    size_t matched = 0;
    for (size_t i = 0; i < n; i++) {
        copy[i] = tests[i];
        if (!copy[i].teardown_func)
            copy[i].teardown_func = harness_teardown;
        if (!filter || fnmatch(filter, tests[i].name, 0) == 0)
            matched++;
    }
    if (filter) {
        /* cmocka keeps the pointer; filter points into argv or the environment, which
         * outlive the run. */
        cmocka_set_test_filter(filter);
        if (matched == 0)
            fprintf(stderr, "%s: warning: filter '%s' matches none of the %zu tests\n", argv[0],
                    filter, n);
    }
    if (harness_live_requested() && !getenv("E2B_API_KEY"))
        fprintf(stderr, "%s: E2B_LIVE=1 but E2B_API_KEY is not set: live tests will be SKIPPED\n",
                argv[0]);

    int failed = _cmocka_run_group_tests(group_name, copy, n, NULL, NULL);
    free(copy);
    free(g_deferred);
    g_deferred = NULL;
    g_deferred_len = g_deferred_cap = 0;
    return failed;
}

/* ---- targets --------------------------------------------------------------------------- */

/* Path of e2b-mock next to this test: <exe dir>/../bin/e2b-mock (build/tests -> build/bin).
 * Writes into buf and returns it, or returns NULL when it does not exist. */
static const char *sibling_mock(char *buf, size_t len)
{
    char exe[PATH_MAX];
    ssize_t r = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (r <= 0)
        return NULL;
    exe[r] = '\0';
    char *slash = strrchr(exe, '/');
    if (!slash)
        return NULL;
    *slash = '\0';
    if ((size_t)snprintf(buf, len, "%s/../bin/e2b-mock", exe) >= len)
        return NULL;
    return access(buf, X_OK) == 0 ? buf : NULL;
}

static void free_client(void *p)
{
    e2b_client_free(p);
}

static void stop_target(void *p)
{
    harness_target *t = p;
    e2b_client_free(t->client);
    if (t->local) {
        int st = e2b_local_stop(t->local);
        if (st != 0)
            fprintf(stderr, "harness: e2b-mock did not shut down cleanly (status %d)\n", st);
    }
    free(t);
}

harness_target *harness_target_start(const harness_target_opts *opts)
{
    harness_target_opts defaults = {0};
    if (!opts)
        opts = &defaults;
    bool live = harness_live_requested();

    if (live) {
        if (!getenv("E2B_API_KEY") || !*getenv("E2B_API_KEY")) {
            print_message("SKIP: E2B_LIVE=1 needs E2B_API_KEY to reach real E2B\n");
            skip();
        }
        if (opts->mock_args && opts->mock_args[0]) {
            print_message("SKIP: this test configures e2b-mock (%s ...); not possible live\n",
                          opts->mock_args[0]);
            skip();
        }
    }

    harness_target *t = calloc(1, sizeof *t);
    if (!t)
        fail_msg("harness_target_start: out of memory");
    t->live = live;
    e2b_error err = {0};

    if (live) {
        e2b_code rc = e2b_config_from_env(&t->cfg, &err);
        if (rc != E2B_OK) {
            free(t);
            fail_msg("live config: %s: %s", e2b_code_name(rc), err.message);
        }
    } else {
        char buf[PATH_MAX];
        const char *env = getenv("E2B_MOCK_BIN");
        e2b_local_opts lo = {0};
        lo.mock_path = (env && *env) ? env : sibling_mock(buf, sizeof buf);
        lo.extra_args = opts->mock_args;
        lo.start_timeout_ms = 10000;
        const char *verbose = getenv("E2B_MOCK_VERBOSE");
        lo.quiet = !(verbose && *verbose && strcmp(verbose, "0") != 0);
        e2b_code rc = e2b_local_start(&lo, &t->local, &err);
        if (rc != E2B_OK) {
            free(t);
            fail_msg("starting e2b-mock (%s): %s: %s", lo.mock_path ? lo.mock_path : "default",
                     e2b_code_name(rc), err.message);
        }
        e2b_local_config(t->local, &t->cfg);
    }
    if (opts->override_api_key)
        t->cfg.api_key = opts->api_key;

    e2b_code rc = e2b_client_new(&t->cfg, &t->client, &err);
    if (rc != E2B_OK) {
        stop_target(t);
        fail_msg("e2b_client_new: %s: %s", e2b_code_name(rc), err.message);
    }
    t->url = e2b_client_api_url(t->client);
    harness_defer(stop_target, t);
    return t;
}

e2b_client *harness_target_client(harness_target *t, const char *api_key)
{
    e2b_config cfg = t->cfg;
    cfg.api_key = api_key;
    e2b_client *c = NULL;
    e2b_error err = {0};
    e2b_code rc = e2b_client_new(&cfg, &c, &err);
    if (rc != E2B_OK)
        fail_msg("e2b_client_new (api key %s): %s: %s", api_key ? api_key : "(none)",
                 e2b_code_name(rc), err.message);
    harness_defer(free_client, c);
    return c;
}

/* ---- e2b-mock admin API -------------------------------------------------------------- */

typedef struct admin_buf {
    char *p;
    size_t len;
} admin_buf;

static size_t admin_write(char *data, size_t sz, size_t n, void *ud)
{
    admin_buf *b = ud;
    char *np = realloc(b->p, b->len + sz * n + 1);
    if (!np)
        return 0;
    memcpy(np + b->len, data, sz * n);
    b->p = np;
    b->len += sz * n;
    b->p[b->len] = '\0';
    return sz * n;
}

char *harness_mock_admin(harness_target *t, const char *method, const char *path, const char *body,
                         long *status)
{
    if (t->live)
        skip();
    char url[1024];
    snprintf(url, sizeof url, "%s%s", t->url, path);
    CURL *h = curl_easy_init();
    if (!h)
        fail_msg("curl_easy_init failed");
    admin_buf b = {0};
    struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 30000L);
    if (body)
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, admin_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    CURLcode rc = curl_easy_perform(h);
    long st = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &st);
    curl_slist_free_all(hdr);
    curl_easy_cleanup(h);
    if (rc != CURLE_OK) {
        free(b.p);
        fail_msg("admin %s %s: %s", method, path, curl_easy_strerror(rc));
    }
    if (status)
        *status = st;
    if (!b.p && !(b.p = calloc(1, 1)))
        fail_msg("out of memory");
    return b.p;
}

void harness_mock_scenarios(harness_target *t, const char *rules_json)
{
    long st = 0;
    char *r = harness_mock_admin(t, "POST", "/_mock/scenarios", rules_json, &st);
    if (st != 200) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", r);
        free(r);
        fail_msg("loading scenarios: HTTP %ld: %s", st, msg);
        return; /* fail_msg does not return; this tells cppcheck so */
    }
    free(r);
}

long harness_mock_journal_count(harness_target *t, const char *query)
{
    char path[1024];
    snprintf(path, sizeof path, "/_mock/journal/count%s%s", query && *query ? "?" : "",
             query ? query : "");
    long st = 0;
    char *r = harness_mock_admin(t, "GET", path, NULL, &st);
    cJSON *j = cJSON_Parse(r);
    free(r);
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(j, "count");
    long n = cJSON_IsNumber(c) ? (long)c->valuedouble : -1;
    cJSON_Delete(j);
    if (st != 200 || n < 0)
        fail_msg("journal count (%s): HTTP %ld", query ? query : "", st);
    return n;
}

void harness_mock_advance_clock(harness_target *t, long long ms)
{
    char body[64];
    snprintf(body, sizeof body, "{\"ms\":%lld}", ms);
    long st = 0;
    free(harness_mock_admin(t, "POST", "/_mock/clock/advance", body, &st));
    if (st != 200)
        fail_msg("clock advance: HTTP %ld", st);
}
