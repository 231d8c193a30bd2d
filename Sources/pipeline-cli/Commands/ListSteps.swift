import ArgumentParser
import Pipeline
import Rules

struct ListSteps: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List the steps of the Pipelinefile.")

    @OptionGroup var workspaceOptions: WorkspaceOptions

    func run() throws {
        let environment = Output.environment
        let engine = Engine(workspace: try workspaceOptions.workspace(environment), registry: BuiltinRules.registry, environment: environment, events: EventLog())
        let (file, graph) = try engine.load()
        if workspaceOptions.json {
            for i in graph.order {
                let step = graph.steps[i]
                Output.line(JSON.object([
                    "schema_id": "pipeline.step_info", "schema_version": "1.0.0", "step": .string(step.name), "kind": .string(step.kindName),
                    "needs": .array(graph.dependencies[i].map { .string(graph.steps[$0].name) }),
                    "description": step.description.map(JSON.string) ?? .null,
                    "default": .bool(file.defaultTargets.contains(step.name)),
                ]).canonicalString)
            }
            return
        }
        let width = graph.steps.map(\.name.count).max() ?? 0
        for step in graph.steps {
            let marker = file.defaultTargets.contains(step.name) ? " (default)" : ""
            let padded = step.name + String(repeating: " ", count: width - step.name.count)
            Output.line("\(padded)  \(step.description ?? describe(step))\(marker)")
        }
    }

    func describe(_ step: Step) -> String {
        switch step.action {
        case .run(let command): return command.displayText
        case .use(let rule, _): return "use: \(rule)"
        case .alias: return "→ " + step.needs.joined(separator: ", ")
        }
    }
}
