/* cmd_files.c - `e2bc files`: the sandbox filesystem (envd /files and filesystem RPCs).
 *
 *   e2bc files put LOCAL REMOTE     upload, streamed from LOCAL ("-" = stdin)
 *   e2bc files get REMOTE [LOCAL]   download, streamed to LOCAL (default / "-" = stdout)
 *   e2bc files ls [PATH]            list (default "."; -d DEPTH)
 *   e2bc files stat PATH            one entry
 *   e2bc files rm PATH              remove a file or a directory tree
 *   e2bc files mkdir PATH           create a directory with its parents
 *
 * Without -s a sandbox is created for the command and killed after it (useful against the
 * local mock only as a smoke test: nothing persists).
 * Exit status: 0 ok, 1 failure (not found, network, ...), 2 usage.
 */
#include "e2bc.h"

#include <cjson/cJSON.h>

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "e2b/files.h"

static void files_usage(FILE *f)
{
    fprintf(
        f,
        "usage: e2bc files <put|get|ls|stat|rm|mkdir> [options] ARGS\n"
        "  put LOCAL REMOTE     upload LOCAL (\"-\" = stdin) to REMOTE, streamed\n"
        "  get REMOTE [LOCAL]   download REMOTE to LOCAL (default or \"-\": stdout), streamed\n"
        "  ls [PATH]            list PATH (default \".\", the user's home)\n"
        "  stat PATH            show one entry\n"
        "  rm PATH              remove a file or directory\n"
        "  mkdir PATH           create a directory (and parents)\n\n"
        "options:\n"
        "  -s, --sandbox ID     the sandbox (default: create one for this command, kill it after)\n"
        "  -u, --user USER      act as USER (default: the sandbox's default user)\n"
        "  -d, --depth N        ls: depth (default 1)\n"
        "  -z, --gzip           put/get: gzip on the wire\n"
        "  -T, --timeout MS     request timeout in ms (default: the client's; 0 = none)\n"
        "  -j, --json           one JSON value on stdout: put/stat the entry, ls an array,\n"
        "                       mkdir {\"created\"}, rm {\"path\",\"removed\"}, get\n"
        "                       {\"path\",\"local\",\"bytes\"} (get --json needs LOCAL)\n"
        "      --no-progress    no progress line on stderr (also E2BC_NO_PROGRESS=1)\n"
        "  -h, --help           this help\n\n"
        "exit status: 0 ok; 1 the path or sandbox does not exist, the request was invalid, or\n"
        "a local file could not be opened; 2 bad usage or an infrastructure error (network,\n"
        "timeout, server)\n");
}

static cJSON *entry_json(const e2b_entry_info *e)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    if (e->name)
        cJSON_AddStringToObject(o, "name", e->name);
    cJSON_AddStringToObject(o, "type", e2b_file_type_name(e->type));
    if (e->path)
        cJSON_AddStringToObject(o, "path", e->path);
    cJSON_AddNumberToObject(o, "size", (double)e->size);
    cJSON_AddNumberToObject(o, "mode", e->mode);
    if (e->permissions)
        cJSON_AddStringToObject(o, "permissions", e->permissions);
    if (e->owner)
        cJSON_AddStringToObject(o, "owner", e->owner);
    if (e->group)
        cJSON_AddStringToObject(o, "group", e->group);
    if (e->modified_time)
        cJSON_AddStringToObject(o, "modifiedTime", e->modified_time);
    if (e->symlink_target)
        cJSON_AddStringToObject(o, "symlinkTarget", e->symlink_target);
    return o;
}

static void print_json_and_free(cJSON *o)
{
    char *s = o ? cJSON_PrintUnformatted(o) : NULL;
    if (s)
        printf("%s\n", s);
    cJSON_free(s);
    cJSON_Delete(o);
}

static void print_entry_line(const e2b_entry_info *e)
{
    char when[40];
    e2bc_fmt_time(e->modified_unix, when, sizeof when);
    printf("%-10s %-8s %-8s %12lld  %s  %s%s%s\n", e->permissions ? e->permissions : "-",
           e->owner ? e->owner : "-", e->group ? e->group : "-", (long long)e->size, when,
           e->path ? e->path : (e->name ? e->name : "?"), e->symlink_target ? " -> " : "",
           e->symlink_target ? e->symlink_target : "");
}

int e2bc_cmd_files(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        files_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? E2BC_EXIT_USAGE : 0;
    }
    const char *sub = argv[1];
    static const struct option longopts[] = {
        {"sandbox", required_argument, NULL, 's'},
        {"user", required_argument, NULL, 'u'},
        {"depth", required_argument, NULL, 'd'},
        {"gzip", no_argument, NULL, 'z'},
        {"timeout", required_argument, NULL, 'T'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {"no-progress", no_argument, NULL, E2BC_OPT_NO_PROGRESS},
        {NULL, 0, NULL, 0}};
    const char *sandbox_id = NULL;
    e2b_files_opts fo = {0};
    int depth = 1;
    bool json = false;
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc - 1, argv + 1, "s:u:d:zT:jh", longopts, NULL)) != -1) {
        switch (ch) {
        case 's': sandbox_id = optarg; break;
        case 'u': fo.user = optarg; break;
        case 'd': depth = atoi(optarg); break;
        case 'z': fo.gzip = true; break;
        case 'T': {
            long t = strtol(optarg, NULL, 10);
            fo.timeout_ms = t == 0 ? E2B_FILES_NO_TIMEOUT : t;
            break;
        }
        case 'j': json = true; break;
        case E2BC_OPT_NO_PROGRESS: e2bc_progress_disable(); break;
        case 'h': files_usage(stdout); return 0;
        default: files_usage(stderr); return E2BC_EXIT_USAGE;
        }
    }
    char **args = argv + 1 + optind;
    int nargs = argc - 1 - optind;
    int need_min = 1, need_max = 1;
    if (!strcmp(sub, "put"))
        need_min = need_max = 2;
    else if (!strcmp(sub, "get"))
        need_max = 2;
    else if (!strcmp(sub, "ls"))
        need_min = 0;
    else if (strcmp(sub, "stat") && strcmp(sub, "rm") && strcmp(sub, "mkdir")) {
        fprintf(stderr, "e2bc files: unknown subcommand '%s'\n", sub);
        files_usage(stderr);
        return E2BC_EXIT_USAGE;
    }
    if (nargs < need_min || nargs > need_max) {
        fprintf(stderr, "e2bc files %s: wrong number of arguments\n", sub);
        files_usage(stderr);
        return E2BC_EXIT_USAGE;
    }
    if (!strcmp(sub, "ls") && depth < 1) {
        fprintf(stderr, "e2bc files ls: depth must be >= 1\n");
        return E2BC_EXIT_USAGE;
    }
    if (!strcmp(sub, "get") && json && (nargs < 2 || !strcmp(args[1], "-"))) {
        fprintf(stderr, "e2bc files get: --json needs a LOCAL file (stdout carries the JSON)\n");
        return E2BC_EXIT_USAGE;
    }

    /* local files first, so a typo fails before any network call */
    FILE *local = NULL;
    bool close_local = false;
    if (!strcmp(sub, "put")) {
        if (strcmp(args[0], "-")) {
            local = fopen(args[0], "rb");
            if (!local) {
                fprintf(stderr, "e2bc files put: cannot open %s: %s\n", args[0], strerror(errno));
                return E2BC_EXIT_FAIL;
            }
            close_local = true;
        } else {
            local = stdin;
        }
    } else if (!strcmp(sub, "get")) {
        if (nargs == 2 && strcmp(args[1], "-")) {
            local = fopen(args[1], "wb");
            if (!local) {
                fprintf(stderr, "e2bc files get: cannot create %s: %s\n", args[1], strerror(errno));
                return E2BC_EXIT_FAIL;
            }
            close_local = true;
        } else {
            local = stdout;
        }
    }

    int exit_code = E2BC_EXIT_FAIL;
    e2bc_conn conn;
    if (!e2bc_open(&conn, !json && strcmp(sub, "get"))) {
        if (close_local)
            fclose(local);
        return E2BC_EXIT_INFRA;
    }
    e2b_error err;
    e2b_error_clear(&err);
    e2b_sandbox *sbx = NULL;
    bool created = false;
    e2b_code rc;
    e2bc_progress_begin(sandbox_id ? "connecting to the sandbox..." : "creating sandbox...");
    if (sandbox_id) {
        rc = e2bc_progress_done(e2b_sandbox_connect(conn.client, sandbox_id, 0, &sbx, NULL, &err));
    } else {
        rc = e2bc_progress_done(e2b_sandbox_create(conn.client, NULL, &sbx, &err));
        created = rc == E2B_OK;
        if (created)
            fprintf(stderr, "note: no --sandbox given; using a new sandbox %s for this command\n",
                    e2b_sandbox_id(sbx));
    }
    if (rc != E2B_OK) {
        exit_code = e2bc_fail(sandbox_id ? "connecting to the sandbox" : "creating a sandbox",
                              &err);
        goto out;
    }

    /* no progress line over a download streaming onto the terminal or an upload typed there */
    bool on_tty = (local == stdout && isatty(STDOUT_FILENO)) ||
                  (local == stdin && isatty(STDIN_FILENO));
    if (!on_tty)
        e2bc_progress_begin(!strcmp(sub, "put")     ? "uploading..."
                            : !strcmp(sub, "get")   ? "downloading..."
                            : !strcmp(sub, "ls")    ? "listing files..."
                            : !strcmp(sub, "rm")    ? "removing..."
                            : !strcmp(sub, "mkdir") ? "making the directory..."
                                                    : "asking for the file...");
    if (!strcmp(sub, "put")) {
        e2b_entry_info *info = NULL;
        rc = e2bc_progress_done(e2b_files_write_from_file(sbx, args[1], local, &fo, &info, &err));
        if (rc == E2B_OK) {
            if (json)
                print_json_and_free(entry_json(info));
            else
                printf("%s\n", info && info->path ? info->path : args[1]);
        }
        e2b_entry_info_free(info);
    } else if (!strcmp(sub, "get")) {
        rc = e2bc_progress_done(e2b_files_read_to_file(sbx, args[0], &fo, local, &err));
        if (fflush(local) != 0 && rc == E2B_OK)
            rc = e2b_error_set(&err, E2B_ERR_IO, 0, "writing the output failed: %s",
                               strerror(errno));
        if (rc == E2B_OK && json) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "path", args[0]);
            cJSON_AddStringToObject(o, "local", args[1]);
            long pos = ftell(local);
            cJSON_AddNumberToObject(o, "bytes", pos >= 0 ? (double)pos : -1);
            print_json_and_free(o);
        }
    } else if (!strcmp(sub, "ls")) {
        e2b_entry_info *v = NULL;
        size_t n = 0;
        rc = e2bc_progress_done(
            e2b_files_list(sbx, nargs ? args[0] : ".", depth, &fo, &v, &n, &err));
        if (rc == E2B_OK) {
            if (json) {
                cJSON *arr = cJSON_CreateArray();
                for (size_t i = 0; i < n; i++)
                    cJSON_AddItemToArray(arr, entry_json(&v[i]));
                print_json_and_free(arr);
            } else {
                for (size_t i = 0; i < n; i++)
                    print_entry_line(&v[i]);
            }
        }
        e2b_entry_infos_free(v, n);
    } else if (!strcmp(sub, "stat")) {
        e2b_entry_info *e = NULL;
        rc = e2bc_progress_done(e2b_files_stat(sbx, args[0], &fo, &e, &err));
        if (rc == E2B_OK) {
            if (json)
                print_json_and_free(entry_json(e));
            else
                print_entry_line(e);
        }
        e2b_entry_info_free(e);
    } else if (!strcmp(sub, "rm")) {
        rc = e2bc_progress_done(e2b_files_remove(sbx, args[0], &fo, &err));
        if (rc == E2B_OK && json) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "path", args[0]);
            cJSON_AddBoolToObject(o, "removed", true);
            print_json_and_free(o);
        }
    } else { /* mkdir */
        bool made = false;
        rc = e2bc_progress_done(e2b_files_make_dir(sbx, args[0], &fo, &made, &err));
        if (rc == E2B_OK) {
            if (json)
                printf("{\"created\":%s}\n", made ? "true" : "false");
            else if (!made)
                fprintf(stderr, "e2bc files mkdir: %s already exists\n", args[0]);
        }
    }
    if (rc != E2B_OK) {
        char what[64];
        snprintf(what, sizeof what, "files %s", sub);
        exit_code = e2bc_fail(what, &err);
    } else {
        exit_code = 0;
    }

    if (created) {
        e2b_error kerr;
        e2bc_progress_begin("killing the sandbox...");
        if (e2bc_progress_done(e2b_sandbox_kill(conn.client, e2b_sandbox_id(sbx), NULL, &kerr)) !=
            E2B_OK)
            e2bc_fail("killing the sandbox", &kerr);
    }
out:
    e2b_sandbox_free(sbx);
    e2bc_close(&conn);
    if (close_local)
        fclose(local);
    struct stat st;
    if (exit_code != 0 && close_local && !strcmp(sub, "get") && stat(args[1], &st) == 0 &&
        S_ISREG(st.st_mode))
        unlink(args[1]); /* no partial download left behind (never a device) */
    return exit_code;
}
