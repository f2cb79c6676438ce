/* envd_client.h - what the mock's envd unit tests (mockserver/tests/unit_envd*.c) share:
 * an in-process e2b-mock with one sandbox (group setup/teardown), and a libcurl client
 * that sends envd requests to it with the sandbox's routing headers and access token.
 *
 *   envd_setup / envd_teardown   cmocka group fixtures: start the mock (srv, base), create
 *                                the sandbox (sbx_id, sbx_token, sbx_dir)
 *   envd_req                     one request (body whole or chunked in step-byte pieces)
 *   rpc / expect_rpc_error       a unary Connect call and its expected JSON error
 * Failures fail the running cmocka test. */
#ifndef E2B_TEST_ENVD_CLIENT_H
#define E2B_TEST_ENVD_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "server.h"

extern mock_server *srv;
extern char base[128];
extern char sbx_id[64], sbx_token[64], sbx_dir[512];

typedef struct buf {
    char *p;
    size_t n;
} buf;

typedef struct resp {
    long status;
    buf body, hdr;
} resp;

/* Request body fed through a read callback `step` bytes at a time (0 = all at once). */
typedef struct feeder {
    const unsigned char *p;
    size_t len, off, step;
} feeder;

/* libcurl write/header callback: appends to the buf ud (NUL-terminated). */
size_t on_data(char *p, size_t sz, size_t n, void *ud);
/* Frees the reply's buffers and zeroes it. */
void resp_free(resp *r);
/* The value of response header name (case-insensitive) copied to out, or NULL. */
const char *hdr(const resp *r, const char *name, char *out, size_t outlen);
/* One envd request. body may be NULL (GET); step > 0 sends it chunked in step-byte pieces.
 * extra: NULL-terminated header lines; token adds X-Access-Token. */
resp envd_req(const char *method, const char *path, const void *body, size_t len, size_t step,
              bool token, const char *const *extra);
/* Unary Connect call: 200 with JSON reply expected unless want_status says otherwise. The
 * caller deletes the result. */
cJSON *rpc(const char *method, const char *json, long want_status);
/* The string member k of o, or NULL. */
const char *jstr(const cJSON *o, const char *k);
/* rpc() answering status with this Connect code and a message containing msg_part. */
void expect_rpc_error(const char *method, const char *json, long status, const char *code,
                      const char *msg_part);
/* A new sandbox on srv (env SBX_VAR=from-create); sets sbx_id, sbx_token, sbx_dir. */
void new_sandbox(void);
int envd_setup(void **state);
int envd_teardown(void **state);

#endif
