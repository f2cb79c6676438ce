/* unit_agent_fixtures.c - runs every case of the fixtures/agent JSON files (format:
 * fixtures/agent/README.md) against the agent core of libe2b (e2b/agent.h). Each case is
 * its own cmocka test named "<file>: <case name>". Code cases are also run byte by byte
 * and split in two at every position. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include "e2b/agent.h"

/* ---- helpers ------------------------------------------------------------------------ */

static const cJSON *get(const cJSON *o, const char *key)
{
    return cJSON_GetObjectItemCaseSensitive(o, key);
}

static const char *get_str(const cJSON *o, const char *key)
{
    const cJSON *v = get(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static const char *case_message(const cJSON *c, size_t *len)
{
    const char *m = get_str(c, "message");
    assert_non_null(m);
    *len = strlen(m);
    return m;
}

/* ---- code cases --------------------------------------------------------------------- */

static void expect_code(const e2b_agent_code *got, const cJSON *exp)
{
    const char *src = get_str(exp, "source");
    assert_non_null(src);
    assert_string_equal(e2b_agent_source_name(got->source), src);
    const cJSON *trig = get(exp, "trigger");
    assert_non_null(trig); /* every case states its trigger (null or a word) */
    if (cJSON_IsNull(trig))
        assert_null(got->trigger);
    else
        assert_string_equal(got->trigger ? got->trigger : "(null)", trig->valuestring);
    const cJSON *blocks = get(exp, "blocks");
    assert_true(cJSON_IsArray(blocks));
    assert_int_equal(got->count, (size_t)cJSON_GetArraySize(blocks));
    size_t i = 0;
    const cJSON *b;
    cJSON_ArrayForEach(b, blocks)
    {
        const e2b_agent_block *g = &got->blocks[i++];
        const char *lang = get_str(b, "language"), *code = get_str(b, "code");
        assert_non_null(lang);
        assert_non_null(code);
        assert_string_equal(e2b_agent_lang_name(g->lang), lang);
        assert_string_equal(g->code, code);
        assert_int_equal(g->code_len, strlen(code));
        assert_int_equal(g->source, got->source);
        const char *tag = get_str(b, "tag");
        if (tag)
            assert_string_equal(g->tag, tag);
        const cJSON *det = get(b, "detected");
        if (det)
            assert_int_equal(g->lang_detected, cJSON_IsTrue(det));
        const cJSON *unt = get(b, "unterminated");
        if (unt)
            assert_int_equal(g->unterminated, cJSON_IsTrue(unt));
        else
            assert_false(g->unterminated);
    }
}

static void assert_same_code(const e2b_agent_code *a, const e2b_agent_code *b)
{
    assert_int_equal(a->count, b->count);
    assert_int_equal(a->source, b->source);
    assert_ptr_equal(a->trigger, b->trigger);
    for (size_t i = 0; i < a->count; i++) {
        assert_int_equal(a->blocks[i].lang, b->blocks[i].lang);
        assert_string_equal(a->blocks[i].tag, b->blocks[i].tag);
        assert_int_equal(a->blocks[i].code_len, b->blocks[i].code_len);
        assert_memory_equal(a->blocks[i].code, b->blocks[i].code, a->blocks[i].code_len);
        assert_int_equal(a->blocks[i].lang_detected, b->blocks[i].lang_detected);
        assert_int_equal(a->blocks[i].unterminated, b->blocks[i].unterminated);
        assert_int_equal(a->blocks[i].source, b->blocks[i].source);
    }
}

/* Feeds msg in pieces: every `step` bytes, or split once at `split` when step is 0. */
static void scan_pieces(const char *msg, size_t len, size_t step, size_t split, e2b_agent_code *out)
{
    e2b_agent_scanner *sc = NULL;
    assert_int_equal(e2b_agent_scanner_new(&sc, NULL), E2B_OK);
    const uint8_t *p = (const uint8_t *)msg;
    if (step) {
        for (size_t off = 0; off < len; off += step) {
            size_t n = len - off < step ? len - off : step;
            assert_int_equal(e2b_agent_scanner_feed(sc, p + off, n, NULL), E2B_OK);
        }
    } else {
        assert_int_equal(e2b_agent_scanner_feed(sc, p, split, NULL), E2B_OK);
        assert_int_equal(e2b_agent_scanner_feed(sc, p + split, len - split, NULL), E2B_OK);
    }
    e2b_error err;
    assert_int_equal(e2b_agent_scanner_finish(sc, out, &err), E2B_OK);
    e2b_agent_scanner_free(sc);
}

static void run_code_case(const cJSON *c)
{
    size_t len;
    const char *msg = case_message(c, &len);
    e2b_agent_code ref;
    e2b_error err;
    assert_int_equal(e2b_agent_extract_code((const uint8_t *)msg, len, &ref, &err), E2B_OK);
    expect_code(&ref, get(c, "expect"));
    assert_int_equal(e2b_agent_code_wants_execution(&ref), ref.count > 0 || ref.trigger);

    e2b_agent_code got;
    scan_pieces(msg, len, 1, 0, &got); /* byte by byte */
    assert_same_code(&ref, &got);
    e2b_agent_code_free(&got);
    for (size_t k = 0; k <= len; k++) { /* every split point */
        scan_pieces(msg, len, 0, k, &got);
        assert_same_code(&ref, &got);
        e2b_agent_code_free(&got);
    }
    e2b_agent_code_free(&ref);
}

/* ---- intent cases ------------------------------------------------------------------- */

static void run_intent_case(const cJSON *c)
{
    size_t len;
    const char *msg = case_message(c, &len);
    const cJSON *exp = get(c, "expect");
    e2b_agent_intent in;
    e2b_error err;
    e2b_code rc = e2b_agent_parse_intent((const uint8_t *)msg, len, &in, &err);
    const char *want_err = get_str(exp, "error");
    assert_string_equal(e2b_code_name(rc), want_err ? want_err : e2b_code_name(E2B_OK));
    if (rc != E2B_OK)
        assert_true(err.message[0] != '\0');
    const char *kind = get_str(exp, "intent");
    assert_non_null(kind);
    assert_string_equal(e2b_agent_intent_name(in.kind), kind);
    if (in.kind == E2B_INTENT_UNKNOWN)
        assert_non_null(in.reason);
    else
        assert_null(in.reason);
    const cJSON *v;
    if ((v = get(exp, "timeout_s")))
        assert_int_equal(in.timeout_s, (long)v->valuedouble);
    if ((v = get(exp, "template")))
        assert_string_equal(in.template_name, v->valuestring);
    if ((v = get(exp, "mentions_sandbox")))
        assert_int_equal(in.mentions_sandbox, cJSON_IsTrue(v));
    if ((v = get(exp, "target")))
        assert_string_equal(e2b_agent_kill_target_name(in.target), v->valuestring);
    else if (in.kind != E2B_INTENT_KILL)
        assert_int_equal(in.target, E2B_KILL_NONE);
    if ((v = get(exp, "sandbox_id")))
        assert_string_equal(in.sandbox_id, v->valuestring);
    if ((v = get(exp, "metadata"))) {
        assert_int_equal(in.metadata_len, (size_t)cJSON_GetArraySize(v));
        const cJSON *kv;
        cJSON_ArrayForEach(kv, v)
        {
            size_t k = 0;
            while (k < in.metadata_len && strcmp(in.metadata[k].key, kv->string) != 0)
                k++;
            if (k == in.metadata_len)
                fail_msg("metadata key %s missing", kv->string);
            assert_string_equal(in.metadata[k].value, kv->valuestring);
        }
    }
}

/* ---- format cases ------------------------------------------------------------------- */

/* String array of a JSON array (pointers into the JSON), or NULL for a missing one. */
static const char **str_list(const cJSON *arr, size_t *n)
{
    *n = 0;
    if (!cJSON_IsArray(arr))
        return NULL;
    size_t cnt = (size_t)cJSON_GetArraySize(arr);
    const char **list = calloc(cnt + 1, sizeof *list);
    assert_non_null(list);
    const cJSON *s;
    cJSON_ArrayForEach(s, arr) list[(*n)++] = s->valuestring;
    return list;
}

static void json_subset(const cJSON *want, const cJSON *got, const char *path)
{
    if (!got)
        fail_msg("%s: missing in the reply JSON", path);
    char sub[512];
    if (cJSON_IsObject(want)) {
        if (!cJSON_IsObject(got))
            fail_msg("%s: not an object", path);
        const cJSON *w;
        cJSON_ArrayForEach(w, want)
        {
            snprintf(sub, sizeof sub, "%s.%s", path, w->string);
            json_subset(w, get(got, w->string), sub);
        }
    } else if (cJSON_IsArray(want)) {
        if (!cJSON_IsArray(got) || cJSON_GetArraySize(got) != cJSON_GetArraySize(want))
            fail_msg("%s: not an array of %d items", path, cJSON_GetArraySize(want));
        for (int i = 0; i < cJSON_GetArraySize(want); i++) {
            snprintf(sub, sizeof sub, "%s[%d]", path, i);
            json_subset(cJSON_GetArrayItem(want, i), cJSON_GetArrayItem(got, i), sub);
        }
    } else if (!cJSON_Compare(want, got, true)) {
        char *g = cJSON_PrintUnformatted(got), *w = cJSON_PrintUnformatted(want);
        print_error("%s: got %s, want %s\n", path, g, w);
        cJSON_free(g);
        cJSON_free(w);
        fail();
    }
}

/* Sandbox infos of a JSON array (strings point into the JSON); *kvs holds the metadata
 * arrays to free with free_sandboxes. */
static e2b_agent_sandbox_info *load_sandboxes(const cJSON *sbx, size_t *ns, e2b_kv ***kvs_out)
{
    *ns = cJSON_IsArray(sbx) ? (size_t)cJSON_GetArraySize(sbx) : 0;
    e2b_agent_sandbox_info *si = calloc(*ns + 1, sizeof *si);
    e2b_kv **kvs = calloc(*ns + 1, sizeof *kvs);
    assert_non_null(si);
    assert_non_null(kvs);
    for (size_t k = 0; k < *ns; k++) {
        const cJSON *s = cJSON_GetArrayItem(sbx, (int)k);
        si[k].sandbox_id = get_str(s, "sandbox_id");
        si[k].template_id = get_str(s, "template_id");
        si[k].active = cJSON_IsTrue(get(s, "active"));
        const cJSON *v;
        if ((v = get(s, "started_at_ms")))
            si[k].started_at_ms = (int64_t)v->valuedouble;
        if ((v = get(s, "last_activity_ms")))
            si[k].last_activity_ms = (int64_t)v->valuedouble;
        const cJSON *md = get(s, "metadata");
        if (md) {
            kvs[k] = calloc((size_t)cJSON_GetArraySize(md) + 1, sizeof **kvs);
            assert_non_null(kvs[k]);
            const cJSON *kv;
            cJSON_ArrayForEach(kv, md)
            {
                kvs[k][si[k].metadata_len].key = kv->string;
                kvs[k][si[k].metadata_len++].value = kv->valuestring;
            }
            si[k].metadata = kvs[k];
        }
    }
    *kvs_out = kvs;
    return si;
}

static void free_sandboxes(e2b_agent_sandbox_info *si, size_t ns, e2b_kv **kvs)
{
    for (size_t k = 0; k < ns; k++)
        free(kvs[k]);
    free(kvs);
    free(si);
}

static void run_sandbox_list_case(const cJSON *c)
{
    size_t ns;
    e2b_kv **kvs;
    e2b_agent_sandbox_info *si = load_sandboxes(get(c, "sandboxes"), &ns, &kvs);
    const cJSON *now = get(c, "now_ms");
    assert_non_null(now);
    char *text = NULL;
    assert_int_equal(e2b_agent_format_sandbox_list(si, ns, (int64_t)now->valuedouble, &text, NULL),
                     E2B_OK);
    const char *want = get_str(get(c, "expect"), "text");
    assert_non_null(want);
    assert_string_equal(text, want);
    free(text);
    free_sandboxes(si, ns, kvs);
}

static void run_format_case(const cJSON *c)
{
    const cJSON *results = get(c, "results"), *exp = get(c, "expect");
    assert_true(cJSON_IsArray(results));
    size_t n = (size_t)cJSON_GetArraySize(results);
    e2b_agent_exec_result *rs = calloc(n + 1, sizeof *rs);
    const char ***lists = calloc(3 * n + 1, sizeof *lists);
    assert_non_null(rs);
    assert_non_null(lists);
    size_t i = 0;
    const cJSON *r;
    cJSON_ArrayForEach(r, results)
    {
        e2b_agent_exec_result *x = &rs[i];
        x->language = get_str(r, "language");
        x->code = get_str(r, "code");
        x->text = get_str(r, "text");
        lists[3 * i] = str_list(get(r, "stdout"), &x->stdout_count);
        lists[3 * i + 1] = str_list(get(r, "stderr"), &x->stderr_count);
        lists[3 * i + 2] = str_list(get(r, "images"), &x->image_count);
        x->stdout_chunks = lists[3 * i];
        x->stderr_chunks = lists[3 * i + 1];
        x->image_paths = lists[3 * i + 2];
        const cJSON *e = get(r, "error");
        if (e) {
            x->error_name = get_str(e, "name");
            x->error_value = get_str(e, "value");
            x->error_traceback = get_str(e, "traceback");
        }
        i++;
    }
    size_t ns;
    e2b_kv **kvs;
    e2b_agent_sandbox_info *si = load_sandboxes(get(c, "sandboxes"), &ns, &kvs);
    e2b_agent_format_opts opts = {0};
    const cJSON *mx = get(c, "max_stream_bytes");
    if (mx)
        opts.max_stream_bytes = (size_t)mx->valuedouble;

    char *text = NULL;
    e2b_error err;
    assert_int_equal(e2b_agent_format_reply(rs, n, &opts, &text, &err), E2B_OK);
    assert_non_null(text);
    const char *want = get_str(exp, "text");
    if (want)
        assert_string_equal(text, want);
    const cJSON *list = get(exp, "text_contains"), *s;
    const char *from = text;
    cJSON_ArrayForEach(s, list)
    {
        const char *hit = strstr(from, s->valuestring);
        if (!hit)
            fail_msg("reply lacks (in order) \"%s\":\n%s", s->valuestring, text);
        from = hit + strlen(s->valuestring);
    }
    cJSON_ArrayForEach(s, get(exp, "text_not_contains"))
    {
        if (strstr(text, s->valuestring))
            fail_msg("reply contains \"%s\":\n%s", s->valuestring, text);
    }
    free(text);

    cJSON *json = NULL;
    assert_int_equal(e2b_agent_format_json(rs, n, si, ns, &json, &err), E2B_OK);
    char *printed = cJSON_PrintUnformatted(json);
    assert_non_null(printed);
    cJSON *again = cJSON_Parse(printed); /* the output is valid JSON */
    assert_non_null(again);
    cJSON_Delete(again);
    cJSON_free(printed);
    const cJSON *wj = get(exp, "json");
    if (wj)
        json_subset(wj, json, "$");
    cJSON_Delete(json);

    for (size_t k = 0; k < 3 * n; k++)
        free((void *)lists[k]);
    free(lists);
    free_sandboxes(si, ns, kvs);
    free(rs);
}

/* ---- loading ------------------------------------------------------------------------ */

static void run_case(void **state)
{
    const cJSON *c = *state;
    const char *kind = get_str(c, "kind");
    assert_non_null(kind);
    if (!strcmp(kind, "code"))
        run_code_case(c);
    else if (!strcmp(kind, "intent"))
        run_intent_case(c);
    else if (!strcmp(kind, "format"))
        run_format_case(c);
    else if (!strcmp(kind, "sandbox_list"))
        run_sandbox_list_case(c);
    else
        fail_msg("unknown case kind \"%s\"", kind);
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (cap - len < 4096) {
            cap = cap ? cap * 2 : 8192;
            char *p = realloc(buf, cap + 1);
            if (!p)
                break;
            buf = p;
        }
        size_t n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (n == 0)
            break;
    }
    fclose(f);
    if (buf)
        buf[len] = '\0';
    return buf;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Files a fresh checkout must have; a missing one is a failure, not a skip. */
static const char *const required[] = {"execute_code.json",   "execute_code_plugin_bugs.json",
                                       "manage_sandbox.json", "manage_sandbox_plugin_bugs.json",
                                       "format_reply.json",   NULL};

int main(void)
{
    const char *root = getenv("E2B_FIXTURES_DIR");
    if (!root) {
        fprintf(stderr, "E2B_FIXTURES_DIR is not set\n");
        return 1;
    }
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/agent", root);
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "cannot open %s\n", dir);
        return 1;
    }
    char **files = NULL;
    size_t nfiles = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t l = strlen(de->d_name);
        if (l > 5 && !strcmp(de->d_name + l - 5, ".json")) {
            files = realloc(files, (nfiles + 1) * sizeof *files);
            files[nfiles++] = strdup(de->d_name);
        }
    }
    closedir(d);
    qsort(files, nfiles, sizeof *files, name_cmp);
    int missing = 0;
    for (size_t r = 0; required[r]; r++) {
        bool found = false;
        for (size_t k = 0; k < nfiles; k++)
            found |= !strcmp(files[k], required[r]);
        if (!found) {
            fprintf(stderr, "missing fixture file %s/%s\n", dir, required[r]);
            missing++;
        }
    }

    cJSON **docs = calloc(nfiles + 1, sizeof *docs);
    struct CMUnitTest *tests = NULL;
    char **names = NULL;
    size_t ntests = 0;
    int bad = 0;
    for (size_t k = 0; k < nfiles; k++) {
        char path[8192];
        snprintf(path, sizeof path, "%s/%s", dir, files[k]);
        char *text = read_file(path);
        docs[k] = text ? cJSON_Parse(text) : NULL;
        free(text);
        const cJSON *cases = get(docs[k], "cases");
        if (!cJSON_IsArray(cases) || cJSON_GetArraySize(cases) == 0) {
            fprintf(stderr, "%s: not a fixture file with a non-empty \"cases\" array\n", path);
            bad++;
            continue;
        }
        const cJSON *c;
        cJSON_ArrayForEach(c, cases)
        {
            tests = realloc(tests, (ntests + 1) * sizeof *tests);
            names = realloc(names, (ntests + 1) * sizeof *names);
            const char *nm = get_str(c, "name");
            size_t l = strlen(files[k]) + (nm ? strlen(nm) : 6) + 4;
            names[ntests] = malloc(l);
            snprintf(names[ntests], l, "%s: %s", files[k], nm ? nm : "(none)");
            tests[ntests] = (struct CMUnitTest){
                .name = names[ntests], .test_func = run_case, .initial_state = (void *)c};
            ntests++;
        }
    }
    const char *filter = getenv("E2B_TEST_FILTER");
    if (filter)
        cmocka_set_test_filter(filter);
    int failed = ntests ? _cmocka_run_group_tests("agent_fixtures", tests, ntests, NULL, NULL) : 1;
    for (size_t k = 0; k < ntests; k++)
        free(names[k]);
    free(names);
    free(tests);
    for (size_t k = 0; k < nfiles; k++) {
        cJSON_Delete(docs[k]);
        free(files[k]);
    }
    free(docs);
    free(files);
    return failed || missing || bad ? 1 : 0;
}
