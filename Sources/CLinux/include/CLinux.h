// Small wrappers over Linux calls that Swift cannot make directly: ioctl is variadic, and
// renameat2 is not exported by Glibc's module. Each returns 0 or -errno.
#ifndef CLINUX_H
#define CLINUX_H

#include <stdint.h>

/// Enables Btrfs simple quotas (kernel 6.7+) on the filesystem holding `path`; falls back to
/// full qgroups when `simple` is 0. Returns 0, or -errno.
int clinux_btrfs_quota_enable(const char *path, int simple);

/// One subvolume's accounted usage, from the quota tree.
typedef struct {
    uint64_t subvolume_id;
    uint64_t referenced;
    uint64_t exclusive;
} clinux_qgroup_usage;

/// Fills up to `capacity` level-0 qgroups of the filesystem holding `path`; `count` gets how many.
/// Returns 0, -ENOENT when quotas are off, or -errno.
int clinux_btrfs_qgroup_usage(const char *path, clinux_qgroup_usage *out, uint32_t capacity, uint32_t *count);

/// Atomically exchanges two paths on the same filesystem (renameat2 RENAME_EXCHANGE).
int clinux_rename_exchange(const char *a, const char *b);

/// Commits the filesystem holding the directory `path` (syncfs). On Btrfs the space of deleted
/// files comes back only at a commit, up to 30 s later otherwise. Returns 0, or -errno.
int clinux_syncfs(const char *path);

/// 1 when `path` is on Btrfs, 0 when it is on another filesystem, -errno on failure.
int clinux_is_on_btrfs(const char *path);

#include <sys/types.h>

/// Starts `path` with `argv` and `envp` (NULL-terminated), its stdin/stdout/stderr on the given
/// descriptors, every other descriptor closed, default signal handling and an empty signal mask,
/// in a new session. Unlike Foundation's Process, nothing of ours stays open in the child, so a
/// program that daemonizes (pg_ctl, pgbouncer -d) does not tie its lifetime to us.
/// Returns 0 and sets `pid`, or an errno value.
int clinux_spawn(const char *path, char *const argv[], char *const envp[], int stdin_fd, int stdout_fd, int stderr_fd, pid_t *pid);

/// pipe2 with O_CLOEXEC. Returns 0 or an errno value.
int clinux_pipe(int fds[2]);

/// Sets a pipe's capacity (F_SETPIPE_SZ; unprivileged callers are capped at
/// /proc/sys/fs/pipe-max-size). Returns the capacity granted, or -errno.
int clinux_pipe_resize(int fd, int bytes);

/// waitpid for one child, retried on EINTR. Returns the exit status (128+signal when killed), or -errno.
int clinux_wait(pid_t pid);

/// One extent of a file, as FIEMAP reports it: where its bytes are on disk.
typedef struct {
    uint64_t logical;
    uint64_t physical;
    uint64_t length;
    uint32_t flags;
} clinux_extent;

/// The extents of the open file `fd` from `start` on (after syncing it), at most `capacity`;
/// `count` gets how many, `last` is 1 when the file's last extent is among them.
/// Returns 0, or -errno (e.g. -EOPNOTSUPP on a filesystem without FIEMAP).
int clinux_fiemap(int fd, uint64_t start, clinux_extent *out, uint32_t capacity, uint32_t *count, int *last);

#endif
