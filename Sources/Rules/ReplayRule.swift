import Pipeline

/// `use: replay` with `with: { allow_tools: [...], report: FILE }`: replays the run records
/// of the steps it needs, so CI can assert a target reproduces. Stub mode (recorded results
/// present and intact) unless the calling `pipeline run` was given every real-replay
/// interlock; `allow_tools` narrows what that run allows, never widens it. The step fails
/// (exit 2 results missing, 5 not reproduced) when the replay does; `report` keeps the JSON.
public struct ReplayRule: Rule {
    public static let name = "replay"
    public static let version = 1
    /// The answer depends on the store and the machine's tools, not only on the key.
    public static let cacheable = false

    public init() {}

    public func declare(_ with: JSON, step: String) throws -> (inputs: [String], outputs: [String]) {
        let fields = WithFields(with: with, step: step, rule: Self.name)
        try fields.checkKeys(["allow_tools", "report"])
        _ = try fields.strings("allow_tools")
        return ([], try fields.string("report").map { [$0] } ?? [])
    }

    public func run(_ context: RuleContext) throws -> [String] {
        let fields = WithFields(with: context.with, step: context.step.name, rule: Self.name)
        let policy = context.replayPolicy.narrowed(to: try fields.strings("allow_tools"))
        let store = try LocalStore(root: context.storePath, create: false)
        let replayer = Replayer(source: "step:\(context.step.name)", records: context.records, blobs: store, policy: policy,
                                environment: context.environment)
        var scratch: String?
        defer { if let scratch { try? FileSystem.remove(scratch) } }
        if policy.isReal { scratch = try ReplayRun.temporaryFolder("pipeline-replay", context.environment) }
        let report = try replayer.replay(executor: policy.isReal ? context.makeExecutor?() : nil, scratch: scratch, out: nil)
        if let path = try fields.string("report") {
            try Materializer.writeAtomically(report.json.canonicalBytes + [0x0A], to: Path.join(context.workspaceRoot, path))
        }
        let lines = report.steps.map { "\($0.status.rawValue) \($0.step)" + ($0.changed.isEmpty ? "" : ": " + $0.changed.map(\.path).joined(separator: ", ")) }
        if let failure = report.failure {
            let names = report.steps.filter { $0.status == .missingResult || $0.status == .differs || $0.status == .failed }.map(\.step)
            throw PipelineError(failure, (failure == .notReproduced ? "did not reproduce: " : "recorded results missing: ") + names.joined(separator: ", ")
                                + "\n" + lines.joined(separator: "\n"))
        }
        return lines
    }
}
