/* journal.h - e2b-mock's request journal (admin API: GET /_mock/journal) and the list of
 * near misses (requests that matched no scenario rule, with the closest rule).
 * Thread-safe; bounded ring buffers (the oldest entries are dropped first). */
#ifndef E2B_MOCK_JOURNAL_H
#define E2B_MOCK_JOURNAL_H

#include <stdint.h>

#include <cjson/cJSON.h>

typedef struct mock_journal mock_journal;

#define JOURNAL_CAP 10000
#define NEAR_MISS_CAP 200

typedef struct journal_entry {
    uint64_t seq; /* 1, 2, ... since the last clear (assigned by journal_add) */
    int64_t t_ms; /* mock clock */
    char method[16];
    char *path;          /* owned */
    char *query;         /* raw "a=1&b=2" (decoded pairs re-joined), owned, may be "" */
    char sandbox_id[64]; /* "" on the control plane */
    int port;
    int status;           /* 0 = no HTTP answer (fault dropped the connection) */
    char *rule;           /* matched rule name or NULL */
    char *fault;          /* fault kind or NULL */
    int invalid;          /* request did not fit E2B's API */
    char *invalid_reason; /* owned or NULL */
} journal_entry;

/* filters for query/count: NULL/negative fields match anything */
typedef struct journal_filter {
    const char *method, *path; /* path: fnmatch glob */
    const char *sandbox, *rule, *fault;
    int status;       /* -1 = any */
    int invalid;      /* -1 = any */
    int64_t since;    /* seq > since (-1 = any) */
    int64_t since_ms; /* t_ms >= since_ms (-1 = any) */
} journal_filter;

mock_journal *journal_new(void);
void journal_free(mock_journal *j);
void journal_clear(mock_journal *j);

/* Takes ownership of the strings in *e (entry copied by value). */
void journal_add(mock_journal *j, journal_entry *e);

/* Matching entries as a JSON array (caller frees), and their count. */
cJSON *journal_query(mock_journal *j, const journal_filter *f);
long journal_count(mock_journal *j, const journal_filter *f);

/* Near misses: takes ownership of obj (a JSON object describing the miss). */
void journal_near_miss(mock_journal *j, cJSON *obj);
cJSON *journal_near_misses(mock_journal *j); /* copy, caller frees */

#endif
