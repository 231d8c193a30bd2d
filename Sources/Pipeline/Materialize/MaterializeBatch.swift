import CSupport
import Glibc

/// Many restores made durable at once: each file is written to a temp file beside its
/// target, then one `syncfs` flushes them all, then each is renamed over its target and each
/// folder is synced once. The same guarantee as `Materializer.replace` (old file or new file,
/// never half), for a fraction of the flushes when hundreds of outputs come back at once.
public final class MaterializeBatch {
    private var staged: [(temp: String, target: String)] = []
    private let materializer: Materializer

    public init(materializer: Materializer) {
        self.materializer = materializer
    }

    public var isEmpty: Bool { staged.isEmpty }

    /// Writes the blob to a temp file beside the target; false (nothing staged) when the
    /// blob is missing or corrupt.
    public func stage(_ file: OutputFile, from store: BlobStore) throws -> Bool {
        let path = try materializer.absolutePath(file.path)
        try FileSystem.makeDirectories(Path.directory(of: path))
        let temp = Materializer.temporaryName(for: path)
        if let target = file.linkTarget {
            guard symlink(target, temp) == 0 else { throw FileSystem.ioError("cannot create symlink", path) }
            staged.append((temp, path))
            return true
        }
        let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw FileSystem.ioError("cannot write", path) }
        do {
            let ok = try store.copy(file.digest, to: fd, named: path)
            guard ok, fchmod(fd, mode_t(file.mode & 0o7777)) == 0 else {
                close(fd)
                unlink(temp)
                return false
            }
            close(fd)
        } catch {
            close(fd)
            unlink(temp)
            throw error
        }
        staged.append((temp, path))
        return true
    }

    /// Drops the files staged after `mark` (a step whose restore failed half-way).
    public func discard(after mark: Int) {
        for entry in staged[mark...] { unlink(entry.temp) }
        staged.removeSubrange(mark...)
    }

    public var mark: Int { staged.count }

    /// Flushes, renames and syncs folders. On failure the remaining temp files are removed.
    public func commit() throws {
        guard !staged.isEmpty else { return }
        defer { staged.removeAll() }
        let rc = pl_syncfs_path(materializer.root)
        if rc != 0 {
            discard(after: 0)
            throw FileSystem.ioError("cannot flush restored files in", materializer.root, errno: rc)
        }
        var folders = Set<String>()
        for (index, entry) in staged.enumerated() {
            guard rename(entry.temp, entry.target) == 0 else {
                let code = errno
                for rest in staged[index...] { unlink(rest.temp) }
                throw FileSystem.ioError("cannot replace", entry.target, errno: code)
            }
            folders.insert(Path.directory(of: entry.target))
        }
        for folder in folders.sorted() { FileSystem.syncDirectory(folder) }
    }

    deinit { for entry in staged { unlink(entry.temp) } }
}
