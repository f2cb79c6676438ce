/* errors_faults.c - every scripted fault of fixtures/faults/ (every .json) against every family of
 * client operation, asserting libe2b's typed error.
 *
 * A fault fixture is {"name", "description", "rule": <scenario rule without "match">,
 * "rules": {"<family>": <rule>} (family-specific rules, e.g. stream faults), "expect":
 * {"<family>" | "*": "<code name>" | {"code", "status", "calls", "partialStdout", "maxMs",
 * "retryAfter", "journal"} | {"na": "<why this fault cannot apply to the family>"}}}, optionally "advanceClockMs" (a first call is served and must
 * succeed, then the mock clock moves on by that much, then the asserted call). Each
 * (fault, family) pair that has an expectation becomes one cmocka test "<fault>/<family>".
 * Families and the client call that exercises them (the rule's "match" is filled in here):
 *   control      e2b_sandbox_get_info          GET /sandboxes/{id}
 *   create       e2b_sandbox_create            POST /sandboxes
 *   execute      e2b_run_code                  POST /execute        (code interpreter)
 *   envd_unary   e2b_files_stat                /filesystem.Filesystem/Stat (Connect unary)
 *   envd_stream  e2b_commands_run              /process.Process/Start (Connect stream)
 *   files_read   e2b_files_read                GET /files
 *   files_write  e2b_files_write               POST /files
 * Every call must also come back within a generous bound of its configured timeouts, and
 * "calls" checks how often the mock saw the request (retries) in its journal. */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REQ_TIMEOUT_MS 3000L /* the client's request timeout in these tests */
#define EXEC_TIMEOUT_MS 4000L
#define BOUND_MS 25000 /* generous: any call must be back well within this */

typedef struct family {
    const char *name;
    const char *match;   /* JSON "match" object */
    const char *journal; /* journal filter for "calls" */
} family;

static const family families[] = {
    {"control", "{\"method\":\"GET\",\"pathRegex\":\"^/sandboxes/[^/]+$\",\"port\":\"control\"}",
     "method=GET&path=/sandboxes/*"},
    {"create", "{\"method\":\"POST\",\"pathRegex\":\"^(/v2)?/sandboxes$\",\"port\":\"control\"}",
     "method=POST&path=*/sandboxes"},
    {"execute", "{\"method\":\"POST\",\"path\":\"/execute\",\"port\":\"code\"}",
     "method=POST&path=/execute"},
    {"envd_unary", "{\"path\":\"/filesystem.Filesystem/Stat\",\"port\":\"envd\"}",
     "path=/filesystem.Filesystem/Stat"},
    {"envd_stream", "{\"path\":\"/process.Process/Start\",\"port\":\"envd\"}",
     "path=/process.Process/Start"},
    {"files_read", "{\"method\":\"GET\",\"path\":\"/files\",\"port\":\"envd\"}",
     "method=GET&path=/files"},
    {"files_write", "{\"method\":\"POST\",\"path\":\"/files\",\"port\":\"envd\"}",
     "method=POST&path=/files"},
};
#define NFAM (sizeof families / sizeof families[0])

typedef struct fcase {
    char *fixture; /* relative path */
    char *fault;
    const family *fam;
    char name[160];
} fcase;

static const cJSON *expectation(const cJSON *root, const char *fam)
{
    const cJSON *ex = cJSON_GetObjectItemCaseSensitive(root, "expect");
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(ex, fam);
    if (!e &&
        (cJSON_GetObjectItemCaseSensitive(root, "rule") ||
         cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(root, "rules"), fam)))
        e = cJSON_GetObjectItemCaseSensitive(ex, "*");
    return e;
}

static void defer_json(void *p)
{
    cJSON_Delete(p);
}
static void defer_free(void *p)
{
    free(p);
}
static void defer_sbx(void *p)
{
    e2b_sandbox_free(p);
}
static void defer_client(void *p)
{
    e2b_client_free(p);
}

/* The client call of one family against sbx; *partial receives the stdout that arrived
 * (execute / envd_stream; malloc'd or NULL). */
static e2b_code family_call(const char *f, e2b_client *cl, e2b_sandbox *sbx,
                            const e2b_create_opts *co, char **partial, e2b_error *err)
{
    e2b_code rc = E2B_OK;
    *partial = NULL;
    if (!strcmp(f, "control")) {
        e2b_sandbox_info *info = NULL;
        rc = e2b_sandbox_get_info(cl, e2b_sandbox_id(sbx), &info, err);
        e2b_sandbox_info_free(info);
    } else if (!strcmp(f, "create")) {
        e2b_sandbox *s2 = NULL;
        rc = e2b_sandbox_create(cl, co, &s2, err);
        e2b_sandbox_free(s2);
    } else if (!strcmp(f, "execute")) {
        e2b_run_opts ro;
        e2b_run_opts_init(&ro);
        ro.timeout_ms = EXEC_TIMEOUT_MS;
        e2b_execution *exn = NULL;
        rc = e2b_run_code(sbx, "print('hi')", &ro, &exn, err);
        if (exn) {
            e2b_error e2;
            e2b_execution_logs_text(exn, E2B_LOG_STDOUT, partial, &e2);
            e2b_execution_free(exn);
        }
    } else if (!strcmp(f, "envd_unary")) {
        e2b_entry_info *info = NULL;
        rc = e2b_files_stat(sbx, "/home/user", NULL, &info, err);
        e2b_entry_info_free(info);
    } else if (!strcmp(f, "envd_stream")) {
        e2b_command_opts op = {0};
        op.timeout_ms = EXEC_TIMEOUT_MS;
        e2b_command_result res;
        rc = e2b_commands_run(sbx, "echo hi", &op, &res, err);
        if (res.stdout_data)
            *partial = strdup(res.stdout_data);
        e2b_command_result_free(&res);
    } else if (!strcmp(f, "files_read")) {
        char *data = NULL;
        size_t len = 0;
        rc = e2b_files_read(sbx, "/home/user/x.txt", NULL, &data, &len, err);
        free(data);
    } else if (!strcmp(f, "files_write")) {
        e2b_entry_info *info = NULL;
        rc = e2b_files_write(sbx, "/home/user/x.txt", "abc", 3, NULL, &info, err);
        e2b_entry_info_free(info);
    }
    return rc;
}

static void run_case(void **state)
{
    const fcase *fc = *state;
    char errbuf[512];
    cJSON *root = harness_fixture_load(fc->fixture, errbuf, sizeof errbuf);
    if (!root)
        fail_msg("%s", errbuf);
    harness_defer(defer_json, root);
    const cJSON *ex = expectation(root, fc->fam->name);
    const cJSON *code_j = cJSON_IsString(ex) ? ex : cJSON_GetObjectItemCaseSensitive(ex, "code");
    /* a documented client divergence: assert what the client does today (so a fix shows up
     * here and the fixture gets updated) and print the issue */
    const cJSON *known = cJSON_GetObjectItemCaseSensitive(ex, "knownIssue");
    const cJSON *observed = cJSON_GetObjectItemCaseSensitive(ex, "observed");
    if (cJSON_IsString(known) && observed) {
        /* observed: a code name, or a whole expectation object (code, calls, ...) */
        print_message("[ known ] %s: %s\n", fc->name, known->valuestring);
        if (cJSON_IsObject(observed)) {
            ex = observed;
            code_j = cJSON_GetObjectItemCaseSensitive(ex, "code");
        } else {
            code_j = observed;
        }
    }
    e2b_code want;
    if (!cJSON_IsString(code_j) || !harness_code_from_name(code_j->valuestring, &want))
        fail_msg("%s: bad expectation for %s", fc->fixture, fc->fam->name);

    harness_target *t = harness_target_start(NULL);
    e2b_config cfg = t->cfg;
    cfg.request_timeout_ms = REQ_TIMEOUT_MS;
    const cJSON *retries = cJSON_GetObjectItemCaseSensitive(root, "maxRetries429");
    if (cJSON_IsNumber(retries))
        cfg.max_retries_429 = retries->valueint;
    e2b_client *cl = NULL;
    e2b_error err;
    harness_assert_ok(e2b_client_new(&cfg, &cl, &err), &err, "client");
    harness_defer(defer_client, cl);

    /* a healthy sandbox first (the fault is loaded after it exists) */
    e2b_sandbox *sbx = NULL;
    e2b_create_opts co;
    e2b_create_opts_init(&co);
    co.template_id = "code-interpreter-v1";
    harness_assert_ok(e2b_sandbox_create(cl, &co, &sbx, &err), &err, "create");
    harness_defer(defer_sbx, sbx);
    e2b_entry_info *x_info = NULL; /* the file files_read reads (when nothing intercepts) */
    harness_assert_ok(e2b_files_write(sbx, "/home/user/x.txt", "abc", 3, NULL, &x_info, &err), &err,
                      "write /home/user/x.txt");
    e2b_entry_info_free(x_info);

    /* the rule: family-specific, else the generic one, with this family's match */
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(root, "rules"), fc->fam->name);
    if (!r)
        r = cJSON_GetObjectItemCaseSensitive(root, "rule");
    cJSON *rule = cJSON_Duplicate(r, 1);
    cJSON *match = cJSON_Parse(fc->fam->match);
    if (!rule || !match)
        fail_msg("out of memory");
    cJSON_AddStringToObject(rule, "name", fc->fault);
    cJSON_AddItemToObject(rule, "match", match);
    char *rj = cJSON_PrintUnformatted(rule);
    cJSON_Delete(rule);
    harness_defer(defer_free, rj);
    harness_mock_scenarios(t, rj);
    long calls0 = harness_mock_journal_count(t, fc->fam->journal);

    /* "advanceClockMs" (e.g. vanish): a first call is served (and must succeed), the mock
     * clock moves on, and the call after that is the one asserted */
    const cJSON *adv = cJSON_GetObjectItemCaseSensitive(root, "advanceClockMs");
    if (cJSON_IsNumber(adv)) {
        char *p0 = NULL;
        e2b_code rc0 = family_call(fc->fam->name, cl, sbx, &co, &p0, &err);
        free(p0);
        harness_assert_ok(rc0, &err, "the call before the clock moves");
        harness_mock_advance_clock(t, (long long)adv->valuedouble);
        calls0 = harness_mock_journal_count(t, fc->fam->journal);
    }
    e2b_error_clear(&err);
    int64_t t0 = harness_now_ms();
    char *partial = NULL;
    const char *f = fc->fam->name;
    e2b_code rc = family_call(f, cl, sbx, &co, &partial, &err);
    int64_t took = harness_now_ms() - t0;
    if (partial)
        harness_defer(defer_free, partial);
    print_message("[ fault ] %-22s %-12s -> %s (http %d) in %lld ms: %.120s\n", fc->fault, f,
                  e2b_code_name(rc), err.http_status, (long long)took, err.message);
    /* one machine-readable line per case: conformance/faults_table.py builds FAULTS.md */
    long ncalls = harness_mock_journal_count(t, fc->fam->journal) - calls0;
    print_message("FAULTCELL|%s|%s|%s|%d|%ld|%lld|%s\n", fc->fault, f, e2b_code_name(rc),
                  err.http_status, ncalls, (long long)took, code_j->valuestring);
    harness_assert_code(rc, want, &err, fc->name);
    if (took > BOUND_MS)
        fail_msg("%s: took %lld ms (bound %d)", fc->name, (long long)took, BOUND_MS);
    const cJSON *mx = cJSON_GetObjectItemCaseSensitive(ex, "maxMs");
    if (cJSON_IsNumber(mx) && took > mx->valueint)
        fail_msg("%s: took %lld ms, want under %d", fc->name, (long long)took, mx->valueint);
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(ex, "status");
    if (cJSON_IsNumber(st) && err.http_status != st->valueint)
        fail_msg("%s: http_status %d, want %d", fc->name, err.http_status, st->valueint);
    const cJSON *ra = cJSON_GetObjectItemCaseSensitive(ex, "retryAfter");
    if (cJSON_IsNumber(ra) && err.retry_after_s != ra->valueint)
        fail_msg("%s: retry_after_s %d, want %d", fc->name, err.retry_after_s, ra->valueint);
    const cJSON *ps = cJSON_GetObjectItemCaseSensitive(ex, "partialStdout");
    if (cJSON_IsString(ps) && (!partial || !strstr(partial, ps->valuestring)))
        fail_msg("%s: partial stdout %s does not contain \"%s\"", fc->name,
                 partial ? partial : "(none)", ps->valuestring);
    const cJSON *calls = cJSON_GetObjectItemCaseSensitive(ex, "calls");
    if (cJSON_IsNumber(calls)) {
        long n = harness_mock_journal_count(t, fc->fam->journal) - calls0;
        if (n != calls->valueint)
            fail_msg("%s: the mock saw %ld calls, want %d", fc->name, n, calls->valueint);
    }
    const cJSON *jq = cJSON_GetObjectItemCaseSensitive(ex, "journal");
    for (const cJSON *q = jq ? jq->child : NULL; q; q = q->next)
        if (cJSON_IsNumber(q) && harness_mock_journal_count(t, q->string) != q->valueint)
            fail_msg("%s: journal count %s != %d", fc->name, q->string, q->valueint);
    /* the mock is still healthy after the fault (the sandbox is gone after a clock move) */
    free(harness_mock_admin(t, "DELETE", "/_mock/scenarios", NULL, NULL));
    e2b_sandbox_info *info = NULL;
    e2b_code hc = e2b_sandbox_get_info(cl, e2b_sandbox_id(sbx), &info, &err);
    e2b_sandbox_info_free(info);
    if (cJSON_IsNumber(adv))
        harness_assert_code(hc, E2B_ERR_SANDBOX_NOT_FOUND, &err, "get_info after the clock moved");
    else if (strcmp(f, "create") != 0 || strcmp(fc->fault, "create_lost") != 0)
        harness_assert_ok(hc, &err, "get_info after the fault");
}

int main(int argc, char **argv)
{
    char **names = NULL;
    size_t n = 0;
    if (harness_fixture_list("faults", &names, &n) != 0)
        return 1;
    fcase *cases = calloc(n * NFAM + 1, sizeof *cases);
    struct CMUnitTest *tests = calloc(n * NFAM + 1, sizeof *tests);
    size_t nt = 0;
    if (!cases || !tests)
        return 1;
    for (size_t i = 0; i < n; i++) {
        char errbuf[512];
        cJSON *root = harness_fixture_load(names[i], errbuf, sizeof errbuf);
        if (!root) {
            fprintf(stderr, "%s\n", errbuf);
            return 1;
        }
        const cJSON *nm = cJSON_GetObjectItemCaseSensitive(root, "name");
        for (size_t k = 0; k < NFAM; k++) {
            const cJSON *e = expectation(root, families[k].name);
            if (!e || cJSON_GetObjectItemCaseSensitive(e, "na"))
                continue; /* {"na": "<why the fault cannot apply>"}: no case */
            fcase *fc = &cases[nt];
            fc->fixture = strdup(names[i]);
            fc->fault = strdup(cJSON_IsString(nm) ? nm->valuestring : names[i]);
            fc->fam = &families[k];
            snprintf(fc->name, sizeof fc->name, "%s/%s", fc->fault, families[k].name);
            tests[nt] = (struct CMUnitTest){fc->name, run_case, NULL, harness_teardown, fc};
            nt++;
        }
        cJSON_Delete(root);
    }
    harness_fixture_list_free(names, n);
    int rc = harness_run(argc, argv, "errors_faults", tests, nt);
    for (size_t i = 0; i < nt; i++) {
        free(cases[i].fixture);
        free(cases[i].fault);
    }
    free(cases);
    free(tests);
    return rc;
}
