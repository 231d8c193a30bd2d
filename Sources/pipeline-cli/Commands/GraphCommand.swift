import ArgumentParser
import Executors
import Pipeline
import Rules

struct GraphCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "graph", abstract: "Print the step graph (dot, mermaid or json).")

    enum Format: String, ExpressibleByArgument, CaseIterable { case dot, mermaid, json }

    @OptionGroup var workspaceOptions: WorkspaceOptions

    @Option(help: "Output format: dot, mermaid or json.")
    var format: Format = .dot

    @Flag(help: "Mark what is out of date: up_to_date, restore, run (with why), skipped or error. Runs and writes nothing.")
    var status = false

    @Argument(help: "Only these targets and what they need.")
    var targets: [String] = []

    /// Fill colours of the statuses (dot and mermaid).
    static let colours: [StepPreview.State: String] = [
        .upToDate: "#c8e6c9", .restore: "#bbdefb", .run: "#ffcc80", .skipped: "#e0e0e0", .error: "#ef9a9a",
    ]

    func run() throws {
        let environment = Output.environment
        let engine = Engine(workspace: try workspaceOptions.workspace(environment), registry: BuiltinRules.registry, environment: environment, events: EventLog())
        let (file, graph) = try engine.load()
        let selected = targets.isEmpty ? graph.order : graph.closure(of: try graph.resolve(targets: targets))
        let included = Set(selected)
        let preview = status ? try engine.preview(selected, graph: graph, file: file, executor: LocalExecutor(handlesSignals: false)) : [:]
        switch workspaceOptions.json ? .json : format {
        case .dot:
            var lines = ["digraph pipeline {", "  rankdir=LR;", "  node [shape=box];"]
            for i in selected {
                let name = GraphCommand.dotQuoted(graph.steps[i].name)
                if let state = preview[i] {
                    let label = graph.steps[i].name + "\n" + state.state.rawValue + (state.reason.map { ": " + $0 } ?? "")
                    lines.append("  \(name) [style=filled, fillcolor=\"\(GraphCommand.colours[state.state]!)\", label=\(GraphCommand.dotQuoted(label))];")
                } else {
                    lines.append("  \(name);")
                }
                for d in graph.dependencies[i] where included.contains(d) {
                    lines.append("  \(GraphCommand.dotQuoted(graph.steps[d].name)) -> \(name);")
                }
            }
            lines.append("}")
            Output.line(lines.joined(separator: "\n"))
        case .mermaid:
            var lines = ["graph LR"]
            for i in selected {
                var label = graph.steps[i].name
                if let state = preview[i] { label += "<br/>" + state.state.rawValue + (state.reason.map { ": " + $0 } ?? "") }
                lines.append("  s\(i)[\"\(GraphCommand.mermaidEscaped(label))\"]")
            }
            for i in selected {
                for d in graph.dependencies[i] where included.contains(d) { lines.append("  s\(d) --> s\(i)") }
            }
            if status {
                for state in StepPreview.State.allCases {
                    let members = selected.filter { preview[$0]?.state == state }
                    if members.isEmpty { continue }
                    lines.append("  classDef \(state.rawValue) fill:\(GraphCommand.colours[state]!)")
                    lines.append("  class \(members.map { "s\($0)" }.joined(separator: ",")) \(state.rawValue)")
                }
            }
            Output.line(lines.joined(separator: "\n"))
        case .json:
            let nodes: [JSON] = selected.map { i in
                let step = graph.steps[i]
                var node: [String: JSON] = [
                    "name": .string(step.name), "kind": .string(step.kindName),
                    "needs": .array(graph.dependencies[i].filter { included.contains($0) }.map { .string(graph.steps[$0].name) }),
                    "inputs": .array(step.inputs.map(JSON.string)), "outputs": .array(step.outputs.map(JSON.string)),
                ]
                if let state = preview[i] {
                    node["status"] = .string(state.state.rawValue)
                    node["reason"] = state.reason.map(JSON.string) ?? .null
                    node["reason_code"] = state.reasonCode.map(JSON.string) ?? .null
                }
                return .object(node)
            }
            Output.line(JSON.object(["schema_id": "pipeline.graph", "schema_version": "1.0.0", "steps": .array(nodes)]).canonicalString)
        }
    }

    /// A dot ID in double quotes (step names may hold `[`, `=` and `,`; reasons anything).
    static func dotQuoted(_ text: String) -> String {
        "\"" + text.replacing("\\", with: "\\\\").replacing("\"", with: "\\\"").replacing("\n", with: "\\n") + "\""
    }

    /// Text inside a quoted mermaid label: `"` is written as an entity.
    static func mermaidEscaped(_ text: String) -> String {
        text.replacing("\"", with: "#quot;")
    }
}
