/* commands_fixtures.c - the commands conformance suite, driven by fixtures/commands.
 *
 * Every JSON file in fixtures/commands becomes one cmocka test named after its "name"
 * (E2B_TEST_FILTER / --filter select by fixture). A fixture gets a fresh target (a private
 * e2b-mock, or real E2B with E2B_LIVE=1), ONE sandbox (killed at the end), and runs its steps
 * in order: foreground runs, background handles (start, list, stdin, kill, wait, connect).
 * The format is documented in fixtures/README.md ("Commands fixture format").
 *
 * Always checked: what the on_stdout/on_stderr callbacks received equals the result's
 * stdout/stderr, byte for byte and in order; a finished command has a pid.
 */
#include "harness.h"

#include <pthread.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef harness_fixture_case fcase;

/* Output seen by the callbacks of one call or handle. */
typedef struct seen {
    pthread_mutex_t mu;
    char *out, *err;
    size_t out_len, err_len;
    size_t out_chunks;
} seen;

#define MAX_HANDLES 8

typedef struct slot {
    char name[64];
    char cmd[1024];
    e2b_command_handle *h;
    seen *s;
} slot;

typedef struct ctx {
    const fcase *fc;
    harness_target *t;
    e2b_sandbox *sbx;
    int step;
    const char *op;
    slot handles[MAX_HANDLES];
    size_t nhandles;
} ctx;

#define FAIL(c, fmt, ...)                                                           \
    fail_msg("%s [%s] step %d (%s): " fmt, (c)->fc->name, (c)->fc->path, (c)->step, \
             (c)->op ? (c)->op : "-", ##__VA_ARGS__)

/* ---- fixture JSON accessors and matchers: conformance/harness (harness_json_*) ---------- */

#define STEP(c) HARNESS_STEP((c)->fc->name, (c)->fc->path, (c)->step, (c)->op)
#define check_keys(c, obj, where, allowed) harness_json_check_keys(STEP(c), obj, where, allowed)
#define jget(o, key) harness_json_get(o, key)
#define jstr(c, o, key) harness_json_str(STEP(c), o, key)
#define jll(c, o, key, def) harness_json_ll(STEP(c), o, key, def)
#define jbool(c, o, key, def) harness_json_bool(STEP(c), o, key, def)
#define match(c, what, m, val, len) harness_json_match(STEP(c), what, m, val, len)

/* ---- error expectations ----------------------------------------------------------------- */

/* Returns true when the step expected an error (and it came), false when the call must have
 * succeeded (and did). */
static bool check_rc(ctx *c, e2b_code rc, const e2b_error *err, const cJSON *expect)
{
    const char *want = expect ? jstr(c, expect, "error") : NULL;
    if (!want) {
        if (rc != E2B_OK)
            FAIL(c, "failed: %s: %s", e2b_code_name(rc), err->message);
        return false;
    }
    e2b_code code;
    if (!harness_code_from_name(want, &code))
        FAIL(c, "unknown error code name \"%s\"", want);
    if (rc != code || err->code != code)
        FAIL(c, "expected error %s, got %s (%s)", want, e2b_code_name(rc),
             rc ? err->message : "success");
    if (!err->message[0])
        FAIL(c, "error %s has an empty message", want);
    const cJSON *m = jget(expect, "message");
    if (m)
        match(c, "error message", m, err->message, strlen(err->message));
    return true;
}

/* ---- callbacks ------------------------------------------------------------------------------ */

static void append(seen *s, char **buf, size_t *len, const char *d, size_t n)
{
    pthread_mutex_lock(&s->mu);
    char *nb = realloc(*buf, *len + n + 1);
    if (nb) {
        memcpy(nb + *len, d, n);
        *len += n;
        nb[*len] = '\0';
        *buf = nb;
    }
    pthread_mutex_unlock(&s->mu);
}

static void on_stdout(void *ud, const char *d, size_t n)
{
    seen *s = ud;
    append(s, &s->out, &s->out_len, d, n);
    pthread_mutex_lock(&s->mu);
    s->out_chunks++;
    pthread_mutex_unlock(&s->mu);
}

static void on_stderr(void *ud, const char *d, size_t n)
{
    seen *s = ud;
    append(s, &s->err, &s->err_len, d, n);
}

static void seen_free(void *p)
{
    seen *s = p;
    pthread_mutex_destroy(&s->mu);
    free(s->out);
    free(s->err);
    free(s);
}

static seen *new_seen(void)
{
    seen *s = calloc(1, sizeof *s);
    assert_non_null(s);
    pthread_mutex_init(&s->mu, NULL);
    harness_defer(seen_free, s);
    return s;
}

/* ---- options -------------------------------------------------------------------------------- */

/* "cmd": a string, or an array of lines joined with newlines. */
static const char *get_cmd(ctx *c, const cJSON *step)
{
    const cJSON *v = jget(step, "cmd");
    if (cJSON_IsString(v))
        return v->valuestring;
    if (!cJSON_IsArray(v) || !v->child)
        FAIL(c, "\"cmd\" must be a string or an array of lines");
    size_t n = 1;
    for (const cJSON *l = v->child; l; l = l->next) {
        if (!cJSON_IsString(l))
            FAIL(c, "\"cmd\" lines must be strings");
        n += strlen(l->valuestring) + 1;
    }
    char *s = calloc(1, n);
    harness_defer(free, s);
    for (const cJSON *l = v->child; l; l = l->next) {
        strcat(s, l->valuestring);
        if (l->next)
            strcat(s, "\n");
    }
    return s;
}

static void fill_opts(ctx *c, const cJSON *step, e2b_command_opts *o, seen *s)
{
    memset(o, 0, sizeof *o);
    const cJSON *envs = jget(step, "envs");
    if (envs) {
        if (!cJSON_IsObject(envs))
            FAIL(c, "\"envs\" must be an object of strings");
        size_t n = (size_t)cJSON_GetArraySize(envs);
        e2b_kv *kv = calloc(n ? n : 1, sizeof *kv);
        harness_defer(free, kv);
        size_t i = 0;
        for (const cJSON *e = envs->child; e; e = e->next, i++) {
            if (!cJSON_IsString(e))
                FAIL(c, "\"envs\" values must be strings");
            kv[i].key = e->string;
            kv[i].value = e->valuestring;
        }
        o->envs = kv;
        o->envs_len = n;
    }
    o->cwd = jstr(c, step, "cwd");
    o->user = jstr(c, step, "user");
    o->timeout_ms = (long)jll(c, step, "timeout_ms", 0);
    o->on_stdout = on_stdout;
    o->on_stderr = on_stderr;
    o->ud = s;
}

/* ---- result expectations --------------------------------------------------------------------- */

static void defer_result(void *p)
{
    e2b_command_result_free(p);
    free(p);
}

static e2b_command_result *new_result(void)
{
    e2b_command_result *r = calloc(1, sizeof *r);
    assert_non_null(r);
    harness_defer(defer_result, r);
    return r;
}

static const char *const k_result_keys[] = {
    "error",      "message", "exit_code",         "exited", "finished", "stdout", "stderr",
    "error_text", "max_ms",  "stdout_chunks_min", NULL};

static void check_result(ctx *c, e2b_code rc, const e2b_error *err, const e2b_command_result *r,
                         const seen *s, const cJSON *expect, int64_t elapsed_ms)
{
    if (expect)
        check_keys(c, expect, "\"expect\"", k_result_keys);
    /* callbacks and the accumulated result agree, whatever the outcome */
    if (r->stdout_len != s->out_len || (s->out_len && memcmp(r->stdout_data, s->out, s->out_len)))
        FAIL(c, "on_stdout saw %zu bytes, the result holds %zu (or they differ)", s->out_len,
             r->stdout_len);
    if (r->stderr_len != s->err_len || (s->err_len && memcmp(r->stderr_data, s->err, s->err_len)))
        FAIL(c, "on_stderr saw %zu bytes, the result holds %zu (or they differ)", s->err_len,
             r->stderr_len);
    if (!r->stdout_data || !r->stderr_data)
        FAIL(c, "stdout/stderr must be \"\" rather than NULL when accumulated");
    check_rc(c, rc, err, expect);
    if (rc == E2B_OK && (!r->finished || r->pid == 0))
        FAIL(c, "a successful call must have an end event (finished) and a pid");
    if (!expect) {
        if (r->exit_code != 0)
            FAIL(c, "exit code %d (stderr: %s)", r->exit_code, r->stderr_data);
        return;
    }
    if (jget(expect, "exit_code") && r->exit_code != (int)jll(c, expect, "exit_code", 0))
        FAIL(c, "exit code %d, expected %lld (stderr: %s)", r->exit_code,
             jll(c, expect, "exit_code", 0), r->stderr_data);
    if (!jget(expect, "exit_code") && !jget(expect, "error") && r->exit_code != 0)
        FAIL(c, "exit code %d, expected 0 (stderr: %s)", r->exit_code, r->stderr_data);
    if (jget(expect, "exited") && r->exited != jbool(c, expect, "exited", true))
        FAIL(c, "exited is %d", r->exited);
    if (jget(expect, "finished") && r->finished != jbool(c, expect, "finished", true))
        FAIL(c, "finished is %d", r->finished);
    const cJSON *m;
    if ((m = jget(expect, "stdout")))
        match(c, "stdout", m, r->stdout_data, r->stdout_len);
    if ((m = jget(expect, "stderr")))
        match(c, "stderr", m, r->stderr_data, r->stderr_len);
    if ((m = jget(expect, "error_text")))
        match(c, "result error", m, r->error, r->error ? strlen(r->error) : 0);
    if (jget(expect, "max_ms") && elapsed_ms > jll(c, expect, "max_ms", 0))
        FAIL(c, "took %lld ms, more than %lld", (long long)elapsed_ms, jll(c, expect, "max_ms", 0));
    if (jget(expect, "stdout_chunks_min") &&
        (long long)s->out_chunks < jll(c, expect, "stdout_chunks_min", 0))
        FAIL(c, "on_stdout called %zu times", s->out_chunks);
}

/* ---- ops -------------------------------------------------------------------------------------- */

static void defer_handle(void *p)
{
    e2b_command_handle_free(p);
}

static slot *find_slot(ctx *c, const char *name)
{
    if (!name)
        FAIL(c, "\"handle\" (a save_as name) is required");
    for (size_t i = 0; i < c->nhandles; i++)
        if (!strcmp(c->handles[i].name, name))
            return &c->handles[i];
    FAIL(c, "no handle named \"%s\"", name);
    return NULL;
}

static slot *new_slot(ctx *c, const char *name, const char *cmd)
{
    if (!name || strlen(name) >= sizeof c->handles[0].name)
        FAIL(c, "\"save_as\" (a short name) is required");
    if (c->nhandles == MAX_HANDLES)
        FAIL(c, "at most %d handles", MAX_HANDLES);
    slot *sl = &c->handles[c->nhandles];
    snprintf(sl->name, sizeof sl->name, "%s", name);
    snprintf(sl->cmd, sizeof sl->cmd, "%s", cmd ? cmd : "");
    sl->s = new_seen();
    return sl;
}

static void op_run(ctx *c, const cJSON *step, const cJSON *expect)
{
    static const char *const keys[] = {"op",   "note",       "cmd",   "envs",   "cwd",
                                       "user", "timeout_ms", "stdin", "expect", NULL};
    check_keys(c, step, "a run step", keys);
    const char *cmd = get_cmd(c, step);
    seen *s = new_seen();
    e2b_command_opts o;
    fill_opts(c, step, &o, s);
    e2b_command_result *r = new_result();
    e2b_error err = {0};
    e2b_code rc;
    const char *in = jstr(c, step, "stdin");
    int64_t t0 = harness_now_ms();
    if (in) {
        /* stdin data: start with stdin open, send it, close stdin, wait */
        o.stdin_open = true;
        e2b_command_handle *h = NULL;
        harness_assert_ok(e2b_commands_start(c->sbx, cmd, &o, &h, &err), &err, "start");
        harness_defer(defer_handle, h);
        harness_assert_ok(e2b_command_send_stdin(h, in, strlen(in), &err), &err, "send_stdin");
        harness_assert_ok(e2b_command_close_stdin(h, &err), &err, "close_stdin");
        rc = e2b_command_wait(h, r, &err);
    } else {
        rc = e2b_commands_run(c->sbx, cmd, &o, r, &err);
    }
    check_result(c, rc, &err, r, s, expect, harness_now_ms() - t0);
}

static void op_start(ctx *c, const cJSON *step, const cJSON *expect)
{
    static const char *const keys[] = {"op",      "note",   "cmd",        "envs",
                                       "cwd",     "user",   "timeout_ms", "stdin_open",
                                       "save_as", "expect", NULL};
    check_keys(c, step, "a start step", keys);
    const char *cmd = get_cmd(c, step);
    slot *sl = new_slot(c, jstr(c, step, "save_as"), cmd);
    e2b_command_opts o;
    fill_opts(c, step, &o, sl->s);
    o.stdin_open = jbool(c, step, "stdin_open", false);
    e2b_error err = {0};
    e2b_code rc = e2b_commands_start(c->sbx, cmd, &o, &sl->h, &err);
    if (check_rc(c, rc, &err, expect))
        return;
    harness_defer(defer_handle, sl->h);
    if (e2b_command_handle_pid(sl->h) == 0)
        FAIL(c, "started without a pid");
    c->nhandles++;
}

static void op_connect(ctx *c, const cJSON *step, const cJSON *expect)
{
    static const char *const keys[] = {"op", "note", "handle", "pid", "save_as", "expect", NULL};
    check_keys(c, step, "a connect step", keys);
    uint32_t pid = jget(step, "pid")
                       ? (uint32_t)jll(c, step, "pid", 0)
                       : e2b_command_handle_pid(find_slot(c, jstr(c, step, "handle"))->h);
    e2b_error err = {0};
    slot *sl = new_slot(c, jstr(c, step, "save_as") ? jstr(c, step, "save_as") : "-", NULL);
    e2b_command_opts o = {.on_stdout = on_stdout, .on_stderr = on_stderr, .ud = sl->s};
    e2b_code rc = e2b_commands_connect(c->sbx, pid, &o, &sl->h, &err);
    if (check_rc(c, rc, &err, expect)) {
        if (sl->h)
            FAIL(c, "a failed connect returned a handle");
        return;
    }
    harness_defer(defer_handle, sl->h);
    if (e2b_command_handle_pid(sl->h) != pid)
        FAIL(c, "connected handle has pid %u, expected %u", e2b_command_handle_pid(sl->h), pid);
    c->nhandles++;
}

static void op_wait(ctx *c, const cJSON *step, const cJSON *expect)
{
    static const char *const keys[] = {"op", "note", "handle", "expect", NULL};
    check_keys(c, step, "a wait step", keys);
    slot *sl = find_slot(c, jstr(c, step, "handle"));
    e2b_command_result *r = new_result();
    e2b_error err = {0};
    int64_t t0 = harness_now_ms();
    e2b_code rc = e2b_command_wait(sl->h, r, &err);
    /* the reader thread has delivered everything once wait returned */
    check_result(c, rc, &err, r, sl->s, expect, harness_now_ms() - t0);
}

static void op_wait_output(ctx *c, const cJSON *step)
{
    static const char *const keys[] = {"op", "note", "handle", "contains", "within_ms", NULL};
    check_keys(c, step, "a wait_output step", keys);
    slot *sl = find_slot(c, jstr(c, step, "handle"));
    const char *want = jstr(c, step, "contains");
    if (!want)
        FAIL(c, "wait_output needs \"contains\"");
    int64_t deadline = harness_now_ms() + jll(c, step, "within_ms", 10000);
    for (;;) {
        pthread_mutex_lock(&sl->s->mu);
        bool ok = sl->s->out && strstr(sl->s->out, want);
        pthread_mutex_unlock(&sl->s->mu);
        if (ok)
            return;
        if (harness_now_ms() > deadline)
            FAIL(c, "stdout of %s did not show \"%s\" in time", sl->name, want);
        usleep(20 * 1000);
    }
}

static void op_list(ctx *c, const cJSON *step, const cJSON *expect)
{
    static const char *const keys[] = {"op", "note", "expect", NULL};
    check_keys(c, step, "a list step", keys);
    static const char *const ek[] = {"error", "message", "contains", "excludes", NULL};
    if (expect)
        check_keys(c, expect, "list \"expect\"", ek);
    e2b_process_info *v = NULL;
    size_t n = 0;
    e2b_error err = {0};
    e2b_code rc = e2b_commands_list(c->sbx, NULL, &v, &n, &err);
    if (check_rc(c, rc, &err, expect))
        return;
    for (int pass = 0; pass < 2 && expect; pass++) {
        const cJSON *lst = jget(expect, pass ? "excludes" : "contains");
        for (const cJSON *e = lst ? lst->child : NULL; e; e = e->next) {
            slot *sl = find_slot(c, cJSON_IsString(e) ? e->valuestring : NULL);
            uint32_t pid = e2b_command_handle_pid(sl->h);
            const e2b_process_info *pi = NULL;
            for (size_t i = 0; i < n; i++)
                if (v[i].pid == pid)
                    pi = &v[i];
            if (!pass && !pi) {
                e2b_process_infos_free(v, n);
                FAIL(c, "%s (pid %u) is not listed", sl->name, pid);
            }
            if (pass && pi) {
                e2b_process_infos_free(v, n);
                FAIL(c, "%s (pid %u) is still listed", sl->name, pid);
            }
            /* what the SDKs send: /bin/bash -l -c <cmd> */
            if (pi && sl->cmd[0] &&
                (!pi->cmd || strcmp(pi->cmd, "/bin/bash") || pi->args_len != 3 ||
                 strcmp(pi->args[2], sl->cmd))) {
                e2b_process_infos_free(v, n);
                FAIL(c, "%s is listed with another command line", sl->name);
            }
        }
    }
    e2b_process_infos_free(v, n);
}

static void op_kill(ctx *c, const cJSON *step, const cJSON *expect)
{
    static const char *const keys[] = {"op", "note", "handle", "pid", "by_pid", "expect", NULL};
    check_keys(c, step, "a kill step", keys);
    static const char *const ek[] = {"error", "message", "killed", NULL};
    if (expect)
        check_keys(c, expect, "kill \"expect\"", ek);
    bool want = expect ? jbool(c, expect, "killed", true) : true;
    bool killed = !want;
    e2b_error err = {0};
    e2b_code rc;
    if (jget(step, "pid"))
        rc = e2b_commands_kill(c->sbx, (uint32_t)jll(c, step, "pid", 0), &killed, &err);
    else if (jbool(c, step, "by_pid", false))
        rc = e2b_commands_kill(c->sbx,
                               e2b_command_handle_pid(find_slot(c, jstr(c, step, "handle"))->h),
                               &killed, &err);
    else
        rc = e2b_command_kill(find_slot(c, jstr(c, step, "handle"))->h, &killed, &err);
    if (check_rc(c, rc, &err, expect))
        return;
    if (killed != want)
        FAIL(c, "killed is %s", killed ? "true" : "false");
}

static void op_stdin(ctx *c, const cJSON *step, const cJSON *expect, bool close)
{
    static const char *const keys[] = {"op", "note", "handle", "data", "expect", NULL};
    check_keys(c, step, "a send_stdin/close_stdin step", keys);
    slot *sl = find_slot(c, jstr(c, step, "handle"));
    e2b_error err = {0};
    const char *d = jstr(c, step, "data");
    if (!close && !d)
        FAIL(c, "send_stdin needs \"data\"");
    e2b_code rc = close ? e2b_command_close_stdin(sl->h, &err)
                        : e2b_command_send_stdin(sl->h, d, strlen(d), &err);
    check_rc(c, rc, &err, expect);
}

/* ---- runner ----------------------------------------------------------------------------------- */

static void run_fixture(void **state)
{
    const fcase *fc = *state;
    if (!fc->root)
        fail_msg("%s", fc->load_error);
    ctx *c = calloc(1, sizeof *c);
    assert_non_null(c);
    c->fc = fc;
    harness_defer(free, c);
    const cJSON *steps = harness_fixture_begin(fc, &c->t, &c->sbx);
    for (const cJSON *s = steps->child; s; s = s->next) {
        c->step++;
        c->op = jstr(c, s, "op");
        if (!c->op)
            c->op = "run";
        const cJSON *expect = jget(s, "expect");
        if (!strcmp(c->op, "run"))
            op_run(c, s, expect);
        else if (!strcmp(c->op, "start"))
            op_start(c, s, expect);
        else if (!strcmp(c->op, "connect"))
            op_connect(c, s, expect);
        else if (!strcmp(c->op, "wait"))
            op_wait(c, s, expect);
        else if (!strcmp(c->op, "wait_output"))
            op_wait_output(c, s);
        else if (!strcmp(c->op, "list"))
            op_list(c, s, expect);
        else if (!strcmp(c->op, "kill"))
            op_kill(c, s, expect);
        else if (!strcmp(c->op, "send_stdin"))
            op_stdin(c, s, expect, false);
        else if (!strcmp(c->op, "close_stdin"))
            op_stdin(c, s, expect, true);
        else if (!strcmp(c->op, "sleep"))
            usleep((useconds_t)jll(c, s, "ms", 0) * 1000);
        else
            FAIL(c, "unknown op \"%s\"", c->op);
    }
}

int main(int argc, char **argv)
{
    return harness_fixture_main(argc, argv, "commands", run_fixture, NULL, 0);
}
