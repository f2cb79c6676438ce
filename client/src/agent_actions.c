/* agent_actions.c - EXECUTE_CODE and MANAGE_SANDBOX on top of the agent service, and the
 * message router e2b_agent_handle_message. Contracts in e2b/agent_service.h. */
#include "agent_service_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "strbuf.h"

const char *e2b_agent_action_name(e2b_agent_action a)
{
    switch (a) {
    case E2B_AGENT_ACTION_EXECUTE_CODE: return "EXECUTE_CODE";
    case E2B_AGENT_ACTION_MANAGE_SANDBOX: return "MANAGE_SANDBOX";
    default: return "NONE";
    }
}

void e2b_agent_reply_free(e2b_agent_reply *r)
{
    if (!r)
        return;
    free(r->text);
    cJSON_Delete(r->json);
    for (size_t i = 0; i < r->attachment_count; i++)
        free(r->attachments[i]);
    free(r->attachments);
    memset(r, 0, sizeof *r);
}

/* Is this failure of the service/network (exit 2) rather than of the user's request?
 * The sandbox limit (SERVICE_BUSY raised locally, no HTTP status) is the user's to fix. */
static bool is_infra(e2b_code rc, const e2b_error *e)
{
    if (rc == E2B_ERR_SERVICE_BUSY && e && e->http_status == 0)
        return false;
    switch (rc) {
    case E2B_OK:
    case E2B_ERR_INVALID_ARGUMENT:
    case E2B_ERR_NOT_FOUND:
    case E2B_ERR_SANDBOX_NOT_FOUND:
    case E2B_ERR_CONFLICT: return false;
    default: return true;
    }
}

static const char *content_type(const char *path)
{
    const char *dot = strrchr(path, '.');
    if (dot && !strcmp(dot, ".png"))
        return "image/png";
    if (dot && (!strcmp(dot, ".jpeg") || !strcmp(dot, ".jpg")))
        return "image/jpeg";
    if (dot && !strcmp(dot, ".svg"))
        return "image/svg+xml";
    if (dot && !strcmp(dot, ".pdf"))
        return "application/pdf";
    return "application/octet-stream";
}

/* Builds the reply envelope. Takes ownership of text and data (either may be NULL on an
 * earlier allocation failure: then NO_MEMORY). */
static e2b_code finish_reply(e2b_agent_reply *out, e2b_agent_action action, bool success,
                             e2b_code fail_code, bool infra, const char *fail_msg, char *text,
                             cJSON *data, e2b_error *err)
{
    if (text) { /* the formatters end lists with blank lines; a reply ends at its text */
        size_t n = strlen(text);
        while (n && (text[n - 1] == '\n' || text[n - 1] == ' '))
            text[--n] = '\0';
    }
    out->action = action;
    out->success = success;
    out->infra = infra && fail_code != E2B_OK ? fail_code : E2B_OK;
    out->text = text;
    cJSON *o = cJSON_CreateObject();
    if (!text || !data || !o) {
        cJSON_Delete(data);
        cJSON_Delete(o);
        e2b_agent_reply_free(out);
        return e2b_error_set(err, E2B_ERR_NO_MEMORY, 0, "out of memory");
    }
    cJSON_AddStringToObject(o, "action", e2b_agent_action_name(action));
    cJSON_AddBoolToObject(o, "success", success);
    cJSON_AddStringToObject(o, "text", text);
    cJSON_AddItemToObject(o, "data", data);
    cJSON *att = cJSON_AddArrayToObject(o, "attachments");
    for (size_t i = 0; att && i < out->attachment_count; i++) {
        cJSON *a = cJSON_CreateObject();
        cJSON_AddItemToArray(att, a);
        cJSON_AddStringToObject(a, "path", out->attachments[i]);
        cJSON_AddStringToObject(a, "contentType", content_type(out->attachments[i]));
    }
    if (fail_code != E2B_OK) {
        cJSON *e = cJSON_AddObjectToObject(o, "error");
        cJSON_AddStringToObject(e, "code", e2b_code_name(fail_code));
        cJSON_AddStringToObject(e, "message", fail_msg ? fail_msg : "");
        cJSON_AddBoolToObject(e, "infrastructure", infra);
    } else {
        cJSON_AddNullToObject(o, "error");
    }
    out->json = o;
    char *probe = cJSON_PrintUnformatted(o);
    if (!probe) {
        e2b_agent_reply_free(out);
        return e2b_error_set(err, E2B_ERR_NO_MEMORY, 0, "out of memory");
    }
    cJSON_free(probe);
    return E2B_OK;
}

/* ---- EXECUTE_CODE ------------------------------------------------------------------------- */

/* A copy of s without ANSI escape sequences (Jupyter colours its tracebacks). */
static char *strip_ansi(const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s);
    char *d = malloc(n + 1), *w = d;
    if (!d)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\x1b' && i + 1 < n && s[i + 1] == '[') {
            i += 2;
            while (i < n && !((unsigned char)s[i] >= 0x40 && (unsigned char)s[i] <= 0x7e))
                i++;
            continue;
        }
        *w++ = s[i];
    }
    *w = '\0';
    return d;
}

/* Everything one block needs to stay alive until the reply is formatted. */
typedef struct block_run {
    e2b_execution *ex;
    char *out, *errs, *tb;
    char **images;
    size_t nimages;
    const char *out_arr[1], *err_arr[1];
    char synth_name[64];
    char synth_value[E2B_ERROR_MESSAGE_MAX + 128];
} block_run;

static void block_run_free(block_run *b)
{
    e2b_execution_free(b->ex);
    free(b->out);
    free(b->errs);
    free(b->tb);
    e2b_paths_free(b->images, b->nimages);
}

/* The code context for lang in sb, created on first use. Returns E2B_OK, or the failing
 * call's code (*unsupported set when the server refused the language). */
static e2b_code get_context(agent_sbx *sb, e2b_agent_lang lang, const char **ctx_id,
                            bool *unsupported, e2b_error *err)
{
    *unsupported = false;
    if (!sb->ctx[lang]) {
        e2b_code rc = e2b_context_create(sb->h, e2b_agent_lang_name(lang), NULL, &sb->ctx[lang],
                                         err);
        if (rc != E2B_OK) {
            *unsupported = rc == E2B_ERR_INTERNAL || rc == E2B_ERR_INVALID_ARGUMENT ||
                           rc == E2B_ERR_NOT_FOUND;
            return rc;
        }
    }
    *ctx_id = sb->ctx[lang]->id;
    return E2B_OK;
}

typedef struct exec_state {
    e2b_agent_service *svc;
    agent_sbx *sb;
    e2b_strbuf notes;
    char prefix_time[32];
    uint64_t msg_no;
} exec_state;

/* Runs one block in st->sb. Returns E2B_OK when the block produced a result to report
 * (including a user-code error), else the infrastructure failure (err filled). */
static e2b_code run_block(exec_state *st, const e2b_agent_block *blk, size_t idx, block_run *br,
                          e2b_agent_exec_result *res, e2b_error *err)
{
    e2b_agent_service *svc = st->svc;
    memset(res, 0, sizeof *res);
    res->language = e2b_agent_lang_name(blk->lang);
    res->code = blk->code;
    if (blk->lang == E2B_LANG_UNKNOWN) {
        snprintf(br->synth_name, sizeof br->synth_name, "UnsupportedLanguage");
        snprintf(br->synth_value, sizeof br->synth_value,
                 "the code block's language \"%s\" is not one this sandbox runs (python, "
                 "javascript, typescript, bash, r, java); the block was not run",
                 blk->tag);
        res->error_name = br->synth_name;
        res->error_value = br->synth_value;
        return E2B_OK;
    }
    if (blk->unterminated) {
        snprintf(br->synth_name, sizeof br->synth_name, "IncompleteCodeBlock");
        snprintf(br->synth_value, sizeof br->synth_value,
                 "the message ended inside this code block (no closing fence); it was not "
                 "run. Close it with ``` to run it");
        res->error_name = br->synth_name;
        res->error_value = br->synth_value;
        return E2B_OK;
    }
    e2b_code rc = E2B_OK;
    for (int attempt = 0; attempt < 2; attempt++) {
        const char *ctx_id = NULL;
        bool unsupported;
        rc = get_context(st->sb, blk->lang, &ctx_id, &unsupported, err);
        if (rc == E2B_OK) {
            e2b_run_opts ro;
            e2b_run_opts_init(&ro);
            ro.context_id = ctx_id;
            ro.timeout_ms = svc->exec_timeout_ms;
            rc = e2b_run_code(st->sb->h, blk->code, &ro, &br->ex, err);
        } else if (unsupported) {
            snprintf(br->synth_name, sizeof br->synth_name, "UnsupportedLanguage");
            snprintf(br->synth_value, sizeof br->synth_value, "the sandbox cannot run %s: %s",
                     res->language, err ? err->message : e2b_code_name(rc));
            res->error_name = br->synth_name;
            res->error_value = br->synth_value;
            return E2B_OK;
        }
        if (rc == E2B_ERR_SANDBOX_GONE && !br->ex && attempt == 0) {
            /* expired or killed behind our back: start over in a new sandbox, once */
            char old[E2B_AGENT_ID_MAX];
            snprintf(old, sizeof old, "%s", st->sb->id);
            agent_svc_forget(svc, st->sb);
            st->sb = NULL;
            rc = agent_svc_acquire_current(svc, &st->sb, NULL, err);
            if (rc != E2B_OK)
                return rc;
            e2b_strbuf_printf(&st->notes,
                              "ℹ️ Sandbox `%s` had expired; block %zu ran in sandbox `%s` "
                              "instead (variables from earlier messages are gone).\n\n",
                              old, idx + 1, st->sb->id);
            continue;
        }
        break;
    }
    if (rc == E2B_ERR_OPERATION_TIMEOUT) {
        /* the user's code ran too long: a failed block (with its partial output), not an
         * outage */
        snprintf(br->synth_name, sizeof br->synth_name, "TimeoutError");
        snprintf(br->synth_value, sizeof br->synth_value,
                 "execution did not finish within %ld ms and was stopped", svc->exec_timeout_ms);
        res->error_name = br->synth_name;
        res->error_value = br->synth_value;
        rc = E2B_OK;
    } else if (rc != E2B_OK) {
        return rc;
    }
    e2b_execution *ex = br->ex;
    if (!ex)
        return E2B_OK;
    if (e2b_execution_logs_text(ex, E2B_LOG_STDOUT, &br->out, err) != E2B_OK ||
        e2b_execution_logs_text(ex, E2B_LOG_STDERR, &br->errs, err) != E2B_OK)
        return e2b_error_set(err, E2B_ERR_NO_MEMORY, 0, "out of memory");
    br->out_arr[0] = br->out;
    br->err_arr[0] = br->errs;
    res->stdout_chunks = br->out_arr;
    res->stdout_count = br->out[0] ? 1 : 0;
    res->stderr_chunks = br->err_arr;
    res->stderr_count = br->errs[0] ? 1 : 0;
    res->text = ex->text;
    if (ex->error) {
        res->error_name = ex->error->name;
        res->error_value = ex->error->value;
        br->tb = strip_ansi(ex->error->traceback);
        if (!br->tb)
            return e2b_error_set(err, E2B_ERR_NO_MEMORY, 0, "out of memory");
        res->error_traceback = br->tb;
    }
    bool has_image = false;
    for (size_t i = 0; i < ex->results_len; i++)
        has_image = has_image || ex->results[i].png || ex->results[i].jpeg || ex->results[i].svg ||
                    ex->results[i].pdf;
    if (has_image) {
        char prefix[96];
        snprintf(prefix, sizeof prefix, "chat-%s-%llu-%zu", st->prefix_time,
                 (unsigned long long)st->msg_no, idx + 1);
        e2b_error e;
        if (e2b_execution_save_images(ex, svc->output_dir, prefix, &br->images, &br->nimages, &e) !=
            E2B_OK)
            e2b_strbuf_printf(&st->notes,
                              "⚠️ The images of block %zu could not be saved "
                              "in %s: %s\n\n",
                              idx + 1, svc->output_dir, e.message);
        res->image_paths = (const char *const *)br->images;
        res->image_count = br->nimages;
    }
    return E2B_OK;
}

static e2b_code do_execute(e2b_agent_service *svc, const e2b_agent_code *code, e2b_agent_reply *out,
                           e2b_error *err)
{
    exec_state st = {.svc = svc, .msg_no = svc->message_no};
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(st.prefix_time, sizeof st.prefix_time, "%Y%m%d-%H%M%S", &tm);

    size_t n = code->count;
    block_run *br = calloc(n, sizeof *br);
    e2b_agent_exec_result *res = calloc(n, sizeof *res);
    if (!br || !res) {
        free(br);
        free(res);
        return e2b_error_set(err, E2B_ERR_NO_MEMORY, 0, "out of memory");
    }
    e2b_error e;
    e2b_error_clear(&e);
    bool created = false;
    e2b_code fail = agent_svc_acquire_current(svc, &st.sb, &created, &e);
    size_t ran = 0;
    if (fail == E2B_OK) {
        for (; ran < n; ran++) {
            fail = run_block(&st, &code->blocks[ran], ran, &br[ran], &res[ran], &e);
            if (fail != E2B_OK)
                break;
        }
    }
    char sandbox_id[E2B_AGENT_ID_MAX] = "";
    if (st.sb) {
        snprintf(sandbox_id, sizeof sandbox_id, "%s", st.sb->id);
        if (fail == E2B_ERR_SANDBOX_GONE)
            agent_svc_forget(svc, st.sb);
        else
            agent_svc_release(svc, st.sb, true);
    }

    /* reply text: notes, the formatted blocks, then the failure if one stopped us */
    e2b_agent_format_opts fo = {.max_stream_bytes = svc->max_stream_bytes};
    char *blocks_text = NULL;
    e2b_code rc = E2B_OK;
    if (ran > 0)
        rc = e2b_agent_format_reply(res, ran, &fo, &blocks_text, err);
    e2b_strbuf b = {0};
    e2b_strbuf_puts(&b, "");
    if (st.notes.len)
        e2b_strbuf_append(&b, st.notes.p, st.notes.len);
    if (blocks_text)
        e2b_strbuf_puts(&b, blocks_text);
    if (fail != E2B_OK) {
        if (ran > 0)
            e2b_strbuf_printf(&b,
                              "\n\n❌ **Execution stopped before block %zu of %zu:** %s "
                              "(%s)",
                              ran + 1, n, e.message, e2b_code_name(fail));
        else
            e2b_strbuf_printf(&b, "❌ **Could not execute the code:** %s (%s)", e.message,
                              e2b_code_name(fail));
    }
    free(blocks_text);
    e2b_strbuf_free(&st.notes);

    cJSON *data = NULL;
    e2b_agent_sandbox_info *infos = NULL;
    e2b_agent_sandbox_status *store = NULL;
    e2b_kv *kvs = NULL;
    size_t ninfos = 0;
    if (rc == E2B_OK)
        rc = agent_svc_infos(svc, &infos, &ninfos, &store, &kvs, err);
    if (rc == E2B_OK)
        rc = e2b_agent_format_json(res, ran, infos, ninfos, &data, err);
    free(infos);
    free(store);
    free(kvs);
    bool success = false;
    if (data) {
        if (sandbox_id[0])
            cJSON_AddStringToObject(data, "sandboxId", sandbox_id);
        cJSON_AddBoolToObject(data, "sandboxCreated", created);
        cJSON *blocks = cJSON_AddArrayToObject(data, "codeBlocks");
        for (size_t i = 0; blocks && i < n; i++) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddItemToArray(blocks, o);
            cJSON_AddStringToObject(o, "language", e2b_agent_lang_name(code->blocks[i].lang));
            cJSON_AddStringToObject(o, "tag", code->blocks[i].tag);
            cJSON_AddBoolToObject(o, "ran", i < ran && br[i].ex != NULL);
        }
        cJSON_AddStringToObject(data, "source", e2b_agent_source_name(code->source));
        const cJSON *s = cJSON_GetObjectItemCaseSensitive(data, "success");
        success = fail == E2B_OK && cJSON_IsTrue(s);
        if (fail != E2B_OK)
            cJSON_ReplaceItemInObjectCaseSensitive(data, "success", cJSON_CreateFalse());
    }
    /* attachments: every saved image, in block order (ownership moves to the reply) */
    size_t natt = 0;
    for (size_t i = 0; i < ran; i++)
        natt += br[i].nimages;
    if (natt) {
        out->attachments = calloc(natt, sizeof *out->attachments);
        if (out->attachments) {
            for (size_t i = 0; i < ran; i++) {
                for (size_t k = 0; k < br[i].nimages; k++) {
                    out->attachments[out->attachment_count++] = br[i].images[k];
                    br[i].images[k] = NULL;
                }
            }
        } else {
            rc = E2B_ERR_NO_MEMORY;
        }
    }
    for (size_t i = 0; i < n; i++)
        block_run_free(&br[i]);
    free(br);
    free(res);
    char *text = e2b_strbuf_take(&b);
    if (rc != E2B_OK) {
        free(text);
        cJSON_Delete(data);
        e2b_agent_reply_free(out);
        return e2b_error_set(err, E2B_ERR_NO_MEMORY, 0, "out of memory");
    }
    return finish_reply(out, E2B_AGENT_ACTION_EXECUTE_CODE, success, fail, is_infra(fail, &e),
                        e.message, text, data, err);
}

/* ---- MANAGE_SANDBOX ------------------------------------------------------------------------ */

static char *dup_text(const char *s)
{
    return strdup(s);
}

static e2b_code manage_fail(e2b_agent_reply *out, const char *action, e2b_code code,
                            const e2b_error *cause, e2b_error *err)
{
    e2b_strbuf b = {0};
    e2b_strbuf_printf(&b, "❌ **Sandbox management failed**\n\nError: %s (%s)", cause->message,
                      e2b_code_name(code));
    cJSON *data = cJSON_CreateObject();
    cJSON_AddStringToObject(data, "action", action);
    return finish_reply(out, E2B_AGENT_ACTION_MANAGE_SANDBOX, false, code, is_infra(code, cause),
                        cause->message, e2b_strbuf_take(&b), data, err);
}

static e2b_code do_create(e2b_agent_service *svc, const e2b_agent_intent *in, e2b_agent_reply *out,
                          e2b_error *err)
{
    e2b_kv md[E2B_AGENT_META_MAX];
    size_t nmd = 0;
    bool has_created_by = false;
    for (size_t i = 0; i < in->metadata_len; i++) {
        md[nmd].key = in->metadata[i].key;
        md[nmd].value = in->metadata[i].value;
        has_created_by = has_created_by || !strcmp(in->metadata[i].key, "createdBy");
        nmd++;
    }
    if (!has_created_by && nmd < E2B_AGENT_META_MAX)
        md[nmd++] = (e2b_kv){"createdBy", "e2b-agent"};
    if (in->timeout_s > 0x7fffffffL) {
        e2b_error te;
        e2b_error_set(&te, E2B_ERR_INVALID_ARGUMENT, 0, "timeout too large");
        return manage_fail(out, "create", E2B_ERR_INVALID_ARGUMENT, &te, err);
    }
    e2b_agent_create_req req = {
        .template_id = in->template_name[0] ? in->template_name : NULL,
        .timeout_s = (int)in->timeout_s,
        .metadata = md,
        .metadata_len = nmd,
        /* code runs in the new sandbox only if it has the code interpreter template */
        .make_current = !in->template_name[0] || !strcmp(in->template_name, svc->template_id),
    };
    char id[E2B_AGENT_ID_MAX];
    e2b_error e;
    e2b_code rc = e2b_agent_service_create(svc, &req, id, &e);
    if (rc != E2B_OK)
        return manage_fail(out, "create", rc, &e, err);
    int timeout = req.timeout_s ? req.timeout_s : svc->sandbox_timeout_s;
    const char *tpl = req.template_id ? req.template_id : svc->template_id;
    e2b_strbuf b = {0};
    e2b_strbuf_printf(&b,
                      "✅ **New sandbox created successfully!**\n\n**Sandbox ID:** `%s`\n"
                      "**Template:** %s\n**Timeout:** %d seconds\n",
                      id, tpl, timeout);
    if (nmd) {
        e2b_strbuf_puts(&b, "**Metadata:**");
        for (size_t i = 0; i < nmd; i++)
            e2b_strbuf_printf(&b, "%s %s=%s", i ? "," : "", md[i].key, md[i].value);
        e2b_strbuf_puts(&b, "\n");
    }
    if (req.make_current) {
        e2b_strbuf_puts(&b, "**Status:** Active and ready for code execution\n\nYou can now "
                            "execute code, and it will run in this isolated environment.");
    } else {
        char cur[E2B_AGENT_ID_MAX] = "";
        pthread_mutex_lock(&svc->lock);
        if (svc->current)
            snprintf(cur, sizeof cur, "%s", svc->current->id);
        pthread_mutex_unlock(&svc->lock);
        e2b_strbuf_printf(&b,
                          "**Status:** Active\n\nCode execution stays %s%s%s (template "
                          "`%s` is the one with the code interpreter).",
                          cur[0] ? "in `" : "in a sandbox of the default template", cur,
                          cur[0] ? "`" : "", svc->template_id);
    }
    cJSON *data = cJSON_CreateObject();
    cJSON_AddStringToObject(data, "action", "create");
    cJSON_AddStringToObject(data, "sandboxId", id);
    cJSON_AddNumberToObject(data, "timeoutS", timeout);
    cJSON_AddStringToObject(data, "template", tpl);
    cJSON_AddBoolToObject(data, "current", req.make_current);
    cJSON *mj = cJSON_AddObjectToObject(data, "metadata");
    for (size_t i = 0; mj && i < nmd; i++)
        cJSON_AddStringToObject(mj, md[i].key, md[i].value);
    return finish_reply(out, E2B_AGENT_ACTION_MANAGE_SANDBOX, true, E2B_OK, false, NULL,
                        e2b_strbuf_take(&b), data, err);
}

static e2b_code do_list(e2b_agent_service *svc, e2b_agent_reply *out, e2b_error *err)
{
    size_t gone = 0;
    e2b_error e;
    e2b_code refresh = e2b_agent_service_refresh(svc, &gone, &e);
    e2b_agent_sandbox_info *infos = NULL;
    e2b_agent_sandbox_status *store = NULL;
    e2b_kv *kvs = NULL;
    size_t n = 0;
    e2b_code rc = agent_svc_infos(svc, &infos, &n, &store, &kvs, err);
    if (rc != E2B_OK)
        return rc;
    /* paused sandboxes are listed as inactive (refresh recorded the state) */
    pthread_mutex_lock(&svc->lock);
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < svc->n; k++)
            if (!strcmp(svc->sbx[k]->id, infos[i].sandbox_id))
                infos[i].active = !svc->sbx[k]->paused;
    pthread_mutex_unlock(&svc->lock);
    int64_t now = agent_now_ms();
    char *list = NULL;
    rc = e2b_agent_format_sandbox_list(infos, n, now, &list, err);
    e2b_strbuf b = {0};
    e2b_strbuf_puts(&b, "");
    if (refresh != E2B_OK)
        e2b_strbuf_printf(&b,
                          "⚠️ Could not check the sandboxes with E2B (%s: %s); showing "
                          "what this agent knows.\n\n",
                          e2b_code_name(refresh), e.message);
    if (gone)
        e2b_strbuf_printf(&b,
                          "ℹ️ %zu sandbox%s expired or %s killed elsewhere and %s "
                          "removed from the list.\n\n",
                          gone, gone == 1 ? "" : "es", gone == 1 ? "was" : "were",
                          gone == 1 ? "was" : "were");
    if (list)
        e2b_strbuf_puts(&b, list);
    free(list);
    cJSON *data = cJSON_CreateObject();
    cJSON_AddStringToObject(data, "action", "list");
    cJSON_AddNumberToObject(data, "expiredRemoved", (double)gone);
    cJSON *arr = cJSON_AddArrayToObject(data, "sandboxes");
    for (size_t i = 0; arr && i < n; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddItemToArray(arr, o);
        cJSON_AddStringToObject(o, "sandboxId", infos[i].sandbox_id);
        cJSON_AddStringToObject(o, "template", store[i].template_id);
        cJSON_AddBoolToObject(o, "isActive", infos[i].active);
        cJSON_AddBoolToObject(o, "current", store[i].current);
        cJSON_AddNumberToObject(o, "uptimeMs", (double)(now - store[i].created_ms));
        cJSON_AddNumberToObject(o, "lastActivityMs", (double)(now - store[i].last_activity_ms));
        cJSON_AddNumberToObject(o, "timeoutS", store[i].timeout_s);
        cJSON *md = cJSON_AddObjectToObject(o, "metadata");
        for (size_t k = 0; md && k < store[i].metadata_len; k++)
            cJSON_AddStringToObject(md, store[i].metadata[k].key, store[i].metadata[k].value);
    }
    free(infos);
    free(store);
    free(kvs);
    char *text = e2b_strbuf_take(&b);
    if (rc != E2B_OK) {
        free(text);
        cJSON_Delete(data);
        return rc;
    }
    return finish_reply(out, E2B_AGENT_ACTION_MANAGE_SANDBOX, true, E2B_OK, false, NULL, text, data,
                        err);
}

static e2b_code do_kill(e2b_agent_service *svc, const e2b_agent_intent *in, e2b_agent_reply *out,
                        e2b_error *err)
{
    e2b_error e;
    e2b_error_clear(&e);
    cJSON *data = cJSON_CreateObject();
    cJSON_AddStringToObject(data, "action", "kill");
    cJSON_AddStringToObject(data, "target", e2b_agent_kill_target_name(in->target));
    cJSON *killed_arr = cJSON_AddArrayToObject(data, "killed");
    cJSON *missing_arr = cJSON_AddArrayToObject(data, "notFound");
    e2b_strbuf b = {0};
    bool success = false;
    e2b_code fail = E2B_OK;

    e2b_agent_sandbox_status *st = NULL;
    size_t n = 0;
    e2b_code rc = e2b_agent_service_list(svc, &st, &n, err);
    if (rc != E2B_OK) {
        cJSON_Delete(data);
        return rc;
    }
    e2b_agent_kill_target target = in->target;
    if (target == E2B_KILL_UNSPECIFIED && n == 1)
        target = E2B_KILL_LATEST; /* "kill the sandbox" with only one: that one */

    if (target == E2B_KILL_ID) {
        bool killed = false;
        fail = e2b_agent_service_kill(svc, in->sandbox_id, &killed, &e);
        if (fail == E2B_OK && killed) {
            success = true;
            cJSON_AddItemToArray(killed_arr, cJSON_CreateString(in->sandbox_id));
            e2b_strbuf_printf(&b,
                              "✅ **Sandbox killed successfully**\n\nSandbox `%s` has "
                              "been terminated and all resources have been cleaned up.",
                              in->sandbox_id);
        } else if (fail == E2B_OK) {
            cJSON_AddItemToArray(missing_arr, cJSON_CreateString(in->sandbox_id));
            e2b_strbuf_printf(&b,
                              "ℹ️ **No such sandbox**\n\nThere is no sandbox `%s` (it "
                              "may have expired or been killed already, or the id is "
                              "mistyped). Nothing was killed.",
                              in->sandbox_id);
            if (n) {
                e2b_strbuf_puts(&b, " Active sandboxes:");
                for (size_t i = 0; i < n; i++)
                    e2b_strbuf_printf(&b, "%s `%s`", i ? "," : "", st[i].sandbox_id);
                e2b_strbuf_puts(&b, ".");
            }
        }
    } else if (target == E2B_KILL_LATEST) {
        char id[E2B_AGENT_ID_MAX];
        bool killed = false;
        fail = e2b_agent_service_kill_latest(svc, id, &killed, &e);
        if (fail == E2B_OK && killed) {
            success = true;
            cJSON_AddItemToArray(killed_arr, cJSON_CreateString(id));
            e2b_strbuf_printf(&b,
                              "✅ **Latest sandbox killed successfully**\n\nSandbox `%s` "
                              "has been terminated.",
                              id);
        } else if (fail == E2B_OK && id[0]) {
            /* tracked but already gone on the server: forgotten now */
            cJSON_AddItemToArray(missing_arr, cJSON_CreateString(id));
            e2b_strbuf_printf(&b,
                              "ℹ️ **Sandbox already gone**\n\nThe newest sandbox `%s` had "
                              "already expired or been killed; it is no longer listed.",
                              id);
        } else if (fail == E2B_OK) {
            e2b_strbuf_puts(&b, "ℹ️ **No sandboxes to kill**\n\nThere are currently no "
                                "active sandboxes running.");
        }
    } else if (target == E2B_KILL_ALL) {
        size_t k = 0;
        for (size_t i = 0; i < n && fail == E2B_OK; i++) {
            bool killed = false;
            fail = e2b_agent_service_kill(svc, st[i].sandbox_id, &killed, &e);
            if (fail == E2B_OK) {
                cJSON_AddItemToArray(killed ? killed_arr : missing_arr,
                                     cJSON_CreateString(st[i].sandbox_id));
                k += killed;
            }
        }
        if (fail == E2B_OK && n == 0) {
            e2b_strbuf_puts(&b, "ℹ️ **No sandboxes to kill**\n\nThere are currently no "
                                "active sandboxes running.");
        } else if (fail == E2B_OK) {
            success = true;
            e2b_strbuf_printf(&b, "✅ **All sandboxes killed**\n\n%zu sandbox%s terminated:", k,
                              k == 1 ? "" : "es");
            for (cJSON *it = killed_arr ? killed_arr->child : NULL; it; it = it->next)
                e2b_strbuf_printf(&b, "%s `%s`", it == killed_arr->child ? "" : ",",
                                  it->valuestring);
            e2b_strbuf_puts(&b, ".");
        }
    } else { /* unspecified with 0 or several sandboxes */
        if (n == 0) {
            e2b_strbuf_puts(&b, "ℹ️ **No sandboxes to kill**\n\nThere are currently no "
                                "active sandboxes running.");
        } else {
            e2b_strbuf_printf(&b,
                              "ℹ️ **Which sandbox?**\n\nThere are %zu active sandboxes:", n);
            for (size_t i = 0; i < n; i++)
                e2b_strbuf_printf(&b, "%s `%s`", i ? "," : "", st[i].sandbox_id);
            e2b_strbuf_puts(&b, ". Say \"kill sandbox <id>\", \"kill the newest sandbox\" or "
                                "\"kill all sandboxes\".");
        }
    }
    free(st);
    if (fail != E2B_OK) {
        e2b_strbuf_free(&b);
        cJSON_Delete(data);
        return manage_fail(out, "kill", fail, &e, err);
    }
    return finish_reply(out, E2B_AGENT_ACTION_MANAGE_SANDBOX, success, E2B_OK, false, NULL,
                        e2b_strbuf_take(&b), data, err);
}

/* ---- the router -------------------------------------------------------------------------- */

e2b_code e2b_agent_handle_message(e2b_agent_service *svc, const char *text, size_t len,
                                  e2b_agent_reply *out, e2b_error *err)
{
    if (out)
        memset(out, 0, sizeof *out);
    if (!svc || !out || (!text && len))
        return e2b_error_set(err, E2B_ERR_INVALID_ARGUMENT, 0,
                             "e2b_agent_handle_message: svc, out and the text are required");
    if (len > E2B_AGENT_MAX_MESSAGE)
        return e2b_error_set(err, E2B_ERR_INVALID_ARGUMENT, 0,
                             "message of %zu bytes is over the %u byte limit", len,
                             (unsigned)E2B_AGENT_MAX_MESSAGE);
    pthread_mutex_lock(&svc->msg_lock);
    svc->message_no++;
    e2b_agent_code code;
    e2b_code rc = e2b_agent_extract_code((const uint8_t *)text, len, &code, err);
    if (rc != E2B_OK) {
        pthread_mutex_unlock(&svc->msg_lock);
        return rc;
    }
    if (code.count > 0) {
        rc = do_execute(svc, &code, out, err);
        e2b_agent_code_free(&code);
        pthread_mutex_unlock(&svc->msg_lock);
        return rc;
    }
    const char *trigger = code.trigger;
    e2b_agent_code_free(&code);

    e2b_agent_intent in;
    e2b_error ie;
    e2b_code irc = e2b_agent_parse_intent((const uint8_t *)text, len, &in, &ie);
    if (irc == E2B_ERR_NO_MEMORY) {
        pthread_mutex_unlock(&svc->msg_lock);
        if (err)
            *err = ie;
        return irc;
    }
    if (in.mentions_sandbox) {
        if (irc != E2B_OK) {
            rc = manage_fail(out, "unknown", irc, &ie, err);
        } else if (in.kind == E2B_INTENT_CREATE) {
            rc = do_create(svc, &in, out, err);
        } else if (in.kind == E2B_INTENT_LIST) {
            rc = do_list(svc, out, err);
        } else if (in.kind == E2B_INTENT_KILL) {
            rc = do_kill(svc, &in, out, err);
        } else {
            e2b_strbuf b = {0};
            e2b_strbuf_printf(&b,
                              "ℹ️ **Sandbox request not understood**\n\n%s%s Try "
                              "\"create a sandbox with 10 minute timeout\", \"list "
                              "sandboxes\" or \"kill sandbox <id>\".",
                              in.reason ? in.reason : "No create, list or kill word found",
                              in.reason ? "." : ".");
            cJSON *data = cJSON_CreateObject();
            cJSON_AddStringToObject(data, "action", "unknown");
            cJSON_AddStringToObject(data, "reason", in.reason ? in.reason : "no intent word");
            rc = finish_reply(out, E2B_AGENT_ACTION_MANAGE_SANDBOX, false, E2B_OK, false, NULL,
                              e2b_strbuf_take(&b), data, err);
        }
    } else if (trigger) {
        cJSON *data = cJSON_CreateObject();
        cJSON_AddStringToObject(data, "reason", "no_code_found");
        cJSON_AddStringToObject(data, "trigger", trigger);
        cJSON_AddItemToObject(data, "codeBlocks", cJSON_CreateArray());
        rc = finish_reply(out, E2B_AGENT_ACTION_EXECUTE_CODE, false, E2B_OK, false, NULL,
                          dup_text("No executable code found in the message. Please provide "
                                   "code blocks using ```language or include recognizable "
                                   "code patterns."),
                          data, err);
    } else {
        cJSON *data = cJSON_CreateObject();
        cJSON_AddStringToObject(data, "reason", "no_action");
        rc = finish_reply(out, E2B_AGENT_ACTION_NONE, true, E2B_OK, false, NULL,
                          dup_text("No action: the message has no code to run and no sandbox "
                                   "request."),
                          data, err);
    }
    pthread_mutex_unlock(&svc->msg_lock);
    return rc;
}
