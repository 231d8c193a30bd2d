import ArgumentParser
import Executors
import Pipeline

struct CaptureCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "capture", abstract: "Run one command and record it as evidence, like a step: pipeline capture -- CMD ARGS.",
        discussion: "The command runs without a shell, in the current folder, with the environment steps get plus --env and --secret names. "
            + "It becomes a job with a run record; `pipeline pack build --type run --from JOB` packs it.")

    @Option(name: .customShort("C"), help: "Run in DIR.")
    var directory: String?

    @Option(help: "The store folder (default: the workspace's, or PIPELINE_STORE, or .pipeline here).")
    var store: String?

    @Option(help: "The name the run record gives the command.")
    var name: String = "capture"

    @Option(help: "A file the command reads (repeatable): hashed and kept.")
    var input: [String] = []

    @Option(help: "A file the command writes (repeatable): hashed and kept.")
    var output: [String] = []

    @Option(help: "Pass this environment variable through; its value is recorded (repeatable).")
    var env: [String] = []

    @Option(help: "Pass this secret through; its value is never recorded and is masked in logs (repeatable).")
    var secret: [String] = []

    @Option(help: "Stop the command after this many seconds.")
    var timeout: Double?

    @Flag(help: "Print JSON lines on stdout.")
    var json = false

    @Argument(parsing: .postTerminator, help: "The command and its arguments, after --.")
    var command: [String] = []

    func run() throws {
        let environment = Output.environment
        let cwd = FileSystem.currentDirectory()
        let root = directory.map { Path.join(cwd, $0) } ?? cwd
        guard let realRoot = FileSystem.realPath(root), FileSystem.isDirectory(realRoot) else {
            throw PipelineError(.invalidInput, "no such directory: \(root)")
        }
        let storePath = store.map { Path.join(cwd, $0) } ?? environment["PIPELINE_STORE"].flatMap { $0.isEmpty ? nil : Path.join(cwd, $0) }
            ?? (try? Workspace.locate(directory: realRoot, file: nil, store: nil, environment: [:]))?.storePath ?? realRoot + "/.pipeline"
        let request = AdHocCapture.Request(argv: command, root: realRoot, storePath: storePath, name: name, inputs: input, outputs: output,
                                           env: env, secrets: secret, timeout: timeout)
        let printer = EventPrinter(json: json, explain: false, environment: environment)
        let capture = AdHocCapture(request, environment: environment, actor: Engine.actor(in: environment))
        let result = try capture.run(executor: LocalExecutor(handlesSignals: true), events: printer)
        if !json {
            Output.raw(1, String(decoding: result.stdout, as: UTF8.self))
            Output.raw(2, String(decoding: result.stderr, as: UTF8.self))
            Output.error("captured: job \(result.job) (\(result.outcome.status.rawValue)\(result.outcome.exitCode.map { ", exit \($0)" } ?? ""))")
        }
        guard result.outcome.status != .ran else { return }
        let code: PipelineError.Code = result.outcome.exitCode == 127 ? .programNotFound : .stepFailed
        if json { ErrorReport.print(PipelineError(code, "captured command failed: \(result.outcome.message ?? "")", step: name), json: true) }
        throw CommandExit(status: ExitStatus.of(code))
    }
}
