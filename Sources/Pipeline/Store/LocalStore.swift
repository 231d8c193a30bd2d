import CSupport
import Glibc

/// The store on disk (plain files, `.pipeline/` by default):
///
///     format                    store format version
///     store.log                 small blobs and action results, appended (see StoreLog)
///     cas/<sha256>              blobs over 64 KiB, one file each, immutable
///     ac/<key>.json             action results written by earlier versions (still read)
///     tmp/                      files being written
///     workspaces/<id>/          per-workspace state: step records, stat cache, lock
public final class LocalStore: BlobStore, ActionCache {
    public static let formatVersion = 1
    public static let formatName = "pipeline-store"

    public let root: String
    private let hasher = FileHasher()
    private var buffer = [UInt8](repeating: 0, count: 1 << 20)
    private var tempCounter = 0
    /// Tells this instance's temp files from another's in the same process.
    private let tempTag: String
    let log: StoreLog
    /// Blobs up to this size go into `store.log`; larger ones get a file in `cas/`.
    public static let smallBlobLimit = 64 << 10

    /// Opens (creating when absent) a store, checking its format version.
    public convenience init(root: String, create: Bool = true, tempTag: String = "") throws {
        try self.init(root: root, create: create, tempTag: tempTag, log: StoreLog(path: root + "/store.log"))
    }

    /// Another handle on an open store for another thread (the store writer): it shares
    /// the log's index, so a process reads a big log once.
    public convenience init(sharing other: LocalStore, tempTag: String) throws {
        try self.init(root: other.root, create: false, tempTag: tempTag, log: other.log)
    }

    private init(root: String, create: Bool, tempTag: String, log: StoreLog) throws {
        self.root = root
        self.tempTag = tempTag
        self.log = log
        let formatPath = root + "/format"
        if let text = try? FileSystem.readText(formatPath) {
            let fields = text.split(whereSeparator: { $0 == " " || $0 == "\n" })
            guard fields.count >= 2, fields[0] == LocalStore.formatName, let version = Int(fields[1]) else {
                throw PipelineError(.storeFormat, "\(formatPath) is not a pipeline store format file",
                                    path: formatPath, hint: "remove the store with `pipeline clean --store --yes` and run again")
            }
            guard version == LocalStore.formatVersion else {
                let relation = version < LocalStore.formatVersion ? "an older" : "a newer"
                throw PipelineError(.storeFormat,
                                    "the store at \(root) has format \(version), written by \(relation) pipeline; this pipeline reads format \(LocalStore.formatVersion)",
                                    path: root,
                                    hint: version < LocalStore.formatVersion
                                        ? "its cache cannot be reused: `pipeline clean --store --yes` starts a new one (outputs in the workspace stay)"
                                        : "use the newer pipeline, or `pipeline clean --store --yes` to start a new store")
            }
        } else if create {
            try FileSystem.makeDirectories(root + "/tmp")
            try FileSystem.makeDirectories(root + "/cas")
            try FileSystem.makeDirectories(root + "/ac")
            try Materializer.writeAtomically(Array("\(LocalStore.formatName) \(LocalStore.formatVersion)\n".utf8), to: formatPath)
        } else {
            throw PipelineError(.storeFormat, "no pipeline store at \(root)", path: root)
        }
    }

    // MARK: Paths

    // One flat folder each: ext4, xfs and btrfs index large folders, and creating 256
    // fan-out folders cost a fresh store more than the builds it caches.
    public func blobPath(_ digest: Digest) -> String { "\(root)/cas/\(digest.hex)" }

    public func actionPath(_ key: ActionKey) -> String { "\(root)/ac/\(key.digest.hex).json" }

    /// A fresh temporary path inside the store (same filesystem as the store's entries).
    public func temporaryPath() -> String {
        tempCounter += 1
        return "\(root)/tmp/\(getpid())-\(tempTag)\(tempCounter)"
    }

    /// Removes what killed processes left in `tmp/` (named `PID-…` by `temporaryPath`):
    /// files of processes that no longer run. Returns how many.
    @discardableResult
    public func removeStaleTemporaries() -> Int {
        var removed = 0
        for entry in FileSystem.list(root + "/tmp") ?? [] {
            guard let pid = entry.name.split(separator: "-", maxSplits: 1).first.flatMap({ pid_t($0) }), pid != getpid(),
                  !Materializer.isRunning(pid) else { continue }
            if unlink(root + "/tmp/" + entry.name) == 0 { removed += 1 }
        }
        return removed
    }

    /// The state folder of one workspace (its root path's digest names it).
    public static func workspaceStatePath(store: String, workspaceRoot: String) -> String {
        "\(store)/workspaces/\(SHA256.hash(workspaceRoot).hex.prefix(16))"
    }

    public func workspaceState(for workspaceRoot: String) throws -> String {
        let path = LocalStore.workspaceStatePath(store: root, workspaceRoot: workspaceRoot)
        if !FileSystem.exists(path) {
            try FileSystem.makeDirectories(path)
            try Materializer.writeAtomically(Array((workspaceRoot + "\n").utf8), to: path + "/root")
        }
        return path
    }

    // MARK: BlobStore

    public func contains(_ digest: Digest) -> Bool {
        log.location(of: digest, .blob) != nil || FileSystem.exists(blobPath(digest))
    }

    public func put(fileAt path: String) throws -> FileFingerprint {
        let source = open(path, O_RDONLY | O_CLOEXEC)
        guard source >= 0 else { throw FileSystem.ioError("cannot read", path) }
        defer { close(source) }
        // Small files (logs, most outputs): hash first, write only what the store lacks.
        var st = Glibc.stat()
        if fstat(source, &st) == 0, st.st_size <= 1 << 20 {
            let bytes = try FileSystem.read(source, path: path)
            let fingerprint = FileFingerprint(bytes: bytes)
            if !contains(fingerprint.sha256) { _ = try put(bytes: bytes, digest: fingerprint.sha256) }
            return fingerprint
        }
        let temp = temporaryPath()
        let target = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o444)
        // Errors name the store's folder and the file being stored, not the temp file.
        let name = "\(root)/cas (storing \(path))"
        guard target >= 0 else { throw FileSystem.ioError("cannot write", name) }
        var ok = false
        defer { if !ok { unlink(temp) } }
        let sha = SHA256()
        let xxh = XXH128Hasher()
        var size: UInt64 = 0
        do {
            try pump(from: source, path, to: target, name) { pointer, count in
                sha.update(pointer, count: count)
                xxh.update(pointer, count: count)
                size += UInt64(count)
            }
        } catch {
            close(target)
            throw error
        }
        close(target)
        let fingerprint = FileFingerprint(sha256: sha.finish(), xxh128: xxh.finish(), size: size)
        try commit(temp: temp, as: fingerprint.sha256)
        ok = true
        return fingerprint
    }

    public func put(bytes: [UInt8]) throws -> Digest {
        try put(bytes: bytes, digest: SHA256.hash(bytes))
    }

    /// Stores bytes already hashed by the caller.
    @discardableResult
    public func put(bytes: [UInt8], digest: Digest) throws -> Digest {
        if contains(digest) { return digest }
        if bytes.count <= LocalStore.smallBlobLimit {
            try log.append([(.blob, digest, bytes)])
        } else {
            try commit(temp: try writeTemporary(bytes, mode: 0o444, for: digest), as: digest)
        }
        return digest
    }

    /// Stores blobs and then (when given) an action result, small ones in one append: what
    /// a finished step leaves. A result is never visible before its blobs.
    public func save(blobs: [(bytes: [UInt8], digest: Digest)], result: ActionResult?, key: ActionKey?) throws {
        var records: [(kind: StoreLog.Kind, id: Digest, bytes: [UInt8])] = []
        for blob in blobs where !contains(blob.digest) {
            if blob.bytes.count <= LocalStore.smallBlobLimit {
                if !records.contains(where: { $0.id == blob.digest }) { records.append((.blob, blob.digest, blob.bytes)) }
            } else {
                try commit(temp: try writeTemporary(blob.bytes, mode: 0o444, for: blob.digest), as: blob.digest)
            }
        }
        if let result, let key { records.append((.result, key.digest, result.json.canonicalBytes)) }
        try log.append(records)
    }

    /// How a pack (or anything streaming blobs) reads one: its bytes when small, else the
    /// path of its file; nil when the store lacks it. Small blobs are verified here.
    public func blobSource(_ digest: Digest) -> (bytes: [UInt8]?, path: String?)? {
        if let bytes = logBlob(digest) { return (bytes, nil) }
        let path = blobPath(digest)
        return FileSystem.exists(path) ? (nil, path) : nil
    }

    /// A blob's bytes from the log, verified; nil when absent or damaged.
    private func logBlob(_ digest: Digest) -> [UInt8]? {
        guard let location = log.location(of: digest, .blob) else { return nil }
        guard let bytes = log.read(location), SHA256.hash(bytes) == digest else {
            log.forget(blob: digest)
            return nil
        }
        return bytes
    }

    /// A new temp file in the store holding `bytes`; its path.
    private func writeTemporary(_ bytes: [UInt8], mode: mode_t, for digest: Digest) throws -> String {
        let temp = temporaryPath()
        let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else { throw FileSystem.ioError("cannot write", blobPath(digest)) }
        do {
            try FileSystem.writeAll(fd, bytes, path: blobPath(digest))
            close(fd)
        } catch {
            close(fd)
            unlink(temp)
            throw error
        }
        return temp
    }

    /// Moves a finished temp file into place under its digest (an existing blob wins).
    private func commit(temp: String, as digest: Digest) throws {
        let path = blobPath(digest)
        if FileSystem.exists(path) {
            unlink(temp)
            return
        }
        if rename(temp, path) != 0 {
            if errno == ENOENT {
                try FileSystem.makeDirectories(Path.directory(of: path))
                if rename(temp, path) == 0 { return }
            }
            let code = errno
            unlink(temp)
            throw FileSystem.ioError("cannot store blob", path, errno: code)
        }
    }

    public func read(_ digest: Digest) throws -> [UInt8]? {
        if let bytes = logBlob(digest) { return bytes }
        let path = blobPath(digest)
        guard FileSystem.exists(path) else { return nil }
        let bytes = try FileSystem.readFile(path)
        guard SHA256.hash(bytes) == digest else {
            quarantine(digest)
            return nil
        }
        return bytes
    }

    public func copy(_ digest: Digest, to fd: Int32, named name: String) throws -> Bool {
        if let bytes = logBlob(digest) {
            try FileSystem.writeAll(fd, bytes, path: name)
            return true
        }
        let path = blobPath(digest)
        let source = open(path, O_RDONLY | O_CLOEXEC)
        guard source >= 0 else { return false }
        defer { close(source) }
        let sha = SHA256()
        try pump(from: source, path, to: fd, name) { pointer, count in sha.update(pointer, count: count) }
        guard sha.finish() == digest else {
            quarantine(digest)
            return false
        }
        return true
    }

    /// Copies everything from one descriptor to another in 1 MiB chunks, showing each chunk
    /// to `observe` (hashers) on the way.
    private func pump(from source: Int32, _ sourcePath: String, to target: Int32, _ targetPath: String,
                      observe: (UnsafeRawPointer, Int) -> Void) throws {
        try buffer.withUnsafeMutableBytes { raw in
            while true {
                let n = Glibc.read(source, raw.baseAddress, raw.count)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw FileSystem.ioError("cannot read", sourcePath)
                }
                if n == 0 { break }
                observe(raw.baseAddress!, n)
                var offset = 0
                while offset < n {
                    let w = write(target, raw.baseAddress! + offset, n - offset)
                    if w < 0 {
                        if errno == EINTR { continue }
                        throw FileSystem.ioError("cannot write", targetPath)
                    }
                    offset += w
                }
            }
        }
    }

    /// A blob whose bytes do not match its name is removed: the next build recreates it.
    private func quarantine(_ digest: Digest) {
        unlink(blobPath(digest))
    }

    // MARK: ActionCache

    public func result(for key: ActionKey) throws -> ActionResult? {
        let bytes: [UInt8]
        if let location = log.location(of: key.digest, .result), let logged = log.read(location) {
            bytes = logged
        } else if let file = try? FileSystem.readFile(actionPath(key)) {
            bytes = file
        } else {
            return nil
        }
        // A damaged entry is a miss, never an error: the action simply runs again.
        guard let json = try? JSON.parse(bytes), let result = try? ActionResult(json: json) else { return nil }
        return result
    }

    public func store(_ result: ActionResult, for key: ActionKey) throws {
        try log.append([(.result, key.digest, result.json.canonicalBytes)])
    }

    /// Records that these results were used (restored) now, for retention's least-recently-
    /// used order. One append for all of them.
    public func touch(_ keys: [ActionKey]) throws {
        try log.append(keys.map { (.use, $0.digest, []) })
    }

    /// What the store holds, for retention and `store check`: every blob (log record or
    /// file) and result with its size and when it was last written or used.
    public func inventory() -> StoreInventory {
        let index = log.index()
        var inventory = StoreInventory()
        for (digest, location) in index.blobs {
            inventory.blobs[digest] = .init(size: Int64(location.size), time: location.time, inLog: true)
        }
        for entry in FileSystem.list(root + "/cas") ?? [] {
            guard let digest = Digest(hex: entry.name), let st = FileSystem.stat(root + "/cas/" + entry.name) else {
                inventory.foreign.append("cas/" + entry.name)
                continue
            }
            inventory.blobs[digest] = .init(size: Int64(st.size), time: st.mtimeNanos / 1_000_000_000, inLog: false)
        }
        for (key, location) in index.results {
            inventory.results[key] = .init(size: Int64(location.size), time: max(location.time, index.uses[key] ?? 0), inLog: true)
        }
        for entry in FileSystem.list(root + "/ac") ?? [] {
            guard entry.name.hasSuffix(".json"), let key = Digest(hex: entry.name.dropLast(5)), let st = FileSystem.stat(root + "/ac/" + entry.name)
            else {
                inventory.foreign.append("ac/" + entry.name)
                continue
            }
            if inventory.results[key] == nil { inventory.results[key] = .init(size: Int64(st.size), time: st.mtimeNanos / 1_000_000_000, inLog: false) }
        }
        return inventory
    }

    /// Removes what `keep` refuses: log records by rewriting the log (atomic), then blob and
    /// result files. Results go before blobs, so no kept result ever names a removed blob.
    public func remove(blobs: Set<Digest>, results: Set<Digest>) throws {
        let index = log.index()
        if blobs.contains(where: { index.blobs[$0] != nil }) || results.contains(where: { index.results[$0] != nil }) {
            _ = try log.compact { kind, id in
                switch kind {
                case .blob: return !blobs.contains(id)
                case .result: return !results.contains(id)
                case .use: return true
                }
            }
        }
        // Entries of files (big blobs, results of earlier versions): only those that exist.
        let resultFiles = Set((FileSystem.list(root + "/ac") ?? []).map(\.name))
        for key in results where resultFiles.contains(key.hex + ".json") { unlink(actionPath(ActionKey(key))) }
        for digest in blobs where index.blobs[digest] == nil { unlink(blobPath(digest)) }
    }

    /// The log's raw records, for `store check`.
    func logIndex() -> (blobs: [Digest: StoreLog.Location], results: [Digest: StoreLog.Location]) {
        let index = log.index()
        return (index.blobs, index.results)
    }

    func readLog(_ location: StoreLog.Location) -> [UInt8]? { log.read(location) }

    /// Every action key with a result (in the log or, from older versions, in `ac/`).
    public func resultKeys() -> [ActionKey] {
        var keys = Set(log.resultKeys())
        for entry in FileSystem.list(root + "/ac") ?? [] where entry.name.hasSuffix(".json") {
            if let digest = Digest(hex: entry.name.dropLast(5)) { keys.insert(digest) }
        }
        return keys.sorted().map(ActionKey.init)
    }
}
