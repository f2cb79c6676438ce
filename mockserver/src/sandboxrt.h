/* sandboxrt.h - starting processes inside a sandbox's private directory.
 *
 * The ONE place that decides how a sandboxed process is started (bubblewrap flags, clean
 * environment, file descriptors); future hardening (seccomp, rlimits, cgroups, uid mapping)
 * belongs in sbxrt_spawn only.
 *
 * Isolation: bubblewrap (platform-notes §6), policy in sbx_policy.c, see mockserver/ISOLATION.md:
 * uid/gid 1000 ("user"), /usr read-only, /etc read-only (matplotlib needs it) with every
 * non-world-readable entry masked and a private passwd/group, seccomp filter, rlimits through
 * prlimit, per-sandbox cgroups (memory, pids) when writable, fresh /proc /dev /tmp, the sandbox directory bound at /home/user, every namespace
 * unshared (no network), all capabilities dropped, new session, cleared environment, dies
 * with the server. When bwrap is missing or does not work here (probed once), spawning fails
 * unless unisolated mode was allowed (sbxrt_set_unisolated(1) or env E2B_MOCK_UNISOLATED=1):
 * then the process runs directly on the host with cwd inside the sandbox directory, HOME set to
 * that directory (paths under /home/user do not exist there). The bwrap binary is
 * /usr/bin/bwrap unless env E2B_MOCK_BWRAP names another absolute path (read once).
 *
 * Child file descriptors: 0 = /dev/null, 1/2 = pipes (stdout/stderr), 3 = event pipe (child
 * writes), 4 = request pipe (child reads). Everything else is closed.
 */
#ifndef E2B_MOCK_SANDBOXRT_H
#define E2B_MOCK_SANDBOXRT_H

#include <stddef.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SBXRT_HOME "/home/user"

typedef struct sbxrt_spec {
    const char *dir;         /* host directory shown as /home/user (must exist) */
    const char *cwd;         /* working directory inside the sandbox; NULL = /home/user.
                                     Paths under /home/user are created if missing. */
    const char *const *argv; /* NULL-terminated; argv[0] an absolute path */
    const char *const *env;  /* NULL-terminated "K=V" list added to the clean base env
                                     (HOME, PATH, LANG, MPLCONFIGDIR); may be NULL */
    int allow_net;           /* 1 = share the host network namespace and allow
                                     AF_INET/AF_INET6 sockets (allow_internet_access) */
} sbxrt_spec;

typedef struct sbxrt_proc {
    pid_t pid;      /* our direct child (bwrap, or the program when unisolated); 0 = none */
    pid_t pgid;     /* process group of the program: SIGINT target (0 until known) */
    int req_fd;     /* write end of the child's fd 4 (O_CLOEXEC) */
    int ev_fd;      /* read end of the child's fd 3 (O_CLOEXEC | O_NONBLOCK) */
    int out_fd;     /* read end of the child's stdout (O_CLOEXEC | O_NONBLOCK) */
    int err_fd;     /* read end of the child's stderr (O_CLOEXEC | O_NONBLOCK) */
    int isolated;   /* 1 when started under bwrap */
    char cg[72];    /* the sandbox cgroup it runs in ("" = none): removed once empty */
    unsigned watch; /* disk-quota monitor registration (0 = none); dropped by kill/reap */
} sbxrt_proc;

/* Allows (1) or forbids (0) running without bubblewrap when it is unavailable. The default
 * comes from env E2B_MOCK_UNISOLATED ("1"/"true" allows). Thread-safe. */
void sbxrt_set_unisolated(int allow);

/* 1 if running without bubblewrap is allowed (sbxrt_set_unisolated or E2B_MOCK_UNISOLATED). */
int sbxrt_unisolated_allowed(void);

/* 1 if bubblewrap works on this host (probed once by running a trivial sandbox; cached). */
int sbxrt_bwrap_available(void);

/* How isolated sandboxes' process count is bounded here (static strings):
 * "cgroup" (pids.max per sandbox), "rlimit" (RLIMIT_NPROC per spawn: a non-root server on
 * Linux >= 5.14), or "none" (the limit is 0; or a root server without the v1 pids cgroup, as
 * the kernel exempts host root from RLIMIT_NPROC; or an older kernel). */
const char *sbxrt_process_limit_kind(void);

/* The same for memory: "cgroup" (memory.limit_in_bytes per sandbox), "rlimit" (RLIMIT_DATA
 * per process) or "none" (the limit is 0). */
const char *sbxrt_memory_limit_kind(void);

/* Maps an in-sandbox path under /home/user to the host path under dir. Returns a malloc'd
 * string, or NULL if path is not under /home/user (or OOM). Rejects ".." components. */
char *sbxrt_host_path(const char *dir, const char *sandbox_path);

/* Starts the program. On success fills *out (caller owns it: sbxrt_kill) and returns 0. On
 * failure returns -1 with a message in err (nothing to clean up). The SIGINT target pgid is
 * known on return (bwrap --info-fd or our own setsid). */
int sbxrt_spawn(const sbxrt_spec *spec, sbxrt_proc *out, char *err, size_t errlen);

/* Ends EVERY process of the sandbox whose directory is dir (all kernels and commands, and
 * anything they forked, setsid'd or daemonized: they all live in the sandbox's cgroup), then
 * removes its cgroups. Called from the store's destroy hook (kill, expiry, shutdown). Returns
 * how many processes were killed. No-op without cgroups (the pid namespace still ends them). */
int sbxrt_sandbox_destroy(const char *dir);

/* store_on_destroy hook form of sbxrt_sandbox_destroy (sbx is a mock_sandbox *). */
struct mock_sandbox;
void sbxrt_destroy_hook(struct mock_sandbox *sbx, void *ud);

/* A pooled process (started in directory old_dir) now belongs to the sandbox directory
 * new_dir (renamed by the store): its cgroups are renamed to new_dir's last component (the
 * sandbox id) so the sandbox has one set of limits and its destroy hook sweeps it, and the
 * disk monitor watches new_dir. 0, or -1 (the process keeps its old cgroup). */
int sbxrt_move(sbxrt_proc *p, const char *new_dir);

/* Disk quota (sbxpol_disk_quota) of sandbox processes. While a sandbox directory has live
 * sandboxed processes, a monitor thread measures its usage (sbxpol_disk_usage) every
 * SBXRT_DISK_POLL_MS (3x the measurement's duration when that is longer: at most 25% of
 * one CPU). Over the quota, it sets the SOFT RLIMIT_FSIZE of every process of the sandbox
 * (its pids cgroup, else the descendants of its spawns) to 0 with prlimit(2): further writes
 * that grow a file fail with EFBIG (SIGXFSZ when not ignored). Spawns meanwhile start with
 * soft limit 0. Back under the quota, the configured soft limit is restored. The hard limit
 * is left alone (raising it back needs CAP_SYS_RESOURCE, which a non-root server or a
 * container's root lacks), so a process could raise its own soft limit: one found doing so
 * while clamped gets hard limit 0 for good. See ISOLATION.md. */
#define SBXRT_DISK_POLL_MS 50

/* 1 if the directory is currently over the quota and its processes are clamped. */
int sbxrt_disk_clamped(const char *dir);

/* Runs one monitor pass now (tests). Returns how many directories are clamped. */
int sbxrt_disk_poll(void);

/* Sends sig to the program's process group (and its descendants in that group). Safe to call
 * with a stale proc (pid 0 -> no-op). Returns 0 or -1. */
int sbxrt_signal(const sbxrt_proc *p, int sig);

/* Kills everything (SIGKILL to the group and to the direct child), reaps the child, closes
 * the fds and zeroes *p. Idempotent. */
void sbxrt_kill(sbxrt_proc *p);

/* Closes the fds and reaps an already-exited child (blocking waitpid). Idempotent. */
void sbxrt_reap(sbxrt_proc *p);

#ifdef __cplusplus
}
#endif
#endif
