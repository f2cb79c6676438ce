/* scenario.c - scenario rules: loading, matching, and executing (see scenario.h and
 * mockserver/ADMIN.md for the format). */
#include "scenario.h"

#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <math.h>
#include <pthread.h>
#include <regex.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/evp.h>

#include "connect.h"
#include "store.h"
#include "util.h"

typedef struct rule {
    char *name;
    cJSON *def; /* whole rule */
    const cJSON *match;
    int has_regex;
    regex_t regex;
    long seen;    /* requests that met every criterion but nth/every/probability */
    long applied; /* times the rule was applied */
    uint64_t rng;
    uint64_t seed;
} rule;

struct scenario_set {
    pthread_mutex_t lock;
    rule *rules;
    size_t n;
};

/* The whole file as a NUL-terminated heap string ("" when empty); NULL with errno set when
 * it cannot be opened or memory runs out. */
static char *read_file(const char *path);

/* ---------------------------------------------------------------- randomness (seeded) */

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static double unit(uint64_t *s)
{
    return (double)(splitmix(s) >> 11) / 9007199254740992.0; /* [0,1) */
}

/* ---------------------------------------------------------------- rules */

static void rule_free(rule *r)
{
    free(r->name);
    cJSON_Delete(r->def);
    if (r->has_regex)
        regfree(&r->regex);
}

static const char *jstr(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static double jnum(const cJSON *o, const char *k, double dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : dflt;
}

static const char *const fault_names[] = {
    "reset",      "close_after_bytes", "empty_reply", "garbage",     "lying_length", "hang",
    "slow_close", "html_502",          "vanish",      "create_lost", "stream",       NULL};

static int rule_init(rule *r, const cJSON *src, size_t idx, const char *base_dir, char *err,
                     size_t errlen)
{
    memset(r, 0, sizeof *r);
    if (!cJSON_IsObject(src)) {
        snprintf(err, errlen, "rule %zu: not an object", idx);
        return -1;
    }
    r->def = cJSON_Duplicate(src, 1);
    if (!r->def)
        goto oom;
    const char *name = jstr(src, "name");
    char buf[32];
    snprintf(buf, sizeof buf, "rule-%zu", idx);
    r->name = strdup(name ? name : buf);
    if (!r->name)
        goto oom;
    r->match = cJSON_GetObjectItemCaseSensitive(r->def, "match");
    if (r->match && !cJSON_IsObject(r->match)) {
        snprintf(err, errlen, "rule %s: \"match\" must be an object", r->name);
        return -1;
    }
    const char *re = jstr(r->match, "pathRegex");
    if (re) {
        if (regcomp(&r->regex, re, REG_EXTENDED | REG_NOSUB) != 0) {
            snprintf(err, errlen, "rule %s: bad pathRegex: %s", r->name, re);
            return -1;
        }
        r->has_regex = 1;
    }
    const char *fault = jstr(src, "fault");
    if (fault) {
        int ok = 0;
        for (size_t i = 0; fault_names[i]; i++)
            ok |= strcmp(fault_names[i], fault) == 0;
        if (!ok) {
            snprintf(err, errlen, "rule %s: unknown fault \"%s\"", r->name, fault);
            return -1;
        }
    }
    const cJSON *resp = cJSON_GetObjectItemCaseSensitive(src, "respond");
    if (resp && !cJSON_IsObject(resp)) {
        snprintf(err, errlen, "rule %s: \"respond\" must be an object", r->name);
        return -1;
    }
    /* bodyFile: read now (relative to the scenario file), stored as "body" */
    const char *bf = jstr(resp, "bodyFile");
    if (bf) {
        char *path = NULL;
        if (bf[0] != '/' && base_dir ? asprintf(&path, "%s/%s", base_dir, bf) < 0
                                     : !(path = strdup(bf)))
            goto oom;
        errno = 0;
        char *data = read_file(path);
        if (!data) {
            snprintf(err, errlen, "rule %s: bodyFile %s: %s", r->name, path,
                     strerror(errno ? errno : ENOMEM));
            free(path);
            return -1;
        }
        free(path);
        cJSON *rr = cJSON_GetObjectItemCaseSensitive(r->def, "respond");
        cJSON_DeleteItemFromObjectCaseSensitive(rr, "body");
        cJSON_AddItemToObject(rr, "body", cJSON_CreateString(data));
        free(data);
    }
    double seed = jnum(r->match, "seed", jnum(src, "seed", -1));
    r->seed = seed >= 0 ? (uint64_t)seed : (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)r;
    r->rng = r->seed;
    return 0;
oom:
    snprintf(err, errlen, "out of memory");
    return -1;
}

scenario_set *scenario_set_new(void)
{
    scenario_set *s = calloc(1, sizeof *s);
    if (s)
        pthread_mutex_init(&s->lock, NULL);
    return s;
}

static void clear_locked(scenario_set *s)
{
    for (size_t i = 0; i < s->n; i++)
        rule_free(&s->rules[i]);
    free(s->rules);
    s->rules = NULL;
    s->n = 0;
}

void scenario_set_free(scenario_set *s)
{
    if (!s)
        return;
    clear_locked(s);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

void scenario_clear(scenario_set *s)
{
    pthread_mutex_lock(&s->lock);
    clear_locked(s);
    pthread_mutex_unlock(&s->lock);
}

void scenario_reset_counters(scenario_set *s)
{
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < s->n; i++) {
        s->rules[i].seen = s->rules[i].applied = 0;
        s->rules[i].rng = s->rules[i].seed;
    }
    pthread_mutex_unlock(&s->lock);
}

int scenario_count(scenario_set *s)
{
    pthread_mutex_lock(&s->lock);
    int n = (int)s->n;
    pthread_mutex_unlock(&s->lock);
    return n;
}

cJSON *scenario_list(scenario_set *s)
{
    cJSON *a = cJSON_CreateArray();
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; a && i < s->n; i++) {
        cJSON *o = cJSON_Duplicate(s->rules[i].def, 1);
        if (!o)
            continue;
        cJSON_DeleteItemFromObjectCaseSensitive(o, "name");
        cJSON_AddStringToObject(o, "name", s->rules[i].name);
        cJSON_AddNumberToObject(o, "seen", (double)s->rules[i].seen);
        cJSON_AddNumberToObject(o, "applied", (double)s->rules[i].applied);
        cJSON_AddItemToArray(a, o);
    }
    pthread_mutex_unlock(&s->lock);
    return a;
}

int scenario_load_json(scenario_set *s, const char *text, const char *base_dir, int append,
                       char *err, size_t errlen)
{
    cJSON *root = cJSON_Parse(text);
    if (!root) {
        snprintf(err, errlen, "scenario is not valid JSON");
        return -1;
    }
    const cJSON *arr = root;
    if (cJSON_IsObject(root)) {
        const cJSON *rules = cJSON_GetObjectItemCaseSensitive(root, "rules");
        arr = rules ? rules : NULL;
    }
    size_t n = arr ? (size_t)cJSON_GetArraySize(arr) : 1;
    if (arr && !cJSON_IsArray(arr)) {
        snprintf(err, errlen, "\"rules\" must be an array");
        cJSON_Delete(root);
        return -1;
    }
    rule *nr = calloc(n ? n : 1, sizeof *nr);
    if (!nr) {
        cJSON_Delete(root);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    size_t ok = 0;
    const cJSON *it = arr ? arr->child : root;
    for (size_t i = 0; i < n; i++, it = arr ? it->next : NULL) {
        if (rule_init(&nr[i], it, i, base_dir, err, errlen) != 0) {
            rule_free(&nr[i]);
            for (size_t j = 0; j < ok; j++)
                rule_free(&nr[j]);
            free(nr);
            cJSON_Delete(root);
            return -1;
        }
        ok++;
    }
    cJSON_Delete(root);
    pthread_mutex_lock(&s->lock);
    if (!append)
        clear_locked(s);
    rule *all = realloc(s->rules, (s->n + n + 1) * sizeof *all);
    if (!all) {
        pthread_mutex_unlock(&s->lock);
        for (size_t j = 0; j < n; j++)
            rule_free(&nr[j]);
        free(nr);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    memcpy(all + s->n, nr, n * sizeof *nr);
    s->rules = all;
    s->n += n;
    pthread_mutex_unlock(&s->lock);
    free(nr); /* regex_t moved by value: fine, regfree works on the copy */
    return (int)n;
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *data = NULL;
    size_t len = 0, cap = 0, k;
    char tmp[8192];
    while ((k = fread(tmp, 1, sizeof tmp, f)) > 0) {
        if (len + k + 1 > cap) {
            cap = (len + k + 1) * 2;
            char *nd = realloc(data, cap);
            if (!nd) {
                free(data);
                fclose(f);
                return NULL;
            }
            data = nd;
        }
        memcpy(data + len, tmp, k);
        len += k;
    }
    fclose(f);
    if (!data)
        data = calloc(1, 1);
    else
        data[len] = '\0';
    return data;
}

static int cmpstr(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int load_file(scenario_set *s, const char *path, char *err, size_t errlen)
{
    char *text = read_file(path);
    if (!text) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    char *dir = strdup(path);
    char *slash = dir ? strrchr(dir, '/') : NULL;
    if (slash)
        *slash = '\0';
    char sub[400];
    int n = scenario_load_json(s, text, slash ? dir : ".", 1, sub, sizeof sub);
    if (n < 0)
        snprintf(err, errlen, "%s: %s", path, sub);
    free(dir);
    free(text);
    return n;
}

int scenario_load_path(scenario_set *s, const char *path, char *err, size_t errlen)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode))
        return load_file(s, path, err, errlen);
    DIR *d = opendir(path);
    if (!d) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    int total = 0;
    while ((de = readdir(d))) {
        size_t l = strlen(de->d_name);
        if (l < 6 || strcmp(de->d_name + l - 5, ".json") != 0)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            char **nn = realloc(names, cap * sizeof *nn);
            if (!nn) {
                total = -1;
                break;
            }
            names = nn;
        }
        if (asprintf(&names[n], "%s/%s", path, de->d_name) < 0) {
            total = -1;
            break;
        }
        n++;
    }
    closedir(d);
    if (total == 0 && n)
        qsort(names, n, sizeof *names, cmpstr);
    for (size_t i = 0; i < n; i++) {
        if (total >= 0) {
            int k = load_file(s, names[i], err, errlen);
            total = k < 0 ? -1 : total + k;
        }
        free(names[i]);
    }
    free(names);
    return total;
}

/* ---------------------------------------------------------------- matching */

static const char *port_name(int port)
{
    return port == MOCK_PORT_CONTROL ? "control"
           : port == MOCK_PORT_ENVD  ? "envd"
           : port == MOCK_PORT_CODE  ? "code"
                                     : "other";
}

/* JSON scalar at a dotted path as text for comparison ("true", "3", "base"); NULL if absent. */
static int json_field_eq(const cJSON *root, const char *dotted, const cJSON *want)
{
    char *copy = strdup(dotted);
    if (!copy)
        return 0;
    const cJSON *cur = root;
    char *save = NULL;
    for (char *tok = strtok_r(copy, ".", &save); tok && cur; tok = strtok_r(NULL, ".", &save))
        cur = cJSON_IsArray(cur) ? cJSON_GetArrayItem(cur, atoi(tok))
                                 : cJSON_GetObjectItemCaseSensitive(cur, tok);
    free(copy);
    if (cJSON_IsNull(want))
        return cur == NULL || cJSON_IsNull(cur);
    return cur && cJSON_Compare(cur, want, 1);
}

/* Returns NULL when every static criterion holds, else the name of the first one that failed;
 * *score counts the criteria that held. */
static const char *rule_check(const rule *r, const scenario_req *q, cJSON *body, int *score)
{
    const cJSON *m = r->match;
    *score = 0;
    if (!m)
        return NULL;
    const char *v;
    if ((v = jstr(m, "method"))) {
        if (strcmp(v, "*") != 0 && strcasecmp(v, q->method) != 0)
            return "method";
        (*score)++;
    }
    if ((v = jstr(m, "path"))) {
        if (fnmatch(v, q->path, 0) != 0)
            return "path";
        (*score)++;
    }
    if (r->has_regex) {
        if (regexec(&r->regex, q->path, 0, NULL, 0) != 0)
            return "pathRegex";
        (*score)++;
    }
    const cJSON *port = cJSON_GetObjectItemCaseSensitive(m, "port");
    if (port) {
        int ok = cJSON_IsNumber(port)   ? port->valueint == q->port
                 : cJSON_IsString(port) ? strcmp(port->valuestring, port_name(q->port)) == 0
                                        : 0;
        if (!ok)
            return "port";
        (*score)++;
    }
    if ((v = jstr(m, "sandbox"))) {
        if (!q->sandbox_id || fnmatch(v, q->sandbox_id, 0) != 0)
            return "sandbox";
        (*score)++;
    }
    const cJSON *h = cJSON_GetObjectItemCaseSensitive(m, "headers");
    for (const cJSON *e = h ? h->child : NULL; e; e = e->next) {
        const char *have = q->req ? mock_req_header(q->req, e->string) : NULL;
        if (!have || !cJSON_IsString(e) || fnmatch(e->valuestring, have, 0) != 0)
            return "headers";
        (*score)++;
    }
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(m, "body");
    for (const cJSON *e = b ? b->child : NULL; e; e = e->next) {
        if (!body || !json_field_eq(body, e->string, e))
            return "body";
        (*score)++;
    }
    return NULL;
}

int scenario_match(scenario_set *s, const scenario_req *q, scenario_action *act, cJSON **near_miss)
{
    memset(act, 0, sizeof *act);
    if (near_miss)
        *near_miss = NULL;
    pthread_mutex_lock(&s->lock);
    if (s->n == 0) {
        pthread_mutex_unlock(&s->lock);
        return 0;
    }
    cJSON *body = q->body && *q->body ? cJSON_Parse(q->body) : NULL;
    int best = -1;
    const char *best_why = NULL;
    const rule *best_rule = NULL;
    int found = 0;
    for (size_t i = 0; i < s->n && !found; i++) {
        rule *r = &s->rules[i];
        int score = 0;
        const char *why = rule_check(r, q, body, &score);
        if (!why) {
            const cJSON *m = r->match;
            long nth = (long)jnum(m, "nth", 0), every = (long)jnum(m, "every", 0);
            double prob = jnum(m, "probability", 1.0);
            long times = (long)jnum(r->def, "times", 0);
            r->seen++;
            if (nth > 0 && r->seen != nth)
                why = "nth";
            else if (every > 0 && r->seen % every != 0)
                why = "every";
            else if (prob < 1.0 && unit(&r->rng) >= prob)
                why = "probability";
            else if (times > 0 && r->applied >= times)
                why = "times";
            if (!why) {
                r->applied++;
                act->rule = strdup(r->name);
                act->def = cJSON_Duplicate(r->def, 1);
                const cJSON *resp = cJSON_GetObjectItemCaseSensitive(r->def, "respond");
                const cJSON *d = cJSON_GetObjectItemCaseSensitive(resp, "delay");
                double ms = jnum(resp, "delayMs", 0);
                const char *dist = jstr(d, "dist");
                if (dist && strcmp(dist, "uniform") == 0) {
                    double lo = jnum(d, "min", 0), hi = jnum(d, "max", lo);
                    ms += lo + unit(&r->rng) * (hi - lo);
                } else if (dist && strcmp(dist, "lognormal") == 0) {
                    double u1 = unit(&r->rng), u2 = unit(&r->rng);
                    double z = sqrt(-2.0 * log(1.0 - u1)) * cos(2 * M_PI * u2);
                    ms += exp(jnum(d, "mu", 3.0) + jnum(d, "sigma", 0.5) * z);
                } else if (d && cJSON_IsNumber(d)) {
                    ms += d->valuedouble;
                }
                if (ms > 600000)
                    ms = 600000;
                act->delay_ms = ms > 0 ? (unsigned)ms : 0;
                found = act->rule && act->def;
                if (!found)
                    scenario_action_free(act);
                break;
            }
        }
        if (score > best) {
            best = score;
            best_why = why;
            best_rule = r;
        }
    }
    if (!found && near_miss && best_rule) {
        cJSON *o = cJSON_CreateObject();
        if (o) {
            char ts[40];
            mock_format_rfc3339_ms(mock_now_ms(), ts, sizeof ts);
            cJSON_AddStringToObject(o, "time", ts);
            cJSON_AddStringToObject(o, "method", q->method);
            cJSON_AddStringToObject(o, "path", q->path);
            cJSON_AddStringToObject(o, "port", port_name(q->port));
            if (q->sandbox_id)
                cJSON_AddStringToObject(o, "sandboxId", q->sandbox_id);
            cJSON_AddStringToObject(o, "closestRule", best_rule->name);
            cJSON_AddStringToObject(o, "missedOn", best_why ? best_why : "?");
            cJSON_AddNumberToObject(o, "criteriaMet", best);
            const cJSON *m = best_rule->match;
            const cJSON *want = best_why ? cJSON_GetObjectItemCaseSensitive(m, best_why) : NULL;
            if (want)
                cJSON_AddItemToObject(o, "expected", cJSON_Duplicate(want, 1));
        }
        *near_miss = o;
    }
    pthread_mutex_unlock(&s->lock);
    cJSON_Delete(body);
    return found;
}

void scenario_action_free(scenario_action *a)
{
    if (!a)
        return;
    free(a->rule);
    cJSON_Delete(a->def);
    memset(a, 0, sizeof *a);
}

/* ---------------------------------------------------------------- executing */

/* Replaces {{sandbox_id}} and {{path}}. Returns malloc'd text. */
static char *substitute(const char *in, const mock_request *req, size_t *len_out)
{
    const char *sid = req->sandbox_id ? req->sandbox_id : "";
    size_t cap = strlen(in) + 1, len = 0;
    for (const char *p = in; (p = strstr(p, "{{")); p += 2)
        cap += strlen(sid) + strlen(req->path);
    char *out = malloc(cap);
    if (!out)
        return NULL;
    for (const char *p = in; *p;) {
        if (strncmp(p, "{{sandbox_id}}", 14) == 0) {
            memcpy(out + len, sid, strlen(sid));
            len += strlen(sid);
            p += 14;
        } else if (strncmp(p, "{{path}}", 8) == 0) {
            memcpy(out + len, req->path, strlen(req->path));
            len += strlen(req->path);
            p += 8;
        } else {
            out[len++] = *p++;
        }
    }
    out[len] = '\0';
    if (len_out)
        *len_out = len;
    return out;
}

/* The body of "respond" as text: a string as is, anything else printed as JSON. */
static char *body_text(const cJSON *resp, const mock_request *req, size_t *len)
{
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(resp, "body");
    const cJSON *b64 = cJSON_GetObjectItemCaseSensitive(resp, "bodyBase64");
    *len = 0;
    if (!b && cJSON_IsString(b64)) { /* binary bodies (recorded Connect streams ...) */
        size_t in = strlen(b64->valuestring);
        char *out = malloc(in / 4 * 3 + 4);
        int n = out ? EVP_DecodeBlock((unsigned char *)out, (const unsigned char *)b64->valuestring,
                                      (int)in)
                    : -1;
        if (n < 0) {
            free(out);
            return strdup("");
        }
        while (n > 0 && in > 0 && b64->valuestring[in - 1] == '=') { /* padding bytes */
            n--;
            in--;
        }
        out[n] = '\0';
        *len = (size_t)n;
        return out;
    }
    if (!b)
        return strdup("");
    char *raw = cJSON_IsString(b) ? strdup(b->valuestring) : cJSON_PrintUnformatted(b);
    if (!raw)
        return NULL;
    char *out = substitute(raw, req, len);
    free(raw);
    return out;
}

static const char *status_text(int st)
{
    switch (st) {
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    default: return "Status";
    }
}

/* "HTTP/1.1 <st> ...\r\n<headers>Content-Length or chunked\r\n\r\n" into a malloc'd string. */
static char *raw_head(int st, const cJSON *resp, const char *ctype, long content_length)
{
    char *h = NULL;
    size_t hl = 0;
    FILE *f = open_memstream(&h, &hl);
    if (!f)
        return NULL;
    fprintf(f, "HTTP/1.1 %d %s\r\n", st, status_text(st));
    if (ctype)
        fprintf(f, "Content-Type: %s\r\n", ctype);
    const cJSON *hs = cJSON_GetObjectItemCaseSensitive(resp, "headers");
    for (const cJSON *e = hs ? hs->child : NULL; e; e = e->next)
        if (cJSON_IsString(e))
            fprintf(f, "%s: %s\r\n", e->string, e->valuestring);
    if (content_length >= 0)
        fprintf(f, "Content-Length: %ld\r\n", content_length);
    else
        fputs("Transfer-Encoding: chunked\r\n", f);
    fputs("Connection: close\r\n\r\n", f);
    fclose(f);
    return h;
}

static int write_chunk(mock_request *req, const void *data, size_t len)
{
    char hdr[32];
    int n = snprintf(hdr, sizeof hdr, "%zx\r\n", len);
    return fault_write_all(req, hdr, (size_t)n) || fault_write_all(req, data, len) ||
           fault_write_all(req, "\r\n", 2);
}

/* Event of a "stream" rule as bytes: a string as is (ndjson gets a '\n'); an object
 * {"raw":"..."} verbatim, {"rawHex":"..."} decoded; other JSON printed. Connect framing puts
 * a data envelope around it (unless raw). */
static unsigned char *event_bytes(const cJSON *ev, int connect, size_t *len)
{
    const char *raw = cJSON_IsObject(ev) ? jstr(ev, "raw") : NULL;
    const char *hex = cJSON_IsObject(ev) ? jstr(ev, "rawHex") : NULL;
    if (hex) {
        size_t n = strlen(hex) / 2;
        unsigned char *o = malloc(n + 1);
        for (size_t i = 0; o && i < n; i++) {
            unsigned v;
            if (sscanf(hex + 2 * i, "%2x", &v) != 1)
                v = 0;
            o[i] = (unsigned char)v;
        }
        *len = n;
        return o;
    }
    if (raw) {
        *len = strlen(raw);
        return (unsigned char *)strdup(raw);
    }
    char *txt = cJSON_IsString(ev) ? strdup(ev->valuestring) : cJSON_PrintUnformatted(ev);
    if (!txt)
        return NULL;
    size_t tl = strlen(txt);
    if (connect) {
        unsigned char *env = connect_envelope(0, txt, tl, len);
        free(txt);
        return env;
    }
    char *nl = realloc(txt, tl + 2);
    if (!nl) {
        free(txt);
        return NULL;
    }
    nl[tl] = '\n';
    nl[tl + 1] = '\0';
    *len = tl + 1;
    return (unsigned char *)nl;
}

static int run_stream(mock_request *req, const cJSON *def)
{
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(def, "stream");
    const char *framing = jstr(st, "framing");
    int connect = framing && strcmp(framing, "connect") == 0;
    const char *ctype = jstr(st, "contentType");
    if (!ctype)
        ctype = connect ? "application/connect+json" : "application/x-ndjson";
    int status = (int)jnum(st, "status", 200);
    char *head = raw_head(status, st, ctype, -1);
    if (!head || fault_write_all(req, head, strlen(head))) {
        free(head);
        return -1;
    }
    free(head);
    unsigned gap = (unsigned)jnum(st, "eventGapMs", 0);
    const cJSON *evs = cJSON_GetObjectItemCaseSensitive(st, "events");
    for (const cJSON *ev = evs ? evs->child : NULL; ev; ev = ev->next) {
        size_t n = 0;
        unsigned char *b = event_bytes(ev, connect, &n);
        int bad = !b || write_chunk(req, b, n);
        free(b);
        if (bad)
            return -1;
        if (gap && fault_sleep(req, gap))
            return -1;
    }
    const char *end = jstr(st, "end");
    if (!end)
        end = "end";
    if (strcmp(end, "end") == 0 || strcmp(end, "endStream") == 0) {
        if (connect && strcmp(end, "endStream") == 0) {
            size_t n = 0;
            unsigned char *e = connect_end_stream(CONNECT_OK, NULL, &n);
            int bad = !e || write_chunk(req, e, n);
            free(e);
            if (bad)
                return -1;
        }
        fault_write_all(req, "0\r\n\r\n", 5);
        return -1; /* Connection: close was announced */
    }
    if (strcmp(end, "reset") == 0)
        return fault_reset(req);
    if (strcmp(end, "hang") == 0) {
        const cJSON *ka = cJSON_GetObjectItemCaseSensitive(st, "keepalive");
        size_t kl = 0;
        unsigned char *kb = ka ? event_bytes(ka, connect, &kl) : NULL;
        int rc = fault_hang(req, (unsigned)jnum(st, "keepaliveMs", 0), (const char *)kb, kl, 1);
        free(kb);
        return rc;
    }
    return fault_raw(req, "", 0); /* "close": no terminating chunk */
}

/* The sandbox of a data-plane request, or of a control-plane /sandboxes/{id}... path. */
static const char *vanish_id(const mock_request *req, char *buf, size_t n)
{
    if (req->sandbox_id)
        return req->sandbox_id;
    const char *p = strstr(req->path, "/sandboxes/");
    if (!p || !p[11] || p[11] == '/')
        return NULL;
    p += 11;
    size_t k = strcspn(p, "/");
    if (k >= n)
        return NULL;
    memcpy(buf, p, k);
    buf[k] = '\0';
    return buf;
}

static int vanish(mock_request *req, const cJSON *args)
{
    char idb[128];
    const char *id = vanish_id(req, idb, sizeof idb);
    if (!id)
        return 0;
    double s = jnum(args, "seconds", 0);
    store_set_timeout(mock_server_store(req->server), id, (int64_t)(s * 1000));
    store_kick(mock_server_store(req->server));
    return 0;
}

int scenario_execute(mock_request *req, const scenario_action *act, mock_response **out,
                     const char **fault_out, scenario_pre_send_fn pre_send, void *ud)
{
    *out = NULL;
    *fault_out = NULL;
    if (act->delay_ms && fault_sleep(req, act->delay_ms) != 0)
        return -1; /* client left during the delay */
    const cJSON *def = act->def;
    const char *fault = jstr(def, "fault");
    const cJSON *args = cJSON_GetObjectItemCaseSensitive(def, "faultArgs");
    const cJSON *resp = cJSON_GetObjectItemCaseSensitive(def, "respond");
    for (size_t i = 0; fault && fault_names[i]; i++)
        if (strcmp(fault_names[i], fault) == 0)
            *fault_out = fault_names[i];
    if (fault && pre_send && strcmp(fault, "vanish") && strcmp(fault, "create_lost") &&
        strcmp(fault, "html_502"))
        pre_send(req, *fault_out ? *fault_out : fault, ud); /* the rest write raw bytes */
    if (fault) {
        if (!strcmp(fault, "reset"))
            return fault_reset(req);
        if (!strcmp(fault, "empty_reply"))
            return fault_raw(req, "", 0);
        if (!strcmp(fault, "garbage")) {
            static const char g[] = "\x16\x03\x01\xff\xfeNOT-HTTP garbage \x00\x01\x02\r\n\r\n";
            return fault_raw(req, g, sizeof g - 1);
        }
        if (!strcmp(fault, "hang"))
            return fault_hang(req, 0, NULL, 0, 0);
        if (!strcmp(fault, "stream"))
            return run_stream(req, def);
        if (!strcmp(fault, "vanish"))
            return vanish(req, args);
        if (!strcmp(fault, "create_lost"))
            return 0; /* the handler runs; the after hook drops the answer */
        if (!strcmp(fault, "html_502")) {
            static const char html[] =
                "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
                "<center><h1>502 Bad Gateway</h1></center>\r\n</body>\r\n</html>\r\n";
            *out = mock_resp_bytes(502, "text/html", html, sizeof html - 1);
            return 1;
        }
        /* the rest write a (partial) scripted response themselves */
        int st = (int)jnum(resp, "status", 200);
        const char *ct = jstr(resp, "contentType");
        size_t blen = 0;
        char *body = body_text(resp, req, &blen);
        if (!body)
            return fault_reset(req);
        if (!ct)
            ct = "application/json";
        long declared = (long)blen;
        size_t send_n = blen;
        if (!strcmp(fault, "close_after_bytes")) {
            size_t nb = (size_t)jnum(args, "bytes", 0);
            send_n = nb < blen ? nb : blen;
        } else if (!strcmp(fault, "lying_length")) {
            declared = (long)blen + (long)jnum(args, "extra", 1000);
        }
        char *head = raw_head(st, resp, ct, declared);
        int rc = -1;
        if (head && !fault_write_all(req, head, strlen(head)) &&
            !fault_write_all(req, body, send_n)) {
            if (!strcmp(fault, "slow_close"))
                fault_sleep(req, (unsigned)jnum(args, "ms", 2000));
            rc = fault_raw(req, "", 0);
        }
        free(head);
        free(body);
        return rc;
    }
    if (!resp || (!cJSON_GetObjectItemCaseSensitive(resp, "status") &&
                  !cJSON_GetObjectItemCaseSensitive(resp, "body") &&
                  !cJSON_GetObjectItemCaseSensitive(resp, "bodyBase64") &&
                  !cJSON_GetObjectItemCaseSensitive(resp, "dribble")))
        return 0; /* delay only (or a counter rule): the handler answers */
    const cJSON *dribble = cJSON_GetObjectItemCaseSensitive(resp, "dribble");
    int st = (int)jnum(resp, "status", 200);
    const char *ct = jstr(resp, "contentType");
    size_t blen = 0;
    char *body = body_text(resp, req, &blen);
    if (!body)
        return fault_reset(req);
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(resp, "body");
    if (!b)
        b = cJSON_GetObjectItemCaseSensitive(resp, "bodyBase64");
    if (!ct && b)
        ct = cJSON_IsString(b) ? "text/plain" : "application/json";
    if (dribble) {
        size_t step = (size_t)jnum(dribble, "bytes", 1);
        unsigned every = (unsigned)jnum(dribble, "everyMs", 100);
        if (step == 0)
            step = 1;
        *fault_out = "dribble";
        if (pre_send)
            pre_send(req, *fault_out, ud);
        char *head = raw_head(st, resp, ct, (long)blen);
        int bad = !head || fault_write_all(req, head, strlen(head));
        for (size_t off = 0; !bad && off < blen; off += step) {
            size_t n = blen - off < step ? blen - off : step;
            bad = fault_write_all(req, body + off, n) ||
                  (off + n < blen && fault_sleep(req, every));
        }
        free(head);
        free(body);
        return fault_raw(req, "", 0);
    }
    mock_response *r = mock_resp_take(st, ct, body, blen);
    const cJSON *hs = cJSON_GetObjectItemCaseSensitive(resp, "headers");
    for (const cJSON *e = hs ? hs->child : NULL; r && e; e = e->next)
        if (cJSON_IsString(e))
            mock_resp_header(r, e->string, e->valuestring);
    *out = r;
    return 1;
}
