/// `pipeline capture -- CMD ARGS`: runs one command outside any Pipelinefile and records it
/// exactly as a step would be: a job with a run record (command, environment fingerprint,
/// declared inputs and outputs with digests, exit code, logs as blobs, times), secrets
/// masked, input and output blobs kept in the store so the run can be packed and replayed.
public struct AdHocCapture {
    public struct Request: Sendable {
        public var argv: [String]
        /// Where the command runs; inputs and outputs are relative to it.
        public var root: String
        public var storePath: String
        public var name: String
        public var inputs: [String]
        public var outputs: [String]
        /// Names passed through from the caller's environment (values enter the record).
        public var env: [String]
        public var secrets: [String]
        public var timeout: Double?

        public init(argv: [String], root: String, storePath: String, name: String = "capture", inputs: [String] = [], outputs: [String] = [],
                    env: [String] = [], secrets: [String] = [], timeout: Double? = nil) {
            self.argv = argv
            self.root = root
            self.storePath = storePath
            self.name = name
            self.inputs = inputs
            self.outputs = outputs
            self.env = env
            self.secrets = secrets
            self.timeout = timeout
        }
    }

    public struct Result: Sendable {
        public var job: JobID
        public var outcome: StepOutcome
        /// The command's stdout and stderr as stored (secrets masked).
        public var stdout: [UInt8]
        public var stderr: [UInt8]
    }

    public let request: Request
    public let environment: [String: String]
    public let actor: String

    public init(_ request: Request, environment: [String: String], actor: String) {
        self.request = request
        self.environment = environment
        self.actor = actor
    }

    /// `jobStarted` is emitted first, as for `pipeline run`.
    public func run(executor: Executor, events: EventSink) throws -> Result {
        guard !request.argv.isEmpty else { throw PipelineError(.invalidInput, "nothing to capture: give a command after --") }
        guard StepName.isValid(request.name) else {
            throw PipelineError(.invalidInput, "'\(request.name)' is not a valid step name ([A-Za-z_][A-Za-z0-9_.-]*)")
        }
        for name in request.env + request.secrets where !EnvName.isValid(name) {
            throw PipelineError(.invalidInput, "invalid environment variable name '\(name)'")
        }
        func relative(_ path: String, _ what: String) throws -> String {
            guard let normalized = Path.normalizeRelative(path), !normalized.isEmpty, !normalized.hasPrefix("../"), normalized != ".." else {
                throw PipelineError(.pathEscapes, "\(what) '\(path)' is not inside \(request.root)", path: path)
            }
            return normalized
        }
        let step = Step(name: request.name, action: .run(.argv(request.argv)), inputs: try request.inputs.map { try relative($0, "input") },
                        outputs: try request.outputs.map { try relative($0, "output") }, timeout: request.timeout, cache: false,
                        env: EnvSpec(passThrough: request.env, secrets: request.secrets),
                        location: SourceLocation(file: "pipeline capture", line: 1, column: 1))
        let graph = try Graph(steps: [step])
        let store = try LocalStore(root: request.storePath)
        let storeLock = try StoreLock(storeRoot: request.storePath, exclusive: false)
        defer { withExtendedLifetime(storeLock) {} }
        let jobs = JobStore(storeRoot: request.storePath)
        let job = try jobs.create(targets: [request.name], actor: actor, payload: ["capture": .bool(true)])
        events.emit(.jobStarted(job.id))
        let session = try jobs.session(job.id)
        defer { session.close() }
        try session.transition(to: .running, reason: nil, actor: actor, durable: false)
        try session.checkpoint(.plan, summary: "1 steps: \(request.name)", step: nil, actor: actor)
        let rebuilder = Rebuilder(root: request.root, store: store, statCache: StatCache(path: nil), records: StepRecords(path: nil),
                                  callerEnvironment: environment)
        rebuilder.writer = try StoreWriter(sharing: store)
        let recorder = JobRecorder(next: events, session: session, actor: actor, writer: rebuilder.writer)
        let scheduler = Scheduler(graph: graph, rebuilder: rebuilder, executor: executor, events: recorder)
        scheduler.ruleSetting = RuleSetting(storePath: request.storePath, job: job.id)
        let summary: RunSummary
        do {
            summary = try scheduler.run([0], options: RunOptions(jobs: 1, force: [request.name]))
        } catch {
            _ = rebuilder.writer?.finish()  // it writes the job's session: done before it is closed
            throw error
        }
        let failures = rebuilder.writer?.finish() ?? []
        if let failure = recorder.failure ?? failures.first { throw failure }
        guard let outcome = summary.outcomes.first else { throw PipelineError(.internalError, "the captured command left no outcome") }
        let succeeded = outcome.status == .ran
        try session.checkpoint(.completed, summary: "\(request.name) \(outcome.status.rawValue)", step: nil, actor: actor)
        try session.transition(to: summary.interrupted ? .canceled : (succeeded ? .completed : .failed),
                               reason: outcome.message, actor: actor, durable: true)
        let stdout = outcome.logs.flatMap { (try? store.read($0.stdout)) ?? nil } ?? []
        let stderr = outcome.logs.flatMap { (try? store.read($0.stderr)) ?? nil } ?? []
        if summary.interrupted { throw PipelineError(.interrupted, "interrupted") }
        return Result(job: job.id, outcome: outcome, stdout: stdout, stderr: stderr)
    }
}
