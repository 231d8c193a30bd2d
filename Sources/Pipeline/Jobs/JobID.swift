import CSupport
import Glibc

/// A job id: the UTC time it was created and 6 random hex digits,
/// `^[0-9]{8}T[0-9]{6}Z-[0-9a-f]{6}$`, so ids sort by time.
public struct JobID: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let rawValue: String

    /// Validates an id given by a user; nil when it is not one.
    public init?(_ text: String) {
        guard JobID.isValid(text) else { return nil }
        rawValue = text
    }

    /// A new id for the current time.
    public static func make(nanoseconds: Int64 = pl_wall_ns()) -> JobID {
        var seconds = time_t(nanoseconds / 1_000_000_000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func two(_ n: Int32) -> String { n < 10 ? "0\(n)" : "\(n)" }
        let date = "\(parts.tm_year + 1900)\(two(parts.tm_mon + 1))\(two(parts.tm_mday))"
        let time = "\(two(parts.tm_hour))\(two(parts.tm_min))\(two(parts.tm_sec))"
        var random = SystemRandomNumberGenerator()
        let suffix = String(random.next() & 0xFFFFFF, radix: 16)
        let padded = String(repeating: "0", count: 6 - suffix.count) + suffix
        return JobID("\(date)T\(time)Z-\(padded)")!
    }

    public static func isValid(_ text: String) -> Bool {
        let b = Array(text.utf8)
        guard b.count == 23 else { return false }
        func digit(_ i: Int) -> Bool { b[i] >= 0x30 && b[i] <= 0x39 }
        func hex(_ i: Int) -> Bool { digit(i) || (b[i] >= 0x61 && b[i] <= 0x66) }
        return (0..<8).allSatisfy(digit) && b[8] == UInt8(ascii: "T") && (9..<15).allSatisfy(digit)
            && b[15] == UInt8(ascii: "Z") && b[16] == UInt8(ascii: "-") && (17..<23).allSatisfy(hex)
    }

    public var description: String { rawValue }

    public static func < (a: JobID, b: JobID) -> Bool { a.rawValue < b.rawValue }
}
