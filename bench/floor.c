/* floor.c - the physical floor for a control-plane round trip: a raw libcurl GET (one
 * reused easy handle) against a static libmicrohttpd endpoint in this process. Whatever
 * libe2b + e2b-mock add on top of this is overhead worth looking at. */
#include "bench.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

uint64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

struct bench_static_server {
    struct MHD_Daemon *daemon;
    char *body;
    size_t len;
    char url[64];
};

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **req_cls)
{
    (void)url;
    (void)version;
    (void)upload_data;
    bench_static_server *s = cls;
    static int first_call_marker;
    /* Two-call idiom: queueing on the first call makes MHD 0.9.75 close the connection. */
    if (*req_cls == NULL) {
        *req_cls = &first_call_marker;
        return MHD_YES;
    }
    if (*upload_data_size != 0) {
        *upload_data_size = 0; /* ignore request bodies */
        return MHD_YES;
    }
    unsigned status = strcmp(method, "GET") == 0 ? MHD_HTTP_OK : MHD_HTTP_METHOD_NOT_ALLOWED;
    struct MHD_Response *resp = MHD_create_response_from_buffer(s->len, s->body,
                                                                MHD_RESPMEM_PERSISTENT);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, "Content-Type", "application/json");
    enum MHD_Result r = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return r;
}

bench_static_server *bench_static_start(const char *body, size_t len)
{
    bench_static_server *s = calloc(1, sizeof *s);
    if (!s || !(s->body = malloc(len ? len : 1))) {
        free(s);
        fprintf(stderr, "e2b-bench: out of memory\n");
        return NULL;
    }
    memcpy(s->body, body, len);
    s->len = len;
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = 0;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    s->daemon = MHD_start_daemon(
        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL, 0, NULL,
        NULL, on_request, s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)30, MHD_OPTION_END);
    if (!s->daemon) {
        fprintf(stderr, "e2b-bench: cannot start the static MHD endpoint\n");
        free(s->body);
        free(s);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    snprintf(s->url, sizeof s->url, "http://127.0.0.1:%u", info ? (unsigned)info->port : 0u);
    return s;
}

const char *bench_static_url(const bench_static_server *s)
{
    return s->url;
}

void bench_static_stop(bench_static_server *s)
{
    if (!s)
        return;
    MHD_stop_daemon(s->daemon);
    free(s->body);
    free(s);
}

typedef struct sink {
    char *buf; /* NULL: discard */
    size_t len, cap;
    bool keep;
} sink;

static size_t on_body(char *p, size_t size, size_t nmemb, void *ud)
{
    sink *k = ud;
    size_t n = size * nmemb;
    if (!k->keep)
        return n;
    if (k->len + n + 1 > k->cap) {
        size_t cap = (k->len + n + 1) * 2;
        char *nb = realloc(k->buf, cap);
        if (!nb)
            return 0;
        k->buf = nb;
        k->cap = cap;
    }
    memcpy(k->buf + k->len, p, n);
    k->len += n;
    k->buf[k->len] = '\0';
    return n;
}

int bench_curl_get_loop(const char *url, const char *api_key, int warmup, bench_series *s,
                        char **body_out, size_t *body_len)
{
    CURL *h = curl_easy_init();
    if (!h) {
        fprintf(stderr, "e2b-bench: curl_easy_init failed\n");
        return -1;
    }
    struct curl_slist *hdrs = NULL;
    char keyhdr[512];
    if (api_key) {
        snprintf(keyhdr, sizeof keyhdr, "X-API-Key: %s", api_key);
        hdrs = curl_slist_append(hdrs, keyhdr);
    }
    sink k = {0};
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &k);

    int rc = 0;
    s->new_connections = 0;
    size_t total = (size_t)warmup + s->n;
    for (size_t i = 0; i < total; i++) {
        k.keep = body_out && i == 0;
        uint64_t t0 = bench_now_ns();
        CURLcode cc = curl_easy_perform(h);
        uint64_t t1 = bench_now_ns();
        long status = 0;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        if (cc != CURLE_OK || status != 200) {
            fprintf(stderr, "e2b-bench: GET %s: %s (HTTP %ld)\n", url,
                    cc != CURLE_OK ? curl_easy_strerror(cc) : "unexpected status", status);
            rc = -1;
            break;
        }
        if (i >= (size_t)warmup) {
            long nc = 0; /* connections this transfer had to open; keep-alive means 0 */
            curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &nc);
            s->new_connections += nc;
        }
        if (i >= (size_t)warmup)
            s->us[i - (size_t)warmup] = (double)(t1 - t0) / 1000.0;
    }
    if (rc == 0 && body_out) {
        *body_out = k.buf;
        *body_len = k.len;
        k.buf = NULL;
    }
    free(k.buf);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(h);
    return rc;
}
