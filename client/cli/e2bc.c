/* e2bc.c - the e2bc command line: a table-driven dispatcher. */
#include "e2bc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmd_version(int argc, char **argv);
static int cmd_help(int argc, char **argv);
int e2bc_cmd_run(int argc, char **argv);   /* cmd_run.c */
int e2bc_cmd_files(int argc, char **argv); /* cmd_files.c */
int e2bc_cmd_cmd(int argc, char **argv);   /* cmd_cmd.c */
int e2bc_cmd_chat(int argc, char **argv);  /* cmd_chat.c */

/* Add new commands here (run, files, cmd, chat, ...). */
static const e2bc_cmd COMMANDS[] = {
    {"demo", "run the sine-wave example in a sandbox, save the plot, walk the lifecycle",
     e2bc_cmd_demo},
    {"sandbox", "sandbox lifecycle: create|list|info|timeout|pause|connect|kill", e2bc_cmd_sandbox},
    {"run", "run code in a sandbox (file, stdin or -c), streaming its output", e2bc_cmd_run},
    {"files", "sandbox files: put|get|ls|stat|rm|mkdir (streamed transfers)", e2bc_cmd_files},
    {"cmd", "run a shell command in a sandbox (foreground, background, list, kill)", e2bc_cmd_cmd},
    {"chat", "agent chat: run code blocks of messages, create/list/kill sandboxes (--json)",
     e2bc_cmd_chat},
    {"version", "print the libe2b version", cmd_version},
    {"help", "show this help", cmd_help},
};
#define NCOMMANDS (sizeof COMMANDS / sizeof COMMANDS[0])

static void usage(FILE *f)
{
    fprintf(f, "usage: e2bc <command> [options]   (e2bc <command> --help for details)\n\n"
               "commands:\n");
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(f, "  %-10s %s\n", COMMANDS[i].name, COMMANDS[i].summary);
    fprintf(f, "\noptions: --no-progress (before or after the command) turns off the progress\n"
               "  line e2bc draws on stderr when it is a terminal and a call takes longer than\n"
               "  0.3 s (what it waits for and the seconds so far; erased before any output).\n"
               "  E2BC_NO_PROGRESS=1 does the same; it is never drawn when stderr is not a\n"
               "  terminal.\n");
    fprintf(f, "\nenvironment: E2B_API_KEY, E2B_API_URL, E2B_SANDBOX_URL, E2B_DOMAIN, "
               "E2B_DEBUG,\n  E2B_REQUEST_TIMEOUT_MS. With neither E2B_API_KEY nor "
               "E2B_API_URL set, e2bc starts a\n  local e2b-mock (found via E2B_MOCK_BIN, "
               "next to e2bc, or on PATH) for the command.\n  With only E2B_API_URL set to a "
               "server on this machine (127.x, localhost), e2bc\n  reuses that e2b-mock (no key "
               "needed). E2BC_NO_PROGRESS=1: no progress line.\n");
    fprintf(f, "\nexit status: 0 ok; 1 the user's side (the code raised, an unknown sandbox, file "
               "or\n  process, an invalid request); 2 bad usage or infrastructure (network, "
               "timeout,\n  server). `e2bc cmd` returns the command's own exit code (255: e2bc "
               "failed).\n");
}

static int cmd_version(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json") || !strcmp(argv[i], "-j")) {
            printf("{\"version\":\"%s\"}\n", e2b_version()); /* a plain x.y.z string */
            return 0;
        }
        bool help = !strcmp(argv[i], "--help") || !strcmp(argv[i], "-h");
        fprintf(help ? stdout : stderr, "usage: e2bc version [--json]\n");
        return help ? 0 : E2BC_EXIT_USAGE;
    }
    printf("e2bc (libe2b) %s\n", e2b_version());
    return 0;
}

static int cmd_help(int argc, char **argv)
{
    (void)argc, (void)argv;
    usage(stdout);
    return 0;
}

/* Removes argv[i] (argv stays NULL-terminated). */
static void drop_arg(int *argc, char **argv, int i)
{
    memmove(&argv[i], &argv[i + 1], (size_t)(*argc - i) * sizeof *argv);
    (*argc)--;
}

static int dispatch(int argc, char **argv)
{
    /* global options before the command */
    while (argc >= 2 && !strcmp(argv[1], "--no-progress")) {
        e2bc_progress_disable();
        drop_arg(&argc, argv, 1);
    }
    /* `sandbox` and `demo` take no free text, so --no-progress may be anywhere; the others
     * (run, files, cmd, chat) parse it with their own options */
    if (argc >= 2 && (!strcmp(argv[1], "sandbox") || !strcmp(argv[1], "demo"))) {
        for (int i = 2; i < argc;) {
            if (!strcmp(argv[i], "--no-progress")) {
                e2bc_progress_disable();
                drop_arg(&argc, argv, i);
            } else {
                i++;
            }
        }
    }
    if (argc < 2) {
        usage(stderr);
        return E2BC_EXIT_USAGE;
    }
    const char *name = argv[1];
    if (!strcmp(name, "--help") || !strcmp(name, "-h"))
        return cmd_help(0, NULL);
    if (!strcmp(name, "--version"))
        return cmd_version(0, NULL);
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (!strcmp(name, COMMANDS[i].name))
            return COMMANDS[i].run(argc - 1, argv + 1);
    fprintf(stderr, "e2bc: unknown command \"%s\"\n\n", name);
    usage(stderr);
    return E2BC_EXIT_USAGE;
}

int main(int argc, char **argv)
{
    e2bc_progress_setup();
    int rc = dispatch(argc, argv);
    e2bc_progress_shutdown(); /* erases the line, joins the helper thread */
    return rc;
}
