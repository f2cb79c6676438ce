/* unit_store: sandbox store state machine, expiry on the mock clock, hooks, refs, dirs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store.h"
#include "util.h"

typedef struct counts {
    int destroyed, paused, resumed;
    char last[64];
    int dir_existed_at_destroy;
} counts;

static void on_destroy(mock_sandbox *s, void *ud)
{
    counts *c = ud;
    c->destroyed++;
    snprintf(c->last, sizeof c->last, "%s", s->id);
    struct stat st;
    c->dir_existed_at_destroy = stat(s->dir, &st) == 0;
}
static void on_pause(mock_sandbox *s, void *ud)
{
    (void)s;
    ((counts *)ud)->paused++;
}
static void on_resume(mock_sandbox *s, void *ud)
{
    (void)s;
    ((counts *)ud)->resumed++;
}

typedef struct fx {
    char root[64];
    mock_store *st;
    counts c;
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    snprintf(f->root, sizeof f->root, "/tmp/unit-store-XXXXXX");
    assert_non_null(mkdtemp(f->root));
    f->st = store_new_ex(f->root, 0);
    assert_non_null(f->st);
    assert_int_equal(store_on_destroy(f->st, on_destroy, &f->c), 0);
    assert_int_equal(store_on_destroy(f->st, on_destroy, &f->c), 0); /* duplicate ignored */
    assert_int_equal(store_on_pause(f->st, on_pause, &f->c), 0);
    assert_int_equal(store_on_resume(f->st, on_resume, &f->c), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    store_free(f->st);
    mock_rm_rf(f->root);
    free(f);
    return 0;
}

static mock_sandbox *mk(fx *f, int64_t timeout_ms, int auto_pause)
{
    store_create_opts o = {.template_id = "base",
                           .timeout_ms = timeout_ms,
                           .auto_pause = auto_pause,
                           .allow_internet_access = -1};
    return store_create(f->st, &o);
}

static int dir_exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static void test_create_identity(void **state)
{
    fx *f = *state;
    cJSON *meta = cJSON_Parse("{\"k\":\"v\",\"n\":1}");
    store_create_opts o = {
        .template_id = "base", .timeout_ms = 1000, .metadata = meta, .allow_internet_access = 1};
    mock_sandbox *s = store_create(f->st, &o);
    cJSON_Delete(meta);
    assert_non_null(s);
    assert_int_equal(strlen(s->id), 20);
    for (const char *p = s->id; *p; p++)
        assert_true((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9'));
    assert_int_equal(strlen(s->access_token), 32);
    assert_true(dir_exists(s->dir));
    assert_string_equal(s->template_id, "base");
    assert_string_equal(s->alias, "base");
    /* non-string metadata values are dropped */
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(s->metadata, "k")->valuestring, "v");
    assert_null(cJSON_GetObjectItemCaseSensitive(s->metadata, "n"));
    assert_int_equal(store_sandbox_state(s), MOCK_SBX_RUNNING);
    assert_int_equal(store_sandbox_end_at_ms(s) - s->started_at_ms, 1000);
    assert_int_equal(store_sandbox_allow_internet(s), 1);
    mock_sandbox *again = store_get(f->st, s->id);
    assert_ptr_equal(again, s);
    store_release(again);
    assert_null(store_get(f->st, "nope"));
    /* two sandboxes never share an id */
    mock_sandbox *t = mk(f, 1000, 0);
    assert_string_not_equal(t->id, s->id);
    store_release(t);
    store_release(s);
    /* bad options */
    store_create_opts bad = {.template_id = "base", .timeout_ms = 0};
    assert_null(store_create(f->st, &bad));
}

static void test_transitions(void **state)
{
    fx *f = *state;
    mock_sandbox *s = mk(f, 60000, 0);
    char id[32];
    strcpy(id, s->id);
    assert_int_equal(store_pause(f->st, id), STORE_OK);
    assert_int_equal(store_sandbox_state(s), MOCK_SBX_PAUSED);
    assert_int_equal(f->c.paused, 1);
    assert_int_equal(store_pause(f->st, id), STORE_CONFLICT);
    assert_true(dir_exists(s->dir)); /* paused keeps its dir */
    assert_int_equal(store_set_timeout(f->st, id, 1000), STORE_NOT_FOUND); /* not running */
    assert_int_equal(store_count(f->st, MOCK_SBX_PAUSED), 1);

    int resumed = 0;
    assert_int_equal(store_connect(f->st, id, 5000, &resumed), STORE_OK);
    assert_int_equal(resumed, 1);
    assert_int_equal(f->c.resumed, 1);
    assert_int_equal(store_sandbox_state(s), MOCK_SBX_RUNNING);
    int64_t end = store_sandbox_end_at_ms(s);
    assert_true(end - mock_now_ms() <= 5000 && end - mock_now_ms() > 4000);

    /* connect on a running sandbox only extends */
    assert_int_equal(store_connect(f->st, id, 1000, &resumed), STORE_OK);
    assert_int_equal(resumed, 0);
    assert_int_equal(store_sandbox_end_at_ms(s), end);
    assert_int_equal(store_connect(f->st, id, 100000, &resumed), STORE_OK);
    assert_true(store_sandbox_end_at_ms(s) > end);

    /* setTimeout may shorten */
    assert_int_equal(store_set_timeout(f->st, id, 2000), STORE_OK);
    assert_true(store_sandbox_end_at_ms(s) - mock_now_ms() <= 2000);
    /* refresh only extends */
    int64_t e2 = store_sandbox_end_at_ms(s);
    assert_int_equal(store_refresh(f->st, id, 1000), STORE_OK);
    assert_int_equal(store_sandbox_end_at_ms(s), e2);

    /* resume of a running sandbox is a conflict */
    assert_int_equal(store_resume(f->st, id, 1000), STORE_CONFLICT);
    assert_int_equal(store_pause(f->st, id), STORE_OK);
    assert_int_equal(store_resume(f->st, id, 1000), STORE_OK);

    /* kill: hooks run before the dir goes away; the held reference stays valid */
    char dir[512];
    snprintf(dir, sizeof dir, "%s", s->dir);
    assert_int_equal(store_kill(f->st, id), STORE_OK);
    assert_int_equal(f->c.destroyed, 1);
    assert_string_equal(f->c.last, id);
    assert_true(f->c.dir_existed_at_destroy);
    assert_false(dir_exists(dir));
    assert_int_equal(store_sandbox_state(s), MOCK_SBX_KILLED);
    assert_string_equal(s->id, id);
    assert_null(store_get(f->st, id));
    assert_int_equal(store_kill(f->st, id), STORE_NOT_FOUND);
    assert_int_equal(store_pause(f->st, id), STORE_NOT_FOUND);
    assert_int_equal(store_connect(f->st, id, 1000, &resumed), STORE_NOT_FOUND);
    store_release(s);
}

static void test_expiry_on_mock_clock(void **state)
{
    fx *f = *state;
    mock_sandbox *killer = mk(f, 10 * 60 * 1000, 0);
    mock_sandbox *pauser = mk(f, 10 * 60 * 1000, 1);
    mock_sandbox *longer = mk(f, 60 * 60 * 1000, 0);
    assert_int_equal(store_reap(f->st), 0);
    mock_clock_advance_ms(9 * 60 * 1000);
    assert_int_equal(store_reap(f->st), 0);
    mock_clock_advance_ms(2 * 60 * 1000);
    assert_int_equal(store_reap(f->st), 2);
    assert_int_equal(store_sandbox_state(killer), MOCK_SBX_KILLED);
    assert_int_equal(store_sandbox_state(pauser), MOCK_SBX_PAUSED);
    assert_int_equal(store_sandbox_state(longer), MOCK_SBX_RUNNING);
    assert_true(dir_exists(pauser->dir));
    assert_int_equal(f->c.destroyed, 1);
    assert_int_equal(f->c.paused, 1);
    /* paused sandboxes do not expire */
    mock_clock_advance_ms(24LL * 3600 * 1000);
    assert_int_equal(store_reap(f->st), 1); /* only `longer` */
    assert_int_equal(store_sandbox_state(pauser), MOCK_SBX_PAUSED);
    assert_int_equal(store_sandbox_state(longer), MOCK_SBX_KILLED);
    store_release(killer);
    store_release(pauser);
    store_release(longer);
}

static void test_snapshot_and_kill_all(void **state)
{
    fx *f = *state;
    mock_sandbox *a = mk(f, 60000, 0), *b = mk(f, 60000, 0);
    assert_int_equal(store_pause(f->st, b->id), STORE_OK);
    size_t n = 0;
    mock_sandbox **v = store_snapshot(f->st, &n);
    assert_int_equal(n, 2);
    for (size_t i = 0; i < n; i++)
        store_release(v[i]);
    free(v);
    assert_int_equal(store_count(f->st, MOCK_SBX_RUNNING), 1);
    store_kill_all(f->st);
    assert_int_equal(f->c.destroyed, 2); /* paused ones are destroyed at shutdown too */
    assert_null(store_snapshot(f->st, &n));
    assert_int_equal(n, 0);
    assert_false(dir_exists(a->dir));
    store_release(a);
    store_release(b);
}

/* The reaper thread expires sandboxes by itself once the mock clock passes endAt. */
static void test_reaper_thread(void **state)
{
    (void)state;
    char root[64] = "/tmp/unit-store-XXXXXX";
    assert_non_null(mkdtemp(root));
    mock_store *st = store_new(root);
    assert_non_null(st);
    store_create_opts o = {.template_id = "base", .timeout_ms = 60000, .allow_internet_access = -1};
    mock_sandbox *s = store_create(st, &o);
    assert_non_null(s);
    mock_clock_advance_ms(61000);
    store_kick(st);
    for (int i = 0; i < 500 && store_sandbox_state(s) != MOCK_SBX_KILLED; i++)
        usleep(10000); /* generous: up to 5 s */
    assert_int_equal(store_sandbox_state(s), MOCK_SBX_KILLED);
    store_release(s);
    store_free(st);
    mock_rm_rf(root);
}

int main(void)
{
    mock_log_set_level(MOCK_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_create_identity, setup, teardown),
        cmocka_unit_test_setup_teardown(test_transitions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expiry_on_mock_clock, setup, teardown),
        cmocka_unit_test_setup_teardown(test_snapshot_and_kill_all, setup, teardown),
        cmocka_unit_test(test_reaper_thread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
