/* agent_service_internal.h - what agent_service.c and agent_actions.c share (not public). */
#ifndef E2B_AGENT_SERVICE_INTERNAL_H
#define E2B_AGENT_SERVICE_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include "e2b/agent_service.h"
#include "e2b/code.h"
#include "e2b/sandbox.h"

#define AGENT_NLANGS 7 /* e2b_agent_lang values 0..6 */

/* One tracked sandbox. Entries are heap objects so a pointer stays valid while the entry
 * is busy (busy > 0 entries are never removed from the table). */
typedef struct agent_sbx {
    e2b_sandbox *h;
    char id[E2B_AGENT_ID_MAX];
    char tpl[E2B_AGENT_TEMPLATE_MAX];
    int timeout_s;
    int64_t created_ms, last_ms;
    uint64_t seq; /* creation order */
    e2b_agent_meta md[E2B_AGENT_META_MAX];
    size_t md_len;
    int busy;
    bool paused;                    /* last refresh saw it paused */
    e2b_context *ctx[AGENT_NLANGS]; /* one code context per language, created on demand;
                                       touched only by the thread holding msg_lock */
} agent_sbx;

struct e2b_agent_service {
    e2b_client *client;
    char *template_id, *output_dir, *mode;
    int sandbox_timeout_s;
    size_t max_sandboxes, max_stream_bytes;
    long idle_timeout_s, sweep_interval_s, exec_timeout_ms;
    bool keep_sandboxes;

    pthread_mutex_t lock;     /* the table, current, health, pending */
    pthread_mutex_t msg_lock; /* one user of sandbox handles at a time (messages, health,
                                 files) */
    agent_sbx **sbx;
    size_t n, cap, pending; /* pending: creations in flight (count toward the limit) */
    agent_sbx *current;
    uint64_t seq, message_no;

    bool have_health;
    e2b_agent_health health;

    pthread_t sweeper;
    bool sweeper_on, stopping;
    pthread_cond_t cv;
};

int64_t agent_now_ms(void);

/* The current sandbox, created if needed, marked busy (release with agent_svc_release).
 * *created (may be NULL) tells whether it was just created. Caller holds msg_lock. */
e2b_code agent_svc_acquire_current(e2b_agent_service *svc, agent_sbx **out, bool *created,
                                   e2b_error *err);
/* Ends a use; activity = update its last-activity time. */
void agent_svc_release(e2b_agent_service *svc, agent_sbx *sb, bool activity);
/* Ends a use and forgets the entry (its sandbox is gone); frees it. */
void agent_svc_forget(e2b_agent_service *svc, agent_sbx *sb);
/* Snapshot as agent.h's sandbox info (for the reply JSON). Strings point into *store,
 * a heap array the caller frees (free()) together with *out. */
e2b_code agent_svc_infos(e2b_agent_service *svc, e2b_agent_sandbox_info **out, size_t *n,
                         e2b_agent_sandbox_status **store, e2b_kv **kvstore, e2b_error *err);

#endif
