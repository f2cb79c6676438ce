/* envd_client.c - see envd_client.h. */
#include "envd_client.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "fs_safe.h"
#include "store.h"
#include "util.h"

mock_server *srv;
char base[128];
char sbx_id[64], sbx_token[64], sbx_dir[512];

/* ------------------------------------------------------------------ http helper */

size_t on_data(char *p, size_t sz, size_t n, void *ud)
{
    buf *b = ud;
    b->p = realloc(b->p, b->n + sz * n + 1);
    memcpy(b->p + b->n, p, sz * n);
    b->n += sz * n;
    b->p[b->n] = '\0';
    return sz * n;
}

void resp_free(resp *r)
{
    free(r->body.p);
    free(r->hdr.p);
    memset(r, 0, sizeof *r);
}

const char *hdr(const resp *r, const char *name, char *out, size_t outlen)
{
    size_t nl = strlen(name);
    for (const char *l = r->hdr.p; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        if (strncasecmp(l, name, nl) == 0 && l[nl] == ':') {
            const char *v = l + nl + 1;
            while (*v == ' ')
                v++;
            size_t len = strcspn(v, "\r\n");
            if (len >= outlen)
                len = outlen - 1;
            memcpy(out, v, len);
            out[len] = '\0';
            return out;
        }
    }
    return NULL;
}

static size_t on_read(char *out, size_t sz, size_t n, void *ud)
{
    feeder *f = ud;
    size_t room = sz * n, left = f->len - f->off;
    size_t take = left < room ? left : room;
    if (f->step && take > f->step)
        take = f->step;
    memcpy(out, f->p + f->off, take);
    f->off += take;
    return take;
}

/* One envd request. body may be NULL (GET); step > 0 sends it chunked in step-byte pieces.
 * extra: NULL-terminated header lines; token adds X-Access-Token. */
resp envd_req(const char *method, const char *path, const void *body, size_t len, size_t step,
              bool token, const char *const *extra)
{
    resp r = {0};
    CURL *h = curl_easy_init();
    char url[FS_PATH_MAX + 256];
    snprintf(url, sizeof url, "%s%s", base, path);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &r.body);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &r.hdr);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 60L);
    struct curl_slist *hl = NULL;
    char l1[128], l2[128];
    snprintf(l1, sizeof l1, "E2b-Sandbox-Id: %s", sbx_id);
    hl = curl_slist_append(hl, l1);
    hl = curl_slist_append(hl, "E2b-Sandbox-Port: 49983");
    if (token) {
        snprintf(l2, sizeof l2, "X-Access-Token: %s", sbx_token);
        hl = curl_slist_append(hl, l2);
    }
    for (size_t i = 0; extra && extra[i]; i++)
        hl = curl_slist_append(hl, extra[i]);
    feeder f = {body, len, 0, step};
    if (body) {
        curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(h, CURLOPT_READDATA, &f);
        if (step)
            hl = curl_slist_append(hl, "Transfer-Encoding: chunked");
        else
            curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)len);
        hl = curl_slist_append(hl, "Expect:");
    }
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
    CURLcode rc = curl_easy_perform(h);
    if (rc != CURLE_OK)
        fail_msg("%s %s (%.60s): %s", method, path,
                 body && len > 5 ? (const char *)body + (((const char *)body)[0] == 0 ? 5 : 0) : "",
                 curl_easy_strerror(rc));
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r.status);
    curl_slist_free_all(hl);
    curl_easy_cleanup(h);
    return r;
}

/* Unary Connect call: 200 with JSON reply expected unless want_status says otherwise. */
cJSON *rpc(const char *method, const char *json, long want_status)
{
    const char *extra[] = {"Content-Type: application/json", "Connect-Protocol-Version: 1", NULL};
    char path[128];
    snprintf(path, sizeof path, "/%s", method);
    resp r = envd_req("POST", path, json, strlen(json), 0, true, extra);
    if (r.status != want_status)
        fail_msg("%s %s -> %ld %s", method, json, r.status, r.body.p ? r.body.p : "");
    char ct[128];
    assert_non_null(hdr(&r, "Content-Type", ct, sizeof ct));
    assert_string_equal(ct, "application/json");
    cJSON *j = cJSON_Parse(r.body.p ? r.body.p : "");
    assert_non_null(j);
    resp_free(&r);
    return j;
}

const char *jstr(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

void expect_rpc_error(const char *method, const char *json, long status, const char *code,
                      const char *msg_part)
{
    cJSON *j = rpc(method, json, status);
    assert_string_equal(jstr(j, "code"), code);
    if (msg_part && !strstr(jstr(j, "message"), msg_part))
        fail_msg("message '%s' lacks '%s'", jstr(j, "message"), msg_part);
    cJSON_Delete(j);
}

void new_sandbox(void)
{
    cJSON *envs = cJSON_CreateObject();
    cJSON_AddStringToObject(envs, "SBX_VAR", "from-create");
    store_create_opts o = {
        .template_id = "base", .timeout_ms = 600000, .allow_internet_access = -1, .env_vars = envs};
    mock_sandbox *s = store_create(mock_server_store(srv), &o);
    assert_non_null(s);
    snprintf(sbx_id, sizeof sbx_id, "%s", s->id);
    snprintf(sbx_token, sizeof sbx_token, "%s", s->access_token);
    snprintf(sbx_dir, sizeof sbx_dir, "%s", s->dir);
    store_release(s);
    cJSON_Delete(envs);
}

int envd_setup(void **state)
{
    (void)state;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    mock_log_set_level(MOCK_LOG_ERROR);
    mock_server_config cfg = {0};
    srv = mock_server_new(&cfg);
    assert_non_null(srv);
    snprintf(base, sizeof base, "%s", mock_server_url(srv));
    new_sandbox();
    return 0;
}

int envd_teardown(void **state)
{
    (void)state;
    mock_server_free(srv);
    curl_global_cleanup();
    return 0;
}
