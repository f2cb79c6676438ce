/* sbx_policy.h - security policy of sandboxed processes: limits, seccomp filter, cgroups, and
 * the private runtime files (/etc/passwd, masks) bubblewrap mounts. Used by sandboxrt.c only
 * (plus main.c for options and the destroy hook). See mockserver/ISOLATION.md.
 *
 * Thread-safety: every function may be called from any thread.
 */
#ifndef E2B_MOCK_SBX_POLICY_H
#define E2B_MOCK_SBX_POLICY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SBXPOL_UID 1000 /* "user" inside every sandbox */

typedef struct sbxpol_limits {
    int64_t memory_bytes; /* per sandbox (cgroup memory, else RLIMIT_DATA per process); 0 = none */
    int pids;             /* per sandbox (cgroup pids, else RLIMIT_NPROC per spawn); 0 = none */
    int cpu_seconds;      /* RLIMIT_CPU per process; 0 = none */
    int64_t fsize_bytes;  /* RLIMIT_FSIZE per process (largest file); 0 = none */
    int64_t output_bytes; /* output kept per stream per execution/command; 0 = none */
    int64_t disk_bytes;   /* disk use (st_blocks) of one sandbox directory; 0 = none */
} sbxpol_limits;

/* Defaults: 512 MiB, 256 pids, 3600 s CPU, 512 MiB file size, 16 MiB output per stream,
 * 1024 MiB disk per sandbox directory. */
void sbxpol_default_limits(sbxpol_limits *l);
/* Sets / reads the limits used for later spawns (main.c options). */
void sbxpol_set_limits(const sbxpol_limits *l);
void sbxpol_get_limits(sbxpol_limits *l);

/* The current output cap per stream (bytes; 0 = none). */
int64_t sbxpol_output_cap(void);

/* The current disk quota per sandbox directory (bytes; 0 = none). */
int64_t sbxpol_disk_quota(void);

/* Disk use of the directory tree open at dirfd: the sum of st_blocks * 512 of every entry
 * below it (the directory itself included), symlinks not followed, other filesystems not
 * entered. dirfd is not consumed. Returns -1 when the tree cannot be measured completely
 * (deeper than 128 levels, or an error other than an entry vanishing meanwhile): callers
 * treat that as over quota. */
int64_t sbxpol_disk_usage(int dirfd);

/* Reads limits from the environment once (E2B_MOCK_LIMIT_MEMORY_MB, _PIDS, _CPU_S,
 * _FSIZE_MB, _OUTPUT_MB, _DISK_MB; main.c's options set them), over the defaults. Called lazily by
 * the getters; call it explicitly after changing the environment to re-read. */
void sbxpol_load_env(void);

/* A fresh memfd (no CLOEXEC, offset 0) holding the seccomp BPF program for sandboxed
 * processes; allow_inet also permits AF_INET/AF_INET6 sockets. The caller closes it. Returns
 * -1 when libseccomp is not built in or the filter cannot be built. */
int sbxpol_seccomp_fd(int allow_inet);

/* 1 if per-sandbox cgroups (v1 memory + pids) can be created here (probed once) and were
 * not turned off (E2B_MOCK_NO_CGROUPS, --no-cgroups). */
int sbxpol_cgroup_available(void);

/* Creates (idempotent) the cgroups of sandbox `name` with the current limits. 0 or -1. */
int sbxpol_cgroup_prepare(const char *name);

/* Moves the CALLING THREAD into sandbox `name`'s cgroups (children it forks inherit them),
 * or back to where it was (leave). 0 or -1. */
int sbxpol_cgroup_enter(const char *name);
void sbxpol_cgroup_leave(void);

/* SIGKILLs every process in sandbox `name`'s cgroups until they are empty, then removes them.
 * Returns the number of processes killed (0 when none / no cgroup). */
int sbxpol_cgroup_destroy(const char *name);

/* Removes sandbox `name`'s cgroups if they are empty (EBUSY otherwise: nothing happens). */
void sbxpol_cgroup_release(const char *name);

/* Pids currently in sandbox `name`'s pids cgroup (for tests/diagnostics); -1 when none. */
int sbxpol_cgroup_count(const char *name);

/* Up to cap pids of sandbox `name`'s pids cgroup into out; returns how many, -1 when none. */
int sbxpol_cgroup_pids(const char *name, pid_t *out, int cap);

/* Renames sandbox `from`'s cgroups to `to` in every hierarchy (cgroup v1 allows rename(2)
 * within one parent; the processes stay in them, so nothing runs unlimited meanwhile).
 * 0, or -1 with errno (EEXIST when `to` already exists; nothing renamed then). */
int sbxpol_cgroup_rename(const char *from, const char *to);

/* The server-private runtime directory (passwd, group, empty file/dir used as masks), created
 * once (mode 0755, removed at exit); NULL if it cannot be created. */
const char *sbxpol_runtime_dir(void);

/* Paths under /etc that are not world-readable (e.g. /etc/shadow): bubblewrap masks each with an
 * empty file/dir, because the sandbox's uid maps to host root for permission checks.
 * NULL-terminated, owned by the module; *is_dir[i] tells the kind. */
const char *const *sbxpol_etc_masks(const unsigned char **is_dir);

#ifdef __cplusplus
}
#endif
#endif
