import Pipeline

/// `use: capture` with `with: { run: "command" }` (or a list of arguments): runs the command
/// like `run:` does and records it as evidence (every executed step leaves a run record; a
/// capture step exists to say that recording the command is its purpose).
public struct CaptureRule: Rule {
    public static let name = "capture"
    public static let version = 1

    public init() {}

    public func declare(_ with: JSON, step: String) throws -> (inputs: [String], outputs: [String]) {
        let fields = WithFields(with: with, step: step, rule: Self.name)
        try fields.checkKeys(["run"])
        guard command(with) != nil else {
            throw PipelineError(.invalidInput, "rule 'capture' of step '\(step)' needs 'with: { run: COMMAND }' (a shell line or a list of arguments)")
        }
        return ([], [])
    }

    public func command(_ with: JSON) -> Command? {
        switch with["run"] {
        case .string(let line)? where !line.allSatisfy(\.isWhitespace): return .shell(line)
        case .array(let items)? where !items.isEmpty && items.allSatisfy({ $0.stringValue != nil }):
            return .argv(items.compactMap(\.stringValue))
        default: return nil
        }
    }

    public func run(_ context: RuleContext) throws -> [String] { [] }
}
