import ArgumentParser
import Pipeline

struct JobCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "job", abstract: "Inspect the jobs that runs recorded.", subcommands: [JobList.self, JobShow.self])
}

struct JobList: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "Every job, oldest first.")

    @OptionGroup var workspaceOptions: WorkspaceOptions

    func run() throws {
        let store = JobStore(storeRoot: try workspaceOptions.workspace(Output.environment).storePath)
        for id in store.list() {
            let job = try store.load(id)
            if workspaceOptions.json {
                Output.line(JSON.object([
                    "schema_id": "pipeline.job_summary", "schema_version": "1.0.0", "id": .string(id.rawValue),
                    "status": .string(job.status.rawValue), "created_at": .string(job.createdAt), "updated_at": .string(job.updatedAt),
                    "targets": .array(job.targets.map(JSON.string)),
                ]).canonicalString)
            } else {
                let targets = job.targets.isEmpty ? "(default)" : job.targets.joined(separator: " ")
                Output.line("\(id)  \(job.status.rawValue.padding(16))  \(job.createdAt)  \(targets)")
            }
        }
    }
}

struct JobShow: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "A job's status and checkpoints.", aliases: ["status"])

    @OptionGroup var workspaceOptions: WorkspaceOptions

    @Argument(help: "The job id (as `pipeline run` printed it).")
    var id: String

    func run() throws {
        guard let jobID = JobID(id) else {
            throw PipelineError(.invalidInput, "'\(id)' is not a job id (expected like 20260101T120000Z-0a1b2c)")
        }
        let store = JobStore(storeRoot: try workspaceOptions.workspace(Output.environment).storePath)
        let job = try store.load(jobID)
        if workspaceOptions.json {
            Output.line(job.json.canonicalString)
            return
        }
        Output.line("job \(job.id)")
        Output.line("  status     \(job.status.rawValue)")
        Output.line("  targets    \(job.targets.isEmpty ? "(default)" : job.targets.joined(separator: " "))")
        Output.line("  created    \(job.createdAt)")
        Output.line("  updated    \(job.updatedAt) (revision \(job.revision), epoch \(job.epoch))")
        for checkpoint in job.checkpoints {
            var line = "  \(checkpoint.id)  \(checkpoint.kind.rawValue.padding(15))  \(checkpoint.summary)"
            if let action = checkpoint.requiredAction { line += "  (required: \(action))" }
            Output.line(line)
        }
    }
}

extension String {
    func padding(_ width: Int) -> String { count >= width ? self : self + String(repeating: " ", count: width - count) }
}
