import ArgumentParser
import Executors
import Glibc
import Pipeline
import Rules

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Build targets: run what changed, restore what is cached.")

    @OptionGroup var workspaceOptions: WorkspaceOptions

    @Argument(help: "Steps to build (default: the Pipelinefile's `default:`, else every step).")
    var targets: [String] = []

    @Option(name: .customShort("j", allowingJoined: true), help: "Run N commands at once (default: the number of cores).")
    var jobs: Int?

    @Flag(name: [.customShort("k"), .long], help: "Keep going: build what does not depend on a failed step.")
    var keepGoing = false

    @Flag(name: [.customShort("n"), .long], help: "Print what would run and why; run nothing.")
    var dryRun = false

    @Flag(help: "Print why each step runs.")
    var explain = false

    @Option(help: "Run STEP even if it is up to date (repeatable).")
    var force: [String] = []

    @Flag(help: "Fail with lease_conflict instead of waiting when another run holds the workspace.")
    var noWait = false

    @Flag(help: "Keep watching the inputs and the Pipelinefile: build again after each change, until Ctrl-C (exit 130).")
    var watch = false

    @Option(name: .customLong("env-rule"), help: "Add env:NAME to the job's environment fingerprint (repeatable).")
    var envRules: [String] = []

    @OptionGroup(title: "Shared remote cache")
    var remote: RemoteCacheOptions

    @OptionGroup(title: "Real replay for `use: replay` steps (all four interlocks, with PIPELINE_ALLOW_REAL_REPLAY=1)")
    var replay: ReplayInterlocks

    static var cores: Int { max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }

    func validate() throws {
        if let jobs, jobs < 1 { throw ValidationError("-j must be at least 1") }
        if watch && dryRun { throw ValidationError("--watch cannot be combined with --dry-run") }
        for rule in envRules where !(rule.hasPrefix("env:") && EnvName.isValid(String(rule.dropFirst(4)))) {
            throw ValidationError("--env-rule takes env:NAME, not '\(rule)'")
        }
    }

    func run() throws {
        let environment = Output.environment
        let printer = EventPrinter(json: workspaceOptions.json, explain: explain || dryRun, environment: environment)
        if watch { try watchForChanges(printer: printer, environment: environment) }
        let executor = LocalExecutor(handlesSignals: true)
        let engine = try makeEngine(workspace: try workspaceOptions.workspace(environment), printer: printer, environment: environment)
        let report = try build(engine, executor: executor)
        // Exit here, without tearing down the engine's objects: the kernel frees them faster.
        guard let failure = report.failure else { Glibc.exit(0) }
        if failure == .approvalRequired {
            throw CommandExit(status: Approvals.report(report, json: workspaceOptions.json))
        }
        if workspaceOptions.json {
            let failed = report.summary.failed.map(\.step)
            var message = failure == .interrupted ? "interrupted" : "step failed: \(failed.joined(separator: ", "))"
            // pipeline's own I/O error (a full disk): say which file, not only which step.
            if failure == .io, let first = report.summary.failed.first?.message { message += ": " + first }
            ErrorReport.print(PipelineError(failure, message, step: failed.first), json: true)
        }
        throw CommandExit(status: ExitStatus.of(failure))
    }

    func makeEngine(workspace: Workspace, printer: EventPrinter, environment: [String: String]) throws -> Engine {
        let engine = Engine(workspace: workspace, registry: BuiltinRules.registry, environment: environment, events: printer)
        engine.replayPolicy = try replay.policy(environment)
        engine.makeExecutor = { LocalExecutor(handlesSignals: false) }
        engine.remoteCache = remote.cache(environment)
        return engine
    }

    func build(_ engine: Engine, executor: LocalExecutor) throws -> BuildReport {
        try engine.build(targets: targets, options: RunOptions(jobs: jobs ?? Run.cores, keepGoing: keepGoing, dryRun: dryRun, force: Set(force)),
                         wait: !noWait, envRules: envRules.map { String($0.dropFirst(4)) }, executor: executor)
    }
}

/// `--remote-cache URL` (or PIPELINE_REMOTE_CACHE): share results through a Bazel-protocol
/// HTTP cache; the token (PIPELINE_REMOTE_CACHE_TOKEN) never appears in output.
struct RemoteCacheOptions: ParsableArguments {
    @Option(help: "A Bazel HTTP remote cache (GET/PUT <URL>/ac/<sha>, <URL>/cas/<sha>); default PIPELINE_REMOTE_CACHE.")
    var remoteCache: String?

    @Flag(help: "Use the remote cache without uploading to it.")
    var remoteCacheReadOnly = false

    func cache(_ environment: [String: String]) -> RemoteCache? {
        guard let url = remoteCache ?? environment["PIPELINE_REMOTE_CACHE"].flatMap({ $0.isEmpty ? nil : $0 }) else { return nil }
        return RemoteCache(url: url, token: environment["PIPELINE_REMOTE_CACHE_TOKEN"], readOnly: remoteCacheReadOnly)
    }
}
