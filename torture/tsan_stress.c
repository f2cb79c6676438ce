/* tsan_stress - concurrency stress for ThreadSanitizer builds (-DE2B_TSAN=ON), run by
 * scripts/tsan.sh. One process holds both sides, so TSan sees every thread:
 *   - an in-process e2b-mock (mock_server_new: MHD thread per connection, store, reaper);
 *   - CLIENT_THREADS threads sharing ONE e2b_client, each looping create / get_info / list /
 *     set_timeout / kill (client.h: "an e2b_client may be shared by any number of threads");
 *   - CURL_THREADS threads of raw libcurl (own easy handle each, keep-alive) hammering the
 *     control plane (list, get of unknown ids, 404/405/401 paths) in parallel;
 * Usage: tsan_stress [iterations-per-client-thread] (default 20). Exit 0 when every call
 * returned what it should; TSan reports make the process exit non-zero on their own
 * (TSAN_OPTIONS=halt_on_error=0 exitcode=66 by default).
 */
#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "e2b/e2b.h"
#include "server.h"
#include "util.h"

#define CLIENT_THREADS 4
#define CURL_THREADS 4

static e2b_client *client;
static const char *url;
static int iterations = 20;
static atomic_int failures;
static atomic_long requests;

static void fail(const char *what, const e2b_error *err)
{
    fprintf(stderr, "tsan_stress: %s failed: %s\n", what, err ? err->message : "");
    atomic_fetch_add(&failures, 1);
}

static void *client_thread(void *arg)
{
    long me = (long)(intptr_t)arg;
    char tag[32];
    snprintf(tag, sizeof tag, "t%ld", me);
    e2b_kv md = {"tsan", tag};
    for (int i = 0; i < iterations; i++) {
        e2b_error err;
        e2b_create_opts co;
        e2b_create_opts_init(&co);
        co.metadata = &md;
        co.metadata_len = 1;
        co.timeout_s = 60;
        e2b_sandbox *sbx = NULL;
        if (e2b_sandbox_create(client, &co, &sbx, &err) != E2B_OK) {
            fail("create", &err);
            continue;
        }
        const char *id = e2b_sandbox_id(sbx);
        e2b_sandbox_info *info = NULL;
        if (e2b_sandbox_get_info(client, id, &info, &err) != E2B_OK ||
            strcmp(info->sandbox_id, id) != 0)
            fail("get_info", &err);
        e2b_sandbox_info_free(info);
        e2b_list_opts lo = {.metadata = &md, .metadata_len = 1};
        e2b_sandbox_page *page = NULL;
        if (e2b_sandbox_list(client, &lo, &page, &err) != E2B_OK || page->len != 1)
            fail("list (own metadata tag must match exactly one sandbox)", &err);
        e2b_sandbox_page_free(page);
        if (e2b_sandbox_set_timeout(client, id, 30, &err) != E2B_OK)
            fail("set_timeout", &err);
        bool killed = false;
        if (e2b_sandbox_kill(client, id, &killed, &err) != E2B_OK || !killed)
            fail("kill", &err);
        e2b_sandbox_free(sbx);
        atomic_fetch_add(&requests, 5);
    }
    return NULL;
}

static size_t sink(char *p, size_t s, size_t n, void *ud)
{
    (void)p;
    (void)ud;
    return s * n;
}

static void *curl_thread(void *arg)
{
    (void)arg;
    CURL *h = curl_easy_init();
    if (!h) {
        fail("curl_easy_init", NULL);
        return NULL;
    }
    struct curl_slist *hdr = curl_slist_append(NULL, "X-API-Key: tsan-key");
    static const struct {
        const char *path;
        const char *method;
        long want;
        bool auth;
    } reqs[] = {
        {"/v2/sandboxes", "GET", 200, true},
        {"/sandboxes/nope-nope", "GET", 404, true},
        {"/sandboxes/nope-nope", "DELETE", 404, true},
        {"/v2/sandboxes", "GET", 401, false},
        {"/no/such/route", "GET", 404, true},
        {"/v2/sandboxes?metadata=tsan%3Dt1&state=running", "GET", 200, true},
    };
    char full[512];
    for (int i = 0; i < iterations * 10; i++) {
        size_t k = (size_t)i % (sizeof reqs / sizeof reqs[0]);
        snprintf(full, sizeof full, "%s%s", url, reqs[k].path);
        curl_easy_setopt(h, CURLOPT_URL, full);
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, reqs[k].method);
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, reqs[k].auth ? hdr : NULL);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(h, CURLOPT_TIMEOUT, 30L);
        long status = 0;
        CURLcode rc = curl_easy_perform(h);
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        if (rc != CURLE_OK || status != reqs[k].want) {
            fprintf(stderr, "tsan_stress: %s %s -> curl %d, HTTP %ld (want %ld)\n", reqs[k].method,
                    reqs[k].path, (int)rc, status, reqs[k].want);
            atomic_fetch_add(&failures, 1);
        }
        atomic_fetch_add(&requests, 1);
    }
    curl_slist_free_all(hdr);
    curl_easy_cleanup(h);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc > 1)
        iterations = atoi(argv[1]) > 0 ? atoi(argv[1]) : 20;
    mock_log_set_level(MOCK_LOG_ERROR);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    mock_server_config mc;
    memset(&mc, 0, sizeof mc);
    mock_server *srv = mock_server_new(&mc);
    if (!srv) {
        fprintf(stderr, "tsan_stress: mock_server_new failed\n");
        return 2;
    }
    url = mock_server_url(srv);
    e2b_config cfg;
    e2b_config_init(&cfg);
    cfg.api_key = "tsan-key";
    cfg.api_url = url;
    cfg.sandbox_url = url;
    e2b_error err;
    if (e2b_client_new(&cfg, &client, &err) != E2B_OK) {
        fprintf(stderr, "tsan_stress: e2b_client_new: %s\n", err.message);
        return 2;
    }
    pthread_t th[CLIENT_THREADS + CURL_THREADS];
    for (long i = 0; i < CLIENT_THREADS; i++)
        pthread_create(&th[i], NULL, client_thread, (void *)(intptr_t)i);
    for (long i = 0; i < CURL_THREADS; i++)
        pthread_create(&th[CLIENT_THREADS + i], NULL, curl_thread, NULL);
    for (size_t i = 0; i < sizeof th / sizeof th[0]; i++)
        pthread_join(th[i], NULL);
    e2b_client_free(client);
    mock_server_free(srv);
    curl_global_cleanup();
    printf("tsan_stress: %d client threads x %d lifecycles, %d curl threads x %d requests: "
           "%ld requests, %d failures\n",
           CLIENT_THREADS, iterations, CURL_THREADS, iterations * 10, atomic_load(&requests),
           atomic_load(&failures));
    return atomic_load(&failures) ? 1 : 0;
}
