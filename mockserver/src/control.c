/* control.c - the E2B control-plane REST API (e2b-protocol.md §4) as a MOCK_MODULE. */
#include "control.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "server.h"
#include "store.h"
#include "util.h"
#include "warmpool.h"

#define ENVD_VERSION "0.6.13"
#define DEFAULT_TIMEOUT_V2_S 300
#define DEFAULT_TIMEOUT_V1_S 15
#define DEFAULT_CONNECT_TIMEOUT_S 300
#define DEFAULT_RESUME_TIMEOUT_S 15
#define MIN_REFRESH_S 15

typedef struct control {
    cJSON *templates; /* array of {templateID, aliases[], cpuCount, memoryMB, diskSizeMB} */
} control;

static const char builtin_templates[] =
    "{\"templates\":["
    "{\"templateID\":\"base\",\"aliases\":[\"base\"],\"cpuCount\":2,\"memoryMB\":512,"
    "\"diskSizeMB\":1024},"
    "{\"templateID\":\"code-interpreter-v1\",\"aliases\":[\"code-interpreter-v1\"],\"cpuCount\":2,"
    "\"memoryMB\":1024,\"diskSizeMB\":1024},"
    "{\"templateID\":\"desktop\",\"aliases\":[\"desktop\"],\"cpuCount\":2,\"memoryMB\":2048,"
    "\"diskSizeMB\":2048},"
    "{\"templateID\":\"mcp-gateway\",\"aliases\":[\"mcp-gateway\"],\"cpuCount\":2,\"memoryMB\":512,"
    "\"diskSizeMB\":1024}"
    "]}";

/* ================================================================== pure helpers */

cJSON *control_parse_metadata_filter(const char *value)
{
    cJSON *out = cJSON_CreateObject();
    if (!out || !value)
        return out;
    const char *p = value;
    while (*p) {
        const char *amp = strchr(p, '&');
        size_t len = amp ? (size_t)(amp - p) : strlen(p);
        if (len > 0) {
            const char *eq = memchr(p, '=', len);
            if (!eq || eq == p)
                goto bad;
            char *k1 = mock_url_decode(p, (size_t)(eq - p), 1);
            char *v1 = mock_url_decode(eq + 1, len - (size_t)(eq - p) - 1, 1);
            char *k2 = k1 ? mock_url_decode(k1, strlen(k1), 0) : NULL;
            char *v2 = v1 ? mock_url_decode(v1, strlen(v1), 0) : NULL;
            int ok = k2 && v2 && *k2;
            if (ok) {
                cJSON_DeleteItemFromObjectCaseSensitive(out, k2);
                ok = cJSON_AddStringToObject(out, k2, v2) != NULL;
            }
            free(k1);
            free(v1);
            free(k2);
            free(v2);
            if (!ok)
                goto bad;
        }
        p += len;
        if (*p == '&')
            p++;
    }
    return out;
bad:
    cJSON_Delete(out);
    return NULL;
}

char *control_encode_token(int64_t started_ns, const char *sandbox_id)
{
    char ts[48], raw[128];
    mock_format_rfc3339_nano(started_ns, ts, sizeof ts);
    int n = snprintf(raw, sizeof raw, "%s__%s", ts, sandbox_id);
    if (n < 0 || (size_t)n >= sizeof raw)
        return NULL;
    return mock_base64url_encode(raw, (size_t)n);
}

int control_decode_token(const char *token, int64_t *started_ns, char *id, size_t idlen)
{
    size_t n = 0;
    unsigned char *raw = mock_base64url_decode(token, &n);
    if (!raw)
        return -1;
    int rc = -1;
    char *sep = strstr((char *)raw, "__");
    if (sep && strlen((char *)raw) == n) {
        *sep = '\0';
        const char *sid = sep + 2;
        char *tail = strstr(sid, "__"); /* optional "__asc" suffix (INFRA) */
        if (tail)
            *tail = '\0';
        size_t sl = strlen(sid);
        if (sl > 0 && sl < idlen && mock_parse_rfc3339_ns((char *)raw, started_ns) == 0) {
            memcpy(id, sid, sl + 1);
            rc = 0;
        }
    }
    free(raw);
    return rc;
}

/* ================================================================== JSON builders */

static void add_time(cJSON *o, const char *key, int64_t ms)
{
    char buf[48];
    mock_format_rfc3339_ms(ms, buf, sizeof buf);
    cJSON_AddStringToObject(o, key, buf);
}

/* Sandbox (create / connect / resume). */
static cJSON *sandbox_json(mock_sandbox *s)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    cJSON_AddStringToObject(o, "templateID", s->template_id);
    cJSON_AddStringToObject(o, "sandboxID", s->id);
    cJSON_AddStringToObject(o, "alias", s->alias);
    cJSON_AddStringToObject(o, "clientID", s->client_id);
    cJSON_AddStringToObject(o, "envdVersion", ENVD_VERSION);
    cJSON_AddStringToObject(o, "envdAccessToken", s->access_token);
    cJSON_AddNullToObject(o, "trafficAccessToken");
    cJSON_AddNullToObject(o, "domain");
    return o;
}

/* ListedSandbox; detail=1 adds the SandboxDetail extras. */
static cJSON *listed_json(mock_sandbox *s, int detail)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    cJSON_AddStringToObject(o, "templateID", s->template_id);
    cJSON_AddStringToObject(o, "alias", s->alias);
    cJSON_AddStringToObject(o, "sandboxID", s->id);
    cJSON_AddStringToObject(o, "clientID", s->client_id);
    add_time(o, "startedAt", s->started_at_ms);
    add_time(o, "endAt", store_sandbox_end_at_ms(s));
    cJSON_AddNumberToObject(o, "cpuCount", s->cpu_count);
    cJSON_AddNumberToObject(o, "memoryMB", s->memory_mb);
    cJSON_AddNumberToObject(o, "diskSizeMB", s->disk_size_mb);
    cJSON_AddItemToObject(o, "metadata", cJSON_Duplicate(s->metadata, 1));
    cJSON_AddStringToObject(o, "state", store_state_name(store_sandbox_state(s)));
    cJSON_AddStringToObject(o, "envdVersion", ENVD_VERSION);
    cJSON_AddItemToObject(o, "volumeMounts", cJSON_CreateArray());
    if (detail) {
        cJSON_AddStringToObject(o, "envdAccessToken", s->access_token);
        cJSON_AddNullToObject(o, "domain");
        int ai = store_sandbox_allow_internet(s);
        if (ai < 0)
            cJSON_AddNullToObject(o, "allowInternetAccess");
        else
            cJSON_AddBoolToObject(o, "allowInternetAccess", ai);
        cJSON *lc = cJSON_AddObjectToObject(o, "lifecycle");
        if (lc) {
            cJSON_AddBoolToObject(lc, "autoResume", store_sandbox_auto_resume(s));
            cJSON_AddStringToObject(lc, "onTimeout",
                                    store_sandbox_auto_pause(s) ? "pause" : "kill");
        }
    }
    return o;
}

/* ================================================================== request helpers */

static mock_response *not_found(const char *id)
{
    return mock_resp_error(404, "Sandbox \"%s\" doesn't exist or you don't have access to it", id);
}

/* Parses an optional JSON object body. *err set to a response on failure. Empty -> NULL. */
static cJSON *body_object(mock_request *req, int required, mock_response **err)
{
    *err = NULL;
    const char *b = req->body;
    size_t n = req->body_len;
    while (n > 0 && (*b == ' ' || *b == '\n' || *b == '\r' || *b == '\t')) {
        b++;
        n--;
    }
    if (n == 0) {
        if (required)
            *err = mock_resp_error(400, "request body has an error: value is required but missing");
        return NULL;
    }
    cJSON *j = cJSON_ParseWithLength(b, n);
    if (!j || !cJSON_IsObject(j)) {
        cJSON_Delete(j);
        *err = mock_resp_error(400, "request body has an error: failed to decode request body: "
                                    "expected a JSON object");
        return NULL;
    }
    return j;
}

static mock_response *type_error(const char *field, const char *type)
{
    return mock_resp_error(400,
                           "request body has an error: doesn't match schema: "
                           "property \"%s\" must be %s",
                           field, type);
}

/* Optional integer seconds field. Returns 0 ok (*out set when present, *present=1), else a
 * response in *err. */
static int get_int_field(const cJSON *o, const char *name, int64_t *out, int *present,
                         mock_response **err)
{
    *present = 0;
    const cJSON *it = o ? cJSON_GetObjectItemCaseSensitive(o, name) : NULL;
    if (!it || cJSON_IsNull(it))
        return 0;
    if (!cJSON_IsNumber(it) || it->valuedouble != floor(it->valuedouble) ||
        fabs(it->valuedouble) > 2147483647.0) {
        *err = type_error(name, "an integer");
        return -1;
    }
    *out = (int64_t)it->valuedouble;
    *present = 1;
    return 0;
}

static mock_response *check_timeout(mock_request *req, int64_t t)
{
    unsigned max = mock_server_max_timeout_s(req->server);
    if (t <= 0)
        return mock_resp_error(400, "Timeout must be greater than 0");
    if (t > (int64_t)max) {
        if (max % 3600 == 0)
            return mock_resp_error(400, "Timeout cannot be greater than %u hours", max / 3600);
        return mock_resp_error(400, "Timeout cannot be greater than %g hours", max / 3600.0);
    }
    return NULL;
}

static int is_string_map(const cJSON *o)
{
    if (!cJSON_IsObject(o))
        return 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, o)
    {
        if (!cJSON_IsString(it))
            return 0;
    }
    return 1;
}

static control *ctl(mock_request *req)
{
    return mock_server_get_data(req->server, "control");
}

static const cJSON *find_template(control *c, const char *name)
{
    const cJSON *t;
    cJSON_ArrayForEach(t, c->templates)
    {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(t, "templateID");
        if (cJSON_IsString(id) && strcmp(id->valuestring, name) == 0)
            return t;
        const cJSON *aliases = cJSON_GetObjectItemCaseSensitive(t, "aliases"), *a;
        cJSON_ArrayForEach(a, aliases)
        {
            if (cJSON_IsString(a) && strcmp(a->valuestring, name) == 0)
                return t;
        }
    }
    return NULL;
}

static int tmpl_int(const cJSON *t, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(t, k);
    return cJSON_IsNumber(v) ? v->valueint : 0;
}

/* ================================================================== handlers */

static mock_response *create(mock_request *req, int v2)
{
    mock_response *err = NULL;
    cJSON *b = body_object(req, 1, &err);
    if (!b)
        return err;
    mock_response *res = NULL;
    const cJSON *tid = cJSON_GetObjectItemCaseSensitive(b, "templateID");
    const cJSON *meta = cJSON_GetObjectItemCaseSensitive(b, "metadata");
    const cJSON *envs = cJSON_GetObjectItemCaseSensitive(b, "envVars");
    const cJSON *ap = cJSON_GetObjectItemCaseSensitive(b, "autoPause");
    const cJSON *ar = cJSON_GetObjectItemCaseSensitive(b, "autoResume");
    const cJSON *aia = cJSON_GetObjectItemCaseSensitive(b, "allow_internet_access");
    const cJSON *secure = cJSON_GetObjectItemCaseSensitive(b, "secure");
    int64_t timeout = v2 ? DEFAULT_TIMEOUT_V2_S : DEFAULT_TIMEOUT_V1_S;
    int present = 0;
    store_create_opts o = {0};
    o.allow_internet_access = -1;

    if (!tid) {
        res = mock_resp_error(400, "request body has an error: doesn't match schema: "
                                   "property \"templateID\" is missing");
        goto out;
    }
    if (!cJSON_IsString(tid) || !*tid->valuestring) {
        res = type_error("templateID", "a non-empty string");
        goto out;
    }
    if (meta && !cJSON_IsNull(meta) && !is_string_map(meta)) {
        res = type_error("metadata", "an object of strings");
        goto out;
    }
    if (envs && !cJSON_IsNull(envs) && !is_string_map(envs)) {
        res = type_error("envVars", "an object of strings");
        goto out;
    }
    if (ap && !cJSON_IsBool(ap)) {
        res = type_error("autoPause", "a boolean");
        goto out;
    }
    if (aia && !cJSON_IsNull(aia) && !cJSON_IsBool(aia)) {
        res = type_error("allow_internet_access", "a boolean");
        goto out;
    }
    if (secure && !cJSON_IsBool(secure)) {
        res = type_error("secure", "a boolean");
        goto out;
    }
    if (ar && !cJSON_IsNull(ar)) {
        const cJSON *en = cJSON_GetObjectItemCaseSensitive(ar, "enabled");
        if (!cJSON_IsObject(ar) || (en && !cJSON_IsBool(en))) {
            res = type_error("autoResume", "an object {\"enabled\": boolean}");
            goto out;
        }
        o.auto_resume = cJSON_IsTrue(en);
    }
    if (get_int_field(b, "timeout", &timeout, &present, &res) != 0)
        goto out;
    if ((res = check_timeout(req, timeout)) != NULL)
        goto out;

    const cJSON *t = find_template(ctl(req), tid->valuestring);
    if (!t) {
        res = mock_resp_error(404, "template '%s' not found", tid->valuestring);
        goto out;
    }
    unsigned lat = mock_server_create_latency_ms(req->server);
    if (lat && mock_server_sleep_ms(req->server, lat) != 0) {
        res = mock_resp_error(503, "server is shutting down");
        goto out;
    }

    o.template_id = tid->valuestring;
    o.alias = tid->valuestring;
    o.timeout_ms = timeout * 1000;
    o.metadata = cJSON_IsObject(meta) ? meta : NULL;
    o.env_vars = cJSON_IsObject(envs) ? envs : NULL;
    o.auto_pause = cJSON_IsTrue(ap);
    if (cJSON_IsBool(aia))
        o.allow_internet_access = cJSON_IsTrue(aia);
    o.cpu_count = tmpl_int(t, "cpuCount");
    o.memory_mb = tmpl_int(t, "memoryMB");
    o.disk_size_mb = tmpl_int(t, "diskSizeMB");
    /* warm pool (warmpool.h): adopt a pre-started directory + python kernel */
    warmpool_entry *warm = warmpool_take(req->server, o.allow_internet_access == 1);
    o.adopt_dir = warmpool_entry_dir(warm);
    mock_sandbox *s = store_create(mock_server_store(req->server), &o);
    warmpool_attach(req->server, warm, s);
    if (!s) {
        res = mock_resp_error(500, "cannot create sandbox: %s", strerror(errno));
        goto out;
    }
    res = mock_resp_json(201, sandbox_json(s));
    mock_log(MOCK_LOG_DEBUG, "created sandbox %s (%s)", s->id, s->template_id);
    store_release(s);
out:
    cJSON_Delete(b);
    return res;
}

static mock_response *h_create_v2(mock_request *req)
{
    return create(req, 1);
}
static mock_response *h_create_v1(mock_request *req)
{
    return create(req, 0);
}

static mock_response *h_get(mock_request *req)
{
    const char *id = mock_req_param(req, "id");
    mock_sandbox *s = store_get(mock_server_store(req->server), id);
    if (!s)
        return not_found(id);
    mock_response *r = mock_resp_json(200, listed_json(s, 1));
    store_release(s);
    return r;
}

static mock_response *h_kill(mock_request *req)
{
    const char *id = mock_req_param(req, "id");
    if (store_kill(mock_server_store(req->server), id) != STORE_OK)
        return not_found(id);
    return mock_resp_empty(204);
}

static mock_response *h_timeout(mock_request *req)
{
    const char *id = mock_req_param(req, "id");
    mock_response *err = NULL;
    cJSON *b = body_object(req, 1, &err);
    if (!b)
        return err;
    int64_t t = 0;
    int present = 0;
    if (get_int_field(b, "timeout", &t, &present, &err) != 0 || !present) {
        cJSON_Delete(b);
        return err ? err
                   : mock_resp_error(400, "request body has an error: doesn't match schema: "
                                          "property \"timeout\" is missing");
    }
    cJSON_Delete(b);
    if ((err = check_timeout(req, t)) != NULL)
        return err;
    if (store_set_timeout(mock_server_store(req->server), id, t * 1000) != STORE_OK)
        return not_found(id);
    return mock_resp_empty(204);
}

static mock_response *h_refresh(mock_request *req)
{
    const char *id = mock_req_param(req, "id");
    mock_response *err = NULL;
    cJSON *b = body_object(req, 0, &err);
    if (err)
        return err;
    int64_t d = MIN_REFRESH_S;
    int present = 0;
    if (get_int_field(b, "duration", &d, &present, &err) != 0) {
        cJSON_Delete(b);
        return err;
    }
    cJSON_Delete(b);
    if (d < MIN_REFRESH_S)
        d = MIN_REFRESH_S;
    if ((err = check_timeout(req, d)) != NULL)
        return err;
    if (store_refresh(mock_server_store(req->server), id, d * 1000) != STORE_OK)
        return not_found(id);
    return mock_resp_empty(204);
}

static mock_response *h_pause(mock_request *req)
{
    const char *id = mock_req_param(req, "id");
    mock_response *err = NULL;
    cJSON *b = body_object(req, 0, &err);
    if (err)
        return err;
    const cJSON *mem = cJSON_GetObjectItemCaseSensitive(b, "memory");
    if (mem && !cJSON_IsBool(mem)) {
        cJSON_Delete(b);
        return type_error("memory", "a boolean");
    }
    cJSON_Delete(b);
    switch (store_pause(mock_server_store(req->server), id)) {
    case STORE_OK: return mock_resp_empty(204);
    case STORE_CONFLICT: return mock_resp_error(409, "Sandbox \"%s\" is already paused", id);
    default: return not_found(id);
    }
}

/* connect (v1/v2) and resume */
static mock_response *reconnect(mock_request *req, int resume)
{
    const char *id = mock_req_param(req, "id");
    mock_response *err = NULL;
    cJSON *b = body_object(req, 0, &err);
    if (err)
        return err;
    int64_t t = resume ? DEFAULT_RESUME_TIMEOUT_S : DEFAULT_CONNECT_TIMEOUT_S;
    int present = 0;
    const cJSON *mem = cJSON_GetObjectItemCaseSensitive(b, "memory");
    if (get_int_field(b, "timeout", &t, &present, &err) != 0) {
        cJSON_Delete(b);
        return err;
    }
    cJSON_Delete(b);
    if (mem && !cJSON_IsBool(mem))
        return type_error("memory", "a boolean");
    if ((err = check_timeout(req, t)) != NULL)
        return err;
    mock_store *st = mock_server_store(req->server);
    int resumed = 0;
    store_result r = resume ? store_resume(st, id, t * 1000)
                            : store_connect(st, id, t * 1000, &resumed);
    if (r == STORE_CONFLICT)
        return mock_resp_error(409, "Sandbox \"%s\" is already running", id);
    if (r != STORE_OK)
        return not_found(id);
    mock_sandbox *s = store_get(st, id);
    if (!s) /* killed in between */
        return not_found(id);
    mock_response *res = mock_resp_json(resume || resumed ? 201 : 200, sandbox_json(s));
    store_release(s);
    return res;
}

static mock_response *h_connect(mock_request *req)
{
    return reconnect(req, 0);
}
static mock_response *h_resume(mock_request *req)
{
    return reconnect(req, 1);
}

/* ---- listing */

typedef struct list_query {
    cJSON *metadata; /* filter */
    int want_running, want_paused;
    int asc;
    long limit;
    int has_token;
    int64_t tok_ns;
    char tok_id[64];
    const char *template_id;
    int has_after;
    int64_t after_ns;
} list_query;

static int meta_match(const cJSON *filter, const cJSON *meta)
{
    const cJSON *f;
    cJSON_ArrayForEach(f, filter)
    {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(meta, f->string);
        if (!cJSON_IsString(v) || strcmp(v->valuestring, f->valuestring) != 0)
            return 0;
    }
    return 1;
}

static int cmp_started(const void *a, const void *b)
{
    const mock_sandbox *x = *(mock_sandbox *const *)a, *y = *(mock_sandbox *const *)b;
    if (x->started_at_ms != y->started_at_ms)
        return x->started_at_ms < y->started_at_ms ? -1 : 1;
    return strcmp(x->id, y->id);
}

/* key(s) vs token: <0, 0, >0 */
static int cmp_token(const mock_sandbox *s, const list_query *q)
{
    int64_t ns = s->started_at_ms * 1000000LL;
    if (ns != q->tok_ns)
        return ns < q->tok_ns ? -1 : 1;
    return strcmp(s->id, q->tok_id);
}

static mock_response *parse_list_query(mock_request *req, list_query *q, int v2)
{
    memset(q, 0, sizeof *q);
    q->limit = 100;
    q->want_running = 1;
    q->want_paused = v2;
    const char *m = mock_req_query(req, "metadata");
    q->metadata = control_parse_metadata_filter(m ? m : "");
    if (!q->metadata)
        return mock_resp_error(400, "Error parsing metadata: invalid metadata filter");
    if (!v2)
        return NULL;
    const char *st = mock_req_query(req, "state");
    if (st && *st) {
        q->want_running = q->want_paused = 0;
        char *dup = strdup(st), *save = NULL;
        if (!dup)
            return NULL;
        for (char *tok = strtok_r(dup, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
            if (strcmp(tok, "running") == 0)
                q->want_running = 1;
            else if (strcmp(tok, "paused") == 0)
                q->want_paused = 1;
            else {
                mock_response *r = mock_resp_error(400, "invalid state filter: '%s'", tok);
                free(dup);
                return r;
            }
        }
        free(dup);
    }
    const char *order = mock_req_query(req, "order");
    if (order && *order) {
        if (strcmp(order, "asc") == 0)
            q->asc = 1;
        else if (strcmp(order, "desc") != 0)
            return mock_resp_error(400, "invalid order '%s': must be asc or desc", order);
    }
    const char *lim = mock_req_query(req, "limit");
    if (lim) {
        char *end = NULL;
        errno = 0;
        long v = strtol(lim, &end, 10);
        if (!*lim || *end || errno || v < 1 || v > 100)
            return mock_resp_error(400, "limit must be an integer between 1 and 100");
        q->limit = v;
    }
    const char *tok = mock_req_query(req, "nextToken");
    if (tok && *tok) {
        if (control_decode_token(tok, &q->tok_ns, q->tok_id, sizeof q->tok_id) != 0)
            return mock_resp_error(400, "Invalid next token");
        q->has_token = 1;
    }
    q->template_id = mock_req_query(req, "template");
    if (q->template_id && !*q->template_id)
        q->template_id = NULL;
    const char *after = mock_req_query(req, "startedAfter");
    if (after && *after) {
        if (mock_parse_rfc3339_ns(after, &q->after_ns) != 0)
            return mock_resp_error(400, "startedAfter must be an RFC 3339 time");
        q->has_after = 1;
    }
    return NULL;
}

static mock_response *list(mock_request *req, int v2)
{
    list_query q;
    mock_response *err = parse_list_query(req, &q, v2);
    if (err || !q.metadata) {
        cJSON_Delete(q.metadata);
        return err;
    }
    size_t n = 0;
    mock_sandbox **v = store_snapshot(mock_server_store(req->server), &n);
    size_t kept = 0;
    long total_running = 0;
    for (size_t i = 0; i < n; i++) {
        mock_sandbox *s = v[i];
        mock_sbx_state st = store_sandbox_state(s);
        int ok = st != MOCK_SBX_KILLED && meta_match(q.metadata, s->metadata) &&
                 (!q.template_id || strcmp(q.template_id, s->template_id) == 0 ||
                  strcmp(q.template_id, s->alias) == 0) &&
                 (!q.has_after || s->started_at_ms * 1000000LL > q.after_ns);
        if (ok && st == MOCK_SBX_RUNNING)
            total_running++;
        ok = ok && ((st == MOCK_SBX_RUNNING && q.want_running) ||
                    (st == MOCK_SBX_PAUSED && q.want_paused));
        if (ok)
            v[kept++] = s;
        else
            store_release(s);
    }
    if (kept > 1)
        qsort(v, kept, sizeof *v, cmp_started);
    if (!q.asc)
        for (size_t i = 0; i < kept / 2; i++) {
            mock_sandbox *t = v[i];
            v[i] = v[kept - 1 - i];
            v[kept - 1 - i] = t;
        }
    cJSON *arr = cJSON_CreateArray();
    size_t emitted = 0;
    int more = 0;
    mock_sandbox *last = NULL;
    for (size_t i = 0; i < kept; i++) {
        mock_sandbox *s = v[i];
        if (q.has_token) {
            int c = cmp_token(s, &q);
            if (q.asc ? c <= 0 : c >= 0)
                continue;
        }
        if (v2 && (long)emitted >= q.limit) {
            more = 1;
            break;
        }
        cJSON_AddItemToArray(arr, listed_json(s, 0));
        emitted++;
        last = s;
    }
    char *next = (more && last) ? control_encode_token(last->started_at_ms * 1000000LL, last->id)
                                : NULL;
    for (size_t i = 0; i < kept; i++)
        store_release(v[i]);
    free(v);
    cJSON_Delete(q.metadata);
    mock_response *res = mock_resp_json(200, arr);
    if (res && next)
        mock_resp_header(res, "X-Next-Token", next);
    if (res && v2 && q.want_running) {
        char buf[32];
        snprintf(buf, sizeof buf, "%ld", total_running);
        mock_resp_header(res, "X-Total-Running", buf);
    }
    free(next);
    return res;
}

static mock_response *h_list_v2(mock_request *req)
{
    return list(req, 1);
}
static mock_response *h_list_v1(mock_request *req)
{
    return list(req, 0);
}

/* ---- metrics */

static double host_cpu_pct(void)
{
    double l1 = 0;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf", &l1) != 1)
            l1 = 0;
        fclose(f);
    }
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    double pct = ncpu > 0 ? l1 / (double)ncpu * 100.0 : 0;
    return pct > 100 ? 100 : pct;
}

static double host_mem_used_fraction(void)
{
    long total = 0, avail = 0;
    char line[256];
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f)
        return 0.1;
    while (fgets(line, sizeof line, f)) {
        sscanf(line, "MemTotal: %ld kB", &total);
        sscanf(line, "MemAvailable: %ld kB", &avail);
    }
    fclose(f);
    return total > 0 ? 1.0 - (double)avail / (double)total : 0.1;
}

static cJSON *metric_json(mock_sandbox *s)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    int64_t now = mock_now_ms();
    add_time(o, "timestamp", now);
    cJSON_AddNumberToObject(o, "timestampUnix", (double)(now / 1000));
    cJSON_AddNumberToObject(o, "cpuCount", s->cpu_count);
    cJSON_AddNumberToObject(o, "cpuUsedPct", host_cpu_pct());
    double mem_total = (double)s->memory_mb * 1024 * 1024;
    cJSON_AddNumberToObject(o, "memUsed", floor(mem_total * host_mem_used_fraction()));
    cJSON_AddNumberToObject(o, "memTotal", mem_total);
    cJSON_AddNumberToObject(o, "memCache", 0);
    cJSON_AddNumberToObject(o, "diskUsed", (double)mock_disk_usage(s->dir));
    cJSON_AddNumberToObject(o, "diskTotal", (double)s->disk_size_mb * 1024 * 1024);
    return o;
}

static mock_response *h_metrics(mock_request *req)
{
    const char *id = mock_req_param(req, "id");
    mock_sandbox *s = store_get(mock_server_store(req->server), id);
    if (!s)
        return not_found(id);
    cJSON *arr = cJSON_CreateArray();
    int64_t now_s = mock_now_ms() / 1000;
    const char *start = mock_req_query(req, "start"), *end = mock_req_query(req, "end");
    long long a = start && *start ? atoll(start) : 0, b = end && *end ? atoll(end) : 0;
    if (store_sandbox_state(s) == MOCK_SBX_RUNNING && (!a || a <= now_s) && (!b || b >= now_s))
        cJSON_AddItemToArray(arr, metric_json(s));
    store_release(s);
    return mock_resp_json(200, arr);
}

static mock_response *h_metrics_many(mock_request *req)
{
    const char *ids = mock_req_query(req, "sandbox_ids");
    cJSON *o = cJSON_CreateObject(), *m = cJSON_AddObjectToObject(o, "sandboxes");
    if (ids && m) {
        char *dup = strdup(ids), *save = NULL;
        for (char *t = dup ? strtok_r(dup, ",", &save) : NULL; t; t = strtok_r(NULL, ",", &save)) {
            mock_sandbox *s = store_get(mock_server_store(req->server), t);
            if (s && store_sandbox_state(s) == MOCK_SBX_RUNNING)
                cJSON_AddItemToObject(m, s->id, metric_json(s));
            store_release(s);
        }
        free(dup);
    }
    return mock_resp_json(200, o);
}

static mock_response *h_logs_v2(mock_request *req)
{
    const char *id = mock_req_param(req, "id");
    mock_sandbox *s = store_get(mock_server_store(req->server), id);
    if (!s)
        return not_found(id);
    store_release(s);
    return mock_resp_json_str(200, "{\"logs\":[]}");
}

static mock_response *h_logs_v1(mock_request *req)
{
    const char *id = mock_req_param(req, "id");
    mock_sandbox *s = store_get(mock_server_store(req->server), id);
    if (!s)
        return not_found(id);
    store_release(s);
    return mock_resp_json_str(200, "{\"logs\":[],\"logEntries\":[]}");
}

static mock_response *h_health(mock_request *req)
{
    (void)req;
    static const char msg[] = "Health check successful";
    return mock_resp_bytes(200, "text/plain; charset=utf-8", msg, sizeof msg - 1);
}

/* ================================================================== module */

static void control_free(void *p)
{
    control *c = p;
    if (!c)
        return;
    cJSON_Delete(c->templates);
    free(c);
}

static cJSON *load_templates(mock_server *s)
{
    const char *dir = mock_server_get_data(s, "fixtures_dir");
    if (!dir)
        dir = getenv("E2B_FIXTURES_DIR");
    cJSON *doc = NULL;
    if (dir && *dir) {
        char *path = NULL;
        if (asprintf(&path, "%s/templates.json", dir) >= 0) {
            FILE *f = fopen(path, "rb");
            if (f) {
                char *buf = NULL;
                size_t cap = 0, len = 0, n;
                char chunk[4096];
                while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
                    if (len + n + 1 > cap) {
                        cap = (len + n + 1) * 2;
                        char *nb = realloc(buf, cap);
                        if (!nb)
                            break;
                        buf = nb;
                    }
                    memcpy(buf + len, chunk, n);
                    len += n;
                }
                fclose(f);
                if (buf) {
                    doc = cJSON_ParseWithLength(buf, len);
                    if (!doc)
                        mock_log(MOCK_LOG_WARN, "%s is not valid JSON; using built-in templates",
                                 path);
                }
                free(buf);
            }
            free(path);
        }
    }
    if (!doc)
        doc = cJSON_Parse(builtin_templates);
    cJSON *arr = doc ? cJSON_DetachItemFromObjectCaseSensitive(doc, "templates") : NULL;
    cJSON_Delete(doc);
    if (!cJSON_IsArray(arr)) {
        cJSON_Delete(arr);
        return NULL;
    }
    return arr;
}

static int control_init(mock_server *s)
{
    control *c = calloc(1, sizeof *c);
    if (!c)
        return -1;
    c->templates = load_templates(s);
    if (!c->templates || mock_server_set_data(s, "control", c, control_free) != 0) {
        control_free(c);
        return -1;
    }
    const int P = MOCK_PORT_CONTROL;
    int rc = 0;
    rc |= mock_route_add(s, P, "GET", "/health", h_health, MOCK_ROUTE_NO_AUTH);
    rc |= mock_route_add(s, P, "POST", "/v2/sandboxes", h_create_v2, 0);
    rc |= mock_route_add(s, P, "POST", "/sandboxes", h_create_v1, 0);
    rc |= mock_route_add(s, P, "GET", "/v2/sandboxes", h_list_v2, 0);
    rc |= mock_route_add(s, P, "GET", "/sandboxes", h_list_v1, 0);
    rc |= mock_route_add(s, P, "GET", "/sandboxes/metrics", h_metrics_many, 0);
    rc |= mock_route_add(s, P, "GET", "/sandboxes/{id}", h_get, 0);
    rc |= mock_route_add(s, P, "DELETE", "/sandboxes/{id}", h_kill, 0);
    rc |= mock_route_add(s, P, "POST", "/sandboxes/{id}/timeout", h_timeout, 0);
    rc |= mock_route_add(s, P, "POST", "/sandboxes/{id}/refreshes", h_refresh, 0);
    rc |= mock_route_add(s, P, "POST", "/sandboxes/{id}/pause", h_pause, 0);
    rc |= mock_route_add(s, P, "POST", "/sandboxes/{id}/resume", h_resume, 0);
    rc |= mock_route_add(s, P, "POST", "/sandboxes/{id}/connect", h_connect, 0);
    rc |= mock_route_add(s, P, "POST", "/v2/sandboxes/{id}/connect", h_connect, 0);
    rc |= mock_route_add(s, P, "GET", "/sandboxes/{id}/metrics", h_metrics, 0);
    rc |= mock_route_add(s, P, "GET", "/sandboxes/{id}/logs", h_logs_v1, 0);
    rc |= mock_route_add(s, P, "GET", "/v2/sandboxes/{id}/logs", h_logs_v2, 0);
    return rc ? -1 : 0;
}

MOCK_MODULE(control, control_init, NULL)
