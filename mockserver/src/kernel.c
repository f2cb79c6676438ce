/* kernel.c - persistent interpreter kernels; see kernel.h.
 *
 * Process protocol (scripts in mockserver/kernels/): the server writes requests on the kernel's fd 4 and
 * reads JSON event lines from its fd 3; fd 1/2 carry raw output of subprocesses / the bash
 * shell, forwarded as stdout/stderr events. Before an event line from fd 3 is handled, fd 1/2
 * are drained, so raw output written before the event is reported before it.
 */
#include "kernel.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sandboxrt.h"
#include "sbx_policy.h"
#include "util.h"

struct e2b_embedded_file {
    const char *name;
    const unsigned char *data;
    size_t len;
};
extern const struct e2b_embedded_file e2b_embedded_files[];

#define PYTHON_BIN "/usr/bin/python3"
#define NODE_BIN "/usr/bin/node"
#define BASH_BIN "/usr/bin/bash"
#define READY_TIMEOUT_MS 20000
#define INTERRUPT_GRACE_MS 3000
#define DEFAULT_KEEPALIVE_MS 5000
#define READ_CHUNK 65536
#define EV_PIPE_SIZE (256 * 1024)

struct kernel {
    kernel_kind kind;
    char *dir;
    char *cwd;
    char **env;                /* "K=V", NULL-terminated */
    pthread_mutex_t exec_lock; /* serializes executions; guards proc fds, lb, alive */
    pthread_mutex_t st_lock;   /* guards proc.pid/pgid (signals) and the flags below */
    sbxrt_proc proc;
    int alive; /* process running and ready */
    int restarting;
    int shutdown;
    int running; /* an execution is in progress */
    int wake[2];
    kernel_linebuf lb;
    int allow_net; /* kernel_opts.allow_net */
};

static pthread_once_t g_sigpipe_once = PTHREAD_ONCE_INIT;
static void ignore_sigpipe(void)
{
    /* writes to a dead kernel's request pipe must fail with EPIPE, not kill the server */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void seterr(char *err, size_t errlen, const char *msg)
{
    if (err && errlen)
        snprintf(err, errlen, "%s", msg);
}

/* ------------------------------------------------------------------ languages */

void kernel_normalize_language(const char *lang, char *out, size_t cap)
{
    if (!cap)
        return;
    const char *s = lang ? lang : "";
    while (*s && isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        n--;
    if (n == 0) {
        snprintf(out, cap, "python");
        return;
    }
    size_t i = 0;
    for (; i < n && i + 1 < cap; i++)
        out[i] = (char)tolower((unsigned char)s[i]);
    out[i] = '\0';
    if (!strcmp(out, "js"))
        snprintf(out, cap, "javascript");
    else if (!strcmp(out, "ts"))
        snprintf(out, cap, "typescript");
}

int kernel_kind_for_language(const char *lang, kernel_kind *kind, char *err, size_t errlen)
{
    if (!lang)
        lang = "python";
    if (!strcmp(lang, "python"))
        *kind = KERNEL_PYTHON;
    else if (!strcmp(lang, "javascript") || !strcmp(lang, "typescript"))
        *kind = KERNEL_JAVASCRIPT;
    else if (!strcmp(lang, "bash"))
        *kind = KERNEL_BASH;
    else if (!strcmp(lang, "r")) {
        if (err && errlen)
            snprintf(err, errlen,
                     "No R kernel: e2b-mock runs local interpreters and this host "
                     "has no R interpreter (supported: python, javascript, "
                     "typescript, bash)");
        return -1;
    } else if (!strcmp(lang, "java")) {
        if (err && errlen)
            snprintf(err, errlen,
                     "No Java kernel: e2b-mock does not provide a Java kernel "
                     "(supported: python, javascript, typescript, bash)");
        return -1;
    } else {
        if (err && errlen)
            snprintf(err, errlen,
                     "Unsupported language '%s' (supported: python, javascript, "
                     "typescript, bash)",
                     lang);
        return -1;
    }
    return 0;
}

static const char *kernel_bin(kernel_kind k)
{
    return k == KERNEL_PYTHON ? PYTHON_BIN : k == KERNEL_JAVASCRIPT ? NODE_BIN : BASH_BIN;
}

static const char *embedded(const char *name)
{
    for (const struct e2b_embedded_file *f = e2b_embedded_files; f->name; f++)
        if (!strcmp(f->name, name))
            return (const char *)f->data; /* NUL-terminated by embed */
    return NULL;
}

/* ------------------------------------------------------------------ line buffer */

int kernel_linebuf_feed(kernel_linebuf *lb, const char *data, size_t len)
{
    size_t max = lb->max_line ? lb->max_line : (size_t)256 << 20;
    if (lb->start > 0 && (lb->start == lb->len || lb->start > lb->cap / 2)) {
        memmove(lb->buf, lb->buf + lb->start, lb->len - lb->start);
        lb->len -= lb->start;
        lb->start = 0;
    }
    if (lb->len + len + 1 > lb->cap) {
        size_t cap = lb->cap ? lb->cap : 4096;
        while (cap < lb->len + len + 1)
            cap *= 2;
        char *nb = realloc(lb->buf, cap);
        if (!nb)
            return -1;
        lb->buf = nb;
        lb->cap = cap;
    }
    memcpy(lb->buf + lb->len, data, len);
    lb->len += len;
    lb->buf[lb->len] = '\0';
    /* an unterminated line that is already too long is a protocol error */
    if (lb->len - lb->start > max && !memchr(lb->buf + lb->start, '\n', lb->len - lb->start))
        return -1;
    return 0;
}

char *kernel_linebuf_next(kernel_linebuf *lb, size_t *len)
{
    if (!lb->buf || lb->start >= lb->len)
        return NULL;
    char *s = lb->buf + lb->start;
    char *nl = memchr(s, '\n', lb->len - lb->start);
    if (!nl)
        return NULL;
    *nl = '\0';
    if (len)
        *len = (size_t)(nl - s);
    lb->start = (size_t)(nl - lb->buf) + 1;
    return s;
}

void kernel_linebuf_free(kernel_linebuf *lb)
{
    free(lb->buf);
    memset(lb, 0, sizeof *lb);
}

static void linebuf_reset(kernel_linebuf *lb)
{
    lb->len = lb->start = 0;
}

/* ------------------------------------------------------------------ event mapping */

void kernel_timestamp(char *out, size_t cap)
{
    int64_t ns = mock_now_ns();
    time_t sec = (time_t)(ns / 1000000000);
    long us = (long)((ns % 1000000000) / 1000);
    struct tm tm;
    gmtime_r(&sec, &tm);
    snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, us);
}

static const struct {
    const char *mime;
    const char *field;
} k_mime_map[] = {
    {"text/plain", "text"},        {"text/html", "html"},
    {"text/markdown", "markdown"}, {"image/svg+xml", "svg"},
    {"image/png", "png"},          {"image/jpeg", "jpeg"},
    {"application/pdf", "pdf"},    {"text/latex", "latex"},
    {"application/json", "json"},  {"application/javascript", "javascript"},
    {"e2b/data", "data"},          {"e2b/chart", "chart"},
};
#define N_MIME (sizeof k_mime_map / sizeof k_mime_map[0])

static char *print_take(cJSON *o)
{
    char *s = o ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    return s;
}

static char *result_from_bundle(const cJSON *ev, const cJSON *bundle)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *extra = cJSON_CreateObject();
    if (!o || !extra) {
        cJSON_Delete(o);
        cJSON_Delete(extra);
        return NULL;
    }
    cJSON_AddStringToObject(o, "type", "result");
    for (size_t i = 0; i < N_MIME; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(bundle, k_mime_map[i].mime);
        if (!v || cJSON_IsNull(v))
            continue;
        if (i == 0 && cJSON_IsString(v)) {
            /* like the E2B server: one pair of surrounding single quotes is stripped */
            const char *t = v->valuestring;
            size_t n = strlen(t);
            if (n >= 2 && t[0] == '\'' && t[n - 1] == '\'') {
                char *c = strndup(t + 1, n - 2);
                if (c)
                    cJSON_AddStringToObject(o, "text", c);
                free(c);
                continue;
            }
        }
        cJSON_AddItemToObject(o, k_mime_map[i].field, cJSON_Duplicate(v, 1));
    }
    const cJSON *it;
    cJSON_ArrayForEach(it, bundle)
    {
        int known = 0;
        for (size_t i = 0; i < N_MIME && !known; i++)
            known = it->string && !strcmp(it->string, k_mime_map[i].mime);
        if (!known && it->string)
            cJSON_AddItemToObject(extra, it->string, cJSON_Duplicate(it, 1));
    }
    cJSON_AddItemToObject(o, "extra", extra);
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(ev, "is_main_result");
    cJSON_AddBoolToObject(o, "is_main_result", cJSON_IsTrue(m));
    return print_take(o);
}

/* Fast path for the kernel's hottest events, `{"type":"stdout"|"stderr","text":"..."}`
 * exactly as python_kernel.py writes them: the JSON string is validated in place and the
 * wire line is the same bytes plus a timestamp (no cJSON parse + print per output chunk).
 * Returns NULL (use the generic cJSON path) for anything else. */
static char *output_to_wire(const char *line, size_t len, kernel_event_type *type)
{
    static const char pre_out[] = "{\"type\":\"stdout\",\"text\":\"";
    static const char pre_err[] = "{\"type\":\"stderr\",\"text\":\"";
    const size_t np = sizeof pre_out - 1;
    if (len < np + 2 || line[len - 1] != '}' || line[len - 2] != '"')
        return NULL;
    int err;
    if (!memcmp(line, pre_out, np))
        err = 0;
    else if (!memcmp(line, pre_err, np))
        err = 1;
    else
        return NULL;
    /* the string must end exactly at len - 2 */
    size_t i = np, end = len - 2;
    while (i < end) {
        unsigned char ch = (unsigned char)line[i];
        if (ch == '"' || ch < 0x20)
            return NULL;
        if (ch != '\\') {
            i++;
            continue;
        }
        if (i + 1 >= end)
            return NULL;
        char e = line[i + 1];
        if (e == 'u') {
            if (i + 6 > end)
                return NULL;
            for (size_t h = i + 2; h < i + 6; h++)
                if (!isxdigit((unsigned char)line[h]))
                    return NULL;
            i += 6;
        } else if (strchr("\"\\/bfnrt", e) && e) {
            i += 2;
        } else {
            return NULL;
        }
    }
    if (i != end)
        return NULL;
    char ts[40];
    kernel_timestamp(ts, sizeof ts);
    size_t nts = strlen(ts);
    /* line minus "}" + ,"timestamp":"<ts>"} */
    char *w = malloc(len - 1 + 14 + nts + 3);
    if (!w)
        return NULL;
    memcpy(w, line, len - 1);
    size_t o = len - 1;
    memcpy(w + o, ",\"timestamp\":\"", 14);
    o += 14;
    memcpy(w + o, ts, nts);
    o += nts;
    memcpy(w + o, "\"}", 3); /* with the NUL */
    *type = err ? KEV_STDERR : KEV_STDOUT;
    return w;
}

char *kernel_event_to_wire(const cJSON *ev, kernel_event_type *type)
{
    if (!cJSON_IsObject(ev))
        return NULL;
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(ev, "type");
    if (!cJSON_IsString(t))
        return NULL;
    const char *ts = t->valuestring;
    if (!strcmp(ts, "number_of_executions")) {
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(ev, "execution_count");
        if (!cJSON_IsNumber(n))
            return NULL;
        *type = KEV_NUMBER_OF_EXECUTIONS;
        char buf[96];
        snprintf(buf, sizeof buf, "{\"type\":\"number_of_executions\",\"execution_count\":%lld}",
                 (long long)n->valuedouble);
        return strdup(buf);
    }
    if (!strcmp(ts, "stdout") || !strcmp(ts, "stderr")) {
        const cJSON *text = cJSON_GetObjectItemCaseSensitive(ev, "text");
        if (!cJSON_IsString(text))
            return NULL;
        *type = ts[3] == 'o' ? KEV_STDOUT : KEV_STDERR;
        const cJSON *stamp = cJSON_GetObjectItemCaseSensitive(ev, "timestamp");
        char now[40];
        if (!cJSON_IsString(stamp))
            kernel_timestamp(now, sizeof now);
        cJSON *o = cJSON_CreateObject();
        if (!o)
            return NULL;
        cJSON_AddStringToObject(o, "type", ts);
        cJSON_AddStringToObject(o, "text", text->valuestring);
        cJSON_AddStringToObject(o, "timestamp", cJSON_IsString(stamp) ? stamp->valuestring : now);
        return print_take(o);
    }
    if (!strcmp(ts, "result")) {
        *type = KEV_RESULT;
        const cJSON *bundle = cJSON_GetObjectItemCaseSensitive(ev, "bundle");
        if (cJSON_IsObject(bundle))
            return result_from_bundle(ev, bundle);
        /* wire form (scripted answers): pass through, ensure extra and is_main_result */
        cJSON *o = cJSON_Duplicate(ev, 1);
        if (!o)
            return NULL;
        cJSON_DeleteItemFromObjectCaseSensitive(o, "delay_ms");
        if (!cJSON_GetObjectItemCaseSensitive(o, "extra"))
            cJSON_AddObjectToObject(o, "extra");
        if (!cJSON_GetObjectItemCaseSensitive(o, "is_main_result"))
            cJSON_AddBoolToObject(o, "is_main_result", 0);
        return print_take(o);
    }
    if (!strcmp(ts, "error")) {
        *type = KEV_ERROR;
        const char *f[3] = {"name", "value", "traceback"};
        cJSON *o = cJSON_CreateObject();
        if (!o)
            return NULL;
        cJSON_AddStringToObject(o, "type", "error");
        for (int i = 0; i < 3; i++) {
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(ev, f[i]);
            cJSON_AddStringToObject(o, f[i], cJSON_IsString(v) ? v->valuestring : "");
        }
        return print_take(o);
    }
    if (!strcmp(ts, "keepalive")) {
        *type = KEV_KEEPALIVE;
        return strdup("{\"type\":\"keepalive\"}");
    }
    return NULL;
}

/* ------------------------------------------------------------------ lifecycle */

static char **env_from_json(const cJSON *env)
{
    size_t n = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, env) n++;
    char **out = calloc(n + 1, sizeof *out);
    if (!out)
        return NULL;
    size_t i = 0;
    cJSON_ArrayForEach(it, env)
    {
        if (!it->string || !cJSON_IsString(it) || !it->string[0] || strchr(it->string, '='))
            continue;
        size_t len = strlen(it->string) + strlen(it->valuestring) + 2;
        char *kv = malloc(len);
        if (!kv)
            break;
        snprintf(kv, len, "%s=%s", it->string, it->valuestring);
        out[i++] = kv;
    }
    return out;
}

static void env_free(char **env)
{
    if (!env)
        return;
    for (size_t i = 0; env[i]; i++)
        free(env[i]);
    free(env);
}

static kernel *kernel_alloc(const kernel_opts *o, char *err, size_t errlen)
{
    pthread_once(&g_sigpipe_once, ignore_sigpipe);
    if (!o || !o->dir || o->kind > KERNEL_BASH) {
        seterr(err, errlen, "invalid kernel options");
        return NULL;
    }
    kernel *k = calloc(1, sizeof *k);
    if (!k) {
        seterr(err, errlen, "out of memory");
        return NULL;
    }
    k->kind = o->kind;
    k->allow_net = o->allow_net;
    k->dir = strdup(o->dir);
    k->cwd = strdup(o->cwd && o->cwd[0] ? o->cwd : SBXRT_HOME);
    k->env = env_from_json(o->env_vars);
    k->proc.req_fd = k->proc.ev_fd = k->proc.out_fd = k->proc.err_fd = -1;
    k->wake[0] = k->wake[1] = -1;
    if (!k->dir || !k->cwd || !k->env || pipe2(k->wake, O_CLOEXEC | O_NONBLOCK) != 0) {
        free(k->dir);
        free(k->cwd);
        env_free(k->env);
        if (k->wake[0] >= 0) {
            close(k->wake[0]);
            close(k->wake[1]);
        }
        free(k);
        seterr(err, errlen, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&k->exec_lock, NULL);
    pthread_mutex_init(&k->st_lock, NULL);
    return k;
}

static void kill_locked(kernel *k);

/* Kills and reaps the process (exec_lock held). */
static void proc_dispose(kernel *k)
{
    pthread_mutex_lock(&k->st_lock);
    sbxrt_proc p = k->proc;
    k->proc.pid = 0;
    k->proc.pgid = 0;
    k->proc.req_fd = k->proc.ev_fd = k->proc.out_fd = k->proc.err_fd = -1;
    k->alive = 0;
    pthread_mutex_unlock(&k->st_lock);
    sbxrt_kill(&p);
    linebuf_reset(&k->lb);
}

/* Starts the process and waits for its "ready" event (exec_lock held). */
static int proc_start(kernel *k, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0'; /* read below; some callers pass an uninitialised buffer */
    const char *bin = kernel_bin(k->kind);
    if (access(bin, X_OK) != 0) {
        if (err && errlen)
            snprintf(err, errlen, "%s kernel unavailable: %s not found on this host",
                     k->kind == KERNEL_PYTHON       ? "Python"
                     : k->kind == KERNEL_JAVASCRIPT ? "JavaScript"
                                                    : "Bash",
                     bin);
        return -1;
    }
    const char *src = embedded(k->kind == KERNEL_PYTHON       ? "python_kernel.py"
                               : k->kind == KERNEL_JAVASCRIPT ? "node_kernel.js"
                                                              : "bash_kernel.sh");
    if (!src) {
        seterr(err, errlen, "kernel script missing from the binary");
        return -1;
    }
    const char *argv_py[] = {PYTHON_BIN, "-u", "-I", "-c", src, NULL};
    const char *argv_js[] = {NODE_BIN, "--expose-internals", "-e", src, NULL};
    const char *argv_sh[] = {BASH_BIN, "--noprofile", "--norc", "-c", src, NULL};
    const char *const *argv = k->kind == KERNEL_PYTHON       ? argv_py
                              : k->kind == KERNEL_JAVASCRIPT ? argv_js
                                                             : argv_sh;
    sbxrt_spec spec = {k->dir, k->cwd, argv, (const char *const *)k->env, k->allow_net};
    sbxrt_proc p;
    if (sbxrt_spawn(&spec, &p, err, errlen) != 0)
        return -1;
    /* room for several coalesced output events per wake-up (best effort: the per-user pipe
     * quota may refuse it, the default size still works) */
    if (p.ev_fd >= 0)
        (void)fcntl(p.ev_fd, F_SETPIPE_SZ, EV_PIPE_SIZE);
    pthread_mutex_lock(&k->st_lock);
    k->proc = p;
    if (k->shutdown)
        kill_locked(k); /* shut down while we were spawning: do not wait */
    pthread_mutex_unlock(&k->st_lock);
    linebuf_reset(&k->lb);

    int64_t deadline = mono_ms() + READY_TIMEOUT_MS;
    char buf[4096];
    for (;;) {
        size_t ll;
        char *line;
        while ((line = kernel_linebuf_next(&k->lb, &ll)) != NULL) {
            cJSON *ev = cJSON_Parse(line);
            const cJSON *t = cJSON_GetObjectItemCaseSensitive(ev, "type");
            int ready = cJSON_IsString(t) && !strcmp(t->valuestring, "ready");
            cJSON_Delete(ev);
            if (ready) {
                pthread_mutex_lock(&k->st_lock); /* kernel_pid() reads it under st_lock */
                k->alive = 1;
                pthread_mutex_unlock(&k->st_lock);
                return 0;
            }
        }
        int64_t left = deadline - mono_ms();
        if (left <= 0) {
            seterr(err, errlen, "kernel did not become ready in time");
            break;
        }
        struct pollfd pfd[2] = {{k->proc.ev_fd, POLLIN, 0}, {k->proc.err_fd, POLLIN, 0}};
        int r = poll(pfd, 2, (int)left);
        if (r < 0 && errno == EINTR)
            continue;
        if (pfd[1].revents & POLLIN) {
            /* start-up stderr is kept for the error message only */
            ssize_t n = read(k->proc.err_fd, buf, sizeof buf - 1);
            if (n > 0 && err && errlen) {
                /* append: a program may write one message in several pieces (bwrap prints
                 * "bwrap: Can't chdir to <dir>" and ": <reason>" separately) */
                buf[n] = '\0';
                size_t used = strncmp(err, "kernel failed to start: ", 24) ? 0 : strlen(err);
                if (!used)
                    snprintf(err, errlen, "kernel failed to start: %s", buf);
                else if (used + 1 < errlen)
                    snprintf(err + used, errlen - used, "%s", buf);
            }
        }
        if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t n = read(k->proc.ev_fd, buf, sizeof buf);
            if (n > 0) {
                if (kernel_linebuf_feed(&k->lb, buf, (size_t)n) != 0)
                    break;
                continue;
            }
            if (n < 0 && (errno == EAGAIN || errno == EINTR))
                continue;
            if (err && errlen && !strstr(err, "kernel failed to start"))
                snprintf(err, errlen, "kernel exited during start-up");
            break;
        }
    }
    /* failed: trim a trailing newline from the message */
    if (err && errlen) {
        size_t n = strlen(err);
        while (n && (err[n - 1] == '\n' || err[n - 1] == '\r'))
            err[--n] = '\0';
    }
    proc_dispose(k);
    return -1;
}

kernel *kernel_new_lazy(const kernel_opts *o, char *err, size_t errlen)
{
    return kernel_alloc(o, err, errlen);
}

kernel *kernel_new(const kernel_opts *o, char *err, size_t errlen)
{
    kernel *k = kernel_alloc(o, err, errlen);
    if (!k)
        return NULL;
    pthread_mutex_lock(&k->exec_lock);
    int rc = proc_start(k, err, errlen);
    pthread_mutex_unlock(&k->exec_lock);
    if (rc != 0) {
        kernel_free(k);
        return NULL;
    }
    return k;
}

kernel_kind kernel_get_kind(const kernel *k)
{
    return k->kind;
}

int kernel_pid(kernel *k)
{
    pthread_mutex_lock(&k->st_lock);
    int pid = k->alive ? (int)k->proc.pid : 0;
    pthread_mutex_unlock(&k->st_lock);
    return pid;
}

void kernel_wake(kernel *k)
{
    if (!k)
        return;
    char c = 1;
    ssize_t r = write(k->wake[1], &c, 1);
    (void)r;
}

int kernel_interrupt(kernel *k)
{
    pthread_mutex_lock(&k->st_lock);
    if (k->running)
        sbxrt_signal(&k->proc, SIGINT);
    pthread_mutex_unlock(&k->st_lock);
    return 0;
}

static void kill_locked(kernel *k)
{
    /* st_lock held: SIGKILL the process; the exec thread (or the caller) reaps */
    if (k->proc.pid > 0) {
        sbxrt_signal(&k->proc, SIGKILL);
        kill(k->proc.pid, SIGKILL);
    }
}

int kernel_restart(kernel *k, char *err, size_t errlen)
{
    pthread_mutex_lock(&k->st_lock);
    k->restarting = 1;
    kill_locked(k);
    pthread_mutex_unlock(&k->st_lock);
    kernel_wake(k);
    pthread_mutex_lock(&k->exec_lock);
    proc_dispose(k);
    pthread_mutex_lock(&k->st_lock);
    int down = k->shutdown;
    pthread_mutex_unlock(&k->st_lock);
    int rc = down ? -1 : proc_start(k, err, errlen);
    if (down)
        seterr(err, errlen, "context was removed");
    pthread_mutex_lock(&k->st_lock);
    k->restarting = 0;
    pthread_mutex_unlock(&k->st_lock);
    pthread_mutex_unlock(&k->exec_lock);
    return rc;
}

void kernel_freeze(kernel *k, int frozen)
{
    if (!k)
        return;
    pthread_mutex_lock(&k->st_lock);
    sbxrt_signal(&k->proc, frozen ? SIGSTOP : SIGCONT);
    pthread_mutex_unlock(&k->st_lock);
}

void kernel_shutdown(kernel *k)
{
    if (!k)
        return;
    pthread_mutex_lock(&k->st_lock);
    k->shutdown = 1;
    kill_locked(k);
    pthread_mutex_unlock(&k->st_lock);
    kernel_wake(k);
    pthread_mutex_lock(&k->exec_lock);
    proc_dispose(k);
    pthread_mutex_unlock(&k->exec_lock);
}

void kernel_free(kernel *k)
{
    if (!k)
        return;
    kernel_shutdown(k);
    pthread_mutex_lock(&k->exec_lock);
    pthread_mutex_unlock(&k->exec_lock);
    pthread_mutex_destroy(&k->exec_lock);
    pthread_mutex_destroy(&k->st_lock);
    kernel_linebuf_free(&k->lb);
    close(k->wake[0]);
    close(k->wake[1]);
    free(k->dir);
    free(k->cwd);
    env_free(k->env);
    free(k);
}

static int write_all(int fd, const char *p, size_t n);

int kernel_adopt(kernel *k, const char *dir, const cJSON *env_vars, char *err, size_t errlen)
{
    if (!k || !dir) {
        seterr(err, errlen, "invalid kernel adoption");
        return -1;
    }
    char *nd = strdup(dir);
    cJSON *add = cJSON_CreateObject();
    const cJSON *it;
    size_t n = 0;
    cJSON_ArrayForEach(it, env_vars)
    {
        if (!it->string || !cJSON_IsString(it) || !it->string[0] || strchr(it->string, '='))
            continue;
        cJSON_AddStringToObject(add, it->string, it->valuestring);
        n++;
    }
    size_t old = 0;
    while (k->env && k->env[old])
        old++;
    char **extra = add ? env_from_json(add) : NULL;
    char **ne = extra ? calloc(old + n + 1, sizeof *ne) : NULL;
    cJSON *req = add ? cJSON_CreateObject() : NULL;
    char *line = NULL;
    if (req && cJSON_AddItemReferenceToObject(req, "set_env", add))
        line = cJSON_PrintUnformatted(req);
    if (!nd || !ne || !line) {
        free(nd);
        free(ne);
        env_free(extra);
        cJSON_Delete(req);
        cJSON_Delete(add);
        free(line);
        seterr(err, errlen, "out of memory");
        return -1;
    }
    pthread_mutex_lock(&k->exec_lock);
    /* the sandbox's variables win over the (sandbox-independent) start-up environment */
    size_t j = 0;
    for (size_t i = 0; k->env && k->env[i]; i++)
        ne[j++] = k->env[i];
    for (size_t i = 0; extra[i]; i++)
        ne[j++] = extra[i];
    free(extra);
    free(k->env);
    k->env = ne;
    free(k->dir);
    k->dir = nd;
    /* a pooled kernel's cgroups carry its pool directory's name: give them the sandbox's, so
     * the sandbox has one set of limits and its destroy hook sweeps the kernel too */
    pthread_mutex_lock(&k->st_lock);
    if (k->proc.pid > 0)
        (void)sbxrt_move(&k->proc, nd);
    pthread_mutex_unlock(&k->st_lock);
    int rc = 0;
    if (n && k->kind == KERNEL_PYTHON && k->alive && k->proc.req_fd >= 0) {
        /* a one-way request: the kernel updates os.environ / process.env and answers nothing */
        size_t len = strlen(line);
        line[len] = '\n';
        rc = write_all(k->proc.req_fd, line, len + 1);
        line[len] = '\0';
        if (rc != 0)
            seterr(err, errlen, "cannot pass env vars to the kernel");
    }
    pthread_mutex_unlock(&k->exec_lock);
    free(line);
    cJSON_Delete(req);
    cJSON_Delete(add);
    return rc;
}

/* ------------------------------------------------------------------ execution */

typedef struct exec_ctx {
    kernel *k;
    const kernel_exec_opts *o;
    int gone; /* consumer went away: emit nothing more */
    int64_t last_emit;
    unsigned char held[2][4]; /* incomplete UTF-8 tails of stdout/stderr */
    size_t nheld[2];
} exec_ctx;

static void emit_line(exec_ctx *c, kernel_event_type t, const char *line, size_t len)
{
    if (c->gone)
        return;
    c->last_emit = mono_ms();
    if (c->o->emit(c->o->ud, t, line, len) != 0)
        c->gone = 1;
}

static void emit_owned(exec_ctx *c, kernel_event_type t, char *line)
{
    if (line)
        emit_line(c, t, line, strlen(line));
    free(line);
}

static void emit_error(exec_ctx *c, const char *name, const char *value)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return;
    cJSON_AddStringToObject(o, "type", "error");
    cJSON_AddStringToObject(o, "name", name);
    cJSON_AddStringToObject(o, "value", value);
    cJSON_AddStringToObject(o, "traceback", "");
    emit_owned(c, KEV_ERROR, print_take(o));
}

/* Length of the longest prefix of b[0..n) that does not end inside a UTF-8 sequence. */
static size_t utf8_complete(const unsigned char *b, size_t n)
{
    size_t i = n, back = 0;
    while (i > 0 && back < 4) {
        unsigned char ch = b[i - 1];
        if ((ch & 0xC0) != 0x80) { /* lead byte or ASCII */
            size_t need = ch < 0x80             ? 1
                          : (ch & 0xE0) == 0xC0 ? 2
                          : (ch & 0xF0) == 0xE0 ? 3
                          : (ch & 0xF8) == 0xF0 ? 4
                                                : 1;
            return back + 1 >= need ? n : i - 1;
        }
        i--;
        back++;
    }
    return n;
}

/* Copies b[0..n) to a new NUL-terminated string, replacing every invalid UTF-8 sequence
 * (raw output of subprocesses may be binary) by U+FFFD, so the NDJSON stays valid UTF-8. */
static char *utf8_sanitize(const unsigned char *b, size_t n)
{
    char *out = malloc(n * 3 + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        unsigned char ch = b[i];
        size_t need = ch < 0x80                    ? 1
                      : (ch >= 0xC2 && ch <= 0xDF) ? 2
                      : (ch & 0xF0) == 0xE0        ? 3
                      : (ch >= 0xF0 && ch <= 0xF4) ? 4
                                                   : 0;
        int ok = need > 0 && i + need <= n;
        for (size_t k = 1; ok && k < need; k++)
            ok = (b[i + k] & 0xC0) == 0x80;
        if (ok && need == 3) { /* no overlongs, no surrogates */
            if ((ch == 0xE0 && b[i + 1] < 0xA0) || (ch == 0xED && b[i + 1] > 0x9F))
                ok = 0;
        } else if (ok && need == 4) {
            if ((ch == 0xF0 && b[i + 1] < 0x90) || (ch == 0xF4 && b[i + 1] > 0x8F))
                ok = 0;
        }
        if (ok && !(need == 1 && ch == 0)) {
            memcpy(out + o, b + i, need);
            o += need;
            i += need;
        } else {
            memcpy(out + o, "\xEF\xBF\xBD", 3);
            o += 3;
            i += 1;
        }
    }
    out[o] = '\0';
    return out;
}

static void emit_raw(exec_ctx *c, int which, const char *data, size_t n, int final)
{
    unsigned char stackbuf[READ_CHUNK + 8];
    size_t h = c->nheld[which];
    if (h + n > sizeof stackbuf)
        h = 0; /* cannot happen: n <= READ_CHUNK */
    memcpy(stackbuf, c->held[which], h);
    memcpy(stackbuf + h, data, n);
    size_t total = h + n;
    size_t ok = final ? total : utf8_complete(stackbuf, total);
    c->nheld[which] = total - ok;
    memcpy(c->held[which], stackbuf + ok, total - ok);
    if (ok == 0)
        return;
    char *text = utf8_sanitize(stackbuf, ok);
    if (!text)
        return;
    cJSON *o = cJSON_CreateObject();
    char ts[40];
    kernel_timestamp(ts, sizeof ts);
    if (o) {
        cJSON_AddStringToObject(o, "type", which ? "stderr" : "stdout");
        cJSON_AddStringToObject(o, "text", text);
        cJSON_AddStringToObject(o, "timestamp", ts);
    }
    free(text);
    emit_owned(c, which ? KEV_STDERR : KEV_STDOUT, print_take(o));
}

/* Reads everything currently available on stdout/stderr. Returns 1 if both hit EOF. */
static int drain_raw(exec_ctx *c)
{
    int eof = 0;
    char buf[READ_CHUNK];
    for (int which = 0; which < 2; which++) {
        int fd = which ? c->k->proc.err_fd : c->k->proc.out_fd;
        if (fd < 0) {
            eof++;
            continue;
        }
        for (;;) {
            ssize_t n = read(fd, buf, sizeof buf);
            if (n > 0) {
                emit_raw(c, which, buf, (size_t)n, 0);
                continue;
            }
            if (n == 0)
                eof++;
            else if (errno == EINTR)
                continue;
            break;
        }
    }
    return eof == 2;
}

static void flush_held(exec_ctx *c)
{
    for (int w = 0; w < 2; w++)
        if (c->nheld[w])
            emit_raw(c, w, "", 0, 1);
}

/* Drops output produced between executions (background threads, late subprocesses). */
static void discard_stale(kernel *k)
{
    char buf[READ_CHUNK];
    int fds[3] = {k->proc.ev_fd, k->proc.out_fd, k->proc.err_fd};
    for (int i = 0; i < 3; i++)
        while (fds[i] >= 0 && read(fds[i], buf, sizeof buf) > 0) {
        }
    linebuf_reset(&k->lb);
    while (read(k->wake[0], buf, sizeof buf) > 0) {
    }
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Builds the request bytes for the kernel. */
static char *build_request(kernel *k, const kernel_exec_opts *o, size_t *len)
{
    if (k->kind != KERNEL_BASH) {
        cJSON *r = cJSON_CreateObject();
        if (!r)
            return NULL;
        cJSON_AddStringToObject(r, "code", o->code);
        if (cJSON_IsObject(o->env_vars)) {
            cJSON *e = cJSON_AddObjectToObject(r, "env_vars");
            const cJSON *it;
            cJSON_ArrayForEach(it, o->env_vars)
            {
                if (!it->string)
                    continue;
                if (cJSON_IsString(it))
                    cJSON_AddStringToObject(e, it->string, it->valuestring);
                else if (cJSON_IsNumber(it) || cJSON_IsBool(it)) {
                    char *s = cJSON_PrintUnformatted(it);
                    if (s)
                        cJSON_AddStringToObject(e, it->string, s);
                    free(s);
                }
            }
        }
        char *s = print_take(r);
        if (!s)
            return NULL;
        size_t n = strlen(s);
        char *out = realloc(s, n + 2);
        if (!out) {
            free(s);
            return NULL;
        }
        out[n] = '\n';
        out[n + 1] = '\0';
        *len = n + 1;
        return out;
    }
    /* bash: NAME=VALUE\0 ... \0 CODE\0 */
    size_t cap = strlen(o->code) + 2, n = 0;
    const cJSON *it;
    if (cJSON_IsObject(o->env_vars))
        cJSON_ArrayForEach(it, o->env_vars) if (it->string && cJSON_IsString(it))
            cap += strlen(it->string) + strlen(it->valuestring) + 2;
    char *out = malloc(cap);
    if (!out)
        return NULL;
    if (cJSON_IsObject(o->env_vars))
        cJSON_ArrayForEach(it, o->env_vars)
        {
            if (!it->string || !cJSON_IsString(it) || !it->string[0] || strchr(it->string, '='))
                continue;
            n += (size_t)sprintf(out + n, "%s=%s", it->string, it->valuestring) + 1;
        }
    out[n++] = '\0';
    size_t cl = strlen(o->code);
    memcpy(out + n, o->code, cl);
    n += cl;
    out[n++] = '\0';
    *len = n;
    return out;
}

static void set_running(kernel *k, int v)
{
    pthread_mutex_lock(&k->st_lock);
    k->running = v;
    pthread_mutex_unlock(&k->st_lock);
}

kernel_exec_status kernel_execute(kernel *k, const kernel_exec_opts *o)
{
    if (!k || !o || !o->code || !o->emit)
        return KEXEC_BAD_ARGS;
    exec_ctx c;
    memset(&c, 0, sizeof c);
    c.k = k;
    c.o = o;
    c.last_emit = mono_ms();
    const char *end_line = "{\"type\":\"end_of_execution\"}";
    kernel_exec_status st = KEXEC_DONE;

    pthread_mutex_lock(&k->exec_lock);
    pthread_mutex_lock(&k->st_lock);
    int down = k->shutdown;
    pthread_mutex_unlock(&k->st_lock);
    if (down) {
        emit_error(&c, "ExecutionAborted", "Execution was aborted");
        st = KEXEC_KERNEL_LOST;
        goto out;
    }
    if (o->cancel && atomic_load(o->cancel)) {
        c.gone = 1;
        st = KEXEC_INTERRUPTED;
        goto out;
    }
    if (!k->alive) {
        char err[512] = "";
        proc_dispose(k);
        if (proc_start(k, err, sizeof err) != 0) {
            emit_error(&c, "KernelError", err[0] ? err : "kernel failed to start");
            st = KEXEC_KERNEL_LOST;
            goto out;
        }
    }
    discard_stale(k);
    size_t rlen = 0;
    char *req = build_request(k, o, &rlen);
    if (!req) {
        emit_error(&c, "KernelError", "out of memory");
        st = KEXEC_KERNEL_LOST;
        goto out;
    }
    set_running(k, 1);
    int wfail = write_all(k->proc.req_fd, req, rlen);
    free(req);

    int64_t keep = o->keepalive_ms > 0 ? o->keepalive_ms : DEFAULT_KEEPALIVE_MS;
    int64_t deadline = o->timeout_ms > 0 ? mono_ms() + o->timeout_ms : 0;
    int64_t int_deadline = 0; /* set once we sent SIGINT */
    int finished = 0, lost = wfail;
    int64_t kept[2] = {0, 0}; /* output bytes per stream (wire lines) */
    int cut[2] = {0, 0};
    char buf[READ_CHUNK];

    while (!finished && !lost) {
        /* complete lines already buffered */
        size_t ll;
        char *line;
        while (!finished && (line = kernel_linebuf_next(&k->lb, &ll)) != NULL) {
            kernel_event_type et;
            char *wire = output_to_wire(line, ll, &et);
            cJSON *ev = wire ? NULL : cJSON_Parse(line);
            if (!wire && !ev)
                continue; /* a torn line: skip it */
            const cJSON *t = cJSON_GetObjectItemCaseSensitive(ev, "type");
            if (cJSON_IsString(t) && !strcmp(t->valuestring, "end")) {
                finished = 1;
            } else {
                if (!wire)
                    wire = kernel_event_to_wire(ev, &et);
                if (wire && (et == KEV_STDOUT || et == KEV_STDERR)) {
                    /* output cap per stream and execution (sbx_policy): drop the excess,
                     * tell once on stderr */
                    int si = et == KEV_STDERR;
                    int64_t cap = sbxpol_output_cap();
                    if (cut[si]) {
                        free(wire);
                        wire = NULL;
                    } else if (cap > 0 && (kept[si] += (int64_t)strlen(wire)) > cap) {
                        cut[si] = 1;
                        free(wire);
                        char ts[40], note[256];
                        kernel_timestamp(ts, sizeof ts);
                        snprintf(note, sizeof note,
                                 "{\"type\":\"stderr\",\"text\":\"[e2b-mock: output truncated: "
                                 "more than %lld bytes on %s]\\n\",\"timestamp\":\"%s\"}",
                                 (long long)cap, si ? "stderr" : "stdout", ts);
                        wire = strdup(note);
                        et = KEV_STDERR;
                    }
                }
                if (wire)
                    emit_owned(&c, et, wire);
            }
            cJSON_Delete(ev);
        }
        if (finished)
            break;

        int cancelled = c.gone || (o->cancel && atomic_load(o->cancel));
        int64_t now = mono_ms();
        if (!int_deadline && (cancelled || (deadline && now >= deadline))) {
            if (cancelled)
                c.gone = 1;
            pthread_mutex_lock(&k->st_lock);
            sbxrt_signal(&k->proc, SIGINT);
            pthread_mutex_unlock(&k->st_lock);
            int_deadline = now + INTERRUPT_GRACE_MS;
            st = KEXEC_INTERRUPTED;
        }
        if (int_deadline && now >= int_deadline) {
            /* the interrupt was ignored: kill it, the next execution starts a fresh one */
            proc_dispose(k);
            emit_error(&c, "ExecutionAborted", "Execution was aborted");
            st = KEXEC_KERNEL_LOST;
            goto out_running;
        }
        int64_t wait = keep - (now - c.last_emit);
        if (deadline && !int_deadline && deadline - now < wait)
            wait = deadline - now;
        if (int_deadline && int_deadline - now < wait)
            wait = int_deadline - now;
        if (wait < 0)
            wait = 0;
        struct pollfd pfd[4] = {{k->proc.ev_fd, POLLIN, 0},
                                {k->proc.out_fd, POLLIN, 0},
                                {k->proc.err_fd, POLLIN, 0},
                                {k->wake[0], POLLIN, 0}};
        int r = poll(pfd, 4, (int)wait);
        if (r < 0 && errno == EINTR)
            continue;
        if (r == 0) {
            if (mono_ms() - c.last_emit >= keep)
                emit_line(&c, KEV_KEEPALIVE, "{\"type\":\"keepalive\"}", 20);
            continue;
        }
        if (pfd[3].revents & POLLIN)
            while (read(k->wake[0], buf, sizeof buf) > 0) {
            }
        if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            /* raw output written before this event comes first (a partial UTF-8 tail too:
               its writer finished before the event, so nothing completes it) */
            drain_raw(&c);
            flush_held(&c);
            ssize_t n = read(k->proc.ev_fd, buf, sizeof buf);
            if (n > 0) {
                if (kernel_linebuf_feed(&k->lb, buf, (size_t)n) != 0)
                    lost = 1;
            } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
                lost = 1;
            }
        } else if (pfd[1].revents || pfd[2].revents) {
            drain_raw(&c);
        }
    }
    if (finished) {
        drain_raw(&c);
        flush_held(&c);
    } else {
        /* the kernel died, was restarted or shut down mid-execution */
        int64_t until = mono_ms() + 200;
        while (!drain_raw(&c) && mono_ms() < until) {
            struct pollfd pfd[2] = {{k->proc.out_fd, POLLIN, 0}, {k->proc.err_fd, POLLIN, 0}};
            poll(pfd, 2, 50);
        }
        flush_held(&c);
        pthread_mutex_lock(&k->st_lock);
        int restarting = k->restarting, shut = k->shutdown;
        pthread_mutex_unlock(&k->st_lock);
        proc_dispose(k);
        if (shut)
            emit_error(&c, "ExecutionAborted", "Execution was aborted");
        else if (restarting)
            emit_error(&c, "ContextRestarting", "Context was restarted");
        else
            emit_error(&c, "UnexpectedEndOfExecution",
                       "Connection to the execution was closed before the execution was finished");
        st = KEXEC_KERNEL_LOST;
    }
out_running:
    set_running(k, 0);
out:
    emit_line(&c, KEV_END_OF_EXECUTION, end_line, strlen(end_line));
    pthread_mutex_unlock(&k->exec_lock);
    return st;
}
