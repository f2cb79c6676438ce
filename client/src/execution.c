/* execution.c - the /execute event model: NDJSON lines -> e2b_execution, callbacks, JSON
 * output and saving images. See e2b/code.h and execution.h for the contracts. */
#include "execution.h"
#include "json_util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <openssl/evp.h>

/* The public struct plus the capacities of its arrays; e2b_execution is its first member,
 * so a pointer to one is a pointer to the other. */
typedef struct exec_impl {
    e2b_execution pub;
    size_t results_cap;
    size_t logs_cap;
    bool main_seen;
} exec_impl;

static e2b_code no_memory(e2b_error *err)
{
    return e2b_error_set(err, E2B_ERR_NO_MEMORY, 0, "out of memory while building an execution");
}

static char *dup_str(const char *s)
{
    return s ? strdup(s) : NULL;
}

/* Up to 60 bytes of the line, control characters and non-ASCII shown as '.', for error
 * messages. */
static void line_prefix(const char *line, size_t len, char *buf, size_t cap)
{
    size_t n = len < 60 ? len : 60;
    if (n > cap - 4)
        n = cap - 4;
    size_t i;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)line[i];
        buf[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '.';
    }
    if (n < len) {
        memcpy(buf + i, "...", 3);
        i += 3;
    }
    buf[i] = '\0';
}

static const char *json_kind(const cJSON *v)
{
    if (cJSON_IsString(v))
        return "string";
    if (cJSON_IsNumber(v))
        return "number";
    if (cJSON_IsBool(v))
        return "boolean";
    if (cJSON_IsArray(v))
        return "array";
    if (cJSON_IsObject(v))
        return "object";
    if (cJSON_IsNull(v))
        return "null";
    return "value";
}

typedef struct line_ctx {
    const char *line;
    size_t len;
    size_t line_no;
    const char *type;
} line_ctx;

static e2b_code bad_line(const line_ctx *lc, e2b_error *err, const char *what)
{
    char pre[72];
    line_prefix(lc->line, lc->len, pre, sizeof pre);
    return e2b_error_set(err, E2B_ERR_PROTOCOL, 0, "/execute stream line %zu: %s: %s", lc->line_no,
                         what, pre);
}

static e2b_code bad_field(const line_ctx *lc, e2b_error *err, const char *field, const cJSON *v,
                          const char *want)
{
    char what[160];
    snprintf(what, sizeof what, "field \"%s\" of a \"%s\" line is a %s, expected %s", field,
             lc->type, json_kind(v), want);
    return bad_line(lc, err, what);
}

/* Reads an optional string field: absent or null -> *out NULL. */
static e2b_code opt_string(const line_ctx *lc, const cJSON *obj, const char *name, char **out,
                           e2b_error *err)
{
    *out = NULL;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (!v || cJSON_IsNull(v))
        return E2B_OK;
    if (!cJSON_IsString(v) || !v->valuestring)
        return bad_field(lc, err, name, v, "a string");
    *out = strdup(v->valuestring);
    return *out ? E2B_OK : no_memory(err);
}

/* Reads an optional JSON value as compact raw text: absent or null -> *out NULL. */
static e2b_code opt_raw(const cJSON *obj, const char *name, char **out, e2b_error *err)
{
    *out = NULL;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (!v || cJSON_IsNull(v))
        return E2B_OK;
    char *s = cJSON_PrintUnformatted(v);
    if (!s)
        return no_memory(err);
    *out = strdup(s);
    cJSON_free(s);
    return *out ? E2B_OK : no_memory(err);
}

void e2b_run_opts_init(e2b_run_opts *opts)
{
    if (!opts)
        return;
    memset(opts, 0, sizeof *opts);
    opts->timeout_ms = E2B_DEFAULT_EXECUTION_TIMEOUT_MS;
}

/* ---- freeing ------------------------------------------------------------------------ */

static void result_clear(e2b_result *r)
{
    free(r->text);
    free(r->html);
    free(r->markdown);
    free(r->svg);
    free(r->png);
    free(r->jpeg);
    free(r->pdf);
    free(r->latex);
    free(r->json);
    free(r->javascript);
    free(r->data);
    free(r->chart);
    free(r->chart_type);
    free(r->chart_title);
    free(r->extra);
    memset(r, 0, sizeof *r);
}

static void exec_error_free(e2b_exec_error *e)
{
    if (!e)
        return;
    free(e->name);
    free(e->value);
    free(e->traceback);
    free(e);
}

void e2b_execution_free(e2b_execution *ex)
{
    if (!ex)
        return;
    for (size_t i = 0; i < ex->results_len; i++)
        result_clear(&ex->results[i]);
    free(ex->results);
    for (size_t i = 0; i < ex->logs_len; i++) {
        free(ex->logs[i].text);
        free(ex->logs[i].timestamp);
    }
    free(ex->logs);
    exec_error_free(ex->error);
    free((exec_impl *)ex);
}

static e2b_execution *execution_new(void)
{
    exec_impl *im = calloc(1, sizeof *im);
    if (!im)
        return NULL;
    im->pub.execution_count = -1;
    return &im->pub;
}

/* ---- line handlers ------------------------------------------------------------------ */

static int call_cb_result(const e2b_run_opts *o, const e2b_result *r)
{
    return (o && o->on_result) ? o->on_result(r, o->user_data) : 0;
}

static e2b_code cancelled(e2b_error *err, const char *which)
{
    return e2b_error_set(err, E2B_ERR_CANCELLED, 0,
                         "execution cancelled: the %s callback returned non-zero", which);
}

enum field_kind { F_STRING, F_RAW };
static const struct {
    const char *name;
    size_t off;
    enum field_kind kind;
} RESULT_FIELDS[] = {
    {"text", offsetof(e2b_result, text), F_STRING},
    {"html", offsetof(e2b_result, html), F_STRING},
    {"markdown", offsetof(e2b_result, markdown), F_STRING},
    {"svg", offsetof(e2b_result, svg), F_STRING},
    {"png", offsetof(e2b_result, png), F_STRING},
    {"jpeg", offsetof(e2b_result, jpeg), F_STRING},
    {"pdf", offsetof(e2b_result, pdf), F_STRING},
    {"latex", offsetof(e2b_result, latex), F_STRING},
    {"json", offsetof(e2b_result, json), F_RAW},
    {"javascript", offsetof(e2b_result, javascript), F_STRING},
    {"data", offsetof(e2b_result, data), F_RAW},
    {"chart", offsetof(e2b_result, chart), F_RAW},
    {"extra", offsetof(e2b_result, extra), F_RAW},
};
#define N_RESULT_FIELDS (sizeof RESULT_FIELDS / sizeof RESULT_FIELDS[0])

static e2b_code handle_result(exec_impl *im, const line_ctx *lc, const cJSON *obj,
                              const e2b_run_opts *opts, e2b_error *err)
{
    e2b_result r;
    memset(&r, 0, sizeof r);
    e2b_code rc = E2B_OK;
    for (size_t i = 0; i < N_RESULT_FIELDS && rc == E2B_OK; i++) {
        char **slot = (char **)((char *)&r + RESULT_FIELDS[i].off);
        rc = RESULT_FIELDS[i].kind == F_STRING
                 ? opt_string(lc, obj, RESULT_FIELDS[i].name, slot, err)
                 : opt_raw(obj, RESULT_FIELDS[i].name, slot, err);
    }
    if (rc == E2B_OK) {
        const cJSON *chart = cJSON_GetObjectItemCaseSensitive(obj, "chart");
        if (cJSON_IsObject(chart)) {
            /* lenient: a chart whose type/title are not strings keeps them NULL */
            const cJSON *t = cJSON_GetObjectItemCaseSensitive(chart, "type");
            const cJSON *ti = cJSON_GetObjectItemCaseSensitive(chart, "title");
            if (cJSON_IsString(t) && !(r.chart_type = dup_str(t->valuestring)))
                rc = no_memory(err);
            if (rc == E2B_OK && cJSON_IsString(ti) && !(r.chart_title = dup_str(ti->valuestring)))
                rc = no_memory(err);
        }
    }
    if (rc == E2B_OK) {
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(obj, "is_main_result");
        if (cJSON_IsBool(m))
            r.is_main_result = cJSON_IsTrue(m);
        else if (m && !cJSON_IsNull(m))
            rc = bad_field(lc, err, "is_main_result", m, "a boolean");
    }
    if (rc == E2B_OK && im->pub.results_len == im->results_cap) {
        size_t cap = im->results_cap ? im->results_cap * 2 : 4;
        e2b_result *nr = realloc(im->pub.results, cap * sizeof *nr);
        if (!nr)
            rc = no_memory(err);
        else {
            im->pub.results = nr;
            im->results_cap = cap;
        }
    }
    if (rc != E2B_OK) {
        result_clear(&r);
        return rc;
    }
    e2b_result *slot = &im->pub.results[im->pub.results_len++];
    *slot = r;
    if (slot->is_main_result && !im->main_seen) {
        im->main_seen = true;
        im->pub.text = slot->text;
    }
    return call_cb_result(opts, slot) ? cancelled(err, "on_result") : E2B_OK;
}

static e2b_code handle_log(exec_impl *im, const line_ctx *lc, const cJSON *obj,
                           e2b_log_stream stream, const e2b_run_opts *opts, e2b_error *err)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(obj, "text");
    if (!t)
        return bad_line(lc, err, "a log line without \"text\"");
    if (!cJSON_IsString(t) || !t->valuestring)
        return bad_field(lc, err, "text", t, "a string");
    char *ts = NULL;
    e2b_code rc = opt_string(lc, obj, "timestamp", &ts, err);
    if (rc != E2B_OK)
        return rc;
    if (im->pub.logs_len == im->logs_cap) {
        size_t cap = im->logs_cap ? im->logs_cap * 2 : 16;
        e2b_log_chunk *nl = realloc(im->pub.logs, cap * sizeof *nl);
        if (!nl) {
            free(ts);
            return no_memory(err);
        }
        im->pub.logs = nl;
        im->logs_cap = cap;
    }
    char *text = strdup(t->valuestring);
    if (!text) {
        free(ts);
        return no_memory(err);
    }
    e2b_log_chunk *c = &im->pub.logs[im->pub.logs_len++];
    c->stream = stream;
    c->text = text;
    c->len = strlen(text);
    c->timestamp = ts;
    e2b_log_fn fn = !opts ? NULL : stream == E2B_LOG_STDOUT ? opts->on_stdout : opts->on_stderr;
    if (fn && fn(c, opts->user_data))
        return cancelled(err, stream == E2B_LOG_STDOUT ? "on_stdout" : "on_stderr");
    return E2B_OK;
}

/* An error field: string, absent/null -> "", or (leniently) an array of strings joined
 * with '\n' (a raw Jupyter traceback list). */
static e2b_code error_field(const line_ctx *lc, const cJSON *obj, const char *name, char **out,
                            e2b_error *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (!v || cJSON_IsNull(v)) {
        *out = strdup("");
    } else if (cJSON_IsString(v) && v->valuestring) {
        *out = strdup(v->valuestring);
    } else if (cJSON_IsArray(v)) {
        size_t total = 1;
        const cJSON *it;
        cJSON_ArrayForEach(it, v)
        {
            if (!cJSON_IsString(it) || !it->valuestring)
                return bad_field(lc, err, name, v, "a string or an array of strings");
            total += strlen(it->valuestring) + 1;
        }
        *out = malloc(total);
        if (*out) {
            char *p = *out;
            cJSON_ArrayForEach(it, v)
            {
                size_t n = strlen(it->valuestring);
                if (p != *out)
                    *p++ = '\n';
                memcpy(p, it->valuestring, n);
                p += n;
            }
            *p = '\0';
        }
    } else {
        return bad_field(lc, err, name, v, "a string");
    }
    return *out ? E2B_OK : no_memory(err);
}

static e2b_code handle_error(exec_impl *im, const line_ctx *lc, const cJSON *obj,
                             const e2b_run_opts *opts, e2b_error *err)
{
    e2b_exec_error *e = calloc(1, sizeof *e);
    if (!e)
        return no_memory(err);
    e2b_code rc = error_field(lc, obj, "name", &e->name, err);
    if (rc == E2B_OK)
        rc = error_field(lc, obj, "value", &e->value, err);
    if (rc == E2B_OK)
        rc = error_field(lc, obj, "traceback", &e->traceback, err);
    if (rc != E2B_OK) {
        exec_error_free(e);
        return rc;
    }
    exec_error_free(im->pub.error); /* the last one wins, as in the SDKs */
    im->pub.error = e;
    if (opts && opts->on_error && opts->on_error(e, opts->user_data))
        return cancelled(err, "on_error");
    return E2B_OK;
}

static e2b_code handle_count(exec_impl *im, const line_ctx *lc, const cJSON *obj, e2b_error *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, "execution_count");
    if (!v)
        return bad_line(lc, err, "number_of_executions without \"execution_count\"");
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < 0 ||
        v->valuedouble > INT_MAX || floor(v->valuedouble) != v->valuedouble)
        return bad_field(lc, err, "execution_count", v, "a non-negative integer");
    im->pub.execution_count = (int)v->valuedouble;
    return E2B_OK;
}

e2b_code e2b_execution_handle_line(e2b_execution *ex, const e2b_run_opts *opts, const char *line,
                                   size_t len, size_t line_no, e2b_error *err)
{
    exec_impl *im = (exec_impl *)ex;
    line_ctx lc = {line, len, line_no, "?"};
    const char *end = NULL;
    cJSON *obj = cJSON_ParseWithLengthOpts(line, len, &end, 0);
    if (!obj && e2b_json_valid(line, len)) /* cJSON failed on valid JSON: out of memory */
        return e2b_error_set(err, E2B_ERR_NO_MEMORY, 0, "out of memory parsing line %zu", line_no);
    if (!obj)
        return bad_line(&lc, err, "not valid JSON");
    /* cJSON stops after the first value: anything but whitespace after it is garbage */
    for (const char *p = end; p && p < line + len; p++) {
        if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n') {
            cJSON_Delete(obj);
            return bad_line(&lc, err, "trailing data after the JSON value");
        }
    }
    e2b_code rc = E2B_OK;
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(obj, "type");
    if (!cJSON_IsObject(obj)) {
        rc = bad_line(&lc, err, "not a JSON object");
    } else if (!cJSON_IsString(type) || !type->valuestring) {
        rc = bad_line(&lc, err, "no string \"type\"");
    } else {
        const char *t = lc.type = type->valuestring;
        if (!strcmp(t, "stdout"))
            rc = handle_log(im, &lc, obj, E2B_LOG_STDOUT, opts, err);
        else if (!strcmp(t, "stderr"))
            rc = handle_log(im, &lc, obj, E2B_LOG_STDERR, opts, err);
        else if (!strcmp(t, "result"))
            rc = handle_result(im, &lc, obj, opts, err);
        else if (!strcmp(t, "error"))
            rc = handle_error(im, &lc, obj, opts, err);
        else if (!strcmp(t, "number_of_executions"))
            rc = handle_count(im, &lc, obj, err);
        else if (!strcmp(t, "end_of_execution"))
            im->pub.completed = true;
        /* keepalive and unknown types are ignored, as the SDKs do */
    }
    cJSON_Delete(obj);
    return rc;
}

/* ---- the stream --------------------------------------------------------------------- */

static e2b_code stream_line(void *ud, const char *line, size_t len, e2b_error *err)
{
    e2b_exec_stream *s = ud;
    return e2b_execution_handle_line(s->ex, s->opts, line, len, ++s->line_no, err);
}

e2b_code e2b_exec_stream_init(e2b_exec_stream *s, const e2b_run_opts *opts, size_t max_line,
                              e2b_error *err)
{
    memset(s, 0, sizeof *s);
    e2b_ndjson_init(&s->nd, max_line);
    s->opts = opts;
    s->ex = execution_new();
    return s->ex ? E2B_OK : no_memory(err);
}

e2b_code e2b_exec_stream_feed(e2b_exec_stream *s, const char *data, size_t len, e2b_error *err)
{
    return e2b_ndjson_feed(&s->nd, data, len, stream_line, s, err);
}

e2b_code e2b_exec_stream_finish(e2b_exec_stream *s, e2b_error *err)
{
    e2b_code rc = e2b_ndjson_finish(&s->nd, stream_line, s, err);
    if (rc != E2B_OK)
        return rc;
    if (!s->ex->completed)
        return e2b_error_set(err, E2B_ERR_PROTOCOL, 0,
                             "/execute stream ended without end_of_execution after %zu lines "
                             "(the partial execution is returned)",
                             s->line_no);
    return E2B_OK;
}

e2b_execution *e2b_exec_stream_take(e2b_exec_stream *s)
{
    e2b_execution *ex = s->ex;
    s->ex = NULL;
    return ex;
}

void e2b_exec_stream_free(e2b_exec_stream *s)
{
    e2b_ndjson_free(&s->nd);
    e2b_execution_free(s->ex);
    s->ex = NULL;
}

e2b_code e2b_execution_parse(const char *ndjson, size_t len, const e2b_run_opts *opts,
                             e2b_execution **out, e2b_error *err)
{
    if (out)
        *out = NULL;
    if (!out || (!ndjson && len))
        return e2b_error_set(err, E2B_ERR_INVALID_ARGUMENT, 0,
                             "e2b_execution_parse: NULL argument");
    e2b_exec_stream s;
    e2b_code rc = e2b_exec_stream_init(&s, opts, 0, err);
    if (rc == E2B_OK)
        rc = e2b_exec_stream_feed(&s, ndjson, len, err);
    if (rc == E2B_OK)
        rc = e2b_exec_stream_finish(&s, err);
    if (rc == E2B_OK || rc == E2B_ERR_PROTOCOL || rc == E2B_ERR_CANCELLED)
        *out = e2b_exec_stream_take(&s);
    e2b_exec_stream_free(&s);
    return rc;
}

/* ---- output helpers ----------------------------------------------------------------- */

e2b_code e2b_execution_logs_text(const e2b_execution *ex, e2b_log_stream stream, char **out,
                                 e2b_error *err)
{
    if (!ex || !out)
        return e2b_error_set(err, E2B_ERR_INVALID_ARGUMENT, 0,
                             "e2b_execution_logs_text: NULL argument");
    size_t total = 1;
    for (size_t i = 0; i < ex->logs_len; i++)
        if (ex->logs[i].stream == stream)
            total += ex->logs[i].len;
    char *s = malloc(total), *p = s;
    if (!s)
        return no_memory(err);
    for (size_t i = 0; i < ex->logs_len; i++) {
        if (ex->logs[i].stream != stream)
            continue;
        memcpy(p, ex->logs[i].text, ex->logs[i].len);
        p += ex->logs[i].len;
    }
    *p = '\0';
    *out = s;
    return E2B_OK;
}

e2b_code e2b_execution_to_json(const e2b_execution *ex, char **out, e2b_error *err)
{
    if (!ex || !out)
        return e2b_error_set(err, E2B_ERR_INVALID_ARGUMENT, 0,
                             "e2b_execution_to_json: NULL argument");
    *out = NULL;
    bool ok = true;
    cJSON *root = cJSON_CreateObject();
    cJSON *results = cJSON_AddArrayToObject(root, "results");
    ok = ok && results;
    for (size_t i = 0; ok && i < ex->results_len; i++) {
        const e2b_result *r = &ex->results[i];
        cJSON *o = cJSON_CreateObject();
        ok = o && cJSON_AddItemToArray(results, o);
        for (size_t f = 0; ok && f < N_RESULT_FIELDS; f++) {
            const char *v = *(char *const *)((const char *)r + RESULT_FIELDS[f].off);
            if (!v)
                continue;
            ok = RESULT_FIELDS[f].kind == F_STRING
                     ? cJSON_AddStringToObject(o, RESULT_FIELDS[f].name, v) != NULL
                     : cJSON_AddRawToObject(o, RESULT_FIELDS[f].name, v) != NULL;
        }
        ok = ok && cJSON_AddBoolToObject(o, "is_main_result", r->is_main_result);
    }
    cJSON *logs = ok ? cJSON_AddObjectToObject(root, "logs") : NULL;
    cJSON *so = logs ? cJSON_AddArrayToObject(logs, "stdout") : NULL;
    cJSON *se = so ? cJSON_AddArrayToObject(logs, "stderr") : NULL;
    ok = ok && se;
    for (size_t i = 0; ok && i < ex->logs_len; i++) {
        cJSON *s = cJSON_CreateString(ex->logs[i].text);
        ok = s && cJSON_AddItemToArray(ex->logs[i].stream == E2B_LOG_STDOUT ? so : se, s);
    }
    if (ok && ex->error) {
        cJSON *e = cJSON_AddObjectToObject(root, "error");
        ok = e && cJSON_AddStringToObject(e, "name", ex->error->name) &&
             cJSON_AddStringToObject(e, "value", ex->error->value) &&
             cJSON_AddStringToObject(e, "traceback", ex->error->traceback);
    } else if (ok) {
        ok = cJSON_AddNullToObject(root, "error") != NULL;
    }
    if (ok)
        ok = (ex->execution_count >= 0
                  ? cJSON_AddNumberToObject(root, "execution_count", ex->execution_count)
                  : cJSON_AddNullToObject(root, "execution_count")) != NULL;
    char *s = ok ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    if (!s)
        return no_memory(err);
    *out = strdup(s);
    cJSON_free(s);
    return *out ? E2B_OK : no_memory(err);
}

/* ---- saving results ----------------------------------------------------------------- */

static e2b_code io_error(e2b_error *err, const char *what, const char *path)
{
    return e2b_error_set(err, E2B_ERR_IO, 0, "%s %s: %s", what, path, strerror(errno));
}

static bool write_all(int fd, const unsigned char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return false;
        }
        p += w;
        n -= (size_t)w;
    }
    return true;
}

/* Streams the base64 text through OpenSSL's decoder (which tolerates line breaks) into
 * fd, 16 KiB at a time: no buffer the size of the image. */
static e2b_code write_base64(int fd, const char *b64, const char *path, e2b_error *err)
{
    enum { IN_CHUNK = 16384 };
    unsigned char outbuf[IN_CHUNK + 256];
    EVP_ENCODE_CTX *ctx = EVP_ENCODE_CTX_new();
    if (!ctx)
        return no_memory(err);
    EVP_DecodeInit(ctx);
    size_t len = strlen(b64), pos = 0;
    e2b_code rc = E2B_OK;
    while (pos < len && rc == E2B_OK) {
        int n = (int)(len - pos < IN_CHUNK ? len - pos : IN_CHUNK), outl = 0;
        if (EVP_DecodeUpdate(ctx, outbuf, &outl, (const unsigned char *)b64 + pos, n) < 0)
            rc = e2b_error_set(err, E2B_ERR_PROTOCOL, 0, "invalid base64 near offset %zu", pos);
        else if (!write_all(fd, outbuf, (size_t)outl))
            rc = io_error(err, "cannot write", path);
        pos += (size_t)n;
    }
    if (rc == E2B_OK) {
        int outl = 0;
        if (EVP_DecodeFinal(ctx, outbuf, &outl) < 0)
            rc = e2b_error_set(err, E2B_ERR_PROTOCOL, 0, "invalid base64 (truncated)");
        else if (!write_all(fd, outbuf, (size_t)outl))
            rc = io_error(err, "cannot write", path);
    }
    EVP_ENCODE_CTX_free(ctx);
    return rc;
}

e2b_code e2b_result_save(const e2b_result *r, const char *format, const char *path, e2b_error *err)
{
    if (!r || !format || !path)
        return e2b_error_set(err, E2B_ERR_INVALID_ARGUMENT, 0, "e2b_result_save: NULL argument");
    const char *data;
    bool b64;
    if (!strcmp(format, "png"))
        data = r->png, b64 = true;
    else if (!strcmp(format, "jpeg"))
        data = r->jpeg, b64 = true;
    else if (!strcmp(format, "svg"))
        data = r->svg, b64 = false;
    else if (!strcmp(format, "pdf"))
        data = r->pdf, b64 = false;
    else
        return e2b_error_set(err, E2B_ERR_INVALID_ARGUMENT, 0,
                             "unknown result format \"%s\" (png, jpeg, svg or pdf)", format);
    if (!data)
        return e2b_error_set(err, E2B_ERR_INVALID_ARGUMENT, 0, "the result has no %s", format);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0)
        return io_error(err, "cannot create", path);
    e2b_code rc = b64 ? write_base64(fd, data, path, err)
                      : (write_all(fd, (const unsigned char *)data, strlen(data))
                             ? E2B_OK
                             : io_error(err, "cannot write", path));
    struct stat st;
    bool regular = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
    if (close(fd) != 0 && rc == E2B_OK)
        rc = io_error(err, "cannot close", path);
    if (rc != E2B_OK && regular)
        unlink(path); /* never a device such as /dev/null */
    return rc;
}

/* mkdir -p */
static e2b_code make_dirs(const char *dir, e2b_error *err)
{
    char *p = strdup(dir);
    if (!p)
        return no_memory(err);
    e2b_code rc = E2B_OK;
    for (char *s = p + 1;; s++) {
        if (*s != '/' && *s != '\0')
            continue;
        char c = *s;
        *s = '\0';
        if (mkdir(p, 0777) != 0 && errno != EEXIST) {
            rc = io_error(err, "cannot create directory", p);
            break;
        }
        *s = c;
        if (c == '\0')
            break;
    }
    free(p);
    if (rc == E2B_OK) {
        struct stat st;
        if (stat(dir, &st) != 0)
            return io_error(err, "cannot create directory", dir);
        if (!S_ISDIR(st.st_mode)) {
            errno = ENOTDIR;
            return io_error(err, "cannot create directory", dir);
        }
    }
    return rc;
}

void e2b_paths_free(char **paths, size_t n)
{
    if (!paths)
        return;
    for (size_t i = 0; i < n; i++)
        free(paths[i]);
    free(paths);
}

e2b_code e2b_execution_save_images(const e2b_execution *ex, const char *dir, const char *prefix,
                                   char ***paths, size_t *n, e2b_error *err)
{
    if (!ex || !dir || !*dir || !paths || !n)
        return e2b_error_set(err, E2B_ERR_INVALID_ARGUMENT, 0,
                             "e2b_execution_save_images: NULL argument");
    *paths = NULL;
    *n = 0;
    if (!prefix)
        prefix = "result";
    static const char *const formats[] = {"png", "jpeg", "svg", "pdf"};
    size_t count = 0;
    for (size_t i = 0; i < ex->results_len; i++) {
        const e2b_result *r = &ex->results[i];
        count += !!r->png + !!r->jpeg + !!r->svg + !!r->pdf;
    }
    if (count == 0)
        return E2B_OK;
    e2b_code rc = make_dirs(dir, err);
    if (rc != E2B_OK)
        return rc;
    char **list = calloc(count, sizeof *list);
    if (!list)
        return no_memory(err);
    size_t k = 0;
    for (size_t i = 0; i < ex->results_len && rc == E2B_OK; i++) {
        const e2b_result *r = &ex->results[i];
        const char *have[] = {r->png, r->jpeg, r->svg, r->pdf};
        for (size_t f = 0; f < 4 && rc == E2B_OK; f++) {
            if (!have[f])
                continue;
            if (asprintf(&list[k], "%s/%s-%zu.%s", dir, prefix, i, formats[f]) < 0) {
                list[k] = NULL;
                rc = no_memory(err);
                break;
            }
            rc = e2b_result_save(r, formats[f], list[k], err);
            k++;
        }
    }
    if (rc != E2B_OK) {
        e2b_paths_free(list, k);
        return rc;
    }
    *paths = list;
    *n = k;
    return E2B_OK;
}
