/* fs_safe.c - path resolution confined to a sandbox's home directory (see fs_safe.h). */
#include "fs_safe.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/openat2.h>
#include <pwd.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#define HOME_REL "home/user" /* FS_HOME without its leading '/' */

static atomic_bool g_force_fallback;
static atomic_int g_no_openat2; /* 1 once the kernel answered ENOSYS */

void fs_force_fallback(bool on)
{
    atomic_store(&g_force_fallback, on);
}

/* Lexical clean of path[0..len) into out as '/'-joined components without a leading '/'.
 * ".." pops; on an empty stack it is an escape for relative paths (-EXDEV) and a no-op for
 * absolute ones (like Go's filepath.Clean: "/.." == "/"). */
static int clean_components(const char *path, size_t len, bool absolute, char *out, size_t cap)
{
    size_t o = 0;
    size_t i = 0;
    while (i < len) {
        while (i < len && path[i] == '/')
            i++;
        size_t start = i;
        while (i < len && path[i] != '/')
            i++;
        size_t clen = i - start;
        if (clen == 0 || (clen == 1 && path[start] == '.'))
            continue;
        if (clen == 2 && path[start] == '.' && path[start + 1] == '.') {
            if (o == 0) {
                if (!absolute)
                    return -EXDEV;
                continue;
            }
            while (o > 0 && out[o - 1] != '/')
                o--;
            if (o > 0)
                o--; /* drop the separator too */
            continue;
        }
        if (clen > NAME_MAX)
            return -ENAMETOOLONG;
        if (o + (o ? 1 : 0) + clen + 1 > cap)
            return -ENAMETOOLONG;
        if (o)
            out[o++] = '/';
        memcpy(out + o, path + start, clen);
        o += clen;
    }
    out[o] = '\0';
    return (int)o;
}

int fs_rel_path(const char *path, size_t len, char *out, size_t cap)
{
    if (!path || !out || cap == 0)
        return -EINVAL;
    if (len == 0 || memchr(path, '\0', len))
        return -EINVAL;
    if (len >= FS_PATH_MAX)
        return -ENAMETOOLONG;
    if (cap > FS_PATH_MAX)
        cap = FS_PATH_MAX;
    bool absolute = path[0] == '/';
    int n = clean_components(path, len, absolute, out, cap);
    if (n < 0)
        return n;
    if (!absolute)
        return n;
    size_t hl = sizeof HOME_REL - 1;
    if ((size_t)n < hl || memcmp(out, HOME_REL, hl) != 0 || (out[hl] != '\0' && out[hl] != '/'))
        return -EXDEV;
    size_t skip = out[hl] == '/' ? hl + 1 : hl;
    memmove(out, out + skip, (size_t)n - skip + 1);
    return n - (int)skip;
}

int fs_visible_path(const char *rel, char *out, size_t cap)
{
    int n = rel[0] ? snprintf(out, cap, "%s/%s", FS_HOME, rel) : snprintf(out, cap, "%s", FS_HOME);
    if (n < 0 || (size_t)n >= cap)
        return -ENAMETOOLONG;
    return n;
}

int fs_root_open(const char *dir)
{
    int fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

/* Component-by-component walk that follows no symlink at all. */
static int open_walk(int rootfd, const char *rel, int flags, mode_t mode)
{
    if (rel[0] == '\0') {
        int fd = openat(rootfd, ".", flags | O_CLOEXEC, mode);
        return fd < 0 ? -errno : fd;
    }
    int cur = rootfd;
    const char *p = rel;
    char comp[NAME_MAX + 1];
    for (;;) {
        const char *slash = strchr(p, '/');
        size_t clen = slash ? (size_t)(slash - p) : strlen(p);
        if (clen == 0 || clen > NAME_MAX) {
            if (cur != rootfd)
                close(cur);
            return clen ? -ENAMETOOLONG : -EINVAL;
        }
        memcpy(comp, p, clen);
        comp[clen] = '\0';
        if (strcmp(comp, "..") == 0 || strcmp(comp, ".") == 0) {
            if (cur != rootfd)
                close(cur);
            return -EXDEV;
        }
        int nfd = slash ? openat(cur, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                        : openat(cur, comp, flags | O_NOFOLLOW | O_CLOEXEC, mode);
        int e = errno;
        if (cur != rootfd)
            close(cur);
        if (nfd < 0)
            return -e;
        if (!slash)
            return nfd;
        cur = nfd;
        p = slash + 1;
    }
}

int fs_open(int rootfd, const char *rel, int flags, mode_t mode)
{
    if (!atomic_load(&g_force_fallback) && !atomic_load(&g_no_openat2)) {
        struct open_how how;
        memset(&how, 0, sizeof how);
        how.flags = (uint64_t)(flags | O_CLOEXEC);
        how.mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0;
        how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
        for (int attempt = 0; attempt < 8; attempt++) {
            long fd = syscall(SYS_openat2, rootfd, rel[0] ? rel : ".", &how, sizeof how);
            if (fd >= 0)
                return (int)fd;
            if (errno == EAGAIN) /* a concurrent rename raced the lookup: retry */
                continue;
            if (errno != ENOSYS)
                return -errno;
            atomic_store(&g_no_openat2, 1);
            break;
        }
        if (!atomic_load(&g_no_openat2))
            return -EAGAIN;
    }
    return open_walk(rootfd, rel, flags, mode);
}

bool fs_using_openat2(void)
{
    if (atomic_load(&g_force_fallback))
        return false;
    if (!atomic_load(&g_no_openat2)) {
        int fd = fs_open(AT_FDCWD, "", O_PATH | O_DIRECTORY, 0); /* sets g_no_openat2 */
        if (fd >= 0)
            close(fd);
    }
    return !atomic_load(&g_no_openat2);
}

int fs_open_parent(int rootfd, const char *rel, const char **leaf)
{
    if (!rel || rel[0] == '\0')
        return -EINVAL;
    const char *slash = strrchr(rel, '/');
    if (!slash) {
        *leaf = rel;
        int fd = fcntl(rootfd, F_DUPFD_CLOEXEC, 0);
        return fd < 0 ? -errno : fd;
    }
    size_t plen = (size_t)(slash - rel);
    char parent[FS_PATH_MAX];
    if (plen >= sizeof parent)
        return -ENAMETOOLONG;
    memcpy(parent, rel, plen);
    parent[plen] = '\0';
    *leaf = slash + 1;
    return fs_open(rootfd, parent, O_PATH | O_DIRECTORY, 0);
}

int fs_lstat(int rootfd, const char *rel, struct stat *st)
{
    if (rel[0] == '\0')
        return fstatat(rootfd, "", st, AT_EMPTY_PATH) < 0 ? -errno : 0;
    const char *leaf;
    int pfd = fs_open_parent(rootfd, rel, &leaf);
    if (pfd < 0)
        return pfd;
    int r = fstatat(pfd, leaf, st, AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
    close(pfd);
    return r;
}

int fs_mkdir_p(int rootfd, const char *rel, mode_t mode, bool *created)
{
    if (created)
        *created = false;
    if (rel[0] == '\0')
        return 0; /* the home always exists */
    size_t len = strlen(rel);
    if (len >= FS_PATH_MAX)
        return -ENAMETOOLONG;
    char prefix[FS_PATH_MAX];
    int cur = fcntl(rootfd, F_DUPFD_CLOEXEC, 0);
    if (cur < 0)
        return -errno;
    size_t i = 0;
    while (i < len) {
        size_t start = i;
        while (i < len && rel[i] != '/')
            i++;
        char comp[NAME_MAX + 1];
        size_t clen = i - start;
        if (clen == 0 || clen > NAME_MAX) {
            close(cur);
            return clen ? -ENAMETOOLONG : -EINVAL;
        }
        memcpy(comp, rel + start, clen);
        comp[clen] = '\0';
        bool made = mkdirat(cur, comp, mode) == 0;
        if (!made && errno != EEXIST) {
            int e = errno;
            close(cur);
            return -e;
        }
        memcpy(prefix, rel, i);
        prefix[i] = '\0';
        int nfd = fs_open(rootfd, prefix, O_PATH | O_DIRECTORY, 0);
        close(cur);
        if (nfd < 0)
            return (nfd == -ELOOP) ? -ENOTDIR : nfd;
        cur = nfd;
        if (i == len && created)
            *created = made;
        i++; /* skip the '/' */
    }
    close(cur);
    return 0;
}

/* Removes every entry of directory `name` in pfd, recursively, never following symlinks. */
static int remove_contents(int pfd, const char *name)
{
    int dfd = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd < 0)
        return -errno;
    DIR *d = fdopendir(dfd);
    if (!d) {
        int e = errno;
        close(dfd);
        return -e;
    }
    int rc = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        bool is_dir = de->d_type == DT_DIR;
        if (de->d_type == DT_UNKNOWN) {
            struct stat st;
            if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0)
                is_dir = S_ISDIR(st.st_mode);
        }
        if (is_dir) {
            int r = remove_contents(dfd, de->d_name);
            if (r == 0 && unlinkat(dfd, de->d_name, AT_REMOVEDIR) < 0)
                r = -errno;
            if (r < 0 && r != -ENOENT && rc == 0)
                rc = r;
        } else if (unlinkat(dfd, de->d_name, 0) < 0 && errno != ENOENT && rc == 0) {
            rc = -errno;
        }
    }
    closedir(d);
    return rc;
}

int fs_remove_all(int rootfd, const char *rel)
{
    if (rel[0] == '\0')
        return -EPERM;
    const char *leaf;
    int pfd = fs_open_parent(rootfd, rel, &leaf);
    if (pfd < 0)
        return pfd;
    struct stat st;
    int rc = 0;
    if (fstatat(pfd, leaf, &st, AT_SYMLINK_NOFOLLOW) < 0) {
        rc = -errno;
    } else if (S_ISDIR(st.st_mode)) {
        rc = remove_contents(pfd, leaf);
        if (rc == 0 && unlinkat(pfd, leaf, AT_REMOVEDIR) < 0)
            rc = -errno;
    } else if (unlinkat(pfd, leaf, 0) < 0) {
        rc = -errno;
    }
    close(pfd);
    return rc;
}

char *fs_mode_string(mode_t mode, char *out)
{
    /* Go's FileMode type letters, in Go's order "dalTLDpSugct?" (only those Linux has). */
    size_t o = 0;
    if (S_ISDIR(mode))
        out[o++] = 'd';
    if (S_ISLNK(mode))
        out[o++] = 'L';
    if (S_ISBLK(mode) || S_ISCHR(mode))
        out[o++] = 'D';
    if (S_ISFIFO(mode))
        out[o++] = 'p';
    if (S_ISSOCK(mode))
        out[o++] = 'S';
    if (mode & S_ISUID)
        out[o++] = 'u';
    if (mode & S_ISGID)
        out[o++] = 'g';
    if (S_ISCHR(mode))
        out[o++] = 'c';
    if (mode & S_ISVTX)
        out[o++] = 't';
    if (o == 0)
        out[o++] = '-';
    static const char rwx[] = "rwxrwxrwx";
    for (int i = 0; i < 9; i++)
        out[o++] = (mode & (1u << (8 - i))) ? rwx[i] : '-';
    out[o] = '\0';
    return out;
}

char *fs_rfc3339(const struct timespec *ts, char *out)
{
    struct tm tm;
    time_t t = ts->tv_sec;
    gmtime_r(&t, &tm);
    size_t n = strftime(out, 24, "%Y-%m-%dT%H:%M:%S", &tm);
    long ns = ts->tv_nsec;
    if (ns <= 0 || ns >= 1000000000L)
        snprintf(out + n, 40 - n, "Z");
    else if (ns % 1000000 == 0)
        snprintf(out + n, 40 - n, ".%03ldZ", ns / 1000000);
    else if (ns % 1000 == 0)
        snprintf(out + n, 40 - n, ".%06ldZ", ns / 1000);
    else
        snprintf(out + n, 40 - n, ".%09ldZ", ns);
    return out;
}

/* Owner/group names as the sandbox sees them: the server's own ids are the sandbox user
 * (bubblewrap maps them to "user"); other ids by name, else numerically. */
static void owner_name(uid_t uid, char *out, size_t cap)
{
    if (uid == geteuid()) {
        snprintf(out, cap, "user");
        return;
    }
    struct passwd pw, *res = NULL;
    char buf[1024];
    if (getpwuid_r(uid, &pw, buf, sizeof buf, &res) == 0 && res)
        snprintf(out, cap, "%s", res->pw_name);
    else
        snprintf(out, cap, "%u", (unsigned)uid);
}

static void group_name(gid_t gid, char *out, size_t cap)
{
    if (gid == getegid()) {
        snprintf(out, cap, "user");
        return;
    }
    struct group gr, *res = NULL;
    char buf[1024];
    if (getgrgid_r(gid, &gr, buf, sizeof buf, &res) == 0 && res)
        snprintf(out, cap, "%s", res->gr_name);
    else
        snprintf(out, cap, "%u", (unsigned)gid);
}

int fs_meta_set(int fd, const cJSON *obj)
{
    char names[8192];
    ssize_t n = flistxattr(fd, names, sizeof names);
    if (n < 0 && errno != ERANGE)
        return (errno == ENOTSUP && (!obj || !obj->child)) ? 0 : -errno;
    size_t pl = sizeof FS_META_XATTR_PREFIX - 1;
    for (ssize_t o = 0; n > 0 && o < n; o += (ssize_t)strlen(names + o) + 1)
        if (strncmp(names + o, FS_META_XATTR_PREFIX, pl) == 0)
            fremovexattr(fd, names + o);
    const cJSON *kv;
    cJSON_ArrayForEach(kv, obj)
    {
        if (!cJSON_IsString(kv) || !kv->string)
            continue;
        char key[512];
        if ((size_t)snprintf(key, sizeof key, "%s%s", FS_META_XATTR_PREFIX, kv->string) >=
            sizeof key)
            return -ENAMETOOLONG;
        if (fsetxattr(fd, key, kv->valuestring, strlen(kv->valuestring), 0) < 0)
            return -errno;
    }
    return 0;
}

/* Adds "metadata" from the entry's xattrs (never following a final symlink). */
static void add_metadata(cJSON *o, int dirfd, const char *name)
{
    char path[FS_PATH_MAX + 64];
    if (name)
        snprintf(path, sizeof path, "/proc/self/fd/%d/%s", dirfd, name);
    else
        snprintf(path, sizeof path, "/proc/self/fd/%d", dirfd);
    char names[4096];
    /* the home itself is reached through the fd's magic link, which must be followed */
    ssize_t (*list)(const char *, char *, size_t) = name ? llistxattr : listxattr;
    ssize_t (*get)(const char *, const char *, void *, size_t) = name ? lgetxattr : getxattr;
    ssize_t n = list(path, names, sizeof names);
    if (n <= 0)
        return;
    size_t pl = sizeof FS_META_XATTR_PREFIX - 1;
    cJSON *meta = NULL;
    for (ssize_t i = 0; i < n; i += (ssize_t)strlen(names + i) + 1) {
        if (strncmp(names + i, FS_META_XATTR_PREFIX, pl) != 0)
            continue;
        char val[4097];
        ssize_t vl = get(path, names + i, val, sizeof val - 1);
        if (vl < 0)
            continue;
        val[vl] = '\0';
        if (!meta && !(meta = cJSON_AddObjectToObject(o, "metadata")))
            return;
        cJSON_AddStringToObject(meta, names + i + pl, val);
    }
}

cJSON *fs_entry_json_at(int dirfd, const char *name, const char *rel, const struct stat *st)
{
    char vis[FS_PATH_MAX + 16];
    if (fs_visible_path(rel, vis, sizeof vis) < 0)
        return NULL;
    const char *base = strrchr(vis, '/') + 1;
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    cJSON_AddStringToObject(o, "name", base);
    const char *type = S_ISREG(st->st_mode)   ? "FILE_TYPE_FILE"
                       : S_ISDIR(st->st_mode) ? "FILE_TYPE_DIRECTORY"
                       : S_ISLNK(st->st_mode) ? "FILE_TYPE_SYMLINK"
                                              : NULL; /* UNSPECIFIED: omitted (proto3) */
    if (type)
        cJSON_AddStringToObject(o, "type", type);
    cJSON_AddStringToObject(o, "path", vis);
    char num[32];
    snprintf(num, sizeof num, "%lld", (long long)st->st_size);
    if (st->st_size != 0)
        cJSON_AddStringToObject(o, "size", num);
    if (st->st_mode & 0777)
        cJSON_AddNumberToObject(o, "mode", (double)(st->st_mode & 0777));
    char perm[24];
    cJSON_AddStringToObject(o, "permissions", fs_mode_string(st->st_mode, perm));
    char who[64];
    owner_name(st->st_uid, who, sizeof who);
    cJSON_AddStringToObject(o, "owner", who);
    group_name(st->st_gid, who, sizeof who);
    cJSON_AddStringToObject(o, "group", who);
    char ts[40];
    cJSON_AddStringToObject(o, "modifiedTime", fs_rfc3339(&st->st_mtim, ts));
    if (S_ISLNK(st->st_mode) && name) {
        char target[FS_PATH_MAX];
        ssize_t n = readlinkat(dirfd, name, target, sizeof target - 1);
        if (n >= 0) {
            target[n] = '\0';
            char joined[2 * FS_PATH_MAX + 2];
            if (target[0] == '/') {
                snprintf(joined, sizeof joined, "%s", target);
            } else {
                size_t dl = (size_t)(base - vis); /* includes the trailing '/' */
                snprintf(joined, sizeof joined, "%.*s%s", (int)dl, vis, target);
            }
            char cleaned[FS_PATH_MAX + 1];
            cleaned[0] = '/';
            if (clean_components(joined, strlen(joined), true, cleaned + 1, sizeof cleaned - 1) >=
                0)
                cJSON_AddStringToObject(o, "symlinkTarget", cleaned);
        }
    }
    if (!S_ISLNK(st->st_mode))
        add_metadata(o, dirfd, name);
    if (cJSON_GetArraySize(o) < 5) { /* an Add failed: out of memory */
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

cJSON *fs_entry_json(int rootfd, const char *rel, int *err)
{
    struct stat st;
    cJSON *o = NULL;
    int rc;
    if (rel[0] == '\0') {
        rc = fstatat(rootfd, "", &st, AT_EMPTY_PATH) < 0 ? -errno : 0;
        if (rc == 0)
            o = fs_entry_json_at(rootfd, NULL, rel, &st);
    } else {
        const char *leaf;
        int pfd = fs_open_parent(rootfd, rel, &leaf);
        if (pfd < 0) {
            rc = pfd;
        } else {
            rc = fstatat(pfd, leaf, &st, AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
            if (rc == 0)
                o = fs_entry_json_at(pfd, leaf, rel, &st);
            close(pfd);
        }
    }
    if (rc == 0 && !o)
        rc = -ENOMEM;
    if (err)
        *err = rc;
    return o;
}
