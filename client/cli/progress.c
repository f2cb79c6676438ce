/* progress.c - the "still working" line e2bc draws on stderr while it waits.
 *
 * One helper thread (started by the first e2bc_progress_begin of a command that has the
 * indicator enabled, joined by e2bc_progress_shutdown) sleeps on a condition variable
 * (CLOCK_MONOTONIC) and draws "e2bc: <label> 1.4s" after PROGRESS_DELAY_MS of silence,
 * then redraws it PROGRESS_TICK_MS apart. Everything that writes to the terminal while a
 * wait is in progress goes through the same mutex (e2bc_progress_write / _hold), which
 * erases the line ("\r" + ESC[K) first, so the indicator never interleaves with output.
 * The line is drawn with write(2) on fd 2 (stderr is unbuffered), short enough for the
 * terminal's width so "\r" always returns to its start. */
#include "e2bc.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define PROGRESS_DELAY_MS 300
#define PROGRESS_TICK_MS 200
#define ERASE "\r\033[K"

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    bool enabled; /* stderr is a terminal and nobody turned it off */
    bool running; /* the helper thread exists */
    bool stop;
    bool active; /* a wait is in progress */
    bool drawn;  /* the line is on the screen */
    unsigned spin;
    char label[80];
    struct timespec since; /* start of the current wait */
    struct timespec quiet; /* last output: the line reappears PROGRESS_DELAY_MS after it */
} P = {.mu = PTHREAD_MUTEX_INITIALIZER};

static struct timespec now_mono(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t;
}

static long long ms_between(struct timespec a, struct timespec b)
{
    return (long long)(b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
}

static struct timespec add_ms(struct timespec t, long ms)
{
    t.tv_sec += ms / 1000;
    t.tv_nsec += (ms % 1000) * 1000000L;
    if (t.tv_nsec >= 1000000000L) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000L;
    }
    return t;
}

static void write_all(const char *s, size_t n)
{
    while (n > 0) {
        ssize_t w = write(STDERR_FILENO, s, n);
        if (w <= 0)
            return; /* a closed terminal: nothing useful to do */
        s += w;
        n -= (size_t)w;
    }
}

/* Under P.mu. */
static void erase_locked(void)
{
    if (P.drawn) {
        write_all(ERASE, sizeof ERASE - 1);
        P.drawn = false;
    }
}

/* Under P.mu. */
static void draw_locked(struct timespec now)
{
    static const char spin[] = "|/-\\";
    long long ms = ms_between(P.since, now);
    char line[160];
    int n = snprintf(line, sizeof line, ERASE "%c e2bc: %s %lld.%llds", spin[P.spin++ % 4], P.label,
                     ms / 1000, ms % 1000 / 100);
    if (n < 0)
        return;
    size_t len = (size_t)n < sizeof line ? (size_t)n : sizeof line - 1;
    struct winsize ws;
    size_t prefix = sizeof ERASE - 1;
    if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 1 &&
        len - prefix > (size_t)ws.ws_col - 1)
        len = prefix + (size_t)ws.ws_col - 1; /* never wrap: "\r" must reach the start */
    write_all(line, len);
    P.drawn = true;
}

static void *progress_thread(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&P.mu);
    while (!P.stop) {
        if (!P.active) {
            pthread_cond_wait(&P.cv, &P.mu);
            continue;
        }
        struct timespec now = now_mono();
        struct timespec show = add_ms(ms_between(P.since, P.quiet) > 0 ? P.quiet : P.since,
                                      PROGRESS_DELAY_MS);
        if (ms_between(now, show) > 0) {
            pthread_cond_timedwait(&P.cv, &P.mu, &show);
            continue;
        }
        draw_locked(now);
        struct timespec next = add_ms(now, PROGRESS_TICK_MS);
        pthread_cond_timedwait(&P.cv, &P.mu, &next);
    }
    erase_locked();
    pthread_mutex_unlock(&P.mu);
    return NULL;
}

void e2bc_progress_setup(void)
{
    const char *off = getenv("E2BC_NO_PROGRESS");
    P.enabled = isatty(STDERR_FILENO) && !(off && *off && strcmp(off, "0") != 0);
}

void e2bc_progress_disable(void)
{
    pthread_mutex_lock(&P.mu);
    erase_locked();
    P.enabled = false;
    P.active = false;
    pthread_mutex_unlock(&P.mu);
}

void e2bc_progress_begin(const char *label)
{
    pthread_mutex_lock(&P.mu);
    if (!P.enabled) {
        pthread_mutex_unlock(&P.mu);
        return;
    }
    if (!P.running) {
        pthread_condattr_t ca;
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&P.cv, &ca);
        pthread_condattr_destroy(&ca);
        P.stop = false;
        if (pthread_create(&P.thread, NULL, progress_thread, NULL) != 0) {
            pthread_cond_destroy(&P.cv);
            P.enabled = false; /* no indicator rather than no command */
            pthread_mutex_unlock(&P.mu);
            return;
        }
        P.running = true;
    }
    snprintf(P.label, sizeof P.label, "%s", label);
    P.since = P.quiet = now_mono();
    P.active = true;
    pthread_cond_signal(&P.cv);
    pthread_mutex_unlock(&P.mu);
}

void e2bc_progress_end(void)
{
    pthread_mutex_lock(&P.mu);
    erase_locked();
    if (P.active) {
        P.active = false;
        if (P.running)
            pthread_cond_signal(&P.cv);
    }
    pthread_mutex_unlock(&P.mu);
}

void e2bc_progress_hold(void)
{
    pthread_mutex_lock(&P.mu);
    erase_locked();
}

void e2bc_progress_release(void)
{
    P.quiet = now_mono();
    pthread_mutex_unlock(&P.mu);
}

void e2bc_progress_write(FILE *f, const void *data, size_t len)
{
    e2bc_progress_hold();
    fwrite(data, 1, len, f);
    fflush(f);
    e2bc_progress_release();
}

void e2bc_progress_shutdown(void)
{
    pthread_mutex_lock(&P.mu);
    if (!P.running) {
        erase_locked();
        pthread_mutex_unlock(&P.mu);
        return;
    }
    P.stop = true;
    P.active = false;
    pthread_cond_signal(&P.cv);
    pthread_mutex_unlock(&P.mu);
    pthread_join(P.thread, NULL);
    pthread_cond_destroy(&P.cv);
    P.running = false;
}

e2b_code e2bc_progress_done(e2b_code rc)
{
    e2bc_progress_end();
    return rc;
}
