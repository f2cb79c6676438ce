/* files_cli.c - `e2bc files` and `e2bc cmd` as a user runs them, against the suite's
 * private e2b-mock (the CLI is pointed at it with E2B_API_URL / E2B_SANDBOX_URL): streamed
 * put/get of a binary file, ls/stat JSON, mkdir twice, rm, a missing file's exit status; cmd
 * exit codes, stdin, --json, background + list + kill. Mock only (skipped with E2B_LIVE). */
#include "harness.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char e2bc_path[PATH_MAX + 32];
static char tmpdir[256];

static void defer_sandbox(void *p)
{
    e2b_sandbox *sbx = p;
    e2b_error err;
    e2b_sandbox_kill(e2b_sandbox_client(sbx), e2b_sandbox_id(sbx), NULL, &err);
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

/* A sandbox on a fresh mock, the CLI's environment pointed at it, a scratch directory. */
static e2b_sandbox *setup_cli(void)
{
    if (harness_live_requested()) {
        print_message("SKIP: e2bc files CLI cases run against a private e2b-mock only\n");
        skip();
    }
    harness_target *t = harness_target_start(NULL);
    e2b_error err;
    e2b_sandbox *sbx = NULL;
    harness_assert_ok(e2b_sandbox_create(t->client, NULL, &sbx, &err), &err, "create");
    harness_defer(defer_sandbox, sbx);
    setenv("E2B_API_URL", t->url, 1);
    setenv("E2B_SANDBOX_URL", t->url, 1);
    setenv("E2B_API_KEY", "e2b_cli_test", 1);
    unsetenv("E2B_DEBUG");
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
    snprintf(tmpdir, sizeof tmpdir, "/tmp/e2bc-cli-XXXXXX");
    assert_non_null(mkdtemp(tmpdir));
    harness_defer(rm_tmpdir, NULL);
    return sbx;
}

/* Runs `e2bc <args>` through the shell (args are trusted test strings); returns the exit
 * status and the first `cap` bytes of stdout in out. */
static int run_cli(const char *args, char *out, size_t cap)
{
    char cmd[PATH_MAX + 2048];
    snprintf(cmd, sizeof cmd, "cd '%s' && '%s' %s", tmpdir, e2bc_path, args);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n = 0;
    if (out && cap) {
        n = fread(out, 1, cap - 1, p);
        out[n] = '\0';
    }
    char drain[4096];
    while (fread(drain, 1, sizeof drain, p) > 0) {
    }
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void test_files_cli(void **state)
{
    (void)state;
    e2b_sandbox *sbx = setup_cli();
    const char *id = e2b_sandbox_id(sbx);
    char out[8192], args[1024];
    /* a 3 MiB binary file (all byte values) */
    char local[sizeof tmpdir + 16];
    snprintf(local, sizeof local, "%s/in.bin", tmpdir);
    FILE *f = fopen(local, "wb");
    assert_non_null(f);
    for (int i = 0; i < 3 * 1024 * 1024; i++)
        fputc((i * 7 + i / 251) & 0xff, f);
    fclose(f);

    snprintf(args, sizeof args, "files put -s %s in.bin /home/user/cli/in.bin", id);
    assert_int_equal(run_cli(args, out, sizeof out), 0);
    assert_string_equal(out, "/home/user/cli/in.bin\n");
    snprintf(args, sizeof args, "files put -s %s -z in.bin cli/gz.bin", id); /* gzip, relative */
    assert_int_equal(run_cli(args, out, sizeof out), 0);
    snprintf(args, sizeof args,
             "files get -s %s /home/user/cli/in.bin out.bin && cmp in.bin out.bin", id);
    assert_int_equal(run_cli(args, NULL, 0), 0);
    snprintf(args, sizeof args, "files get -s %s -z cli/gz.bin - | cmp in.bin -", id);
    assert_int_equal(run_cli(args, NULL, 0), 0);

    snprintf(args, sizeof args, "files ls -s %s -j /home/user/cli", id);
    assert_int_equal(run_cli(args, out, sizeof out), 0);
    cJSON *arr = cJSON_Parse(out);
    assert_true(cJSON_IsArray(arr));
    assert_int_equal(cJSON_GetArraySize(arr), 2);
    cJSON *it;
    cJSON_ArrayForEach(it, arr)
    {
        assert_string_equal(cJSON_GetObjectItemCaseSensitive(it, "type")->valuestring, "file");
        assert_int_equal((int)cJSON_GetObjectItemCaseSensitive(it, "size")->valuedouble,
                         3 * 1024 * 1024);
    }
    cJSON_Delete(arr);

    snprintf(args, sizeof args, "files mkdir -s %s -j /home/user/cli/sub", id);
    assert_int_equal(run_cli(args, out, sizeof out), 0);
    assert_string_equal(out, "{\"created\":true}\n");
    assert_int_equal(run_cli(args, out, sizeof out), 0);
    assert_string_equal(out, "{\"created\":false}\n");
    snprintf(args, sizeof args, "files stat -s %s -j /home/user/cli/sub", id);
    assert_int_equal(run_cli(args, out, sizeof out), 0);
    assert_non_null(strstr(out, "\"type\":\"dir\""));

    /* --json on get (a LOCAL file is needed: stdout carries the JSON) and rm */
    snprintf(args, sizeof args, "files get -s %s -j /home/user/cli/in.bin j.bin", id);
    assert_int_equal(run_cli(args, out, sizeof out), 0);
    cJSON *g = cJSON_Parse(out);
    assert_non_null(g);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(g, "path")->valuestring,
                        "/home/user/cli/in.bin");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(g, "local")->valuestring, "j.bin");
    assert_int_equal((int)cJSON_GetObjectItemCaseSensitive(g, "bytes")->valuedouble,
                     3 * 1024 * 1024);
    cJSON_Delete(g);
    snprintf(args, sizeof args, "files get -s %s -j /home/user/cli/in.bin 2>/dev/null", id);
    assert_int_equal(run_cli(args, out, sizeof out), 2);
    assert_string_equal(out, "");
    snprintf(args, sizeof args, "files rm -s %s -j /home/user/cli/sub", id);
    assert_int_equal(run_cli(args, out, sizeof out), 0);
    assert_string_equal(out, "{\"path\":\"/home/user/cli/sub\",\"removed\":true}\n");
    snprintf(args, sizeof args, "files rm -s %s /home/user/cli 2>/dev/null", id);
    assert_int_equal(run_cli(args, NULL, 0), 0);
    snprintf(args, sizeof args, "files get -s %s /home/user/cli/in.bin gone.bin 2>/dev/null", id);
    assert_int_equal(run_cli(args, NULL, 0), 1);
    char gone[sizeof tmpdir + 16];
    snprintf(gone, sizeof gone, "%s/gone.bin", tmpdir);
    assert_int_not_equal(access(gone, F_OK), 0); /* no partial file left behind */
    assert_int_equal(run_cli("files frobnicate 2>/dev/null", NULL, 0), 2);
    /* an unknown sandbox is the user's error (1); an unreachable server is infrastructure
     * (2) */
    assert_int_equal(run_cli("files ls -s nosuchsandbox 2>/dev/null", NULL, 0), 1);
    char saved_api[256], saved_sbx[256];
    snprintf(saved_api, sizeof saved_api, "%s", getenv("E2B_API_URL"));
    snprintf(saved_sbx, sizeof saved_sbx, "%s", getenv("E2B_SANDBOX_URL"));
    setenv("E2B_API_URL", "http://127.0.0.1:1", 1); /* nothing listens on port 1 */
    setenv("E2B_SANDBOX_URL", "http://127.0.0.1:1", 1);
    assert_int_equal(run_cli("files ls -s x 2>/dev/null", NULL, 0), 2);
    setenv("E2B_API_URL", saved_api, 1);
    setenv("E2B_SANDBOX_URL", saved_sbx, 1);
}

static void test_cmd_cli(void **state)
{
    (void)state;
    e2b_sandbox *sbx = setup_cli();
    const char *id = e2b_sandbox_id(sbx);
    char out[8192], args[1024];
    snprintf(args, sizeof args, "cmd -s %s -e A=1 -C /home/user 'echo $A; pwd; exit 7'", id);
    assert_int_equal(run_cli(args, out, sizeof out), 7);
    assert_string_equal(out, "1\n/home/user\n");
    snprintf(args, sizeof args, "cmd -s %s -i 'wc -l' < /proc/self/status", id);
    assert_int_equal(run_cli(args, out, sizeof out), 0);
    assert_true(atoi(out) > 5);
    snprintf(args, sizeof args, "cmd -s %s -j 'echo hi; echo e >&2; exit 1'", id);
    assert_int_equal(run_cli(args, out, sizeof out), 1);
    cJSON *o = cJSON_Parse(out);
    assert_non_null(o);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(o, "stdout")->valuestring, "hi\n");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(o, "stderr")->valuestring, "e\n");
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(o, "exitCode")->valueint, 1);
    cJSON_Delete(o);

    snprintf(args, sizeof args, "cmd -s %s -b 'sleep 60'", id);
    assert_int_equal(run_cli(args, out, sizeof out), 0);
    long pid = strtol(out, NULL, 10);
    assert_true(pid > 0);
    snprintf(args, sizeof args, "cmd -s %s -L", id);
    assert_int_equal(run_cli(args, out, sizeof out), 0);
    char want[64];
    snprintf(want, sizeof want, "%ld /bin/bash -l -c sleep 60", pid);
    assert_non_null(strstr(out, want));
    /* the same with --json */
    snprintf(args, sizeof args, "cmd -s %s -L -j", id);
    assert_int_equal(run_cli(args, out, sizeof out), 0);
    cJSON *list = cJSON_Parse(out);
    assert_true(cJSON_IsArray(list));
    bool listed = false;
    const cJSON *it;
    cJSON_ArrayForEach(it, list)
    {
        if (cJSON_GetObjectItemCaseSensitive(it, "pid")->valuedouble == (double)pid) {
            listed = true;
            assert_string_equal(cJSON_GetObjectItemCaseSensitive(it, "cmd")->valuestring,
                                "/bin/bash");
            const cJSON *av = cJSON_GetObjectItemCaseSensitive(it, "args");
            assert_string_equal(cJSON_GetArrayItem(av, cJSON_GetArraySize(av) - 1)->valuestring,
                                "sleep 60");
        }
    }
    assert_true(listed);
    cJSON_Delete(list);
    snprintf(args, sizeof args, "cmd -s %s -K %ld -j", id, pid);
    assert_int_equal(run_cli(args, out, sizeof out), 0);
    snprintf(want, sizeof want, "{\"pid\":%ld,\"killed\":true}\n", pid);
    assert_string_equal(out, want);
    snprintf(args, sizeof args, "cmd -s %s -K %ld -j 2>/dev/null", id, pid);
    assert_int_equal(run_cli(args, out, sizeof out), 1);
    snprintf(want, sizeof want, "{\"pid\":%ld,\"killed\":false}\n", pid);
    assert_string_equal(out, want);
    snprintf(args, sizeof args, "cmd -s %s -K %ld 2>/dev/null", id, pid);
    assert_int_equal(run_cli(args, NULL, 0), 1);
    snprintf(args, sizeof args, "cmd -s %s -b -j 'sleep 60'", id);
    assert_int_equal(run_cli(args, out, sizeof out), 0);
    cJSON *bg = cJSON_Parse(out);
    assert_non_null(bg);
    assert_true(cJSON_GetObjectItemCaseSensitive(bg, "pid")->valuedouble > 0);
    cJSON_Delete(bg);
    snprintf(args, sizeof args, "cmd -s %s -T 2000 'sleep 30' 2>/dev/null", id);
    assert_int_equal(run_cli(args, NULL, 0), 255);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_files_cli),
        cmocka_unit_test(test_cmd_cli),
    };
    return harness_run(argc, argv, "files_cli", tests, sizeof tests / sizeof tests[0]);
}
