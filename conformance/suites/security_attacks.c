/* security_attacks.c - attacks against the local sandbox isolation of e2b-mock (ctest label
 * `security`). Every case is an attack that must FAIL, tried through every surface that could
 * carry it: code execution (e2b_run_code in python/bash/javascript), commands
 * (e2b_commands_run), the files HTTP routes (e2b_files_read/write) and the filesystem RPCs
 * (e2b_files_list/stat/rename). See mockserver/ISOLATION.md for what is enforced.
 *
 * Each case leaves an isolate-style record (status OK = the attack failed as it must / FAIL,
 * CPU and wall time, peak memory of the sandbox, exit code or signal of the attack), printed as
 * one table line and written to <test bin dir>/security-records.json (build/tests/).
 *
 * Mock-only (skipped with E2B_LIVE=1): the cases inspect the host (/proc, cgroups, the sandbox
 * root). Bombs run only inside the sandbox, with small limits passed to the mock. */
#include "harness.h"

#include <curl/curl.h>
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#define CANARY_NAME "E2B_SECURITY_CANARY"
#define CANARY_VALUE "canary-7d1f3b-must-not-leak"

/* ------------------------------------------------------------------ records */

typedef struct record {
    char name[64];
    int ok;
    double cpu_ms, wall_ms;
    long long peak_bytes; /* -1 unknown */
    char exit_desc[64];
} record;

static record g_recs[96];
static size_t g_nrecs;
static record *g_cur;
static int64_t g_t0;
static double g_cpu0;
static pid_t g_mock_pid;
static char g_sbx_peak_id[32]; /* sandbox whose cgroup peak is reported */
static char g_mem_cg[512];     /* the mock's memory cgroup path */
static char g_pids_cg[512];    /* the mock's pids cgroup path */

/* utime+stime(+children) of the mock, in ms */
static double mock_cpu_ms(void)
{
    if (g_mock_pid <= 0)
        return 0;
    char path[64], buf[2048];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)g_mock_pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    if (!p)
        return 0;
    unsigned long long v[4] = {0};
    /* fields after ')': state(3) ... utime(14) stime(15) cutime(16) cstime(17) */
    int field = 2;
    for (char *tok = strtok(p + 1, " "); tok; tok = strtok(NULL, " ")) {
        field++;
        if (field >= 14 && field <= 17)
            v[field - 14] = strtoull(tok, NULL, 10);
        if (field == 17)
            break;
    }
    return (double)(v[0] + v[1] + v[2] + v[3]) * 1000.0 / (double)sysconf(_SC_CLK_TCK);
}

static long long mock_vm_kb(const char *key)
{
    if (g_mock_pid <= 0)
        return -1;
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)g_mock_pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return -1;
    long long v = -1;
    size_t kl = strlen(key);
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, key, kl) && line[kl] == ':')
            v = atoll(line + kl + 1);
    fclose(f);
    return v;
}

static long long read_ll(const char *path)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return -1;
    long long v = -1;
    if (fscanf(f, "%lld", &v) != 1)
        v = -1;
    fclose(f);
    return v;
}

static long long sbx_peak(void)
{
    if (!g_sbx_peak_id[0] || !g_mem_cg[0])
        return -1;
    char p[700];
    snprintf(p, sizeof p, "/sys/fs/cgroup/memory%s/e2b-mock/%s/memory.max_usage_in_bytes", g_mem_cg,
             g_sbx_peak_id);
    return read_ll(p);
}

static void write_records(void)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (!slash)
        return;
    snprintf(slash + 1, sizeof exe - (size_t)(slash + 1 - exe), "security-records.json");
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; i < g_nrecs; i++) {
        record *r = &g_recs[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "case", r->name);
        cJSON_AddStringToObject(o, "status", r->ok ? "OK" : "FAIL");
        cJSON_AddNumberToObject(o, "cpu_ms", r->cpu_ms);
        cJSON_AddNumberToObject(o, "wall_ms", r->wall_ms);
        if (r->peak_bytes >= 0)
            cJSON_AddNumberToObject(o, "peak_memory_bytes", (double)r->peak_bytes);
        else
            cJSON_AddNullToObject(o, "peak_memory_bytes");
        cJSON_AddStringToObject(o, "exit", r->exit_desc);
        cJSON_AddItemToArray(arr, o);
    }
    char *s = cJSON_Print(arr);
    cJSON_Delete(arr);
    if (!s)
        return;
    FILE *f = fopen(exe, "we");
    if (f) {
        fputs(s, f);
        fputc('\n', f);
        fclose(f);
    }
    free(s);
}

static void rec_finish(void *p)
{
    (void)p;
    record *r = g_cur;
    if (!r)
        return;
    r->wall_ms = (double)(harness_now_ms() - g_t0);
    r->cpu_ms = mock_cpu_ms() - g_cpu0;
    printf("[ RECORD   ] %-28s %-4s cpu %8.0f ms  wall %8.0f ms  peak %10lld B  exit %s\n", r->name,
           r->ok ? "OK" : "FAIL", r->cpu_ms, r->wall_ms, r->peak_bytes, r->exit_desc);
    fflush(stdout);
    g_nrecs++;
    g_cur = NULL;
    write_records();
}

/* starts the record; must be called after the target exists (mock pid known) */
static void rec_begin(const char *name)
{
    if (g_nrecs >= sizeof g_recs / sizeof g_recs[0])
        fail_msg("too many records");
    g_cur = &g_recs[g_nrecs];
    memset(g_cur, 0, sizeof *g_cur);
    snprintf(g_cur->name, sizeof g_cur->name, "%s", name);
    snprintf(g_cur->exit_desc, sizeof g_cur->exit_desc, "-");
    g_cur->peak_bytes = -1;
    g_sbx_peak_id[0] = '\0';
    g_t0 = harness_now_ms();
    g_cpu0 = mock_cpu_ms();
    harness_defer(rec_finish, NULL);
}

static void rec_exit(const char *fmt, const char *what)
{
    if (g_cur)
        snprintf(g_cur->exit_desc, sizeof g_cur->exit_desc, fmt, what);
}

/* records the sandbox cgroup's peak now (before a kill removes the cgroup) */
static void rec_peak_now(void)
{
    long long pk = sbx_peak();
    if (g_cur && pk >= 0)
        g_cur->peak_bytes = pk;
}

static void rec_ok(void)
{
    if (!g_cur)
        return;
    long long pk = sbx_peak();
    if (pk >= 0)
        g_cur->peak_bytes = pk;
    g_cur->ok = 1;
}

/* ------------------------------------------------------------------ target */

static char g_root[128];

static void rm_root(void *p)
{
    (void)p;
    /* the mock removes sandbox dirs; the root itself is ours (may keep leftovers of a failed
     * run: remove only an empty dir) */
    if (g_root[0])
        rmdir(g_root);
    g_root[0] = '\0';
    g_mock_pid = 0;
}

static pid_t find_mock_pid(void)
{
    DIR *d = opendir("/proc");
    if (!d)
        return 0;
    pid_t found = 0;
    struct dirent *e;
    while ((e = readdir(d)) && !found) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        char p[300], buf[512];
        snprintf(p, sizeof p, "/proc/%s/stat", e->d_name);
        FILE *f = fopen(p, "re");
        if (!f)
            continue;
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = '\0';
        char *rp = strrchr(buf, ')');
        int ppid = 0;
        char st;
        if (rp && sscanf(rp + 1, " %c %d", &st, &ppid) == 2 && ppid == (int)getpid() &&
            strstr(buf, "(e2b-mock)"))
            found = (pid_t)atoi(e->d_name);
    }
    closedir(d);
    return found;
}

static void read_mem_cg(void)
{
    g_mem_cg[0] = g_pids_cg[0] = '\0';
    char p[64], line[600];
    snprintf(p, sizeof p, "/proc/%d/cgroup", (int)g_mock_pid);
    FILE *f = fopen(p, "re");
    if (!f)
        return;
    while (fgets(line, sizeof line, f)) {
        char *pc = strstr(line, ":pids:");
        if (pc) {
            pc += 6;
            pc[strcspn(pc, "\n")] = '\0';
            snprintf(g_pids_cg, sizeof g_pids_cg, "%s", strcmp(pc, "/") ? pc : "");
        }
        char *a = strstr(line, ":memory:");
        if (a) {
            a += 8;
            a[strcspn(a, "\n")] = '\0';
            snprintf(g_mem_cg, sizeof g_mem_cg, "%s", strcmp(a, "/") ? a : "");
        }
    }
    fclose(f);
}

/* A private mock with small limits and a known sandbox root; extra (NULL-terminated, may be
 * NULL) are appended to its arguments. */
static harness_target *start_with(const char *const *extra);

static harness_target *start(void)
{
    return start_with(NULL);
}

static harness_target *start_with(const char *const *extra)
{
    if (harness_live_requested()) { /* inspects the host: mock only */
        print_message("SKIP: security cases inspect the host running the sandbox (mock only)\n");
        skip();
    }
    snprintf(g_root, sizeof g_root, "/tmp/e2b-sec-root-XXXXXX");
    if (!mkdtemp(g_root))
        fail_msg("mkdtemp: %s", strerror(errno));
    harness_defer(rm_root, NULL);
    static const char *args[32] = {"--root",
                                   NULL,
                                   "--limit-memory-mb",
                                   "128",
                                   "--limit-pids",
                                   "64",
                                   "--limit-fsize-mb",
                                   "16",
                                   "--limit-output-mb",
                                   "1",
                                   "--limit-cpu-s",
                                   "120",
                                   NULL};
    args[1] = g_root;
    size_t na = 12; /* the fixed arguments above */
    for (size_t i = 0; extra && extra[i] && na + 1 < sizeof args / sizeof args[0]; i++)
        args[na++] = extra[i];
    args[na] = NULL;
    harness_target_opts o = {.mock_args = args};
    harness_target *t = harness_target_start(&o);
    g_mock_pid = find_mock_pid();
    assert_true(g_mock_pid > 0);
    read_mem_cg();
    return t;
}

static void defer_sandbox(void *p)
{
    e2b_sandbox *sbx = p;
    e2b_error err;
    e2b_sandbox_kill(e2b_sandbox_client(sbx), e2b_sandbox_id(sbx), NULL, &err);
    e2b_sandbox_free(sbx);
}

static e2b_sandbox *new_sbx(harness_target *t, int allow_inet)
{
    e2b_error err;
    e2b_sandbox *sbx = NULL;
    e2b_create_opts co;
    e2b_create_opts_init(&co);
    co.allow_internet_access = allow_inet;
    harness_assert_ok(e2b_sandbox_create(t->client, &co, &sbx, &err), &err, "create");
    harness_defer(defer_sandbox, sbx);
    snprintf(g_sbx_peak_id, sizeof g_sbx_peak_id, "%s", e2b_sandbox_id(sbx));
    return sbx;
}

/* ------------------------------------------------------------------ attack helpers */

typedef struct out {
    char *text; /* stdout+stderr (commands) or logs + result text + error (code) */
    e2b_code rc;
    int exit_code;
} out;

static void out_free(void *p)
{
    out *o = p;
    free(o->text);
    free(o);
}

static out *new_out(void)
{
    out *o = calloc(1, sizeof *o);
    assert_non_null(o);
    harness_defer(out_free, o);
    return o;
}

static void cat(char **dst, const char *s)
{
    if (!s)
        return;
    size_t a = *dst ? strlen(*dst) : 0, b = strlen(s);
    char *n = realloc(*dst, a + b + 2);
    assert_non_null(n);
    memcpy(n + a, s, b);
    n[a + b] = '\n';
    n[a + b + 1] = '\0';
    *dst = n;
}

static out *cmd(e2b_sandbox *sbx, const char *script, long timeout_ms)
{
    out *o = new_out();
    e2b_command_result r;
    memset(&r, 0, sizeof r);
    e2b_command_opts co = {.timeout_ms = timeout_ms};
    e2b_error err;
    o->rc = e2b_commands_run(sbx, script, &co, &r, &err);
    cat(&o->text, r.stdout_data);
    cat(&o->text, r.stderr_data);
    cat(&o->text, r.error);
    if (o->rc != E2B_OK)
        cat(&o->text, err.message);
    o->exit_code = r.exit_code;
    char d[64];
    snprintf(d, sizeof d, "%s exit=%d", o->rc == E2B_OK ? "ok" : e2b_code_name(o->rc), r.exit_code);
    rec_exit("%s", d);
    e2b_command_result_free(&r);
    return o;
}

static out *code(e2b_sandbox *sbx, const char *lang, const char *src, long timeout_ms)
{
    out *o = new_out();
    e2b_run_opts ro;
    e2b_run_opts_init(&ro);
    ro.language = lang;
    ro.timeout_ms = timeout_ms;
    e2b_execution *ex = NULL;
    e2b_error err;
    o->rc = e2b_run_code(sbx, src, &ro, &ex, &err);
    if (ex) {
        for (size_t i = 0; i < ex->logs_len; i++)
            cat(&o->text, ex->logs[i].text);
        cat(&o->text, ex->text);
        if (ex->error) {
            cat(&o->text, ex->error->name);
            cat(&o->text, ex->error->value);
        }
    }
    if (o->rc != E2B_OK)
        cat(&o->text, err.message);
    char d[64];
    snprintf(d, sizeof d, "%s%s%s", o->rc == E2B_OK ? "ok" : e2b_code_name(o->rc),
             ex && ex->error ? " " : "", ex && ex->error && ex->error->name ? ex->error->name : "");
    rec_exit("%s", d);
    if (!o->text || !o->text[0]) { /* say so, so that a failed expectation shows why */
        char why[160];
        snprintf(why, sizeof why, "(no output; run_code: %s, %s)", d,
                 ex ? "an execution without logs, text or error" : "no execution");
        free(o->text);
        o->text = strdup(why);
        assert_non_null(o->text);
    }
    e2b_execution_free(ex);
    return o;
}

#define assert_no(o, needle)                                                              \
    do {                                                                                  \
        const char *t_ = (o)->text ? (o)->text : "";                                      \
        if (strstr(t_, (needle)))                                                         \
            fail_msg("attack succeeded: found \"%s\" in output:\n%.2000s", (needle), t_); \
    } while (0)

#define assert_has(o, needle)                                              \
    do {                                                                   \
        const char *t_ = (o)->text ? (o)->text : "";                       \
        if (!strstr(t_, (needle)))                                         \
            fail_msg("expected \"%s\" in output:\n%.2000s", (needle), t_); \
    } while (0)

static e2b_code file_read(e2b_sandbox *sbx, const char *path, char **data)
{
    size_t len = 0;
    e2b_error err;
    *data = NULL;
    return e2b_files_read(sbx, path, NULL, data, &len, &err);
}

/* The file API must refuse to read path (or return nothing containing needle). */
static void files_read_refused(e2b_sandbox *sbx, const char *path, const char *needle)
{
    char *data = NULL;
    e2b_code rc = file_read(sbx, path, &data);
    int leaked = rc == E2B_OK && data && needle && strstr(data, needle);
    free(data);
    if (leaked)
        fail_msg("files read %s leaked \"%s\"", path, needle);
}

static int host_exists(const char *path)
{
    struct stat sb;
    return lstat(path, &sb) == 0;
}

/* How the mock bounds sandbox processes here ("cgroup", "rlimit", "none"; GET /_mock/settings).
 * Returns a static string. */
static const char *process_limit_kind(harness_target *t)
{
    char *body = harness_mock_admin(t, "GET", "/_mock/settings", NULL, NULL);
    cJSON *j = body ? cJSON_Parse(body) : NULL;
    free(body);
    const cJSON *l = cJSON_GetObjectItemCaseSensitive(j, "limits");
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(l, "processes");
    const char *kind = "?";
    if (cJSON_IsString(p))
        kind = !strcmp(p->valuestring, "cgroup")   ? "cgroup"
               : !strcmp(p->valuestring, "rlimit") ? "rlimit"
               : !strcmp(p->valuestring, "none")   ? "none"
                                                   : "?";
    cJSON_Delete(j);
    if (!strcmp(kind, "?"))
        fail_msg("GET /_mock/settings has no limits.processes");
    return kind;
}

/* A fork bomb is only run where something bounds it: never against this host's own table. */
static void skip_without_process_limit(harness_target *t)
{
    if (strcmp(process_limit_kind(t), "none") == 0) {
        print_message("SKIP: this e2b-mock has no process limit (root without a v1 pids cgroup, "
                      "or Linux < 5.14): a fork bomb would reach the host (ISOLATION.md)\n");
        skip();
    }
}

/* The filesystem RPCs of sbx cannot reach <dir>/<name>, a host file outside its home that
 * holds needle (host_file is its host path): ListDir does not show it, Stat and Exists do not
 * find it, Move does not take it, Remove does not delete it, MakeDir plants nothing next to
 * it. dir is a path as the sandbox would name it (host path, or a `..` path). */
static void rpc_cannot_reach(e2b_sandbox *sbx, const char *dir, const char *name,
                             const char *host_file, const char *needle)
{
    e2b_error err;
    char p[PATH_MAX + 128];
    e2b_entry_info *ents = NULL;
    size_t n = 0;
    if (e2b_files_list(sbx, dir, 1, NULL, &ents, &n, &err) == E2B_OK)
        for (size_t i = 0; i < n; i++)
            if (ents[i].name && !strcmp(ents[i].name, name))
                fail_msg("ListDir %s showed %s", dir, name);
    e2b_entry_infos_free(ents, n);
    snprintf(p, sizeof p, "%s/%s", dir, name);
    e2b_entry_info *info = NULL;
    if (e2b_files_stat(sbx, p, NULL, &info, &err) == E2B_OK)
        fail_msg("Stat %s found it (%s)", p, info && info->path ? info->path : "?");
    e2b_entry_info_free(info);
    bool exists = false;
    if (e2b_files_exists(sbx, p, NULL, &exists, &err) == E2B_OK && exists)
        fail_msg("Exists %s is true", p);
    info = NULL;
    (void)e2b_files_rename(sbx, p, "/home/user/e2b-sec-taken", NULL, &info, &err);
    e2b_entry_info_free(info);
    files_read_refused(sbx, "/home/user/e2b-sec-taken", needle);
    (void)e2b_files_remove(sbx, p, NULL, &err);
    if (!host_exists(host_file))
        fail_msg("Move or Remove of %s deleted the host file %s", p, host_file);
    snprintf(p, sizeof p, "%s/e2b-sec-planted", dir);
    (void)e2b_files_make_dir(sbx, p, NULL, NULL, &err);
    char planted[PATH_MAX + 64];
    snprintf(planted, sizeof planted, "%s", host_file);
    char *slash = strrchr(planted, '/');
    if (slash) {
        snprintf(slash + 1, sizeof planted - (size_t)(slash + 1 - planted), "e2b-sec-planted");
        if (host_exists(planted)) {
            rmdir(planted);
            fail_msg("MakeDir %s created %s on the host", p, planted);
        }
    }
}

/* ------------------------------------------------------------------ cases */

static void test_read_etc_shadow(void **state)
{
    (void)state;
    harness_target *t = start();
    rec_begin("read_etc_shadow");
    e2b_sandbox *sbx = new_sbx(t, -1);
    out *o = cmd(sbx, "cat /etc/shadow /etc/gshadow; head -c 200 /etc/shadow", 30000);
    assert_no(o, "root:");
    o = code(sbx, "python", "print(open('/etc/shadow').read())", 30000);
    assert_no(o, "root:");
    o = code(sbx, "bash", "cat /etc/shadow", 30000);
    assert_no(o, "root:");
    o = code(sbx, "javascript",
             "let r; try { r = require('fs').readFileSync('/etc/shadow', 'utf8') } catch (e) "
             "{ r = 'denied ' + e.code } r",
             30000);
    assert_no(o, "root:");
    files_read_refused(sbx, "/etc/shadow", "root:");
    files_read_refused(sbx, "/home/user/../../etc/shadow", "root:");
    /* filesystem RPCs: the host /etc is neither listed nor stat'ed */
    e2b_error err;
    e2b_entry_info *ents = NULL;
    size_t n = 0;
    if (e2b_files_list(sbx, "/home/user/../../etc", 1, NULL, &ents, &n, &err) == E2B_OK)
        for (size_t i = 0; i < n; i++)
            if (ents[i].name && !strcmp(ents[i].name, "shadow"))
                fail_msg("ListDir showed the host /etc");
    e2b_entry_infos_free(ents, n);
    e2b_entry_info *info = NULL;
    assert_int_not_equal(e2b_files_stat(sbx, "/etc/shadow", NULL, &info, &err), E2B_OK);
    e2b_entry_info_free(info);
    rec_ok();
}

static void test_read_project_source(void **state)
{
    (void)state;
    const char *src = getenv("E2B_SOURCE_DIR");
    if (!src || !*src)
        skip();
    harness_target *t = start();
    rec_begin("read_project_source");
    e2b_sandbox *sbx = new_sbx(t, -1);
    char script[PATH_MAX + 64], rel[PATH_MAX + 64];
    snprintf(script, sizeof script, "cat %s/CMakeLists.txt; ls %s", src, src);
    out *o = cmd(sbx, script, 30000);
    assert_no(o, "cmake_minimum_required");
    assert_no(o, "mockserver");
    snprintf(script, sizeof script, "print(open('%s/CMakeLists.txt').read())", src);
    o = code(sbx, "python", script, 30000);
    assert_no(o, "cmake_minimum_required");
    snprintf(script, sizeof script, "%s/CMakeLists.txt", src);
    files_read_refused(sbx, script, "cmake_minimum_required");
    snprintf(rel, sizeof rel, "/home/user/../../..%s/CMakeLists.txt", src);
    files_read_refused(sbx, rel, "cmake_minimum_required");
    /* the filesystem RPCs, by host path and by `..` */
    char host[PATH_MAX + 64];
    snprintf(host, sizeof host, "%s/CMakeLists.txt", src);
    rpc_cannot_reach(sbx, src, "CMakeLists.txt", host, "cmake_minimum_required");
    snprintf(rel, sizeof rel, "/home/user/../../..%s", src);
    rpc_cannot_reach(sbx, rel, "CMakeLists.txt", host, "cmake_minimum_required");
    rec_ok();
}

static void test_read_other_sandbox(void **state)
{
    (void)state;
    harness_target *t = start();
    rec_begin("read_other_sandbox");
    e2b_sandbox *a = new_sbx(t, -1);
    e2b_sandbox *b = new_sbx(t, -1);
    e2b_error err;
    const char *secret = "secret-of-sandbox-a-42";
    harness_assert_ok(
        e2b_files_write(a, "/home/user/secret.txt", secret, strlen(secret), NULL, NULL, &err), &err,
        "write secret");
    char host[300], script[800];
    snprintf(host, sizeof host, "%s/%s/secret.txt", g_root, e2b_sandbox_id(a));
    assert_true(host_exists(host)); /* the secret is really there on the host */
    snprintf(script, sizeof script,
             "cat %s; cat /home/%s/secret.txt; cat ../%s/secret.txt; "
             "find / -xdev -name secret.txt 2>/dev/null | head; "
             "grep -rs secret-of-sandbox /tmp /home /run /var 2>/dev/null | head -3",
             host, e2b_sandbox_id(a), e2b_sandbox_id(a));
    out *o = cmd(b, script, 60000);
    assert_no(o, secret);
    snprintf(script, sizeof script, "print(open('%s').read())", host);
    o = code(b, "python", script, 30000);
    assert_no(o, secret);
    files_read_refused(b, host, secret);
    snprintf(script, sizeof script, "/home/user/../%s/secret.txt", e2b_sandbox_id(a));
    files_read_refused(b, script, secret);
    /* the filesystem RPCs: host path, `../<id>` and /home/<id> */
    char adir[300];
    snprintf(adir, sizeof adir, "%s/%s", g_root, e2b_sandbox_id(a));
    rpc_cannot_reach(b, adir, "secret.txt", host, secret);
    snprintf(adir, sizeof adir, "/home/user/../%s", e2b_sandbox_id(a));
    rpc_cannot_reach(b, adir, "secret.txt", host, secret);
    snprintf(adir, sizeof adir, "/home/%s", e2b_sandbox_id(a));
    rpc_cannot_reach(b, adir, "secret.txt", host, secret);
    /* and A still has its file, unchanged */
    char *back = NULL;
    harness_assert_ok(e2b_files_read_text(a, "/home/user/secret.txt", &back, &err), &err,
                      "A reads its secret");
    assert_string_equal(back, secret);
    free(back);
    rec_ok();
}

static void test_write_outside_home(void **state)
{
    (void)state;
    harness_target *t = start();
    rec_begin("write_outside_home");
    e2b_sandbox *sbx = new_sbx(t, -1);
    unlink("/tmp/e2b-sec-escape");
    out *o = cmd(sbx,
                 "for p in /etc/e2b-sec-x /usr/e2b-sec-x /e2b-sec-x /proc/e2b-sec-x "
                 "/tmp/../e2b-sec-x; do (echo x > $p) 2>/dev/null && echo WROTE:$p; done; true",
                 30000);
    assert_no(o, "WROTE:");
    o = code(sbx, "python",
             "import os\nr=[]\nfor p in ['/etc/e2b-sec-x','/usr/e2b-sec-x','/e2b-sec-x']:\n"
             "    try:\n        open(p,'w').write('x'); r.append('WROTE:'+p)\n"
             "    except OSError: pass\nprint(r)",
             30000);
    assert_no(o, "WROTE:");
    e2b_error err;
    static const char *const bad[] = {"/etc/e2b-sec-x", "/home/user/../../etc/e2b-sec-x",
                                      "/home/user/../../../tmp/e2b-sec-escape",
                                      "/tmp/e2b-sec-escape", NULL};
    for (size_t i = 0; bad[i]; i++) {
        e2b_code rc = e2b_files_write(sbx, bad[i], "x", 1, NULL, NULL, &err);
        (void)rc; /* may be refused or land inside the home; the host must be untouched */
    }
    /* filesystem RPCs: MakeDir and Move (of a file the sandbox owns) outside the home */
    (void)e2b_files_make_dir(sbx, "/tmp/e2b-sec-mkdir", NULL, NULL, &err);
    (void)e2b_files_make_dir(sbx, "/home/user/../../../tmp/e2b-sec-mkdir", NULL, NULL, &err);
    harness_assert_ok(e2b_files_write_text(sbx, "/home/user/mine.txt", "x", &err), &err, "mine");
    e2b_entry_info *moved = NULL;
    (void)e2b_files_rename(sbx, "/home/user/mine.txt", "/home/user/../../../tmp/e2b-sec-moved",
                           NULL, &moved, &err);
    e2b_entry_info_free(moved);
    moved = NULL;
    (void)e2b_files_rename(sbx, "/home/user/mine.txt", "/tmp/e2b-sec-moved", NULL, &moved, &err);
    e2b_entry_info_free(moved);
    assert_false(host_exists("/tmp/e2b-sec-mkdir"));
    assert_false(host_exists("/tmp/e2b-sec-moved"));
    assert_false(host_exists("/etc/e2b-sec-x"));
    assert_false(host_exists("/usr/e2b-sec-x"));
    assert_false(host_exists("/e2b-sec-x"));
    assert_false(host_exists("/tmp/e2b-sec-escape"));
    rec_ok();
}

static void test_symlink_escape_via_files_api(void **state)
{
    (void)state;
    harness_target *t = start();
    rec_begin("symlink_escape_files_api");
    e2b_sandbox *sbx = new_sbx(t, -1);
    /* plant symlinks to host paths from sandbox code */
    out *o = code(sbx, "python",
                  "import os\nfor n,t in [('root','/'),('etc','/etc'),('shadow','/etc/shadow'),"
                  "('up','..')]:\n    os.symlink(t, n)\nprint(sorted(os.listdir('.')))",
                  30000);
    assert_has(o, "'root'");
    e2b_error err;
    char *data = NULL;
    e2b_code rc = file_read(sbx, "/home/user/etc/passwd", &data);
    if (rc == E2B_OK && data && strstr(data, "root:x:0:0"))
        fail_msg("read through symlink etc");
    free(data);
    rc = file_read(sbx, "/home/user/shadow", &data);
    if (rc == E2B_OK && data && strstr(data, "root:"))
        fail_msg("read through symlink shadow");
    free(data);
    rc = file_read(sbx, "/home/user/root/etc/hostname", &data);
    assert_int_not_equal(rc, E2B_OK);
    free(data);
    /* write through the link must not touch the host */
    (void)e2b_files_write(sbx, "/home/user/etc/e2b-sec-link", "x", 1, NULL, NULL, &err);
    (void)e2b_files_write(sbx, "/home/user/root/tmp/e2b-sec-link", "x", 1, NULL, NULL, &err);
    assert_false(host_exists("/etc/e2b-sec-link"));
    assert_false(host_exists("/tmp/e2b-sec-link"));
    /* list / stat / rename through the links */
    e2b_entry_info *ents = NULL;
    size_t n = 0;
    rc = e2b_files_list(sbx, "/home/user/root", 1, NULL, &ents, &n, &err);
    if (rc == E2B_OK)
        for (size_t i = 0; i < n; i++)
            if (ents[i].name && (!strcmp(ents[i].name, "usr") || !strcmp(ents[i].name, "proc")))
                fail_msg("listed the host root through a symlink");
    e2b_entry_infos_free(ents, n);
    rc = e2b_files_list(sbx, "/home/user/etc", 1, NULL, &ents, &n, &err);
    if (rc == E2B_OK)
        for (size_t i = 0; i < n; i++)
            if (ents[i].name && !strcmp(ents[i].name, "passwd"))
                fail_msg("listed host /etc through a symlink");
    e2b_entry_infos_free(ents, n);
    e2b_entry_info *info = NULL;
    rc = e2b_files_stat(sbx, "/home/user/root/etc/passwd", NULL, &info, &err);
    assert_int_not_equal(rc, E2B_OK);
    e2b_entry_info_free(info);
    info = NULL;
    rc = e2b_files_rename(sbx, "/home/user/etc/hostname", "/home/user/stolen", NULL, &info, &err);
    assert_int_not_equal(rc, E2B_OK);
    e2b_entry_info_free(info);
    info = NULL;
    rc = e2b_files_rename(sbx, "/home/user/up", "/home/user/up2", NULL, &info, &err);
    e2b_entry_info_free(info); /* renaming the link itself is fine; following it is not */
    assert_true(host_exists("/etc/hostname"));
    rec_ok();
}

static void test_network_blocked(void **state)
{
    (void)state;
    harness_target *t = start();
    rec_begin("network_blocked");
    e2b_sandbox *sbx = new_sbx(t, -1);
    const char *url = t->url, *colon = strrchr(url, ':');
    int port = colon ? atoi(colon + 1) : 0;
    assert_true(port > 0);
    char script[1024];
    snprintf(script, sizeof script,
             "(exec 3<>/dev/tcp/127.0.0.1/%d) 2>/dev/null && echo CONNECTED-LOOP; "
             "(exec 3<>/dev/tcp/1.1.1.1/53) 2>/dev/null && echo CONNECTED-EXT; "
             "getent hosts example.com && echo RESOLVED; true",
             port);
    int64_t t0 = harness_now_ms();
    out *o = cmd(sbx, script, 30000);
    assert_no(o, "CONNECTED");
    assert_no(o, "RESOLVED");
    snprintf(script, sizeof script,
             "import socket, time\nr=[]\nfor fam,addr in [(socket.AF_INET,('127.0.0.1',%d)),"
             "(socket.AF_INET,('1.1.1.1',53)),(socket.AF_INET6,('::1',%d))]:\n"
             "    t=time.time()\n    try:\n        s=socket.socket(fam); s.settimeout(5); "
             "s.connect(addr); r.append('CONNECTED')\n    except OSError as e:\n"
             "        r.append('blocked %%.3f %%s' %% (time.time()-t, e.errno))\n"
             "try:\n    socket.getaddrinfo('example.com', 80); r.append('RESOLVED')\n"
             "except OSError: pass\nprint(r)",
             port, port);
    o = code(sbx, "python", script, 30000);
    assert_no(o, "CONNECTED");
    assert_no(o, "RESOLVED");
    assert_has(o, "blocked");
    snprintf(
        script, sizeof script,
        "await new Promise(res => { const s = require('net').connect(%d, '127.0.0.1'); "
        "s.on('connect', () => res('CONNECTED')); s.on('error', e => res('blocked ' + e.code)); })",
        port);
    o = code(sbx, "javascript", script, 30000);
    assert_no(o, "CONNECTED");
    /* generous: connect must fail at once, not hang until a timeout */
    assert_true(harness_now_ms() - t0 < 25000);
    rec_ok();
}

/* Not an attack: allow_internet_access=true is honoured (shared host network, inet sockets),
 * while an explicit false and the default stay offline. */
static void test_internet_opt_in(void **state)
{
    (void)state;
    harness_target *t = start();
    rec_begin("internet_opt_in");
    const char *colon = strrchr(t->url, ':');
    int port = colon ? atoi(colon + 1) : 0;
    char script[512];
    snprintf(script, sizeof script,
             "import socket\ntry:\n    s=socket.create_connection(('127.0.0.1',%d),5)\n"
             "    print('CONNECTED')\nexcept OSError as e:\n    print('blocked', e.errno)",
             port);
    e2b_sandbox *on = new_sbx(t, 1);
    out *o = code(on, "python", script, 30000);
    assert_has(o, "CONNECTED");
    snprintf(script, sizeof script, "(exec 3<>/dev/tcp/127.0.0.1/%d) && echo CONNECTED", port);
    o = cmd(on, script, 30000);
    assert_has(o, "CONNECTED");
    e2b_sandbox *off = new_sbx(t, 0);
    o = cmd(off, script, 30000);
    assert_no(o, "CONNECTED");
    rec_ok();
}

/* After a fork bomb in sandbox id: the server answers promptly, and where the pids cgroup is
 * in use its peak stayed within the limit (64). Returns the peak, -1 without the cgroup. */
static long long assert_bomb_contained(harness_target *t, const char *id)
{
    e2b_error err;
    e2b_sandbox_info *info = NULL;
    int64_t t0 = harness_now_ms();
    harness_assert_ok(e2b_sandbox_get_info(t->client, id, &info, &err), &err,
                      "get_info in the bomb's aftermath");
    e2b_sandbox_info_free(info);
    assert_true(harness_now_ms() - t0 < 10000);
    char p[700];
    snprintf(p, sizeof p, "/sys/fs/cgroup/pids/e2b-mock/%s/pids.peak", id);
    long long peak = read_ll(p);
    if (peak >= 0)
        assert_true(peak <= 64);
    return peak;
}

static void test_fork_bomb(void **state)
{
    (void)state;
    harness_target *t = start();
    skip_without_process_limit(t);
    rec_begin("fork_bomb");
    e2b_sandbox *sbx = new_sbx(t, -1);
    /* runs at most 4 s (command timeout); the pids cgroup (64) bounds it */
    out *o = cmd(sbx, "bomb() { bomb | bomb & }; bomb; sleep 3", 4000);
    (void)o;
    long long peak = assert_bomb_contained(t, e2b_sandbox_id(sbx));
    e2b_sandbox *other = new_sbx(t, -1);
    out *o2 = cmd(other, "echo alive", 30000);
    assert_has(o2, "alive");
    snprintf(g_sbx_peak_id, sizeof g_sbx_peak_id, "%s", e2b_sandbox_id(sbx));
    rec_ok();
    if (g_cur && peak >= 0) {
        char d[64];
        snprintf(d, sizeof d, "killed by timeout, pids.peak=%lld", peak);
        rec_exit("%s", d);
    }
}

static int count_host_procs(const char *needle);

/* The same from inside the python kernel: the kernel floods fork() and every child becomes a
 * shell fork bomb (the marker in its command line counts them on the host). The execution
 * timeout interrupts the kernel; the pids cgroup bounds the bomb; kill ends all of it. */
static void test_fork_bomb_kernel(void **state)
{
    (void)state;
    harness_target *t = start();
    skip_without_process_limit(t);
    rec_begin("fork_bomb_kernel");
    e2b_sandbox *sbx = new_sbx(t, -1);
    char id[64];
    snprintf(id, sizeof id, "%s", e2b_sandbox_id(sbx));
    out *o = code(sbx, "python",
                  "import os, time\n"
                  "while True:\n"
                  "    try:\n"
                  "        if os.fork() == 0:\n"
                  "            os.execv('/bin/sh', ['sh', '-c', "
                  "'b987690() { b987690 | b987690 & }; b987690; sleep 60'])\n"
                  "    except OSError:\n"
                  "        time.sleep(0.01)\n",
                  4000);
    assert_int_not_equal(o->rc, E2B_OK); /* never completes: interrupted by its timeout */
    long long peak = assert_bomb_contained(t, id);
    /* without the pids cgroup (non-root) RLIMIT_NPROC bounds the kernel's spawn the same way:
     * the bombs still alive (their sleep 60) are at most the limit */
    int live = count_host_procs("b987690");
    if (live > 64)
        fail_msg("%d bomb processes alive, limit 64", live);
    e2b_sandbox *other = new_sbx(t, -1);
    out *o2 = code(other, "python", "print('alive', 6 * 7)", 30000);
    assert_has(o2, "alive 42");
    e2b_error err;
    bool killed = false;
    harness_assert_ok(e2b_sandbox_kill(t->client, id, &killed, &err), &err, "kill");
    int left = -1;
    for (int i = 0; i < 200; i++) { /* generous: up to 10 s */
        if ((left = count_host_procs("b987690")) == 0)
            break;
        usleep(50 * 1000);
    }
    assert_int_equal(left, 0);
    char d[48];
    snprintf(d, sizeof d, "%.17s, peak %lld, live %d, 0 left", e2b_code_name(o->rc), peak, live);
    rec_exit("%s", d);
    rec_ok();
}

/* The rlimit fallback a server without cgroups uses, forced with --no-cgroups: RLIMIT_DATA
 * bounds a memory bomb in python and in node (RLIMIT_AS, the old fallback, kept node from
 * starting at all); for a non-root server RLIMIT_NPROC per spawn bounds a fork flood, and the
 * mock reports which process limit it has (root: none, the kernel exempts it). */
static void test_limits_without_cgroups(void **state)
{
    (void)state;
    static const char *const extra[] = {"--no-cgroups", NULL};
    harness_target *t = start_with(extra);
    rec_begin("limits_without_cgroups");
    /* what the mock says it enforces: the kernel exempts host root from RLIMIT_NPROC, and
     * counts it per user namespace only from Linux 5.14 */
    struct utsname u;
    int major = 0, minor = 0;
    int per_ns = uname(&u) == 0 && sscanf(u.release, "%d.%d", &major, &minor) == 2 &&
                 (major > 5 || (major == 5 && minor >= 14));
    const char *kind = process_limit_kind(t);
    assert_string_equal(kind, geteuid() != 0 && per_ns ? "rlimit" : "none");
    e2b_sandbox *sbx = new_sbx(t, -1);
    char id[64], cgp[700];
    snprintf(id, sizeof id, "%s", e2b_sandbox_id(sbx));
    snprintf(cgp, sizeof cgp, "/sys/fs/cgroup/pids/e2b-mock/%s", id);
    assert_false(host_exists(cgp)); /* really without cgroups */
    int forked = -1;
    if (!strcmp(kind, "rlimit")) {
        out *f = code(sbx, "python",
                      "import os, time\nn = 0\ntry:\n    for i in range(500):\n"
                      "        if os.fork() == 0:\n            time.sleep(3); os._exit(0)\n"
                      "        n += 1\n    print('forked all', n)\n"
                      "except OSError as e:\n    print('forked %d then errno %d' % (n, e.errno))\n",
                      30000);
        assert_has(f, "then errno 11"); /* EAGAIN */
        const char *at = strstr(f->text, "forked ");
        if (at)
            forked = atoi(at + 7);
        if (forked < 1 || forked > 64)
            fail_msg("forked %d, want 1..64 (--limit-pids 64)", forked);
        out *b = cmd(sbx, "bomb() { bomb | bomb & }; bomb; sleep 2; echo survived", 20000);
        (void)b;
    } else {
        print_message("[ LIMITS   ] processes: none here (%s); the fork part is not run\n",
                      geteuid() == 0 ? "root is exempt from RLIMIT_NPROC" : "Linux < 5.14");
    }
    /* RLIMIT_DATA (128 MiB here) bounds python and node, and node still starts */
    out *m = code(sbx, "python",
                  "a = []\ntry:\n    while True:\n        a.append(bytearray(8 << 20))\n"
                  "except MemoryError:\n    print('MemoryError at', len(a) * 8, 'MiB')\n",
                  60000);
    assert_has(m, "MemoryError at");
    out *j = code(
        sbx, "javascript",
        "const a = []; let msg = 'none';\n"
        "try { for (;;) a.push(Buffer.alloc(16 << 20, 1)); } catch (e) { msg = e.message }\n"
        "console.log('js:', msg, a.length * 16, 'MiB')",
        60000);
    assert_has(j, "js: Array buffer allocation failed");
    out *ok = code(sbx, "python", "print('still', 6 * 7)", 30000);
    assert_has(ok, "still 42");
    e2b_error err;
    bool killed = false;
    harness_assert_ok(e2b_sandbox_kill(t->client, id, &killed, &err), &err, "kill");
    char d[64];
    if (forked >= 0)
        snprintf(d, sizeof d, "NPROC: %d forks; DATA: py+js refused", forked);
    else
        snprintf(d, sizeof d, "processes: none (%s); DATA: py+js refused",
                 geteuid() == 0 ? "root" : "old kernel");
    rec_exit("%s", d);
    rec_ok();
}

static void test_memory_bomb(void **state)
{
    (void)state;
    harness_target *t = start();
    rec_begin("memory_bomb");
    e2b_sandbox *sbx = new_sbx(t, -1);
    long long hwm0 = mock_vm_kb("VmHWM");
    out *o = code(sbx, "python",
                  "a=[]\nwhile True:\n    a.append(bytearray(8 << 20))\n    a[-1][::4096] = b'x' * "
                  "len(a[-1][::4096])",
                  60000);
    /* the kernel is OOM-killed (or raises MemoryError): never a normal completion */
    assert_true(o->rc != E2B_OK || strstr(o->text, "Error") || strstr(o->text, "Unexpected"));
    out *c = cmd(sbx, "/usr/bin/python3 -c 'a=[]\nwhile True: a.append(bytearray(8<<20))'", 60000);
    assert_true(c->rc != E2B_OK || c->exit_code != 0);
    long long peak = sbx_peak();
    if (peak >= 0)
        assert_true(peak <= (128LL << 20) + (8LL << 20));
    long long hwm1 = mock_vm_kb("VmHWM");
    assert_true(hwm1 - hwm0 < 64 * 1024); /* the server did not grow with it */
    /* the sandbox is still usable */
    out *ok = code(sbx, "python", "print('after', 1+1)", 60000);
    assert_has(ok, "after 2");
    rec_ok();
}

static void test_disk_fill(void **state)
{
    (void)state;
    harness_target *t = start();
    rec_begin("disk_fill");
    e2b_sandbox *sbx = new_sbx(t, -1);
    out *o = cmd(sbx, "dd if=/dev/zero of=big bs=1M count=64 2>&1; rc=$?; ls -l big; exit $rc",
                 60000);
    assert_int_not_equal(o->exit_code, 0);
    char host[300];
    snprintf(host, sizeof host, "%s/%s/big", g_root, e2b_sandbox_id(sbx));
    struct stat sb;
    if (stat(host, &sb) == 0)
        assert_true(sb.st_size <= (16LL << 20));
    out *p = code(sbx, "python",
                  "try:\n    open('big2','wb').write(b'\\0' * (64 << 20)); print('WROTE')\n"
                  "except OSError as e:\n    print('refused', e.errno)",
                  60000);
    assert_no(p, "WROTE");
    rec_ok();
}

static void test_runaway_output(void **state)
{
    (void)state;
    /* under ASan (E2B_SANITIZE) the freed chunks of the streamed output sit in ASan's
     * quarantine (256 MiB by default) and would dominate the mock's RSS: shrink it for the
     * mock only, keeping whatever else ASAN_OPTIONS says (later flags win) */
    const char *old = getenv("ASAN_OPTIONS");
    char *saved = old ? strdup(old) : NULL;
    char opts[1024];
    snprintf(opts, sizeof opts, "%s%squarantine_size_mb=8:thread_local_quarantine_size_kb=64",
             old ? old : "", old && *old ? ":" : "");
    setenv("ASAN_OPTIONS", opts, 1);
    harness_target *t = start();
    if (saved)
        setenv("ASAN_OPTIONS", saved, 1);
    else
        unsetenv("ASAN_OPTIONS");
    free(saved);
    rec_begin("runaway_output");
    e2b_sandbox *sbx = new_sbx(t, -1);
    long long hwm0 = mock_vm_kb("VmHWM");
    out *o = cmd(sbx, "yes e2b-runaway-output", 10000); /* prints without end for 10 s */
    assert_int_equal(o->rc, E2B_ERR_OPERATION_TIMEOUT);
    assert_has(o, "output truncated");
    assert_true(strlen(o->text) < (3u << 20)); /* 1 MiB cap per stream + notices */
    out *c = code(sbx, "python", "while True:\n    print('e2b-runaway-output' * 10)", 10000);
    assert_has(c, "output truncated");
    assert_true(strlen(c->text) < (4u << 20));
    long long hwm1 = mock_vm_kb("VmHWM");
    printf("[ RSS      ] e2b-mock VmHWM before %lld kB, after 2x10 s of endless output %lld kB\n",
           hwm0, hwm1);
    assert_true(hwm1 < 256 * 1024); /* generous: bounded, not proportional to the output */
    rec_ok();
    if (g_cur)
        g_cur->peak_bytes = hwm1 * 1024; /* for this case: the SERVER's peak RSS */
}

static void test_infinite_loop_timeout(void **state)
{
    (void)state;
    harness_target *t = start();
    rec_begin("infinite_loop_timeout");
    e2b_sandbox *sbx = new_sbx(t, -1);
    int64_t t0 = harness_now_ms();
    out *o = code(sbx, "python", "while True:\n    pass", 2000);
    assert_int_equal(o->rc, E2B_ERR_OPERATION_TIMEOUT);
    out *c = cmd(sbx, "while :; do :; done", 2000);
    assert_int_equal(c->rc, E2B_ERR_OPERATION_TIMEOUT);
    assert_true(harness_now_ms() - t0 < 30000);
    /* the loop does not keep burning: the kernel answers again */
    out *ok = code(sbx, "python", "print('free')", 30000);
    assert_has(ok, "free");
    rec_ok();
}

static int count_host_procs(const char *needle)
{
    DIR *d = opendir("/proc");
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        char p[300], buf[512];
        snprintf(p, sizeof p, "/proc/%s/cmdline", e->d_name);
        FILE *f = fopen(p, "re");
        if (!f)
            continue;
        size_t k = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        for (size_t i = 0; i < k; i++)
            if (!buf[i])
                buf[i] = ' ';
        buf[k] = '\0';
        if (strstr(buf, needle))
            n++;
    }
    closedir(d);
    return n;
}

/* waits (generously, 5 s) until at least one host process matches */
static int wait_host_procs(const char *needle)
{
    int n = 0;
    for (int i = 0; i < 100 && (n = count_host_procs(needle)) < 1; i++)
        usleep(50 * 1000);
    return n;
}

static void test_outlive_kill(void **state)
{
    (void)state;
    harness_target *t = start();
    rec_begin("outlive_kill");
    e2b_sandbox *sbx = new_sbx(t, -1);
    char id[64];
    snprintf(id, sizeof id, "%s", e2b_sandbox_id(sbx));
    /* daemons from the persistent bash kernel and from a background-ish command */
    out *o = code(sbx, "bash",
                  "setsid nohup sh -c '(sleep 987651 &) ; (trap \"\" TERM HUP; sleep 987652) & "
                  "sleep 987653' >/dev/null 2>&1 &\nsleep 0.5; echo planted",
                  30000);
    assert_has(o, "planted");
    (void)code(sbx, "python",
               "import os\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
               "        os.execv('/bin/sleep', ['sleep', '987654'])\n    os._exit(0)\n",
               30000);
    assert_true(wait_host_procs("sleep 987654") >= 1);
    assert_true(wait_host_procs("sleep 987653") >= 1);
    char dir[300];
    snprintf(dir, sizeof dir, "%s/%s", g_root, id);
    assert_true(host_exists(dir));
    e2b_error err;
    bool killed = false;
    rec_peak_now();
    harness_assert_ok(e2b_sandbox_kill(t->client, id, &killed, &err), &err, "kill");
    int left = -1;
    for (int i = 0; i < 100; i++) { /* generous: up to 5 s */
        left = count_host_procs("sleep 98765");
        if (left == 0)
            break;
        usleep(50 * 1000);
    }
    assert_int_equal(left, 0);
    assert_false(host_exists(dir)); /* state left behind: none */
    char cg[700];
    snprintf(cg, sizeof cg, "/sys/fs/cgroup/pids/e2b-mock/%s", id);
    assert_false(host_exists(cg));
    rec_exit("%s", "sandbox killed, 0 survivors");
    rec_ok();
}

static void test_expiry_ends_everything(void **state)
{
    (void)state;
    harness_target *t = start();
    rec_begin("expiry_and_shutdown");
    e2b_sandbox *sbx = new_sbx(t, -1);
    char id[64], dir[300];
    snprintf(id, sizeof id, "%s", e2b_sandbox_id(sbx));
    snprintf(dir, sizeof dir, "%s/%s", g_root, id);
    out *o = code(sbx, "bash", "setsid nohup sleep 987661 >/dev/null 2>&1 &\necho planted", 30000);
    assert_has(o, "planted");
    assert_true(wait_host_procs("sleep 987661") >= 1);
    e2b_error err;
    rec_peak_now();
    harness_assert_ok(e2b_sandbox_set_timeout(t->client, id, 1, &err), &err, "timeout 1 s");
    int left = -1;
    for (int i = 0; i < 200; i++) { /* generous: up to 10 s for the reaper */
        left = count_host_procs("sleep 987661");
        if (left == 0 && !host_exists(dir))
            break;
        usleep(50 * 1000);
    }
    assert_int_equal(left, 0);
    assert_false(host_exists(dir));
    /* server shutdown: a second sandbox with a daemon, then stop the mock */
    e2b_sandbox *s2 = new_sbx(t, -1);
    snprintf(dir, sizeof dir, "%s/%s", g_root, e2b_sandbox_id(s2));
    o = code(s2, "bash", "setsid nohup sleep 987662 >/dev/null 2>&1 &\necho planted", 30000);
    assert_has(o, "planted");
    assert_true(wait_host_procs("sleep 987662") >= 1);
    kill(g_mock_pid, SIGTERM);
    for (int i = 0; i < 200 && (count_host_procs("sleep 987662") || host_exists(dir)); i++)
        usleep(50 * 1000);
    assert_int_equal(count_host_procs("sleep 987662"), 0);
    assert_false(host_exists(dir));
    rec_exit("%s", "expired + shutdown, 0 survivors");
    rec_ok();
}

static void test_host_env_not_visible(void **state)
{
    (void)state;
    setenv(CANARY_NAME, CANARY_VALUE, 1); /* inherited by the mock */
    harness_target *t = start();
    unsetenv(CANARY_NAME);
    rec_begin("host_env_canary");
    e2b_sandbox *sbx = new_sbx(t, -1);
    out *o = cmd(sbx, "env; cat /proc/1/environ 2>/dev/null | tr '\\0' '\\n'", 30000);
    assert_no(o, CANARY_VALUE);
    o = code(sbx, "python", "import os\nprint(dict(os.environ))", 30000);
    assert_no(o, CANARY_VALUE);
    o = code(sbx, "javascript", "JSON.stringify(process.env)", 30000);
    assert_no(o, CANARY_VALUE);
    o = code(sbx, "bash", "env", 30000);
    assert_no(o, CANARY_VALUE);
    char script[128];
    snprintf(script, sizeof script, "cat /proc/%d/environ; echo", (int)g_mock_pid);
    o = cmd(sbx, script, 30000);
    assert_no(o, CANARY_VALUE);
    rec_ok();
}

static void test_signals_and_ptrace_host(void **state)
{
    (void)state;
    harness_target *t = start();
    rec_begin("signal_ptrace_host");
    e2b_sandbox *sbx = new_sbx(t, -1);
    char script[512];
    snprintf(script, sizeof script,
             "kill -9 %d && echo KILLED; kill -9 -1; ls /proc | grep -c '^[0-9]'; true",
             (int)g_mock_pid);
    out *o = cmd(sbx, script, 30000);
    assert_no(o, "KILLED");
    assert_int_equal(kill(g_mock_pid, 0), 0); /* the mock lives */
    snprintf(script, sizeof script,
             "import os, ctypes\nr=[]\ntry:\n    os.kill(%d, 9); r.append('KILLED')\n"
             "except OSError as e: r.append('denied %%d' %% e.errno)\n"
             "libc = ctypes.CDLL(None, use_errno=True)\n"
             "rc = libc.ptrace(16, 1, 0, 0)\nr.append('PTRACED' if rc == 0 else 'noptrace %%d' %% "
             "ctypes.get_errno())\nprint(r)",
             (int)g_mock_pid);
    o = code(sbx, "python", script, 30000);
    assert_no(o, "KILLED");
    assert_no(o, "PTRACED");
    assert_int_equal(kill(g_mock_pid, 0), 0);
    o = code(sbx, "javascript",
             "let r; try { process.kill(1, 'SIGKILL'); r = 'sent' } catch (e) { r = e.code } r",
             30000);
    (void)o; /* pid 1 is the sandbox's own init at most */
    assert_int_equal(kill(g_mock_pid, 0), 0);
    e2b_error err;
    e2b_sandbox_info *info = NULL;
    harness_assert_ok(e2b_sandbox_get_info(t->client, e2b_sandbox_id(sbx), &info, &err), &err,
                      "server still answers");
    e2b_sandbox_info_free(info);
    rec_ok();
}

static void test_privileges_dropped(void **state)
{
    (void)state;
    harness_target *t = start();
    rec_begin("privileges_dropped");
    e2b_sandbox *sbx = new_sbx(t, -1);
    out *o = cmd(sbx,
                 "id -u; whoami; grep -E '^(CapEff|Seccomp|NoNewPrivs)' /proc/self/status; "
                 "unshare -U true 2>/dev/null && echo UNSHARED; "
                 "mount -t tmpfs x /tmp 2>/dev/null && echo MOUNTED; true",
                 30000);
    assert_has(o, "1000");
    assert_has(o, "user");
    assert_has(o, "CapEff:\t0000000000000000");
    assert_has(o, "Seccomp:\t2");
    assert_no(o, "UNSHARED");
    assert_no(o, "MOUNTED");
    rec_ok();
}

/* ------------------------------------------------------------------ disk quota */

#define QUOTA_MB 32
/* generous bound on what the monitor lets through past the quota (one poll interval of
 * writes at page-cache speed, plus the file in flight) */
#define QUOTA_SLACK_MB 256

static long long g_du;
static int du_one(const char *p, const struct stat *sb, int type, struct FTW *f)
{
    (void)p;
    (void)type;
    (void)f;
    g_du += (long long)sb->st_blocks * 512;
    return 0;
}

/* disk use of a host directory (st_blocks), -1 when it does not exist */
static long long host_du(const char *dir)
{
    g_du = 0;
    if (nftw(dir, du_one, 16, FTW_PHYS | FTW_MOUNT) != 0)
        return -1;
    return g_du;
}

static long raw_req(harness_target *t, const char *id, int port, const char *token,
                    const char *method, const char *path, const char *ctype, const char *body);

static harness_target *start_quota(void)
{
    static const char *const extra[] = {"--limit-disk-mb", "32", NULL};
    return start_with(extra);
}

/* after deleting files the sandbox writes again (the monitor lifts the clamp) */
static void assert_writes_again(e2b_sandbox *sbx)
{
    out *o = cmd(sbx, "rm -rf /home/user/fill; echo removed", 60000);
    assert_has(o, "removed");
    out *w = NULL;
    for (int i = 0; i < 50; i++) { /* generous: up to ~10 s for the next poll */
        w = code(sbx, "python",
                 "try:\n    open('after.txt','w').write('x' * 100000); print('WROTE-AGAIN')\n"
                 "except OSError as e:\n    print('still refused', e.errno)",
                 30000);
        if (strstr(w->text, "WROTE-AGAIN"))
            break;
        usleep(200 * 1000);
    }
    assert_has(w, "WROTE-AGAIN");
}

static void test_disk_quota_many_files(void **state)
{
    (void)state;
    harness_target *t = start_quota();
    rec_begin("disk_fill_many_files");
    e2b_sandbox *sbx = new_sbx(t, -1);
    char dir[300];
    snprintf(dir, sizeof dir, "%s/%s", g_root, e2b_sandbox_id(sbx));
    /* python: 1 MiB files (each below RLIMIT_FSIZE) until refused, up to 2 GiB */
    out *p = code(sbx, "python",
                  "import os\nos.makedirs('fill', exist_ok=True)\nn = 0\ntry:\n"
                  "    for n in range(2048):\n"
                  "        with open('fill/p%d' % n, 'wb') as f:\n"
                  "            f.write(b'\\1' * (1 << 20))\n"
                  "    print('WROTE-ALL')\nexcept OSError as e:\n"
                  "    print('refused after', n, 'files errno', e.errno)",
                  120000);
    assert_no(p, "WROTE-ALL");
    assert_has(p, "errno 27"); /* EFBIG: RLIMIT_FSIZE clamped to 0 */
    long long used = host_du(dir);
    printf("[ DISK     ] python fill: sandbox dir %lld bytes (quota %d MiB)\n", used, QUOTA_MB);
    assert_true(used > 0 && used <= ((long long)QUOTA_MB + QUOTA_SLACK_MB) << 20);
    /* the kernel survives (Python ignores SIGXFSZ) */
    out *k = code(sbx, "python", "print('kernel', 6 * 7)", 30000);
    assert_has(k, "kernel 42");
    assert_writes_again(sbx);
    /* bash: head is killed by SIGXFSZ (or fails with EFBIG) once clamped */
    out *b = cmd(sbx,
                 "mkdir -p fill; for i in $(seq 2048); do head -c 1048576 /dev/zero > fill/b$i "
                 "|| { echo REFUSED-AT $i; break; }; done; echo done",
                 120000);
    assert_has(b, "REFUSED-AT");
    used = host_du(dir);
    printf("[ DISK     ] bash fill: sandbox dir %lld bytes\n", used);
    assert_true(used <= ((long long)QUOTA_MB + QUOTA_SLACK_MB) << 20);
    /* the bash kernel too */
    out *bk = code(sbx, "bash",
                   "mkdir -p fill; for i in $(seq 2048); do head -c 1048576 /dev/zero > fill/k$i "
                   "|| { echo REFUSED-AT $i; break; }; done",
                   120000);
    assert_has(bk, "REFUSED-AT");
    assert_writes_again(sbx);
    rec_exit("%s", "EFBIG/SIGXFSZ past quota, writable after rm");
    rec_ok();
}

typedef struct zsrc {
    size_t left;
} zsrc;

static size_t zeros(void *ud, char *buf, size_t max)
{
    zsrc *z = ud;
    size_t n = max < z->left ? max : z->left;
    memset(buf, 7, n);
    z->left -= n;
    return n;
}

static void test_disk_quota_upload(void **state)
{
    (void)state;
    harness_target *t = start_quota();
    rec_begin("disk_fill_upload");
    e2b_sandbox *sbx = new_sbx(t, -1);
    e2b_error err;
    char dir[300], host[400];
    snprintf(dir, sizeof dir, "%s/%s", g_root, e2b_sandbox_id(sbx));
    harness_assert_ok(e2b_files_write_text(sbx, "/home/user/keep.txt", "keep me", &err), &err,
                      "small write");
    e2b_sandbox_info *info = NULL;
    harness_assert_ok(e2b_sandbox_get_info(t->client, e2b_sandbox_id(sbx), &info, &err), &err,
                      "info");
    assert_int_equal(info->disk_size_mb, QUOTA_MB); /* diskSizeMB reports the quota */
    e2b_sandbox_info_free(info);
    /* multipart (e2b_files_write): 48 MiB in one file */
    size_t big = (size_t)48 << 20;
    char *buf = malloc(big);
    assert_non_null(buf);
    memset(buf, 'z', big);
    e2b_code rc = e2b_files_write(sbx, "/home/user/big.bin", buf, big, NULL, NULL, &err);
    assert_int_equal(rc, E2B_ERR_NOT_ENOUGH_SPACE);
    assert_non_null(strstr(err.message, "not enough disk space"));
    snprintf(host, sizeof host, "%s/big.bin", dir);
    assert_false(host_exists(host)); /* the partial file is removed */
    /* streamed octet-stream (chunked, no length known in advance) */
    zsrc z = {(size_t)48 << 20};
    rc = e2b_files_write_stream(sbx, "/home/user/big2.bin", zeros, &z, NULL, NULL, &err);
    assert_int_equal(rc, E2B_ERR_NOT_ENOUGH_SPACE);
    snprintf(host, sizeof host, "%s/big2.bin", dir);
    assert_false(host_exists(host));
    /* octet-stream with a Content-Length past the quota: refused before anything is written,
     * so an existing file at the destination keeps its content */
    harness_assert_ok(e2b_files_write_text(sbx, "/home/user/big3.bin", "old", &err), &err, "old");
    char *body = malloc((48u << 20) + 1);
    assert_non_null(body);
    memset(body, 'a', 48u << 20);
    body[48u << 20] = '\0';
    assert_int_equal(raw_req(t, e2b_sandbox_id(sbx), 49983, e2b_sandbox_envd_access_token(sbx),
                             "POST", "/files?path=/home/user/big3.bin", "application/octet-stream",
                             body),
                     507);
    free(body);
    char *old = NULL;
    size_t olen = 0;
    harness_assert_ok(e2b_files_read(sbx, "/home/user/big3.bin", NULL, &old, &olen, &err), &err,
                      "old kept");
    assert_true(olen == 3 && !memcmp(old, "old", 3));
    free(old);
    /* many files, each small: the total is what counts */
    rc = E2B_OK;
    int i;
    for (i = 0; i < 64 && rc == E2B_OK; i++) {
        char path[64];
        snprintf(path, sizeof path, "/home/user/fill/u%d", i);
        rc = e2b_files_write(sbx, path, buf, (size_t)1 << 20, NULL, NULL, &err);
    }
    free(buf);
    assert_int_equal(rc, E2B_ERR_NOT_ENOUGH_SPACE);
    assert_true(i > 8); /* earlier files were accepted */
    long long used = host_du(dir);
    printf("[ DISK     ] uploads: refused at file %d, sandbox dir %lld bytes (quota %d MiB)\n", i,
           used, QUOTA_MB);
    assert_true(used <= (long long)QUOTA_MB << 20); /* the server's own writes never overshoot */
    char *data = NULL;
    size_t len = 0;
    harness_assert_ok(e2b_files_read(sbx, "/home/user/keep.txt", NULL, &data, &len, &err), &err,
                      "nothing else lost");
    assert_true(len == 7 && !memcmp(data, "keep me", 7));
    free(data);
    assert_writes_again(sbx);
    harness_assert_ok(e2b_files_write_text(sbx, "/home/user/after-upload.txt", "ok", &err), &err,
                      "upload after deleting");
    rec_exit("%s", "507 not enough disk space");
    rec_ok();
}

/* ------------------------------------------------------------------ access tokens */

static size_t sink(char *p, size_t sz, size_t n, void *ud)
{
    (void)p;
    (void)ud;
    return sz * n;
}

/* one request to sandbox `id`'s port with token (NULL = none); returns the HTTP status */
static long raw_req(harness_target *t, const char *id, int port, const char *token,
                    const char *method, const char *path, const char *ctype, const char *body)
{
    CURL *c = curl_easy_init();
    assert_non_null(c);
    char url[600], hid[128], hport[64], tok[200], ct[128];
    snprintf(url, sizeof url, "%s%s", t->url, path);
    snprintf(hid, sizeof hid, "E2b-Sandbox-Id: %s", id);
    snprintf(hport, sizeof hport, "E2b-Sandbox-Port: %d", port);
    struct curl_slist *h = curl_slist_append(NULL, hid);
    h = curl_slist_append(h, hport);
    if (token) {
        snprintf(tok, sizeof tok, "X-Access-Token: %s", token);
        h = curl_slist_append(h, tok);
    }
    if (ctype) {
        snprintf(ct, sizeof ct, "Content-Type: %s", ctype);
        h = curl_slist_append(h, ct);
        h = curl_slist_append(h, "Connect-Protocol-Version: 1");
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (body)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 20000L);
    long status = 0;
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return status;
}

static void test_token_isolation(void **state)
{
    (void)state;
    harness_target *t = start();
    rec_begin("token_a_cannot_touch_b");
    e2b_sandbox *a = new_sbx(t, -1);
    e2b_sandbox *b = new_sbx(t, -1);
    e2b_error err;
    harness_assert_ok(e2b_files_write_text(b, "/home/user/b.txt", "secret-of-b", &err), &err,
                      "write b");
    const char *ta = e2b_sandbox_envd_access_token(a), *tb = e2b_sandbox_envd_access_token(b);
    assert_non_null(ta);
    assert_non_null(tb);
    assert_int_equal(strlen(ta), 32); /* 128-bit */
    assert_string_not_equal(ta, tb);
    const char *idb = e2b_sandbox_id(b);
    /* positive control: B's own token works */
    assert_int_equal(raw_req(t, idb, 49983, tb, "GET", "/files?path=/home/user/b.txt", NULL, NULL),
                     200);
    const char *const toks[] = {ta, NULL, "", "00000000000000000000000000000000"};
    for (size_t i = 0; i < sizeof toks / sizeof toks[0]; i++) {
        const char *tk = toks[i];
        assert_int_equal(
            raw_req(t, idb, 49983, tk, "GET", "/files?path=/home/user/b.txt", NULL, NULL), 401);
        assert_int_equal(raw_req(t, idb, 49983, tk, "POST", "/files?path=/home/user/b.txt",
                                 "application/octet-stream", "overwritten"),
                         401);
        assert_int_equal(raw_req(t, idb, 49983, tk, "POST", "/filesystem.Filesystem/ListDir",
                                 "application/json", "{\"path\":\"/home/user\"}"),
                         401);
        assert_int_equal(raw_req(t, idb, 49983, tk, "POST", "/filesystem.Filesystem/Remove",
                                 "application/json", "{\"path\":\"/home/user/b.txt\"}"),
                         401);
        assert_int_equal(
            raw_req(t, idb, 49983, tk, "POST", "/process.Process/List", "application/json", "{}"),
            401);
        assert_int_equal(raw_req(t, idb, 49983, tk, "GET", "/envs", NULL, NULL), 401);
        assert_int_equal(raw_req(t, idb, 49999, tk, "POST", "/execute", "application/json",
                                 "{\"code\":\"open('/home/user/b.txt','w').write('x')\"}"),
                         401);
    }
    /* B is untouched */
    char *data = NULL;
    size_t len = 0;
    harness_assert_ok(e2b_files_read(b, "/home/user/b.txt", NULL, &data, &len, &err), &err,
                      "read b");
    assert_true(len == 11 && !memcmp(data, "secret-of-b", 11));
    free(data);
    rec_exit("%s", "401 on files, RPCs, /envs, /execute");
    rec_ok();
}

/* ------------------------------------------------------------------ warm pool */

static int count_warm_cgroups(const char *ctrl, int *with_id, const char *id)
{
    char d[700];
    snprintf(d, sizeof d, "/sys/fs/cgroup/%s%s/e2b-mock", ctrl,
             strcmp(ctrl, "pids") ? g_mem_cg : g_pids_cg);
    DIR *dp = opendir(d);
    if (!dp)
        return -1;
    int n = 0;
    struct dirent *e;
    *with_id = 0;
    while ((e = readdir(dp))) {
        if (!strncmp(e->d_name, "warm-", 5))
            n++;
        if (!strcmp(e->d_name, id))
            *with_id = 1;
    }
    closedir(dp);
    return n;
}

static int warm_available(harness_target *t)
{
    CURL *c = curl_easy_init();
    char url[300];
    snprintf(url, sizeof url, "%s/_mock/warm-pool", t->url);
    char body[512] = "";
    FILE *f = fmemopen(body, sizeof body - 1, "w");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, f);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
    CURLcode rc = curl_easy_perform(c);
    fclose(f);
    curl_easy_cleanup(c);
    const char *a = rc == CURLE_OK ? strstr(body, "\"available\":") : NULL;
    return a ? atoi(a + 12) : -1;
}

static void test_warm_pool_claim_kill(void **state)
{
    (void)state;
    static const char *const extra[] = {"--warm-pool", "1", NULL};
    harness_target *t = start_with(extra);
    rec_begin("warm_pool_claim_kill");
    int avail = 0;
    for (int i = 0; i < 300 && (avail = warm_available(t)) < 1; i++) /* generous: 30 s */
        usleep(100 * 1000);
    assert_int_equal(avail, 1);
    /* warm-* groups now: other mocks' on this host + our pool's one entry */
    int unused = 0;
    int base_p = count_warm_cgroups("pids", &unused, "-");
    int base_m = count_warm_cgroups("memory", &unused, "-");
    e2b_sandbox *sbx = new_sbx(t, -1);
    char id[64];
    snprintf(id, sizeof id, "%s", e2b_sandbox_id(sbx));
    out *o = code(sbx, "python",
                  "import os, subprocess\n"
                  "subprocess.Popen(['setsid', 'sleep', '987681'], start_new_session=True)\n"
                  "print('kernel', os.getpid())",
                  60000);
    assert_has(o, "kernel");
    assert_true(wait_host_procs("sleep 987681") >= 1);
    /* the pooled kernel and what it started now live in the sandbox's cgroups (one set of
     * limits), in both hierarchies; as root the mock always has them */
    int with_id = 0, with_mem = 0;
    int cg = geteuid() == 0 && count_warm_cgroups("pids", &with_id, id) >= 0;
    if (cg) {
        assert_true(with_id);
        assert_true(count_warm_cgroups("memory", &with_mem, id) >= 0);
        assert_true(with_mem);
        static const char *const ctrls[] = {"pids", "memory"};
        for (int c = 0; c < 2; c++) {
            char p[800];
            snprintf(p, sizeof p, "/sys/fs/cgroup/%s%s/e2b-mock/%s/cgroup.procs", ctrls[c],
                     c ? g_mem_cg : g_pids_cg, id);
            FILE *f = fopen(p, "re");
            assert_non_null(f);
            int n = 0, sleeper = 0;
            long pid;
            while (fscanf(f, "%ld", &pid) == 1) {
                char cl[64], buf[128] = "";
                snprintf(cl, sizeof cl, "/proc/%ld/cmdline", pid);
                FILE *cf = fopen(cl, "re");
                size_t k = cf ? fread(buf, 1, sizeof buf - 1, cf) : 0;
                if (cf)
                    fclose(cf);
                for (size_t i = 0; i < k; i++)
                    if (!buf[i])
                        buf[i] = ' ';
                sleeper |= strstr(buf, "sleep 987681") != NULL;
                n++;
            }
            fclose(f);
            assert_true(n >= 2); /* the kernel (+ bwrap) and the daemon */
            assert_true(sleeper);
        }
    }
    e2b_error err;
    bool killed = false;
    rec_peak_now();
    harness_assert_ok(e2b_sandbox_kill(t->client, id, &killed, &err), &err, "kill");
    int left = -1;
    for (int i = 0; i < 100 && (left = count_host_procs("sleep 987681")) != 0; i++)
        usleep(50 * 1000);
    assert_int_equal(left, 0);
    char dir[300];
    snprintf(dir, sizeof dir, "%s/%s", g_root, id);
    assert_false(host_exists(dir));
    for (int i = 0; cg && i < 100; i++) { /* generous: 5 s */
        (void)count_warm_cgroups("pids", &with_id, id);
        (void)count_warm_cgroups("memory", &with_mem, id);
        if (!with_id && !with_mem)
            break;
        usleep(50 * 1000);
    }
    assert_false(with_id); /* no cgroup dir of the sandbox is left */
    assert_false(with_mem);
    int wp = 0, wm = 0, dummy = 0;
    if (cg) { /* no orphaned pool cgroup: the claimed entry's was renamed, the refill's is new */
        for (int i = 0; i < 100; i++) {
            wp = count_warm_cgroups("pids", &dummy, id);
            wm = count_warm_cgroups("memory", &dummy, id);
            if (wp <= base_p && wm <= base_m)
                break;
            usleep(50 * 1000);
        }
        assert_true(wp <= base_p && wm <= base_m);
    }
    rec_exit("%s", "claimed + killed, 0 survivors, no cgroup left");
    rec_ok();
}

/* Every syscall the seccomp filter denies (ISOLATION.md), called directly through libc's
 * syscall(): none may succeed; non-unix sockets fail with EAFNOSUPPORT; clone with
 * CLONE_NEWUSER fails; a 32-bit int 0x80 syscall kills the process (bad arch: SIGSYS; a
 * kernel without IA32 emulation answers SIGSEGV before seccomp sees it). */
static const char SECCOMP_PY[] =
    "import ctypes, mmap, os, platform, subprocess, sys\n"
    "libc = ctypes.CDLL(None, use_errno=True)\n"
    "libc.syscall.restype = ctypes.c_long\n"
    "nr = dict(ptrace=101, mount=165, umount2=166, pivot_root=155, chroot=161,\n"
    "    init_module=175, finit_module=313, delete_module=176, kexec_load=246,\n"
    "    kexec_file_load=320, add_key=248, request_key=249, keyctl=250, bpf=321,\n"
    "    perf_event_open=298, unshare=272, setns=308, process_vm_readv=310,\n"
    "    process_vm_writev=311, swapon=167, swapoff=168, reboot=169, open_by_handle_at=304,\n"
    "    name_to_handle_at=303, fsopen=430, fsmount=432, move_mount=429, open_tree=428,\n"
    "    mount_setattr=442, userfaultfd=323, iopl=172, ioperm=173, acct=163,\n"
    "    settimeofday=164, clock_settime=227, adjtimex=159, syslog=103, quotactl=179)\n"
    "bad = []\n"
    "if platform.machine() != 'x86_64':\n"
    "    print('SKIP-ARCH'); sys.exit(0)\n"
    "for name, n in nr.items():\n"
    "    if libc.syscall(n, 0, 0, 0, 0, 0, 0) >= 0: bad.append(name)\n"
    "for fam in (2, 10, 16, 17):\n"
    "    r = libc.syscall(41, fam, 3 if fam in (16, 17) else 1, 0)\n"
    "    e = ctypes.get_errno()\n"
    "    if r >= 0 or e != 97: bad.append('socket%d:%d' % (fam, e))\n"
    "ok_unix = libc.syscall(41, 1, 1, 0) >= 0\n"
    "r = libc.syscall(56, 0x10000000 | 17, 0, 0, 0, 0)\n"
    "if r == 0: os._exit(0)\n"
    "if r > 0: bad.append('clone-newuser'); os.waitpid(r, 0)\n"
    "x = (\"import mmap, ctypes\\n\"\n"
    "     \"m = mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)\\n\"\n"
    "     \"m.write(b'\\\\xb8\\\\x14\\\\x00\\\\x00\\\\x00\\\\xcd\\\\x80\\\\xc3')\\n\"\n"
    "     \"f = "
    "ctypes.CFUNCTYPE(ctypes.c_int)(ctypes.addressof(ctypes.c_char.from_buffer(m)))\\n\"\n"
    "     \"f(); print('SURVIVED')\\n\")\n"
    "p = subprocess.run([sys.executable, '-c', x], capture_output=True, text=True)\n"
    "if 'SURVIVED' in p.stdout or p.returncode >= 0: bad.append('int80:%d' % p.returncode)\n"
    "print('DENIED-ALL' if not bad and ok_unix else 'ALLOWED %s unix=%s' % (bad, ok_unix),\n"
    "      'int80 rc', p.returncode)\n";

static void test_seccomp_denials(void **state)
{
    (void)state;
    harness_target *t = start();
    rec_begin("seccomp_denied_syscalls");
    e2b_sandbox *sbx = new_sbx(t, -1);
    out *o = code(sbx, "python", SECCOMP_PY, 60000);
    if (strstr(o->text, "SKIP-ARCH"))
        skip();
    assert_has(o, "DENIED-ALL");
    /* int 0x80 died by a signal (checked in the script): SIGSYS where the kernel has IA32
     * emulation, SIGSEGV on kernels without it (this machine's) */
    e2b_error err;
    harness_assert_ok(e2b_files_write_text(sbx, "/home/user/sc.py", SECCOMP_PY, &err), &err,
                      "script");
    out *c = cmd(sbx, "/usr/bin/python3 /home/user/sc.py", 60000);
    assert_has(c, "DENIED-ALL");
    rec_exit("%s", strstr(o->text, "int80 rc -31") ? "39 denied, 4 EAFNOSUPPORT, int80 SIGSYS"
                                                   : "39 denied, 4 EAFNOSUPPORT, int80 no ia32");
    rec_ok();
}

static void test_refuses_without_bwrap(void **state)
{
    (void)state;
    setenv("E2B_MOCK_BWRAP", "/nonexistent/bwrap", 1); /* inherited by the mock */
    harness_target *t = start();
    unsetenv("E2B_MOCK_BWRAP");
    rec_begin("refuses_unisolated");
    e2b_sandbox *sbx = new_sbx(t, -1);
    out *o = cmd(sbx, "echo RAN", 30000);
    assert_no(o, "RAN\n");
    assert_int_not_equal(o->rc, E2B_OK);
    o = code(sbx, "python", "print('RAN')", 30000);
    assert_no(o, "RAN\n");
    rec_ok();
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_read_etc_shadow),
        cmocka_unit_test(test_read_project_source),
        cmocka_unit_test(test_read_other_sandbox),
        cmocka_unit_test(test_write_outside_home),
        cmocka_unit_test(test_symlink_escape_via_files_api),
        cmocka_unit_test(test_network_blocked),
        cmocka_unit_test(test_internet_opt_in),
        cmocka_unit_test(test_fork_bomb),
        cmocka_unit_test(test_fork_bomb_kernel),
        cmocka_unit_test(test_limits_without_cgroups),
        cmocka_unit_test(test_memory_bomb),
        cmocka_unit_test(test_disk_fill),
        cmocka_unit_test(test_runaway_output),
        cmocka_unit_test(test_infinite_loop_timeout),
        cmocka_unit_test(test_outlive_kill),
        cmocka_unit_test(test_expiry_ends_everything),
        cmocka_unit_test(test_host_env_not_visible),
        cmocka_unit_test(test_signals_and_ptrace_host),
        cmocka_unit_test(test_privileges_dropped),
        cmocka_unit_test(test_disk_quota_many_files),
        cmocka_unit_test(test_disk_quota_upload),
        cmocka_unit_test(test_token_isolation),
        cmocka_unit_test(test_warm_pool_claim_kill),
        cmocka_unit_test(test_seccomp_denials),
        cmocka_unit_test(test_refuses_without_bwrap),
    };
    return harness_run(argc, argv, "security", tests, sizeof tests / sizeof tests[0]);
}
