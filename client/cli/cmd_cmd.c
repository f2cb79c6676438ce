/* cmd_cmd.c - `e2bc cmd`: run a shell command in a sandbox (envd process.Process).
 *
 *   e2bc cmd [options] COMMAND...      run `/bin/bash -l -c "COMMAND..."`, stream its output
 *   e2bc cmd -b [options] COMMAND...   start it in the background, print its pid
 *   e2bc cmd --list | --kill PID       list processes / SIGKILL one
 *
 * Exit status (ssh-like): the command's own exit code (128+9 when killed by a signal);
 * 255 when e2bc itself failed (network, sandbox, timeout, usage...).
 */
#include "e2bc.h"

#include <cjson/cJSON.h>

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "e2b/commands.h"

#define CMD_EXIT_INFRA 255

static void cmd_usage(FILE *f)
{
    fprintf(
        f,
        "usage: e2bc cmd [options] COMMAND...\n"
        "Runs COMMAND with /bin/bash -l -c in the sandbox; stdout/stderr stream as they come.\n\n"
        "options:\n"
        "  -s, --sandbox ID     the sandbox (default: create one for this command, kill it after)\n"
        "  -u, --user USER      run as USER\n"
        "  -C, --cwd DIR        working directory\n"
        "  -e, --env K=V        environment variable (repeatable)\n"
        "  -T, --timeout MS     command timeout (default 60000; 0 = none)\n"
        "  -i, --stdin          send e2bc's stdin to the command (then close it)\n"
        "  -b, --background     start it, print the pid and return (needs --sandbox;\n"
        "                       no timeout unless -T is given)\n"
        "  -L, --list           list the sandbox's processes\n"
        "  -K, --kill PID       SIGKILL process PID\n"
        "  -j, --json           print the result as JSON instead of streaming ({pid, exitCode,\n"
        "                       stdout, stderr}; -b {pid}; -L an array; -K {pid, killed})\n"
        "      --no-progress    no progress line on stderr (also E2BC_NO_PROGRESS=1)\n"
        "  -h, --help           this help\n\n"
        "exit status: the command's exit code (137 when killed), 255 when e2bc failed\n");
}

static void out_cb(void *ud, const char *d, size_t n)
{
    (void)ud;
    e2bc_progress_write(stdout, d, n);
}

static void err_cb(void *ud, const char *d, size_t n)
{
    (void)ud;
    e2bc_progress_write(stderr, d, n);
}

static void print_json_and_free(cJSON *o)
{
    char *s = cJSON_PrintUnformatted(o);
    if (s)
        printf("%s\n", s);
    cJSON_free(s);
    cJSON_Delete(o);
}

static void print_result_json(const e2b_command_result *r, e2b_code rc, const e2b_error *err)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "pid", r->pid);
    cJSON_AddNumberToObject(o, "exitCode", r->exit_code);
    cJSON_AddStringToObject(o, "stdout", r->stdout_data ? r->stdout_data : "");
    cJSON_AddStringToObject(o, "stderr", r->stderr_data ? r->stderr_data : "");
    if (r->error)
        cJSON_AddStringToObject(o, "error", r->error);
    if (rc != E2B_OK) {
        cJSON *e = cJSON_AddObjectToObject(o, "failure");
        cJSON_AddStringToObject(e, "code", e2b_code_name(rc));
        cJSON_AddStringToObject(e, "message", err->message);
    }
    char *s = cJSON_PrintUnformatted(o);
    if (s)
        printf("%s\n", s);
    cJSON_free(s);
    cJSON_Delete(o);
}

/* Streams our stdin to the process, then closes its stdin. */
static e2b_code pump_stdin(e2b_command_handle *h, e2b_error *err)
{
    char buf[32 * 1024];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, stdin)) > 0) {
        e2b_code rc = e2b_command_send_stdin(h, buf, n, err);
        if (rc != E2B_OK)
            return rc;
    }
    if (ferror(stdin))
        return e2b_error_set(err, E2B_ERR_IO, 0, "reading stdin failed");
    return e2b_command_close_stdin(h, err);
}

static char *join_args(char **args, int n)
{
    size_t len = 1;
    for (int i = 0; i < n; i++)
        len += strlen(args[i]) + 1;
    char *s = malloc(len);
    if (!s)
        return NULL;
    s[0] = '\0';
    for (int i = 0; i < n; i++) {
        if (i)
            strcat(s, " ");
        strcat(s, args[i]);
    }
    return s;
}

int e2bc_cmd_cmd(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"sandbox", required_argument, NULL, 's'},
        {"user", required_argument, NULL, 'u'},
        {"cwd", required_argument, NULL, 'C'},
        {"env", required_argument, NULL, 'e'},
        {"timeout", required_argument, NULL, 'T'},
        {"stdin", no_argument, NULL, 'i'},
        {"background", no_argument, NULL, 'b'},
        {"list", no_argument, NULL, 'L'},
        {"kill", required_argument, NULL, 'K'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {"no-progress", no_argument, NULL, E2BC_OPT_NO_PROGRESS},
        {NULL, 0, NULL, 0}};
    const char *sandbox_id = NULL;
    e2b_command_opts co = {0};
    e2b_kv *envs = NULL;
    size_t nenvs = 0;
    bool use_stdin = false, background = false, list = false, json = false;
    long kill_pid = -1;
    int ch;
    optind = 1;
    /* "+": stop at the first non-option, so the command's own flags are left alone */
    while ((ch = getopt_long(argc, argv, "+s:u:C:e:T:ibLK:jh", longopts, NULL)) != -1) {
        switch (ch) {
        case 's': sandbox_id = optarg; break;
        case 'u': co.user = optarg; break;
        case 'C': co.cwd = optarg; break;
        case 'e': {
            e2b_kv *nv = realloc(envs, (nenvs + 1) * sizeof *envs);
            if (!nv || !e2bc_parse_kv(optarg, &nv[nenvs])) {
                fprintf(stderr, "e2bc cmd: bad --env '%s' (want K=V)\n", optarg);
                free(nv ? nv : envs);
                return CMD_EXIT_INFRA;
            }
            envs = nv;
            nenvs++;
            break;
        }
        case 'T': {
            long t = strtol(optarg, NULL, 10);
            co.timeout_ms = t == 0 ? E2B_COMMAND_NO_TIMEOUT : t;
            break;
        }
        case 'i': use_stdin = true; break;
        case 'b': background = true; break;
        case 'L': list = true; break;
        case 'K': kill_pid = strtol(optarg, NULL, 10); break;
        case 'j': json = true; break;
        case E2BC_OPT_NO_PROGRESS: e2bc_progress_disable(); break;
        case 'h':
            cmd_usage(stdout);
            free(envs);
            return 0;
        default:
            cmd_usage(stderr);
            free(envs);
            return CMD_EXIT_INFRA;
        }
    }
    co.envs = envs;
    co.envs_len = nenvs;
    /* a background process outlives e2bc: no deadline unless one was asked for (envd kills
     * a process when its Connect-Timeout-Ms passes, connected or not) */
    if (background && co.timeout_ms == 0)
        co.timeout_ms = E2B_COMMAND_NO_TIMEOUT;
    char *command = NULL;
    if (!list && kill_pid < 0) {
        if (optind >= argc) {
            cmd_usage(stderr);
            free(envs);
            return CMD_EXIT_INFRA;
        }
        command = join_args(argv + optind, argc - optind);
    }
    if (background && !sandbox_id) {
        fprintf(stderr, "e2bc cmd: --background needs --sandbox (the process would die with "
                        "the sandbox made for this command)\n");
        free(envs);
        free(command);
        return CMD_EXIT_INFRA;
    }

    int exit_code = CMD_EXIT_INFRA;
    e2bc_conn conn;
    if (!e2bc_open(&conn, !json)) {
        free(envs);
        free(command);
        return CMD_EXIT_INFRA;
    }
    e2b_error err;
    e2b_error_clear(&err);
    e2b_sandbox *sbx = NULL;
    bool created = false;
    e2b_code rc;
    e2bc_progress_begin(sandbox_id ? "connecting to the sandbox..." : "creating sandbox...");
    if (sandbox_id) {
        rc = e2b_sandbox_connect(conn.client, sandbox_id, 0, &sbx, NULL, &err);
    } else {
        rc = e2b_sandbox_create(conn.client, NULL, &sbx, &err);
        created = rc == E2B_OK;
    }
    e2bc_progress_end();
    if (rc != E2B_OK) {
        e2bc_fail(sandbox_id ? "connecting to the sandbox" : "creating a sandbox", &err);
        goto out;
    }
    e2bc_progress_begin(list            ? "listing processes..."
                        : kill_pid >= 0 ? "killing the process..."
                        : background    ? "starting the command..."
                                        : "running the command...");

    if (list) {
        e2b_process_info *v = NULL;
        size_t n = 0;
        rc = e2b_commands_list(sbx, co.user, &v, &n, &err);
        e2bc_progress_end();
        if (rc == E2B_OK && json) {
            cJSON *arr = cJSON_CreateArray();
            for (size_t i = 0; i < n; i++) {
                cJSON *o = cJSON_CreateObject();
                cJSON_AddNumberToObject(o, "pid", v[i].pid);
                if (v[i].tag)
                    cJSON_AddStringToObject(o, "tag", v[i].tag);
                cJSON_AddStringToObject(o, "cmd", v[i].cmd ? v[i].cmd : "");
                cJSON *args = cJSON_AddArrayToObject(o, "args");
                for (size_t j = 0; j < v[i].args_len; j++)
                    cJSON_AddItemToArray(args, cJSON_CreateString(v[i].args[j]));
                cJSON_AddItemToArray(arr, o);
            }
            print_json_and_free(arr);
            exit_code = 0;
        } else if (rc == E2B_OK) {
            for (size_t i = 0; i < n; i++) {
                printf("%u", v[i].pid);
                if (v[i].tag)
                    printf(" [%s]", v[i].tag);
                printf(" %s", v[i].cmd ? v[i].cmd : "?");
                for (size_t j = 0; j < v[i].args_len; j++)
                    printf(" %s", v[i].args[j]);
                printf("\n");
            }
            exit_code = 0;
        } else {
            e2bc_fail("listing processes", &err);
        }
        e2b_process_infos_free(v, n);
    } else if (kill_pid >= 0) {
        bool killed = false;
        rc = e2b_commands_kill(sbx, (uint32_t)kill_pid, &killed, &err);
        e2bc_progress_end();
        if (rc != E2B_OK) {
            e2bc_fail("killing the process", &err);
        } else {
            if (json) {
                cJSON *o = cJSON_CreateObject();
                cJSON_AddNumberToObject(o, "pid", (double)kill_pid);
                cJSON_AddBoolToObject(o, "killed", killed);
                print_json_and_free(o);
            }
            if (!killed)
                fprintf(stderr, "e2bc cmd: no process %ld\n", kill_pid);
            exit_code = killed ? 0 : 1;
        }
    } else if (background || use_stdin) {
        if (!json) {
            co.on_stdout = out_cb;
            co.on_stderr = err_cb;
        }
        co.stdin_open = use_stdin;
        e2b_command_handle *h = NULL;
        rc = e2b_commands_start(sbx, command, &co, &h, &err);
        if (background || rc != E2B_OK)
            e2bc_progress_end();
        if (rc != E2B_OK) {
            e2bc_fail("starting the command", &err);
        } else if (background) {
            if (json)
                printf("{\"pid\":%u}\n", e2b_command_handle_pid(h));
            else
                printf("%u\n", e2b_command_handle_pid(h));
            exit_code = 0;
        } else {
            e2b_error serr;
            bool typing = isatty(STDIN_FILENO); /* no line over what the user types */
            if (typing)
                e2bc_progress_end();
            if (pump_stdin(h, &serr) != E2B_OK)
                e2bc_fail("sending stdin", &serr);
            if (typing)
                e2bc_progress_begin("running the command...");
            e2b_command_result r;
            rc = e2b_command_wait(h, &r, &err);
            e2bc_progress_end();
            if (json)
                print_result_json(&r, rc, &err);
            if (rc != E2B_OK)
                e2bc_fail("running the command", &err);
            else
                exit_code = r.exit_code >= 0 ? r.exit_code & 0xff : 128 + 9;
            e2b_command_result_free(&r);
        }
        /* background: freeing disconnects; the process keeps running in the sandbox */
        e2b_command_handle_free(h);
    } else {
        if (!json) {
            co.on_stdout = out_cb;
            co.on_stderr = err_cb;
        }
        e2b_command_result r;
        rc = e2b_commands_run(sbx, command, &co, &r, &err);
        e2bc_progress_end();
        if (json)
            print_result_json(&r, rc, &err);
        if (rc != E2B_OK)
            e2bc_fail("running the command", &err);
        else
            exit_code = r.exit_code >= 0 ? r.exit_code & 0xff : 128 + 9;
        e2b_command_result_free(&r);
    }

    if (created) {
        e2b_error kerr;
        e2bc_progress_begin("killing the sandbox...");
        if (e2b_sandbox_kill(conn.client, e2b_sandbox_id(sbx), NULL, &kerr) != E2B_OK)
            e2bc_fail("killing the sandbox", &kerr);
        e2bc_progress_end();
    }
out:
    e2b_sandbox_free(sbx);
    e2bc_close(&conn);
    free(envs);
    free(command);
    return exit_code;
}
