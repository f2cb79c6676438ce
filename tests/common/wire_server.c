/* wire_server.c - see wire_server.h. */
#include "wire_server.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_REQS 128
#define MAX_CONNS 128

static struct {
    int lfd, port;
    wire_handler handler;
    pthread_t acceptor;
    pthread_t conns[MAX_CONNS];
    int nconns;
    pthread_mutex_t mu;
    wire_req reqs[MAX_REQS];
    int nreqs;
    atomic_int stopping;
    char scenario[32];
} S;

bool wire_send_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
        if (w <= 0) {
            if (w < 0 && errno == EINTR)
                continue;
            return false;
        }
        c += w;
        n -= (size_t)w;
    }
    return true;
}

bool wire_send_str(int fd, const char *s)
{
    return wire_send_all(fd, s, strlen(s));
}

bool wire_send_chunk(int fd, const void *p, size_t n)
{
    char hdr[32];
    snprintf(hdr, sizeof hdr, "%zx\r\n", n);
    return wire_send_str(fd, hdr) && wire_send_all(fd, p, n) && wire_send_str(fd, "\r\n");
}

bool wire_send_chunk_str(int fd, const char *s)
{
    return wire_send_chunk(fd, s, strlen(s));
}

void wire_send_reply(int fd, int status, const char *ctype, const char *extra, const void *body,
                     size_t len)
{
    char hdr[512];
    snprintf(hdr, sizeof hdr, "HTTP/1.1 %d X\r\nContent-Type: %s\r\n%sContent-Length: %zu\r\n\r\n",
             status, ctype, extra ? extra : "", len);
    wire_send_str(fd, hdr);
    wire_send_all(fd, body, len);
}

void wire_send_json(int fd, int status, const char *body)
{
    wire_send_reply(fd, status, "application/json", NULL, body, strlen(body));
}

bool wire_stopping(void)
{
    return atomic_load(&S.stopping) != 0;
}

bool wire_sleep_while_connected(int fd, int ms)
{
    for (int waited = 0; waited < ms; waited += 10) {
        char c;
        ssize_t r = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
            return false;
        if (wire_stopping())
            return false;
        usleep(10000);
    }
    return true;
}

const char *wire_scenario(void)
{
    static __thread char sc[32];
    pthread_mutex_lock(&S.mu);
    memcpy(sc, S.scenario, sizeof sc);
    pthread_mutex_unlock(&S.mu);
    return sc;
}

void wire_set_scenario(const char *sc)
{
    pthread_mutex_lock(&S.mu);
    snprintf(S.scenario, sizeof S.scenario, "%s", sc);
    pthread_mutex_unlock(&S.mu);
}

/* Reads more bytes into the (growing) buffer; false on EOF/error. */
static bool fill(int fd, char **bufp, size_t *cap, size_t *have)
{
    if (*have == *cap) {
        char *nb = realloc(*bufp, *cap * 2);
        if (!nb)
            return false;
        *bufp = nb;
        *cap *= 2;
    }
    ssize_t n = recv(fd, *bufp + *have, *cap - *have, 0);
    if (n <= 0)
        return false;
    *have += (size_t)n;
    return true;
}

/* Reads one request into r (body de-chunked); false when the connection ended. */
static bool read_request_body(int fd, char **bufp, size_t *cap, size_t *have, wire_req *r)
{
    char *end;
    while (!(end = memmem(*bufp, *have, "\r\n\r\n", 4)))
        if (!fill(fd, bufp, cap, have))
            return false;
    char *buf = *bufp;
    size_t hlen = (size_t)(end - buf) + 4;
    if (sscanf(buf, "%15s %511s", r->method, r->target) != 2)
        return false;
    snprintf(r->path, sizeof r->path, "%.*s", (int)strcspn(r->target, "?"), r->target);
    char *eol = memchr(buf, '\n', hlen);
    size_t hstart = (size_t)(eol - buf) + 1;
    size_t hl = hlen - hstart < sizeof r->headers - 1 ? hlen - hstart : sizeof r->headers - 1;
    memcpy(r->headers, buf + hstart, hl);
    bool chunked = strcasestr(r->headers, "transfer-encoding: chunked") != NULL;
    size_t clen = 0;
    char *cl = strcasestr(r->headers, "content-length:");
    if (cl)
        clen = strtoul(cl + 15, NULL, 10);
    size_t pos = hlen;
    r->body = malloc(1);
    if (!r->body)
        return false;
    r->body_len = 0;
    for (;;) {
        if (!chunked) {
            while (*have - pos < clen)
                if (!fill(fd, bufp, cap, have))
                    return false;
            char *nb = realloc(r->body, clen + 1);
            if (!nb)
                return false;
            r->body = nb;
            memcpy(r->body, *bufp + pos, clen);
            r->body_len = clen;
            pos += clen;
            break;
        }
        char *le;
        while (!(le = memmem(*bufp + pos, *have - pos, "\r\n", 2)))
            if (!fill(fd, bufp, cap, have))
                return false;
        size_t csz = strtoul(*bufp + pos, NULL, 16);
        size_t need = (size_t)(le - (*bufp + pos)) + 2 + csz + 2;
        while (*have - pos < need)
            if (!fill(fd, bufp, cap, have))
                return false;
        le = memmem(*bufp + pos, *have - pos, "\r\n", 2);
        char *nb = realloc(r->body, r->body_len + csz + 1);
        if (!nb)
            return false;
        r->body = nb;
        memcpy(r->body + r->body_len, le + 2, csz);
        r->body_len += csz;
        pos += need;
        if (csz == 0)
            break;
    }
    r->body[r->body_len] = '\0';
    memmove(*bufp, *bufp + pos, *have - pos);
    *have -= pos;
    return true;
}

static bool read_request(int fd, char **bufp, size_t *cap, size_t *have, wire_req *r)
{
    memset(r, 0, sizeof *r);
    if (read_request_body(fd, bufp, cap, have, r))
        return true;
    free(r->body);
    r->body = NULL;
    return false;
}

static void *conn_main(void *arg)
{
    int fd = (int)(intptr_t)arg;
    size_t cap = 1 << 16, have = 0;
    char *buf = malloc(cap);
    wire_req r;
    while (buf && read_request(fd, &buf, &cap, &have, &r)) {
        bool stored = false;
        pthread_mutex_lock(&S.mu);
        if (S.nreqs < MAX_REQS) {
            S.reqs[S.nreqs++] = r;
            stored = true;
        }
        pthread_mutex_unlock(&S.mu);
        bool keep = S.handler(fd, &r);
        if (!stored)
            free(r.body);
        if (!keep)
            break;
    }
    free(buf);
    close(fd);
    return NULL;
}

static void *accept_main(void *arg)
{
    (void)arg;
    for (;;) {
        int fd = accept(S.lfd, NULL, NULL);
        if (fd < 0) {
            if (wire_stopping())
                return NULL;
            if (errno == EINTR)
                continue;
            return NULL;
        }
        if (wire_stopping() || S.nconns == MAX_CONNS) {
            close(fd);
            if (wire_stopping())
                return NULL;
            continue;
        }
        pthread_create(&S.conns[S.nconns++], NULL, conn_main, (void *)(intptr_t)fd);
    }
}

void wire_start(wire_handler handler)
{
    memset(&S, 0, sizeof S);
    S.handler = handler;
    pthread_mutex_init(&S.mu, NULL);
    S.lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(S.lfd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(S.lfd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(S.lfd, 16), 0);
    socklen_t al = sizeof a;
    getsockname(S.lfd, (struct sockaddr *)&a, &al);
    S.port = ntohs(a.sin_port);
    assert_int_equal(pthread_create(&S.acceptor, NULL, accept_main, NULL), 0);
}

void wire_stop(void)
{
    atomic_store(&S.stopping, 1);
    shutdown(S.lfd, SHUT_RDWR);
    pthread_join(S.acceptor, NULL);
    close(S.lfd);
    for (int i = 0; i < S.nconns; i++)
        pthread_join(S.conns[i], NULL);
    for (int i = 0; i < S.nreqs; i++)
        free(S.reqs[i].body);
    pthread_mutex_destroy(&S.mu);
}

int wire_port(void)
{
    return S.port;
}

wire_req wire_last_req(const char *path)
{
    wire_req r;
    memset(&r, 0, sizeof r);
    pthread_mutex_lock(&S.mu);
    for (int i = S.nreqs - 1; i >= 0; i--) {
        if (!strcmp(S.reqs[i].path, path)) {
            r = S.reqs[i];
            break;
        }
    }
    pthread_mutex_unlock(&S.mu);
    if (!r.method[0])
        fail_msg("no request to %s", path);
    return r;
}

int wire_count_reqs(const char *path)
{
    int n = 0;
    pthread_mutex_lock(&S.mu);
    for (int i = 0; i < S.nreqs; i++)
        n += !strcmp(S.reqs[i].path, path);
    pthread_mutex_unlock(&S.mu);
    return n;
}

int wire_nreqs(void)
{
    pthread_mutex_lock(&S.mu);
    int n = S.nreqs;
    pthread_mutex_unlock(&S.mu);
    return n;
}

bool wire_has_header(const wire_req *r, const char *name, const char *value)
{
    char want[512];
    snprintf(want, sizeof want, "%s: %s\r\n", name, value);
    const char *p = r->headers;
    while (p && *p) {
        const char *eol = strstr(p, "\r\n");
        size_t n = eol ? (size_t)(eol - p) + 2 : strlen(p);
        if (n == strlen(want) && !strncasecmp(p, want, strlen(name)) &&
            !strncmp(p + strlen(name), want + strlen(name), n - strlen(name)))
            return true;
        p = eol ? eol + 2 : NULL;
    }
    return false;
}

bool wire_has_header_name(const wire_req *r, const char *name)
{
    char want[128];
    snprintf(want, sizeof want, "\r\n%s:", name);
    return strcasestr(r->headers, want) || !strncasecmp(r->headers, want + 2, strlen(want) - 2);
}
