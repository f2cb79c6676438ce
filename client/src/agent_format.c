/* agent_format.c - reply text and structured JSON for executed code blocks (no network).
 * Formats and contracts: e2b/agent.h. */
#include "e2b/agent.h"
#include "agent_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- reply text ------------------------------------------------------------------- */

static size_t chunks_len(const char *const *chunks, size_t n)
{
    size_t len = 0;
    for (size_t i = 0; chunks && i < n; i++)
        if (chunks[i])
            len += strlen(chunks[i]);
    return len;
}

/* Longest run of backticks in s. */
static size_t longest_ticks(const char *s, size_t n)
{
    size_t best = 0, cur = 0;
    for (size_t i = 0; i < n; i++) {
        cur = s[i] == '`' ? cur + 1 : 0;
        if (cur > best)
            best = cur;
    }
    return best;
}

static void put_ticks(e2b_strbuf *b, size_t n)
{
    static const char ticks[] = "````````````````````````````````"; /* 32 */
    for (size_t k; n; n -= k) {
        k = n < sizeof ticks - 1 ? n : sizeof ticks - 1;
        e2b_strbuf_append(b, ticks, k);
    }
}

/* Appends s[0..n) cut to max bytes (0 = no limit) at a UTF-8 boundary, plus a note. */
static void put_limited(e2b_strbuf *b, const char *s, size_t n, size_t max)
{
    if (max == 0 || n <= max) {
        e2b_strbuf_append(b, s, n);
        return;
    }
    size_t cut = agent_utf8_cut(s, n, max);
    e2b_strbuf_append(b, s, cut);
    e2b_strbuf_printf(b, "\n\xE2\x80\xA6 [%zu more bytes]", n - cut);
}

/* A fenced block around s[0..n): the fence is longer than any backtick run inside. */
static void put_fenced(e2b_strbuf *b, const char *s, size_t n, size_t max)
{
    size_t shown = (max && n > max) ? agent_utf8_cut(s, n, max) : n;
    size_t ticks = longest_ticks(s, shown) + 1;
    if (ticks < 3)
        ticks = 3;
    put_ticks(b, ticks);
    e2b_strbuf_append(b, "\n", 1);
    put_limited(b, s, n, max);
    if (b->len && b->p[b->len - 1] != '\n')
        e2b_strbuf_append(b, "\n", 1);
    put_ticks(b, ticks);
    e2b_strbuf_append(b, "\n", 1);
}

/* Concatenation of the chunks (verbatim, no separator). */
static void join_chunks(e2b_strbuf *tmp, const char *const *chunks, size_t n)
{
    agent_sb_truncate(tmp, 0);
    for (size_t i = 0; chunks && i < n; i++)
        if (chunks[i])
            e2b_strbuf_puts(tmp, chunks[i]);
}

static void format_block(e2b_strbuf *b, e2b_strbuf *tmp, const e2b_agent_exec_result *r,
                         size_t index, size_t max)
{
    const char *lang = r->language ? r->language : "unknown";
    e2b_strbuf_printf(b, "**Execution %zu (%s):**\n", index, lang);
    bool any = false;
    if (r->text && r->text[0]) {
        size_t n = strlen(r->text);
        e2b_strbuf_puts(b, "\xE2\x9C\x85 **Result:**");
        if (!memchr(r->text, '\n', n) && !memchr(r->text, '`', n) && (!max || n <= max)) {
            e2b_strbuf_append(b, " `", 2);
            e2b_strbuf_append(b, r->text, n);
            e2b_strbuf_append(b, "`\n", 2);
        } else {
            e2b_strbuf_append(b, "\n", 1);
            put_fenced(b, r->text, n, max);
        }
        any = true;
    }
    if (chunks_len(r->stdout_chunks, r->stdout_count)) {
        join_chunks(tmp, r->stdout_chunks, r->stdout_count);
        e2b_strbuf_puts(b, "**Output:**\n");
        put_fenced(b, tmp->p, tmp->len, max);
        any = true;
    }
    if (chunks_len(r->stderr_chunks, r->stderr_count)) {
        join_chunks(tmp, r->stderr_chunks, r->stderr_count);
        e2b_strbuf_puts(b, "**Errors/Warnings:**\n");
        put_fenced(b, tmp->p, tmp->len, max);
        any = true;
    }
    if (r->error_name) {
        e2b_strbuf_puts(b, "\xE2\x9D\x8C **Error:** ");
        e2b_strbuf_puts(b, r->error_name);
        if (r->error_value && r->error_value[0]) {
            e2b_strbuf_puts(b, ": ");
            e2b_strbuf_puts(b, r->error_value);
        }
        e2b_strbuf_append(b, "\n", 1);
        if (r->error_traceback && r->error_traceback[0])
            put_fenced(b, r->error_traceback, strlen(r->error_traceback), max);
        any = true;
    }
    size_t shown = 0;
    for (size_t i = 0; r->image_paths && i < r->image_count; i++) {
        if (!r->image_paths[i])
            continue;
        e2b_strbuf_puts(b, shown++ ? ", " : "\xF0\x9F\x96\xBC\xEF\xB8\x8F **Images:** ");
        e2b_strbuf_puts(b, r->image_paths[i]);
    }
    if (shown) {
        e2b_strbuf_append(b, "\n", 1);
        any = true;
    }
    if (!any)
        e2b_strbuf_puts(b, "\xE2\x9C\x85 Code executed successfully (no output)\n");
}

e2b_code e2b_agent_format_reply(const e2b_agent_exec_result *results, size_t n,
                                const e2b_agent_format_opts *opts, char **out, e2b_error *err)
{
    if (out)
        *out = NULL;
    if (!out || (!results && n))
        return e2b_error_set(err, E2B_ERR_INVALID_ARGUMENT, 0, "out or results is NULL");
    size_t max = opts ? opts->max_stream_bytes : 0;
    e2b_strbuf b = {0}, tmp = {0};
    if (n == 0)
        e2b_strbuf_puts(&b, "No code was executed.");
    for (size_t i = 0; i < n; i++) {
        if (i)
            e2b_strbuf_append(&b, "\n", 1);
        format_block(&b, &tmp, &results[i], i + 1, max);
    }
    bool oom = tmp.oom;
    e2b_strbuf_free(&tmp);
    if (oom)
        e2b_strbuf_free(&b);
    *out = oom ? NULL : e2b_strbuf_take(&b);
    if (!*out)
        return e2b_error_set(err, E2B_ERR_NO_MEMORY, 0, "out of memory (reply text)");
    return E2B_OK;
}

/* ---- JSON ------------------------------------------------------------------------- */

/* A JSON string for s (repaired to valid UTF-8), or JSON null for NULL. */
static cJSON *json_str(const char *s)
{
    if (!s)
        return cJSON_CreateNull();
    size_t n = strlen(s);
    if (agent_utf8_valid(s, n))
        return cJSON_CreateString(s);
    char *fixed = agent_utf8_repair(s, n);
    if (!fixed)
        return NULL;
    cJSON *j = cJSON_CreateString(fixed);
    free(fixed);
    return j;
}

/* Adds item to obj under key; false (and item freed) if item is NULL or adding fails. */
static bool add(cJSON *obj, const char *key, cJSON *item)
{
    if (!item)
        return false;
    if (!cJSON_AddItemToObject(obj, key, item)) {
        cJSON_Delete(item);
        return false;
    }
    return true;
}

static bool push(cJSON *arr, cJSON *item)
{
    if (!item)
        return false;
    if (!cJSON_AddItemToArray(arr, item)) {
        cJSON_Delete(item);
        return false;
    }
    return true;
}

static cJSON *str_array(const char *const *items, size_t n)
{
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; arr && items && i < n; i++) {
        if (items[i] && !push(arr, json_str(items[i]))) {
            cJSON_Delete(arr);
            return NULL;
        }
    }
    return arr;
}

static cJSON *block_json(const e2b_agent_exec_result *r, size_t index)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    bool failed = r->error_name != NULL;
    bool has_output = (r->text && r->text[0]) || chunks_len(r->stdout_chunks, r->stdout_count);
    bool ok = add(o, "index", cJSON_CreateNumber((double)index)) &&
              add(o, "language", json_str(r->language ? r->language : "unknown")) &&
              add(o, "code", json_str(r->code)) && add(o, "success", cJSON_CreateBool(!failed)) &&
              add(o, "hasOutput", cJSON_CreateBool(has_output)) &&
              add(o, "text", json_str(r->text)) &&
              add(o, "stdout", str_array(r->stdout_chunks, r->stdout_count)) &&
              add(o, "stderr", str_array(r->stderr_chunks, r->stderr_count));
    if (ok && failed) {
        cJSON *e = cJSON_CreateObject();
        ok = add(o, "error", e) && add(e, "name", json_str(r->error_name)) &&
             add(e, "value", json_str(r->error_value ? r->error_value : "")) &&
             add(e, "traceback", json_str(r->error_traceback ? r->error_traceback : ""));
    } else if (ok) {
        ok = add(o, "error", cJSON_CreateNull());
    }
    ok = ok && add(o, "images", str_array(r->image_paths, r->image_count));
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static cJSON *sandbox_json(const e2b_agent_sandbox_info *s)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    bool ok = add(o, "sandboxId", json_str(s->sandbox_id ? s->sandbox_id : ""));
    if (ok && s->template_id)
        ok = add(o, "templateId", json_str(s->template_id));
    ok = ok && add(o, "isActive", cJSON_CreateBool(s->active));
    if (ok && s->started_at_ms)
        ok = add(o, "startedAt", cJSON_CreateNumber((double)s->started_at_ms));
    if (ok && s->last_activity_ms)
        ok = add(o, "lastActivity", cJSON_CreateNumber((double)s->last_activity_ms));
    cJSON *m = ok ? cJSON_CreateObject() : NULL;
    ok = ok && add(o, "metadata", m);
    for (size_t i = 0; ok && s->metadata && i < s->metadata_len; i++) {
        if (!s->metadata[i].key)
            continue;
        char *key = agent_utf8_repair(s->metadata[i].key, strlen(s->metadata[i].key));
        ok = key && add(m, key, json_str(s->metadata[i].value ? s->metadata[i].value : ""));
        free(key);
    }
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

e2b_code e2b_agent_format_json(const e2b_agent_exec_result *results, size_t n,
                               const e2b_agent_sandbox_info *sandboxes, size_t nsandboxes,
                               cJSON **out, e2b_error *err)
{
    if (out)
        *out = NULL;
    if (!out || (!results && n) || (!sandboxes && nsandboxes))
        return e2b_error_set(err, E2B_ERR_INVALID_ARGUMENT, 0, "out, results or sandboxes is NULL");
    size_t failed = 0;
    for (size_t i = 0; i < n; i++)
        failed += results[i].error_name != NULL;
    cJSON *root = cJSON_CreateObject();
    cJSON *list = cJSON_CreateArray();
    cJSON *sbx = cJSON_CreateArray();
    bool ok = root && add(root, "success", cJSON_CreateBool(n > 0 && failed == 0)) &&
              add(root, "totalBlocks", cJSON_CreateNumber((double)n)) &&
              add(root, "successfulBlocks", cJSON_CreateNumber((double)(n - failed))) &&
              add(root, "failedBlocks", cJSON_CreateNumber((double)failed));
    if (ok) {
        ok = add(root, "executionResults", list);
        list = NULL;
    }
    if (ok) {
        ok = add(root, "sandboxInfo", sbx);
        sbx = NULL;
    }
    cJSON *l = cJSON_GetObjectItemCaseSensitive(root, "executionResults");
    cJSON *s = cJSON_GetObjectItemCaseSensitive(root, "sandboxInfo");
    for (size_t i = 0; ok && i < n; i++)
        ok = push(l, block_json(&results[i], i + 1));
    for (size_t i = 0; ok && i < nsandboxes; i++)
        ok = push(s, sandbox_json(&sandboxes[i]));
    cJSON_Delete(list);
    cJSON_Delete(sbx);
    if (!ok) {
        cJSON_Delete(root);
        return e2b_error_set(err, E2B_ERR_NO_MEMORY, 0, "out of memory (reply JSON)");
    }
    *out = root;
    return E2B_OK;
}

/* ---- sandbox list ------------------------------------------------------------------ */

/* now - then in ms, 0 when then is in the future, saturated instead of overflowing. */
static int64_t ms_since(int64_t now, int64_t then)
{
    int64_t d;
    if (then >= now)
        return 0;
    return __builtin_sub_overflow(now, then, &d) ? INT64_MAX : d;
}

/* `s` as an inline code span that survives backticks inside s. */
static void put_code_span(e2b_strbuf *b, const char *s)
{
    size_t n = strlen(s), ticks = longest_ticks(s, n) + 1;
    bool pad = n && (s[0] == '`' || s[n - 1] == '`');
    put_ticks(b, ticks);
    if (pad)
        e2b_strbuf_append(b, " ", 1);
    e2b_strbuf_append(b, s, n);
    if (pad)
        e2b_strbuf_append(b, " ", 1);
    put_ticks(b, ticks);
}

e2b_code e2b_agent_format_sandbox_list(const e2b_agent_sandbox_info *sandboxes, size_t n,
                                       int64_t now_ms, char **out, e2b_error *err)
{
    if (out)
        *out = NULL;
    if (!out || (!sandboxes && n))
        return e2b_error_set(err, E2B_ERR_INVALID_ARGUMENT, 0, "out or sandboxes is NULL");
    e2b_strbuf b = {0};
    char d[64];
    if (n == 0)
        e2b_strbuf_puts(&b, "\xE2\x84\xB9\xEF\xB8\x8F **No active sandboxes**\n\nThere are "
                            "currently no running sandboxes. Use \"create sandbox\" to start "
                            "a new one.");
    else
        e2b_strbuf_printf(&b, "\xF0\x9F\x93\x8B **Active Sandboxes (%zu)**\n\n", n);
    for (size_t i = 0; i < n; i++) {
        const e2b_agent_sandbox_info *s = &sandboxes[i];
        e2b_strbuf_printf(&b, "**%zu.** ", i + 1);
        put_code_span(&b, s->sandbox_id ? s->sandbox_id : "");
#define BULLET "   \xE2\x80\xA2 " /* "   • " */
        e2b_strbuf_puts(&b, s->active ? "\n" BULLET "**Status:** \xF0\x9F\x9F\xA2 Active\n"
                                      : "\n" BULLET "**Status:** \xF0\x9F\x94\xB4 Inactive\n");
        if (s->template_id)
            e2b_strbuf_printf(&b, BULLET "**Template:** %s\n", s->template_id);
        if (s->started_at_ms) {
            e2b_agent_format_duration(ms_since(now_ms, s->started_at_ms), d, sizeof d);
            e2b_strbuf_printf(&b, BULLET "**Uptime:** %s\n", d);
        }
        if (s->last_activity_ms) {
            e2b_agent_format_duration(ms_since(now_ms, s->last_activity_ms), d, sizeof d);
            e2b_strbuf_printf(&b, BULLET "**Last Activity:** %s ago\n", d);
        }
        if (s->metadata && s->metadata_len)
            e2b_strbuf_printf(&b, BULLET "**Metadata:** %zu properties\n", s->metadata_len);
#undef BULLET
        e2b_strbuf_append(&b, "\n", 1);
    }
    *out = e2b_strbuf_take(&b);
    if (!*out)
        return e2b_error_set(err, E2B_ERR_NO_MEMORY, 0, "out of memory (sandbox list)");
    return E2B_OK;
}

char *e2b_agent_format_duration(int64_t ms, char *buf, size_t len)
{
    if (!buf || !len)
        return buf;
    int64_t s = ms > 0 ? ms / 1000 : 0;
    int64_t m = s / 60, h = m / 60, d = h / 24;
    if (d > 0)
        snprintf(buf, len, "%" PRId64 "d %" PRId64 "h %" PRId64 "m", d, h % 24, m % 60);
    else if (h > 0)
        snprintf(buf, len, "%" PRId64 "h %" PRId64 "m", h, m % 60);
    else if (m > 0)
        snprintf(buf, len, "%" PRId64 "m %" PRId64 "s", m, s % 60);
    else
        snprintf(buf, len, "%" PRId64 "s", s);
    return buf;
}
