/* files_fixtures.c - the sandbox filesystem conformance suite, driven by fixtures/files.
 *
 * Every JSON file in fixtures/files becomes one cmocka test named after its "name"
 * (E2B_TEST_FILTER / --filter select by fixture). A fixture gets a fresh target (a private
 * e2b-mock, or real E2B with E2B_LIVE=1), ONE sandbox (killed at the end), and runs its steps
 * in order: each step is one e2b/files.h call plus what it must produce. The format is
 * documented in fixtures/README.md ("Files fixture format").
 *
 * Generated content ({"generate": {"bytes": N, "seed": S}}) is produced by a deterministic
 * generator while it is uploaded (e2b_files_write_stream) and checked while it is downloaded
 * (e2b_files_read_to + SHA-256): a 64 MiB case never holds the file in the test's memory.
 */
#include "harness.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef harness_fixture_case fcase;

#define MAX_WATCHES 8
#define MAX_EVENTS 256

typedef struct watch_slot {
    char name[64];
    e2b_watch *w;
    pthread_mutex_t mu;
    size_t n;
    struct {
        char name[256];
        e2b_fs_event_type type;
    } ev[MAX_EVENTS];
} watch_slot;

typedef struct ctx {
    const fcase *fc;
    harness_target *t;
    e2b_sandbox *sbx;
    int step;
    const char *op;
    watch_slot watches[MAX_WATCHES];
    size_t nwatches;
} ctx;

#define FAIL(c, fmt, ...)                                                           \
    fail_msg("%s [%s] step %d (%s): " fmt, (c)->fc->name, (c)->fc->path, (c)->step, \
             (c)->op ? (c)->op : "-", ##__VA_ARGS__)

/* ---- fixture JSON accessors and matchers: conformance/harness (harness_json_*) ---------- */

#define STEP(c) HARNESS_STEP((c)->fc->name, (c)->fc->path, (c)->step, (c)->op)
#define check_keys(c, obj, where, allowed) harness_json_check_keys(STEP(c), obj, where, allowed)
#define jget(o, key) harness_json_get(o, key)
#define jstr(c, o, key) harness_json_str(STEP(c), o, key)
#define jll(c, o, key, def) harness_json_ll(STEP(c), o, key, def)
#define jbool(c, o, key, def) harness_json_bool(STEP(c), o, key, def)
#define match(c, what, m, val, len) harness_json_match(STEP(c), what, m, val, len)

/* ---- content: text, base64, all_bytes N, or generate {bytes, seed} ------------------------ */

typedef struct content {
    const char *text;   /* text (NUL-free) */
    unsigned char *buf; /* decoded/built bytes (deferred free) */
    size_t len;
    bool generated;
    unsigned long long gen_bytes;
    unsigned long long seed;
} content;

/* xorshift64* keyed by seed: the same bytes every run, cheap enough for 64 MiB. */
typedef struct gen {
    unsigned long long state, left;
    EVP_MD_CTX *md;
} gen;

static void gen_init(gen *g, unsigned long long seed, unsigned long long bytes)
{
    g->state = seed * 0x9E3779B97F4A7C15ULL + 0x2545F4914F6CDD1DULL;
    if (!g->state)
        g->state = 1;
    g->left = bytes;
    g->md = NULL;
}

static size_t gen_fill(gen *g, unsigned char *buf, size_t max)
{
    size_t n = g->left < max ? (size_t)g->left : max;
    for (size_t i = 0; i < n; i += 8) {
        g->state ^= g->state >> 12;
        g->state ^= g->state << 25;
        g->state ^= g->state >> 27;
        unsigned long long x = g->state * 0x2545F4914F6CDD1DULL;
        for (size_t k = 0; k < 8 && i + k < n; k++)
            buf[i + k] = (unsigned char)(x >> (8 * k));
    }
    g->left -= n;
    return n;
}

/* Generated sequences must not depend on chunk sizes: fill in multiples of 8 only. */
static size_t gen_source(void *ud, char *buf, size_t max)
{
    gen *g = ud;
    if (max >= 8)
        max &= ~(size_t)7;
    size_t n = gen_fill(g, (unsigned char *)buf, max);
    if (g->md)
        EVP_DigestUpdate(g->md, buf, n);
    return n;
}

static void sha256_hex(const unsigned char dig[32], char out[65])
{
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", dig[i]);
}

/* SHA-256 of a generated content (computed by running the generator). */
static void gen_sha256(unsigned long long seed, unsigned long long bytes, char out[65])
{
    gen g;
    gen_init(&g, seed, bytes);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    static unsigned char buf[1 << 16];
    size_t n;
    while ((n = gen_fill(&g, buf, sizeof buf)) > 0)
        EVP_DigestUpdate(md, buf, n);
    unsigned char dig[32];
    EVP_DigestFinal_ex(md, dig, NULL);
    EVP_MD_CTX_free(md);
    sha256_hex(dig, out);
}

static bool parse_content(ctx *c, const cJSON *o, content *ct)
{
    memset(ct, 0, sizeof *ct);
    const cJSON *v;
    int kinds = 0;
    if ((v = jget(o, "text"))) {
        kinds++;
        if (!cJSON_IsString(v))
            FAIL(c, "\"text\" must be a string");
        ct->text = v->valuestring;
        ct->buf = (unsigned char *)v->valuestring;
        ct->len = strlen(v->valuestring);
    }
    if ((v = jget(o, "base64"))) {
        kinds++;
        if (!cJSON_IsString(v))
            FAIL(c, "\"base64\" must be a string");
        size_t in = strlen(v->valuestring);
        ct->buf = calloc(1, in / 4 * 3 + 4);
        harness_defer(free, ct->buf);
        int n = EVP_DecodeBlock(ct->buf, (const unsigned char *)v->valuestring, (int)in);
        if (n < 0 || in % 4)
            FAIL(c, "\"base64\" is not valid base64");
        while (in && v->valuestring[in - 1] == '=') {
            in--;
            n--;
        }
        ct->len = (size_t)n;
    }
    if ((v = jget(o, "all_bytes"))) {
        kinds++;
        long long reps = jll(c, o, "all_bytes", 1);
        if (reps < 1 || reps > 4096)
            FAIL(c, "\"all_bytes\" must be 1..4096 (repetitions of bytes 0..255)");
        ct->len = (size_t)reps * 256;
        ct->buf = malloc(ct->len);
        harness_defer(free, ct->buf);
        for (size_t i = 0; i < ct->len; i++)
            ct->buf[i] = (unsigned char)(i % 256);
    }
    if ((v = jget(o, "generate"))) {
        kinds++;
        static const char *const gk[] = {"bytes", "seed", NULL};
        check_keys(c, v, "\"generate\"", gk);
        ct->generated = true;
        long long b = jll(c, v, "bytes", -1);
        if (b < 0)
            FAIL(c, "\"generate\" needs \"bytes\" >= 0");
        ct->gen_bytes = (unsigned long long)b;
        ct->seed = (unsigned long long)jll(c, v, "seed", 1);
    }
    if (kinds > 1)
        FAIL(c, "give only one of text, base64, all_bytes, generate");
    return kinds == 1;
}

/* ---- error expectations ----------------------------------------------------------------- */

/* Returns true when the step expected an error (and it came), false when the call must have
 * succeeded (and did). */
static bool check_rc(ctx *c, e2b_code rc, const e2b_error *err, const cJSON *expect)
{
    const char *want = expect ? jstr(c, expect, "error") : NULL;
    if (!want) {
        if (rc != E2B_OK)
            FAIL(c, "failed: %s: %s", e2b_code_name(rc), err->message);
        return false;
    }
    e2b_code code;
    if (!harness_code_from_name(want, &code))
        FAIL(c, "unknown error code name \"%s\"", want);
    if (rc != code || err->code != code)
        FAIL(c, "expected error %s, got %s (%s)", want, e2b_code_name(rc),
             rc ? err->message : "success");
    if (!err->message[0])
        FAIL(c, "error %s has an empty message", want);
    const cJSON *m = jget(expect, "message");
    if (m)
        match(c, "error message", m, err->message, strlen(err->message));
    return true;
}

/* ---- ops ---------------------------------------------------------------------------------- */

static void defer_entry(void *p)
{
    e2b_entry_info_free(p);
}

static void check_entry(ctx *c, const char *what, const e2b_entry_info *e, const cJSON *expect)
{
    const char *s;
    if (!e)
        FAIL(c, "%s: no entry returned", what);
    if ((s = jstr(c, expect, "type")) && strcmp(s, e2b_file_type_name(e->type)))
        FAIL(c, "%s: type %s, expected %s", what, e2b_file_type_name(e->type), s);
    const cJSON *m;
    if ((m = jget(expect, "name")))
        match(c, "entry name", m, e->name, e->name ? strlen(e->name) : 0);
    if ((m = jget(expect, "path")))
        match(c, "entry path", m, e->path, e->path ? strlen(e->path) : 0);
    if (jget(expect, "size") && e->size != jll(c, expect, "size", 0))
        FAIL(c, "%s: size %lld, expected %lld", what, (long long)e->size,
             jll(c, expect, "size", 0));
}

static void op_write(ctx *c, const cJSON *step, const cJSON *expect)
{
    static const char *const keys[] = {"op",        "note",     "path",   "text",   "base64",
                                       "all_bytes", "generate", "stream", "expect", NULL};
    check_keys(c, step, "a write step", keys);
    static const char *const ek[] = {"error", "message", "type", "name", "path", "size", NULL};
    if (expect)
        check_keys(c, expect, "write \"expect\"", ek);
    const char *path = jstr(c, step, "path");
    content ct;
    if (!path || !parse_content(c, step, &ct))
        FAIL(c, "write needs \"path\" and one of text/base64/all_bytes/generate");
    e2b_error err = {0};
    e2b_entry_info *out = NULL;
    e2b_code rc;
    if (ct.generated) {
        gen g;
        gen_init(&g, ct.seed, ct.gen_bytes);
        e2b_files_opts fo = {.timeout_ms = E2B_FILES_NO_TIMEOUT};
        rc = e2b_files_write_stream(c->sbx, path, gen_source, &g, &fo, &out, &err);
        if (rc == E2B_OK && g.left)
            FAIL(c, "the upload ended with %llu generated bytes unsent", g.left);
    } else if (jbool(c, step, "stream", false)) {
        FILE *f = fmemopen(ct.len ? ct.buf : (unsigned char *)"", ct.len ? ct.len : 1, "rb");
        if (!f)
            FAIL(c, "fmemopen failed");
        if (!ct.len)
            fgetc(f);
        rc = e2b_files_write_from_file(c->sbx, path, f, NULL, &out, &err);
        fclose(f);
    } else {
        rc = e2b_files_write(c->sbx, path, ct.buf, ct.len, NULL, &out, &err);
    }
    harness_defer(defer_entry, out);
    if (check_rc(c, rc, &err, expect))
        return;
    if (!out)
        FAIL(c, "no written entry returned");
    if (expect)
        check_entry(c, "written entry", out, expect);
}

static void op_write_many(ctx *c, const cJSON *step, const cJSON *expect)
{
    static const char *const keys[] = {"op", "note", "files", "expect", NULL};
    check_keys(c, step, "a write_many step", keys);
    static const char *const ek[] = {"error", "message", "count", NULL};
    if (expect)
        check_keys(c, expect, "write_many \"expect\"", ek);
    const cJSON *files = jget(step, "files");
    int n = cJSON_GetArraySize(files);
    if (!cJSON_IsArray(files) || n < 1)
        FAIL(c, "write_many needs a non-empty \"files\" array");
    e2b_write_entry *we = calloc((size_t)n, sizeof *we);
    harness_defer(free, we);
    int i = 0;
    for (const cJSON *f = files->child; f; f = f->next, i++) {
        static const char *const fk[] = {"path", "text", "base64", "all_bytes", NULL};
        check_keys(c, f, "a write_many file", fk);
        content ct;
        we[i].path = jstr(c, f, "path");
        if (!we[i].path || !parse_content(c, f, &ct) || ct.generated)
            FAIL(c, "each write_many file needs \"path\" and text/base64/all_bytes");
        we[i].data = ct.buf;
        we[i].len = ct.len;
    }
    e2b_error err = {0};
    e2b_entry_info *out = NULL;
    size_t out_len = 0;
    e2b_code rc = e2b_files_write_many(c->sbx, we, (size_t)n, NULL, &out, &out_len, &err);
    if (check_rc(c, rc, &err, expect)) {
        e2b_entry_infos_free(out, out_len);
        return;
    }
    size_t want = expect && jget(expect, "count") ? (size_t)jll(c, expect, "count", 0) : (size_t)n;
    size_t got = out_len;
    for (size_t k = 0; k < out_len; k++)
        if (out[k].type != E2B_FILE_TYPE_FILE && out[k].type != E2B_FILE_TYPE_UNKNOWN)
            got = (size_t)-1;
    e2b_entry_infos_free(out, out_len);
    if (got != want)
        FAIL(c, "write_many returned %zu entries (or a non-file), expected %zu", out_len, want);
}

typedef struct sink_state {
    EVP_MD_CTX *md;
    size_t len;
    unsigned char *keep; /* first keep_cap bytes for text/bytes checks */
    size_t keep_cap;
} sink_state;

static e2b_code sha_sink(void *ud, const char *data, size_t n, e2b_error *err)
{
    (void)err;
    sink_state *s = ud;
    EVP_DigestUpdate(s->md, data, n);
    if (s->len < s->keep_cap) {
        size_t k = s->keep_cap - s->len < n ? s->keep_cap - s->len : n;
        memcpy(s->keep + s->len, data, k);
    }
    s->len += n;
    return E2B_OK;
}

static void op_read(ctx *c, const cJSON *step, const cJSON *expect)
{
    static const char *const keys[] = {"op", "note", "path", "stream", "expect", NULL};
    check_keys(c, step, "a read step", keys);
    static const char *const ek[] = {"error",    "message", "text", "base64", "all_bytes",
                                     "generate", "sha256",  "size", NULL};
    if (expect)
        check_keys(c, expect, "read \"expect\"", ek);
    const char *path = jstr(c, step, "path");
    if (!path)
        FAIL(c, "read needs \"path\"");
    content want;
    bool has_content = expect && parse_content(c, expect, &want);
    bool stream = jbool(c, step, "stream", false) || (has_content && want.generated) ||
                  (expect && jget(expect, "sha256"));
    e2b_error err = {0};
    char *data = NULL;
    size_t len = 0;
    char hex[65] = "";
    e2b_code rc;
    if (stream) {
        /* streamed: SHA-256 on the fly, only the first 1 MiB kept for byte comparisons */
        sink_state s = {.md = EVP_MD_CTX_new(), .keep_cap = 1 << 20};
        s.keep = malloc(s.keep_cap + 1);
        harness_defer(free, s.keep);
        EVP_DigestInit_ex(s.md, EVP_sha256(), NULL);
        e2b_files_opts fo = {.timeout_ms = E2B_FILES_NO_TIMEOUT};
        rc = e2b_files_read_to(c->sbx, path, &fo, sha_sink, &s, &err);
        unsigned char dig[32];
        EVP_DigestFinal_ex(s.md, dig, NULL);
        EVP_MD_CTX_free(s.md);
        sha256_hex(dig, hex);
        data = (char *)s.keep;
        len = s.len;
        if (len > s.keep_cap && has_content && !want.generated)
            FAIL(c, "streamed read of %zu bytes is too large for a byte comparison", len);
        data[len < s.keep_cap ? len : s.keep_cap] = '\0';
    } else {
        rc = e2b_files_read(c->sbx, path, NULL, &data, &len, &err);
        harness_defer(free, data);
        if (rc != E2B_OK && data)
            FAIL(c, "*data must be NULL on error");
    }
    if (check_rc(c, rc, &err, expect))
        return;
    if (!data)
        FAIL(c, "no data returned");
    if (has_content && want.generated) {
        char wh[65];
        gen_sha256(want.seed, want.gen_bytes, wh);
        if (len != want.gen_bytes || strcmp(wh, hex))
            FAIL(c, "read %zu bytes sha256 %s, expected %llu bytes sha256 %s", len, hex,
                 want.gen_bytes, wh);
    } else if (has_content) {
        if (len != want.len || memcmp(data, want.buf, len)) {
            size_t i = 0;
            while (i < len && i < want.len && (unsigned char)data[i] == want.buf[i])
                i++;
            FAIL(c, "read %zu bytes, expected %zu; first difference at byte %zu", len, want.len, i);
        }
    }
    const char *sha = expect ? jstr(c, expect, "sha256") : NULL;
    if (sha && strcmp(sha, hex))
        FAIL(c, "sha256 %s, expected %s", hex, sha);
    if (expect && jget(expect, "size") && (long long)len != jll(c, expect, "size", 0))
        FAIL(c, "read %zu bytes, expected %lld", len, jll(c, expect, "size", 0));
}

typedef struct infos_rec {
    e2b_entry_info *v;
    size_t n;
} infos_rec;

static void defer_infos(void *p)
{
    infos_rec *r = p;
    e2b_entry_infos_free(r->v, r->n);
    free(r);
}

/* The listed entry's path relative to the listed directory (entry paths are absolute). */
static const char *rel_path(const e2b_entry_info *e, const char *base_abs)
{
    size_t bl = strlen(base_abs);
    if (e->path && !strncmp(e->path, base_abs, bl) && e->path[bl] == '/')
        return e->path + bl + 1;
    return e->name ? e->name : "";
}

static void op_list(ctx *c, const cJSON *step, const cJSON *expect)
{
    static const char *const keys[] = {"op", "note", "path", "depth", "expect", NULL};
    check_keys(c, step, "a list step", keys);
    static const char *const ek[] = {"error",    "message", "entries", "contains",
                                     "excludes", "count",   NULL};
    if (expect)
        check_keys(c, expect, "list \"expect\"", ek);
    const char *path = jstr(c, step, "path");
    if (!path)
        FAIL(c, "list needs \"path\"");
    int depth = (int)jll(c, step, "depth", 1);
    e2b_error err = {0};
    infos_rec *r = calloc(1, sizeof *r);
    e2b_code rc = e2b_files_list(c->sbx, path, depth, NULL, &r->v, &r->n, &err);
    harness_defer(defer_infos, r);
    if (check_rc(c, rc, &err, expect))
        return;
    /* the absolute form of the listed directory, from stat */
    e2b_entry_info *st = NULL;
    harness_assert_ok(e2b_files_stat(c->sbx, path, NULL, &st, &err), &err, "stat of listed dir");
    harness_defer(defer_entry, st);
    if (!st->path)
        FAIL(c, "stat of %s has no path", path);
    for (size_t i = 0; i < r->n; i++) {
        if (!r->v[i].name || !r->v[i].path)
            FAIL(c, "listed entry %zu has no name or path", i);
        const char *rp = rel_path(&r->v[i], st->path);
        int levels = 1;
        for (const char *p = rp; *p; p++)
            levels += *p == '/';
        if (levels > depth)
            FAIL(c, "%s is %d levels deep, listed with depth %d", rp, levels, depth);
        for (size_t j = 0; j < i; j++)
            if (!strcmp(r->v[j].path, r->v[i].path))
                FAIL(c, "%s listed twice", r->v[i].path);
    }
    if (!expect)
        return;
    const cJSON *ents = jget(expect, "entries");
    if (ents) {
        if (!cJSON_IsObject(ents))
            FAIL(c, "\"entries\" must be {relative path: type}");
        if ((size_t)cJSON_GetArraySize(ents) != r->n) {
            char got[2048] = "";
            for (size_t i = 0; i < r->n; i++) {
                strncat(got, rel_path(&r->v[i], st->path), sizeof got - strlen(got) - 2);
                strncat(got, " ", sizeof got - strlen(got) - 1);
            }
            FAIL(c, "listed %zu entries [%s], expected %d", r->n, got, cJSON_GetArraySize(ents));
        }
        for (const cJSON *e = ents->child; e; e = e->next) {
            size_t i = 0;
            while (i < r->n && strcmp(rel_path(&r->v[i], st->path), e->string))
                i++;
            if (i == r->n)
                FAIL(c, "%s is not listed", e->string);
            if (!cJSON_IsString(e) || strcmp(e->valuestring, e2b_file_type_name(r->v[i].type)))
                FAIL(c, "%s is a %s, expected %s", e->string, e2b_file_type_name(r->v[i].type),
                     cJSON_IsString(e) ? e->valuestring : "?");
        }
    }
    const cJSON *lst;
    if ((lst = jget(expect, "contains")))
        for (const cJSON *e = lst->child; e; e = e->next) {
            size_t i = 0;
            while (i < r->n && strcmp(rel_path(&r->v[i], st->path), e->valuestring))
                i++;
            if (i == r->n)
                FAIL(c, "%s is not listed", e->valuestring);
        }
    if ((lst = jget(expect, "excludes")))
        for (const cJSON *e = lst->child; e; e = e->next)
            for (size_t i = 0; i < r->n; i++)
                if (!strcmp(rel_path(&r->v[i], st->path), e->valuestring))
                    FAIL(c, "%s is listed", e->valuestring);
    if (jget(expect, "count") && (long long)r->n != jll(c, expect, "count", 0))
        FAIL(c, "listed %zu entries, expected %lld", r->n, jll(c, expect, "count", 0));
}

static void op_stat(ctx *c, const cJSON *step, const cJSON *expect)
{
    static const char *const keys[] = {"op", "note", "path", "expect", NULL};
    check_keys(c, step, "a stat step", keys);
    static const char *const ek[] = {"error", "message", "type", "name", "path", "size", NULL};
    if (expect)
        check_keys(c, expect, "stat \"expect\"", ek);
    const char *path = jstr(c, step, "path");
    e2b_error err = {0};
    e2b_entry_info *e = NULL;
    e2b_code rc = e2b_files_stat(c->sbx, path, NULL, &e, &err);
    harness_defer(defer_entry, e);
    if (check_rc(c, rc, &err, expect))
        return;
    if (!e->path || !e->name || e->path[0] != '/')
        FAIL(c, "stat entry without a name or an absolute path");
    if (expect)
        check_entry(c, "stat", e, expect);
}

static void op_exists(ctx *c, const cJSON *step, const cJSON *expect)
{
    static const char *const keys[] = {"op", "note", "path", "expect", NULL};
    check_keys(c, step, "an exists step", keys);
    static const char *const ek[] = {"error", "message", "exists", NULL};
    if (!expect || (!jget(expect, "exists") && !jget(expect, "error")))
        FAIL(c, "exists needs \"expect\": {\"exists\": true|false}");
    check_keys(c, expect, "exists \"expect\"", ek);
    bool ex = !jbool(c, expect, "exists", false);
    e2b_error err = {0};
    e2b_code rc = e2b_files_exists(c->sbx, jstr(c, step, "path"), NULL, &ex, &err);
    if (check_rc(c, rc, &err, expect))
        return;
    if (ex != jbool(c, expect, "exists", false))
        FAIL(c, "exists is %s", ex ? "true" : "false");
}

static void op_make_dir(ctx *c, const cJSON *step, const cJSON *expect)
{
    static const char *const keys[] = {"op", "note", "path", "expect", NULL};
    check_keys(c, step, "a make_dir step", keys);
    static const char *const ek[] = {"error", "message", "created", NULL};
    if (expect)
        check_keys(c, expect, "make_dir \"expect\"", ek);
    bool created = expect && jget(expect, "created") ? !jbool(c, expect, "created", true) : false;
    e2b_error err = {0};
    e2b_code rc = e2b_files_make_dir(c->sbx, jstr(c, step, "path"), NULL, &created, &err);
    if (check_rc(c, rc, &err, expect))
        return;
    if (expect && jget(expect, "created") && created != jbool(c, expect, "created", true))
        FAIL(c, "created is %s", created ? "true" : "false");
}

static void op_rename(ctx *c, const cJSON *step, const cJSON *expect)
{
    static const char *const keys[] = {"op", "note", "from", "to", "expect", NULL};
    check_keys(c, step, "a rename step", keys);
    static const char *const ek[] = {"error", "message", "type", "name", "path", "size", NULL};
    if (expect)
        check_keys(c, expect, "rename \"expect\"", ek);
    e2b_error err = {0};
    e2b_entry_info *e = NULL;
    e2b_code rc = e2b_files_rename(c->sbx, jstr(c, step, "from"), jstr(c, step, "to"), NULL, &e,
                                   &err);
    harness_defer(defer_entry, e);
    if (check_rc(c, rc, &err, expect))
        return;
    if (expect)
        check_entry(c, "renamed entry", e, expect);
}

static void op_remove(ctx *c, const cJSON *step, const cJSON *expect)
{
    static const char *const keys[] = {"op", "note", "path", "expect", NULL};
    check_keys(c, step, "a remove step", keys);
    static const char *const ek[] = {"error", "message", NULL};
    if (expect)
        check_keys(c, expect, "remove \"expect\"", ek);
    e2b_error err = {0};
    e2b_code rc = e2b_files_remove(c->sbx, jstr(c, step, "path"), NULL, &err);
    check_rc(c, rc, &err, expect);
}

/* ---- watches ------------------------------------------------------------------------------ */

static e2b_code on_event(void *ud, const e2b_fs_event *ev)
{
    watch_slot *w = ud;
    pthread_mutex_lock(&w->mu);
    if (w->n < MAX_EVENTS) {
        snprintf(w->ev[w->n].name, sizeof w->ev[w->n].name, "%s", ev->name ? ev->name : "");
        w->ev[w->n].type = ev->type;
        w->n++;
    }
    pthread_mutex_unlock(&w->mu);
    return E2B_OK;
}

static void defer_watch(void *p)
{
    e2b_watch_free(p);
}

static watch_slot *find_watch(ctx *c, const char *name)
{
    if (!name)
        FAIL(c, "\"watch\" (the watch's save_as name) is required");
    for (size_t i = 0; i < c->nwatches; i++)
        if (!strcmp(c->watches[i].name, name))
            return &c->watches[i];
    FAIL(c, "no watch named \"%s\" (start it with watch_start + save_as)", name);
    return NULL;
}

static void op_watch_start(ctx *c, const cJSON *step, const cJSON *expect)
{
    static const char *const keys[] = {"op",      "note",   "path", "recursive",
                                       "save_as", "expect", NULL};
    check_keys(c, step, "a watch_start step", keys);
    const char *name = jstr(c, step, "save_as");
    if (!expect && (!name || strlen(name) >= sizeof c->watches[0].name))
        FAIL(c, "watch_start needs \"save_as\" (a short name)");
    if (c->nwatches == MAX_WATCHES)
        FAIL(c, "at most %d watches", MAX_WATCHES);
    watch_slot *w = &c->watches[c->nwatches];
    snprintf(w->name, sizeof w->name, "%s", name ? name : "");
    e2b_watch_opts wo = {
        .recursive = jbool(c, step, "recursive", false), .on_event = on_event, .ud = w};
    e2b_error err = {0};
    e2b_code rc = e2b_files_watch_dir(c->sbx, jstr(c, step, "path"), &wo, &w->w, &err);
    if (check_rc(c, rc, &err, expect))
        return;
    harness_defer(defer_watch, w->w);
    c->nwatches++;
}

static bool has_event(watch_slot *w, const char *type, const char *name)
{
    bool found = false;
    pthread_mutex_lock(&w->mu);
    for (size_t i = 0; i < w->n && !found; i++)
        found = !strcmp(e2b_fs_event_type_name(w->ev[i].type), type) &&
                !strcmp(w->ev[i].name, name);
    pthread_mutex_unlock(&w->mu);
    return found;
}

static void op_watch_expect(ctx *c, const cJSON *step)
{
    static const char *const keys[] = {"op",         "note",      "watch", "events",
                                       "not_events", "within_ms", "stop",  NULL};
    check_keys(c, step, "a watch_expect step", keys);
    watch_slot *w = find_watch(c, jstr(c, step, "watch"));
    long long within = jll(c, step, "within_ms", 10000);
    const cJSON *evs = jget(step, "events"), *nevs = jget(step, "not_events");
    int64_t deadline = harness_now_ms() + within;
    for (const cJSON *e = evs ? evs->child : NULL; e; e = e->next) {
        const char *type = jstr(c, e, "type"), *name = jstr(c, e, "name");
        if (!type || !name)
            FAIL(c, "each event needs \"type\" and \"name\"");
        while (!has_event(w, type, name) && harness_now_ms() < deadline)
            usleep(20 * 1000);
        if (!has_event(w, type, name)) {
            char got[2048] = "";
            pthread_mutex_lock(&w->mu);
            for (size_t i = 0; i < w->n; i++)
                snprintf(got + strlen(got), sizeof got - strlen(got), "%s:%s ",
                         e2b_fs_event_type_name(w->ev[i].type), w->ev[i].name);
            pthread_mutex_unlock(&w->mu);
            FAIL(c, "no %s event for \"%s\" within %lld ms; got [%s]", type, name, within, got);
        }
    }
    if (nevs) {
        /* negative expectations: give stray events a moment to arrive first */
        usleep(300 * 1000);
        for (const cJSON *e = nevs->child; e; e = e->next) {
            const char *type = jstr(c, e, "type"), *name = jstr(c, e, "name");
            if (type && name && has_event(w, type, name))
                FAIL(c, "unexpected %s event for \"%s\"", type, name);
        }
    }
    if (jbool(c, step, "stop", false)) {
        e2b_watch_stop(w->w);
        e2b_error err = {0};
        harness_assert_ok(e2b_watch_wait(w->w, &err), &err, "watch ended with an error");
    }
}

/* ---- runner ------------------------------------------------------------------------------- */

static void ctx_free(void *p)
{
    ctx *c = p;
    for (size_t i = 0; i < MAX_WATCHES; i++)
        pthread_mutex_destroy(&c->watches[i].mu);
    free(c);
}

static void run_fixture(void **state)
{
    const fcase *fc = *state;
    if (!fc->root)
        fail_msg("%s", fc->load_error);
    ctx *c = calloc(1, sizeof *c);
    assert_non_null(c);
    c->fc = fc;
    for (size_t i = 0; i < MAX_WATCHES; i++)
        pthread_mutex_init(&c->watches[i].mu, NULL);
    harness_defer(ctx_free, c);
    const cJSON *steps = harness_fixture_begin(fc, &c->t, &c->sbx);
    for (const cJSON *s = steps->child; s; s = s->next) {
        c->step++;
        c->op = jstr(c, s, "op");
        const cJSON *expect = jget(s, "expect");
        if (!c->op)
            FAIL(c, "every step needs \"op\"");
        if (!strcmp(c->op, "write"))
            op_write(c, s, expect);
        else if (!strcmp(c->op, "write_many"))
            op_write_many(c, s, expect);
        else if (!strcmp(c->op, "read"))
            op_read(c, s, expect);
        else if (!strcmp(c->op, "list"))
            op_list(c, s, expect);
        else if (!strcmp(c->op, "stat"))
            op_stat(c, s, expect);
        else if (!strcmp(c->op, "exists"))
            op_exists(c, s, expect);
        else if (!strcmp(c->op, "make_dir"))
            op_make_dir(c, s, expect);
        else if (!strcmp(c->op, "rename"))
            op_rename(c, s, expect);
        else if (!strcmp(c->op, "remove"))
            op_remove(c, s, expect);
        else if (!strcmp(c->op, "watch_start"))
            op_watch_start(c, s, expect);
        else if (!strcmp(c->op, "watch_expect"))
            op_watch_expect(c, s);
        else
            FAIL(c, "unknown op \"%s\"", c->op);
    }
}

int main(int argc, char **argv)
{
    return harness_fixture_main(argc, argv, "files", run_fixture, NULL, 0);
}
