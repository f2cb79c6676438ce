/* faults.c - raw transport faults written straight to a request's socket (see scenario.h).
 * The server closes the connection when a hook returns -1, so these never close the fd
 * themselves; a reset is produced by disconnecting the socket (connect(AF_UNSPEC) on a TCP
 * socket sends RST on Linux) with SO_LINGER 0, leaving the descriptor valid for MHD. */
#include "scenario.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int fault_reset(mock_request *req)
{
    int fd = mock_req_fd(req);
    if (fd >= 0) {
        struct linger lg = {.l_onoff = 1, .l_linger = 0};
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        struct sockaddr sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_family = AF_UNSPEC;
        if (connect(fd, &sa, sizeof sa) != 0)
            shutdown(fd, SHUT_RDWR);
    }
    return -1;
}

static int peer_left(int fd, int timeout_ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN | POLLRDHUP};
    int n = poll(&p, 1, timeout_ms);
    if (n <= 0)
        return 0;
    if (p.revents & (POLLHUP | POLLERR | POLLNVAL | POLLRDHUP))
        return 1;
    if (p.revents & POLLIN) {
        char c;
        ssize_t r = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
        if (r == 0)
            return 1;
        if (r > 0) { /* pipelined data: discard so we do not spin */
            char buf[512];
            if (recv(fd, buf, sizeof buf, MSG_DONTWAIT) <= 0)
                return 1;
        }
    }
    return 0;
}

int fault_write_all(mock_request *req, const void *data, size_t len)
{
    int fd = mock_req_fd(req);
    if (fd < 0)
        return -1;
    const char *p = data;
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            p += n;
            len -= (size_t)n;
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
            struct pollfd pf = {.fd = fd, .events = POLLOUT};
            if (poll(&pf, 1, 250) < 0 && errno != EINTR)
                return -1;
            if (mock_server_stopping(req->server))
                return -1;
            continue;
        }
        return -1;
    }
    return 0;
}

int fault_raw(mock_request *req, const void *data, size_t len)
{
    fault_write_all(req, data, len);
    int fd = mock_req_fd(req);
    if (fd >= 0)
        shutdown(fd, SHUT_WR);
    return -1;
}

int fault_sleep(mock_request *req, unsigned ms)
{
    int fd = mock_req_fd(req);
    while (ms > 0) {
        unsigned step = ms < 100 ? ms : 100;
        if (mock_server_stopping(req->server))
            return -1;
        if (fd >= 0 ? peer_left(fd, (int)step) : mock_server_sleep_ms(req->server, step) != 0)
            return -1;
        ms -= step;
    }
    return 0;
}

int fault_hang(mock_request *req, unsigned keepalive_ms, const char *keepalive,
               size_t keepalive_len, int chunked)
{
    unsigned since = 0;
    for (;;) {
        if (fault_sleep(req, 100) != 0)
            return -1;
        since += 100;
        if (keepalive_ms && keepalive && keepalive_len && since >= keepalive_ms) {
            since = 0;
            if (chunked) {
                char hdr[32];
                int h = snprintf(hdr, sizeof hdr, "%zx\r\n", keepalive_len);
                if (fault_write_all(req, hdr, (size_t)h) ||
                    fault_write_all(req, keepalive, keepalive_len) ||
                    fault_write_all(req, "\r\n", 2))
                    return -1;
            } else if (fault_write_all(req, keepalive, keepalive_len)) {
                return -1;
            }
        }
    }
}
