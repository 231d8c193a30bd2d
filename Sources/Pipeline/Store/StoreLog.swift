import Glibc

/// `store.log`: small blobs and action results, appended as records instead of one file
/// each. Creating a file costs an inode allocation, which on ext4 after mass deletions (a
/// clean build right after `rm -rf`) cost more than the commands it caches; an append costs
/// one `write`. Records are plain text headers, so the log reads in a text editor:
///
///     B <sha256 hex> <size> <unix time>\n<bytes>\n    a blob (its bytes hash to the name)
///     A <key hex> <size> <unix time>\n<json>\n        an action result (the last one for a key wins)
///     U <key hex> 0 <unix time>\n\n                   the result was used (restored) then
///
/// Appends happen under an exclusive `flock`, one `write` per batch; before appending, a
/// writer checks the log ends with a whole record and cuts a torn tail (a crash mid-write),
/// so the log never holds garbage before good records. Readers take no lock: on a miss they
/// scan what was appended since their last look (by this or any other process), stopping
/// at a record still being written. Blob bytes are verified against their digest on read.
/// Garbage collection rewrites the log (`compact`) and renames the new one over it; a writer
/// or reader holding the old file notices the new inode and reopens.
///
/// One instance per process and store, shared by the threads that use the store (the main
/// thread and the store writer index it once); a mutex guards it.
final class StoreLog: @unchecked Sendable {
    enum Kind: UInt8 {
        case blob = 0x42  // "B"
        case result = 0x41  // "A"
        case use = 0x55  // "U"
    }

    struct Location {
        /// Where the payload starts.
        var offset: Int64
        var size: Int
        /// When the record was appended (seconds since the epoch; 0 when unknown).
        var time: Int64
    }

    let path: String
    private var fd: Int32 = -1
    /// Whether `fd` was opened for appending (else read-only: the store is not writable).
    private var writable = false
    private var inode: UInt64 = 0
    private var blobs: [Digest: Location] = [:]
    private var results: [Digest: Location] = [:]
    /// Latest use of each result (from `U` records).
    private(set) var uses: [Digest: Int64] = [:]
    /// End of the last whole record this instance has indexed.
    private var scanned: Int64 = 0
    private let lock = Lock()
    private var tailBuffer: [UInt8] = []

    private func guarded<T>(_ body: () throws -> T) rethrows -> T {
        try lock.withLock(body)
    }

    init(path: String) {
        self.path = path
    }

    deinit { if fd >= 0 { close(fd) } }

    /// Opens the log once. A compaction replaces the file only under gc's exclusive store
    /// lock; a reader that holds an old one keeps reading a consistent old snapshot, and
    /// writers notice the new file when they lock (`locked`) and start over on it.
    private func open(create: Bool) -> Bool {
        if fd >= 0 && (writable || !create) { return true }
        if fd >= 0 { reopen() }  // read-only so far; a writer needs more
        fd = Glibc.open(path, O_RDWR | O_APPEND | O_CLOEXEC | (create ? O_CREAT : 0), 0o644)
        writable = fd >= 0
        // A read-only store (a read-only mount, or another user's) still reads.
        if fd < 0 && !create && (errno == EROFS || errno == EACCES) { fd = Glibc.open(path, O_RDONLY | O_CLOEXEC) }
        guard fd >= 0 else { return false }
        var st = stat()
        inode = fstat(fd, &st) == 0 ? UInt64(st.st_ino) : 0
        return true
    }

    /// Drops the index and the descriptor: the next look starts over on the current file.
    private func reopen() {
        if fd >= 0 { close(fd) }
        fd = -1
        writable = false
        blobs = [:]
        results = [:]
        uses = [:]
        scanned = 0
    }

    // MARK: Reading

    func location(of id: Digest, _ kind: Kind) -> Location? {
        guarded {
            if let found = (kind == .blob ? blobs[id] : results[id]) { return found }
            scan()
            return kind == .blob ? blobs[id] : results[id]
        }
    }

    func read(_ location: Location) -> [UInt8]? { guarded { readUnguarded(location) } }

    private func readUnguarded(_ location: Location) -> [UInt8]? {
        guard fd >= 0 || open(create: false) else { return nil }
        var bytes = [UInt8](repeating: 0, count: location.size)
        var done = 0
        while done < location.size {
            let n = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + done, location.size - done, off_t(location.offset) + off_t(done)) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return nil }
            done += n
        }
        return bytes
    }

    /// Forgets a blob whose bytes turned out damaged (it reads as missing; a new copy wins).
    func forget(blob digest: Digest) { guarded { blobs[digest] = nil } }

    /// Every action key with a result in the log.
    func resultKeys() -> [Digest] {
        guarded {
            scan()
            return Array(results.keys)
        }
    }

    /// The whole index, fresh: blobs and results with where they are and when written.
    func index() -> (blobs: [Digest: Location], results: [Digest: Location], uses: [Digest: Int64]) {
        guarded {
            var current = stat()
            if fd >= 0, stat(path, &current) == 0, UInt64(current.st_ino) != inode { reopen() }
            scan()
            return (blobs, results, uses)
        }
    }

    /// Indexes the records appended since the last look; returns whether the log ends with
    /// a whole record (false: a torn or in-progress tail at `scanned`).
    @discardableResult
    func refresh() -> Bool { guarded { scan() } }

    @discardableResult
    private func scan() -> Bool {
        guard open(create: false) else { return true }
        var st = stat()
        guard fstat(fd, &st) == 0 else { return true }
        let end = Int64(st.st_size)
        guard end > scanned else { return end == scanned }
        // A big tail (a first look at a large log) is mapped: indexing touches the headers,
        // and a read would zero-fill and copy every byte. A small one (what another thread
        // or process appended since) is read: mapping and unmapping it each time costs
        // TLB shootdowns on every core.
        let count = Int(end - scanned)
        if count < 1 << 20 {
            if tailBuffer.count < count { tailBuffer = [UInt8](repeating: 0, count: max(count, 64 << 10)) }
            return tailBuffer.withUnsafeMutableBytes { raw -> Bool in
                var done = 0
                while done < count {
                    let n = pread(fd, raw.baseAddress! + done, count - done, off_t(scanned) + off_t(done))
                    if n < 0 && errno == EINTR { continue }
                    if n <= 0 { break }
                    done += n
                }
                return index(UnsafeRawBufferPointer(start: raw.baseAddress, count: done), end: end)
            }
        }
        let page = Int64(sysconf(Int32(_SC_PAGESIZE)))
        let base = scanned - scanned % page
        let length = Int(end - base)
        guard let mapped = mmap(nil, length, PROT_READ, MAP_PRIVATE, fd, off_t(base)), mapped != MAP_FAILED else { return true }
        defer { munmap(mapped, length) }
        return index(UnsafeRawBufferPointer(start: mapped + Int(scanned - base), count: count), end: end)
    }

    /// Indexes the whole records in `tail` (the bytes from `scanned` on); advances `scanned`.
    private func index(_ tail: UnsafeRawBufferPointer, end: Int64) -> Bool {
        if blobs.isEmpty && results.isEmpty {
            // A first look at a big log: size the tables once (records average ~1 KiB).
            blobs.reserveCapacity(tail.count / 1500)
            results.reserveCapacity(tail.count / 1500)
        }
        var i = 0
        while i < tail.count {
            guard let header = StoreLog.header(tail, at: i), header.payload + header.size < tail.count, tail[header.payload + header.size] == 0x0A
            else { break }
            let location = Location(offset: scanned + Int64(header.payload), size: header.size, time: header.time)
            switch header.kind {
            case .blob: blobs[header.id] = location
            case .result: results[header.id] = location
            case .use: uses[header.id] = max(uses[header.id] ?? 0, header.time)
            }
            i = header.payload + header.size + 1
        }
        scanned += Int64(i)
        return scanned == end
    }

    /// Parses `K <64 hex> <size>[ <time>]\n` at `i`.
    static func header(_ bytes: UnsafeRawBufferPointer, at i: Int) -> (kind: Kind, id: Digest, size: Int, time: Int64, payload: Int)? {
        guard i + 68 < bytes.count, let kind = Kind(rawValue: bytes[i]), bytes[i + 1] == 0x20, bytes[i + 66] == 0x20,
              let id = Digest(hexDigits: bytes, at: i + 2)
        else { return nil }
        func number(from start: Int) -> (value: Int64, end: Int)? {
            var value: Int64 = 0
            var j = start
            while j < bytes.count, bytes[j] >= 0x30 && bytes[j] <= 0x39, j - start < 18 {
                value = value * 10 + Int64(bytes[j] - 0x30)
                j += 1
            }
            return j > start ? (value, j) : nil
        }
        guard let size = number(from: i + 67) else { return nil }
        var j = size.end
        var time: Int64 = 0
        if j < bytes.count, bytes[j] == 0x20 {
            guard let parsed = number(from: j + 1) else { return nil }
            time = parsed.value
            j = parsed.end
        }
        guard j < bytes.count, bytes[j] == 0x0A else { return nil }
        return (kind, id, Int(size.value), time, j + 1)
    }

    // MARK: Writing

    /// Appends records in one write, under the log's lock, after cutting a torn tail.
    func append(_ records: [(kind: Kind, id: Digest, bytes: [UInt8])]) throws {
        if records.isEmpty { return }
        try guarded { try appendUnguarded(records) }
    }

    private func appendUnguarded(_ records: [(kind: Kind, id: Digest, bytes: [UInt8])]) throws {
        try locked { fd in
            let now = Int64(time(nil))
            var out: [UInt8] = []
            out.reserveCapacity(records.reduce(0) { $0 + $1.bytes.count + 100 })
            var locations: [(Kind, Digest, Location)] = []
            for record in records {
                StoreLog.appendHeader(record.kind, record.id, size: record.bytes.count, time: now, to: &out)
                locations.append((record.kind, record.id, Location(offset: scanned + Int64(out.count), size: record.bytes.count, time: now)))
                out.append(contentsOf: record.bytes)
                out.append(0x0A)
            }
            do {
                try FileSystem.writeAll(fd, out, path: path)
            } catch {
                // A write cut short (a full disk) leaves part of a record: cut it now, holding
                // the lock, so the log ends with a whole record whether or not anyone writes again.
                _ = ftruncate(fd, off_t(scanned))
                throw error
            }
            for (kind, id, location) in locations {
                switch kind {
                case .blob: blobs[id] = location
                case .result: results[id] = location
                case .use: uses[id] = max(uses[id] ?? 0, now)
                }
            }
            scanned += Int64(out.count)
        }
    }

    static func appendHeader(_ kind: Kind, _ id: Digest, size: Int, time: Int64, to out: inout [UInt8]) {
        out.append(kind.rawValue)
        out.append(0x20)
        id.appendHex(to: &out)
        out.append(0x20)
        out.append(contentsOf: String(size).utf8)
        out.append(0x20)
        out.append(contentsOf: String(time).utf8)
        out.append(0x0A)
    }

    /// Runs `body` holding the log's exclusive lock on the current file, with the index up
    /// to date and a torn tail cut.
    private func locked<T>(_ body: (Int32) throws -> T) throws -> T {
        while true {
            guard open(create: true) else { throw FileSystem.ioError("cannot open", path) }
            while flock(fd, LOCK_EX) != 0 {
                if errno != EINTR { throw FileSystem.ioError("cannot lock", path) }
            }
            // A compaction may have replaced the file while we waited: lock the new one.
            var current = stat()
            if stat(path, &current) == 0, UInt64(current.st_ino) != inode {
                flock(fd, LOCK_UN)
                reopen()
                continue
            }
            defer { flock(fd, LOCK_UN) }
            if !scan() {
                // Nobody appends while we hold the lock: what follows the last whole record is
                // the remains of a crashed write.
                guard ftruncate(fd, off_t(scanned)) == 0 else { throw FileSystem.ioError("cannot repair", path) }
            }
            return try body(fd)
        }
    }

    /// Rewrites the log keeping only the blobs and results `keep` accepts (and the latest use
    /// of each kept result), then renames it over the old one: atomic, so a crash leaves the
    /// old log or the new one. Holds the lock throughout, so no append is lost.
    func compact(keep: (Kind, Digest) -> Bool) throws -> (kept: Int, dropped: Int, bytesBefore: Int64, bytesAfter: Int64) {
        try guarded { try compactUnguarded(keep: keep) }
    }

    private func compactUnguarded(keep: (Kind, Digest) -> Bool) throws -> (kept: Int, dropped: Int, bytesBefore: Int64, bytesAfter: Int64) {
        try locked { fd in
            let temp = path + ".compact-\(getpid())"
            let out = Glibc.open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            guard out >= 0 else { throw FileSystem.ioError("cannot write", temp) }
            var ok = false
            defer {
                if !ok {
                    Glibc.close(out)
                    unlink(temp)
                }
            }
            var kept = 0
            var dropped = 0
            var written: Int64 = 0
            var buffer: [UInt8] = []
            func flush() throws {
                try FileSystem.writeAll(out, buffer, path: temp)
                written += Int64(buffer.count)
                buffer.removeAll(keepingCapacity: true)
            }
            let entries = blobs.map { (Kind.blob, $0.key, $0.value) } + results.map { (Kind.result, $0.key, $0.value) }
            for (kind, id, location) in entries.sorted(by: { $0.2.offset < $1.2.offset }) {
                guard keep(kind, id), let bytes = readUnguarded(location) else {
                    dropped += 1
                    continue
                }
                kept += 1
                StoreLog.appendHeader(kind, id, size: bytes.count, time: location.time, to: &buffer)
                buffer += bytes
                buffer.append(0x0A)
                if kind == .result, let used = uses[id], used > location.time {
                    StoreLog.appendHeader(.use, id, size: 0, time: used, to: &buffer)
                    buffer.append(0x0A)
                }
                if buffer.count > 1 << 20 { try flush() }
            }
            try flush()
            guard fsync(out) == 0 else { throw FileSystem.ioError("cannot flush", temp) }
            Glibc.close(out)
            ok = true
            let before = scanned
            guard rename(temp, path) == 0 else {
                unlink(temp)
                throw FileSystem.ioError("cannot replace", path)
            }
            FileSystem.syncDirectory(Path.directory(of: path))
            return (kept, dropped, before, written)
        }
    }
}
