import CSupport

/// Remembers what each file hashed to, keyed by what `stat` says about it. A file whose
/// (device, inode, size, mtime, ctime) is unchanged is not read again; when only its times
/// changed (touch, git checkout, CI cache restore), an XXH3-128 pass proves the content is
/// the same before anyone pays for SHA-256.
public final class StatCache {
    public struct Entry: Sendable, Equatable {
        public var device: UInt64
        public var inode: UInt64
        public var size: UInt64
        public var mtimeNanos: Int64
        public var ctimeNanos: Int64
        public var xxh: XXH128
        public var sha256: Digest
        /// When the content was last proven to match (wall clock, ns).
        public var verifiedAt: Int64

        func sameStat(_ st: FileStat) -> Bool {
            device == st.device && inode == st.inode && size == st.size && mtimeNanos == st.mtimeNanos && ctimeNanos == st.ctimeNanos
        }
    }

    /// How the last lookup was answered (for tests and statistics).
    public enum Answer: Sendable { case stat, quickHash, fullHash }

    static let magic = "PLSTAT01"
    /// A file changed less than this before it was hashed may change again within the same
    /// timestamp tick: such entries are re-proven with XXH3 instead of trusted by stat.
    /// Timestamps advance in kernel ticks (≤ 10 ms); 100 ms leaves a wide margin.
    public var racyWindowNanos: Int64 = 100_000_000

    public let path: String?
    public private(set) var entries: [String: Entry] = [:]
    public private(set) var isDirty = false
    public var counts: [Answer: Int] {
        var result = answers
        result[.stat] = statAnswers
        return result
    }
    private var answers: [Answer: Int] = [.quickHash: 0, .fullHash: 0]
    private var statAnswers = 0
    private let hasher = FileHasher()

    /// Loads the cache at `path` (a missing or damaged file is an empty cache).
    public init(path: String?) {
        self.path = path
        guard let path, let bytes = try? FileSystem.readFile(path) else { return }
        entries = StatCache.decode(bytes) ?? [:]
    }

    /// The SHA-256 of a file (following a symlink), nil when it does not exist or is not a file.
    public func digest(of absolutePath: String, key: String) throws -> (digest: Digest, stat: FileStat)? {
        guard let st = FileSystem.stat(absolutePath, follow: true), st.kind == .file else { return nil }
        return (try digest(of: absolutePath, key: key, stat: st), st)
    }

    public func digest(of absolutePath: String, key: String, stat st: FileStat) throws -> Digest {
        if var entry = entries[key], entry.size == st.size {
            if entry.sameStat(st), entry.verifiedAt - max(st.mtimeNanos, st.ctimeNanos) > racyWindowNanos {
                statAnswers += 1
                return entry.sha256
            }
            let now = pl_wall_ns()
            let quick = try hasher.quickFingerprint(absolutePath)
            if quick == entry.xxh {
                answers[.quickHash, default: 0] += 1
                entry.device = st.device
                entry.inode = st.inode
                entry.mtimeNanos = st.mtimeNanos
                entry.ctimeNanos = st.ctimeNanos
                entry.verifiedAt = now
                entries[key] = entry
                isDirty = true
                return entry.sha256
            }
        }
        answers[.fullHash, default: 0] += 1
        let now = pl_wall_ns()
        let fingerprint = try hasher.fingerprint(absolutePath)
        record(key: key, stat: st, fingerprint: fingerprint, at: now)
        return fingerprint.sha256
    }

    /// Records a file whose content was just hashed elsewhere (an output stored in the CAS).
    public func record(key: String, stat st: FileStat, fingerprint: FileFingerprint, at now: Int64 = pl_wall_ns()) {
        entries[key] = Entry(device: st.device, inode: st.inode, size: st.size, mtimeNanos: st.mtimeNanos, ctimeNanos: st.ctimeNanos,
                             xxh: fingerprint.xxh128, sha256: fingerprint.sha256, verifiedAt: now)
        isDirty = true
    }

    public func forget(_ key: String) {
        if entries.removeValue(forKey: key) != nil { isDirty = true }
    }

    /// Writes the cache back when it changed (atomically; a torn file reads as empty).
    public func save() throws {
        guard isDirty, let path else { return }
        try Materializer.writeAtomically(StatCache.encode(entries), to: path, durable: false)
        isDirty = false
    }

    static func encode(_ entries: [String: Entry]) -> [UInt8] {
        var w = BinaryWriter(magic: magic)
        w.u32(UInt32(entries.count))
        for (key, e) in entries {
            w.string(key)
            w.u64(e.device); w.u64(e.inode); w.u64(e.size)
            w.i64(e.mtimeNanos); w.i64(e.ctimeNanos)
            w.u64(e.xxh.low); w.u64(e.xxh.high)
            w.digest(e.sha256)
            w.i64(e.verifiedAt)
        }
        return ChecksummedFile.seal(w)
    }

    static func decode(_ bytes: [UInt8]) -> [String: Entry]? {
        guard var r = ChecksummedFile.open(bytes, magic: magic) else { return nil }
        do {
            let count = Int(try r.u32())
            var entries: [String: Entry] = [:]
            entries.reserveCapacity(count)
            for _ in 0..<count {
                let key = try r.string()
                let e = Entry(device: try r.u64(), inode: try r.u64(), size: try r.u64(), mtimeNanos: try r.i64(), ctimeNanos: try r.i64(),
                              xxh: XXH128(low: try r.u64(), high: try r.u64()), sha256: try r.digest(), verifiedAt: try r.i64())
                entries[key] = e
            }
            return entries
        } catch {
            return nil
        }
    }
}
