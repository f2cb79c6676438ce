/* client_internal.h - the e2b_client struct, shared by client.c and http.c (internal). */
#ifndef E2B_CLIENT_INTERNAL_H
#define E2B_CLIENT_INTERNAL_H

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include "e2b/client.h"

/* One pooled transfer slot: an easy handle driven by its own multi handle (so it can be
 * woken by curl_multi_wakeup for cancellation). The connection cache lives in the multi,
 * so a slot that goes back to the pool keeps its keep-alive connections. */
typedef struct e2b_http_slot {
    CURL *easy;
    CURLM *multi;
    struct e2b_http_slot *next; /* idle list, or active list */
    struct e2b_http_slot *prev; /* active list only */
} e2b_http_slot;

struct e2b_client {
    char *api_key;
    char *api_url;
    char *sandbox_url; /* NULL when unset */
    char *domain;
    char *user_agent;
    bool debug;
    long request_timeout_ms;
    int max_retries_429;

    pthread_mutex_t pool_mu; /* guards idle, active */
    e2b_http_slot *idle;     /* LIFO: the most recently used (warm) slot first */
    e2b_http_slot *active;   /* slots in flight, woken by cancel_all */
    atomic_uint cancel_gen;  /* bumped by e2b_client_cancel_all */

    CURLSH *share; /* DNS cache shared by all slots */
    pthread_mutex_t share_mu;
};

/* Frees every pooled slot (client teardown). */
void e2b_http_pool_destroy(e2b_client *client);

#endif
