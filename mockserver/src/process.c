/* process.c - process.Process Connect service (see process.h). */
#include "process.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "envd_common.h"
#include "fs_safe.h"
#include "sandboxrt.h"
#include "sbx_policy.h"
#include "util.h"

#define STDIN_WRITE_TIMEOUT_MS 30000

/* ------------------------------------------------------------------ end events */

const char *process_signal_name(int sig)
{
    static const char *const names[] = {NULL,
                                        "hangup",
                                        "interrupt",
                                        "quit",
                                        "illegal instruction",
                                        "trace/breakpoint trap",
                                        "aborted",
                                        "bus error",
                                        "floating point exception",
                                        "killed",
                                        "user defined signal 1",
                                        "segmentation fault",
                                        "user defined signal 2",
                                        "broken pipe",
                                        "alarm clock",
                                        "terminated"};
    if (sig > 0 && (size_t)sig < sizeof names / sizeof names[0])
        return names[sig];
    return NULL;
}

char *process_end_event_json(int wait_status, int sent_sig)
{
    int code = 0, sig = 0;
    if (WIFEXITED(wait_status)) {
        code = WEXITSTATUS(wait_status);
        if (sent_sig > 0 && code == 128 + sent_sig)
            sig = sent_sig; /* bubblewrap reports a killed sandbox as 128+sig */
    } else if (WIFSIGNALED(wait_status)) {
        sig = WTERMSIG(wait_status);
    }
    char status[64];
    char buf[256];
    if (sig) {
        const char *nm = process_signal_name(sig);
        if (nm)
            snprintf(status, sizeof status, "signal: %s", nm);
        else
            snprintf(status, sizeof status, "signal: signal %d", sig);
        snprintf(buf, sizeof buf,
                 "{\"event\":{\"end\":{\"exitCode\":-1,\"status\":\"%s\",\"error\":\"%s\"}}}",
                 status, status);
    } else if (code == 0) {
        snprintf(buf, sizeof buf,
                 "{\"event\":{\"end\":{\"exited\":true,\"status\":\"exit status 0\"}}}");
    } else {
        snprintf(buf, sizeof buf,
                 "{\"event\":{\"end\":{\"exitCode\":%d,\"exited\":true,\"status\":\"exit status "
                 "%d\",\"error\":\"exit status %d\"}}}",
                 code, code, code);
    }
    return strdup(buf);
}

/* ------------------------------------------------------------------ registry */

typedef struct sub {
    mock_stream *st;
    long long ka_ms, next_ka, deadline; /* monotonic ms; deadline 0 = none */
    bool is_start;
    struct sub *next;
} sub;

struct proc_mod;

typedef struct proc {
    uint32_t pid;
    char sandbox_id[64];
    char *tag;
    cJSON *config; /* ProcessConfig as received (cmd, args, envs, cwd) */
    sbxrt_proc rt;
    int refs;             /* guarded by proc_mod.lock */
    bool listed;          /* in proc_mod.procs */
    pthread_mutex_t lock; /* subs, finished, end_json, sent_sig, worker */
    sub *subs;
    atomic_bool finished; /* written under lock; read lock-free where only a hint is needed */
    char *end_json;
    int sent_sig;
    long long deadline; /* monotonic ms from Start's Connect-Timeout-Ms (0 = none): kill */
    bool pty;           /* runs under script(1): output is reported as "pty" data */
    long long kept[2];  /* output bytes sent per stream (stdout, stderr/pty) */
    bool cut[2];        /* the stream passed the output cap: the rest is discarded */
    envd_worker *worker;
    pthread_mutex_t in_lock; /* stdin_fd */
    int stdin_fd;
    struct proc_mod *mod;
    struct proc *next;
} proc;

typedef struct proc_mod {
    pthread_mutex_t lock;
    proc *procs; /* newest first */
    uint32_t next_pid;
    mock_server *srv;
} proc_mod;

static void proc_free(proc *p)
{
    for (sub *s = p->subs; s;) { /* only when the worker never ran */
        sub *n = s->next;
        mock_stream_close(s->st);
        free(s);
        s = n;
    }
    if (p->rt.pid > 0)
        sbxrt_kill(&p->rt);
    else
        sbxrt_reap(&p->rt);
    if (p->stdin_fd >= 0)
        close(p->stdin_fd);
    cJSON_Delete(p->config);
    free(p->tag);
    free(p->end_json);
    pthread_mutex_destroy(&p->lock);
    pthread_mutex_destroy(&p->in_lock);
    free(p);
}

static void proc_unref(proc_mod *m, proc *p)
{
    pthread_mutex_lock(&m->lock);
    bool last = --p->refs == 0;
    pthread_mutex_unlock(&m->lock);
    if (last)
        proc_free(p);
}

/* Finds a live-or-finished process of the sandbox by selector; returns it referenced. */
static proc *proc_find(proc_mod *m, const char *sandbox_id, const cJSON *selector, char *desc,
                       size_t cap)
{
    const cJSON *pidj = cJSON_GetObjectItemCaseSensitive(selector, "pid");
    const cJSON *tagj = cJSON_GetObjectItemCaseSensitive(selector, "tag");
    long long pid = -1;
    if (cJSON_IsNumber(pidj))
        pid = (long long)pidj->valuedouble;
    else if (cJSON_IsString(pidj))
        pid = strtoll(pidj->valuestring, NULL, 10);
    const char *tag = cJSON_IsString(tagj) ? tagj->valuestring : NULL;
    if (pid >= 0)
        snprintf(desc, cap, "process with pid %lld not found", pid);
    else if (tag)
        snprintf(desc, cap, "process with tag %s not found", tag);
    else
        snprintf(desc, cap, "process with pid 0 not found");
    proc *found = NULL;
    pthread_mutex_lock(&m->lock);
    for (proc *p = m->procs; p; p = p->next) {
        if (strcmp(p->sandbox_id, sandbox_id) != 0)
            continue;
        if ((pid >= 0 && p->pid == (uint64_t)pid) ||
            (pid < 0 && tag && p->tag && strcmp(p->tag, tag) == 0)) {
            found = p;
            found->refs++;
            break;
        }
    }
    pthread_mutex_unlock(&m->lock);
    return found;
}

/* Unlinks p from the list (caller holds m->lock); returns true if it was listed. */
static bool unlist(proc_mod *m, proc *p)
{
    for (proc **pp = &m->procs; *pp; pp = &(*pp)->next) {
        if (*pp == p) {
            *pp = p->next;
            p->listed = false;
            return true;
        }
    }
    return false;
}

/* ------------------------------------------------------------------ the reader worker */

static void sub_close(sub *s, connect_code code, const char *msg)
{
    envd_stream_end(s->st, code, msg);
    mock_stream_close(s->st);
    free(s);
}

/* Sends one envelope to every subscriber (p->lock held); drops those that went away. */
static void broadcast(proc *p, const char *json, size_t len, long long now)
{
    for (sub **sp = &p->subs; *sp;) {
        sub *s = *sp;
        if (envd_stream_send_raw(s->st, json, len) != 0) {
            *sp = s->next;
            mock_stream_close(s->st);
            free(s);
            continue;
        }
        s->next_ka = now + s->ka_ms;
        sp = &s->next;
    }
}

static void send_data(proc *p, const char *stream_name, const unsigned char *data, size_t n)
{
    size_t b64len = 4 * ((n + 2) / 3);
    size_t cap = b64len + 64;
    char *json = malloc(cap);
    if (!json)
        return;
    int h = snprintf(json, cap, "{\"event\":{\"data\":{\"%s\":\"", stream_name);
    char *b64 = envd_b64(data, n);
    if (!b64) {
        free(json);
        return;
    }
    memcpy(json + h, b64, b64len);
    free(b64);
    size_t len = (size_t)h + b64len;
    memcpy(json + len, "\"}}}", 4);
    len += 4;
    pthread_mutex_lock(&p->lock);
    broadcast(p, json, len, envd_mono_ms());
    pthread_mutex_unlock(&p->lock);
    free(json);
}

/* Reads what one pipe has: returns bytes read (>0), 0 on EOF, -1 when nothing now. */
static ssize_t pump(proc *p, int *fd, const char *name, unsigned char *buf)
{
    if (p->pty)
        name = "pty"; /* one terminal stream, in chunks of at most 16 KiB like envd */
    ssize_t n = read(*fd, buf, p->pty ? PROCESS_PTY_CHUNK_MAX : PROCESS_CHUNK_MAX);
    if (n > 0) {
        /* output cap per stream (sbx_policy): the excess is read and dropped, one notice */
        int si = strcmp(name, "stdout") ? 1 : 0;
        long long cap = (long long)sbxpol_output_cap();
        if (p->cut[si])
            return n;
        size_t keep = (size_t)n;
        if (cap > 0 && p->kept[si] + n > cap) {
            keep = (size_t)(cap - p->kept[si]);
            p->cut[si] = true;
        }
        if (keep)
            send_data(p, name, buf, keep);
        p->kept[si] += (long long)keep;
        if (p->cut[si]) {
            char note[160];
            int nl = snprintf(note, sizeof note,
                              "\n[e2b-mock: output truncated: more than %lld bytes on %s]\n", cap,
                              name);
            send_data(p, name, (const unsigned char *)note, (size_t)nl);
        }
        return n;
    }
    if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        close(*fd);
        *fd = -1;
        return 0;
    }
    return -1;
}

/* True once bubblewrap's sandbox init (pid) has forked the program. */
static bool init_has_child(pid_t pid)
{
    char path[64], buf[64];
    snprintf(path, sizeof path, "/proc/%d/task/%d/children", (int)pid, (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return true; /* cannot tell: do not wait */
    ssize_t n = read(fd, buf, sizeof buf);
    close(fd);
    return n != 0;
}

static void do_signal(proc *p, int sig)
{
    pthread_mutex_lock(&p->lock);
    if (p->finished || p->rt.pid <= 0) {
        pthread_mutex_unlock(&p->lock);
        return;
    }
    p->sent_sig = sig;
    sbxrt_proc target = p->rt; /* pid/pgid only; the fds stay with the worker */
    pthread_mutex_unlock(&p->lock);
    if (sig != SIGKILL && target.isolated && target.pgid > 0) {
        /* sbxrt returns once bubblewrap's init exists; a signal sent before init has forked
         * the program would reach only init (which ignores it). Wait briefly for the child. */
        for (int i = 0; i < 100 && !init_has_child(target.pgid); i++)
            usleep(5000);
    }
    sbxrt_signal(&target, sig);
    if (sig == SIGKILL)
        kill(target.pid, SIGKILL); /* also the outer bwrap: nothing may survive */
}

static void proc_worker(envd_worker *w)
{
    proc *p = w->arg;
    pthread_mutex_lock(&p->lock);
    for (sub *s = p->subs; s; s = s->next)
        mock_stream_on_cancel(s->st, envd_worker_poke_cb, w);
    pthread_mutex_unlock(&p->lock);

    unsigned char *buf = malloc(PROCESS_CHUNK_MAX);
    int out = p->rt.out_fd, err = p->rt.err_fd;
    p->rt.out_fd = p->rt.err_fd = -1; /* the worker owns them now */
    int pidfd = (int)syscall(SYS_pidfd_open, p->rt.pid, 0);
    bool exited = false, killed_for_stop = false;
    int status = 0;
    while (buf) {
        if (atomic_load(&w->stop) && !killed_for_stop) {
            do_signal(p, SIGKILL); /* sandbox destroyed or server stopping */
            killed_for_stop = true;
        }
        long long now = envd_mono_ms();
        long long until = now + 60000;
        /* timers and departed subscribers */
        pthread_mutex_lock(&p->lock);
        bool kill_now = false;
        for (sub **sp = &p->subs; *sp;) {
            sub *s = *sp;
            if (mock_stream_cancelled(s->st)) {
                *sp = s->next;
                mock_stream_close(s->st);
                free(s);
                continue;
            }
            if (s->deadline && now >= s->deadline) { /* a Connect stream's own deadline */
                *sp = s->next;
                sub_close(s, CONNECT_DEADLINE_EXCEEDED, "the stream reached its deadline");
                continue;
            }
            if (now >= s->next_ka) {
                static const char ka[] = "{\"event\":{\"keepalive\":{}}}";
                if (envd_stream_send_raw(s->st, ka, sizeof ka - 1) != 0) {
                    *sp = s->next;
                    mock_stream_close(s->st);
                    free(s);
                    continue;
                }
                s->next_ka = now + s->ka_ms;
            }
            if (s->next_ka < until)
                until = s->next_ka;
            if (s->deadline && s->deadline < until)
                until = s->deadline;
            sp = &s->next;
        }
        if (p->deadline && !exited) {
            if (now >= p->deadline) {
                kill_now = true; /* the command's timeout: envd kills it, attached or not */
                p->deadline = 0;
            } else if (p->deadline < until) {
                until = p->deadline;
            }
        }
        pthread_mutex_unlock(&p->lock);
        if (kill_now)
            do_signal(p, SIGKILL);
        if (exited && out < 0 && err < 0)
            break;
        int timeout = (int)(until - now);
        if (timeout < 0)
            timeout = 0;
        if (pidfd < 0 && !exited && timeout > 50)
            timeout = 50; /* no pidfd (old kernel, valgrind): poll waitpid */
        struct pollfd pf[4] = {{out, POLLIN, 0},
                               {err, POLLIN, 0},
                               {exited ? -1 : pidfd, POLLIN, 0},
                               {w->wake_fd, POLLIN, 0}};
        int pr = poll(pf, 4, timeout);
        if (pr < 0 && errno != EINTR)
            break;
        if (pf[3].revents & POLLIN)
            envd_worker_drain(w);
        if (out >= 0 && (pf[0].revents & (POLLIN | POLLHUP | POLLERR)))
            pump(p, &out, "stdout", buf);
        if (err >= 0 && (pf[1].revents & (POLLIN | POLLHUP | POLLERR)))
            pump(p, &err, "stderr", buf);
        if (!exited) {
            bool gone = pidfd >= 0 ? (pf[2].revents & POLLIN) != 0
                                   : waitpid(p->rt.pid, &status, WNOHANG) == p->rt.pid;
            if (gone) {
                if (pidfd >= 0)
                    while (waitpid(p->rt.pid, &status, 0) < 0 && errno == EINTR) {
                    }
                exited = true;
                pthread_mutex_lock(&p->lock);
                p->rt.pid = 0; /* reaped: nothing to signal any more */
                pthread_mutex_unlock(&p->lock);
                /* drain what the pipes still hold; writers that outlive the program (only
                 * possible unisolated) are not waited for */
                while (out >= 0 && pump(p, &out, "stdout", buf) > 0) {
                }
                while (err >= 0 && pump(p, &err, "stderr", buf) > 0) {
                }
                if (out >= 0)
                    close(out);
                if (err >= 0)
                    close(err);
                out = err = -1;
            }
        }
    }
    if (!exited && p->rt.pid > 0) { /* allocation failure or poll error: make sure */
        do_signal(p, SIGKILL);
        while (waitpid(p->rt.pid, &status, 0) < 0 && errno == EINTR) {
        }
        p->rt.pid = 0;
    }
    if (out >= 0)
        close(out);
    if (err >= 0)
        close(err);
    if (pidfd >= 0)
        close(pidfd);
    free(buf);
    sbxrt_reap(&p->rt); /* pid 0: closes the remaining fds */

    pthread_mutex_lock(&p->lock);
    /* finished before the end event leaves: a client that reads the event and lists at once
     * (List reads the flag without p->lock) must not still see the process */
    atomic_store(&p->finished, true);
    char *end = process_end_event_json(status, p->sent_sig);
    if (end) {
        broadcast(p, end, strlen(end), envd_mono_ms());
        p->end_json = end;
    }
    while (p->subs) {
        sub *s = p->subs;
        p->subs = s->next;
        sub_close(s, CONNECT_OK, NULL);
    }
    pthread_mutex_unlock(&p->lock);
    pthread_mutex_lock(&p->in_lock);
    if (p->stdin_fd >= 0)
        close(p->stdin_fd);
    p->stdin_fd = -1;
    pthread_mutex_unlock(&p->in_lock);
    proc_unref(p->mod, p); /* the worker's reference */
}

/* ------------------------------------------------------------------ RPC helpers */

static const cJSON *jobj(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsObject(v) ? v : NULL;
}

/* Adds "K=V" strings of a {string:string} object to vec (grown with realloc). 0 or -1. */
static int add_env(char ***vec, size_t *n, const cJSON *obj)
{
    const cJSON *kv;
    cJSON_ArrayForEach(kv, obj)
    {
        if (!cJSON_IsString(kv) || !kv->string || !kv->string[0] || strchr(kv->string, '='))
            continue;
        char **nv = realloc(*vec, (*n + 2) * sizeof *nv);
        if (!nv)
            return -1;
        *vec = nv;
        size_t l = strlen(kv->string) + strlen(kv->valuestring) + 2;
        if (!(nv[*n] = malloc(l)))
            return -1;
        snprintf(nv[*n], l, "%s=%s", kv->string, kv->valuestring);
        nv[++*n] = NULL;
    }
    return 0;
}

static void free_vec(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* Resolves the requested cwd into the in-sandbox path to chdir to (out). NULL = ok, else the
 * error text (static or in out). */
static bool resolve_cwd(int rootfd, const char *cwd, char *out, size_t cap)
{
    if (!cwd || !*cwd) {
        snprintf(out, cap, "%s", FS_HOME);
        return true;
    }
    char rel[FS_PATH_MAX];
    int n = fs_rel_path(cwd, strlen(cwd), rel, sizeof rel);
    if (n == -EXDEV &&
        (strcmp(cwd, "/") == 0 || strcmp(cwd, "/tmp") == 0 || strcmp(cwd, "/tmp/") == 0)) {
        snprintf(out, cap, "%s", cwd); /* exist in every sandbox (bubblewrap layout) */
        return true;
    }
    if (n < 0)
        return false;
    int fd = fs_open(rootfd, rel, O_PATH | O_DIRECTORY, 0);
    if (fd < 0)
        return false;
    close(fd);
    return fs_visible_path(rel, out, cap) >= 0;
}

static sub *new_sub(mock_stream *st, const mock_request *req, bool is_start)
{
    sub *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->st = st;
    s->is_start = is_start;
    s->ka_ms = (long long)envd_keepalive_s(req) * 1000;
    long long now = envd_mono_ms();
    s->next_ka = now + s->ka_ms;
    long long t = envd_timeout_ms(req);
    s->deadline = (t && !is_start) ? now + t : 0; /* Start's deadline belongs to the process */
    return s;
}

/* Drops the oldest finished processes beyond PROCESS_RETAIN_FINISHED (m->lock held); the
 * unlinked ones are returned through *out for unref outside the lock. */
static void prune_finished(proc_mod *m, proc **out)
{
    size_t finished = 0;
    for (proc *p = m->procs; p; p = p->next) {
        /* no p->lock here: a broadcast may hold it while a slow client drains */
        if (atomic_load(&p->finished) && ++finished > PROCESS_RETAIN_FINISHED) {
            unlist(m, p);
            p->next = *out;
            *out = p;
            return; /* one per start keeps the list bounded */
        }
    }
}

/* ------------------------------------------------------------------ PTY */

/* Appends s single-quoted for sh to out (grown). 0 or -1. */
static int sh_quote(char **out, size_t *len, size_t *cap, const char *s)
{
    size_t need = *len + 4 * strlen(s) + 4;
    if (need > *cap) {
        size_t nc = need * 2;
        char *nb = realloc(*out, nc);
        if (!nb)
            return -1;
        *out = nb;
        *cap = nc;
    }
    char *o = *out + *len;
    *o++ = ' ';
    *o++ = '\'';
    for (; *s; s++) {
        if (*s == '\'') {
            memcpy(o, "'\\''", 4);
            o += 4;
        } else {
            *o++ = *s;
        }
    }
    *o++ = '\'';
    *o = '\0';
    *len = (size_t)(o - *out);
    return 0;
}

/* "stty cols C rows R 2>/dev/null; exec 'cmd' 'arg'..." for script -c. malloc'ed; NULL OOM. */
char *pty_command(const char *cmd, const cJSON *args, unsigned cols, unsigned rows)
{
    size_t cap = 256, len;
    char *out = malloc(cap);
    if (!out)
        return NULL;
    len = (size_t)snprintf(out, cap, "stty cols %u rows %u 2>/dev/null; exec", cols, rows);
    if (sh_quote(&out, &len, &cap, cmd) != 0)
        goto oom;
    const cJSON *it;
    cJSON_ArrayForEach(it, args)
    {
        if (cJSON_IsString(it) && sh_quote(&out, &len, &cap, it->valuestring) != 0)
            goto oom;
    }
    return out;
oom:
    free(out);
    return NULL;
}

/* Resizes the terminal of a PTY process: finds a descendant whose stdin is a pts of the
 * sandbox's devpts and sets its window size (the kernel then sends SIGWINCH). 0 or -errno. */
static int pty_resize(pid_t root, unsigned cols, unsigned rows)
{
    pid_t queue[64];
    size_t head = 0, tail = 0;
    queue[tail++] = root;
    while (head < tail) {
        pid_t pid = queue[head++];
        char path[96], link[128];
        snprintf(path, sizeof path, "/proc/%d/fd/0", (int)pid);
        ssize_t n = readlink(path, link, sizeof link - 1);
        if (n > 0) {
            link[n] = '\0';
            if (strncmp(link, "/dev/pts/", 9) == 0) {
                /* still running our "stty cols .. rows ..; exec" prefix: a resize now would be
                 * overwritten by the initial size, so report "not yet" (the caller retries) */
                char cl[256];
                snprintf(cl, sizeof cl, "/proc/%d/cmdline", (int)pid);
                int cfd = open(cl, O_RDONLY | O_CLOEXEC);
                ssize_t cn = cfd >= 0 ? read(cfd, cl, sizeof cl - 1) : -1;
                if (cfd >= 0)
                    close(cfd);
                for (ssize_t i = 0; i < cn; i++)
                    if (cl[i] == '\0')
                        cl[i] = ' ';
                if (cn <= 0)
                    return -ENOTTY; /* mid-exec: cannot tell yet */
                cl[cn] = '\0';
                if (strstr(cl, "stty cols "))
                    return -ENOTTY;
                int fd = open(path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
                if (fd < 0)
                    return -errno;
                struct winsize ws = {.ws_row = (unsigned short)rows,
                                     .ws_col = (unsigned short)cols};
                int r = ioctl(fd, TIOCSWINSZ, &ws) < 0 ? -errno : 0;
                close(fd);
                return r;
            }
        }
        snprintf(path, sizeof path, "/proc/%d/task/%d/children", (int)pid, (int)pid);
        FILE *f = fopen(path, "re");
        if (!f)
            continue;
        int c;
        while (tail < sizeof queue / sizeof queue[0] && fscanf(f, "%d", &c) == 1)
            queue[tail++] = (pid_t)c;
        fclose(f);
    }
    return -ENOTTY;
}

/* ------------------------------------------------------------------ Start */

static mock_response *p_start(mock_request *req, proc_mod *m, int rootfd, const cJSON *in)
{
    const cJSON *cfg = jobj(in, "process");
    const cJSON *cmdj = cfg ? cJSON_GetObjectItemCaseSensitive(cfg, "cmd") : NULL;
    if (!cJSON_IsString(cmdj) || !cmdj->valuestring[0])
        return envd_stream_error(CONNECT_INVALID_ARGUMENT, "process.cmd is required");
    const cJSON *ptyj = jobj(in, "pty");
    unsigned cols = 80, rows = 24;
    if (ptyj) {
        const cJSON *size = jobj(ptyj, "size");
        const cJSON *cj = size ? cJSON_GetObjectItemCaseSensitive(size, "cols") : NULL;
        const cJSON *rj = size ? cJSON_GetObjectItemCaseSensitive(size, "rows") : NULL;
        if (cJSON_IsNumber(cj) && cj->valuedouble >= 1 && cj->valuedouble <= 10000)
            cols = (unsigned)cj->valuedouble;
        if (cJSON_IsNumber(rj) && rj->valuedouble >= 1 && rj->valuedouble <= 10000)
            rows = (unsigned)rj->valuedouble;
    }
    const cJSON *cwdj = cJSON_GetObjectItemCaseSensitive(cfg, "cwd");
    const char *cwd = cJSON_IsString(cwdj) ? cwdj->valuestring : NULL;
    char vcwd[FS_PATH_MAX + 16];
    if (!resolve_cwd(rootfd, cwd, vcwd, sizeof vcwd))
        return envd_stream_error(CONNECT_INVALID_ARGUMENT, "cwd '%s' does not exist", cwd);
    const cJSON *stdinj = cJSON_GetObjectItemCaseSensitive(in, "stdin");
    bool want_stdin = !cJSON_IsBool(stdinj) || cJSON_IsTrue(stdinj); /* absent = true */
    if (ptyj)
        want_stdin = true; /* the terminal's input */

    /* argv: a tiny sh trampoline gives the program stdin (sandboxrt's fd 4 pipe, or
     * /dev/null) and closes the kernel-protocol fds 3 and 4, then execs cmd via PATH. */
    const cJSON *args = cJSON_GetObjectItemCaseSensitive(cfg, "args");
    size_t nargs = cJSON_IsArray(args) ? (size_t)cJSON_GetArraySize(args) : 0;
    const char **argv = calloc(nargs + 8, sizeof *argv);
    char **env = NULL;
    size_t nenv = 0;
    char *pty_cmd = NULL;
    if (!argv)
        return NULL;
    size_t a = 0;
    argv[a++] = "/bin/sh";
    argv[a++] = "-c";
    argv[a++] = want_stdin ? "exec \"$0\" \"$@\" <&4 3>&- 4>&-"
                           : "exec \"$0\" \"$@\" </dev/null 3>&- 4>&-";
    if (ptyj) {
        /* a real terminal inside the sandbox: script(1) runs the command on a fresh pty of
         * the sandbox's own devpts, relaying it to/from our pipes; -e keeps the exit code */
        pty_cmd = pty_command(cmdj->valuestring, args, cols, rows);
        if (!pty_cmd) {
            free(argv);
            return NULL;
        }
        argv[a++] = "/usr/bin/script";
        argv[a++] = "-qfec";
        argv[a++] = pty_cmd;
        argv[a++] = "/dev/null";
    } else {
        argv[a++] = cmdj->valuestring;
        const cJSON *it;
        cJSON_ArrayForEach(it, args)
        {
            if (cJSON_IsString(it))
                argv[a++] = it->valuestring;
        }
    }
    argv[a] = NULL;
    env = calloc(1, sizeof *env);
    if (!env || add_env(&env, &nenv, req->sandbox->env_vars) != 0 ||
        add_env(&env, &nenv, jobj(cfg, "envs")) != 0) {
        free(argv);
        free(pty_cmd);
        free_vec(env, nenv);
        return NULL;
    }
    proc *p = calloc(1, sizeof *p);
    if (!p) {
        free(argv);
        free(pty_cmd);
        free_vec(env, nenv);
        return NULL;
    }
    pthread_mutex_init(&p->lock, NULL);
    pthread_mutex_init(&p->in_lock, NULL);
    p->stdin_fd = -1;
    p->mod = m;
    p->refs = 1; /* the handler's, until the list and worker take theirs */
    snprintf(p->sandbox_id, sizeof p->sandbox_id, "%s", req->sandbox_id);
    p->config = cJSON_Duplicate(cfg, 1);
    const cJSON *tagj = cJSON_GetObjectItemCaseSensitive(in, "tag");
    if (cJSON_IsString(tagj))
        p->tag = strdup(tagj->valuestring);
    sbxrt_spec spec = {.dir = req->sandbox->dir,
                       .cwd = vcwd,
                       .argv = argv,
                       .env = (const char *const *)env,
                       .allow_net = store_sandbox_allow_internet(req->sandbox) == 1};
    char err[512];
    int src = sbxrt_spawn(&spec, &p->rt, err, sizeof err);
    free(argv);
    free(pty_cmd);
    free_vec(env, nenv);
    p->pty = ptyj != NULL;
    if (src != 0) {
        p->refs = 0;
        proc_free(p);
        return envd_stream_error(CONNECT_INTERNAL, "failed to start process: %s", err);
    }
    if (p->rt.ev_fd >= 0) { /* the kernel event pipe is not used here */
        close(p->rt.ev_fd);
        p->rt.ev_fd = -1;
    }
    if (want_stdin) {
        p->stdin_fd = p->rt.req_fd;
        fcntl(p->stdin_fd, F_SETFL, O_NONBLOCK);
    } else if (p->rt.req_fd >= 0) {
        close(p->rt.req_fd);
    }
    p->rt.req_fd = -1;

    mock_stream *st = NULL;
    mock_response *r = mock_resp_stream(200, "application/connect+json", &st);
    sub *s = r ? new_sub(st, req, true) : NULL;
    if (!s) {
        if (r) {
            mock_stream_close(st);
            mock_resp_free(r);
        }
        p->refs = 0;
        proc_free(p);
        return NULL;
    }
    pthread_mutex_lock(&m->lock);
    p->pid = m->next_pid++;
    proc *pruned = NULL;
    prune_finished(m, &pruned);
    pthread_mutex_unlock(&m->lock);
    char start[64];
    int sl = snprintf(start, sizeof start, "{\"event\":{\"start\":{\"pid\":%u}}}", p->pid);
    envd_stream_send_raw(st, start, (size_t)sl);
    p->subs = s;
    long long tmo = envd_timeout_ms(req);
    p->deadline = tmo ? envd_mono_ms() + tmo : 0;
    pthread_mutex_lock(&m->lock);
    p->refs += 2; /* list + worker */
    pthread_mutex_unlock(&m->lock);
    envd_worker *w = envd_worker_start(req->server, req->sandbox_id, proc_worker, p);
    if (!w) {
        p->subs = NULL;
        sub_close(s, CONNECT_INTERNAL, "cannot start the process reader");
        p->refs = 0;
        proc_free(p); /* kills the process */
        while (pruned) {
            proc *n = pruned->next;
            proc_unref(m, pruned);
            pruned = n;
        }
        return r;
    }
    pthread_mutex_lock(&p->lock);
    p->worker = w;
    pthread_mutex_unlock(&p->lock);
    pthread_mutex_lock(&m->lock);
    p->next = m->procs;
    m->procs = p;
    p->listed = true;
    pthread_mutex_unlock(&m->lock);
    proc_unref(m, p); /* the handler's */
    while (pruned) {
        proc *n = pruned->next;
        proc_unref(m, pruned);
        pruned = n;
    }
    return r;
}

/* ------------------------------------------------------------------ Connect */

static mock_response *p_connect(mock_request *req, proc_mod *m, const cJSON *in)
{
    char desc[160];
    proc *p = proc_find(m, req->sandbox_id, jobj(in, "process"), desc, sizeof desc);
    if (!p)
        return envd_stream_error(CONNECT_NOT_FOUND, "%s", desc);
    char start[64];
    int sl = snprintf(start, sizeof start, "{\"event\":{\"start\":{\"pid\":%u}}}", p->pid);
    mock_response *r = NULL;
    pthread_mutex_lock(&p->lock);
    if (p->finished || !p->worker) {
        /* replay: start, the retained end, end-stream */
        size_t el = p->end_json ? strlen(p->end_json) : 0;
        size_t total = 5 + (size_t)sl + (el ? 5 + el : 0) + 7;
        unsigned char *buf = malloc(total);
        if (buf) {
            size_t o = 0;
            connect_envelope_header(buf, 0, (uint32_t)sl);
            memcpy(buf + 5, start, (size_t)sl);
            o = 5 + (size_t)sl;
            if (el) {
                connect_envelope_header(buf + o, 0, (uint32_t)el);
                memcpy(buf + o + 5, p->end_json, el);
                o += 5 + el;
            }
            connect_envelope_header(buf + o, CONNECT_FLAG_END_STREAM, 2);
            memcpy(buf + o + 5, "{}", 2);
            o += 7;
            r = mock_resp_take(200, "application/connect+json", buf, o);
        }
    } else {
        mock_stream *st = NULL;
        r = mock_resp_stream(200, "application/connect+json", &st);
        sub *s = r ? new_sub(st, req, false) : NULL;
        if (s) {
            envd_stream_send_raw(st, start, (size_t)sl);
            s->next = p->subs;
            p->subs = s;
            mock_stream_on_cancel(st, envd_worker_poke_cb, p->worker);
            envd_worker_poke(p->worker); /* recompute its timers */
        } else if (r) {
            mock_stream_close(st);
            mock_resp_free(r);
            r = NULL;
        }
    }
    pthread_mutex_unlock(&p->lock);
    proc_unref(m, p);
    return r;
}

/* ------------------------------------------------------------------ unary RPCs */

static mock_response *p_list(mock_request *req, proc_mod *m)
{
    cJSON *out = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(out, "processes");
    if (!out || !arr) {
        cJSON_Delete(out);
        return NULL;
    }
    pthread_mutex_lock(&m->lock);
    for (proc *p = m->procs; p; p = p->next) {
        if (strcmp(p->sandbox_id, req->sandbox_id) != 0)
            continue;
        if (atomic_load(&p->finished))
            continue;
        cJSON *e = cJSON_CreateObject();
        if (!e)
            break;
        cJSON_AddItemToObject(e, "config", cJSON_Duplicate(p->config, 1));
        cJSON_AddNumberToObject(e, "pid", p->pid);
        if (p->tag)
            cJSON_AddStringToObject(e, "tag", p->tag);
        cJSON_AddItemToArray(arr, e);
    }
    pthread_mutex_unlock(&m->lock);
    return envd_rpc_ok(out);
}

/* A running process for the selector, or NULL with *err the not_found response. */
static proc *running(proc_mod *m, mock_request *req, const cJSON *in, mock_response **err)
{
    char desc[160];
    proc *p = proc_find(m, req->sandbox_id, jobj(in, "process"), desc, sizeof desc);
    if (p) {
        pthread_mutex_lock(&p->lock);
        bool fin = p->finished;
        pthread_mutex_unlock(&p->lock);
        if (!fin)
            return p;
        proc_unref(m, p);
    }
    *err = envd_rpc_error(CONNECT_NOT_FOUND, "%s", desc);
    return NULL;
}

static mock_response *p_signal(mock_request *req, proc_mod *m, const cJSON *in)
{
    const cJSON *sj = cJSON_GetObjectItemCaseSensitive(in, "signal");
    int sig = 0;
    if (cJSON_IsString(sj))
        sig = strcmp(sj->valuestring, "SIGNAL_SIGKILL") == 0   ? SIGKILL
              : strcmp(sj->valuestring, "SIGNAL_SIGTERM") == 0 ? SIGTERM
                                                               : 0;
    else if (cJSON_IsNumber(sj))
        sig = (sj->valueint == 9 || sj->valueint == 15) ? sj->valueint : 0;
    mock_response *err = NULL;
    proc *p = running(m, req, in, &err);
    if (!p)
        return err;
    if (!sig) {
        proc_unref(m, p);
        return envd_rpc_error(CONNECT_UNIMPLEMENTED, "signal not implemented");
    }
    do_signal(p, sig);
    proc_unref(m, p);
    return envd_rpc_ok(NULL);
}

static mock_response *p_send_input(mock_request *req, proc_mod *m, const cJSON *in)
{
    const cJSON *input = jobj(in, "input");
    const cJSON *sj = input ? cJSON_GetObjectItemCaseSensitive(input, "stdin") : NULL;
    if (!sj && input)
        sj = cJSON_GetObjectItemCaseSensitive(input, "pty"); /* a PTY's input is our stdin pipe */
    mock_response *err = NULL;
    proc *p = running(m, req, in, &err);
    if (!p)
        return err;
    if (!cJSON_IsString(sj)) {
        proc_unref(m, p);
        return envd_rpc_error(CONNECT_INVALID_ARGUMENT, "input.stdin or input.pty is required");
    }
    size_t len = 0;
    unsigned char *data = envd_unb64(sj->valuestring, &len);
    if (!data) {
        proc_unref(m, p);
        return envd_rpc_error(CONNECT_INVALID_ARGUMENT, "input.stdin is not valid base64");
    }
    mock_response *r = NULL;
    pthread_mutex_lock(&p->in_lock);
    if (p->stdin_fd < 0) {
        r = envd_rpc_error(CONNECT_FAILED_PRECONDITION,
                           "stdin of process %u is not open (start it with stdin, or it was "
                           "closed)",
                           p->pid);
    } else {
        size_t off = 0;
        long long deadline = envd_mono_ms() + STDIN_WRITE_TIMEOUT_MS;
        while (off < len && !r) {
            ssize_t n = write(p->stdin_fd, data + off, len - off);
            if (n > 0) {
                off += (size_t)n;
            } else if (n < 0 && errno == EAGAIN) {
                long long left = deadline - envd_mono_ms();
                struct pollfd pf = {p->stdin_fd, POLLOUT, 0};
                if (left <= 0 || poll(&pf, 1, (int)left) == 0)
                    r = envd_rpc_error(CONNECT_DEADLINE_EXCEEDED,
                                       "the process does not read its stdin");
            } else if (n < 0 && errno != EINTR) {
                r = envd_rpc_error(CONNECT_FAILED_PRECONDITION, "stdin of process %u: %s", p->pid,
                                   strerror(errno));
            }
        }
    }
    pthread_mutex_unlock(&p->in_lock);
    free(data);
    proc_unref(m, p);
    return r ? r : envd_rpc_ok(NULL);
}

static mock_response *p_close_stdin(mock_request *req, proc_mod *m, const cJSON *in)
{
    mock_response *err = NULL;
    proc *p = running(m, req, in, &err);
    if (!p)
        return err;
    pthread_mutex_lock(&p->in_lock);
    if (p->stdin_fd >= 0)
        close(p->stdin_fd);
    p->stdin_fd = -1;
    pthread_mutex_unlock(&p->in_lock);
    proc_unref(m, p);
    return envd_rpc_ok(NULL);
}

static mock_response *p_update(mock_request *req, proc_mod *m, const cJSON *in)
{
    mock_response *err = NULL;
    proc *p = running(m, req, in, &err);
    if (!p)
        return err;
    const cJSON *size = jobj(jobj(in, "pty"), "size");
    const cJSON *cj = size ? cJSON_GetObjectItemCaseSensitive(size, "cols") : NULL;
    const cJSON *rj = size ? cJSON_GetObjectItemCaseSensitive(size, "rows") : NULL;
    mock_response *r;
    if (!p->pty) {
        r = envd_rpc_error(CONNECT_FAILED_PRECONDITION, "process %u has no PTY", p->pid);
    } else if (!cJSON_IsNumber(cj) || !cJSON_IsNumber(rj) || cj->valuedouble < 1 ||
               rj->valuedouble < 1 || cj->valuedouble > 10000 || rj->valuedouble > 10000) {
        r = envd_rpc_error(CONNECT_INVALID_ARGUMENT, "pty.size.cols and rows are required");
    } else {
        pthread_mutex_lock(&p->lock);
        pid_t root = p->rt.pid;
        pthread_mutex_unlock(&p->lock);
        int rc = -ESRCH;
        /* right after Start the terminal may not exist yet (script(1) is still opening it):
         * give it up to a second */
        for (int i = 0; root > 0 && i < 100; i++) {
            rc = pty_resize(root, (unsigned)cj->valuedouble, (unsigned)rj->valuedouble);
            if (rc != -ENOTTY)
                break;
            usleep(10000);
        }
        r = rc == 0 ? envd_rpc_ok(NULL)
                    : envd_rpc_error(CONNECT_FAILED_PRECONDITION,
                                     "cannot resize the terminal of process %u: %s", p->pid,
                                     strerror(-rc));
    }
    proc_unref(m, p);
    return r;
}

/* ------------------------------------------------------------------ dispatch and module */

static mock_response *h_process(mock_request *req)
{
    proc_mod *m = mock_server_get_data(req->server, "envd_process");
    const char *method = mock_req_param(req, "*");
    bool streaming = method && (strcmp(method, "Start") == 0 || strcmp(method, "Connect") == 0);
    if (!envd_token_ok(req))
        return envd_http_error(401, "%s", ENVD_UNAUTHORIZED_MSG);
    char bad_user[128];
    if (!envd_user_ok(req, false, bad_user, sizeof bad_user))
        return streaming
                   ? envd_stream_error(CONNECT_UNAUTHENTICATED, "invalid username: '%s'", bad_user)
                   : envd_rpc_error(CONNECT_UNAUTHENTICATED, "invalid username: '%s'", bad_user);
    if (method && strcmp(method, "StreamInput") == 0)
        return envd_rpc_error(CONNECT_UNIMPLEMENTED,
                              "process.Process/StreamInput (client streaming) is not supported");
    const char *why = NULL;
    cJSON *in = envd_parse_request(req, streaming, &why);
    if (!in)
        return streaming ? envd_stream_error(CONNECT_INVALID_ARGUMENT, "%s", why)
                         : envd_rpc_error(CONNECT_INVALID_ARGUMENT, "%s", why);
    mock_response *r;
    if (!method) {
        r = envd_rpc_error(CONNECT_UNIMPLEMENTED, "no method");
    } else if (strcmp(method, "Start") == 0) {
        int rootfd = envd_root_fd(req);
        if (rootfd < 0) {
            r = envd_stream_error(CONNECT_UNAVAILABLE, "sandbox directory unavailable");
        } else {
            r = p_start(req, m, rootfd, in);
            close(rootfd);
        }
    } else if (strcmp(method, "Connect") == 0) {
        r = p_connect(req, m, in);
    } else if (strcmp(method, "List") == 0) {
        r = p_list(req, m);
    } else if (strcmp(method, "SendSignal") == 0) {
        r = p_signal(req, m, in);
    } else if (strcmp(method, "SendInput") == 0) {
        r = p_send_input(req, m, in);
    } else if (strcmp(method, "CloseStdin") == 0) {
        r = p_close_stdin(req, m, in);
    } else if (strcmp(method, "Update") == 0) {
        r = p_update(req, m, in);
    } else {
        r = envd_rpc_error(CONNECT_UNIMPLEMENTED, "process.Process/%s is not implemented", method);
    }
    cJSON_Delete(in);
    return r;
}

/* Sandbox destroyed: kill and join its processes' readers, then forget the processes. */
static void process_on_destroy(mock_sandbox *sbx, void *ud)
{
    proc_mod *m = ud;
    envd_workers_stop(m->srv, sbx->id); /* each reader kills its process and sends `end` */
    proc *dead = NULL;
    pthread_mutex_lock(&m->lock);
    for (proc **pp = &m->procs; *pp;) {
        proc *p = *pp;
        if (strcmp(p->sandbox_id, sbx->id) == 0) {
            *pp = p->next;
            p->listed = false;
            p->next = dead;
            dead = p;
        } else {
            pp = &p->next;
        }
    }
    pthread_mutex_unlock(&m->lock);
    while (dead) {
        proc *n = dead->next;
        proc_unref(m, dead);
        dead = n;
    }
}

/* Pause freezes the sandbox's processes (SIGSTOP to each sandbox process group), resume
 * thaws them (SIGCONT), like a paused E2B VM. Deadlines keep running meanwhile. */
static void signal_sandbox(proc_mod *m, const char *sandbox_id, int sig)
{
    proc *list[256];
    size_t n = 0;
    pthread_mutex_lock(&m->lock);
    for (proc *p = m->procs; p && n < sizeof list / sizeof list[0]; p = p->next) {
        if (strcmp(p->sandbox_id, sandbox_id) == 0) {
            p->refs++;
            list[n++] = p;
        }
    }
    pthread_mutex_unlock(&m->lock);
    for (size_t i = 0; i < n; i++) {
        proc *p = list[i];
        pthread_mutex_lock(&p->lock);
        if (!p->finished && p->rt.pid > 0) {
            sbxrt_signal(&p->rt, sig);
            if (sig == SIGCONT && p->rt.pgid != p->rt.pid)
                kill(p->rt.pid, SIGCONT);
        }
        pthread_mutex_unlock(&p->lock);
        proc_unref(m, p);
    }
}

static void process_on_pause(mock_sandbox *sbx, void *ud)
{
    signal_sandbox(ud, sbx->id, SIGSTOP);
}

static void process_on_resume(mock_sandbox *sbx, void *ud)
{
    signal_sandbox(ud, sbx->id, SIGCONT);
}

static void proc_mod_free(void *ud)
{
    proc_mod *m = ud;
    while (m->procs) { /* workers were joined by the stop hook */
        proc *n = m->procs->next;
        proc_free(m->procs);
        m->procs = n;
    }
    pthread_mutex_destroy(&m->lock);
    free(m);
}

static int process_init(mock_server *s)
{
    if (envd_workers_attach(s) != 0)
        return -1;
    proc_mod *m = calloc(1, sizeof *m);
    if (!m)
        return -1;
    pthread_mutex_init(&m->lock, NULL);
    m->next_pid = PROCESS_FIRST_PID;
    m->srv = s;
    if (mock_server_set_data(s, "envd_process", m, proc_mod_free) != 0) {
        proc_mod_free(m);
        return -1;
    }
    if (store_on_destroy(mock_server_store(s), process_on_destroy, m) != 0 ||
        store_on_pause(mock_server_store(s), process_on_pause, m) != 0 ||
        store_on_resume(mock_server_store(s), process_on_resume, m) != 0 ||
        /* after ours: whatever is left in the sandbox's cgroup (kernels, daemons) dies */
        store_on_destroy(mock_server_store(s), sbxrt_destroy_hook, NULL) != 0)
        return -1;
    return mock_route_add(s, MOCK_PORT_ENVD, "POST", "/process.Process/", h_process,
                          MOCK_ROUTE_PREFIX);
}

static void process_stop(mock_server *s)
{
    envd_workers_stop(s, NULL); /* kill every process; readers end their streams */
}

MOCK_MODULE(process, process_init, process_stop)
