/* watch.c - inotify watches confined to a sandbox (see watch.h). */
#include "watch.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "fs_safe.h"

#define WATCH_MASK \
    (IN_CREATE | IN_MOVED_TO | IN_MODIFY | IN_DELETE | IN_MOVED_FROM | IN_ATTRIB | IN_ONLYDIR)
#define MAX_WATCHES 8192
#define MAX_LEVELS 64 /* recursive watches stop descending here (bounded stack use) */

typedef struct wd_entry {
    int wd;
    char *sub; /* path of this dir relative to the watched dir ("" for the top) */
} wd_entry;

struct fs_watch {
    int ifd;
    int rootfd; /* dup of the sandbox root, for opening new subdirectories */
    bool recursive;
    char *rel; /* watched dir relative to the home */
    wd_entry *wds;
    size_t n, cap;
};

static int add_dir(fs_watch *w, const char *sub, unsigned level);

/* Adds watches for every subdirectory below sub (no symlink following). */
static void add_tree(fs_watch *w, const char *sub, int dfd_in, unsigned level)
{
    if (level >= MAX_LEVELS)
        return;
    int dfd = fcntl(dfd_in, F_DUPFD_CLOEXEC, 0);
    if (dfd < 0)
        return;
    DIR *d = fdopendir(dfd);
    if (!d) {
        close(dfd);
        return;
    }
    struct dirent *de;
    while ((de = readdir(d)) != NULL && w->n < MAX_WATCHES) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN)
            continue;
        char child[FS_PATH_MAX];
        int n = sub[0] ? snprintf(child, sizeof child, "%s/%s", sub, de->d_name)
                       : snprintf(child, sizeof child, "%s", de->d_name);
        if (n < 0 || (size_t)n >= sizeof child)
            continue;
        add_dir(w, child, level + 1);
    }
    closedir(d);
}

/* Watches <rel>/<sub>; recursive watches also add its subdirectories. 0 or -errno. */
static int add_dir(fs_watch *w, const char *sub, unsigned level)
{
    char full[FS_PATH_MAX];
    int n;
    if (!w->rel[0])
        n = snprintf(full, sizeof full, "%s", sub);
    else if (!sub[0])
        n = snprintf(full, sizeof full, "%s", w->rel);
    else
        n = snprintf(full, sizeof full, "%s/%s", w->rel, sub);
    if (n < 0 || (size_t)n >= sizeof full)
        return -ENAMETOOLONG;
    /* the top dir may be reached through an inside symlink; subdirectories never */
    int dfd = fs_open(w->rootfd, full, O_RDONLY | O_DIRECTORY | (sub[0] ? O_NOFOLLOW : 0), 0);
    if (dfd < 0)
        return dfd;
    char proc[64];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", dfd);
    int wd = inotify_add_watch(w->ifd, proc, WATCH_MASK);
    if (wd < 0) {
        int e = errno;
        close(dfd);
        return -e;
    }
    bool known = false;
    for (size_t i = 0; i < w->n; i++)
        if (w->wds[i].wd == wd)
            known = true; /* the same directory again (e.g. moved): keep the first name */
    if (!known) {
        if (w->n == w->cap) {
            size_t cap = w->cap ? w->cap * 2 : 8;
            wd_entry *nw = realloc(w->wds, cap * sizeof *nw);
            if (!nw) {
                inotify_rm_watch(w->ifd, wd);
                close(dfd);
                return -ENOMEM;
            }
            w->wds = nw;
            w->cap = cap;
        }
        w->wds[w->n].wd = wd;
        w->wds[w->n].sub = strdup(sub);
        if (!w->wds[w->n].sub) {
            inotify_rm_watch(w->ifd, wd);
            close(dfd);
            return -ENOMEM;
        }
        w->n++;
    }
    if (w->recursive && !known)
        add_tree(w, sub, dfd, level);
    close(dfd);
    return 0;
}

fs_watch *fs_watch_open(int rootfd, const char *rel, bool recursive, int *err)
{
    int e = -ENOMEM;
    fs_watch *w = calloc(1, sizeof *w);
    if (!w)
        goto fail;
    w->ifd = -1;
    w->recursive = recursive;
    w->rootfd = fcntl(rootfd, F_DUPFD_CLOEXEC, 0);
    w->rel = strdup(rel);
    if (w->rootfd < 0 || !w->rel) {
        e = w->rootfd < 0 ? -errno : -ENOMEM;
        goto fail;
    }
    /* check the target first so that errors are precise (ENOENT vs ENOTDIR) */
    int probe = fs_open(rootfd, rel, O_PATH, 0);
    if (probe < 0) {
        e = probe;
        goto fail;
    }
    struct stat st;
    int sr = fstat(probe, &st);
    close(probe);
    if (sr < 0 || !S_ISDIR(st.st_mode)) {
        e = sr < 0 ? -errno : -ENOTDIR;
        goto fail;
    }
    w->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (w->ifd < 0) {
        e = -errno;
        goto fail;
    }
    e = add_dir(w, "", 0);
    if (e < 0)
        goto fail;
    return w;
fail:
    fs_watch_close(w);
    if (err)
        *err = e;
    return NULL;
}

int fs_watch_fd(const fs_watch *w)
{
    return w->ifd;
}

static wd_entry *find_wd(fs_watch *w, int wd)
{
    for (size_t i = 0; i < w->n; i++)
        if (w->wds[i].wd == wd)
            return &w->wds[i];
    return NULL;
}

static void drop_wd(fs_watch *w, int wd)
{
    for (size_t i = 0; i < w->n; i++) {
        if (w->wds[i].wd == wd) {
            free(w->wds[i].sub);
            w->wds[i] = w->wds[--w->n];
            return;
        }
    }
}

/* Builds an event's name (sub/entry, relative to the watched dir) and rel (relative to the
 * home). 0, or -1 when a path does not fit (the event is then skipped). */
static int event_paths(const fs_watch *w, const char *sub, const char *entry, char *name, char *rel)
{
    int n = sub[0] ? snprintf(name, FS_PATH_MAX, "%s/%s", sub, entry)
                   : snprintf(name, FS_PATH_MAX, "%s", entry);
    if (n < 0 || n >= FS_PATH_MAX)
        return -1;
    n = w->rel[0] ? snprintf(rel, FS_PATH_MAX, "%s/%s", w->rel, name)
                  : snprintf(rel, FS_PATH_MAX, "%s", name);
    return n < 0 || n >= FS_PATH_MAX ? -1 : 0;
}

#define MAX_CATCH_UP 10000 /* synthesized CREATE events per new subdirectory */

/* Entries that were already inside a subdirectory (sub, relative to the watched dir) when its
 * watch was added: created between the directory's own CREATE and the inotify_add_watch, they
 * have no event of their own. Reports each as EVENT_TYPE_CREATE (depth-first, no symlink
 * following). *budget bounds the count. Returns non-zero when fn asked to stop. */
static int catch_up(fs_watch *w, const char *sub, unsigned level, fs_watch_fn fn, void *ud,
                    int *delivered, int *budget)
{
    if (level >= MAX_LEVELS)
        return 0;
    char full[FS_PATH_MAX];
    int n = w->rel[0] ? snprintf(full, sizeof full, "%s/%s", w->rel, sub)
                      : snprintf(full, sizeof full, "%s", sub);
    if (n < 0 || (size_t)n >= sizeof full)
        return 0;
    int dfd = fs_open(w->rootfd, full, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0);
    if (dfd < 0)
        return 0;
    DIR *d = fdopendir(dfd);
    if (!d) {
        close(dfd);
        return 0;
    }
    int stop = 0;
    struct dirent *de;
    while (!stop && *budget > 0 && (de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        char name[FS_PATH_MAX], rel[FS_PATH_MAX];
        if (event_paths(w, sub, de->d_name, name, rel) != 0)
            continue;
        --*budget;
        ++*delivered;
        if (fn && fn(ud, name, rel, "EVENT_TYPE_CREATE") != 0)
            stop = 1;
        else if (de->d_type == DT_DIR)
            stop = catch_up(w, name, level + 1, fn, ud, delivered, budget);
    }
    closedir(d);
    return stop;
}

int fs_watch_read(fs_watch *w, fs_watch_fn fn, void *ud)
{
    _Alignas(struct inotify_event) char buf[16384];
    int delivered = 0;
    for (;;) {
        ssize_t len = read(w->ifd, buf, sizeof buf);
        if (len < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN)
                return delivered;
            return -errno;
        }
        for (char *p = buf; p < buf + len;) {
            struct inotify_event *ev = (struct inotify_event *)p;
            p += sizeof *ev + ev->len;
            if (ev->mask & IN_IGNORED) {
                drop_wd(w, ev->wd);
                continue;
            }
            wd_entry *we = find_wd(w, ev->wd);
            if (!we || ev->len == 0 || !ev->name[0])
                continue; /* overflow, self events */
            const char *type = NULL;
            if (ev->mask & (IN_CREATE | IN_MOVED_TO))
                type = "EVENT_TYPE_CREATE";
            else if (ev->mask & IN_MODIFY)
                type = "EVENT_TYPE_WRITE";
            else if (ev->mask & IN_DELETE)
                type = "EVENT_TYPE_REMOVE";
            else if (ev->mask & IN_MOVED_FROM)
                type = "EVENT_TYPE_RENAME";
            else if (ev->mask & IN_ATTRIB)
                type = "EVENT_TYPE_CHMOD";
            if (!type)
                continue;
            char name[FS_PATH_MAX], rel[FS_PATH_MAX];
            if (event_paths(w, we->sub, ev->name, name, rel) != 0)
                continue;
            bool new_dir = w->recursive && (ev->mask & IN_ISDIR) &&
                           (ev->mask & (IN_CREATE | IN_MOVED_TO)) && w->n < MAX_WATCHES &&
                           add_dir(w, name, 0) == 0; /* new subtree: bounded again from here */
            delivered++;
            if (fn && fn(ud, name, rel, type) != 0)
                return delivered;
            int budget = MAX_CATCH_UP;
            if (new_dir && catch_up(w, name, 0, fn, ud, &delivered, &budget))
                return delivered;
        }
    }
}

void fs_watch_close(fs_watch *w)
{
    if (!w)
        return;
    if (w->ifd >= 0)
        close(w->ifd);
    if (w->rootfd >= 0)
        close(w->rootfd);
    for (size_t i = 0; i < w->n; i++)
        free(w->wds[i].sub);
    free(w->wds);
    free(w->rel);
    free(w);
}
