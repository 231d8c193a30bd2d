import ArgumentParser
import Pipeline
import Rules

struct CompdbCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compdb", abstract: "Write compile_commands.json for the C/C++ compile steps (for clangd and other tools).")

    @OptionGroup var workspaceOptions: WorkspaceOptions

    @Option(name: .shortAndLong, help: "Where to write it (default: compile_commands.json in the workspace root).")
    var output: String?

    @Argument(help: "Only these targets and what they need (default: every step).")
    var targets: [String] = []

    func run() throws {
        let environment = Output.environment
        let workspace = try workspaceOptions.workspace(environment)
        let engine = Engine(workspace: workspace, registry: BuiltinRules.registry, environment: environment, events: EventLog())
        let (_, graph) = try engine.load()
        let selected = targets.isEmpty ? Array(graph.steps.indices) : graph.closure(of: try graph.resolve(targets: targets)).sorted()
        let database = CompilationDatabase(steps: selected.map { graph.steps[$0] }, directory: workspace.root, environment: environment)
        let path = output.map { Path.join(FileSystem.currentDirectory(), $0) } ?? workspace.root + "/compile_commands.json"
        try Materializer.writeAtomically(database.bytes, to: path)
        if workspaceOptions.json {
            Output.line(JSON.object([
                "schema_id": "pipeline.compdb", "schema_version": "1.0.0", "path": .string(path),
                "entries": .int(Int64(database.entries.count)), "steps": .array(database.entries.map { .string($0.step) }),
            ]).canonicalString)
        } else {
            Output.line(path)
            Output.error("compdb: \(database.entries.count) compile command\(database.entries.count == 1 ? "" : "s")")
        }
    }
}
