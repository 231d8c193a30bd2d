/// Glob patterns over workspace-relative paths: `*` and `?` within one directory, `**` for
/// zero or more directories, `[abc]` classes. Dotfiles match only when named explicitly.
public struct Glob: Sendable {
    public let pattern: String
    let components: [[UInt8]]

    public init(_ pattern: String) {
        self.pattern = pattern
        components = pattern.split(separator: "/", omittingEmptySubsequences: true).map { Array($0.utf8) }
    }

    public static func isPattern(_ text: String) -> Bool {
        text.utf8.contains { $0 == UInt8(ascii: "*") || $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "[") }
    }

    /// Whether a relative path matches the whole pattern.
    public func matches(_ path: String) -> Bool {
        let parts = path.split(separator: "/", omittingEmptySubsequences: true).map { Array($0.utf8) }
        return Glob.match(components[...], parts[...])
    }

    static func match(_ pattern: ArraySlice<[UInt8]>, _ parts: ArraySlice<[UInt8]>) -> Bool {
        guard let first = pattern.first else { return parts.isEmpty }
        if first == [UInt8(ascii: "*"), UInt8(ascii: "*")] {
            let rest = pattern.dropFirst()
            var remaining = parts
            while true {
                if match(rest, remaining) { return true }
                guard let next = remaining.first, next.first != UInt8(ascii: ".") else { return false }
                remaining = remaining.dropFirst()
            }
        }
        guard let part = parts.first, matchComponent(first, part) else { return false }
        return match(pattern.dropFirst(), parts.dropFirst())
    }

    /// One path component against one pattern component.
    static func matchComponent(_ pattern: [UInt8], _ name: [UInt8]) -> Bool {
        if name.first == UInt8(ascii: "."), pattern.first != UInt8(ascii: ".") { return false }
        return wildcard(pattern[...], name[...])
    }

    static func wildcard(_ p: ArraySlice<UInt8>, _ s: ArraySlice<UInt8>) -> Bool {
        var pi = p.startIndex, si = s.startIndex
        var starP = -1, starS = -1
        while si < s.endIndex {
            if pi < p.endIndex {
                let c = p[pi]
                if c == UInt8(ascii: "*") {
                    starP = pi; starS = si; pi += 1
                    continue
                }
                if c == UInt8(ascii: "?") { pi += 1; si += 1; continue }
                if c == UInt8(ascii: "["), let (matched, next) = matchClass(p, at: pi, s[si]) {
                    if matched { pi = next; si += 1; continue }
                } else if c == s[si] {
                    pi += 1; si += 1
                    continue
                }
            }
            if starP >= 0 {
                pi = starP + 1
                starS += 1
                si = starS
                continue
            }
            return false
        }
        while pi < p.endIndex, p[pi] == UInt8(ascii: "*") { pi += 1 }
        return pi == p.endIndex
    }

    /// `[abc]`, `[a-z]`, `[!x]`: (matched, index after the class), nil when unterminated.
    static func matchClass(_ p: ArraySlice<UInt8>, at start: Int, _ c: UInt8) -> (Bool, Int)? {
        var i = start + 1
        var negate = false
        if i < p.endIndex, p[i] == UInt8(ascii: "!") || p[i] == UInt8(ascii: "^") { negate = true; i += 1 }
        var matched = false
        var first = true
        while i < p.endIndex, p[i] != UInt8(ascii: "]") || first {
            first = false
            if i + 2 < p.endIndex, p[i + 1] == UInt8(ascii: "-"), p[i + 2] != UInt8(ascii: "]") {
                if p[i] <= c && c <= p[i + 2] { matched = true }
                i += 3
            } else {
                if p[i] == c { matched = true }
                i += 1
            }
        }
        guard i < p.endIndex else { return nil }
        return (matched != negate, i + 1)
    }

    /// The leading components without wildcards: where expansion starts walking.
    var literalPrefix: (prefix: String, rest: ArraySlice<[UInt8]>) {
        var index = 0
        while index < components.count, !Glob.isPattern(String(decoding: components[index], as: UTF8.self)) { index += 1 }
        let prefix = components[0..<index].map { String(decoding: $0, as: UTF8.self) }.joined(separator: "/")
        return (prefix, components[index...])
    }
}
