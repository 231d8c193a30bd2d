import CArchive
import Glibc

/// One regular file of a zip: its name inside the archive, where its bytes come from, and
/// whether it is executable (mode 0755, else 0644).
public struct ZipEntry: Sendable {
    public enum Source: Sendable {
        case bytes([UInt8])
        /// An absolute path to a regular file, streamed in 1 MiB chunks, never loaded whole.
        case file(String)
    }

    public var path: String
    public var source: Source
    public var executable: Bool

    public init(path: String, source: Source, executable: Bool = false) {
        self.path = path
        self.source = source
        self.executable = executable
    }
}

/// Writes deterministic zips (PackSpec v1 evidence packs): the same entries give the same
/// bytes under any time zone, locale or umask.
///
/// - entries sorted by the bytes of their UTF-8 path, names flagged UTF-8, no directory entries;
/// - stored uncompressed (method 0), so the bytes never depend on the zlib version;
/// - every entry dated 1980-01-01T00:00:00Z, mode 0644 or 0755, uid/gid 0, no user/group names.
///
/// What libarchive 3.6 adds on its own, all fixed by the above: a data descriptor after each
/// entry (flag bit 3: it writes the CRC after the data even when the size is known, leaving 0 in
/// the local header's CRC), a `UT` extra field holding the mtime (315532800), and a `ux` extra
/// field holding uid/gid 0. Entries over 4 GiB get Zip64 fields.
public enum ZipWriter {
    /// 1980-01-01T00:00:00Z, the earliest date a zip (DOS) timestamp can hold.
    static let timestamp: time_t = 315_532_800
    static let chunkSize = 1 << 20

    /// Writes the entries (sorted by path here; duplicate paths are a PipelineError(.invalidInput)) into a zip at `path`,
    /// atomically through Materializer.replace (temp file, fsync, rename). Mode of the zip file 0644.
    /// Entry paths must be relative, `/`-separated, without empty, `.` or `..` components, NUL or backslash.
    /// Side effect: sets TZ=UTC for the whole process (see `pinUTC`).
    public static func write(_ entries: [ZipEntry], to path: String) throws {
        let sorted = try order(entries)
        try pinUTC()
        try Materializer.replace(path, mode: 0o644, beforeRename: nil) { fd, _ in
            try ArchiveLocale.run { try writeArchive(sorted, fd: fd, zipPath: path) }
        }
    }

    /// The entries sorted by the bytes of their UTF-8 path; refuses duplicates and names that
    /// are not plain relative file paths.
    static func order(_ entries: [ZipEntry]) throws -> [ZipEntry] {
        for entry in entries { try check(entry.path) }
        let sorted = entries.sorted { $0.path.utf8.lexicographicallyPrecedes($1.path.utf8) }
        for (earlier, later) in zip(sorted, sorted.dropFirst()) where earlier.path.utf8.elementsEqual(later.path.utf8) {
            throw PipelineError(.invalidInput, "duplicate zip entry '\(later.path)'", path: later.path)
        }
        return sorted
    }

    static func check(_ path: String) throws {
        let bytes = Array(path.utf8)
        let components = bytes.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
        let problem: String
        if bytes.isEmpty {
            problem = "is empty"
        } else if bytes.count > 0xFFFF {
            problem = "is longer than 65535 bytes"
        } else if bytes.contains(0) || bytes.contains(UInt8(ascii: "\\")) {
            problem = "contains a NUL byte or a backslash"
        } else if bytes[0] == UInt8(ascii: "/") {
            problem = "is absolute"
        } else if components.contains(where: { $0.isEmpty || $0.elementsEqual([0x2E]) || $0.elementsEqual([0x2E, 0x2E]) }) {
            problem = "has an empty, '.' or '..' component"
        } else {
            return
        }
        throw PipelineError(.invalidInput, "zip entry path '\(path)' \(problem)", path: path)
    }

    /// libarchive turns the mtime into a DOS date with `localtime_r`, so the local time zone
    /// would leak into the bytes. The process never needs local time: pin TZ to UTC (again if
    /// someone changed it since), then check that the fixed timestamp reads as 1980-01-01 00:00.
    static func pinUTC() throws {
        if getenv("TZ").map({ String(cString: $0) }) != "UTC" { setenv("TZ", "UTC", 1) }
        tzset()
        var clock = timestamp
        var fields = tm()
        guard localtime_r(&clock, &fields) != nil, fields.tm_year == 80, fields.tm_mon == 0, fields.tm_mday == 1,
              fields.tm_hour == 0, fields.tm_min == 0, fields.tm_sec == 0 else {
            throw PipelineError(.internalError, "cannot pin the time zone to UTC for zip timestamps")
        }
    }

    private static func writeArchive(_ entries: [ZipEntry], fd: Int32, zipPath: String) throws {
        guard let archive = archive_write_new() else { throw PipelineError(.internalError, "libarchive: out of memory") }
        defer { archive_write_free(archive) }
        func check(_ status: Int32, _ what: String) throws {
            guard status == ARCHIVE_OK else { throw failure(archive, what, zipPath) }
        }
        try check(archive_write_set_format_zip(archive), "cannot select the zip format for")
        try check(archive_write_set_options(archive, "zip:compression=store,zip:hdrcharset=UTF-8"), "cannot set zip options for")
        // No blocking: libarchive hands each write straight to write(2), without copying it into
        // a block buffer, and pads nothing after the end record.
        try check(archive_write_set_bytes_per_block(archive, 0), "cannot set the block size of")
        try check(archive_write_set_bytes_in_last_block(archive, 1), "cannot set the block size of")
        try check(archive_write_open_fd(archive, fd), "cannot start a zip in")

        guard let header = archive_entry_new() else { throw PipelineError(.internalError, "libarchive: out of memory") }
        defer { archive_entry_free(header) }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunkSize, alignment: 64)
        defer { buffer.deallocate() }

        for entry in entries {
            archive_entry_clear(header)
            archive_entry_set_pathname_utf8(header, entry.path)
            archive_entry_set_filetype(header, pl_ae_ifreg)
            archive_entry_set_perm(header, entry.executable ? 0o755 : 0o644)
            archive_entry_set_mtime(header, timestamp, 0)
            archive_entry_set_uid(header, 0)
            archive_entry_set_gid(header, 0)
            let what = "cannot add '\(entry.path)' to"
            switch entry.source {
            case .bytes(let bytes):
                archive_entry_set_size(header, la_int64_t(bytes.count))
                try check(archive_write_header(archive, header), what)
                try bytes.withUnsafeBytes { try writeData(archive, $0, what: what, zipPath: zipPath) }
            case .file(let source):
                try copy(source, into: archive, header: header, buffer: buffer, what: what, zipPath: zipPath)
            }
            try check(archive_write_finish_entry(archive), what)
        }
        try check(archive_write_close(archive), "cannot finish the zip")
    }

    /// Streams a file into the current entry chunk by chunk; its size is set in the header
    /// first (a stored entry of known size). A file that grows or shrinks meanwhile is an error.
    private static func copy(_ source: String, into archive: OpaquePointer, header: OpaquePointer,
                             buffer: UnsafeMutableRawBufferPointer, what: String, zipPath: String) throws {
        let fd = open(source, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FileSystem.ioError("cannot read", source) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw FileSystem.ioError("cannot read", source) }
        guard info.st_mode & S_IFMT == S_IFREG else {
            throw PipelineError(.invalidInput, "cannot zip \(source): not a regular file", path: source)
        }
        archive_entry_set_size(header, la_int64_t(info.st_size))
        guard archive_write_header(archive, header) == ARCHIVE_OK else { throw failure(archive, what, zipPath) }
        var remaining = UInt64(info.st_size)
        while true {
            // Once the declared size is copied, one more byte tells whether the file grew.
            let want = remaining == 0 ? 1 : Int(min(UInt64(buffer.count), remaining))
            let count = read(fd, buffer.baseAddress, want)
            if count < 0 {
                if errno == EINTR { continue }
                throw FileSystem.ioError("cannot read", source)
            }
            if remaining == 0 && count == 0 { return }
            guard count > 0, UInt64(count) <= remaining else {
                throw PipelineError(.io, "\(source) changed size while being zipped", path: source)
            }
            try writeData(archive, UnsafeRawBufferPointer(rebasing: buffer[0..<count]), what: what, zipPath: zipPath)
            remaining -= UInt64(count)
        }
    }

    private static func writeData(_ archive: OpaquePointer, _ data: UnsafeRawBufferPointer, what: String, zipPath: String) throws {
        var offset = 0
        while offset < data.count {
            let written = archive_write_data(archive, data.baseAddress! + offset, data.count - offset)
            guard written > 0 else { throw failure(archive, what, zipPath) }
            offset += written
        }
    }

    private static func failure(_ archive: OpaquePointer, _ what: String, _ path: String) -> PipelineError {
        // libarchive says only "Write error" when write(2) failed: name the system's reason.
        let code = archive_errno(archive)
        var reason = archive_error_string(archive).map { String(cString: $0) } ?? "libarchive error \(code)"
        if [ENOSPC, EDQUOT, EFBIG, EROFS, EACCES, EPERM, EIO].contains(code) {
            reason = FileSystem.errorText(code)
        }
        return PipelineError(.io, "\(what) \(path): \(reason)", path: path, hint: FileSystem.hint(for: code, path: path))
    }
}
