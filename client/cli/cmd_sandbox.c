/* cmd_sandbox.c - `e2bc sandbox create|list|info|timeout|pause|connect|kill`. */
#include "e2bc.h"

#include <cjson/cJSON.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#define MAX_KV 64

typedef struct sub {
    const char *name;
    const char *usage;
    int (*run)(e2bc_conn *c, int argc, char **argv, bool json);
    int min_args; /* positional arguments after the options */
} sub;

static int parse_int(const char *s, const char *what, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < 0 || v > 86400 * 365) {
        fprintf(stderr, "e2bc: %s must be a whole number of seconds, got \"%s\"\n", what, s);
        return -1;
    }
    *out = (int)v;
    return 0;
}

/* Prints {"sandboxID":..., <k>:<bool>} with proper JSON escaping. */
static void print_json_flag(const char *id, const char *key, bool v)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "sandboxID", id);
    cJSON_AddBoolToObject(o, key, v);
    char *txt = cJSON_PrintUnformatted(o);
    if (txt)
        printf("%s\n", txt);
    cJSON_free(txt);
    cJSON_Delete(o);
}

static void print_sandbox(const e2b_sandbox *s, bool json, bool resumed, bool show_resumed)
{
    if (json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "sandboxID", e2b_sandbox_id(s));
        if (e2b_sandbox_template_id(s))
            cJSON_AddStringToObject(o, "templateID", e2b_sandbox_template_id(s));
        cJSON_AddStringToObject(o, "envdVersion", e2b_sandbox_envd_version(s));
        if (e2b_sandbox_domain(s))
            cJSON_AddStringToObject(o, "domain", e2b_sandbox_domain(s));
        if (show_resumed)
            cJSON_AddBoolToObject(o, "resumed", resumed);
        char *txt = cJSON_PrintUnformatted(o);
        if (txt)
            printf("%s\n", txt);
        cJSON_free(txt);
        cJSON_Delete(o);
        return;
    }
    printf("sandbox   %s\n", e2b_sandbox_id(s));
    printf("template  %s\n", e2b_sandbox_template_id(s) ? e2b_sandbox_template_id(s) : "-");
    printf("envd      %s\n", e2b_sandbox_envd_version(s));
    if (show_resumed)
        printf("resumed   %s\n", resumed ? "yes (it was paused)" : "no (it was running)");
}

static int run_create(e2bc_conn *c, int argc, char **argv, bool json)
{
    e2b_create_opts o;
    e2b_create_opts_init(&o);
    e2b_kv md[MAX_KV], env[MAX_KV];
    static const struct option longs[] = {
        {"template", required_argument, 0, 't'}, {"timeout", required_argument, 0, 'T'},
        {"metadata", required_argument, 0, 'm'}, {"env", required_argument, 0, 'e'},
        {"auto-pause", no_argument, 0, 'p'},     {"no-internet", no_argument, 0, 'n'},
        {"json", no_argument, 0, 'j'},           {0, 0, 0, 0}};
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "t:T:m:e:", longs, NULL)) != -1) {
        switch (ch) {
        case 't': o.template_id = optarg; break;
        case 'T':
            if (parse_int(optarg, "--timeout", &o.timeout_s))
                return E2BC_EXIT_USAGE;
            break;
        case 'm':
        case 'e': {
            e2b_kv *arr = ch == 'm' ? md : env;
            size_t *n = ch == 'm' ? &o.metadata_len : &o.env_vars_len;
            if (*n >= MAX_KV || !e2bc_parse_kv(optarg, &arr[*n])) {
                fprintf(stderr, "e2bc: --%s expects KEY=VALUE\n", ch == 'm' ? "metadata" : "env");
                return E2BC_EXIT_USAGE;
            }
            (*n)++;
            break;
        }
        case 'p': o.auto_pause = true; break;
        case 'n': o.allow_internet_access = 0; break;
        case 'j': break;
        default: return E2BC_EXIT_USAGE;
        }
    }
    o.metadata = md;
    o.env_vars = env;
    e2b_sandbox *s;
    e2b_error err;
    if (e2bc_progress_done(e2b_sandbox_create(c->client, &o, &s, &err)) != E2B_OK)
        return e2bc_fail("create", &err);
    print_sandbox(s, json, false, false);
    e2b_sandbox_free(s);
    return 0;
}

static int run_connect(e2bc_conn *c, int argc, char **argv, bool json)
{
    int timeout = 0;
    static const struct option longs[] = {
        {"timeout", required_argument, 0, 'T'}, {"json", no_argument, 0, 'j'}, {0, 0, 0, 0}};
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "T:", longs, NULL)) != -1) {
        if (ch == 'T' && parse_int(optarg, "--timeout", &timeout) == 0)
            continue;
        if (ch != 'j')
            return E2BC_EXIT_USAGE;
    }
    if (optind >= argc)
        return -1;
    e2b_sandbox *s;
    bool resumed = false;
    e2b_error err;
    if (e2bc_progress_done(
            e2b_sandbox_connect(c->client, argv[optind], timeout, &s, &resumed, &err)) != E2B_OK)
        return e2bc_fail("connect", &err);
    print_sandbox(s, json, resumed, true);
    e2b_sandbox_free(s);
    return 0;
}

static int skip_json_opts(int argc, char **argv)
{
    static const struct option longs[] = {{"json", no_argument, 0, 'j'}, {0, 0, 0, 0}};
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "", longs, NULL)) != -1)
        if (ch != 'j')
            return -1;
    return optind;
}

static int run_info(e2bc_conn *c, int argc, char **argv, bool json)
{
    int i = skip_json_opts(argc, argv);
    if (i < 0)
        return E2BC_EXIT_USAGE;
    if (i >= argc)
        return -1;
    e2b_sandbox_info *info;
    e2b_error err;
    if (e2bc_progress_done(e2b_sandbox_get_info(c->client, argv[i], &info, &err)) != E2B_OK)
        return e2bc_fail("info", &err);
    if (json)
        e2bc_print_info_json(stdout, info);
    else
        e2bc_print_info_block(stdout, info, 0);
    e2b_sandbox_info_free(info);
    return 0;
}

static int run_list(e2bc_conn *c, int argc, char **argv, bool json)
{
    e2b_list_opts o = {0};
    e2b_kv md[MAX_KV];
    static const struct option longs[] = {{"state", required_argument, 0, 's'},
                                          {"metadata", required_argument, 0, 'm'},
                                          {"limit", required_argument, 0, 'l'},
                                          {"json", no_argument, 0, 'j'},
                                          {0, 0, 0, 0}};
    int ch, limit = 0;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "s:m:l:", longs, NULL)) != -1) {
        switch (ch) {
        case 's':
            if (!strcmp(optarg, "running"))
                o.running = true;
            else if (!strcmp(optarg, "paused"))
                o.paused = true;
            else if (strcmp(optarg, "all") != 0) {
                fprintf(stderr, "e2bc: --state is running, paused or all\n");
                return E2BC_EXIT_USAGE;
            }
            break;
        case 'm':
            if (o.metadata_len >= MAX_KV || !e2bc_parse_kv(optarg, &md[o.metadata_len])) {
                fprintf(stderr, "e2bc: --metadata expects KEY=VALUE\n");
                return E2BC_EXIT_USAGE;
            }
            o.metadata_len++;
            break;
        case 'l':
            if (parse_int(optarg, "--limit", &limit))
                return E2BC_EXIT_USAGE;
            break;
        case 'j': break;
        default: return E2BC_EXIT_USAGE;
        }
    }
    o.metadata = md;
    o.limit = limit > 0 && limit < 100 ? limit : 0; /* page size */
    /* Walk every page (X-Next-Token), keep the pages, print one aligned table. */
    e2b_sandbox_page **pages = NULL;
    size_t npages = 0;
    const e2b_sandbox_info **all = NULL;
    size_t n = 0;
    int rc = 0, total_running = -1;
    e2b_error err;
    for (;;) {
        e2b_sandbox_page *pg;
        if (e2bc_progress_done(e2b_sandbox_list(c->client, &o, &pg, &err)) != E2B_OK) {
            rc = e2bc_fail("list", &err);
            break;
        }
        e2b_sandbox_page **np = realloc(pages, (npages + 1) * sizeof *np);
        const e2b_sandbox_info **na = realloc(all, (n + pg->len + 1) * sizeof *na);
        if (np)
            pages = np;
        if (na)
            all = na;
        if (!np || !na) {
            e2b_sandbox_page_free(pg);
            fprintf(stderr, "e2bc: out of memory\n");
            rc = E2BC_EXIT_INFRA;
            break;
        }
        pages[npages++] = pg;
        if (total_running < 0)
            total_running = pg->total_running;
        for (size_t k = 0; k < pg->len && (!limit || n < (size_t)limit); k++)
            all[n++] = &pg->items[k];
        if (!pg->next_token || (limit && n >= (size_t)limit))
            break;
        o.next_token = pg->next_token;
    }
    if (rc == 0) {
        if (json) {
            for (size_t k = 0; k < n; k++)
                e2bc_print_info_json(stdout, all[k]);
        } else {
            if (n)
                e2bc_print_info_table(stdout, all, n, 0);
            printf("%zu sandbox%s", n, n == 1 ? "" : "es");
            if (total_running >= 0)
                printf(" (%d running)", total_running);
            printf("\n");
        }
    }
    for (size_t k = 0; k < npages; k++)
        e2b_sandbox_page_free(pages[k]);
    free(pages);
    free(all);
    return rc;
}

static int run_timeout(e2bc_conn *c, int argc, char **argv, bool json)
{
    (void)json;
    int i = skip_json_opts(argc, argv), secs;
    if (i < 0)
        return E2BC_EXIT_USAGE;
    if (i + 1 >= argc)
        return -1;
    if (parse_int(argv[i + 1], "SECONDS", &secs))
        return E2BC_EXIT_USAGE;
    e2b_error err;
    if (e2bc_progress_done(e2b_sandbox_set_timeout(c->client, argv[i], secs, &err)) != E2B_OK)
        return e2bc_fail("timeout", &err);
    char t[40];
    e2bc_fmt_time(time(NULL) + secs, t, sizeof t);
    if (json)
        print_json_flag(argv[i], "ok", true);
    else
        printf("sandbox %s now ends around %s (in %d s)\n", argv[i], t, secs);
    return 0;
}

static int run_pause(e2bc_conn *c, int argc, char **argv, bool json)
{
    int i = skip_json_opts(argc, argv);
    if (i < 0)
        return E2BC_EXIT_USAGE;
    if (i >= argc)
        return -1;
    bool paused;
    e2b_error err;
    if (e2bc_progress_done(e2b_sandbox_pause(c->client, argv[i], &paused, &err)) != E2B_OK)
        return e2bc_fail("pause", &err);
    if (json)
        print_json_flag(argv[i], "paused", paused);
    else
        printf("sandbox %s %s\n", argv[i], paused ? "paused" : "was already paused");
    return 0;
}

static int run_kill(e2bc_conn *c, int argc, char **argv, bool json)
{
    int i = skip_json_opts(argc, argv);
    if (i < 0)
        return E2BC_EXIT_USAGE;
    if (i >= argc)
        return -1;
    bool killed;
    e2b_error err;
    if (e2bc_progress_done(e2b_sandbox_kill(c->client, argv[i], &killed, &err)) != E2B_OK)
        return e2bc_fail("kill", &err);
    if (json)
        print_json_flag(argv[i], "killed", killed);
    else
        printf("sandbox %s %s\n", argv[i], killed ? "killed" : "did not exist (nothing to kill)");
    return killed ? 0 : E2BC_EXIT_FAIL; /* a script learns that the id was wrong */
}

static const sub SUBS[] = {
    {"create",
     "create [--template T] [--timeout S] [--metadata K=V]... [--env K=V]... "
     "[--auto-pause] [--no-internet] [--json]",
     run_create, 0},
    {"list", "list [--state running|paused|all] [--metadata K=V]... [--limit N] [--json]", run_list,
     0},
    {"info", "info ID [--json]", run_info, 1},
    {"timeout", "timeout ID SECONDS [--json]   (the sandbox ends SECONDS from now)", run_timeout,
     2},
    {"pause", "pause ID [--json]", run_pause, 1},
    {"connect", "connect ID [--timeout S] [--json]   (resumes a paused sandbox)", run_connect, 1},
    {"kill", "kill ID [--json]", run_kill, 1},
};
#define NSUBS (sizeof SUBS / sizeof SUBS[0])

static void sandbox_usage(FILE *f)
{
    fprintf(f, "usage: e2bc sandbox <subcommand> ...\n\n");
    for (size_t i = 0; i < NSUBS; i++)
        fprintf(f, "  e2bc sandbox %s\n", SUBS[i].usage);
    fprintf(f, "\n--no-progress: no progress line on stderr (also E2BC_NO_PROGRESS=1)\n"
               "exit status: 0 ok; 1 the sandbox does not exist (kill: did not exist), or the\n"
               "request was invalid or conflicts (pause of a paused sandbox); 2 bad usage or\n"
               "an infrastructure error (network, timeout, server, authentication)\n");
}

int e2bc_cmd_sandbox(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        sandbox_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? E2BC_EXIT_USAGE : 0;
    }
    const sub *s = NULL;
    for (size_t i = 0; i < NSUBS; i++)
        if (!strcmp(argv[1], SUBS[i].name))
            s = &SUBS[i];
    if (!s) {
        fprintf(stderr, "e2bc: unknown sandbox subcommand \"%s\"\n\n", argv[1]);
        sandbox_usage(stderr);
        return E2BC_EXIT_USAGE;
    }
    bool json = false;
    int positional = 0;
    for (int i = 2; i < argc; i++) {
        if (argv[i][0] != '-')
            positional++;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: e2bc sandbox %s\n", s->usage);
            return 0;
        }
        if (!strcmp(argv[i], "--json"))
            json = true;
    }
    if (positional < s->min_args) { /* before starting anything */
        fprintf(stderr, "usage: e2bc sandbox %s\n", s->usage);
        return E2BC_EXIT_USAGE;
    }
    e2bc_conn c;
    if (!e2bc_open(&c, !json))
        return E2BC_EXIT_INFRA;
    char label[64];
    snprintf(label, sizeof label, "%s...",
             !strcmp(s->name, "create")    ? "creating sandbox"
             : !strcmp(s->name, "list")    ? "listing sandboxes"
             : !strcmp(s->name, "connect") ? "connecting to the sandbox"
             : !strcmp(s->name, "kill")    ? "killing the sandbox"
             : !strcmp(s->name, "pause")   ? "pausing the sandbox"
             : !strcmp(s->name, "timeout") ? "setting the timeout"
                                           : "asking for the sandbox");
    e2bc_progress_begin(label);
    int rc = s->run(&c, argc - 1, argv + 1, json);
    e2bc_progress_end();
    e2bc_close(&c);
    if (rc == -1) {
        fprintf(stderr, "usage: e2bc sandbox %s\n", s->usage);
        rc = E2BC_EXIT_USAGE;
    }
    return rc;
}
