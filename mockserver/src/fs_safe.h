/* fs_safe.h - path handling strictly inside one sandbox's home directory.
 *
 * Each sandbox owns a host directory (mock_sandbox.dir). Code running in the sandbox sees it
 * as /home/user (bubblewrap bind mount), so envd paths are mapped like this:
 *
 *   "/home/user"          -> the sandbox directory itself ("" below)
 *   "/home/user/a/b.txt"  -> "a/b.txt"
 *   "a/b.txt", "./a/b"    -> relative to /home/user, like real envd
 *   "/home/user/../user/x"-> "x" (lexical clean-up first, like Go's filepath.Clean)
 *   "/tmp/x", "/etc/passwd", "/home/userx" and anything whose ".." climbs above /home/user
 *                         -> rejected with -EXDEV: the mock only exposes the home directory
 *                            (a sandbox's /tmp is a private tmpfs inside bubblewrap, invisible
 *                            to the server).
 *
 * Resolution is then done by the kernel relative to an O_PATH fd of the sandbox directory
 * with openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS): symlinks planted by sandbox code are
 * followed only while they stay inside the directory; absolute symlinks and any escape fail
 * with -EXDEV. Without openat2 (kernel < 5.6) every component is opened with O_NOFOLLOW, so
 * no symlink is followed at all (-ELOOP/-ENOTDIR).
 *
 * All functions return >= 0 on success and -errno on failure; they never set errno-only
 * failures. Nothing here allocates except fs_entry_json.
 */
#ifndef E2B_MOCK_FS_SAFE_H
#define E2B_MOCK_FS_SAFE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <cjson/cJSON.h>

#define FS_HOME "/home/user"
#define FS_PATH_MAX 4096 /* longest accepted sandbox path and relative path (incl. NUL) */

/* Lexically maps a sandbox-visible path (len bytes, need not be NUL-terminated) to a path
 * relative to the home directory, written NUL-terminated to out (cap bytes): "" for the
 * home itself, else "a/b" (no leading or trailing '/', no "." or ".." components).
 * Errors: -EINVAL (empty, or contains a NUL byte), -ENAMETOOLONG (len or result >= cap or
 * FS_PATH_MAX, or a component > NAME_MAX), -EXDEV (outside /home/user or ".." escape). */
int fs_rel_path(const char *path, size_t len, char *out, size_t cap);

/* Writes the sandbox-visible absolute path of rel ("/home/user" or "/home/user/<rel>").
 * Returns the length, or -ENAMETOOLONG. */
int fs_visible_path(const char *rel, char *out, size_t cap);

/* Opens the sandbox directory as an O_PATH|O_DIRECTORY|O_CLOEXEC fd. Returns fd or -errno. */
int fs_root_open(const char *dir);

/* Opens rel beneath rootfd (see the header comment) with open(2) flags/mode; O_CLOEXEC is
 * always added. rel "" opens the root itself. Returns the fd or -errno (-EXDEV on escape). */
int fs_open(int rootfd, const char *rel, int flags, mode_t mode);

/* Opens the directory containing rel's last component (O_PATH|O_DIRECTORY) and points *leaf
 * at that component inside rel. rel must not be "" (-EINVAL). Returns the fd or -errno. */
int fs_open_parent(int rootfd, const char *rel, const char **leaf);

/* lstat of rel (the root itself for ""). Returns 0 or -errno. */
int fs_lstat(int rootfd, const char *rel, struct stat *st);

/* mkdir -p of rel (mode for every directory created). *created (nullable) is set to whether
 * the last component was created by this call (false: it already existed as a directory).
 * Errors: -ENOTDIR when any component exists as a non-directory, -EXDEV, other -errno. */
int fs_mkdir_p(int rootfd, const char *rel, mode_t mode, bool *created);

/* Removes rel recursively, never following symlinks (a symlink is removed, not its target).
 * The home itself cannot be removed (-EPERM). Returns 0 or -errno (-ENOENT when missing). */
int fs_remove_all(int rootfd, const char *rel);

/* Forces the O_NOFOLLOW component walk even where openat2 exists (for tests). */
void fs_force_fallback(bool on);

/* True when resolution uses openat2 (probes the kernel once; false under valgrind, which
 * does not know the syscall, or when forced to the fallback). */
bool fs_using_openat2(void);

/* Go os.FileMode.String() of a st_mode ("-rw-r--r--", "drwxr-xr-x", "Lrwxrwxrwx").
 * out must hold at least 24 bytes. Returns out. */
char *fs_mode_string(mode_t mode, char *out);

/* RFC 3339 UTC timestamp with protobuf-JSON fraction rules (0, 3, 6 or 9 digits).
 * out must hold at least 40 bytes. Returns out. */
char *fs_rfc3339(const struct timespec *ts, char *out);

/* File metadata (envd >= 0.6.2, X-Metadata-* on upload) lives in user xattrs named
 * FS_META_XATTR_PREFIX<key>. */
#define FS_META_XATTR_PREFIX "user.e2b.meta."

/* Replaces the metadata of the open file fd with the {key: value} string pairs of obj (NULL
 * or empty = remove all). Returns 0, or -errno (-ENOTSUP when the filesystem has no user
 * xattrs). */
int fs_meta_set(int fd, const cJSON *obj);

/* Builds a filesystem.EntryInfo JSON object for rel (lstat, never following a final
 * symlink; a symlink gets symlinkTarget = its target as an absolute sandbox path; stored
 * metadata becomes "metadata": {...}).
 * name = last component ("user" for the home). Returns NULL with *err = -errno on failure
 * (err nullable). The caller owns the result. */
cJSON *fs_entry_json(int rootfd, const char *rel, int *err);

/* Same from an already-taken lstat, for directory walks: dirfd + name locate the entry
 * (for readlinkat), rel is its path relative to home. */
cJSON *fs_entry_json_at(int dirfd, const char *name, const char *rel, const struct stat *st);

#endif
