import CSupport
import Glibc

/// One run at a time per workspace: an exclusive `flock` on the workspace's lock file. The
/// kernel drops it when the process dies, so a crashed run never leaves a stale lock.
public final class WorkspaceLock {
    private let fd: Int32
    public let path: String

    /// Takes the lock; while another process holds it, calls `waiting` once with that
    /// process's description and polls (so an interrupt is noticed), or throws
    /// `lease_conflict` when `wait` is false.
    public init(path: String, wait: Bool, waiting: (String) -> Void, interrupted: () -> Bool) throws {
        self.path = path
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw FileSystem.ioError("cannot open lock", path) }
        var announced = false
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            guard errno == EWOULDBLOCK || errno == EINTR else {
                let code = errno
                close(fd)
                throw FileSystem.ioError("cannot lock", path, errno: code)
            }
            let holder = (try? FileSystem.readText(path))?.split(separator: "\n").first.map(String.init) ?? "another pipeline process"
            guard wait else {
                close(fd)
                throw PipelineError(.leaseConflict, "another run holds this workspace (\(holder))", path: path,
                                    hint: "wait for it to finish, or run again without --no-wait to queue behind it")
            }
            if !announced {
                waiting(holder)
                announced = true
            }
            if interrupted() {
                close(fd)
                throw PipelineError(.interrupted, "interrupted while waiting for another run")
            }
            usleep(20_000)
        }
        let note = "pid \(getpid()) since \(pl_wall_ns() / 1_000_000_000)\n"
        _ = ftruncate(fd, 0)
        _ = pwrite(fd, note, note.utf8.count, 0)
    }

    deinit {
        _ = ftruncate(fd, 0)
        close(fd)
    }
}
