/// Base64 with the standard alphabet and `=` padding (RFC 4648 §4), decoded strictly: no
/// whitespace, no missing or misplaced padding, no unused bits set. Key files and signatures
/// use it, so one text has exactly one meaning.
public enum Base64 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    /// Each byte's 6-bit value, 0xFF for a byte outside the alphabet.
    private static let values: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (index, symbol) in alphabet.enumerated() { table[Int(symbol)] = UInt8(index) }
        return table
    }()

    public static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var index = 0
        while index < bytes.count {
            let b0 = UInt32(bytes[index])
            let b1 = index + 1 < bytes.count ? UInt32(bytes[index + 1]) : 0
            let b2 = index + 2 < bytes.count ? UInt32(bytes[index + 2]) : 0
            let group = b0 << 16 | b1 << 8 | b2
            out.append(alphabet[Int(group >> 18 & 63)])
            out.append(alphabet[Int(group >> 12 & 63)])
            out.append(index + 1 < bytes.count ? alphabet[Int(group >> 6 & 63)] : UInt8(ascii: "="))
            out.append(index + 2 < bytes.count ? alphabet[Int(group & 63)] : UInt8(ascii: "="))
            index += 3
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Why a text is not strict base64. The reasons never quote the text (it may be a key).
    public enum DecodingError: Error, Sendable, Equatable, CustomStringConvertible {
        /// The length is not a multiple of 4.
        case length(Int)
        /// A byte outside the alphabet (or `=` before the end), at this 0-based offset.
        case character(offset: Int)
        /// The last symbol carries bits that encode nothing.
        case nonCanonical

        public var description: String {
            switch self {
            case .length(let count): return "its length (\(count)) is not a multiple of 4"
            case .character(let offset): return "a character at offset \(offset) is not in the base64 alphabet"
            case .nonCanonical: return "its last symbol has unused bits set"
            }
        }
    }

    public static func decode(_ text: some StringProtocol) throws(DecodingError) -> [UInt8] {
        let input = Array(text.utf8)
        guard input.count % 4 == 0 else { throw .length(input.count) }
        if input.isEmpty { return [] }
        var padding = 0
        if input[input.count - 1] == UInt8(ascii: "=") { padding = input[input.count - 2] == UInt8(ascii: "=") ? 2 : 1 }
        var out: [UInt8] = []
        out.reserveCapacity(input.count / 4 * 3)
        var group: UInt32 = 0
        for offset in 0..<(input.count - padding) {
            let value = values[Int(input[offset])]
            guard value != 0xFF else { throw .character(offset: offset) }
            group = group << 6 | UInt32(value)
            if offset % 4 == 3 {
                out.append(UInt8(group >> 16 & 0xFF))
                out.append(UInt8(group >> 8 & 0xFF))
                out.append(UInt8(group & 0xFF))
                group = 0
            }
        }
        switch padding {
        case 1:  // 3 symbols: 18 bits, 16 used
            guard group & 0x3 == 0 else { throw .nonCanonical }
            out.append(UInt8(group >> 10 & 0xFF))
            out.append(UInt8(group >> 2 & 0xFF))
        case 2:  // 2 symbols: 12 bits, 8 used
            guard group & 0xF == 0 else { throw .nonCanonical }
            out.append(UInt8(group >> 4 & 0xFF))
        default:
            break
        }
        return out
    }
}
