/* code.c - the code-interpreter calls: POST /execute (streamed NDJSON) and /contexts.
 * See e2b/code.h for the contracts. */
#include "e2b/code.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "connect.h"
#include "execution.h"
#include "http.h"
#include "json_util.h"

/* ---- shared request plumbing --------------------------------------------------------- */

/* The headers of one code-interpreter call. Strings are heap copies owned here. */
typedef struct ci_headers {
    char *lines[6];
    const char *list[7]; /* NULL-terminated view for e2b_http_request.headers */
    size_t n;
} ci_headers;

static void ci_headers_free(ci_headers *h)
{
    for (size_t i = 0; i < h->n; i++)
        free(h->lines[i]);
    h->n = 0;
}

static e2b_code ci_headers_add(ci_headers *h, const char *name, const char *value, e2b_error *err)
{
    if (asprintf(&h->lines[h->n], "%s: %s", name, value) < 0) {
        h->lines[h->n] = NULL;
        return e2b_error_set(err, E2B_ERR_NO_MEMORY, 0, "out of memory building headers");
    }
    h->list[h->n] = h->lines[h->n];
    h->n++;
    h->list[h->n] = NULL;
    return E2B_OK;
}

/* Header values come from the server (ids, tokens): refuse CR/LF so they cannot inject
 * headers. */
static bool header_safe(const char *v)
{
    return !strpbrk(v, "\r\n");
}

/* Content-Type, E2b-Sandbox-Id, E2b-Sandbox-Port, the traffic token when known, and the
 * envd access token when with_access_token (on /execute only, as the official SDKs do). */
static e2b_code ci_headers_build(ci_headers *h, const e2b_sandbox *sbx, bool with_access_token,
                                 e2b_error *err)
{
    memset(h, 0, sizeof *h);
    const char *id = e2b_sandbox_id(sbx);
    const char *traffic = e2b_sandbox_traffic_access_token(sbx);
    const char *access = with_access_token ? e2b_sandbox_envd_access_token(sbx) : NULL;
    if (!header_safe(id) || (traffic && !header_safe(traffic)) || (access && !header_safe(access)))
        return e2b_error_set(err, E2B_ERR_INVALID_ARGUMENT, 0,
                             "sandbox id or token contains a line break");
    e2b_code rc = ci_headers_add(h, "Content-Type", "application/json", err);
    if (rc == E2B_OK)
        rc = ci_headers_add(h, "E2b-Sandbox-Id", id, err);
    if (rc == E2B_OK)
        rc = ci_headers_add(h, "E2b-Sandbox-Port", "49999", err);
    if (rc == E2B_OK && access && *access)
        rc = ci_headers_add(h, "X-Access-Token", access, err);
    if (rc == E2B_OK && traffic && *traffic)
        rc = ci_headers_add(h, "E2B-Traffic-Access-Token", traffic, err);
    if (rc != E2B_OK)
        ci_headers_free(h);
    return rc;
}

/* <code interpreter base><path>, path already escaped. */
static e2b_code ci_url(const e2b_sandbox *sbx, const char *path, char **out, e2b_error *err)
{
    char base[1024];
    e2b_code rc = e2b_client_sandbox_url(e2b_sandbox_client(sbx), e2b_sandbox_id(sbx),
                                         e2b_sandbox_domain(sbx), E2B_CODE_INTERPRETER_PORT, base,
                                         sizeof base, err);
    if (rc != E2B_OK)
        return rc;
    return e2b_http_url(out, base, path, NULL, err);
}

static e2b_code check_sandbox(const e2b_sandbox *sbx, e2b_error *err)
{
    if (!sbx || !e2b_sandbox_id(sbx) || !e2b_sandbox_client(sbx))
        return e2b_error_set(err, E2B_ERR_INVALID_ARGUMENT, 0, "no sandbox");
    return E2B_OK;
}

/* A dropped connection (E2B_ERR_NETWORK) may mean the sandbox was killed or expired: ask
 * envd's /health like the files and commands paths do (e2b_connect_probe_gone); a 502
 * there turns it into E2B_ERR_SANDBOX_GONE. Other codes pass through. */
static e2b_code probe_gone(const e2b_sandbox *sbx, e2b_code rc, e2b_error *err)
{
    if (rc != E2B_ERR_NETWORK)
        return rc;
    e2b_envd env;
    e2b_error ierr;
    if (e2b_connect_envd_init(&env, sbx, NULL, &ierr) != E2B_OK)
        return rc;
    return e2b_connect_probe_gone(&env, rc, err);
}

static char *print_json(cJSON *o)
{
    char *s = o ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    return s; /* free with cJSON_free */
}

/* ---- /execute ------------------------------------------------------------------------ */

typedef struct run_state {
    e2b_exec_stream stream;
    bool headers_seen;
    long status;
} run_state;

static e2b_code run_on_headers(const e2b_http_response *resp, void *ud, e2b_error *err)
{
    (void)err;
    run_state *st = ud;
    st->headers_seen = true;
    st->status = resp->status;
    return E2B_OK;
}

static e2b_code run_on_data(const char *p, size_t n, void *ud, e2b_error *err)
{
    run_state *st = ud;
    return e2b_exec_stream_feed(&st->stream, p, n, err);
}

static char *execute_body(const char *code, const e2b_run_opts *o)
{
    cJSON *b = cJSON_CreateObject();
    bool ok = b && cJSON_AddStringToObject(b, "code", code);
    if (ok && o->context_id)
        ok = cJSON_AddStringToObject(b, "context_id", o->context_id) != NULL;
    if (ok && o->language)
        ok = cJSON_AddStringToObject(b, "language", o->language) != NULL;
    if (ok && o->env_vars_len) {
        cJSON *env = cJSON_AddObjectToObject(b, "env_vars");
        ok = env != NULL;
        for (size_t i = 0; ok && i < o->env_vars_len; i++)
            ok = cJSON_AddStringToObject(env, o->env_vars[i].key,
                                         o->env_vars[i].value ? o->env_vars[i].value : "") != NULL;
    }
    if (!ok) {
        cJSON_Delete(b);
        return NULL;
    }
    return print_json(b);
}

e2b_code e2b_run_code(e2b_sandbox *sbx, const char *code, const e2b_run_opts *opts,
                      e2b_execution **out, e2b_error *err)
{
    if (out)
        *out = NULL;
    e2b_code rc = check_sandbox(sbx, err);
    if (rc != E2B_OK)
        return rc;
    if (!code || !out)
        return e2b_error_set(err, E2B_ERR_INVALID_ARGUMENT, 0, "e2b_run_code: NULL code or out");
    e2b_run_opts defaults;
    if (!opts) {
        e2b_run_opts_init(&defaults);
        opts = &defaults;
    }
    if (opts->language && opts->context_id)
        return e2b_error_set(err, E2B_ERR_INVALID_ARGUMENT, 0,
                             "only one of context_id or language can be provided");
    if (opts->timeout_ms < 0)
        return e2b_error_set(err, E2B_ERR_INVALID_ARGUMENT, 0, "timeout_ms must be >= 0");
    for (size_t i = 0; i < opts->env_vars_len; i++)
        if (!opts->env_vars || !opts->env_vars[i].key)
            return e2b_error_set(err, E2B_ERR_INVALID_ARGUMENT, 0, "env var %zu has no key", i);

    e2b_client *client = e2b_sandbox_client(sbx);
    char *url = NULL, *body = NULL;
    ci_headers h;
    rc = ci_headers_build(&h, sbx, true, err);
    if (rc != E2B_OK)
        return rc;
    rc = ci_url(sbx, "/execute", &url, err);
    if (rc == E2B_OK && !(body = execute_body(code, opts)))
        rc = e2b_error_set(err, E2B_ERR_NO_MEMORY, 0, "out of memory building the request");
    if (rc != E2B_OK) {
        free(url);
        ci_headers_free(&h);
        return rc;
    }

    run_state st;
    memset(&st, 0, sizeof st);
    rc = e2b_exec_stream_init(&st.stream, opts, opts->max_line_bytes, err);
    if (rc == E2B_OK) {
        /* The client's request timeout bounds the wait for the headers only; the execution
         * timeout (opts->timeout_ms, 0 = none) bounds the whole exchange. */
        long req_timeout = e2b_client_request_timeout_ms(client);
        e2b_http_request req = {
            .method = "POST",
            .url = url,
            .headers = h.list,
            .body = body,
            .body_len = strlen(body),
            .timeout_ms = opts->timeout_ms > 0 ? opts->timeout_ms : E2B_HTTP_NO_TIMEOUT,
            .headers_timeout_ms = req_timeout,
            .on_headers = run_on_headers,
            .on_data = run_on_data,
            .ud = &st,
            .non_idempotent = true, /* never run the code twice */
        };
        e2b_http_response resp;
        memset(&resp, 0, sizeof resp);
        rc = e2b_http_perform(client, &req, &resp, err);
        bool streaming = st.headers_seen && st.status >= 200 && st.status < 300;
        if (rc == E2B_OK && !streaming) {
            rc = e2b_http_check(&resp, E2B_PLANE_CODE, err);
            if (rc == E2B_OK) /* 1xx/3xx final status: not something /execute answers */
                rc = e2b_error_set(err, E2B_ERR_SERVER, (int)resp.status,
                                   "/execute answered HTTP %ld", resp.status);
        } else if (rc == E2B_OK) {
            rc = e2b_exec_stream_finish(&st.stream, err);
        } else if (rc == E2B_ERR_REQUEST_TIMEOUT) {
            /* one code for both deadlines: tell them apart as the JS SDK's two timers do */
            bool exec_deadline = st.headers_seen ||
                                 (opts->timeout_ms > 0 &&
                                  (req_timeout <= 0 || opts->timeout_ms <= req_timeout));
            if (exec_deadline)
                rc = e2b_error_set(err, E2B_ERR_OPERATION_TIMEOUT, 0,
                                   "execution timed out after %ld ms (the partial output is "
                                   "returned; raise e2b_run_opts.timeout_ms)",
                                   opts->timeout_ms);
        }
        rc = probe_gone(sbx, rc, err); /* killed mid-stream: SANDBOX_GONE, not NETWORK */
        /* Once the server accepted the execution, whatever arrived is returned, even with
         * an error (timeout, truncated stream, bad line, cancel, lost connection, sandbox
         * gone). */
        if (streaming)
            *out = e2b_exec_stream_take(&st.stream);
        e2b_http_response_free(&resp);
    }
    e2b_exec_stream_free(&st.stream);
    cJSON_free(body);
    free(url);
    ci_headers_free(&h);
    return rc;
}

/* ---- /contexts ----------------------------------------------------------------------- */

/* One buffered JSON call on the code interpreter. On E2B_OK with want_json, *json is the
 * parsed body (cJSON_Delete). */
static e2b_code ci_call(e2b_sandbox *sbx, const char *method, const char *path, const char *body,
                        cJSON **json, e2b_error *err)
{
    if (json)
        *json = NULL;
    e2b_code rc = check_sandbox(sbx, err);
    if (rc != E2B_OK)
        return rc;
    char *url = NULL;
    ci_headers h;
    rc = ci_headers_build(&h, sbx, false, err);
    if (rc != E2B_OK)
        return rc;
    rc = ci_url(sbx, path, &url, err);
    if (rc != E2B_OK) {
        ci_headers_free(&h);
        return rc;
    }
    e2b_http_request req = {
        .method = method,
        .url = url,
        .headers = h.list,
        .body = body ? body : "",
        .body_len = body ? strlen(body) : 0,
        .max_body = 16u * 1024 * 1024,
    };
    if (!strcmp(method, "GET") || !strcmp(method, "DELETE"))
        req.body = NULL;
    else /* POST /contexts makes one; /restart and /interrupt act */
        req.non_idempotent = true;
    e2b_http_response resp;
    memset(&resp, 0, sizeof resp);
    rc = e2b_http_perform(e2b_sandbox_client(sbx), &req, &resp, err);
    rc = probe_gone(sbx, rc, err);
    if (rc == E2B_OK)
        rc = e2b_http_check(&resp, E2B_PLANE_CODE, err);
    if (rc == E2B_OK && json) {
        *json = cJSON_ParseWithLength(resp.body, resp.body_len);
        if (!*json && e2b_json_valid(resp.body, resp.body_len))
            rc = e2b_error_set(err, E2B_ERR_NO_MEMORY, 0, "%s %s: out of memory parsing the reply",
                               method, path);
        else if (!*json)
            rc = e2b_error_set(err, E2B_ERR_PROTOCOL, (int)resp.status,
                               "%s %s: the reply is not JSON", method, path);
    }
    e2b_http_response_free(&resp);
    free(url);
    ci_headers_free(&h);
    return rc;
}

static e2b_code context_from_json(const cJSON *o, e2b_context *c, e2b_error *err)
{
    memset(c, 0, sizeof *c);
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "id");
    const cJSON *lang = cJSON_GetObjectItemCaseSensitive(o, "language");
    const cJSON *cwd = cJSON_GetObjectItemCaseSensitive(o, "cwd");
    if (!cJSON_IsString(id) || !id->valuestring || !*id->valuestring)
        return e2b_error_set(err, E2B_ERR_PROTOCOL, 0, "context without a string \"id\"");
    c->id = strdup(id->valuestring);
    c->language = cJSON_IsString(lang) && lang->valuestring ? strdup(lang->valuestring) : NULL;
    c->cwd = cJSON_IsString(cwd) && cwd->valuestring ? strdup(cwd->valuestring) : NULL;
    if (!c->id || (cJSON_IsString(lang) && !c->language) || (cJSON_IsString(cwd) && !c->cwd)) {
        free(c->id);
        free(c->language);
        free(c->cwd);
        memset(c, 0, sizeof *c);
        return e2b_error_set(err, E2B_ERR_NO_MEMORY, 0, "out of memory reading a context");
    }
    return E2B_OK;
}

void e2b_context_free(e2b_context *ctx)
{
    if (!ctx)
        return;
    free(ctx->id);
    free(ctx->language);
    free(ctx->cwd);
    free(ctx);
}

void e2b_context_list_free(e2b_context *list, size_t len)
{
    if (!list)
        return;
    for (size_t i = 0; i < len; i++) {
        free(list[i].id);
        free(list[i].language);
        free(list[i].cwd);
    }
    free(list);
}

e2b_code e2b_context_create(e2b_sandbox *sbx, const char *language, const char *cwd,
                            e2b_context **out, e2b_error *err)
{
    if (!out)
        return e2b_error_set(err, E2B_ERR_INVALID_ARGUMENT, 0, "out is NULL");
    *out = NULL;
    cJSON *b = cJSON_CreateObject();
    bool ok = b != NULL;
    if (ok && language)
        ok = cJSON_AddStringToObject(b, "language", language) != NULL;
    if (ok && cwd)
        ok = cJSON_AddStringToObject(b, "cwd", cwd) != NULL;
    char *body = ok ? print_json(b) : (cJSON_Delete(b), NULL);
    if (!body)
        return e2b_error_set(err, E2B_ERR_NO_MEMORY, 0, "out of memory");
    cJSON *reply = NULL;
    e2b_code rc = ci_call(sbx, "POST", "/contexts", body, &reply, err);
    cJSON_free(body);
    if (rc != E2B_OK)
        return rc;
    e2b_context *c = calloc(1, sizeof *c);
    if (!c)
        rc = e2b_error_set(err, E2B_ERR_NO_MEMORY, 0, "out of memory");
    else if (!cJSON_IsObject(reply))
        rc = e2b_error_set(err, E2B_ERR_PROTOCOL, 0, "POST /contexts: the reply is not an object");
    else
        rc = context_from_json(reply, c, err);
    cJSON_Delete(reply);
    if (rc != E2B_OK) {
        free(c);
        return rc;
    }
    *out = c;
    return E2B_OK;
}

e2b_code e2b_context_list(e2b_sandbox *sbx, e2b_context **out, size_t *len, e2b_error *err)
{
    if (!out || !len)
        return e2b_error_set(err, E2B_ERR_INVALID_ARGUMENT, 0, "out is NULL");
    *out = NULL;
    *len = 0;
    cJSON *reply = NULL;
    e2b_code rc = ci_call(sbx, "GET", "/contexts", NULL, &reply, err);
    if (rc != E2B_OK)
        return rc;
    if (!cJSON_IsArray(reply)) {
        cJSON_Delete(reply);
        return e2b_error_set(err, E2B_ERR_PROTOCOL, 0, "GET /contexts: the reply is not an array");
    }
    size_t cap = (size_t)cJSON_GetArraySize(reply), n = 0;
    e2b_context *list = cap ? calloc(cap, sizeof *list) : NULL;
    if (cap && !list)
        rc = e2b_error_set(err, E2B_ERR_NO_MEMORY, 0, "out of memory");
    const cJSON *it;
    cJSON_ArrayForEach(it, reply)
    {
        if (rc != E2B_OK)
            break;
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(it, "id");
        if (!cJSON_IsObject(it) || !cJSON_IsString(id) || !id->valuestring || !*id->valuestring)
            continue; /* documented: entries without an id are skipped */
        rc = context_from_json(it, &list[n], err);
        if (rc == E2B_OK)
            n++;
    }
    cJSON_Delete(reply);
    if (rc != E2B_OK) {
        e2b_context_list_free(list, n);
        return rc;
    }
    if (n == 0) {
        free(list);
        list = NULL;
    }
    *out = list;
    *len = n;
    return E2B_OK;
}

static e2b_code context_op(e2b_sandbox *sbx, const char *method, const char *context_id,
                           const char *suffix, e2b_error *err)
{
    if (!context_id || !*context_id)
        return e2b_error_set(err, E2B_ERR_INVALID_ARGUMENT, 0, "no context id");
    char *esc = e2b_http_escape(context_id, (size_t)-1), *path = NULL;
    if (!esc || asprintf(&path, "/contexts/%s%s", esc, suffix) < 0) {
        free(esc);
        return e2b_error_set(err, E2B_ERR_NO_MEMORY, 0, "out of memory");
    }
    free(esc);
    e2b_code rc = ci_call(sbx, method, path, NULL, NULL, err);
    free(path);
    return rc;
}

e2b_code e2b_context_restart(e2b_sandbox *sbx, const char *context_id, e2b_error *err)
{
    return context_op(sbx, "POST", context_id, "/restart", err);
}

e2b_code e2b_context_remove(e2b_sandbox *sbx, const char *context_id, e2b_error *err)
{
    return context_op(sbx, "DELETE", context_id, "", err);
}
