/// How a step's command is given.
public enum Command: Sendable, Equatable {
    /// Runs with `/bin/sh -ec` in the workspace root.
    case shell(String)
    /// Runs the program directly, no shell.
    case argv([String])

    /// The program a command starts: the argv's first word, or the shell line's first word.
    public var program: String {
        switch self {
        case .argv(let words): return words.first ?? ""
        case .shell(let line):
            return line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).first.map(String.init) ?? ""
        }
    }

    public var displayText: String {
        switch self {
        case .shell(let line): return line
        case .argv(let words): return words.map(Command.quote).joined(separator: " ")
        }
    }

    /// `{"shell": LINE}` or `{"argv": [WORDS]}`, as keys and run records write it.
    public var json: JSON {
        switch self {
        case .shell(let line): return ["shell": .string(line)]
        case .argv(let words): return ["argv": .array(words.map(JSON.string))]
        }
    }

    /// The inverse of `json`; nil for anything else.
    public init?(json: JSON) {
        if let line = json["shell"]?.stringValue {
            self = .shell(line)
        } else if let words = json["argv"]?.arrayValue, words.allSatisfy({ $0.stringValue != nil }) {
            self = .argv(words.compactMap(\.stringValue))
        } else {
            return nil
        }
    }

    static func quote(_ word: String) -> String {
        let safe = word.allSatisfy { $0.isLetter || $0.isNumber || "-_./=:,+@%".contains($0) }
        if safe && !word.isEmpty { return word }
        return "'" + word.replacing("'", with: "'\\''") + "'"
    }
}

/// Which environment variables a step sees and hashes.
public struct EnvSpec: Sendable, Equatable {
    /// Names passed through from the caller's environment; their values enter the key.
    public var passThrough: [String] = []
    /// Fixed values declared in the Pipelinefile.
    public var values: [String: String] = [:]
    /// Passed through but never hashed by value (tokens, passwords): only presence counts.
    public var secrets: [String] = []

    public init(passThrough: [String] = [], values: [String: String] = [:], secrets: [String] = []) {
        self.passThrough = passThrough
        self.values = values
        self.secrets = secrets
    }

    /// This spec with `other` layered on top (a step's env over the pipeline's).
    public func merged(with other: EnvSpec) -> EnvSpec {
        var result = self
        for name in other.passThrough where !result.passThrough.contains(name) {
            result.passThrough.append(name)
            result.values[name] = nil
        }
        for (name, value) in other.values {
            result.values[name] = value
            result.passThrough.removeAll { $0 == name }
        }
        for name in other.secrets where !result.secrets.contains(name) { result.secrets.append(name) }
        return result
    }
}

/// What a step does.
public enum StepAction: Sendable, Equatable {
    case run(Command)
    case use(rule: String, with: JSON)
    /// Only `needs`: a name for a group of steps.
    case alias
}

/// One validated step of a Pipelinefile, with every `${var}` already expanded.
///
/// A class, not a struct: the scheduler touches every step on every run, and passing a
/// reference costs one retain where copying this many fields cost a dozen (measured: ~8% of
/// a 10,000-step no-op). Only the parser and the plan cache set its fields, before anyone
/// else sees it; from then on it is never mutated, which is what makes it Sendable.
public final class Step: @unchecked Sendable {
    public var name: String
    public var action: StepAction
    public var needs: [String]
    /// Input patterns (globs or literal paths), workspace-relative.
    public var inputs: [String]
    /// Declared outputs (files or directories), workspace-relative, normalized.
    public var outputs: [String]
    public var description: String?
    /// Seconds; nil means no limit.
    public var timeout: Double?
    public var cache: Bool
    public var env: EnvSpec
    /// Where the command writes a Makefile-style list of the files it read (`cc -MD -MF`),
    /// workspace-relative: those files are checked with its cached result.
    public var depfile: String?
    public var location: SourceLocation
    /// Where each `needs` entry, input and output was written, for errors found after parsing.
    public var needsLocations: [SourceLocation]
    public var inputLocations: [SourceLocation]
    public var outputLocations: [SourceLocation]
    public var actionLocation: SourceLocation
    /// The pool limiting how many commands like this one run at once (`pool:`), if any.
    public var pool: Pool?

    public init(name: String, action: StepAction, needs: [String] = [], inputs: [String] = [], outputs: [String] = [],
                description: String? = nil, timeout: Double? = nil, cache: Bool = true, env: EnvSpec = EnvSpec(),
                location: SourceLocation = SourceLocation(file: "Pipelinefile.yaml", line: 1, column: 1)) {
        self.name = name
        self.action = action
        self.needs = needs
        self.inputs = inputs
        self.outputs = outputs
        self.description = description
        self.timeout = timeout
        self.cache = cache
        self.env = env
        self.location = location
        self.needsLocations = Array(repeating: location, count: needs.count)
        self.inputLocations = Array(repeating: location, count: inputs.count)
        self.outputLocations = Array(repeating: location, count: outputs.count)
        self.actionLocation = location
    }

    public var isAlias: Bool { action == .alias }

    public var kindName: String {
        switch action {
        case .run: return "run"
        case .use(let rule, _): return rule
        case .alias: return "alias"
        }
    }
}

/// A ninja-style pool: at most `depth` commands of its steps run at once, whatever `-j` is
/// (links that each take gigabytes of memory, a licence server, a rate-limited API).
public struct Pool: Sendable, Equatable {
    public var name: String
    public var depth: Int

    public init(name: String, depth: Int) {
        self.name = name
        self.depth = depth
    }
}

/// Step names: `[A-Za-z_][A-Za-z0-9_.-]*`.
public enum StepName {
    public static func isValid(_ name: String) -> Bool {
        guard let first = name.utf8.first else { return false }
        guard isLetter(first) || first == UInt8(ascii: "_") else { return false }
        return name.utf8.allSatisfy { isLetter($0) || ($0 >= 0x30 && $0 <= 0x39) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-") }
    }

    static func isLetter(_ c: UInt8) -> Bool { (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) }
}
