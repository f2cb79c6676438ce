/* cmd_run.c - `e2bc run`: run code in a sandbox's code interpreter, streaming its output.
 *
 *   e2bc run [options] [FILE|-]      code from FILE, from stdin ("-" or nothing), or -c CODE
 *
 * Exit status: 0 the code ran without error; 1 the code raised an error (printed, or in
 * the JSON); 2 anything else (usage, network, sandbox, timeout, protocol).
 */
#include "e2bc.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define RUN_EXIT_OK 0
#define RUN_EXIT_CODE_ERROR 1
#define RUN_EXIT_INFRA 2

static void run_usage(FILE *f)
{
    fprintf(
        f, "usage: e2bc run [options] [FILE|-]\n"
           "Runs code in the sandbox's code interpreter; stdout/stderr stream as they come.\n"
           "Code comes from -c CODE, from FILE, or from stdin (FILE \"-\" or none).\n\n"
           "options:\n"
           "  -c, --code CODE      the code to run\n"
           "  -l, --language LANG  python (default), javascript, typescript, r, bash, ...\n"
           "  -x, --context ID     run in this code context (not with --language)\n"
           "  -s, --sandbox ID     use this running sandbox (default: create one, kill it after)\n"
           "  -t, --template T     template for a new sandbox (default code-interpreter-v1)\n"
           "  -k, --keep           do not kill the sandbox created for this run (prints its id)\n"
           "  -e, --env K=V        env var for this execution (repeatable)\n"
           "  -T, --timeout MS     execution timeout in ms (default 60000; 0 = none)\n"
           "  -o, --out DIR        where png/jpeg/svg/pdf results are written (default ./e2b-out)\n"
           "  -j, --json           print the execution as one JSON object instead of streaming\n"
           "      --no-progress    no progress line on stderr (also E2BC_NO_PROGRESS=1)\n"
           "  -h, --help           this help\n\n"
           "exit status: 0 ok, 1 the code raised an error, 2 usage or infrastructure error\n");
}

/* Reads all of f into a NUL-terminated heap string. */
static char *read_all(FILE *f)
{
    size_t cap = 8192, len = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (len + 4096 + 1 > cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                return NULL;
            }
            buf = nb;
            cap *= 2;
        }
        size_t n = fread(buf + len, 1, cap - len - 1, f);
        len += n;
        if (n == 0)
            break;
    }
    if (!buf || ferror(f)) {
        free(buf);
        return NULL;
    }
    buf[len] = '\0';
    return buf;
}

/* Streaming callbacks (human mode). */
static int print_stdout(const e2b_log_chunk *c, void *ud)
{
    (void)ud;
    e2bc_progress_write(stdout, c->text, c->len);
    return 0;
}

static int print_stderr(const e2b_log_chunk *c, void *ud)
{
    (void)ud;
    e2bc_progress_write(stderr, c->text, c->len);
    return 0;
}

static int print_result(const e2b_result *r, void *ud)
{
    (void)ud;
    /* the value of the last expression, as a REPL shows it; display data (figures) is
     * saved to files at the end */
    if (r->is_main_result && r->text) {
        size_t n = strlen(r->text);
        e2bc_progress_hold();
        fputs(r->text, stdout);
        if (n == 0 || r->text[n - 1] != '\n')
            fputc('\n', stdout);
        fflush(stdout);
        e2bc_progress_release();
    }
    return 0;
}

static void print_exec_error(const e2b_exec_error *e)
{
    if (e->traceback[0]) {
        fputs(e->traceback, stderr);
        if (e->traceback[strlen(e->traceback) - 1] != '\n')
            fputc('\n', stderr);
    } else {
        fprintf(stderr, "%s: %s\n", e->name, e->value);
    }
}

/* --json output: the execution's JSON plus the saved image paths and the call status. */
static void print_json(const e2b_execution *ex, char **paths, size_t npaths, const e2b_error *err,
                       e2b_code rc)
{
    char *js = NULL;
    cJSON *o = NULL;
    if (ex && e2b_execution_to_json(ex, &js, NULL) == E2B_OK)
        o = cJSON_Parse(js);
    free(js);
    if (!o)
        o = cJSON_CreateObject();
    cJSON *imgs = cJSON_AddArrayToObject(o, "images");
    for (size_t i = 0; i < npaths; i++)
        cJSON_AddItemToArray(imgs, cJSON_CreateString(paths[i]));
    if (rc != E2B_OK) {
        cJSON *f = cJSON_AddObjectToObject(o, "failure");
        cJSON_AddStringToObject(f, "code", e2b_code_name(rc));
        cJSON_AddStringToObject(f, "message", err->message);
        cJSON_AddBoolToObject(f, "partial", ex != NULL);
    }
    char *s = cJSON_PrintUnformatted(o);
    if (s)
        printf("%s\n", s);
    cJSON_free(s);
    cJSON_Delete(o);
}

int e2bc_cmd_run(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"code", required_argument, NULL, 'c'},
        {"language", required_argument, NULL, 'l'},
        {"context", required_argument, NULL, 'x'},
        {"sandbox", required_argument, NULL, 's'},
        {"template", required_argument, NULL, 't'},
        {"keep", no_argument, NULL, 'k'},
        {"env", required_argument, NULL, 'e'},
        {"timeout", required_argument, NULL, 'T'},
        {"out", required_argument, NULL, 'o'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {"no-progress", no_argument, NULL, E2BC_OPT_NO_PROGRESS},
        {NULL, 0, NULL, 0},
    };
    const char *code_arg = NULL, *sandbox_id = NULL, *tmpl = "code-interpreter-v1";
    const char *out_dir = "./e2b-out";
    bool keep = false, json = false;
    e2b_run_opts o;
    e2b_run_opts_init(&o);
    e2b_kv *env = NULL;
    size_t nenv = 0;
    int exit_code = RUN_EXIT_INFRA;

    optind = 1;
    int ch;
    while ((ch = getopt_long(argc, argv, "c:l:x:s:t:ke:T:o:jh", longopts, NULL)) != -1) {
        switch (ch) {
        case 'c': code_arg = optarg; break;
        case 'l': o.language = optarg; break;
        case 'x': o.context_id = optarg; break;
        case 's': sandbox_id = optarg; break;
        case 't': tmpl = optarg; break;
        case 'k': keep = true; break;
        case 'o': out_dir = optarg; break;
        case 'j': json = true; break;
        case E2BC_OPT_NO_PROGRESS: e2bc_progress_disable(); break;
        case 'e': {
            e2b_kv *ne = realloc(env, (nenv + 1) * sizeof *ne);
            if (!ne)
                goto out;
            env = ne;
            if (!e2bc_parse_kv(optarg, &env[nenv])) {
                fprintf(stderr, "e2bc run: --env wants KEY=VALUE, got \"%s\"\n", optarg);
                goto out;
            }
            nenv++;
            break;
        }
        case 'T': {
            char *end;
            errno = 0;
            long v = strtol(optarg, &end, 10);
            if (errno || *end || v < 0) {
                fprintf(stderr, "e2bc run: --timeout wants milliseconds >= 0\n");
                goto out;
            }
            o.timeout_ms = v;
            break;
        }
        case 'h':
            run_usage(stdout);
            exit_code = RUN_EXIT_OK;
            goto out;
        default: run_usage(stderr); goto out;
        }
    }
    if (o.language && o.context_id) {
        fprintf(stderr, "e2bc run: --language and --context exclude each other\n");
        goto out;
    }
    if (code_arg && optind < argc) {
        fprintf(stderr, "e2bc run: give either -c CODE or a FILE, not both\n");
        goto out;
    }
    if (optind + 1 < argc) {
        run_usage(stderr);
        goto out;
    }
    o.env_vars = env;
    o.env_vars_len = nenv;

    char *code = NULL;
    if (code_arg) {
        code = strdup(code_arg);
    } else {
        const char *path = optind < argc ? argv[optind] : "-";
        FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
        if (!f) {
            fprintf(stderr, "e2bc run: cannot open %s: %s\n", path, strerror(errno));
            goto out;
        }
        if (f == stdin && isatty(STDIN_FILENO))
            fprintf(stderr, "e2bc run: reading code from the terminal; end with Ctrl-D\n");
        code = read_all(f);
        if (f != stdin)
            fclose(f);
    }
    if (!code) {
        fprintf(stderr, "e2bc run: cannot read the code\n");
        goto out;
    }

    e2bc_conn conn;
    if (!e2bc_open(&conn, !json)) {
        free(code);
        goto out;
    }
    e2b_error err;
    e2b_error_clear(&err);
    e2b_sandbox *sbx = NULL;
    bool created = false;
    e2b_code rc;
    if (sandbox_id) {
        e2bc_progress_begin("connecting to the sandbox...");
        rc = e2b_sandbox_connect(conn.client, sandbox_id, 0, &sbx, NULL, &err);
    } else {
        e2b_create_opts co;
        e2b_create_opts_init(&co);
        co.template_id = tmpl;
        e2bc_progress_begin("creating sandbox...");
        rc = e2b_sandbox_create(conn.client, &co, &sbx, &err);
        created = rc == E2B_OK;
    }
    e2bc_progress_end();
    if (rc != E2B_OK) {
        e2bc_fail(sandbox_id ? "connecting to the sandbox" : "creating a sandbox", &err);
        if (json)
            print_json(NULL, NULL, 0, &err, rc);
        free(code);
        e2bc_close(&conn);
        goto out;
    }

    if (!json) {
        o.on_stdout = print_stdout;
        o.on_stderr = print_stderr;
        o.on_result = print_result;
    }
    e2b_execution *ex = NULL;
    char label[96];
    if (o.context_id)
        snprintf(label, sizeof label, "running code in context %.40s...", o.context_id);
    else
        snprintf(label, sizeof label, "running %.40s...", o.language ? o.language : "python");
    e2bc_progress_begin(label);
    rc = e2b_run_code(sbx, code, &o, &ex, &err);
    e2bc_progress_end();
    free(code);
    e2b_error run_err = err;

    /* images, also from a partial execution */
    char **paths = NULL;
    size_t npaths = 0;
    if (ex) {
        char prefix[64];
        time_t now = time(NULL);
        struct tm tm;
        gmtime_r(&now, &tm);
        size_t pn = strftime(prefix, sizeof prefix, "run-%Y%m%d-%H%M%S", &tm);
        snprintf(prefix + pn, sizeof prefix - pn, "-%d", (int)getpid());
        e2b_error ierr;
        if (e2b_execution_save_images(ex, out_dir, prefix, &paths, &npaths, &ierr) != E2B_OK)
            e2bc_fail("saving images", &ierr);
    }

    if (json) {
        print_json(ex, paths, npaths, &run_err, rc);
    } else {
        for (size_t i = 0; i < npaths; i++)
            fprintf(stderr, "e2bc: wrote %s\n", paths[i]);
        if (ex && ex->error)
            print_exec_error(ex->error);
    }
    if (rc != E2B_OK) {
        e2bc_fail(ex ? "running the code (partial output above)" : "running the code", &run_err);
        exit_code = RUN_EXIT_INFRA;
    } else {
        exit_code = ex->error ? RUN_EXIT_CODE_ERROR : RUN_EXIT_OK;
    }
    e2b_paths_free(paths, npaths);
    e2b_execution_free(ex);

    if (created && keep) {
        fprintf(stderr, "e2bc: kept sandbox %s\n", e2b_sandbox_id(sbx));
    } else if (created) {
        e2bc_progress_begin("killing the sandbox...");
        if (e2b_sandbox_kill(conn.client, e2b_sandbox_id(sbx), NULL, &err) != E2B_OK)
            e2bc_fail("killing the sandbox", &err);
        e2bc_progress_end();
    }
    e2b_sandbox_free(sbx);
    e2bc_close(&conn);
out:
    free(env);
    return exit_code;
}
