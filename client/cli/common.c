/* common.c - connection setup, errors and output helpers shared by e2bc commands. */
#include "e2bc.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

/* http(s)://127.x.x.x, localhost or [::1]: a server on this machine. */
static bool is_loopback_url(const char *url)
{
    const char *h = strstr(url, "://");
    h = h ? h + 3 : url;
    return !strncmp(h, "127.", 4) || !strncmp(h, "localhost", 9) || !strncmp(h, "[::1]", 5);
}

bool e2bc_open(e2bc_conn *c, bool announce)
{
    memset(c, 0, sizeof *c);
    e2b_error err;
    if (e2b_config_from_env(&c->cfg, &err) != E2B_OK) {
        e2bc_fail("configuration", &err);
        return false;
    }
    /* E2B_API_URL pointing at a server on this machine and no key: reuse that e2b-mock
     * (it takes any key), for sandbox traffic too unless E2B_SANDBOX_URL says otherwise */
    if (!c->cfg.api_key && c->cfg.api_url && is_loopback_url(c->cfg.api_url)) {
        c->cfg.api_key = "e2b_local_mock";
        if (!c->cfg.sandbox_url)
            c->cfg.sandbox_url = c->cfg.api_url;
    }
    if (!c->cfg.api_key && !c->cfg.api_url && !c->cfg.debug) {
        e2b_local_opts lo = {.quiet = true};
        e2bc_progress_begin("starting the local e2b-mock...");
        e2b_code lrc = e2b_local_start(&lo, &c->local, &err);
        e2bc_progress_end();
        if (lrc != E2B_OK) {
            e2bc_fail("starting the local e2b-mock", &err);
            fprintf(stderr, "hint: build it (make build) or set E2B_API_KEY to use E2B itself\n");
            return false;
        }
        long timeout = c->cfg.request_timeout_ms;
        e2b_local_config(c->local, &c->cfg);
        c->cfg.request_timeout_ms = timeout;
        if (announce)
            fprintf(stderr,
                    "note: E2B_API_KEY/E2B_API_URL not set; using a local e2b-mock at %s that "
                    "stops when e2bc exits\n",
                    e2b_local_url(c->local));
    }
    if (e2b_client_new(&c->cfg, &c->client, &err) != E2B_OK) {
        e2bc_fail("creating the client", &err);
        e2b_local_stop(c->local);
        c->local = NULL;
        return false;
    }
    return true;
}

void e2bc_close(e2bc_conn *c)
{
    e2b_client_free(c->client);
    c->client = NULL;
    if (c->local)
        e2bc_progress_begin("stopping the local e2b-mock...");
    e2b_local_stop(c->local);
    e2bc_progress_end();
    c->local = NULL;
}

int e2bc_exit_for(e2b_code code)
{
    switch (code) {
    case E2B_ERR_SANDBOX_NOT_FOUND:
    case E2B_ERR_FILE_NOT_FOUND:
    case E2B_ERR_NOT_FOUND:
    case E2B_ERR_INVALID_ARGUMENT:
    case E2B_ERR_CONFLICT: return E2BC_EXIT_FAIL;
    default: return E2BC_EXIT_INFRA;
    }
}

int e2bc_fail(const char *what, const e2b_error *err)
{
    e2bc_progress_end();
    if (err && err->message[0])
        fprintf(stderr, "e2bc: %s: %s (%s)\n", what, err->message, e2b_code_name(err->code));
    else
        fprintf(stderr, "e2bc: %s failed (%s)\n", what, err ? e2b_code_name(err->code) : "?");
    return err ? e2bc_exit_for(err->code) : E2BC_EXIT_INFRA;
}

bool e2bc_parse_kv(char *s, e2b_kv *kv)
{
    char *eq = strchr(s, '=');
    if (!eq || eq == s)
        return false;
    *eq = '\0';
    kv->key = s;
    kv->value = eq + 1;
    return true;
}

void e2bc_fmt_time(time_t t, char *buf, size_t len)
{
    struct tm tm;
    if (!t || !gmtime_r(&t, &tm) || !strftime(buf, len, "%Y-%m-%d %H:%M:%S UTC", &tm))
        snprintf(buf, len, "-");
}

void e2bc_fmt_rel(time_t t, char *buf, size_t len)
{
    if (!t) {
        snprintf(buf, len, "-");
        return;
    }
    long long d = (long long)t - (long long)time(NULL);
    long long a = d < 0 ? -d : d;
    char span[48];
    if (a >= 86400)
        snprintf(span, sizeof span, "%lldd %lldh", a / 86400, a % 86400 / 3600);
    else if (a >= 3600)
        snprintf(span, sizeof span, "%lldh %lldm", a / 3600, a % 3600 / 60);
    else if (a >= 60)
        snprintf(span, sizeof span, "%lldm %llds", a / 60, a % 60);
    else
        snprintf(span, sizeof span, "%llds", a);
    if (d == 0)
        snprintf(buf, len, "now");
    else
        snprintf(buf, len, d > 0 ? "in %s" : "%s ago", span);
}

const char *e2bc_state_name(e2b_sandbox_state s)
{
    return s == E2B_STATE_RUNNING ? "running" : s == E2B_STATE_PAUSED ? "paused" : "unknown";
}

static void add_str(cJSON *o, const char *k, const char *v)
{
    if (v)
        cJSON_AddStringToObject(o, k, v);
}

void e2bc_print_info_json(FILE *f, const e2b_sandbox_info *i)
{
    cJSON *o = cJSON_CreateObject();
    add_str(o, "sandboxID", i->sandbox_id);
    add_str(o, "templateID", i->template_id);
    add_str(o, "alias", i->alias);
    add_str(o, "clientID", i->client_id);
    add_str(o, "state", i->state == E2B_STATE_UNKNOWN ? NULL : e2bc_state_name(i->state));
    add_str(o, "startedAt", i->started_at);
    add_str(o, "endAt", i->end_at);
    cJSON_AddNumberToObject(o, "cpuCount", i->cpu_count);
    cJSON_AddNumberToObject(o, "memoryMB", i->memory_mb);
    cJSON_AddNumberToObject(o, "diskSizeMB", i->disk_size_mb);
    add_str(o, "envdVersion", i->envd_version);
    add_str(o, "domain", i->domain);
    if (i->allow_internet_access >= 0)
        cJSON_AddBoolToObject(o, "allowInternetAccess", i->allow_internet_access == 1);
    if (i->lifecycle_on_timeout) {
        cJSON *lc = cJSON_AddObjectToObject(o, "lifecycle");
        cJSON_AddBoolToObject(lc, "autoResume", i->lifecycle_auto_resume);
        cJSON_AddStringToObject(lc, "onTimeout", i->lifecycle_on_timeout);
    }
    cJSON *md = cJSON_AddObjectToObject(o, "metadata");
    for (size_t k = 0; k < i->metadata_len; k++)
        cJSON_AddStringToObject(md, i->metadata[k].key, i->metadata[k].value);
    char *s = cJSON_PrintUnformatted(o);
    if (s)
        fprintf(f, "%s\n", s);
    cJSON_free(s);
    cJSON_Delete(o);
}

static void metadata_text(const e2b_sandbox_info *i, char *buf, size_t len)
{
    size_t off = 0;
    buf[0] = '\0';
    for (size_t k = 0; k < i->metadata_len && off < len; k++) {
        int n = snprintf(buf + off, len - off, "%s%s=%s", k ? " " : "", i->metadata[k].key,
                         i->metadata[k].value);
        if (n < 0)
            break;
        off += (size_t)n;
    }
    if (!i->metadata_len)
        snprintf(buf, len, "-");
}

void e2bc_print_info_block(FILE *f, const e2b_sandbox_info *i, int ind)
{
    char t1[40], r1[40], md[512];
    fprintf(f, "%*s%-12s %s\n", ind, "", "sandbox", i->sandbox_id);
    bool alias = i->alias && (!i->template_id || strcmp(i->alias, i->template_id) != 0);
    fprintf(f, "%*s%-12s %s%s%s%s\n", ind, "", "template", i->template_id ? i->template_id : "-",
            alias ? " (alias " : "", alias ? i->alias : "", alias ? ")" : "");
    fprintf(f, "%*s%-12s %s\n", ind, "", "state", e2bc_state_name(i->state));
    e2bc_fmt_time(i->started_at_unix, t1, sizeof t1);
    e2bc_fmt_rel(i->started_at_unix, r1, sizeof r1);
    fprintf(f, "%*s%-12s %s (%s)\n", ind, "", "started", t1, r1);
    e2bc_fmt_time(i->end_at_unix, t1, sizeof t1);
    e2bc_fmt_rel(i->end_at_unix, r1, sizeof r1);
    fprintf(f, "%*s%-12s %s (%s)\n", ind, "", "ends", t1, r1);
    fprintf(f, "%*s%-12s %d vCPU, %d MiB memory, %d MiB disk\n", ind, "", "resources", i->cpu_count,
            i->memory_mb, i->disk_size_mb);
    fprintf(f, "%*s%-12s %s\n", ind, "", "envd", i->envd_version ? i->envd_version : "-");
    if (i->lifecycle_on_timeout)
        fprintf(f, "%*s%-12s on timeout: %s, auto-resume: %s\n", ind, "", "lifecycle",
                i->lifecycle_on_timeout, i->lifecycle_auto_resume ? "yes" : "no");
    if (i->allow_internet_access >= 0)
        fprintf(f, "%*s%-12s %s\n", ind, "", "internet",
                i->allow_internet_access ? "allowed" : "blocked");
    metadata_text(i, md, sizeof md);
    fprintf(f, "%*s%-12s %s\n", ind, "", "metadata", md);
}

void e2bc_print_info_table(FILE *f, const e2b_sandbox_info *const *items, size_t n, int ind)
{
    int wid = 10, wtpl = 8;
    for (size_t k = 0; k < n; k++) {
        int a = (int)strlen(items[k]->sandbox_id);
        int b = items[k]->template_id ? (int)strlen(items[k]->template_id) : 1;
        wid = a > wid ? a : wid;
        wtpl = b > wtpl ? b : wtpl;
    }
    fprintf(f, "%*s%-*s  %-*s  %-8s %-23s %-12s %s\n", ind, "", wid, "SANDBOX", wtpl, "TEMPLATE",
            "STATE", "STARTED", "ENDS", "METADATA");
    for (size_t k = 0; k < n; k++) {
        const e2b_sandbox_info *i = items[k];
        char t[40], r[40], md[512];
        e2bc_fmt_time(i->started_at_unix, t, sizeof t);
        e2bc_fmt_rel(i->end_at_unix, r, sizeof r);
        metadata_text(i, md, sizeof md);
        fprintf(f, "%*s%-*s  %-*s  %-8s %-23s %-12s %s\n", ind, "", wid, i->sandbox_id, wtpl,
                i->template_id ? i->template_id : "-", e2bc_state_name(i->state), t, r, md);
    }
}
