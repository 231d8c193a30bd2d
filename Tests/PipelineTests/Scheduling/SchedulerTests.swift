import XCTest

@testable import Pipeline

/// A workspace, a Pipelinefile and a fake executor; each `run` loads state from disk like
/// a fresh `pipeline run` would.
final class Harness {
    let ws = TestWorkspace()
    let graph: Graph
    let executor: FakeExecutor
    let plan: Digest
    var environment: [String: String] = [:]

    init(_ text: String) throws {
        graph = try Graph(try parse(text))
        plan = SHA256.hash(text)
        executor = FakeExecutor(workspace: ws, graph: graph)
    }

    func on(_ step: String, _ behaviour: @escaping (TestWorkspace) -> Int32) { executor.behaviours[step] = behaviour }

    @discardableResult
    func run(_ targets: [String] = [], jobs: Int = 1, keepGoing: Bool = false, dryRun: Bool = false, force: Set<String> = []) throws -> RunSummary {
        let store = try LocalStore(root: ws.path(".pipeline"))
        let state = try store.workspaceState(for: ws.root)
        let rebuilder = Rebuilder(root: ws.root, store: store, statCache: StatCache(path: state + "/statcache"),
                                  records: StepRecords(path: state + "/steps"), callerEnvironment: environment)
        rebuilder.plan = plan
        let scheduler = Scheduler(graph: graph, rebuilder: rebuilder, executor: executor, events: EventLog())
        let roots = targets.isEmpty ? Array(0..<graph.steps.count) : try graph.resolve(targets: targets)
        let summary = try scheduler.run(graph.closure(of: roots), options: RunOptions(jobs: jobs, keepGoing: keepGoing, dryRun: dryRun, force: force))
        if !dryRun { try rebuilder.save() }
        return summary
    }

    func ranSince(_ body: () throws -> Void) rethrows -> [String] {
        let before = executor.ran.count
        try body()
        return Array(executor.ran[before...])
    }

    func status(_ summary: RunSummary, _ step: String) -> StepStatus? { summary.outcomes.first { $0.step == step }?.status }
}

final class SchedulerTests: XCTestCase {
    func chain() throws -> Harness {
        let h = try Harness("""
            pipeline: 1
            steps:
              a: { run: a, inputs: [src.txt], outputs: [a.txt] }
              b: { run: b, needs: [a], outputs: [b.txt] }
              c: { run: c, needs: [b], outputs: [c.txt] }
            """)
        h.ws.write("src.txt", "one")
        h.on("a") { ws in ws.write("a.txt", ws.read("src.txt")!.uppercased()); return 0 }
        h.on("b") { ws in ws.write("b.txt", "\(ws.read("a.txt")!.count)"); return 0 }
        h.on("c") { ws in ws.write("c.txt", "c" + ws.read("b.txt")!); return 0 }
        return h
    }

    func testFirstRunRunsAllSecondRunsNothing() throws {
        let h = try chain()
        XCTAssertEqual(try h.ranSince { try h.run() }, ["a", "b", "c"])
        let second = try h.run()
        XCTAssertEqual(second.executed, 0)
        XCTAssertEqual(second.counts[.upToDate], 3)
    }

    func testChangePropagatesOnlyWhereDigestsChange() throws {
        let h = try chain()
        try h.run()
        h.ws.write("src.txt", "two")  // same length: b writes identical bytes
        XCTAssertEqual(try h.ranSince { try h.run() }, ["a", "b"])
        h.ws.write("src.txt", "three")  // new length: propagates to c
        XCTAssertEqual(try h.ranSince { try h.run() }, ["a", "b", "c"])
    }

    func testDeletedOutputIsRestoredWithoutRunning() throws {
        let h = try chain()
        try h.run()
        try FileSystem.remove(h.ws.path("b.txt"))
        var summary: RunSummary!
        XCTAssertEqual(try h.ranSince { summary = try h.run() }, [])
        XCTAssertEqual(h.status(summary, "b"), .restored)
        XCTAssertEqual(h.ws.read("b.txt"), "3")
    }

    func testRevertedInputRestoresFromCache() throws {
        let h = try chain()
        try h.run()
        h.ws.write("src.txt", "three")
        try h.run()
        h.ws.write("src.txt", "one")
        var summary: RunSummary!
        XCTAssertEqual(try h.ranSince { summary = try h.run() }, [])
        XCTAssertEqual(h.status(summary, "a"), .restored)
        XCTAssertEqual(h.ws.read("a.txt"), "ONE")
        XCTAssertEqual(h.ws.read("c.txt"), "c3")
    }

    func testFailureStopsDependentsAndCachesNothing() throws {
        let h = try chain()
        h.on("b") { ws in ws.write("b.txt", "partial"); return 2 }
        let summary = try h.run()
        XCTAssertEqual(h.status(summary, "b"), .failed)
        XCTAssertEqual(h.status(summary, "c"), .skipped)
        XCTAssertFalse(h.ws.exists("b.txt"), "partial output removed")
        // Still failing: it runs again, never "up to date".
        XCTAssertEqual(try h.ranSince { try h.run() }, ["b"])
        h.on("b") { ws in ws.write("b.txt", "3"); return 0 }
        XCTAssertEqual(try h.ranSince { try h.run() }, ["b", "c"])
    }

    func testMissingDeclaredOutputFailsTheStep() throws {
        let h = try chain()
        h.on("a") { _ in 0 }
        let summary = try h.run()
        XCTAssertEqual(h.status(summary, "a"), .failed)
        XCTAssertTrue(summary.outcomes.first { $0.step == "a" }?.message?.contains("did not produce its declared output 'a.txt'") ?? false)
    }

    func testKeepGoingBuildsIndependentBranches() throws {
        let h = try Harness("""
            pipeline: 1
            steps:
              bad: { run: x }
              after_bad: { run: x, needs: [bad] }
              good: { run: x }
            """)
        h.on("bad") { _ in 1 }
        let stopped = try h.run()
        XCTAssertEqual(h.status(stopped, "good"), .skipped)
        let kept = try h.run(keepGoing: true)
        XCTAssertEqual(h.status(kept, "good"), .ran)
        XCTAssertEqual(h.status(kept, "after_bad"), .skipped)
    }

    func testDryRunRunsNothingAndSaysWhy() throws {
        let h = try chain()
        let summary = try h.run(dryRun: true)
        XCTAssertEqual(h.executor.ran, [])
        XCTAssertEqual(summary.outcomes.map(\.reason), [.noPreviousRun, .dependencyPending("a"), .dependencyPending("b")])
        XCTAssertFalse(h.ws.exists("a.txt"))
    }

    func testForceAndCacheFalseAlwaysRun() throws {
        let h = try Harness("""
            pipeline: 1
            steps:
              deploy: { run: x, cache: false }
              build: { run: x, outputs: [o] }
            """)
        h.on("build") { ws in ws.write("o", "o"); return 0 }
        try h.run()
        XCTAssertEqual(try h.ranSince { try h.run() }, ["deploy"])
        XCTAssertEqual(try h.ranSince { try h.run(force: ["build"]) }, ["deploy", "build"])
    }

    func testReasons() throws {
        let h = try chain()
        try h.run()
        h.ws.write("src.txt", "abc")
        let summary = try h.run()
        XCTAssertEqual(summary.outcomes.first { $0.step == "a" }?.reason, .inputChanged("src.txt"))
        XCTAssertEqual(summary.outcomes.first { $0.step == "b" }?.reason, .inputChanged("a.txt"))
        h.ws.write("a.txt", "tampered")
        XCTAssertEqual(try h.run().outcomes.first { $0.step == "a" }?.reason, .outputModified("a.txt"))
    }

    func testEnvironmentEntersTheKeyOnlyWhenDeclared() throws {
        let h = try Harness("""
            pipeline: 1
            steps:
              a: { run: x, env: [CC] }
              b: { run: x }
            """)
        h.environment = ["CC": "gcc", "OTHER": "1"]
        try h.run()
        h.environment = ["CC": "gcc", "OTHER": "2"]
        XCTAssertEqual(try h.ranSince { try h.run() }, [])
        h.environment = ["CC": "clang"]
        let summary = try h.run()
        XCTAssertEqual(summary.outcomes.first { $0.step == "a" }?.reason, .envChanged("CC"))
        XCTAssertEqual(h.status(summary, "b"), .upToDate)
    }

    func testParallelAndSerialGiveTheSameOutputs() throws {
        var text = "pipeline: 1\nsteps:\n  root: { run: x, outputs: [r] }\n"
        for i in 0..<12 { text += "  f\(i): { run: x, needs: [root], outputs: [f\(i)] }\n" }
        text += "  join: { run: x, needs: [\((0..<12).map { "f\($0)" }.joined(separator: ", "))], outputs: [j] }\n"
        var trees: [[String: String]] = []
        for jobs in [1, 8] {
            let h = try Harness(text)
            h.on("root") { ws in ws.write("r", "root"); return 0 }
            for i in 0..<12 { h.on("f\(i)") { ws in ws.write("f\(i)", ws.read("r")! + "\(i)"); return 0 } }
            h.on("join") { ws in ws.write("j", (0..<12).map { ws.read("f\($0)")! }.joined()); return 0 }
            try h.run(jobs: jobs)
            var tree: [String: String] = [:]
            for name in ["r", "j"] + (0..<12).map({ "f\($0)" }) { tree[name] = h.ws.read(name) }
            trees.append(tree)
            XCTAssertEqual(try h.run(jobs: jobs).executed, 0)
        }
        XCTAssertEqual(trees[0], trees[1])
    }

    func testMissingLiteralInputIsAMissingDependency() throws {
        let h = try Harness("pipeline: 1\nsteps:\n  a: { run: x, inputs: [nope.txt] }\n")
        let summary = try h.run()
        XCTAssertEqual(h.status(summary, "a"), .failed)
        XCTAssertTrue(summary.outcomes[0].message?.contains("Pipelinefile.yaml:3:") ?? false, summary.outcomes[0].message ?? "")
    }

    func testDirectoryOutputsAreCachedAndRestored() throws {
        let h = try Harness("""
            pipeline: 1
            steps:
              site: { run: x, outputs: [site] }
              count: { run: x, inputs: [site/index.html], outputs: [n] }
            """)
        h.on("site") { ws in ws.write("site/index.html", "<h1>"); ws.write("site/css/a.css", "a{}"); return 0 }
        h.on("count") { ws in ws.write("n", "1"); return 0 }
        XCTAssertEqual(try h.ranSince { try h.run() }, ["site", "count"])
        try FileSystem.remove(h.ws.path("site"))
        XCTAssertEqual(try h.ranSince { try h.run() }, [])
        XCTAssertEqual(h.ws.read("site/css/a.css"), "a{}")
    }

    /// Large runs take output stats from a second thread; what they find must be the same.
    func testLargeRunsDetectMissingAndModifiedOutputs() throws {
        var text = "pipeline: 1\nsteps:\n"
        for i in 0..<300 { text += "  s\(i): { run: x, outputs: [out/\(i).txt] }\n" }
        let h = try Harness(text)
        for i in 0..<300 { h.on("s\(i)") { ws in ws.write("out/\(i).txt", "\(i)"); return 0 } }
        try h.run()
        XCTAssertEqual(try h.run().counts[.upToDate], 300)
        try FileSystem.remove(h.ws.path("out/150.txt"))
        h.ws.write("out/299.txt", "edited")
        let summary = try h.run()
        XCTAssertEqual(summary.executed, 0)
        XCTAssertEqual(summary.outcomes.first { $0.step == "s150" }?.reason, .outputMissing("out/150.txt"))
        XCTAssertEqual(summary.outcomes.first { $0.step == "s299" }?.reason, .outputModified("out/299.txt"))
        XCTAssertEqual(h.ws.read("out/150.txt"), "150")
        XCTAssertEqual(h.ws.read("out/299.txt"), "299")
    }
}
