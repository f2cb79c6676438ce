/* agent_intent.c - MANAGE_SANDBOX intent parsing: create / list / kill and their
 * arguments, words matched as whole words. Rules and contract: e2b/agent.h. */
#include "e2b/agent.h"
#include "agent_internal.h"

#include <math.h>
#include <string.h>

const char *e2b_agent_intent_name(e2b_agent_intent_kind kind)
{
    switch (kind) {
    case E2B_INTENT_CREATE: return "create";
    case E2B_INTENT_LIST: return "list";
    case E2B_INTENT_KILL: return "kill";
    case E2B_INTENT_UNKNOWN: break;
    }
    return "unknown";
}

const char *e2b_agent_kill_target_name(e2b_agent_kill_target target)
{
    switch (target) {
    case E2B_KILL_ID: return "id";
    case E2B_KILL_LATEST: return "latest";
    case E2B_KILL_ALL: return "all";
    case E2B_KILL_UNSPECIFIED: return "unspecified";
    case E2B_KILL_NONE: break;
    }
    return "none";
}

/* The intent vocabulary (lower case), one lookup per word of the message. */
enum {
    W_CREATE = 1 << 0,
    W_CREATE_WEAK = 1 << 1,
    W_LIST = 1 << 2,
    W_LIST_WEAK = 1 << 3,
    W_KILL = 1 << 4,
    W_LATEST = 1 << 5,
    W_ALL = 1 << 6,
    W_SUBJECT = 1 << 7,
    W_TEMPLATE = 1 << 8,
    W_SHUT = 1 << 9,
    W_DOWN = 1 << 10
};
#define V(word, flags)                \
    {                                 \
        word, sizeof(word) - 1, flags \
    }
static const struct {
    const char *word;
    size_t len;
    unsigned flags;
} vocab[] = {
    V("create", W_CREATE),
    V("start", W_CREATE),
    V("launch", W_CREATE),
    V("spawn", W_CREATE),
    V("spin", W_CREATE),
    V("provision", W_CREATE),
    V("new", W_CREATE_WEAK | W_LATEST),
    V("list", W_LIST),
    V("display", W_LIST),
    V("ls", W_LIST),
    V("enumerate", W_LIST),
    V("show", W_LIST_WEAK),
    V("status", W_LIST_WEAK),
    V("what", W_LIST_WEAK),
    V("which", W_LIST_WEAK),
    V("kill", W_KILL),
    V("stop", W_KILL),
    V("terminate", W_KILL),
    V("destroy", W_KILL),
    V("delete", W_KILL),
    V("remove", W_KILL),
    V("shutdown", W_KILL),
    V("shut", W_SHUT),
    V("down", W_DOWN),
    V("newest", W_LATEST),
    V("latest", W_LATEST),
    V("recent", W_LATEST),
    V("last", W_LATEST),
    V("youngest", W_LATEST),
    V("all", W_ALL),
    V("every", W_ALL),
    V("everything", W_ALL),
    V("sandbox", W_SUBJECT),
    V("sandboxes", W_SUBJECT),
    V("environment", W_SUBJECT),
    V("environments", W_SUBJECT),
    V("container", W_SUBJECT),
    V("containers", W_SUBJECT),
    V("vm", W_SUBJECT),
    V("vms", W_SUBJECT),
    V("template", W_TEMPLATE),
};
#undef V
#define VOCAB_MAX_LEN 12

static unsigned word_flags(const char *w, size_t n)
{
    if (n < 2 || n > VOCAB_MAX_LEN)
        return 0;
    char low[VOCAB_MAX_LEN];
    for (size_t i = 0; i < n; i++)
        low[i] = agent_lower((uint8_t)w[i]);
    unsigned flags = 0;
    for (size_t k = 0; k < sizeof vocab / sizeof vocab[0]; k++)
        if (vocab[k].len == n && memcmp(vocab[k].word, low, n) == 0)
            flags |= vocab[k].flags;
    return flags;
}

/* words that cannot be a template name */
static const char *const template_stop[] = {
    "a",       "an",     "the", "this",    "that",   "my",       "our",   "your",
    "default", "custom", "new", "with",    "using",  "use",      "from",  "of",
    "for",     "and",    "to",  "named",   "called", "name",     "id",    "is",
    "as",      "on",     "in",  "sandbox", "e2b",    "template", "based", NULL};
static const char *const template_skip[] = {"named", "called", "name", "id", "is", NULL};

/* ---- small scanners ---------------------------------------------------------------- */

static bool tok_char(uint8_t c)
{
    return agent_is_alnum(c) || c == '_' || c == '-';
}

static bool name_char(uint8_t c)
{
    return tok_char(c) || c == '.' || c == ':' || c == '/';
}

/* Copies s[0..n) into dst[cap]; fails with E2B_ERR_INVALID_ARGUMENT if it does not fit. */
static e2b_code copy_field(char *dst, size_t cap, const char *s, size_t n, const char *what,
                           e2b_error *err)
{
    if (n >= cap)
        return e2b_error_set(err, E2B_ERR_INVALID_ARGUMENT, 0, "%s is longer than %zu bytes", what,
                             cap - 1);
    memcpy(dst, s, n);
    dst[n] = '\0';
    return E2B_OK;
}

/* The word before position p (skipping non-word bytes), as [*ws, *we). */
static bool prev_word(const char *t, size_t p, size_t *ws, size_t *we)
{
    while (p > 0 && !agent_is_word((uint8_t)t[p - 1]))
        p--;
    if (p == 0)
        return false;
    size_t e = p;
    while (p > 0 && agent_is_word((uint8_t)t[p - 1]))
        p--;
    *ws = p;
    *we = e;
    return true;
}

static const struct {
    const char *unit;
    double seconds;
} units[] = {
    {"s", 1},
    {"sec", 1},
    {"secs", 1},
    {"second", 1},
    {"seconds", 1},
    {"m", 60},
    {"min", 60},
    {"mins", 60},
    {"minute", 60},
    {"minutes", 60},
    {"h", 3600},
    {"hr", 3600},
    {"hrs", 3600},
    {"hour", 3600},
    {"hours", 3600},
    {"ms", 0.001},
    {"msec", 0.001},
    {"millisecond", 0.001},
    {"milliseconds", 0.001},
};

enum dur { DUR_NONE, DUR_UNIT, DUR_BARE };

/* Parses "<number>[ -]<unit>" at t[*i] (a digit). Advances *i past what was read. Returns
 * DUR_UNIT with *seconds, DUR_BARE (a number without a known unit, *seconds = value), or
 * DUR_NONE. *huge is set for numbers too big to mean anything. */
static enum dur parse_duration(const char *t, size_t n, size_t *i, double *seconds, bool *huge)
{
    size_t p = *i, digits = 0;
    double v = 0;
    while (p < n && t[p] >= '0' && t[p] <= '9') {
        if (++digits > 12)
            *huge = true;
        else
            v = v * 10 + (t[p] - '0');
        p++;
    }
    if (p + 1 < n && t[p] == '.' && t[p + 1] >= '0' && t[p + 1] <= '9') {
        double scale = 0.1;
        for (p++; p < n && t[p] >= '0' && t[p] <= '9'; p++, scale /= 10)
            if (scale > 1e-9)
                v += (t[p] - '0') * scale;
    }
    size_t num_end = p;
    *i = num_end;
    size_t q = p;
    while (q < n && t[q] == ' ')
        q++;
    if (q == p && q < n && t[q] == '-')
        q++;
    size_t us = q;
    while (q < n && agent_is_alpha((uint8_t)t[q]))
        q++;
    if (q > us && !(q < n && agent_is_word((uint8_t)t[q]))) {
        for (size_t k = 0; k < sizeof units / sizeof units[0]; k++) {
            if (agent_word_eq(t + us, q - us, units[k].unit)) {
                *seconds = v * units[k].seconds;
                *i = q;
                return DUR_UNIT;
            }
        }
    }
    if (p < n && agent_is_word((uint8_t)t[p]))
        return DUR_NONE; /* "5x" */
    *seconds = v;
    return DUR_BARE;
}

/* Checks and stores a duration in whole seconds (rounded up). */
static e2b_code set_timeout(e2b_agent_intent *in, double seconds, bool huge, e2b_error *err)
{
    if (huge || seconds > (double)E2B_AGENT_MAX_TIMEOUT_S)
        return e2b_error_set(err, E2B_ERR_INVALID_ARGUMENT, 0, "timeout is longer than %ld seconds",
                             E2B_AGENT_MAX_TIMEOUT_S);
    /* whole milliseconds first, so 1.1 h is 3960 s and not 3961 (binary fractions) */
    long long ms = llround(seconds * 1000.0);
    if (ms == 0 && seconds > 0)
        ms = 1;
    long s = (long)((ms + 999) / 1000);
    if (s <= 0)
        return e2b_error_set(err, E2B_ERR_INVALID_ARGUMENT, 0, "timeout must be at least 1 second");
    in->timeout_s = s;
    return E2B_OK;
}

static bool word_at(const char *t, size_t ws, size_t we, const char *w)
{
    return agent_word_eq(t + ws, we - ws, w);
}

/* First "<n> <unit>" in the text, or "timeout [of|to|is|:|=] <n>" (seconds). */
static e2b_code find_timeout(const char *t, size_t n, e2b_agent_intent *in, e2b_error *err)
{
    for (size_t i = 0; i < n;) {
        bool boundary = i == 0 ||
                        !(agent_is_word((uint8_t)t[i - 1]) || t[i - 1] == '.' || t[i - 1] == '-');
        if (!(t[i] >= '0' && t[i] <= '9') || !boundary) {
            i++;
            continue;
        }
        size_t start = i;
        double sec = 0;
        bool huge = false;
        enum dur d = parse_duration(t, n, &i, &sec, &huge);
        if (d == DUR_UNIT)
            return set_timeout(in, sec, huge, err);
        if (d == DUR_BARE) {
            size_t ws, we;
            if (prev_word(t, start, &ws, &we)) {
                bool yes = word_at(t, ws, we, "timeout");
                if (!yes && (word_at(t, ws, we, "of") || word_at(t, ws, we, "to") ||
                             word_at(t, ws, we, "is"))) {
                    size_t ws2, we2;
                    yes = prev_word(t, ws, &ws2, &we2) && word_at(t, ws2, we2, "timeout");
                }
                if (yes)
                    return set_timeout(in, sec, huge, err);
            }
        }
    }
    return E2B_OK;
}

/* Reads a name at t[*p]: "quoted", 'quoted', `quoted` (one line) or a run of name
 * characters without trailing '.', ',' or ':'. Returns its bounds or false. */
static bool read_name(const char *t, size_t n, size_t p, size_t *s, size_t *e)
{
    if (p >= n)
        return false;
    char q = t[p];
    if (q == '"' || q == '\'' || q == '`') {
        size_t a = p + 1, b = a;
        while (b < n && t[b] != q && t[b] != '\n' && t[b] != '\r')
            b++;
        if (b >= n || t[b] != q || b == a)
            return false;
        *s = a;
        *e = b;
        return true;
    }
    if (!agent_is_alnum((uint8_t)t[p]))
        return false;
    size_t b = p;
    while (b < n && name_char((uint8_t)t[b]))
        b++;
    while (b > p && (t[b - 1] == '.' || t[b - 1] == ':' || t[b - 1] == ','))
        b--;
    *s = p;
    *e = b;
    return b > p;
}

/* Template from "template [named|called|name|id|is] [:|=] X" or "X template". */
static e2b_code template_near(const char *t, size_t n, size_t ws, size_t we, e2b_agent_intent *in,
                              e2b_error *err)
{
    size_t p = we, s, e;
    for (;;) {
        while (p < n && (t[p] == ' ' || t[p] == ':' || t[p] == '=' || t[p] == '\t'))
            p++;
        size_t a = p;
        while (p < n && agent_is_word((uint8_t)t[p]))
            p++;
        if (p > a && agent_word_index(t + a, p - a, template_skip) >= 0)
            continue;
        p = a;
        break;
    }
    if (read_name(t, n, p, &s, &e) && !(e < n && t[e] == '=') &&
        agent_word_index(t + s, e - s, template_stop) < 0) {
        return copy_field(in->template_name, sizeof in->template_name, t + s, e - s,
                          "template name", err);
    }
    /* before: "the code-interpreter-v1 template", "a `my-tpl` template" */
    p = ws;
    while (p > 0 && (t[p - 1] == ' ' || t[p - 1] == '\t'))
        p--;
    size_t b = p;
    if (p > 0 && (t[p - 1] == '"' || t[p - 1] == '\'' || t[p - 1] == '`')) {
        char q = t[p - 1];
        size_t a = p - 1;
        while (a > 0 && t[a - 1] != q && t[a - 1] != '\n')
            a--;
        if (a == 0 || t[a - 1] != q || a == p - 1)
            return E2B_OK;
        s = a;
        e = p - 1;
    } else {
        while (p > 0 && name_char((uint8_t)t[p - 1]))
            p--;
        while (p < b && !agent_is_alnum((uint8_t)t[p]))
            p++;
        s = p;
        e = b;
        while (e > s && (t[e - 1] == '.' || t[e - 1] == ':' || t[e - 1] == ','))
            e--;
    }
    if (e > s && agent_word_index(t + s, e - s, template_stop) < 0) {
        return copy_field(in->template_name, sizeof in->template_name, t + s, e - s,
                          "template name", err);
    }
    return E2B_OK;
}

/* key=value pairs (create). "timeout" and "template" keys set those fields. */
static e2b_code find_pairs(const char *t, size_t n, e2b_agent_intent *in, e2b_error *err)
{
    for (size_t p = 0; p < n; p++) {
        if (t[p] != '=' || p == 0)
            continue;
        if ((p + 1 < n && t[p + 1] == '=') || agent_in_set((uint8_t)t[p - 1], "=!<>"))
            continue;
        size_t ks = p;
        while (ks > 0 && (tok_char((uint8_t)t[ks - 1]) || t[ks - 1] == '.'))
            ks--;
        if (ks == p || !(agent_is_alpha((uint8_t)t[ks]) || t[ks] == '_'))
            continue;
        size_t vs, ve;
        size_t v = p + 1;
        if (v < n && (t[v] == '"' || t[v] == '\'' || t[v] == '`')) {
            if (!read_name(t, n, v, &vs, &ve))
                continue;
        } else {
            vs = v;
            ve = v;
            while (ve < n && !agent_is_space((uint8_t)t[ve]))
                ve++;
            while (ve > vs && agent_in_set((uint8_t)t[ve - 1], ",;)"))
                ve--;
            if (ve == vs)
                continue;
        }
        const char *key = t + ks;
        size_t kl = p - ks;
        e2b_code rc = E2B_OK;
        if (agent_word_eq(key, kl, "timeout")) {
            size_t i = vs;
            double sec = 0;
            bool huge = false;
            if (vs < ve && t[vs] >= '0' && t[vs] <= '9' &&
                parse_duration(t, ve, &i, &sec, &huge) != DUR_NONE && i == ve)
                rc = set_timeout(in, sec, huge, err);
            else
                rc = e2b_error_set(err, E2B_ERR_INVALID_ARGUMENT, 0,
                                   "timeout=%.*s is not a duration", (int)(ve - vs), t + vs);
        } else if (agent_word_eq(key, kl, "template")) {
            rc = copy_field(in->template_name, sizeof in->template_name, t + vs, ve - vs,
                            "template name", err);
        } else {
            size_t k = 0;
            while (k < in->metadata_len && !(strlen(in->metadata[k].key) == kl &&
                                             memcmp(in->metadata[k].key, key, kl) == 0))
                k++;
            if (k == E2B_AGENT_META_MAX)
                return e2b_error_set(err, E2B_ERR_INVALID_ARGUMENT, 0,
                                     "more than %u metadata pairs", E2B_AGENT_META_MAX);
            rc = copy_field(in->metadata[k].key, sizeof in->metadata[k].key, key, kl,
                            "metadata key", err);
            if (rc == E2B_OK)
                rc = copy_field(in->metadata[k].value, sizeof in->metadata[k].value, t + vs,
                                ve - vs, "metadata value", err);
            if (rc == E2B_OK && k == in->metadata_len)
                in->metadata_len++;
        }
        if (rc != E2B_OK)
            return rc;
        p = ve > p ? ve - 1 : p;
    }
    return E2B_OK;
}

/* Does t[s..e) look like a sandbox id? (see agent.h) */
static bool looks_like_id(const char *t, size_t s, size_t e)
{
    static const char *const prefixes[] = {"sbx-", "mock-sandbox-", "local-sandbox-", NULL};
    for (size_t k = 0; prefixes[k]; k++) {
        size_t l = strlen(prefixes[k]);
        if (e - s > l && agent_word_eq(t + s, l, prefixes[k]))
            return true;
    }
    size_t h = s, digits = 0, letters = 0;
    for (; h < e && t[h] != '-'; h++) {
        if (t[h] >= '0' && t[h] <= '9')
            digits++;
        else if (t[h] >= 'a' && t[h] <= 'z')
            letters++;
        else
            return false;
    }
    if (h - s < 12 || h - s > 64 || !digits || !letters)
        return false;
    if (h < e) { /* "-<suffix>" */
        if (t[e - 1] == '-')
            return false;
        for (size_t i = h + 1; i < e; i++)
            if (!((t[i] >= '0' && t[i] <= '9') || (t[i] >= 'a' && t[i] <= 'z') || t[i] == '-'))
                return false;
    }
    return true;
}

/* Sandbox id: the token after "id" ("id: x", "id=x", "ID `x`"), else the first token that
 * looks like one. Sets *s,*e or returns false. */
static bool find_id(const char *t, size_t n, size_t *s, size_t *e)
{
    for (size_t i = 0; i < n;) { /* explicit "id <token>" */
        if (!agent_is_word((uint8_t)t[i])) {
            i++;
            continue;
        }
        size_t ws = i;
        while (i < n && agent_is_word((uint8_t)t[i]))
            i++;
        if (!agent_word_eq(t + ws, i - ws, "id"))
            continue;
        size_t p = i;
        while (p < n && agent_in_set((uint8_t)t[p], " \t:=#\"'`"))
            p++;
        size_t a = p;
        while (p < n && tok_char((uint8_t)t[p]))
            p++;
        while (p > a && t[p - 1] == '-')
            p--;
        if (p > a) {
            *s = a;
            *e = p;
            return true;
        }
    }
    for (size_t i = 0; i < n;) {
        if (!tok_char((uint8_t)t[i])) {
            i++;
            continue;
        }
        size_t a = i;
        while (i < n && tok_char((uint8_t)t[i]))
            i++;
        if (looks_like_id(t, a, i)) {
            *s = a;
            *e = i;
            return true;
        }
    }
    return false;
}

static e2b_code unknown(e2b_agent_intent *in, const char *reason)
{
    in->kind = E2B_INTENT_UNKNOWN;
    in->reason = reason;
    return E2B_OK;
}

static e2b_code fail(e2b_agent_intent *in, e2b_code rc)
{
    bool mentions = in->mentions_sandbox;
    memset(in, 0, sizeof *in);
    in->mentions_sandbox = mentions;
    in->reason = "invalid argument";
    return rc;
}

e2b_code e2b_agent_parse_intent(const uint8_t *text, size_t len, e2b_agent_intent *out,
                                e2b_error *err)
{
    if (!out)
        return e2b_error_set(err, E2B_ERR_INVALID_ARGUMENT, 0, "out must not be NULL");
    memset(out, 0, sizeof *out);
    if (!text && len)
        return fail(out, e2b_error_set(err, E2B_ERR_INVALID_ARGUMENT, 0, "text is NULL"));
    if (len > E2B_AGENT_MAX_MESSAGE)
        return fail(out, e2b_error_set(err, E2B_ERR_INVALID_ARGUMENT, 0,
                                       "message longer than %u bytes", E2B_AGENT_MAX_MESSAGE));
    const char *t = (const char *)text;
    bool c_strong = false, c_weak = false, l_strong = false, l_weak = false, k_strong = false;
    bool latest = false, all = false;
    size_t tpl_ws = 0, tpl_we = 0;
    bool tpl = false, prev_shut = false;
    for (size_t i = 0; i < len;) {
        if (!agent_is_word((uint8_t)text[i])) {
            i++;
            continue;
        }
        size_t ws = i;
        while (i < len && agent_is_word((uint8_t)text[i]))
            i++;
        unsigned f = word_flags(t + ws, i - ws);
        c_strong |= (f & W_CREATE) != 0;
        c_weak |= (f & W_CREATE_WEAK) != 0;
        l_strong |= (f & W_LIST) != 0;
        l_weak |= (f & W_LIST_WEAK) != 0;
        k_strong |= (f & W_KILL) || (prev_shut && (f & W_DOWN));
        prev_shut = (f & W_SHUT) != 0;
        latest |= (f & W_LATEST) != 0;
        all |= (f & W_ALL) != 0;
        out->mentions_sandbox |= (f & W_SUBJECT) != 0;
        if (!tpl && (f & W_TEMPLATE)) {
            tpl = true;
            tpl_ws = ws;
            tpl_we = i;
        }
    }
    size_t ids, ide;
    bool have_id = find_id(t, len, &ids, &ide);
    out->mentions_sandbox |= have_id;

    int strong = (int)c_strong + (int)l_strong + (int)k_strong;
    if (!strong && !out->mentions_sandbox) /* "new", "show", "what" alone are not enough */
        c_weak = l_weak = false;
    if (strong > 1)
        return unknown(out, "ambiguous: words of more than one intent (create/list/kill)");
    if (c_strong || (!strong && c_weak && !l_weak))
        out->kind = E2B_INTENT_CREATE;
    else if (k_strong)
        out->kind = E2B_INTENT_KILL;
    else if (l_strong || (l_weak && !c_weak))
        out->kind = E2B_INTENT_LIST;
    else if (c_weak && l_weak)
        return unknown(out, "ambiguous: words of more than one intent (create/list/kill)");
    else
        return unknown(out, "no create/list/kill word");

    e2b_code rc = E2B_OK;
    if (out->kind == E2B_INTENT_CREATE) {
        rc = find_timeout(t, len, out, err);
        if (rc == E2B_OK && tpl)
            rc = template_near(t, len, tpl_ws, tpl_we, out, err);
        if (rc == E2B_OK)
            rc = find_pairs(t, len, out, err); /* template=/timeout= override */
    } else if (out->kind == E2B_INTENT_KILL) {
        if (have_id) {
            out->target = E2B_KILL_ID;
            rc = copy_field(out->sandbox_id, sizeof out->sandbox_id, t + ids, ide - ids,
                            "sandbox id", err);
        } else if (latest && !all) {
            out->target = E2B_KILL_LATEST;
        } else if (all && !latest) {
            out->target = E2B_KILL_ALL;
        } else {
            out->target = E2B_KILL_UNSPECIFIED;
        }
    }
    return rc == E2B_OK ? E2B_OK : fail(out, rc);
}
