/* local.c - run e2b-mock as a child process (see e2b/local.h). */
#include "e2b/local.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define URL_PREFIX "E2B_MOCK_URL="
#define PLACEHOLDER_KEY "e2b_0000000000000000000000000000000000000000"
#define STOP_GRACE_MS 5000

struct e2b_local {
    pid_t pid;
    int out_fd;       /* child's stdout, drained by the drain thread */
    int stop_pipe[2]; /* written by e2b_local_stop to end the drain thread */
    pthread_t drain;
    bool drain_started;
    char *url;
};

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool executable(const char *p)
{
    struct stat st;
    return p && stat(p, &st) == 0 && S_ISREG(st.st_mode) && access(p, X_OK) == 0;
}

/* Resolves the binary: explicit path, $E2B_MOCK_BIN, next to /proc/self/exe, then PATH.
 * Returns a malloc'd path or NULL. */
static char *find_mock(const char *explicit_path)
{
    if (explicit_path)
        return executable(explicit_path) ? strdup(explicit_path) : NULL;
    const char *env = getenv("E2B_MOCK_BIN");
    if (env && *env)
        return executable(env) ? strdup(env) : NULL;
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0) {
        self[n] = '\0';
        char *slash = strrchr(self, '/');
        if (slash) {
            char cand[PATH_MAX + 16];
            snprintf(cand, sizeof cand, "%.*s/e2b-mock", (int)(slash - self), self);
            if (executable(cand))
                return strdup(cand);
        }
    }
    const char *path = getenv("PATH");
    if (!path)
        return NULL;
    char *dup = strdup(path), *save = NULL;
    if (!dup)
        return NULL;
    char *found = NULL;
    for (char *dir = strtok_r(dup, ":", &save); dir && !found; dir = strtok_r(NULL, ":", &save)) {
        char cand[PATH_MAX + 16];
        snprintf(cand, sizeof cand, "%s/e2b-mock", *dir ? dir : ".");
        if (executable(cand))
            found = strdup(cand);
    }
    free(dup);
    return found;
}

/* Discards the child's further stdout so it never blocks on a full pipe. Ends at EOF or
 * when e2b_local_stop writes to stop_pipe (a grandchild may hold stdout open). */
static void *drain_main(void *arg)
{
    e2b_local *l = arg;
    char buf[4096];
    struct pollfd p[2] = {{l->out_fd, POLLIN, 0}, {l->stop_pipe[0], POLLIN, 0}};
    for (;;) {
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (p[1].revents)
            break;
        if (p[0].revents) {
            ssize_t n = read(l->out_fd, buf, sizeof buf);
            if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN))
                break;
        }
    }
    return NULL;
}

/* Waits for pid up to ms; returns true and sets *status when it exited. */
static bool wait_child(pid_t pid, long ms, int *status)
{
    long long end = now_ms() + ms;
    for (;;) {
        pid_t r = waitpid(pid, status, WNOHANG);
        if (r == pid || (r < 0 && errno == ECHILD))
            return true;
        if (now_ms() >= end)
            return false;
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
}

static void local_free(e2b_local *l)
{
    if (l->drain_started) {
        ssize_t w = write(l->stop_pipe[1], "x", 1);
        (void)w;
        pthread_join(l->drain, NULL);
    }
    if (l->out_fd >= 0)
        close(l->out_fd);
    if (l->stop_pipe[0] >= 0)
        close(l->stop_pipe[0]);
    if (l->stop_pipe[1] >= 0)
        close(l->stop_pipe[1]);
    free(l->url);
    free(l);
}

/* Kills and reaps the child; returns its status like e2b_local_stop. */
static int stop_child(pid_t pid)
{
    int status = 0;
    if (pid <= 0)
        return 0;
    kill(pid, SIGTERM);
    if (!wait_child(pid, STOP_GRACE_MS, &status)) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        return -1;
    }
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return -1;
}

e2b_code e2b_local_start(const e2b_local_opts *opts, e2b_local **out, e2b_error *err)
{
    *out = NULL;
    e2b_local_opts defaults = {0};
    if (!opts)
        opts = &defaults;
    long timeout = opts->start_timeout_ms > 0 ? opts->start_timeout_ms : 10000;
    char *bin = find_mock(opts->mock_path);
    if (!bin)
        return e2b_error_set(err, E2B_ERR_INVALID_ARGUMENT, 0,
                             "e2b-mock not found (tried %s); build it or set E2B_MOCK_BIN",
                             opts->mock_path          ? opts->mock_path
                             : getenv("E2B_MOCK_BIN") ? "$E2B_MOCK_BIN"
                                                      : "next to this program and on PATH");

    size_t nextra = 0;
    if (opts->extra_args)
        while (opts->extra_args[nextra])
            nextra++;
    char **argv = calloc(nextra + 4, sizeof *argv);
    e2b_local *l = calloc(1, sizeof *l);
    if (!argv || !l) {
        free(argv);
        free(l);
        free(bin);
        return e2b_error_set(err, E2B_ERR_NO_MEMORY, 0, "out of memory");
    }
    l->out_fd = l->stop_pipe[0] = l->stop_pipe[1] = -1;
    argv[0] = bin;
    argv[1] = "--port";
    argv[2] = "0";
    for (size_t i = 0; i < nextra; i++)
        argv[3 + i] = (char *)opts->extra_args[i];

    int out_pipe[2];
    if (pipe2(out_pipe, O_CLOEXEC) < 0 || pipe2(l->stop_pipe, O_CLOEXEC) < 0) {
        e2b_code rc = e2b_error_set(err, E2B_ERR_IO, 0, "pipe: %s", strerror(errno));
        free(argv);
        free(bin);
        local_free(l);
        return rc;
    }
    l->out_fd = out_pipe[0];
    int devnull = opts->quiet ? open("/dev/null", O_WRONLY | O_CLOEXEC) : -1;
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        /* Child: only async-signal-safe calls until exec. Die with the parent. */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            _exit(127);
        dup2(out_pipe[1], STDOUT_FILENO);
        if (devnull >= 0)
            dup2(devnull, STDERR_FILENO);
        execv(argv[0], argv);
        _exit(127);
    }
    int fork_errno = errno;
    close(out_pipe[1]);
    if (devnull >= 0)
        close(devnull);
    if (pid < 0) {
        e2b_code rc = e2b_error_set(err, E2B_ERR_IO, 0, "fork: %s", strerror(fork_errno));
        free(argv);
        free(bin);
        local_free(l);
        return rc;
    }
    l->pid = pid;

    /* Read the first line within the timeout. */
    char line[512];
    size_t len = 0;
    long long end = now_ms() + timeout;
    e2b_code rc = E2B_OK;
    for (;;) {
        long long left = end - now_ms();
        if (left <= 0) {
            rc = e2b_error_set(err, E2B_ERR_REQUEST_TIMEOUT, 0,
                               "%s printed no URL line within %ld ms", bin, timeout);
            break;
        }
        struct pollfd p = {l->out_fd, POLLIN, 0};
        int pr = poll(&p, 1, (int)left);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr <= 0)
            continue;
        ssize_t n = read(l->out_fd, line + len, 1); /* byte-wise: keep the rest for drain */
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            int status = 0;
            wait_child(pid, 1000, &status);
            rc = e2b_error_set(err, E2B_ERR_IO, 0, "%s exited before printing its URL%s", bin,
                               WIFEXITED(status) && WEXITSTATUS(status) == 127 ? " (exec failed)"
                                                                               : "");
            break;
        }
        if (line[len] == '\n' || len + 1 >= sizeof line - 1) {
            line[len] = '\0';
            break;
        }
        len++;
    }
    if (rc == E2B_OK) {
        if (len && line[len - 1] == '\r')
            line[--len] = '\0';
        if (strncmp(line, URL_PREFIX, strlen(URL_PREFIX)) != 0 ||
            strncmp(line + strlen(URL_PREFIX), "http", 4) != 0)
            rc = e2b_error_set(err, E2B_ERR_PROTOCOL, 0,
                               "%s: first line was \"%.200s\", expected %s<url>", bin, line,
                               URL_PREFIX);
        else if (!(l->url = strdup(line + strlen(URL_PREFIX))))
            rc = e2b_error_set(err, E2B_ERR_NO_MEMORY, 0, "out of memory");
    }
    if (rc == E2B_OK) {
        if (pthread_create(&l->drain, NULL, drain_main, l) != 0)
            rc = e2b_error_set(err, E2B_ERR_IO, 0, "cannot start the stdout drain thread");
        else
            l->drain_started = true;
    }
    free(argv);
    free(bin);
    if (rc != E2B_OK) {
        stop_child(l->pid);
        local_free(l);
        return rc;
    }
    *out = l;
    return E2B_OK;
}

const char *e2b_local_url(const e2b_local *l)
{
    return l->url;
}

void e2b_local_config(const e2b_local *l, e2b_config *cfg)
{
    cfg->api_url = l->url;
    cfg->sandbox_url = l->url;
    cfg->api_key = PLACEHOLDER_KEY;
    cfg->debug = false;
}

int e2b_local_stop(e2b_local *l)
{
    if (!l)
        return 0;
    int rc = stop_child(l->pid);
    local_free(l);
    return rc;
}
