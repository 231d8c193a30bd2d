/// `compile_commands.json` for the C/C++ compiles of a plan, as clangd and other tools read
/// it: one entry per step whose command is a single compiler invocation with `-c`.
///
/// A step qualifies when its command (an argv, or a shell line without pipes, lists,
/// redirections, substitutions or other `$` expansions) is `[NAME=value...] COMPILER ... -c ...`
/// (optionally after ccache, sccache or distcc) where COMPILER is cc, gcc, clang, c++, g++ or clang++ (with a path, a version suffix like
/// `gcc-12` or a target prefix like `x86_64-linux-gnu-gcc`), or `$CC`, `${CC}`, `${CC:-cc}`
/// resolved from the step's declared env (else the default). The entry's `file` is the source
/// file the command names (`.c .cc .cpp .cxx .c++ .C .m .mm`), `output` what follows `-o`.
public struct CompilationDatabase: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        public var step: String
        public var arguments: [String]
        public var file: String
        public var output: String?
    }

    /// Absolute: where every command runs (the workspace root).
    public var directory: String
    /// In step order.
    public var entries: [Entry]

    /// The entries of `steps` (in the order given); `environment` is the caller's, for
    /// pass-through variables a compiler word may name.
    public init(steps: [Step], directory: String, environment: [String: String]) {
        self.directory = directory
        entries = steps.compactMap { step in
            guard case .run(let command) = step.action else { return nil }
            return CompilationDatabase.entry(step: step, command: command, environment: environment)
        }
    }

    /// The file's bytes: a JSON array, one entry per line, keys sorted.
    public var bytes: [UInt8] {
        var out = Array("[".utf8)
        for (index, entry) in entries.enumerated() {
            out.append(contentsOf: (index == 0 ? "\n  " : ",\n  ").utf8)
            var members: [String: JSON] = [
                "directory": .string(directory), "arguments": .array(entry.arguments.map(JSON.string)), "file": .string(entry.file),
            ]
            if let output = entry.output { members["output"] = .string(output) }
            out.append(contentsOf: JSON.object(members).canonicalBytes)
        }
        out.append(contentsOf: (entries.isEmpty ? "]\n" : "\n]\n").utf8)
        return out
    }

    static let compilers: Set<String> = ["cc", "gcc", "clang", "c++", "g++", "clang++"]
    /// Launchers that run the compiler named after them.
    static let wrappers: Set<String> = ["ccache", "sccache", "distcc"]
    static let sourceSuffixes = [".c", ".cc", ".cpp", ".cxx", ".c++", ".C", ".m", ".mm"]
    /// Options whose next word is their value, never the source file.
    static let optionsWithValue: Set<String> = ["-o", "-MF", "-MT", "-MQ", "-I", "-D", "-U", "-include", "-imacros", "-isystem", "-iquote",
                                                "-idirafter", "-x", "-Xlinker", "-Xpreprocessor", "-Xassembler", "-L", "-l", "-arch", "--sysroot"]

    static func entry(step: Step, command: Command, environment: [String: String]) -> Entry? {
        var words: [String]
        switch command {
        case .argv(let argv): words = argv
        case .shell(let line):
            // `mkdir -p build && cc -c …`: the one compiler invocation of an && list.
            guard let commands = ShellWords.andList(line)?.compactMap(ShellWords.split), commands.count == ShellWords.andList(line)?.count else { return nil }
            let compiles = commands.filter { command in
                let rest = command.drop(while: isAssignment)
                guard let first = rest.first else { return false }
                return first.hasPrefix("$") || isCompiler(first) || wrappers.contains(String(first.split(separator: "/").last ?? ""))
            }
            guard compiles.count == 1 else { return nil }
            words = compiles[0]
        }
        while let first = words.first, isAssignment(first) { words.removeFirst() }
        guard let first = words.first else { return nil }
        if first.hasPrefix("$") {
            guard case .shell = command, let value = expand(first, step: step, environment: environment) else { return nil }
            let compiler = value.split(separator: " ").map(String.init)
            guard !compiler.isEmpty else { return nil }
            words = compiler + words.dropFirst()
        }
        let wrapped = words.count > 1 && wrappers.contains(String(words[0].split(separator: "/").last ?? ""))
        guard isCompiler(words[wrapped ? 1 : 0]), words.contains("-c") else { return nil }
        if case .shell = command, words.dropFirst().contains(where: { $0.contains("$") }) { return nil }
        var file: String?
        var output: String?
        var index = wrapped ? 2 : 1
        while index < words.count {
            let word = words[index]
            if word == "-o", index + 1 < words.count {
                output = words[index + 1]
            } else if word.hasPrefix("-o"), word.count > 2 {
                output = String(word.dropFirst(2))
            }
            if optionsWithValue.contains(word) {
                index += 2
                continue
            }
            if file == nil, !word.hasPrefix("-"), sourceSuffixes.contains(where: { word.hasSuffix($0) }) { file = word }
            index += 1
        }
        guard let file else { return nil }
        return Entry(step: step.name, arguments: words, file: file, output: output)
    }

    static func isAssignment(_ word: String) -> Bool {
        guard let equals = word.firstIndex(of: "=") else { return false }
        return EnvName.isValid(String(word[..<equals]))
    }

    /// `cc`, `/usr/bin/gcc-12`, `x86_64-linux-gnu-g++`, `clang++-17`.
    static func isCompiler(_ word: String) -> Bool {
        var name = Substring(word.split(separator: "/", omittingEmptySubsequences: false).last ?? "")
        if let dash = name.lastIndex(of: "-"), name[name.index(after: dash)...].allSatisfy({ $0.isNumber || $0 == "." }),
           name.index(after: dash) < name.endIndex {
            name = name[..<dash]  // a version suffix
        }
        if compilers.contains(String(name)) { return true }
        return compilers.contains { name.hasSuffix("-" + $0) }
    }

    /// `$CC`, `${CC}`, `${CC:-cc}`, `${CC-cc}`: the step's value for it, else the default.
    static func expand(_ word: String, step: Step, environment: [String: String]) -> String? {
        var body = word.dropFirst()
        let braced = body.hasPrefix("{")
        if braced {
            guard body.hasSuffix("}") else { return nil }
            body = body.dropFirst().dropLast()
        }
        var name = body
        var fallback: Substring?
        if braced, let dash = body.firstIndex(of: "-") {
            name = body[..<dash]
            if name.hasSuffix(":") { name = name.dropLast() }
            fallback = body[body.index(after: dash)...]
        }
        guard EnvName.isValid(String(name)), fallback.map({ !$0.contains("$") }) ?? true else { return nil }
        let key = String(name)
        if let value = step.env.values[key] { return value }
        if step.env.passThrough.contains(key), let value = environment[key], !value.isEmpty { return value }
        return fallback.map(String.init)
    }
}

/// Splits a shell line into words the way `/bin/sh` would, for lines that are one simple
/// command: nil when the line has anything else (`;`, `&`, `|`, `<`, `>`, `(`, `)`, a
/// backquote, a newline, an unterminated quote).
public enum ShellWords {
    /// The commands of an `A && B && C` line, split where `&&` stands outside quotes; nil
    /// for a line ending in `&&` or with an empty command.
    public static func andList(_ line: String) -> [String]? {
        var parts: [String] = []
        var current = ""
        var quote: Unicode.Scalar?
        var escaped = false
        let scalars = Array(line.unicodeScalars)
        var i = 0
        while i < scalars.count {
            let c = scalars[i]
            if escaped {
                escaped = false
            } else if let q = quote {
                if c == q { quote = nil } else if c == "\\" && q == "\"" { escaped = true }
            } else if c == "\\" {
                escaped = true
            } else if c == "'" || c == "\"" {
                quote = c
            } else if c == "&", i + 1 < scalars.count, scalars[i + 1] == "&" {
                guard !current.allSatisfy({ $0 == " " || $0 == "\t" }) else { return nil }
                parts.append(current)
                current = ""
                i += 2
                continue
            }
            current.unicodeScalars.append(c)
            i += 1
        }
        guard !current.allSatisfy({ $0 == " " || $0 == "\t" }) else { return nil }
        parts.append(current)
        return parts
    }

    public static func split(_ line: String) -> [String]? {
        var words: [String] = []
        var word = ""
        var inWord = false
        var iterator = Array(line.unicodeScalars).makeIterator()
        while let c = iterator.next() {
            switch c {
            case " ", "\t":
                if inWord { words.append(word); word = ""; inWord = false }
            case ";", "&", "|", "<", ">", "(", ")", "`", "\n":
                return nil
            case "\\":
                guard let next = iterator.next() else { return nil }
                if next == "\n" { continue }
                word.unicodeScalars.append(next)
                inWord = true
            case "'":
                inWord = true
                while true {
                    guard let q = iterator.next() else { return nil }
                    if q == "'" { break }
                    word.unicodeScalars.append(q)
                }
            case "\"":
                inWord = true
                while true {
                    guard let q = iterator.next() else { return nil }
                    if q == "\"" { break }
                    if q == "`" { return nil }
                    if q == "$" { word.unicodeScalars.append(q); continue }  // left to the caller to refuse
                    if q == "\\" {
                        guard let e = iterator.next() else { return nil }
                        if !["\"", "\\", "$", "`", "\n"].contains(e) { word.unicodeScalars.append(q) }
                        if e != "\n" { word.unicodeScalars.append(e) }
                        continue
                    }
                    word.unicodeScalars.append(q)
                }
            default:
                word.unicodeScalars.append(c)
                inWord = true
            }
        }
        if inWord { words.append(word) }
        return words
    }
}
