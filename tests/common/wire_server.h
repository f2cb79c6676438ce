/* wire_server.h - a scripted HTTP/1.1 server for client unit tests (raw sockets on
 * 127.0.0.1, one thread per connection, keep-alive). Unlike client/tests/test_server.h
 * (libmicrohttpd), the test writes the bytes of each reply itself, so it can send what a
 * real server never would: split or slow chunks, truncated streams, dropped connections,
 * wrong statuses. Every request is recorded (method, target, path, raw headers, de-chunked
 * body) for the test to assert on.
 *
 * One server per process at a time (tests run sequentially):
 *   wire_start(handler)   listen on a free port; handler(fd, req) writes the reply and
 *                         returns false to close the connection
 *   wire_stop()           after every client is freed: stop, join, free the records
 * Used by client/tests/unit_code.c and unit_connect_wire.c. */
#ifndef E2B_TEST_WIRE_SERVER_H
#define E2B_TEST_WIRE_SERVER_H

#include <stdbool.h>
#include <stddef.h>

typedef struct wire_req {
    char method[16];
    char target[512];   /* path + query as sent */
    char path[256];     /* without the query */
    char headers[4096]; /* raw header block, "Name: value\r\n"... */
    char *body;         /* NUL-terminated; owned by the server's records */
    size_t body_len;
} wire_req;

typedef bool (*wire_handler)(int fd, const wire_req *r);

void wire_start(wire_handler handler); /* fails the test when it cannot listen */
void wire_stop(void);
int wire_port(void);
bool wire_stopping(void);

/* The scenario the handler plays (a short name the test sets; "" at start). wire_scenario
 * returns a thread-local copy. */
void wire_set_scenario(const char *sc);
const char *wire_scenario(void);

/* Records: the last request to path (a copy sharing the body; fails the test when there
 * is none), how many went to path, how many in all. */
wire_req wire_last_req(const char *path);
int wire_count_reqs(const char *path);
int wire_nreqs(void);

/* "Name: value" in the header block (name case-insensitive, value exact) / the name. */
bool wire_has_header(const wire_req *r, const char *name, const char *value);
bool wire_has_header_name(const wire_req *r, const char *name);

/* Writing replies (false when the peer is gone). */
bool wire_send_all(int fd, const void *p, size_t n);
bool wire_send_str(int fd, const char *s);
bool wire_send_chunk(int fd, const void *p, size_t n); /* one chunk of a chunked body */
bool wire_send_chunk_str(int fd, const char *s);
/* A whole reply with Content-Length; extra = more header lines ("Name: v\r\n"...) or NULL. */
void wire_send_reply(int fd, int status, const char *ctype, const char *extra, const void *body,
                     size_t len);
void wire_send_json(int fd, int status, const char *body);

/* Sleeps up to ms; returns false early when the peer closed or the server is stopping. */
bool wire_sleep_while_connected(int fd, int ms);

#endif
