import CSupport

/// What a run produced, for the CLI to render and map to an exit status.
public struct BuildReport: Sendable {
    public var summary: RunSummary
    /// Set when the run did not succeed: the code that decides the exit status.
    public var failure: PipelineError.Code?
    /// The job this run was.
    public var job: JobID?
}

/// The library's entry point: load the Pipelinefile, select, plan, run, and keep the state.
public final class Engine {
    public let workspace: Workspace
    public var registry: RuleRegistry
    /// What `use: replay` steps may do in this run (stub unless every interlock was given).
    public var replayPolicy: ReplayPolicy = .stub
    /// Executors for rules that run commands of their own.
    public var makeExecutor: (@Sendable () -> any Executor)?
    /// The shared remote cache (`--remote-cache`, `PIPELINE_REMOTE_CACHE`), if any.
    public var remoteCache: RemoteCache?
    public let environment: [String: String]
    public let events: EventSink

    public init(workspace: Workspace, registry: RuleRegistry = RuleRegistry(), environment: [String: String], events: EventSink) {
        self.workspace = workspace
        self.registry = registry
        self.environment = environment
        self.events = events
    }

    private var loaded: (file: Pipelinefile, graph: Graph)?
    /// How recent a file's timestamps may be before its stat alone is not trusted (a write in
    /// the same clock tick could follow unseen). Tests lower it instead of sleeping.
    public var racyWindowNanos: Int64 = 100_000_000
    /// Whether the last `build` was answered by `NoopCheck` alone.
    public private(set) var usedNoopCheck = false
    /// The Pipelinefile's stat just before it was read.
    private var pipelinefileStat: FileStat?

    /// Reads and validates the Pipelinefile (once per engine).
    public func load() throws -> (file: Pipelinefile, graph: Graph) {
        if let loaded { return loaded }
        pipelinefileStat = FileSystem.stat(workspace.pipelinefile, follow: true)
        let bytes = try FileSystem.readFile(workspace.pipelinefile)
        let digest = SHA256.hash(bytes)
        let planPath = LocalStore.workspaceStatePath(store: workspace.storePath, workspaceRoot: workspace.root) + "/plan"
        // Rule versions and the producer version: a new binary may read the same file differently.
        let rules = registry.knownNames.map { "\($0)@\(registry.version(of: $0))" } + [PipelineVersion.current]
        if let cached = PlanCache.load(path: planPath, digest: digest, displayPath: workspace.displayPath, rules: rules) {
            loaded = cached
            return cached
        }
        let result = try PipelinefileParser(registry: registry).parseWithGraph(bytes: bytes, displayPath: workspace.displayPath)
        if FileSystem.isDirectory(Path.directory(of: planPath)) {
            try? PlanCache.save(result.file, graph: result.graph, rules: rules, to: planPath)
        }
        loaded = result
        return result
    }

    /// Targets by name (none: the `default:` list, else every step) and everything they need.
    public func selection(_ targets: [String], file: Pipelinefile, graph: Graph) throws -> [Int] {
        let names = targets.isEmpty ? file.defaultTargets : targets
        let roots = names.isEmpty ? Array(0..<graph.steps.count) : try graph.resolve(targets: names)
        let selected = graph.closure(of: roots)
        for i in selected {
            let step = graph.steps[i]
            if case .use(let rule, _) = step.action, rule != ApprovalGate.rule, registry.rule(named: rule) == nil {
                throw PipelineError(.ruleUnavailable, "step '\(step.name)' uses rule '\(rule)', which is not available yet in this version of pipeline",
                                    location: step.actionLocation, step: step.name)
            }
        }
        return selected
    }

    public func openStore() throws -> LocalStore { try LocalStore(root: workspace.storePath) }

    /// Builds `targets`. Holds the workspace lock for the whole run (waiting for another run
    /// unless `wait` is false).
    /// What a run does with its job's contract: a new job records it; a resumed one checks
    /// it, accepting a changed Pipelinefile or environment only with a reason.
    public enum ContractPolicy: Sendable {
        case record(extraEnv: [String])
        case verify(amend: String?, allowEnvMismatch: String?)
    }

    /// Who job events are recorded for: `PIPELINE_ACTOR`, else the user, else "pipeline".
    public static func actor(in environment: [String: String]) -> String {
        environment["PIPELINE_ACTOR"] ?? environment["USER"] ?? "pipeline"
    }

    var actor: String { Engine.actor(in: environment) }

    public func build(targets: [String], options: RunOptions, wait: Bool = true, envRules: [String] = [],
                      executor: Executor) throws -> BuildReport {
        // Every real run is a job, queued until it holds the workspace, then running.
        let jobs = options.dryRun ? nil : JobStore(storeRoot: workspace.storePath)
        // Only the event that ends a run is flushed: the ones before it are rewritten by it.
        let job = try jobs?.create(targets: targets, actor: actor, durable: false)
        let lease = try job.map { try jobs!.lease($0.id) }
        defer { withExtendedLifetime(lease) {} }
        if let job { events.emit(.jobStarted(job.id)) }
        return try drive(job.map { ($0.id, jobs!) }, targets: targets, options: options, wait: wait, executor: executor,
                         contract: .record(extraEnv: envRules))
    }

    /// Continues a job that stopped for approval, was paused, or failed: the same targets,
    /// with every approved gate passing. Finished steps are up to date, so only the rest runs.
    public func resume(_ id: JobID, options: RunOptions, wait: Bool = true, amend: String? = nil, allowEnvMismatch: String? = nil,
                       executor: Executor) throws -> BuildReport {
        let jobs = JobStore(storeRoot: workspace.storePath)
        _ = try jobs.load(id)  // an unknown or unreadable job is reported as such
        let lease = try jobs.lease(id)
        defer { withExtendedLifetime(lease) {} }
        var job = try jobs.load(id)
        if job.status == .running || job.status == .queued {
            // Its lease is ours now, so no process runs it: it was abandoned. Take it over.
            job = try jobs.transition(id, to: job.status == .running ? .failed : .canceled, actor: actor,
                                      reason: "abandoned: the process running it is gone; taken over by resume")
            if job.status == .canceled {
                throw PipelineError(.invalidTransition, "job \(id) was abandoned before it started; start a new run with `pipeline run`")
            }
        }
        guard [.decisionNeeded, .paused, .failed].contains(job.status) else {
            throw PipelineError(.invalidTransition, "job \(id) is \(job.status.rawValue): there is nothing to resume",
                                hint: job.status.isTerminal ? "start a new run with `pipeline run`" : nil)
        }
        if let pending = job.pendingDecisions.first {
            throw PipelineError(.approvalRequired,
                                "job \(id) waits for approval of \(pending.id) (step \(pending.step ?? "?")): \(pending.summary)",
                                hint: "pipeline job approve \(id) --checkpoint \(pending.id) --actor NAME --reason TEXT")
        }
        var options = options
        options.approved = Set(job.checkpoints.filter { $0.kind == .decisionNeeded && job.approvals[$0.id] != nil }.compactMap(\.step))
        _ = try jobs.contract(id)  // missing or damaged: say so before anything runs
        events.emit(.jobStarted(id))
        return try drive((id, jobs), targets: job.targets, options: options, wait: wait, executor: executor,
                         contract: .verify(amend: amend, allowEnvMismatch: allowEnvMismatch))
    }

    /// Runs the build for a job and records how it ended.
    private func drive(_ job: (id: JobID, store: JobStore)?, targets: [String], options: RunOptions, wait: Bool,
                       executor: Executor, contract: ContractPolicy) throws -> BuildReport {
        do {
            let store = try openStore()
            let state = try store.workspaceState(for: workspace.root)
            let (built, session) = try build(targets: targets, options: options, wait: wait, executor: executor, state: state, store: store,
                                             job: job, contract: contract)
            var report = built
            guard let (id, jobs) = job else { return report }
            report.job = id
            // How the run ended goes through the open session when there is one (no re-read of
            // a long log); the last event is flushed.
            func checkpoint(_ kind: Checkpoint.Kind, _ summary: String, requiredAction: String? = nil, step: String? = nil) throws {
                if let session {
                    try session.checkpoint(kind, summary: summary, requiredAction: requiredAction, step: step, actor: actor)
                } else {
                    try jobs.checkpoint(id, kind: kind, summary: summary, requiredAction: requiredAction, step: step, actor: actor, durable: false)
                }
            }
            func end(_ status: JobStatus, _ reason: String?) throws {
                if let session {
                    try session.transition(to: status, reason: reason, actor: actor, durable: true)
                    session.close()
                } else {
                    try jobs.transition(id, to: status, actor: actor, reason: reason)
                }
            }
            defer { session?.close() }
            if report.failure == .approvalRequired {
                for gate in report.summary.awaitingApproval {
                    let request = ApprovalGate.request(for: gate)
                    try checkpoint(.decisionNeeded, request.summary, requiredAction: request.requiredAction, step: gate.name)
                }
                try end(.decisionNeeded, "waiting for approval")
                return report
            }
            if report.summary.paused && report.failure == nil {
                try checkpoint(.progress, "paused: " + Engine.summaryText(report.summary))
                try end(.paused, "paused on request")
                return report
            }
            let status: JobStatus = report.summary.interrupted ? .canceled : (report.failure == nil ? .completed : .failed)
            if status == .completed { try checkpoint(.completed, Engine.summaryText(report.summary)) }
            try end(status, report.failure.map { "run ended: \($0.rawValue)" })
            return report
        } catch {
            if let (id, jobs) = job, let current = (try? jobs.load(id))?.status, current == .queued || current == .running {
                let reason = (error as? PipelineError)?.description ?? "\(error)"
                _ = try? jobs.transition(id, to: current == .queued ? .canceled : .failed, actor: actor, reason: reason)
            }
            throw error
        }
    }

    static func summaryText(_ summary: RunSummary) -> String {
        let count = { (s: StepStatus) in summary.counts[s] ?? 0 }
        return "\(count(.ran)) ran, \(count(.restored)) restored, \(count(.upToDate)) up to date"
    }

    static func planSummary(_ names: [String]) -> String {
        var text = "\(names.count) steps: "
        for (index, name) in names.enumerated() {
            let next = (index == 0 ? "" : ", ") + name
            if text.utf8.count + next.utf8.count > Checkpoint.maximumSummaryBytes - 4 {
                text += ", …"
                break
            }
            text += next
        }
        return text
    }

    private func build(targets: [String], options: RunOptions, wait: Bool, executor: Executor, state: String, store: LocalStore,
                       job: (id: JobID, store: JobStore)?, contract: ContractPolicy) throws -> (BuildReport, JobSession?) {
        let lock: WorkspaceLock? = options.dryRun ? nil : try WorkspaceLock(
            path: state + "/lock", wait: wait,
            waiting: { [events] holder in events.emit(.waitingForLock(holder: holder)) },
            interrupted: { executor.interruptRequested() })
        // Shared with other builds, exclusive against `pipeline gc`.
        let storeLock = try StoreLock(storeRoot: workspace.storePath, exclusive: false, wait: wait,
                                      waiting: { [events] in events.emit(.warning("waiting for pipeline gc to finish with the store")) })
        defer { withExtendedLifetime(lock) {}; withExtendedLifetime(storeLock) {} }

        let noopPath = state + "/noop"
        var recording = false
        if case .record = contract { recording = true }
        if !options.dryRun, options.force.isEmpty, recording, let answer = NoopCheck.check(path: noopPath, root: workspace.root, context: { names in
            NoopCheck.context(targets: targets, envNames: names, environment: self.environment, root: self.workspace.root)
        }, racyWindowNanos: racyWindowNanos) {
            usedNoopCheck = true
            if let job {
                try job.store.transition(job.id, to: .running, actor: actor, durable: false)
                if case .record(let extra) = contract {
                    try job.store.saveContract(JobContract(pipelinefile: workspace.displayPath, pipelinefileDigest: answer.pipelinefileDigest,
                                                           targets: targets,
                                                           environment: JobContract.fingerprint(envNames: answer.envNames + extra, values: environment)),
                                               for: job.id)
                }
                try job.store.checkpoint(job.id, kind: .plan, summary: Engine.planSummary(answer.steps), actor: actor, durable: false)
            }
            return (reportNoop(steps: answer.steps, upToDate: answer.upToDate), nil)
        }

        // The workspace state loads on the second core while this one reads the plan.
        let start = pl_monotonic_ns()
        let background = BackgroundLoad { () -> (StepRecords, StatCache, UInt64) in
            (StepRecords(path: state + "/steps"), StatCache(path: state + "/statcache"), pl_monotonic_ns())
        }
        let (file, graph) = try load()
        let planLoaded = pl_monotonic_ns()
        let (records, statCache, stateLoaded) = background.wait()
        statCache.racyWindowNanos = racyWindowNanos

        for name in options.force where graph.index(of: name) == nil {
            throw PipelineError(.unknownStep, "--force names unknown step '\(name)'\(Suggestion.hint(for: name, in: graph.names))")
        }
        let selected = try selection(targets, file: file, graph: graph)
        // A refused contract leaves the job as it was: it only starts running once accepted.
        if let job { try settle(contract, job: job, file: file, graph: graph, selected: selected, targets: targets) }
        // From here on the job's log is written through one open session.
        let session = try job.map { try $0.store.session($0.id) }
        do {
            try session?.transition(to: .running, reason: nil, actor: actor, durable: false)
            try session?.checkpoint(.plan, summary: Engine.planSummary(selected.map { graph.steps[$0].name }), step: nil, actor: actor)
            return (try run(selected: selected, file: file, graph: graph, records: records, statCache: statCache, store: store, state: state,
                            targets: targets, options: options, executor: executor, session: session, timings: (start, planLoaded, stateLoaded)),
                    session)
        } catch {
            session?.close()
            throw error
        }
    }

    private func run(selected: [Int], file: Pipelinefile, graph: Graph, records: StepRecords, statCache: StatCache, store: LocalStore,
                     state: String, targets: [String], options: RunOptions, executor: Executor, session: JobSession?,
                     timings: (start: UInt64, planLoaded: UInt64, stateLoaded: UInt64)) throws -> BuildReport {
        let (start, planLoaded, stateLoaded) = timings
        let noopPath = state + "/noop"
        if !options.dryRun {
            removeStaleTemporaries(selected: selected, graph: graph)
            // What a killed run left in the store: its temp blobs and half-saved state files.
            store.removeStaleTemporaries()
            Materializer.removeStaleTemporaries(in: state)
        }
        let rebuilder = Rebuilder(root: workspace.root, store: store, statCache: statCache, records: records, registry: registry,
                                  callerEnvironment: environment)
        rebuilder.plan = Engine.planFingerprint(file, registry: registry)
        if !options.dryRun { rebuilder.writer = try StoreWriter(sharing: store) }
        // `--remote-cache` / PIPELINE_REMOTE_CACHE, else the Pipelinefile's `cache:`.
        if remoteCache == nil, let url = file.cache["remote"] {
            remoteCache = RemoteCache(url: url, token: environment["PIPELINE_REMOTE_CACHE_TOKEN"], readOnly: file.cache["read_only"] == "true")
        }
        rebuilder.remote = remoteCache
        rebuilder.writer?.remote = remoteCache
        if records.wasDamaged {
            events.emit(.warning("the step records of this workspace were damaged and are ignored: every step is checked against the cache"))
        }
        // Progress checkpoints go through the job's open session.
        let recorder = session.map {
            JobRecorder(next: events, session: $0, actor: actor, writer: rebuilder.writer) { graph.index(of: $0).map { graph.dependencies[$0].map { graph.steps[$0].name } } ?? [] }
        }
        let scheduler = Scheduler(graph: graph, rebuilder: rebuilder, executor: executor, events: recorder ?? events)
        scheduler.ruleSetting = RuleSetting(storePath: workspace.storePath, job: session?.id, replayPolicy: replayPolicy, makeExecutor: makeExecutor)
        let scheduled = pl_monotonic_ns()
        let summary: RunSummary
        do {
            summary = try scheduler.run(selected, options: options)
        } catch {
            _ = rebuilder.writer?.finish()  // it writes the job's session: done before the caller closes it
            throw error
        }
        // What the store could not take (a full disk): the outputs are in place, but neither
        // the cache nor the job's evidence holds them, so the run fails, naming the path.
        let storeFailures = rebuilder.writer?.finish() ?? []
        for failure in storeFailures.dropFirst() {
            events.emit(.warning("the store could not take a result: \(failure)"))
        }
        for warning in remoteCache?.warnings ?? [] { events.emit(.warning(warning)) }
        if let failure = recorder?.failure {
            events.emit(.warning("the job's progress could not be recorded: \(failure)"))
        }
        let ran = pl_monotonic_ns()
        if !options.dryRun { try rebuilder.save(keepRecords: storeFailures.isEmpty) }
        if environment["PIPELINE_TIMINGS"] != nil {
            let ms = { (a: UInt64, b: UInt64) in String(Double((b - a) / 10_000) / 100) + " ms" }
            events.emit(.warning("timings: plan \(ms(start, planLoaded)) ∥ state \(ms(start, stateLoaded)), run \(ms(scheduled, ran)), "
                                 + "save \(ms(ran, pl_monotonic_ns()))"))
        }
        if !options.dryRun, storeFailures.isEmpty {
            rememberNoop(at: noopPath, summary: summary, targets: targets, selected: selected, graph: graph, rebuilder: rebuilder,
                         graphDigest: file.digest)
        }
        events.emit(.finished(summary))
        if var failure = storeFailures.first {
            failure.message = "the store could not keep this run's results and evidence: " + failure.message
            failure.hint = failure.hint.map { $0 + " (the workspace is not affected; the next run stores its results)" }
            throw failure
        }
        let failure: PipelineError.Code? = summary.interrupted ? .interrupted
            : (summary.succeeded || (summary.paused && summary.failed.isEmpty) ? nil : scheduler.failureCode ?? .stepFailed)
        retained.append(contentsOf: [rebuilder, scheduler] as [AnyObject])
        return BuildReport(summary: summary, failure: failure)
    }

    /// A run killed while writing outputs can leave `.NAME.tmp-PID-N` beside them (the old
    /// file is intact). Holding the workspace lock, no other run is writing here, so every
    /// such file beside a selected step's output is stale: remove it.
    private func removeStaleTemporaries(selected: [Int], graph: Graph) {
        var byFolder: [String: Set<String>] = [:]
        for i in selected {
            for output in graph.steps[i].outputs {
                byFolder[Path.directory(of: output), default: []].insert(Path.lastComponent(output))
            }
        }
        for (folder, names) in byFolder {
            let path = folder == "." ? workspace.root : workspace.root + "/" + folder
            for entry in FileSystem.list(path) ?? [] where entry.name.hasPrefix(".") && entry.name.contains(".tmp-") {
                guard let range = entry.name.ranges(of: ".tmp-").last else { continue }
                let base = String(entry.name[entry.name.index(after: entry.name.startIndex)..<range.lowerBound])
                let suffix = entry.name[range.upperBound...]
                let parts = suffix.split(separator: "-")
                guard names.contains(base), parts.count == 2, parts.allSatisfy({ $0.allSatisfy(\.isNumber) }) else { continue }
                try? FileSystem.remove(path + "/" + entry.name)
            }
        }
    }

    /// The declared environment names of the selected steps.
    static func envNames(_ selected: [Int], graph: Graph) -> [String] {
        var names = Set<String>()
        for i in selected {
            names.formUnion(graph.steps[i].env.passThrough)
            names.formUnion(graph.steps[i].env.secrets)
        }
        return names.sorted()
    }

    /// Records the job's contract, or checks it against now: a changed Pipelinefile or
    /// environment is refused (exit 3) unless accepted with a reason, which is logged and
    /// raises the job's epoch.
    private func settle(_ policy: ContractPolicy, job: (id: JobID, store: JobStore), file: Pipelinefile, graph: Graph, selected: [Int],
                        targets: [String]) throws {
        let names = Engine.envNames(selected, graph: graph)
        switch policy {
        case .record(let extra):
            try job.store.saveContract(JobContract(pipelinefile: workspace.displayPath, pipelinefileDigest: file.digest, targets: targets,
                                                   environment: JobContract.fingerprint(envNames: names + extra, values: environment)),
                                       for: job.id)
        case .verify(let amend, let allowEnvMismatch):
            var contract = try job.store.contract(job.id)
            let recordedNames = contract.environment.keys.filter { $0.hasPrefix("env:") }.map { String($0.dropFirst(4)) }
            let now = JobContract.fingerprint(envNames: Array(Set(names + recordedNames)), values: environment)
            if contract.pipelinefileDigest != file.digest {
                guard let amend else {
                    throw PipelineError(.policyRefused,
                                        "\(workspace.displayPath) changed since job \(job.id) started "
                                            + "(sha256 \(contract.pipelinefileDigest.hex.prefix(12))… → \(file.digest.hex.prefix(12))…)",
                                        hint: "accept it with: pipeline job resume \(job.id) --amend --reason TEXT (or start a new run)")
                }
                try job.store.append(job.id, type: .amendment, actor: actor) { _ in
                    ["kind": "pipelinefile", "reason": .string(amend), "from": .string(contract.pipelinefileDigest.hex),
                     "to": .string(file.digest.hex)]
                }
                contract.pipelinefileDigest = file.digest
            }
            let changes = contract.environmentChanges(comparedTo: now)
            if !changes.isEmpty {
                guard let allowEnvMismatch else {
                    throw PipelineError(.policyRefused, "the environment changed since job \(job.id) started: \(changes.joined(separator: ", "))",
                                        hint: "accept it with: pipeline job resume \(job.id) --allow-env-mismatch --reason TEXT")
                }
                try job.store.append(job.id, type: .amendment, actor: actor) { _ in
                    ["kind": "environment", "reason": .string(allowEnvMismatch), "changed": .array(changes.map(JSON.string))]
                }
                contract.environment = now
            }
            try job.store.saveContract(contract, for: job.id)
        }
    }

    /// The events of a run found up to date by `NoopCheck`, the same as a full check's.
    private func reportNoop(steps: [String], upToDate: Int) -> BuildReport {
        let started = pl_monotonic_ns()
        events.emit(.planned(steps: steps))
        for name in steps { events.emit(.stepFinished(StepOutcome(step: name, status: .upToDate))) }
        let summary = RunSummary(counts: [.upToDate: upToDate], outcomes: [], durationNanos: Int64(pl_monotonic_ns() - started),
                                 dryRun: false, interrupted: false)
        events.emit(.finished(summary))
        return BuildReport(summary: summary, failure: nil)
    }

    /// After a run: remember every file it depended on, when all of it succeeded and nothing
    /// in it always runs; otherwise forget any earlier answer.
    private func rememberNoop(at path: String, summary: RunSummary, targets: [String], selected: [Int], graph: Graph,
                              rebuilder: Rebuilder, graphDigest: Digest) {
        var envNames = Set<String>()
        var entries: [NoopCheck.Entry] = []
        var seen = Set<String>()
        /// A file's stat from the moment its digest was established; false when there is none,
        /// or when the file has been hashed to something else since a step used it.
        func add(_ relative: String, _ digest: Digest) -> Bool {
            guard let cached = rebuilder.statCache.entries[relative], cached.sha256 == digest else { return false }
            guard seen.insert(relative).inserted else { return true }
            entries.append(NoopCheck.Entry(path: relative, stat: FileStat(device: cached.device, inode: cached.inode, size: cached.size,
                                                                           mtimeNanos: cached.mtimeNanos, ctimeNanos: cached.ctimeNanos,
                                                                           mode: 0, kind: .file)))
            return true
        }
        var usable = summary.succeeded && pipelinefileStat != nil
        if usable, let stat = pipelinefileStat {
            entries.append(NoopCheck.Entry(path: String(workspace.pipelinefile.dropFirst(workspace.root.count + 1)), stat: stat))
        }
        for (folder, stat) in rebuilder.resolver.listedFolders where usable { entries.append(NoopCheck.Entry(path: folder, stat: stat)) }
        for i in selected where usable {
            let step = graph.steps[i]
            if step.isAlias { continue }
            envNames.formUnion(step.env.passThrough)
            envNames.formUnion(step.env.secrets)
            guard step.cache, let record = rebuilder.records[step.name] else { usable = false; break }
            for input in record.inputs where !add(input.path, input.digest) { usable = false }
            for input in record.result.discoveredInputs where !add(input.path, input.digest) { usable = false }
            for file in record.result.files where file.linkTarget != nil || !add(file.path, file.digest) { usable = false }
            for folder in record.result.directories {
                guard let stat = FileSystem.stat(workspace.root + "/" + folder, follow: true) else { usable = false; break }
                entries.append(NoopCheck.Entry(path: folder, stat: stat))
            }
        }
        guard usable else {
            NoopCheck.forget(path: path)
            return
        }
        let names = envNames.sorted()
        let context = NoopCheck.context(targets: targets, envNames: names, environment: environment, root: workspace.root)
        let upToDate = selected.filter { !graph.steps[$0].isAlias }.count
        try? NoopCheck.write(path: path, context: context, envNames: names, steps: selected.map { graph.steps[$0].name }, upToDate: upToDate,
                             entries: entries, pipelinefileDigest: graphDigest, root: workspace.root, racyWindowNanos: racyWindowNanos)
    }

    /// Objects of the last run, kept for the engine's lifetime: a CLI that exits right
    /// after a run then skips freeing hundreds of thousands of small objects.
    private var retained: [AnyObject] = []

    /// What every key of this plan is computed under, besides the step itself.
    static func planFingerprint(_ file: Pipelinefile, registry: RuleRegistry) -> Digest {
        let rules = registry.knownNames.map { "\($0)@\(registry.version(of: $0))" }.joined(separator: ",")
        return SHA256.hash("\(file.digest.hex)\n\(ActionDescription.salt)\n\(ActionDescription.currentPlatform)\n\(rules)")
    }

    /// Why `step` would do work now (a dry run of what it needs), and why it ran last time.
    public func explain(_ name: String, executor: Executor) throws -> (now: StepOutcome?, last: StepRecord?) {
        let (file, graph) = try load()
        // One step: a name, a declared output, or a matrix selection that picks exactly one.
        let picked = try graph.resolve(target: name)
        guard picked.count == 1 else {
            throw PipelineError(.unknownStep, "'\(name)' is \(picked.count) steps; explain one of them",
                                hint: picked.map { graph.steps[$0].name }.joined(separator: ", "))
        }
        let name = graph.steps[picked[0]].name
        let selected = try selection([name], file: file, graph: graph)
        let store = try openStore()
        let state = try store.workspaceState(for: workspace.root)
        let records = StepRecords(path: state + "/steps")
        let rebuilder = Rebuilder(root: workspace.root, store: store, statCache: StatCache(path: state + "/statcache"),
                                  records: records, registry: registry, callerEnvironment: environment)
        rebuilder.plan = Engine.planFingerprint(file, registry: registry)
        let quiet = EventLog()
        let scheduler = Scheduler(graph: graph, rebuilder: rebuilder, executor: executor, events: quiet)
        let summary = try scheduler.run(selected, options: RunOptions(jobs: 1, dryRun: true))
        return (summary.outcomes.first { $0.step == name }, records[name])
    }

    /// Removes the declared outputs of the selected steps (never anything else) and forgets
    /// their records. Returns the paths removed.
    public func cleanOutputs(targets: [String]) throws -> [String] {
        let (file, graph) = try load()
        let selected = targets.isEmpty ? Array(0..<graph.steps.count) : graph.closure(of: try graph.resolve(targets: targets))
        _ = file
        let store = try? LocalStore(root: workspace.storePath, create: false)
        let state = try store.map { try $0.workspaceState(for: workspace.root) }
        let records = StepRecords(path: state.map { $0 + "/steps" })
        var removed: [String] = []
        let materializer = Materializer(root: workspace.root)
        for i in selected {
            let step = graph.steps[i]
            for output in step.outputs {
                let path = try materializer.absolutePath(output)
                if FileSystem.exists(path) {
                    try FileSystem.remove(path)
                    removed.append(output)
                }
            }
            records.remove(step.name)
        }
        try records.save()
        return removed
    }

    /// Removes the whole store (cache, records, state).
    public func cleanStore() throws -> Bool {
        guard FileSystem.exists(workspace.storePath) else { return false }
        try FileSystem.remove(workspace.storePath)
        return true
    }
}
