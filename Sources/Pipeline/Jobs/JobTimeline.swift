/// What a job's runs did, step by step and over time, read back from its log: each step's
/// status and why, when it started and how long it took, the worker slot it ran in (assigned
/// after the fact from the start/end intervals), and the critical path (the longest chain of
/// durations through the dependencies). `pipeline job trace` and `job report` render it.
public struct JobTimeline: Sendable {
    public struct Entry: Sendable, Equatable {
        public var step: String
        public var status: StepStatus
        /// Why it ran, was restored, failed, was skipped or canceled; nil when up to date.
        public var reason: String?
        /// Nanoseconds after the run started (steps that did nothing: 0).
        public var startNanos: Int64
        public var durationNanos: Int64
        /// 1-based worker slot of a step that did something.
        public var slot: Int?
        public var needs: [String]
        public var onCriticalPath = false

        public init(step: String, status: StepStatus, reason: String? = nil, startNanos: Int64 = 0, durationNanos: Int64 = 0,
                    needs: [String] = []) {
            self.step = step
            self.status = status
            self.reason = reason
            self.startNanos = startNanos
            self.durationNanos = durationNanos
            self.needs = needs
        }

        /// Ran, restored or failed: it has a place in time.
        public var isTimed: Bool { status == .ran || status == .restored || status == .failed }
        public var endNanos: Int64 { startNanos + durationNanos }
    }

    public struct Run: Sendable {
        /// 1 for the run that started the job, 2 for its first resume, …
        public var number: Int
        /// Wall-clock nanoseconds when it planned.
        public var startedAt: Int64
        /// The job status it ended with (nil: it never recorded an end).
        public var ended: String?
        /// Every step of the run, dependencies first.
        public var steps: [Entry]
        /// Step names, first to last.
        public var criticalPath: [String]
        public var slots: Int { steps.compactMap(\.slot).max() ?? 0 }
        public var durationNanos: Int64 { steps.filter(\.isTimed).map(\.endNanos).max() ?? 0 }
    }

    /// The steps a job would run and what each needs, from its Pipelinefile (when unchanged).
    public struct Plan: Sendable {
        public var steps: [String]
        /// Indices into `steps`.
        public var needs: [[Int]]

        public init(steps: [String], needs: [[Int]]) {
            self.steps = steps
            self.needs = needs
        }

        /// The selected steps of a graph (a dependency-closed set, in topological order).
        public init(graph: Graph, selection: [Int]) {
            var position: [Int: Int] = [:]
            for (k, i) in selection.enumerated() { position[i] = k }
            steps = selection.map { graph.steps[$0].name }
            needs = selection.map { i in graph.dependencies[i].compactMap { position[$0] } }
        }
    }

    public var job: JobID
    public var runs: [Run]
    /// What the reader should know (a changed Pipelinefile, an old job without timings).
    public var notes: [String]

    /// Reads the job's log. With `plan`, every planned step is listed (up to date when the
    /// run recorded nothing for it) and dependencies come from it; without, only the steps the
    /// log names, with the dependencies recorded for them.
    public init(job: JobID, events: [JobEvent], plan: Plan?) {
        self.job = job
        var runs: [Run] = []
        var recorded: [[Entry]] = []
        var planned: [[String]] = []
        var untimed = false
        func startRun(at time: Int64) {
            runs.append(Run(number: runs.count + 1, startedAt: time, ended: nil, steps: [], criticalPath: []))
            recorded.append([])
            planned.append([])
        }
        for event in events {
            switch event.type {
            case .checkpoint:
                guard let checkpoint = try? Checkpoint(json: event.payload["checkpoint"] ?? .null) else { continue }
                if checkpoint.kind == .plan {
                    startRun(at: checkpoint.createdAt)
                    planned[planned.count - 1] = JobTimeline.names(inPlanSummary: checkpoint.summary)
                    continue
                }
                guard checkpoint.kind == .progress, let step = checkpoint.step else { continue }
                if runs.isEmpty { startRun(at: checkpoint.createdAt) }
                let status = checkpoint.status ?? JobTimeline.status(inSummary: checkpoint.summary, step: step)
                guard let status else { continue }
                if checkpoint.startedAt == nil { untimed = true }
                let start = checkpoint.startedAt ?? checkpoint.createdAt
                var entry = Entry(step: step, status: status, reason: checkpoint.reason, startNanos: max(0, start - runs[runs.count - 1].startedAt),
                                  durationNanos: max(0, checkpoint.durationNanos ?? 0), needs: checkpoint.needs ?? [])
                if checkpoint.status == nil, let colon = checkpoint.summary.firstIndex(of: ":") {
                    entry.reason = String(checkpoint.summary[checkpoint.summary.index(after: colon)...].drop { $0 == " " })
                }
                recorded[recorded.count - 1].append(entry)
            case .status:
                guard !runs.isEmpty, let to = event.payload["to"]?.stringValue, to != JobStatus.running.rawValue else { continue }
                runs[runs.count - 1].ended = to
                for item in event.payload["unfinished"]?.arrayValue ?? [] {
                    guard let step = item["step"]?.stringValue, let status = item["status"]?.stringValue.flatMap(StepStatus.init(rawValue:))
                    else { continue }
                    recorded[recorded.count - 1].append(Entry(step: step, status: status, reason: item["message"]?.stringValue))
                }
            default:
                continue
            }
        }
        for k in runs.indices {
            runs[k].steps = JobTimeline.steps(recorded: recorded[k], planned: planned[k], plan: plan)
            JobTimeline.assignSlots(&runs[k].steps)
            runs[k].criticalPath = JobTimeline.criticalPath(runs[k].steps)
            let onPath = Set(runs[k].criticalPath)
            for e in runs[k].steps.indices { runs[k].steps[e].onCriticalPath = onPath.contains(runs[k].steps[e].step) }
        }
        self.runs = runs
        notes = []
        if plan == nil {
            notes.append("the Pipelinefile changed since this job ran (or was not found): only the steps its log names are listed")
        }
        if untimed { notes.append("this job was recorded by an older pipeline: steps have no start times or durations") }
    }

    /// The run's steps in order: the plan's (or the plan checkpoint's names), then any
    /// recorded step not in it. A step the run recorded nothing for was up to date.
    static func steps(recorded: [Entry], planned: [String], plan: Plan?) -> [Entry] {
        var byName: [String: Entry] = [:]
        for entry in recorded { byName[entry.step] = entry }
        let order = plan?.steps ?? planned
        var entries: [Entry] = []
        var listed = Set<String>()
        for (k, name) in order.enumerated() where listed.insert(name).inserted {
            var entry = byName[name] ?? Entry(step: name, status: .upToDate)
            if let plan { entry.needs = plan.needs[k].map { plan.steps[$0] } }
            entries.append(entry)
        }
        for entry in recorded where listed.insert(entry.step).inserted { entries.append(byName[entry.step]!) }
        return entries
    }

    /// Gives each timed step the lowest-numbered slot free when it starts (greedy interval
    /// colouring, in order of start time, then step order): as few slots as the run needed
    /// at once, the same answer every time.
    public static func assignSlots(_ entries: inout [Entry]) {
        let timed = entries.indices.filter { entries[$0].isTimed }
            .sorted { (entries[$0].startNanos, $0) < (entries[$1].startNanos, $1) }
        var freeAt: [Int64] = []
        for e in timed {
            let start = entries[e].startNanos
            if let free = freeAt.firstIndex(where: { $0 <= start }) {
                freeAt[free] = entries[e].endNanos
                entries[e].slot = free + 1
            } else {
                freeAt.append(entries[e].endNanos)
                entries[e].slot = freeAt.count
            }
        }
    }

    /// The chain of steps, each needing the one before, whose durations add up to the most
    /// (ties: the first in step order); leading steps that took no time are left out.
    public static func criticalPath(_ entries: [Entry]) -> [String] {
        var index: [String: Int] = [:]
        for (k, entry) in entries.enumerated() { index[entry.step] = k }
        let needs = entries.map { $0.needs.compactMap { index[$0] } }
        var longest = [Int64?](repeating: nil, count: entries.count)
        var via = [Int?](repeating: nil, count: entries.count)
        // Depth-first, without recursion (a long chain must not overflow the stack).
        for root in entries.indices where longest[root] == nil {
            var stack: [(node: Int, expanded: Bool)] = [(root, false)]
            var onStack = Set<Int>()
            while let (node, expanded) = stack.popLast() {
                if longest[node] != nil { continue }
                if expanded {
                    onStack.remove(node)
                    var best: (Int64, Int?) = (0, nil)
                    for d in needs[node] where (longest[d] ?? 0) > best.0 || (best.1 == nil && longest[d] != nil) {
                        best = (longest[d] ?? 0, d)
                    }
                    longest[node] = best.0 + (entries[node].isTimed ? entries[node].durationNanos : 0)
                    via[node] = best.1
                    continue
                }
                onStack.insert(node)
                stack.append((node, true))
                for d in needs[node].reversed() where longest[d] == nil && !onStack.contains(d) { stack.append((d, false)) }
            }
        }
        guard var end = longest.indices.max(by: { (longest[$0] ?? 0, -$0) < (longest[$1] ?? 0, -$1) }), (longest[end] ?? 0) > 0 else {
            return []
        }
        var path = [end]
        while let previous = via[end] {
            path.append(previous)
            end = previous
        }
        path.reverse()
        let first = path.firstIndex { entries[$0].isTimed && entries[$0].durationNanos > 0 } ?? 0
        return path[first...].map { entries[$0].step }
    }

    /// The names of a plan checkpoint's summary (`3 steps: a, b, c`); none when it was cut.
    static func names(inPlanSummary summary: String) -> [String] {
        guard !summary.hasSuffix("…"), let colon = summary.firstIndex(of: ":") else { return [] }
        return summary[summary.index(after: colon)...].split(separator: ",").map { String($0.drop { $0 == " " }) }.filter { !$0.isEmpty }
    }

    /// The status in an older progress summary (`build ran: reason`).
    static func status(inSummary summary: String, step: String) -> StepStatus? {
        guard summary.hasPrefix(step + " ") else { return nil }
        let word = summary.dropFirst(step.count + 1).prefix { $0 != ":" && $0 != " " }
        return StepStatus(rawValue: String(word))
    }
}

extension JobTimeline {
    /// The job's timeline, with the plan from the workspace's Pipelinefile when it is the one
    /// the job recorded in its contract (so up-to-date steps and all dependencies are known).
    public static func load(store: JobStore, id: JobID, workspace: Workspace?, registry: RuleRegistry) throws -> JobTimeline {
        let events = try store.events(id)
        return JobTimeline(job: id, events: events, plan: plan(store: store, id: id, workspace: workspace, registry: registry))
    }

    static func plan(store: JobStore, id: JobID, workspace: Workspace?, registry: RuleRegistry) -> Plan? {
        guard let workspace, let contract = try? store.contract(id), let bytes = try? FileSystem.readFile(workspace.pipelinefile),
              SHA256.hash(bytes) == contract.pipelinefileDigest,
              let (file, graph) = try? PipelinefileParser(registry: registry).parseWithGraph(bytes: bytes, displayPath: workspace.displayPath)
        else { return nil }
        let names = contract.targets.isEmpty ? file.defaultTargets : contract.targets
        guard let roots = names.isEmpty ? Array(0..<graph.steps.count) : try? graph.resolve(targets: names) else { return nil }
        return Plan(graph: graph, selection: graph.closure(of: roots))
    }
}
