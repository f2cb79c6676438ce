/* sandbox.c - sandbox lifecycle on the control plane (see e2b/sandbox.h; wire facts from
 * e2b-protocol.md §4 and sdk-traffic.md §4.1, §7). */
#include "e2b/sandbox.h"

#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "json_util.h"
#include "sandbox_internal.h"
#include "strbuf.h"

#define DEBUG_SANDBOX_ID "debug_sandbox_id"
#define DEBUG_ENVD_VERSION "99.99.99"

struct e2b_sandbox {
    e2b_client *client;
    char *id;
    char *template_id;
    char *envd_version;
    char *envd_access_token;
    char *traffic_access_token;
    char *domain;
};

static const char *const JSON_HEADERS[] = {"Content-Type: application/json", NULL};

/* ---- small helpers ------------------------------------------------------------------ */

static e2b_code oom(e2b_error *err)
{
    return e2b_error_set(err, E2B_ERR_NO_MEMORY, 0, "out of memory");
}

static e2b_code check_id(const char *id, e2b_error *err)
{
    if (!id || !*id)
        return e2b_error_set(err, E2B_ERR_INVALID_ARGUMENT, 0, "sandbox id is empty");
    return E2B_OK;
}

/* "<api_url>/<prefix><escaped id><suffix>" */
static e2b_code id_url(e2b_client *c, const char *prefix, const char *id, const char *suffix,
                       const char *const *query, char **out, e2b_error *err)
{
    char *esc = e2b_http_escape(id, (size_t)-1);
    if (!esc)
        return oom(err);
    e2b_strbuf p = {0};
    e2b_strbuf_printf(&p, "%s%s%s", prefix, esc, suffix);
    free(esc);
    char *path = e2b_strbuf_take(&p);
    if (!path)
        return oom(err);
    e2b_code rc = e2b_http_url(out, e2b_client_api_url(c), path, query, err);
    free(path);
    return rc;
}

/* One control-plane call: X-API-Key, JSON body, 429 retries. Returns E2B_OK when a response
 * arrived (any status) - the caller maps it. non_idempotent: never silently re-sent after a
 * dropped connection (see e2b_http_request.non_idempotent); a 429 is still retried, since
 * the server refused it without acting. */
static e2b_code api_call_x(e2b_client *c, const char *method, const char *url, const char *body,
                           bool non_idempotent, e2b_http_response *resp, e2b_error *err)
{
    if (!e2b_client_api_key(c) && !e2b_client_debug(c))
        return e2b_error_set(err, E2B_ERR_AUTH, 0,
                             "API key is required, please set E2B_API_KEY (or api_key in the "
                             "client config)");
    e2b_http_request req = {
        .method = method,
        .url = url,
        .headers = body ? JSON_HEADERS : NULL,
        .api_key = true,
        .body = body,
        .body_len = body ? strlen(body) : 0,
        .max_retries_429 = E2B_HTTP_RETRIES_CLIENT,
        .non_idempotent = non_idempotent,
    };
    return e2b_http_perform(c, &req, resp, err);
}

/* An idempotent control-plane call (GET, DELETE, connect, set_timeout). */
static e2b_code api_call(e2b_client *c, const char *method, const char *url, const char *body,
                         e2b_http_response *resp, e2b_error *err)
{
    return api_call_x(c, method, url, body, false, resp, err);
}

/* Maps a non-2xx answer to a sandbox-specific operation: any 404 means the sandbox. */
static e2b_code check_sandbox_status(const e2b_http_response *resp, const char *id,
                                     const char *what, e2b_error *err)
{
    e2b_code rc = e2b_http_check(resp, E2B_PLANE_CONTROL, err);
    if (resp->status == 404) {
        char msg[E2B_ERROR_MESSAGE_MAX];
        snprintf(msg, sizeof msg, "%s", err ? err->message : "");
        return e2b_error_set(err, E2B_ERR_SANDBOX_NOT_FOUND, 404, "%s %s not found (%s)", what, id,
                             msg);
    }
    return rc;
}

static e2b_code add_kv_object(cJSON *root, const char *name, const e2b_kv *kv, size_t n,
                              e2b_error *err)
{
    if (!n)
        return E2B_OK;
    if (!kv)
        return e2b_error_set(err, E2B_ERR_INVALID_ARGUMENT, 0, "%s: NULL array with length %zu",
                             name, n);
    cJSON *o = cJSON_AddObjectToObject(root, name);
    if (!o)
        return oom(err);
    for (size_t i = 0; i < n; i++) {
        if (!kv[i].key || !kv[i].value)
            return e2b_error_set(err, E2B_ERR_INVALID_ARGUMENT, 0, "%s[%zu]: NULL key or value",
                                 name, i);
        if (!cJSON_AddStringToObject(o, kv[i].key, kv[i].value))
            return oom(err);
    }
    return E2B_OK;
}

/* ---- versions ----------------------------------------------------------------------- */

static bool parse_semver(const char *s, long v[3])
{
    if (!s)
        return false;
    if (*s == 'v' || *s == 'V')
        s++;
    for (int i = 0; i < 3; i++) {
        if (!isdigit((unsigned char)*s))
            return false;
        char *end;
        v[i] = strtol(s, &end, 10);
        s = end;
        if (i < 2 && *s++ != '.')
            return false;
    }
    return *s == '\0' || *s == '-' || *s == '+';
}

int e2b_semver_cmp(const char *a, const char *b, bool *ok)
{
    long va[3], vb[3];
    bool good = parse_semver(a, va) && parse_semver(b, vb);
    if (ok)
        *ok = good;
    if (!good)
        return 0;
    for (int i = 0; i < 3; i++)
        if (va[i] != vb[i])
            return va[i] < vb[i] ? -1 : 1;
    return 0;
}

/* ---- handle ------------------------------------------------------------------------- */

void e2b_sandbox_free(e2b_sandbox *s)
{
    if (!s)
        return;
    free(s->id);
    free(s->template_id);
    free(s->envd_version);
    free(s->envd_access_token);
    free(s->traffic_access_token);
    free(s->domain);
    free(s);
}

const char *e2b_sandbox_id(const e2b_sandbox *s)
{
    return s ? s->id : NULL;
}
const char *e2b_sandbox_template_id(const e2b_sandbox *s)
{
    return s ? s->template_id : NULL;
}
const char *e2b_sandbox_envd_version(const e2b_sandbox *s)
{
    return s ? s->envd_version : NULL;
}
const char *e2b_sandbox_envd_access_token(const e2b_sandbox *s)
{
    return s ? s->envd_access_token : NULL;
}
const char *e2b_sandbox_traffic_access_token(const e2b_sandbox *s)
{
    return s ? s->traffic_access_token : NULL;
}
const char *e2b_sandbox_domain(const e2b_sandbox *s)
{
    return s ? s->domain : NULL;
}
e2b_client *e2b_sandbox_client(const e2b_sandbox *s)
{
    return s ? s->client : NULL;
}

e2b_code e2b_sandbox_from_json(e2b_client *client, const cJSON *obj, e2b_sandbox **out,
                               e2b_error *err)
{
    *out = NULL;
    if (!cJSON_IsObject(obj))
        return e2b_error_set(err, E2B_ERR_PROTOCOL, 0, "sandbox reply is not a JSON object");
    e2b_sandbox *s = calloc(1, sizeof *s);
    if (!s)
        return oom(err);
    s->client = client;
    e2b_code rc;
    if ((rc = e2b_json_get_strdup(obj, "sandboxID", true, &s->id, err)) ||
        (rc = e2b_json_get_strdup(obj, "templateID", false, &s->template_id, err)) ||
        (rc = e2b_json_get_strdup(obj, "envdVersion", true, &s->envd_version, err)) ||
        (rc = e2b_json_get_strdup(obj, "envdAccessToken", false, &s->envd_access_token, err)) ||
        (rc = e2b_json_get_strdup(obj, "trafficAccessToken", false, &s->traffic_access_token,
                                  err)) ||
        (rc = e2b_json_get_strdup(obj, "domain", false, &s->domain, err)))
        goto fail;
    if (!*s->id) {
        rc = e2b_error_set(err, E2B_ERR_PROTOCOL, 0, "sandbox reply has an empty sandboxID");
        goto fail;
    }
    if (s->domain && !*s->domain) { /* "" means "use the configured domain" */
        free(s->domain);
        s->domain = NULL;
    }
    bool ok;
    int cmp = e2b_semver_cmp(s->envd_version, "0.1.0", &ok);
    if (!ok || cmp < 0) {
        rc = e2b_error_set(err, E2B_ERR_PROTOCOL, 0,
                           "sandbox %s reports envdVersion \"%s\"; libe2b needs envd >= 0.1.0 "
                           "(the template is too old, rebuild it)",
                           s->id, s->envd_version);
        goto fail;
    }
    *out = s;
    return E2B_OK;
fail:
    e2b_sandbox_free(s);
    return rc;
}

static e2b_code debug_sandbox(e2b_client *client, const char *id, e2b_sandbox **out, e2b_error *err)
{
    e2b_sandbox *s = calloc(1, sizeof *s);
    if (!s || !(s->id = strdup(id)) || !(s->envd_version = strdup(DEBUG_ENVD_VERSION))) {
        e2b_sandbox_free(s);
        return oom(err);
    }
    s->client = client;
    *out = s;
    return E2B_OK;
}

/* Parses a create/connect response body into a handle. */
static e2b_code sandbox_from_body(e2b_client *client, const e2b_http_response *resp,
                                  e2b_sandbox **out, e2b_error *err)
{
    cJSON *j = e2b_json_parse(resp->body, resp->body_len, "sandbox reply", err);
    if (!j)
        return err ? err->code : E2B_ERR_PROTOCOL;
    e2b_code rc = e2b_sandbox_from_json(client, j, out, err);
    cJSON_Delete(j);
    return rc;
}

/* ---- create / connect --------------------------------------------------------------- */

void e2b_create_opts_init(e2b_create_opts *opts)
{
    memset(opts, 0, sizeof *opts);
    opts->allow_internet_access = -1;
}

e2b_code e2b_sandbox_create(e2b_client *client, const e2b_create_opts *opts, e2b_sandbox **out,
                            e2b_error *err)
{
    *out = NULL;
    e2b_create_opts defaults;
    if (!opts) {
        e2b_create_opts_init(&defaults);
        opts = &defaults;
    }
    if (opts->timeout_s < 0)
        return e2b_error_set(err, E2B_ERR_INVALID_ARGUMENT, 0, "timeout must be >= 0 seconds");
    if (e2b_client_debug(client))
        return debug_sandbox(client, DEBUG_SANDBOX_ID, out, err);

    const char *tpl = opts->template_id && *opts->template_id ? opts->template_id : "base";
    cJSON *body = cJSON_CreateObject();
    e2b_code rc = E2B_OK;
    if (!body || !cJSON_AddStringToObject(body, "templateID", tpl) ||
        (opts->timeout_s > 0 && !cJSON_AddNumberToObject(body, "timeout", opts->timeout_s)))
        rc = oom(err);
    if (rc == E2B_OK)
        rc = add_kv_object(body, "metadata", opts->metadata, opts->metadata_len, err);
    if (rc == E2B_OK)
        rc = add_kv_object(body, "envVars", opts->env_vars, opts->env_vars_len, err);
    if (rc == E2B_OK && opts->auto_pause && !cJSON_AddTrueToObject(body, "autoPause"))
        rc = oom(err);
    if (rc == E2B_OK && opts->allow_internet_access >= 0 &&
        !cJSON_AddBoolToObject(body, "allow_internet_access", opts->allow_internet_access != 0))
        rc = oom(err);
    char *text = rc == E2B_OK ? e2b_json_print(body) : NULL;
    cJSON_Delete(body);
    if (rc == E2B_OK && !text)
        rc = oom(err);
    char *url = NULL;
    if (rc == E2B_OK)
        rc = e2b_http_url(&url, e2b_client_api_url(client), "/v2/sandboxes", NULL, err);
    e2b_http_response resp = {0};
    if (rc == E2B_OK)
        rc = api_call_x(client, "POST", url, text, true, &resp, err); /* a second sandbox */
    if (rc == E2B_OK) {
        rc = e2b_http_check(&resp, E2B_PLANE_CONTROL, err);
        if (rc == E2B_ERR_SANDBOX_NOT_FOUND) { /* a 404 on create is about the template */
            /* keep the server's message: re-formatting err->message into itself is UB */
            if (err)
                err->code = E2B_ERR_NOT_FOUND;
            rc = E2B_ERR_NOT_FOUND;
        } else if (rc == E2B_OK)
            rc = sandbox_from_body(client, &resp, out, err);
    }
    /* An envd too old to talk to: the JS SDK kills the sandbox it cannot use. */
    if (rc == E2B_ERR_PROTOCOL && resp.body) {
        cJSON *j = e2b_json_parse(resp.body, resp.body_len, "sandbox reply", NULL);
        const char *id = e2b_json_str(j, "sandboxID");
        if (id && *id && e2b_json_str(j, "envdVersion")) {
            e2b_error keep;
            if (err)
                keep = *err;
            e2b_sandbox_kill(client, id, NULL, NULL);
            if (err)
                *err = keep;
        }
        cJSON_Delete(j);
    }
    e2b_http_response_free(&resp);
    free(url);
    free(text);
    return rc;
}

e2b_code e2b_sandbox_connect(e2b_client *client, const char *sandbox_id, int timeout_s,
                             e2b_sandbox **out, bool *resumed, e2b_error *err)
{
    *out = NULL;
    if (resumed)
        *resumed = false;
    e2b_code rc = check_id(sandbox_id, err);
    if (rc != E2B_OK)
        return rc;
    if (timeout_s < 0)
        return e2b_error_set(err, E2B_ERR_INVALID_ARGUMENT, 0, "timeout must be >= 0 seconds");
    if (e2b_client_debug(client))
        return debug_sandbox(client, sandbox_id, out, err);
    char body[64] = "{}";
    if (timeout_s > 0)
        snprintf(body, sizeof body, "{\"timeout\":%d}", timeout_s);
    char *url = NULL;
    e2b_http_response resp = {0};
    rc = id_url(client, "/v2/sandboxes/", sandbox_id, "/connect", NULL, &url, err);
    if (rc == E2B_OK)
        rc = api_call(client, "POST", url, body, &resp, err);
    if (rc == E2B_OK)
        rc = check_sandbox_status(&resp, sandbox_id, "Paused sandbox", err);
    if (rc == E2B_OK) {
        rc = sandbox_from_body(client, &resp, out, err);
        if (rc == E2B_OK && resumed)
            *resumed = resp.status == 201;
    }
    e2b_http_response_free(&resp);
    free(url);
    return rc;
}

/* ---- info --------------------------------------------------------------------------- */

void e2b_sandbox_info_clear(e2b_sandbox_info *i)
{
    if (!i)
        return;
    free(i->sandbox_id);
    free(i->template_id);
    free(i->alias);
    free(i->client_id);
    free(i->envd_version);
    free(i->envd_access_token);
    free(i->domain);
    free(i->started_at);
    free(i->end_at);
    free(i->lifecycle_on_timeout);
    for (size_t k = 0; k < i->metadata_len; k++) {
        free((char *)i->metadata[k].key);
        free((char *)i->metadata[k].value);
    }
    free(i->metadata);
    memset(i, 0, sizeof *i);
}

void e2b_sandbox_info_free(e2b_sandbox_info *info)
{
    if (!info)
        return;
    e2b_sandbox_info_clear(info);
    free(info);
}

e2b_code e2b_sandbox_info_from_json(const cJSON *o, e2b_sandbox_info *i, e2b_error *err)
{
    i->allow_internet_access = -1;
    if (!cJSON_IsObject(o))
        return e2b_error_set(err, E2B_ERR_PROTOCOL, 0, "sandbox info is not a JSON object");
    e2b_code rc;
    if ((rc = e2b_json_get_strdup(o, "sandboxID", true, &i->sandbox_id, err)) ||
        (rc = e2b_json_get_strdup(o, "templateID", false, &i->template_id, err)) ||
        (rc = e2b_json_get_strdup(o, "alias", false, &i->alias, err)) ||
        (rc = e2b_json_get_strdup(o, "clientID", false, &i->client_id, err)) ||
        (rc = e2b_json_get_strdup(o, "envdVersion", false, &i->envd_version, err)) ||
        (rc = e2b_json_get_strdup(o, "envdAccessToken", false, &i->envd_access_token, err)) ||
        (rc = e2b_json_get_strdup(o, "domain", false, &i->domain, err)) ||
        (rc = e2b_json_get_strdup(o, "startedAt", false, &i->started_at, err)) ||
        (rc = e2b_json_get_strdup(o, "endAt", false, &i->end_at, err)) ||
        (rc = e2b_json_get_int(o, "cpuCount", false, &i->cpu_count, err)) ||
        (rc = e2b_json_get_int(o, "memoryMB", false, &i->memory_mb, err)) ||
        (rc = e2b_json_get_int(o, "diskSizeMB", false, &i->disk_size_mb, err)))
        return rc;
    if (!i->sandbox_id[0]) /* as e2b_sandbox_from_json: an empty id names nothing */
        return e2b_error_set(err, E2B_ERR_PROTOCOL, 0, "sandbox info has an empty sandboxID");
    if (i->started_at && !e2b_parse_rfc3339(i->started_at, &i->started_at_unix))
        i->started_at_unix = 0;
    if (i->end_at && !e2b_parse_rfc3339(i->end_at, &i->end_at_unix))
        i->end_at_unix = 0;

    char *state = NULL;
    if ((rc = e2b_json_get_strdup(o, "state", false, &state, err)))
        return rc;
    i->state = !state                      ? E2B_STATE_UNKNOWN
               : !strcmp(state, "running") ? E2B_STATE_RUNNING
               : !strcmp(state, "paused")  ? E2B_STATE_PAUSED
                                           : E2B_STATE_UNKNOWN;
    free(state);

    bool b;
    const cJSON *aia = cJSON_GetObjectItemCaseSensitive(o, "allowInternetAccess");
    if (aia && !cJSON_IsNull(aia)) {
        if ((rc = e2b_json_get_bool(o, "allowInternetAccess", false, &b, err)))
            return rc;
        i->allow_internet_access = b ? 1 : 0;
    }
    const cJSON *lc = cJSON_GetObjectItemCaseSensitive(o, "lifecycle");
    if (lc && !cJSON_IsNull(lc)) {
        if (!cJSON_IsObject(lc))
            return e2b_error_set(err, E2B_ERR_PROTOCOL, 0, "field \"lifecycle\" is not an object");
        b = false;
        if ((rc = e2b_json_get_bool(lc, "autoResume", false, &b, err)) ||
            (rc = e2b_json_get_strdup(lc, "onTimeout", false, &i->lifecycle_on_timeout, err)))
            return rc;
        i->lifecycle_auto_resume = b;
    }
    const cJSON *md = cJSON_GetObjectItemCaseSensitive(o, "metadata");
    if (md && !cJSON_IsNull(md)) {
        if (!cJSON_IsObject(md))
            return e2b_error_set(err, E2B_ERR_PROTOCOL, 0, "field \"metadata\" is not an object");
        size_t n = (size_t)cJSON_GetArraySize(md);
        if (n) {
            i->metadata = calloc(n, sizeof *i->metadata);
            if (!i->metadata)
                return oom(err);
            const cJSON *kv;
            cJSON_ArrayForEach(kv, md)
            {
                if (!cJSON_IsString(kv) || !kv->string)
                    return e2b_error_set(err, E2B_ERR_PROTOCOL, 0,
                                         "metadata value of \"%s\" is not a string",
                                         kv->string ? kv->string : "?");
                char *k = strdup(kv->string), *v = strdup(kv->valuestring);
                if (!k || !v) {
                    free(k);
                    free(v);
                    return oom(err);
                }
                i->metadata[i->metadata_len].key = k;
                i->metadata[i->metadata_len].value = v;
                i->metadata_len++;
            }
        }
    }
    return E2B_OK;
}

e2b_code e2b_sandbox_get_info(e2b_client *client, const char *sandbox_id, e2b_sandbox_info **out,
                              e2b_error *err)
{
    *out = NULL;
    e2b_code rc = check_id(sandbox_id, err);
    if (rc != E2B_OK)
        return rc;
    char *url = NULL;
    e2b_http_response resp = {0};
    rc = id_url(client, "/sandboxes/", sandbox_id, "", NULL, &url, err);
    if (rc == E2B_OK)
        rc = api_call(client, "GET", url, NULL, &resp, err);
    if (rc == E2B_OK)
        rc = check_sandbox_status(&resp, sandbox_id, "Sandbox", err);
    cJSON *j = NULL;
    if (rc == E2B_OK && !(j = e2b_json_parse(resp.body, resp.body_len, "sandbox info", err)))
        rc = err ? err->code : E2B_ERR_PROTOCOL;
    if (rc == E2B_OK) {
        e2b_sandbox_info *info = calloc(1, sizeof *info);
        if (!info)
            rc = oom(err);
        else if ((rc = e2b_sandbox_info_from_json(j, info, err)) != E2B_OK)
            e2b_sandbox_info_free(info);
        else
            *out = info;
    }
    cJSON_Delete(j);
    e2b_http_response_free(&resp);
    free(url);
    return rc;
}

/* ---- list --------------------------------------------------------------------------- */

char *e2b_metadata_query_value(const e2b_kv *md, size_t len)
{
    /* Step 1+2: URLSearchParams over encodeURIComponent'd keys and values. */
    e2b_strbuf inner = {0}, once = {0}, out = {0};
    for (size_t i = 0; i < len; i++) {
        if (i)
            e2b_strbuf_puts(&inner, "&");
        /* an allocation failure in once must fail inner too, not drop the key or value */
        e2b_strbuf_pct(&once, md[i].key, E2B_PCT_URI_COMPONENT);
        if (once.oom)
            inner.oom = true;
        else if (once.p)
            e2b_strbuf_pct(&inner, once.p, E2B_PCT_FORM);
        e2b_strbuf_free(&once);
        e2b_strbuf_puts(&inner, "=");
        e2b_strbuf_pct(&once, md[i].value, E2B_PCT_URI_COMPONENT);
        if (once.oom)
            inner.oom = true;
        else if (once.p)
            e2b_strbuf_pct(&inner, once.p, E2B_PCT_FORM);
        e2b_strbuf_free(&once);
    }
    /* Step 3: the query serializer encodes the whole value once more. */
    char *s = e2b_strbuf_take(&inner);
    if (!s)
        return NULL;
    e2b_strbuf_pct(&out, s, E2B_PCT_URI_COMPONENT);
    free(s);
    return e2b_strbuf_take(&out);
}

e2b_code e2b_list_query(const e2b_list_opts *opts, const char *next_token, char **out,
                        e2b_error *err)
{
    *out = NULL;
    e2b_list_opts none;
    if (!opts) {
        memset(&none, 0, sizeof none);
        opts = &none;
    }
    if (opts->limit < 0 || opts->limit > 100)
        return e2b_error_set(err, E2B_ERR_INVALID_ARGUMENT, 0,
                             "limit must be 1..100 (0 = server default), got %d", opts->limit);
    if (opts->metadata_len && !opts->metadata)
        return e2b_error_set(err, E2B_ERR_INVALID_ARGUMENT, 0, "metadata is NULL");
    for (size_t i = 0; i < opts->metadata_len; i++)
        if (!opts->metadata[i].key || !opts->metadata[i].value)
            return e2b_error_set(err, E2B_ERR_INVALID_ARGUMENT, 0,
                                 "metadata[%zu]: NULL key or value", i);
    e2b_strbuf q = {0};
    const char *sep = "";
    if (opts->metadata_len) {
        char *v = e2b_metadata_query_value(opts->metadata, opts->metadata_len);
        if (!v)
            return oom(err);
        e2b_strbuf_printf(&q, "metadata=%s", v);
        free(v);
        sep = "&";
    }
    if (opts->running || opts->paused) {
        e2b_strbuf_printf(&q, "%sstate=%s%s%s", sep, opts->running ? "running" : "",
                          opts->running && opts->paused ? "," : "", opts->paused ? "paused" : "");
        sep = "&";
    }
    if (opts->limit) {
        e2b_strbuf_printf(&q, "%slimit=%d", sep, opts->limit);
        sep = "&";
    }
    const char *tok = next_token ? next_token : opts->next_token;
    if (tok && *tok) {
        e2b_strbuf_printf(&q, "%snextToken=", sep);
        e2b_strbuf_pct(&q, tok, E2B_PCT_URI_COMPONENT);
        sep = "&";
    }
    if (opts->order_asc)
        e2b_strbuf_printf(&q, "%sorder=asc", sep);
    *out = e2b_strbuf_take(&q);
    return *out ? E2B_OK : oom(err);
}

void e2b_sandbox_page_free(e2b_sandbox_page *page)
{
    if (!page)
        return;
    for (size_t i = 0; i < page->len; i++)
        e2b_sandbox_info_clear(&page->items[i]);
    free(page->items);
    free(page->next_token);
    free(page);
}

/* GET /v2/sandboxes?<query>. */
static e2b_code list_page(e2b_client *client, const char *query, e2b_sandbox_page **out,
                          e2b_error *err)
{
    *out = NULL;
    e2b_strbuf u = {0};
    e2b_strbuf_printf(&u, "%s/v2/sandboxes%s%s", e2b_client_api_url(client), *query ? "?" : "",
                      query);
    char *url = e2b_strbuf_take(&u);
    if (!url)
        return oom(err);
    e2b_http_response resp = {0};
    cJSON *j = NULL;
    e2b_sandbox_page *page = NULL;
    e2b_code rc = api_call(client, "GET", url, NULL, &resp, err);
    if (rc == E2B_OK)
        rc = e2b_http_check(&resp, E2B_PLANE_CONTROL, err);
    if (rc == E2B_OK && !(j = e2b_json_parse(resp.body, resp.body_len, "sandbox list", err)))
        rc = err ? err->code : E2B_ERR_PROTOCOL;
    if (rc == E2B_OK && !cJSON_IsArray(j))
        rc = e2b_error_set(err, E2B_ERR_PROTOCOL, 0, "sandbox list is not a JSON array");
    if (rc == E2B_OK && !(page = calloc(1, sizeof *page)))
        rc = oom(err);
    if (rc == E2B_OK) {
        page->total_running = -1;
        size_t n = (size_t)cJSON_GetArraySize(j);
        if (n && !(page->items = calloc(n, sizeof *page->items)))
            rc = oom(err);
        const cJSON *item;
        cJSON_ArrayForEach(item, j)
        {
            if (rc != E2B_OK)
                break;
            rc = e2b_sandbox_info_from_json(item, &page->items[page->len], err);
            page->len++; /* counted even on error so the partial item is freed */
        }
        const char *tok = e2b_http_response_header(&resp, "X-Next-Token");
        if (rc == E2B_OK && tok && *tok && !(page->next_token = strdup(tok)))
            rc = oom(err);
        const char *tr = e2b_http_response_header(&resp, "X-Total-Running");
        if (tr && *tr) {
            char *end;
            long v = strtol(tr, &end, 10);
            if (*end == '\0' && v >= 0 && v <= INT_MAX)
                page->total_running = (int)v;
        }
    }
    if (rc != E2B_OK) {
        e2b_sandbox_page_free(page);
        page = NULL;
    }
    *out = page;
    cJSON_Delete(j);
    e2b_http_response_free(&resp);
    free(url);
    return rc;
}

e2b_code e2b_sandbox_list(e2b_client *client, const e2b_list_opts *opts, e2b_sandbox_page **out,
                          e2b_error *err)
{
    *out = NULL;
    char *query = NULL;
    e2b_code rc = e2b_list_query(opts, NULL, &query, err);
    if (rc == E2B_OK)
        rc = list_page(client, query, out, err);
    free(query);
    return rc;
}

struct e2b_sandbox_iter {
    e2b_client *client;
    e2b_list_opts opts;     /* metadata and next_token point into the copies below */
    e2b_kv *metadata;       /* deep copy */
    e2b_sandbox_page *page; /* current page */
    size_t idx;
    char *token; /* token of the next page; NULL before the first fetch */
    bool started;
    bool done;
};

void e2b_sandbox_iter_free(e2b_sandbox_iter *it)
{
    if (!it)
        return;
    for (size_t i = 0; i < it->opts.metadata_len; i++) {
        free((char *)it->metadata[i].key);
        free((char *)it->metadata[i].value);
    }
    free(it->metadata);
    e2b_sandbox_page_free(it->page);
    free(it->token);
    free(it);
}

e2b_code e2b_sandbox_iter_new(e2b_client *client, const e2b_list_opts *opts, e2b_sandbox_iter **out,
                              e2b_error *err)
{
    *out = NULL;
    char *probe = NULL;
    e2b_code rc = e2b_list_query(opts, NULL, &probe, err); /* validate now */
    free(probe);
    if (rc != E2B_OK)
        return rc;
    e2b_sandbox_iter *it = calloc(1, sizeof *it);
    if (!it)
        return oom(err);
    it->client = client;
    if (opts)
        it->opts = *opts;
    it->opts.metadata = NULL;
    it->opts.metadata_len = 0;
    it->opts.next_token = NULL;
    if (opts && opts->metadata_len) {
        it->metadata = calloc(opts->metadata_len, sizeof *it->metadata);
        if (!it->metadata)
            goto nomem;
        for (size_t i = 0; i < opts->metadata_len; i++) {
            it->metadata[i].key = strdup(opts->metadata[i].key);
            it->metadata[i].value = strdup(opts->metadata[i].value);
            it->opts.metadata_len = i + 1;
            if (!it->metadata[i].key || !it->metadata[i].value)
                goto nomem;
        }
        it->opts.metadata = it->metadata;
    }
    if (opts && opts->next_token && !(it->token = strdup(opts->next_token)))
        goto nomem;
    *out = it;
    return E2B_OK;
nomem:
    e2b_sandbox_iter_free(it);
    return oom(err);
}

e2b_code e2b_sandbox_iter_next(e2b_sandbox_iter *it, const e2b_sandbox_info **item, e2b_error *err)
{
    *item = NULL;
    for (;;) {
        if (it->page && it->idx < it->page->len) {
            *item = &it->page->items[it->idx++];
            return E2B_OK;
        }
        if (it->done || (it->started && !it->token))
            return E2B_OK;
        char *query = NULL;
        e2b_code rc = e2b_list_query(&it->opts, it->token, &query, err);
        e2b_sandbox_page *page = NULL;
        if (rc == E2B_OK)
            rc = list_page(it->client, query, &page, err);
        free(query);
        if (rc != E2B_OK)
            return rc; /* state untouched: the same call can be retried */
        if (page->next_token && it->token && !strcmp(page->next_token, it->token)) {
            e2b_sandbox_page_free(page);
            it->done = true;
            return e2b_error_set(err, E2B_ERR_PROTOCOL, 0,
                                 "server returned the same X-Next-Token twice");
        }
        e2b_sandbox_page_free(it->page);
        it->page = page;
        it->idx = 0;
        free(it->token);
        it->token = page->next_token ? strdup(page->next_token) : NULL;
        if (page->next_token && !it->token)
            return oom(err);
        it->started = true;
    }
}

/* ---- lifetime ----------------------------------------------------------------------- */

e2b_code e2b_sandbox_set_timeout(e2b_client *client, const char *sandbox_id, int timeout_s,
                                 e2b_error *err)
{
    e2b_code rc = check_id(sandbox_id, err);
    if (rc != E2B_OK)
        return rc;
    if (timeout_s <= 0)
        return e2b_error_set(err, E2B_ERR_INVALID_ARGUMENT, 0,
                             "Timeout must be greater than 0 (got %d)", timeout_s);
    if (e2b_client_debug(client))
        return E2B_OK;
    char body[48];
    snprintf(body, sizeof body, "{\"timeout\":%d}", timeout_s);
    char *url = NULL;
    e2b_http_response resp = {0};
    rc = id_url(client, "/sandboxes/", sandbox_id, "/timeout", NULL, &url, err);
    if (rc == E2B_OK)
        rc = api_call(client, "POST", url, body, &resp, err);
    if (rc == E2B_OK)
        rc = check_sandbox_status(&resp, sandbox_id, "Sandbox", err);
    e2b_http_response_free(&resp);
    free(url);
    return rc;
}

e2b_code e2b_sandbox_kill(e2b_client *client, const char *sandbox_id, bool *killed, e2b_error *err)
{
    if (killed)
        *killed = false;
    e2b_code rc = check_id(sandbox_id, err);
    if (rc != E2B_OK)
        return rc;
    if (e2b_client_debug(client)) {
        if (killed)
            *killed = true;
        return E2B_OK;
    }
    char *url = NULL;
    e2b_http_response resp = {0};
    rc = id_url(client, "/sandboxes/", sandbox_id, "", NULL, &url, err);
    if (rc == E2B_OK)
        rc = api_call(client, "DELETE", url, NULL, &resp, err);
    if (rc == E2B_OK && resp.status != 404) {
        rc = e2b_http_check(&resp, E2B_PLANE_CONTROL, err);
        if (rc == E2B_OK && killed)
            *killed = true;
    }
    e2b_http_response_free(&resp);
    free(url);
    return rc;
}

e2b_code e2b_sandbox_pause(e2b_client *client, const char *sandbox_id, bool *paused, e2b_error *err)
{
    if (paused)
        *paused = false;
    e2b_code rc = check_id(sandbox_id, err);
    if (rc != E2B_OK)
        return rc;
    if (e2b_client_debug(client))
        return e2b_error_set(err, E2B_ERR_UNSUPPORTED, 0, "pause is not available in debug mode");
    char *url = NULL;
    e2b_http_response resp = {0};
    rc = id_url(client, "/sandboxes/", sandbox_id, "/pause", NULL, &url, err);
    if (rc == E2B_OK)
        rc = api_call_x(client, "POST", url, "{}", true, &resp, err); /* a re-send: 409 */
    if (rc == E2B_OK && resp.status != 409) {
        rc = check_sandbox_status(&resp, sandbox_id, "Sandbox", err);
        if (rc == E2B_OK && paused)
            *paused = true;
    }
    e2b_http_response_free(&resp);
    free(url);
    return rc;
}

/* ---- metrics ------------------------------------------------------------------------ */

e2b_code e2b_sandbox_metrics(e2b_client *client, const char *sandbox_id, time_t start, time_t end,
                             e2b_metric **out, size_t *len, e2b_error *err)
{
    *out = NULL;
    *len = 0;
    e2b_code rc = check_id(sandbox_id, err);
    if (rc != E2B_OK)
        return rc;
    if (e2b_client_debug(client))
        return E2B_OK;
    char sbuf[32], ebuf[32];
    snprintf(sbuf, sizeof sbuf, "%lld", (long long)start);
    snprintf(ebuf, sizeof ebuf, "%lld", (long long)end);
    const char *query[] = {"start", start ? sbuf : NULL, "end", end ? ebuf : NULL, NULL};
    char *url = NULL;
    e2b_http_response resp = {0};
    cJSON *j = NULL;
    rc = id_url(client, "/sandboxes/", sandbox_id, "/metrics", query, &url, err);
    if (rc == E2B_OK)
        rc = api_call(client, "GET", url, NULL, &resp, err);
    if (rc == E2B_OK)
        rc = check_sandbox_status(&resp, sandbox_id, "Sandbox", err);
    if (rc == E2B_OK && !(j = e2b_json_parse(resp.body, resp.body_len, "metrics", err)))
        rc = err ? err->code : E2B_ERR_PROTOCOL;
    if (rc == E2B_OK && !cJSON_IsArray(j))
        rc = e2b_error_set(err, E2B_ERR_PROTOCOL, 0, "metrics reply is not a JSON array");
    e2b_metric *m = NULL;
    size_t n = rc == E2B_OK ? (size_t)cJSON_GetArraySize(j) : 0;
    if (n && !(m = calloc(n, sizeof *m)))
        rc = oom(err);
    size_t k = 0;
    const cJSON *o;
    if (rc == E2B_OK)
        cJSON_ArrayForEach(o, j)
        {
            e2b_metric *x = &m[k++];
            long long ts = 0;
            if (!cJSON_IsObject(o)) {
                rc = e2b_error_set(err, E2B_ERR_PROTOCOL, 0, "metric is not a JSON object");
                break;
            }
            if ((rc = e2b_json_get_ll(o, "timestampUnix", false, &ts, err)) ||
                (rc = e2b_json_get_int(o, "cpuCount", false, &x->cpu_count, err)) ||
                (rc = e2b_json_get_double(o, "cpuUsedPct", false, &x->cpu_used_pct, err)) ||
                (rc = e2b_json_get_ll(o, "memUsed", false, &x->mem_used, err)) ||
                (rc = e2b_json_get_ll(o, "memTotal", false, &x->mem_total, err)) ||
                (rc = e2b_json_get_ll(o, "memCache", false, &x->mem_cache, err)) ||
                (rc = e2b_json_get_ll(o, "diskUsed", false, &x->disk_used, err)) ||
                (rc = e2b_json_get_ll(o, "diskTotal", false, &x->disk_total, err)))
                break;
            x->timestamp_unix = (time_t)ts;
            const char *iso = e2b_json_str(o, "timestamp");
            if (!ts && iso)
                e2b_parse_rfc3339(iso, &x->timestamp_unix);
        }
    if (rc == E2B_OK) {
        *out = m;
        *len = n;
    } else {
        free(m);
    }
    cJSON_Delete(j);
    e2b_http_response_free(&resp);
    free(url);
    return rc;
}
