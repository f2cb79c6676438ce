/* store.c - see store.h. */
#include "store.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

#include "sbx_policy.h"
#include "util.h"

struct mock_sandbox_priv {
    atomic_int refs;
    pthread_mutex_t op_lock; /* serialises transitions + their hooks for one sandbox */
    /* guarded by the store lock: */
    mock_sbx_state state;
    int64_t end_at_ms;
    int auto_pause, auto_resume, allow_internet;
    /* owned storage behind the public const pointers */
    char *template_id, *alias, *dir;
    cJSON *env_vars, *metadata;
};

typedef struct hook {
    store_hook_fn fn;
    void *ud;
} hook;

typedef struct hook_list {
    hook *v;
    size_t n, cap;
} hook_list;

struct mock_store {
    pthread_mutex_t lock;
    pthread_cond_t reaper_cond;
    pthread_t reaper;
    int reaper_started;
    int stopping;
    char *root;
    mock_sandbox **sbx; /* live (not killed) sandboxes, creation order */
    size_t n, cap;
    hook_list on_destroy, on_pause, on_resume;
};

/* ------------------------------------------------------------------ refs */

static void sandbox_free(mock_sandbox *s)
{
    struct mock_sandbox_priv *p = s->priv;
    pthread_mutex_destroy(&p->op_lock);
    free(p->template_id);
    free(p->alias);
    free(p->dir);
    cJSON_Delete(p->env_vars);
    cJSON_Delete(p->metadata);
    free(p);
    free(s);
}

mock_sandbox *store_ref(mock_sandbox *sbx)
{
    if (sbx)
        atomic_fetch_add(&sbx->priv->refs, 1);
    return sbx;
}

void store_release(mock_sandbox *sbx)
{
    if (sbx && atomic_fetch_sub(&sbx->priv->refs, 1) == 1)
        sandbox_free(sbx);
}

/* ------------------------------------------------------------------ hooks */

static int hook_add(mock_store *st, hook_list *l, store_hook_fn fn, void *ud)
{
    int rc = 0;
    pthread_mutex_lock(&st->lock);
    for (size_t i = 0; i < l->n; i++)
        if (l->v[i].fn == fn && l->v[i].ud == ud)
            goto out;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 4;
        hook *v = realloc(l->v, cap * sizeof *v);
        if (!v) {
            rc = -1;
            goto out;
        }
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n].fn = fn;
    l->v[l->n].ud = ud;
    l->n++;
out:
    pthread_mutex_unlock(&st->lock);
    return rc;
}

int store_on_destroy(mock_store *st, store_hook_fn fn, void *ud)
{
    return hook_add(st, &st->on_destroy, fn, ud);
}
int store_on_pause(mock_store *st, store_hook_fn fn, void *ud)
{
    return hook_add(st, &st->on_pause, fn, ud);
}
int store_on_resume(mock_store *st, store_hook_fn fn, void *ud)
{
    return hook_add(st, &st->on_resume, fn, ud);
}

/* Runs hooks without the store lock. Hooks are only added during init, but copy anyway. */
static void hooks_run(mock_store *st, hook_list *l, mock_sandbox *s)
{
    pthread_mutex_lock(&st->lock);
    size_t n = l->n;
    hook copy[32];
    if (n > 32)
        n = 32;
    if (n)
        memcpy(copy, l->v, n * sizeof *copy);
    pthread_mutex_unlock(&st->lock);
    for (size_t i = 0; i < n; i++)
        copy[i].fn(s, copy[i].ud);
}

/* ------------------------------------------------------------------ store lifetime */

static void *reaper_main(void *arg);

mock_store *store_new(const char *root)
{
    return store_new_ex(root, 1);
}

mock_store *store_new_ex(const char *root, int start_reaper)
{
    mock_store *st = calloc(1, sizeof *st);
    if (!st)
        return NULL;
    st->root = strdup(root);
    pthread_mutex_init(&st->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&st->reaper_cond, &ca);
    pthread_condattr_destroy(&ca);
    if (!st->root) {
        store_free(st);
        return NULL;
    }
    if (start_reaper) {
        if (pthread_create(&st->reaper, NULL, reaper_main, st) != 0) {
            store_free(st);
            return NULL;
        }
        st->reaper_started = 1;
    }
    return st;
}

void store_free(mock_store *st)
{
    if (!st)
        return;
    store_kill_all(st);
    pthread_mutex_lock(&st->lock);
    st->stopping = 1;
    pthread_cond_broadcast(&st->reaper_cond);
    pthread_mutex_unlock(&st->lock);
    if (st->reaper_started)
        pthread_join(st->reaper, NULL);
    store_kill_all(st); /* anything the reaper raced in */
    free(st->sbx);
    free(st->on_destroy.v);
    free(st->on_pause.v);
    free(st->on_resume.v);
    pthread_cond_destroy(&st->reaper_cond);
    pthread_mutex_destroy(&st->lock);
    free(st->root);
    free(st);
}

const char *store_root(const mock_store *st)
{
    return st->root;
}

const char *store_state_name(mock_sbx_state s)
{
    switch (s) {
    case MOCK_SBX_RUNNING: return "running";
    case MOCK_SBX_PAUSED: return "paused";
    default: return "killed";
    }
}

/* ------------------------------------------------------------------ create / lookup */

static cJSON *copy_string_object(const cJSON *in)
{
    cJSON *out = cJSON_CreateObject();
    if (!out)
        return NULL;
    const cJSON *it;
    if (in && cJSON_IsObject(in)) {
        cJSON_ArrayForEach(it, in)
        {
            if (cJSON_IsString(it) && it->string)
                if (!cJSON_AddStringToObject(out, it->string, it->valuestring)) {
                    cJSON_Delete(out);
                    return NULL;
                }
        }
    }
    return out;
}

mock_sandbox *store_create(mock_store *st, const store_create_opts *o)
{
    if (!o || !o->template_id || o->timeout_ms <= 0) {
        errno = EINVAL;
        return NULL;
    }
    mock_sandbox *s = calloc(1, sizeof *s);
    struct mock_sandbox_priv *p = calloc(1, sizeof *p);
    if (!s || !p) {
        free(s);
        free(p);
        errno = ENOMEM;
        return NULL;
    }
    s->priv = p;
    atomic_init(&p->refs, 1);
    pthread_mutex_init(&p->op_lock, NULL);
    p->template_id = strdup(o->template_id);
    p->alias = strdup(o->alias ? o->alias : o->template_id);
    p->env_vars = copy_string_object(o->env_vars);
    p->metadata = copy_string_object(o->metadata);
    if (mock_random_alnum(s->id, MOCK_SANDBOX_ID_LEN) || mock_random_hex(s->access_token, 16) ||
        mock_random_hex(s->client_id, 4) || !p->template_id || !p->alias || !p->env_vars ||
        !p->metadata || asprintf(&p->dir, "%s/%s", st->root, s->id) < 0) {
        p->dir = NULL;
        sandbox_free(s);
        errno = ENOMEM;
        return NULL;
    }
    if (o->adopt_dir ? rename(o->adopt_dir, p->dir) != 0 : mkdir(p->dir, 0755) != 0) {
        int e = errno;
        mock_log(MOCK_LOG_ERROR, "cannot create sandbox dir %s: %s", p->dir, strerror(e));
        sandbox_free(s);
        errno = e;
        return NULL;
    }
    s->template_id = p->template_id;
    s->alias = p->alias;
    s->dir = p->dir;
    s->env_vars = p->env_vars;
    s->metadata = p->metadata;
    s->cpu_count = o->cpu_count > 0 ? o->cpu_count : 2;
    s->memory_mb = o->memory_mb > 0 ? o->memory_mb : 512;
    /* diskSizeMB reports what is enforced: the disk quota (--limit-disk-mb) when there is
     * one, else the template's nominal size */
    int64_t quota = sbxpol_disk_quota();
    s->disk_size_mb = quota > 0             ? (int)((quota + (1 << 20) - 1) >> 20)
                      : o->disk_size_mb > 0 ? o->disk_size_mb
                                            : 1024;
    p->state = MOCK_SBX_RUNNING;
    p->auto_pause = o->auto_pause;
    p->auto_resume = o->auto_resume;
    p->allow_internet = o->allow_internet_access;

    pthread_mutex_lock(&st->lock);
    if (st->n == st->cap) {
        size_t cap = st->cap ? st->cap * 2 : 16;
        mock_sandbox **v = realloc(st->sbx, cap * sizeof *v);
        if (!v) {
            pthread_mutex_unlock(&st->lock);
            mock_rm_rf(p->dir);
            sandbox_free(s);
            errno = ENOMEM;
            return NULL;
        }
        st->sbx = v;
        st->cap = cap;
    }
    s->started_at_ms = mock_now_ms();
    p->end_at_ms = s->started_at_ms + o->timeout_ms;
    st->sbx[st->n++] = s;
    store_ref(s); /* the caller's reference; the store keeps the first */
    pthread_cond_broadcast(&st->reaper_cond);
    pthread_mutex_unlock(&st->lock);
    return s;
}

/* Under st->lock. */
static ssize_t find_locked(mock_store *st, const char *id)
{
    if (!id)
        return -1;
    for (size_t i = 0; i < st->n; i++)
        if (strcmp(st->sbx[i]->id, id) == 0)
            return (ssize_t)i;
    return -1;
}

mock_sandbox *store_get(mock_store *st, const char *id)
{
    pthread_mutex_lock(&st->lock);
    ssize_t i = find_locked(st, id);
    mock_sandbox *s = i >= 0 ? store_ref(st->sbx[i]) : NULL;
    pthread_mutex_unlock(&st->lock);
    return s;
}

mock_sbx_state store_sandbox_state(mock_sandbox *sbx)
{
    return (mock_sbx_state)__atomic_load_n(&sbx->priv->state, __ATOMIC_ACQUIRE);
}

int64_t store_sandbox_end_at_ms(mock_sandbox *sbx)
{
    return __atomic_load_n(&sbx->priv->end_at_ms, __ATOMIC_ACQUIRE);
}
int store_sandbox_auto_pause(mock_sandbox *sbx)
{
    return sbx->priv->auto_pause;
}
int store_sandbox_auto_resume(mock_sandbox *sbx)
{
    return sbx->priv->auto_resume;
}
int store_sandbox_allow_internet(mock_sandbox *sbx)
{
    return sbx->priv->allow_internet;
}

static void set_state(mock_sandbox *s, mock_sbx_state v)
{
    __atomic_store_n(&s->priv->state, v, __ATOMIC_RELEASE);
}
static void set_end(mock_sandbox *s, int64_t v)
{
    __atomic_store_n(&s->priv->end_at_ms, v, __ATOMIC_RELEASE);
}

mock_sandbox **store_snapshot(mock_store *st, size_t *n)
{
    *n = 0;
    pthread_mutex_lock(&st->lock);
    mock_sandbox **v = st->n ? malloc(st->n * sizeof *v) : NULL;
    if (v) {
        for (size_t i = 0; i < st->n; i++)
            v[i] = store_ref(st->sbx[i]);
        *n = st->n;
    }
    pthread_mutex_unlock(&st->lock);
    return v;
}

size_t store_count(mock_store *st, mock_sbx_state state)
{
    size_t c = 0;
    pthread_mutex_lock(&st->lock);
    for (size_t i = 0; i < st->n; i++)
        c += store_sandbox_state(st->sbx[i]) == state;
    pthread_mutex_unlock(&st->lock);
    return c;
}

/* ------------------------------------------------------------------ transitions */

/* Kill an already referenced sandbox (caller holds op_lock). */
static store_result kill_locked_op(mock_store *st, mock_sandbox *s)
{
    pthread_mutex_lock(&st->lock);
    ssize_t i = find_locked(st, s->id);
    if (i < 0) {
        pthread_mutex_unlock(&st->lock);
        return STORE_NOT_FOUND;
    }
    memmove(&st->sbx[i], &st->sbx[i + 1], (st->n - (size_t)i - 1) * sizeof *st->sbx);
    st->n--;
    set_state(s, MOCK_SBX_KILLED);
    pthread_mutex_unlock(&st->lock);
    hooks_run(st, &st->on_destroy, s);
    if (mock_rm_rf(s->dir) != 0)
        mock_log(MOCK_LOG_WARN, "cannot remove %s: %s", s->dir, strerror(errno));
    store_release(s); /* the store's reference */
    return STORE_OK;
}

store_result store_kill(mock_store *st, const char *id)
{
    mock_sandbox *s = store_get(st, id);
    if (!s)
        return STORE_NOT_FOUND;
    pthread_mutex_lock(&s->priv->op_lock);
    store_result r = kill_locked_op(st, s);
    pthread_mutex_unlock(&s->priv->op_lock);
    store_release(s);
    return r;
}

static store_result pause_locked_op(mock_store *st, mock_sandbox *s)
{
    pthread_mutex_lock(&st->lock);
    mock_sbx_state cur = store_sandbox_state(s);
    if (cur == MOCK_SBX_KILLED || find_locked(st, s->id) < 0) {
        pthread_mutex_unlock(&st->lock);
        return STORE_NOT_FOUND;
    }
    if (cur == MOCK_SBX_PAUSED) {
        pthread_mutex_unlock(&st->lock);
        return STORE_CONFLICT;
    }
    set_state(s, MOCK_SBX_PAUSED);
    pthread_mutex_unlock(&st->lock);
    hooks_run(st, &st->on_pause, s);
    return STORE_OK;
}

store_result store_pause(mock_store *st, const char *id)
{
    mock_sandbox *s = store_get(st, id);
    if (!s)
        return STORE_NOT_FOUND;
    pthread_mutex_lock(&s->priv->op_lock);
    store_result r = pause_locked_op(st, s);
    pthread_mutex_unlock(&s->priv->op_lock);
    store_release(s);
    return r;
}

/* mode 0 = resume (conflict if running), 1 = connect, 2 = set timeout, 3 = refresh */
static store_result retime(mock_store *st, const char *id, int64_t ms, int mode, int *resumed)
{
    if (resumed)
        *resumed = 0;
    mock_sandbox *s = store_get(st, id);
    if (!s)
        return STORE_NOT_FOUND;
    store_result r = STORE_OK;
    int run_resume_hooks = 0;
    pthread_mutex_lock(&s->priv->op_lock);
    pthread_mutex_lock(&st->lock);
    mock_sbx_state cur = store_sandbox_state(s);
    int64_t now = mock_now_ms();
    if (cur == MOCK_SBX_KILLED || find_locked(st, s->id) < 0) {
        r = STORE_NOT_FOUND;
    } else if (cur == MOCK_SBX_PAUSED) {
        if (mode == 2 || mode == 3) {
            r = STORE_NOT_FOUND;
        } else {
            set_state(s, MOCK_SBX_RUNNING);
            set_end(s, now + ms);
            run_resume_hooks = 1;
            if (resumed)
                *resumed = 1;
        }
    } else { /* running */
        if (mode == 0) {
            r = STORE_CONFLICT;
        } else if (mode == 2) {
            set_end(s, now + ms);
        } else if (now + ms > store_sandbox_end_at_ms(s)) {
            set_end(s, now + ms);
        }
    }
    pthread_cond_broadcast(&st->reaper_cond);
    pthread_mutex_unlock(&st->lock);
    if (run_resume_hooks)
        hooks_run(st, &st->on_resume, s);
    pthread_mutex_unlock(&s->priv->op_lock);
    store_release(s);
    return r;
}

store_result store_resume(mock_store *st, const char *id, int64_t timeout_ms)
{
    return retime(st, id, timeout_ms, 0, NULL);
}

store_result store_connect(mock_store *st, const char *id, int64_t timeout_ms, int *resumed)
{
    return retime(st, id, timeout_ms, 1, resumed);
}

store_result store_set_timeout(mock_store *st, const char *id, int64_t timeout_ms)
{
    return retime(st, id, timeout_ms, 2, NULL);
}

store_result store_refresh(mock_store *st, const char *id, int64_t duration_ms)
{
    return retime(st, id, duration_ms, 3, NULL);
}

void store_kill_all(mock_store *st)
{
    for (;;) {
        pthread_mutex_lock(&st->lock);
        mock_sandbox *s = st->n ? store_ref(st->sbx[st->n - 1]) : NULL;
        pthread_mutex_unlock(&st->lock);
        if (!s)
            return;
        pthread_mutex_lock(&s->priv->op_lock);
        kill_locked_op(st, s);
        pthread_mutex_unlock(&s->priv->op_lock);
        store_release(s);
    }
}

/* ------------------------------------------------------------------ expiry */

int store_reap(mock_store *st)
{
    int changed = 0;
    size_t n;
    mock_sandbox **v = store_snapshot(st, &n);
    for (size_t i = 0; i < n; i++) {
        mock_sandbox *s = v[i];
        pthread_mutex_lock(&s->priv->op_lock);
        /* re-check under op_lock: a concurrent setTimeout/connect may have extended it */
        if (store_sandbox_state(s) == MOCK_SBX_RUNNING &&
            store_sandbox_end_at_ms(s) <= mock_now_ms()) {
            store_result r;
            if (s->priv->auto_pause) {
                r = pause_locked_op(st, s);
                mock_log(MOCK_LOG_DEBUG, "sandbox %s expired: paused", s->id);
            } else {
                r = kill_locked_op(st, s);
                mock_log(MOCK_LOG_DEBUG, "sandbox %s expired: killed", s->id);
            }
            changed += r == STORE_OK;
        }
        pthread_mutex_unlock(&s->priv->op_lock);
        store_release(s);
    }
    free(v);
    return changed;
}

void store_kick(mock_store *st)
{
    pthread_mutex_lock(&st->lock);
    pthread_cond_broadcast(&st->reaper_cond);
    pthread_mutex_unlock(&st->lock);
}

/* Sleeps until the next expiry, at most 200 ms (the mock clock can jump), or a kick. */
static void *reaper_main(void *arg)
{
    mock_store *st = arg;
    pthread_mutex_lock(&st->lock);
    while (!st->stopping) {
        int64_t now = mock_now_ms(), wait_ms = 200;
        for (size_t i = 0; i < st->n; i++) {
            if (store_sandbox_state(st->sbx[i]) != MOCK_SBX_RUNNING)
                continue;
            int64_t d = store_sandbox_end_at_ms(st->sbx[i]) - now;
            if (d < wait_ms)
                wait_ms = d < 0 ? 0 : d;
        }
        if (wait_ms > 0) {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            ts.tv_sec += wait_ms / 1000;
            ts.tv_nsec += (wait_ms % 1000) * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&st->reaper_cond, &st->lock, &ts);
            continue; /* recompute: a kick may have changed things */
        }
        pthread_mutex_unlock(&st->lock);
        store_reap(st);
        pthread_mutex_lock(&st->lock);
    }
    pthread_mutex_unlock(&st->lock);
    return NULL;
}
