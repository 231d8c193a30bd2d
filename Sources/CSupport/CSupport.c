#define _GNU_SOURCE
#include "CSupport.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <pthread.h>

int pl_spawn(const char *const argv[], const char *const envp[], const char *cwd,
             int stdout_fd, int stderr_fd, pid_t *pid_out) {
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    int rc = posix_spawn_file_actions_init(&actions);
    if (rc != 0) return rc;
    rc = posix_spawnattr_init(&attr);
    if (rc != 0) { posix_spawn_file_actions_destroy(&actions); return rc; }

    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    if (stdout_fd >= 0) posix_spawn_file_actions_adddup2(&actions, stdout_fd, 1);
    if (stderr_fd >= 0) posix_spawn_file_actions_adddup2(&actions, stderr_fd, 2);
    if (cwd != NULL) posix_spawn_file_actions_addchdir_np(&actions, cwd);

    sigset_t empty, reset;
    sigemptyset(&empty);
    /* Only the signals a caller commonly ignores or this process touches: resetting all 64
       costs a system call each in every child. */
    sigemptyset(&reset);
    sigaddset(&reset, SIGPIPE);
    sigaddset(&reset, SIGINT);
    sigaddset(&reset, SIGTERM);
    sigaddset(&reset, SIGHUP);
    sigaddset(&reset, SIGUSR1);
    sigaddset(&reset, SIGQUIT);
    sigaddset(&reset, SIGCHLD);
    sigaddset(&reset, SIGXFSZ);
    posix_spawnattr_setsigmask(&attr, &empty);
    posix_spawnattr_setsigdefault(&attr, &reset);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
                                        POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_USEVFORK);

    pid_t pid = 0;
    if (strchr(argv[0], '/') != NULL) {
        rc = posix_spawn(&pid, argv[0], &actions, &attr, (char *const *)argv, (char *const *)envp);
    } else {
        /* posix_spawnp searches the caller's PATH; search the child's instead. */
        const char *path = "/usr/local/bin:/usr/bin:/bin";
        for (const char *const *e = envp; *e != NULL; e++) {
            if (strncmp(*e, "PATH=", 5) == 0) { path = *e + 5; break; }
        }
        rc = ENOENT;
        char candidate[4096];
        const char *p = path;
        while (*p != '\0' || p == path) {
            const char *colon = strchr(p, ':');
            size_t len = colon ? (size_t)(colon - p) : strlen(p);
            size_t need = (len == 0 ? 1 : len) + 1 + strlen(argv[0]) + 1;
            if (need < sizeof candidate) {
                if (len == 0) { strcpy(candidate, "."); }
                else { memcpy(candidate, p, len); candidate[len] = '\0'; }
                strcat(candidate, "/");
                strcat(candidate, argv[0]);
                if (access(candidate, X_OK) == 0) {
                    rc = posix_spawn(&pid, candidate, &actions, &attr, (char *const *)argv,
                                     (char *const *)envp);
                    break;
                }
            }
            if (colon == NULL) break;
            p = colon + 1;
        }
    }
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    if (rc == 0) *pid_out = pid;
    return rc;
}

int pl_pidfd_open(pid_t pid) {
    return (int)syscall(SYS_pidfd_open, pid, 0);
}

int pl_signalfd_open(void) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGUSR1);
    if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0) return -1;
    return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

int pl_signalfd_read(int fd) {
    struct signalfd_siginfo info;
    ssize_t n = read(fd, &info, sizeof info);
    if (n != (ssize_t)sizeof info) return 0;
    return (int)info.ssi_signo;
}

int pl_pending_termination(void) {
    sigset_t pending;
    if (sigpending(&pending) != 0) return 0;
    if (sigismember(&pending, SIGINT)) return SIGINT;
    if (sigismember(&pending, SIGTERM)) return SIGTERM;
    if (sigismember(&pending, SIGHUP)) return SIGHUP;
    return 0;
}

int pl_pipe_cloexec(int fds[2]) {
    return pipe2(fds, O_CLOEXEC);
}

ssize_t pl_copy_range(int in_fd, int out_fd, size_t count) {
    size_t done = 0;
    while (done < count) {
        ssize_t n = copy_file_range(in_fd, NULL, out_fd, NULL, count - done, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (done == 0 && (errno == EXDEV || errno == ENOSYS || errno == EINVAL ||
                              errno == EOPNOTSUPP)) {
                char buf[1 << 16];
                for (;;) {
                    ssize_t r = read(in_fd, buf, sizeof buf);
                    if (r < 0) { if (errno == EINTR) continue; return -1; }
                    if (r == 0) break;
                    ssize_t off = 0;
                    while (off < r) {
                        ssize_t w = write(out_fd, buf + off, (size_t)(r - off));
                        if (w < 0) { if (errno == EINTR) continue; return -1; }
                        off += w;
                    }
                    done += (size_t)r;
                }
                return (ssize_t)done;
            }
            return -1;
        }
        if (n == 0) break;
        done += (size_t)n;
    }
    return (ssize_t)done;
}

int pl_stat_at(int dirfd, const char *path, int follow, pl_stat_t *out) {
    struct stat st;
    if (fstatat(dirfd, path, &st, follow ? 0 : AT_SYMLINK_NOFOLLOW) != 0) return errno;
    out->dev = (uint64_t)st.st_dev;
    out->ino = (uint64_t)st.st_ino;
    out->size = (uint64_t)st.st_size;
    out->mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
    out->ctime_ns = (int64_t)st.st_ctim.tv_sec * 1000000000LL + st.st_ctim.tv_nsec;
    out->mode = (uint32_t)(st.st_mode & 07777);
    if (S_ISREG(st.st_mode)) out->kind = 1;
    else if (S_ISDIR(st.st_mode)) out->kind = 2;
    else if (S_ISLNK(st.st_mode)) out->kind = 3;
    else out->kind = 0;
    return 0;
}

uint64_t pl_monotonic_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

int64_t pl_wall_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int pl_errno(void) { return errno; }

int pl_syncfs_path(const char *path) {
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return errno;
    int rc = syncfs(fd) == 0 ? 0 : errno;
    close(fd);
    return rc;
}

int pl_memfd(const char *name) {
    return memfd_create(name, MFD_CLOEXEC);
}

int pl_load_acquire(const int *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }

void pl_store_release(int *p, int value) { __atomic_store_n(p, value, __ATOMIC_RELEASE); }

#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define PL_TSAN 1
void __tsan_acquire(void *address);
void __tsan_release(void *address);
#endif
#endif

void pl_tsan_acquire(const void *address) {
#ifdef PL_TSAN
    __tsan_acquire((void *)address);
#else
    (void)address;
#endif
}

void pl_tsan_release(const void *address) {
#ifdef PL_TSAN
    __tsan_release((void *)address);
#else
    (void)address;
#endif
}
