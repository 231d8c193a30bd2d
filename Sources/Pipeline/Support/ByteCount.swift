/// Sizes as people write them: `1048576`, `512K`, `64KiB`, `10GiB`, `2GB`, `1.5G`.
/// K, M, G, T and KiB… are powers of 1024; KB, MB, GB, TB powers of 1000.
public enum ByteCount {
    public static func parse(_ text: String) -> UInt64? {
        let trimmed = text.trimmingPrefix(while: { $0 == " " })
        let number = trimmed.prefix { $0.isNumber || $0 == "." }
        let unit = trimmed.dropFirst(number.count).trimmingPrefix(while: { $0 == " " }).lowercased()
        guard let value = Double(number), value >= 0 else { return nil }
        let factors: [String: Double] = [
            "": 1, "b": 1, "k": 0x1p10, "kib": 0x1p10, "m": 0x1p20, "mib": 0x1p20, "g": 0x1p30, "gib": 0x1p30, "t": 0x1p40, "tib": 0x1p40,
            "kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12,
        ]
        guard let factor = factors[unit] else { return nil }
        let bytes = (value * factor).rounded()
        guard bytes < 1.8e19 else { return nil }
        return UInt64(bytes)
    }
}
