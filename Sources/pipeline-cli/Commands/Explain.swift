import ArgumentParser
import Executors
import Pipeline
import Rules

struct Explain: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Why a step would run now, and why it ran last time.")

    @OptionGroup var workspaceOptions: WorkspaceOptions

    @Argument(help: "The step to explain.")
    var step: String

    func run() throws {
        let environment = Output.environment
        let engine = Engine(workspace: try workspaceOptions.workspace(environment), registry: BuiltinRules.registry, environment: environment, events: EventLog())
        let (now, last) = try engine.explain(step, executor: LocalExecutor(handlesSignals: false))
        let nowText: String
        switch now?.status {
        case .upToDate?: nowText = "up to date"
        case .restored?: nowText = "would be restored from the cache: \(now?.reason?.description ?? "")"
        case .ran?: nowText = "would run: \(now?.reason?.description ?? "")"
        default: nowText = "would not run: \(now?.message ?? "a step it needs cannot run")"
        }
        let lastText = last.map { "\($0.status.rawValue)" + ($0.status == .upToDate ? "" : " (\($0.reason))") } ?? "never ran in this workspace"
        if workspaceOptions.json {
            Output.line(JSON.object([
                "schema_id": "pipeline.explain", "schema_version": "1.0.0", "step": .string(step),
                "now": .string(nowText), "now_status": .string(now?.status.rawValue ?? "skipped"),
                "now_reason_code": now?.reason.map { .string($0.code) } ?? .null,
                "last_status": last.map { .string($0.status.rawValue) } ?? .null,
                "last_reason": last.map { .string($0.reason) } ?? .null,
            ]).canonicalString)
            return
        }
        Output.line("\(step): now \(nowText)")
        Output.line("\(step): last time \(lastText)")
    }
}
