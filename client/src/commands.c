/* commands.c - commands over envd process.Process (Connect RPC, JSON codec).
 * See e2b/commands.h for the contracts. */
#include "e2b/commands.h"

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "commands_internal.h"
#include "connect.h"
#include "json_util.h"

#define PROC E2B_CONNECT_PROCESS

/* ==== result ============================================================================ */

void e2b_command_result_free(e2b_command_result *r)
{
    if (!r)
        return;
    free(r->stdout_data);
    free(r->stderr_data);
    free(r->error);
    free(r->status);
    memset(r, 0, sizeof *r);
}

/* ==== stream state ======================================================================= */

void e2b_commands_state_init(e2b_commands_state *st, const e2b_command_opts *opts)
{
    memset(st, 0, sizeof *st);
    st->exit_code = -1;
    st->accumulate = true;
    if (opts) {
        st->on_stdout = opts->on_stdout;
        st->on_stderr = opts->on_stderr;
        st->ud = opts->ud;
        st->accumulate = !opts->no_accumulate;
    }
}

void e2b_commands_state_free(e2b_commands_state *st)
{
    free(st->out);
    free(st->errb);
    free(st->error);
    free(st->status);
    st->out = st->errb = st->error = st->status = NULL;
    st->out_len = st->out_cap = st->err_len = st->err_cap = 0;
}

static bool buf_append(char **buf, size_t *len, size_t *cap, const char *data, size_t n)
{
    if (*len + n + 1 > *cap) {
        size_t c = *cap ? *cap : 4096;
        while (c < *len + n + 1)
            c *= 2;
        char *nb = realloc(*buf, c);
        if (!nb)
            return false;
        *buf = nb;
        *cap = c;
    }
    memcpy(*buf + *len, data, n);
    *len += n;
    (*buf)[*len] = '\0';
    return true;
}

static e2b_code dup_opt_str(const cJSON *it, const char *what, char **out, e2b_error *err)
{
    if (!it || cJSON_IsNull(it))
        return E2B_OK;
    if (!cJSON_IsString(it))
        return e2b_error_set(err, E2B_ERR_PROTOCOL, 0, "EndEvent.%s is not a string", what);
    free(*out);
    *out = strdup(it->valuestring);
    if (!*out)
        return e2b_error_set(err, E2B_ERR_NO_MEMORY, 0, "EndEvent.%s", what);
    return E2B_OK;
}

static e2b_code on_data_event(e2b_commands_state *st, const cJSON *data, e2b_error *err)
{
    static const char *const members[] = {"stdout", "stderr", "pty"};
    for (int i = 0; i < 3; i++) {
        const cJSON *it = cJSON_GetObjectItemCaseSensitive(data, members[i]);
        if (!it || cJSON_IsNull(it))
            continue;
        if (!cJSON_IsString(it))
            return e2b_error_set(err, E2B_ERR_PROTOCOL, 0, "DataEvent.%s is not a string",
                                 members[i]);
        size_t n;
        unsigned char *bytes = e2b_connect_b64_decode(it->valuestring, strlen(it->valuestring), &n);
        if (!bytes)
            return e2b_error_set(err, E2B_ERR_PROTOCOL, 0, "DataEvent.%s is not valid base64",
                                 members[i]);
        bool is_err = i == 1;
        e2b_output_fn fn = is_err ? st->on_stderr : st->on_stdout;
        if (n && fn)
            fn(st->ud, (const char *)bytes, n);
        bool ok = true;
        if (st->accumulate && n) {
            ok = is_err ? buf_append(&st->errb, &st->err_len, &st->err_cap, (char *)bytes, n)
                        : buf_append(&st->out, &st->out_len, &st->out_cap, (char *)bytes, n);
        }
        free(bytes);
        if (!ok)
            return e2b_error_set(err, E2B_ERR_NO_MEMORY, 0, "command output buffer");
    }
    return E2B_OK;
}

e2b_code e2b_commands_on_message(void *ud, const char *json, size_t len, e2b_error *err)
{
    e2b_commands_state *st = ud;
    cJSON *m = cJSON_ParseWithLength(json, len);
    if (!m && e2b_json_valid(json, len)) /* cJSON failed on valid JSON: out of memory */
        return e2b_error_set(err, E2B_ERR_NO_MEMORY, 0, "out of memory parsing a process event");
    if (!cJSON_IsObject(m)) {
        cJSON_Delete(m);
        return e2b_error_set(err, E2B_ERR_PROTOCOL, 0, "process event is not a JSON object");
    }
    e2b_code rc = E2B_OK;
    const cJSON *ev = cJSON_GetObjectItemCaseSensitive(m, "event");
    if (ev && !cJSON_IsObject(ev)) {
        rc = e2b_error_set(err, E2B_ERR_PROTOCOL, 0, "process event is not an object");
        goto out;
    }
    const cJSON *start = cJSON_GetObjectItemCaseSensitive(ev, "start");
    if (!st->started) {
        if (!cJSON_IsObject(start)) {
            rc = e2b_error_set(err, E2B_ERR_PROTOCOL, 0, "Expected start event");
            goto out;
        }
        int64_t pid;
        if (!e2b_connect_get_int64(cJSON_GetObjectItemCaseSensitive(start, "pid"), 0, &pid) ||
            pid < 0 || pid > UINT32_MAX) {
            rc = e2b_error_set(err, E2B_ERR_PROTOCOL, 0, "StartEvent.pid is not a uint32");
            goto out;
        }
        if (st->mu)
            pthread_mutex_lock(st->mu);
        st->pid = (uint32_t)pid;
        st->started = true;
        if (st->cv)
            pthread_cond_broadcast(st->cv);
        if (st->mu)
            pthread_mutex_unlock(st->mu);
        goto out;
    }
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(ev, "data");
    if (cJSON_IsObject(data)) {
        rc = on_data_event(st, data, err);
        goto out;
    }
    const cJSON *end = cJSON_GetObjectItemCaseSensitive(ev, "end");
    if (cJSON_IsObject(end)) {
        int64_t code;
        if (!e2b_connect_get_int64(e2b_connect_field(end, "exitCode", "exit_code"), 0, &code) ||
            code < INT_MIN || code > INT_MAX) {
            rc = e2b_error_set(err, E2B_ERR_PROTOCOL, 0, "EndEvent.exitCode is not a sint32");
            goto out;
        }
        const cJSON *exited = cJSON_GetObjectItemCaseSensitive(end, "exited");
        if (exited && !cJSON_IsNull(exited) && !cJSON_IsBool(exited)) {
            rc = e2b_error_set(err, E2B_ERR_PROTOCOL, 0, "EndEvent.exited is not a bool");
            goto out;
        }
        if ((rc = dup_opt_str(cJSON_GetObjectItemCaseSensitive(end, "error"), "error", &st->error,
                              err)) ||
            (rc = dup_opt_str(cJSON_GetObjectItemCaseSensitive(end, "status"), "status",
                              &st->status, err)))
            goto out;
        st->exit_code = (int)code;
        st->exited = cJSON_IsTrue(exited);
        st->finished = true;
    }
    /* keepalive, a repeated start, unknown members: ignored */
out:
    cJSON_Delete(m);
    return rc;
}

static char *dup_or_empty(const char *s, size_t n, bool *oom)
{
    char *p = malloc(n + 1);
    if (!p) {
        *oom = true;
        return NULL;
    }
    if (n)
        memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

e2b_code e2b_commands_state_result(e2b_commands_state *st, bool take, e2b_command_result *r,
                                   e2b_error *err)
{
    memset(r, 0, sizeof *r);
    r->pid = st->pid;
    r->exit_code = st->finished ? st->exit_code : -1;
    r->exited = st->finished && st->exited;
    r->finished = st->finished;
    bool oom = false;
    if (take) {
        r->error = st->error;
        r->status = st->status;
        st->error = st->status = NULL;
    } else {
        if (st->error && !(r->error = strdup(st->error)))
            oom = true;
        if (st->status && !(r->status = strdup(st->status)))
            oom = true;
    }
    if (st->accumulate) {
        if (take && st->out) {
            r->stdout_data = st->out;
            st->out = NULL;
        } else {
            r->stdout_data = dup_or_empty(st->out, st->out_len, &oom);
        }
        if (take && st->errb) {
            r->stderr_data = st->errb;
            st->errb = NULL;
        } else {
            r->stderr_data = dup_or_empty(st->errb, st->err_len, &oom);
        }
        r->stdout_len = st->out_len;
        r->stderr_len = st->err_len;
        if (take)
            st->out_len = st->out_cap = st->err_len = st->err_cap = 0;
    }
    if (oom) {
        e2b_command_result_free(r);
        return e2b_error_set(err, E2B_ERR_NO_MEMORY, 0, "command result");
    }
    return E2B_OK;
}

/* ==== requests ============================================================================ */

cJSON *e2b_commands_start_request(const char *cmd, const e2b_command_opts *opts)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *proc = cJSON_AddObjectToObject(root, "process");
    if (!proc || !cJSON_AddStringToObject(proc, "cmd", "/bin/bash"))
        goto fail;
    const char *args[3] = {"-l", "-c", cmd};
    cJSON *a = cJSON_CreateStringArray(args, 3);
    if (!a)
        goto fail;
    cJSON_AddItemToObject(proc, "args", a);
    if (opts && opts->envs && opts->envs_len) {
        cJSON *envs = cJSON_AddObjectToObject(proc, "envs");
        if (!envs)
            goto fail;
        for (size_t i = 0; i < opts->envs_len; i++) {
            if (!opts->envs[i].key || !opts->envs[i].value)
                continue;
            if (!cJSON_AddStringToObject(envs, opts->envs[i].key, opts->envs[i].value))
                goto fail;
        }
    }
    if (opts && opts->cwd && !cJSON_AddStringToObject(proc, "cwd", opts->cwd))
        goto fail;
    if (!cJSON_AddBoolToObject(root, "stdin", opts && opts->stdin_open))
        goto fail;
    return root;
fail:
    cJSON_Delete(root);
    return NULL;
}

static cJSON *pid_req(uint32_t pid)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *p = cJSON_AddObjectToObject(root, "process");
    if (!p || !cJSON_AddNumberToObject(p, "pid", (double)pid)) {
        cJSON_Delete(root);
        return NULL;
    }
    return root;
}

static long op_timeout(const e2b_command_opts *o)
{
    if (!o || o->timeout_ms == 0)
        return E2B_COMMAND_DEFAULT_TIMEOUT_MS;
    return o->timeout_ms < 0 ? 0 : o->timeout_ms;
}

/* Runs a Start/Connect stream to its end on the calling thread. */
static e2b_code run_stream(const e2b_envd *env, const char *method, const cJSON *req,
                           long timeout_ms, atomic_int *cancel, e2b_commands_state *st,
                           e2b_error *err)
{
    e2b_connect_stream_opts so = {.timeout_ms = timeout_ms, .keepalive = true, .cancel = cancel};
    e2b_code rc = e2b_connect_stream(env, method, PROC, req, &so, e2b_commands_on_message, st, err);
    if (rc == E2B_OK && !st->started)
        rc = e2b_error_set(err, E2B_ERR_PROTOCOL, 0, "Expected start event");
    if (rc == E2B_OK && !st->finished)
        rc = e2b_error_set(err, E2B_ERR_PROTOCOL, 0, "Process exited without a result");
    return rc;
}

static e2b_code check_cmd(e2b_sandbox *sbx, const char *cmd, e2b_error *err)
{
    if (!sbx)
        return e2b_error_set(err, E2B_ERR_INVALID_ARGUMENT, 0, "sandbox is NULL");
    if (!cmd)
        return e2b_error_set(err, E2B_ERR_INVALID_ARGUMENT, 0, "command is NULL");
    return E2B_OK;
}

e2b_code e2b_commands_run(e2b_sandbox *sbx, const char *cmd, const e2b_command_opts *opts,
                          e2b_command_result *result, e2b_error *err)
{
    e2b_command_result dummy;
    if (!result)
        result = &dummy;
    memset(result, 0, sizeof *result);
    result->exit_code = -1;
    e2b_code rc = check_cmd(sbx, cmd, err);
    if (rc != E2B_OK)
        return rc;
    e2b_envd env;
    if ((rc = e2b_connect_envd_init(&env, sbx, opts ? opts->user : NULL, err)) != E2B_OK)
        return rc;
    cJSON *req = e2b_commands_start_request(cmd, opts);
    if (!req)
        return e2b_error_set(err, E2B_ERR_NO_MEMORY, 0, "StartRequest");
    e2b_commands_state st;
    e2b_commands_state_init(&st, opts);
    rc = run_stream(&env, "/process.Process/Start", req, op_timeout(opts), NULL, &st, err);
    cJSON_Delete(req);
    e2b_error local;
    if (e2b_commands_state_result(&st, true, result, &local) != E2B_OK && rc == E2B_OK) {
        if (err)
            *err = local;
        rc = local.code;
    }
    e2b_commands_state_free(&st);
    if (result == &dummy)
        e2b_command_result_free(&dummy);
    return rc;
}

/* ==== background handles ================================================================== */

struct e2b_command_handle {
    e2b_envd env;
    cJSON *req;
    const char *method;
    long timeout_ms;
    e2b_commands_state st;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    atomic_int cancel;
    atomic_bool disconnected;
    bool ended, joined;
    e2b_code rc;
    e2b_error err;
};

static void *handle_thread(void *arg)
{
    e2b_command_handle *h = arg;
    e2b_error err;
    e2b_error_clear(&err);
    e2b_code rc = run_stream(&h->env, h->method, h->req, h->timeout_ms, &h->cancel, &h->st, &err);
    pthread_mutex_lock(&h->mu);
    h->rc = rc;
    h->err = err;
    h->ended = true;
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
    return NULL;
}

static void handle_destroy(e2b_command_handle *h)
{
    cJSON_Delete(h->req);
    e2b_commands_state_free(&h->st);
    pthread_mutex_destroy(&h->mu);
    pthread_cond_destroy(&h->cv);
    free(h);
}

static e2b_code handle_open(e2b_sandbox *sbx, const char *method, cJSON *req,
                            const e2b_command_opts *opts, e2b_command_handle **out, e2b_error *err)
{
    *out = NULL;
    if (!req)
        return e2b_error_set(err, E2B_ERR_NO_MEMORY, 0, "%s request", method);
    e2b_command_handle *h = calloc(1, sizeof *h);
    if (!h) {
        cJSON_Delete(req);
        return e2b_error_set(err, E2B_ERR_NO_MEMORY, 0, "command handle");
    }
    e2b_code rc = e2b_connect_envd_init(&h->env, sbx, opts ? opts->user : NULL, err);
    if (rc != E2B_OK) {
        cJSON_Delete(req);
        free(h);
        return rc;
    }
    h->env.user = NULL; /* borrowed from opts: not kept (commands never use username=) */
    h->req = req;
    h->method = method;
    h->timeout_ms = op_timeout(opts);
    pthread_mutex_init(&h->mu, NULL);
    pthread_cond_init(&h->cv, NULL);
    atomic_init(&h->cancel, 0);
    atomic_init(&h->disconnected, false);
    e2b_commands_state_init(&h->st, opts);
    h->st.mu = &h->mu;
    h->st.cv = &h->cv;
    if (pthread_create(&h->thread, NULL, handle_thread, h) != 0) {
        handle_destroy(h);
        return e2b_error_set(err, E2B_ERR_IO, 0, "cannot start the command reader thread");
    }
    pthread_mutex_lock(&h->mu);
    while (!h->st.started && !h->ended)
        pthread_cond_wait(&h->cv, &h->mu);
    bool started = h->st.started;
    pthread_mutex_unlock(&h->mu);
    if (!started) {
        pthread_join(h->thread, NULL);
        rc = h->rc;
        if (err)
            *err = h->err;
        handle_destroy(h);
        return rc;
    }
    *out = h;
    return E2B_OK;
}

e2b_code e2b_commands_start(e2b_sandbox *sbx, const char *cmd, const e2b_command_opts *opts,
                            e2b_command_handle **out, e2b_error *err)
{
    if (out)
        *out = NULL;
    e2b_code rc = check_cmd(sbx, cmd, err);
    if (rc != E2B_OK)
        return rc;
    if (!out)
        return e2b_error_set(err, E2B_ERR_INVALID_ARGUMENT, 0, "start: out is NULL");
    return handle_open(sbx, "/process.Process/Start", e2b_commands_start_request(cmd, opts), opts,
                       out, err);
}

e2b_code e2b_commands_connect(e2b_sandbox *sbx, uint32_t pid, const e2b_command_opts *opts,
                              e2b_command_handle **out, e2b_error *err)
{
    if (out)
        *out = NULL;
    if (!sbx || !out)
        return e2b_error_set(err, E2B_ERR_INVALID_ARGUMENT, 0,
                             "connect: sandbox and out are required");
    return handle_open(sbx, "/process.Process/Connect", pid_req(pid), opts, out, err);
}

uint32_t e2b_command_handle_pid(const e2b_command_handle *h)
{
    return h ? h->st.pid : 0;
}

e2b_code e2b_command_wait(e2b_command_handle *h, e2b_command_result *result, e2b_error *err)
{
    e2b_command_result dummy;
    if (!result)
        result = &dummy;
    memset(result, 0, sizeof *result);
    result->exit_code = -1;
    if (!h)
        return e2b_error_set(err, E2B_ERR_INVALID_ARGUMENT, 0, "handle is NULL");
    if (!h->joined) {
        pthread_join(h->thread, NULL);
        h->joined = true;
    }
    e2b_code rc = h->rc;
    if (rc == E2B_ERR_CANCELLED && atomic_load(&h->disconnected))
        e2b_error_set(&h->err, E2B_ERR_CANCELLED, 0, "disconnected from the command");
    if (rc != E2B_OK && err)
        *err = h->err;
    e2b_error local;
    if (e2b_commands_state_result(&h->st, false, result, &local) != E2B_OK && rc == E2B_OK) {
        if (err)
            *err = local;
        rc = local.code;
    }
    if (result == &dummy)
        e2b_command_result_free(&dummy);
    return rc;
}

static e2b_code proc_call(e2b_envd *env, const char *method, cJSON *req, cJSON **reply,
                          e2b_error *err)
{
    if (!req)
        return e2b_error_set(err, E2B_ERR_NO_MEMORY, 0, "%s request", method);
    e2b_code rc = e2b_connect_unary(env, method, PROC, req, 0, reply, err);
    cJSON_Delete(req);
    return rc;
}

static e2b_code kill_pid(e2b_envd *env, uint32_t pid, bool *killed, e2b_error *err)
{
    if (killed)
        *killed = false;
    cJSON *req = pid_req(pid);
    if (req && !cJSON_AddStringToObject(req, "signal", "SIGNAL_SIGKILL")) {
        cJSON_Delete(req);
        req = NULL;
    }
    e2b_error local;
    e2b_code rc = proc_call(env, "/process.Process/SendSignal", req, NULL, &local);
    if (rc == E2B_ERR_NOT_FOUND)
        return E2B_OK;
    if (rc != E2B_OK) {
        if (err)
            *err = local;
        return rc;
    }
    if (killed)
        *killed = true;
    return E2B_OK;
}

static e2b_code stdin_pid(e2b_envd *env, uint32_t pid, const void *data, size_t len, e2b_error *err)
{
    if (!data && len)
        return e2b_error_set(err, E2B_ERR_INVALID_ARGUMENT, 0, "stdin data is NULL");
    char *b64 = e2b_connect_b64_encode(data ? data : "", len);
    if (!b64)
        return e2b_error_set(err, E2B_ERR_NO_MEMORY, 0, "stdin data");
    cJSON *req = pid_req(pid);
    cJSON *input = req ? cJSON_AddObjectToObject(req, "input") : NULL;
    if (!input || !cJSON_AddStringToObject(input, "stdin", b64)) {
        cJSON_Delete(req);
        req = NULL;
    }
    free(b64);
    return proc_call(env, "/process.Process/SendInput", req, NULL, err);
}

e2b_code e2b_command_kill(e2b_command_handle *h, bool *killed, e2b_error *err)
{
    if (killed)
        *killed = false;
    if (!h)
        return e2b_error_set(err, E2B_ERR_INVALID_ARGUMENT, 0, "handle is NULL");
    return kill_pid(&h->env, h->st.pid, killed, err);
}

e2b_code e2b_command_send_stdin(e2b_command_handle *h, const void *data, size_t len, e2b_error *err)
{
    if (!h)
        return e2b_error_set(err, E2B_ERR_INVALID_ARGUMENT, 0, "handle is NULL");
    return stdin_pid(&h->env, h->st.pid, data, len, err);
}

e2b_code e2b_command_close_stdin(e2b_command_handle *h, e2b_error *err)
{
    if (!h)
        return e2b_error_set(err, E2B_ERR_INVALID_ARGUMENT, 0, "handle is NULL");
    return proc_call(&h->env, "/process.Process/CloseStdin", pid_req(h->st.pid), NULL, err);
}

void e2b_command_disconnect(e2b_command_handle *h)
{
    if (!h)
        return;
    atomic_store(&h->disconnected, true);
    atomic_store(&h->cancel, 1);
}

void e2b_command_handle_free(e2b_command_handle *h)
{
    if (!h)
        return;
    e2b_command_disconnect(h);
    if (!h->joined) {
        pthread_join(h->thread, NULL);
        h->joined = true;
    }
    handle_destroy(h);
}

/* ==== by pid ============================================================================== */

void e2b_process_infos_free(e2b_process_info *infos, size_t n)
{
    if (!infos)
        return;
    for (size_t i = 0; i < n; i++) {
        e2b_process_info *p = &infos[i];
        free(p->tag);
        free(p->cmd);
        free(p->cwd);
        for (size_t j = 0; j < p->args_len; j++)
            free(p->args[j]);
        free(p->args);
        for (size_t j = 0; j < p->envs_len; j++) {
            free((char *)p->envs[j].key);
            free((char *)p->envs[j].value);
        }
        free(p->envs);
    }
    free(infos);
}

static e2b_code opt_strdup(const cJSON *obj, const char *key, char **out, e2b_error *err)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!it || cJSON_IsNull(it))
        return E2B_OK;
    if (!cJSON_IsString(it))
        return e2b_error_set(err, E2B_ERR_PROTOCOL, 0, "ProcessInfo: %s is not a string", key);
    if (!(*out = strdup(it->valuestring)))
        return e2b_error_set(err, E2B_ERR_NO_MEMORY, 0, "%s", key);
    return E2B_OK;
}

static e2b_code process_from_json(const cJSON *o, e2b_process_info *p, e2b_error *err)
{
    if (!cJSON_IsObject(o))
        return e2b_error_set(err, E2B_ERR_PROTOCOL, 0, "ProcessInfo is not an object");
    int64_t pid;
    if (!e2b_connect_get_int64(cJSON_GetObjectItemCaseSensitive(o, "pid"), 0, &pid) || pid < 0 ||
        pid > UINT32_MAX)
        return e2b_error_set(err, E2B_ERR_PROTOCOL, 0, "ProcessInfo.pid is not a uint32");
    p->pid = (uint32_t)pid;
    e2b_code rc = opt_strdup(o, "tag", &p->tag, err);
    if (rc != E2B_OK)
        return rc;
    const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(o, "config");
    if (!cfg || cJSON_IsNull(cfg))
        return E2B_OK;
    if (!cJSON_IsObject(cfg))
        return e2b_error_set(err, E2B_ERR_PROTOCOL, 0, "ProcessInfo.config is not an object");
    if ((rc = opt_strdup(cfg, "cmd", &p->cmd, err)) || (rc = opt_strdup(cfg, "cwd", &p->cwd, err)))
        return rc;
    const cJSON *args = cJSON_GetObjectItemCaseSensitive(cfg, "args");
    if (cJSON_IsArray(args) && cJSON_GetArraySize(args) > 0) {
        size_t n = (size_t)cJSON_GetArraySize(args);
        if (!(p->args = calloc(n, sizeof *p->args)))
            return e2b_error_set(err, E2B_ERR_NO_MEMORY, 0, "args");
        const cJSON *a;
        cJSON_ArrayForEach(a, args)
        {
            if (!cJSON_IsString(a))
                return e2b_error_set(err, E2B_ERR_PROTOCOL, 0,
                                     "ProcessConfig.args holds a non-string");
            if (!(p->args[p->args_len] = strdup(a->valuestring)))
                return e2b_error_set(err, E2B_ERR_NO_MEMORY, 0, "args");
            p->args_len++;
        }
    }
    const cJSON *envs = cJSON_GetObjectItemCaseSensitive(cfg, "envs");
    if (cJSON_IsObject(envs) && cJSON_GetArraySize(envs) > 0) {
        size_t n = (size_t)cJSON_GetArraySize(envs);
        if (!(p->envs = calloc(n, sizeof *p->envs)))
            return e2b_error_set(err, E2B_ERR_NO_MEMORY, 0, "envs");
        const cJSON *kv;
        cJSON_ArrayForEach(kv, envs)
        {
            if (!cJSON_IsString(kv))
                return e2b_error_set(err, E2B_ERR_PROTOCOL, 0,
                                     "ProcessConfig.envs holds a non-string");
            char *k = strdup(kv->string), *v = strdup(kv->valuestring);
            if (!k || !v) {
                free(k);
                free(v);
                return e2b_error_set(err, E2B_ERR_NO_MEMORY, 0, "envs");
            }
            p->envs[p->envs_len].key = k;
            p->envs[p->envs_len].value = v;
            p->envs_len++;
        }
    }
    return E2B_OK;
}

e2b_code e2b_commands_parse_list(const cJSON *reply, e2b_process_info **out, size_t *len,
                                 e2b_error *err)
{
    *out = NULL;
    *len = 0;
    const cJSON *procs = cJSON_GetObjectItemCaseSensitive(reply, "processes");
    if (!procs || cJSON_IsNull(procs))
        return E2B_OK;
    if (!cJSON_IsArray(procs))
        return e2b_error_set(err, E2B_ERR_PROTOCOL, 0, "ListResponse.processes is not an array");
    size_t n = (size_t)cJSON_GetArraySize(procs);
    if (n == 0)
        return E2B_OK;
    e2b_process_info *v = calloc(n, sizeof *v);
    if (!v)
        return e2b_error_set(err, E2B_ERR_NO_MEMORY, 0, "process list");
    size_t k = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, procs)
    {
        e2b_code rc = process_from_json(it, &v[k], err);
        k++;
        if (rc != E2B_OK) {
            e2b_process_infos_free(v, k);
            return rc;
        }
    }
    *out = v;
    *len = k;
    return E2B_OK;
}

e2b_code e2b_commands_list(e2b_sandbox *sbx, const char *user, e2b_process_info **out, size_t *len,
                           e2b_error *err)
{
    if (out)
        *out = NULL;
    if (len)
        *len = 0;
    if (!out || !len)
        return e2b_error_set(err, E2B_ERR_INVALID_ARGUMENT, 0, "list: out is NULL");
    e2b_envd env;
    e2b_code rc = e2b_connect_envd_init(&env, sbx, user, err);
    if (rc != E2B_OK)
        return rc;
    cJSON *reply = NULL;
    rc = proc_call(&env, "/process.Process/List", cJSON_CreateObject(), &reply, err);
    if (rc != E2B_OK)
        return rc;
    rc = e2b_commands_parse_list(reply, out, len, err);
    cJSON_Delete(reply);
    return rc;
}

e2b_code e2b_commands_kill(e2b_sandbox *sbx, uint32_t pid, bool *killed, e2b_error *err)
{
    if (killed)
        *killed = false;
    e2b_envd env;
    e2b_code rc = e2b_connect_envd_init(&env, sbx, NULL, err);
    if (rc != E2B_OK)
        return rc;
    return kill_pid(&env, pid, killed, err);
}

e2b_code e2b_commands_send_stdin(e2b_sandbox *sbx, uint32_t pid, const void *data, size_t len,
                                 e2b_error *err)
{
    e2b_envd env;
    e2b_code rc = e2b_connect_envd_init(&env, sbx, NULL, err);
    if (rc != E2B_OK)
        return rc;
    return stdin_pid(&env, pid, data, len, err);
}

e2b_code e2b_commands_close_stdin(e2b_sandbox *sbx, uint32_t pid, e2b_error *err)
{
    e2b_envd env;
    e2b_code rc = e2b_connect_envd_init(&env, sbx, NULL, err);
    if (rc != E2B_OK)
        return rc;
    return proc_call(&env, "/process.Process/CloseStdin", pid_req(pid), NULL, err);
}
