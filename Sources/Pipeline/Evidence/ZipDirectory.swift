import Glibc

/// A zip's central directory as the file holds it, read directly rather than through
/// libarchive, which hides some of it: it merges two records that name one local header (a
/// hard link in zip terms: the second name silently disappears), turns `\` into `/` in names,
/// and reports some file types (FIFOs) as regular files. `ZipReader` reads this first to
/// refuse a zip bomb before inflating anything (too many entries, declared sizes over the
/// caps or far beyond the file's size), and the pack verifier checks what it lists: raw
/// names, file types, and entries whose bytes overlap another's (the overlapping-files zip bomb).
/// Bounded: the records are read in one pass, each local header with one 30-byte read.
public struct ZipDirectory: Sendable {
    public struct Record: Sendable, Equatable {
        /// The name's bytes exactly as stored.
        public var name: [UInt8]
        public var flags: UInt16
        public var method: UInt16
        public var compressedSize: UInt64
        /// The uncompressed size the record declares.
        public var size: UInt64
        public var localOffset: UInt64
        /// The Unix mode (type and permissions) when the record was made on Unix, else nil.
        public var mode: UInt32?
        /// Where the entry's local header and data end (from its local header), so
        /// `localOffset..<end` is every byte the entry owns.
        public var end: UInt64 = 0

        /// The name as UTF-8, nil when the bytes are not valid UTF-8.
        public var utf8Name: String? { String(validating: name, as: UTF8.self) }
        /// The name for messages: invalid bytes replaced.
        public var displayName: String { String(decoding: name, as: UTF8.self) }
    }

    public var records: [Record] = []
    public var fileSize: UInt64 = 0
    /// Where the central directory starts: every entry must end before it.
    public var directoryOffset: UInt64 = 0

    public var declaredTotal: UInt64 { records.reduce(0) { $0 &+ $1.size } }

    /// Reads the end records and the central directory. Throws `.unreadable` when they cannot
    /// be found or parsed, `.limit` past `maxEntries` (checked before reading a record).
    public static func read(_ path: String, maxEntries: Int) throws -> ZipDirectory {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ZipReadFailure.unreadable("\(path): cannot open (\(String(cString: strerror(errno))))") }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw ZipReadFailure.unreadable("\(path): cannot stat") }
        var directory = ZipDirectory()
        directory.fileSize = UInt64(info.st_size)
        let file = directory.fileSize
        func bytes(_ offset: UInt64, _ count: Int) throws -> [UInt8] {
            guard count >= 0, offset <= file, UInt64(count) <= file - offset else {
                throw ZipReadFailure.unreadable("\(path): the central directory points past the end of the file")
            }
            var buffer = [UInt8](repeating: 0, count: count)
            var done = 0
            while done < count {
                let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + done, count - done, off_t(offset) + off_t(done)) }
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { throw ZipReadFailure.unreadable("\(path): cannot read") }
                done += n
            }
            return buffer
        }

        // The end-of-central-directory record: in the last 22 + 65535 bytes.
        let tailSize = Int(min(file, 22 + 65535))
        guard tailSize >= 22 else { throw ZipReadFailure.unreadable("\(path): too short for a zip") }
        let tail = try bytes(file - UInt64(tailSize), tailSize)
        guard let end = (0...(tailSize - 22)).reversed().first(where: { tail.u32($0) == 0x0605_4B50 }) else {
            throw ZipReadFailure.unreadable("\(path): no end-of-central-directory record")
        }
        let endOffset = file - UInt64(tailSize) + UInt64(end)
        var count = UInt64(tail.u16(end + 10))
        var size = UInt64(tail.u32(end + 12))
        var start = UInt64(tail.u32(end + 16))
        if count == 0xFFFF || size == 0xFFFF_FFFF || start == 0xFFFF_FFFF, endOffset >= 20 {
            let locator = try bytes(endOffset - 20, 20)
            if locator.u32(0) == 0x0706_4B50 {
                let record = try bytes(locator.u64(8), 56)
                guard record.u32(0) == 0x0606_4B50 else { throw ZipReadFailure.unreadable("\(path): bad ZIP64 end record") }
                count = record.u64(32)
                size = record.u64(40)
                start = record.u64(48)
            }
        }
        guard count <= UInt64(maxEntries) else {
            throw ZipReadFailure.limit("\(path): \(count) entries, more than the limit of \(maxEntries)")
        }
        // A record is at least 46 bytes: a count the directory cannot hold is a lie.
        guard start <= file, size <= file - start, count <= size / 46 else {
            throw ZipReadFailure.unreadable("\(path): the central directory does not fit in the file")
        }
        directory.directoryOffset = start
        let central = try bytes(start, Int(size))
        directory.records.reserveCapacity(Int(count))
        var at = 0
        for index in 0..<Int(count) {
            guard at + 46 <= central.count, central.u32(at) == 0x0201_4B50 else {
                throw ZipReadFailure.unreadable("\(path): central directory record \(index + 1) is damaged")
            }
            let nameLength = Int(central.u16(at + 28)), extraLength = Int(central.u16(at + 30)), commentLength = Int(central.u16(at + 32))
            let next = at + 46 + nameLength + extraLength + commentLength
            guard next <= central.count else { throw ZipReadFailure.unreadable("\(path): central directory record \(index + 1) is damaged") }
            let madeBy = central.u16(at + 4) >> 8
            let external = central.u32(at + 38)
            var record = Record(
                name: Array(central[(at + 46)..<(at + 46 + nameLength)]), flags: central.u16(at + 8), method: central.u16(at + 10),
                compressedSize: UInt64(central.u32(at + 20)), size: UInt64(central.u32(at + 24)), localOffset: UInt64(central.u32(at + 42)),
                mode: madeBy == 3 ? external >> 16 : nil)
            // ZIP64 extra field: the 64-bit values of the fields that hold 0xFFFFFFFF, in order.
            var extra = at + 46 + nameLength
            let extraEnd = extra + extraLength
            while extra + 4 <= extraEnd {
                let id = central.u16(extra), length = Int(central.u16(extra + 2))
                var field = extra + 4
                let fieldEnd = min(field + length, extraEnd)
                if id == 1 {
                    if record.size == 0xFFFF_FFFF, field + 8 <= fieldEnd { record.size = central.u64(field); field += 8 }
                    if record.compressedSize == 0xFFFF_FFFF, field + 8 <= fieldEnd { record.compressedSize = central.u64(field); field += 8 }
                    if record.localOffset == 0xFFFF_FFFF, field + 8 <= fieldEnd { record.localOffset = central.u64(field) }
                }
                extra += 4 + length
            }
            directory.records.append(record)
            at = next
        }
        // Each entry's extent, from its local header (whose name and extra lengths may differ).
        for index in directory.records.indices {
            let record = directory.records[index]
            let header = try bytes(record.localOffset, 30)
            guard header.u32(0) == 0x0403_4B50 else {
                throw ZipReadFailure.unreadable("\(path): the local header of '\(record.displayName)' is missing")
            }
            let dataStart = record.localOffset + 30 + UInt64(header.u16(26)) + UInt64(header.u16(28))
            let descriptor: UInt64 = record.flags & 0x8 != 0 ? 12 : 0
            let (data, overflow) = dataStart.addingReportingOverflow(record.compressedSize)
            let (end, past) = data.addingReportingOverflow(descriptor)
            directory.records[index].end = overflow || past ? .max : end
        }
        return directory
    }

    /// The records whose bytes overlap an earlier entry's (by local header offset) or run into
    /// the central directory: two names for one header, or the overlapping-files zip bomb,
    /// where each entry's data holds the next entry. A well-formed zip has none.
    public func overlapping() -> [Int] {
        let order = records.indices.sorted { (records[$0].localOffset, $0) < (records[$1].localOffset, $1) }
        var reach: UInt64 = 0
        var result: [Int] = []
        for index in order {
            if records[index].localOffset < reach || records[index].end > directoryOffset { result.append(index) }
            reach = Swift.max(reach, records[index].end)
        }
        return result
    }
}

extension [UInt8] {
    fileprivate func u16(_ at: Int) -> UInt16 { UInt16(self[at]) | UInt16(self[at + 1]) << 8 }
    fileprivate func u32(_ at: Int) -> UInt32 { UInt32(u16(at)) | UInt32(u16(at + 2)) << 16 }
    fileprivate func u64(_ at: Int) -> UInt64 { UInt64(u32(at)) | UInt64(u32(at + 4)) << 32 }
}
