import Glibc

/// What a file's bytes hash to.
public struct FileFingerprint: Sendable, Equatable {
    public var sha256: Digest
    public var xxh128: XXH128
    public var size: UInt64

    public init(sha256: Digest, xxh128: XXH128, size: UInt64) {
        self.sha256 = sha256
        self.xxh128 = xxh128
        self.size = size
    }

    /// Both hashes of bytes already in memory.
    public init(bytes: [UInt8]) {
        let sha = SHA256()
        let xxh = XXH128Hasher()
        bytes.withUnsafeBytes { raw in
            if let base = raw.baseAddress {
                sha.update(base, count: raw.count)
                xxh.update(base, count: raw.count)
            }
        }
        self.init(sha256: sha.finish(), xxh128: xxh.finish(), size: UInt64(bytes.count))
    }
}

/// Reads files in 1 MiB chunks and hashes them; reuses its buffer and contexts.
public final class FileHasher {
    private let sha = SHA256()
    private let xxh = XXH128Hasher()
    private var buffer = [UInt8](repeating: 0, count: 1 << 20)

    public init() {}

    /// SHA-256 and XXH3-128 of a file, in one pass.
    public func fingerprint(_ path: String) throws -> FileFingerprint {
        var size: UInt64 = 0
        try scan(path) { pointer, count in
            sha.update(pointer, count: count)
            xxh.update(pointer, count: count)
            size += UInt64(count)
        }
        return FileFingerprint(sha256: sha.finish(), xxh128: xxh.finish(), size: size)
    }

    /// Only the fast fingerprint: proves unchanged content without paying for SHA-256.
    public func quickFingerprint(_ path: String) throws -> XXH128 {
        try scan(path) { pointer, count in xxh.update(pointer, count: count) }
        return xxh.finish()
    }

    public func sha256(_ path: String) throws -> Digest {
        try scan(path) { pointer, count in sha.update(pointer, count: count) }
        return sha.finish()
    }

    private func scan(_ path: String, _ body: (UnsafeRawPointer, Int) -> Void) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FileSystem.ioError("cannot read", path) }
        defer { close(fd) }
        try buffer.withUnsafeMutableBytes { raw in
            while true {
                let n = read(fd, raw.baseAddress, raw.count)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw FileSystem.ioError("cannot read", path)
                }
                if n == 0 { break }
                body(UnsafeRawPointer(raw.baseAddress!), n)
            }
        }
    }
}
