#ifndef PIPELINE_CSUPPORT_H
#define PIPELINE_CSUPPORT_H

#include <sys/types.h>
#include <stdint.h>

/// Spawns `argv[0]` (searched in PATH of `envp` when it has no slash) with the given
/// environment, working directory and stdout/stderr descriptors (stdin is /dev/null).
/// The child leads a new process group and starts with default signal dispositions and an
/// empty signal mask. Returns 0 and stores the pid, or an errno value.
int pl_spawn(const char *const argv[], const char *const envp[], const char *cwd,
             int stdout_fd, int stderr_fd, pid_t *pid_out);

/// A pidfd for `pid` (readable once the process exits), or -1 with errno set.
int pl_pidfd_open(pid_t pid);

/// Blocks SIGINT, SIGTERM, SIGHUP and SIGUSR1 (pause) in the calling thread (threads it starts inherit
/// this) and returns a non-blocking signalfd that reports them, or -1.
int pl_signalfd_open(void);

/// Reads one pending signal number from a signalfd, 0 when none is pending.
int pl_signalfd_read(int fd);

/// Signals still pending but blocked: returns the first of SIGINT/SIGTERM/SIGHUP or 0.
int pl_pending_termination(void);

/// A pipe whose ends are close-on-exec, or -1.
int pl_pipe_cloexec(int fds[2]);

/// Copies `count` bytes between descriptors in the kernel when it can; -1 on error.
ssize_t pl_copy_range(int in_fd, int out_fd, size_t count);

/// Nanosecond fields of a stat, flattened for Swift.
typedef struct {
    uint64_t dev, ino, size;
    int64_t mtime_ns, ctime_ns;
    uint32_t mode;
    uint32_t kind; /* 1 file, 2 dir, 3 symlink, 0 other */
} pl_stat_t;

/// lstat (or stat when `follow`), relative to `dirfd` (AT_FDCWD for cwd). 0 or errno.
int pl_stat_at(int dirfd, const char *path, int follow, pl_stat_t *out);

/// Monotonic clock in nanoseconds.
uint64_t pl_monotonic_ns(void);
/// Wall clock in nanoseconds since the epoch.
int64_t pl_wall_ns(void);

/// The value of errno after a failed call.
int pl_errno(void);



/// syncfs(2) on the filesystem holding `path`: one flush for many staged files. 0 or errno.
int pl_syncfs_path(const char *path);

/// An anonymous in-memory file (memfd), close-on-exec; -1 on error.
int pl_memfd(const char *name);

/// Acquire load and release store of an int shared between two threads.
int pl_load_acquire(const int *p);
void pl_store_release(int *p, int value);

/// Tell ThreadSanitizer of an ordering it cannot see (a hand-over inside uninstrumented code):
/// what a thread did before `pl_tsan_release(a)` happens before what another does after a
/// later `pl_tsan_acquire(a)`. They do nothing unless built with -fsanitize=thread.
void pl_tsan_acquire(const void *address);
void pl_tsan_release(const void *address);

#endif

// HTTP through libcurl, loaded with dlopen only when a remote cache is configured, so a
// build without one pays nothing (no link-time dependency, no start-up cost).
// 1 when libcurl could be loaded (the first call loads it); else 0 and `error` says why.
int pl_http_load(char *error, size_t error_length);
// One request. `method`: GET, HEAD or PUT. `body`/`body_length`: what a PUT sends.
// `header`: one extra header line (authorization) or NULL. The response body is written to
// `out_fd` (-1: discarded). Returns the HTTP status, or -1 for a transport error (message
// in `error`).
long pl_http_request(const char *method, const char *url, const char *header, const void *body, size_t body_length, int out_fd,
                     long timeout_ms, char *error, size_t error_length);
