import CArchive
import Glibc

/// Caps a `ZipReader` enforces: a zip-bomb guard.
public struct ZipLimits: Sendable {
    /// Bytes of one entry, declared or actually read.
    public var maxEntrySize: UInt64
    /// Bytes read over all entries.
    public var maxTotalSize: UInt64
    public var maxEntries: Int
    /// The entries may declare, in all, at most this many times the zip file's size (or
    /// `ratioAllowance`, whichever is more): deflate reaches about 1000:1 on zeros, so a small
    /// zip that declares gigabytes is a bomb, refused before anything is inflated. Packs
    /// pipeline writes are stored (1:1).
    public var maxRatio: UInt64

    /// What any zip may declare whatever its size (see `maxRatio`).
    public static let ratioAllowance: UInt64 = 16 << 20

    public init(maxEntrySize: UInt64 = 8 << 30, maxTotalSize: UInt64 = 64 << 30, maxEntries: Int = 100_000, maxRatio: UInt64 = 100) {
        self.maxEntrySize = maxEntrySize
        self.maxTotalSize = maxTotalSize
        self.maxEntries = maxEntries
        self.maxRatio = maxRatio
    }

    /// Checks the declared sizes of a central directory against the caps.
    func check(_ directory: ZipDirectory, _ path: String) throws {
        if let big = directory.records.first(where: { $0.size > maxEntrySize }) {
            throw ZipReadFailure.limit("\(path): '\(big.displayName)' declares \(big.size) bytes, over the \(maxEntrySize)-byte limit")
        }
        let total = directory.records.reduce(UInt64(0)) { $0.addingReportingOverflow($1.size).overflow ? .max : $0 + $1.size }
        if total > maxTotalSize {
            throw ZipReadFailure.limit("\(path): the entries declare \(total) bytes in all, over the \(maxTotalSize)-byte limit")
        }
        let (scaled, overflow) = directory.fileSize.multipliedReportingOverflow(by: maxRatio)
        if !overflow, total > Swift.max(scaled, ZipLimits.ratioAllowance) {
            throw ZipReadFailure.limit(
                "\(path): the entries declare \(total) bytes in all, more than \(maxRatio) times the zip's \(directory.fileSize) bytes (a zip bomb)")
        }
    }
}

/// One entry as the archive describes it. Nothing is checked here beyond the limits: a name
/// such as `../x`, a duplicate name, a directory or a symlink is reported as it is, for the
/// caller to judge.
public struct ZipEntryInfo: Sendable, Equatable {
    public enum Kind: Sendable, Equatable { case file, directory, symlink, other }

    /// The name exactly as stored (UTF-8).
    public var path: String
    /// From the file type in the entry's Unix mode (`.file` when the zip carries none).
    public var kind: Kind
    /// The uncompressed size the archive declares; nil when it declares none.
    /// A symlink's size is 0: libarchive consumes the target as the entry's data.
    public var size: UInt64?
    /// Permission bits only (`mode & 0o7777`); the type is `kind`.
    public var mode: UInt32

    public init(path: String, kind: Kind, size: UInt64?, mode: UInt32) {
        self.path = path
        self.kind = kind
        self.size = size
        self.mode = mode
    }
}

/// Why a zip could not be read. Which libarchive failure maps to which case:
///
/// - `unreadable`: from `ZipReader.init` only. The file cannot be opened or read; it is not a
///   zip; it is truncated so that the end-of-central-directory record is gone (the seekable
///   reader then does not recognise it at all); or the central directory (read with the first
///   header, ahead, in `init`) or the first entry's local header is damaged.
/// - `malformed`: from `nextEntry` or `readData`. A later header is damaged or disagrees with
///   the central directory (any libarchive warning or error on a header), a name is not valid
///   UTF-8, or the data is bad: CRC or size mismatch (a libarchive *warning* on data, treated as
///   an error), corrupt compressed data, encryption or an unsupported method.
/// - `limit`: a cap of `ZipLimits` is exceeded: from `init` when the central directory lists
///   too many entries or declares too much (one entry over `maxEntrySize`, all of them over
///   `maxTotalSize` or over `maxRatio` times the file's size); later when the bytes actually
///   read pass `maxEntrySize` or `maxTotalSize`. An entry inflating past its declared size is
///   `malformed`, found at the first block beyond it.
public enum ZipReadFailure: Error, Sendable, CustomStringConvertible {
    /// Cannot open, not a zip, truncated so no central directory.
    case unreadable(String)
    /// A bad entry, data error mid-archive.
    case malformed(String)
    /// A cap exceeded: zip bomb guard.
    case limit(String)

    public var description: String {
        switch self {
        case .unreadable(let message): "unreadable zip: \(message)"
        case .malformed(let message): "malformed zip: \(message)"
        case .limit(let message): "zip exceeds a limit: \(message)"
        }
    }
}

/// Reads a zip entry by entry, streaming each entry's data in blocks straight out of
/// libarchive's read buffer (1 MiB reads), never holding a whole entry. Uses the seekable zip
/// reader only, which trusts the central directory (as unzip and Python do), so a truncated
/// file fails the same way every time. Writes nothing anywhere. Not thread-safe: one per task.
public final class ZipReader {
    private let path: String
    private let limits: ZipLimits
    /// nil for the empty archive (see `isEmptyArchive`).
    private let archive: OpaquePointer?
    /// The current libarchive entry, valid until the next header is read.
    private var header: OpaquePointer?
    /// The status of the first header, read ahead by `init`.
    private var pending: Int32?
    private var entries = 0
    private var inEntry = false
    private var entryBytes: UInt64 = 0
    private var entryDeclared: UInt64?
    private var totalBytes: UInt64 = 0
    /// The central directory as the file holds it, read before libarchive sees the zip.
    public let directory: ZipDirectory

    /// Opens a zip and reads its central directory.
    ///
    /// `verifyCRC: false` skips libarchive's CRC-32 check of each entry's data (sizes and
    /// inflation are still checked). Only for a caller that verifies every entry's bytes another
    /// way, as the evidence-pack verifier does with each entry's SHA-256 against the signed
    /// manifest: zlib 1.2's CRC-32 runs at about 2 GB/s, a third of the time of reading and
    /// hashing with SHA-256. (A libarchive without the option keeps checking; only slower.)
    public init(path: String, limits: ZipLimits = ZipLimits(), verifyCRC: Bool = true) throws {
        self.path = path
        self.limits = limits
        directory = try ZipDirectory.read(path, maxEntries: limits.maxEntries)
        try limits.check(directory, path)
        guard let archive = archive_read_new() else { throw ZipReadFailure.unreadable("\(path): out of memory") }
        let opened = ArchiveLocale.run { () -> Int32 in
            archive_read_support_format_zip_seekable(archive)
            if !verifyCRC { archive_read_set_options(archive, "zip:ignorecrc32=1") }
            return archive_read_open_filename(archive, path, 1 << 20)
        }
        guard opened == ARCHIVE_OK else {
            let reason = ZipReader.message(archive)
            archive_read_free(archive)
            guard ZipReader.isEmptyArchive(path) else { throw ZipReadFailure.unreadable("\(path): \(reason)") }
            self.archive = nil
            return
        }
        self.archive = archive
        var first: OpaquePointer?
        let status = ArchiveLocale.run { archive_read_next_header(archive, &first) }
        guard status >= ARCHIVE_WARN else { throw ZipReadFailure.unreadable("\(path): \(ZipReader.message(archive))") }
        pending = status
        header = first
    }

    deinit {
        if let archive { archive_read_free(archive) }
    }

    /// The next entry, nil at the end. Unread data of the previous entry is skipped.
    public func nextEntry() throws -> ZipEntryInfo? {
        guard let archive else { return nil }
        inEntry = false
        let status: Int32
        if let pending {
            status = pending
            self.pending = nil
        } else {
            var next: OpaquePointer?
            status = ArchiveLocale.run { archive_read_next_header(archive, &next) }
            header = next
        }
        if status == ARCHIVE_EOF { return nil }
        guard status == ARCHIVE_OK, let header else {
            throw ZipReadFailure.malformed("\(path): entry \(entries + 1): \(ZipReader.message(archive))")
        }
        entries += 1
        guard entries <= limits.maxEntries else {
            throw ZipReadFailure.limit("\(path): more than \(limits.maxEntries) entries")
        }
        let name = ArchiveLocale.run { archive_entry_pathname_utf8(header).map { String(cString: $0) } }
        guard let name else { throw ZipReadFailure.malformed("\(path): entry \(entries): the name is not valid UTF-8") }
        let kind: ZipEntryInfo.Kind
        switch archive_entry_filetype(header) {
        case pl_ae_ifreg: kind = .file
        case pl_ae_ifdir: kind = .directory
        case pl_ae_iflnk: kind = .symlink
        default: kind = .other
        }
        let size = archive_entry_size_is_set(header) != 0 ? UInt64(max(0, archive_entry_size(header))) : nil
        if let size, size > limits.maxEntrySize {
            throw ZipReadFailure.limit("\(path): '\(name)' declares \(size) bytes, over the \(limits.maxEntrySize)-byte limit")
        }
        inEntry = true
        entryBytes = 0
        entryDeclared = size
        return ZipEntryInfo(path: name, kind: kind, size: size, mode: UInt32(archive_entry_perm(header)) & 0o7777)
    }

    /// Streams the current entry's bytes in blocks without copying the whole entry; enforces maxEntrySize/maxTotalSize
    /// on the bytes actually read (not only the declared size). Returns the byte count.
    /// A block is checked against the limits before `body` sees it. Returns 0 when there is
    /// no current entry or its data was already read.
    @discardableResult
    public func readData(_ body: (UnsafeRawBufferPointer) throws -> Void) throws -> UInt64 {
        guard let archive, inEntry else { return 0 }
        var count: UInt64 = 0
        while true {
            var block: UnsafeRawPointer?
            var size = 0
            var offset: la_int64_t = 0
            let status = archive_read_data_block(archive, &block, &size, &offset)
            if status == ARCHIVE_EOF {
                inEntry = false
                return count
            }
            guard status == ARCHIVE_OK else {
                inEntry = false
                throw ZipReadFailure.malformed("\(path): entry \(entries): \(ZipReader.message(archive))")
            }
            guard offset == la_int64_t(entryBytes) else {
                inEntry = false
                throw ZipReadFailure.malformed("\(path): entry \(entries): data block at \(offset), expected \(entryBytes)")
            }
            entryBytes += UInt64(size)
            totalBytes += UInt64(size)
            if let declared = entryDeclared, entryBytes > declared {
                inEntry = false
                throw ZipReadFailure.malformed("\(path): entry \(entries) inflates past the \(declared) bytes it declares")
            }
            guard entryBytes <= limits.maxEntrySize else {
                inEntry = false
                throw ZipReadFailure.limit("\(path): entry \(entries) holds more than \(limits.maxEntrySize) bytes")
            }
            guard totalBytes <= limits.maxTotalSize else {
                inEntry = false
                throw ZipReadFailure.limit("\(path): the entries hold more than \(limits.maxTotalSize) bytes")
            }
            if size > 0, let block { try body(UnsafeRawBufferPointer(start: block, count: size)) }
            count += UInt64(size)
        }
    }

    private static func message(_ archive: OpaquePointer) -> String {
        archive_error_string(archive).map { String(cString: $0) } ?? "libarchive error \(archive_errno(archive))"
    }

    /// libarchive's seekable reader looks for the end record only after offset 0, so it does
    /// not recognise a zip with no entries (nothing but the 22-byte end record), which
    /// `ZipWriter.write([])` produces. That exact file reads as zero entries.
    private static func isEmptyArchive(_ path: String) -> Bool {
        guard FileSystem.stat(path, follow: true)?.size == 22, let bytes = try? FileSystem.readFile(path) else { return false }
        return bytes == [0x50, 0x4B, 0x05, 0x06] + [UInt8](repeating: 0, count: 18)
    }
}
