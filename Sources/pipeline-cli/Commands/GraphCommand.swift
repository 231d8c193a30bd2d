import ArgumentParser
import Pipeline
import Rules

struct GraphCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "graph", abstract: "Print the step graph (dot, mermaid or json).")

    enum Format: String, ExpressibleByArgument, CaseIterable { case dot, mermaid, json }

    @OptionGroup var workspaceOptions: WorkspaceOptions

    @Option(help: "Output format: dot, mermaid or json.")
    var format: Format = .dot

    @Argument(help: "Only these targets and what they need.")
    var targets: [String] = []

    func run() throws {
        let environment = Output.environment
        let engine = Engine(workspace: try workspaceOptions.workspace(environment), registry: BuiltinRules.registry, environment: environment, events: EventLog())
        let (_, graph) = try engine.load()
        let selected = targets.isEmpty ? graph.order : graph.closure(of: try graph.resolve(targets: targets))
        let included = Set(selected)
        switch workspaceOptions.json ? .json : format {
        case .dot:
            var lines = ["digraph pipeline {", "  rankdir=LR;", "  node [shape=box];"]
            for i in selected {
                lines.append("  \"\(graph.steps[i].name)\";")
                for d in graph.dependencies[i] where included.contains(d) {
                    lines.append("  \"\(graph.steps[d].name)\" -> \"\(graph.steps[i].name)\";")
                }
            }
            lines.append("}")
            Output.line(lines.joined(separator: "\n"))
        case .mermaid:
            var lines = ["graph LR"]
            for i in selected {
                lines.append("  s\(i)[\"\(graph.steps[i].name)\"]")
            }
            for i in selected {
                for d in graph.dependencies[i] where included.contains(d) { lines.append("  s\(d) --> s\(i)") }
            }
            Output.line(lines.joined(separator: "\n"))
        case .json:
            let nodes: [JSON] = selected.map { i in
                let step = graph.steps[i]
                return .object([
                    "name": .string(step.name), "kind": .string(step.kindName),
                    "needs": .array(graph.dependencies[i].filter { included.contains($0) }.map { .string(graph.steps[$0].name) }),
                    "inputs": .array(step.inputs.map(JSON.string)), "outputs": .array(step.outputs.map(JSON.string)),
                ])
            }
            Output.line(JSON.object(["schema_id": "pipeline.graph", "schema_version": "1.0.0", "steps": .array(nodes)]).canonicalString)
        }
    }
}
