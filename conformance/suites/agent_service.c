/* agent_service.c - hand-written checks of the agent service (e2b/agent_service.h) and of
 * `e2bc chat`, for what fixture files cannot express: idle sweeps (on demand and in the
 * background thread), the sandbox limit, health checks (healthy, unreachable, no sandbox
 * left behind, not counted as activity), file helpers with hostile content, an expired
 * sandbox replaced mid-conversation, bad arguments, and the e2bc chat command line (JSON
 * lines, the text input rule, exit codes 0/1/2). Each test gets a fresh target. */
#include "harness.h"

#include <ftw.h>
#include <pthread.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "e2b/agent_service.h"

static void svc_free(void *p)
{
    e2b_agent_service_free(p);
}

static void client_free(void *p)
{
    e2b_client_free(p);
}

static void json_free(void *p)
{
    cJSON_Delete(p);
}

static void reply_free(void *p)
{
    e2b_agent_reply_free(p);
    free(p);
}

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

static void rm_tree(void *p)
{
    nftw(p, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(p);
}

static char *tmpdir(void)
{
    char *d = strdup("/tmp/e2b-agent-svc-XXXXXX");
    assert_non_null(d);
    assert_non_null(mkdtemp(d));
    harness_defer(rm_tree, d);
    return d;
}

static e2b_agent_service *start(harness_target *t, e2b_agent_service_opts *o)
{
    e2b_agent_service_opts def;
    if (!o) {
        e2b_agent_service_opts_init(&def);
        o = &def;
    }
    if (!o->output_dir)
        o->output_dir = tmpdir();
    o->mode = t->live ? "cloud" : "local";
    e2b_agent_service *svc;
    e2b_error err;
    harness_assert_ok(e2b_agent_service_new(t->client, o, &svc, &err), &err, "service");
    harness_defer(svc_free, svc);
    return svc;
}

static e2b_agent_reply *say(e2b_agent_service *svc, const char *msg)
{
    e2b_agent_reply *r = calloc(1, sizeof *r);
    assert_non_null(r);
    harness_defer(reply_free, r);
    e2b_error err;
    harness_assert_ok(e2b_agent_handle_message(svc, msg, strlen(msg), r, &err), &err, msg);
    return r;
}

static bool exists_on_server(harness_target *t, const char *id)
{
    e2b_sandbox_info *info = NULL;
    e2b_error err;
    e2b_code rc = e2b_sandbox_get_info(t->client, id, &info, &err);
    e2b_sandbox_info_free(info);
    if (rc != E2B_OK && rc != E2B_ERR_SANDBOX_NOT_FOUND)
        fail_msg("get_info %s: %s", id, err.message);
    return rc == E2B_OK;
}

static size_t tracked(e2b_agent_service *svc)
{
    e2b_agent_sandbox_status *st;
    size_t n;
    e2b_error err;
    harness_assert_ok(e2b_agent_service_list(svc, &st, &n, &err), &err, "list");
    free(st);
    return n;
}

/* ---- idle clean-up ---------------------------------------------------------------------- */

static void test_sweep_kills_only_idle(void **state)
{
    (void)state;
    harness_target *t = harness_target_start(NULL);
    e2b_agent_service *svc = start(t, NULL);
    char a[E2B_AGENT_ID_MAX], b[E2B_AGENT_ID_MAX];
    e2b_error err;
    e2b_kv md[] = {{"run", harness_run_tag()}};
    e2b_agent_create_req req = {.metadata = md, .metadata_len = 1, .make_current = false};
    harness_assert_ok(e2b_agent_service_create(svc, &req, a, &err), &err, "create a");
    req.make_current = true;
    harness_assert_ok(e2b_agent_service_create(svc, &req, b, &err), &err, "create b");
    size_t killed = 99;
    /* nothing is idle for an hour */
    harness_assert_ok(e2b_agent_service_sweep(svc, 3600, &killed, &err), &err, "sweep");
    assert_int_equal(killed, 0);
    /* the configured idle timeout is 0 = never: a default sweep kills nothing */
    harness_assert_ok(e2b_agent_service_sweep(svc, -1, &killed, &err), &err, "sweep");
    assert_int_equal(killed, 0);
    usleep(1600 * 1000);
    /* b is used (activity), a stays idle */
    e2b_agent_reply *r = say(svc, "```python\nprint('keep b busy')\n```");
    assert_true(r->success);
    harness_assert_ok(e2b_agent_service_sweep(svc, 1, &killed, &err), &err, "sweep");
    assert_int_equal(killed, 1);
    assert_false(exists_on_server(t, a));
    assert_true(exists_on_server(t, b));
    assert_int_equal(tracked(svc), 1);
}

static void test_background_sweeper(void **state)
{
    (void)state;
    harness_target *t = harness_target_start(NULL);
    e2b_agent_service_opts o;
    e2b_agent_service_opts_init(&o);
    o.idle_timeout_s = 1;
    o.sweep_interval_s = 1;
    e2b_agent_service *svc = start(t, &o);
    e2b_agent_reply *r = say(svc, "```python\nx = 1\n```");
    assert_true(r->success);
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(r->json, "data"), "sandboxId");
    assert_true(cJSON_IsString(id));
    int64_t t0 = harness_now_ms();
    while (tracked(svc) > 0 && harness_now_ms() - t0 < 20000)
        usleep(100 * 1000);
    assert_int_equal(tracked(svc), 0);
    assert_false(exists_on_server(t, id->valuestring));
    /* the next message simply gets a new sandbox */
    r = say(svc, "```python\nprint('again')\n```");
    assert_true(r->success);
}

/* ---- limit, default sandbox ------------------------------------------------------------ */

static void test_limit_and_default_reuse(void **state)
{
    (void)state;
    harness_target *t = harness_target_start(NULL);
    e2b_agent_service_opts o;
    e2b_agent_service_opts_init(&o);
    o.max_sandboxes = 1;
    e2b_agent_service *svc = start(t, &o);
    char d1[E2B_AGENT_ID_MAX], d2[E2B_AGENT_ID_MAX], x[E2B_AGENT_ID_MAX];
    e2b_error err;
    harness_assert_ok(e2b_agent_service_default(svc, d1, &err), &err, "default");
    harness_assert_ok(e2b_agent_service_default(svc, d2, &err), &err, "default again");
    assert_string_equal(d1, d2); /* created once, reused */
    e2b_code rc = e2b_agent_service_create(svc, NULL, x, &err);
    harness_assert_code(rc, E2B_ERR_SERVICE_BUSY, &err, "create over the limit");
    assert_non_null(strstr(err.message, "maximum of 1"));
    assert_string_equal(x, "");
    assert_int_equal(tracked(svc), 1);
    /* a message still runs in the default sandbox */
    e2b_agent_reply *r = say(svc, "```python\nprint(6 * 7)\n```");
    assert_true(r->success);
    assert_non_null(strstr(r->text, "42"));
    bool killed = false;
    harness_assert_ok(e2b_agent_service_kill(svc, d1, &killed, &err), &err, "kill");
    assert_true(killed);
    harness_assert_ok(e2b_agent_service_kill(svc, d1, &killed, &err), &err, "kill again");
    assert_false(killed);
    harness_assert_ok(e2b_agent_service_create(svc, NULL, x, &err), &err, "room again");
}

/* ---- health ------------------------------------------------------------------------------ */

static void test_health(void **state)
{
    (void)state;
    harness_target *t = harness_target_start(NULL);
    e2b_agent_service *svc = start(t, NULL);
    e2b_agent_health h;
    e2b_error err;
    harness_assert_ok(e2b_agent_service_health(svc, &h, &err), &err, "health");
    assert_true(h.control_plane);
    assert_true(h.execution);
    assert_string_equal(h.message, "");
    assert_true(h.sandbox_id[0]);
    /* the temporary sandbox is gone and was never tracked */
    assert_false(exists_on_server(t, h.sandbox_id));
    assert_int_equal(tracked(svc), 0);

    /* with a current sandbox: runs there, in the default context, without activity */
    e2b_agent_reply *r = say(svc, "```python\nmine = 'user state'\n```");
    assert_true(r->success);
    e2b_agent_sandbox_status *st;
    size_t n;
    harness_assert_ok(e2b_agent_service_list(svc, &st, &n, &err), &err, "list");
    assert_int_equal(n, 1);
    int64_t last = st[0].last_activity_ms;
    char id[E2B_AGENT_ID_MAX];
    snprintf(id, sizeof id, "%s", st[0].sandbox_id);
    free(st);
    usleep(20 * 1000);
    harness_assert_ok(e2b_agent_service_health(svc, &h, &err), &err, "health 2");
    assert_string_equal(h.sandbox_id, id);
    harness_assert_ok(e2b_agent_service_list(svc, &st, &n, &err), &err, "list");
    assert_int_equal(st[0].last_activity_ms, last);
    free(st);
    r = say(svc, "```python\nprint(mine)\n```"); /* the user's context is untouched */
    assert_true(r->success);
    assert_non_null(strstr(r->text, "user state"));
}

static void test_health_unreachable(void **state)
{
    (void)state;
    e2b_config cfg;
    e2b_config_init(&cfg);
    cfg.api_url = "http://127.0.0.1:1";
    cfg.sandbox_url = "http://127.0.0.1:1";
    cfg.api_key = "k";
    cfg.request_timeout_ms = 3000;
    e2b_client *cl;
    e2b_error err;
    harness_assert_ok(e2b_client_new(&cfg, &cl, &err), &err, "client");
    harness_defer(client_free, cl);
    e2b_agent_service *svc;
    harness_assert_ok(e2b_agent_service_new(cl, NULL, &svc, &err), &err, "service");
    harness_defer(svc_free, svc);
    e2b_agent_health h;
    e2b_code rc = e2b_agent_service_health(svc, &h, &err);
    harness_assert_code(rc, E2B_ERR_NETWORK, &err, "health");
    assert_false(h.control_plane);
    assert_false(h.execution);
    assert_non_null(strstr(h.message, "control plane"));
    char *text;
    cJSON *js;
    harness_assert_ok(e2b_agent_service_status(svc, &text, &js, &err), &err, "status");
    assert_non_null(strstr(text, "unavailable"));
    assert_true(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(js, "available")));
    free(text);
    cJSON_Delete(js);
    /* a message now is an infrastructure failure with a clear reply, not a crash */
    e2b_agent_reply r;
    const char *msg = "```python\nprint(1)\n```";
    harness_assert_ok(e2b_agent_handle_message(svc, msg, strlen(msg), &r, &err), &err, "message");
    assert_false(r.success);
    assert_int_equal(r.infra, E2B_ERR_NETWORK);
    assert_non_null(strstr(r.text, "Could not execute the code"));
    e2b_agent_reply_free(&r);
}

/* ---- files -------------------------------------------------------------------------------- */

static void test_files(void **state)
{
    (void)state;
    harness_target *t = harness_target_start(NULL);
    e2b_agent_service *svc = start(t, NULL);
    /* content that broke the plugin's generated Python: quotes, triple quotes, backslashes */
    const char *content = "a \"quoted\" 'x' \"\"\" ''' \\n \\ end\nline 2 ünïcode\n";
    e2b_error err;
    harness_assert_ok(
        e2b_agent_service_write_file(svc, NULL, "/home/user/it's \"odd\".txt", content, &err), &err,
        "write");
    char *got = NULL;
    harness_assert_ok(
        e2b_agent_service_read_file(svc, NULL, "/home/user/it's \"odd\".txt", &got, &err), &err,
        "read");
    assert_string_equal(got, content);
    free(got);
    /* the code sees the same file */
    e2b_agent_reply *r = say(
        svc, "```python\nprint(open('/home/user/it\\'s \"odd\".txt').read().count('\"'))\n```");
    assert_true(r->success);
    assert_non_null(strstr(r->text, "\n5\n")); /* 2 + 3 double quotes */
    e2b_code rc = e2b_agent_service_read_file(svc, NULL, "/home/user/missing.txt", &got, &err);
    harness_assert_code(rc, E2B_ERR_FILE_NOT_FOUND, &err, "missing file");
    assert_null(got);
    rc = e2b_agent_service_read_file(svc, "nosuchsandbox123456", "/x", &got, &err);
    harness_assert_code(rc, E2B_ERR_SANDBOX_NOT_FOUND, &err, "unknown sandbox");
}

/* ---- an expired sandbox mid-conversation ------------------------------------------------- */

static void test_expired_sandbox_rerun(void **state)
{
    (void)state;
    harness_target *t = harness_target_start(NULL);
    if (t->live) { /* a 1 s sandbox is a mock-only setting */
        print_message("SKIP: needs a 1 s sandbox timeout (mock only)\n");
        skip();
    }
    e2b_agent_service_opts o;
    e2b_agent_service_opts_init(&o);
    o.sandbox_timeout_s = 1;
    e2b_agent_service *svc = start(t, &o);
    e2b_agent_reply *r = say(svc, "```python\nv = 1\n```");
    assert_true(r->success);
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(r->json, "data"), "sandboxId");
    char first[E2B_AGENT_ID_MAX];
    snprintf(first, sizeof first, "%s", id->valuestring);
    int64_t t0 = harness_now_ms();
    while (exists_on_server(t, first) && harness_now_ms() - t0 < 15000)
        usleep(200 * 1000);
    assert_false(exists_on_server(t, first));
    r = say(svc, "```python\nprint('in a new sandbox')\n```");
    assert_true(r->success);
    assert_non_null(strstr(r->text, "had expired"));
    assert_non_null(strstr(r->text, "in a new sandbox"));
    id = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(r->json, "data"),
                                          "sandboxId");
    assert_string_not_equal(id->valuestring, first);
    assert_int_equal(tracked(svc), 1);
}

/* ---- bad arguments ------------------------------------------------------------------------ */

static void test_bad_arguments(void **state)
{
    (void)state;
    harness_target *t = harness_target_start(NULL);
    e2b_agent_service *svc = NULL;
    e2b_error err;
    e2b_agent_service_opts o;
    e2b_agent_service_opts_init(&o);
    assert_int_equal(e2b_agent_service_new(NULL, NULL, &svc, &err), E2B_ERR_INVALID_ARGUMENT);
    o.sweep_interval_s = 5;
    assert_int_equal(e2b_agent_service_new(t->client, &o, &svc, &err), E2B_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(err.message, "idle_timeout_s"));
    o.sweep_interval_s = 0;
    o.mode = "hybrid";
    assert_int_equal(e2b_agent_service_new(t->client, &o, &svc, &err), E2B_ERR_INVALID_ARGUMENT);
    assert_null(svc);
    svc = start(t, NULL);
    e2b_agent_reply r;
    assert_int_equal(e2b_agent_handle_message(NULL, "x", 1, &r, &err), E2B_ERR_INVALID_ARGUMENT);
    assert_int_equal(e2b_agent_handle_message(svc, NULL, 3, &r, &err), E2B_ERR_INVALID_ARGUMENT);
    assert_int_equal(e2b_agent_handle_message(svc, "x", 1, NULL, &err), E2B_ERR_INVALID_ARGUMENT);
    size_t big = E2B_AGENT_MAX_MESSAGE + 1;
    char *huge = malloc(big);
    assert_non_null(huge);
    memset(huge, 'a', big);
    assert_int_equal(e2b_agent_handle_message(svc, huge, big, &r, &err), E2B_ERR_INVALID_ARGUMENT);
    free(huge);
    assert_null(r.text);
    /* an empty message is no action */
    harness_assert_ok(e2b_agent_handle_message(svc, "", 0, &r, &err), &err, "empty");
    assert_int_equal(r.action, E2B_AGENT_ACTION_NONE);
    e2b_agent_reply_free(&r);
    assert_int_equal(e2b_agent_service_kill(svc, "", NULL, &err), E2B_ERR_INVALID_ARGUMENT);
    e2b_kv md[E2B_AGENT_META_MAX + 1];
    for (size_t i = 0; i <= E2B_AGENT_META_MAX; i++)
        md[i] = (e2b_kv){"k", "v"};
    e2b_agent_create_req req = {.metadata = md, .metadata_len = E2B_AGENT_META_MAX + 1};
    assert_int_equal(e2b_agent_service_create(svc, &req, NULL, &err), E2B_ERR_INVALID_ARGUMENT);
    e2b_agent_service_free(NULL);
    e2b_agent_reply_free(NULL);
    assert_int_equal(tracked(svc), 0);
}

/* ---- e2bc chat ------------------------------------------------------------------------------ */

/* Runs `e2bc chat ARGS < input` with the local mock; returns the exit status, output in
 * *out (deferred free). */
static int run_chat(const char *args, const char *input, char **out)
{
    const char *mock = getenv("E2B_MOCK_BIN");
    if (!mock)
        skip();
    char *dir = strdup(mock);
    char *tmp = tmpdir();
    char in_path[256], out_path[256], cmd[2048];
    snprintf(in_path, sizeof in_path, "%s/in.txt", tmp);
    snprintf(out_path, sizeof out_path, "%s/out.txt", tmp);
    FILE *f = fopen(in_path, "w");
    assert_non_null(f);
    fputs(input, f);
    fclose(f);
    snprintf(cmd, sizeof cmd,
             "cd %s && env -u E2B_API_KEY -u E2B_API_URL -u E2B_DEBUG %s/e2bc chat --out %s/img "
             "%s < %s > %s 2>/dev/null",
             tmp, dirname(dir), tmp, args, in_path, out_path);
    free(dir);
    int st = system(cmd);
    assert_true(WIFEXITED(st));
    f = fopen(out_path, "r");
    assert_non_null(f);
    char *buf = calloc(1, 1 << 20);
    assert_non_null(buf);
    size_t n = fread(buf, 1, (1 << 20) - 1, f);
    buf[n] = '\0';
    fclose(f);
    harness_defer(free, buf);
    *out = buf;
    return WEXITSTATUS(st);
}

static cJSON *json_line(char **cursor)
{
    char *nl = strchr(*cursor, '\n');
    if (!nl)
        fail_msg("missing output line at: %s", *cursor);
    *nl = '\0';
    cJSON *o = cJSON_Parse(*cursor);
    if (!o)
        fail_msg("output line is not JSON: %s", *cursor);
    *cursor = nl + 1;
    harness_defer(json_free, o);
    return o;
}

static void test_cli_chat_json(void **state)
{
    (void)state;
    if (harness_live_requested()) {
        print_message("SKIP: e2bc chat runs against its embedded local mock\n");
        skip();
    }
    char *out;
    int rc = run_chat("--json",
                      "{\"text\": \"```python\\nx = 20\\nprint('x is', x)\\n```\"}\n"
                      "\n"
                      "{\"text\": \"```python\\nimport matplotlib.pyplot as plt\\n"
                      "plt.plot([1, 2, 3], [x, 0, x]); plt.show()\\n```\"}\n"
                      "{\"command\": \"status\"}\n"
                      "{\"text\": \"Kill sandbox sbx-abc123def456\"}\n",
                      &out);
    assert_int_equal(rc, 1); /* the unknown id could not be killed */
    char *cur = out;
    cJSON *a = json_line(&cur);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(a, "action")->valuestring, "EXECUTE_CODE");
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(a, "success")));
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(a, "exitCode")->valueint, 0);
    assert_non_null(strstr(cJSON_GetObjectItemCaseSensitive(a, "text")->valuestring, "x is 20"));
    cJSON *b = json_line(&cur);
    cJSON *att = cJSON_GetObjectItemCaseSensitive(b, "attachments");
    assert_int_equal(cJSON_GetArraySize(att), 1);
    const char *png =
        cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(att, 0), "path")->valuestring;
    FILE *f = fopen(png, "rb");
    assert_non_null(f);
    unsigned char magic[8];
    assert_int_equal(fread(magic, 1, 8, f), 8);
    fclose(f);
    assert_memory_equal(magic, "\x89PNG\r\n\x1a\n", 8);
    cJSON *s = json_line(&cur);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(s, "mode")->valuestring, "local");
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(s, "activeSandboxes")->valueint, 1);
    cJSON *k = json_line(&cur);
    assert_false(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(k, "success")));
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(k, "exitCode")->valueint, 1);
    assert_string_equal(cur, "");

    rc = run_chat("--json", "{\"text\": \"```python\\nprint('ok')\\n```\"}\nnot json\n", &out);
    assert_int_equal(rc, 2);
    cur = out;
    json_line(&cur);
    cJSON *e = json_line(&cur);
    assert_string_equal(
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(e, "error"), "code")
            ->valuestring,
        "invalid_argument");
}

static void test_cli_chat_text_and_exit_codes(void **state)
{
    (void)state;
    if (harness_live_requested()) {
        print_message("SKIP: e2bc chat runs against its embedded local mock\n");
        skip();
    }
    char *out;
    /* blank lines inside an open fence belong to the code; the message ends at the empty
     * line after the closing fence; "." ends a message too */
    int rc = run_chat("",
                      "Run this:\n```python\na = 1\n\n\nprint('a =', a + 1)\n```\n\n"
                      "```python\nprint('second', a)\n```\n.\n",
                      &out);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "a = 2"));
    assert_non_null(strstr(out, "second 1"));
    rc = run_chat("--once \"$(printf '```python\\nraise ValueError(42)\\n```')\"", "", &out);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(out, "ValueError"));
    rc = run_chat("--once 'hello there'", "", &out);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "No action"));
    rc = run_chat("--bogus", "", &out);
    assert_int_equal(rc, 2);
}

/* ---- concurrency: a busy sandbox is never swept or killed -------------------------------- */

typedef struct bg_msg {
    e2b_agent_service *svc;
    e2b_agent_reply r;
    e2b_code rc;
    e2b_error err;
} bg_msg;

static void *bg_run(void *p)
{
    bg_msg *m = p;
    /* runs until the test has made its checks and writes go.txt (at most 30 s) */
    const char *msg = "```python\nimport os, time\nprint('slow start', flush=True)\n"
                      "for _ in range(600):\n    if os.path.exists('/home/user/go.txt'): break\n"
                      "    time.sleep(0.05)\nprint('slow end')\n```";
    m->rc = e2b_agent_handle_message(m->svc, msg, strlen(msg), &m->r, &m->err);
    return NULL;
}

static void test_busy_sandbox_not_swept(void **state)
{
    (void)state;
    harness_target *t = harness_target_start(NULL);
    e2b_agent_service *svc = start(t, NULL);
    char id[E2B_AGENT_ID_MAX];
    e2b_error err;
    harness_assert_ok(e2b_agent_service_default(svc, id, &err), &err, "default");
    bg_msg m = {.svc = svc};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, bg_run, &m), 0);
    /* wait until the message is executing (the sandbox is marked busy) */
    bool busy = false;
    int64_t t0 = harness_now_ms();
    while (!busy && harness_now_ms() - t0 < 10000) {
        e2b_agent_sandbox_status *st;
        size_t n;
        harness_assert_ok(e2b_agent_service_list(svc, &st, &n, &err), &err, "list");
        busy = n == 1 && st[0].busy;
        free(st);
        if (!busy)
            usleep(20 * 1000);
    }
    assert_true(busy);
    /* while it runs: sweeping with idle 0 skips it, killing it is refused, status works */
    size_t killed = 99;
    harness_assert_ok(e2b_agent_service_sweep(svc, 0, &killed, &err), &err, "sweep");
    assert_int_equal(killed, 0);
    e2b_code rc = e2b_agent_service_kill(svc, id, NULL, &err);
    harness_assert_code(rc, E2B_ERR_CONFLICT, &err, "kill busy");
    char *text;
    cJSON *js;
    harness_assert_ok(e2b_agent_service_status(svc, &text, &js, &err), &err, "status");
    assert_non_null(strstr(text, "busy"));
    free(text);
    cJSON_Delete(js);
    /* the file helpers work on a busy sandbox (no code execution), and let the cell end */
    harness_assert_ok(e2b_agent_service_write_file(svc, id, "/home/user/go.txt", "go", &err), &err,
                      "write go.txt");
    assert_int_equal(pthread_join(th, NULL), 0);
    harness_assert_ok(m.rc, &m.err, "background message");
    assert_true(m.r.success);
    assert_non_null(strstr(m.r.text, "slow end"));
    e2b_agent_reply_free(&m.r);
    assert_true(exists_on_server(t, id));
    /* idle now: a sweep with idle 0 takes it. The sweep takes a sandbox idle for MORE than
     * idle ms (now - last use > 0), and the message's end can be in the same millisecond */
    usleep(20 * 1000);
    harness_assert_ok(e2b_agent_service_sweep(svc, 0, &killed, &err), &err, "sweep 2");
    assert_int_equal(killed, 1);
    assert_false(exists_on_server(t, id));
}

static const struct CMUnitTest k_tests[] = {
    cmocka_unit_test(test_sweep_kills_only_idle),
    cmocka_unit_test(test_background_sweeper),
    cmocka_unit_test(test_busy_sandbox_not_swept),
    cmocka_unit_test(test_limit_and_default_reuse),
    cmocka_unit_test(test_health),
    cmocka_unit_test(test_health_unreachable),
    cmocka_unit_test(test_files),
    cmocka_unit_test(test_expired_sandbox_rerun),
    cmocka_unit_test(test_bad_arguments),
    cmocka_unit_test(test_cli_chat_json),
    cmocka_unit_test(test_cli_chat_text_and_exit_codes),
};

int main(int argc, char **argv)
{
    return harness_run(argc, argv, "agent-service", k_tests, sizeof k_tests / sizeof k_tests[0]);
}
