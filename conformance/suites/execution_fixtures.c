/* execution_fixtures.c - the code-execution conformance suite.
 *
 * Every JSON file in fixtures/execution becomes one cmocka test named after its "name"
 * (`E2B_TEST_FILTER='python_*'` or `--filter 'js_*'` selects by fixture). The format is in
 * fixtures/README.md ("Execution fixture format"); in short a fixture creates one sandbox
 * (template code-interpreter-v1 unless it says otherwise) on a fresh target - a private
 * e2b-mock with its real kernels, or real E2B with E2B_LIVE=1 - and runs steps in it:
 * e2b_run_code calls with expectations on stdout/stderr, results (PNGs are decoded),
 * the code's error, the execution count and streaming timing, plus context operations.
 *
 * Checks made on every run whatever the fixture says (so a fixture cannot pass by
 * accident): the code raised no error unless "exec_error" is expected; a successful call
 * saw end_of_execution; what the callbacks received equals the returned execution, in
 * order; execution->text is the first main result's text; every png result decodes as a
 * PNG (base64, chunk CRCs, zlib image data of the right size) and e2b_result_save writes
 * exactly those bytes; every jpeg starts with the SOI marker.
 *
 * A few hand-written tests at the end cover what data files cannot express well.
 */
#include "harness.h"

#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <stdatomic.h>
#include <regex.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <zlib.h>

/* ---- fixture case and per-run context ---------------------------------------------- */

typedef harness_fixture_case fcase;

typedef struct ctx {
    const fcase *fc;
    harness_target *t;
    e2b_sandbox *sbx;
    harness_vars vars;
    int step; /* 1-based, for messages */
    const char *op;
    char tmpdir[64]; /* for saved images; created on first use */
} ctx;

#define FAIL(c, fmt, ...)                                                           \
    fail_msg("%s [%s] step %d (%s): " fmt, (c)->fc->name, (c)->fc->path, (c)->step, \
             (c)->op ? (c)->op : "-", ##__VA_ARGS__)

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(p);
    return 0;
}

static void ctx_free(void *p)
{
    ctx *c = p;
    harness_vars_free(&c->vars);
    if (c->tmpdir[0])
        nftw(c->tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(c);
}

static void defer_sandbox_free(void *p)
{
    e2b_sandbox_free(p);
}
static void defer_execution_free(void *p)
{
    e2b_execution_free(p);
}
static void defer_context_free(void *p)
{
    e2b_context_free(p);
}
static void defer_cjson_delete(void *p)
{
    cJSON_Delete(p);
}

typedef struct pending_kill {
    e2b_client *cl;
    char id[];
} pending_kill;

static void kill_sandbox(void *p)
{
    pending_kill *k = p;
    e2b_sandbox_kill(k->cl, k->id, NULL, NULL);
    free(k);
}

static void *scratch(ctx *c, size_t n)
{
    void *p = calloc(1, n ? n : 1);
    if (!p)
        FAIL(c, "out of memory");
    harness_defer(free, p);
    return p;
}

#define STEP(c) HARNESS_STEP((c)->fc->name, (c)->fc->path, (c)->step, (c)->op)

static void set_var(ctx *c, const char *name, const char *value)
{
    harness_vars_set(STEP(c), &c->vars, name, value);
}

/* "$name" -> a saved value ("$run" = the run tag); "$$x" -> "$x"; else s itself. */
static const char *resolve(ctx *c, const char *s)
{
    return harness_vars_resolve(STEP(c), &c->vars, s);
}

/* A quoted, escaped, shortened copy of s for messages (lives until the end of the test). */
static const char *q(ctx *c, const char *s)
{
    if (!s)
        return "(absent)";
    size_t max = 400, n = strlen(s);
    char *out = scratch(c, max * 4 + 32);
    char *o = out;
    *o++ = '"';
    for (size_t i = 0; i < n && i < max; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '\n')
            o += sprintf(o, "\\n");
        else if (ch == '"' || ch == '\\')
            o += sprintf(o, "\\%c", ch);
        else if (ch < 0x20 || ch == 0x7f)
            o += sprintf(o, "\\x%02x", ch);
        else
            *o++ = (char)ch;
    }
    *o++ = '"';
    if (n > max)
        o += sprintf(o, "... (%zu bytes)", n);
    *o = '\0';
    return out;
}

/* ---- fixture JSON accessors (a malformed fixture fails with a clear message) ---------- */

#define check_keys(c, obj, where, allowed) harness_json_check_keys(STEP(c), obj, where, allowed)
#define jbool(c, o, key, def) harness_json_bool(STEP(c), o, key, def)
#define jlong(c, o, key, def) ((long)harness_json_ll(STEP(c), o, key, def))

/* a string with $variables resolved */
static const char *jstr(ctx *c, const cJSON *o, const char *key)
{
    const char *v = harness_json_str(STEP(c), o, key);
    return v ? resolve(c, v) : NULL;
}

/* "code": a string, or an array of lines joined with "\n". */
static const char *jcode(ctx *c, const cJSON *o)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "code");
    if (cJSON_IsString(v))
        return v->valuestring;
    if (!cJSON_IsArray(v))
        FAIL(c, "\"code\" must be a string or an array of lines");
    size_t len = 1;
    for (const cJSON *it = v->child; it; it = it->next) {
        if (!cJSON_IsString(it))
            FAIL(c, "every line of \"code\" must be a string");
        len += strlen(it->valuestring) + 1;
    }
    char *s = scratch(c, len), *p = s;
    for (const cJSON *it = v->child; it; it = it->next) {
        size_t n = strlen(it->valuestring);
        memcpy(p, it->valuestring, n);
        p += n;
        if (it->next)
            *p++ = '\n';
    }
    *p = '\0';
    return s;
}

/* {"k": "v", ...} -> e2b_kv array (values resolved) living until the end of the test. */
static e2b_kv *jkv(ctx *c, const cJSON *o, const char *key, size_t *len)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, key);
    *len = 0;
    if (!m)
        return NULL;
    if (!cJSON_IsObject(m))
        FAIL(c, "\"%s\" must be an object of strings", key);
    size_t n = (size_t)cJSON_GetArraySize(m);
    e2b_kv *kv = scratch(c, n * sizeof *kv);
    size_t i = 0;
    for (const cJSON *it = m->child; it; it = it->next, i++) {
        if (!cJSON_IsString(it))
            FAIL(c, "\"%s\".\"%s\" must be a string", key, it->string);
        kv[i].key = it->string;
        kv[i].value = resolve(c, it->valuestring);
    }
    *len = n;
    return kv;
}

/* ---- matchers ------------------------------------------------------------------------- */

/* One "contains"/"not_contains" item list: a string or an array of strings. */
static void each_string(ctx *c, const cJSON *v, const char *what, const char *key,
                        void (*fn)(ctx *, const char *, const char *, const char *),
                        const char *got)
{
    if (cJSON_IsString(v)) {
        fn(c, what, got, v->valuestring);
        return;
    }
    if (!cJSON_IsArray(v))
        FAIL(c, "%s: \"%s\" must be a string or an array of strings", what, key);
    for (const cJSON *it = v->child; it; it = it->next) {
        if (!cJSON_IsString(it))
            FAIL(c, "%s: \"%s\" must be a string or an array of strings", what, key);
        fn(c, what, got, it->valuestring);
    }
}

static void must_contain(ctx *c, const char *what, const char *got, const char *needle)
{
    if (!strstr(got, needle))
        FAIL(c, "%s does not contain %s; it is %s", what, q(c, needle), q(c, got));
}

static void must_not_contain(ctx *c, const char *what, const char *got, const char *needle)
{
    if (strstr(got, needle))
        FAIL(c, "%s contains %s but must not; it is %s", what, q(c, needle), q(c, got));
}

/* Checks got (NULL = absent) against a matcher:
 *   null                 must be absent
 *   "text"               must equal
 *   {"equals","contains","not_contains","regex","length","empty","present"} all must hold
 *   (any key but "present": false implies presence). */
static void match(ctx *c, const char *what, const char *got, const cJSON *m)
{
    if (cJSON_IsNull(m)) {
        if (got)
            FAIL(c, "%s must be absent, but it is %s", what, q(c, got));
        return;
    }
    if (cJSON_IsString(m)) {
        if (!got || strcmp(got, m->valuestring) != 0)
            FAIL(c, "%s is %s, expected %s", what, q(c, got), q(c, m->valuestring));
        return;
    }
    static const char *const keys[] = {"equals", "contains", "not_contains", "regex",
                                       "length", "empty",    "present",      NULL};
    if (!cJSON_IsObject(m))
        FAIL(c, "%s: a matcher is null, a string or an object", what);
    check_keys(c, m, what, keys);
    const cJSON *present = cJSON_GetObjectItemCaseSensitive(m, "present");
    if (present && !cJSON_IsBool(present))
        FAIL(c, "%s: \"present\" must be true or false", what);
    if (present && cJSON_IsFalse(present)) {
        if (got)
            FAIL(c, "%s must be absent, but it is %s", what, q(c, got));
        return;
    }
    if (!got)
        FAIL(c, "%s is absent", what);
    const cJSON *v;
    if ((v = cJSON_GetObjectItemCaseSensitive(m, "equals"))) {
        if (!cJSON_IsString(v))
            FAIL(c, "%s: \"equals\" must be a string", what);
        if (strcmp(got, v->valuestring) != 0)
            FAIL(c, "%s is %s, expected %s", what, q(c, got), q(c, v->valuestring));
    }
    if ((v = cJSON_GetObjectItemCaseSensitive(m, "contains")))
        each_string(c, v, what, "contains", must_contain, got);
    if ((v = cJSON_GetObjectItemCaseSensitive(m, "not_contains")))
        each_string(c, v, what, "not_contains", must_not_contain, got);
    if ((v = cJSON_GetObjectItemCaseSensitive(m, "regex"))) {
        if (!cJSON_IsString(v))
            FAIL(c, "%s: \"regex\" must be a string", what);
        regex_t re;
        int rc = regcomp(&re, v->valuestring, REG_EXTENDED | REG_NOSUB);
        if (rc != 0) {
            char msg[128];
            regerror(rc, &re, msg, sizeof msg);
            FAIL(c, "%s: bad regex %s: %s", what, q(c, v->valuestring), msg);
        }
        rc = regexec(&re, got, 0, NULL, 0);
        regfree(&re);
        if (rc != 0)
            FAIL(c, "%s does not match /%s/; it is %s", what, v->valuestring, q(c, got));
    }
    if ((v = cJSON_GetObjectItemCaseSensitive(m, "length"))) {
        long want = jlong(c, m, "length", 0);
        if (strlen(got) != (size_t)want)
            FAIL(c, "%s is %zu bytes long, expected %ld", what, strlen(got), want);
    }
    if ((v = cJSON_GetObjectItemCaseSensitive(m, "empty"))) {
        bool want = jbool(c, m, "empty", false);
        if (want != (got[0] == '\0'))
            FAIL(c, "%s is %s, expected it %s", what, q(c, got), want ? "empty" : "non-empty");
    }
}

/* An integer expectation: N (exact) or {"min": a, "max": b}. */
static void match_int(ctx *c, const char *what, long got, const cJSON *m)
{
    if (cJSON_IsNumber(m)) {
        if (got != (long)m->valuedouble)
            FAIL(c, "%s is %ld, expected %ld", what, got, (long)m->valuedouble);
        return;
    }
    static const char *const keys[] = {"min", "max", NULL};
    if (!cJSON_IsObject(m))
        FAIL(c, "%s: expected an integer or {\"min\",\"max\"}", what);
    check_keys(c, m, what, keys);
    if (cJSON_GetObjectItemCaseSensitive(m, "min") && got < jlong(c, m, "min", 0))
        FAIL(c, "%s is %ld, expected at least %ld", what, got, jlong(c, m, "min", 0));
    if (cJSON_GetObjectItemCaseSensitive(m, "max") && got > jlong(c, m, "max", 0))
        FAIL(c, "%s is %ld, expected at most %ld", what, got, jlong(c, m, "max", 0));
}

/* ---- PNG / JPEG validation ------------------------------------------------------------ */

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Standard base64 -> bytes (OpenSSL). Returns a scratch buffer and its length. */
static unsigned char *b64_decode(ctx *c, const char *what, const char *b64, size_t *len)
{
    size_t n = strlen(b64);
    if (n == 0 || n % 4 != 0)
        FAIL(c, "%s: base64 length %zu is not a positive multiple of 4", what, n);
    unsigned char *out = scratch(c, n / 4 * 3 + 1);
    int got = EVP_DecodeBlock(out, (const unsigned char *)b64, (int)n);
    if (got < 0)
        FAIL(c, "%s: not valid base64", what);
    size_t pad = (b64[n - 1] == '=') + (b64[n - 2] == '=');
    *len = (size_t)got - pad;
    return out;
}

/* Decodes a PNG fully: signature, chunk CRCs, IHDR first, IEND last, and the zlib stream of
 * the IDAT chunks inflates to exactly height * (1 + row bytes) (non-interlaced). Fails the
 * test with the reason. Returns width and height. */
static void png_decode(ctx *c, const char *what, const unsigned char *p, size_t n, uint32_t *w_out,
                       uint32_t *h_out)
{
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (n < 8 + 25 + 12 || memcmp(p, sig, 8) != 0)
        FAIL(c, "%s: no PNG signature (%zu bytes)", what, n);
    size_t off = 8;
    uint32_t w = 0, h = 0;
    unsigned depth = 0, color = 0, interlace = 0;
    bool seen_ihdr = false, seen_iend = false;
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (inflateInit(&zs) != Z_OK)
        FAIL(c, "%s: inflateInit failed", what);
    unsigned char *raw = NULL;
    size_t raw_cap = 0;
    bool z_end = false;
    const char *bad = NULL;
    while (!bad && off + 12 <= n) {
        uint32_t len = be32(p + off);
        const unsigned char *type = p + off + 4;
        if (len > n - off - 12) {
            bad = "a chunk runs past the end";
            break;
        }
        uint32_t crc = (uint32_t)crc32(0L, type, len + 4);
        if (crc != be32(p + off + 8 + len)) {
            bad = "a chunk CRC is wrong";
            break;
        }
        if (!seen_ihdr && memcmp(type, "IHDR", 4) != 0) {
            bad = "the first chunk is not IHDR";
            break;
        }
        if (!memcmp(type, "IHDR", 4)) {
            if (seen_ihdr || len != 13) {
                bad = "bad IHDR";
                break;
            }
            seen_ihdr = true;
            w = be32(type + 4);
            h = be32(type + 8);
            depth = type[12];
            color = type[13];
            interlace = type[16];
            static const unsigned chans[7] = {1, 0, 3, 1, 2, 0, 4};
            if (w == 0 || h == 0 || w > 20000 || h > 20000 || color > 6 || !chans[color] ||
                (depth != 1 && depth != 2 && depth != 4 && depth != 8 && depth != 16)) {
                bad = "IHDR has an impossible size, depth or colour type";
                break;
            }
            raw_cap = (size_t)h * (1 + ((size_t)w * chans[color] * depth + 7) / 8);
            raw = malloc(raw_cap + 1);
            if (!raw) {
                bad = "out of memory";
                break;
            }
            zs.next_out = raw;
            zs.avail_out = (uInt)raw_cap + 1; /* one spare byte detects too much data */
        } else if (!memcmp(type, "IDAT", 4)) {
            if (z_end) {
                bad = "IDAT data after the end of the zlib stream";
                break;
            }
            zs.next_in = (unsigned char *)(type + 4);
            zs.avail_in = len;
            while (zs.avail_in > 0 && !z_end) {
                int zr = inflate(&zs, Z_NO_FLUSH);
                if (zr == Z_STREAM_END)
                    z_end = true;
                else if (zr != Z_OK) {
                    bad = "the image data is not a valid zlib stream";
                    break;
                }
                if (zs.avail_out == 0 && !z_end) {
                    bad = "the image data inflates to more than the IHDR size allows";
                    break;
                }
            }
        } else if (!memcmp(type, "IEND", 4)) {
            seen_iend = true;
            off += 12 + len;
            break;
        }
        off += 12 + len;
    }
    size_t produced = raw ? (size_t)(zs.next_out - raw) : 0;
    inflateEnd(&zs);
    free(raw);
    if (bad)
        FAIL(c, "%s: not a valid PNG: %s", what, bad);
    if (!seen_iend || off != n)
        FAIL(c, "%s: not a valid PNG: no IEND at the end (%zu of %zu bytes read)", what, off, n);
    if (interlace == 0 && (!z_end || produced != raw_cap))
        FAIL(c, "%s: not a valid PNG: image data inflates to %zu bytes, %ux%u needs %zu", what,
             produced, w, h, raw_cap);
    *w_out = w;
    *h_out = h;
}

static const char *tmpdir(ctx *c)
{
    if (!c->tmpdir[0]) {
        snprintf(c->tmpdir, sizeof c->tmpdir, "/tmp/e2b-exec-fixture-XXXXXX");
        if (!mkdtemp(c->tmpdir)) {
            c->tmpdir[0] = '\0';
            FAIL(c, "mkdtemp: %s", strerror(errno));
        }
    }
    return c->tmpdir;
}

/* The png of result i decodes, and e2b_result_save writes exactly the decoded bytes. */
static void check_png(ctx *c, const e2b_result *r, size_t i, uint32_t *w, uint32_t *h)
{
    char what[64];
    snprintf(what, sizeof what, "results[%zu].png", i);
    size_t n = 0;
    unsigned char *bytes = b64_decode(c, what, r->png, &n);
    png_decode(c, what, bytes, n, w, h);

    char path[256];
    snprintf(path, sizeof path, "%s/step%d-result%zu.png", tmpdir(c), c->step, i);
    e2b_error err = {0};
    e2b_code rc = e2b_result_save(r, "png", path, &err);
    if (rc != E2B_OK)
        FAIL(c, "e2b_result_save(%s): %s: %s", what, e2b_code_name(rc), err.message);
    FILE *f = fopen(path, "rb");
    if (!f)
        FAIL(c, "%s: cannot reopen the saved file %s", what, path);
    unsigned char *saved = scratch(c, n + 1);
    size_t got = fread(saved, 1, n + 1, f);
    fclose(f);
    if (got != n || memcmp(saved, bytes, n) != 0)
        FAIL(c, "%s: e2b_result_save wrote %zu bytes that differ from the %zu decoded ones", what,
             got, n);
}

static void check_jpeg(ctx *c, const e2b_result *r, size_t i)
{
    char what[64];
    snprintf(what, sizeof what, "results[%zu].jpeg", i);
    size_t n = 0;
    unsigned char *bytes = b64_decode(c, what, r->jpeg, &n);
    if (n < 3 || bytes[0] != 0xff || bytes[1] != 0xd8 || bytes[2] != 0xff)
        FAIL(c, "%s: not a JPEG (no SOI marker)", what);
}

/* ---- callback recording --------------------------------------------------------------- */

enum { EV_STDOUT = 1, EV_STDERR, EV_RESULT, EV_ERROR };

typedef struct rec_ev {
    int kind;
    int64_t t_ms;
    char *text; /* chunk text / result text / error name (may be NULL for a result) */
    bool main;  /* results */
} rec_ev;

typedef struct recorder {
    rec_ev *ev;
    size_t n, cap;
    bool oom;
    long cancel_on_stdout; /* >0: return non-zero on that stdout chunk */
    long stdout_seen;
} recorder;

static void recorder_free(void *p)
{
    recorder *r = p;
    for (size_t i = 0; i < r->n; i++)
        free(r->ev[i].text);
    free(r->ev);
    free(r);
}

static void rec_add(recorder *r, int kind, const char *text, bool main)
{
    int64_t now = harness_now_ms();
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 16;
        rec_ev *nv = realloc(r->ev, cap * sizeof *nv);
        if (!nv) {
            r->oom = true;
            return;
        }
        r->ev = nv;
        r->cap = cap;
    }
    char *t = text ? strdup(text) : NULL;
    if (text && !t) {
        r->oom = true;
        return;
    }
    r->ev[r->n++] = (rec_ev){kind, now, t, main};
}

static int on_stdout(const e2b_log_chunk *ch, void *ud)
{
    recorder *r = ud;
    rec_add(r, ch->stream == E2B_LOG_STDOUT ? EV_STDOUT : -1, ch->text, false);
    r->stdout_seen++;
    return r->cancel_on_stdout > 0 && r->stdout_seen >= r->cancel_on_stdout;
}

static int on_stderr(const e2b_log_chunk *ch, void *ud)
{
    rec_add(ud, ch->stream == E2B_LOG_STDERR ? EV_STDERR : -1, ch->text, false);
    return 0;
}

static int on_result(const e2b_result *res, void *ud)
{
    rec_add(ud, EV_RESULT, res->text, res->is_main_result);
    return 0;
}

static int on_error(const e2b_exec_error *e, void *ud)
{
    rec_add(ud, EV_ERROR, e->name, false);
    return 0;
}

static bool streq(const char *a, const char *b)
{
    return (!a && !b) || (a && b && !strcmp(a, b));
}

/* What the callbacks received equals the execution, in order. */
static void check_callbacks(ctx *c, const recorder *r, const e2b_execution *ex)
{
    if (r->oom)
        FAIL(c, "out of memory recording callbacks");
    size_t li = 0, ri = 0, errors = 0;
    for (size_t i = 0; i < r->n; i++) {
        const rec_ev *e = &r->ev[i];
        if (e->kind == -1)
            FAIL(c, "a log callback got a chunk of the other stream");
        if (e->kind == EV_STDOUT || e->kind == EV_STDERR) {
            if (li >= ex->logs_len)
                FAIL(c, "callback log chunk %zu is not in the execution (%zu chunks)", li,
                     ex->logs_len);
            const e2b_log_chunk *lc = &ex->logs[li++];
            int want = lc->stream == E2B_LOG_STDOUT ? EV_STDOUT : EV_STDERR;
            if (want != e->kind || !streq(lc->text, e->text))
                FAIL(c, "log chunk %zu: callback got %s on %s, execution has %s on %s", li - 1,
                     q(c, e->text), e->kind == EV_STDOUT ? "stdout" : "stderr", q(c, lc->text),
                     want == EV_STDOUT ? "stdout" : "stderr");
            if (!lc->text || lc->len != strlen(lc->text))
                FAIL(c, "log chunk %zu: len %zu does not match its text", li - 1, lc->len);
        } else if (e->kind == EV_RESULT) {
            if (ri >= ex->results_len)
                FAIL(c, "callback result %zu is not in the execution (%zu results)", ri,
                     ex->results_len);
            const e2b_result *res = &ex->results[ri++];
            if (!streq(res->text, e->text) || res->is_main_result != e->main)
                FAIL(c, "result %zu: callback got text %s main %d, execution has %s main %d",
                     ri - 1, q(c, e->text), e->main, q(c, res->text), res->is_main_result);
        } else if (e->kind == EV_ERROR) {
            errors++;
            if (!ex->error)
                FAIL(c, "on_error was called (%s) but execution->error is NULL", q(c, e->text));
        }
    }
    if (li != ex->logs_len)
        FAIL(c, "the execution has %zu log chunks but the callbacks got %zu", ex->logs_len, li);
    if (ri != ex->results_len)
        FAIL(c, "the execution has %zu results but on_result was called %zu times", ex->results_len,
             ri);
    if (ex->error && errors == 0)
        FAIL(c, "execution->error is set (%s) but on_error was never called",
             q(c, ex->error->name));
    if (ex->error && (!ex->error->name || !ex->error->value || !ex->error->traceback))
        FAIL(c, "execution->error has a NULL field");
    const char *main_text = NULL;
    bool has_main = false;
    for (size_t i = 0; i < ex->results_len && !has_main; i++)
        if (ex->results[i].is_main_result) {
            has_main = true;
            main_text = ex->results[i].text;
        }
    if (!streq(ex->text, main_text))
        FAIL(c, "execution->text is %s but the first main result's text is %s", q(c, ex->text),
             q(c, main_text));
}

/* ---- checks of one execution ---------------------------------------------------------- */

static const char *logs_text(ctx *c, const e2b_execution *ex, e2b_log_stream s)
{
    char *out = NULL;
    e2b_error err = {0};
    e2b_code rc = e2b_execution_logs_text(ex, s, &out, &err);
    if (rc != E2B_OK)
        FAIL(c, "e2b_execution_logs_text: %s: %s", e2b_code_name(rc), err.message);
    harness_defer(free, out);
    return out;
}

#define RESULT_FIELD(x)             \
    {                               \
#x, offsetof(e2b_result, x) \
    }
static const struct {
    const char *name;
    size_t off;
} k_result_fields[] = {
    RESULT_FIELD(text),       RESULT_FIELD(html),        RESULT_FIELD(markdown),
    RESULT_FIELD(svg),        RESULT_FIELD(png),         RESULT_FIELD(jpeg),
    RESULT_FIELD(pdf),        RESULT_FIELD(latex),       RESULT_FIELD(json),
    RESULT_FIELD(javascript), RESULT_FIELD(data),        RESULT_FIELD(chart),
    RESULT_FIELD(chart_type), RESULT_FIELD(chart_title), RESULT_FIELD(extra),
};
#undef RESULT_FIELD

/* The e2b_result field called name (NULL when absent); *known is false for a bad name. */
static const char *result_field(const e2b_result *r, const char *name, bool *known)
{
    for (size_t i = 0; i < sizeof k_result_fields / sizeof k_result_fields[0]; i++) {
        if (!strcmp(name, k_result_fields[i].name)) {
            *known = true;
            return *(char *const *)((const char *)r + k_result_fields[i].off);
        }
    }
    *known = false;
    return NULL;
}

static void check_result_expect(ctx *c, const e2b_execution *ex, size_t i, const cJSON *want)
{
    static const char *const keys[] = {
        "main",       "has",         "lacks", "text", "html",         "markdown", "svg",
        "jpeg",       "pdf",         "latex", "json", "javascript",   "data",     "chart",
        "chart_type", "chart_title", "extra", "png",  "png_min_size", NULL};
    char where[64];
    snprintf(where, sizeof where, "results[%zu]", i);
    check_keys(c, want, where, keys);
    const e2b_result *r = &ex->results[i];
    const cJSON *v;
    if ((v = cJSON_GetObjectItemCaseSensitive(want, "main"))) {
        if (!cJSON_IsBool(v))
            FAIL(c, "%s: \"main\" must be true or false", where);
        if (r->is_main_result != cJSON_IsTrue(v))
            FAIL(c, "%s: is_main_result is %s, expected %s", where,
                 r->is_main_result ? "true" : "false", cJSON_IsTrue(v) ? "true" : "false");
    }
    for (int pass = 0; pass < 2; pass++) {
        const char *key = pass ? "lacks" : "has";
        const cJSON *list = cJSON_GetObjectItemCaseSensitive(want, key);
        if (!list)
            continue;
        if (!cJSON_IsArray(list))
            FAIL(c, "%s: \"%s\" must be an array of field names", where, key);
        for (const cJSON *it = list->child; it; it = it->next) {
            bool known = false;
            const char *val = cJSON_IsString(it) ? result_field(r, it->valuestring, &known) : NULL;
            if (!known)
                FAIL(c, "%s: \"%s\" lists an unknown result field", where, key);
            if (!pass && !val)
                FAIL(c, "%s: field %s is missing (has text %s)", where, it->valuestring,
                     q(c, r->text));
            if (pass && val)
                FAIL(c, "%s: field %s must be absent, it is %s", where, it->valuestring, q(c, val));
        }
    }
    static const char *const fields[] = {"text",       "html",        "markdown",   "svg",  "pdf",
                                         "latex",      "json",        "javascript", "data", "chart",
                                         "chart_type", "chart_title", "extra",      NULL};
    for (const char *const *f = fields; *f; f++) {
        if (!(v = cJSON_GetObjectItemCaseSensitive(want, *f)))
            continue;
        bool known;
        char what[96];
        snprintf(what, sizeof what, "%s.%s", where, *f);
        match(c, what, result_field(r, *f, &known), v);
    }
    if ((v = cJSON_GetObjectItemCaseSensitive(want, "png"))) {
        if (!cJSON_IsBool(v))
            FAIL(c, "%s: \"png\" must be true (present, decodes) or false (absent)", where);
        if (cJSON_IsTrue(v) != (r->png != NULL))
            FAIL(c, "%s: png is %s, expected %s", where, r->png ? "present" : "absent",
                 cJSON_IsTrue(v) ? "present" : "absent");
    }
    if ((v = cJSON_GetObjectItemCaseSensitive(want, "jpeg"))) {
        if (!cJSON_IsBool(v))
            FAIL(c, "%s: \"jpeg\" must be true or false", where);
        if (cJSON_IsTrue(v) != (r->jpeg != NULL))
            FAIL(c, "%s: jpeg is %s", where, r->jpeg ? "present" : "absent");
    }
    if ((v = cJSON_GetObjectItemCaseSensitive(want, "png_min_size"))) {
        /* [min width, min height] of the decoded image */
        if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) != 2 ||
            !cJSON_IsNumber(cJSON_GetArrayItem(v, 0)) || !cJSON_IsNumber(cJSON_GetArrayItem(v, 1)))
            FAIL(c, "%s: \"png_min_size\" must be [width, height]", where);
        if (!r->png)
            FAIL(c, "%s: png_min_size given but the result has no png", where);
        uint32_t w = 0, h = 0;
        check_png(c, r, i, &w, &h);
        double mw = cJSON_GetArrayItem(v, 0)->valuedouble,
               mh = cJSON_GetArrayItem(v, 1)->valuedouble;
        if (w < mw || h < mh)
            FAIL(c, "%s: the png is %ux%u, expected at least %.0fx%.0f", where, w, h, mw, mh);
    }
}

typedef struct run_outcome {
    e2b_code rc;
    e2b_error err;
    e2b_execution *ex;
    recorder *rec;
    int64_t t_start, t_end;
} run_outcome;

static void check_streaming(ctx *c, const run_outcome *o, const cJSON *want)
{
    static const char *const keys[] = {"stdout_events_min", "gap_ms_min", "before_end_ms_min",
                                       NULL};
    check_keys(c, want, "\"streaming\"", keys);
    const recorder *r = o->rec;
    size_t n = 0;
    int64_t first = 0, last = 0;
    for (size_t i = 0; i < r->n; i++)
        if (r->ev[i].kind == EV_STDOUT) {
            if (n++ == 0)
                first = r->ev[i].t_ms;
            last = r->ev[i].t_ms;
        }
    long min_events = jlong(c, want, "stdout_events_min", 2);
    if ((long)n < min_events)
        FAIL(c, "streaming: %zu stdout callbacks, expected at least %ld", n, min_events);
    long gap = jlong(c, want, "gap_ms_min", -1);
    if (gap >= 0 && last - first < gap)
        FAIL(c,
             "streaming: the first and last stdout callbacks are %lld ms apart, expected "
             ">= %ld ms (output was buffered, not streamed)",
             (long long)(last - first), gap);
    long before = jlong(c, want, "before_end_ms_min", -1);
    if (before >= 0 && o->t_end - first < before)
        FAIL(c,
             "streaming: the first stdout callback came %lld ms before the call returned, "
             "expected >= %ld ms",
             (long long)(o->t_end - first), before);
}

static void check_run(ctx *c, run_outcome *o, const cJSON *expect)
{
    static const char *const keys[] = {
        "error",   "message",       "partial",    "stdout",          "stderr",    "text",
        "results", "results_count", "exec_error", "execution_count", "streaming", "completed",
        NULL};
    if (expect)
        check_keys(c, expect, "run.expect", keys);
    const char *want_err = expect ? jstr(c, expect, "error") : NULL;
    const e2b_execution *ex = o->ex;
    if (want_err) {
        e2b_code code;
        if (!harness_code_from_name(want_err, &code))
            FAIL(c, "\"error\": \"%s\" is not an e2b_code name", want_err);
        if (o->rc == E2B_OK)
            FAIL(c, "expected error %s, but the call succeeded (stdout %s, exec error %s)",
                 want_err, q(c, ex ? logs_text(c, ex, E2B_LOG_STDOUT) : NULL),
                 q(c, ex && ex->error ? ex->error->name : NULL));
        if (o->rc != code)
            FAIL(c, "expected error %s, got %s (HTTP %d): %s", want_err, e2b_code_name(o->rc),
                 o->err.http_status, o->err.message);
        if (o->err.code != o->rc)
            FAIL(c, "returned %s but err.code is %s", e2b_code_name(o->rc),
                 e2b_code_name(o->err.code));
        if (!o->err.message[0])
            FAIL(c, "error %s carries no message", want_err);
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(expect, "message");
        if (m)
            match(c, "the error message", o->err.message, m);
        const cJSON *partial = cJSON_GetObjectItemCaseSensitive(expect, "partial");
        if (partial) {
            if (!cJSON_IsBool(partial))
                FAIL(c, "\"partial\" must be true or false");
            if (cJSON_IsTrue(partial) != (ex != NULL))
                FAIL(c, "a partial execution was %s, expected %s", ex ? "returned" : "not returned",
                     cJSON_IsTrue(partial) ? "one" : "none");
        }
        if (!ex)
            return;
    } else {
        if (o->rc != E2B_OK)
            FAIL(c, "run_code failed: %s (HTTP %d): %s", e2b_code_name(o->rc), o->err.http_status,
                 o->err.message);
        if (!ex)
            FAIL(c, "run_code returned E2B_OK without an execution");
        if (!ex->completed)
            FAIL(c, "run_code returned E2B_OK but end_of_execution never arrived");
    }
    check_callbacks(c, o->rec, ex);
    for (size_t i = 0; i < ex->results_len; i++) {
        uint32_t w, h;
        if (ex->results[i].png)
            check_png(c, &ex->results[i], i, &w, &h);
        if (ex->results[i].jpeg)
            check_jpeg(c, &ex->results[i], i);
    }

    const cJSON *v;
    if (expect && (v = cJSON_GetObjectItemCaseSensitive(expect, "completed"))) {
        if (!cJSON_IsBool(v))
            FAIL(c, "\"completed\" must be true or false");
        if (cJSON_IsTrue(v) != ex->completed)
            FAIL(c, "end_of_execution %s, expected %s", ex->completed ? "arrived" : "is missing",
                 cJSON_IsTrue(v) ? "it" : "none");
    }
    /* The code must not have raised anything unless the fixture says so. */
    const cJSON *xe = expect ? cJSON_GetObjectItemCaseSensitive(expect, "exec_error") : NULL;
    if (!xe || cJSON_IsNull(xe)) {
        if (ex->error)
            FAIL(c, "the code raised %s: %s\n%s\n(stdout %s, stderr %s)", q(c, ex->error->name),
                 q(c, ex->error->value), ex->error->traceback,
                 q(c, logs_text(c, ex, E2B_LOG_STDOUT)), q(c, logs_text(c, ex, E2B_LOG_STDERR)));
    } else {
        static const char *const ek[] = {"name", "value", "traceback", NULL};
        check_keys(c, xe, "\"exec_error\"", ek);
        if (!ex->error)
            FAIL(c, "the code raised no error (stdout %s, stderr %s, text %s)",
                 q(c, logs_text(c, ex, E2B_LOG_STDOUT)), q(c, logs_text(c, ex, E2B_LOG_STDERR)),
                 q(c, ex->text));
        if ((v = cJSON_GetObjectItemCaseSensitive(xe, "name")))
            match(c, "exec_error.name", ex->error->name, v);
        if ((v = cJSON_GetObjectItemCaseSensitive(xe, "value")))
            match(c, "exec_error.value", ex->error->value, v);
        if ((v = cJSON_GetObjectItemCaseSensitive(xe, "traceback")))
            match(c, "exec_error.traceback", ex->error->traceback, v);
    }
    if (!expect)
        return;
    if ((v = cJSON_GetObjectItemCaseSensitive(expect, "stdout")))
        match(c, "stdout", logs_text(c, ex, E2B_LOG_STDOUT), v);
    if ((v = cJSON_GetObjectItemCaseSensitive(expect, "stderr")))
        match(c, "stderr", logs_text(c, ex, E2B_LOG_STDERR), v);
    if ((v = cJSON_GetObjectItemCaseSensitive(expect, "text")))
        match(c, "the main result's text", ex->text, v);
    if ((v = cJSON_GetObjectItemCaseSensitive(expect, "execution_count"))) {
        if (ex->execution_count < 0)
            FAIL(c, "no number_of_executions line arrived");
        match_int(c, "execution_count", ex->execution_count, v);
    }
    if ((v = cJSON_GetObjectItemCaseSensitive(expect, "results_count")))
        match_int(c, "the number of results", (long)ex->results_len, v);
    if ((v = cJSON_GetObjectItemCaseSensitive(expect, "results"))) {
        if (!cJSON_IsArray(v))
            FAIL(c, "\"results\" must be an array (exact count, in order)");
        size_t n = (size_t)cJSON_GetArraySize(v);
        if (n != ex->results_len) {
            char kinds[256] = "";
            for (size_t i = 0; i < ex->results_len && strlen(kinds) < 200; i++)
                snprintf(kinds + strlen(kinds), sizeof kinds - strlen(kinds), "%s%s%s",
                         i ? ", " : "", ex->results[i].is_main_result ? "main " : "display ",
                         ex->results[i].text ? "text" : "-");
            FAIL(c, "%zu results, expected %zu [%s]", ex->results_len, n, kinds);
        }
        size_t i = 0;
        for (const cJSON *it = v->child; it; it = it->next, i++)
            check_result_expect(c, ex, i, it);
    }
    if ((v = cJSON_GetObjectItemCaseSensitive(expect, "streaming")))
        check_streaming(c, o, v);
}

/* ---- operations ------------------------------------------------------------------------ */

static const char *const k_run_keys[] = {"op",
                                         "code",
                                         "language",
                                         "context",
                                         "env_vars",
                                         "timeout_ms",
                                         "cancel_on_stdout",
                                         "max_line_bytes",
                                         "expect",
                                         "note",
                                         NULL};

static void op_run(ctx *c, const cJSON *step)
{
    check_keys(c, step, "a run step", k_run_keys);
    const char *code = jcode(c, step);
    e2b_run_opts o;
    e2b_run_opts_init(&o);
    o.language = jstr(c, step, "language");
    o.context_id = jstr(c, step, "context");
    o.env_vars = jkv(c, step, "env_vars", &o.env_vars_len);
    o.timeout_ms = jlong(c, step, "timeout_ms", E2B_DEFAULT_EXECUTION_TIMEOUT_MS);
    long max_line = jlong(c, step, "max_line_bytes", 0);
    if (max_line < 0)
        FAIL(c, "\"max_line_bytes\" must be >= 0");
    o.max_line_bytes = (size_t)max_line;
    recorder *rec = calloc(1, sizeof *rec);
    if (!rec)
        FAIL(c, "out of memory");
    harness_defer(recorder_free, rec);
    rec->cancel_on_stdout = jlong(c, step, "cancel_on_stdout", 0);
    o.on_stdout = on_stdout;
    o.on_stderr = on_stderr;
    o.on_result = on_result;
    o.on_error = on_error;
    o.user_data = rec;

    run_outcome out;
    memset(&out, 0, sizeof out);
    out.rec = rec;
    out.t_start = harness_now_ms();
    out.rc = e2b_run_code(c->sbx, code, &o, &out.ex, &out.err);
    out.t_end = harness_now_ms();
    if (out.ex)
        harness_defer(defer_execution_free, out.ex);
    check_run(c, &out, cJSON_GetObjectItemCaseSensitive(step, "expect"));
}

/* Checks a context call's result; returns true when it succeeded. */
static bool check_call(ctx *c, e2b_code rc, const e2b_error *err, const cJSON *expect)
{
    const char *want = expect ? jstr(c, expect, "error") : NULL;
    if (!want) {
        if (rc != E2B_OK)
            FAIL(c, "unexpected error %s (HTTP %d): %s", e2b_code_name(rc), err->http_status,
                 err->message);
        return true;
    }
    e2b_code code;
    if (!harness_code_from_name(want, &code))
        FAIL(c, "\"error\": \"%s\" is not an e2b_code name", want);
    if (rc == E2B_OK)
        FAIL(c, "expected error %s, but the call succeeded", want);
    if (rc != code)
        FAIL(c, "expected error %s, got %s (HTTP %d): %s", want, e2b_code_name(rc),
             err->http_status, err->message);
    if (err->code != rc || !err->message[0])
        FAIL(c, "error %s: err.code %s, message %s", want, e2b_code_name(err->code),
             q(c, err->message));
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(expect, "message");
    if (m)
        match(c, "the error message", err->message, m);
    return false;
}

static void op_create_context(ctx *c, const cJSON *step)
{
    static const char *const keys[] = {"op", "language", "cwd", "save_as", "expect", "note", NULL};
    static const char *const ekeys[] = {"error", "message", "language", "cwd", NULL};
    check_keys(c, step, "a create_context step", keys);
    const cJSON *expect = cJSON_GetObjectItemCaseSensitive(step, "expect");
    if (expect)
        check_keys(c, expect, "create_context.expect", ekeys);
    e2b_context *cx = NULL;
    e2b_error err = {0};
    e2b_code rc = e2b_context_create(c->sbx, jstr(c, step, "language"), jstr(c, step, "cwd"), &cx,
                                     &err);
    if (!check_call(c, rc, &err, expect)) {
        if (cx)
            FAIL(c, "a failed create_context returned a context");
        return;
    }
    harness_defer(defer_context_free, cx);
    if (!cx || !cx->id || !cx->id[0])
        FAIL(c, "create_context returned no id");
    const cJSON *v;
    if (expect && (v = cJSON_GetObjectItemCaseSensitive(expect, "language")))
        match(c, "the context's language", cx->language, v);
    if (expect && (v = cJSON_GetObjectItemCaseSensitive(expect, "cwd")))
        match(c, "the context's cwd", cx->cwd, v);
    const char *save_as = jstr(c, step, "save_as");
    if (save_as)
        set_var(c, save_as, cx->id);
}

static void defer_list_free(void *p)
{
    struct {
        e2b_context *l;
        size_t n;
    } *x = p;
    e2b_context_list_free(x->l, x->n);
    free(x);
}

static void op_list_contexts(ctx *c, const cJSON *step)
{
    static const char *const keys[] = {"op", "expect", "note", NULL};
    static const char *const ekeys[] = {"error",     "message", "contains", "excludes",
                                        "languages", "count",   NULL};
    check_keys(c, step, "a list_contexts step", keys);
    const cJSON *expect = cJSON_GetObjectItemCaseSensitive(step, "expect");
    if (expect)
        check_keys(c, expect, "list_contexts.expect", ekeys);
    struct {
        e2b_context *l;
        size_t n;
    } *x = calloc(1, sizeof *x);
    if (!x)
        FAIL(c, "out of memory");
    e2b_error err = {0};
    e2b_code rc = e2b_context_list(c->sbx, &x->l, &x->n, &err);
    harness_defer(defer_list_free, x);
    if (!check_call(c, rc, &err, expect) || !expect)
        return;
    for (size_t i = 0; i < x->n; i++) {
        if (!x->l[i].id || !x->l[i].id[0])
            FAIL(c, "context %zu has no id", i);
        for (size_t j = 0; j < i; j++)
            if (!strcmp(x->l[i].id, x->l[j].id))
                FAIL(c, "context %s is listed twice", x->l[i].id);
    }
    for (int pass = 0; pass < 3; pass++) {
        static const char *const names[] = {"contains", "excludes", "languages"};
        const cJSON *list = cJSON_GetObjectItemCaseSensitive(expect, names[pass]);
        if (!list)
            continue;
        if (!cJSON_IsArray(list))
            FAIL(c, "\"%s\" must be an array of strings", names[pass]);
        for (const cJSON *it = list->child; it; it = it->next) {
            if (!cJSON_IsString(it))
                FAIL(c, "\"%s\" must be an array of strings", names[pass]);
            const char *want = resolve(c, it->valuestring);
            bool found = false;
            for (size_t i = 0; i < x->n && !found; i++)
                found = pass == 2 ? streq(x->l[i].language, want) : !strcmp(x->l[i].id, want);
            if (pass != 1 && !found)
                FAIL(c, "no listed context has %s %s (%zu listed)", pass == 2 ? "language" : "id",
                     want, x->n);
            if (pass == 1 && found)
                FAIL(c, "context %s is still listed", want);
        }
    }
    const cJSON *cnt = cJSON_GetObjectItemCaseSensitive(expect, "count");
    if (cnt)
        match_int(c, "the number of contexts", (long)x->n, cnt);
}

static void op_context_call(ctx *c, const cJSON *step, bool restart)
{
    static const char *const keys[] = {"op", "context", "expect", "note", NULL};
    static const char *const ekeys[] = {"error", "message", NULL};
    check_keys(c, step, restart ? "a restart_context step" : "a remove_context step", keys);
    const cJSON *expect = cJSON_GetObjectItemCaseSensitive(step, "expect");
    if (expect)
        check_keys(c, expect, "expect", ekeys);
    const char *id = jstr(c, step, "context");
    if (!id)
        FAIL(c, "needs \"context\"");
    e2b_error err = {0};
    e2b_code rc = restart ? e2b_context_restart(c->sbx, id, &err)
                          : e2b_context_remove(c->sbx, id, &err);
    check_call(c, rc, &err, expect);
}

static void op_sleep(ctx *c, const cJSON *step)
{
    static const char *const keys[] = {"op", "ms", "note", NULL};
    check_keys(c, step, "a sleep step", keys);
    long ms = jlong(c, step, "ms", 0);
    if (ms < 0 || ms > 60000)
        FAIL(c, "\"ms\" must be 0..60000");
    usleep((useconds_t)ms * 1000);
}

/* ---- running one fixture ------------------------------------------------------------- */

static void run_step(ctx *c, const cJSON *st)
{
    if (!cJSON_IsObject(st))
        FAIL(c, "a step must be an object");
    const cJSON *op = cJSON_GetObjectItemCaseSensitive(st, "op");
    if (op && !cJSON_IsString(op))
        FAIL(c, "\"op\" must be a string");
    c->op = op ? op->valuestring : "run";
    if (!strcmp(c->op, "run"))
        op_run(c, st);
    else if (!strcmp(c->op, "create_context"))
        op_create_context(c, st);
    else if (!strcmp(c->op, "list_contexts"))
        op_list_contexts(c, st);
    else if (!strcmp(c->op, "restart_context"))
        op_context_call(c, st, true);
    else if (!strcmp(c->op, "remove_context"))
        op_context_call(c, st, false);
    else if (!strcmp(c->op, "sleep"))
        op_sleep(c, st);
    else
        FAIL(c, "unknown op (run, create_context, list_contexts, restart_context, "
                "remove_context, sleep)");
}

static void create_sandbox(ctx *c)
{
    const cJSON *sb = cJSON_GetObjectItemCaseSensitive(c->fc->root, "sandbox");
    static const char *const keys[] = {"template", "timeout_s", "env_vars", NULL};
    e2b_create_opts o;
    e2b_create_opts_init(&o);
    o.template_id = "code-interpreter-v1";
    o.timeout_s = 300;
    if (sb) {
        check_keys(c, sb, "\"sandbox\"", keys);
        if (jstr(c, sb, "template"))
            o.template_id = jstr(c, sb, "template");
        o.timeout_s = (int)jlong(c, sb, "timeout_s", 300);
        o.env_vars = jkv(c, sb, "env_vars", &o.env_vars_len);
    }
    e2b_kv md[1] = {{"run", harness_run_tag()}};
    o.metadata = md;
    o.metadata_len = 1;
    e2b_error err = {0};
    e2b_code rc = e2b_sandbox_create(c->t->client, &o, &c->sbx, &err);
    if (rc != E2B_OK)
        FAIL(c, "creating the sandbox (template %s): %s: %s", o.template_id, e2b_code_name(rc),
             err.message);
    harness_defer(defer_sandbox_free, c->sbx);
    const char *id = e2b_sandbox_id(c->sbx);
    pending_kill *k = malloc(sizeof *k + strlen(id) + 1);
    if (!k)
        FAIL(c, "out of memory");
    k->cl = c->t->client;
    strcpy(k->id, id);
    harness_defer(kill_sandbox, k); /* runs before the free above (LIFO) */
}

static void unset_env(void *name)
{
    unsetenv(name);
}

static void run_fixture(void **state)
{
    const fcase *fc = *state;
    if (!fc->root)
        fail_msg("%s", fc->load_error); /* names the file */
    ctx *c = calloc(1, sizeof *c);
    if (!c)
        fail_msg("out of memory");
    c->fc = fc;
    harness_defer(ctx_free, c);

    const cJSON *steps = cJSON_GetObjectItemCaseSensitive(fc->root, "steps");
    static const char *const top[] = {"name", "description", "mock_args", "mock_env",
                                      "live", "sandbox",     "steps",     NULL};
    if (steps) {
        check_keys(c, fc->root, "the fixture", top);
    } else {
        /* one-run shorthand: the run's keys sit at the top level */
        for (const cJSON *it = fc->root->child; it; it = it->next) {
            bool ok = false;
            for (const char *const *a = top; *a && !ok; a++)
                ok = !strcmp(*a, it->string) && strcmp(*a, "steps") != 0;
            for (const char *const *a = k_run_keys; *a && !ok; a++)
                ok = !strcmp(*a, it->string) && strcmp(*a, "op") != 0;
            if (!ok)
                FAIL(c, "unknown key \"%s\" in the fixture", it->string);
        }
        if (!cJSON_GetObjectItemCaseSensitive(fc->root, "code"))
            FAIL(c, "a fixture needs \"steps\" or (for a single run) \"code\"");
    }
    if (harness_live_requested() && !jbool(c, fc->root, "live", true)) {
        print_message("SKIP: %s is marked \"live\": false (mock only)\n", fc->name);
        skip();
    }
    const cJSON *ma = cJSON_GetObjectItemCaseSensitive(fc->root, "mock_args");
    const char **args = NULL;
    if (ma) {
        if (!cJSON_IsArray(ma))
            FAIL(c, "\"mock_args\" must be an array of strings");
        args = scratch(c, ((size_t)cJSON_GetArraySize(ma) + 1) * sizeof *args);
        size_t i = 0;
        for (const cJSON *it = ma->child; it; it = it->next) {
            if (!cJSON_IsString(it))
                FAIL(c, "\"mock_args\" must be an array of strings");
            args[i++] = it->valuestring;
        }
    }
    /* mock_env: environment of the e2b-mock child only (mock only, like mock_args) */
    const cJSON *me = cJSON_GetObjectItemCaseSensitive(fc->root, "mock_env");
    if (me && harness_live_requested()) {
        print_message("SKIP: %s sets \"mock_env\" (mock only)\n", fc->name);
        skip();
    }
    if (me && !cJSON_IsObject(me))
        FAIL(c, "\"mock_env\" must be an object of strings");
    for (const cJSON *it = me ? me->child : NULL; it; it = it->next) {
        if (!cJSON_IsString(it))
            FAIL(c, "\"mock_env\".\"%s\" must be a string", it->string);
        const char *v = it->valuestring;
        char buf[4096];
        if (!strncmp(v, "$fixtures/", 10)) { /* a path inside the fixtures dir */
            snprintf(buf, sizeof buf, "%s/%s", harness_fixtures_dir(), v + 10);
            v = buf;
        } else {
            v = resolve(c, v);
        }
        if (setenv(it->string, v, 1) != 0)
            FAIL(c, "setenv %s: %s", it->string, strerror(errno));
        harness_defer(unset_env, it->string);
    }
    harness_target_opts to = {0};
    to.mock_args = args;
    c->t = harness_target_start(&to);
    create_sandbox(c);

    if (!steps) {
        c->step = 1;
        c->op = "run";
        /* a copy without the fixture-level keys, so op_run's key check applies */
        cJSON *run = cJSON_CreateObject();
        if (!run)
            FAIL(c, "out of memory");
        harness_defer(defer_cjson_delete, run);
        for (const cJSON *it = fc->root->child; it; it = it->next) {
            bool fixture_key = false;
            for (const char *const *a = top; *a; a++)
                fixture_key = fixture_key || !strcmp(*a, it->string);
            if (!fixture_key && !cJSON_AddItemReferenceToObject(run, it->string, (cJSON *)it))
                FAIL(c, "out of memory");
        }
        op_run(c, run);
        return;
    }
    if (!cJSON_IsArray(steps) || cJSON_GetArraySize(steps) == 0)
        FAIL(c, "\"steps\" must be a non-empty array");
    for (const cJSON *st = steps->child; st; st = st->next) {
        c->step++;
        c->op = NULL;
        run_step(c, st);
    }
}

/* ---- hand-written cases ---------------------------------------------------------------- */

static e2b_sandbox *new_sandbox(harness_target *t)
{
    e2b_create_opts o;
    e2b_create_opts_init(&o);
    o.template_id = "code-interpreter-v1";
    o.timeout_s = 300;
    e2b_kv md[1] = {{"run", harness_run_tag()}};
    o.metadata = md;
    o.metadata_len = 1;
    e2b_sandbox *s = NULL;
    e2b_error err = {0};
    harness_assert_ok(e2b_sandbox_create(t->client, &o, &s, &err), &err, "create");
    harness_defer(defer_sandbox_free, s);
    pending_kill *k = malloc(sizeof *k + strlen(e2b_sandbox_id(s)) + 1);
    assert_non_null(k);
    k->cl = t->client;
    strcpy(k->id, e2b_sandbox_id(s));
    harness_defer(kill_sandbox, k);
    return s;
}

/* NULL arguments: a typed error before anything is sent, and no execution. */
static void test_null_arguments(void **state)
{
    (void)state;
    harness_target *t = harness_target_start(NULL);
    e2b_sandbox *s = new_sandbox(t);
    e2b_error err = {0};
    e2b_execution *ex = (e2b_execution *)&err; /* must be reset to NULL */
    harness_assert_code(e2b_run_code(NULL, "1", NULL, &ex, &err), E2B_ERR_INVALID_ARGUMENT, &err,
                        "run_code(NULL sandbox)");
    assert_null(ex);
    harness_assert_code(e2b_run_code(s, NULL, NULL, &ex, &err), E2B_ERR_INVALID_ARGUMENT, &err,
                        "run_code(NULL code)");
    assert_null(ex);
    assert_int_equal(e2b_run_code(s, "1", NULL, NULL, NULL), E2B_ERR_INVALID_ARGUMENT);
    e2b_run_opts o;
    e2b_run_opts_init(&o);
    o.timeout_ms = -1;
    harness_assert_code(e2b_run_code(s, "1", &o, &ex, &err), E2B_ERR_INVALID_ARGUMENT, &err,
                        "run_code(timeout -1)");
    harness_assert_code(e2b_context_restart(s, NULL, &err), E2B_ERR_INVALID_ARGUMENT, &err,
                        "restart(NULL)");
    harness_assert_code(e2b_context_remove(s, "", &err), E2B_ERR_INVALID_ARGUMENT, &err,
                        "remove(\"\")");
    /* and the sandbox still runs code afterwards */
    harness_assert_ok(e2b_run_code(s, "6*7", NULL, &ex, &err), &err, "run_code after");
    harness_defer(defer_execution_free, ex);
    assert_non_null(ex->text);
    assert_string_equal(ex->text, "42");
}

/* e2b_execution_to_json of a real execution is valid JSON of the documented shape. */
static void test_execution_to_json(void **state)
{
    (void)state;
    harness_target *t = harness_target_start(NULL);
    e2b_sandbox *s = new_sandbox(t);
    e2b_error err = {0};
    e2b_execution *ex = NULL;
    harness_assert_ok(e2b_run_code(s,
                                   "print('a')\nimport sys; print('b', file=sys.stderr)\n"
                                   "display('shown')\n'done'",
                                   NULL, &ex, &err),
                      &err, "run_code");
    harness_defer(defer_execution_free, ex);
    char *js = NULL;
    harness_assert_ok(e2b_execution_to_json(ex, &js, &err), &err, "to_json");
    harness_defer(free, js);
    cJSON *root = cJSON_Parse(js);
    assert_non_null(root);
    harness_defer(defer_cjson_delete, root);
    const cJSON *logs = cJSON_GetObjectItemCaseSensitive(root, "logs");
    const cJSON *out = cJSON_GetObjectItemCaseSensitive(logs, "stdout");
    const cJSON *errl = cJSON_GetObjectItemCaseSensitive(logs, "stderr");
    assert_true(cJSON_IsArray(out) && cJSON_IsArray(errl));
    assert_string_equal(cJSON_GetArrayItem(out, 0)->valuestring, "a\n");
    assert_string_equal(cJSON_GetArrayItem(errl, 0)->valuestring, "b\n");
    const cJSON *results = cJSON_GetObjectItemCaseSensitive(root, "results");
    assert_int_equal(cJSON_GetArraySize(results), 2);
    assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(root, "error")));
    assert_string_equal(ex->text, "done");
}

/* ---- concurrency: executions racing with each other and with context operations ------ */

typedef struct bg_run {
    e2b_sandbox *sbx; /* a handle used by this thread only */
    const char *code;
    const char *context_id;
    long timeout_ms;
    e2b_code rc;
    e2b_error err;
    e2b_execution *ex;
    atomic_int started_output; /* set by the first stdout chunk */
    pthread_t th;
} bg_run;

static int bg_on_stdout(const e2b_log_chunk *ch, void *ud)
{
    (void)ch;
    bg_run *b = ud;
    atomic_store(&b->started_output, 1);
    return 0;
}

static void *bg_main(void *p)
{
    bg_run *b = p;
    e2b_run_opts o;
    e2b_run_opts_init(&o);
    o.context_id = b->context_id;
    o.timeout_ms = b->timeout_ms;
    o.on_stdout = bg_on_stdout;
    o.user_data = b;
    b->rc = e2b_run_code(b->sbx, b->code, &o, &b->ex, &b->err);
    return NULL;
}

static void bg_free(void *p)
{
    bg_run *b = p;
    e2b_execution_free(b->ex);
    free(b);
}

static bg_run *bg_start(e2b_sandbox *sbx, const char *code, const char *context_id)
{
    bg_run *b = calloc(1, sizeof *b);
    assert_non_null(b);
    b->sbx = sbx;
    b->code = code;
    b->context_id = context_id;
    b->timeout_ms = 60000;
    atomic_init(&b->started_output, 0);
    assert_int_equal(pthread_create(&b->th, NULL, bg_main, b), 0);
    return b;
}

/* Joins; the bg_run is then freed at teardown. */
static void bg_join(bg_run *b)
{
    pthread_join(b->th, NULL);
    harness_defer(bg_free, b);
}

/* Waits (generously) until b printed something; fails the test otherwise. */
static void bg_wait_output(bg_run *b)
{
    int64_t deadline = harness_now_ms() + 30000;
    while (!atomic_load(&b->started_output)) {
        if (harness_now_ms() > deadline) {
            bg_join(b);
            fail_msg("the background execution printed nothing within 30 s (%s: %s)",
                     e2b_code_name(b->rc), b->err.message);
        }
        usleep(10 * 1000);
    }
}

static e2b_sandbox *second_handle(harness_target *t, e2b_sandbox *s)
{
    e2b_sandbox *s2 = NULL;
    e2b_error err = {0};
    harness_assert_ok(e2b_sandbox_connect(t->client, e2b_sandbox_id(s), 300, &s2, NULL, &err), &err,
                      "connect a second handle");
    harness_defer(defer_sandbox_free, s2);
    return s2;
}

static char *new_context(e2b_sandbox *s, const char *language)
{
    e2b_context *cx = NULL;
    e2b_error err = {0};
    harness_assert_ok(e2b_context_create(s, language, NULL, &cx, &err), &err, "context_create");
    harness_defer(defer_context_free, cx);
    return cx->id;
}

static const char *stdout_of(const e2b_execution *ex)
{
    char *out = NULL;
    if (e2b_execution_logs_text(ex, E2B_LOG_STDOUT, &out, NULL) != E2B_OK)
        fail_msg("logs_text failed");
    harness_defer(free, out);
    return out;
}

/* Two contexts of one sandbox run at the same time from two threads (two handles), and two
 * executions sent to ONE context at the same time are serialized: both complete, with
 * consecutive execution counts and their own output. */
static void test_concurrent_executions(void **state)
{
    (void)state;
    harness_target *t = harness_target_start(NULL);
    e2b_sandbox *s = new_sandbox(t);
    e2b_sandbox *s2 = second_handle(t, s);
    const char *a = new_context(s, "python");
    const char *b = new_context(s, "python");
    bg_run *ra = bg_start(s, "import time\ntime.sleep(1)\nprint('in a')\n'a'", a);
    bg_run *rb = bg_start(s2, "import time\ntime.sleep(1)\nprint('in b')\n'b'", b);
    bg_join(ra);
    bg_join(rb);
    harness_assert_ok(ra->rc, &ra->err, "run in a");
    harness_assert_ok(rb->rc, &rb->err, "run in b");
    assert_string_equal(stdout_of(ra->ex), "in a\n");
    assert_string_equal(stdout_of(rb->ex), "in b\n");
    assert_string_equal(ra->ex->text, "a");
    assert_string_equal(rb->ex->text, "b");

    bg_run *r1 = bg_start(s, "import time\ntime.sleep(0.5)\nprint('one')", a);
    bg_run *r2 = bg_start(s2, "import time\ntime.sleep(0.5)\nprint('two')", a);
    bg_join(r1);
    bg_join(r2);
    harness_assert_ok(r1->rc, &r1->err, "first run in a");
    harness_assert_ok(r2->rc, &r2->err, "second run in a");
    assert_null(r1->ex->error);
    assert_null(r2->ex->error);
    assert_string_equal(stdout_of(r1->ex), "one\n");
    assert_string_equal(stdout_of(r2->ex), "two\n");
    int lo = r1->ex->execution_count < r2->ex->execution_count ? r1->ex->execution_count
                                                               : r2->ex->execution_count;
    int hi = r1->ex->execution_count ^ r2->ex->execution_count ^ lo;
    if (lo != 2 || hi != 3)
        fail_msg("execution counts in context a are %d and %d, expected 2 and 3 (serialized)",
                 r1->ex->execution_count, r2->ex->execution_count);
}

/* Restarting a context while it runs ends that execution with a ContextRestarting error
 * (a complete stream, not a call failure); the context then works with fresh state. */
static void test_restart_during_execution(void **state)
{
    (void)state;
    harness_target *t = harness_target_start(NULL);
    e2b_sandbox *s = new_sandbox(t);
    e2b_sandbox *s2 = second_handle(t, s);
    const char *a = new_context(s, "python");
    e2b_error err = {0};
    e2b_execution *ex = NULL;
    e2b_run_opts o;
    e2b_run_opts_init(&o);
    o.context_id = a;
    harness_assert_ok(e2b_run_code(s, "x = 1", &o, &ex, &err), &err, "x = 1 in a");
    e2b_execution_free(ex);
    ex = NULL;

    bg_run *r = bg_start(s, "print('running', flush=True)\nimport time\ntime.sleep(60)", a);
    bg_wait_output(r);
    int64_t t0 = harness_now_ms();
    e2b_code rc = e2b_context_restart(s2, a, &err);
    bg_join(r);
    harness_assert_ok(rc, &err, "restart while running");
    if (harness_now_ms() - t0 > 30000)
        fail_msg("the running execution took more than 30 s to end after the restart");
    harness_assert_ok(r->rc, &r->err, "the interrupted execution");
    assert_non_null(r->ex->error);
    assert_string_equal(r->ex->error->name, "ContextRestarting");
    assert_true(r->ex->completed);
    assert_string_equal(stdout_of(r->ex), "running\n");

    harness_assert_ok(e2b_run_code(s, "x", &o, &ex, &err), &err, "x after restart");
    harness_defer(defer_execution_free, ex);
    assert_non_null(ex->error);
    assert_string_equal(ex->error->name, "NameError");
}

/* Removing a context while it runs ends that execution (ExecutionAborted in e2b-mock) with
 * a complete stream; killing the sandbox while code runs makes the call return promptly
 * with either an execution error or a typed call error - never a silent success or a hang. */
static void test_remove_and_kill_during_execution(void **state)
{
    (void)state;
    harness_target *t = harness_target_start(NULL);
    e2b_sandbox *s = new_sandbox(t);
    e2b_sandbox *s2 = second_handle(t, s);
    const char *a = new_context(s, "python");
    bg_run *r = bg_start(s, "print('running', flush=True)\nimport time\ntime.sleep(60)", a);
    bg_wait_output(r);
    e2b_error err = {0};
    e2b_code rc = e2b_context_remove(s2, a, &err);
    bg_join(r); /* before any assertion, so no thread outlives the test */
    harness_assert_ok(rc, &err, "remove while running");
    harness_assert_ok(r->rc, &r->err, "the aborted execution");
    assert_non_null(r->ex->error);
    if (!t->live)
        assert_string_equal(r->ex->error->name, "ExecutionAborted");
    assert_true(r->ex->completed);

    const char *b = new_context(s, "python");
    bg_run *k = bg_start(s, "print('running', flush=True)\nimport time\ntime.sleep(60)", b);
    bg_wait_output(k);
    int64_t t0 = harness_now_ms();
    bool killed = false;
    rc = e2b_sandbox_kill(t->client, e2b_sandbox_id(s2), &killed, &err);
    bg_join(k);
    harness_assert_ok(rc, &err, "kill while running");
    assert_true(killed);
    if (harness_now_ms() - t0 > 30000)
        fail_msg("run_code took more than 30 s to return after the sandbox was killed");
    print_message("kill mid-execution: run_code returned %s%s%s\n", e2b_code_name(k->rc),
                  k->rc == E2B_OK && k->ex->error ? " with execution error " : "",
                  k->rc == E2B_OK && k->ex->error ? k->ex->error->name : "");
    if (k->rc == E2B_OK) {
        if (!k->ex->error)
            fail_msg("the sandbox was killed mid-execution but run_code reports a clean "
                     "success (stdout %s)",
                     stdout_of(k->ex));
    } else if (k->rc != E2B_ERR_NETWORK && k->rc != E2B_ERR_PROTOCOL &&
               k->rc != E2B_ERR_SANDBOX_GONE) {
        fail_msg("kill mid-execution: unexpected %s: %s", e2b_code_name(k->rc), k->err.message);
    }
}

/* e2b_client_cancel_all from another thread ends a running execution with
 * E2B_ERR_CANCELLED and the partial output; the server interrupts the cell, so the same
 * context and the same client keep working. */
static void test_cancel_all_during_execution(void **state)
{
    (void)state;
    harness_target *t = harness_target_start(NULL);
    e2b_sandbox *s = new_sandbox(t);
    const char *a = new_context(s, "python");
    e2b_error err = {0};
    e2b_execution *ex = NULL;
    e2b_run_opts o;
    e2b_run_opts_init(&o);
    o.context_id = a;
    harness_assert_ok(e2b_run_code(s, "kept = 'yes'", &o, &ex, &err), &err, "kept = 'yes'");
    e2b_execution_free(ex);
    ex = NULL;
    bg_run *r = bg_start(s, "print('spinning', flush=True)\nwhile True: pass", a);
    bg_wait_output(r);
    int64_t t0 = harness_now_ms();
    e2b_client_cancel_all(t->client);
    bg_join(r);
    if (harness_now_ms() - t0 > 10000)
        fail_msg("run_code took more than 10 s to return after e2b_client_cancel_all");
    harness_assert_code(r->rc, E2B_ERR_CANCELLED, &r->err, "the cancelled execution");
    assert_non_null(r->ex);
    assert_string_equal(stdout_of(r->ex), "spinning\n");
    assert_false(r->ex->completed);
    o.timeout_ms = 30000;
    harness_assert_ok(e2b_run_code(s, "kept", &o, &ex, &err), &err, "the same context after");
    harness_defer(defer_execution_free, ex);
    assert_null(ex->error);
    assert_string_equal(ex->text, "yes");
}

static const struct CMUnitTest k_handwritten[] = {
    cmocka_unit_test(test_cancel_all_during_execution),
    cmocka_unit_test(test_concurrent_executions),
    cmocka_unit_test(test_restart_during_execution),
    cmocka_unit_test(test_remove_and_kill_during_execution),
    cmocka_unit_test(test_null_arguments),
    cmocka_unit_test(test_execution_to_json),
};

/* ---- main -------------------------------------------------------------------------------- */

int main(int argc, char **argv)
{
    return harness_fixture_main(argc, argv, "execution", run_fixture, k_handwritten,
                                sizeof k_handwritten / sizeof k_handwritten[0]);
}
