/* agent_service.c - the agent layer's E2B service: tracked sandboxes, the current (default)
 * sandbox, limit, idle sweep (on demand and in a background thread), health, files and
 * the status provider. Contracts in e2b/agent_service.h. */
#include "agent_service_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "e2b/files.h"
#include "strbuf.h"

int64_t agent_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void copy_str(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src ? src : "");
}

void e2b_agent_service_opts_init(e2b_agent_service_opts *opts)
{
    if (opts)
        memset(opts, 0, sizeof *opts);
}

static void sbx_free(agent_sbx *sb)
{
    if (!sb)
        return;
    for (int i = 0; i < AGENT_NLANGS; i++)
        e2b_context_free(sb->ctx[i]);
    e2b_sandbox_free(sb->h);
    free(sb);
}

/* Removes sb from the table (lock held). */
static void table_remove(e2b_agent_service *svc, agent_sbx *sb)
{
    for (size_t i = 0; i < svc->n; i++) {
        if (svc->sbx[i] == sb) {
            memmove(&svc->sbx[i], &svc->sbx[i + 1], (svc->n - i - 1) * sizeof *svc->sbx);
            svc->n--;
            break;
        }
    }
    if (svc->current == sb) {
        /* code moves on to the most recently active remaining sandbox of the service's
         * (code interpreter) template, if any; else the next message creates one */
        svc->current = NULL;
        for (size_t i = 0; i < svc->n; i++) {
            agent_sbx *c = svc->sbx[i];
            if (!strcmp(c->tpl, svc->template_id) &&
                (!svc->current || c->last_ms >= svc->current->last_ms))
                svc->current = c;
        }
    }
}

static agent_sbx *table_find(e2b_agent_service *svc, const char *id)
{
    for (size_t i = 0; i < svc->n; i++)
        if (!strcmp(svc->sbx[i]->id, id))
            return svc->sbx[i];
    return NULL;
}

/* ---- background sweeper ------------------------------------------------------------ */

static void *sweeper_main(void *arg)
{
    e2b_agent_service *svc = arg;
    pthread_mutex_lock(&svc->lock);
    while (!svc->stopping) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += svc->sweep_interval_s;
        while (!svc->stopping) {
            int rc = pthread_cond_timedwait(&svc->cv, &svc->lock, &until);
            if (rc == ETIMEDOUT)
                break;
        }
        if (svc->stopping)
            break;
        pthread_mutex_unlock(&svc->lock);
        e2b_agent_service_sweep(svc, -1, NULL, NULL);
        pthread_mutex_lock(&svc->lock);
    }
    pthread_mutex_unlock(&svc->lock);
    return NULL;
}

/* ---- create / free ------------------------------------------------------------------- */

e2b_code e2b_agent_service_new(e2b_client *client, const e2b_agent_service_opts *opts,
                               e2b_agent_service **out, e2b_error *err)
{
    if (out)
        *out = NULL;
    if (!client || !out)
        return e2b_error_set(err, E2B_ERR_INVALID_ARGUMENT, 0,
                             "e2b_agent_service_new: client and out are required");
    e2b_agent_service_opts o;
    e2b_agent_service_opts_init(&o);
    if (opts)
        o = *opts;
    if (o.sandbox_timeout_s < 0 || o.idle_timeout_s < 0 || o.sweep_interval_s < 0 ||
        o.exec_timeout_ms < 0)
        return e2b_error_set(err, E2B_ERR_INVALID_ARGUMENT, 0,
                             "agent service: timeouts and intervals must not be negative");
    if (o.sweep_interval_s > 0 && o.idle_timeout_s == 0)
        return e2b_error_set(err, E2B_ERR_INVALID_ARGUMENT, 0,
                             "agent service: sweep_interval_s needs idle_timeout_s > 0");
    if (o.mode && strcmp(o.mode, "local") != 0 && strcmp(o.mode, "cloud") != 0)
        return e2b_error_set(err, E2B_ERR_INVALID_ARGUMENT, 0,
                             "agent service: mode must be \"local\" or \"cloud\", not \"%s\"",
                             o.mode);
    if (o.template_id && strlen(o.template_id) >= E2B_AGENT_TEMPLATE_MAX)
        return e2b_error_set(err, E2B_ERR_INVALID_ARGUMENT, 0,
                             "agent service: template name too long");
    e2b_agent_service *svc = calloc(1, sizeof *svc);
    if (!svc)
        return e2b_error_set(err, E2B_ERR_NO_MEMORY, 0, "out of memory");
    svc->client = client;
    svc->template_id = strdup(o.template_id ? o.template_id : E2B_AGENT_DEFAULT_TEMPLATE);
    svc->output_dir = strdup(o.output_dir ? o.output_dir : E2B_AGENT_DEFAULT_OUTPUT_DIR);
    svc->mode = strdup(o.mode ? o.mode : "cloud");
    svc->sandbox_timeout_s = o.sandbox_timeout_s ? o.sandbox_timeout_s
                                                 : E2B_AGENT_DEFAULT_TIMEOUT_S;
    svc->max_sandboxes = o.max_sandboxes ? o.max_sandboxes : E2B_AGENT_DEFAULT_MAX_SANDBOXES;
    svc->max_stream_bytes = o.max_stream_bytes ? o.max_stream_bytes : 16384;
    svc->idle_timeout_s = o.idle_timeout_s;
    svc->sweep_interval_s = o.sweep_interval_s;
    svc->exec_timeout_ms = o.exec_timeout_ms ? o.exec_timeout_ms : E2B_DEFAULT_EXECUTION_TIMEOUT_MS;
    svc->keep_sandboxes = o.keep_sandboxes;
    if (!svc->template_id || !svc->output_dir || !svc->mode) {
        free(svc->template_id);
        free(svc->output_dir);
        free(svc->mode);
        free(svc);
        return e2b_error_set(err, E2B_ERR_NO_MEMORY, 0, "out of memory");
    }
    pthread_mutex_init(&svc->lock, NULL);
    pthread_mutex_init(&svc->msg_lock, NULL);
    pthread_cond_init(&svc->cv, NULL);
    if (svc->sweep_interval_s > 0) {
        int rc = pthread_create(&svc->sweeper, NULL, sweeper_main, svc);
        if (rc != 0) {
            e2b_agent_service_free(svc);
            return e2b_error_set(err, E2B_ERR_IO, 0, "agent service: sweeper thread: %s",
                                 strerror(rc));
        }
        svc->sweeper_on = true;
    }
    *out = svc;
    return E2B_OK;
}

void e2b_agent_service_free(e2b_agent_service *svc)
{
    if (!svc)
        return;
    if (svc->sweeper_on) {
        pthread_mutex_lock(&svc->lock);
        svc->stopping = true;
        pthread_cond_broadcast(&svc->cv);
        pthread_mutex_unlock(&svc->lock);
        pthread_join(svc->sweeper, NULL);
    }
    for (size_t i = 0; i < svc->n; i++) {
        if (!svc->keep_sandboxes)
            e2b_sandbox_kill(svc->client, svc->sbx[i]->id, NULL, NULL);
        sbx_free(svc->sbx[i]);
    }
    free(svc->sbx);
    pthread_cond_destroy(&svc->cv);
    pthread_mutex_destroy(&svc->msg_lock);
    pthread_mutex_destroy(&svc->lock);
    free(svc->template_id);
    free(svc->output_dir);
    free(svc->mode);
    free(svc);
}

/* ---- tracked sandboxes ----------------------------------------------------------------- */

static void snapshot(const e2b_agent_service *svc, const agent_sbx *sb,
                     e2b_agent_sandbox_status *st)
{
    memset(st, 0, sizeof *st);
    copy_str(st->sandbox_id, sizeof st->sandbox_id, sb->id);
    copy_str(st->template_id, sizeof st->template_id, sb->tpl);
    st->current = svc->current == sb;
    st->busy = sb->busy > 0;
    st->timeout_s = sb->timeout_s;
    st->created_ms = sb->created_ms;
    st->last_activity_ms = sb->last_ms;
    memcpy(st->metadata, sb->md, sizeof st->metadata);
    st->metadata_len = sb->md_len;
}

e2b_code e2b_agent_service_list(e2b_agent_service *svc, e2b_agent_sandbox_status **out, size_t *n,
                                e2b_error *err)
{
    if (out)
        *out = NULL;
    if (n)
        *n = 0;
    if (!svc || !out || !n)
        return e2b_error_set(err, E2B_ERR_INVALID_ARGUMENT, 0,
                             "e2b_agent_service_list: svc, out and n are required");
    pthread_mutex_lock(&svc->lock);
    e2b_agent_sandbox_status *arr = NULL;
    if (svc->n) {
        arr = calloc(svc->n, sizeof *arr);
        if (!arr) {
            pthread_mutex_unlock(&svc->lock);
            return e2b_error_set(err, E2B_ERR_NO_MEMORY, 0, "out of memory");
        }
        for (size_t i = 0; i < svc->n; i++)
            snapshot(svc, svc->sbx[i], &arr[i]);
    }
    *n = svc->n;
    pthread_mutex_unlock(&svc->lock);
    *out = arr;
    return E2B_OK;
}

e2b_code agent_svc_infos(e2b_agent_service *svc, e2b_agent_sandbox_info **out, size_t *n,
                         e2b_agent_sandbox_status **store, e2b_kv **kvstore, e2b_error *err)
{
    *out = NULL;
    *store = NULL;
    *kvstore = NULL;
    e2b_code rc = e2b_agent_service_list(svc, store, n, err);
    if (rc != E2B_OK || *n == 0)
        return rc;
    *out = calloc(*n, sizeof **out);
    *kvstore = calloc(*n * E2B_AGENT_META_MAX, sizeof **kvstore);
    if (!*out || !*kvstore) {
        free(*out);
        free(*kvstore);
        free(*store);
        *out = NULL;
        *kvstore = NULL;
        *store = NULL;
        *n = 0;
        return e2b_error_set(err, E2B_ERR_NO_MEMORY, 0, "out of memory");
    }
    for (size_t i = 0; i < *n; i++) {
        e2b_agent_sandbox_status *st = &(*store)[i];
        e2b_kv *kv = &(*kvstore)[i * E2B_AGENT_META_MAX];
        for (size_t k = 0; k < st->metadata_len; k++) {
            kv[k].key = st->metadata[k].key;
            kv[k].value = st->metadata[k].value;
        }
        (*out)[i] = (e2b_agent_sandbox_info){
            .sandbox_id = st->sandbox_id,
            .template_id = st->template_id[0] ? st->template_id : NULL,
            .active = true,
            .started_at_ms = st->created_ms,
            .last_activity_ms = st->last_activity_ms,
            .metadata = kv,
            .metadata_len = st->metadata_len,
        };
    }
    return E2B_OK;
}

e2b_code e2b_agent_service_create(e2b_agent_service *svc, const e2b_agent_create_req *req,
                                  char id_out[E2B_AGENT_ID_MAX], e2b_error *err)
{
    if (id_out)
        id_out[0] = '\0';
    if (!svc)
        return e2b_error_set(err, E2B_ERR_INVALID_ARGUMENT, 0,
                             "e2b_agent_service_create: svc is required");
    e2b_agent_create_req r = {.make_current = true};
    if (req)
        r = *req;
    if (r.timeout_s < 0)
        return e2b_error_set(err, E2B_ERR_INVALID_ARGUMENT, 0, "timeout must not be negative");
    if (r.metadata_len > E2B_AGENT_META_MAX || (r.metadata_len && !r.metadata))
        return e2b_error_set(err, E2B_ERR_INVALID_ARGUMENT, 0, "at most %u metadata pairs",
                             (unsigned)E2B_AGENT_META_MAX);
    const char *tpl = r.template_id && r.template_id[0] ? r.template_id : svc->template_id;
    if (strlen(tpl) >= E2B_AGENT_TEMPLATE_MAX)
        return e2b_error_set(err, E2B_ERR_INVALID_ARGUMENT, 0, "template name too long");
    for (size_t i = 0; i < r.metadata_len; i++)
        if (!r.metadata[i].key || !r.metadata[i].value ||
            strlen(r.metadata[i].key) >= E2B_AGENT_META_KEY_MAX ||
            strlen(r.metadata[i].value) >= E2B_AGENT_META_VALUE_MAX)
            return e2b_error_set(err, E2B_ERR_INVALID_ARGUMENT, 0,
                                 "metadata pair %zu is missing or too long", i + 1);

    pthread_mutex_lock(&svc->lock);
    if (svc->n + svc->pending >= svc->max_sandboxes) {
        size_t n = svc->n;
        pthread_mutex_unlock(&svc->lock);
        return e2b_error_set(err, E2B_ERR_SERVICE_BUSY, 0,
                             "the maximum of %zu active sandboxes is reached (%zu tracked); "
                             "kill one first",
                             svc->max_sandboxes, n);
    }
    svc->pending++;
    pthread_mutex_unlock(&svc->lock);

    agent_sbx *sb = calloc(1, sizeof *sb);
    e2b_code rc = E2B_OK;
    if (!sb) {
        rc = e2b_error_set(err, E2B_ERR_NO_MEMORY, 0, "out of memory");
    } else {
        e2b_create_opts co;
        e2b_create_opts_init(&co);
        co.template_id = tpl;
        co.timeout_s = r.timeout_s ? r.timeout_s : svc->sandbox_timeout_s;
        co.metadata = r.metadata;
        co.metadata_len = r.metadata_len;
        rc = e2b_sandbox_create(svc->client, &co, &sb->h, err);
        if (rc == E2B_OK) {
            copy_str(sb->id, sizeof sb->id, e2b_sandbox_id(sb->h));
            copy_str(sb->tpl, sizeof sb->tpl, tpl);
            sb->timeout_s = co.timeout_s;
            sb->created_ms = sb->last_ms = agent_now_ms();
            for (size_t i = 0; i < r.metadata_len; i++) {
                copy_str(sb->md[i].key, sizeof sb->md[i].key, r.metadata[i].key);
                copy_str(sb->md[i].value, sizeof sb->md[i].value, r.metadata[i].value);
            }
            sb->md_len = r.metadata_len;
        }
    }

    pthread_mutex_lock(&svc->lock);
    svc->pending--;
    if (rc == E2B_OK && svc->n == svc->cap) {
        size_t cap = svc->cap ? svc->cap * 2 : 8;
        agent_sbx **nt = realloc(svc->sbx, cap * sizeof *nt);
        if (!nt) {
            rc = e2b_error_set(err, E2B_ERR_NO_MEMORY, 0, "out of memory");
        } else {
            svc->sbx = nt;
            svc->cap = cap;
        }
    }
    if (rc == E2B_OK) {
        sb->seq = ++svc->seq;
        svc->sbx[svc->n++] = sb;
        if (r.make_current)
            svc->current = sb;
        if (id_out)
            copy_str(id_out, E2B_AGENT_ID_MAX, sb->id);
    }
    pthread_mutex_unlock(&svc->lock);
    if (rc != E2B_OK && sb) {
        if (sb->h) /* created but could not be tracked: do not leak it on the server */
            e2b_sandbox_kill(svc->client, e2b_sandbox_id(sb->h), NULL, NULL);
        sbx_free(sb);
    }
    return rc;
}

e2b_code agent_svc_acquire_current(e2b_agent_service *svc, agent_sbx **out, bool *created,
                                   e2b_error *err)
{
    *out = NULL;
    if (created)
        *created = false;
    for (int attempt = 0; attempt < 2; attempt++) {
        pthread_mutex_lock(&svc->lock);
        if (svc->current) {
            svc->current->busy++;
            *out = svc->current;
            pthread_mutex_unlock(&svc->lock);
            return E2B_OK;
        }
        pthread_mutex_unlock(&svc->lock);
        if (attempt == 1)
            break;
        e2b_kv md[] = {{"createdBy", "e2b-agent"}, {"purpose", "code-execution"}};
        e2b_agent_create_req r = {.metadata = md, .metadata_len = 2, .make_current = true};
        e2b_code rc = e2b_agent_service_create(svc, &r, NULL, err);
        if (rc != E2B_OK)
            return rc;
        if (created)
            *created = true;
    }
    /* killed by another thread between creation and use */
    return e2b_error_set(err, E2B_ERR_SANDBOX_GONE, 0,
                         "the new sandbox was killed before it could be used");
}

e2b_code e2b_agent_service_default(e2b_agent_service *svc, char id_out[E2B_AGENT_ID_MAX],
                                   e2b_error *err)
{
    if (id_out)
        id_out[0] = '\0';
    if (!svc)
        return e2b_error_set(err, E2B_ERR_INVALID_ARGUMENT, 0,
                             "e2b_agent_service_default: svc is required");
    agent_sbx *sb;
    e2b_code rc = agent_svc_acquire_current(svc, &sb, NULL, err);
    if (rc != E2B_OK)
        return rc;
    if (id_out)
        copy_str(id_out, E2B_AGENT_ID_MAX, sb->id);
    agent_svc_release(svc, sb, false);
    return E2B_OK;
}

void agent_svc_release(e2b_agent_service *svc, agent_sbx *sb, bool activity)
{
    pthread_mutex_lock(&svc->lock);
    sb->busy--;
    if (activity)
        sb->last_ms = agent_now_ms();
    pthread_mutex_unlock(&svc->lock);
}

void agent_svc_forget(e2b_agent_service *svc, agent_sbx *sb)
{
    pthread_mutex_lock(&svc->lock);
    sb->busy--;
    table_remove(svc, sb);
    pthread_mutex_unlock(&svc->lock);
    sbx_free(sb);
}

e2b_code e2b_agent_service_kill(e2b_agent_service *svc, const char *sandbox_id, bool *killed,
                                e2b_error *err)
{
    if (killed)
        *killed = false;
    if (!svc || !sandbox_id || !sandbox_id[0])
        return e2b_error_set(err, E2B_ERR_INVALID_ARGUMENT, 0,
                             "e2b_agent_service_kill: svc and a sandbox id are required");
    pthread_mutex_lock(&svc->lock);
    agent_sbx *sb = table_find(svc, sandbox_id);
    if (sb && sb->busy) {
        pthread_mutex_unlock(&svc->lock);
        return e2b_error_set(err, E2B_ERR_CONFLICT, 0,
                             "sandbox %s is executing code right now; try again when it "
                             "is done",
                             sandbox_id);
    }
    if (sb)
        sb->busy++;
    pthread_mutex_unlock(&svc->lock);

    bool k = false;
    e2b_code rc = e2b_sandbox_kill(svc->client, sandbox_id, &k, err);
    if (sb) {
        if (rc == E2B_OK) {
            agent_svc_forget(svc, sb); /* killed now, or already gone: either way, gone */
        } else {
            agent_svc_release(svc, sb, false);
        }
    }
    if (rc == E2B_OK && killed)
        *killed = k;
    return rc;
}

e2b_code e2b_agent_service_kill_latest(e2b_agent_service *svc, char id_out[E2B_AGENT_ID_MAX],
                                       bool *killed, e2b_error *err)
{
    char id[E2B_AGENT_ID_MAX] = "";
    if (id_out)
        id_out[0] = '\0';
    if (killed)
        *killed = false;
    if (!svc)
        return e2b_error_set(err, E2B_ERR_INVALID_ARGUMENT, 0,
                             "e2b_agent_service_kill_latest: svc is required");
    pthread_mutex_lock(&svc->lock);
    agent_sbx *best = NULL;
    for (size_t i = 0; i < svc->n; i++)
        if (!best || svc->sbx[i]->seq > best->seq)
            best = svc->sbx[i];
    if (best)
        copy_str(id, sizeof id, best->id);
    pthread_mutex_unlock(&svc->lock);
    if (!id[0])
        return E2B_OK;
    if (id_out)
        copy_str(id_out, E2B_AGENT_ID_MAX, id);
    return e2b_agent_service_kill(svc, id, killed, err);
}

e2b_code e2b_agent_service_refresh(e2b_agent_service *svc, size_t *gone, e2b_error *err)
{
    if (gone)
        *gone = 0;
    if (!svc)
        return e2b_error_set(err, E2B_ERR_INVALID_ARGUMENT, 0,
                             "e2b_agent_service_refresh: svc is required");
    e2b_agent_sandbox_status *st;
    size_t n;
    e2b_code rc = e2b_agent_service_list(svc, &st, &n, err);
    if (rc != E2B_OK)
        return rc;
    for (size_t i = 0; i < n && rc == E2B_OK; i++) {
        e2b_sandbox_info *info = NULL;
        e2b_code r = e2b_sandbox_get_info(svc->client, st[i].sandbox_id, &info, err);
        pthread_mutex_lock(&svc->lock);
        agent_sbx *sb = table_find(svc, st[i].sandbox_id);
        if (r == E2B_OK && sb) {
            sb->paused = info->state == E2B_STATE_PAUSED;
        } else if (r == E2B_ERR_SANDBOX_NOT_FOUND) {
            if (sb && !sb->busy) {
                table_remove(svc, sb);
                sbx_free(sb);
                if (gone)
                    (*gone)++;
            }
        } else if (r != E2B_OK) {
            rc = r;
        }
        pthread_mutex_unlock(&svc->lock);
        e2b_sandbox_info_free(info);
    }
    if (rc == E2B_OK)
        e2b_error_clear(err);
    free(st);
    return rc;
}

e2b_code e2b_agent_service_sweep(e2b_agent_service *svc, long idle_s, size_t *killed,
                                 e2b_error *err)
{
    if (killed)
        *killed = 0;
    if (!svc)
        return e2b_error_set(err, E2B_ERR_INVALID_ARGUMENT, 0,
                             "e2b_agent_service_sweep: svc is required");
    if (idle_s < 0) {
        idle_s = svc->idle_timeout_s;
        if (idle_s == 0)
            return E2B_OK;
    }
    int64_t now = agent_now_ms();
    pthread_mutex_lock(&svc->lock);
    agent_sbx **victims = svc->n ? calloc(svc->n, sizeof *victims) : NULL;
    size_t nv = 0;
    if (svc->n && !victims) {
        pthread_mutex_unlock(&svc->lock);
        return e2b_error_set(err, E2B_ERR_NO_MEMORY, 0, "out of memory");
    }
    for (size_t i = 0; i < svc->n; i++) {
        agent_sbx *sb = svc->sbx[i];
        if (!sb->busy && now - sb->last_ms > (int64_t)idle_s * 1000) {
            sb->busy++; /* nobody else may take or kill it now */
            victims[nv++] = sb;
        }
    }
    pthread_mutex_unlock(&svc->lock);
    e2b_code rc = E2B_OK;
    for (size_t i = 0; i < nv; i++) {
        e2b_error e;
        e2b_code r = e2b_sandbox_kill(svc->client, victims[i]->id, NULL, &e);
        if (r != E2B_OK && rc == E2B_OK) {
            rc = r;
            if (err)
                *err = e;
        }
        agent_svc_forget(svc, victims[i]);
    }
    free(victims);
    if (killed)
        *killed = nv;
    return rc;
}

/* ---- health ---------------------------------------------------------------------------- */

e2b_code e2b_agent_service_health(e2b_agent_service *svc, e2b_agent_health *out, e2b_error *err)
{
    e2b_agent_health h;
    memset(&h, 0, sizeof h);
    if (out)
        *out = h;
    if (!svc)
        return e2b_error_set(err, E2B_ERR_INVALID_ARGUMENT, 0,
                             "e2b_agent_service_health: svc is required");
    int64_t t0 = agent_now_ms();
    e2b_error e;
    e2b_error_clear(&e);
    pthread_mutex_lock(&svc->msg_lock);

    e2b_list_opts lo = {.limit = 1};
    e2b_sandbox_page *page = NULL;
    e2b_code rc = e2b_sandbox_list(svc->client, &lo, &page, &e);
    e2b_sandbox_page_free(page);
    h.control_plane = rc == E2B_OK;
    if (rc != E2B_OK)
        snprintf(h.message, sizeof h.message, "control plane: %s: %.400s", e2b_code_name(rc),
                 e.message);

    if (rc == E2B_OK) {
        agent_sbx *sb = NULL;
        e2b_sandbox *tmp = NULL, *h_sbx = NULL;
        pthread_mutex_lock(&svc->lock);
        if (svc->current) {
            sb = svc->current;
            sb->busy++;
            h_sbx = sb->h;
        }
        pthread_mutex_unlock(&svc->lock);
        if (!sb) {
            e2b_create_opts co;
            e2b_create_opts_init(&co);
            e2b_kv md[] = {{"createdBy", "e2b-agent"}, {"purpose", "health-check"}};
            co.template_id = svc->template_id;
            co.timeout_s = 60;
            co.metadata = md;
            co.metadata_len = 2;
            rc = e2b_sandbox_create(svc->client, &co, &tmp, &e);
            h_sbx = tmp;
            if (rc != E2B_OK)
                snprintf(h.message, sizeof h.message, "creating a sandbox: %s: %.400s",
                         e2b_code_name(rc), e.message);
        }
        if (rc == E2B_OK) {
            copy_str(h.sandbox_id, sizeof h.sandbox_id, e2b_sandbox_id(h_sbx));
            e2b_run_opts ro;
            e2b_run_opts_init(&ro);
            ro.language = "python"; /* the server's default context, not the user's */
            ro.timeout_ms = 30000;
            e2b_execution *ex = NULL;
            rc = e2b_run_code(h_sbx, "print(1 + 1)", &ro, &ex, &e);
            char *so = NULL;
            if (rc == E2B_OK && e2b_execution_logs_text(ex, E2B_LOG_STDOUT, &so, NULL) == E2B_OK &&
                !ex->error && !strcmp(so, "2\n")) {
                h.execution = true;
            } else if (rc == E2B_OK) {
                rc = E2B_ERR_PROTOCOL;
                e2b_error_set(&e, rc, 0, "print(1 + 1) printed \"%s\"%s%s", so ? so : "",
                              ex && ex->error ? " and raised " : "",
                              ex && ex->error ? ex->error->name : "");
            }
            if (rc != E2B_OK)
                snprintf(h.message, sizeof h.message, "running code: %s: %.400s", e2b_code_name(rc),
                         e.message);
            free(so);
            e2b_execution_free(ex);
        }
        if (sb)
            agent_svc_release(svc, sb, false);
        if (tmp) {
            e2b_sandbox_kill(svc->client, e2b_sandbox_id(tmp), NULL, NULL);
            e2b_sandbox_free(tmp);
        }
    }
    pthread_mutex_unlock(&svc->msg_lock);
    h.latency_ms = agent_now_ms() - t0;
    pthread_mutex_lock(&svc->lock);
    svc->have_health = true;
    svc->health = h;
    pthread_mutex_unlock(&svc->lock);
    if (out)
        *out = h;
    if (rc != E2B_OK)
        return e2b_error_set(err, rc, e.http_status, "%s", h.message);
    e2b_error_clear(err);
    return E2B_OK;
}

/* ---- files ----------------------------------------------------------------------------- */

/* Finds (and marks busy) the tracked sandbox for id (NULL = current, created if needed).
 * *sb stays NULL for an untracked id. */
static e2b_code files_target(e2b_agent_service *svc, const char *id, agent_sbx **sb, e2b_error *err)
{
    *sb = NULL;
    if (!id)
        return agent_svc_acquire_current(svc, sb, NULL, err);
    pthread_mutex_lock(&svc->lock);
    agent_sbx *t = table_find(svc, id);
    if (t) {
        t->busy++;
        *sb = t;
    }
    pthread_mutex_unlock(&svc->lock);
    return E2B_OK;
}

e2b_code e2b_agent_service_write_file(e2b_agent_service *svc, const char *sandbox_id,
                                      const char *path, const char *content, e2b_error *err)
{
    if (!svc || !path || !content)
        return e2b_error_set(err, E2B_ERR_INVALID_ARGUMENT, 0,
                             "e2b_agent_service_write_file: svc, path and content are "
                             "required");
    pthread_mutex_lock(&svc->msg_lock);
    agent_sbx *sb;
    e2b_code rc = files_target(svc, sandbox_id, &sb, err);
    if (rc == E2B_OK) {
        if (sb) {
            rc = e2b_files_write_text(sb->h, path, content, err);
            if (rc == E2B_ERR_SANDBOX_GONE)
                agent_svc_forget(svc, sb);
            else
                agent_svc_release(svc, sb, true);
        } else {
            rc = e2b_write_file_to_sandbox(svc->client, sandbox_id, path, content, err);
        }
    }
    pthread_mutex_unlock(&svc->msg_lock);
    return rc;
}

e2b_code e2b_agent_service_read_file(e2b_agent_service *svc, const char *sandbox_id,
                                     const char *path, char **content, e2b_error *err)
{
    if (content)
        *content = NULL;
    if (!svc || !path || !content)
        return e2b_error_set(err, E2B_ERR_INVALID_ARGUMENT, 0,
                             "e2b_agent_service_read_file: svc, path and content are "
                             "required");
    pthread_mutex_lock(&svc->msg_lock);
    agent_sbx *sb;
    e2b_code rc = files_target(svc, sandbox_id, &sb, err);
    if (rc == E2B_OK) {
        if (sb) {
            rc = e2b_files_read_text(sb->h, path, content, err);
            if (rc == E2B_ERR_SANDBOX_GONE)
                agent_svc_forget(svc, sb);
            else
                agent_svc_release(svc, sb, true);
        } else {
            rc = e2b_read_file_from_sandbox(svc->client, sandbox_id, path, content, err);
        }
    }
    pthread_mutex_unlock(&svc->msg_lock);
    return rc;
}

/* ---- provider ---------------------------------------------------------------------------- */

/* The code interpreter's languages: e2b-mock has Python, JavaScript/TypeScript (node) and
 * bash kernels; E2B's code-interpreter template also has R and Java. */
static const char *const k_local_langs[] = {"python", "javascript", "typescript", "bash", NULL};
static const char *const k_cloud_langs[] = {"python", "javascript", "typescript", "bash",
                                            "r",      "java",       NULL};

e2b_code e2b_agent_service_status(e2b_agent_service *svc, char **text, cJSON **json, e2b_error *err)
{
    if (text)
        *text = NULL;
    if (json)
        *json = NULL;
    if (!svc)
        return e2b_error_set(err, E2B_ERR_INVALID_ARGUMENT, 0,
                             "e2b_agent_service_status: svc is required");
    e2b_agent_sandbox_status *st;
    size_t n;
    e2b_code rc = e2b_agent_service_list(svc, &st, &n, err);
    if (rc != E2B_OK)
        return rc;
    pthread_mutex_lock(&svc->lock);
    bool have_health = svc->have_health;
    e2b_agent_health h = svc->health;
    pthread_mutex_unlock(&svc->lock);
    bool local = !strcmp(svc->mode, "local");
    const char *const *langs = local ? k_local_langs : k_cloud_langs;
    int64_t now = agent_now_ms();
    const char *current = NULL;
    for (size_t i = 0; i < n; i++)
        if (st[i].current)
            current = st[i].sandbox_id;
    bool available = have_health && h.control_plane && h.execution;

    cJSON *o = cJSON_CreateObject();
    if (have_health)
        cJSON_AddBoolToObject(o, "available", available);
    else
        cJSON_AddNullToObject(o, "available");
    cJSON_AddStringToObject(o, "mode", svc->mode);
    cJSON_AddStringToObject(o, "apiUrl", e2b_client_api_url(svc->client));
    cJSON_AddNumberToObject(o, "activeSandboxes", (double)n);
    cJSON_AddNumberToObject(o, "maxSandboxes", (double)svc->max_sandboxes);
    cJSON_AddNumberToObject(o, "idleTimeoutS", (double)svc->idle_timeout_s);
    if (current)
        cJSON_AddStringToObject(o, "currentSandbox", current);
    else
        cJSON_AddNullToObject(o, "currentSandbox");
    cJSON *arr = cJSON_AddArrayToObject(o, "sandboxes");
    for (size_t i = 0; arr && i < n; i++) {
        cJSON *s = cJSON_CreateObject();
        cJSON_AddItemToArray(arr, s);
        cJSON_AddStringToObject(s, "sandboxId", st[i].sandbox_id);
        cJSON_AddStringToObject(s, "template", st[i].template_id);
        cJSON_AddBoolToObject(s, "current", st[i].current);
        cJSON_AddBoolToObject(s, "busy", st[i].busy);
        cJSON_AddNumberToObject(s, "ageS", (double)((now - st[i].created_ms) / 1000));
        cJSON_AddNumberToObject(s, "idleS", (double)((now - st[i].last_activity_ms) / 1000));
        cJSON_AddNumberToObject(s, "timeoutS", st[i].timeout_s);
        cJSON_AddNumberToObject(s, "createdAt", (double)st[i].created_ms);
        cJSON_AddNumberToObject(s, "lastActivity", (double)st[i].last_activity_ms);
        cJSON *md = cJSON_AddObjectToObject(s, "metadata");
        for (size_t k = 0; md && k < st[i].metadata_len; k++)
            cJSON_AddStringToObject(md, st[i].metadata[k].key, st[i].metadata[k].value);
    }
    cJSON *caps = cJSON_AddObjectToObject(o, "capabilities");
    cJSON *la = cJSON_AddArrayToObject(caps, "languages");
    for (size_t i = 0; la && langs[i]; i++)
        cJSON_AddItemToArray(la, cJSON_CreateString(langs[i]));
    cJSON_AddBoolToObject(caps, "files", true);
    cJSON_AddBoolToObject(caps, "commands", true);
    cJSON_AddBoolToObject(caps, "images", true);
    if (have_health) {
        cJSON *hj = cJSON_AddObjectToObject(o, "lastHealth");
        cJSON_AddBoolToObject(hj, "controlPlane", h.control_plane);
        cJSON_AddBoolToObject(hj, "execution", h.execution);
        cJSON_AddNumberToObject(hj, "latencyMs", (double)h.latency_ms);
        cJSON_AddStringToObject(hj, "message", h.message);
    } else {
        cJSON_AddNullToObject(o, "lastHealth");
    }

    e2b_strbuf b = {0};
    if (!have_health)
        e2b_strbuf_printf(&b, "E2B code execution is configured (%s mode; not checked yet).",
                          svc->mode);
    else if (available)
        e2b_strbuf_printf(&b, "E2B code execution is available (%s mode).", svc->mode);
    else
        e2b_strbuf_printf(&b, "E2B code execution is currently unavailable (%s mode): %s.",
                          svc->mode, h.message);
    if (n == 0) {
        e2b_strbuf_puts(&b, " No active sandboxes; one is created automatically for code "
                            "execution.");
    } else {
        e2b_strbuf_printf(&b, " %zu active sandbox%s (limit %zu):", n, n == 1 ? "" : "es",
                          svc->max_sandboxes);
        for (size_t i = 0; i < n; i++) {
            char up[48], idle[48];
            e2b_agent_format_duration(now - st[i].created_ms, up, sizeof up);
            e2b_agent_format_duration(now - st[i].last_activity_ms, idle, sizeof idle);
            e2b_strbuf_printf(&b, "%s `%s` (%s%sup %s, idle %s)", i ? "," : "", st[i].sandbox_id,
                              st[i].current ? "current, " : "", st[i].busy ? "busy, " : "", up,
                              idle);
        }
        e2b_strbuf_puts(&b, ".");
    }
    e2b_strbuf_puts(&b, " Languages:");
    for (size_t i = 0; langs[i]; i++)
        e2b_strbuf_printf(&b, "%s %s", i ? "," : "", langs[i]);
    e2b_strbuf_puts(&b, ". File and command access: yes. Plots are returned as image files.");
    free(st);

    char *t = e2b_strbuf_take(&b);
    char *probe = cJSON_PrintUnformatted(o); /* cJSON reports allocation failures lazily */
    if (!t || !probe) {
        free(t);
        cJSON_free(probe);
        cJSON_Delete(o);
        return e2b_error_set(err, E2B_ERR_NO_MEMORY, 0, "out of memory");
    }
    cJSON_free(probe);
    if (text)
        *text = t;
    else
        free(t);
    if (json)
        *json = o;
    else
        cJSON_Delete(o);
    return E2B_OK;
}
