/* client.c - the client handle and URL rules (see e2b/client.h; rules from
 * e2b-protocol.md §3.1). */
#include "client_internal.h"
#include "http.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef E2B_VERSION_STRING
#define E2B_VERSION_STRING "0.0.0"
#endif

const char *e2b_version(void)
{
    return E2B_VERSION_STRING;
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_OK;
static void curl_init_once(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void share_lock(CURL *h, curl_lock_data d, curl_lock_access a, void *ud)
{
    (void)h, (void)d, (void)a;
    pthread_mutex_lock(&((e2b_client *)ud)->share_mu);
}

static void share_unlock(CURL *h, curl_lock_data d, void *ud)
{
    (void)h, (void)d;
    pthread_mutex_unlock(&((e2b_client *)ud)->share_mu);
}

/* A base URL must be http(s)://host[...]; checked with libcurl's URL parser. Returns a
 * malloc'd copy without trailing '/'. */
static e2b_code dup_base_url(const char *what, const char *url, char **out, e2b_error *err)
{
    CURLU *u = curl_url();
    if (!u)
        return e2b_error_set(err, E2B_ERR_NO_MEMORY, 0, "out of memory");
    char *scheme = NULL;
    CURLUcode uc = curl_url_set(u, CURLUPART_URL, url, 0);
    if (uc == CURLUE_OK)
        uc = curl_url_get(u, CURLUPART_SCHEME, &scheme, 0);
    bool ok = uc == CURLUE_OK && scheme && (!strcmp(scheme, "http") || !strcmp(scheme, "https"));
    curl_free(scheme);
    curl_url_cleanup(u);
    if (uc == CURLUE_OUT_OF_MEMORY) /* libcurl could not allocate: not the URL's fault */
        return e2b_error_set(err, E2B_ERR_NO_MEMORY, 0, "%s: out of memory", what);
    if (!ok)
        return e2b_error_set(err, E2B_ERR_INVALID_ARGUMENT, 0,
                             "%s \"%s\" is not an http:// or https:// URL", what, url);
    size_t n = strlen(url);
    while (n > 0 && url[n - 1] == '/')
        n--;
    *out = strndup(url, n);
    return *out ? E2B_OK : e2b_error_set(err, E2B_ERR_NO_MEMORY, 0, "out of memory");
}

static char *dup_or_null(const char *s, bool *oom)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        *oom = true;
    return d;
}

e2b_code e2b_client_new(const e2b_config *cfg_in, e2b_client **out, e2b_error *err)
{
    *out = NULL;
    e2b_config defaults;
    if (!cfg_in) {
        e2b_config_init(&defaults);
        cfg_in = &defaults;
    }
    const e2b_config *cfg = cfg_in;
    if (cfg->request_timeout_ms < 0)
        return e2b_error_set(err, E2B_ERR_INVALID_ARGUMENT, 0,
                             "request_timeout_ms must be >= 0 (0 = no timeout)");
    if (cfg->max_retries_429 < 0)
        return e2b_error_set(err, E2B_ERR_INVALID_ARGUMENT, 0, "max_retries_429 must be >= 0");
    if (cfg->domain && (!*cfg->domain || strpbrk(cfg->domain, "/:@?# ")))
        return e2b_error_set(err, E2B_ERR_INVALID_ARGUMENT, 0, "domain \"%s\" is not a host name",
                             cfg->domain);
    pthread_once(&curl_once, curl_init_once);
    if (curl_init_rc != CURLE_OK)
        return e2b_error_set(err, E2B_ERR_INTERNAL, 0, "curl_global_init failed: %s",
                             curl_easy_strerror(curl_init_rc));

    e2b_client *c = calloc(1, sizeof *c);
    if (!c)
        return e2b_error_set(err, E2B_ERR_NO_MEMORY, 0, "out of memory");
    pthread_mutex_init(&c->pool_mu, NULL);
    pthread_mutex_init(&c->share_mu, NULL);
    atomic_init(&c->cancel_gen, 0);
    c->debug = cfg->debug;
    c->request_timeout_ms = cfg->request_timeout_ms;
    c->max_retries_429 = cfg->max_retries_429;

    bool oom = false;
    e2b_code rc = E2B_OK;
    c->api_key = dup_or_null(cfg->api_key, &oom);
    c->domain = dup_or_null(cfg->domain ? cfg->domain : E2B_DEFAULT_DOMAIN, &oom);
    if (cfg->user_agent) {
        c->user_agent = dup_or_null(cfg->user_agent, &oom);
    } else {
        char ua[64];
        snprintf(ua, sizeof ua, "libe2b/%s", E2B_VERSION_STRING);
        c->user_agent = dup_or_null(ua, &oom);
    }
    if (oom) {
        rc = e2b_error_set(err, E2B_ERR_NO_MEMORY, 0, "out of memory");
        goto fail;
    }
    if (cfg->api_url) {
        rc = dup_base_url("api_url", cfg->api_url, &c->api_url, err);
    } else {
        char buf[512];
        if (c->debug)
            snprintf(buf, sizeof buf, "http://localhost:3000");
        else
            snprintf(buf, sizeof buf, "https://api.%s", c->domain);
        rc = dup_base_url("api_url", buf, &c->api_url, err);
    }
    if (rc != E2B_OK)
        goto fail;
    if (cfg->sandbox_url &&
        (rc = dup_base_url("sandbox_url", cfg->sandbox_url, &c->sandbox_url, err)) != E2B_OK)
        goto fail;

    c->share = curl_share_init();
    if (!c->share) {
        rc = e2b_error_set(err, E2B_ERR_NO_MEMORY, 0, "out of memory");
        goto fail;
    }
    curl_share_setopt(c->share, CURLSHOPT_LOCKFUNC, share_lock);
    curl_share_setopt(c->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
    curl_share_setopt(c->share, CURLSHOPT_USERDATA, c);
    curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    *out = c;
    return E2B_OK;
fail:
    e2b_client_free(c);
    return rc;
}

void e2b_client_free(e2b_client *c)
{
    if (!c)
        return;
    e2b_http_pool_destroy(c);
    if (c->share)
        curl_share_cleanup(c->share);
    free(c->api_key);
    free(c->api_url);
    free(c->sandbox_url);
    free(c->domain);
    free(c->user_agent);
    pthread_mutex_destroy(&c->pool_mu);
    pthread_mutex_destroy(&c->share_mu);
    free(c);
}

const char *e2b_client_api_url(const e2b_client *c)
{
    return c->api_url;
}

long e2b_client_request_timeout_ms(const e2b_client *c)
{
    return c->request_timeout_ms;
}

const char *e2b_client_api_key(const e2b_client *c)
{
    return c->api_key;
}

bool e2b_client_debug(const e2b_client *c)
{
    return c->debug;
}

/* E2B's own domains, where envd is reached through one shared host (sandbox.<domain>). */
static bool shared_sandbox_domain(const char *d)
{
    static const char *const supported[] = {"e2b.app", "e2b.dev", "e2b.pro", "e2b-staging.dev",
                                            NULL};
    for (const char *const *s = supported; *s; s++)
        if (!strcmp(d, *s))
            return true;
    return false;
}

e2b_code e2b_client_sandbox_url(const e2b_client *c, const char *sandbox_id,
                                const char *sandbox_domain, int port, char *buf, size_t len,
                                e2b_error *err)
{
    if (port <= 0 || port > 65535)
        return e2b_error_set(err, E2B_ERR_INVALID_ARGUMENT, 0, "port %d out of range", port);
    int n;
    if (c->sandbox_url) {
        n = snprintf(buf, len, "%s", c->sandbox_url);
    } else if (c->debug) {
        n = snprintf(buf, len, "http://localhost:%d", port);
    } else {
        const char *d = sandbox_domain && *sandbox_domain ? sandbox_domain : c->domain;
        if (port == E2B_ENVD_PORT && shared_sandbox_domain(d)) {
            n = snprintf(buf, len, "https://sandbox.%s", d);
        } else {
            if (!sandbox_id || !*sandbox_id)
                return e2b_error_set(err, E2B_ERR_INVALID_ARGUMENT, 0,
                                     "a sandbox id is needed for the sandbox URL");
            n = snprintf(buf, len, "https://%d-%s.%s", port, sandbox_id, d);
        }
    }
    if (n < 0 || (size_t)n >= len)
        return e2b_error_set(err, E2B_ERR_INVALID_ARGUMENT, 0,
                             "sandbox URL does not fit in %zu bytes", len);
    return E2B_OK;
}

void e2b_client_cancel_all(e2b_client *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->pool_mu);
    atomic_fetch_add(&c->cancel_gen, 1);
    for (e2b_http_slot *s = c->active; s; s = s->next)
        curl_multi_wakeup(s->multi);
    pthread_mutex_unlock(&c->pool_mu);
}
