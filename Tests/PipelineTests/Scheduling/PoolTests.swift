import XCTest

@testable import Pipeline

/// An executor that keeps every started command in flight until the scheduler waits, then
/// ends the oldest: it records how many commands of each pool were in flight at once.
private final class OverlapExecutor: Executor {
    let workspace: TestWorkspace
    let steps: [Step]
    private var inFlight: [Int] = []
    private(set) var ran: [String] = []
    private(set) var most: [String: Int] = [:]
    private(set) var mostOverall = 0

    init(workspace: TestWorkspace, graph: Graph) {
        self.workspace = workspace
        self.steps = graph.steps
    }

    func start(_ invocation: Invocation) throws {
        let step = steps[invocation.id]
        ran.append(step.name)
        for output in step.outputs { workspace.write(output, step.name) }
        inFlight.append(invocation.id)
        mostOverall = max(mostOverall, inFlight.count)
        var perPool: [String: Int] = [:]
        for i in inFlight { perPool[steps[i].pool?.name ?? "-", default: 0] += 1 }
        for (pool, count) in perPool { most[pool] = max(most[pool] ?? 0, count) }
    }

    func waitAny() throws -> ExecutorEvent {
        .completed(Completion(id: inFlight.removeFirst(), termination: .exited(0), durationNanos: 1000))
    }

    func terminateAll() {}
    func interruptRequested() -> Bool { false }
}

final class PoolTests: XCTestCase {
    private let text = """
        pipeline: 1
        pools: { link: 1, test: 2 }
        steps:
          l1: { run: l1, inputs: [in1], outputs: [l1.out], pool: link }
          l2: { run: l2, inputs: [in2], outputs: [l2.out], pool: link }
          l3: { run: l3, inputs: [in3], outputs: [l3.out], pool: link }
          t1: { run: t1, outputs: [t1.out], pool: test }
          t2: { run: t2, outputs: [t2.out], pool: test }
          t3: { run: t3, outputs: [t3.out], pool: test }
          o1: { run: o1, outputs: [o1.out] }
          o2: { run: o2, outputs: [o2.out] }
        """

    private func run(_ ws: TestWorkspace, _ graph: Graph, jobs: Int) throws -> (OverlapExecutor, RunSummary) {
        let executor = OverlapExecutor(workspace: ws, graph: graph)
        let store = try LocalStore(root: ws.path(".pipeline"))
        let state = try store.workspaceState(for: ws.root)
        let rebuilder = Rebuilder(root: ws.root, store: store, statCache: StatCache(path: state + "/statcache"),
                                  records: StepRecords(path: state + "/steps"), callerEnvironment: [:])
        let scheduler = Scheduler(graph: graph, rebuilder: rebuilder, executor: executor, events: EventLog())
        let summary = try scheduler.run(graph.order, options: RunOptions(jobs: jobs))
        try rebuilder.save()
        return (executor, summary)
    }

    func testAPoolNeverRunsMoreThanItsDepthWhileOthersFillTheSlots() throws {
        let ws = TestWorkspace()
        for name in ["in1", "in2", "in3"] { ws.write(name, name) }
        let graph = try Graph(try parse(text))
        XCTAssertEqual(graph.steps[0].pool, Pool(name: "link", depth: 1))
        let (executor, summary) = try run(ws, graph, jobs: 8)
        XCTAssertTrue(summary.succeeded)
        XCTAssertEqual(Set(executor.ran), ["l1", "l2", "l3", "t1", "t2", "t3", "o1", "o2"])
        XCTAssertEqual(executor.most["link"], 1)
        XCTAssertEqual(executor.most["test"], 2)
        XCTAssertEqual(executor.most["-"], 2)
        XCTAssertEqual(executor.mostOverall, 5, "steps outside the pools keep the other slots busy")
    }

    func testAStepThatNeedsNoCommandLetsTheNextOneIntoThePool() throws {
        let ws = TestWorkspace()
        for name in ["in1", "in2", "in3"] { ws.write(name, name) }
        let graph = try Graph(try parse(text))
        _ = try run(ws, graph, jobs: 8)
        // l2 is up to date: while l1 runs, l2 and l3 wait; l2 ends at once and must let l3 in.
        ws.write("in1", "changed")
        ws.write("in3", "changed")
        let (executor, summary) = try run(ws, graph, jobs: 8)
        XCTAssertTrue(summary.succeeded, "\(summary.outcomes)")
        XCTAssertEqual(executor.ran, ["l1", "l3"])
        XCTAssertEqual(summary.counts[.upToDate], 6)
    }
}
