import ArgumentParser
import Pipeline

/// The store a retention command works on, and the Pipelinefile's `retention:` when found.
struct RetentionTarget {
    var storePath: String
    var workspace: Workspace?
    var retention: [String: String]

    static func locate(_ options: WorkspaceOptions) throws -> RetentionTarget {
        let environment = Output.environment
        guard let workspace = try? options.workspace(environment) else {
            return RetentionTarget(storePath: try options.storePath(environment), workspace: nil, retention: [:])
        }
        let file = try PipelinefileParser().parse(path: workspace.pipelinefile, displayPath: workspace.displayPath)
        return RetentionTarget(storePath: workspace.storePath, workspace: workspace, retention: file.retention)
    }
}

struct GCCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gc", abstract: "Remove what retention allows from the store; never what is pinned or in use.",
        discussion: "Policy: `retention:` in the Pipelinefile, overridden by the flags. The report is written to <store>/reports/ before anything is removed.")

    @OptionGroup var workspaceOptions: WorkspaceOptions

    @Flag(help: "Say what would be removed; remove nothing (the report is still written, marked dry-run).")
    var dryRun = false

    @Option(help: "Keep the newest N ended jobs.")
    var keepJobs: String?

    @Option(help: "Remove cache entries and ended jobs unused for this long (like 12h, 30d).")
    var ttl: String?

    @Option(help: "Evict least-recently-used cache entries until the store is under this (like 10GiB).")
    var maxSize: String?

    @Flag(help: "Fail with lease_conflict instead of waiting for running builds.")
    var noWait = false

    func run() throws {
        let target = try RetentionTarget.locate(workspaceOptions)
        let policy = try RetentionPolicy(target.retention).overridden(keepJobs: keepJobs, ttl: ttl, maxSize: maxSize)
        guard FileSystem.exists(target.storePath + "/format") else {
            Output.error("gc: no store at \(target.storePath): nothing to collect")
            return
        }
        let lock = try StoreLock(storeRoot: target.storePath, exclusive: true, wait: !noWait,
                                 waiting: { Output.error("waiting for running builds to release the store…") })
        defer { withExtendedLifetime(lock) {} }
        let report = try GarbageCollector(storePath: target.storePath, policy: policy)
            .collect(dryRun: dryRun, fault: Output.environment["PIPELINE_FAULT_INJECT"])
        if workspaceOptions.json {
            Output.line(report.json.canonicalString)
            return
        }
        let verb = dryRun ? "would remove" : "removed"
        for removal in report.removed { Output.line("\(verb) \(removal.kind) \(removal.id) (\(removal.size) bytes): \(removal.reason)") }
        let kept = report.kept.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
        Output.error("gc: \(verb) \(report.removed.count) entries, \(report.bytesFreed) bytes; kept \(kept.isEmpty ? "nothing" : kept)")
        Output.error("report: \(report.path)")
    }
}

struct PinCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pin", abstract: "Keep a job, a pack's blobs or a step's outputs through every gc.",
        subcommands: [PinAdd.self, PinRemove.self, PinList.self])
}

struct PinAdd: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "add", abstract: "Pin a job (id), a pack (file) or a step's current outputs (name).")

    @OptionGroup var workspaceOptions: WorkspaceOptions

    @Argument(help: "job, pack or step.")
    var kind: String

    @Argument(help: "The job id, the pack file, or the step name.")
    var name: String

    func run() throws {
        let target = try RetentionTarget.locate(workspaceOptions)
        let actor = Engine.actor(in: Output.environment)
        let pin: Pin
        switch Pin.Kind(rawValue: kind) {
        case .job?: pin = try PinRequest.job(name, storePath: target.storePath, actor: actor)
        case .pack?: pin = try PinRequest.pack(Path.join(FileSystem.currentDirectory(), name), storePath: target.storePath, actor: actor)
        case .step?:
            guard let workspace = target.workspace else { throw PipelineError(.invalidInput, "pinning a step needs its workspace (a Pipelinefile)") }
            pin = try PinRequest.step(name, workspace: workspace, actor: actor)
        case nil: throw PipelineError(.invalidInput, "pin kind must be job, pack or step, not '\(kind)'")
        }
        try PinStore(storeRoot: target.storePath).add(pin)
        if workspaceOptions.json { Output.line(pin.json.canonicalString) } else { Output.line("pinned \(pin.kind.rawValue) \(pin.reference)") }
    }
}

struct PinRemove: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rm", abstract: "Remove a pin.")

    @OptionGroup var workspaceOptions: WorkspaceOptions

    @Argument(help: "job, pack or step.")
    var kind: String

    @Argument(help: "The job id, pack id or file, or step name the pin was made for.")
    var name: String

    func run() throws {
        guard let kind = Pin.Kind(rawValue: kind) else { throw PipelineError(.invalidInput, "pin kind must be job, pack or step, not '\(self.kind)'") }
        let target = try RetentionTarget.locate(workspaceOptions)
        let candidates = [name, Path.join(FileSystem.currentDirectory(), name)]
        var removed = 0
        for candidate in candidates where removed == 0 { removed = try PinStore(storeRoot: target.storePath).remove(kind: kind, matching: candidate) }
        guard removed > 0 else { throw PipelineError(.invalidInput, "no \(kind.rawValue) pin for '\(name)'", hint: "`pipeline pin list` shows the pins") }
        Output.line("unpinned \(kind.rawValue) \(name)")
    }
}

struct PinList: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "Every pin.")

    @OptionGroup var workspaceOptions: WorkspaceOptions

    func run() throws {
        let target = try RetentionTarget.locate(workspaceOptions)
        for pin in try PinStore(storeRoot: target.storePath).list() {
            if workspaceOptions.json {
                Output.line(pin.json.canonicalString)
            } else {
                Output.line("\(pin.kind.rawValue.padding(5)) \(pin.reference)  (\(pin.createdAt) by \(pin.actor))")
            }
        }
    }
}

struct StoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "store", abstract: "Check the store.", subcommands: [StoreCheck.self])
}

struct StoreCheck: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check", abstract: "Re-hash every blob and check every reference; change nothing (unless --repair).",
        discussion: "Exit 0: clean. Exit 2: problems found (listed).")

    @OptionGroup var workspaceOptions: WorkspaceOptions

    @Flag(help: "Remove corrupt blobs and dangling action results (their steps run again), and say so.")
    var repair = false

    func run() throws {
        let target = try RetentionTarget.locate(workspaceOptions)
        guard FileSystem.exists(target.storePath + "/format") else { throw PipelineError(.invalidInput, "no store at \(target.storePath)") }
        let lock = repair ? try StoreLock(storeRoot: target.storePath, exclusive: true) : nil
        defer { withExtendedLifetime(lock) {} }
        let report = try StoreChecker(storePath: target.storePath).check(repair: repair)
        if workspaceOptions.json {
            Output.line(report.json.canonicalString)
        } else {
            Output.line("store \(target.storePath): \(report.blobs) blobs, \(report.results) results, \(report.jobs) jobs, \(report.bytes) bytes")
            for problem in report.problems { Output.line("  \(problem.code): \(problem.message)") }
            for repaired in report.repaired { Output.line("  repaired: \(repaired.message)") }
            if !report.orphans.isEmpty { Output.line("  \(report.orphans.count) orphan blob(s): garbage that `pipeline gc` removes") }
            Output.line(report.clean ? "  clean" : "  \(report.problems.count) problem(s)")
        }
        if !report.clean && !repair {
            if workspaceOptions.json {
                ErrorReport.print(PipelineError(.verificationFailed, "the store has \(report.problems.count) problem(s)"), json: true)
            }
            throw CommandExit(status: ExitStatus.verificationFailed)
        }
    }
}
