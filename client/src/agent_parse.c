/* agent_parse.c - finding code in chat messages: the streaming fence scanner, the inline
 * span and whole-message fallbacks, trigger words and language detection. Rules and
 * contracts: e2b/agent.h. */
#include "e2b/agent.h"
#include "agent_internal.h"

#include <stdlib.h>
#include <string.h>

/* ---- languages ------------------------------------------------------------------- */

const char *e2b_agent_lang_name(e2b_agent_lang lang)
{
    switch (lang) {
    case E2B_LANG_PYTHON: return "python";
    case E2B_LANG_JAVASCRIPT: return "javascript";
    case E2B_LANG_TYPESCRIPT: return "typescript";
    case E2B_LANG_BASH: return "bash";
    case E2B_LANG_R: return "r";
    case E2B_LANG_JAVA: return "java";
    case E2B_LANG_UNKNOWN: break;
    }
    return "unknown";
}

const char *e2b_agent_source_name(e2b_agent_source src)
{
    switch (src) {
    case E2B_SOURCE_FENCED: return "fenced";
    case E2B_SOURCE_INLINE: return "inline";
    case E2B_SOURCE_MESSAGE: return "message";
    case E2B_SOURCE_NONE: break;
    }
    return "none";
}

static const struct {
    const char *tag;
    e2b_agent_lang lang;
} lang_aliases[] = {
    {"py", E2B_LANG_PYTHON},
    {"python", E2B_LANG_PYTHON},
    {"python3", E2B_LANG_PYTHON},
    {"js", E2B_LANG_JAVASCRIPT},
    {"javascript", E2B_LANG_JAVASCRIPT},
    {"node", E2B_LANG_JAVASCRIPT},
    {"nodejs", E2B_LANG_JAVASCRIPT},
    {"ts", E2B_LANG_TYPESCRIPT},
    {"typescript", E2B_LANG_TYPESCRIPT},
    {"sh", E2B_LANG_BASH},
    {"bash", E2B_LANG_BASH},
    {"shell", E2B_LANG_BASH},
    {"zsh", E2B_LANG_BASH},
    {"r", E2B_LANG_R},
    {"java", E2B_LANG_JAVA},
};

e2b_agent_lang e2b_agent_lang_from_tag(const char *tag, size_t len)
{
    if (!tag)
        return E2B_LANG_UNKNOWN;
    for (size_t i = 0; i < sizeof lang_aliases / sizeof lang_aliases[0]; i++)
        if (agent_word_eq(tag, len, lang_aliases[i].tag))
            return lang_aliases[i].lang;
    return E2B_LANG_UNKNOWN;
}

static bool has(const char *s, size_t n, const char *needle)
{
    return memmem(s, n, needle, strlen(needle)) != NULL;
}

static int count_indicators(const char *s, size_t n, const char *const *list)
{
    int c = 0;
    for (size_t i = 0; list[i]; i++)
        c += has(s, n, list[i]);
    return c;
}

static const char *const js_ind[] = {"console.log",
                                     "const ",
                                     "let ",
                                     "var ",
                                     "=>",
                                     "function(",
                                     "function ",
                                     "document.",
                                     "window.",
                                     ".getElementById",
                                     ".querySelector",
                                     "require(",
                                     "export ",
                                     "async function",
                                     "await ",
                                     "===",
                                     "!==",
                                     "};",
                                     " from '",
                                     " from \"",
                                     NULL};
static const char *const py_ind[] = {"print(",   "def ",     "if __name__", "elif ",     " import ",
                                     ".append(", ".extend(", ".keys()",     ".values()", ".items()",
                                     "range(",   "len(",     "str(",        "int(",      "float(",
                                     "self.",    "None",     "True",        "False",     "lambda ",
                                     "\"\"\"",   "f\"",      NULL};
static const char *const ts_ind[] = {": string", ": number", ": boolean", "interface ",
                                     ": void",   "<T>",      " as const", NULL};
static const char *const bash_line_ind[] = {
    "echo ", "cd ",   "ls",    "export ", "sudo ",  "apt-get ", "apt ",   "pip install",
    "npm ",  "curl ", "grep ", "cat ",    "mkdir ", "rm ",      "chmod ", NULL};
static const char *const bash_ind[] = {"$(", "${", "&& ", " | ", "fi\n", "done", NULL};

static e2b_agent_lang shebang_lang(const char *s, size_t n)
{
    const char *nl = memchr(s, '\n', n);
    size_t l = nl ? (size_t)(nl - s) : n;
    if (has(s, l, "python"))
        return E2B_LANG_PYTHON;
    if (has(s, l, "ts-node"))
        return E2B_LANG_TYPESCRIPT;
    if (has(s, l, "node") || has(s, l, "deno") || has(s, l, "bun"))
        return E2B_LANG_JAVASCRIPT;
    if (has(s, l, "Rscript"))
        return E2B_LANG_R;
    if (has(s, l, "bash") || has(s, l, "zsh") || has(s, l, "dash") || has(s, l, "/sh") ||
        has(s, l, " sh"))
        return E2B_LANG_BASH;
    return E2B_LANG_UNKNOWN;
}

e2b_agent_lang e2b_agent_lang_detect(const char *code, size_t len)
{
    if (!code)
        return E2B_LANG_PYTHON;
    if (len > E2B_AGENT_DETECT_MAX)
        len = E2B_AGENT_DETECT_MAX; /* the language shows long before that */
    size_t i = 0;
    while (i < len && agent_is_space((uint8_t)code[i]))
        i++;
    if (len - i >= 2 && code[i] == '#' && code[i + 1] == '!') {
        e2b_agent_lang l = shebang_lang(code + i, len - i);
        if (l != E2B_LANG_UNKNOWN)
            return l;
    }
    int js = count_indicators(code, len, js_ind);
    int py = count_indicators(code, len, py_ind);
    int sh = count_indicators(code, len, bash_ind);
    /* line-start bash commands */
    for (size_t p = 0; p < len;) {
        const char *nl = memchr(code + p, '\n', len - p);
        size_t e = nl ? (size_t)(nl - code) : len;
        size_t q = p;
        while (q < e && (code[q] == ' ' || code[q] == '\t'))
            q++;
        for (size_t k = 0; bash_line_ind[k]; k++) {
            size_t kl = strlen(bash_line_ind[k]);
            if (e - q >= kl && memcmp(code + q, bash_line_ind[k], kl) == 0) {
                sh++;
                break;
            }
        }
        p = e + 1;
    }
    if (js > py && js >= sh)
        return count_indicators(code, len, ts_ind) > 0 ? E2B_LANG_TYPESCRIPT : E2B_LANG_JAVASCRIPT;
    if (sh > py && sh > js)
        return E2B_LANG_BASH;
    return E2B_LANG_PYTHON;
}

/* ---- trigger words ----------------------------------------------------------------- */

static const char *const trigger_words[] = {"execute",    "run",       "code",    "python",
                                            "javascript", "calculate", "compute", "evaluate",
                                            "typescript", "bash",      "script",  NULL};

const char *e2b_agent_find_trigger(const char *text, size_t len)
{
    if (!text)
        return NULL;
    for (size_t i = 0; i < len;) {
        if (!agent_is_word((uint8_t)text[i])) {
            i++;
            continue;
        }
        size_t s = i;
        while (i < len && agent_is_word((uint8_t)text[i]))
            i++;
        int k = agent_word_index(text + s, i - s, trigger_words);
        if (k >= 0)
            return trigger_words[k];
    }
    return NULL;
}

/* ---- blocks ------------------------------------------------------------------------ */

void e2b_agent_code_free(e2b_agent_code *code)
{
    if (!code)
        return;
    for (size_t i = 0; i < code->count; i++)
        free(code->blocks[i].code);
    free(code->blocks);
    memset(code, 0, sizeof *code);
}

bool e2b_agent_code_wants_execution(const e2b_agent_code *code)
{
    return code && (code->count > 0 || code->trigger != NULL);
}

typedef struct block_list {
    e2b_agent_block *items;
    size_t count, cap;
} block_list;

static void block_list_free(block_list *l)
{
    for (size_t i = 0; i < l->count; i++)
        free(l->items[i].code);
    free(l->items);
    memset(l, 0, sizeof *l);
}

/* Adds a block holding a copy of code[0..n). tag may be NULL. */
static e2b_code block_add(block_list *l, const char *code, size_t n, const char *tag,
                          size_t tag_len, bool tag_overflow, e2b_agent_source src,
                          bool unterminated, e2b_error *err)
{
    if (l->count >= E2B_AGENT_MAX_BLOCKS)
        return e2b_error_set(err, E2B_ERR_INVALID_ARGUMENT, 0,
                             "message holds more than %u code blocks", E2B_AGENT_MAX_BLOCKS);
    if (l->count == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 4;
        e2b_agent_block *p = realloc(l->items, cap * sizeof *p);
        if (!p)
            return e2b_error_set(err, E2B_ERR_NO_MEMORY, 0, "out of memory (code block)");
        l->items = p;
        l->cap = cap;
    }
    e2b_agent_block *b = &l->items[l->count];
    memset(b, 0, sizeof *b);
    b->code = malloc(n + 1);
    if (!b->code)
        return e2b_error_set(err, E2B_ERR_NO_MEMORY, 0, "out of memory (code block)");
    memcpy(b->code, code, n);
    b->code[n] = '\0';
    b->code_len = n;
    b->source = src;
    b->unterminated = unterminated;
    if (tag && tag_len) {
        memcpy(b->tag, tag, tag_len);
        b->tag[tag_len] = '\0';
        b->lang = tag_overflow ? E2B_LANG_UNKNOWN : e2b_agent_lang_from_tag(tag, tag_len);
    } else {
        b->lang = e2b_agent_lang_detect(code, n);
        b->lang_detected = true;
    }
    l->count++;
    return E2B_OK;
}

static bool blank_line(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!agent_is_space((uint8_t)s[i]))
            return false;
    return true;
}

/* Trims a fenced body: drops leading blank lines and trailing whitespace. */
static void trim_body(const char *s, size_t n, size_t *start, size_t *end)
{
    size_t a = 0;
    for (;;) {
        const char *nl = memchr(s + a, '\n', n - a);
        if (!nl || !blank_line(s + a, (size_t)(nl - (s + a))))
            break;
        a = (size_t)(nl - s) + 1;
    }
    size_t e = n;
    while (e > a && agent_is_space((uint8_t)s[e - 1]))
        e--;
    *start = a;
    *end = e;
}

/* ---- the streaming fence scanner ------------------------------------------------- */

enum line_state { LS_INDENT, LS_RUN, LS_AFTER, LS_PLAIN };
enum tag_state { TG_WS, TG_BRACE_WS, TG_WORD, TG_DONE };

#define WORD_MAX 16

struct e2b_agent_scanner {
    bool failed, finished;
    size_t total;
    /* current line */
    enum line_state ls;
    unsigned indent;
    char run_ch;
    size_t run_len;
    bool after_cr;  /* the last byte was CR: an LF right after it ends nothing */
    bool line_open; /* bytes were seen on the current line */
    /* info-string tag of a candidate opening fence */
    enum tag_state tg;
    char tag[E2B_AGENT_TAG_MAX];
    size_t tag_len;
    bool tag_overflow;
    /* open fence */
    bool in_fence;
    char fence_ch;
    size_t fence_len;
    unsigned fence_indent;
    unsigned stripped; /* indentation removed from the current body line */
    char fence_tag[E2B_AGENT_TAG_MAX];
    size_t fence_tag_len;
    bool fence_tag_overflow;
    e2b_strbuf body;
    size_t body_line_start;
    /* text outside fences, kept until the first non-empty fenced block */
    bool keep_prose;
    e2b_strbuf prose;
    size_t prose_line_start;
    /* trigger words outside fences */
    char word[WORD_MAX];
    size_t word_len;
    bool word_long;
    const char *line_trigger; /* found on the current line (dropped if it is a fence) */
    const char *trigger;
    block_list blocks;
};

e2b_code e2b_agent_scanner_new(e2b_agent_scanner **out, e2b_error *err)
{
    if (!out)
        return e2b_error_set(err, E2B_ERR_INVALID_ARGUMENT, 0, "out must not be NULL");
    e2b_agent_scanner *sc = calloc(1, sizeof *sc);
    *out = sc;
    if (!sc)
        return e2b_error_set(err, E2B_ERR_NO_MEMORY, 0, "out of memory (scanner)");
    sc->keep_prose = true;
    return E2B_OK;
}

void e2b_agent_scanner_free(e2b_agent_scanner *sc)
{
    if (!sc)
        return;
    e2b_strbuf_free(&sc->body);
    e2b_strbuf_free(&sc->prose);
    block_list_free(&sc->blocks);
    free(sc);
}

size_t e2b_agent_scanner_ready(const e2b_agent_scanner *sc)
{
    return sc ? sc->blocks.count : 0;
}

const e2b_agent_block *e2b_agent_scanner_block(const e2b_agent_scanner *sc, size_t i)
{
    return (sc && i < sc->blocks.count) ? &sc->blocks.items[i] : NULL;
}

static void word_end(e2b_agent_scanner *sc)
{
    if (sc->word_len && !sc->word_long && !sc->line_trigger) {
        int k = agent_word_index(sc->word, sc->word_len, trigger_words);
        if (k >= 0)
            sc->line_trigger = trigger_words[k];
    }
    sc->word_len = 0;
    sc->word_long = false;
}

static void word_byte(e2b_agent_scanner *sc, uint8_t b)
{
    if (!agent_is_word(b)) {
        word_end(sc);
    } else if (sc->word_len < WORD_MAX) {
        sc->word[sc->word_len++] = (char)b;
    } else {
        sc->word_long = true;
    }
}

static void tag_add(e2b_agent_scanner *sc, uint8_t b)
{
    if (sc->tag_len + 1 < E2B_AGENT_TAG_MAX)
        sc->tag[sc->tag_len++] = (char)b;
    else
        sc->tag_overflow = true;
}

static bool hspace(uint8_t b)
{
    return b == ' ' || b == '\t' || b == '\f' || b == '\v';
}

/* One byte of an info string (after the opening run). */
static void info_byte(e2b_agent_scanner *sc, uint8_t b)
{
    if (sc->run_ch == '`' && b == '`') {
        sc->ls = LS_PLAIN; /* CommonMark: a backtick fence's info has no backtick */
        return;
    }
    switch (sc->tg) {
    case TG_WS:
        if (hspace(b))
            break;
        if (b == '{') {
            sc->tg = TG_BRACE_WS;
            break;
        }
        sc->tg = TG_WORD;
        tag_add(sc, b);
        break;
    case TG_BRACE_WS:
        if (hspace(b) || b == '.')
            break;
        if (b == '}' || b == ',' || b == '=') {
            sc->tg = TG_DONE;
            break;
        }
        sc->tg = TG_WORD;
        tag_add(sc, b);
        break;
    case TG_WORD:
        if (hspace(b) || b == '{' || b == '}' || b == ',')
            sc->tg = TG_DONE;
        else
            tag_add(sc, b);
        break;
    case TG_DONE: break;
    }
}

/* Classifies one byte of a line outside a fence (opening-fence candidate). */
static void open_byte(e2b_agent_scanner *sc, uint8_t b)
{
    switch (sc->ls) {
    case LS_INDENT:
        if (b == ' ') {
            if (++sc->indent > 3)
                sc->ls = LS_PLAIN;
        } else if (b == '`' || b == '~') {
            sc->run_ch = (char)b;
            sc->run_len = 1;
            sc->ls = LS_RUN;
        } else {
            sc->ls = LS_PLAIN;
        }
        break;
    case LS_RUN:
        if (b == (uint8_t)sc->run_ch) {
            sc->run_len++;
        } else if (sc->run_len < 3) {
            sc->ls = LS_PLAIN;
        } else {
            sc->ls = LS_AFTER;
            info_byte(sc, b);
        }
        break;
    case LS_AFTER: info_byte(sc, b); break;
    case LS_PLAIN: break;
    }
}

/* Classifies one byte of a body line (closing-fence candidate). */
static void close_byte(e2b_agent_scanner *sc, uint8_t b)
{
    switch (sc->ls) {
    case LS_INDENT:
        if (b == ' ') {
            if (++sc->indent > 3)
                sc->ls = LS_PLAIN;
        } else if (b == (uint8_t)sc->fence_ch) {
            sc->run_len = 1;
            sc->ls = LS_RUN;
        } else {
            sc->ls = LS_PLAIN;
        }
        break;
    case LS_RUN:
        if (b == (uint8_t)sc->fence_ch)
            sc->run_len++;
        else if (sc->run_len >= sc->fence_len && hspace(b))
            sc->ls = LS_AFTER;
        else
            sc->ls = LS_PLAIN;
        break;
    case LS_AFTER:
        if (!hspace(b))
            sc->ls = LS_PLAIN;
        break;
    case LS_PLAIN: break;
    }
}

static e2b_code sc_fail(e2b_agent_scanner *sc, e2b_code code)
{
    sc->failed = true;
    return code;
}

static e2b_code oom(e2b_agent_scanner *sc, e2b_error *err)
{
    return sc_fail(sc, e2b_error_set(err, E2B_ERR_NO_MEMORY, 0, "out of memory (scanner)"));
}

/* Emits the current body as a block (if non-empty) and leaves the fence. */
static e2b_code close_fence(e2b_agent_scanner *sc, bool unterminated, e2b_error *err)
{
    size_t a, e;
    trim_body(sc->body.p ? sc->body.p : "", sc->body.len, &a, &e);
    sc->in_fence = false;
    if (e > a) {
        e2b_code rc = block_add(&sc->blocks, sc->body.p + a, e - a, sc->fence_tag,
                                sc->fence_tag_len, sc->fence_tag_overflow, E2B_SOURCE_FENCED,
                                unterminated, err);
        if (rc != E2B_OK)
            return sc_fail(sc, rc);
        if (sc->keep_prose) { /* the fallbacks cannot apply any more */
            sc->keep_prose = false;
            e2b_strbuf_free(&sc->prose);
        }
    }
    agent_sb_truncate(&sc->body, 0);
    sc->body_line_start = 0;
    return E2B_OK;
}

static void line_reset(e2b_agent_scanner *sc)
{
    sc->ls = LS_INDENT;
    sc->indent = 0;
    sc->run_len = 0;
    sc->tg = TG_WS;
    sc->tag_len = 0;
    sc->tag_overflow = false;
    sc->stripped = 0;
    sc->line_trigger = NULL;
    sc->word_len = 0;
    sc->word_long = false;
    sc->line_open = false;
}

static e2b_code line_end(e2b_agent_scanner *sc, e2b_error *err)
{
    if (sc->in_fence) {
        bool closer = (sc->ls == LS_RUN && sc->run_len >= sc->fence_len) || sc->ls == LS_AFTER;
        if (closer) {
            agent_sb_truncate(&sc->body, sc->body_line_start);
            e2b_code rc = close_fence(sc, false, err);
            if (rc != E2B_OK)
                return rc;
        } else {
            e2b_strbuf_append(&sc->body, "\n", 1);
            if (sc->body.oom)
                return oom(sc, err);
            sc->body_line_start = sc->body.len;
        }
    } else {
        word_end(sc);
        bool opener = (sc->ls == LS_RUN && sc->run_len >= 3) || sc->ls == LS_AFTER;
        if (opener) {
            if (sc->keep_prose)
                agent_sb_truncate(&sc->prose, sc->prose_line_start);
            sc->in_fence = true;
            sc->fence_ch = sc->run_ch;
            sc->fence_len = sc->run_len;
            sc->fence_indent = sc->indent;
            memcpy(sc->fence_tag, sc->tag, sc->tag_len);
            sc->fence_tag[sc->tag_len] = '\0';
            sc->fence_tag_len = sc->tag_len;
            sc->fence_tag_overflow = sc->tag_overflow;
            agent_sb_truncate(&sc->body, 0);
            sc->body_line_start = 0;
        } else {
            if (sc->line_trigger && !sc->trigger)
                sc->trigger = sc->line_trigger;
            if (sc->keep_prose) {
                e2b_strbuf_append(&sc->prose, "\n", 1);
                if (sc->prose.oom)
                    return oom(sc, err);
                sc->prose_line_start = sc->prose.len;
            }
        }
    }
    line_reset(sc);
    return E2B_OK;
}

e2b_code e2b_agent_scanner_feed(e2b_agent_scanner *sc, const uint8_t *data, size_t len,
                                e2b_error *err)
{
    if (!sc || (!data && len))
        return e2b_error_set(err, E2B_ERR_INVALID_ARGUMENT, 0, "scanner or data is NULL");
    if (sc->failed || sc->finished)
        return e2b_error_set(err, E2B_ERR_INVALID_ARGUMENT, 0, "scanner already %s",
                             sc->failed ? "failed" : "finished");
    if (len > E2B_AGENT_MAX_MESSAGE - sc->total)
        return sc_fail(sc, e2b_error_set(err, E2B_ERR_INVALID_ARGUMENT, 0,
                                         "message longer than %u bytes", E2B_AGENT_MAX_MESSAGE));
    sc->total += len;
    for (size_t i = 0; i < len;) {
        uint8_t b = data[i];
        if (sc->after_cr) {
            sc->after_cr = false;
            if (b == '\n') {
                i++;
                continue;
            }
        }
        if (b == '\n' || b == '\r') {
            sc->after_cr = (b == '\r');
            e2b_code rc = line_end(sc, err);
            if (rc != E2B_OK)
                return rc;
            i++;
            continue;
        }
        sc->line_open = true;
        if (sc->in_fence) {
            if (sc->ls == LS_PLAIN) { /* fast path: the rest of a body line */
                size_t j = i;
                while (j < len && data[j] != '\n' && data[j] != '\r')
                    j++;
                e2b_strbuf_append(&sc->body, data + i, j - i);
                if (sc->body.oom)
                    return oom(sc, err);
                i = j;
                continue;
            }
            bool strip = sc->ls == LS_INDENT && b == ' ' && sc->stripped < sc->fence_indent;
            close_byte(sc, b);
            if (strip)
                sc->stripped++;
            else
                e2b_strbuf_append(&sc->body, &b, 1);
            if (sc->body.oom)
                return oom(sc, err);
        } else {
            size_t j = i + 1;
            if (sc->ls == LS_PLAIN) { /* fast path: the rest of a text line */
                while (j < len && data[j] != '\n' && data[j] != '\r')
                    j++;
                for (size_t k = i; k < j; k++)
                    word_byte(sc, data[k]);
            } else {
                word_byte(sc, b);
                open_byte(sc, b);
            }
            if (sc->keep_prose) {
                e2b_strbuf_append(&sc->prose, data + i, j - i);
                if (sc->prose.oom)
                    return oom(sc, err);
            }
            i = j;
            continue;
        }
        i++;
    }
    return E2B_OK;
}

/* ---- inline code spans (fallback 2) ------------------------------------------------ */

typedef struct bt_run {
    size_t pos, len;
} bt_run;
typedef struct bt_key {
    size_t len, idx;
} bt_key;

static int bt_key_cmp(const void *a, const void *b)
{
    const bt_key *x = a, *y = b;
    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    return x->idx < y->idx ? -1 : (x->idx > y->idx);
}

#define INLINE_MIN_CHARS 10 /* the plugin's rule: trimmed content longer than 10 chars */

static e2b_code inline_span(block_list *out, const char *s, size_t a, size_t e, e2b_strbuf *tmp,
                            e2b_error *err)
{
    agent_sb_truncate(tmp, 0);
    e2b_strbuf_append(tmp, s + a, e - a);
    if (tmp->oom)
        return e2b_error_set(err, E2B_ERR_NO_MEMORY, 0, "out of memory (inline)");
    for (size_t i = 0; i < tmp->len; i++) /* line endings become spaces */
        if (tmp->p[i] == '\n')
            tmp->p[i] = ' ';
    const char *c = tmp->p ? tmp->p : "";
    size_t x = 0, y = tmp->len;
    while (x < y && agent_is_space((uint8_t)c[x]))
        x++;
    while (y > x && agent_is_space((uint8_t)c[y - 1]))
        y--;
    if (agent_utf8_count(c + x, y - x) <= INLINE_MIN_CHARS)
        return E2B_OK;
    return block_add(out, c + x, y - x, NULL, 0, false, E2B_SOURCE_INLINE, false, err);
}

/* Code spans of one paragraph s[a..e). */
static e2b_code inline_paragraph(block_list *out, const char *s, size_t a, size_t e, bt_run *runs,
                                 bt_key *keys, size_t *next, e2b_strbuf *tmp, e2b_error *err)
{
    size_t r = 0;
    for (size_t i = a; i < e;) {
        if (s[i] != '`') {
            i++;
            continue;
        }
        size_t st = i;
        while (i < e && s[i] == '`')
            i++;
        runs[r].pos = st;
        runs[r].len = i - st;
        keys[r].len = i - st;
        keys[r].idx = r;
        r++;
    }
    if (r < 2)
        return E2B_OK;
    qsort(keys, r, sizeof *keys, bt_key_cmp);
    for (size_t t = 0; t < r; t++)
        next[keys[t].idx] = (t + 1 < r && keys[t + 1].len == keys[t].len) ? keys[t + 1].idx
                                                                          : SIZE_MAX;
    for (size_t i = 0; i < r;) {
        size_t j = next[i];
        if (j == SIZE_MAX) {
            i++; /* unmatched run: literal backticks */
            continue;
        }
        e2b_code rc = inline_span(out, s, runs[i].pos + runs[i].len, runs[j].pos, tmp, err);
        if (rc != E2B_OK)
            return rc;
        i = j + 1;
    }
    return E2B_OK;
}

/* Columns of leading indentation (a tab advances to the next multiple of 4). */
static size_t indent_cols(const char *s, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n && (s[i] == ' ' || s[i] == '\t'); i++)
        c = s[i] == '\t' ? (c / 4 + 1) * 4 : c + 1;
    return c;
}

static e2b_code inline_spans(block_list *out, const char *s, size_t n, e2b_error *err)
{
    size_t ticks = 0;
    for (size_t i = 0; i < n; i++)
        ticks += s[i] == '`';
    if (ticks < 2)
        return E2B_OK;
    bt_run *runs = malloc(ticks * sizeof *runs);
    bt_key *keys = malloc(ticks * sizeof *keys);
    size_t *next = malloc(ticks * sizeof *next);
    e2b_strbuf tmp = {0};
    e2b_code rc = E2B_OK;
    if (!runs || !keys || !next) {
        rc = e2b_error_set(err, E2B_ERR_NO_MEMORY, 0, "out of memory (inline)");
    } else {
        /* paragraphs end at blank lines; a line indented 4+ columns that does not
         * continue a paragraph is an indented code block, whose text is literal */
        size_t para = 0;
        bool in_para = false;
        for (size_t p = 0; p < n && rc == E2B_OK;) {
            const char *nl = memchr(s + p, '\n', n - p);
            size_t e = nl ? (size_t)(nl - s) : n;
            if (blank_line(s + p, e - p)) {
                if (in_para)
                    rc = inline_paragraph(out, s, para, p, runs, keys, next, &tmp, err);
                in_para = false;
            } else if (!in_para && indent_cols(s + p, e - p) < 4) {
                para = p;
                in_para = true;
            }
            p = e + 1;
        }
        if (rc == E2B_OK && in_para)
            rc = inline_paragraph(out, s, para, n, runs, keys, next, &tmp, err);
    }
    free(runs);
    free(keys);
    free(next);
    e2b_strbuf_free(&tmp);
    return rc;
}

/* ---- whole-message detection (fallback 3) ---------------------------------------- */

enum { L_BLANK, L_PROSE, L_WEAK, L_STRONG };

static bool starts(const char *s, size_t n, const char *p)
{
    size_t l = strlen(p);
    return n >= l && memcmp(s, p, l) == 0;
}

static bool ident_start(uint8_t c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '$';
}

static bool ident_char(uint8_t c)
{
    return ident_start(c) || (c >= '0' && c <= '9');
}

/* Length of a dotted/indexed name at s ("np.random", "a[0].b", "self.x"), 0 if none. */
static size_t dotted_name(const char *s, size_t n)
{
    if (!n || !ident_start((uint8_t)s[0]))
        return 0;
    size_t i = 0;
    while (i < n) {
        if (ident_char((uint8_t)s[i])) {
            i++;
        } else if (s[i] == '.' && i + 1 < n && ident_start((uint8_t)s[i + 1])) {
            i++;
        } else if (s[i] == '[') {
            const char *close = memchr(s + i, ']', n - i);
            if (!close)
                break;
            i = (size_t)(close - s) + 1;
        } else {
            break;
        }
    }
    return i;
}

/* What a strong-prefix line also needs, so that English does not pass for code
 * ("let me know", "for example", "class is over", "import the data." ...). */
enum need { N_NONE, N_BLOCK, N_BLOCK_OR_PAREN, N_PAREN, N_EQ, N_IMPORT, N_NOT_SENTENCE };

#define P(s, need)             \
    {                          \
        s, sizeof(s) - 1, need \
    }
static const struct {
    const char *prefix;
    size_t len;
    enum need need;
} strong_prefixes[] = {
    P("import ", N_NOT_SENTENCE),
    P("from ", N_IMPORT),
    P("def ", N_PAREN),
    P("class ", N_BLOCK),
    P("print(", N_NONE),
    P("console.log(", N_NONE),
    P("return ", N_NOT_SENTENCE),
    P("return;", N_NONE),
    P("const ", N_EQ),
    P("let ", N_EQ),
    P("var ", N_EQ),
    P("function ", N_PAREN),
    P("function(", N_NONE),
    P("async ", N_PAREN),
    P("await ", N_PAREN),
    P("#include", N_NONE),
    P("#!", N_NONE),
    P("elif ", N_BLOCK),
    P("else:", N_NONE),
    P("try:", N_NONE),
    P("except", N_BLOCK),
    P("finally:", N_NONE),
    P("raise ", N_PAREN),
    P("lambda ", N_NONE),
    P("with ", N_BLOCK),
    P("for ", N_BLOCK_OR_PAREN),
    P("while ", N_BLOCK_OR_PAREN),
    P("if ", N_BLOCK_OR_PAREN),
    P("} else", N_NONE),
    P("switch ", N_BLOCK),
};
#undef P

static bool need_met(enum need need, const char *l, size_t m)
{
    char last = l[m - 1];
    switch (need) {
    case N_NONE: return true;
    case N_BLOCK: return last == ':' || last == '{';
    case N_BLOCK_OR_PAREN:
        return last == ':' || last == '{' || ((last == ')' || last == ';') && has(l, m, "("));
    case N_PAREN: return has(l, m, "(");
    case N_EQ: return has(l, m, "=");
    case N_IMPORT: return has(l, m, " import ");
    case N_NOT_SENTENCE: return !agent_in_set((uint8_t)last, ".?!");
    }
    return false;
}

static int classify_line(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n && (s[i] == ' ' || s[i] == '\t'))
        i++;
    bool indented = i >= 2 || (i >= 1 && s[0] == '\t');
    while (n > i && agent_is_space((uint8_t)s[n - 1]))
        n--;
    if (i == n)
        return L_BLANK;
    const char *l = s + i;
    size_t m = n - i;
    char last = l[m - 1];
    if (starts(l, m, "```") || starts(l, m, "~~~"))
        return L_PROSE; /* fence markup (e.g. an indented fence) is not code */
    for (size_t k = 0; k < sizeof strong_prefixes / sizeof strong_prefixes[0]; k++)
        if (m >= strong_prefixes[k].len &&
            memcmp(l, strong_prefixes[k].prefix, strong_prefixes[k].len) == 0 &&
            need_met(strong_prefixes[k].need, l, m))
            return L_STRONG;
    size_t nm = dotted_name(l, m);
    if (nm) {
        size_t j = nm;
        while (j < m && l[j] == ' ')
            j++;
        /* assignment: name [op]= value  (not ==, !=, <=, >=) */
        size_t k = j;
        if (k < m && agent_in_set((uint8_t)l[k], "+-*/%|&^")) {
            k++;
            if (k < m && agent_in_set((uint8_t)l[k], "*/"))
                k++;
        }
        if (k + 1 < m && l[k] == '=' && l[k + 1] != '=')
            return L_STRONG;
        /* call statement: name(...) or name(...); */
        if (nm < m && l[nm] == '(' && (last == ')' || last == ';'))
            return L_STRONG;
    }
    if (indented || l[0] == '#' || starts(l, m, "//") || starts(l, m, "/*") ||
        agent_in_set((uint8_t)last, ":;{}[(,"))
        return L_WEAK;
    for (size_t k = 0; k < m; k++)
        if (!agent_in_set((uint8_t)l[k], "{}[]();, "))
            return L_PROSE;
    return L_WEAK;
}

bool e2b_agent_looks_like_code(const char *text, size_t len, size_t *code_start)
{
    if (!text)
        return false;
    int strong = 0;
    bool first = true;
    size_t start = 0;
    for (size_t p = 0; p < len;) {
        const char *nl = memchr(text + p, '\n', len - p);
        size_t e = nl ? (size_t)(nl - text) : len;
        int c = classify_line(text + p, e - p);
        if (c != L_BLANK) {
            size_t t = e;
            while (t > p && agent_is_space((uint8_t)text[t - 1]))
                t--;
            if (first && c != L_STRONG && t > p && text[t - 1] == ':') {
                start = e < len ? e + 1 : len; /* "Run this:" */
            } else if (c == L_PROSE) {
                return false;
            } else if (c == L_STRONG) {
                strong++;
            }
            first = false;
        }
        p = e + 1;
    }
    if (strong == 0)
        return false;
    if (code_start)
        *code_start = start;
    return true;
}

/* ---- finishing ---------------------------------------------------------------------- */

static e2b_code fallbacks(e2b_agent_scanner *sc, e2b_error *err)
{
    const char *s = sc->prose.p ? sc->prose.p : "";
    size_t n = sc->prose.len;
    e2b_code rc = inline_spans(&sc->blocks, s, n, err);
    if (rc != E2B_OK || sc->blocks.count)
        return rc;
    size_t start = 0;
    if (!e2b_agent_looks_like_code(s, n, &start))
        return E2B_OK;
    size_t a, e;
    trim_body(s + start, n - start, &a, &e);
    if (e <= a)
        return E2B_OK;
    return block_add(&sc->blocks, s + start + a, e - a, NULL, 0, false, E2B_SOURCE_MESSAGE, false,
                     err);
}

e2b_code e2b_agent_scanner_finish(e2b_agent_scanner *sc, e2b_agent_code *out, e2b_error *err)
{
    if (out)
        memset(out, 0, sizeof *out);
    if (!sc || !out)
        return e2b_error_set(err, E2B_ERR_INVALID_ARGUMENT, 0, "scanner or out is NULL");
    if (sc->failed || sc->finished)
        return e2b_error_set(err, E2B_ERR_INVALID_ARGUMENT, 0, "scanner already %s",
                             sc->failed ? "failed" : "finished");
    e2b_code rc = E2B_OK;
    if (sc->line_open && sc->in_fence && sc->ls == LS_RUN && sc->run_len < sc->fence_len) {
        /* the message stops inside what can only be a closing fence being written
         * ("``" after a ``` block): it is not code */
        agent_sb_truncate(&sc->body, sc->body_line_start);
        line_reset(sc);
    } else if (sc->line_open) {
        rc = line_end(sc, err);
    }
    if (rc == E2B_OK && sc->in_fence)
        rc = close_fence(sc, true, err);
    if (rc == E2B_OK && sc->blocks.count == 0)
        rc = fallbacks(sc, err);
    if (rc != E2B_OK)
        return sc_fail(sc, rc);
    sc->finished = true;
    out->blocks = sc->blocks.items;
    out->count = sc->blocks.count;
    out->source = out->count ? out->blocks[0].source : E2B_SOURCE_NONE;
    out->trigger = sc->trigger;
    memset(&sc->blocks, 0, sizeof sc->blocks);
    return E2B_OK;
}

e2b_code e2b_agent_extract_code(const uint8_t *msg, size_t len, e2b_agent_code *out, e2b_error *err)
{
    if (out)
        memset(out, 0, sizeof *out);
    if (!out || (!msg && len))
        return e2b_error_set(err, E2B_ERR_INVALID_ARGUMENT, 0, "message or out is NULL");
    e2b_agent_scanner *sc;
    e2b_code rc = e2b_agent_scanner_new(&sc, err);
    if (rc != E2B_OK)
        return rc;
    rc = e2b_agent_scanner_feed(sc, msg, len, err);
    if (rc == E2B_OK)
        rc = e2b_agent_scanner_finish(sc, out, err);
    e2b_agent_scanner_free(sc);
    return rc;
}
