import CSupport
import Glibc

/// The one way a user-visible file is written: a temp file in the same directory, fsync,
/// rename over the target, fsync the directory. A crash leaves the old file or the new one,
/// never half of either. Paths that escape the workspace are refused.
public struct Materializer {
    /// The workspace root, absolute and symlink-free.
    public let root: String
    /// Test hook: runs after the temp file is complete, before the rename.
    public var beforeRename: (@Sendable (String) throws -> Void)?

    public init(root: String) {
        self.root = root
    }

    /// Refuses a workspace-relative path whose existing parent resolves outside the workspace
    /// (through a symlink), or that climbs out lexically.
    public func absolutePath(_ relative: String) throws -> String {
        guard let normalized = Path.normalizeRelative(relative), !normalized.isEmpty else {
            throw PipelineError(.pathEscapes, "refusing to write '\(relative)': it is outside the workspace", path: relative)
        }
        let absolute = root + "/" + normalized
        var parent = Path.directory(of: absolute)
        while !FileSystem.exists(parent), parent.count > root.count { parent = Path.directory(of: parent) }
        guard let real = FileSystem.realPath(parent), Path.isInside(real, root: root) else {
            throw PipelineError(.pathEscapes, "refusing to write '\(relative)': its folder leads outside the workspace (\(parent))", path: relative)
        }
        return absolute
    }

    /// Writes `bytes` to a workspace-relative path atomically.
    public func write(_ bytes: [UInt8], to relative: String, mode: UInt32 = 0o644) throws {
        let path = try absolutePath(relative)
        try Materializer.replace(path, mode: mode, beforeRename: beforeRename) { fd, name in
            try FileSystem.writeAll(fd, bytes, path: name)
        }
    }

    /// Restores a blob to a workspace-relative path atomically; false when the blob is missing
    /// or corrupt (the old file stays).
    public func restore(_ file: OutputFile, from store: BlobStore) throws -> Bool {
        let path = try absolutePath(file.path)
        if let target = file.linkTarget {
            try FileSystem.makeDirectories(Path.directory(of: path))
            let temp = Materializer.temporaryName(for: path)
            guard symlink(target, temp) == 0 else { throw FileSystem.ioError("cannot create symlink", path) }
            guard rename(temp, path) == 0 else {
                let code = errno
                unlink(temp)
                throw FileSystem.ioError("cannot restore", path, errno: code)
            }
            return true
        }
        do {
            try Materializer.replace(path, mode: file.mode, beforeRename: beforeRename) { fd, name in
                if try !store.copy(file.digest, to: fd, named: name) { throw Missing() }
            }
            return true
        } catch is Missing {
            return false
        }
    }

    struct Missing: Error {}

    public static func temporaryName(for path: String) -> String {
        let directory = Path.directory(of: path)
        let name = Path.lastComponent(path)
        return "\(directory)/.\(name).tmp-\(getpid())-\(pl_monotonic_ns() % 1_000_000_007)"
    }

    /// The process that made a temp file named like `temporaryName` (`.NAME.tmp-PID-N`).
    public static func temporaryOwner(_ name: String) -> pid_t? {
        guard name.hasPrefix("."), let range = name.ranges(of: ".tmp-").last, range.lowerBound > name.index(after: name.startIndex) else { return nil }
        let parts = name[range.upperBound...].split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) }) else { return nil }
        return pid_t(parts[0])
    }

    /// Whether a process with this id runs on this host (a zombie counts).
    public static func isRunning(_ pid: pid_t) -> Bool {
        pid > 0 && (kill(pid, 0) == 0 || errno == EPERM)
    }

    /// Removes the temp files a killed process left in `folder` (names starting with
    /// `prefix`): a SIGKILL between creating the temp file and its rename leaves one beside
    /// the intact old file. Only those whose process is gone (and never this process's, which
    /// another thread may be writing) are removed, so a writer that still runs is never
    /// disturbed. Cheap: one listing. Returns how many it removed.
    @discardableResult
    public static func removeStaleTemporaries(in folder: String, prefix: String = ".") -> Int {
        var removed = 0
        for entry in FileSystem.list(folder) ?? [] where entry.name.hasPrefix(prefix) {
            guard let pid = temporaryOwner(entry.name), pid != getpid(), !isRunning(pid) else { continue }
            if unlink(folder + "/" + entry.name) == 0 { removed += 1 }
        }
        return removed
    }

    /// Writes an absolute path atomically (store files, reports). `durable: false` skips the
    /// flushes for state that is a cache, checksummed and rebuilt when lost: a crash then
    /// leaves the old file, the new one, or (after power loss) none, never a torn one in use.
    public static func writeAtomically(_ bytes: [UInt8], to path: String, mode: UInt32 = 0o644, durable: Bool = true) throws {
        try replace(path, mode: mode, beforeRename: nil, durable: durable) { fd, name in try FileSystem.writeAll(fd, bytes, path: name) }
    }

    /// The core protocol: `fill` writes the temp file; then fsync, rename, fsync directory.
    /// On any error the temp file is removed and the old file is untouched. Errors name the
    /// target (what the user knows), not the temp file: `fill` gets that name for its own.
    static func replace(_ path: String, mode: UInt32, beforeRename: (@Sendable (String) throws -> Void)?, durable: Bool = true,
                        fill: (Int32, String) throws -> Void) throws {
        let directory = Path.directory(of: path)
        try FileSystem.makeDirectories(directory)
        let temp = temporaryName(for: path)
        let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw FileSystem.ioError("cannot write", path) }
        var closed = false
        do {
            try fill(fd, path)
            guard fchmod(fd, mode_t(mode & 0o7777)) == 0 else { throw FileSystem.ioError("cannot set mode of", path) }
            guard !durable || fsync(fd) == 0 else { throw FileSystem.ioError("cannot flush", path) }
            closed = true
            guard close(fd) == 0 else { throw FileSystem.ioError("cannot write", path) }
            try beforeRename?(temp)
            guard rename(temp, path) == 0 else { throw FileSystem.ioError("cannot replace", path) }
        } catch {
            if !closed { close(fd) }
            unlink(temp)
            throw error
        }
        if durable { FileSystem.syncDirectory(directory) }
    }
}
