/* admin.c - the /_mock/ admin API and the scenario/journal hooks; see admin.h, ADMIN.md. */
#include "admin.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "journal.h"
#include "record.h"
#include "sandboxrt.h"
#include "scenario.h"
#include "store.h"
#include "util.h"

#define ADMIN_PREFIX "/_mock/"

typedef struct admin {
    scenario_set *sc;
    mock_journal *j;
    mock_server *srv;
    recorder *rec; /* record mode (--record), else NULL */
    _Atomic int
        cut_streams_on_kill; /* default 1; POST /_mock/settings {"cutStreamsOnKill":false} */
} admin;

/* Per-request state between the before and after hooks: both run on the connection thread in
 * the same MHD call (thread-per-connection), so a thread-local is enough. */
static _Thread_local struct {
    int active;
    char *rule;
    const char *fault;
} tl;

static admin *get_admin(mock_request *req)
{
    return mock_server_get_data(req->server, "admin");
}

/* ---------------------------------------------------------------- request validation */

const char *admin_create_invalid_reason(const char *body)
{
    if (!body || !*body)
        return "empty body";
    cJSON *b = cJSON_Parse(body);
    if (!b)
        return "body is not JSON";
    const char *why = NULL;
    const cJSON *v;
    if (!cJSON_IsObject(b))
        why = "body is not an object";
    else if (!(v = cJSON_GetObjectItemCaseSensitive(b, "templateID")))
        why = "templateID is missing";
    else if (!cJSON_IsString(v) || !*v->valuestring)
        why = "templateID is not a non-empty string";
    else if ((v = cJSON_GetObjectItemCaseSensitive(b, "timeout")) && !cJSON_IsNumber(v))
        why = "timeout is not a number";
    else if ((v = cJSON_GetObjectItemCaseSensitive(b, "timeout")) && v->valuedouble <= 0)
        why = "timeout is not positive";
    else if ((v = cJSON_GetObjectItemCaseSensitive(b, "metadata")) && !cJSON_IsObject(v) &&
             !cJSON_IsNull(v))
        why = "metadata is not an object";
    else if ((v = cJSON_GetObjectItemCaseSensitive(b, "envVars")) && !cJSON_IsObject(v) &&
             !cJSON_IsNull(v))
        why = "envVars is not an object";
    else if ((v = cJSON_GetObjectItemCaseSensitive(b, "autoPause")) && !cJSON_IsBool(v))
        why = "autoPause is not a boolean";
    else if ((v = cJSON_GetObjectItemCaseSensitive(b, "secure")) && !cJSON_IsBool(v))
        why = "secure is not a boolean";
    cJSON_Delete(b);
    return why;
}

/* ---------------------------------------------------------------- journal helpers */

typedef struct qbuf {
    char *s;
    size_t len;
    FILE *f;
} qbuf;

static enum MHD_Result q_iter(void *cls, enum MHD_ValueKind kind, const char *k, const char *v)
{
    (void)kind;
    qbuf *q = cls;
    fprintf(q->f, "%s%s%s%s", ftell(q->f) ? "&" : "", k, v ? "=" : "", v ? v : "");
    return MHD_YES;
}

static char *query_string(mock_request *req)
{
    qbuf q = {0};
    q.f = open_memstream(&q.s, &q.len);
    if (!q.f)
        return NULL;
    MHD_get_connection_values(mock_req_connection(req), MHD_GET_ARGUMENT_KIND, q_iter, &q);
    fclose(q.f);
    return q.s;
}

static void journal_request(admin *a, mock_request *req, int status, const char *rule,
                            const char *fault)
{
    journal_entry e;
    memset(&e, 0, sizeof e);
    e.t_ms = mock_now_ms();
    snprintf(e.method, sizeof e.method, "%s", req->method);
    e.path = strdup(req->path);
    e.query = query_string(req);
    if (req->sandbox_id)
        snprintf(e.sandbox_id, sizeof e.sandbox_id, "%s", req->sandbox_id);
    e.port = req->port;
    e.status = status;
    e.rule = rule ? strdup(rule) : NULL;
    e.fault = fault ? strdup(fault) : NULL;
    if (req->body && req->port == MOCK_PORT_CONTROL && strcmp(req->method, "POST") == 0 &&
        (strcmp(req->path, "/sandboxes") == 0 || strcmp(req->path, "/v2/sandboxes") == 0)) {
        const char *why = admin_create_invalid_reason(req->body);
        if (why) {
            e.invalid = 1;
            e.invalid_reason = strdup(why);
        }
    }
    journal_add(a->j, &e);
}

/* ---------------------------------------------------------------- hooks */

static int is_admin(const mock_request *req)
{
    return req->port == MOCK_PORT_CONTROL &&
           strncmp(req->path, ADMIN_PREFIX, strlen(ADMIN_PREFIX)) == 0;
}

/* scenario_pre_send_fn: a fault is about to write on the socket itself; journal the request
 * now (status 0: no answer through the server), not after the client has seen the fault. */
static void journal_before_fault(mock_request *req, const char *fault, void *ud)
{
    admin *a = ud;
    journal_request(a, req, 0, tl.rule, fault);
    free(tl.rule);
    memset(&tl, 0, sizeof tl); /* journaled: neither the -1 path nor hook_after again */
}

static int hook_before(mock_request *req, mock_response **out, void *ud)
{
    admin *a = ud;
    free(tl.rule);
    memset(&tl, 0, sizeof tl);
    if (is_admin(req))
        return 0;
    tl.active = 1;
    if (a->rec) { /* record mode: everything goes upstream */
        tl.rule = strdup("record");
        return record_handle(a->rec, req, out);
    }
    scenario_req q = {.method = req->method,
                      .path = req->path,
                      .sandbox_id = req->sandbox_id,
                      .port = req->port,
                      .body = req->body,
                      .req = req};
    scenario_action act;
    cJSON *miss = NULL;
    if (!scenario_match(a->sc, &q, &act, &miss)) {
        journal_near_miss(a->j, miss);
        return 0;
    }
    tl.rule = act.rule ? strdup(act.rule) : NULL;
    int rc = scenario_execute(req, &act, out, &tl.fault, journal_before_fault, a);
    scenario_action_free(&act);
    if (rc < 0 && tl.active) { /* the client left during the delay */
        journal_request(a, req, 0, tl.rule, tl.fault ? tl.fault : "client_gone");
        free(tl.rule);
        memset(&tl, 0, sizeof tl);
    }
    return rc;
}

static int hook_after(mock_request *req, int status, void *ud)
{
    admin *a = ud;
    if (!tl.active)
        return 0;
    int drop = tl.fault && strcmp(tl.fault, "create_lost") == 0;
    journal_request(a, req, status, tl.rule, tl.fault);
    free(tl.rule);
    memset(&tl, 0, sizeof tl);
    if (drop)
        return fault_reset(req);
    return 0;
}

/* ---------------------------------------------------------------- admin routes */

static journal_filter filter_from(mock_request *req)
{
    journal_filter f = {.status = -1, .invalid = -1, .since = -1, .since_ms = -1};
    f.method = mock_req_query(req, "method");
    f.path = mock_req_query(req, "path");
    f.sandbox = mock_req_query(req, "sandbox");
    f.rule = mock_req_query(req, "rule");
    f.fault = mock_req_query(req, "fault");
    const char *v;
    if ((v = mock_req_query(req, "status")) && *v)
        f.status = atoi(v);
    if ((v = mock_req_query(req, "invalid")) && *v)
        f.invalid = strcmp(v, "true") == 0 || strcmp(v, "1") == 0;
    if ((v = mock_req_query(req, "since")) && *v)
        f.since = atoll(v);
    if ((v = mock_req_query(req, "sinceMs")) && *v)
        f.since_ms = atoll(v);
    return f;
}

static mock_response *h_journal(mock_request *req)
{
    journal_filter f = filter_from(req);
    return mock_resp_json(200, journal_query(get_admin(req)->j, &f));
}

static mock_response *h_journal_count(mock_request *req)
{
    journal_filter f = filter_from(req);
    cJSON *o = cJSON_CreateObject();
    if (o)
        cJSON_AddNumberToObject(o, "count", (double)journal_count(get_admin(req)->j, &f));
    return mock_resp_json(200, o);
}

static mock_response *h_near_misses(mock_request *req)
{
    return mock_resp_json(200, journal_near_misses(get_admin(req)->j));
}

static mock_response *h_scenarios_post(mock_request *req)
{
    char err[512];
    const char *app = mock_req_query(req, "append");
    int append = app && (strcmp(app, "1") == 0 || strcmp(app, "true") == 0);
    int n = scenario_load_json(get_admin(req)->sc, req->body, NULL, append, err, sizeof err);
    if (n < 0)
        return mock_resp_error(400, "%s", err);
    cJSON *o = cJSON_CreateObject();
    if (o) {
        cJSON_AddNumberToObject(o, "loaded", n);
        cJSON_AddNumberToObject(o, "rules", scenario_count(get_admin(req)->sc));
    }
    return mock_resp_json(200, o);
}

static mock_response *h_scenarios_get(mock_request *req)
{
    return mock_resp_json(200, scenario_list(get_admin(req)->sc));
}

static mock_response *h_scenarios_delete(mock_request *req)
{
    scenario_clear(get_admin(req)->sc);
    return mock_resp_empty(204);
}

static mock_response *clock_json(void)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    char ts[40];
    int64_t now = mock_now_ms();
    mock_format_rfc3339_ms(now, ts, sizeof ts);
    cJSON_AddNumberToObject(o, "nowMs", (double)now);
    cJSON_AddStringToObject(o, "now", ts);
    cJSON_AddNumberToObject(o, "offsetMs", (double)mock_clock_offset_ms());
    return mock_resp_json(200, o);
}

static mock_response *h_clock(mock_request *req)
{
    (void)req;
    return clock_json();
}

static mock_response *h_clock_advance(mock_request *req)
{
    cJSON *b = mock_req_json(req);
    const cJSON *ms = cJSON_GetObjectItemCaseSensitive(b, "ms");
    if (!cJSON_IsNumber(ms)) {
        cJSON_Delete(b);
        return mock_resp_error(400, "body must be {\"ms\": <number>}");
    }
    mock_clock_advance_ms((int64_t)ms->valuedouble);
    cJSON_Delete(b);
    mock_store *st = mock_server_store(req->server);
    int reaped = store_reap(st); /* synchronously: expiry is visible when we answer */
    store_kick(st);
    mock_response *r = clock_json();
    char n[16];
    snprintf(n, sizeof n, "%d", reaped);
    mock_resp_header(r, "X-Mock-Reaped", n);
    return r;
}

static mock_response *h_reset(mock_request *req)
{
    admin *a = get_admin(req);
    mock_store *st = mock_server_store(req->server);
    size_t n = 0;
    mock_sandbox **all = store_snapshot(st, &n);
    for (size_t i = 0; i < n; i++) {
        store_kill(st, all[i]->id);
        store_release(all[i]);
    }
    free(all);
    mock_clock_advance_ms(-mock_clock_offset_ms());
    journal_clear(a->j);
    scenario_reset_counters(a->sc);
    cJSON *o = cJSON_CreateObject();
    if (o)
        cJSON_AddNumberToObject(o, "killed", (double)n);
    return mock_resp_json(200, o);
}

/* Runs before the modules' own destroy hooks (admin registers first): with cutStreamsOnKill (the
 * default) the sandbox's open streams are dropped as E2B's edge does when a sandbox disappears
 * (the VM is gone, nothing sends an end event); set it false to get the modules' graceful end
 * events instead (ExecutionAborted + end_of_execution, end{"signal: killed"}). */
static void on_destroy(mock_sandbox *sbx, void *ud)
{
    admin *a = ud;
    if (atomic_load(&a->cut_streams_on_kill))
        mock_server_cancel_streams(a->srv, sbx->id);
}

static mock_response *settings_json(admin *a)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *l = cJSON_CreateObject();
    if (o && l) {
        cJSON_AddBoolToObject(o, "cutStreamsOnKill", atomic_load(&a->cut_streams_on_kill));
        /* read-only: how sandbox limits are enforced on this host (ISOLATION.md) */
        cJSON_AddStringToObject(l, "processes", sbxrt_process_limit_kind());
        cJSON_AddStringToObject(l, "memory", sbxrt_memory_limit_kind());
        cJSON_AddItemToObject(o, "limits", l);
        l = NULL;
    }
    cJSON_Delete(l);
    return mock_resp_json(200, o);
}

static mock_response *h_settings_get(mock_request *req)
{
    return settings_json(get_admin(req));
}

static mock_response *h_settings_post(mock_request *req)
{
    admin *a = get_admin(req);
    cJSON *b = mock_req_json(req);
    if (!cJSON_IsObject(b)) {
        cJSON_Delete(b);
        return mock_resp_error(400, "body must be a JSON object");
    }
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(b, "cutStreamsOnKill");
    if (c && !cJSON_IsBool(c)) {
        cJSON_Delete(b);
        return mock_resp_error(400, "cutStreamsOnKill must be a boolean");
    }
    if (c)
        atomic_store(&a->cut_streams_on_kill, cJSON_IsTrue(c));
    cJSON_Delete(b);
    return settings_json(a);
}

int admin_set_cut_streams_on_kill(mock_server *s, int on)
{
    admin *a = mock_server_get_data(s, "admin");
    if (!a)
        return -1;
    atomic_store(&a->cut_streams_on_kill, on != 0);
    return 0;
}

static void admin_free(void *p)
{
    admin *a = p;
    scenario_set_free(a->sc);
    journal_free(a->j);
    record_free(a->rec);
    free(a);
    free(tl.rule);
    memset(&tl, 0, sizeof tl);
}

static int admin_init(mock_server *s)
{
    admin *a = calloc(1, sizeof *a);
    if (!a)
        return -1;
    a->sc = scenario_set_new();
    a->j = journal_new();
    a->srv = s;
    atomic_init(&a->cut_streams_on_kill, 1);
    if (!a->sc || !a->j || mock_server_set_data(s, "admin", a, admin_free) != 0) {
        scenario_set_free(a->sc);
        journal_free(a->j);
        free(a);
        return -1;
    }
    const char *up = getenv("E2B_MOCK_RECORD");
    if (up && *up && !(a->rec = record_new_from_env()))
        return -1;
    const char *path = getenv("E2B_MOCK_SCENARIOS");
    if (path && *path) {
        char err[512];
        int n = scenario_load_path(a->sc, path, err, sizeof err);
        if (n < 0) {
            mock_log(MOCK_LOG_ERROR, "--scenarios: %s", err);
            return -1;
        }
        mock_log(MOCK_LOG_INFO, "loaded %d scenario rules from %s", n, path);
    }
    const unsigned F = MOCK_ROUTE_NO_AUTH;
    const int C = MOCK_PORT_CONTROL;
    if (mock_route_add(s, C, "POST", "/_mock/scenarios", h_scenarios_post, F) ||
        mock_route_add(s, C, "GET", "/_mock/scenarios", h_scenarios_get, F) ||
        mock_route_add(s, C, "DELETE", "/_mock/scenarios", h_scenarios_delete, F) ||
        mock_route_add(s, C, "POST", "/_mock/reset", h_reset, F) ||
        mock_route_add(s, C, "GET", "/_mock/journal", h_journal, F) ||
        mock_route_add(s, C, "GET", "/_mock/journal/count", h_journal_count, F) ||
        mock_route_add(s, C, "GET", "/_mock/near-misses", h_near_misses, F) ||
        mock_route_add(s, C, "GET", "/_mock/clock", h_clock, F) ||
        mock_route_add(s, C, "POST", "/_mock/clock/advance", h_clock_advance, F) ||
        mock_route_add(s, C, "GET", "/_mock/settings", h_settings_get, F) ||
        mock_route_add(s, C, "POST", "/_mock/settings", h_settings_post, F) ||
        store_on_destroy(mock_server_store(s), on_destroy, a) != 0)
        return -1;
    /* record mode forwards every request body upstream, also uploads and data-plane requests
     * for sandboxes this mock does not have */
    mock_hooks h = {
        .before = hook_before, .after = hook_after, .ud = a, .buffer_all_bodies = a->rec != NULL};
    mock_server_set_hooks(s, &h);
    return 0;
}

MOCK_MODULE(admin, admin_init, NULL)
