/* lifecycle_fixtures.c - the sandbox lifecycle conformance suite.
 *
 * Every JSON file in fixtures/lifecycle becomes one cmocka test named after its "name" (so
 * `E2B_TEST_FILTER='pause*'` or `--filter 'pause*'` selects by fixture). The file format is
 * documented in fixtures/README.md; in short a fixture is a list of steps, each one libe2b
 * call plus what it must produce, against a fresh target (a private e2b-mock, or real E2B
 * with E2B_LIVE=1).
 *
 * A few hand-written tests at the end cover what data files cannot express well: generated
 * metadata over the whole printable range, concurrent use of one client, a server that goes
 * away, and NULL arguments.
 */
#include "harness.h"

#include <pthread.h>
#include <stdio.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- fixture case and per-run context ---------------------------------------------- */

typedef harness_fixture_case fcase;

typedef struct keyed_client {
    bool has_key;
    char *key;
    e2b_client *client;
} keyed_client;

typedef struct ctx {
    const fcase *fc;
    harness_target *t;
    harness_vars vars;
    keyed_client *clients;
    size_t nclients;
    int step; /* 1-based, for messages */
    const char *op;
} ctx;

#define FAIL(c, fmt, ...)                                                           \
    fail_msg("%s [%s] step %d (%s): " fmt, (c)->fc->name, (c)->fc->path, (c)->step, \
             (c)->op ? (c)->op : "-", ##__VA_ARGS__)

static void ctx_free(void *p)
{
    ctx *c = p;
    harness_vars_free(&c->vars);
    for (size_t i = 0; i < c->nclients; i++)
        free(c->clients[i].key);
    free(c->clients); /* the clients themselves are freed by their own deferred entries */
    free(c);
}

/* harness_defer takes void (*)(void *); wrap the typed destructors. */
static void defer_sandbox_free(void *p)
{
    e2b_sandbox_free(p);
}
static void defer_info_free(void *p)
{
    e2b_sandbox_info_free(p);
}
static void defer_page_free(void *p)
{
    e2b_sandbox_page_free(p);
}
static void defer_iter_free(void *p)
{
    e2b_sandbox_iter_free(p);
}

typedef struct pending_kill {
    e2b_client *cl;
    char id[];
} pending_kill;

static void *xmalloc(ctx *c, size_t n)
{
    void *p = calloc(1, n ? n : 1);
    if (!p)
        FAIL(c, "out of memory");
    return p;
}

static char *xstrdup(ctx *c, const char *s)
{
    char *d = strdup(s);
    if (!d)
        FAIL(c, "out of memory");
    return d;
}

/* Memory that lives until the end of the test. */
static void *scratch(ctx *c, size_t n)
{
    void *p = xmalloc(c, n);
    harness_defer(free, p);
    return p;
}

#define STEP(c) HARNESS_STEP((c)->fc->name, (c)->fc->path, (c)->step, (c)->op)

static void set_var(ctx *c, const char *name, const char *value)
{
    harness_vars_set(STEP(c), &c->vars, name, value);
}

/* "$name" -> the saved value ("$run" is the run tag); "$$x" -> "$x"; else s itself. */
static const char *resolve(ctx *c, const char *s)
{
    return harness_vars_resolve(STEP(c), &c->vars, s);
}

/* ---- fixture JSON accessors (a malformed fixture fails the test with a clear message) --- */

#define check_keys(c, obj, where, allowed) harness_json_check_keys(STEP(c), obj, where, allowed)
#define jbool(c, o, key, def) harness_json_bool(STEP(c), o, key, def)

/* a string with $variables resolved */
static const char *jstr(ctx *c, const cJSON *o, const char *key)
{
    const char *v = harness_json_str(STEP(c), o, key);
    return v ? resolve(c, v) : NULL;
}

static int jint(ctx *c, const cJSON *o, const char *key, int def)
{
    long long v = harness_json_ll(STEP(c), o, key, def);
    if (v < INT_MIN || v > INT_MAX)
        FAIL(c, "\"%s\" must be an integer", key);
    return (int)v;
}

static bool jhas(const cJSON *o, const char *key)
{
    return cJSON_GetObjectItemCaseSensitive(o, key) != NULL;
}

/* {"k": "v", ...} -> e2b_kv array (values resolved) living until the end of the test. */
static e2b_kv *jkv(ctx *c, const cJSON *o, const char *key, size_t *len)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, key);
    *len = 0;
    if (!m)
        return NULL;
    if (!cJSON_IsObject(m))
        FAIL(c, "\"%s\" must be an object of strings", key);
    size_t n = (size_t)cJSON_GetArraySize(m);
    e2b_kv *kv = scratch(c, n * sizeof *kv);
    size_t i = 0;
    for (const cJSON *it = m->child; it; it = it->next, i++) {
        if (!cJSON_IsString(it))
            FAIL(c, "\"%s\".\"%s\" must be a string", key, it->string);
        kv[i].key = it->string;
        kv[i].value = resolve(c, it->valuestring);
    }
    *len = n;
    return kv;
}

static const char *const k_expect_error_only[] = {"error", NULL};

/* The expected error of a step, or E2B_OK. */
static e2b_code expected_code(ctx *c, const cJSON *expect)
{
    const char *name = expect ? jstr(c, expect, "error") : NULL;
    if (!name)
        return E2B_OK;
    e2b_code code;
    if (!harness_code_from_name(name, &code))
        FAIL(c, "\"error\": \"%s\" is not an e2b_code name (see e2b_code_name)", name);
    return code;
}

/* Checks a call's result against the expected code. Returns true when the call succeeded
 * and the remaining expectations should be checked. */
static bool check_result(ctx *c, e2b_code rc, const e2b_error *err, e2b_code want)
{
    if (want != E2B_OK) {
        if (rc == E2B_OK)
            FAIL(c, "expected error %s, but the call succeeded", e2b_code_name(want));
        if (rc != want)
            FAIL(c, "expected error %s, got %s (HTTP %d): %s", e2b_code_name(want),
                 e2b_code_name(rc), err->http_status, err->message);
        if (err->code != rc)
            FAIL(c, "returned %s but err->code is %s", e2b_code_name(rc), e2b_code_name(err->code));
        if (!err->message[0])
            FAIL(c, "error %s carries no message", e2b_code_name(rc));
        return false;
    }
    if (rc != E2B_OK)
        FAIL(c, "unexpected error %s (HTTP %d): %s", e2b_code_name(rc), err->http_status,
             err->message);
    return true;
}

/* The client a step uses: the target's, or one with the step's "api_key" (null = none). */
static e2b_client *step_client(ctx *c, const cJSON *step)
{
    const cJSON *k = cJSON_GetObjectItemCaseSensitive(step, "api_key");
    if (!k)
        return c->t->client;
    if (!cJSON_IsNull(k) && !cJSON_IsString(k))
        FAIL(c, "\"api_key\" must be a string or null");
    const char *key = cJSON_IsNull(k) ? NULL : resolve(c, k->valuestring);
    for (size_t i = 0; i < c->nclients; i++) {
        keyed_client *kc = &c->clients[i];
        if (kc->has_key == (key != NULL) && (!key || !strcmp(kc->key, key)))
            return kc->client;
    }
    keyed_client *nc = realloc(c->clients, (c->nclients + 1) * sizeof *nc);
    if (!nc)
        FAIL(c, "out of memory");
    c->clients = nc;
    keyed_client *kc = &c->clients[c->nclients];
    kc->has_key = key != NULL;
    kc->key = key ? xstrdup(c, key) : NULL;
    kc->client = NULL;
    c->nclients++;
    kc->client = harness_target_client(c->t, key);
    return kc->client;
}

/* ---- checks on sandbox infos ---------------------------------------------------------- */

static const char *state_name(e2b_sandbox_state s)
{
    return s == E2B_STATE_RUNNING ? "running" : s == E2B_STATE_PAUSED ? "paused" : "unknown";
}

static const char *meta_get(const e2b_sandbox_info *info, const char *key)
{
    for (size_t i = 0; i < info->metadata_len; i++)
        if (info->metadata[i].key && !strcmp(info->metadata[i].key, key))
            return info->metadata[i].value;
    return NULL;
}

static bool semver_like(const char *v)
{
    if (!v)
        return false;
    if (*v == 'v')
        v++;
    unsigned a, b, d;
    return sscanf(v, "%u.%u.%u", &a, &b, &d) == 3;
}

/* Every required SandboxDetail / ListedSandbox field present and consistent. */
static void check_info_sane(ctx *c, const e2b_sandbox_info *info, const char *want_id)
{
    if (!info->sandbox_id || !info->sandbox_id[0])
        FAIL(c, "sandboxID missing");
    if (want_id && strcmp(info->sandbox_id, want_id) != 0)
        FAIL(c, "sandboxID is \"%s\", asked for \"%s\"", info->sandbox_id, want_id);
    const char *id = info->sandbox_id;
    if (!info->template_id || !info->template_id[0])
        FAIL(c, "%s: templateID missing", id);
    if (!info->client_id)
        FAIL(c, "%s: clientID missing", id);
    if (!semver_like(info->envd_version))
        FAIL(c, "%s: envdVersion \"%s\" is not a semver", id,
             info->envd_version ? info->envd_version : "(null)");
    if (!info->started_at || !info->end_at)
        FAIL(c, "%s: startedAt/endAt missing", id);
    if (info->started_at_unix <= 0 || info->end_at_unix <= 0)
        FAIL(c, "%s: startedAt \"%s\" / endAt \"%s\" not RFC 3339", id, info->started_at,
             info->end_at);
    if (info->started_at_unix >= info->end_at_unix)
        FAIL(c, "%s: startedAt %s is not before endAt %s", id, info->started_at, info->end_at);
    time_t now = time(NULL);
    if (info->started_at_unix > now + 60)
        FAIL(c, "%s: startedAt %s is in the future", id, info->started_at);
    if (info->state != E2B_STATE_RUNNING && info->state != E2B_STATE_PAUSED)
        FAIL(c, "%s: state is neither running nor paused", id);
    if (info->cpu_count <= 0 || info->memory_mb <= 0 || info->disk_size_mb <= 0)
        FAIL(c, "%s: cpuCount %d / memoryMB %d / diskSizeMB %d must be > 0", id, info->cpu_count,
             info->memory_mb, info->disk_size_mb);
    for (size_t i = 0; i < info->metadata_len; i++)
        if (!info->metadata[i].key || !info->metadata[i].value)
            FAIL(c, "%s: metadata entry %zu has a NULL key or value", id, i);
}

/* "metadata": exact equality of the map. */
static void check_metadata_exact(ctx *c, const e2b_sandbox_info *info, const cJSON *expect)
{
    size_t n = 0;
    e2b_kv *want = jkv(c, expect, "metadata", &n);
    for (size_t i = 0; i < n; i++) {
        const char *got = meta_get(info, want[i].key);
        if (!got)
            FAIL(c, "%s: metadata key \"%s\" missing", info->sandbox_id, want[i].key);
        if (strcmp(got, want[i].value) != 0)
            FAIL(c, "%s: metadata \"%s\" is \"%s\", expected \"%s\"", info->sandbox_id, want[i].key,
                 got, want[i].value);
    }
    if (info->metadata_len != n)
        FAIL(c, "%s: %zu metadata entries, expected %zu", info->sandbox_id, info->metadata_len, n);
}

/* "template": matches templateID or alias (real E2B reports an ID for the alias "base"). */
static void check_template(ctx *c, const e2b_sandbox_info *info, const char *want)
{
    bool ok = (info->template_id && !strcmp(info->template_id, want)) ||
              (info->alias && !strcmp(info->alias, want));
    if (!ok)
        FAIL(c, "%s: template is \"%s\" (alias \"%s\"), expected \"%s\"", info->sandbox_id,
             info->template_id ? info->template_id : "", info->alias ? info->alias : "", want);
}

static void check_state(ctx *c, const e2b_sandbox_info *info, const char *want)
{
    if (strcmp(state_name(info->state), want) != 0)
        FAIL(c, "%s: state is %s, expected %s", info->sandbox_id, state_name(info->state), want);
}

/* ---- operations --------------------------------------------------------------------- */

static void live_kill(void *p)
{
    pending_kill *k = p;
    e2b_sandbox_kill(k->cl, k->id, NULL, NULL);
    free(k);
}

static void op_create(ctx *c, const cJSON *step)
{
    static const char *const keys[] = {"op",       "template", "timeout_s",  "metadata",
                                       "env_vars", "count",    "spacing_ms", "save_as",
                                       "expect",   "api_key",  "note",       NULL};
    check_keys(c, step, "a create step", keys);
    const cJSON *expect = cJSON_GetObjectItemCaseSensitive(step, "expect");
    if (expect)
        check_keys(c, expect, "create.expect", k_expect_error_only);
    e2b_code want = expected_code(c, expect);

    e2b_create_opts o;
    e2b_create_opts_init(&o);
    o.template_id = jstr(c, step, "template");
    o.timeout_s = jint(c, step, "timeout_s", 0);
    o.metadata = jkv(c, step, "metadata", &o.metadata_len);
    o.env_vars = jkv(c, step, "env_vars", &o.env_vars_len);
    int count = jint(c, step, "count", 1);
    const char *save_as = jstr(c, step, "save_as");
    if (count < 1 || count > 200)
        FAIL(c, "\"count\" must be 1..200");
    /* spacing between the creates, so start times differ (for ordering checks) */
    int spacing_ms = jint(c, step, "spacing_ms", 0);
    if (spacing_ms < 0 || spacing_ms > 2000)
        FAIL(c, "\"spacing_ms\" must be 0..2000");
    e2b_client *cl = step_client(c, step);

    for (int i = 1; i <= count; i++) {
        if (i > 1 && spacing_ms > 0)
            usleep((useconds_t)spacing_ms * 1000);
        e2b_sandbox *sbx = NULL;
        e2b_error err = {0};
        e2b_code rc = e2b_sandbox_create(cl, &o, &sbx, &err);
        if (!check_result(c, rc, &err, want))
            continue;
        harness_defer(defer_sandbox_free, sbx);
        const char *id = e2b_sandbox_id(sbx);
        if (!id || !id[0])
            FAIL(c, "create returned no sandbox id");
        if (!semver_like(e2b_sandbox_envd_version(sbx)))
            FAIL(c, "create: envdVersion missing or not semver");
        if (c->t->live) {
            size_t l = strlen(id);
            pending_kill *k = malloc(sizeof *k + l + 1);
            if (!k)
                FAIL(c, "out of memory");
            k->cl = c->t->client;
            memcpy(k->id, id, l + 1);
            harness_defer(live_kill, k);
        }
        if (save_as) {
            char name[128];
            if (count == 1)
                snprintf(name, sizeof name, "%s", save_as);
            else
                snprintf(name, sizeof name, "%s%d", save_as, i);
            set_var(c, name, id);
        }
    }
}

static void op_get_info(ctx *c, const cJSON *step)
{
    static const char *const keys[] = {"op", "id", "expect", "api_key", "note", NULL};
    static const char *const ekeys[] = {"error",      "state",     "template", "metadata",
                                        "lifetime_s", "ends_in_s", NULL};
    check_keys(c, step, "a get_info step", keys);
    const cJSON *expect = cJSON_GetObjectItemCaseSensitive(step, "expect");
    if (expect)
        check_keys(c, expect, "get_info.expect", ekeys);
    e2b_code want = expected_code(c, expect);
    const char *id = jstr(c, step, "id");
    if (!id)
        FAIL(c, "\"id\" is required");

    e2b_sandbox_info *info = NULL;
    e2b_error err = {0};
    e2b_code rc = e2b_sandbox_get_info(step_client(c, step), id, &info, &err);
    if (!check_result(c, rc, &err, want))
        return;
    harness_defer(defer_info_free, info);
    check_info_sane(c, info, id);
    if (!expect)
        return;
    const char *s;
    if ((s = jstr(c, expect, "state")))
        check_state(c, info, s);
    if ((s = jstr(c, expect, "template")))
        check_template(c, info, s);
    if (jhas(expect, "metadata"))
        check_metadata_exact(c, info, expect);
    if (jhas(expect, "lifetime_s")) {
        /* endAt - startedAt == timeout; 1 s slack for sub-second truncation. */
        long want_s = jint(c, expect, "lifetime_s", 0);
        long got = (long)(info->end_at_unix - info->started_at_unix);
        if (got < want_s - 1 || got > want_s + 1)
            FAIL(c, "%s: endAt - startedAt = %ld s (%s .. %s), expected %ld", id, got,
                 info->started_at, info->end_at, want_s);
    }
    if (jhas(expect, "ends_in_s")) {
        /* endAt is about now + N: generous bounds (the step itself may be slow under
         * valgrind), but tight enough to tell 30 s from 600 s. */
        long want_s = jint(c, expect, "ends_in_s", 0);
        long got = (long)(info->end_at_unix - time(NULL));
        long slack = want_s / 10 > 10 ? want_s / 10 : 10;
        if (got < want_s - slack || got > want_s + 2)
            FAIL(c, "%s: endAt %s is %ld s from now, expected about %ld", id, info->end_at, got,
                 want_s);
    }
}

/* Collected ids of a list/iterate step, each checked against the filters. */
typedef struct idset {
    char **ids;
    size_t len, cap;
} idset;

static void idset_free(void *p)
{
    idset *s = p;
    for (size_t i = 0; i < s->len; i++)
        free(s->ids[i]);
    free(s->ids);
    free(s);
}

static bool idset_has(const idset *s, const char *id)
{
    for (size_t i = 0; i < s->len; i++)
        if (!strcmp(s->ids[i], id))
            return true;
    return false;
}

static void idset_add(ctx *c, idset *s, const char *id)
{
    if (idset_has(s, id))
        FAIL(c, "sandbox %s was listed more than once", id);
    if (s->len == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        char **n = realloc(s->ids, cap * sizeof *n);
        if (!n)
            FAIL(c, "out of memory");
        s->ids = n;
        s->cap = cap;
    }
    s->ids[s->len++] = xstrdup(c, id);
}

/* An item of a listing must satisfy the filters that produced it. */
static void check_listed(ctx *c, const e2b_sandbox_info *info, const e2b_list_opts *o)
{
    check_info_sane(c, info, NULL);
    if ((o->running || o->paused) && !((o->running && info->state == E2B_STATE_RUNNING) ||
                                       (o->paused && info->state == E2B_STATE_PAUSED)))
        FAIL(c, "%s: listed with state %s, outside the state filter", info->sandbox_id,
             state_name(info->state));
    for (size_t i = 0; i < o->metadata_len; i++) {
        const char *got = meta_get(info, o->metadata[i].key);
        if (!got || strcmp(got, o->metadata[i].value) != 0)
            FAIL(c, "%s: listed but metadata \"%s\" is \"%s\", filter wants \"%s\"",
                 info->sandbox_id, o->metadata[i].key, got ? got : "(absent)",
                 o->metadata[i].value);
    }
}

static void check_id_list(ctx *c, const idset *got, const cJSON *expect, const char *key,
                          int mode /* 0 exact, 1 contains, 2 excludes */)
{
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(expect, key);
    if (!arr)
        return;
    if (!cJSON_IsArray(arr))
        FAIL(c, "\"%s\" must be an array of ids", key);
    size_t n = 0;
    for (const cJSON *it = arr->child; it; it = it->next, n++) {
        if (!cJSON_IsString(it))
            FAIL(c, "\"%s\" must be an array of strings", key);
        const char *id = resolve(c, it->valuestring);
        bool has = idset_has(got, id);
        if (mode != 2 && !has)
            FAIL(c, "%s (%s) not listed (%zu listed)", it->valuestring, id, got->len);
        if (mode == 2 && has)
            FAIL(c, "%s (%s) listed but must not be", it->valuestring, id);
    }
    if (mode == 0 && n != got->len) {
        char extra[256] = "";
        for (size_t i = 0; i < got->len && strlen(extra) < 200; i++) {
            strncat(extra, got->ids[i], sizeof extra - strlen(extra) - 2);
            strncat(extra, " ", sizeof extra - strlen(extra) - 1);
        }
        FAIL(c, "listed %zu sandboxes, expected exactly %zu: %s", got->len, n, extra);
    }
}

/* With an explicit order, start times never go backwards (asc) / forwards (desc). */
static void check_order(ctx *c, const char *order, const e2b_sandbox_info *item, time_t *prev)
{
    if (!order)
        return;
    bool asc = !strcmp(order, "asc");
    if (*prev && (asc ? item->started_at_unix < *prev : item->started_at_unix > *prev))
        FAIL(c, "%s (startedAt %s) is out of %s order", item->sandbox_id, item->started_at, order);
    *prev = item->started_at_unix;
}

static void op_list(ctx *c, const cJSON *step, bool iterate)
{
    static const char *const keys[] = {"op",     "state",  "metadata", "limit", "order",
                                       "follow", "expect", "api_key",  "note",  NULL};
    static const char *const ekeys[] = {"error", "ids",   "in_order", "contains", "excludes",
                                        "count", "pages", "has_next", NULL};
    check_keys(c, step, iterate ? "an iterate step" : "a list step", keys);
    const cJSON *expect = cJSON_GetObjectItemCaseSensitive(step, "expect");
    if (expect)
        check_keys(c, expect, "list.expect", ekeys);
    e2b_code want = expected_code(c, expect);

    e2b_list_opts o;
    memset(&o, 0, sizeof o);
    o.metadata = jkv(c, step, "metadata", &o.metadata_len);
    o.limit = jint(c, step, "limit", 0);
    const char *order = jstr(c, step, "order");
    if (order && strcmp(order, "asc") && strcmp(order, "desc"))
        FAIL(c, "\"order\" must be \"asc\" or \"desc\"");
    o.order_asc = order && !strcmp(order, "asc");
    const cJSON *states = cJSON_GetObjectItemCaseSensitive(step, "state");
    if (states) {
        if (!cJSON_IsArray(states))
            FAIL(c, "\"state\" must be an array of \"running\"/\"paused\"");
        for (const cJSON *it = states->child; it; it = it->next) {
            if (cJSON_IsString(it) && !strcmp(it->valuestring, "running"))
                o.running = true;
            else if (cJSON_IsString(it) && !strcmp(it->valuestring, "paused"))
                o.paused = true;
            else
                FAIL(c, "\"state\" entries must be \"running\" or \"paused\"");
        }
    }
    const char *follow = iterate ? "iterator" : jstr(c, step, "follow");
    if (!follow)
        follow = "none";
    if (strcmp(follow, "none") && strcmp(follow, "pages") && strcmp(follow, "iterator"))
        FAIL(c, "\"follow\" must be \"none\", \"pages\" or \"iterator\"");

    time_t prev_start = 0; /* with "order": listing must be monotonic in startedAt */
    idset *got = calloc(1, sizeof *got);
    if (!got)
        FAIL(c, "out of memory");
    harness_defer(idset_free, got);
    e2b_client *cl = step_client(c, step);
    int pages = 0;
    bool has_next = false;

    if (!strcmp(follow, "iterator")) {
        e2b_sandbox_iter *it = NULL;
        e2b_error err = {0};
        e2b_code rc = e2b_sandbox_iter_new(cl, &o, &it, &err);
        if (rc == E2B_OK) {
            harness_defer(defer_iter_free, it);
            for (int guard = 0; guard < 100000; guard++) {
                const e2b_sandbox_info *item = NULL;
                rc = e2b_sandbox_iter_next(it, &item, &err);
                if (rc != E2B_OK || !item)
                    break;
                check_listed(c, item, &o);
                check_order(c, order, item, &prev_start);
                idset_add(c, got, item->sandbox_id);
            }
        }
        if (!check_result(c, rc, &err, want))
            return;
    } else {
        char *token = NULL;
        do {
            e2b_list_opts po = o;
            po.next_token = token;
            e2b_sandbox_page *page = NULL;
            e2b_error err = {0};
            e2b_code rc = e2b_sandbox_list(cl, &po, &page, &err);
            if (!check_result(c, rc, &err, want))
                return;
            harness_defer(defer_page_free, page);
            pages++;
            if (o.limit > 0 && page->len > (size_t)o.limit)
                FAIL(c, "page %d has %zu items, limit is %d", pages, page->len, o.limit);
            for (size_t i = 0; i < page->len; i++) {
                check_listed(c, &page->items[i], &o);
                check_order(c, order, &page->items[i], &prev_start);
                idset_add(c, got, page->items[i].sandbox_id);
            }
            if (page->next_token && !page->next_token[0])
                FAIL(c, "page %d: next_token is an empty string (should be NULL)", pages);
            if (pages == 1)
                has_next = page->next_token != NULL;
            if (page->next_token && page->len == 0)
                FAIL(c, "page %d is empty but announces a next page", pages);
            token = page->next_token;
            if (pages > 10000)
                FAIL(c, "more than 10000 pages: the next token never ends");
        } while (token && !strcmp(follow, "pages"));
    }
    if (!expect)
        return;
    check_id_list(c, got, expect, "ids", 0);
    if (jbool(c, expect, "in_order", false)) {
        /* "ids" must also come back in exactly this order (order asc/desc by start time) */
        const cJSON *arr = cJSON_GetObjectItemCaseSensitive(expect, "ids");
        if (!arr)
            FAIL(c, "\"in_order\" needs \"ids\"");
        size_t i = 0;
        for (const cJSON *it = arr->child; it; it = it->next, i++)
            if (strcmp(got->ids[i], resolve(c, it->valuestring)) != 0)
                FAIL(c, "position %zu is %s, expected %s (%s)", i + 1, got->ids[i], it->valuestring,
                     resolve(c, it->valuestring));
    }
    check_id_list(c, got, expect, "contains", 1);
    check_id_list(c, got, expect, "excludes", 2);
    if (jhas(expect, "count") && got->len != (size_t)jint(c, expect, "count", 0))
        FAIL(c, "listed %zu sandboxes, expected %d", got->len, jint(c, expect, "count", 0));
    if (jhas(expect, "pages")) {
        if (iterate)
            FAIL(c, "\"pages\" cannot be checked on an iterate step");
        if (pages != jint(c, expect, "pages", 0))
            FAIL(c, "got %d pages, expected %d", pages, jint(c, expect, "pages", 0));
    }
    if (jhas(expect, "has_next")) {
        if (iterate)
            FAIL(c, "\"has_next\" cannot be checked on an iterate step");
        if (has_next != jbool(c, expect, "has_next", false))
            FAIL(c, "first page %s a next token", has_next ? "has" : "has no");
    }
}

static void op_set_timeout(ctx *c, const cJSON *step)
{
    static const char *const keys[] = {"op", "id", "timeout_s", "expect", "api_key", "note", NULL};
    check_keys(c, step, "a set_timeout step", keys);
    const cJSON *expect = cJSON_GetObjectItemCaseSensitive(step, "expect");
    if (expect)
        check_keys(c, expect, "set_timeout.expect", k_expect_error_only);
    const char *id = jstr(c, step, "id");
    if (!id || !jhas(step, "timeout_s"))
        FAIL(c, "\"id\" and \"timeout_s\" are required");
    e2b_error err = {0};
    e2b_code rc = e2b_sandbox_set_timeout(step_client(c, step), id, jint(c, step, "timeout_s", 0),
                                          &err);
    check_result(c, rc, &err, expected_code(c, expect));
}

/* kill / pause / connect share the shape: id, expect {error | <flag>: bool}. */
static void op_flagged(ctx *c, const cJSON *step, const char *op)
{
    static const char *const keys[] = {"op", "id", "timeout_s", "expect", "api_key", "note", NULL};
    check_keys(c, step, "a kill/pause/connect step", keys);
    const char *flag = !strcmp(op, "kill") ? "killed" : !strcmp(op, "pause") ? "paused" : "resumed";
    const char *const ekeys[] = {"error", flag, NULL};
    const cJSON *expect = cJSON_GetObjectItemCaseSensitive(step, "expect");
    if (expect)
        check_keys(c, expect, "expect", ekeys);
    if (jhas(step, "timeout_s") && strcmp(op, "connect") != 0)
        FAIL(c, "\"timeout_s\" only applies to connect");
    const char *id = jstr(c, step, "id");
    if (!id)
        FAIL(c, "\"id\" is required");
    e2b_client *cl = step_client(c, step);
    e2b_error err = {0};
    bool value = false;
    e2b_code rc;
    if (!strcmp(op, "kill")) {
        rc = e2b_sandbox_kill(cl, id, &value, &err);
    } else if (!strcmp(op, "pause")) {
        rc = e2b_sandbox_pause(cl, id, &value, &err);
    } else {
        e2b_sandbox *sbx = NULL;
        rc = e2b_sandbox_connect(cl, id, jint(c, step, "timeout_s", 0), &sbx, &value, &err);
        if (rc == E2B_OK) {
            harness_defer(defer_sandbox_free, sbx);
            if (!e2b_sandbox_id(sbx) || strcmp(e2b_sandbox_id(sbx), id) != 0)
                FAIL(c, "connect returned sandbox \"%s\", asked for \"%s\"",
                     e2b_sandbox_id(sbx) ? e2b_sandbox_id(sbx) : "(null)", id);
            if (!semver_like(e2b_sandbox_envd_version(sbx)))
                FAIL(c, "connect: envdVersion missing or not semver");
        }
    }
    if (!check_result(c, rc, &err, expected_code(c, expect)) || !expect)
        return;
    if (jhas(expect, flag) && value != jbool(c, expect, flag, false))
        FAIL(c, "%s is %s, expected %s", flag, value ? "true" : "false", value ? "false" : "true");
}

static void op_metrics(ctx *c, const cJSON *step)
{
    static const char *const keys[] = {"op", "id", "expect", "api_key", "note", NULL};
    check_keys(c, step, "a metrics step", keys);
    const cJSON *expect = cJSON_GetObjectItemCaseSensitive(step, "expect");
    if (expect)
        check_keys(c, expect, "metrics.expect", k_expect_error_only);
    const char *id = jstr(c, step, "id");
    if (!id)
        FAIL(c, "\"id\" is required");
    e2b_metric *m = NULL;
    size_t n = 0;
    e2b_error err = {0};
    e2b_code rc = e2b_sandbox_metrics(step_client(c, step), id, 0, 0, &m, &n, &err);
    if (rc == E2B_OK)
        harness_defer(free, m);
    if (!check_result(c, rc, &err, expected_code(c, expect)))
        return;
    for (size_t i = 0; i < n; i++)
        if (m[i].cpu_count <= 0 || m[i].mem_total <= 0 || m[i].cpu_used_pct < 0)
            FAIL(c, "metric %zu is not sane (cpuCount %d, memTotal %lld)", i, m[i].cpu_count,
                 m[i].mem_total);
}

/* The sandbox must be gone (expired): sandbox_not_found within within_s. Against e2b-mock the
 * mock clock is advanced by within_s (due sandboxes are reaped before that returns) and
 * get_info is asked exactly once - no sleeping, and a journal_count step can prove it. Live,
 * get_info is polled every 100 ms in real time. */
static void op_wait_gone(ctx *c, const cJSON *step)
{
    static const char *const keys[] = {"op", "id", "within_s", "note", NULL};
    check_keys(c, step, "a wait_gone step", keys);
    const char *id = jstr(c, step, "id");
    int within = jint(c, step, "within_s", 5);
    if (!id || within < 1 || within > 60)
        FAIL(c, "\"id\" is required and \"within_s\" must be 1..60");
    if (!c->t->live)
        harness_mock_advance_clock(c->t, within * 1000LL);
    int64_t deadline = harness_now_ms() + within * 1000LL;
    const char *last = "running";
    for (;;) {
        e2b_sandbox_info *info = NULL;
        e2b_error err = {0};
        e2b_code rc = e2b_sandbox_get_info(c->t->client, id, &info, &err);
        if (rc == E2B_ERR_SANDBOX_NOT_FOUND)
            return;
        if (rc != E2B_OK)
            FAIL(c, "while waiting for %s to expire: %s: %s", id, e2b_code_name(rc), err.message);
        last = state_name(info->state);
        e2b_sandbox_info_free(info);
        if (!c->t->live)
            FAIL(c, "%s still exists (%s) %d s later on the mock clock", id, last, within);
        if (harness_now_ms() >= deadline)
            FAIL(c, "%s still exists (%s) after %d s", id, last, within);
        usleep(100 * 1000);
    }
}

/* e2b-mock only (skipped live): moves the mock clock; due sandboxes expire before it returns. */
static void op_advance_clock(ctx *c, const cJSON *step)
{
    static const char *const keys[] = {"op", "ms", "note", NULL};
    check_keys(c, step, "an advance_clock step", keys);
    const cJSON *ms = cJSON_GetObjectItemCaseSensitive(step, "ms");
    if (!cJSON_IsNumber(ms))
        FAIL(c, "\"ms\" (a number) is required");
    harness_mock_advance_clock(c->t, (long long)ms->valuedouble);
}

/* e2b-mock only: how many requests the mock journaled. "path" may contain {id} (replaced by
 * the resolved "id"); expect {"count": N}. Live (no journal) the step is skipped, not the
 * fixture. */
static void op_journal_count(ctx *c, const cJSON *step)
{
    static const char *const keys[] = {"op",     "method", "path", "id",
                                       "status", "expect", "note", NULL};
    check_keys(c, step, "a journal_count step", keys);
    const char *method = jstr(c, step, "method");
    const char *path = jstr(c, step, "path");
    const char *id = jstr(c, step, "id");
    int status = jint(c, step, "status", -1);
    const cJSON *ex = cJSON_GetObjectItemCaseSensitive(step, "expect");
    const cJSON *want = cJSON_GetObjectItemCaseSensitive(ex, "count");
    if (!cJSON_IsNumber(want))
        FAIL(c, "\"expect\": {\"count\": N} is required");
    char p[512] = "";
    if (path) {
        const char *at = strstr(path, "{id}");
        if (at && !id)
            FAIL(c, "\"path\" uses {id} but there is no \"id\"");
        if (at)
            snprintf(p, sizeof p, "%.*s%s%s", (int)(at - path), path, id, at + 4);
        else
            snprintf(p, sizeof p, "%s", path);
    }
    if (c->t->live) {
        print_message("[ live ] journal_count step skipped (real E2B has no journal)\n");
        return;
    }
    char q[768];
    snprintf(q, sizeof q, "method=%s&path=%s", method ? method : "", p);
    if (status >= 0)
        snprintf(q + strlen(q), sizeof q - strlen(q), "&status=%d", status);
    long n = harness_mock_journal_count(c->t, q);
    if (n != want->valueint)
        FAIL(c, "the mock journaled %ld requests matching %s, expected %d", n, q, want->valueint);
}

/* ---- running one fixture ----------------------------------------------------------- */

static void run_fixture(void **state)
{
    const fcase *fc = *state;
    if (!fc->root)
        fail_msg("%s", fc->load_error); /* names the file */
    ctx *c = calloc(1, sizeof *c);
    if (!c)
        fail_msg("out of memory");
    c->fc = fc;
    harness_defer(ctx_free, c);

    static const char *const top[] = {"name", "description", "mock_args", "client",
                                      "live", "steps",       NULL};
    check_keys(c, fc->root, "the fixture", top);
    if (harness_live_requested() && !jbool(c, fc->root, "live", true)) {
        print_message("SKIP: %s is marked \"live\": false\n", fc->name);
        skip();
    }

    /* mock_args: array of strings -> NULL-terminated argv. */
    const cJSON *ma = cJSON_GetObjectItemCaseSensitive(fc->root, "mock_args");
    const char **args = NULL;
    if (ma) {
        if (!cJSON_IsArray(ma))
            FAIL(c, "\"mock_args\" must be an array of strings");
        args = scratch(c, ((size_t)cJSON_GetArraySize(ma) + 1) * sizeof *args);
        size_t i = 0;
        for (const cJSON *it = ma->child; it; it = it->next) {
            if (!cJSON_IsString(it))
                FAIL(c, "\"mock_args\" must be an array of strings");
            args[i++] = it->valuestring;
        }
    }
    harness_target_opts to = {0};
    to.mock_args = args;
    const cJSON *cl = cJSON_GetObjectItemCaseSensitive(fc->root, "client");
    long request_timeout_ms = -1;
    if (cl) {
        static const char *const ck[] = {"api_key", "request_timeout_ms", NULL};
        check_keys(c, cl, "\"client\"", ck);
        const cJSON *k = cJSON_GetObjectItemCaseSensitive(cl, "api_key");
        if (k) {
            if (!cJSON_IsNull(k) && !cJSON_IsString(k))
                FAIL(c, "client.api_key must be a string or null");
            to.override_api_key = true;
            to.api_key = cJSON_IsString(k) ? k->valuestring : NULL;
        }
        request_timeout_ms = jint(c, cl, "request_timeout_ms", -1);
    }
    c->t = harness_target_start(&to);
    if (request_timeout_ms >= 0) {
        /* Replace the target's client with one using this request timeout. */
        e2b_config cfg = c->t->cfg;
        cfg.request_timeout_ms = request_timeout_ms;
        e2b_client *nc = NULL;
        e2b_error err = {0};
        if (e2b_client_new(&cfg, &nc, &err) != E2B_OK)
            FAIL(c, "client with request_timeout_ms: %s", err.message);
        e2b_client_free(c->t->client);
        c->t->client = nc;
    }

    const cJSON *steps = cJSON_GetObjectItemCaseSensitive(fc->root, "steps");
    if (!cJSON_IsArray(steps) || cJSON_GetArraySize(steps) == 0)
        FAIL(c, "\"steps\" must be a non-empty array");
    for (const cJSON *st = steps->child; st; st = st->next) {
        c->step++;
        c->op = NULL;
        if (!cJSON_IsObject(st))
            FAIL(c, "a step must be an object");
        const cJSON *op = cJSON_GetObjectItemCaseSensitive(st, "op");
        if (!cJSON_IsString(op))
            FAIL(c, "a step needs \"op\"");
        c->op = op->valuestring;
        if (!strcmp(c->op, "create"))
            op_create(c, st);
        else if (!strcmp(c->op, "get_info"))
            op_get_info(c, st);
        else if (!strcmp(c->op, "list"))
            op_list(c, st, false);
        else if (!strcmp(c->op, "iterate"))
            op_list(c, st, true);
        else if (!strcmp(c->op, "set_timeout"))
            op_set_timeout(c, st);
        else if (!strcmp(c->op, "kill") || !strcmp(c->op, "pause") || !strcmp(c->op, "connect"))
            op_flagged(c, st, c->op);
        else if (!strcmp(c->op, "metrics"))
            op_metrics(c, st);
        else if (!strcmp(c->op, "wait_gone"))
            op_wait_gone(c, st);
        else if (!strcmp(c->op, "advance_clock"))
            op_advance_clock(c, st);
        else if (!strcmp(c->op, "journal_count"))
            op_journal_count(c, st);
        else
            FAIL(c, "unknown op (create, get_info, list, iterate, set_timeout, pause, "
                    "connect, kill, metrics, wait_gone, advance_clock, journal_count)");
    }
}

/* ---- hand-written cases -------------------------------------------------------------- */

static void kill_quiet(e2b_client *cl, const char *id)
{
    e2b_sandbox_kill(cl, id, NULL, NULL);
}

/* Metadata values over the whole printable ASCII range plus multi-byte UTF-8 survive
 * create -> get_info and select exactly the right sandbox in a list filter, while a decoy
 * differing in one character is not selected. */
static void test_metadata_every_printable_char(void **state)
{
    (void)state;
    harness_target *t = harness_target_start(NULL);
    char value[160];
    size_t n = 0;
    for (int ch = 0x20; ch <= 0x7e; ch++)
        value[n++] = (char)ch;
    memcpy(value + n, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9); /* é € 😀 */
    n += 9;
    value[n] = '\0';
    char decoy[160];
    memcpy(decoy, value, n + 1);
    decoy[n - 9 - 1] = 'X'; /* replace '~' */

    const char *key = "k &=?#%+/\\\"y";
    e2b_kv md[2] = {{key, value}, {"run", harness_run_tag()}};
    e2b_kv md_decoy[2] = {{key, decoy}, {"run", harness_run_tag()}};
    e2b_create_opts o;
    e2b_create_opts_init(&o);
    o.timeout_s = 120;
    e2b_error err = {0};
    e2b_sandbox *a = NULL, *b = NULL;
    o.metadata = md;
    o.metadata_len = 2;
    harness_assert_ok(e2b_sandbox_create(t->client, &o, &a, &err), &err, "create");
    harness_defer(defer_sandbox_free, a);
    o.metadata = md_decoy;
    harness_assert_ok(e2b_sandbox_create(t->client, &o, &b, &err), &err, "create decoy");
    harness_defer(defer_sandbox_free, b);

    e2b_sandbox_info *info = NULL;
    harness_assert_ok(e2b_sandbox_get_info(t->client, e2b_sandbox_id(a), &info, &err), &err,
                      "get_info");
    harness_defer(defer_info_free, info);
    const char *got = NULL;
    for (size_t i = 0; i < info->metadata_len; i++)
        if (!strcmp(info->metadata[i].key, key))
            got = info->metadata[i].value;
    assert_non_null(got);
    assert_string_equal(got, value);

    e2b_list_opts lo = {0};
    lo.metadata = md;
    lo.metadata_len = 2;
    e2b_sandbox_page *page = NULL;
    harness_assert_ok(e2b_sandbox_list(t->client, &lo, &page, &err), &err, "list");
    harness_defer(defer_page_free, page);
    assert_int_equal(page->len, 1);
    assert_string_equal(page->items[0].sandbox_id, e2b_sandbox_id(a));

    if (t->live) {
        kill_quiet(t->client, e2b_sandbox_id(a));
        kill_quiet(t->client, e2b_sandbox_id(b));
    }
}

/* One client shared by several threads: every create/get_info/kill succeeds, ids are
 * unique, and afterwards nothing of this run is left. */
#define CONC_THREADS 4
#define CONC_ROUNDS 5

typedef struct conc_arg {
    e2b_client *client;
    char ids[CONC_ROUNDS][128];
    char failure[1024];
} conc_arg;

static void *conc_worker(void *p)
{
    conc_arg *a = p;
    e2b_kv md[1] = {{"run", harness_run_tag()}};
    e2b_create_opts o;
    e2b_create_opts_init(&o);
    o.metadata = md;
    o.metadata_len = 1;
    o.timeout_s = 120;
    for (int r = 0; r < CONC_ROUNDS; r++) {
        e2b_error err = {0};
        e2b_sandbox *s = NULL;
        e2b_code rc = e2b_sandbox_create(a->client, &o, &s, &err);
        if (rc != E2B_OK) {
            snprintf(a->failure, sizeof a->failure, "create: %s: %s", e2b_code_name(rc),
                     err.message);
            return NULL;
        }
        snprintf(a->ids[r], sizeof a->ids[r], "%s", e2b_sandbox_id(s));
        e2b_sandbox_free(s);
        e2b_sandbox_info *info = NULL;
        rc = e2b_sandbox_get_info(a->client, a->ids[r], &info, &err);
        if (rc != E2B_OK || strcmp(info->sandbox_id, a->ids[r]) != 0) {
            snprintf(a->failure, sizeof a->failure, "get_info %s: %s: %s", a->ids[r],
                     e2b_code_name(rc), err.message);
            e2b_sandbox_info_free(info);
            return NULL;
        }
        e2b_sandbox_info_free(info);
        bool killed = false;
        rc = e2b_sandbox_kill(a->client, a->ids[r], &killed, &err);
        if (rc != E2B_OK || !killed) {
            snprintf(a->failure, sizeof a->failure, "kill %s: %s killed=%d: %s", a->ids[r],
                     e2b_code_name(rc), killed, err.message);
            return NULL;
        }
    }
    return NULL;
}

static void test_concurrent_lifecycle_one_client(void **state)
{
    (void)state;
    harness_target *t = harness_target_start(NULL);
    conc_arg *args = calloc(CONC_THREADS, sizeof *args);
    assert_non_null(args);
    harness_defer(free, args);
    pthread_t th[CONC_THREADS];
    for (int i = 0; i < CONC_THREADS; i++) {
        args[i].client = t->client;
        assert_int_equal(pthread_create(&th[i], NULL, conc_worker, &args[i]), 0);
    }
    for (int i = 0; i < CONC_THREADS; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < CONC_THREADS; i++)
        if (args[i].failure[0])
            fail_msg("thread %d: %s", i, args[i].failure);
    for (int i = 0; i < CONC_THREADS * CONC_ROUNDS; i++)
        for (int j = i + 1; j < CONC_THREADS * CONC_ROUNDS; j++)
            if (!strcmp(args[i / CONC_ROUNDS].ids[i % CONC_ROUNDS],
                        args[j / CONC_ROUNDS].ids[j % CONC_ROUNDS]))
                fail_msg("sandbox id %s was handed out twice",
                         args[i / CONC_ROUNDS].ids[i % CONC_ROUNDS]);

    e2b_kv md[1] = {{"run", harness_run_tag()}};
    e2b_list_opts lo = {0};
    lo.metadata = md;
    lo.metadata_len = 1;
    e2b_sandbox_page *page = NULL;
    e2b_error err = {0};
    harness_assert_ok(e2b_sandbox_list(t->client, &lo, &page, &err), &err, "list");
    harness_defer(defer_page_free, page);
    for (size_t i = 0; i < page->len; i++)
        for (int j = 0; j < CONC_THREADS * CONC_ROUNDS; j++)
            if (!strcmp(page->items[i].sandbox_id, args[j / CONC_ROUNDS].ids[j % CONC_ROUNDS]))
                fail_msg("killed sandbox %s is still listed", page->items[i].sandbox_id);
}

/* When the server goes away, calls fail with a network error instead of hanging or
 * crashing, and the client can still be freed cleanly. */
static void test_server_gone_is_network_error(void **state)
{
    (void)state;
    if (harness_live_requested()) {
        print_message("SKIP: stops the server, mock only\n");
        skip();
    }
    harness_target *t = harness_target_start(NULL);
    e2b_error err = {0};
    e2b_sandbox *s = NULL;
    harness_assert_ok(e2b_sandbox_create(t->client, NULL, &s, &err), &err, "create");
    harness_defer(defer_sandbox_free, s);
    assert_int_equal(e2b_local_stop(t->local), 0);
    t->local = NULL;

    e2b_sandbox_info *info = NULL;
    harness_assert_code(e2b_sandbox_get_info(t->client, e2b_sandbox_id(s), &info, &err),
                        E2B_ERR_NETWORK, &err, "get_info after the mock stopped");
    assert_null(info);
    bool killed = true;
    harness_assert_code(e2b_sandbox_kill(t->client, e2b_sandbox_id(s), &killed, &err),
                        E2B_ERR_NETWORK, &err, "kill after the mock stopped");
}

/* NULL or empty sandbox ids: a typed error before anything is sent, no crash. */
static void test_null_arguments(void **state)
{
    (void)state;
    harness_target *t = harness_target_start(NULL);
    e2b_error err = {0};
    e2b_sandbox_info *info = NULL;
    harness_assert_code(e2b_sandbox_get_info(t->client, NULL, &info, &err),
                        E2B_ERR_INVALID_ARGUMENT, &err, "get_info(NULL id)");
    harness_assert_code(e2b_sandbox_set_timeout(t->client, NULL, 10, &err),
                        E2B_ERR_INVALID_ARGUMENT, &err, "set_timeout(NULL id)");
    harness_assert_code(e2b_sandbox_kill(t->client, NULL, NULL, &err), E2B_ERR_INVALID_ARGUMENT,
                        &err, "kill(NULL id)");
    harness_assert_code(e2b_sandbox_pause(t->client, NULL, NULL, &err), E2B_ERR_INVALID_ARGUMENT,
                        &err, "pause(NULL id)");
    harness_assert_code(e2b_sandbox_get_info(t->client, "", &info, &err), E2B_ERR_INVALID_ARGUMENT,
                        &err, "get_info(empty id)");
    assert_null(info);
    /* err may be NULL too */
    assert_int_equal(e2b_sandbox_get_info(t->client, NULL, &info, NULL), E2B_ERR_INVALID_ARGUMENT);
}

static const struct CMUnitTest k_handwritten[] = {
    cmocka_unit_test(test_metadata_every_printable_char),
    cmocka_unit_test(test_concurrent_lifecycle_one_client),
    cmocka_unit_test(test_server_gone_is_network_error),
    cmocka_unit_test(test_null_arguments),
};

/* ---- main ------------------------------------------------------------------------------ */

int main(int argc, char **argv)
{
    return harness_fixture_main(argc, argv, "lifecycle", run_fixture, k_handwritten,
                                sizeof k_handwritten / sizeof k_handwritten[0]);
}
