/* cli_e2bc.c - `e2bc run`, `e2bc sandbox ...`, `e2bc version|help` as a user runs them:
 * e2bc is a subprocess pointed at the suite's private e2b-mock (E2B_API_URL /
 * E2B_SANDBOX_URL / E2B_API_KEY in its environment), and once with none of them set so it
 * starts its own mock. Asserts what the user sees: stdout text, the --json shapes, files
 * written, exit codes (0 ok, 1 the code raised / the operation failed, 2 usage or
 * infrastructure). Mock only (skipped with E2B_LIVE). */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pty.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

static char e2bc_path[PATH_MAX + 32];
static char tmpdir[256];
static char errbuf[16384]; /* stderr of the last run_cli */

static void defer_sandbox(void *p)
{
    e2b_sandbox *sbx = p;
    e2b_sandbox_kill(e2b_sandbox_client(sbx), e2b_sandbox_id(sbx), NULL, NULL);
    e2b_sandbox_free(sbx);
}

static void rm_tmpdir(void *p)
{
    (void)p;
    char cmd[sizeof tmpdir + 16];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmpdir);
}

static void find_e2bc(void)
{
    /* e2bc lives in <build>/bin, the suites in <build>/tests */
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    assert_true(n > 0);
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    *slash = '\0';
    snprintf(e2bc_path, sizeof e2bc_path, "%s/../bin/e2bc", self);
    if (access(e2bc_path, X_OK) != 0)
        fail_msg("e2bc not found at %s", e2bc_path);
    snprintf(tmpdir, sizeof tmpdir, "/tmp/e2bc-cli2-XXXXXX");
    assert_non_null(mkdtemp(tmpdir));
    harness_defer(rm_tmpdir, NULL);
}

/* A fresh mock, the CLI's environment pointed at it, a scratch directory. When sbx_out is
 * not NULL, also a code-interpreter sandbox on it. */
static harness_target *setup_cli(e2b_sandbox **sbx_out)
{
    if (harness_live_requested())
        skip();
    harness_target *t = harness_target_start(NULL);
    if (sbx_out) {
        e2b_error err;
        e2b_create_opts co;
        e2b_create_opts_init(&co);
        co.template_id = "code-interpreter-v1";
        harness_assert_ok(e2b_sandbox_create(t->client, &co, sbx_out, &err), &err, "create");
        harness_defer(defer_sandbox, *sbx_out);
    }
    setenv("E2B_API_URL", t->url, 1);
    setenv("E2B_SANDBOX_URL", t->url, 1);
    setenv("E2B_API_KEY", "e2b_cli_test", 1);
    unsetenv("E2B_DEBUG");
    find_e2bc();
    return t;
}

/* Runs `e2bc <args>` through the shell in tmpdir (args are trusted test strings); returns
 * the exit status, the first `cap` bytes of stdout in out, stderr in errbuf. */
static int run_cli(const char *args, char *out, size_t cap)
{
    char cmd[PATH_MAX + 4096];
    snprintf(cmd, sizeof cmd, "cd '%s' && '%s' %s 2>'%s/stderr.txt'", tmpdir, e2bc_path, args,
             tmpdir);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    if (out && cap) {
        size_t n = fread(out, 1, cap - 1, p);
        out[n] = '\0';
    }
    char drain[4096];
    while (fread(drain, 1, sizeof drain, p) > 0) {
    }
    int st = pclose(p);
    char ep[sizeof tmpdir + 16];
    snprintf(ep, sizeof ep, "%s/stderr.txt", tmpdir);
    errbuf[0] = '\0';
    FILE *e = fopen(ep, "rb");
    if (e) {
        size_t n = fread(errbuf, 1, sizeof errbuf - 1, e);
        errbuf[n] = '\0';
        fclose(e);
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void write_file(const char *name, const char *text)
{
    char path[sizeof tmpdir + 64];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static const char *jstr(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsString(v))
        fail_msg("JSON member \"%s\" is not a string", key);
    return v->valuestring;
}

static bool jbool(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsBool(v))
        fail_msg("JSON member \"%s\" is not a bool", key);
    return cJSON_IsTrue(v);
}

#define ASSERT_ERR_HAS(s)                                                  \
    do {                                                                   \
        if (!strstr(errbuf, (s)))                                          \
            fail_msg("stderr lacks \"%s\"; stderr was:\n%s", (s), errbuf); \
    } while (0)

/* ---- e2bc run --------------------------------------------------------------------- */

static void test_run_sources_and_languages(void **state)
{
    (void)state;
    setup_cli(NULL);
    char out[16384];
    assert_int_equal(run_cli("run -c 'print(6*7)'", out, sizeof out), 0);
    assert_string_equal(out, "42\n");
    /* the last expression's value is printed like a REPL does */
    write_file("code.py", "x = 5\nprint(x * 2)\nx + 1\n");
    assert_int_equal(run_cli("run code.py", out, sizeof out), 0);
    assert_string_equal(out, "10\n6\n");
    assert_int_equal(run_cli("run - < code.py", out, sizeof out), 0);
    assert_string_equal(out, "10\n6\n");
    assert_int_equal(run_cli("run < code.py", out, sizeof out), 0);
    assert_string_equal(out, "10\n6\n");
    assert_int_equal(
        run_cli("run --language javascript -c 'console.log(\"js\"); 3*4'", out, sizeof out), 0);
    assert_string_equal(out, "js\n12\n");
    assert_int_equal(run_cli("run -l bash -c 'echo $((2+3)); echo err >&2'", out, sizeof out), 0);
    assert_string_equal(out, "5\n");
    ASSERT_ERR_HAS("err\n");
    assert_int_equal(
        run_cli("run -e FOO=bar -c 'import os; print(os.environ[\"FOO\"])'", out, sizeof out), 0);
    assert_string_equal(out, "bar\n");
}

static void test_run_errors_and_json(void **state)
{
    (void)state;
    setup_cli(NULL);
    char out[16384];
    /* the code raising is exit 1 with the traceback on stderr */
    assert_int_equal(run_cli("run -c 'print(\"before\"); 1/0'", out, sizeof out), 1);
    assert_string_equal(out, "before\n");
    ASSERT_ERR_HAS("ZeroDivisionError");

    assert_int_equal(run_cli("run --json -c 'print(\"a\"); 1/0'", out, sizeof out), 1);
    cJSON *o = cJSON_Parse(out);
    assert_non_null(o);
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(o, "error");
    assert_true(cJSON_IsObject(e));
    assert_string_equal(jstr(e, "name"), "ZeroDivisionError");
    assert_string_equal(jstr(e, "value"), "division by zero");
    const cJSON *logs = cJSON_GetObjectItemCaseSensitive(o, "logs");
    const cJSON *so = cJSON_GetObjectItemCaseSensitive(logs, "stdout");
    assert_true(cJSON_IsArray(so));
    assert_string_equal(cJSON_GetArrayItem(so, 0)->valuestring, "a\n");
    const cJSON *imgs = cJSON_GetObjectItemCaseSensitive(o, "images");
    assert_true(cJSON_IsArray(imgs));
    assert_int_equal(cJSON_GetArraySize(imgs), 0);
    assert_null(cJSON_GetObjectItemCaseSensitive(o, "failure"));
    cJSON_Delete(o);

    /* a successful --json run: a results entry for the last expression, no error */
    assert_int_equal(run_cli("run -j -c '2**10'", out, sizeof out), 0);
    o = cJSON_Parse(out);
    assert_non_null(o);
    assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(o, "error")));
    const cJSON *res = cJSON_GetObjectItemCaseSensitive(o, "results");
    assert_int_equal(cJSON_GetArraySize(res), 1);
    assert_string_equal(jstr(cJSON_GetArrayItem(res, 0), "text"), "1024");
    cJSON_Delete(o);
}

static void test_run_images(void **state)
{
    (void)state;
    setup_cli(NULL);
    char out[1 << 17];
    const char *plot = "-c 'import matplotlib\nmatplotlib.use(\"Agg\")\nimport matplotlib.pyplot "
                       "as plt\nplt.plot([1, 2, 3])\nplt.show()'";
    char args[1024];
    snprintf(args, sizeof args, "run -j -o figs %s", plot);
    assert_int_equal(run_cli(args, out, sizeof out), 0);
    cJSON *o = cJSON_Parse(out);
    assert_non_null(o);
    const cJSON *imgs = cJSON_GetObjectItemCaseSensitive(o, "images");
    assert_int_equal(cJSON_GetArraySize(imgs), 1);
    const char *path = cJSON_GetArrayItem(imgs, 0)->valuestring;
    assert_non_null(path);
    assert_non_null(strstr(path, "figs/run-"));
    assert_non_null(strstr(path, ".png"));
    char full[PATH_MAX];
    if (path[0] == '/')
        snprintf(full, sizeof full, "%s", path);
    else
        snprintf(full, sizeof full, "%s/%s", tmpdir, path);
    FILE *f = fopen(full, "rb");
    if (!f)
        fail_msg("image %s not written", full);
    unsigned char magic[8] = {0};
    assert_int_equal(fread(magic, 1, 8, f), 8);
    fclose(f);
    assert_memory_equal(magic, "\x89PNG\r\n\x1a\n", 8);
    cJSON_Delete(o);

    /* human mode says where the image went, on stderr */
    snprintf(args, sizeof args, "run --out figs2 %s", plot);
    assert_int_equal(run_cli(args, out, sizeof out), 0);
    ASSERT_ERR_HAS("e2bc: wrote ");
    ASSERT_ERR_HAS("figs2/run-");
}

static void test_run_timeout_partial(void **state)
{
    (void)state;
    setup_cli(NULL);
    char out[16384];
    const char *slow = "-c 'import time\nprint(\"early\", flush=True)\ntime.sleep(30)'";
    char args[512];
    snprintf(args, sizeof args, "run -T 1500 %s", slow);
    assert_int_equal(run_cli(args, out, sizeof out), 2);
    assert_string_equal(out, "early\n"); /* streamed before the deadline */
    ASSERT_ERR_HAS("operation_timeout");
    snprintf(args, sizeof args, "run --json --timeout 1500 %s", slow);
    assert_int_equal(run_cli(args, out, sizeof out), 2);
    cJSON *o = cJSON_Parse(out);
    assert_non_null(o);
    const cJSON *fl = cJSON_GetObjectItemCaseSensitive(o, "failure");
    assert_true(cJSON_IsObject(fl));
    assert_string_equal(jstr(fl, "code"), "operation_timeout");
    assert_true(jbool(fl, "partial"));
    const cJSON *so = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(o, "logs"),
                                                       "stdout");
    assert_string_equal(cJSON_GetArrayItem(so, 0)->valuestring, "early\n");
    cJSON_Delete(o);
}

static void test_run_existing_sandbox_and_context(void **state)
{
    (void)state;
    e2b_sandbox *sbx = NULL;
    harness_target *t = setup_cli(&sbx);
    const char *id = e2b_sandbox_id(sbx);
    e2b_error err;
    e2b_context *ctx = NULL;
    harness_assert_ok(e2b_context_create(sbx, "python", NULL, &ctx, &err), &err, "context");
    char out[16384], args[1024];
    /* state persists in the context across two e2bc invocations */
    snprintf(args, sizeof args, "run -s %s --context %s -c 'v = 41'", id, ctx->id);
    assert_int_equal(run_cli(args, out, sizeof out), 0);
    snprintf(args, sizeof args, "run -s %s -x %s -c 'print(v + 1)'", id, ctx->id);
    assert_int_equal(run_cli(args, out, sizeof out), 0);
    assert_string_equal(out, "42\n");
    /* an unknown context is an infrastructure error (2), not the code's (1) */
    snprintf(args, sizeof args, "run -s %s -x nosuchctx -c 1", id);
    assert_int_equal(run_cli(args, out, sizeof out), 2);
    ASSERT_ERR_HAS("not_found");
    e2b_context_free(ctx);
    /* the existing sandbox is not killed by run */
    e2b_sandbox_info *info = NULL;
    harness_assert_ok(e2b_sandbox_get_info(t->client, id, &info, &err), &err, "info after run");
    e2b_sandbox_info_free(info);

    /* an unknown sandbox: 2, and with --json a failure object without partial output */
    assert_int_equal(run_cli("run -s nosuchsbx -c 1", out, sizeof out), 2);
    ASSERT_ERR_HAS("connecting to the sandbox");
    assert_int_equal(run_cli("run -j -s nosuchsbx -c 1", out, sizeof out), 2);
    cJSON *o = cJSON_Parse(out);
    assert_non_null(o);
    const cJSON *fl = cJSON_GetObjectItemCaseSensitive(o, "failure");
    assert_string_equal(jstr(fl, "code"), "sandbox_not_found");
    assert_false(jbool(fl, "partial"));
    cJSON_Delete(o);

    /* --keep leaves the new sandbox running and names it */
    assert_int_equal(run_cli("run --keep -c 'print(1)'", out, sizeof out), 0);
    const char *kept = strstr(errbuf, "kept sandbox ");
    assert_non_null(kept);
    char kid[128] = {0};
    assert_int_equal(sscanf(kept, "kept sandbox %127s", kid), 1);
    harness_assert_ok(e2b_sandbox_get_info(t->client, kid, &info, &err), &err, "kept sandbox");
    e2b_sandbox_info_free(info);
    bool killed = false;
    harness_assert_ok(e2b_sandbox_kill(t->client, kid, &killed, &err), &err, "kill kept");
    assert_true(killed);
}

static void test_run_usage(void **state)
{
    (void)state;
    setup_cli(NULL);
    char out[8192];
    assert_int_equal(run_cli("run --help", out, sizeof out), 0);
    assert_memory_equal(out, "usage: e2bc run", 15);
    assert_non_null(strstr(out, "exit status: 0 ok, 1"));
    assert_int_equal(run_cli("run -l python -x abc -c 1", out, sizeof out), 2);
    ASSERT_ERR_HAS("exclude each other");
    write_file("a.py", "print(1)\n");
    assert_int_equal(run_cli("run -c 1 a.py", out, sizeof out), 2);
    ASSERT_ERR_HAS("not both");
    assert_int_equal(run_cli("run a.py a.py", out, sizeof out), 2);
    ASSERT_ERR_HAS("usage: e2bc run");
    assert_int_equal(run_cli("run -T abc -c 1", out, sizeof out), 2);
    ASSERT_ERR_HAS("--timeout");
    assert_int_equal(run_cli("run -T -5 -c 1", out, sizeof out), 2);
    assert_int_equal(run_cli("run -e NOEQUALS -c 1", out, sizeof out), 2);
    ASSERT_ERR_HAS("KEY=VALUE");
    assert_int_equal(run_cli("run /nonexistent/code.py", out, sizeof out), 2);
    ASSERT_ERR_HAS("cannot open /nonexistent/code.py");
    assert_int_equal(run_cli("run --bogus", out, sizeof out), 2);
    assert_string_equal(out, "");
}

/* ---- e2bc sandbox ----------------------------------------------------------------- */

static void test_sandbox_lifecycle(void **state)
{
    (void)state;
    setup_cli(NULL);
    char out[16384], args[512];
    assert_int_equal(run_cli("sandbox create --json -t code-interpreter-v1 -m owner=cli -T 300",
                             out, sizeof out),
                     0);
    cJSON *o = cJSON_Parse(out);
    assert_non_null(o);
    char id[128];
    snprintf(id, sizeof id, "%s", jstr(o, "sandboxID"));
    assert_string_equal(jstr(o, "templateID"), "code-interpreter-v1");
    assert_true(strlen(jstr(o, "envdVersion")) > 0);
    cJSON_Delete(o);

    assert_int_equal(run_cli("sandbox create", out, sizeof out), 0);
    assert_memory_equal(out, "sandbox   ", 10);
    assert_non_null(strstr(out, "\ntemplate  base\n"));
    assert_non_null(strstr(out, "\nenvd      "));

    /* list: the metadata filter finds exactly ours; JSON is one object per line */
    assert_int_equal(run_cli("sandbox list --json --metadata owner=cli", out, sizeof out), 0);
    char *nl = strchr(out, '\n');
    assert_non_null(nl);
    assert_string_equal(nl + 1, "");
    *nl = '\0';
    o = cJSON_Parse(out);
    assert_non_null(o);
    assert_string_equal(jstr(o, "sandboxID"), id);
    cJSON_Delete(o);
    assert_int_equal(run_cli("sandbox list", out, sizeof out), 0);
    assert_non_null(strstr(out, id));
    assert_non_null(strstr(out, "2 sandboxes (2 running)\n"));
    assert_int_equal(run_cli("sandbox list --limit 1 --state running", out, sizeof out), 0);
    assert_non_null(strstr(out, "1 sandbox ("));
    assert_int_equal(run_cli("sandbox list --state bogus", out, sizeof out), 2);
    ASSERT_ERR_HAS("--state is running, paused or all");
    assert_int_equal(run_cli("sandbox list --metadata nope", out, sizeof out), 2);
    assert_int_equal(run_cli("sandbox list --limit x", out, sizeof out), 2);

    /* info */
    snprintf(args, sizeof args, "sandbox info %s --json", id);
    assert_int_equal(run_cli(args, out, sizeof out), 0);
    o = cJSON_Parse(out);
    assert_non_null(o);
    assert_string_equal(jstr(o, "sandboxID"), id);
    cJSON_Delete(o);
    snprintf(args, sizeof args, "sandbox info %s", id);
    assert_int_equal(run_cli(args, out, sizeof out), 0);
    assert_non_null(strstr(out, id));
    assert_non_null(strstr(out, "owner"));

    /* timeout */
    snprintf(args, sizeof args, "sandbox timeout %s 120", id);
    assert_int_equal(run_cli(args, out, sizeof out), 0);
    assert_non_null(strstr(out, "now ends around"));
    assert_non_null(strstr(out, "(in 120 s)"));
    snprintf(args, sizeof args, "sandbox timeout --json %s 60", id);
    assert_int_equal(run_cli(args, out, sizeof out), 0);
    o = cJSON_Parse(out);
    assert_non_null(o);
    assert_string_equal(jstr(o, "sandboxID"), id);
    assert_true(jbool(o, "ok"));
    cJSON_Delete(o);
    snprintf(args, sizeof args, "sandbox timeout %s soon", id);
    assert_int_equal(run_cli(args, out, sizeof out), 2);
    ASSERT_ERR_HAS("whole number of seconds");

    /* pause twice, connect (resumes) twice */
    snprintf(args, sizeof args, "sandbox pause %s --json", id);
    assert_int_equal(run_cli(args, out, sizeof out), 0);
    o = cJSON_Parse(out);
    assert_non_null(o);
    assert_true(jbool(o, "paused"));
    cJSON_Delete(o);
    snprintf(args, sizeof args, "sandbox pause %s", id);
    assert_int_equal(run_cli(args, out, sizeof out), 0);
    assert_non_null(strstr(out, "was already paused"));
    assert_int_equal(run_cli("sandbox list --json --state paused", out, sizeof out), 0);
    assert_non_null(strstr(out, id));
    snprintf(args, sizeof args, "sandbox connect %s --json", id);
    assert_int_equal(run_cli(args, out, sizeof out), 0);
    o = cJSON_Parse(out);
    assert_non_null(o);
    assert_string_equal(jstr(o, "sandboxID"), id);
    assert_true(jbool(o, "resumed"));
    cJSON_Delete(o);
    snprintf(args, sizeof args, "sandbox connect --timeout 90 %s", id);
    assert_int_equal(run_cli(args, out, sizeof out), 0);
    assert_non_null(strstr(out, "resumed   no (it was running)"));

    /* kill twice */
    snprintf(args, sizeof args, "sandbox kill --json %s", id);
    assert_int_equal(run_cli(args, out, sizeof out), 0);
    o = cJSON_Parse(out);
    assert_non_null(o);
    assert_true(jbool(o, "killed"));
    cJSON_Delete(o);
    snprintf(args, sizeof args, "sandbox kill %s", id);
    assert_int_equal(run_cli(args, out, sizeof out), 1); /* the id was wrong: exit 1 */
    assert_non_null(strstr(out, "did not exist"));
    snprintf(args, sizeof args, "sandbox kill --json %s", id);
    assert_int_equal(run_cli(args, out, sizeof out), 1);
    o = cJSON_Parse(out);
    assert_non_null(o);
    assert_false(jbool(o, "killed"));
    cJSON_Delete(o);
}

static void test_sandbox_not_found_and_usage(void **state)
{
    (void)state;
    setup_cli(NULL);
    char out[8192];
    assert_int_equal(run_cli("sandbox info nosuch", out, sizeof out), 1);
    ASSERT_ERR_HAS("sandbox_not_found");
    assert_int_equal(run_cli("sandbox connect nosuch --json", out, sizeof out), 1);
    ASSERT_ERR_HAS("sandbox_not_found");
    assert_int_equal(run_cli("sandbox pause nosuch", out, sizeof out), 1);
    assert_int_equal(run_cli("sandbox timeout nosuch 10", out, sizeof out), 1);

    /* an unreachable server is infrastructure: 2, not the user's 1 */
    char saved_api[256];
    snprintf(saved_api, sizeof saved_api, "%s", getenv("E2B_API_URL"));
    setenv("E2B_API_URL", "http://127.0.0.1:1", 1); /* nothing listens on port 1 */
    assert_int_equal(run_cli("sandbox list", out, sizeof out), 2);
    ASSERT_ERR_HAS("(network)");
    assert_int_equal(run_cli("sandbox info someid --json", out, sizeof out), 2);
    assert_int_equal(run_cli("sandbox kill someid", out, sizeof out), 2);
    setenv("E2B_API_URL", saved_api, 1);

    assert_int_equal(run_cli("sandbox", out, sizeof out), 2);
    ASSERT_ERR_HAS("usage: e2bc sandbox <subcommand>");
    assert_int_equal(run_cli("sandbox --help", out, sizeof out), 0);
    assert_non_null(strstr(out, "e2bc sandbox kill ID"));
    assert_int_equal(run_cli("sandbox frobnicate", out, sizeof out), 2);
    ASSERT_ERR_HAS("unknown sandbox subcommand \"frobnicate\"");
    assert_int_equal(run_cli("sandbox info", out, sizeof out), 2);
    ASSERT_ERR_HAS("usage: e2bc sandbox info ID");
    assert_int_equal(run_cli("sandbox timeout abc", out, sizeof out), 2);
    assert_int_equal(run_cli("sandbox kill --help", out, sizeof out), 0);
    assert_string_equal(out, "usage: e2bc sandbox kill ID [--json]\n");
    assert_int_equal(run_cli("sandbox create --timeout never", out, sizeof out), 2);
    assert_int_equal(run_cli("sandbox create --metadata novalue", out, sizeof out), 2);
    ASSERT_ERR_HAS("--metadata expects KEY=VALUE");
    assert_int_equal(run_cli("sandbox create --env novalue", out, sizeof out), 2);
    ASSERT_ERR_HAS("--env expects KEY=VALUE");
    assert_int_equal(run_cli("sandbox connect --bogus x", out, sizeof out), 2);
    assert_int_equal(run_cli("sandbox kill --bogus x", out, sizeof out), 2);
}

/* ---- top level and the self-started mock ------------------------------------------ */

static void test_top_level(void **state)
{
    (void)state;
    setup_cli(NULL);
    char out[8192];
    assert_int_equal(run_cli("version", out, sizeof out), 0);
    assert_memory_equal(out, "e2bc (libe2b) ", 14);
    char ver[256];
    snprintf(ver, sizeof ver, "e2bc (libe2b) %s\n", e2b_version());
    assert_string_equal(out, ver);
    assert_int_equal(run_cli("--version", out, sizeof out), 0);
    assert_string_equal(out, ver);
    assert_int_equal(run_cli("--help", out, sizeof out), 0);
    assert_non_null(strstr(out, "commands:\n"));
    assert_non_null(strstr(out, "\n  run "));
    assert_non_null(strstr(out, "\n  sandbox "));
    assert_int_equal(run_cli("help", out, sizeof out), 0);
    assert_non_null(strstr(out, "E2B_API_KEY"));
    assert_int_equal(run_cli("version --json", out, sizeof out), 0);
    snprintf(ver, sizeof ver, "{\"version\":\"%s\"}\n", e2b_version());
    assert_string_equal(out, ver);
    assert_int_equal(run_cli("version --bogus", out, sizeof out), 2);
    /* every command has --help: usage on stdout, exit 0, nothing started */
    static const char *const cmds[] = {"run", "sandbox", "files", "cmd", "chat", "demo", "version"};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        char args[64], want[64];
        snprintf(args, sizeof args, "%s --help", cmds[i]);
        assert_int_equal(run_cli(args, out, sizeof out), 0);
        snprintf(want, sizeof want, "usage: e2bc %s", cmds[i]);
        if (strncmp(out, want, strlen(want)) != 0)
            fail_msg("`e2bc %s` printed:\n%s", args, out);
        assert_null(strstr(errbuf, "e2b-mock"));
    }
    /* --no-progress is accepted before the command and by the commands */
    assert_int_equal(run_cli("--no-progress version", out, sizeof out), 0);
    assert_int_equal(run_cli("--no-progress run --no-progress -c 'print(3)'", out, sizeof out), 0);
    assert_string_equal(out, "3\n");
    assert_int_equal(run_cli("sandbox list --no-progress --json", out, sizeof out), 0);
    assert_int_equal(run_cli("", out, sizeof out), 2);
    assert_string_equal(out, "");
    ASSERT_ERR_HAS("usage: e2bc <command>");
    assert_int_equal(run_cli("frobnicate", out, sizeof out), 2);
    ASSERT_ERR_HAS("unknown command \"frobnicate\"");
}

static void test_own_mock(void **state)
{
    (void)state;
    if (harness_live_requested())
        skip();
    const char *mock = getenv("E2B_MOCK_BIN");
    if (!mock || access(mock, X_OK) != 0)
        skip();
    unsetenv("E2B_API_URL");
    unsetenv("E2B_SANDBOX_URL");
    unsetenv("E2B_API_KEY");
    unsetenv("E2B_DEBUG");
    find_e2bc();
    char out[8192];
    assert_int_equal(run_cli("run -c 'print(\"own\")'", out, sizeof out), 0);
    assert_string_equal(out, "own\n");
    ASSERT_ERR_HAS("using a local e2b-mock at http://127.0.0.1:");
    /* --json keeps stderr quiet about the mock */
    assert_int_equal(run_cli("sandbox create --json", out, sizeof out), 0);
    cJSON *o = cJSON_Parse(out);
    assert_non_null(o);
    assert_string_equal(jstr(o, "templateID"), "base");
    cJSON_Delete(o);
    assert_null(strstr(errbuf, "using a local e2b-mock"));
    /* each invocation has its own mock: nothing survives from the previous one */
    assert_int_equal(run_cli("sandbox list", out, sizeof out), 0);
    assert_string_equal(out, "0 sandboxes (0 running)\n");
}

/* E2B_API_URL pointing at a mock on this machine, no key and no E2B_SANDBOX_URL: e2bc
 * reuses that mock (control plane and sandbox traffic) instead of starting its own */
static void test_reuse_pointed_at_mock(void **state)
{
    (void)state;
    harness_target *t = setup_cli(NULL);
    unsetenv("E2B_API_KEY");
    unsetenv("E2B_SANDBOX_URL");
    char out[8192];
    assert_int_equal(run_cli("sandbox create --json -t code-interpreter-v1", out, sizeof out), 0);
    cJSON *o = cJSON_Parse(out);
    assert_non_null(o);
    char id[128];
    snprintf(id, sizeof id, "%s", jstr(o, "sandboxID"));
    cJSON_Delete(o);
    /* the sandbox is on the harness's mock */
    e2b_sandbox_info *info = NULL;
    e2b_error err;
    harness_assert_ok(e2b_sandbox_get_info(t->client, id, &info, &err), &err, "info");
    e2b_sandbox_info_free(info);
    char args[256];
    snprintf(args, sizeof args, "run -s %s -c 'print(\"reused\")'", id);
    assert_int_equal(run_cli(args, out, sizeof out), 0);
    assert_string_equal(out, "reused\n");
    assert_null(strstr(errbuf, "using a local e2b-mock"));
    snprintf(args, sizeof args, "sandbox kill %s", id);
    assert_int_equal(run_cli(args, out, sizeof out), 0);
}


/* ---- the progress indicator (stderr on a terminal) ------------------------------- */

/* Runs e2bc (argv, NULL-terminated) in tmpdir with stderr on a new pseudo-terminal and,
 * when stdout_on_pty, stdout too (else stdout is a pipe). no_progress_env sets
 * E2BC_NO_PROGRESS=1 for the child. Collects both until the child exits; returns its
 * exit status. */
static int run_on_pty(char *const *args, bool stdout_on_pty, bool no_progress_env, char *tty,
                      size_t tty_cap, char *out, size_t out_cap)
{
    int master, slave;
    struct winsize ws = {.ws_row = 24, .ws_col = 100};
    assert_int_equal(openpty(&master, &slave, NULL, NULL, &ws), 0);
    int pfd[2];
    assert_int_equal(pipe(pfd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        setsid();
        ioctl(slave, TIOCSCTTY, 0);
        int devnull = open("/dev/null", O_RDONLY);
        dup2(devnull, STDIN_FILENO);
        dup2(stdout_on_pty ? slave : pfd[1], STDOUT_FILENO);
        dup2(slave, STDERR_FILENO);
        close(master), close(slave), close(pfd[0]), close(pfd[1]), close(devnull);
        if (no_progress_env)
            setenv("E2BC_NO_PROGRESS", "1", 1);
        else
            unsetenv("E2BC_NO_PROGRESS");
        if (chdir(tmpdir) != 0)
            _exit(126);
        execv(e2bc_path, args);
        _exit(127);
    }
    close(slave);
    close(pfd[1]);
    size_t tn = 0, on = 0;
    bool tty_open = true, out_open = true;
    while (tty_open || out_open) {
        struct pollfd fds[2] = {{.fd = tty_open ? master : -1, .events = POLLIN},
                                {.fd = out_open ? pfd[0] : -1, .events = POLLIN}};
        int r = poll(fds, 2, 30000);
        assert_true(r > 0); /* 30 s without a byte: e2bc hangs */
        if (fds[0].revents) {
            char buf[4096];
            ssize_t n = read(master, buf, sizeof buf);
            if (n <= 0) { /* EIO once the last slave fd is closed */
                tty_open = false;
            } else {
                size_t k = (size_t)n < tty_cap - 1 - tn ? (size_t)n : tty_cap - 1 - tn;
                memcpy(tty + tn, buf, k);
                tn += k;
            }
        }
        if (fds[1].revents) {
            char buf[4096];
            ssize_t n = read(pfd[0], buf, sizeof buf);
            if (n <= 0) {
                out_open = false;
            } else {
                size_t k = (size_t)n < out_cap - 1 - on ? (size_t)n : out_cap - 1 - on;
                memcpy(out + on, buf, k);
                on += k;
            }
        }
    }
    tty[tn] = '\0';
    out[on] = '\0';
    close(master);
    close(pfd[0]);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

#define PROGRESS_ERASE "\r\033[K"

/* Every drawn indicator ("<spin> e2bc: <label> <s>.<d>s") is followed by an erase before
 * anything else reaches the terminal; returns how many were drawn. */
static int check_indicators(const char *tty, const char *label)
{
    char needle[128];
    snprintf(needle, sizeof needle, " e2bc: %s ", label);
    int drawn = 0;
    for (const char *p = strstr(tty, needle); p; p = strstr(p + 1, needle)) {
        /* it was drawn right after an erase */
        if (p - tty < 5 || memcmp(p - 5, PROGRESS_ERASE, 3) != 0)
            fail_msg("indicator not preceded by an erase:\n%s", tty);
        const char *q = p + strlen(needle);
        while (*q >= '0' && *q <= '9')
            q++;
        if (q[0] != '.' || q[1] < '0' || q[1] > '9' || q[2] != 's')
            fail_msg("indicator without elapsed seconds at: %.60s", p);
        if (strncmp(q + 3, PROGRESS_ERASE, 4) != 0)
            fail_msg("indicator not erased before the next output: %.80s", p);
        drawn++;
    }
    return drawn;
}

static void test_progress_indicator(void **state)
{
    (void)state;
    setup_cli(NULL);
    static char tty[65536], out[65536];
    /* output, 1.5 s of silence, output on stderr, 1.5 s of silence, output */
    char code[] = "import sys, time\n"
                  "print('out-1', flush=True)\n"
                  "time.sleep(1.5)\n"
                  "print('err-1', file=sys.stderr, flush=True)\n"
                  "time.sleep(1.5)\n"
                  "print('out-2')\n";
    char a0[] = "e2bc", a1[] = "run", a2[] = "-c", a3[] = "--no-progress";
    char *args[] = {a0, a1, a2, code, NULL, NULL};

    /* stderr on a terminal, stdout a pipe: the indicator appears on the terminal, stdout
     * carries the program's output only */
    assert_int_equal(run_on_pty(args, false, false, tty, sizeof tty, out, sizeof out), 0);
    assert_string_equal(out, "out-1\nout-2\n");
    int drawn = check_indicators(tty, "running python...");
    if (drawn < 2) /* one per silent stretch at least */
        fail_msg("expected the indicator in both silent stretches, drew %d:\n%s", drawn, tty);
    assert_non_null(strstr(tty, "err-1"));
    /* nothing of it is left at the end: the last thing it wrote is an erase */
    const char *last = strstr(tty, "e2bc: running python...");
    while (last && strstr(last + 1, "e2bc: running python..."))
        last = strstr(last + 1, "e2bc: running python...");
    assert_non_null(strstr(last, PROGRESS_ERASE));

    /* stdout and stderr on the same terminal (what a user sees): still never mixed */
    assert_int_equal(run_on_pty(args, true, false, tty, sizeof tty, out, sizeof out), 0);
    assert_true(check_indicators(tty, "running python...") >= 2);
    const char *o1 = strstr(tty, "out-1"), *e1 = strstr(tty, "err-1"), *o2 = strstr(tty, "out-2");
    assert_true(o1 && e1 && o2 && o1 < e1 && e1 < o2);

    /* --no-progress and E2BC_NO_PROGRESS=1 turn it off */
    char *noargs[] = {a0, a1, a3, a2, code, NULL};
    assert_int_equal(run_on_pty(noargs, false, false, tty, sizeof tty, out, sizeof out), 0);
    assert_string_equal(out, "out-1\nout-2\n");
    assert_null(strstr(tty, "e2bc: running"));
    assert_null(strstr(tty, "\033[K"));
    assert_int_equal(run_on_pty(args, false, true, tty, sizeof tty, out, sizeof out), 0);
    assert_null(strstr(tty, "e2bc: running"));
    assert_null(strstr(tty, "\033[K"));

    /* stderr not a terminal: not a byte of it */
    write_file("slow.py", code);
    char sout[1024];
    assert_int_equal(run_cli("run slow.py", sout, sizeof sout), 0);
    assert_string_equal(sout, "out-1\nout-2\n");
    assert_null(strstr(errbuf, "e2bc: running"));
    assert_null(strstr(errbuf, "\033["));
    assert_null(strstr(errbuf, "\r"));
    assert_string_equal(errbuf, "err-1\n");
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_run_sources_and_languages),
        cmocka_unit_test(test_run_errors_and_json),
        cmocka_unit_test(test_run_images),
        cmocka_unit_test(test_run_timeout_partial),
        cmocka_unit_test(test_run_existing_sandbox_and_context),
        cmocka_unit_test(test_run_usage),
        cmocka_unit_test(test_sandbox_lifecycle),
        cmocka_unit_test(test_sandbox_not_found_and_usage),
        cmocka_unit_test(test_top_level),
        cmocka_unit_test(test_own_mock),
        cmocka_unit_test(test_reuse_pointed_at_mock),
        cmocka_unit_test(test_progress_indicator),
    };
    return harness_run(argc, argv, "cli_e2bc", tests, sizeof tests / sizeof tests[0]);
}
