/* mock_http - whole HTTP requests into a real in-process e2b-mock over loopback: request
 * line and query parsing, routing and auth on the control plane, body parsing of every
 * control route (create, timeout, connect ...), and on the envd surface the /files
 * download and multipart upload path (MHD_PostProcessor) and filesystem.Filesystem Connect
 * RPC bodies. One sandbox is created at start-up; envd requests carry its routing headers
 * and access token.
 * Input: byte 0 selects surface / method / content type; then "<path>\n<body>".
 * Not sent (would spawn processes, block on streams or change global state): paths with
 * "process." or "WatchDir", "/_mock", the code-interpreter port, and control requests that
 * name the fixed sandbox. Sandboxes the input creates are killed after each request.
 * Invariant: the server answers every request with a status line (no crash, no hang > 5 s). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "fuzz.h"
#include "server.h"
#include "store.h"
#include "util.h"

static mock_server *srv;
static unsigned short port;
static char sbx_id[MOCK_SANDBOX_ID_LEN + 1];
static char sbx_token[MOCK_TOKEN_HEX_LEN + 1];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    mock_log_set_level(-1);
    mock_server_config cfg;
    memset(&cfg, 0, sizeof cfg);
    srv = mock_server_new(&cfg);
    if (!srv)
        abort();
    port = mock_server_port(srv);
    store_create_opts o;
    memset(&o, 0, sizeof o);
    o.template_id = "base";
    o.timeout_ms = 24LL * 3600 * 1000;
    o.allow_internet_access = -1;
    mock_sandbox *s = store_create(mock_server_store(srv), &o);
    if (!s)
        abort();
    snprintf(sbx_id, sizeof sbx_id, "%s", s->id);
    snprintf(sbx_token, sizeof sbx_token, "%s", s->access_token);
    store_release(s);
    return 0;
}

static void reap_others(void)
{
    mock_store *st = mock_server_store(srv);
    if (store_count(st, MOCK_SBX_RUNNING) + store_count(st, MOCK_SBX_PAUSED) <= 1)
        return;
    size_t n = 0;
    mock_sandbox **all = store_snapshot(st, &n);
    char ids[64][MOCK_SANDBOX_ID_LEN + 1];
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(all[i]->id, sbx_id) != 0 && k < 64)
            snprintf(ids[k++], sizeof ids[0], "%s", all[i]->id);
        store_release(all[i]);
    }
    free(all);
    for (size_t i = 0; i < k; i++)
        store_kill(st, ids[i]);
}

static bool send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0)
            return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!srv)
        LLVMFuzzerInitialize(NULL, NULL);
    if (size < 2)
        return 0;
    unsigned sel = data[0];
    data++, size--;
    static const char *const methods[] = {"GET",   "POST", "DELETE", "PUT",
                                          "PATCH", "HEAD", "POST",   "POST"};
    static const char *const ctypes[] = {"application/json", "multipart/form-data; boundary=XyZ",
                                         "application/connect+json", "application/octet-stream"};
    bool envd = sel & 1;
    const char *method = methods[(sel >> 1) & 7];
    const char *ctype = ctypes[(sel >> 4) & 3];
    bool auth = !(sel & 0x40);

    const uint8_t *nl = memchr(data, '\n', size);
    size_t plen = nl ? (size_t)(nl - data) : size;
    if (plen == 0 || plen > 1024)
        return 0;
    char path[1030];
    path[0] = '/';
    size_t o = data[0] == '/' ? 0 : 1;
    for (size_t i = 0; i < plen; i++) {
        unsigned char c = data[i];
        path[o++] = (c <= ' ' || c >= 0x7f) ? '_' : (char)c;
    }
    path[o] = '\0';
    const char *body = nl ? (const char *)nl + 1 : "";
    size_t blen = nl ? size - plen - 1 : 0;
    if (strstr(path, "process.") || strstr(path, "WatchDir") || strstr(path, "/_mock") ||
        (!envd && strstr(path, sbx_id)))
        return 0;

    char head[2048];
    int hl = snprintf(head, sizeof head,
                      "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                      "Content-Type: %s\r\nContent-Length: %zu\r\n%s%s%s%s%s%s%s\r\n",
                      method, path, ctype, blen, auth ? "X-API-Key: fuzz\r\n" : "",
                      envd ? "E2b-Sandbox-Id: " : "", envd ? sbx_id : "",
                      envd ? "\r\nE2b-Sandbox-Port: 49983\r\n" : "",
                      envd && auth ? "X-Access-Token: " : "", envd && auth ? sbx_token : "",
                      envd && auth ? "\r\n" : "");
    if (hl <= 0 || (size_t)hl >= sizeof head)
        return 0;

    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        abort();
    struct timeval tv = {.tv_sec = 5};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0)
        abort();
    char resp[256];
    size_t got = 0;
    if (send_all(fd, head, (size_t)hl) && send_all(fd, body, blen)) {
        shutdown(fd, SHUT_WR);
        for (;;) {
            char buf[4096];
            ssize_t r = recv(fd, buf, sizeof buf, 0);
            if (r <= 0)
                break;
            if (got < sizeof resp) {
                size_t c = (size_t)r < sizeof resp - got ? (size_t)r : sizeof resp - got;
                memcpy(resp + got, buf, c);
                got += c;
            }
        }
        /* the server may legitimately close early on a malformed request; a reply, when
         * there is one, must be HTTP */
        if (got >= 5)
            FUZZ_CHECK(memcmp(resp, "HTTP/", 5) == 0);
    }
    close(fd);
    reap_others();
    return 0;
}
