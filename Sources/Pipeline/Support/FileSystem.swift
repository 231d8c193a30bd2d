import CSupport
import Glibc

/// What `stat` says about a path, with nanosecond times.
public struct FileStat: Sendable, Equatable {
    public enum Kind: UInt32, Sendable { case other = 0, file = 1, directory = 2, symlink = 3 }
    public var device: UInt64
    public var inode: UInt64
    public var size: UInt64
    public var mtimeNanos: Int64
    public var ctimeNanos: Int64
    public var mode: UInt32
    public var kind: Kind
}

/// Thin, allocation-light wrappers over POSIX calls. Paths are plain strings.
public enum FileSystem {
    public static func errorText(_ code: Int32) -> String { String(cString: strerror(code)) }

    public static func ioError(_ what: String, _ path: String, errno code: Int32 = pl_errno()) -> PipelineError {
        PipelineError(.io, "\(what) \(path): \(errorText(code))", path: path, hint: hint(for: code, path: path))
    }

    /// What to do about the failures a user can fix outside pipeline: a full disk, a
    /// read-only mount, missing permissions, a file size limit.
    static func hint(for code: Int32, path: String) -> String? {
        switch code {
        case ENOSPC, EDQUOT: return "the disk (or quota) holding \(Path.directory(of: path)) is full: free some space and run again"
        case EROFS: return "\(Path.directory(of: path)) is on a read-only file system"
        case EACCES, EPERM: return "check the permissions of \(Path.directory(of: path)) (pipeline runs as uid \(getuid()))"
        case EFBIG: return "the file is larger than the file size limit (ulimit -f) allows"
        default: return nil
        }
    }

    /// `lstat` (or `stat` when `follow`), nil when the path does not exist.
    public static func stat(_ path: String, follow: Bool = false) -> FileStat? {
        var raw = pl_stat_t()
        guard pl_stat_at(AT_FDCWD, path, follow ? 1 : 0, &raw) == 0 else { return nil }
        return FileStat(device: raw.dev, inode: raw.ino, size: raw.size, mtimeNanos: raw.mtime_ns,
                        ctimeNanos: raw.ctime_ns, mode: raw.mode, kind: FileStat.Kind(rawValue: raw.kind) ?? .other)
    }

    public static func exists(_ path: String) -> Bool { stat(path) != nil }

    public static func isDirectory(_ path: String) -> Bool { stat(path, follow: true)?.kind == .directory }

    public static func readFile(_ path: String) throws -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ioError("cannot read", path) }
        defer { close(fd) }
        return try read(fd, path: path)
    }

    /// Everything left to read from an open descriptor.
    public static func read(_ fd: Int32, path: String) throws -> [UInt8] {
        var st = Glibc.stat()
        var capacity = 1 << 16
        if fstat(fd, &st) == 0, st.st_size > 0 { capacity = Int(st.st_size) + 1 }
        var result = [UInt8](repeating: 0, count: capacity)
        var count = 0
        while true {
            if count == result.count { result.append(contentsOf: repeatElement(0, count: result.count)) }
            let n = result.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + count, $0.count - count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw ioError("cannot read", path)
            }
            if n == 0 { break }
            count += n
        }
        result.removeSubrange(count...)
        return result
    }

    public static func readText(_ path: String) throws -> String {
        String(decoding: try readFile(path), as: UTF8.self)
    }

    /// Writes all bytes to a descriptor, retrying short writes.
    public static func writeAll(_ fd: Int32, _ bytes: [UInt8], path: String) throws {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 {
                if errno == EINTR { continue }
                throw ioError("cannot write", path)
            }
            offset += n
        }
    }

    /// `mkdir -p`.
    public static func makeDirectories(_ path: String, mode: mode_t = 0o755) throws {
        if path.isEmpty || path == "/" || path == "." { return }
        if mkdir(path, mode) == 0 { return }
        let code = errno
        if code == EEXIST {
            if isDirectory(path) { return }
            throw ioError("not a directory:", path, errno: ENOTDIR)
        }
        guard code == ENOENT else { throw ioError("cannot create directory", path, errno: code) }
        try makeDirectories(Path.directory(of: path), mode: mode)
        if mkdir(path, mode) != 0 && errno != EEXIST { throw ioError("cannot create directory", path) }
    }

    /// Names in a directory (without `.` and `..`), unsorted, with their kind when the
    /// directory entry tells it.
    public static func list(_ path: String) -> [(name: String, kind: FileStat.Kind?)]? {
        guard let dir = opendir(path) else { return nil }
        defer { closedir(dir) }
        var entries: [(name: String, kind: FileStat.Kind?)] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                let length = raw.firstIndex(of: 0) ?? raw.count
                return String(decoding: UnsafeRawBufferPointer(rebasing: raw[0..<length]), as: UTF8.self)
            }
            if name == "." || name == ".." { continue }
            let kind: FileStat.Kind?
            switch Int32(entry.pointee.d_type) {
            case Int32(DT_REG): kind = .file
            case Int32(DT_DIR): kind = .directory
            case Int32(DT_LNK): kind = .symlink
            case Int32(DT_UNKNOWN): kind = nil
            default: kind = .other
            }
            entries.append((name, kind))
        }
        return entries
    }

    /// Removes a file, a symlink or a whole tree; a missing path is not an error.
    public static func remove(_ path: String) throws {
        guard let st = stat(path) else { return }
        if st.kind == .directory {
            for entry in list(path) ?? [] { try remove(path + "/" + entry.name) }
            if rmdir(path) != 0 && errno != ENOENT { throw ioError("cannot remove", path) }
        } else if unlink(path) != 0 && errno != ENOENT {
            throw ioError("cannot remove", path)
        }
    }

    /// fsync of a directory, so a rename inside it is durable.
    public static func syncDirectory(_ path: String) {
        let fd = open(path.isEmpty ? "." : path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        fsync(fd)
        close(fd)
    }

    public static func currentDirectory() -> String {
        var buffer = [CChar](repeating: 0, count: 4096)
        guard getcwd(&buffer, buffer.count) != nil else { return "." }
        return buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }

    /// The canonical absolute path, resolving symlinks; nil when it does not exist.
    public static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}

/// Pure string operations on `/`-separated paths.
public enum Path {
    public static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        if slash == path.startIndex { return "/" }
        return String(path[..<slash])
    }

    public static func lastComponent(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return path }
        return String(path[path.index(after: slash)...])
    }

    public static func join(_ base: String, _ relative: String) -> String {
        if relative.hasPrefix("/") { return relative }
        if base.isEmpty || base == "." { return relative }
        return base.hasSuffix("/") ? base + relative : base + "/" + relative
    }

    /// Lexically normalizes a workspace-relative path: drops `.` and empty components,
    /// resolves `..`. Returns nil when the path is absolute or climbs above the root.
    public static func normalizeRelative(_ path: String) -> String? {
        if isNormalRelative(path) { return path }
        if path.hasPrefix("/") { return nil }
        var parts: [Substring] = []
        for part in path.split(separator: "/", omittingEmptySubsequences: true) {
            if part == "." { continue }
            if part == ".." {
                if parts.isEmpty { return nil }
                parts.removeLast()
                continue
            }
            parts.append(part)
        }
        return parts.joined(separator: "/")
    }

    /// Already normal: no leading or trailing `/`, no empty, `.` or `..` component.
    static func isNormalRelative(_ path: String) -> Bool {
        var previous: UInt8 = UInt8(ascii: "/")
        var dots = 0  // dots since the last slash, -1 once another character appears
        for c in path.utf8 {
            if c == UInt8(ascii: "/") {
                if previous == UInt8(ascii: "/") || dots > 0 { return false }
                dots = 0
            } else if c == UInt8(ascii: "."), dots >= 0, dots < 2 {
                dots += 1
            } else {
                dots = -1
            }
            previous = c
        }
        return !path.isEmpty && previous != UInt8(ascii: "/") && dots <= 0
    }

    /// Whether `path` is `root` or lies inside it (both absolute and normalized).
    public static func isInside(_ path: String, root: String) -> Bool {
        if path == root { return true }
        let prefix = root.hasSuffix("/") ? root : root + "/"
        return path.hasPrefix(prefix)
    }
}
