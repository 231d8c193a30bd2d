import ArgumentParser
import Pipeline

struct PipelineCommand: ParsableCommand {
    static let version = PipelineVersion.current

    static let configuration = CommandConfiguration(
        commandName: "pipeline",
        abstract: "A declarative, content-addressed build pipeline.",
        version: "pipeline \(version)",
        subcommands: [Run.self, ListSteps.self, GraphCommand.self, Explain.self, Clean.self, Hash.self, JobCommand.self, KeyCommand.self, PackCommand.self, CaptureCommand.self, ReplayCommand.self, GCCommand.self, PinCommand.self, StoreCommand.self, SchemaCommand.self, InitCommand.self, CompdbCommand.self, QueryCommand.self],
        defaultSubcommand: nil
    )
}

/// Where the Pipelinefile and store are; shared by every command that reads them.
struct WorkspaceOptions: ParsableArguments {
    @Option(name: .customShort("C"), help: ArgumentHelp("Run as if started in DIR.", valueName: "dir"))
    var directory: String?

    @Option(name: .customShort("f"), help: ArgumentHelp("The Pipelinefile to use (default: nearest Pipelinefile.yaml).", valueName: "file"))
    var file: String?

    @Option(help: ArgumentHelp("The store folder (default: .pipeline beside the Pipelinefile; or PIPELINE_STORE).", valueName: "dir"))
    var store: String?

    @Flag(help: "Print JSON lines on stdout (human text goes to stderr).")
    var json = false

    func workspace(_ environment: [String: String]) throws -> Workspace {
        try Workspace.locate(directory: directory, file: file, store: store, environment: environment)
    }

    /// The store of a command that needs no Pipelinefile (jobs, packs, replay, gc): the
    /// workspace's when there is one, else `--store` or PIPELINE_STORE; else the error that
    /// no workspace was found.
    func storePath(_ environment: [String: String]) throws -> String {
        do {
            return try workspace(environment).storePath
        } catch {
            guard directory == nil, file == nil,
                  let store = store ?? environment["PIPELINE_STORE"].flatMap({ $0.isEmpty ? nil : $0 })
            else { throw error }
            return Path.join(FileSystem.currentDirectory(), store)
        }
    }
}
