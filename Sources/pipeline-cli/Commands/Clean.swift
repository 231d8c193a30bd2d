import ArgumentParser
import Glibc
import Pipeline
import Rules

struct Clean: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Remove declared outputs (or, with --store, the whole store).")

    @Option(name: .customShort("C"), help: ArgumentHelp("Run as if started in DIR.", valueName: "dir"))
    var directory: String?

    @Option(name: .customShort("f"), help: ArgumentHelp("The Pipelinefile to use (default: nearest Pipelinefile.yaml).", valueName: "file"))
    var file: String?

    @Option(name: .customLong("store-dir"), help: ArgumentHelp("The store folder, when it is not the default (or PIPELINE_STORE).", valueName: "dir"))
    var storeDirectory: String?

    @Flag(help: "Print JSON lines on stdout.")
    var json = false

    @Flag(help: "Remove the store (cache, records) instead of the outputs.")
    var store = false

    @Flag(name: [.customShort("y"), .long], help: "Do not ask for confirmation.")
    var yes = false

    @Argument(help: "Only the outputs of these steps (and what they need).")
    var targets: [String] = []

    func run() throws {
        let environment = Output.environment
        let workspace = try Workspace.locate(directory: directory, file: file, store: storeDirectory, environment: environment)
        let engine = Engine(workspace: workspace, registry: BuiltinRules.registry, environment: environment, events: EventLog())
        let what = store ? "the store at \(workspace.storePath)" : "the declared outputs in \(workspace.root)"
        if !yes {
            guard isatty(0) == 1 else {
                throw PipelineError(.confirmationRequired, "refusing to remove \(what) without confirmation", hint: "pass --yes")
            }
            Output.raw(2, "Remove \(what)? [y/N] ")
            guard let answer = readLine(), answer.lowercased().hasPrefix("y") else {
                Output.error("pipeline: nothing removed")
                return
            }
        }
        if store {
            let removed = try engine.cleanStore()
            Output.line(removed ? "removed \(workspace.storePath)" : "no store at \(workspace.storePath)")
            return
        }
        let removed = try engine.cleanOutputs(targets: targets)
        for path in removed { Output.line("removed \(path)") }
        if removed.isEmpty { Output.line("nothing to remove") }
    }
}
