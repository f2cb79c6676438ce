/* cmd_chat.c - `e2bc chat`: the agent layer (EXECUTE_CODE / MANAGE_SANDBOX, agent_service.h)
 * as a chat loop, a one-shot command, or a JSON-lines filter another runtime can drive.
 *
 *   e2bc chat                     interactive (prompts on a TTY), or messages from stdin
 *   e2bc chat --once "MESSAGE"    one message, then exit
 *   e2bc chat --json              JSON lines in ({"text": "..."}), one JSON reply per line out
 *
 * Input rule (text mode): lines are collected into one message, which ends at
 *   - an empty line, unless a ``` / ~~~ code fence is still open (blank lines inside code
 *     belong to the code);
 *   - a line holding only "." (always, even inside an open fence; the "." is dropped);
 *   - the end of input.
 * Lines "/status", "/health", "/quit" (or "/exit") given as a whole message are commands.
 *
 * Exit status: 0 every message was handled successfully; 1 some message's code raised an
 * error or its request could not be done (unknown sandbox id, limit reached, no code);
 * 2 an infrastructure error (network, sandbox creation, server) or bad usage/input.
 */
#include "e2bc.h"

#include <cjson/cJSON.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHAT_EXIT_OK 0
#define CHAT_EXIT_USER 1
#define CHAT_EXIT_INFRA 2

static void chat_usage(FILE *f)
{
    fprintf(f,
            "usage: e2bc chat [options]\n"
            "Talks to the E2B agent layer: code blocks in a message are run (EXECUTE_CODE,\n"
            "all blocks of a message in one persistent sandbox, each in its language);\n"
            "\"create/list/kill sandbox ...\" requests manage sandboxes (MANAGE_SANDBOX).\n\n"
            "options:\n"
            "  -1, --once MESSAGE    handle MESSAGE and exit\n"
            "  -j, --json            JSON lines: read {\"text\": \"...\"} (or {\"command\":\n"
            "                        \"status\"|\"health\"}) per line, write one JSON reply per\n"
            "                        line: {action, success, text, data, attachments, error,\n"
            "                        exitCode}. With --once: MESSAGE in, one JSON reply out\n"
            "  -o, --out DIR         where images/plots are saved (default ./e2b-out)\n"
            "  -t, --template T      template of created sandboxes (default "
            "code-interpreter-v1)\n"
            "  -s, --sandbox-timeout S  lifetime of created sandboxes in seconds (default 300)\n"
            "  -m, --max-sandboxes N at most N sandboxes at once (default 5)\n"
            "  -i, --idle S          kill sandboxes idle for more than S seconds (background\n"
            "                        sweep every S/2 s, at least 1 s); default: never\n"
            "  -T, --exec-timeout MS per code block (default 60000)\n"
            "  -k, --keep            leave the sandboxes running at exit (default: kill them)\n"
            "  -e, --echo            print each message before its reply (for transcripts)\n"
            "      --no-progress     no progress line on stderr (also E2BC_NO_PROGRESS=1)\n"
            "  -h, --help            this help\n\n"
            "text input: a message ends at an empty line (unless a ``` fence is open), at a\n"
            "line with only \".\", or at the end of input. Commands: /status, /health, /quit.\n\n"
            "exit status: 0 ok, 1 a user-code error or a request that could not be done,\n"
            "2 an infrastructure error or bad usage\n");
}

typedef struct chat {
    e2b_agent_service *svc;
    bool json, echo, tty;
    int worst;
} chat;

static void note_exit(chat *ch, int code)
{
    if (code > ch->worst)
        ch->worst = code;
}

static int reply_exit(const e2b_agent_reply *r)
{
    if (r->infra != E2B_OK)
        return CHAT_EXIT_INFRA;
    return r->success ? CHAT_EXIT_OK : CHAT_EXIT_USER;
}

static void print_json_line(cJSON *o)
{
    char *s = cJSON_PrintUnformatted(o);
    if (s)
        printf("%s\n", s);
    else
        printf("{\"error\":{\"code\":\"no_memory\",\"message\":\"out of memory\"},"
               "\"exitCode\":2}\n");
    cJSON_free(s);
    fflush(stdout);
}

static void json_error(const char *code, const char *message)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *e = cJSON_AddObjectToObject(o, "error");
    cJSON_AddStringToObject(e, "code", code);
    cJSON_AddStringToObject(e, "message", message);
    cJSON_AddBoolToObject(e, "infrastructure", true);
    cJSON_AddNumberToObject(o, "exitCode", CHAT_EXIT_INFRA);
    print_json_line(o);
    cJSON_Delete(o);
}

/* What the progress line says while a message is handled: the same routing as
 * e2b_agent_handle_message (code first, then a sandbox request), decided up front. */
static void progress_label(const char *text, size_t len, char *buf, size_t cap)
{
    e2b_agent_code code;
    if (e2b_agent_extract_code((const uint8_t *)text, len, &code, NULL) == E2B_OK &&
        code.count > 0) {
        const char *lang = e2b_agent_lang_name(code.blocks[0].lang);
        if (code.count == 1)
            snprintf(buf, cap, "running %s...", lang);
        else
            snprintf(buf, cap, "running %zu code blocks...", code.count);
        e2b_agent_code_free(&code);
        return;
    }
    e2b_agent_code_free(&code);
    e2b_agent_intent in;
    if (e2b_agent_parse_intent((const uint8_t *)text, len, &in, NULL) != E2B_OK)
        in.kind = E2B_INTENT_UNKNOWN;
    snprintf(buf, cap, "%s",
             in.kind == E2B_INTENT_CREATE ? "creating sandbox..."
             : in.kind == E2B_INTENT_LIST ? "listing sandboxes..."
             : in.kind == E2B_INTENT_KILL ? "killing sandbox..."
                                          : "working...");
}

static void handle_message(chat *ch, const char *text, size_t len)
{
    if (ch->echo && !ch->json)
        printf("you> %.*s\n\n", (int)len, text);
    fflush(stdout);
    char label[64];
    progress_label(text, len, label, sizeof label);
    e2b_agent_reply r;
    e2b_error err;
    e2bc_progress_begin(label);
    e2b_code rc = e2b_agent_handle_message(ch->svc, text, len, &r, &err);
    e2bc_progress_end();
    if (rc != E2B_OK) {
        if (ch->json)
            json_error(e2b_code_name(rc), err.message);
        else
            e2bc_fail("handling the message", &err);
        note_exit(ch, CHAT_EXIT_INFRA);
        return;
    }
    int code = reply_exit(&r);
    note_exit(ch, code);
    if (ch->json) {
        cJSON_AddNumberToObject(r.json, "exitCode", code);
        print_json_line(r.json);
    } else {
        printf("%s%s\n", ch->echo ? "agent> " : "", r.text);
        for (size_t i = 0; i < r.attachment_count; i++)
            printf("📎 %s\n", r.attachments[i]);
        printf("\n");
        fflush(stdout);
    }
    e2b_agent_reply_free(&r);
}

static void do_status(chat *ch)
{
    char *text = NULL;
    cJSON *js = NULL;
    e2b_error err;
    e2bc_progress_begin("asking for the status...");
    if (e2bc_progress_done(e2b_agent_service_status(ch->svc, &text, &js, &err)) != E2B_OK) {
        e2bc_fail("status", &err);
        note_exit(ch, CHAT_EXIT_INFRA);
        return;
    }
    if (ch->json) {
        cJSON_AddStringToObject(js, "text", text);
        print_json_line(js);
    } else {
        printf("%s\n\n", text);
        fflush(stdout);
    }
    free(text);
    cJSON_Delete(js);
}

static void do_health(chat *ch)
{
    e2b_agent_health h;
    e2b_error err;
    e2bc_progress_begin("checking health...");
    e2b_code rc = e2bc_progress_done(e2b_agent_service_health(ch->svc, &h, &err));
    if (rc != E2B_OK)
        note_exit(ch, CHAT_EXIT_INFRA);
    if (ch->json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddBoolToObject(o, "healthy", rc == E2B_OK);
        cJSON_AddBoolToObject(o, "controlPlane", h.control_plane);
        cJSON_AddBoolToObject(o, "execution", h.execution);
        cJSON_AddNumberToObject(o, "latencyMs", (double)h.latency_ms);
        cJSON_AddStringToObject(o, "message", h.message);
        cJSON_AddNumberToObject(o, "exitCode", rc == E2B_OK ? 0 : CHAT_EXIT_INFRA);
        print_json_line(o);
        cJSON_Delete(o);
    } else if (rc == E2B_OK) {
        printf("✅ healthy: control plane reachable, print(1 + 1) ran in %s (%lld ms)\n\n",
               h.sandbox_id, (long long)h.latency_ms);
    } else {
        printf("❌ unhealthy: %s\n\n", h.message);
    }
    fflush(stdout);
}

/* A whole-message command? Returns 1 handled, -1 quit, 0 not a command. */
static int maybe_command(chat *ch, const char *msg)
{
    if (!strcmp(msg, "/status")) {
        do_status(ch);
        return 1;
    }
    if (!strcmp(msg, "/health")) {
        do_health(ch);
        return 1;
    }
    if (!strcmp(msg, "/quit") || !strcmp(msg, "/exit"))
        return -1;
    return 0;
}

/* ---- text mode: the fence tracker of the input rule ------------------------------------ */

typedef struct fence {
    char ch;    /* '`' or '~' when open, else 0 */
    size_t len; /* length of the opening run */
} fence;

/* Updates f with one line (no newline): opening and closing fences as in CommonMark
 * (up to 3 spaces, a run of >= 3 backticks or tildes; a closing run is at least as long
 * as the opening one, with nothing but spaces after it). */
static void fence_line(fence *f, const char *line)
{
    const char *p = line;
    int sp = 0;
    while (*p == ' ' && sp < 4)
        p++, sp++;
    if (sp > 3 || (*p != '`' && *p != '~'))
        return;
    char c = *p;
    size_t run = 0;
    while (p[run] == c)
        run++;
    if (run < 3)
        return;
    const char *rest = p + run;
    if (!f->ch) {
        if (c == '`' && strchr(rest, '`'))
            return; /* an info string with a backtick: not a fence */
        f->ch = c;
        f->len = run;
        return;
    }
    if (c != f->ch || run < f->len)
        return;
    while (*rest == ' ' || *rest == '\t' || *rest == '\r')
        rest++;
    if (!*rest)
        f->ch = 0;
}

static bool blank(const char *s)
{
    for (; *s; s++)
        if (*s != ' ' && *s != '\t' && *s != '\r')
            return false;
    return true;
}

static int text_loop(chat *ch)
{
    char *line = NULL;
    size_t cap = 0;
    char *msg = NULL;
    size_t mlen = 0, mcap = 0;
    fence f = {0};
    bool quit = false;
    if (ch->tty)
        fprintf(stderr, "e2bc chat: end a message with an empty line (or a line with only "
                        "\".\"); /status, /health, /quit\n");
    for (;;) {
        if (ch->tty) {
            fputs(mlen ? "... " : "you> ", stderr);
            fflush(stderr);
        }
        ssize_t n = getline(&line, &cap, stdin);
        bool eof = n < 0;
        bool end = eof;
        if (!eof) {
            if (n > 0 && line[n - 1] == '\n')
                line[--n] = '\0';
            if (!strcmp(line, ".") || (!strcmp(line, ".\r"))) {
                end = true;
            } else if (blank(line) && !f.ch) {
                end = mlen > 0; /* blank lines between messages are ignored */
            } else {
                if (mlen + (size_t)n + 2 > mcap) {
                    size_t nc = (mcap ? mcap * 2 : 4096) + (size_t)n + 2;
                    char *nm = realloc(msg, nc);
                    if (!nm) {
                        fprintf(stderr, "e2bc chat: out of memory\n");
                        note_exit(ch, CHAT_EXIT_INFRA);
                        break;
                    }
                    msg = nm;
                    mcap = nc;
                }
                if (mlen)
                    msg[mlen++] = '\n';
                memcpy(msg + mlen, line, (size_t)n);
                mlen += (size_t)n;
                msg[mlen] = '\0';
                fence_line(&f, line);
            }
        }
        if (end && mlen) {
            int c = maybe_command(ch, msg);
            if (c < 0)
                quit = true;
            else if (c == 0)
                handle_message(ch, msg, mlen);
            mlen = 0;
            msg[0] = '\0';
            f = (fence){0};
        }
        if (eof || quit)
            break;
    }
    free(line);
    free(msg);
    return ch->worst;
}

/* ---- JSON lines mode --------------------------------------------------------------------- */

static int json_loop(chat *ch)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, stdin)) >= 0) {
        if (blank(line) || (n == 1 && line[0] == '\n'))
            continue;
        cJSON *o = cJSON_ParseWithLength(line, (size_t)n);
        const cJSON *t = o ? cJSON_GetObjectItemCaseSensitive(o, "text") : NULL;
        const cJSON *cmd = o ? cJSON_GetObjectItemCaseSensitive(o, "command") : NULL;
        if (cJSON_IsString(t)) {
            handle_message(ch, t->valuestring, strlen(t->valuestring));
        } else if (cJSON_IsString(cmd) && !strcmp(cmd->valuestring, "status")) {
            do_status(ch);
        } else if (cJSON_IsString(cmd) && !strcmp(cmd->valuestring, "health")) {
            do_health(ch);
        } else if (cJSON_IsString(cmd) && !strcmp(cmd->valuestring, "quit")) {
            cJSON_Delete(o);
            break;
        } else {
            json_error("invalid_argument",
                       o ? "each line must be an object with a string \"text\" (or "
                           "\"command\": \"status\"|\"health\"|\"quit\")"
                         : "the line is not valid JSON");
            note_exit(ch, CHAT_EXIT_INFRA);
        }
        cJSON_Delete(o);
    }
    free(line);
    return ch->worst;
}

static bool parse_long(const char *s, long min, long *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < min)
        return false;
    *out = v;
    return true;
}

int e2bc_cmd_chat(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"once", required_argument, NULL, '1'},
        {"json", no_argument, NULL, 'j'},
        {"out", required_argument, NULL, 'o'},
        {"template", required_argument, NULL, 't'},
        {"sandbox-timeout", required_argument, NULL, 's'},
        {"max-sandboxes", required_argument, NULL, 'm'},
        {"idle", required_argument, NULL, 'i'},
        {"exec-timeout", required_argument, NULL, 'T'},
        {"keep", no_argument, NULL, 'k'},
        {"echo", no_argument, NULL, 'e'},
        {"help", no_argument, NULL, 'h'},
        {"no-progress", no_argument, NULL, E2BC_OPT_NO_PROGRESS},
        {NULL, 0, NULL, 0},
    };
    const char *once = NULL;
    chat ch = {0};
    e2b_agent_service_opts so;
    e2b_agent_service_opts_init(&so);
    long v;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "1:jo:t:s:m:i:T:keh", longopts, NULL)) != -1) {
        switch (c) {
        case '1': once = optarg; break;
        case 'j': ch.json = true; break;
        case 'o': so.output_dir = optarg; break;
        case 't': so.template_id = optarg; break;
        case 's':
            if (!parse_long(optarg, 1, &v) || v > 0x7fffffffL)
                goto bad;
            so.sandbox_timeout_s = (int)v;
            break;
        case 'm':
            if (!parse_long(optarg, 1, &v))
                goto bad;
            so.max_sandboxes = (size_t)v;
            break;
        case 'i':
            if (!parse_long(optarg, 1, &v))
                goto bad;
            so.idle_timeout_s = v;
            so.sweep_interval_s = v / 2 ? v / 2 : 1;
            break;
        case 'T':
            if (!parse_long(optarg, 0, &v))
                goto bad;
            so.exec_timeout_ms = v;
            break;
        case 'k': so.keep_sandboxes = true; break;
        case 'e': ch.echo = true; break;
        case E2BC_OPT_NO_PROGRESS: e2bc_progress_disable(); break;
        case 'h': chat_usage(stdout); return 0;
        default: chat_usage(stderr); return CHAT_EXIT_INFRA;
        }
    }
    if (optind < argc) {
        fprintf(stderr,
                "e2bc chat: unexpected argument \"%s\" (quote the message: --once "
                "\"...\")\n",
                argv[optind]);
        return CHAT_EXIT_INFRA;
    }
    ch.tty = !ch.json && !once && isatty(STDIN_FILENO);

    e2bc_conn conn;
    if (!e2bc_open(&conn, !ch.json))
        return CHAT_EXIT_INFRA;
    so.mode = conn.local ? "local" : "cloud";
    e2b_error err;
    if (e2b_agent_service_new(conn.client, &so, &ch.svc, &err) != E2B_OK) {
        e2bc_fail("starting the agent service", &err);
        e2bc_close(&conn);
        return CHAT_EXIT_INFRA;
    }
    int rc;
    if (once) {
        int cmd = maybe_command(&ch, once);
        if (cmd == 0)
            handle_message(&ch, once, strlen(once));
        rc = ch.worst;
    } else if (ch.json) {
        rc = json_loop(&ch);
    } else {
        rc = text_loop(&ch);
    }
    e2bc_progress_begin(so.keep_sandboxes ? "closing..." : "killing the chat's sandboxes...");
    e2b_agent_service_free(ch.svc);
    e2bc_progress_end();
    e2bc_close(&conn);
    return rc;

bad:
    fprintf(stderr, "e2bc chat: bad number \"%s\"\n", optarg);
    return CHAT_EXIT_INFRA;
}
