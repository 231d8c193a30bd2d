/// The interlocks real replay needs, every one of them: `--real-tools`,
/// `--unsafe-real-tools`, a non-empty `--allow-tools`, and `PIPELINE_ALLOW_REAL_REPLAY=1` in
/// the environment. Without any of them, replay only checks (stub mode) and runs nothing.
public struct ReplayPolicy: Sendable, Equatable {
    public static let environmentVariable = "PIPELINE_ALLOW_REAL_REPLAY"

    /// Program names real replay may run (nil: stub mode).
    public var allowedTools: Set<String>?

    public static let stub = ReplayPolicy(allowedTools: nil)

    public init(allowedTools: Set<String>?) {
        self.allowedTools = allowedTools
    }

    public var isReal: Bool { allowedTools != nil }

    /// The policy the flags ask for. Asking for real replay (any of the three flags) without
    /// every interlock is refused (exit 8) with the missing ones named; nothing runs.
    public static func from(realTools: Bool, unsafeRealTools: Bool, allowTools: [String], environment: [String: String]) throws -> ReplayPolicy {
        let tools = allowTools.flatMap { $0.split(separator: ",") }.map { String($0).trimmingPrefix(while: { $0 == " " }) }
            .map(String.init).filter { !$0.isEmpty }
        guard realTools || unsafeRealTools || !allowTools.isEmpty else { return .stub }
        var missing: [String] = []
        if !realTools { missing.append("--real-tools") }
        if !unsafeRealTools { missing.append("--unsafe-real-tools") }
        if tools.isEmpty { missing.append("--allow-tools LIST (the programs replay may run)") }
        if environment[environmentVariable] != "1" { missing.append("\(environmentVariable)=1 in the environment") }
        guard missing.isEmpty else {
            throw PipelineError(.confirmationRequired, "real replay executes recorded commands and needs every interlock; missing: \(missing.joined(separator: ", "))",
                                hint: "without them, replay only checks the recorded results (stub mode)")
        }
        return ReplayPolicy(allowedTools: Set(tools))
    }

    /// A Pipelinefile may narrow what the calling run allows, never widen it.
    public func narrowed(to tools: [String]?) -> ReplayPolicy {
        guard let allowedTools, let tools else { return self }
        return ReplayPolicy(allowedTools: allowedTools.intersection(tools))
    }

    /// The program a command runs, as `--allow-tools` names it: the basename of argv[0], or
    /// for a shell line its first word after any `VAR=value` prefixes.
    public static func tool(of command: Command) -> String {
        var word: Substring
        switch command {
        case .argv(let words): word = Substring(words.first ?? "")
        case .shell(let line):
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" })
            word = words.first { token in
                guard let eq = token.firstIndex(of: "="), eq != token.startIndex else { return true }
                return !EnvName.isValid(String(token[..<eq]))
            } ?? ""
        }
        if let slash = word.lastIndex(of: "/") { word = word[word.index(after: slash)...] }
        return String(word)
    }

    public func allows(_ command: Command?) -> Bool {
        guard let allowedTools, let command else { return false }
        return allowedTools.contains(ReplayPolicy.tool(of: command))
    }
}
