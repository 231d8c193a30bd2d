import ArgumentParser
import Pipeline

struct SchemaCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schema", abstract: "Print the JSON Schema of Pipelinefile.yaml, for editors.",
        discussion: "Save it (pipeline schema > pipelinefile.schema.json) and put `# yaml-language-server: $schema=pipelinefile.schema.json` on the first line of Pipelinefile.yaml.")

    func run() throws {
        guard let text = EmbeddedSchemas.files["schemas/pipelinefile.schema.json"] else {
            throw PipelineError(.internalError, "this binary carries no Pipelinefile schema")
        }
        Output.raw(1, text.hasSuffix("\n") ? text : text + "\n")
    }
}
