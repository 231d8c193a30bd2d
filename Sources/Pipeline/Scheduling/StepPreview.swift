/// What a run would do to one step now, decided without running or writing anything (a dry
/// run): the status `pipeline graph --status` draws on each node.
public struct StepPreview: Sendable, Equatable {
    public enum State: String, Sendable, CaseIterable {
        case upToDate = "up_to_date"
        /// The action cache holds this exact action: its outputs would be put in place.
        case restore
        case run
        /// Would not run: it waits for an approval, or a step it needs cannot run.
        case skipped
        /// Cannot be decided (a missing input, an unavailable rule): the run would fail here.
        case error
    }

    public var state: State
    /// Why (nil when up to date), as `explain` words it.
    public var reason: String?
    /// The reason's stable machine name, when it is a rebuild reason.
    public var reasonCode: String?

    public init(state: State, reason: String? = nil, reasonCode: String? = nil) {
        self.state = state
        self.reason = reason
        self.reasonCode = reasonCode
    }
}

extension Engine {
    /// The preview of every step in `selected` (a dependency-closed selection), by step
    /// index. Reads the store and the workspace but never creates or writes either: without
    /// a store, every step would run because it never ran.
    public func preview(_ selected: [Int], graph: Graph, file: Pipelinefile, executor: Executor) throws -> [Int: StepPreview] {
        var outcomes: [String: StepOutcome] = [:]
        if let store = try? LocalStore(root: workspace.storePath, create: false) {
            let state = LocalStore.workspaceStatePath(store: store.root, workspaceRoot: workspace.root)
            let hasState = FileSystem.isDirectory(state)
            let rebuilder = Rebuilder(root: workspace.root, store: store, statCache: StatCache(path: hasState ? state + "/statcache" : nil),
                                      records: StepRecords(path: hasState ? state + "/steps" : nil), registry: registry,
                                      callerEnvironment: environment)
            rebuilder.plan = Engine.planFingerprint(file, registry: registry)
            let scheduler = Scheduler(graph: graph, rebuilder: rebuilder, executor: executor, events: EventLog())
            let summary = try scheduler.run(selected, options: RunOptions(jobs: 1, keepGoing: true, dryRun: true))
            for outcome in summary.outcomes { outcomes[outcome.step] = outcome }
        }
        var result: [Int: StepPreview] = [:]
        // `selected` is in topological order: what a step needs is decided before it.
        for i in selected {
            let step = graph.steps[i]
            if step.isAlias {
                // An alias is as out of date as the worst of what it needs.
                let needed = graph.dependencies[i].compactMap { d in result[d].map { (d, $0) } }
                if let (d, _) = needed.first(where: { $0.1.state == .run }) ?? needed.first(where: { $0.1.state == .restore }) {
                    let reason = RebuildReason.dependencyPending(graph.steps[d].name)
                    result[i] = StepPreview(state: result[d]!.state, reason: reason.description, reasonCode: reason.code)
                } else if let (_, blocked) = needed.first(where: { $0.1.state == .error || $0.1.state == .skipped }) {
                    result[i] = StepPreview(state: .skipped, reason: blocked.reason)
                } else {
                    result[i] = StepPreview(state: .upToDate)
                }
                continue
            }
            guard let outcome = outcomes[step.name] else {
                result[i] = StepPreview(state: .run, reason: RebuildReason.noPreviousRun.description, reasonCode: RebuildReason.noPreviousRun.code)
                continue
            }
            switch outcome.status {
            case .upToDate: result[i] = StepPreview(state: .upToDate)
            case .restored: result[i] = StepPreview(state: .restore, reason: outcome.reason?.description, reasonCode: outcome.reason?.code)
            case .ran: result[i] = StepPreview(state: .run, reason: outcome.reason?.description ?? outcome.message, reasonCode: outcome.reason?.code)
            case .failed: result[i] = StepPreview(state: .error, reason: outcome.message)
            case .skipped, .canceled: result[i] = StepPreview(state: .skipped, reason: outcome.message)
            }
        }
        return result
    }
}
