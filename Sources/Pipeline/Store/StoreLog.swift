import Glibc

/// `store.log`: small blobs and action results, appended as records instead of one file
/// each. Creating a file costs an inode allocation, which on ext4 after mass deletions (a
/// clean build right after `rm -rf`) cost more than the commands it caches; an append costs
/// one `write`. Records are plain text headers, so the log reads in a text editor:
///
///     B <sha256 hex> <size>\n<bytes>\n        a blob (its bytes hash to the name)
///     A <key hex> <size>\n<json>\n            an action result (the last one for a key wins)
///
/// Appends happen under an exclusive `flock`, one `write` per batch; before appending, a
/// writer checks the log ends with a whole record and cuts a torn tail (a crash mid-write),
/// so the log never holds garbage before good records. Readers take no lock: on a miss they
/// scan what was appended since their last look (by this or any other process), stopping
/// at a record still being written. Blob bytes are verified against their digest on read.
///
/// One instance per thread (the store writer has its own store).
final class StoreLog {
    enum Kind: UInt8 {
        case blob = 0x42  // "B"
        case result = 0x41  // "A"
    }

    struct Location {
        /// Where the payload starts.
        var offset: Int64
        var size: Int
    }

    let path: String
    private var fd: Int32 = -1
    private var blobs: [Digest: Location] = [:]
    private var results: [Digest: Location] = [:]
    /// End of the last whole record this instance has indexed.
    private var scanned: Int64 = 0

    init(path: String) {
        self.path = path
    }

    deinit { if fd >= 0 { close(fd) } }

    private func open(create: Bool) -> Bool {
        if fd >= 0 { return true }
        fd = Glibc.open(path, O_RDWR | O_APPEND | O_CLOEXEC | (create ? O_CREAT : 0), 0o644)
        return fd >= 0
    }

    // MARK: Reading

    func location(of id: Digest, _ kind: Kind) -> Location? {
        if let found = (kind == .blob ? blobs[id] : results[id]) { return found }
        refresh()
        return kind == .blob ? blobs[id] : results[id]
    }

    func read(_ location: Location) -> [UInt8]? {
        guard open(create: false) else { return nil }
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
    func forget(blob digest: Digest) { blobs[digest] = nil }

    /// Every action key with a result in the log.
    func resultKeys() -> [Digest] {
        refresh()
        return Array(results.keys)
    }

    /// Indexes the records appended since the last look; returns whether the log ends with
    /// a whole record (false: a torn or in-progress tail at `scanned`).
    @discardableResult
    func refresh() -> Bool {
        guard open(create: false) else { return true }
        var st = stat()
        guard fstat(fd, &st) == 0 else { return true }
        let end = Int64(st.st_size)
        guard end > scanned else { return end == scanned }
        // Map the new tail instead of reading it: indexing touches the headers, and a read
        // would zero-fill and copy every byte of a log that may hold tens of megabytes.
        let page = Int64(sysconf(Int32(_SC_PAGESIZE)))
        let base = scanned - scanned % page
        let length = Int(end - base)
        guard let mapped = mmap(nil, length, PROT_READ, MAP_PRIVATE, fd, off_t(base)), mapped != MAP_FAILED else { return true }
        defer { munmap(mapped, length) }
        let tail = UnsafeRawBufferPointer(start: mapped + Int(scanned - base), count: Int(end - scanned))
        var i = 0
        while i < tail.count {
            guard let (kind, id, size, payload) = StoreLog.header(tail, at: i), payload + size < tail.count, tail[payload + size] == 0x0A
            else { break }
            let location = Location(offset: scanned + Int64(payload), size: size)
            if kind == .blob { blobs[id] = location } else { results[id] = location }
            i = payload + size + 1
        }
        scanned += Int64(i)
        return scanned == end
    }

    /// Parses `K <64 hex> <size>\n` at `i`: the kind, id, payload size and payload start.
    static func header(_ bytes: UnsafeRawBufferPointer, at i: Int) -> (Kind, Digest, Int, Int)? {
        guard i + 68 < bytes.count, let kind = Kind(rawValue: bytes[i]), bytes[i + 1] == 0x20, bytes[i + 66] == 0x20,
              let id = Digest(hexDigits: bytes, at: i + 2)
        else { return nil }
        var size = 0
        var j = i + 67
        while j < bytes.count, bytes[j] >= 0x30 && bytes[j] <= 0x39, j - i < 67 + 19 {
            size = size * 10 + Int(bytes[j] - 0x30)
            j += 1
        }
        guard j > i + 67, j < bytes.count, bytes[j] == 0x0A else { return nil }
        return (kind, id, size, j + 1)
    }

    // MARK: Writing

    /// Appends records in one write, under the log's lock, after cutting a torn tail.
    func append(_ records: [(kind: Kind, id: Digest, bytes: [UInt8])]) throws {
        if records.isEmpty { return }
        guard open(create: true) else { throw FileSystem.ioError("cannot open", path) }
        while flock(fd, LOCK_EX) != 0 {
            if errno != EINTR { throw FileSystem.ioError("cannot lock", path) }
        }
        defer { flock(fd, LOCK_UN) }
        if !refresh() {
            // Nobody appends while we hold the lock: what follows the last whole record is
            // the remains of a crashed write.
            guard ftruncate(fd, off_t(scanned)) == 0 else { throw FileSystem.ioError("cannot repair", path) }
        }
        var out: [UInt8] = []
        out.reserveCapacity(records.reduce(0) { $0 + $1.bytes.count + 90 })
        var locations: [(Kind, Digest, Location)] = []
        for record in records {
            out.append(record.kind.rawValue)
            out.append(0x20)
            record.id.appendHex(to: &out)
            out.append(0x20)
            out.append(contentsOf: String(record.bytes.count).utf8)
            out.append(0x0A)
            locations.append((record.kind, record.id, Location(offset: scanned + Int64(out.count), size: record.bytes.count)))
            out.append(contentsOf: record.bytes)
            out.append(0x0A)
        }
        try FileSystem.writeAll(fd, out, path: path)
        for (kind, id, location) in locations {
            if kind == .blob { blobs[id] = location } else { results[id] = location }
        }
        scanned += Int64(out.count)
    }
}
