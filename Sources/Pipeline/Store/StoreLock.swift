import Glibc

/// The store's gc lock (`<store>/gc.lock`): every build, capture, pack build and replay
/// holds it shared for as long as it reads or writes the store; `pipeline gc` holds it
/// exclusive. So gc never removes a blob a running build has written and not yet named in
/// a result, or is about to restore. The kernel drops it when the holder dies.
public final class StoreLock {
    private let fd: Int32

    /// `wait: false` fails at once with `lease_conflict` when the other side holds it.
    public init(storeRoot: String, exclusive: Bool, wait: Bool = true, waiting: (() -> Void)? = nil) throws {
        try FileSystem.makeDirectories(storeRoot)
        let path = storeRoot + "/gc.lock"
        var fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        // A store on a read-only mount (or not ours to write): a lock taken on a read-only
        // descriptor still excludes gc, so readers (dry runs, checks, packs) go on.
        let reason = errno
        if fd < 0 && (reason == EROFS || reason == EACCES) { fd = open(path, O_RDONLY | O_CLOEXEC) }
        guard fd >= 0 else { throw FileSystem.ioError("cannot open", path, errno: reason) }
        self.fd = fd
        let mode = exclusive ? LOCK_EX : LOCK_SH
        if flock(fd, mode | LOCK_NB) == 0 { return }
        guard wait else {
            close(fd)
            throw PipelineError(.leaseConflict, exclusive ? "a build or another gc is using the store at \(storeRoot)" : "pipeline gc is cleaning the store at \(storeRoot)",
                                hint: "try again when it is done")
        }
        waiting?()
        while flock(fd, mode) != 0 {
            if errno != EINTR {
                close(fd)
                throw FileSystem.ioError("cannot lock", path)
            }
        }
    }

    deinit {
        flock(fd, LOCK_UN)
        close(fd)
    }
}
