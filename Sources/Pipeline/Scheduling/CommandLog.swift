import CSupport
import Glibc

/// Where a running command's stdout or stderr goes: an in-memory file (memfd), reused from
/// one command to the next. Creating two files on disk per command cost more than running
/// a trivial one; the bytes reach the store only when there are any.
public final class CommandLog {
    public let fd: Int32

    public init() throws {
        fd = pl_memfd("pipeline-log")
        guard fd >= 0 else { throw PipelineError(.io, "cannot create a log buffer: \(FileSystem.errorText(pl_errno()))") }
    }

    deinit { close(fd) }

    /// Everything written since the last reset.
    public func contents() -> [UInt8] {
        var st = Glibc.stat()
        guard fstat(fd, &st) == 0, st.st_size > 0 else { return [] }
        var bytes = [UInt8](repeating: 0, count: Int(st.st_size))
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + offset, $0.count - offset, off_t(offset)) }
            if n <= 0 {
                if n < 0 && errno == EINTR { continue }
                break
            }
            offset += n
        }
        return Array(bytes[0..<offset])
    }

    public func reset() {
        _ = ftruncate(fd, 0)
        _ = lseek(fd, 0, SEEK_SET)
    }

    /// The last lines (at most 4 KiB, 21 lines), for a failure message.
    public static func tail(_ bytes: [UInt8]) -> String? {
        guard !bytes.isEmpty else { return nil }
        var text = String(decoding: bytes.suffix(4096), as: UTF8.self)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        if lines.count > 21 { text = lines.suffix(21).joined(separator: "\n") }
        while text.hasSuffix("\n") { text.removeLast() }
        return text
    }
}
