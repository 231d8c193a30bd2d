import ArgumentParser
import Pipeline
import Rules

/// `pipeline query deps|rdeps STEP`: what a step needs, or what needs it.
struct QueryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "query", abstract: "Ask the step graph: what a step needs (deps) or what needs it (rdeps).",
        subcommands: [Deps.self, ReverseDeps.self])

    struct Deps: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "deps", abstract: "The steps STEP needs, directly or through others.")
        @OptionGroup var query: QueryOptions
        func run() throws { try query.answer(.dependencies) }
    }

    struct ReverseDeps: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "rdeps", abstract: "The steps that need STEP, directly or through others.")
        @OptionGroup var query: QueryOptions
        func run() throws { try query.answer(.dependents) }
    }
}

struct QueryOptions: ParsableArguments {
    enum Direction: String { case dependencies = "deps", dependents = "rdeps" }

    @OptionGroup var workspaceOptions: WorkspaceOptions

    @Flag(help: "Only direct edges, not the transitive closure.")
    var direct = false

    @Argument(help: "A step (a matrix step's name or selection, or a declared output path).")
    var step: String

    /// One step name per line in topological order, or one `pipeline.query` document.
    func answer(_ direction: Direction) throws {
        let environment = Output.environment
        let engine = Engine(workspace: try workspaceOptions.workspace(environment), registry: BuiltinRules.registry, environment: environment,
                            events: EventLog())
        let (_, graph) = try engine.load()
        let roots = try graph.resolve(target: step)
        let rootSet = Set(roots)
        let found: [Int]
        switch (direction, direct) {
        case (.dependencies, false): found = graph.closure(of: roots)
        case (.dependents, false): found = graph.dependentClosure(of: roots)
        case (.dependencies, true):
            let edges = Set(roots.flatMap { graph.dependencies[$0] })
            found = graph.order.filter { edges.contains($0) }
        case (.dependents, true):
            let edges = Set(roots.flatMap { graph.dependents[$0] })
            found = graph.order.filter { edges.contains($0) }
        }
        let names = found.filter { !rootSet.contains($0) }.map { graph.steps[$0].name }
        if workspaceOptions.json {
            Output.line(JSON.object([
                "schema_id": "pipeline.query", "schema_version": "1.0.0", "query": .string(direction.rawValue), "direct": .bool(direct),
                "targets": .array(roots.map { .string(graph.steps[$0].name) }), "steps": .array(names.map(JSON.string)),
            ]).canonicalString)
            return
        }
        for name in names { Output.line(name) }
    }
}
