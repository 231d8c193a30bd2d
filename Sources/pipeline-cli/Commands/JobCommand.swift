import ArgumentParser
import Executors
import Pipeline
import Rules

struct JobCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "job", abstract: "Inspect the jobs that runs recorded.", subcommands: [JobList.self, JobShow.self, JobInspect.self, JobLogs.self, JobCheckpoints.self, JobApprove.self, JobResume.self,
                      JobPause.self, JobCancel.self, JobDoctorCommand.self, JobTraceCommand.self, JobReportCommand.self])
}

/// What every command about one job takes: where the store is, and the job's id.
struct JobArguments: ParsableArguments {
    @OptionGroup var workspaceOptions: WorkspaceOptions

    @Argument(help: "The job id (as `pipeline run` printed it).")
    var id: String

    var json: Bool { workspaceOptions.json }

    func jobID() throws -> JobID { try JobShow.parse(id) }

    /// The jobs of the workspace's store; with `--store` (or PIPELINE_STORE), no Pipelinefile is needed.
    func store() throws -> JobStore { JobStore(storeRoot: try workspaceOptions.storePath(Output.environment)) }
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
    static func parse(_ text: String) throws -> JobID {
        guard let id = JobID(text) else {
            throw PipelineError(.invalidInput, "'\(text)' is not a job id (expected like 20260101T120000Z-0a1b2c)")
        }
        return id
    }

    static let configuration = CommandConfiguration(commandName: "show", abstract: "A job's status and checkpoints.", aliases: ["status"])

    @OptionGroup var job: JobArguments

    func run() throws {
        let jobID = try job.jobID()
        let store = try job.store()
        let job = try store.load(jobID)
        if self.job.json {
            var document = job.json.objectValue ?? [:]
            document["live"] = .bool(store.isLive(jobID))
            Output.line(JSON.object(document).canonicalString)
            return
        }
        Output.line("job \(job.id)")
        let abandoned = (job.status == .running || job.status == .queued) && !store.isLive(jobID)
        Output.line("  status     \(job.status.rawValue)" + (abandoned ? " (abandoned: no process runs it; `pipeline job resume \(jobID)` takes it over)" : ""))
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

struct JobApprove: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "approve", abstract: "Approve what a job waits for (actor and reason required).")

    @OptionGroup var job: JobArguments

    @Option(help: "Which decision-needed checkpoint (cp_N), when several wait.")
    var checkpoint: String?

    @Option(help: "Who approves.")
    var actor: String

    @Option(help: "Why.")
    var reason: String

    func run() throws {
        let jobID = try job.jobID()
        let approved = try job.store().approve(jobID, checkpoint: checkpoint, actor: actor, reason: reason)
        let pending = approved.pendingDecisions.map(\.id)
        if job.json {
            Output.line(approved.json.canonicalString)
        } else {
            Output.line("approved by \(actor); " + (pending.isEmpty ? "resume with: pipeline job resume \(jobID)" : "still waiting: \(pending.joined(separator: ", "))"))
        }
    }
}

struct JobResume: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "resume", abstract: "Continue a job that waits, was paused, or failed.")

    @OptionGroup var job: JobArguments

    @Option(name: .customShort("j", allowingJoined: true), help: "Run N commands at once (default: the number of cores).")
    var jobs: Int?

    @Flag(help: "Fail with lease_conflict instead of waiting when another run holds the workspace.")
    var noWait = false

    @Flag(help: "Accept a changed Pipelinefile (needs --reason; recorded, raises the epoch).")
    var amend = false

    @Flag(help: "Accept a changed environment (needs --reason; recorded, raises the epoch).")
    var allowEnvMismatch = false

    @Option(help: "Why the change is acceptable.")
    var reason: String?

    func validate() throws {
        if (amend || allowEnvMismatch), (reason ?? "").allSatisfy(\.isWhitespace) {
            throw ValidationError("--amend and --allow-env-mismatch need --reason")
        }
    }

    func run() throws {
        let jobID = try job.jobID()
        let environment = Output.environment
        let executor = LocalExecutor(handlesSignals: true)
        let printer = EventPrinter(json: job.json, explain: false, environment: environment)
        let engine = Engine(workspace: try job.workspaceOptions.workspace(environment), registry: BuiltinRules.registry, environment: environment, events: printer)
        let report = try engine.resume(jobID, options: RunOptions(jobs: jobs ?? Run.cores), wait: !noWait,
                                       amend: amend ? reason : nil, allowEnvMismatch: allowEnvMismatch ? reason : nil, executor: executor)
        guard let failure = report.failure else { return }
        if failure == .approvalRequired { throw CommandExit(status: Approvals.report(report, json: job.json)) }
        if job.json {
            ErrorReport.print(PipelineError(failure, failure == .interrupted ? "job \(jobID) interrupted" : "job \(jobID): a step failed"), json: true)
        }
        throw CommandExit(status: ExitStatus.of(failure))
    }
}

struct JobPause: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "pause",
                                                    abstract: "Ask a running job to finish its running steps and stop; resume continues it.")

    @OptionGroup var job: JobArguments

    func run() throws {
        try JobCancel.send(.pause, job) { _, id in "pause requested: job \(id) finishes its running steps, then stops" }
    }
}

struct JobCancel: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "cancel",
                                                    abstract: "Stop a job: its running commands are terminated and it is canceled.")

    @OptionGroup var job: JobArguments

    func run() throws {
        try JobCancel.send(.cancel, job) { state, id in
            state.status == .canceled ? "job \(id) canceled" : "cancel requested: job \(id) stops its commands and ends canceled"
        }
    }

    /// Sends a pause or cancel request and reports it (text, or one `pipeline.job_request` line).
    static func send(_ request: JobRequest, _ job: JobArguments, message: (JobSnapshot, JobID) -> String) throws {
        let jobID = try job.jobID()
        let state = try job.store().request(jobID, request, actor: Engine.actor(in: Output.environment))
        if job.json {
            Output.line(JSON.object([
                "schema_id": "pipeline.job_request", "schema_version": "1.0.0", "job": .string(jobID.rawValue),
                "request": .string(request == .pause ? "pause" : "cancel"), "status": .string(state.status.rawValue),
            ]).canonicalString)
        } else {
            Output.line(message(state, jobID))
        }
    }
}

struct JobDoctorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "doctor",
                                                    abstract: "Check jobs' files (log, snapshot, contract, liveness); --repair fixes what the log can.")

    @OptionGroup var workspaceOptions: WorkspaceOptions

    @Argument(help: "The job id (default: every job).")
    var id: String?

    @Flag(help: "Fix what can be fixed from the log, and say what changed.")
    var repair = false

    func run() throws {
        let store = JobStore(storeRoot: try workspaceOptions.workspace(Output.environment).storePath)
        let ids = try id.map { [try JobShow.parse($0)] } ?? store.list()
        let doctor = JobDoctor(store: store)
        var unresolved = 0
        for jobID in ids {
            let findings = doctor.examine(jobID, repair: repair)
            unresolved += findings.filter { !$0.repaired }.count
            if workspaceOptions.json {
                Output.line(JSON.object([
                    "schema_id": "pipeline.job_doctor", "schema_version": "1.0.0", "job": .string(jobID.rawValue),
                    "findings": .array(findings.map { ["code": .string($0.code), "message": .string($0.message), "repaired": .bool($0.repaired)] }),
                ]).canonicalString)
                continue
            }
            if findings.isEmpty { Output.line("\(jobID): ok") }
            for finding in findings {
                Output.line("\(jobID): \(finding.repaired ? "repaired" : "problem"): \(finding.message)")
            }
        }
        if unresolved > 0 {
            if !workspaceOptions.json { Output.error("pipeline: \(unresolved) problem(s)" + (repair ? " could not be repaired" : "; --repair fixes what the log can")) }
            throw CommandExit(status: ExitStatus.verificationFailed)
        }
    }
}

struct JobInspect: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "inspect", abstract: "A job's full timeline: every event in its log.")

    @OptionGroup var job: JobArguments

    func run() throws {
        for event in try job.store().events(try job.jobID()) {
            if job.json {
                Output.line(String(decoding: event.line.dropLast(), as: UTF8.self))
                continue
            }
            var detail = ""
            switch event.type {
            case .created: detail = "targets: " + (event.payload["targets"]?.arrayValue?.compactMap(\.stringValue).joined(separator: " ") ?? "")
            case .status: detail = "→ \(event.payload["to"]?.stringValue ?? "?")" + (event.payload["reason"]?.stringValue.map { " (\($0))" } ?? "")
            case .checkpoint:
                let cp = event.payload["checkpoint"]
                detail = "\(cp?["id"]?.stringValue ?? "?") \(cp?["type"]?.stringValue ?? "?"): \(cp?["summary"]?.stringValue ?? "")"
            case .approval:
                detail = "\(event.payload["checkpoint"]?.stringValue ?? "?"): \(event.payload["reason"]?.stringValue ?? "")"
            case .amendment:
                detail = "\(event.payload["kind"]?.stringValue ?? "?"): \(event.payload["reason"]?.stringValue ?? "")"
            }
            Output.line("\(String(event.sequence).padding(4)) \(event.time)  \(event.type.rawValue.padding(10)) \(event.actor.padding(10)) \(detail)")
        }
    }
}

struct JobLogs: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "logs", abstract: "The stdout and stderr of a job's commands.")

    @OptionGroup var job: JobArguments

    @Argument(help: "Only this step.")
    var step: String?

    func run() throws {
        let jobID = try job.jobID()
        let workspace = try job.workspaceOptions.workspace(Output.environment)
        let state = try JobStore(storeRoot: workspace.storePath).load(jobID)
        let blobs = try LocalStore(root: workspace.storePath, create: false)
        let entries = state.checkpoints.filter { $0.stdout != nil && (step == nil || $0.step == step) }
        if let step, entries.isEmpty {
            throw PipelineError(.unknownStep, "job \(jobID) ran no command for step '\(step)'")
        }
        for checkpoint in entries {
            let stdout = try checkpoint.stdout.flatMap { try blobs.read($0) } ?? []
            let stderr = try checkpoint.stderr.flatMap { try blobs.read($0) } ?? []
            if job.json {
                Output.line(JSON.object([
                    "schema_id": "pipeline.job_log", "schema_version": "1.0.0", "job": .string(jobID.rawValue),
                    "step": .string(checkpoint.step ?? ""), "checkpoint": .string(checkpoint.id),
                    "stdout": .string(String(decoding: stdout, as: UTF8.self)), "stderr": .string(String(decoding: stderr, as: UTF8.self)),
                ]).canonicalString)
                continue
            }
            Output.line("== \(checkpoint.step ?? "?") (\(checkpoint.id)): \(checkpoint.summary)")
            if !stdout.isEmpty { Output.raw(1, String(decoding: stdout, as: UTF8.self)) }
            if !stderr.isEmpty { Output.raw(1, "-- stderr --\n" + String(decoding: stderr, as: UTF8.self)) }
        }
    }
}

struct JobCheckpoints: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "checkpoint", abstract: "A job's checkpoints: list them, or show one.",
                                                    subcommands: [List.self, Show.self])

    struct List: ParsableCommand {
        @OptionGroup var arguments: JobArguments

        func run() throws {
            let job = try arguments.store().load(try arguments.jobID())
            for checkpoint in job.checkpoints {
                if arguments.json {
                    Output.line(JSON.object(["schema_id": "pipeline.checkpoint", "schema_version": "1.0.0", "job": .string(job.id.rawValue),
                                             "checkpoint": checkpoint.json]).canonicalString)
                } else {
                    Output.line("\(checkpoint.id)  \(checkpoint.kind.rawValue.padding(15))  \(checkpoint.summary)")
                }
            }
        }
    }

    struct Show: ParsableCommand {
        @OptionGroup var arguments: JobArguments
        @Argument(help: "The checkpoint (cp_N).") var checkpoint: String

        func run() throws {
            let job = try arguments.store().load(try arguments.jobID())
            guard let found = job.checkpoints.first(where: { $0.id == checkpoint }) else {
                throw PipelineError(.invalidInput, "job \(job.id) has no checkpoint \(checkpoint)")
            }
            if arguments.json {
                Output.line(JSON.object(["schema_id": "pipeline.checkpoint", "schema_version": "1.0.0", "job": .string(job.id.rawValue),
                                         "checkpoint": found.json]).canonicalString)
                return
            }
            Output.line("\(found.id)  \(found.kind.rawValue)")
            Output.line("  summary   \(found.summary)")
            if let step = found.step { Output.line("  step      \(step)") }
            if let action = found.requiredAction { Output.line("  required  \(action)") }
            if let approval = job.approvals[found.id] { Output.line("  approved  by \(approval.actor): \(approval.reason)") }
        }
    }
}

struct JobTraceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trace",
        abstract: "A job's timeline as Chrome trace-event JSON (open it in Perfetto or chrome://tracing).",
        discussion: "One process per run, one thread per worker slot, one complete event per step that ran, was restored (cat \"restored\", args.cache_hit) or failed.")

    @OptionGroup var job: JobArguments

    @Option(name: [.customShort("o"), .long], help: "Write the trace to FILE (default: stdout).")
    var output: String?

    func run() throws {
        let timeline = try JobReportCommand.timeline(job)
        let bytes = JobTrace.bytes(timeline)
        guard let output else {
            Output.raw(1, String(decoding: bytes, as: UTF8.self))
            return
        }
        let path = Path.join(FileSystem.currentDirectory(), output)
        try Materializer.writeAtomically(bytes, to: path)
        Output.error("wrote \(output)")
    }
}

struct JobReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "What each step of a job did, when, and why; --html writes one self-contained page with its timeline.")

    @OptionGroup var job: JobArguments

    @Option(help: "Write an HTML report (timeline, critical path, every step) to FILE.")
    var html: String?

    /// The job's timeline, with the workspace's Pipelinefile when there is one.
    static func timeline(_ job: JobArguments) throws -> JobTimeline {
        let environment = Output.environment
        let store = try job.store()
        let workspace = try? job.workspaceOptions.workspace(environment)
        return try JobTimeline.load(store: store, id: try job.jobID(), workspace: workspace, registry: BuiltinRules.registry)
    }

    func run() throws {
        let timeline = try JobReportCommand.timeline(job)
        let snapshot = try job.store().load(try job.jobID())
        if let html {
            let path = Path.join(FileSystem.currentDirectory(), html)
            try Materializer.writeAtomically(Array(HTMLReport.render(timeline, job: snapshot).utf8), to: path)
            if !job.json { Output.line(html) }
        }
        if job.json {
            var document = JobReportCommand.json(timeline).objectValue ?? [:]
            document["status"] = .string(snapshot.status.rawValue)
            if let html { document["html"] = .string(html) }
            Output.line(JSON.object(document).canonicalString)
            return
        }
        if html != nil { return }
        for note in timeline.notes { Output.error("note: \(note)") }
        for run in timeline.runs {
            Output.line("run \(run.number)\(run.ended.map { " (\($0))" } ?? ""): \(run.steps.count) steps, "
                        + "\(HTMLReport.duration(run.durationNanos)), \(run.slots) slot\(run.slots == 1 ? "" : "s")")
            if !run.criticalPath.isEmpty { Output.line("  critical path: \(run.criticalPath.joined(separator: " → "))") }
            let width = min(40, run.steps.map(\.step.count).max() ?? 0)
            for entry in run.steps {
                var line = "  \(entry.onCriticalPath ? "*" : " ") \(entry.step.padding(width))  \(entry.status.rawValue.padding(10))"
                if entry.isTimed {
                    line += "  +\(HTMLReport.duration(entry.startNanos).padding(10)) \(HTMLReport.duration(entry.durationNanos).padding(10))"
                }
                if let reason = entry.reason { line += "  \(reason)" }
                Output.line(line)
            }
        }
    }

    /// One `pipeline.job_report` document.
    static func json(_ timeline: JobTimeline) -> JSON {
        .object([
            "schema_id": "pipeline.job_report", "schema_version": "1.0.0", "job": .string(timeline.job.rawValue),
            "notes": .array(timeline.notes.map(JSON.string)),
            "runs": .array(timeline.runs.map { run in
                .object([
                    "number": .int(Int64(run.number)), "ended": run.ended.map(JSON.string) ?? .null,
                    "started_at": .string(Timestamp.format(run.startedAt)), "duration_ns": .int(run.durationNanos),
                    "slots": .int(Int64(run.slots)), "critical_path": .array(run.criticalPath.map(JSON.string)),
                    "steps": .array(run.steps.map { entry in
                        var step: [String: JSON] = ["step": .string(entry.step), "status": .string(entry.status.rawValue),
                                                    "critical": .bool(entry.onCriticalPath), "needs": .array(entry.needs.map(JSON.string))]
                        if let reason = entry.reason { step["reason"] = .string(reason) }
                        if entry.isTimed {
                            step["start_ns"] = .int(entry.startNanos)
                            step["duration_ns"] = .int(entry.durationNanos)
                            step["slot"] = .int(Int64(entry.slot ?? 1))
                        }
                        return .object(step)
                    }),
                ])
            }),
        ])
    }
}
