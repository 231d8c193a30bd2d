import ArgumentParser
import Executors
import Pipeline

struct ReplayCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay", abstract: "Re-check a captured run: stub mode checks its results; real mode re-runs allow-listed steps.",
        discussion: """
            SOURCE is a job id, a job folder or a run pack. Stub mode (the default) runs nothing. Real mode needs every interlock: \
            --real-tools, --unsafe-real-tools, --allow-tools LIST and PIPELINE_ALLOW_REAL_REPLAY=1; it runs the allow-listed steps \
            in a scratch folder holding their recorded inputs, never in the workspace. Exit 0 reproduced or verified, 2 results \
            missing, 5 a step differs or failed, 6 bad input, 8 an interlock missing.
            """)

    @OptionGroup var workspaceOptions: WorkspaceOptions

    @Argument(help: "A job id, a job folder (<store>/jobs/<id>), or a run pack (.zip).")
    var source: String

    @Option(help: "Also write each verified step's recorded outputs into DIR (new or empty).")
    var out: String?

    @OptionGroup(title: "Real mode (all four interlocks, with PIPELINE_ALLOW_REAL_REPLAY=1)")
    var interlocks: ReplayInterlocks

    @Flag(help: "Keep the scratch folder of real replay (its path is printed).")
    var keep = false

    func run() throws {
        let environment = Output.environment
        let policy = try interlocks.policy(environment)
        let cwd = FileSystem.currentDirectory()
        let storePath = try? workspaceOptions.storePath(environment)
        let isJobID = JobID(source) != nil && !source.contains("/")
        let request = ReplayRun(source: isJobID ? source : Path.join(cwd, source), storePath: storePath,
                                policy: policy, out: out.map { Path.join(cwd, $0) }, keep: keep)
        let (report, scratch) = try request.run(executor: policy.isReal ? LocalExecutor(handlesSignals: true) : nil, environment: environment)
        if workspaceOptions.json {
            Output.line(report.json.canonicalString)
        } else {
            Output.line("replay \(report.source) (\(policy.isReal ? "real: " + (policy.allowedTools ?? []).sorted().joined(separator: ",") : "stub"))")
            for step in report.steps {
                Output.line("  \(step.status.rawValue.padding(15)) \(step.step)  [\(step.tool)]" + (step.message.map { "  \($0)" } ?? ""))
                for change in step.changed { Output.line("      ~ \(change.path)  \(change.recorded.hex) → \(change.replayed.hex)") }
                for missing in step.missing { Output.line("      - \(missing.path)  \(missing.digest.hex)") }
            }
            let counts = Replayer.Status.allCases.compactMap { status in report.count(status) > 0 ? "\(report.count(status)) \(status.rawValue)" : nil }
            Output.line("  " + (counts.isEmpty ? "no steps to replay" : counts.joined(separator: ", ")))
            if let scratch { Output.error("scratch folder kept: \(scratch)") }
        }
        guard let failure = report.failure else { return }
        let names = report.steps.filter { $0.status == .missingResult || $0.status == .differs || $0.status == .failed }.map(\.step)
        let message = failure == .verificationFailed ? "recorded results are missing for: \(names.joined(separator: ", "))"
            : "did not reproduce: \(names.joined(separator: ", "))"
        if workspaceOptions.json { ErrorReport.print(PipelineError(failure, message, step: names.first), json: true) }
        throw CommandExit(status: ExitStatus.of(failure))
    }
}

/// The flags that, with PIPELINE_ALLOW_REAL_REPLAY=1, let replay run recorded commands.
struct ReplayInterlocks: ParsableArguments {
    @Flag(help: "Real replay, interlock 1 of 4: re-execute steps.")
    var realTools = false

    @Flag(help: "Real replay, interlock 2 of 4: yes, recorded commands will run on this machine.")
    var unsafeRealTools = false

    @Option(help: "Real replay, interlock 3 of 4: programs replay may run (comma-separated, repeatable).")
    var allowTools: [String] = []

    func policy(_ environment: [String: String]) throws -> ReplayPolicy {
        try ReplayPolicy.from(realTools: realTools, unsafeRealTools: unsafeRealTools, allowTools: allowTools, environment: environment)
    }
}
