/* journal.c - request journal and near misses; see journal.h. */
#include "journal.h"

#include <fnmatch.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct mock_journal {
    pthread_mutex_t lock;
    journal_entry *ring; /* JOURNAL_CAP slots */
    size_t head, n;      /* oldest at head */
    uint64_t next_seq;
    cJSON *misses; /* array, newest last */
};

static void entry_clear(journal_entry *e)
{
    free(e->path);
    free(e->query);
    free(e->rule);
    free(e->fault);
    free(e->invalid_reason);
    memset(e, 0, sizeof *e);
}

mock_journal *journal_new(void)
{
    mock_journal *j = calloc(1, sizeof *j);
    if (!j)
        return NULL;
    j->ring = calloc(JOURNAL_CAP, sizeof *j->ring);
    j->misses = cJSON_CreateArray();
    if (!j->ring || !j->misses) {
        free(j->ring);
        cJSON_Delete(j->misses);
        free(j);
        return NULL;
    }
    pthread_mutex_init(&j->lock, NULL);
    j->next_seq = 1;
    return j;
}

static void clear_locked(mock_journal *j)
{
    for (size_t i = 0; i < j->n; i++)
        entry_clear(&j->ring[(j->head + i) % JOURNAL_CAP]);
    j->head = j->n = 0;
    j->next_seq = 1;
    cJSON *a = cJSON_CreateArray();
    if (a) {
        cJSON_Delete(j->misses);
        j->misses = a;
    }
}

void journal_clear(mock_journal *j)
{
    pthread_mutex_lock(&j->lock);
    clear_locked(j);
    pthread_mutex_unlock(&j->lock);
}

void journal_free(mock_journal *j)
{
    if (!j)
        return;
    clear_locked(j);
    cJSON_Delete(j->misses);
    free(j->ring);
    pthread_mutex_destroy(&j->lock);
    free(j);
}

void journal_add(mock_journal *j, journal_entry *e)
{
    pthread_mutex_lock(&j->lock);
    if (j->n == JOURNAL_CAP) {
        entry_clear(&j->ring[j->head]);
        j->head = (j->head + 1) % JOURNAL_CAP;
        j->n--;
    }
    e->seq = j->next_seq++;
    j->ring[(j->head + j->n) % JOURNAL_CAP] = *e;
    j->n++;
    pthread_mutex_unlock(&j->lock);
    memset(e, 0, sizeof *e);
}

static int str_eq(const char *want, const char *have)
{
    return !want || !*want || (have && strcmp(want, have) == 0);
}

static int matches(const journal_filter *f, const journal_entry *e)
{
    if (!f)
        return 1;
    if (f->method && *f->method && strcasecmp(f->method, e->method) != 0)
        return 0;
    if (f->path && *f->path && fnmatch(f->path, e->path ? e->path : "", 0) != 0)
        return 0;
    if (!str_eq(f->sandbox, e->sandbox_id) || !str_eq(f->rule, e->rule) ||
        !str_eq(f->fault, e->fault))
        return 0;
    if (f->status >= 0 && f->status != e->status)
        return 0;
    if (f->invalid >= 0 && (f->invalid != 0) != (e->invalid != 0))
        return 0;
    if (f->since >= 0 && e->seq <= (uint64_t)f->since)
        return 0;
    if (f->since_ms >= 0 && e->t_ms < f->since_ms)
        return 0;
    return 1;
}

static cJSON *entry_json(const journal_entry *e)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    cJSON_AddNumberToObject(o, "seq", (double)e->seq);
    cJSON_AddNumberToObject(o, "timeMs", (double)e->t_ms);
    cJSON_AddStringToObject(o, "method", e->method);
    cJSON_AddStringToObject(o, "path", e->path ? e->path : "");
    cJSON_AddStringToObject(o, "query", e->query ? e->query : "");
    if (e->sandbox_id[0])
        cJSON_AddStringToObject(o, "sandboxId", e->sandbox_id);
    else
        cJSON_AddNullToObject(o, "sandboxId");
    cJSON_AddNumberToObject(o, "port", e->port);
    cJSON_AddNumberToObject(o, "status", e->status);
    if (e->rule)
        cJSON_AddStringToObject(o, "rule", e->rule);
    else
        cJSON_AddNullToObject(o, "rule");
    cJSON *flags = cJSON_AddObjectToObject(o, "flags");
    if (flags) {
        cJSON_AddBoolToObject(flags, "invalid", e->invalid);
        if (e->invalid_reason)
            cJSON_AddStringToObject(flags, "reason", e->invalid_reason);
        if (e->fault)
            cJSON_AddStringToObject(flags, "fault", e->fault);
    }
    cJSON_AddBoolToObject(o, "invalid", e->invalid);
    if (e->invalid_reason)
        cJSON_AddStringToObject(o, "reason", e->invalid_reason);
    return o;
}

cJSON *journal_query(mock_journal *j, const journal_filter *f)
{
    cJSON *a = cJSON_CreateArray();
    if (!a)
        return NULL;
    pthread_mutex_lock(&j->lock);
    for (size_t i = 0; i < j->n; i++) {
        const journal_entry *e = &j->ring[(j->head + i) % JOURNAL_CAP];
        if (matches(f, e)) {
            cJSON *o = entry_json(e);
            if (o)
                cJSON_AddItemToArray(a, o);
        }
    }
    pthread_mutex_unlock(&j->lock);
    return a;
}

long journal_count(mock_journal *j, const journal_filter *f)
{
    long n = 0;
    pthread_mutex_lock(&j->lock);
    for (size_t i = 0; i < j->n; i++)
        n += matches(f, &j->ring[(j->head + i) % JOURNAL_CAP]);
    pthread_mutex_unlock(&j->lock);
    return n;
}

void journal_near_miss(mock_journal *j, cJSON *obj)
{
    if (!obj)
        return;
    pthread_mutex_lock(&j->lock);
    if (cJSON_GetArraySize(j->misses) >= NEAR_MISS_CAP)
        cJSON_DeleteItemFromArray(j->misses, 0);
    cJSON_AddItemToArray(j->misses, obj);
    pthread_mutex_unlock(&j->lock);
}

cJSON *journal_near_misses(mock_journal *j)
{
    pthread_mutex_lock(&j->lock);
    cJSON *c = cJSON_Duplicate(j->misses, 1);
    pthread_mutex_unlock(&j->lock);
    return c;
}
