/// Replaces secret values with `***` in captured bytes (a step's stdout and stderr) before
/// they are hashed, stored or shown, so a value a command echoes never reaches the store,
/// a pack or the terminal.
public struct Redactor: Sendable {
    public static let mask: [UInt8] = Array("***".utf8)
    /// Longest first, so a value containing another is masked whole.
    private let values: [[UInt8]]

    public init(values: [String]) {
        self.values = Array(Set(values.filter { !$0.isEmpty })).map { Array($0.utf8) }.sorted { $0.count > $1.count }
    }

    public var isEmpty: Bool { values.isEmpty }

    public func redact(_ bytes: [UInt8]) -> [UInt8] {
        if values.isEmpty || bytes.isEmpty { return bytes }
        var current = bytes
        for value in values { current = Redactor.replace(value, in: current) }
        return current
    }

    public func redact(_ text: String) -> String {
        values.isEmpty ? text : String(decoding: redact(Array(text.utf8)), as: UTF8.self)
    }

    static func replace(_ needle: [UInt8], in haystack: [UInt8]) -> [UInt8] {
        guard needle.count <= haystack.count, let first = needle.first else { return haystack }
        var out: [UInt8] = []
        var i = 0
        var copied = 0
        let last = haystack.count - needle.count
        while i <= last {
            if haystack[i] == first, haystack[i..<i + needle.count].elementsEqual(needle) {
                if out.isEmpty { out.reserveCapacity(haystack.count) }
                out.append(contentsOf: haystack[copied..<i])
                out.append(contentsOf: mask)
                i += needle.count
                copied = i
            } else {
                i += 1
            }
        }
        if copied == 0 { return haystack }
        out.append(contentsOf: haystack[copied...])
        return out
    }
}
