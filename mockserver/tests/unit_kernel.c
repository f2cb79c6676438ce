/* unit_kernel: real python / node / bash kernels driven through kernel.h (no HTTP).
 * Kernel tests skip when /usr/bin/python3, /usr/bin/node or /usr/bin/bash is missing.
 * Under bubblewrap when it works here; otherwise the tests run unisolated. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "kernel.h"
#include "sandboxrt.h"
#include "util.h"

/* ------------------------------------------------------------------ helpers */

typedef struct evrec {
    kernel_event_type type;
    cJSON *json;
    int64_t at_ms;
} evrec;

typedef struct collector {
    evrec ev[512];
    size_t n;
    atomic_int saw_stdout; /* set once a stdout line arrived (for other threads) */
    int stop_after;        /* return non-zero after this many events (0 = never) */
    int bad_lines;         /* lines that were not valid JSON, blank, or had a newline */
} collector;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int collect(void *ud, kernel_event_type t, const char *line, size_t len)
{
    collector *c = ud;
    if (len == 0 || strlen(line) != len || memchr(line, '\n', len))
        c->bad_lines++;
    cJSON *j = cJSON_Parse(line);
    if (!j)
        c->bad_lines++;
    if (t == KEV_STDOUT)
        atomic_store(&c->saw_stdout, 1);
    if (c->n < 512) {
        c->ev[c->n].type = t;
        c->ev[c->n].json = j;
        c->ev[c->n].at_ms = now_ms();
        c->n++;
    } else {
        cJSON_Delete(j);
    }
    if (c->stop_after && (int)c->n >= c->stop_after)
        return 1;
    return 0;
}

static void coll_reset(collector *c)
{
    for (size_t i = 0; i < c->n; i++)
        cJSON_Delete(c->ev[i].json);
    c->n = 0;
    c->stop_after = 0;
    c->bad_lines = 0;
    atomic_store(&c->saw_stdout, 0);
}

static const char *sfield(const cJSON *j, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* index of the first event of type t at or after from, or -1 */
static int find(const collector *c, kernel_event_type t, size_t from)
{
    for (size_t i = from; i < c->n; i++)
        if (c->ev[i].type == t)
            return (int)i;
    return -1;
}

static int count_type(const collector *c, kernel_event_type t)
{
    int n = 0;
    for (size_t i = 0; i < c->n; i++)
        n += c->ev[i].type == t;
    return n;
}

/* concatenated stdout (which=0) or stderr (1) */
static void joined(const collector *c, int which, char *out, size_t cap)
{
    out[0] = '\0';
    for (size_t i = 0; i < c->n; i++)
        if (c->ev[i].type == (which ? KEV_STDERR : KEV_STDOUT))
            strncat(out, sfield(c->ev[i].json, "text"), cap - strlen(out) - 1);
}

static const cJSON *main_result(const collector *c)
{
    for (size_t i = 0; i < c->n; i++)
        if (c->ev[i].type == KEV_RESULT &&
            cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(c->ev[i].json, "is_main_result")))
            return c->ev[i].json;
    return NULL;
}

static kernel_exec_status run(kernel *k, collector *c, const char *code, const cJSON *env,
                              int64_t timeout_ms)
{
    coll_reset(c);
    kernel_exec_opts o = {0};
    o.code = code;
    o.env_vars = env;
    o.timeout_ms = timeout_ms;
    o.emit = collect;
    o.ud = c;
    kernel_exec_status st = kernel_execute(k, &o);
    assert_int_equal(c->bad_lines, 0);
    if (!c->stop_after) {
        /* end_of_execution always last, exactly once */
        assert_true(c->n >= 1);
        assert_int_equal(c->ev[c->n - 1].type, KEV_END_OF_EXECUTION);
        assert_string_equal(sfield(c->ev[c->n - 1].json, "type"), "end_of_execution");
        assert_int_equal(count_type(c, KEV_END_OF_EXECUTION), 1);
    }
    return st;
}

static const char *main_text(collector *c)
{
    const cJSON *r = main_result(c);
    return r ? sfield(r, "text") : NULL;
}

typedef struct fixture {
    char dir[256];
    kernel *k;
    collector c;
} fixture;

static int have(const char *bin)
{
    return access(bin, X_OK) == 0;
}

static fixture *fixture_new(kernel_kind kind)
{
    fixture *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/e2b-unit-kernel-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    kernel_opts ko = {kind, f->dir, NULL, NULL, 0};
    char err[512] = "";
    f->k = kernel_new(&ko, err, sizeof err);
    if (!f->k)
        fprintf(stderr, "kernel_new: %s\n", err);
    assert_non_null(f->k);
    return f;
}

static void fixture_free(fixture *f)
{
    coll_reset(&f->c);
    kernel_free(f->k);
    mock_rm_rf(f->dir);
    free(f);
}

static int setup_env(void **state)
{
    (void)state;
    /* unit tests run unisolated only where bubblewrap cannot work */
    if (!sbxrt_bwrap_available())
        sbxrt_set_unisolated(1);
    return 0;
}

/* ------------------------------------------------------------------ pure parts */

static void test_normalize_language(void **state)
{
    (void)state;
    char out[32];
    kernel_normalize_language(NULL, out, sizeof out);
    assert_string_equal(out, "python");
    kernel_normalize_language("  ", out, sizeof out);
    assert_string_equal(out, "python");
    kernel_normalize_language(" JS ", out, sizeof out);
    assert_string_equal(out, "javascript");
    kernel_normalize_language("ts", out, sizeof out);
    assert_string_equal(out, "typescript");
    kernel_normalize_language("Bash", out, sizeof out);
    assert_string_equal(out, "bash");
    kernel_kind kind;
    char err[256];
    assert_int_equal(kernel_kind_for_language("typescript", &kind, err, sizeof err), 0);
    assert_int_equal(kind, KERNEL_JAVASCRIPT);
    assert_int_equal(kernel_kind_for_language("r", &kind, err, sizeof err), -1);
    assert_non_null(strstr(err, "R"));
    assert_int_equal(kernel_kind_for_language("java", &kind, err, sizeof err), -1);
    assert_non_null(strstr(err, "Java"));
    assert_int_equal(kernel_kind_for_language("cobol", &kind, err, sizeof err), -1);
    assert_non_null(strstr(err, "cobol"));
}

static void feed_lines(const char *input, size_t chunk, char out[][64], size_t *n)
{
    kernel_linebuf lb = {0};
    size_t len = strlen(input);
    *n = 0;
    for (size_t off = 0; off < len; off += chunk) {
        size_t c = len - off < chunk ? len - off : chunk;
        assert_int_equal(kernel_linebuf_feed(&lb, input + off, c), 0);
        size_t ll;
        char *line;
        while ((line = kernel_linebuf_next(&lb, &ll)) != NULL) {
            assert_int_equal(strlen(line), ll);
            snprintf(out[(*n)++], 64, "%s", line);
        }
    }
    kernel_linebuf_free(&lb);
}

static void test_linebuf_splits(void **state)
{
    (void)state;
    const char *in = "{\"a\":1}\n\n{\"b\":\"x y\"}\r\n{\"c\":3}\npartial";
    char whole[8][64], bytes[8][64], two[8][64];
    size_t nw, nb, n2;
    feed_lines(in, strlen(in), whole, &nw);
    feed_lines(in, 1, bytes, &nb);
    feed_lines(in, 2, two, &n2);
    assert_int_equal(nw, 4); /* the unterminated "partial" is not a line yet */
    assert_int_equal(nb, nw);
    assert_int_equal(n2, nw);
    for (size_t i = 0; i < nw; i++) {
        assert_string_equal(whole[i], bytes[i]);
        assert_string_equal(whole[i], two[i]);
    }
    assert_string_equal(whole[0], "{\"a\":1}");
    assert_string_equal(whole[1], "");
    assert_string_equal(whole[2], "{\"b\":\"x y\"}\r");
    /* an over-long unterminated line is refused */
    kernel_linebuf lb = {0};
    lb.max_line = 8;
    assert_int_equal(kernel_linebuf_feed(&lb, "12345", 5), 0);
    assert_int_equal(kernel_linebuf_feed(&lb, "67890", 5), -1);
    kernel_linebuf_free(&lb);
}

static void test_event_mapping(void **state)
{
    (void)state;
    kernel_event_type t;
    cJSON *ev = cJSON_Parse("{\"type\":\"result\",\"is_main_result\":true,\"bundle\":{"
                            "\"text/plain\":\"'hi'\",\"text/html\":\"<b>hi</b>\","
                            "\"image/png\":\"AAAA\",\"application/json\":{\"a\":1},"
                            "\"application/x-custom\":\"zz\"}}");
    char *w = kernel_event_to_wire(ev, &t);
    cJSON_Delete(ev);
    assert_non_null(w);
    assert_int_equal(t, KEV_RESULT);
    cJSON *o = cJSON_Parse(w);
    free(w);
    assert_string_equal(sfield(o, "type"), "result");
    assert_string_equal(sfield(o, "text"), "hi"); /* quotes stripped */
    assert_string_equal(sfield(o, "html"), "<b>hi</b>");
    assert_string_equal(sfield(o, "png"), "AAAA");
    assert_int_equal(
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(o, "json"), "a")
            ->valueint,
        1);
    const cJSON *extra = cJSON_GetObjectItemCaseSensitive(o, "extra");
    assert_string_equal(sfield(extra, "application/x-custom"), "zz");
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "is_main_result")));
    cJSON_Delete(o);

    ev = cJSON_Parse("{\"type\":\"stdout\",\"text\":\"a\\n\"}");
    w = kernel_event_to_wire(ev, &t);
    cJSON_Delete(ev);
    assert_int_equal(t, KEV_STDOUT);
    o = cJSON_Parse(w);
    free(w);
    const char *ts = sfield(o, "timestamp");
    assert_non_null(ts);
    int64_t ns;
    assert_int_equal(mock_parse_rfc3339_ns(ts, &ns), 0);
    cJSON_Delete(o);

    /* wire-form result (scripted answers) gets extra + is_main_result */
    ev = cJSON_Parse("{\"type\":\"result\",\"chart\":{\"type\":\"line\"},\"delay_ms\":5}");
    w = kernel_event_to_wire(ev, &t);
    cJSON_Delete(ev);
    o = cJSON_Parse(w);
    free(w);
    assert_true(cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(o, "extra")));
    assert_true(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(o, "is_main_result")));
    assert_null(cJSON_GetObjectItemCaseSensitive(o, "delay_ms"));
    cJSON_Delete(o);

    ev = cJSON_Parse("{\"type\":\"end\"}");
    assert_null(kernel_event_to_wire(ev, &t));
    cJSON_Delete(ev);
    ev = cJSON_Parse("[1]");
    assert_null(kernel_event_to_wire(ev, &t));
    cJSON_Delete(ev);
}

/* ------------------------------------------------------------------ python */

static void test_python_basics(void **state)
{
    (void)state;
    if (!have("/usr/bin/python3"))
        skip();
    fixture *f = fixture_new(KERNEL_PYTHON);
    collector *c = &f->c;

    assert_int_equal(run(f->k, c, "x = 41", NULL, 0), KEXEC_DONE);
    assert_int_equal(c->ev[0].type, KEV_NUMBER_OF_EXECUTIONS);
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(c->ev[0].json, "execution_count")->valueint,
                     1);
    assert_null(main_result(c));

    run(f->k, c, "x + 1", NULL, 0);
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(c->ev[0].json, "execution_count")->valueint,
                     2);
    assert_string_equal(main_text(c), "42");

    run(f->k, c, "'hello'", NULL, 0);
    assert_string_equal(main_text(c), "hello");

    run(f->k, c, "x = 5;", NULL, 0); /* a trailing ; hides the value */
    assert_null(main_result(c));

    /* errors: name, value, traceback with the failing line */
    run(f->k, c, "def f():\n    return 1/0\nf()", NULL, 0);
    int e = find(c, KEV_ERROR, 0);
    assert_true(e >= 0);
    assert_string_equal(sfield(c->ev[e].json, "name"), "ZeroDivisionError");
    assert_string_equal(sfield(c->ev[e].json, "value"), "division by zero");
    const char *tb = sfield(c->ev[e].json, "traceback");
    assert_non_null(strstr(tb, "return 1/0"));
    assert_non_null(strstr(tb, "ZeroDivisionError"));
    assert_null(strstr(tb, "python_kernel")); /* kernel frames hidden */

    run(f->k, c, "def (", NULL, 0);
    e = find(c, KEV_ERROR, 0);
    assert_string_equal(sfield(c->ev[e].json, "name"), "SyntaxError");

    /* display() gives non-main results, in order with stdout */
    run(f->k, c, "print('a')\ndisplay({'k': 1})\nprint('b')\n7", NULL, 0);
    int sa = find(c, KEV_STDOUT, 0), d = find(c, KEV_RESULT, 0);
    assert_true(sa >= 0 && d > sa);
    assert_false(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(c->ev[d].json, "is_main_result")));
    assert_string_equal(sfield(c->ev[d].json, "text"), "{'k': 1}");
    assert_true(find(c, KEV_STDOUT, (size_t)d) > d);
    assert_string_equal(main_text(c), "7");

    /* rich representations */
    run(f->k, c,
        "class R:\n"
        "    def _repr_html_(self): return '<i>r</i>'\n"
        "    def _repr_markdown_(self): return '**r**'\n"
        "    def _repr_latex_(self): return '$r$'\n"
        "    def _repr_json_(self): return {'r': 1}\n"
        "    def _repr_svg_(self): return '<svg/>'\n"
        "    def __repr__(self): return 'R()'\n"
        "R()",
        NULL, 0);
    const cJSON *r = main_result(c);
    assert_non_null(r);
    assert_string_equal(sfield(r, "html"), "<i>r</i>");
    assert_string_equal(sfield(r, "markdown"), "**r**");
    assert_string_equal(sfield(r, "latex"), "$r$");
    assert_string_equal(sfield(r, "svg"), "<svg/>");
    assert_string_equal(sfield(r, "text"), "R()");
    assert_true(cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(r, "json")));
    assert_true(cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(r, "extra")));

    /* env vars apply to one execution only */
    cJSON *env = cJSON_Parse("{\"E2B_UNIT_VAR\":\"v1\"}");
    run(f->k, c, "import os; os.environ.get('E2B_UNIT_VAR')", env, 0);
    assert_string_equal(main_text(c), "v1");
    cJSON_Delete(env);
    run(f->k, c, "str(os.environ.get('E2B_UNIT_VAR'))", NULL, 0);
    assert_string_equal(main_text(c), "None");

    /* stderr, subprocess output through fd 1 */
    run(f->k, c,
        "import sys, subprocess\nprint('oops', file=sys.stderr)\n"
        "subprocess.run(['/bin/echo', 'from-child'])\nNone",
        NULL, 0);
    char out[4096];
    joined(c, 1, out, sizeof out);
    assert_string_equal(out, "oops\n");
    joined(c, 0, out, sizeof out);
    assert_string_equal(out, "from-child\n");

    /* binary subprocess output becomes valid UTF-8 (U+FFFD), still before the result */
    run(f->k, c,
        "subprocess.run(['/usr/bin/printf', '\\\\377 ok \\\\303\\\\342\\\\234\\\\223'])\n'end'",
        NULL, 0);
    joined(c, 0, out, sizeof out);
    assert_string_equal(out, "\xEF\xBF\xBD ok \xEF\xBF\xBD\xE2\x9C\x93");
    assert_true(find(c, KEV_STDOUT, 0) < find(c, KEV_RESULT, 0));
    assert_int_equal(find(c, KEV_STDOUT, (size_t)find(c, KEV_RESULT, 0)), -1);

    /* top-level await */
    run(f->k, c, "import asyncio\nawait asyncio.sleep(0.01)\n6 * 7", NULL, 0);
    assert_string_equal(main_text(c), "42");

    /* the working directory is the sandbox home and files land in the sandbox dir */
    run(f->k, c, "open('made-by-kernel.txt', 'w').write('x')", NULL, 0);
    char p[512];
    snprintf(p, sizeof p, "%s/made-by-kernel.txt", f->dir);
    assert_int_equal(access(p, F_OK), 0);
    fixture_free(f);
}

static void test_python_streaming(void **state)
{
    (void)state;
    if (!have("/usr/bin/python3"))
        skip();
    fixture *f = fixture_new(KERNEL_PYTHON);
    collector *c = &f->c;
    run(f->k, c, "import time\nprint('first')\ntime.sleep(1.0)\nprint('second')", NULL, 0);
    int a = find(c, KEV_STDOUT, 0);
    int b = find(c, KEV_STDOUT, (size_t)a + 1);
    assert_true(a >= 0 && b > a);
    assert_string_equal(sfield(c->ev[a].json, "text"), "first\n");
    assert_string_equal(sfield(c->ev[b].json, "text"), "second\n");
    /* the first line arrived well before the sleep ended (generous bound) */
    assert_true(c->ev[b].at_ms - c->ev[a].at_ms >= 500);
    /* server timestamps are ISO and ordered */
    int64_t ta, tb;
    assert_int_equal(mock_parse_rfc3339_ns(sfield(c->ev[a].json, "timestamp"), &ta), 0);
    assert_int_equal(mock_parse_rfc3339_ns(sfield(c->ev[b].json, "timestamp"), &tb), 0);
    assert_true(tb - ta >= 500 * 1000000LL);

    /* a partial line (no newline) still streams before the cell ends */
    run(f->k, c, "import sys\nsys.stdout.write('part')\ntime.sleep(1.0)\nprint('!')", NULL, 0);
    a = find(c, KEV_STDOUT, 0);
    assert_string_equal(sfield(c->ev[a].json, "text"), "part");
    b = find(c, KEV_STDOUT, (size_t)a + 1);
    assert_true(b > a);
    assert_true(c->ev[b].at_ms - c->ev[a].at_ms >= 500);
    fixture_free(f);
}

static void test_python_matplotlib(void **state)
{
    (void)state;
    if (!have("/usr/bin/python3"))
        skip();
    fixture *f = fixture_new(KERNEL_PYTHON);
    collector *c = &f->c;
    run(f->k, c, "import matplotlib.pyplot as plt\nplt.plot([1, 2, 3])\nplt.show()\nprint('after')",
        NULL, 0);
    if (find(c, KEV_ERROR, 0) >= 0 &&
        strstr(sfield(c->ev[find(c, KEV_ERROR, 0)].json, "value"), "matplotlib")) {
        fixture_free(f);
        skip(); /* no matplotlib on this host */
    }
    int r = find(c, KEV_RESULT, 0);
    assert_true(r >= 0);
    const char *png = sfield(c->ev[r].json, "png");
    assert_non_null(png);
    assert_memory_equal(png, "iVBORw0KGgo", 11); /* base64 of the PNG signature */
    assert_false(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(c->ev[r].json, "is_main_result")));
    assert_true(find(c, KEV_STDOUT, (size_t)r) > r); /* shown before 'after' */
    assert_int_equal(find(c, KEV_STDERR, 0), -1);    /* no "non-interactive" warning */
    /* a figure left open at the end of the cell is shown once, then closed */
    run(f->k, c, "fig = plt.figure()\nplt.bar(['a', 'b'], [1, 2])\nNone", NULL, 0);
    assert_int_equal(count_type(c, KEV_RESULT), 1);
    run(f->k, c, "len(plt.get_fignums())", NULL, 0);
    assert_string_equal(main_text(c), "0");
    /* pandas DataFrame -> html + text */
    run(f->k, c, "import pandas as pd\npd.DataFrame({'a': [1, 2]})", NULL, 0);
    const cJSON *m = main_result(c);
    assert_non_null(m); /* python3-pandas is in scripts/deps.sh */
    assert_non_null(strstr(sfield(m, "html"), "<table"));
    assert_non_null(sfield(m, "text"));
    fixture_free(f);
}

static void test_python_interrupt(void **state)
{
    (void)state;
    if (!have("/usr/bin/python3"))
        skip();
    fixture *f = fixture_new(KERNEL_PYTHON);
    collector *c = &f->c;
    run(f->k, c, "state = 'kept'", NULL, 0);
    int64_t t0 = now_ms();
    assert_int_equal(run(f->k, c, "import time\nprint('going')\ntime.sleep(30)", NULL, 500),
                     KEXEC_INTERRUPTED);
    assert_true(now_ms() - t0 < 10000);
    int e = find(c, KEV_ERROR, 0);
    assert_true(e >= 0);
    assert_string_equal(sfield(c->ev[e].json, "name"), "KeyboardInterrupt");
    run(f->k, c, "state", NULL, 0);
    assert_string_equal(main_text(c), "kept");

    /* a consumer that goes away: its execution is interrupted, the next one is not blocked */
    coll_reset(c);
    c->stop_after = 2; /* number_of_executions + 'x' */
    kernel_exec_opts o = {0};
    o.code = "import time\nprint('x')\ntime.sleep(30)";
    o.emit = collect;
    o.ud = c;
    t0 = now_ms();
    assert_int_equal(kernel_execute(f->k, &o), KEXEC_INTERRUPTED);
    assert_true(now_ms() - t0 < 10000);
    assert_int_equal((int)c->n, 2);
    c->stop_after = 0;
    run(f->k, c, "state", NULL, 0);
    assert_string_equal(main_text(c), "kept");
    fixture_free(f);
}

static void test_python_kernel_death(void **state)
{
    (void)state;
    if (!have("/usr/bin/python3"))
        skip();
    fixture *f = fixture_new(KERNEL_PYTHON);
    collector *c = &f->c;
    run(f->k, c, "a = 1", NULL, 0);
    assert_int_equal(run(f->k, c, "print('bye')\nimport os\nos._exit(3)", NULL, 0),
                     KEXEC_KERNEL_LOST);
    char out[256];
    joined(c, 0, out, sizeof out);
    assert_string_equal(out, "bye\n");
    int e = find(c, KEV_ERROR, 0);
    assert_string_equal(sfield(c->ev[e].json, "name"), "UnexpectedEndOfExecution");
    /* the next execution gets a fresh kernel */
    run(f->k, c, "'a' in globals()", NULL, 0);
    assert_string_equal(main_text(c), "False");
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(c->ev[0].json, "execution_count")->valueint,
                     1);
    fixture_free(f);
}

typedef struct restart_arg {
    kernel *k;
    collector *c;
    int rc;
} restart_arg;

static void *restart_later(void *p)
{
    restart_arg *a = p;
    /* restart only once the cell is really running (it prints first) */
    for (int i = 0; i < 3000 && !atomic_load(&a->c->saw_stdout); i++)
        usleep(10 * 1000);
    char err[256];
    a->rc = kernel_restart(a->k, err, sizeof err);
    return NULL;
}

static void test_python_restart_and_shutdown(void **state)
{
    (void)state;
    if (!have("/usr/bin/python3"))
        skip();
    fixture *f = fixture_new(KERNEL_PYTHON);
    collector *c = &f->c;
    run(f->k, c, "v = 3", NULL, 0);
    pthread_t th;
    restart_arg ra = {f->k, c, -2};
    coll_reset(c);
    pthread_create(&th, NULL, restart_later, &ra);
    run(f->k, c, "import time\nprint('running')\ntime.sleep(30)", NULL, 0);
    pthread_join(th, NULL);
    assert_int_equal(ra.rc, 0);
    int e = find(c, KEV_ERROR, 0);
    assert_string_equal(sfield(c->ev[e].json, "name"), "ContextRestarting");
    run(f->k, c, "'v' in globals()", NULL, 0);
    assert_string_equal(main_text(c), "False");
    /* restart while idle works too */
    char err[256];
    assert_int_equal(kernel_restart(f->k, err, sizeof err), 0);
    assert_true(kernel_pid(f->k) > 0);
    kernel_shutdown(f->k);
    assert_int_equal(kernel_pid(f->k), 0);
    run(f->k, c, "1", NULL, 0);
    e = find(c, KEV_ERROR, 0);
    assert_string_equal(sfield(c->ev[e].json, "name"), "ExecutionAborted");
    fixture_free(f);
}

static void test_python_isolation(void **state)
{
    (void)state;
    if (!have("/usr/bin/python3") || !sbxrt_bwrap_available())
        skip();
    fixture *f = fixture_new(KERNEL_PYTHON);
    collector *c = &f->c;
    run(f->k, c, "import os; os.getcwd()", NULL, 0);
    assert_string_equal(main_text(c), "/home/user");
    run(f->k, c, "os.environ.get('HOME')", NULL, 0);
    assert_string_equal(main_text(c), "/home/user");
    /* no network: even loopback of the host is unreachable */
    run(f->k, c,
        "import socket\ntry:\n    s = socket.socket()\n    s.connect(('1.1.1.1', 80))\n"
        "    r = 'connected'\nexcept OSError as e:\n    r = 'blocked'\nr",
        NULL, 0);
    assert_string_equal(main_text(c), "blocked");
    /* /usr is read-only */
    run(f->k, c,
        "try:\n    open('/usr/e2b-test', 'w')\n    r = 'writable'\nexcept OSError:\n"
        "    r = 'ro'\nr",
        NULL, 0);
    assert_string_equal(main_text(c), "ro");
    fixture_free(f);
}

/* ------------------------------------------------------------------ node */

static void test_node_kernel(void **state)
{
    (void)state;
    if (!have("/usr/bin/node"))
        skip();
    fixture *f = fixture_new(KERNEL_JAVASCRIPT);
    collector *c = &f->c;
    run(f->k, c, "let x = 40; const y = 2;", NULL, 0);
    run(f->k, c, "x + y", NULL, 0);
    assert_string_equal(main_text(c), "42");
    run(f->k, c, "'str'", NULL, 0);
    assert_string_equal(main_text(c), "str");
    run(f->k, c, "console.log('a', 1); console.error('b'); ({k: [1, 2]})", NULL, 0);
    char out[256];
    joined(c, 0, out, sizeof out);
    assert_string_equal(out, "a 1\n");
    joined(c, 1, out, sizeof out);
    assert_string_equal(out, "b\n");
    assert_string_equal(main_text(c), "{ k: [ 1, 2 ] }");
    /* top-level await, declarations persist */
    run(f->k, c, "const z = await new Promise(r => setTimeout(() => r(5), 10)); z * 2", NULL, 0);
    assert_string_equal(main_text(c), "10");
    run(f->k, c, "z", NULL, 0);
    assert_string_equal(main_text(c), "5");
    /* re-running a cell may declare the same names again (REPL semantics) */
    run(f->k, c, "const y = 3; class K { v() { return y; } }; new K().v()", NULL, 0);
    assert_int_equal(find(c, KEV_ERROR, 0), -1);
    run(f->k, c, "const y = 4; class K { v() { return y * 2; } }; new K().v()", NULL, 0);
    assert_int_equal(find(c, KEV_ERROR, 0), -1);
    assert_string_equal(main_text(c), "8");
    run(f->k, c, "let z = await Promise.resolve(9); z", NULL, 0);
    assert_string_equal(main_text(c), "9");
    /* block-scoped declarations inside blocks stay block-scoped */
    run(f->k, c, "{ let inner = 1; } typeof inner", NULL, 0);
    assert_string_equal(main_text(c), "undefined");
    /* streaming across an await */
    run(f->k, c,
        "console.log('one'); await new Promise(r => setTimeout(r, 1000)); console.log('two')", NULL,
        0);
    int a = find(c, KEV_STDOUT, 0), b = find(c, KEV_STDOUT, (size_t)a + 1);
    assert_true(a >= 0 && b > a);
    assert_true(c->ev[b].at_ms - c->ev[a].at_ms >= 500);
    /* errors */
    run(f->k, c, "null.foo", NULL, 0);
    int e = find(c, KEV_ERROR, 0);
    assert_string_equal(sfield(c->ev[e].json, "name"), "TypeError");
    assert_non_null(strstr(sfield(c->ev[e].json, "traceback"), "TypeError"));
    /* env vars per execution */
    cJSON *env = cJSON_Parse("{\"E2B_JS_VAR\":\"jv\"}");
    run(f->k, c, "process.env.E2B_JS_VAR", env, 0);
    assert_string_equal(main_text(c), "jv");
    cJSON_Delete(env);
    run(f->k, c, "String(process.env.E2B_JS_VAR)", NULL, 0);
    assert_string_equal(main_text(c), "undefined");
    /* interrupt a busy loop and a pending await; the context survives */
    assert_int_equal(run(f->k, c, "while (true) {}", NULL, 500), KEXEC_INTERRUPTED);
    e = find(c, KEV_ERROR, 0);
    assert_true(e >= 0);
    run(f->k, c, "await new Promise(r => setTimeout(r, 30000))", NULL, 500);
    assert_true(find(c, KEV_ERROR, 0) >= 0);
    run(f->k, c, "x", NULL, 0);
    assert_string_equal(main_text(c), "40");
    fixture_free(f);
}

/* ------------------------------------------------------------------ bash */

static void test_bash_kernel(void **state)
{
    (void)state;
    if (!have("/usr/bin/bash"))
        skip();
    fixture *f = fixture_new(KERNEL_BASH);
    collector *c = &f->c;
    run(f->k, c, "mkdir -p sub && cd sub && V=persisted", NULL, 0);
    assert_int_equal(find(c, KEV_ERROR, 0), -1);
    run(f->k, c, "echo \"$V $(basename \"$PWD\")\"", NULL, 0);
    char out[512];
    joined(c, 0, out, sizeof out);
    assert_string_equal(out, "persisted sub\n");
    run(f->k, c, "echo to-err >&2; exit_code() { return 3; }; exit_code", NULL, 0);
    joined(c, 1, out, sizeof out);
    assert_string_equal(out, "to-err\n");
    int e = find(c, KEV_ERROR, 0);
    assert_true(e >= 0);
    assert_string_equal(sfield(c->ev[e].json, "name"), "ExitCodeError");
    assert_string_equal(sfield(c->ev[e].json, "value"), "3");
    /* streaming */
    run(f->k, c, "echo one; sleep 1; echo two", NULL, 0);
    int a = find(c, KEV_STDOUT, 0), b = find(c, KEV_STDOUT, (size_t)a + 1);
    assert_true(a >= 0 && b > a);
    assert_true(c->ev[b].at_ms - c->ev[a].at_ms >= 500);
    /* env for one execution */
    cJSON *env = cJSON_Parse("{\"BV\":\"b1\"}");
    run(f->k, c, "echo ${BV-unset}", env, 0);
    cJSON_Delete(env);
    joined(c, 0, out, sizeof out);
    assert_string_equal(out, "b1\n");
    run(f->k, c, "echo ${BV-unset}", NULL, 0);
    joined(c, 0, out, sizeof out);
    assert_string_equal(out, "unset\n");
    /* interrupt */
    assert_int_equal(run(f->k, c, "sleep 30; echo not-reached", NULL, 500), KEXEC_INTERRUPTED);
    joined(c, 0, out, sizeof out);
    assert_null(strstr(out, "not-reached"));
    run(f->k, c, "echo $V", NULL, 0);
    joined(c, 0, out, sizeof out);
    assert_string_equal(out, "persisted\n");
    /* a background job keeps running but does not hold the protocol pipes */
    run(f->k, c, "sleep 30 & echo bg", NULL, 0);
    assert_int_equal(find(c, KEV_ERROR, 0), -1);
    run(f->k, c, "ls -l /proc/$$/fd/ > /dev/null; ls /proc/$!/fd | tr '\\n' ' '", NULL, 0);
    joined(c, 0, out, sizeof out);
    assert_string_equal(out, "0 1 2 ");
    run(f->k, c, "kill %1", NULL, 0);
    /* stdin is not the request pipe */
    run(f->k, c, "cat; echo done", NULL, 0);
    joined(c, 0, out, sizeof out);
    assert_string_equal(out, "done\n");
    fixture_free(f);
}

static void test_keepalive(void **state)
{
    (void)state;
    if (!have("/usr/bin/bash"))
        skip();
    fixture *f = fixture_new(KERNEL_BASH);
    collector *c = &f->c;
    coll_reset(c);
    kernel_exec_opts o = {0};
    o.code = "sleep 1";
    o.keepalive_ms = 200;
    o.emit = collect;
    o.ud = c;
    assert_int_equal(kernel_execute(f->k, &o), KEXEC_DONE);
    assert_true(count_type(c, KEV_KEEPALIVE) >= 2);
    assert_string_equal(sfield(c->ev[find(c, KEV_KEEPALIVE, 0)].json, "type"), "keepalive");
    fixture_free(f);
}

static void *exec_frozen(void *p)
{
    fixture *f = p;
    run(f->k, &f->c, "print('thawed')\nfrozen_state", NULL, 0);
    return NULL;
}

/* A frozen kernel (paused sandbox) keeps its state and runs nothing until thawed. */
static void test_freeze_thaw(void **state)
{
    (void)state;
    if (!have("/usr/bin/python3"))
        skip();
    fixture *f = fixture_new(KERNEL_PYTHON);
    run(f->k, &f->c, "frozen_state = 'kept'", NULL, 0);
    kernel_freeze(f->k, 1);
    pthread_t th;
    pthread_create(&th, NULL, exec_frozen, f);
    usleep(700 * 1000);
    assert_int_equal(atomic_load(&f->c.saw_stdout), 0); /* nothing ran while frozen */
    kernel_freeze(f->k, 0);
    pthread_join(th, NULL);
    assert_string_equal(main_text(&f->c), "kept");
    char out[64];
    joined(&f->c, 0, out, sizeof out);
    assert_string_equal(out, "thawed\n");
    fixture_free(f);
}

static void *exec_in_thread(void *p)
{
    fixture *f = p;
    run(f->k, &f->c, "survivor = 1", NULL, 0);
    return NULL;
}

/* A kernel started (lazily) by a short-lived thread must outlive that thread: bwrap's
 * --die-with-parent is per thread, so spawns go through a process-lifetime thread. */
static void test_kernel_outlives_spawning_thread(void **state)
{
    (void)state;
    if (!have("/usr/bin/python3"))
        skip();
    fixture *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/e2b-unit-kernel-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    kernel_opts ko = {KERNEL_PYTHON, f->dir, NULL, NULL, 0};
    char err[256];
    f->k = kernel_new_lazy(&ko, err, sizeof err);
    assert_non_null(f->k);
    pthread_t th;
    pthread_create(&th, NULL, exec_in_thread, f);
    pthread_join(th, NULL);
    usleep(200 * 1000);
    run(f->k, &f->c, "survivor + 1", NULL, 0);
    assert_int_equal(find(&f->c, KEV_ERROR, 0), -1);
    assert_string_equal(main_text(&f->c), "2");
    fixture_free(f);
}

static void test_bad_cwd_and_missing(void **state)
{
    (void)state;
    char dir[] = "/tmp/e2b-unit-kernel-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char err[512] = "";
    kernel_opts ko = {KERNEL_BASH, dir, "/home/user/../../etc", NULL, 0};
    assert_null(kernel_new(&ko, err, sizeof err));
    assert_true(strlen(err) > 0);
    /* a lazy kernel reports start problems as an error line */
    kernel *k = kernel_new_lazy(&ko, err, sizeof err);
    assert_non_null(k);
    collector *c = calloc(1, sizeof *c);
    run(k, c, "echo hi", NULL, 0);
    int e = find(c, KEV_ERROR, 0);
    assert_true(e >= 0);
    assert_string_equal(sfield(c->ev[e].json, "name"), "KernelError");
    coll_reset(c);
    free(c);
    kernel_free(k);
    /* a cwd under /home/user is created */
    kernel_opts ok = {KERNEL_BASH, dir, "/home/user/app/x", NULL, 0};
    k = kernel_new(&ok, err, sizeof err);
    assert_non_null(k);
    kernel_free(k);
    char p[256];
    snprintf(p, sizeof p, "%s/app/x", dir);
    struct stat sb;
    assert_int_equal(stat(p, &sb), 0);
    mock_rm_rf(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_normalize_language),
        cmocka_unit_test(test_linebuf_splits),
        cmocka_unit_test(test_event_mapping),
        cmocka_unit_test(test_python_basics),
        cmocka_unit_test(test_python_streaming),
        cmocka_unit_test(test_python_matplotlib),
        cmocka_unit_test(test_python_interrupt),
        cmocka_unit_test(test_python_kernel_death),
        cmocka_unit_test(test_python_restart_and_shutdown),
        cmocka_unit_test(test_python_isolation),
        cmocka_unit_test(test_node_kernel),
        cmocka_unit_test(test_bash_kernel),
        cmocka_unit_test(test_keepalive),
        cmocka_unit_test(test_kernel_outlives_spawning_thread),
        cmocka_unit_test(test_freeze_thaw),
        cmocka_unit_test(test_bad_cwd_and_missing),
    };
    return cmocka_run_group_tests(tests, setup_env, NULL);
}
