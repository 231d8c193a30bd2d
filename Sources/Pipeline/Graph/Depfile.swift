/// A Makefile-style dependency file, as `gcc`/`clang -MD -MF FILE` write it:
///
/// ```
/// build/x.o build/x.d: src/x.c include/x.h \
///   include/with\ space.h
/// include/x.h:                       # -MP adds phony rules like this one
/// ```
///
/// Words are separated by spaces and tabs; a backslash before a newline continues the rule
/// on the next line; `\ ` is a space inside a name (`\\\ ` a backslash and a space, as ninja
/// reads it), `\#` a `#`, `$$` a `$`; any other backslash is part of the name (`c:\x.h`).
/// A `#` that starts a word starts a comment. A `:` ends the targets when a space, tab or
/// line end follows it. `\r\n` counts as `\n`. Several rules, several targets per rule and an
/// empty file are fine. Malformed input is an error with `line:column`; no input, whatever its
/// bytes, makes the parser crash or loop (it reads every byte at most twice).
public struct Depfile: Sendable, Equatable {
    public struct Rule: Sendable, Equatable {
        public var targets: [String]
        public var prerequisites: [String]

        public init(targets: [String], prerequisites: [String]) {
            self.targets = targets
            self.prerequisites = prerequisites
        }
    }

    public var rules: [Rule]

    public init(rules: [Rule]) { self.rules = rules }

    /// Every rule's prerequisites, each once, in order of first appearance.
    public var prerequisites: [String] {
        var seen = Set<String>()
        var list: [String] = []
        for rule in rules {
            for path in rule.prerequisites where seen.insert(path).inserted { list.append(path) }
        }
        return list
    }

    /// Parses `bytes`; `path` names the file in errors (`path:line:col: message`).
    public static func parse(_ bytes: [UInt8], path: String = "depfile") throws -> Depfile {
        try bytes.withUnsafeBufferPointer { try parse($0, path: path) }
    }

    /// The entry point for any bytes (the fuzzer's).
    public static func parse(_ bytes: UnsafeBufferPointer<UInt8>, path: String = "depfile") throws -> Depfile {
        var parser = Parser(bytes: bytes, path: path)
        return try parser.parse()
    }

    private struct Parser {
        let bytes: UnsafeBufferPointer<UInt8>
        let path: String
        var index = 0
        var line = 1
        var lineStart = 0
        /// The word being read (reused).
        var word: [UInt8] = []

        init(bytes: UnsafeBufferPointer<UInt8>, path: String) {
            self.bytes = bytes
            self.path = path
            word.reserveCapacity(128)
        }

        static let space = UInt8(ascii: " "), tab = UInt8(ascii: "\t"), newline = UInt8(ascii: "\n"), cr = UInt8(ascii: "\r")
        static let backslash = UInt8(ascii: "\\"), colon = UInt8(ascii: ":"), hash = UInt8(ascii: "#"), dollar = UInt8(ascii: "$")

        func error(_ message: String, at offset: Int, line: Int, lineStart: Int) -> PipelineError {
            // Columns count bytes, 1-based.
            PipelineError(.invalidInput, message, location: SourceLocation(file: path, line: line, column: offset - lineStart + 1), path: path)
        }

        func byte(_ i: Int) -> UInt8? { i < bytes.count ? bytes[i] : nil }

        /// A line end at `i`: its length (1 for `\n`, 2 for `\r\n`), else 0.
        func lineEnd(at i: Int) -> Int {
            guard i < bytes.count else { return 0 }
            if bytes[i] == Parser.newline { return 1 }
            if bytes[i] == Parser.cr, byte(i + 1) == Parser.newline { return 2 }
            return 0
        }

        mutating func newLine(after end: Int) {
            line += 1
            lineStart = end
        }

        enum Token {
            case word(String, colon: Bool, offset: Int)
            case endOfLine
            case endOfFile
        }

        /// Skips blanks, continuations and comments; then reads one word, a line end, or the end.
        mutating func next() throws -> Token {
            while index < bytes.count {
                let c = bytes[index]
                if c == Parser.space || c == Parser.tab {
                    index += 1
                } else if c == Parser.backslash, lineEnd(at: index + 1) > 0 {
                    index += 1 + lineEnd(at: index + 1)
                    newLine(after: index)
                } else if c == Parser.backslash, index + 1 == bytes.count {
                    index += 1  // a lone backslash at the very end: a continuation of nothing
                } else if lineEnd(at: index) > 0 {
                    index += lineEnd(at: index)
                    newLine(after: index)
                    return .endOfLine
                } else if c == Parser.hash {
                    while index < bytes.count, lineEnd(at: index) == 0 { index += 1 }
                } else {
                    return try readWord()
                }
            }
            return .endOfFile
        }

        mutating func readWord() throws -> Token {
            let start = index
            word.removeAll(keepingCapacity: true)
            while index < bytes.count {
                let c = bytes[index]
                if c == Parser.space || c == Parser.tab || lineEnd(at: index) > 0 { break }
                if c == 0 { throw error("unexpected NUL byte", at: index, line: line, lineStart: lineStart) }
                if c == Parser.backslash {
                    // A run of backslashes: what follows decides what they mean.
                    var end = index
                    while end < bytes.count, bytes[end] == Parser.backslash { end += 1 }
                    let count = end - index
                    let after = byte(end)
                    if after == Parser.space || after == Parser.tab {
                        // 2N+1: N backslashes and an escaped blank; 2N: 2N backslashes, then the word ends.
                        if count % 2 == 1 {
                            word.append(contentsOf: repeatElement(Parser.backslash, count: count / 2))
                            word.append(after!)
                            index = end + 1
                        } else {
                            word.append(contentsOf: repeatElement(Parser.backslash, count: count))
                            index = end
                            break
                        }
                    } else if after == Parser.hash {
                        word.append(contentsOf: repeatElement(Parser.backslash, count: count / 2))
                        if count % 2 == 0 { word.append(contentsOf: repeatElement(Parser.backslash, count: count / 2)) }
                        word.append(Parser.hash)
                        index = end + 1
                    } else if lineEnd(at: end) > 0 || end == bytes.count {
                        // The last backslash continues the line; the others belong to the word.
                        word.append(contentsOf: repeatElement(Parser.backslash, count: count - 1))
                        index = end - 1
                        break
                    } else {
                        word.append(contentsOf: repeatElement(Parser.backslash, count: count))
                        index = end
                    }
                    continue
                }
                if c == Parser.dollar, byte(index + 1) == Parser.dollar {
                    word.append(Parser.dollar)
                    index += 2
                    continue
                }
                word.append(c)
                index += 1
            }
            if index == start { index += 1 }  // always make progress
            // A `:` that ends the word ends the targets (`c:\x.h` keeps its colon).
            var colon = false
            if word.last == Parser.colon, bytes[index - 1] == Parser.colon {
                word.removeLast()
                colon = true
            }
            guard let text = String(validating: word, as: UTF8.self) else {
                throw error("a path that is not valid UTF-8", at: start, line: line, lineStart: lineStart)
            }
            return .word(text, colon: colon, offset: start)
        }

        mutating func parse() throws -> Depfile {
            var rules: [Rule] = []
            var targets: [String] = []
            var prerequisites: [String] = []
            var afterColon = false
            var firstWord: (offset: Int, line: Int, lineStart: Int)?
            func finishRule() throws {
                if !targets.isEmpty || afterColon {
                    if !afterColon, let at = firstWord {
                        throw error("expected ':' after the target '\(targets.last!)'", at: at.offset, line: at.line, lineStart: at.lineStart)
                    }
                    rules.append(Rule(targets: targets, prerequisites: prerequisites))
                }
                targets.removeAll()
                prerequisites.removeAll()
                afterColon = false
                firstWord = nil
            }
            while true {
                switch try next() {
                case .endOfFile:
                    try finishRule()
                    return Depfile(rules: rules)
                case .endOfLine:
                    try finishRule()
                case .word(let text, let colon, let offset):
                    // A word never spans lines: it starts on the current one.
                    let at = (offset: offset, line: line, lineStart: lineStart)
                    if firstWord == nil { firstWord = at }
                    if afterColon {
                        if colon {
                            throw error("unexpected ':' after '\(text)': one rule has one ':'", at: offset + text.utf8.count, line: at.line,
                                        lineStart: at.lineStart)
                        }
                        if !text.isEmpty { prerequisites.append(text) }
                    } else {
                        if !text.isEmpty { targets.append(text) }
                        if colon {
                            if targets.isEmpty {
                                throw error("missing target before ':'", at: offset, line: at.line, lineStart: at.lineStart)
                            }
                            afterColon = true
                        }
                    }
                }
            }
        }
    }
}
