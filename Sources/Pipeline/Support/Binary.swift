import CXXHash

/// Little-endian binary encoding for the store's internal state files (stat cache, step
/// records): an order of magnitude faster to load than JSON.
public struct BinaryWriter {
    public private(set) var bytes: [UInt8] = []

    public init(magic: String) { bytes.append(contentsOf: magic.utf8) }

    public mutating func u8(_ v: UInt8) { bytes.append(v) }
    public mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    public mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    public mutating func i64(_ v: Int64) { u64(UInt64(bitPattern: v)) }
    public mutating func string(_ s: String) {
        var s = s
        s.withUTF8 { buffer in
            u32(UInt32(buffer.count))
            bytes.append(contentsOf: buffer)
        }
    }
    public mutating func bytesField(_ b: [UInt8]) {
        u32(UInt32(b.count))
        bytes.append(contentsOf: b)
    }
    public mutating func digest(_ d: Digest) { for w in [d.w0, d.w1, d.w2, d.w3] { u64(w) } }
}

public struct BinaryReader {
    let bytes: [UInt8]
    var offset: Int
    /// Reading stops here (a trailing checksum is not part of the body).
    let end: Int

    public struct Corrupt: Error {}

    /// Starts after `magic`; nil when the bytes do not start with it.
    public init?(_ bytes: [UInt8], magic: String, trailer: Int = 0) {
        let m = Array(magic.utf8)
        guard bytes.count >= m.count + trailer, Array(bytes[0..<m.count]) == m else { return nil }
        self.bytes = bytes
        offset = m.count
        end = bytes.count - trailer
    }

    public var atEnd: Bool { offset >= end }

    mutating func take(_ n: Int) throws -> Int {
        guard n >= 0, offset + n <= end else { throw Corrupt() }
        defer { offset += n }
        return offset
    }

    public mutating func u8() throws -> UInt8 { bytes[try take(1)] }

    public mutating func u32() throws -> UInt32 {
        let at = try take(4)
        return bytes.withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: at, as: UInt32.self)) }
    }

    public mutating func u64() throws -> UInt64 {
        let at = try take(8)
        return bytes.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: at, as: UInt64.self)) }
    }

    public mutating func i64() throws -> Int64 { Int64(bitPattern: try u64()) }

    public mutating func string() throws -> String {
        let n = Int(try u32())
        let at = try take(n)
        return bytes.withUnsafeBufferPointer { String(decoding: UnsafeBufferPointer(rebasing: $0[at..<at + n]), as: UTF8.self) }
    }

    public mutating func bytesField() throws -> [UInt8] {
        let n = Int(try u32())
        let at = try take(n)
        return Array(bytes[at..<at + n])
    }

    public mutating func digest() throws -> Digest {
        Digest(w0: try u64(), w1: try u64(), w2: try u64(), w3: try u64())
    }
}

/// State files end with an XXH3-64 of everything before it: a torn or damaged file is
/// detected and read as absent, never misread.
public enum ChecksummedFile {
    public static func seal(_ writer: BinaryWriter) -> [UInt8] {
        var bytes = writer.bytes
        let check = bytes.withUnsafeBytes { XXH3_64bits_dispatch($0.baseAddress, $0.count) }
        withUnsafeBytes(of: check.littleEndian) { bytes.append(contentsOf: $0) }
        return bytes
    }

    /// A reader over the body, nil when the checksum or the magic does not match.
    public static func open(_ bytes: [UInt8], magic: String) -> BinaryReader? {
        guard bytes.count >= magic.utf8.count + 8 else { return nil }
        let body = bytes.count - 8
        let check = bytes.withUnsafeBytes { XXH3_64bits_dispatch($0.baseAddress, body) }
        let stored = bytes.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: body, as: UInt64.self)) }
        guard check == stored else { return nil }
        return BinaryReader(bytes, magic: magic, trailer: 8)
    }
}
