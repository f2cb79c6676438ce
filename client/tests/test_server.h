/* test_server.h - a tiny in-process HTTP server (libmicrohttpd, thread per connection) for
 * the client's unit tests. Header-only; include from one test file.
 *
 * The test supplies a route function that inspects the request (method, path, query,
 * headers, whole body) and fills a reply (status, body, headers). Handlers may sleep (each
 * connection has its own thread); they should poll ts_stopping() so teardown is quick.
 * Responses are queued on the second access-handler call so keep-alive works
 * (platform-notes §2). */
#ifndef E2B_TEST_SERVER_H
#define E2B_TEST_SERVER_H

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct ts_req {
    struct MHD_Connection *conn;
    const char *method;
    const char *path;
    char *body;
    size_t body_len;
    /* reply */
    int status;
    char *reply; /* malloc'd or NULL */
    const char *hdr_name[4];
    char hdr_value[4][128];
    int nhdr;
    int stream_lines; /* >0: stream this many "line N\n" chunks, stream_delay_ms apart */
    int stream_delay_ms;
    int stream_hang; /* stream one line then hang until stop */
} ts_req;

typedef void (*ts_route)(ts_req *r, void *ud);

typedef struct ts_server {
    struct MHD_Daemon *d;
    int port;
    char url[64];
    ts_route route;
    void *ud;
    atomic_int requests;
} ts_server;

static atomic_int ts_stop_flag;

static inline int ts_stopping(void)
{
    return atomic_load(&ts_stop_flag);
}

static inline void ts_sleep_ms(int ms)
{
    while (ms > 0 && !ts_stopping()) {
        struct timespec t = {0, 10 * 1000000L};
        nanosleep(&t, NULL);
        ms -= 10;
    }
}

static inline const char *ts_header(const ts_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

static inline const char *ts_query(const ts_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

static inline void ts_reply(ts_req *r, int status, const char *body)
{
    r->status = status;
    free(r->reply);
    r->reply = body ? strdup(body) : NULL;
}

static inline void ts_add_header(ts_req *r, const char *name, const char *value)
{
    if (r->nhdr < 4) {
        r->hdr_name[r->nhdr] = name;
        snprintf(r->hdr_value[r->nhdr], sizeof r->hdr_value[0], "%s", value);
        r->nhdr++;
    }
}

typedef struct ts_stream {
    int lines, delay, hang, sent;
} ts_stream;

static inline ssize_t ts_stream_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    ts_stream *s = cls;
    if (s->hang && s->sent >= 1) {
        while (!ts_stopping())
            ts_sleep_ms(20);
        return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    if (s->sent >= s->lines && !s->hang)
        return MHD_CONTENT_READER_END_OF_STREAM;
    if (s->sent > 0)
        ts_sleep_ms(s->delay);
    int n = snprintf(buf, max, "line %d\n", s->sent);
    s->sent++;
    return n;
}

static inline enum MHD_Result ts_handler(void *cls, struct MHD_Connection *conn, const char *url,
                                         const char *method, const char *version,
                                         const char *upload, size_t *upload_size, void **req_cls)
{
    (void)version;
    ts_server *srv = cls;
    ts_req *r = *req_cls;
    if (!r) {
        r = calloc(1, sizeof *r);
        r->conn = conn;
        r->method = method;
        r->path = url;
        *req_cls = r;
        return MHD_YES;
    }
    if (*upload_size) {
        r->body = realloc(r->body, r->body_len + *upload_size + 1);
        memcpy(r->body + r->body_len, upload, *upload_size);
        r->body_len += *upload_size;
        r->body[r->body_len] = '\0';
        *upload_size = 0;
        return MHD_YES;
    }
    atomic_fetch_add(&srv->requests, 1);
    r->status = 200;
    srv->route(r, srv->ud);
    struct MHD_Response *resp;
    if (r->stream_lines > 0 || r->stream_hang) {
        ts_stream *s = calloc(1, sizeof *s);
        s->lines = r->stream_lines;
        s->delay = r->stream_delay_ms;
        s->hang = r->stream_hang;
        resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 1024, ts_stream_reader, s, free);
    } else {
        const char *b = r->reply ? r->reply : "";
        resp = MHD_create_response_from_buffer(strlen(b), (void *)b, MHD_RESPMEM_MUST_COPY);
    }
    for (int i = 0; i < r->nhdr; i++)
        MHD_add_response_header(resp, r->hdr_name[i], r->hdr_value[i]);
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned)r->status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static inline void ts_completed(void *cls, struct MHD_Connection *c, void **req_cls,
                                enum MHD_RequestTerminationCode toe)
{
    (void)cls, (void)c, (void)toe;
    ts_req *r = *req_cls;
    if (r) {
        free(r->body);
        free(r->reply);
        free(r);
    }
    *req_cls = NULL;
}

static inline void ts_quiet_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls, (void)fmt, (void)ap;
}

static inline ts_server *ts_start(ts_route route, void *ud)
{
    ts_server *s = calloc(1, sizeof *s);
    s->route = route;
    s->ud = ud;
    atomic_store(&ts_stop_flag, 0);
    static struct sockaddr_in lo; /* loopback only */
    memset(&lo, 0, sizeof lo);
    lo.sin_family = AF_INET;
    lo.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    lo.sin_port = 0;
    s->d = MHD_start_daemon(
        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL, 0, NULL,
        NULL, ts_handler, s, MHD_OPTION_NOTIFY_COMPLETED, ts_completed, NULL,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30, MHD_OPTION_EXTERNAL_LOGGER, ts_quiet_log, NULL,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&lo, MHD_OPTION_END);
    if (!s->d) {
        free(s);
        return NULL;
    }
    s->port = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT)->port;
    snprintf(s->url, sizeof s->url, "http://127.0.0.1:%d", s->port);
    return s;
}

static inline void ts_stop(ts_server *s)
{
    if (!s)
        return;
    atomic_store(&ts_stop_flag, 1);
    MHD_stop_daemon(s->d);
    free(s);
}

#endif
