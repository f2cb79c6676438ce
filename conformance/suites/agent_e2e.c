/* agent_e2e.c - the agent layer end to end (e2b/agent_service.h): chat messages through
 * e2b_agent_handle_message against a fresh target (a private e2b-mock with its real
 * Python/JavaScript/bash kernels, or live E2B with E2B_LIVE=1), checked for the action
 * chosen, the reply text, the reply JSON, the attachments and what happened on the control
 * plane.
 *
 * Every file fixtures/agent-e2e/<name>.json is one cmocka test named after its "name"
 * (`--filter 'kill*'`, E2B_TEST_FILTER). The cases are the @elizaos/plugin-e2b examples and
 * each of its known bugs (shared/reference/plugin-e2b.md). Each test gets a fresh target,
 * a fresh service (e2b_agent_service_new; killed at the end) and a temporary output dir.
 *
 * Fixture format (unknown keys in a step or an expect are an error, so typos fail loudly):
 *   {"name", "description", "live": false (mock only; skipped with E2B_LIVE=1),
 *    "service": {"max_sandboxes", "sandbox_timeout_s", "exec_timeout_ms", "template"},
 *    "steps": [...]}
 * Steps ("op", default "message"):
 *   message         "message": string, or array of lines joined with "
";
 *                   "expect": {"action": "EXECUTE_CODE"|"MANAGE_SANDBOX"|"NONE",
 *                     "success": bool, "infra": <e2b_code_name> (without it the reply must
 *                     carry no infrastructure error), "text": matcher, "json": subset of the
 *                     reply JSON, "attachments": {"count", "png": true (each file is in the
 *                     output dir, >= 100 bytes, starts with the PNG signature)}};
 *                   without "attachments" the reply must have none;
 *                   "save": {"var": "data.sandboxId"} stores a string of the reply JSON
 *                   (dotted path, array items by number)
 *   sandbox         "id", "expect": {"exists" (default true), "lifetime_s" (endAt-startedAt
 *                   +-2 s), "template", "metadata" {k: v}} - asked of the control plane
 *   tracked         "expect": {"count", "contains" [ids], "excludes" [ids], "current": id}
 *   create_outside  "save_as": a sandbox created directly on the control plane (untracked)
 *   status          "health": true runs a health check first; "expect": {"text": matcher,
 *                   "json": subset of the provider JSON}
 *   sleep           "ms"
 * "${var}" inside any string is a saved value ("$${" is a literal "${"). A matcher is null
 * (absent), a string (equal) or {"equals", "contains": s|[..], "not_contains": s|[..],
 * "regex" (POSIX ERE), "present"}. In a JSON subset, objects match by key, arrays element by
 * element with the same length, and {"~": matcher | {"min", "max"} | "any"} matches one
 * value loosely.
 * Always checked: the reply JSON's text/action/success agree with the reply struct, and every
 * attachment is listed in the JSON.
 */

#include "harness.h"

#include <ftw.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "e2b/agent_service.h"

typedef harness_fixture_case fcase;

typedef struct ctx {
    const fcase *fc;
    harness_target *t;
    e2b_agent_service *svc;
    char outdir[64];
    harness_vars vars;
    int step;
} ctx;

#define FAIL(c, fmt, ...) \
    fail_msg("%s [%s] step %d: " fmt, (c)->fc->name, (c)->fc->path, (c)->step, ##__VA_ARGS__)

/* ---- variables: "${name}" inside strings ---------------------------------------------- */

static void set_var(ctx *c, const char *name, const char *value)
{
    harness_vars_set(HARNESS_STEP(c->fc->name, c->fc->path, c->step, NULL), &c->vars, name, value);
}

/* s with every ${name} replaced; a heap string freed at the end of the test. */
static char *subst(ctx *c, const char *s)
{
    size_t cap = strlen(s) + 1, len = 0;
    char *o = malloc(cap);
    for (const char *p = s; *p;) {
        const char *val = NULL;
        size_t skip = 1;
        if (p[0] == '$' && p[1] == '$' && p[2] == '{') { /* "$${" is a literal "${" */
            val = "${";
            skip = 3;
        } else if (p[0] == '$' && p[1] == '{') {
            const char *end = strchr(p, '}');
            if (!end)
                FAIL(c, "unterminated ${ in \"%s\"", s);
            size_t n = (size_t)(end - p - 2);
            val = harness_vars_get(&c->vars, p + 2, n);
            if (!val)
                FAIL(c, "unknown variable %.*s (save it first)", (int)n, p + 2);
            skip = (size_t)(end - p) + 1;
        }
        size_t add = val ? strlen(val) : 1;
        if (len + add + 1 > cap) {
            cap = (len + add + 1) * 2;
            o = realloc(o, cap);
        }
        memcpy(o + len, val ? val : p, add);
        len += add;
        p += skip;
    }
    o[len] = '\0';
    harness_defer(free, o);
    return o;
}

/* A string, or an array of strings joined with "\n" (readable multi-line messages). */
static char *jtext(ctx *c, const cJSON *v, const char *what)
{
    if (cJSON_IsString(v))
        return subst(c, v->valuestring);
    if (!cJSON_IsArray(v))
        FAIL(c, "%s must be a string or an array of lines", what);
    size_t len = 0;
    for (const cJSON *it = v->child; it; it = it->next) {
        if (!cJSON_IsString(it))
            FAIL(c, "%s: every line must be a string", what);
        len += strlen(it->valuestring) + 1;
    }
    char *s = calloc(1, len + 1);
    for (const cJSON *it = v->child; it; it = it->next) {
        strcat(s, it->valuestring);
        if (it->next)
            strcat(s, "\n");
    }
    char *r = subst(c, s);
    free(s);
    return r;
}

/* ---- matchers ---------------------------------------------------------------------------- */

static void check_one_contains(ctx *c, const char *what, const char *got, const cJSON *v, bool want)
{
    if (cJSON_IsString(v)) {
        const char *needle = subst(c, v->valuestring);
        if ((strstr(got, needle) != NULL) != want)
            FAIL(c, "%s %s \"%s\"; it is:\n%s", what, want ? "lacks" : "contains", needle, got);
    } else if (cJSON_IsArray(v)) {
        for (const cJSON *it = v->child; it; it = it->next)
            check_one_contains(c, what, got, it, want);
    } else {
        FAIL(c, "%s: contains/not_contains must be a string or an array", what);
    }
}

/* null: absent; string: equal; object: equals, contains, not_contains, regex, present. */
static void match(ctx *c, const char *what, const char *got, const cJSON *m)
{
    if (cJSON_IsNull(m)) {
        if (got)
            FAIL(c, "%s should be absent, is \"%s\"", what, got);
        return;
    }
    if (cJSON_IsString(m)) {
        const char *want = subst(c, m->valuestring);
        if (!got || strcmp(got, want) != 0)
            FAIL(c, "%s is \"%s\", expected \"%s\"", what, got ? got : "(absent)", want);
        return;
    }
    if (!cJSON_IsObject(m))
        FAIL(c, "%s: a matcher is null, a string or an object", what);
    const cJSON *present = cJSON_GetObjectItemCaseSensitive(m, "present");
    if (present && cJSON_IsTrue(present) != (got != NULL))
        FAIL(c, "%s should %sbe present", what, cJSON_IsTrue(present) ? "" : "not ");
    if (!got) {
        if (!present)
            FAIL(c, "%s is absent", what);
        return;
    }
    for (const cJSON *it = m->child; it; it = it->next) {
        if (!strcmp(it->string, "equals")) {
            if (strcmp(got, subst(c, it->valuestring)) != 0)
                FAIL(c, "%s is \"%s\", expected \"%s\"", what, got, it->valuestring);
        } else if (!strcmp(it->string, "contains")) {
            check_one_contains(c, what, got, it, true);
        } else if (!strcmp(it->string, "not_contains")) {
            check_one_contains(c, what, got, it, false);
        } else if (!strcmp(it->string, "regex")) {
            regex_t re;
            if (!cJSON_IsString(it) || regcomp(&re, it->valuestring, REG_EXTENDED | REG_NOSUB))
                FAIL(c, "%s: bad regex", what);
            int r = regexec(&re, got, 0, NULL, 0);
            regfree(&re);
            if (r != 0)
                FAIL(c, "%s does not match /%s/:\n%s", what, it->valuestring, got);
        } else if (strcmp(it->string, "present") != 0) {
            FAIL(c, "%s: unknown matcher key \"%s\"", what, it->string);
        }
    }
}

/* Subset match of JSON: objects by key, arrays element by element (same length), scalars
 * equal (strings after ${} substitution). {"~": matcher} matches a string with match(),
 * {"~": {"min": a, "max": b}} a number in range, {"~": "any"} anything present. */
static void json_subset(ctx *c, const char *path, const cJSON *got, const cJSON *want)
{
    const cJSON *m = cJSON_IsObject(want) ? cJSON_GetObjectItemCaseSensitive(want, "~") : NULL;
    if (m) {
        if (!got)
            FAIL(c, "%s is missing", path);
        if (cJSON_IsString(m) && !strcmp(m->valuestring, "any"))
            return;
        const cJSON *mn = cJSON_GetObjectItemCaseSensitive(m, "min");
        const cJSON *mx = cJSON_GetObjectItemCaseSensitive(m, "max");
        if (mn || mx) {
            if (!cJSON_IsNumber(got))
                FAIL(c, "%s is not a number", path);
            if ((mn && got->valuedouble < mn->valuedouble) ||
                (mx && got->valuedouble > mx->valuedouble))
                FAIL(c, "%s = %g is out of [%g, %g]", path, got->valuedouble,
                     mn ? mn->valuedouble : -1e300, mx ? mx->valuedouble : 1e300);
            return;
        }
        match(c, path, cJSON_IsString(got) ? got->valuestring : NULL, m);
        return;
    }
    if (!got)
        FAIL(c, "%s is missing", path);
    char sub[512];
    if (cJSON_IsObject(want)) {
        if (!cJSON_IsObject(got))
            FAIL(c, "%s is not an object", path);
        for (const cJSON *it = want->child; it; it = it->next) {
            snprintf(sub, sizeof sub, "%s.%s", path, it->string);
            json_subset(c, sub, cJSON_GetObjectItemCaseSensitive(got, it->string), it);
        }
    } else if (cJSON_IsArray(want)) {
        if (!cJSON_IsArray(got))
            FAIL(c, "%s is not an array", path);
        if (cJSON_GetArraySize(got) != cJSON_GetArraySize(want)) {
            char *s = cJSON_PrintUnformatted(got);
            harness_defer(free, s);
            FAIL(c, "%s has %d elements, expected %d: %s", path, cJSON_GetArraySize(got),
                 cJSON_GetArraySize(want), s);
        }
        int i = 0;
        for (const cJSON *w = want->child, *g = got->child; w; w = w->next, g = g->next, i++) {
            snprintf(sub, sizeof sub, "%s[%d]", path, i);
            json_subset(c, sub, g, w);
        }
    } else if (cJSON_IsString(want)) {
        const char *w = subst(c, want->valuestring);
        if (!cJSON_IsString(got) || strcmp(got->valuestring, w) != 0)
            FAIL(c, "%s is %s, expected \"%s\"", path,
                 cJSON_IsString(got) ? got->valuestring : "(not a string)", w);
    } else if (cJSON_IsNumber(want)) {
        if (!cJSON_IsNumber(got) || got->valuedouble != want->valuedouble)
            FAIL(c, "%s is not %g", path, want->valuedouble);
    } else if (cJSON_IsBool(want)) {
        if (!cJSON_IsBool(got) || cJSON_IsTrue(got) != cJSON_IsTrue(want))
            FAIL(c, "%s is not %s", path, cJSON_IsTrue(want) ? "true" : "false");
    } else if (cJSON_IsNull(want)) {
        if (!cJSON_IsNull(got))
            FAIL(c, "%s is not null", path);
    }
}

/* "data.executionResults.0.stdout" -> the node (arrays indexed by number). */
static const cJSON *json_path(const cJSON *root, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    const cJSON *cur = root;
    for (char *save = NULL, *tok = strtok_r(buf, ".", &save); tok && cur;
         tok = strtok_r(NULL, ".", &save)) {
        if (cJSON_IsArray(cur))
            cur = cJSON_GetArrayItem(cur, atoi(tok));
        else
            cur = cJSON_GetObjectItemCaseSensitive(cur, tok);
    }
    return cur;
}

/* ---- per-test setup ---------------------------------------------------------------------- */

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

static void rm_tree(void *p)
{
    nftw(p, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void svc_free(void *p)
{
    e2b_agent_service_free(p);
}

static void ctx_free(void *p)
{
    ctx *c = p;
    harness_vars_free(&c->vars);
    free(c);
}

static void info_free(void *p)
{
    e2b_sandbox_info_free(p);
}

static void json_free(void *p)
{
    cJSON_Delete(p);
}

static void reply_free(void *p)
{
    e2b_agent_reply_free(p);
    free(p);
}

static void check_keys(ctx *c, const cJSON *o, const char *where, const char *const *allowed)
{
    for (const cJSON *it = o ? o->child : NULL; it; it = it->next) {
        bool ok = false;
        for (const char *const *a = allowed; *a; a++)
            ok = ok || !strcmp(*a, it->string);
        if (!ok)
            FAIL(c, "unknown key \"%s\" in %s", it->string, where);
    }
}

/* ---- steps ------------------------------------------------------------------------------ */

static void check_attachments(ctx *c, const e2b_agent_reply *r, const cJSON *want)
{
    static const char *const keys[] = {"count", "png", NULL};
    check_keys(c, want, "expect.attachments", keys);
    const cJSON *count = cJSON_GetObjectItemCaseSensitive(want, "count");
    if (count && (size_t)count->valueint != r->attachment_count)
        FAIL(c, "%zu attachments, expected %d", r->attachment_count, count->valueint);
    bool png = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(want, "png"));
    for (size_t i = 0; i < r->attachment_count; i++) {
        const char *p = r->attachments[i];
        if (strncmp(p, c->outdir, strlen(c->outdir)) != 0)
            FAIL(c, "attachment %s is not in the output dir %s", p, c->outdir);
        FILE *f = fopen(p, "rb");
        if (!f)
            FAIL(c, "attachment %s cannot be opened", p);
        unsigned char magic[8] = {0};
        size_t n = fread(magic, 1, 8, f);
        fseek(f, 0, SEEK_END);
        long size = ftell(f);
        fclose(f);
        if (size < 100)
            FAIL(c, "attachment %s has only %ld bytes", p, size);
        if (png && (n != 8 || memcmp(magic, "\x89PNG\r\n\x1a\n", 8) != 0))
            FAIL(c, "attachment %s does not start with the PNG signature", p);
        /* the attachment is also listed in the JSON */
        const cJSON *att = cJSON_GetObjectItemCaseSensitive(r->json, "attachments");
        const cJSON *e = cJSON_GetArrayItem(att, (int)i);
        const cJSON *ep = e ? cJSON_GetObjectItemCaseSensitive(e, "path") : NULL;
        if (!cJSON_IsString(ep) || strcmp(ep->valuestring, p) != 0)
            FAIL(c, "attachment %zu is not in the reply JSON", i);
    }
}

static void op_message(ctx *c, const cJSON *step)
{
    static const char *const keys[] = {"op", "message", "expect", "save", "note", NULL};
    static const char *const ekeys[] = {"action", "success",     "infra", "text",
                                        "json",   "attachments", NULL};
    check_keys(c, step, "a message step", keys);
    const char *msg = jtext(c, cJSON_GetObjectItemCaseSensitive(step, "message"), "message");
    e2b_agent_reply *r = calloc(1, sizeof *r);
    harness_defer(reply_free, r);
    e2b_error err;
    e2b_code rc = e2b_agent_handle_message(c->svc, msg, strlen(msg), r, &err);
    if (rc != E2B_OK)
        FAIL(c, "e2b_agent_handle_message: %s: %s", e2b_code_name(rc), err.message);
    /* always: the JSON envelope agrees with the struct */
    if (!r->text || !r->json)
        FAIL(c, "reply without text or JSON");
    const cJSON *jt = cJSON_GetObjectItemCaseSensitive(r->json, "text");
    const cJSON *ja = cJSON_GetObjectItemCaseSensitive(r->json, "action");
    const cJSON *js = cJSON_GetObjectItemCaseSensitive(r->json, "success");
    if (!cJSON_IsString(jt) || strcmp(jt->valuestring, r->text) != 0 || !cJSON_IsString(ja) ||
        strcmp(ja->valuestring, e2b_agent_action_name(r->action)) != 0 ||
        cJSON_IsTrue(js) != r->success)
        FAIL(c, "reply JSON disagrees with the reply struct");

    const cJSON *ex = cJSON_GetObjectItemCaseSensitive(step, "expect");
    check_keys(c, ex, "expect", ekeys);
    const cJSON *v;
    if ((v = cJSON_GetObjectItemCaseSensitive(ex, "action")) &&
        strcmp(v->valuestring, e2b_agent_action_name(r->action)) != 0)
        FAIL(c, "action %s, expected %s; reply:\n%s", e2b_agent_action_name(r->action),
             v->valuestring, r->text);
    if ((v = cJSON_GetObjectItemCaseSensitive(ex, "success")) && cJSON_IsTrue(v) != r->success)
        FAIL(c, "success is %s, expected %s; reply:\n%s", r->success ? "true" : "false",
             cJSON_IsTrue(v) ? "true" : "false", r->text);
    v = cJSON_GetObjectItemCaseSensitive(ex, "infra");
    if (!v && r->infra != E2B_OK)
        FAIL(c, "infrastructure error %s; reply:\n%s", e2b_code_name(r->infra), r->text);
    if (v && cJSON_IsString(v) && strcmp(e2b_code_name(r->infra), v->valuestring) != 0)
        FAIL(c, "infra is %s, expected %s", e2b_code_name(r->infra), v->valuestring);
    if ((v = cJSON_GetObjectItemCaseSensitive(ex, "text")))
        match(c, "reply text", r->text, v);
    if ((v = cJSON_GetObjectItemCaseSensitive(ex, "json")))
        json_subset(c, "reply", r->json, v);
    if ((v = cJSON_GetObjectItemCaseSensitive(ex, "attachments")))
        check_attachments(c, r, v);
    else if (r->attachment_count)
        FAIL(c, "%zu unexpected attachments", r->attachment_count);
    const cJSON *save = cJSON_GetObjectItemCaseSensitive(step, "save");
    for (const cJSON *it = save ? save->child : NULL; it; it = it->next) {
        const cJSON *node = json_path(r->json, it->valuestring);
        if (!cJSON_IsString(node))
            FAIL(c, "save %s: %s is not a string in the reply", it->string, it->valuestring);
        set_var(c, it->string, node->valuestring);
    }
}

static void op_sandbox(ctx *c, const cJSON *step)
{
    static const char *const keys[] = {"op", "id", "expect", "note", NULL};
    check_keys(c, step, "a sandbox step", keys);
    const char *id = jtext(c, cJSON_GetObjectItemCaseSensitive(step, "id"), "id");
    const cJSON *ex = cJSON_GetObjectItemCaseSensitive(step, "expect");
    e2b_sandbox_info *info = NULL;
    e2b_error err;
    e2b_code rc = e2b_sandbox_get_info(c->t->client, id, &info, &err);
    harness_defer(info_free, info);
    bool want_exists = !cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(ex, "exists"));
    if (!want_exists) {
        if (rc == E2B_OK)
            FAIL(c, "sandbox %s still exists", id);
        harness_assert_code(rc, E2B_ERR_SANDBOX_NOT_FOUND, &err, "get_info");
        return;
    }
    harness_assert_ok(rc, &err, "get_info");
    const cJSON *v;
    if ((v = cJSON_GetObjectItemCaseSensitive(ex, "lifetime_s"))) {
        long life = (long)(info->end_at_unix - info->started_at_unix);
        if (labs(life - (long)v->valuedouble) > 2)
            FAIL(c, "sandbox %s lives %ld s, expected %g", id, life, v->valuedouble);
    }
    if ((v = cJSON_GetObjectItemCaseSensitive(ex, "template")) &&
        !((info->template_id && !strcmp(info->template_id, v->valuestring)) ||
          (info->alias && !strcmp(info->alias, v->valuestring))))
        FAIL(c, "sandbox %s has template %s, expected %s", id, info->template_id, v->valuestring);
    const cJSON *md = cJSON_GetObjectItemCaseSensitive(ex, "metadata");
    for (const cJSON *it = md ? md->child : NULL; it; it = it->next) {
        const char *got = NULL;
        for (size_t i = 0; i < info->metadata_len; i++)
            if (!strcmp(info->metadata[i].key, it->string))
                got = info->metadata[i].value;
        if (!got || strcmp(got, subst(c, it->valuestring)) != 0)
            FAIL(c, "sandbox %s metadata %s is %s, expected %s", id, it->string,
                 got ? got : "(absent)", it->valuestring);
    }
}

static void op_tracked(ctx *c, const cJSON *step)
{
    static const char *const keys[] = {"op", "expect", "note", NULL};
    check_keys(c, step, "a tracked step", keys);
    const cJSON *ex = cJSON_GetObjectItemCaseSensitive(step, "expect");
    e2b_agent_sandbox_status *st;
    size_t n;
    e2b_error err;
    harness_assert_ok(e2b_agent_service_list(c->svc, &st, &n, &err), &err, "list");
    harness_defer(free, st);
    const cJSON *v;
    if ((v = cJSON_GetObjectItemCaseSensitive(ex, "count")) && (size_t)v->valueint != n)
        FAIL(c, "%zu tracked sandboxes, expected %d", n, v->valueint);
    for (int pass = 0; pass < 2; pass++) {
        const cJSON *arr = cJSON_GetObjectItemCaseSensitive(ex, pass ? "excludes" : "contains");
        for (const cJSON *it = arr ? arr->child : NULL; it; it = it->next) {
            const char *id = subst(c, it->valuestring);
            bool found = false;
            for (size_t i = 0; i < n; i++)
                found = found || !strcmp(st[i].sandbox_id, id);
            if (found == (pass == 1))
                FAIL(c, "sandbox %s is %stracked", id, pass ? "" : "not ");
        }
    }
    if ((v = cJSON_GetObjectItemCaseSensitive(ex, "current"))) {
        const char *want = subst(c, v->valuestring);
        bool ok = false;
        for (size_t i = 0; i < n; i++)
            ok = ok || (st[i].current && !strcmp(st[i].sandbox_id, want));
        if (!ok)
            FAIL(c, "the current sandbox is not %s", want);
    }
}

static void op_create_outside(ctx *c, const cJSON *step)
{
    const cJSON *save = cJSON_GetObjectItemCaseSensitive(step, "save_as");
    if (!cJSON_IsString(save))
        FAIL(c, "create_outside needs save_as");
    e2b_kv md[] = {{"run", harness_run_tag()}};
    e2b_create_opts o;
    e2b_create_opts_init(&o);
    o.metadata = md;
    o.metadata_len = 1;
    o.timeout_s = 120;
    e2b_sandbox *s;
    e2b_error err;
    harness_assert_ok(e2b_sandbox_create(c->t->client, &o, &s, &err), &err, "create");
    set_var(c, save->valuestring, e2b_sandbox_id(s));
    e2b_sandbox_free(s);
}

static void op_status(ctx *c, const cJSON *step)
{
    const cJSON *ex = cJSON_GetObjectItemCaseSensitive(step, "expect");
    char *text;
    cJSON *js;
    e2b_error err;
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(step, "health")))
        harness_assert_ok(e2b_agent_service_health(c->svc, NULL, &err), &err, "health");
    harness_assert_ok(e2b_agent_service_status(c->svc, &text, &js, &err), &err, "status");
    harness_defer(free, text);
    harness_defer(json_free, js);
    const cJSON *v;
    if ((v = cJSON_GetObjectItemCaseSensitive(ex, "text")))
        match(c, "status text", text, v);
    if ((v = cJSON_GetObjectItemCaseSensitive(ex, "json")))
        json_subset(c, "status", js, v);
}

static void run_fixture(void **state)
{
    const fcase *fc = *state;
    if (!fc->root)
        fail_msg("%s", fc->load_error);
    ctx *c = calloc(1, sizeof *c);
    c->fc = fc;
    harness_defer(ctx_free, c);
    if (harness_live_requested() &&
        cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(fc->root, "live"))) {
        print_message("SKIP: fixture marked \"live\": false (mock only)\n");
        skip();
    }
    c->t = harness_target_start(NULL);

    snprintf(c->outdir, sizeof c->outdir, "/tmp/e2b-agent-e2e-XXXXXX");
    if (!mkdtemp(c->outdir))
        FAIL(c, "mkdtemp failed");
    harness_defer(rm_tree, c->outdir);

    const cJSON *so = cJSON_GetObjectItemCaseSensitive(fc->root, "service");
    e2b_agent_service_opts o;
    e2b_agent_service_opts_init(&o);
    o.output_dir = c->outdir;
    o.mode = c->t->live ? "cloud" : "local";
    const cJSON *v;
    if ((v = cJSON_GetObjectItemCaseSensitive(so, "max_sandboxes")))
        o.max_sandboxes = (size_t)v->valueint;
    if ((v = cJSON_GetObjectItemCaseSensitive(so, "sandbox_timeout_s")))
        o.sandbox_timeout_s = v->valueint;
    if ((v = cJSON_GetObjectItemCaseSensitive(so, "exec_timeout_ms")))
        o.exec_timeout_ms = (long)v->valuedouble;
    if ((v = cJSON_GetObjectItemCaseSensitive(so, "template")))
        o.template_id = v->valuestring;
    e2b_error err;
    harness_assert_ok(e2b_agent_service_new(c->t->client, &o, &c->svc, &err), &err, "service");
    harness_defer(svc_free, c->svc);

    const cJSON *steps = cJSON_GetObjectItemCaseSensitive(fc->root, "steps");
    if (!cJSON_IsArray(steps))
        FAIL(c, "the fixture needs a \"steps\" array");
    for (const cJSON *st = steps->child; st; st = st->next) {
        c->step++;
        const cJSON *op = cJSON_GetObjectItemCaseSensitive(st, "op");
        const char *name = cJSON_IsString(op) ? op->valuestring : "message";
        if (!strcmp(name, "message"))
            op_message(c, st);
        else if (!strcmp(name, "sandbox"))
            op_sandbox(c, st);
        else if (!strcmp(name, "tracked"))
            op_tracked(c, st);
        else if (!strcmp(name, "create_outside"))
            op_create_outside(c, st);
        else if (!strcmp(name, "status"))
            op_status(c, st);
        else if (!strcmp(name, "sleep"))
            usleep((useconds_t)cJSON_GetObjectItemCaseSensitive(st, "ms")->valueint * 1000);
        else
            FAIL(c, "unknown op \"%s\"", name);
    }
}

int main(int argc, char **argv)
{
    return harness_fixture_main(argc, argv, "agent-e2e", run_fixture, NULL, 0);
}
