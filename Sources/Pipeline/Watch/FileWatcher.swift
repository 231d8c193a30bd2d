import Glibc

/// Changes in watched folders, from Linux inotify: one descriptor, one watch per folder (not
/// below it). `descriptor` becomes readable when something changed; `read()` drains what the
/// kernel queued without blocking.
public final class FileWatcher {
    /// Something happened to `path` (absolute): created, written, removed, renamed or its
    /// metadata changed. `isDirectory` when the path is (or was) a folder.
    public struct Change: Sendable, Equatable {
        public var path: String
        public var isDirectory: Bool
    }

    /// Why a folder could not be watched.
    public enum Refusal: Error, Equatable {
        /// Gone, not a folder, or unreadable: nothing to watch there.
        case unavailable
        /// The per-user limit (fs.inotify.max_user_watches) is reached.
        case limitReached
    }

    public let descriptor: Int32
    private var pathByWatch: [Int32: String] = [:]
    private var watchByPath: [String: Int32] = [:]
    private var buffer = [UInt8](repeating: 0, count: 64 * 1024)

    /// Writes that finish, files and folders appearing or leaving (editors that save by
    /// rename), metadata (a touch), and the watched folder itself going away.
    static let mask = UInt32(IN_CLOSE_WRITE | IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_ATTRIB
                             | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR | IN_EXCL_UNLINK)

    public init() throws {
        descriptor = inotify_init1(Int32(IN_CLOEXEC | IN_NONBLOCK))
        guard descriptor >= 0 else {
            throw PipelineError(.io, "cannot watch files for changes (inotify): \(FileSystem.errorText(errno))",
                                hint: "watch mode needs Linux inotify; raise fs.inotify.max_user_instances if the limit is reached")
        }
    }

    deinit { close(descriptor) }

    /// The folders watched now.
    public var folders: Set<String> { Set(watchByPath.keys) }

    /// Watches `folder` (absolute). Watching one already watched does nothing.
    public func watch(_ folder: String) throws(Refusal) {
        if watchByPath[folder] != nil { return }
        let wd = inotify_add_watch(descriptor, folder, FileWatcher.mask)
        guard wd >= 0 else { throw errno == ENOSPC ? .limitReached : .unavailable }
        // The same folder under another name (a symlink) gives the same watch: keep one name.
        if let previous = pathByWatch[wd] { watchByPath[previous] = nil }
        pathByWatch[wd] = folder
        watchByPath[folder] = wd
    }

    /// Stops watching `folder`; its events still queued are dropped when read.
    public func unwatch(_ folder: String) {
        guard let wd = watchByPath.removeValue(forKey: folder) else { return }
        pathByWatch[wd] = nil
        _ = inotify_rm_watch(descriptor, wd)
    }

    /// Everything queued now; `overflowed` when the kernel dropped events (its queue was
    /// full), so any file may have changed unseen.
    public func read() -> (changes: [Change], overflowed: Bool) {
        var changes: [Change] = []
        var overflowed = false
        while true {
            let count = buffer.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress!, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { break }
            buffer.withUnsafeBytes { bytes in
                var offset = 0
                let header = MemoryLayout<inotify_event>.size
                while offset + header <= count {
                    let wd = bytes.loadUnaligned(fromByteOffset: offset, as: Int32.self)
                    let mask = bytes.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self)
                    let length = Int(bytes.loadUnaligned(fromByteOffset: offset + 12, as: UInt32.self))
                    let nameBytes = bytes[(offset + header)..<min(count, offset + header + length)]
                    offset += header + length
                    if mask & UInt32(IN_Q_OVERFLOW) != 0 {
                        overflowed = true
                        continue
                    }
                    guard let folder = pathByWatch[wd] else { continue }
                    if mask & UInt32(IN_IGNORED) != 0 {
                        // The kernel removed the watch (the folder is gone).
                        pathByWatch[wd] = nil
                        if watchByPath[folder] == wd { watchByPath[folder] = nil }
                        continue
                    }
                    let isDirectory = mask & UInt32(IN_ISDIR) != 0
                    if mask & UInt32(IN_DELETE_SELF | IN_MOVE_SELF) != 0 {
                        changes.append(Change(path: folder, isDirectory: true))
                        continue
                    }
                    let name = String(decoding: nameBytes.prefix { $0 != 0 }, as: UTF8.self)
                    guard !name.isEmpty else { continue }
                    changes.append(Change(path: folder == "/" ? "/" + name : folder + "/" + name, isDirectory: isDirectory))
                }
            }
        }
        return (changes, overflowed)
    }
}
