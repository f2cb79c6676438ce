/* unit_execute: the code-interpreter surface (port 49999) of a real e2b-mock server, over real
 * sockets: /health, /contexts CRUD, /execute NDJSON streaming from real kernels, request
 * validation, disconnect -> interrupt, scripted answers, sandbox kill -> kernels gone.
 * Kernel-backed cases skip when /usr/bin/python3 (or node) is missing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "execute.h"
#include "sandboxrt.h"
#include "admin.h"
#include "server.h"
#include "store.h"
#include "util.h"

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int have(const char *bin)
{
    return access(bin, X_OK) == 0;
}

/* ------------------------------------------------------------------ tiny HTTP/1.1 client */

/* Incremental response reader: headers, then (chunked or not) body split into lines. */
typedef struct reader {
    int state; /* 0 headers, 1 chunk size, 2 chunk data, 3 chunk crlf, 4 plain body, 5 done */
    char hdr[4096];
    size_t hlen;
    size_t chunk_left;
    char size_line[32];
    size_t slen;
    char *line;
    size_t llen, lcap;
} reader;

typedef struct http_resp {
    int status;
    char headers[4096];
    char *body; /* de-chunked, NUL-terminated */
    size_t body_len;
    char *lines[256];     /* body split at '\n' (NDJSON), without the '\n' */
    int64_t line_at[256]; /* arrival time of each line (ms, monotonic) */
    size_t nlines;
    reader rd; /* parser state: read_response may be called again to continue */
} http_resp;

static void resp_free(http_resp *r)
{
    free(r->rd.line);
    free(r->body);
    for (size_t i = 0; i < r->nlines; i++)
        free(r->lines[i]);
    memset(r, 0, sizeof *r);
}

static int connect_to(unsigned short port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

typedef struct test_env {
    mock_server *srv;
    unsigned short port;
    mock_sandbox *sbx;
    char id[MOCK_SANDBOX_ID_LEN + 1];
    char token[MOCK_TOKEN_HEX_LEN + 1];
} test_env;

static void send_request(int fd, test_env *e, const char *method, const char *path,
                         const char *body, int with_token)
{
    char head[1024];
    size_t blen = body ? strlen(body) : 0;
    int n = snprintf(head, sizeof head,
                     "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nE2b-Sandbox-Id: %s\r\n"
                     "E2b-Sandbox-Port: 49999\r\nContent-Type: application/json\r\n"
                     "%s%s%sContent-Length: %zu\r\nConnection: close\r\n\r\n",
                     method, path, e->id, with_token ? "X-Access-Token: " : "",
                     with_token ? e->token : "", with_token ? "\r\n" : "", blen);
    assert_int_equal(write(fd, head, (size_t)n), n);
    if (blen)
        assert_int_equal(write(fd, body, blen), (ssize_t)blen);
}

static void body_byte(http_resp *r, reader *rd, char ch)
{
    r->body = realloc(r->body, r->body_len + 2);
    r->body[r->body_len++] = ch;
    r->body[r->body_len] = '\0';
    if (ch == '\n') {
        if (r->nlines < 256) {
            r->lines[r->nlines] = strndup(rd->line ? rd->line : "", rd->llen);
            r->line_at[r->nlines++] = now_ms();
        }
        rd->llen = 0;
        return;
    }
    if (rd->llen + 1 >= rd->lcap) {
        rd->lcap = rd->lcap ? rd->lcap * 2 : 256;
        rd->line = realloc(rd->line, rd->lcap);
    }
    rd->line[rd->llen++] = ch;
}

static void feed(http_resp *r, reader *rd, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char ch = p[i];
        switch (rd->state) {
        case 0:
            if (rd->hlen < sizeof rd->hdr - 1)
                rd->hdr[rd->hlen++] = ch;
            rd->hdr[rd->hlen] = '\0';
            if (rd->hlen >= 4 && !memcmp(rd->hdr + rd->hlen - 4, "\r\n\r\n", 4)) {
                snprintf(r->headers, sizeof r->headers, "%s", rd->hdr);
                sscanf(rd->hdr, "HTTP/1.1 %d", &r->status);
                rd->state = strcasestr(rd->hdr, "Transfer-Encoding: chunked") ? 1 : 4;
            }
            break;
        case 1:
            if (ch == '\n') {
                rd->size_line[rd->slen] = '\0';
                rd->chunk_left = strtoul(rd->size_line, NULL, 16);
                rd->slen = 0;
                rd->state = rd->chunk_left ? 2 : 5;
            } else if (ch != '\r' && rd->slen < sizeof rd->size_line - 1) {
                rd->size_line[rd->slen++] = ch;
            }
            break;
        case 2:
            body_byte(r, rd, ch);
            if (--rd->chunk_left == 0)
                rd->state = 3;
            break;
        case 3:
            if (ch == '\n')
                rd->state = 1;
            break;
        case 4: body_byte(r, rd, ch); break;
        default: break;
        }
    }
}

/* Reads the whole response (until EOF). stop_line: close the connection after that many
 * NDJSON lines (0 = read to the end). */
static void read_response(int fd, http_resp *r, size_t stop_line)
{
    reader *rd = &r->rd;
    char buf[65536];
    for (;;) {
        if (stop_line && r->nlines >= stop_line)
            break;
        struct pollfd pfd = {fd, POLLIN, 0};
        if (poll(&pfd, 1, 60000) <= 0)
            break;
        ssize_t n = read(fd, buf, sizeof buf);
        if (n <= 0)
            break;
        feed(r, rd, buf, (size_t)n);
        if (rd->state == 5)
            break;
    }
    if (!r->body)
        r->body = strdup("");
}

static void http(test_env *e, const char *method, const char *path, const char *body,
                 int with_token, http_resp *r)
{
    memset(r, 0, sizeof *r);
    int fd = connect_to(e->port);
    send_request(fd, e, method, path, body, with_token);
    read_response(fd, r, 0);
    close(fd);
}

/* Checks the NDJSON invariants and returns the parsed lines (caller deletes). */
static cJSON *ndjson(const http_resp *r)
{
    assert_int_equal(r->status, 200);
    cJSON *arr = cJSON_CreateArray();
    assert_true(r->nlines >= 1);
    for (size_t i = 0; i < r->nlines; i++) {
        assert_true(strlen(r->lines[i]) > 0); /* no blank lines */
        cJSON *j = cJSON_Parse(r->lines[i]);
        assert_non_null(j);
        cJSON_AddItemToArray(arr, j);
    }
    /* the body ends with a newline and the last line is end_of_execution */
    assert_int_equal(r->body[r->body_len - 1], '\n');
    assert_string_equal(r->lines[r->nlines - 1], "{\"type\":\"end_of_execution\"}");
    return arr;
}

static const cJSON *nth_of_type(const cJSON *arr, const char *type, int nth)
{
    const cJSON *it;
    cJSON_ArrayForEach(it, arr)
    {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(it, "type");
        if (cJSON_IsString(t) && !strcmp(t->valuestring, type) && nth-- == 0)
            return it;
    }
    return NULL;
}

static int index_of_type(const cJSON *arr, const char *type, int nth)
{
    int i = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, arr)
    {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(it, "type");
        if (cJSON_IsString(t) && !strcmp(t->valuestring, type) && nth-- == 0)
            return i;
        i++;
    }
    return -1;
}

static const char *sfield(const cJSON *j, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static const char *main_text(const cJSON *arr)
{
    const cJSON *it;
    cJSON_ArrayForEach(it, arr)
    {
        if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(it, "is_main_result")))
            return sfield(it, "text");
    }
    return NULL;
}

/* ------------------------------------------------------------------ fixture */

static int setup(void **state)
{
    mock_log_set_level(MOCK_LOG_ERROR);
    if (!sbxrt_bwrap_available())
        sbxrt_set_unisolated(1);
    test_env *e = calloc(1, sizeof *e);
    mock_server_config cfg = {0};
    e->srv = mock_server_new(&cfg);
    assert_non_null(e->srv);
    e->port = mock_server_port(e->srv);
    const char *fx = getenv("E2B_FIXTURES_DIR");
    if (fx) {
        char dir[1024], err[512];
        snprintf(dir, sizeof dir, "%s/execute-scripts", fx);
        assert_true(execute_load_scripts(e->srv, dir, err, sizeof err) > 0);
    }
    store_create_opts o = {
        .template_id = "code-interpreter-v1", .timeout_ms = 600000, .allow_internet_access = -1};
    e->sbx = store_create(mock_server_store(e->srv), &o);
    assert_non_null(e->sbx);
    snprintf(e->id, sizeof e->id, "%s", e->sbx->id);
    snprintf(e->token, sizeof e->token, "%s", e->sbx->access_token);
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    test_env *e = *state;
    store_release(e->sbx);
    mock_server_free(e->srv);
    free(e);
    return 0;
}

/* ------------------------------------------------------------------ tests */

static void test_health_and_default_contexts(void **state)
{
    test_env *e = *state;
    http_resp r;
    http(e, "GET", "/health", NULL, 0, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "\"OK\"");
    resp_free(&r);

    http(e, "GET", "/contexts", NULL, 0, &r);
    assert_int_equal(r.status, 200);
    cJSON *arr = cJSON_Parse(r.body);
    assert_true(cJSON_IsArray(arr));
    assert_true(cJSON_GetArraySize(arr) >= 2);
    assert_string_equal(sfield(cJSON_GetArrayItem(arr, 0), "language"), "python");
    assert_string_equal(sfield(cJSON_GetArrayItem(arr, 1), "language"), "javascript");
    assert_string_equal(sfield(cJSON_GetArrayItem(arr, 0), "cwd"), "/home/user");
    assert_non_null(sfield(cJSON_GetArrayItem(arr, 0), "id"));
    cJSON_Delete(arr);
    resp_free(&r);
}

static void test_validation_errors(void **state)
{
    test_env *e = *state;
    http_resp r;
    http(e, "POST", "/execute", "{\"code\":\"1\"}", 0, &r);
    assert_int_equal(r.status, 401);
    resp_free(&r);
    http(e, "POST", "/execute", "{\"code\":\"1\",\"context_id\":\"a\",\"language\":\"python\"}", 1,
         &r);
    assert_int_equal(r.status, 400);
    assert_string_equal(r.body, "Only one of context_id or language can be provided");
    resp_free(&r);
    http(e, "POST", "/execute", "{\"code\":\"1\",\"context_id\":\"nope\"}", 1, &r);
    assert_int_equal(r.status, 404);
    assert_string_equal(r.body, "Context nope not found");
    resp_free(&r);
    http(e, "POST", "/execute", "{\"language\":\"python\"}", 1, &r);
    assert_int_equal(r.status, 422);
    resp_free(&r);
    http(e, "POST", "/execute", "not json", 1, &r);
    assert_int_equal(r.status, 422);
    resp_free(&r);
    http(e, "POST", "/execute", "{\"code\":\"1\",\"env_vars\":[1]}", 1, &r);
    assert_int_equal(r.status, 422);
    resp_free(&r);
    http(e, "POST", "/execute", "{\"code\":\"1\",\"language\":\"R\"}", 1, &r);
    assert_int_equal(r.status, 500);
    assert_non_null(strstr(r.body, "R"));
    resp_free(&r);
    http(e, "POST", "/contexts", "{\"language\":\"java\"}", 0, &r);
    assert_int_equal(r.status, 500);
    assert_non_null(strstr(r.body, "Java"));
    resp_free(&r);
    http(e, "POST", "/contexts", "{\"cwd\":\"/home/user/../../etc\"}", 0, &r);
    assert_int_equal(r.status, 500);
    resp_free(&r);
    http(e, "POST", "/contexts/nope/restart", NULL, 0, &r);
    assert_int_equal(r.status, 404);
    assert_string_equal(r.body, "Context nope not found");
    resp_free(&r);
    http(e, "DELETE", "/contexts/nope", NULL, 0, &r);
    assert_int_equal(r.status, 404);
    resp_free(&r);
}

static void test_execute_python_stream(void **state)
{
    test_env *e = *state;
    if (!have("/usr/bin/python3"))
        skip();
    http_resp r;
    /* the Python SDK's form: every key present, nulls for unset ones */
    http(e, "POST", "/execute",
         "{\"code\":\"import time\\nprint('a')\\ntime.sleep(1)\\nprint('b')\\nv = 20\\nv + 1\","
         "\"context_id\":null,\"language\":null,\"env_vars\":null}",
         1, &r);
    cJSON *arr = ndjson(&r);
    assert_int_equal(index_of_type(arr, "number_of_executions", 0), 0);
    int a = index_of_type(arr, "stdout", 0), b = index_of_type(arr, "stdout", 1);
    assert_true(a > 0 && b > a);
    assert_string_equal(sfield(cJSON_GetArrayItem(arr, a), "text"), "a\n");
    assert_non_null(sfield(cJSON_GetArrayItem(arr, a), "timestamp"));
    /* streamed: 'a' reached the client well before 'b' (the cell sleeps 1 s in between) */
    assert_true(r.line_at[b] - r.line_at[a] >= 500);
    assert_string_equal(main_text(arr), "21");
    const cJSON *res = nth_of_type(arr, "result", 0);
    assert_true(cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(res, "extra")));
    cJSON_Delete(arr);
    resp_free(&r);

    /* the JS SDK's form: language only, env_vars for this execution */
    http(e, "POST", "/execute",
         "{\"code\":\"import os\\nos.environ.get('ONLY_NOW', 'unset') + str(v)\","
         "\"language\":\"python\",\"env_vars\":{\"ONLY_NOW\":\"set\"}}",
         1, &r);
    arr = ndjson(&r);
    assert_string_equal(main_text(arr), "set20");
    cJSON_Delete(arr);
    resp_free(&r);
    http(e, "POST", "/execute", "{\"code\":\"os.environ.get('ONLY_NOW', 'unset')\"}", 1, &r);
    arr = ndjson(&r);
    assert_string_equal(main_text(arr), "unset");
    cJSON_Delete(arr);
    resp_free(&r);

    http(e, "POST", "/execute", "{\"code\":\"raise ValueError('bad input')\"}", 1, &r);
    arr = ndjson(&r);
    const cJSON *err = nth_of_type(arr, "error", 0);
    assert_string_equal(sfield(err, "name"), "ValueError");
    assert_string_equal(sfield(err, "value"), "bad input");
    assert_non_null(sfield(err, "traceback"));
    cJSON_Delete(arr);
    resp_free(&r);
}

static void test_contexts_lifecycle(void **state)
{
    test_env *e = *state;
    if (!have("/usr/bin/python3"))
        skip();
    http_resp r;
    http(e, "POST", "/contexts", "{\"language\":\" PYTHON \",\"cwd\":\"/home/user/proj\"}", 0, &r);
    assert_int_equal(r.status, 200);
    cJSON *ctx = cJSON_Parse(r.body);
    assert_string_equal(sfield(ctx, "language"), "python");
    assert_string_equal(sfield(ctx, "cwd"), "/home/user/proj");
    char id[64], body[256], path[128];
    snprintf(id, sizeof id, "%s", sfield(ctx, "id"));
    cJSON_Delete(ctx);
    resp_free(&r);

    snprintf(body, sizeof body,
             "{\"code\":\"import os\\nk = 1\\nos.getcwd()\",\"context_id\":\"%s\"}", id);
    http(e, "POST", "/execute", body, 1, &r);
    cJSON *arr = ndjson(&r);
    const char *cwd = main_text(arr);
    assert_non_null(cwd);
    assert_non_null(strstr(cwd, "proj"));
    cJSON_Delete(arr);
    resp_free(&r);

    http(e, "GET", "/contexts", NULL, 0, &r);
    assert_non_null(strstr(r.body, id));
    resp_free(&r);

    snprintf(path, sizeof path, "/contexts/%s/restart", id);
    http(e, "POST", path, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "null");
    resp_free(&r);
    snprintf(body, sizeof body, "{\"code\":\"'k' in globals()\",\"context_id\":\"%s\"}", id);
    http(e, "POST", "/execute", body, 1, &r);
    arr = ndjson(&r);
    assert_string_equal(main_text(arr), "False");
    assert_int_equal(
        cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(arr, 0), "execution_count")->valueint,
        1);
    cJSON_Delete(arr);
    resp_free(&r);

    snprintf(path, sizeof path, "/contexts/%s", id);
    http(e, "DELETE", path, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "null");
    resp_free(&r);
    http(e, "POST", "/execute", body, 1, &r);
    assert_int_equal(r.status, 404);
    resp_free(&r);
    http(e, "GET", "/contexts", NULL, 0, &r);
    assert_null(strstr(r.body, id));
    resp_free(&r);
}

static void test_disconnect_interrupts(void **state)
{
    test_env *e = *state;
    if (!have("/usr/bin/python3"))
        skip();
    http_resp r;
    http(e, "POST", "/contexts", "{}", 0, &r);
    cJSON *ctx = cJSON_Parse(r.body);
    char id[64], body[512];
    snprintf(id, sizeof id, "%s", sfield(ctx, "id"));
    cJSON_Delete(ctx);
    resp_free(&r);

    snprintf(body, sizeof body,
             "{\"code\":\"import time\\nkept = 'yes'\\nprint('started')\\n"
             "time.sleep(60)\",\"context_id\":\"%s\"}",
             id);
    memset(&r, 0, sizeof r);
    int fd = connect_to(e->port);
    send_request(fd, e, "POST", "/execute", body, 1);
    read_response(fd, &r, 2); /* number_of_executions + stdout 'started' */
    assert_int_equal(r.nlines, 2);
    close(fd); /* the client goes away mid-execution */
    resp_free(&r);

    int64_t t0 = now_ms();
    snprintf(body, sizeof body, "{\"code\":\"kept\",\"context_id\":\"%s\"}", id);
    http(e, "POST", "/execute", body, 1, &r);
    cJSON *arr = ndjson(&r);
    assert_string_equal(main_text(arr), "yes"); /* same kernel, state kept */
    assert_true(now_ms() - t0 < 30000);         /* not blocked behind the 60 s sleep */
    cJSON_Delete(arr);
    resp_free(&r);
}

static void test_javascript_and_bash(void **state)
{
    test_env *e = *state;
    http_resp r;
    cJSON *arr;
    if (have("/usr/bin/node")) {
        http(e, "POST", "/execute", "{\"code\":\"const jsv = 6; jsv * 7\",\"language\":\"js\"}", 1,
             &r);
        arr = ndjson(&r);
        assert_string_equal(main_text(arr), "42");
        cJSON_Delete(arr);
        resp_free(&r);
        http(e, "POST", "/execute", "{\"code\":\"jsv\",\"language\":\"javascript\"}", 1, &r);
        arr = ndjson(&r);
        assert_string_equal(main_text(arr), "6");
        cJSON_Delete(arr);
        resp_free(&r);
    }
    if (have("/usr/bin/bash")) {
        http(
            e, "POST", "/execute",
            "{\"code\":\"echo hi; exit_with() { return $1; }; exit_with 2\",\"language\":\"bash\"}",
            1, &r);
        arr = ndjson(&r);
        assert_string_equal(sfield(nth_of_type(arr, "stdout", 0), "text"), "hi\n");
        assert_string_equal(sfield(nth_of_type(arr, "error", 0), "name"), "ExitCodeError");
        cJSON_Delete(arr);
        resp_free(&r);
    }
}

static void test_scripted_answers(void **state)
{
    test_env *e = *state;
    if (!getenv("E2B_FIXTURES_DIR"))
        skip();
    http_resp r;
    http(e, "POST", "/execute", "{\"code\":\"# e2b-mock: chart-line\\nplot()\"}", 1, &r);
    cJSON *arr = ndjson(&r);
    const cJSON *res = nth_of_type(arr, "result", 0);
    const cJSON *chart = cJSON_GetObjectItemCaseSensitive(res, "chart");
    assert_string_equal(sfield(chart, "type"), "line");
    assert_true(cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(chart, "elements")));
    assert_non_null(sfield(res, "png"));
    assert_true(cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(res, "extra")));
    cJSON_Delete(arr);
    resp_free(&r);

    http(e, "POST", "/execute", "{\"code\":\"# e2b-mock: rich-results\"}", 1, &r);
    arr = ndjson(&r);
    int have_pdf = 0, have_latex = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, arr)
    {
        have_pdf |= sfield(it, "pdf") != NULL;
        have_latex |= sfield(it, "latex") != NULL;
    }
    assert_true(have_pdf && have_latex);
    assert_string_equal(main_text(arr), "{'answer': 42}");
    cJSON_Delete(arr);
    resp_free(&r);

    http(e, "POST", "/execute", "{\"code\":\"e2b_mock_hello()\"}", 1, &r);
    arr = ndjson(&r);
    assert_string_equal(main_text(arr), "hello");
    cJSON_Delete(arr);
    resp_free(&r);

    /* per-event delays stream in time */
    http(e, "POST", "/execute", "{\"code\":\"# e2b-mock: slow-stream\"}", 1, &r);
    arr = ndjson(&r);
    int a = index_of_type(arr, "stdout", 0), b = index_of_type(arr, "stdout", 1);
    assert_true(r.line_at[b] - r.line_at[a] >= 500);
    cJSON_Delete(arr);
    resp_free(&r);

    /* 6 s of silence: a keepalive line after 5 s, before the late output */
    http(e, "POST", "/execute", "{\"code\":\"# e2b-mock: silent-6s\"}", 1, &r);
    arr = ndjson(&r);
    int ka = index_of_type(arr, "keepalive", 0);
    assert_true(ka > 0);
    assert_true(ka < index_of_type(arr, "stdout", 0));
    assert_string_equal(r.lines[ka], "{\"type\":\"keepalive\"}");
    cJSON_Delete(arr);
    resp_free(&r);

    /* language filter: the python-only chart script does not answer bash */
    if (have("/usr/bin/bash")) {
        http(e, "POST", "/execute", "{\"code\":\"# e2b-mock: chart-line\",\"language\":\"bash\"}",
             1, &r);
        arr = ndjson(&r);
        assert_null(nth_of_type(arr, "result", 0));
        cJSON_Delete(arr);
        resp_free(&r);
    }
}

/* children of every thread of this process (the kernels' bwrap / interpreter processes) */
static int child_count(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/task");
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char p[300], buf[4096];
        snprintf(p, sizeof p, "/proc/self/task/%s/children", de->d_name);
        FILE *f = fopen(p, "r");
        if (!f)
            continue;
        size_t len = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[len] = '\0';
        for (char *tok = strtok(buf, " \n"); tok; tok = strtok(NULL, " \n"))
            n++;
    }
    if (d)
        closedir(d);
    return n;
}

static void test_kill_sandbox_kills_kernels(void **state)
{
    test_env *e = *state;
    if (!have("/usr/bin/python3"))
        skip();
    http_resp r;
    http(e, "POST", "/execute", "{\"code\":\"1\"}", 1, &r);
    resp_free(&r);
    assert_true(child_count() > 0);
    assert_true(execute_context_count(e->srv, e->id) >= 2);
    assert_int_equal(store_kill(mock_server_store(e->srv), e->id), STORE_OK);
    assert_int_equal(execute_context_count(e->srv, e->id), 0);
    assert_int_equal(child_count(), 0);
}

/* cutStreamsOnKill off: killing a sandbox mid-execution ends the stream with ExecutionAborted +
 * end_of_execution (the default cut is test_kill_during_execution_cut). */
static void test_kill_during_execution(void **state)
{
    test_env *e = *state;
    if (!have("/usr/bin/python3"))
        skip();
    assert_int_equal(admin_set_cut_streams_on_kill(e->srv, 0), 0);
    store_create_opts o = {
        .template_id = "code-interpreter-v1", .timeout_ms = 600000, .allow_internet_access = -1};
    mock_sandbox *sbx = store_create(mock_server_store(e->srv), &o);
    assert_non_null(sbx);
    test_env e2 = *e;
    snprintf(e2.id, sizeof e2.id, "%s", sbx->id);
    snprintf(e2.token, sizeof e2.token, "%s", sbx->access_token);
    http_resp r;
    memset(&r, 0, sizeof r);
    int fd = connect_to(e->port);
    send_request(fd, &e2, "POST", "/execute",
                 "{\"code\":\"import time\\nprint('up')\\ntime.sleep(60)\"}", 1);
    read_response(fd, &r, 2);
    assert_int_equal(r.nlines, 2);
    int64_t t0 = now_ms();
    assert_int_equal(store_kill(mock_server_store(e->srv), e2.id), STORE_OK);
    read_response(fd, &r, 0); /* the rest of the same response */
    close(fd);
    assert_true(now_ms() - t0 < 20000);
    assert_true(r.nlines >= 4);
    cJSON *err = cJSON_Parse(r.lines[r.nlines - 2]);
    assert_string_equal(sfield(err, "type"), "error");
    assert_string_equal(sfield(err, "name"), "ExecutionAborted");
    cJSON_Delete(err);
    assert_string_equal(r.lines[r.nlines - 1], "{\"type\":\"end_of_execution\"}");
    resp_free(&r);
    store_release(sbx);
    assert_int_equal(admin_set_cut_streams_on_kill(e->srv, 1), 0); /* back to the default */
}

/* The default (cutStreamsOnKill): killing a sandbox mid-execution drops the stream as E2B's
 * edge does - the lines sent before stay, no terminating chunk, no end_of_execution. */
static void test_kill_during_execution_cut(void **state)
{
    test_env *e = *state;
    if (!have("/usr/bin/python3"))
        skip();
    store_create_opts o = {
        .template_id = "code-interpreter-v1", .timeout_ms = 600000, .allow_internet_access = -1};
    mock_sandbox *sbx = store_create(mock_server_store(e->srv), &o);
    assert_non_null(sbx);
    test_env e2 = *e;
    snprintf(e2.id, sizeof e2.id, "%s", sbx->id);
    snprintf(e2.token, sizeof e2.token, "%s", sbx->access_token);
    http_resp r;
    memset(&r, 0, sizeof r);
    int fd = connect_to(e->port);
    send_request(fd, &e2, "POST", "/execute",
                 "{\"code\":\"import time\\nprint('up')\\ntime.sleep(60)\"}", 1);
    read_response(fd, &r, 2);
    assert_int_equal(r.nlines, 2);
    int64_t t0 = now_ms();
    assert_int_equal(store_kill(mock_server_store(e->srv), e2.id), STORE_OK);
    read_response(fd, &r, 0); /* until the connection drops */
    close(fd);
    assert_true(now_ms() - t0 < 20000);
    assert_int_not_equal(r.rd.state, 5); /* no terminating chunk: cut */
    assert_int_equal(r.nlines, 2);       /* what arrived before is all there is */
    assert_null(strstr(r.body, "end_of_execution"));
    resp_free(&r);
    store_release(sbx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_health_and_default_contexts),
        cmocka_unit_test(test_validation_errors),
        cmocka_unit_test(test_execute_python_stream),
        cmocka_unit_test(test_contexts_lifecycle),
        cmocka_unit_test(test_disconnect_interrupts),
        cmocka_unit_test(test_javascript_and_bash),
        cmocka_unit_test(test_scripted_answers),
        cmocka_unit_test(test_kill_during_execution_cut), /* the default: before the other */
        cmocka_unit_test(test_kill_during_execution),
        cmocka_unit_test(test_kill_sandbox_kills_kernels),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
