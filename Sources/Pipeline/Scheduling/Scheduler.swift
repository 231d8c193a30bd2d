import CSupport
import Glibc

/// How a run goes.
public struct RunOptions: Sendable {
    public var jobs: Int
    public var keepGoing: Bool
    public var dryRun: Bool
    /// Steps to run even when up to date.
    public var force: Set<String>
    /// `approve` steps a person approved for this job: they pass; the others stop the steps
    /// after them.
    public var approved: Set<String>

    public init(jobs: Int = 2, keepGoing: Bool = false, dryRun: Bool = false, force: Set<String> = [], approved: Set<String> = []) {
        self.jobs = max(1, jobs)
        self.keepGoing = keepGoing
        self.dryRun = dryRun
        self.force = force
        self.approved = approved
    }
}

/// Owns order, `-j` parallelism, keep-going and failure propagation. It never hashes:
/// every question about content goes to the rebuilder.
public final class Scheduler {
    let graph: Graph
    let rebuilder: Rebuilder
    let executor: Executor
    let events: EventSink

    private struct Running {
        var step: Int
        var key: ActionKey
        var description: ActionDescription
        var reason: RebuildReason
        var logs: (stdout: CommandLog, stderr: CommandLog)
        var before: [String: FileStat?]
        /// Wall clock at start, for the run record.
        var startedAt: Int64
        /// Why an in-process rule failed.
        var ruleError: PipelineError?
    }

    /// What the scheduler passes to rules: the store, the job, the caller's environment.
    public var ruleSetting: RuleSetting?

    private var status: [StepStatus?] = []
    private var produced: [String: Digest] = [:]
    private var filesOf: [[String]] = []
    private var outcomes: [StepOutcome] = []
    private var running: [Int: Running] = [:]
    private var pendingDry: Set<Int> = []
    private var failureCodes: [PipelineError.Code] = []
    private var awaiting: [Int] = []
    /// Log buffers of finished commands, reused by the next.
    private var freeLogs: [(stdout: CommandLog, stderr: CommandLog)] = []
    private var createdFolders: Set<String> = []
    private var prefetch: OutputPrefetch?
    /// Run records of the steps executed in this run, by step index.
    private var executed: [Int: RunRecord] = [:]
    /// Commands running per pool, and the ready steps waiting for a free place in it.
    private var poolRunning: [String: Int] = [:]
    private var poolWaiting: [String: [Int]] = [:]

    public init(graph: Graph, rebuilder: Rebuilder, executor: Executor, events: EventSink) {
        self.graph = graph
        self.rebuilder = rebuilder
        self.executor = executor
        self.events = events
    }

    /// The most specific error code among the failures of the last run (for the exit status).
    public var failureCode: PipelineError.Code? {
        if failureCodes.isEmpty { return awaiting.isEmpty ? nil : .approvalRequired }
        // (a paused run is not a failure: see RunSummary.paused)
        if failureCodes.allSatisfy({ $0 == .programNotFound || $0 == .missingInput }) { return failureCodes[0] }
        // Only replays that did not reproduce (or lacked results): say so in the exit status.
        if failureCodes.allSatisfy({ $0 == .notReproduced || $0 == .verificationFailed }) {
            return failureCodes.contains(.verificationFailed) ? .verificationFailed : .notReproduced
        }
        // Only I/O errors of pipeline's own (a restore on a full disk): not a command's failure.
        if failureCodes.allSatisfy({ $0 == .io }) { return .io }
        return failureCodes.first { $0 == .pathEscapes } ?? .stepFailed
    }

    /// Runs the selected steps (a dependency-closed set, in topological order).
    public func run(_ selection: [Int], options: RunOptions) throws -> RunSummary {
        let started = pl_monotonic_ns()
        var selected = [Bool](repeating: false, count: graph.steps.count)
        for i in selection { selected[i] = true }
        status = Array(repeating: nil, count: graph.steps.count)
        produced.reserveCapacity(selection.count * 2)
        outcomes.reserveCapacity(selection.count)
        filesOf = Array(repeating: [], count: graph.steps.count)
        var remaining = [Int](repeating: 0, count: graph.steps.count)
        for i in selection { remaining[i] = graph.dependencies[i].filter { selected[$0] }.count }
        var ready = selection.filter { remaining[$0] == 0 }
        var readyHead = 0
        let total = selection.filter { !graph.steps[$0].isAlias }.count
        if selection.count >= 256 {
            let files = (0..<graph.steps.count).map { i in rebuilder.records[graph.steps[i].name]?.result.files.map(\.path) }
            prefetch = OutputPrefetch(steps: graph.steps.count, order: selection, root: rebuilder.root, files: files)
        }
        defer {
            prefetch?.stop()
            prefetch = nil
        }
        var processed = 0
        var stopping = false
        var interrupted = false
        var paused = false
        events.emit(.planned(steps: selection.map { graph.steps[$0].name }))

        func release(_ i: Int) {
            for d in graph.dependents[i] where selected[d] {
                remaining[d] -= 1
                if remaining[d] == 0 { ready.append(d) }
            }
        }

        func finish(_ i: Int, _ outcome: StepOutcome) {
            status[i] = outcome.status
            if !graph.steps[i].isAlias || outcome.status != .upToDate { outcomes.append(outcome) }
            events.emit(.stepFinished(outcome))
            if outcome.status == .failed && !options.keepGoing { stopping = true }
            release(i)
        }

        /// Lets the first step waiting for a place in `pool` compete for a slot again.
        func admitNext(_ pool: String) {
            guard var waiting = poolWaiting[pool], !waiting.isEmpty else { return }
            ready.append(waiting.removeFirst())
            poolWaiting[pool] = waiting
        }

        /// Decides ready steps and starts their commands while slots are free.
        func startReady() {
            while !stopping, running.count < options.jobs, readyHead < ready.count {
                let i = ready[readyHead]
                readyHead += 1
                let step = graph.steps[i]
                if let pool = step.pool, poolRunning[pool.name, default: 0] >= pool.depth {
                    // Full: it waits for a step of its pool to end; others take the free slot.
                    poolWaiting[pool.name, default: []].append(i)
                    continue
                }
                defer {
                    if let pool = step.pool {
                        // A command holds its place in the pool until it ends; a step that
                        // needed none (up to date, restored, skipped, failed) lets the next in.
                        if running[i] != nil { poolRunning[pool.name, default: 0] += 1 } else { admitNext(pool.name) }
                    }
                }
                if !step.isAlias { processed += 1 }
                if let blocker = graph.dependencies[i].first(where: { selected[$0] && !(status[$0]?.succeeded ?? false) }) {
                    let blockerStatus = status[blocker]
                    let message = blockerStatus == .failed ? "\(graph.steps[blocker].name) failed" : "\(graph.steps[blocker].name) did not run"
                    finish(i, StepOutcome(step: step.name, status: .skipped, message: message))
                    continue
                }
                do {
                    if let outcome = try process(i, index: processed, total: total, options: options) { finish(i, outcome) }
                } catch let error as PipelineError {
                    failureCodes.append(error.code)
                    finish(i, StepOutcome(step: step.name, status: .failed, message: error.description))
                } catch {
                    failureCodes.append(.io)
                    finish(i, StepOutcome(step: step.name, status: .failed, message: "\(error)"))
                }
            }
        }

        while true {
            if !interrupted, executor.interruptRequested() {
                interrupted = true
                stopping = true
                executor.terminateAll()
            }
            if !paused, !interrupted, executor.pauseRequested() {
                paused = true
                stopping = true
            }
            startReady()
            if running.isEmpty {
                if stopping || readyHead >= ready.count { break }
                continue
            }
            switch try executor.waitAny() {
            case .interrupted:
                if !interrupted {
                    interrupted = true
                    stopping = true
                    executor.terminateAll()
                }
            case .completed(let completion):
                guard let run = running.removeValue(forKey: completion.id) else { continue }
                if let pool = graph.steps[run.step].pool {
                    poolRunning[pool.name, default: 1] -= 1
                    admitNext(pool.name)
                }
                // After a success, refill the freed slot first: storing this step's outputs
                // then overlaps with the next command instead of leaving a core idle. After
                // a failure, nothing new starts before the failure is known (unless -k).
                if completion.termination == .exited(0) || options.keepGoing { startReady() }
                finish(run.step, complete(run, completion, interrupted: interrupted))
            }
        }

        // What never got its turn.
        for i in selection where status[i] == nil {
            let step = graph.steps[i]
            status[i] = interrupted ? .canceled : .skipped
            if step.isAlias { continue }
            let outcome = StepOutcome(step: step.name, status: status[i]!,
                                      message: interrupted ? "interrupted" : (paused ? "paused" : "stopped after a failure"))
            outcomes.append(outcome)
            events.emit(.stepFinished(outcome))
        }
        freeLogs.removeAll()
        var counts: [StepStatus: Int] = [:]
        for outcome in outcomes { counts[outcome.status, default: 0] += 1 }
        var summary = RunSummary(counts: counts, outcomes: outcomes, durationNanos: Int64(pl_monotonic_ns() - started),
                                 dryRun: options.dryRun, interrupted: interrupted)
        summary.awaitingApproval = awaiting.map { graph.steps[$0] }
        summary.paused = paused && !interrupted
        return summary
    }

    /// Decides one step and either finishes it at once (returns its outcome) or starts it.
    private func process(_ i: Int, index: Int, total: Int, options: RunOptions) throws -> StepOutcome? {
        let step = graph.steps[i]
        let neededFiles = graph.dependencies[i].lazy.flatMap { self.filesOf[$0] }
        if step.isAlias {
            filesOf[i] = Array(neededFiles)
            return StepOutcome(step: step.name, status: .upToDate)
        }
        if case .use(ApprovalGate.rule, _) = step.action {
            // A gate, not an action: it passes for this job once approved, and is never cached.
            if options.approved.contains(step.name) {
                filesOf[i] = Array(neededFiles)
                return StepOutcome(step: step.name, status: .ran, message: "approved")
            }
            awaiting.append(i)
            return StepOutcome(step: step.name, status: .skipped, message: "waiting for approval", dryRun: options.dryRun)
        }
        if options.dryRun, let pending = graph.dependencies[i].first(where: { pendingDry.contains($0) }) {
            pendingDry.insert(i)
            return StepOutcome(step: step.name, status: .ran, reason: .dependencyPending(graph.steps[pending].name),
                               command: commandText(step), dryRun: true)
        }
        let env = rebuilder.keyEnvironment(for: step)
        let inputs = try rebuilder.inputs(of: step, produced: produced, neededFiles: neededFiles)
        let forced = options.force.contains(step.name)
        if !forced, step.cache, let record = rebuilder.unchangedRecord(step, inputs: inputs, env: env), record.status.succeeded,
           try rebuilder.checkOutputs(record.result, prefetched: prefetch?.stats(for: i)) == nil {
            publish(i, record.result)
            return StepOutcome(step: step.name, status: .upToDate, dryRun: options.dryRun)
        }
        let description = rebuilder.describe(step, inputs: inputs, env: env.values, secrets: env.secrets)
        let key = rebuilder.key(of: description)
        var decision = try rebuilder.decide(step, description: description, key: key, forced: forced)

        if options.dryRun {
            switch decision {
            case .upToDate:
                publish(i, rebuilder.records[step.name]!.result)
                return StepOutcome(step: step.name, status: .upToDate, dryRun: true)
            case .restore(let result, let reason):
                publish(i, result)
                return StepOutcome(step: step.name, status: .restored, reason: reason, dryRun: true)
            case .run(let reason):
                pendingDry.insert(i)
                return StepOutcome(step: step.name, status: .ran, reason: reason, command: commandText(step), dryRun: true)
            }
        }

        switch decision {
        case .upToDate:
            publish(i, rebuilder.records[step.name]!.result)
            return StepOutcome(step: step.name, status: .upToDate)
        case .restore(let result, let reason):
            if try rebuilder.restore(result) {
                rebuilder.restoredKeys.append(key)
                rebuilder.record(step, key: key, status: .restored, reason: reason.description, description: description, result: result)
                publish(i, result)
                return StepOutcome(step: step.name, status: .restored, reason: reason)
            }
            decision = .run(because: reason)
        case .run:
            break
        }
        guard case .run(let reason) = decision else { return nil }
        return try start(i, key: key, description: description, reason: reason, environment: rebuilder.processEnvironment(for: step),
                         index: index, total: total)
    }

    private func start(_ i: Int, key: ActionKey, description: ActionDescription, reason: RebuildReason, environment: [String: String],
                       index: Int, total: Int) throws -> StepOutcome? {
        let step = graph.steps[i]
        var command: Command
        var rule: (any Rule)?
        switch step.action {
        case .run(let line):
            command = line
        case .use(let name, let with):
            guard let implementation = rebuilder.registry.rule(named: name) else {
                throw PipelineError(.ruleUnavailable, "rule '\(name)' is not available yet in this version of pipeline", location: step.actionLocation,
                                    step: step.name)
            }
            if let line = implementation.command(with) {
                command = line
            } else {
                command = .argv(["use:", name])
                rule = implementation
            }
        case .alias:
            return StepOutcome(step: step.name, status: .upToDate)
        }
        prefetch?.stop()
        try rebuilder.flushRestores()
        try rebuilder.prepareDepfile(of: step)
        let before = rebuilder.snapshotOutputs(of: step)
        for output in step.outputs {
            let directory = Path.directory(of: output)
            if directory != ".", !createdFolders.contains(directory) {
                try FileSystem.makeDirectories(rebuilder.root + "/" + directory)
                createdFolders.insert(directory)
            }
        }
        let logs = try freeLogs.popLast() ?? (CommandLog(), CommandLog())
        var run = Running(step: i, key: key, description: description, reason: reason, logs: logs, before: before, startedAt: pl_wall_ns())
        events.emit(.stepStarted(StepStart(step: step.name, description: step.description, index: index, total: total, reason: reason,
                                           command: commandText(step))))
        if let rule {
            // Built-in rules run here, in-process; they end like a command would. They read
            // the store (records, blobs), so what the writer still holds goes there first.
            rebuilder.writer?.flush()
            let started = pl_monotonic_ns()
            var ok = true
            do {
                let lines = try rule.run(ruleContext(i, description: description))
                try FileSystem.writeAll(logs.stdout.fd, Array(lines.map { $0 + "\n" }.joined().utf8), path: "stdout")
            } catch {
                ok = false
                let failure = error as? PipelineError ?? PipelineError(.io, "\(error)")
                run.ruleError = failure
                try? FileSystem.writeAll(logs.stderr.fd, Array((failure.description + "\n").utf8), path: "stderr")
            }
            let completion = Completion(id: i, termination: .exited(ok ? 0 : 1), durationNanos: Int64(pl_monotonic_ns() - started))
            return complete(run, completion, interrupted: false)
        }
        try executor.start(Invocation(id: i, command: command, environment: environment, workingDirectory: rebuilder.root,
                                      stdout: logs.stdout.fd, stderr: logs.stderr.fd, timeout: step.timeout))
        running[i] = run
        return nil
    }

    private func complete(_ run: Running, _ completion: Completion, interrupted: Bool) -> StepOutcome {
        let step = graph.steps[run.step]
        rebuilder.forgetListings()
        let command = commandText(step)
        // A secret a command printed is masked before its logs are hashed, stored or shown.
        let redactor = step.env.secrets.isEmpty ? nil : Redactor(values: step.env.secrets.compactMap { rebuilder.callerEnvironment[$0] })
        let stdoutBytes = redactor?.redact(run.logs.stdout.contents()) ?? run.logs.stdout.contents()
        let stderrBytes = redactor?.redact(run.logs.stderr.contents()) ?? run.logs.stderr.contents()
        run.logs.stdout.reset()
        run.logs.stderr.reset()
        freeLogs.append(run.logs)
        var logBlobs: [(bytes: [UInt8], digest: Digest)] = []
        func logDigest(_ bytes: [UInt8]) -> Digest {
            if bytes.isEmpty { return .empty }
            guard rebuilder.writer != nil else { return (try? rebuilder.store.put(bytes: bytes)) ?? .empty }
            let digest = SHA256.hash(bytes)
            logBlobs.append((bytes, digest))
            return digest
        }
        let stdout = logDigest(stdoutBytes)
        let stderr = logDigest(stderrBytes)
        let endedAt = pl_wall_ns()
        keepInputs(of: run.description)
        defer {
            // Whatever this step leaves for the writer (logs; on success, outputs and result).
            if let writer = rebuilder.writer, !logBlobs.isEmpty { writer.save(blobs: logBlobs, result: nil, key: nil) }
        }
        func record(_ status: StepStatus, exitCode: Int32?, result: ActionResult) -> RunRecord {
            RunRecord(step: step.name, kind: run.description.kind, actionKey: run.key, command: run.description.command,
                      with: run.description.with, env: run.description.env,
                      secrets: SecretUse.describe(step.env.secrets, environment: rebuilder.callerEnvironment),
                      inputs: run.description.inputs, outputs: result.files, directories: result.directories, status: status,
                      exitCode: exitCode, stdout: stdout, stderr: stderr, startedAt: run.startedAt, endedAt: endedAt,
                      durationNanos: completion.durationNanos, timeout: step.timeout, platform: run.description.platform)
        }
        func failed(_ message: String, exitCode: Int32?, code: PipelineError.Code) -> StepOutcome {
            failureCodes.append(code)
            _ = rebuilder.takePendingBlobs()  // outputs of a failed step are never stored
            rebuilder.discardOutputs(of: step, unchangedSince: run.before)
            let result = ActionResult(files: [], exitCode: exitCode ?? -1, stdout: stdout, stderr: stderr, durationNanos: completion.durationNanos)
            rebuilder.record(step, key: run.key, status: .failed, reason: run.reason.description, description: run.description, result: result)
            var outcome = StepOutcome(step: step.name, status: .failed, reason: run.reason, durationNanos: completion.durationNanos,
                                      exitCode: exitCode, command: command, stderrTail: CommandLog.tail(stderrBytes), message: message)
            outcome.logs = (stdout, stderr)
            outcome.record = record(.failed, exitCode: exitCode, result: result).json
            return outcome
        }
        switch completion.termination {
        case .exited(0):
            if interrupted {
                // It finished, but the run is being torn down: keep it consistent anyway.
                break
            }
        case .exited(127):
            return failed("command not found (exit 127)", exitCode: 127, code: .programNotFound)
        case .exited(let code):
            if let error = run.ruleError { return failed(error.message, exitCode: code, code: error.code == .invalidInput ? .stepFailed : error.code) }
            return failed("exit status \(code)", exitCode: code, code: .stepFailed)
        case .signaled(let signal):
            if interrupted {
                rebuilder.discardOutputs(of: step, unchangedSince: run.before)
                return StepOutcome(step: step.name, status: .canceled, reason: run.reason, durationNanos: completion.durationNanos,
                                   command: command, message: "interrupted")
            }
            return failed("killed by signal \(signal)", exitCode: 128 + signal, code: .stepFailed)
        case .timedOut:
            return failed("timed out after \(JSON.formatNumber(step.timeout ?? 0))s", exitCode: nil, code: .stepFailed)
        case .spawnFailed(let errno):
            let code: PipelineError.Code = errno == ENOENT ? .programNotFound : .stepFailed
            return failed("cannot start \(Command.quote(stepProgram(step))): \(FileSystem.errorText(errno))", exitCode: errno == ENOENT ? 127 : nil, code: code)
        }
        do {
            let outputs = try rebuilder.collectOutputs(of: step)
            let discovered = try rebuilder.discoveredInputs(of: step, declared: run.description.inputs)
            var result = ActionResult(files: outputs.files, directories: outputs.directories, exitCode: 0, stdout: stdout, stderr: stderr,
                                      durationNanos: completion.durationNanos, discoveredInputs: discovered)
            let evidence = record(.ran, exitCode: 0, result: result)
            let evidenceJSON = evidence.json
            result.run = evidenceJSON
            executed[run.step] = evidence
            if let writer = rebuilder.writer {
                writer.save(blobs: logBlobs + rebuilder.takePendingBlobs(), result: step.cache ? result : nil, key: run.key)
                logBlobs = []
                if step.cache, !discovered.isEmpty {
                    writer.save(blobs: [], result: result, key: Rebuilder.variantKey(run.key, result.discoveredInputs))
                }
            } else if step.cache {
                try rebuilder.store.store(result, for: run.key)
                if !discovered.isEmpty { try rebuilder.store.store(result, for: Rebuilder.variantKey(run.key, result.discoveredInputs)) }
            }
            rebuilder.record(step, key: run.key, status: .ran, reason: run.reason.description, description: run.description, result: result)
            publish(run.step, result)
            var outcome = StepOutcome(step: step.name, status: .ran, reason: run.reason, durationNanos: completion.durationNanos, exitCode: 0,
                                      command: command)
            outcome.logs = (stdout, stderr)
            outcome.record = evidenceJSON
            return outcome
        } catch let error as PipelineError {
            return failed(error.message, exitCode: 0, code: error.code)
        } catch {
            return failed("\(error)", exitCode: 0, code: .io)
        }
    }

    /// What an in-process rule sees: its inputs, and the run records of everything it needs.
    private func ruleContext(_ i: Int, description: ActionDescription) -> RuleContext {
        let step = graph.steps[i]
        var records: [RunRecord] = []
        for d in graph.closure(of: graph.dependencies[i]) {
            if let record = executed[d] {
                records.append(record)
            } else if let key = rebuilder.records[graph.steps[d].name]?.key, let run = (try? rebuilder.store.result(for: key))??.run,
                      let record = try? RunRecord(json: run) {
                records.append(record)
            }
        }
        guard case .use(_, let with) = step.action else { preconditionFailure("a rule step") }
        var context = RuleContext(step: step, with: with, workspaceRoot: rebuilder.root, storePath: ruleSetting?.storePath ?? "",
                                  job: ruleSetting?.job, environment: rebuilder.callerEnvironment, inputs: description.inputs, records: records)
        context.replayPolicy = ruleSetting?.replayPolicy ?? .stub
        context.makeExecutor = ruleSetting?.makeExecutor
        return context
    }

    /// Keeps in the store the files an executed step read that no step produced (sources):
    /// its run record names them, and a replay needs their bytes.
    private func keepInputs(of description: ActionDescription) {
        var sources: [(path: String, digest: Digest)] = []
        for input in description.inputs where produced[input.path] == nil {
            sources.append((rebuilder.root + "/" + input.path, input.digest))
        }
        if sources.isEmpty { return }
        if let writer = rebuilder.writer {
            writer.keep(files: sources)
        } else {
            for source in sources where !rebuilder.store.contains(source.digest) { _ = try? rebuilder.store.put(fileAt: source.path) }
        }
    }

    /// Makes a finished step's outputs known to its dependents.
    private func publish(_ i: Int, _ result: ActionResult) {
        if result.files.count == 1 {
            produced[result.files[0].path] = result.files[0].digest
            filesOf[i] = [result.files[0].path]
            return
        }
        var files: [String] = []
        files.reserveCapacity(result.files.count)
        for file in result.files {
            produced[file.path] = file.digest
            files.append(file.path)
        }
        filesOf[i] = files
    }

    private func commandText(_ step: Step) -> String {
        switch step.action {
        case .run(let command): return command.displayText
        case .use(let rule, _): return "use: \(rule)"
        case .alias: return ""
        }
    }

    private func stepProgram(_ step: Step) -> String {
        if case .run(let command) = step.action { return command.program }
        return step.kindName
    }
}
