/* unit_main: the e2b-mock binary ($E2B_MOCK_BIN): first stdout line, options, auth with
 * --api-key, per-sandbox directories under --root, and a clean SIGTERM shutdown. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "util.h"

typedef struct proc {
    pid_t pid;
    FILE *out;
    char url[256];
} proc;

static const char *bin(void)
{
    const char *b = getenv("E2B_MOCK_BIN");
    return b ? b : "build/bin/e2b-mock";
}

/* Starts e2b-mock with args; reads the first stdout line into p->url (or leaves it empty). */
static void start(proc *p, const char *const *args)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    p->pid = fork();
    assert_true(p->pid >= 0);
    if (p->pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        const char *argv[16] = {bin()};
        size_t n = 1;
        for (size_t i = 0; args && args[i] && n < 15; i++)
            argv[n++] = args[i];
        argv[n] = NULL;
        execv(bin(), (char *const *)argv);
        _exit(127);
    }
    close(fds[1]);
    p->out = fdopen(fds[0], "r");
    char line[256] = "";
    p->url[0] = '\0';
    if (fgets(line, sizeof line, p->out)) {
        line[strcspn(line, "\n")] = '\0';
        snprintf(p->url, sizeof p->url, "%s", line);
    }
}

static int stop(proc *p, int sig)
{
    if (sig)
        kill(p->pid, sig);
    int st = 0;
    waitpid(p->pid, &st, 0);
    fclose(p->out);
    return st;
}

static size_t sink(char *d, size_t s, size_t n, void *ud)
{
    char **acc = ud;
    size_t old = *acc ? strlen(*acc) : 0;
    *acc = realloc(*acc, old + s * n + 1);
    memcpy(*acc + old, d, s * n);
    (*acc)[old + s * n] = '\0';
    return s * n;
}

static long post(const char *base, const char *path, const char *key, const char *body, char **out)
{
    char url[256], kh[128];
    snprintf(url, sizeof url, "%s%s", base, path);
    snprintf(kh, sizeof kh, "X-API-Key: %s", key);
    CURL *h = curl_easy_init();
    struct curl_slist *hl = curl_slist_append(NULL, kh);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
    if (body)
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 30L);
    long status = 0;
    assert_int_equal(curl_easy_perform(h), CURLE_OK);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(hl);
    curl_easy_cleanup(h);
    return status;
}

static void test_run_and_sigterm(void **state)
{
    (void)state;
    char root[64] = "/tmp/unit-main-XXXXXX";
    assert_non_null(mkdtemp(root));
    char sroot[128];
    snprintf(sroot, sizeof sroot, "%s/r", root);
    const char *args[] = {"--port", "0",   "--api-key",           "k1",  "--api-key", "k2",
                          "--root", sroot, "--create-latency-ms", "200", "--quiet",   NULL};
    proc p;
    start(&p, args);
    assert_memory_equal(p.url, "E2B_MOCK_URL=http://127.0.0.1:", 30);
    int port = atoi(p.url + 30);
    assert_true(port > 0 && port < 65536);
    const char *base = p.url + strlen("E2B_MOCK_URL=");

    char *body = NULL;
    assert_int_equal(post(base, "/v2/sandboxes", "wrong", "{\"templateID\":\"base\"}", &body), 401);
    free(body);
    body = NULL;
    struct timeval t0, t1;
    gettimeofday(&t0, NULL);
    assert_int_equal(post(base, "/v2/sandboxes", "k2", "{\"templateID\":\"base\"}", &body), 201);
    gettimeofday(&t1, NULL);
    long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_usec - t0.tv_usec) / 1000;
    assert_true(ms >= 200); /* injected latency is a lower bound */
    cJSON *j = cJSON_Parse(body);
    free(body);
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(j, "sandboxID");
    assert_true(cJSON_IsString(id));
    char dir[256];
    snprintf(dir, sizeof dir, "%s/%s", sroot, id->valuestring);
    cJSON_Delete(j);
    struct stat st;
    assert_int_equal(stat(dir, &st), 0);
    assert_true(S_ISDIR(st.st_mode));

    int ws = stop(&p, SIGTERM);
    assert_true(WIFEXITED(ws));
    assert_int_equal(WEXITSTATUS(ws), 0);
    assert_int_not_equal(stat(dir, &st), 0); /* sandbox killed, its dir removed */
    assert_int_equal(stat(sroot, &st), 0);   /* a given --root is kept */
    mock_rm_rf(root);
}

static void test_options(void **state)
{
    (void)state;
    const char *help[] = {"--help", NULL};
    proc p;
    start(&p, help);
    assert_memory_equal(p.url, "usage: e2b-mock", 15);
    int ws = stop(&p, 0);
    assert_true(WIFEXITED(ws) && WEXITSTATUS(ws) == 0);

    const char *bad[][3] = {{"--port", "abc", NULL},        {"--port", "70000", NULL},
                            {"--max-timeout-s", "0", NULL}, {"--bogus", NULL, NULL},
                            {"--api-key", "", NULL},        {"extra", NULL, NULL}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        start(&p, bad[i]);
        assert_string_equal(p.url, ""); /* nothing on stdout */
        ws = stop(&p, 0);
        assert_true(WIFEXITED(ws));
        assert_int_not_equal(WEXITSTATUS(ws), 0);
    }
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_run_and_sigterm),
        cmocka_unit_test(test_options),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
