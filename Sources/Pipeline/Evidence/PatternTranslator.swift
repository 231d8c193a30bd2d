/// Translates an ECMA-262 pattern (a subset) into a POSIX extended regular expression.
///
/// Supported: literals, `.`, `^`, `$`, `|`, groups (`(?:...)` and `(?<name>...)` become plain
/// groups), `* + ? {n} {n,} {n,m}` (lazy forms match the same strings, so `?` after them is
/// dropped), bracket classes with ranges, `\d \w \s` and their negations, `\t \n \r \f \v`,
/// `\xHH`, `\uHHHH` and escaped punctuation. Refused (init throws): lookaround, backreferences,
/// `\b`, `\B`, Unicode property escapes and anything else POSIX cannot express.
struct PatternTranslator {
    let scalars: [Unicode.Scalar]
    let source: String
    var index = 0

    init(_ source: String) {
        self.source = source
        scalars = Array(source.unicodeScalars)
    }

    /// `source` as a POSIX extended regular expression; throws for what POSIX cannot express.
    static func translate(_ source: String) throws -> String {
        var translator = PatternTranslator(source)
        return try translator.expression()
    }

    private mutating func expression() throws -> String {
        var out = ""
        var afterQuantifier = false
        while let c = next() {
            let quantifier: Bool
            switch c {
            case "\\":
                out += try escapeOutsideClass()
                quantifier = false
            case ".":
                out += "[^\n\r]"
                quantifier = false
            case "[":
                out += try bracketClass()
                quantifier = false
            case "(":
                if peek() == "?" {
                    advance()
                    switch (next(), peek()) {
                    case (":", _): break
                    case ("<", let after?) where after != "=" && after != "!":
                        while let n = next(), n != ">" {}
                    default: throw unsupported("lookaround or group flags")
                    }
                }
                out += "("
                quantifier = false
            case "?" where afterQuantifier:
                afterQuantifier = false  // lazy quantifier: the same strings match
                continue
            case "*", "+", "?":
                out.unicodeScalars.append(c)
                quantifier = true
            case "{":
                if let bound = bound() {
                    out += "{" + bound + "}"
                    quantifier = true
                } else {
                    out += "\\{"
                    quantifier = false
                }
            case "}":
                out += "\\}"
                quantifier = false
            default:
                out.unicodeScalars.append(c)
                quantifier = false
            }
            afterQuantifier = quantifier
        }
        return out
    }

    mutating func next() -> Unicode.Scalar? {
        guard index < scalars.count else { return nil }
        defer { index += 1 }
        return scalars[index]
    }

    func peek(_ offset: Int = 0) -> Unicode.Scalar? {
        index + offset < scalars.count ? scalars[index + offset] : nil
    }

    mutating func advance() { index += 1 }

    func unsupported(_ what: String) -> PipelineError {
        PipelineError(.invalidInput, "pattern \(source) uses \(what), which is not supported")
    }

    /// `n}`, `n,}` or `n,m}` after a `{`, consumed; nil (nothing consumed) when it is not a bound.
    mutating func bound() -> String? {
        var probe = index
        var text = ""
        var sawComma = false
        var sawDigit = false
        while probe < scalars.count {
            let c = scalars[probe]
            probe += 1
            if c == "}" {
                guard sawDigit, text.first != "," else { return nil }
                index = probe
                return text
            }
            if c == "," && !sawComma {
                sawComma = true
            } else if !("0"..."9").contains(c) {
                return nil
            } else {
                sawDigit = true
            }
            text.unicodeScalars.append(c)
        }
        return nil
    }

    static let classes: [Unicode.Scalar: (body: String, negated: Bool)] = [
        "d": ("0-9", false), "D": ("0-9", true),
        "w": ("A-Za-z0-9_", false), "W": ("A-Za-z0-9_", true),
        "s": ("[:space:]", false), "S": ("[:space:]", true),
    ]

    static let ereSpecial: Set<Unicode.Scalar> = [".", "[", "]", "(", ")", "*", "+", "?", "{", "}", "|", "^", "$", "\\"]

    mutating func escapeOutsideClass() throws -> String {
        guard let c = next() else { throw unsupported("a trailing backslash") }
        if let cls = PatternTranslator.classes[c] { return "[" + (cls.negated ? "^" : "") + cls.body + "]" }
        let literal = try escapedLiteral(c, inClass: false)
        return PatternTranslator.ereSpecial.contains(literal) ? "\\" + String(literal) : String(literal)
    }

    /// The character a `\c` escape stands for (not a class escape).
    mutating func escapedLiteral(_ c: Unicode.Scalar, inClass: Bool) throws -> Unicode.Scalar {
        switch c {
        case "t": return "\t"
        case "n": return "\n"
        case "r": return "\r"
        case "f": return "\u{0C}"
        case "v": return "\u{0B}"
        case "b" where inClass: return "\u{08}"
        case "x": return try hexEscape(digits: 2)
        case "u": return try hexEscape(digits: 4)
        case "0": throw unsupported("a NUL character")
        case "b", "B": throw unsupported("word boundaries")
        case "1"..."9": throw unsupported("backreferences")
        default:
            if c.properties.isAlphabetic || ("0"..."9").contains(c) { throw unsupported("the escape \\\(c)") }
            return c
        }
    }

    mutating func hexEscape(digits: Int) throws -> Unicode.Scalar {
        var value: UInt32 = 0
        for _ in 0..<digits {
            guard let c = next(), c.isASCII, let digit = Character(c).hexDigitValue else {
                throw unsupported("a malformed hex escape")
            }
            value = value * 16 + UInt32(digit)
        }
        guard value != 0, let scalar = Unicode.Scalar(value) else { throw unsupported("a NUL or surrogate escape") }
        return scalar
    }

    /// A `[...]` class after its `[`, as a POSIX bracket expression. POSIX brackets have no
    /// escapes, so members are collected and re-emitted with `]` first and `^`, `-` last.
    mutating func bracketClass() throws -> String {
        var negated = false
        if peek() == "^" { negated = true; advance() }
        var literals: [Unicode.Scalar] = []
        var ranges: [(Unicode.Scalar, Unicode.Scalar)] = []
        var classes: [String] = []
        var negatedClass: String? = nil
        var closed = false
        while let c = next() {
            if c == "]" { closed = true; break }
            var member: Unicode.Scalar
            if c == "\\" {
                guard let e = next() else { throw unsupported("a trailing backslash") }
                if let cls = PatternTranslator.classes[e] {
                    if cls.negated { negatedClass = cls.body } else { classes.append(cls.body) }
                    continue
                }
                member = try escapedLiteral(e, inClass: true)
            } else {
                member = c
            }
            if peek() == "-", let end = peek(1), end != "]" {
                advance()
                advance()
                var last = end
                if end == "\\" {
                    guard let e = next() else { throw unsupported("a trailing backslash") }
                    if PatternTranslator.classes[e] != nil { throw unsupported("a class escape as a range end") }
                    last = try escapedLiteral(e, inClass: true)
                }
                guard member.value <= last.value else { throw unsupported("a reversed range") }
                if "]^-[".unicodeScalars.contains(member) || "]^-[".unicodeScalars.contains(last) {
                    throw unsupported("a range ending in ] ^ - or [")
                }
                ranges.append((member, last))
                continue
            }
            literals.append(member)
        }
        guard closed else { throw unsupported("an unterminated class") }
        if let body = negatedClass {
            // [\D] alone is expressible; mixed with other members it is not.
            guard literals.isEmpty, ranges.isEmpty, classes.isEmpty, !negated else {
                throw unsupported("a negated class escape inside a class")
            }
            return "[^" + body + "]"
        }
        guard !(literals.isEmpty && ranges.isEmpty && classes.isEmpty) else { throw unsupported("an empty class") }
        let hasBracket = literals.contains("]")
        let hasCaret = literals.contains("^")
        let hasDash = literals.contains("-")
        let hasOpen = literals.contains("[")
        var body = ""
        for (lo, hi) in ranges { body.unicodeScalars.append(lo); body += "-"; body.unicodeScalars.append(hi) }
        body += classes.joined()
        for c in literals where !"]^-[".unicodeScalars.contains(c) { body.unicodeScalars.append(c) }
        if hasOpen { body += "[" }
        if !negated && body.isEmpty && !hasBracket && hasCaret {
            // "^" cannot come first unless it negates: put "-" first, or escape it outside a class.
            return hasDash ? "[-^]" : "\\^"
        }
        return "[" + (negated ? "^" : "") + (hasBracket ? "]" : "") + body + (hasCaret ? "^" : "") + (hasDash ? "-" : "") + "]"
    }
}
