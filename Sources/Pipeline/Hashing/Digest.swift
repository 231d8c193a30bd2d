/// A SHA-256 digest: 32 bytes, printed as lowercase hex.
/// Stored inline as four big-endian words: no heap allocation per digest.
public struct Digest: Sendable, Hashable, Comparable, CustomStringConvertible {
    var w0: UInt64, w1: UInt64, w2: UInt64, w3: UInt64

    public init(bytes: [UInt8]) {
        precondition(bytes.count == 32, "a SHA-256 digest has 32 bytes")
        func word(_ i: Int) -> UInt64 {
            var v: UInt64 = 0
            for k in 0..<8 { v = v << 8 | UInt64(bytes[i * 8 + k]) }
            return v
        }
        w0 = word(0); w1 = word(1); w2 = word(2); w3 = word(3)
    }

    public var bytes: [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(32)
        for w in [w0, w1, w2, w3] { for k in (0..<8).reversed() { out.append(UInt8(truncatingIfNeeded: w >> (UInt64(k) * 8))) } }
        return out
    }

    /// Parses 64 lowercase or uppercase hex digits.
    public init?(hex: some StringProtocol) {
        let utf8 = Array(hex.utf8)
        guard utf8.count == 64, let parsed = utf8.withUnsafeBytes({ Digest(hexDigits: $0, at: 0) }) else { return nil }
        self = parsed
    }

    /// Parses 64 hex digits at `start` of a byte buffer, without allocating (log indexing).
    public init?(hexDigits buffer: UnsafeRawBufferPointer, at start: Int) {
        guard start >= 0, start + 64 <= buffer.count else { return nil }
        var words: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        for w in 0..<4 {
            var v: UInt64 = 0
            for k in 0..<16 {
                guard let n = Digest.nibble(buffer[start + w * 16 + k]) else { return nil }
                v = v << 4 | UInt64(n)
            }
            switch w {
            case 0: words.0 = v
            case 1: words.1 = v
            case 2: words.2 = v
            default: words.3 = v
            }
        }
        (w0, w1, w2, w3) = words
    }

    static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: return c - 0x30
        case 0x61...0x66: return c - 0x61 + 10
        case 0x41...0x46: return c - 0x41 + 10
        default: return nil
        }
    }

    public var hex: String {
        let digits: [UInt8] = Array("0123456789abcdef".utf8)
        return String(unsafeUninitializedCapacity: 64) { buffer in
            var i = 0
            for w in [w0, w1, w2, w3] {
                for k in (0..<16).reversed() {
                    buffer[i] = digits[Int((w >> (UInt64(k) * 4)) & 0xF)]
                    i += 1
                }
            }
            return 64
        }
    }

    public static func hex(_ bytes: [UInt8]) -> String {
        let digits: [UInt8] = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0xF)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    public var description: String { hex }

    /// Appends the 64 hex digits to a byte buffer (no intermediate String).
    public func appendHex(to out: inout [UInt8]) {
        for w in [w0, w1, w2, w3] {
            for k in stride(from: 60, through: 0, by: -4) {
                let nibble = UInt8((w >> UInt64(k)) & 0xF)
                out.append(nibble < 10 ? 0x30 + nibble : 0x57 + nibble)
            }
        }
    }

    public static func < (a: Digest, b: Digest) -> Bool { (a.w0, a.w1, a.w2, a.w3) < (b.w0, b.w1, b.w2, b.w3) }

    /// SHA-256 of the empty string.
    public static let empty = Digest(hex: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")!
}

extension Digest {
    init(w0: UInt64, w1: UInt64, w2: UInt64, w3: UInt64) {
        self.w0 = w0; self.w1 = w1; self.w2 = w2; self.w3 = w3
    }
}
