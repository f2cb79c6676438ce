/* unit_sandbox_api.c - the lifecycle calls against a scripted fake control plane (in-test
 * MHD server): request shapes (paths, bodies, X-API-Key, query), status handling (201 vs
 * 200 on connect, 404 on kill, 409 on pause, 404 on create), pagination headers, the
 * all-pages iterator, 429 retry, metrics, debug mode. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "e2b/e2b.h"
#include "test_server.h"

typedef struct fake {
    char last_body[1024];
    char last_path[256];
    char last_method[16];
    char last_metadata[256];
    char last_state[64];
    char last_limit[16];
    int deletes;
    int rate_limit_left; /* answer this many 429s first */
    int list_calls;
} fake;

static const char *DETAIL =
    "{\"templateID\":\"base\",\"sandboxID\":\"sbx1\",\"clientID\":\"c\",\"startedAt\":"
    "\"2026-11-26T09:00:00Z\",\"endAt\":\"2026-11-26T09:05:00Z\",\"cpuCount\":2,\"memoryMB\":"
    "512,\"diskSizeMB\":1024,\"state\":\"running\",\"envdVersion\":\"0.6.13\",\"metadata\":"
    "{\"k\":\"v\"}}";

static void listed(char *buf, size_t len, const char *id)
{
    snprintf(buf, len,
             "{\"templateID\":\"base\",\"sandboxID\":\"%s\",\"clientID\":\"c\",\"startedAt\":"
             "\"2026-11-26T09:00:00Z\",\"endAt\":\"2026-11-26T09:05:00Z\",\"cpuCount\":2,"
             "\"memoryMB\":512,\"diskSizeMB\":1024,\"state\":\"running\",\"envdVersion\":"
             "\"0.6.13\"}",
             id);
}

static void route(ts_req *r, void *ud)
{
    fake *f = ud;
    snprintf(f->last_path, sizeof f->last_path, "%s", r->path);
    snprintf(f->last_method, sizeof f->last_method, "%s", r->method);
    snprintf(f->last_body, sizeof f->last_body, "%s", r->body ? r->body : "");
    const char *key = ts_header(r, "X-API-Key");
    if (!key || strcmp(key, "e2b_test") != 0) {
        ts_reply(r, 401, "{\"code\":401,\"message\":\"Invalid API key\"}");
        return;
    }
    if (f->rate_limit_left > 0) {
        f->rate_limit_left--;
        ts_reply(r, 429, "{\"code\":429,\"message\":\"too many\"}");
        ts_add_header(r, "Retry-After", "1");
        return;
    }
    const char *m = r->method, *p = r->path;
    if (!strcmp(m, "POST") && !strcmp(p, "/v2/sandboxes")) {
        cJSON *j = cJSON_Parse(r->body ? r->body : "");
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(j, "templateID");
        const char *tpl = cJSON_IsString(t) ? t->valuestring : "?";
        if (!strcmp(tpl, "nope")) {
            ts_reply(r, 404, "{\"code\":404,\"message\":\"template 'nope' not found\"}");
        } else if (!strcmp(tpl, "old")) {
            ts_reply(r, 201,
                     "{\"sandboxID\":\"oldsbx\",\"templateID\":\"old\",\"clientID\":"
                     "\"c\",\"envdVersion\":\"0.0.1\"}");
        } else {
            char buf[512];
            snprintf(buf, sizeof buf,
                     "{\"sandboxID\":\"sbx1\",\"templateID\":\"%s\",\"clientID\":\"c\","
                     "\"envdVersion\":\"0.6.13\",\"envdAccessToken\":\"tok\","
                     "\"trafficAccessToken\":null,\"domain\":null}",
                     tpl);
            ts_reply(r, 201, buf);
        }
        cJSON_Delete(j);
    } else if (!strcmp(m, "GET") && !strcmp(p, "/sandboxes/sbx1")) {
        ts_reply(r, 200, DETAIL);
    } else if (!strcmp(m, "GET") && !strcmp(p, "/sandboxes/badjson")) {
        ts_reply(r, 200, "{\"sandboxID\":");
    } else if (!strcmp(m, "GET") && !strcmp(p, "/sandboxes/badtype")) {
        ts_reply(r, 200, "{\"sandboxID\":\"x\",\"cpuCount\":\"2\"}");
    } else if (!strcmp(m, "POST") && !strcmp(p, "/sandboxes/sbx1/timeout")) {
        ts_reply(r, 204, NULL);
    } else if (!strcmp(m, "DELETE") && !strcmp(p, "/sandboxes/sbx1")) {
        f->deletes++;
        ts_reply(r, 204, NULL);
    } else if (!strcmp(m, "DELETE") && !strcmp(p, "/sandboxes/oldsbx")) {
        f->deletes++;
        ts_reply(r, 204, NULL);
    } else if (!strcmp(m, "POST") && !strcmp(p, "/sandboxes/sbx1/pause")) {
        ts_reply(r, 204, NULL);
    } else if (!strcmp(m, "POST") && !strcmp(p, "/sandboxes/paused/pause")) {
        ts_reply(r, 409, "{\"code\":409,\"message\":\"already paused\"}");
    } else if (!strcmp(m, "POST") && !strcmp(p, "/v2/sandboxes/sbx1/connect")) {
        ts_reply(r, 200,
                 "{\"sandboxID\":\"sbx1\",\"templateID\":\"base\",\"clientID\":\"c\","
                 "\"envdVersion\":\"0.6.13\"}");
    } else if (!strcmp(m, "POST") && !strcmp(p, "/v2/sandboxes/paused/connect")) {
        ts_reply(r, 201,
                 "{\"sandboxID\":\"paused\",\"templateID\":\"base\",\"clientID\":\"c\","
                 "\"envdVersion\":\"0.6.13\"}");
    } else if (!strcmp(m, "GET") && !strcmp(p, "/v2/sandboxes")) {
        f->list_calls++;
        const char *md = ts_query(r, "metadata"), *st = ts_query(r, "state"),
                   *lim = ts_query(r, "limit"), *tok = ts_query(r, "nextToken");
        snprintf(f->last_metadata, sizeof f->last_metadata, "%s", md ? md : "");
        snprintf(f->last_state, sizeof f->last_state, "%s", st ? st : "");
        snprintf(f->last_limit, sizeof f->last_limit, "%s", lim ? lim : "");
        /* 3 sandboxes, 2 per page */
        char a[400], b[400], body[900];
        if (!tok) {
            listed(a, sizeof a, "s1");
            listed(b, sizeof b, "s2");
            snprintf(body, sizeof body, "[%s,%s]", a, b);
            ts_add_header(r, "X-Next-Token", "page2");
        } else if (!strcmp(tok, "page2")) {
            listed(a, sizeof a, "s3");
            snprintf(body, sizeof body, "[%s]", a);
        } else {
            snprintf(body, sizeof body, "[]");
        }
        ts_add_header(r, "X-Total-Running", "3");
        ts_reply(r, 200, body);
    } else if (!strcmp(m, "GET") && !strcmp(p, "/sandboxes/sbx1/metrics")) {
        const char *s = ts_query(r, "start");
        snprintf(f->last_limit, sizeof f->last_limit, "%s", s ? s : "");
        ts_reply(r, 200,
                 "[{\"timestamp\":\"2026-11-26T09:00:00Z\",\"timestampUnix\":1795683600,"
                 "\"cpuCount\":2,\"cpuUsedPct\":12.5,\"memUsed\":1000,\"memTotal\":"
                 "2000,\"memCache\":10,\"diskUsed\":300,\"diskTotal\":4000},"
                 "{\"timestamp\":\"2026-11-26T09:00:05Z\",\"cpuCount\":2,"
                 "\"cpuUsedPct\":0,\"memUsed\":1,\"memTotal\":2,\"memCache\":0,"
                 "\"diskUsed\":3,\"diskTotal\":4}]");
    } else {
        char buf[300];
        snprintf(buf, sizeof buf,
                 "{\"code\":404,\"message\":\"Sandbox \\\"%s\\\" doesn't exist or you don't have "
                 "access to it\"}",
                 p);
        ts_reply(r, 404, buf);
    }
}

typedef struct fx {
    fake f;
    ts_server *srv;
    e2b_client *c;
} fx;

static int setup(void **state)
{
    fx *x = calloc(1, sizeof *x);
    x->srv = ts_start(route, &x->f);
    if (!x->srv)
        return -1;
    e2b_config cfg;
    e2b_config_init(&cfg);
    cfg.api_url = x->srv->url;
    cfg.api_key = "e2b_test";
    cfg.request_timeout_ms = 10000;
    if (e2b_client_new(&cfg, &x->c, NULL) != E2B_OK)
        return -1;
    *state = x;
    return 0;
}

static int teardown(void **state)
{
    fx *x = *state;
    e2b_client_free(x->c);
    ts_stop(x->srv);
    free(x);
    return 0;
}

static void test_create_body_and_reply(void **state)
{
    fx *x = *state;
    e2b_kv md[] = {{"k", "v"}}, env[] = {{"FOO", "bar"}};
    e2b_create_opts o;
    e2b_create_opts_init(&o);
    o.template_id = "code-interpreter-v1";
    o.timeout_s = 120;
    o.metadata = md;
    o.metadata_len = 1;
    o.env_vars = env;
    o.env_vars_len = 1;
    e2b_sandbox *s;
    e2b_error err;
    assert_int_equal(e2b_sandbox_create(x->c, &o, &s, &err), E2B_OK);
    assert_string_equal(x->f.last_body,
                        "{\"templateID\":\"code-interpreter-v1\",\"timeout\":120,"
                        "\"metadata\":{\"k\":\"v\"},\"envVars\":{\"FOO\":\"bar\"}}");
    assert_string_equal(e2b_sandbox_id(s), "sbx1");
    assert_string_equal(e2b_sandbox_envd_access_token(s), "tok");
    assert_null(e2b_sandbox_traffic_access_token(s));
    e2b_sandbox_free(s);

    /* defaults: only templateID; flags when set */
    assert_int_equal(e2b_sandbox_create(x->c, NULL, &s, &err), E2B_OK);
    assert_string_equal(x->f.last_body, "{\"templateID\":\"base\"}");
    e2b_sandbox_free(s);
    e2b_create_opts_init(&o);
    o.auto_pause = true;
    o.allow_internet_access = 0;
    assert_int_equal(e2b_sandbox_create(x->c, &o, &s, &err), E2B_OK);
    assert_string_equal(
        x->f.last_body,
        "{\"templateID\":\"base\",\"autoPause\":true,\"allow_internet_access\":false}");
    e2b_sandbox_free(s);
}

static void test_create_errors(void **state)
{
    fx *x = *state;
    e2b_create_opts o;
    e2b_create_opts_init(&o);
    o.template_id = "nope";
    e2b_sandbox *s = NULL;
    e2b_error err;
    assert_int_equal(e2b_sandbox_create(x->c, &o, &s, &err), E2B_ERR_NOT_FOUND);
    assert_null(s);
    assert_int_equal(err.http_status, 404);
    assert_non_null(strstr(err.message, "template 'nope' not found"));
    /* envd too old: PROTOCOL, and the unusable sandbox is killed like the JS SDK does */
    o.template_id = "old";
    assert_int_equal(e2b_sandbox_create(x->c, &o, &s, &err), E2B_ERR_PROTOCOL);
    assert_non_null(strstr(err.message, "0.0.1"));
    assert_int_equal(x->f.deletes, 1);
    assert_string_equal(x->f.last_path, "/sandboxes/oldsbx");
    o.timeout_s = -1;
    assert_int_equal(e2b_sandbox_create(x->c, &o, &s, &err), E2B_ERR_INVALID_ARGUMENT);
}

static void test_auth(void **state)
{
    fx *x = *state;
    e2b_config cfg;
    e2b_config_init(&cfg);
    cfg.api_url = x->srv->url;
    cfg.api_key = "wrong";
    e2b_client *c;
    assert_int_equal(e2b_client_new(&cfg, &c, NULL), E2B_OK);
    e2b_sandbox_info *info;
    e2b_error err;
    assert_int_equal(e2b_sandbox_get_info(c, "sbx1", &info, &err), E2B_ERR_AUTH);
    assert_string_equal(err.message,
                        "Unauthorized, please check your credentials. - Invalid API key");
    e2b_client_free(c);
    cfg.api_key = NULL; /* no key: refused locally, nothing sent */
    assert_int_equal(e2b_client_new(&cfg, &c, NULL), E2B_OK);
    assert_int_equal(e2b_sandbox_get_info(c, "sbx1", &info, &err), E2B_ERR_AUTH);
    e2b_client_free(c);
}

static void test_get_info(void **state)
{
    fx *x = *state;
    e2b_sandbox_info *info;
    e2b_error err;
    assert_int_equal(e2b_sandbox_get_info(x->c, "sbx1", &info, &err), E2B_OK);
    assert_string_equal(info->sandbox_id, "sbx1");
    assert_int_equal(info->state, E2B_STATE_RUNNING);
    assert_int_equal(info->end_at_unix - info->started_at_unix, 300);
    assert_int_equal(info->metadata_len, 1);
    e2b_sandbox_info_free(info);
    assert_int_equal(e2b_sandbox_get_info(x->c, "missing", &info, &err), E2B_ERR_SANDBOX_NOT_FOUND);
    assert_null(info);
    assert_non_null(strstr(err.message, "missing"));
    assert_int_equal(e2b_sandbox_get_info(x->c, "badjson", &info, &err), E2B_ERR_PROTOCOL);
    assert_int_equal(e2b_sandbox_get_info(x->c, "badtype", &info, &err), E2B_ERR_PROTOCOL);
    assert_non_null(strstr(err.message, "cpuCount"));
    assert_int_equal(e2b_sandbox_get_info(x->c, "", &info, &err), E2B_ERR_INVALID_ARGUMENT);
    /* ids are escaped into the path */
    assert_int_equal(e2b_sandbox_get_info(x->c, "a/b c", &info, &err), E2B_ERR_SANDBOX_NOT_FOUND);
    assert_string_equal(x->f.last_path, "/sandboxes/a/b c"); /* MHD decodes %2F %20 */
}

static void test_timeout_kill_pause(void **state)
{
    fx *x = *state;
    e2b_error err;
    assert_int_equal(e2b_sandbox_set_timeout(x->c, "sbx1", 90, &err), E2B_OK);
    assert_string_equal(x->f.last_body, "{\"timeout\":90}");
    assert_int_equal(e2b_sandbox_set_timeout(x->c, "sbx1", 0, &err), E2B_ERR_INVALID_ARGUMENT);
    assert_int_equal(e2b_sandbox_set_timeout(x->c, "gone", 5, &err), E2B_ERR_SANDBOX_NOT_FOUND);

    bool killed = false;
    assert_int_equal(e2b_sandbox_kill(x->c, "sbx1", &killed, &err), E2B_OK);
    assert_true(killed);
    assert_string_equal(x->f.last_method, "DELETE");
    assert_int_equal(e2b_sandbox_kill(x->c, "gone", &killed, &err), E2B_OK);
    assert_false(killed);
    assert_int_equal(e2b_sandbox_kill(x->c, "gone", NULL, &err), E2B_OK);

    bool paused = false;
    assert_int_equal(e2b_sandbox_pause(x->c, "sbx1", &paused, &err), E2B_OK);
    assert_true(paused);
    assert_string_equal(x->f.last_body, "{}");
    assert_int_equal(e2b_sandbox_pause(x->c, "paused", &paused, &err), E2B_OK);
    assert_false(paused);
    assert_int_equal(e2b_sandbox_pause(x->c, "gone", &paused, &err), E2B_ERR_SANDBOX_NOT_FOUND);
}

static void test_connect(void **state)
{
    fx *x = *state;
    e2b_sandbox *s;
    bool resumed = true;
    e2b_error err;
    assert_int_equal(e2b_sandbox_connect(x->c, "sbx1", 0, &s, &resumed, &err), E2B_OK);
    assert_false(resumed);
    assert_string_equal(x->f.last_body, "{}");
    e2b_sandbox_free(s);
    assert_int_equal(e2b_sandbox_connect(x->c, "paused", 60, &s, &resumed, &err), E2B_OK);
    assert_true(resumed);
    assert_string_equal(x->f.last_body, "{\"timeout\":60}");
    assert_string_equal(e2b_sandbox_id(s), "paused");
    e2b_sandbox_free(s);
    assert_int_equal(e2b_sandbox_connect(x->c, "gone", 0, &s, &resumed, &err),
                     E2B_ERR_SANDBOX_NOT_FOUND);
    assert_null(s);
    assert_non_null(strstr(err.message, "Paused sandbox gone not found"));
}

static void test_list_and_iter(void **state)
{
    fx *x = *state;
    e2b_kv md[] = {{"k", "v w"}};
    e2b_list_opts o = {
        .metadata = md, .metadata_len = 1, .running = true, .paused = true, .limit = 2};
    e2b_sandbox_page *pg;
    e2b_error err;
    assert_int_equal(e2b_sandbox_list(x->c, &o, &pg, &err), E2B_OK);
    assert_int_equal(pg->len, 2);
    assert_string_equal(pg->items[1].sandbox_id, "s2");
    assert_string_equal(pg->next_token, "page2");
    assert_int_equal(pg->total_running, 3);
    /* the server decodes the query once: what is left is the JS inner encoding */
    assert_string_equal(x->f.last_metadata, "k=v%2520w");
    assert_string_equal(x->f.last_state, "running,paused");
    assert_string_equal(x->f.last_limit, "2");
    o.next_token = pg->next_token;
    e2b_sandbox_page *pg2;
    assert_int_equal(e2b_sandbox_list(x->c, &o, &pg2, &err), E2B_OK);
    assert_int_equal(pg2->len, 1);
    assert_null(pg2->next_token);
    e2b_sandbox_page_free(pg2);
    e2b_sandbox_page_free(pg);

    e2b_sandbox_iter *it;
    assert_int_equal(e2b_sandbox_iter_new(x->c, NULL, &it, &err), E2B_OK);
    const char *want[] = {"s1", "s2", "s3"};
    int calls0 = x->f.list_calls;
    for (int i = 0; i < 3; i++) {
        const e2b_sandbox_info *item;
        assert_int_equal(e2b_sandbox_iter_next(it, &item, &err), E2B_OK);
        assert_non_null(item);
        assert_string_equal(item->sandbox_id, want[i]);
    }
    const e2b_sandbox_info *end;
    assert_int_equal(e2b_sandbox_iter_next(it, &end, &err), E2B_OK);
    assert_null(end);
    assert_int_equal(e2b_sandbox_iter_next(it, &end, &err), E2B_OK); /* stays at the end */
    assert_null(end);
    assert_int_equal(x->f.list_calls - calls0, 2);
    e2b_sandbox_iter_free(it);

    e2b_list_opts bad = {.limit = 1000};
    assert_int_equal(e2b_sandbox_iter_new(x->c, &bad, &it, &err), E2B_ERR_INVALID_ARGUMENT);
}

static void test_rate_limit_retry(void **state)
{
    fx *x = *state;
    x->f.rate_limit_left = 1;
    e2b_sandbox_info *info;
    e2b_error err;
    assert_int_equal(e2b_sandbox_get_info(x->c, "sbx1", &info, &err), E2B_OK);
    e2b_sandbox_info_free(info);
    /* more 429s than retries: RATE_LIMITED with Retry-After */
    e2b_config cfg;
    e2b_config_init(&cfg);
    cfg.api_url = x->srv->url;
    cfg.api_key = "e2b_test";
    cfg.max_retries_429 = 0;
    e2b_client *c;
    assert_int_equal(e2b_client_new(&cfg, &c, NULL), E2B_OK);
    x->f.rate_limit_left = 1;
    assert_int_equal(e2b_sandbox_get_info(c, "sbx1", &info, &err), E2B_ERR_RATE_LIMITED);
    assert_int_equal(err.retry_after_s, 1);
    e2b_client_free(c);
}

static void test_metrics(void **state)
{
    fx *x = *state;
    e2b_metric *m;
    size_t n;
    e2b_error err;
    assert_int_equal(e2b_sandbox_metrics(x->c, "sbx1", 1700000000, 0, &m, &n, &err), E2B_OK);
    assert_string_equal(x->f.last_limit, "1700000000");
    assert_int_equal(n, 2);
    assert_int_equal(m[0].timestamp_unix, 1795683600);
    assert_int_equal(m[0].cpu_count, 2);
    assert_true(m[0].cpu_used_pct > 12.4 && m[0].cpu_used_pct < 12.6);
    assert_int_equal(m[0].mem_total, 2000);
    assert_int_equal(m[0].disk_total, 4000);
    assert_int_equal(m[1].timestamp_unix, 1795683605); /* from the RFC 3339 field */
    free(m);
    assert_int_equal(e2b_sandbox_metrics(x->c, "gone", 0, 0, &m, &n, &err),
                     E2B_ERR_SANDBOX_NOT_FOUND);
}

static void test_debug_mode_makes_no_calls(void **state)
{
    (void)state;
    e2b_config cfg;
    e2b_config_init(&cfg);
    cfg.debug = true;
    cfg.api_url = "http://127.0.0.1:1"; /* nothing there: any call would fail */
    e2b_client *c;
    assert_int_equal(e2b_client_new(&cfg, &c, NULL), E2B_OK);
    e2b_sandbox *s;
    assert_int_equal(e2b_sandbox_create(c, NULL, &s, NULL), E2B_OK);
    assert_string_equal(e2b_sandbox_id(s), "debug_sandbox_id");
    assert_string_equal(e2b_sandbox_envd_version(s), "99.99.99");
    e2b_sandbox_free(s);
    assert_int_equal(e2b_sandbox_connect(c, "mine", 0, &s, NULL, NULL), E2B_OK);
    assert_string_equal(e2b_sandbox_id(s), "mine");
    e2b_sandbox_free(s);
    bool killed = false;
    assert_int_equal(e2b_sandbox_kill(c, "mine", &killed, NULL), E2B_OK);
    assert_true(killed);
    assert_int_equal(e2b_sandbox_set_timeout(c, "mine", 10, NULL), E2B_OK);
    e2b_metric *m = (e2b_metric *)1;
    size_t n = 1;
    assert_int_equal(e2b_sandbox_metrics(c, "mine", 0, 0, &m, &n, NULL), E2B_OK);
    assert_int_equal(n, 0);
    assert_null(m);
    e2b_client_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_create_body_and_reply, setup, teardown),
        cmocka_unit_test_setup_teardown(test_create_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_auth, setup, teardown),
        cmocka_unit_test_setup_teardown(test_get_info, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timeout_kill_pause, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connect, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_and_iter, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rate_limit_retry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_metrics, setup, teardown),
        cmocka_unit_test(test_debug_mode_makes_no_calls),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
