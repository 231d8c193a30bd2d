/// What a run gives every rule besides its step: the store, the job, and what the caller
/// allowed (real replay needs every interlock on the `pipeline run` command line).
public struct RuleSetting: Sendable {
    public var storePath: String
    public var job: JobID?
    public var replayPolicy: ReplayPolicy
    /// A fresh executor for rules that run commands of their own (real replay).
    public var makeExecutor: (@Sendable () -> any Executor)?

    public init(storePath: String, job: JobID?, replayPolicy: ReplayPolicy = .stub, makeExecutor: (@Sendable () -> any Executor)? = nil) {
        self.storePath = storePath
        self.job = job
        self.replayPolicy = replayPolicy
        self.makeExecutor = makeExecutor
    }
}

/// What a built-in rule gets when it runs in-process.
public struct RuleContext: Sendable {
    public var step: Step
    public var with: JSON
    public var workspaceRoot: String
    public var storePath: String
    /// The job this run records into.
    public var job: JobID?
    /// The caller's environment (for `env:NAME` references such as signing keys).
    public var environment: [String: String]
    /// The step's inputs with their digests (needed steps' outputs included).
    public var inputs: [(path: String, digest: Digest)]
    /// The run records of every step this one needs, directly or not, in build order: how
    /// each produced the outputs this step sees (from this run, or from the cache).
    public var records: [RunRecord]
    public var replayPolicy: ReplayPolicy = .stub
    public var makeExecutor: (@Sendable () -> any Executor)?

    public init(step: Step, with: JSON, workspaceRoot: String, storePath: String, job: JobID?, environment: [String: String],
                inputs: [(path: String, digest: Digest)], records: [RunRecord]) {
        self.step = step
        self.with = with
        self.workspaceRoot = workspaceRoot
        self.storePath = storePath
        self.job = job
        self.environment = environment
        self.inputs = inputs
        self.records = records
    }
}

/// A built-in step kind (`use: NAME`). Implementations live in the Rules module.
public protocol Rule: Sendable {
    static var name: String { get }
    /// Bumped whenever the rule's behaviour changes, so old cache entries stop matching.
    static var version: Int { get }
    /// The inputs and outputs `with` implies, checked when the Pipelinefile is read
    /// (a `PipelineError(.invalidInput)` there is reported at the `with:` line).
    func declare(_ with: JSON, step: String) throws -> (inputs: [String], outputs: [String])
    /// A rule that runs a command (`capture`) returns it; the scheduler runs it like `run:`.
    func command(_ with: JSON) -> Command?
    /// false for a rule whose outcome depends on more than its key (replay checks the store
    /// and the machine's tools): such a step runs every time it is asked for.
    static var cacheable: Bool { get }
    /// Does the work in-process; returns lines for the step's log.
    func run(_ context: RuleContext) throws -> [String]
}

extension Rule {
    public func command(_ with: JSON) -> Command? { nil }
    public static var cacheable: Bool { true }
}

/// Every built-in kind the design names, known to the parser even before it is implemented,
/// so `use: pakc` gets "did you mean 'pack'" and `use: pack` a clear "not available yet".
public struct RuleRegistry: Sendable {
    public static let builtinNames = ["approve", "capture", "diff", "gc", "pack", "replay", "sign", "verify"]

    private var implementations: [String: any Rule] = [:]

    public init() {}

    public mutating func register(_ rule: any Rule) {
        implementations[type(of: rule).name] = rule
    }

    public func isKnown(_ name: String) -> Bool { RuleRegistry.builtinNames.contains(name) || implementations[name] != nil }

    public func rule(named name: String) -> (any Rule)? { implementations[name] }

    public var knownNames: [String] { Array(Set(RuleRegistry.builtinNames).union(implementations.keys)).sorted() }

    public func version(of name: String) -> Int {
        implementations[name].map { type(of: $0).version } ?? 0
    }
}
