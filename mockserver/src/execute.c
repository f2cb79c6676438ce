/* execute.c - code interpreter on port 49999: /execute, /contexts, /health. See execute.h. */
#include "execute.h"

#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <regex.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kernel.h"
#include "sandboxrt.h"
#include "store.h"
#include "util.h"
#include "warmpool.h"

#define CI_KEY "code_interpreter"
#define TEXT_PLAIN "text/plain; charset=utf-8"
#define LANG_MAX 64

typedef struct ci_ctx {
    char id[40];
    char lang[LANG_MAX];
    char *cwd;
    kernel *k;
    int refs; /* guarded by ci_state.lock; the sandbox list holds one */
    int is_default;
    struct ci_ctx *next;
} ci_ctx;

typedef struct ci_sbx {
    char id[MOCK_SANDBOX_ID_LEN + 1];
    ci_ctx *ctxs;
    struct ci_sbx *next;
} ci_sbx;

typedef struct ci_script {
    char *name;
    char *code; /* exact match, or NULL */
    regex_t re; /* when has_re */
    int has_re;
    char *language; /* normalized filter, or NULL */
    cJSON *events;  /* array */
} ci_script;

typedef struct ci_state {
    pthread_mutex_t lock;
    pthread_cond_t idle;
    ci_sbx *sbxs;
    ci_script *scripts;
    size_t nscripts;
    int active; /* producer threads running */
    mock_server *srv;
    /* Reused producer threads (a thread per /execute cost ~40% of the mock's CPU in
     * clone + glibc's thread-exit madvise): jobs queue here, idle workers take them, a new
     * worker starts only when none is idle; idle workers exit after WORKER_IDLE_S. */
    struct ci_job *queue_head, *queue_tail;
    pthread_cond_t work;
    int workers;      /* worker threads alive */
    int idle_workers; /* of which waiting for work */
    int queued;       /* jobs in the queue */
    int stopping;
} ci_state;

static ci_state *state_of(mock_server *s)
{
    return mock_server_get_data(s, CI_KEY);
}

static void new_id(char out[40])
{
    char hex[33];
    if (mock_random_hex(hex, 16) != 0)
        snprintf(hex, sizeof hex, "%032lx", (unsigned long)random());
    /* UUID-shaped, like Jupyter kernel ids */
    snprintf(out, 40, "%.8s-%.4s-4%.3s-a%.3s-%.12s", hex, hex + 8, hex + 13, hex + 17, hex + 20);
}

/* ------------------------------------------------------------------ contexts */

static void ctx_unref(ci_state *st, ci_ctx *c)
{
    pthread_mutex_lock(&st->lock);
    int last = --c->refs == 0;
    pthread_mutex_unlock(&st->lock);
    if (last) {
        kernel_free(c->k);
        free(c->cwd);
        free(c);
    }
}

/* lock held */
static ci_sbx *sbx_find(ci_state *st, const char *id)
{
    for (ci_sbx *s = st->sbxs; s; s = s->next)
        if (!strcmp(s->id, id))
            return s;
    return NULL;
}

/* lock held. Creates a context object (its kernel starts on first use). */
static ci_ctx *ctx_create_locked(ci_sbx *s, mock_sandbox *sbx, const char *lang, const char *cwd,
                                 int is_default, char *err, size_t errlen)
{
    kernel_kind kind;
    if (kernel_kind_for_language(lang, &kind, err, errlen) != 0)
        return NULL;
    ci_ctx *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    new_id(c->id);
    snprintf(c->lang, sizeof c->lang, "%s", lang);
    c->cwd = strdup(cwd && cwd[0] ? cwd : SBXRT_HOME);
    kernel_opts ko = {kind, sbx->dir, c->cwd, sbx->env_vars,
                      store_sandbox_allow_internet(sbx) == 1};
    c->k = c->cwd ? kernel_new_lazy(&ko, err, errlen) : NULL;
    if (!c->k) {
        free(c->cwd);
        free(c);
        return NULL;
    }
    c->refs = 1;
    c->is_default = is_default;
    /* append: listing order = creation order */
    ci_ctx **pp = &s->ctxs;
    while (*pp)
        pp = &(*pp)->next;
    *pp = c;
    return c;
}

/* lock held. The sandbox's entry, created with its default contexts on first touch. */
static ci_sbx *sbx_touch(ci_state *st, mock_sandbox *sbx)
{
    ci_sbx *s = sbx_find(st, sbx->id);
    if (s)
        return s;
    s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    snprintf(s->id, sizeof s->id, "%s", sbx->id);
    char err[256];
    /* like the E2B template: python and javascript contexts exist from the start */
    ci_ctx *py = ctx_create_locked(s, sbx, "python", SBXRT_HOME, 1, err, sizeof err);
    kernel *warm = warmpool_claim(st->srv, sbx->id); /* pre-started by the warm pool */
    if (warm && py) {
        kernel_free(py->k);
        py->k = warm;
    } else {
        kernel_free(warm);
    }
    ctx_create_locked(s, sbx, "javascript", SBXRT_HOME, 1, err, sizeof err);
    s->next = st->sbxs;
    st->sbxs = s;
    return s;
}

/* Finds a context by id and takes a reference. */
static ci_ctx *ctx_get(ci_state *st, mock_sandbox *sbx, const char *id)
{
    pthread_mutex_lock(&st->lock);
    ci_sbx *s = sbx_touch(st, sbx);
    ci_ctx *found = NULL;
    for (ci_ctx *c = s ? s->ctxs : NULL; c; c = c->next)
        if (!strcmp(c->id, id)) {
            found = c;
            c->refs++;
            break;
        }
    pthread_mutex_unlock(&st->lock);
    return found;
}

/* The default context of a language (created when missing), referenced. */
static ci_ctx *ctx_default(ci_state *st, mock_sandbox *sbx, const char *lang, char *err,
                           size_t errlen)
{
    pthread_mutex_lock(&st->lock);
    ci_sbx *s = sbx_touch(st, sbx);
    ci_ctx *found = NULL;
    if (!s) {
        snprintf(err, errlen, "out of memory");
    } else {
        for (ci_ctx *c = s->ctxs; c; c = c->next)
            if (c->is_default && !strcmp(c->lang, lang)) {
                found = c;
                break;
            }
        if (!found)
            found = ctx_create_locked(s, sbx, lang, SBXRT_HOME, 1, err, errlen);
        if (found)
            found->refs++;
    }
    pthread_mutex_unlock(&st->lock);
    return found;
}

/* Unlinks a context from its sandbox; returns it (still referenced by the caller's unlink
 * reference) or NULL. */
static ci_ctx *ctx_unlink(ci_state *st, const char *sbx_id, const char *id)
{
    pthread_mutex_lock(&st->lock);
    ci_sbx *s = sbx_find(st, sbx_id);
    ci_ctx *found = NULL;
    for (ci_ctx **pp = s ? &s->ctxs : NULL; pp && *pp; pp = &(*pp)->next)
        if (!strcmp((*pp)->id, id)) {
            found = *pp;
            *pp = found->next;
            found->next = NULL;
            break;
        }
    pthread_mutex_unlock(&st->lock);
    return found;
}

static void ctx_remove(ci_state *st, ci_ctx *c)
{
    kernel_shutdown(c->k); /* kills the process; a running execution ends with ExecutionAborted */
    ctx_unref(st, c);      /* the list's reference */
}

static void on_sandbox_destroy(mock_sandbox *sbx, void *ud)
{
    ci_state *st = ud;
    pthread_mutex_lock(&st->lock);
    ci_sbx *s = NULL;
    for (ci_sbx **pp = &st->sbxs; *pp; pp = &(*pp)->next)
        if (!strcmp((*pp)->id, sbx->id)) {
            s = *pp;
            *pp = s->next;
            break;
        }
    pthread_mutex_unlock(&st->lock);
    if (!s)
        return;
    ci_ctx *c = s->ctxs;
    while (c) {
        ci_ctx *next = c->next;
        ctx_remove(st, c);
        c = next;
    }
    free(s);
}

/* Pause freezes the sandbox's kernels (like the VM snapshot of E2B), resume thaws them. */
static void freeze_sandbox(ci_state *st, mock_sandbox *sbx, int frozen)
{
    pthread_mutex_lock(&st->lock);
    ci_sbx *s = sbx_find(st, sbx->id);
    for (ci_ctx *c = s ? s->ctxs : NULL; c; c = c->next)
        kernel_freeze(c->k, frozen);
    pthread_mutex_unlock(&st->lock);
}

static void on_sandbox_pause(mock_sandbox *sbx, void *ud)
{
    freeze_sandbox(ud, sbx, 1);
}
static void on_sandbox_resume(mock_sandbox *sbx, void *ud)
{
    freeze_sandbox(ud, sbx, 0);
}

static cJSON *ctx_json(const ci_ctx *c)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    cJSON_AddStringToObject(o, "id", c->id);
    cJSON_AddStringToObject(o, "language", c->lang);
    cJSON_AddStringToObject(o, "cwd", c->cwd);
    return o;
}

/* ------------------------------------------------------------------ scripted answers */

static void script_clear(ci_script *s)
{
    free(s->name);
    free(s->code);
    free(s->language);
    if (s->has_re)
        regfree(&s->re);
    cJSON_Delete(s->events);
    memset(s, 0, sizeof *s);
}

/* Parses one script object into *out. Returns 0 or -1 with err. */
static int script_parse(const cJSON *o, const char *file, ci_script *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(o, "name");
    const cJSON *match = cJSON_GetObjectItemCaseSensitive(o, "match");
    const cJSON *lang = cJSON_GetObjectItemCaseSensitive(o, "language");
    const cJSON *events = cJSON_GetObjectItemCaseSensitive(o, "events");
    const cJSON *code = cJSON_GetObjectItemCaseSensitive(match, "code");
    const cJSON *regex = cJSON_GetObjectItemCaseSensitive(match, "regex");
    if (!cJSON_IsObject(o) || !cJSON_IsObject(match) || !cJSON_IsArray(events) ||
        (cJSON_IsString(code) == cJSON_IsString(regex))) {
        snprintf(err, errlen,
                 "%s: a script needs \"match\" with exactly one of \"code\" or "
                 "\"regex\", and an \"events\" array",
                 file);
        return -1;
    }
    const cJSON *ev;
    cJSON_ArrayForEach(ev, events)
    {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(ev, "type");
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(ev, "delay_ms");
        if (!cJSON_IsObject(ev) || !cJSON_IsString(t) ||
            (d && (!cJSON_IsNumber(d) || d->valuedouble < 0))) {
            snprintf(err, errlen,
                     "%s: every event needs a string \"type\" (and a non-negative "
                     "\"delay_ms\" if given)",
                     file);
            return -1;
        }
    }
    out->name = strdup(cJSON_IsString(name) ? name->valuestring : file);
    if (cJSON_IsString(code))
        out->code = strdup(code->valuestring);
    if (cJSON_IsString(regex)) {
        int rc = regcomp(&out->re, regex->valuestring, REG_EXTENDED | REG_NOSUB);
        if (rc != 0) {
            char msg[128];
            regerror(rc, &out->re, msg, sizeof msg);
            snprintf(err, errlen, "%s: bad regex: %s", file, msg);
            script_clear(out);
            return -1;
        }
        out->has_re = 1;
    }
    if (cJSON_IsString(lang)) {
        char n[LANG_MAX];
        kernel_normalize_language(lang->valuestring, n, sizeof n);
        out->language = strdup(n);
    }
    out->events = cJSON_Duplicate(events, 1);
    if (!out->name || !out->events || (cJSON_IsString(code) && !out->code) ||
        (cJSON_IsString(lang) && !out->language)) {
        snprintf(err, errlen, "out of memory");
        script_clear(out);
        return -1;
    }
    return 0;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int execute_load_scripts(mock_server *srv, const char *dir, char *err, size_t errlen)
{
    ci_state *st = state_of(srv);
    if (!st || !dir) {
        snprintf(err, errlen, "code interpreter module not initialised");
        return -1;
    }
    DIR *d = opendir(dir);
    if (!d) {
        snprintf(err, errlen, "%s: %s", dir, strerror(errno));
        return -1;
    }
    char **names = NULL;
    size_t nn = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);
        if (l < 6 || strcmp(de->d_name + l - 5, ".json") != 0 || de->d_name[0] == '.')
            continue;
        char **nv = realloc(names, (nn + 1) * sizeof *nv);
        if (!nv)
            break;
        names = nv;
        names[nn] = strdup(de->d_name);
        if (names[nn])
            nn++;
    }
    closedir(d);
    if (nn)
        qsort(names, nn, sizeof *names, name_cmp);

    ci_script *loaded = NULL;
    size_t nl = 0;
    int rc = 0;
    for (size_t i = 0; i < nn && rc == 0; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        FILE *f = fopen(path, "rb");
        char *buf = NULL;
        size_t len = 0;
        if (f) {
            FILE *m = open_memstream(&buf, &len);
            char tmp[8192];
            size_t n;
            while (m && (n = fread(tmp, 1, sizeof tmp, f)) > 0)
                fwrite(tmp, 1, n, m);
            if (m)
                fclose(m);
            fclose(f);
        }
        cJSON *j = buf ? cJSON_ParseWithLength(buf, len) : NULL;
        free(buf);
        if (!j) {
            snprintf(err, errlen, "%s: unreadable or not valid JSON", path);
            rc = -1;
            break;
        }
        const cJSON *list = cJSON_IsArray(j) ? j : NULL;
        size_t cnt = list ? (size_t)cJSON_GetArraySize(list) : 1;
        ci_script *nv = realloc(loaded, (nl + cnt) * sizeof *nv);
        if (!nv) {
            snprintf(err, errlen, "out of memory");
            rc = -1;
        } else {
            loaded = nv;
            for (size_t k = 0; k < cnt && rc == 0; k++) {
                const cJSON *o = list ? cJSON_GetArrayItem(list, (int)k) : j;
                if (script_parse(o, names[i], &loaded[nl], err, errlen) == 0)
                    nl++;
                else
                    rc = -1;
            }
        }
        cJSON_Delete(j);
    }
    for (size_t i = 0; i < nn; i++)
        free(names[i]);
    free(names);
    if (rc != 0) {
        for (size_t i = 0; i < nl; i++)
            script_clear(&loaded[i]);
        free(loaded);
        return -1;
    }
    pthread_mutex_lock(&st->lock);
    ci_script *all = realloc(st->scripts, (st->nscripts + nl) * sizeof *all);
    if (all || nl == 0) {
        if (all)
            st->scripts = all;
        if (nl)
            memcpy(st->scripts + st->nscripts, loaded, nl * sizeof *loaded);
        st->nscripts += nl;
    } else {
        rc = -1;
    }
    pthread_mutex_unlock(&st->lock);
    if (rc != 0) {
        for (size_t i = 0; i < nl; i++)
            script_clear(&loaded[i]);
        free(loaded);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    free(loaded);
    return (int)nl;
}

/* Returns a deep copy of the events of the first matching script, or NULL. */
static cJSON *script_match(ci_state *st, const char *code, const char *lang)
{
    cJSON *ev = NULL;
    pthread_mutex_lock(&st->lock);
    for (size_t i = 0; i < st->nscripts && !ev; i++) {
        ci_script *s = &st->scripts[i];
        if (s->language && lang && strcmp(s->language, lang) != 0)
            continue;
        int hit = s->code ? !strcmp(s->code, code) : regexec(&s->re, code, 0, NULL, 0) == 0;
        if (hit)
            ev = cJSON_Duplicate(s->events, 1);
    }
    pthread_mutex_unlock(&st->lock);
    return ev;
}

/* ------------------------------------------------------------------ /execute */

typedef struct ci_job {
    ci_state *st;
    ci_ctx *ctx;       /* referenced */
    mock_sandbox *sbx; /* referenced */
    mock_stream *stream;
    char *code;
    cJSON *env;
    cJSON *script;        /* scripted events, or NULL for the kernel */
    atomic_int cancel;    /* set when the client went away */
    struct ci_job *qnext; /* ci_state's queue */
} ci_job;

static int job_emit(void *ud, kernel_event_type t, const char *line, size_t len)
{
    (void)t;
    ci_job *j = ud;
    char stackbuf[1024];
    char *buf = len + 1 <= sizeof stackbuf ? stackbuf : malloc(len + 1);
    if (!buf)
        return -1;
    memcpy(buf, line, len);
    buf[len] = '\n';
    int rc = mock_stream_write(j->stream, buf, len + 1);
    if (buf != stackbuf)
        free(buf);
    return rc;
}

static void job_on_cancel(void *ud)
{
    ci_job *j = ud;
    atomic_store(&j->cancel, 1);
    if (j->ctx)
        kernel_wake(j->ctx->k);
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#define SCRIPT_KEEPALIVE_MS 5000

/* Sleeps ms unless the job is cancelled first, sending a keepalive line after every 5 s of
 * silence like the real server. *last_emit is the time of the last line sent. Returns
 * non-zero if cancelled (or the client is gone). */
static int job_sleep(ci_job *j, int64_t ms, int64_t *last_emit)
{
    int64_t until = mono_ms() + ms;
    while (!atomic_load(&j->cancel)) {
        int64_t now = mono_ms();
        if (now >= until)
            break;
        if (now - *last_emit >= SCRIPT_KEEPALIVE_MS) {
            const char *ka = "{\"type\":\"keepalive\"}";
            if (job_emit(j, KEV_KEEPALIVE, ka, strlen(ka)) != 0)
                return 1;
            *last_emit = now;
        }
        int64_t step = until - now;
        if (step > 50)
            step = 50;
        poll(NULL, 0, (int)step);
    }
    return atomic_load(&j->cancel);
}

static void play_script(ci_job *j)
{
    const cJSON *ev;
    int64_t last_emit = mono_ms();
    cJSON_ArrayForEach(ev, j->script)
    {
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(ev, "delay_ms");
        if (cJSON_IsNumber(d) && job_sleep(j, (int64_t)d->valuedouble, &last_emit))
            return;
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(ev, "type");
        if (!strcmp(t->valuestring, "end_of_execution"))
            continue; /* always sent last anyway */
        kernel_event_type et;
        char *line = kernel_event_to_wire(ev, &et);
        if (!line) {
            /* any other object is sent as written (minus delay_ms) */
            cJSON *c = cJSON_Duplicate(ev, 1);
            cJSON_DeleteItemFromObjectCaseSensitive(c, "delay_ms");
            line = c ? cJSON_PrintUnformatted(c) : NULL;
            cJSON_Delete(c);
        }
        int rc = line ? job_emit(j, et, line, strlen(line)) : 0;
        last_emit = mono_ms();
        free(line);
        if (rc != 0)
            return;
    }
    const char *end = "{\"type\":\"end_of_execution\"}";
    job_emit(j, KEV_END_OF_EXECUTION, end, strlen(end));
}

static void job_free(ci_job *j)
{
    if (j->ctx)
        ctx_unref(j->st, j->ctx);
    store_release(j->sbx);
    free(j->code);
    cJSON_Delete(j->env);
    cJSON_Delete(j->script);
    free(j);
}

static void job_run(ci_job *j)
{
    ci_state *st = j->st;
    if (j->script) {
        play_script(j);
    } else {
        kernel_exec_opts o = {0};
        o.code = j->code;
        o.env_vars = j->env;
        o.emit = job_emit;
        o.ud = j;
        o.cancel = &j->cancel;
        kernel_execute(j->ctx->k, &o);
    }
    mock_stream_close(j->stream); /* after this the cancel callback never runs */
    job_free(j);
    pthread_mutex_lock(&st->lock);
    if (--st->active == 0)
        pthread_cond_broadcast(&st->idle);
    pthread_mutex_unlock(&st->lock);
}

#define WORKER_IDLE_S 30

static void *worker_main(void *p)
{
    ci_state *st = p;
    pthread_mutex_lock(&st->lock);
    for (;;) {
        while (!st->queue_head && !st->stopping) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += WORKER_IDLE_S;
            st->idle_workers++;
            int rc = pthread_cond_timedwait(&st->work, &st->lock, &ts);
            st->idle_workers--;
            if (rc == ETIMEDOUT && !st->queue_head)
                goto out;
        }
        if (!st->queue_head)
            break; /* stopping */
        ci_job *j = st->queue_head;
        st->queue_head = j->qnext;
        if (!st->queue_head)
            st->queue_tail = NULL;
        st->queued--;
        pthread_mutex_unlock(&st->lock);
        job_run(j);
        pthread_mutex_lock(&st->lock);
    }
out:
    /* st may be freed as soon as the lock is released after this */
    st->workers--;
    pthread_cond_broadcast(&st->idle);
    pthread_mutex_unlock(&st->lock);
    return NULL;
}

/* Queues j for a worker (st->active already counts it). Returns 0, or -1 (j not queued)
 * when no worker is idle and none can be started. */
static int job_dispatch(ci_state *st, ci_job *j)
{
    int rc = 0;
    j->qnext = NULL;
    pthread_mutex_lock(&st->lock);
    /* a job can run for minutes: never queue behind a busy worker */
    if (st->idle_workers <= st->queued) {
        pthread_attr_t at;
        pthread_attr_init(&at);
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        pthread_t th;
        rc = pthread_create(&th, &at, worker_main, st) == 0 ? 0 : -1;
        pthread_attr_destroy(&at);
        if (rc == 0)
            st->workers++;
    }
    if (rc == 0) {
        if (st->queue_tail)
            st->queue_tail->qnext = j;
        else
            st->queue_head = j;
        st->queue_tail = j;
        st->queued++;
        pthread_cond_signal(&st->work);
    }
    pthread_mutex_unlock(&st->lock);
    return rc;
}

static mock_response *text_resp(int status, const char *msg)
{
    return mock_resp_bytes(status, TEXT_PLAIN, msg, strlen(msg));
}

static mock_response *unprocessable(const char *field, const char *msg)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(o, "detail");
    cJSON *d = cJSON_CreateObject();
    cJSON_AddItemToArray(arr, d);
    cJSON_AddStringToObject(d, "type", "value_error");
    cJSON *loc = cJSON_AddArrayToObject(d, "loc");
    cJSON_AddItemToArray(loc, cJSON_CreateString("body"));
    if (field)
        cJSON_AddItemToArray(loc, cJSON_CreateString(field));
    cJSON_AddStringToObject(d, "msg", msg);
    return mock_resp_json(422, o);
}

/* A JSON null or a missing key both mean "not given". */
static const cJSON *opt_item(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return v && !cJSON_IsNull(v) ? v : NULL;
}

static mock_response *h_execute(mock_request *req)
{
    ci_state *st = state_of(req->server);
    cJSON *body = mock_req_json(req);
    if (!cJSON_IsObject(body)) {
        cJSON_Delete(body);
        return unprocessable(NULL, "the body must be a JSON object");
    }
    const cJSON *code = opt_item(body, "code");
    const cJSON *ctx_id = opt_item(body, "context_id");
    const cJSON *lang = opt_item(body, "language");
    const cJSON *env = opt_item(body, "env_vars");
    mock_response *err_resp = NULL;
    if (!cJSON_IsString(code))
        err_resp = unprocessable("code", "Field required (a string)");
    else if ((ctx_id && !cJSON_IsString(ctx_id)) || (lang && !cJSON_IsString(lang)))
        err_resp = unprocessable(ctx_id && !cJSON_IsString(ctx_id) ? "context_id" : "language",
                                 "Input should be a valid string");
    else if (env && !cJSON_IsObject(env))
        err_resp = unprocessable("env_vars", "Input should be a valid dictionary");
    else if (ctx_id && lang)
        err_resp = text_resp(400, "Only one of context_id or language can be provided");
    if (err_resp) {
        cJSON_Delete(body);
        return err_resp;
    }

    ci_ctx *ctx = NULL;
    char err[512] = "";
    if (ctx_id) {
        ctx = ctx_get(st, req->sandbox, ctx_id->valuestring);
        if (!ctx) {
            snprintf(err, sizeof err, "Context %s not found", ctx_id->valuestring);
            cJSON_Delete(body);
            return text_resp(404, err);
        }
    } else {
        char norm[LANG_MAX];
        kernel_normalize_language(lang ? lang->valuestring : NULL, norm, sizeof norm);
        ctx = ctx_default(st, req->sandbox, norm, err, sizeof err);
        if (!ctx) {
            cJSON_Delete(body);
            return text_resp(500, err[0] ? err : "cannot create the context");
        }
    }

    ci_job *j = calloc(1, sizeof *j);
    if (!j) {
        ctx_unref(st, ctx);
        cJSON_Delete(body);
        return NULL;
    }
    j->st = st;
    j->ctx = ctx;
    j->sbx = store_ref(req->sandbox);
    j->code = strdup(code->valuestring);
    j->env = env ? cJSON_Duplicate(env, 1) : NULL;
    j->script = script_match(st, code->valuestring, ctx->lang);
    atomic_init(&j->cancel, 0);
    cJSON_Delete(body);
    if (!j->code) {
        job_free(j);
        return NULL;
    }
    /* the real server sets no Content-Type on the stream */
    mock_response *resp = mock_resp_stream(200, NULL, &j->stream);
    if (!resp) {
        job_free(j);
        return NULL;
    }
    mock_stream_on_cancel(j->stream, job_on_cancel, j);
    pthread_mutex_lock(&st->lock);
    st->active++;
    pthread_mutex_unlock(&st->lock);
    int rc = job_dispatch(st, j);
    if (rc != 0) {
        const char *line = "{\"type\":\"error\",\"name\":\"ExecutionAborted\",\"value\":"
                           "\"Execution was aborted\",\"traceback\":\"\"}\n"
                           "{\"type\":\"end_of_execution\"}\n";
        mock_stream_write(j->stream, line, strlen(line));
        mock_stream_close(j->stream);
        job_free(j);
        pthread_mutex_lock(&st->lock);
        if (--st->active == 0)
            pthread_cond_broadcast(&st->idle);
        pthread_mutex_unlock(&st->lock);
    }
    return resp;
}

/* ------------------------------------------------------------------ /contexts, /health */

static mock_response *h_health(mock_request *req)
{
    (void)req;
    return mock_resp_json_str(200, "\"OK\"");
}

/* absolute, and no ".." component */
static int cwd_ok(const char *p)
{
    if (p[0] != '/')
        return 0;
    for (const char *s = p; *s;) {
        while (*s == '/')
            s++;
        const char *e = s;
        while (*e && *e != '/')
            e++;
        if (e - s == 2 && s[0] == '.' && s[1] == '.')
            return 0;
        s = e;
    }
    return 1;
}

static mock_response *h_contexts_create(mock_request *req)
{
    ci_state *st = state_of(req->server);
    cJSON *body = req->body && req->body_len ? mock_req_json(req) : cJSON_CreateObject();
    if (!cJSON_IsObject(body)) {
        cJSON_Delete(body);
        return unprocessable(NULL, "the body must be a JSON object");
    }
    const cJSON *lang = opt_item(body, "language");
    const cJSON *cwd = opt_item(body, "cwd");
    if ((lang && !cJSON_IsString(lang)) || (cwd && !cJSON_IsString(cwd))) {
        cJSON_Delete(body);
        return unprocessable(lang && !cJSON_IsString(lang) ? "language" : "cwd",
                             "Input should be a valid string");
    }
    char norm[LANG_MAX], err[512] = "";
    kernel_normalize_language(lang ? lang->valuestring : NULL, norm, sizeof norm);
    const char *dir = cwd && cwd->valuestring[0] ? cwd->valuestring : SBXRT_HOME;
    if (!cwd_ok(dir)) {
        snprintf(err, sizeof err, "cwd must be an absolute path without '..': %s", dir);
        cJSON_Delete(body);
        return text_resp(500, err);
    }
    pthread_mutex_lock(&st->lock);
    ci_sbx *s = sbx_touch(st, req->sandbox);
    ci_ctx *c = s ? ctx_create_locked(s, req->sandbox, norm, dir, 0, err, sizeof err) : NULL;
    cJSON *out = c ? ctx_json(c) : NULL;
    pthread_mutex_unlock(&st->lock);
    cJSON_Delete(body);
    if (!c)
        return text_resp(500, err[0] ? err : "cannot create the context");
    return mock_resp_json(200, out);
}

static mock_response *h_contexts_list(mock_request *req)
{
    ci_state *st = state_of(req->server);
    cJSON *arr = cJSON_CreateArray();
    if (!arr)
        return NULL;
    pthread_mutex_lock(&st->lock);
    ci_sbx *s = sbx_touch(st, req->sandbox);
    for (ci_ctx *c = s ? s->ctxs : NULL; c; c = c->next)
        cJSON_AddItemToArray(arr, ctx_json(c));
    pthread_mutex_unlock(&st->lock);
    return mock_resp_json(200, arr);
}

static mock_response *not_found(const char *id)
{
    char msg[256];
    snprintf(msg, sizeof msg, "Context %s not found", id);
    return text_resp(404, msg);
}

static mock_response *h_contexts_restart(mock_request *req)
{
    ci_state *st = state_of(req->server);
    const char *id = mock_req_param(req, "id");
    ci_ctx *c = ctx_get(st, req->sandbox, id);
    if (!c)
        return not_found(id);
    char err[512];
    int rc = kernel_restart(c->k, err, sizeof err);
    ctx_unref(st, c);
    if (rc != 0) {
        char msg[256];
        snprintf(msg, sizeof msg, "Failed to restart context %s", id);
        mock_log(MOCK_LOG_WARN, "code interpreter: restart of %s failed: %s", id, err);
        return text_resp(500, msg);
    }
    return mock_resp_json_str(200, "null");
}

static mock_response *h_contexts_delete(mock_request *req)
{
    ci_state *st = state_of(req->server);
    const char *id = mock_req_param(req, "id");
    pthread_mutex_lock(&st->lock);
    sbx_touch(st, req->sandbox);
    pthread_mutex_unlock(&st->lock);
    ci_ctx *c = ctx_unlink(st, req->sandbox->id, id);
    if (!c)
        return not_found(id);
    ctx_remove(st, c);
    return mock_resp_json_str(200, "null");
}

size_t execute_context_count(mock_server *srv, const char *sandbox_id)
{
    ci_state *st = state_of(srv);
    size_t n = 0;
    if (!st)
        return 0;
    pthread_mutex_lock(&st->lock);
    ci_sbx *s = sbx_find(st, sandbox_id);
    for (ci_ctx *c = s ? s->ctxs : NULL; c; c = c->next)
        n++;
    pthread_mutex_unlock(&st->lock);
    return n;
}

/* ------------------------------------------------------------------ module */

static void state_free(void *p)
{
    ci_state *st = p;
    /* sandboxes are gone (destroy hooks ran) and MHD stopped: wait for producers to finish */
    pthread_mutex_lock(&st->lock);
    while (st->active > 0)
        pthread_cond_wait(&st->idle, &st->lock);
    st->stopping = 1;
    pthread_cond_broadcast(&st->work);
    while (st->workers > 0)
        pthread_cond_wait(&st->idle, &st->lock);
    ci_sbx *s = st->sbxs;
    st->sbxs = NULL;
    pthread_mutex_unlock(&st->lock);
    while (s) {
        ci_sbx *next = s->next;
        ci_ctx *c = s->ctxs;
        while (c) {
            ci_ctx *cn = c->next;
            ctx_remove(st, c);
            c = cn;
        }
        free(s);
        s = next;
    }
    for (size_t i = 0; i < st->nscripts; i++)
        script_clear(&st->scripts[i]);
    free(st->scripts);
    pthread_cond_destroy(&st->idle);
    pthread_cond_destroy(&st->work);
    pthread_mutex_destroy(&st->lock);
    free(st);
}

static int ci_init(mock_server *s)
{
    ci_state *st = calloc(1, sizeof *st);
    if (!st)
        return -1;
    pthread_mutex_init(&st->lock, NULL);
    pthread_cond_init(&st->idle, NULL);
    pthread_cond_init(&st->work, NULL);
    st->srv = s;
    if (mock_server_set_data(s, CI_KEY, st, state_free) != 0) {
        state_free(st);
        return -1;
    }
    int P = MOCK_PORT_CODE;
    if (mock_route_add(s, P, "GET", "/health", h_health, 0) ||
        mock_route_add(s, P, "POST", "/execute", h_execute, MOCK_ROUTE_ACCESS_TOKEN) ||
        mock_route_add(s, P, "POST", "/contexts", h_contexts_create, 0) ||
        mock_route_add(s, P, "GET", "/contexts", h_contexts_list, 0) ||
        mock_route_add(s, P, "POST", "/contexts/{id}/restart", h_contexts_restart, 0) ||
        mock_route_add(s, P, "DELETE", "/contexts/{id}", h_contexts_delete, 0))
        return -1;
    if (store_on_destroy(mock_server_store(s), on_sandbox_destroy, st) != 0 ||
        store_on_pause(mock_server_store(s), on_sandbox_pause, st) != 0 ||
        store_on_resume(mock_server_store(s), on_sandbox_resume, st) != 0)
        return -1;
    const char *dir = getenv("E2B_MOCK_EXECUTE_SCRIPTS");
    if (dir && dir[0]) {
        char err[512];
        int n = execute_load_scripts(s, dir, err, sizeof err);
        if (n < 0) {
            mock_log(MOCK_LOG_ERROR, "code interpreter: execute scripts: %s", err);
            return -1;
        }
        mock_log(MOCK_LOG_INFO, "code interpreter: %d scripted answer(s) from %s", n, dir);
    }
    if (!sbxrt_bwrap_available())
        mock_log(MOCK_LOG_WARN, "code interpreter: bubblewrap unavailable; code execution %s",
                 sbxrt_unisolated_allowed() ? "runs UNISOLATED (--unisolated)"
                                            : "is refused (see --unisolated)");
    else if (!strcmp(sbxrt_process_limit_kind(), "none"))
        mock_log(MOCK_LOG_WARN,
                 "code interpreter: NO PROCESS LIMIT for sandboxes: no writable v1 pids cgroup, "
                 "and RLIMIT_NPROC cannot stand in (%s); a fork bomb in a sandbox reaches this "
                 "host's process table (mockserver/ISOLATION.md)",
                 geteuid() == 0 ? "the kernel exempts root" : "it needs Linux >= 5.14");
    return 0;
}

MOCK_MODULE(code_interpreter, ci_init, NULL)
