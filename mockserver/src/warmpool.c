/* warmpool.c - see warmpool.h. */
#include "warmpool.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "sandboxrt.h"
#include "util.h"

#define WP_KEY "warm_pool"
#define WP_MAX 64

struct warmpool_entry {
    char *dir;
    kernel *k;
    struct warmpool_entry *next;
};

typedef struct parked {
    char id[MOCK_SANDBOX_ID_LEN + 1];
    kernel *k;
    struct parked *next;
} parked;

typedef struct wp_state {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    pthread_t thread;
    int thread_started;
    int stopping;
    unsigned size;
    char *root;
    warmpool_entry *ready; /* LIFO of started entries */
    unsigned available;
    unsigned long served, misses;
    parked *parked;
} wp_state;

static wp_state *state_of(mock_server *s)
{
    return mock_server_get_data(s, WP_KEY);
}

static void entry_free(warmpool_entry *e)
{
    if (!e)
        return;
    kernel_free(e->k);
    if (e->dir)
        mock_rm_rf(e->dir);
    free(e->dir);
    free(e);
}

/* Starts one entry (no lock held). NULL on failure (logged). */
static warmpool_entry *entry_start(const char *root)
{
    warmpool_entry *e = calloc(1, sizeof *e);
    char hex[17];
    if (!e || mock_random_hex(hex, 8) != 0 || asprintf(&e->dir, "%s/warm-%s", root, hex) < 0) {
        if (e)
            e->dir = NULL;
        free(e);
        return NULL;
    }
    if (mkdir(e->dir, 0755) != 0) {
        mock_log(MOCK_LOG_WARN, "warm pool: cannot create %s: %s", e->dir, strerror(errno));
        free(e->dir);
        free(e);
        return NULL;
    }
    kernel_opts ko = {KERNEL_PYTHON, e->dir, SBXRT_HOME, NULL, 0};
    char err[512];
    e->k = kernel_new(&ko, err, sizeof err);
    if (!e->k) {
        mock_log(MOCK_LOG_WARN, "warm pool: cannot start a python kernel: %s", err);
        entry_free(e);
        return NULL;
    }
    return e;
}

static void *refill_main(void *arg)
{
    wp_state *st = arg;
    pthread_mutex_lock(&st->lock);
    while (!st->stopping) {
        if (st->available >= st->size) {
            pthread_cond_wait(&st->cond, &st->lock);
            continue;
        }
        pthread_mutex_unlock(&st->lock);
        warmpool_entry *e = entry_start(st->root);
        pthread_mutex_lock(&st->lock);
        if (!e) { /* back off 1 s (or until stopped) instead of spinning on a broken start */
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            ts.tv_sec += 1;
            if (!st->stopping)
                pthread_cond_timedwait(&st->cond, &st->lock, &ts);
            continue;
        }
        e->next = st->ready;
        st->ready = e;
        st->available++;
    }
    pthread_mutex_unlock(&st->lock);
    return NULL;
}

warmpool_entry *warmpool_take(mock_server *s, int allow_net)
{
    wp_state *st = state_of(s);
    if (!st || st->size == 0)
        return NULL;
    pthread_mutex_lock(&st->lock);
    warmpool_entry *e = allow_net ? NULL : st->ready;
    if (e) {
        st->ready = e->next;
        e->next = NULL;
        st->available--;
        pthread_cond_broadcast(&st->cond); /* refill */
    } else {
        st->misses++;
    }
    pthread_mutex_unlock(&st->lock);
    return e;
}

const char *warmpool_entry_dir(const warmpool_entry *e)
{
    return e ? e->dir : NULL;
}

void warmpool_attach(mock_server *s, warmpool_entry *e, mock_sandbox *sbx)
{
    wp_state *st = state_of(s);
    if (!e)
        return;
    if (!sbx || !st) { /* the create failed: the dir may or may not have been renamed */
        entry_free(e);
        return;
    }
    free(e->dir); /* now sbx->dir, owned by the store */
    e->dir = NULL;
    char err[256];
    parked *p = calloc(1, sizeof *p);
    if (!p || kernel_adopt(e->k, sbx->dir, sbx->env_vars, err, sizeof err) != 0) {
        /* the sandbox falls back to a lazily started kernel */
        mock_log(MOCK_LOG_WARN, "warm pool: cannot adopt a kernel for %s", sbx->id);
        free(p);
        entry_free(e);
        pthread_mutex_lock(&st->lock);
        st->misses++;
        pthread_mutex_unlock(&st->lock);
        return;
    }
    snprintf(p->id, sizeof p->id, "%s", sbx->id);
    p->k = e->k;
    free(e);
    pthread_mutex_lock(&st->lock);
    p->next = st->parked;
    st->parked = p;
    st->served++;
    pthread_mutex_unlock(&st->lock);
}

static parked *unpark(wp_state *st, const char *id)
{
    pthread_mutex_lock(&st->lock);
    parked *p = NULL;
    for (parked **pp = &st->parked; *pp; pp = &(*pp)->next)
        if (!strcmp((*pp)->id, id)) {
            p = *pp;
            *pp = p->next;
            break;
        }
    pthread_mutex_unlock(&st->lock);
    return p;
}

kernel *warmpool_claim(mock_server *s, const char *sandbox_id)
{
    wp_state *st = s ? state_of(s) : NULL;
    if (!st || !sandbox_id)
        return NULL;
    parked *p = unpark(st, sandbox_id);
    if (!p)
        return NULL;
    kernel *k = p->k;
    free(p);
    return k;
}

/* ------------------------------------------------------------------ hooks, admin, module */

static void on_destroy(mock_sandbox *sbx, void *ud)
{
    parked *p = unpark(ud, sbx->id);
    if (p) {
        kernel_free(p->k);
        free(p);
    }
}

static void freeze_parked(wp_state *st, mock_sandbox *sbx, int frozen)
{
    pthread_mutex_lock(&st->lock);
    for (parked *p = st->parked; p; p = p->next)
        if (!strcmp(p->id, sbx->id))
            kernel_freeze(p->k, frozen);
    pthread_mutex_unlock(&st->lock);
}
static void on_pause(mock_sandbox *sbx, void *ud)
{
    freeze_parked(ud, sbx, 1);
}
static void on_resume(mock_sandbox *sbx, void *ud)
{
    freeze_parked(ud, sbx, 0);
}

static mock_response *h_warm_pool(mock_request *req)
{
    wp_state *st = state_of(req->server);
    cJSON *o = cJSON_CreateObject();
    if (!o || !st) {
        cJSON_Delete(o);
        return NULL;
    }
    pthread_mutex_lock(&st->lock);
    cJSON_AddNumberToObject(o, "size", st->size);
    cJSON_AddNumberToObject(o, "available", st->available);
    cJSON_AddNumberToObject(o, "served", (double)st->served);
    cJSON_AddNumberToObject(o, "misses", (double)st->misses);
    pthread_mutex_unlock(&st->lock);
    return mock_resp_json(200, o);
}

static void wp_join(wp_state *st)
{
    pthread_mutex_lock(&st->lock);
    st->stopping = 1;
    pthread_cond_broadcast(&st->cond);
    pthread_mutex_unlock(&st->lock);
    if (st->thread_started)
        pthread_join(st->thread, NULL);
    st->thread_started = 0;
}

static void state_free(void *p)
{
    wp_state *st = p;
    wp_join(st);
    warmpool_entry *e = st->ready;
    while (e) {
        warmpool_entry *n = e->next;
        entry_free(e);
        e = n;
    }
    parked *pk = st->parked; /* normally freed by destroy hooks already */
    while (pk) {
        parked *n = pk->next;
        kernel_free(pk->k);
        free(pk);
        pk = n;
    }
    pthread_cond_destroy(&st->cond);
    pthread_mutex_destroy(&st->lock);
    free(st->root);
    free(st);
}

static int wp_init(mock_server *s)
{
    wp_state *st = calloc(1, sizeof *st);
    if (!st)
        return -1;
    pthread_mutex_init(&st->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&st->cond, &ca);
    pthread_condattr_destroy(&ca);
    st->root = strdup(store_root(mock_server_store(s)));
    if (!st->root || mock_server_set_data(s, WP_KEY, st, state_free) != 0) {
        if (st->root)
            state_free(st);
        else
            free(st);
        return -1;
    }
    if (mock_route_add(s, MOCK_PORT_CONTROL, "GET", "/_mock/warm-pool", h_warm_pool,
                       MOCK_ROUTE_NO_AUTH) ||
        store_on_destroy(mock_server_store(s), on_destroy, st) ||
        store_on_pause(mock_server_store(s), on_pause, st) ||
        store_on_resume(mock_server_store(s), on_resume, st))
        return -1;
    const char *env = getenv("E2B_MOCK_WARM_POOL");
    if (env && *env) {
        char *end;
        long v = strtol(env, &end, 10);
        if (*end || v < 0 || v > WP_MAX) {
            mock_log(MOCK_LOG_ERROR, "warm pool: E2B_MOCK_WARM_POOL must be 0..%d: %s", WP_MAX,
                     env);
            return -1;
        }
        st->size = (unsigned)v;
    }
    if (st->size && !sbxrt_bwrap_available() && !sbxrt_unisolated_allowed()) {
        mock_log(MOCK_LOG_WARN, "warm pool: disabled (code execution is refused without bwrap)");
        st->size = 0;
    }
    if (st->size) {
        if (pthread_create(&st->thread, NULL, refill_main, st) != 0)
            return -1;
        st->thread_started = 1;
        mock_log(MOCK_LOG_INFO, "warm pool: %u pre-started python sandbox(es)", st->size);
    }
    return 0;
}

static void wp_stop(mock_server *s)
{
    wp_state *st = state_of(s);
    if (st)
        wp_join(st);
}

MOCK_MODULE(warmpool, wp_init, wp_stop)
