/* watch.h - inotify directory watches confined to a sandbox home (filesystem.WatchDir and
 * the CreateWatcher/GetWatcherEvents polling API).
 *
 * Event mapping (as Go's fsnotify, which envd uses):
 *   IN_CREATE, IN_MOVED_TO -> EVENT_TYPE_CREATE     IN_MODIFY      -> EVENT_TYPE_WRITE
 *   IN_DELETE              -> EVENT_TYPE_REMOVE     IN_MOVED_FROM  -> EVENT_TYPE_RENAME
 *   IN_ATTRIB              -> EVENT_TYPE_CHMOD
 * Event names are paths relative to the watched directory ("a.txt", "sub/b.txt" when
 * recursive). Self events of watched directories are not reported. Directories are opened
 * beneath the sandbox root (fs_safe) and watched through /proc/self/fd, so a watch never
 * lands outside the sandbox; recursive watches never descend through symlinks.
 */
#ifndef E2B_MOCK_WATCH_H
#define E2B_MOCK_WATCH_H

#include <stdbool.h>

typedef struct fs_watch fs_watch;

/* Called per event: name relative to the watched dir, rel = path relative to the sandbox
 * home (for EntryInfo), type = "EVENT_TYPE_...". Return non-zero to stop reading. */
typedef int (*fs_watch_fn)(void *ud, const char *name, const char *rel, const char *type);

/* Watches directory rel (relative to the home; see fs_safe.h) beneath rootfd (the fd is not
 * kept). Returns NULL with *err = -errno: -ENOENT missing, -ENOTDIR not a directory, -EXDEV
 * escape, -ENOSPC watch limit. */
fs_watch *fs_watch_open(int rootfd, const char *rel, bool recursive, int *err);

/* The pollable inotify fd (non-blocking). */
int fs_watch_fd(const fs_watch *w);

/* Reads every pending event without blocking and calls fn for each. Returns the number of
 * events delivered, or -errno. Newly created subdirectories of a recursive watch are added
 * here; what such a directory already holds by then (written before its watch existed, e.g.
 * MakeDir then a write then GetWatcherEvents) is reported right after the directory's own
 * CREATE, as CREATE events (at most 10000 per directory). An entry created while the watch
 * was being added can so be reported twice, never not at all. */
int fs_watch_read(fs_watch *w, fs_watch_fn fn, void *ud);

/* Closes the watch. NULL is a no-op. */
void fs_watch_close(fs_watch *w);

#endif
