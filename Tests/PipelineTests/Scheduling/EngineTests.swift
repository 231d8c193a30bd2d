import Foundation
import Glibc
import XCTest

@testable import Pipeline

/// The whole engine on a real workspace, with the fake executor: in particular the no-op
/// answer from remembered stats, which must never hide a change.
final class EngineTests: XCTestCase {
    let text = """
        pipeline: 1
        env: [MODE]
        steps:
          a: { run: a, inputs: ["src/*.txt"], outputs: [out/a.txt] }
          b: { run: b, needs: [a], outputs: [out/b.txt] }
          all: { needs: [b] }
        """

    struct Setup {
        let ws: TestWorkspace
        let executor: FakeExecutor
        var environment: [String: String] = ["MODE": "fast"]

        func run(_ targets: [String] = []) throws -> (summary: RunSummary, fast: Bool) {
            let workspace = Workspace(root: ws.root, pipelinefile: ws.path("Pipelinefile.yaml"), displayPath: "Pipelinefile.yaml",
                                      storePath: ws.path(".pipeline"))
            let engine = Engine(workspace: workspace, environment: environment, events: EventLog())
            let report = try engine.build(targets: targets, options: RunOptions(jobs: 1), executor: executor)
            return (report.summary, engine.usedNoopCheck)
        }
    }

    func setUp(_ text: String) throws -> Setup {
        let ws = TestWorkspace()
        ws.write("Pipelinefile.yaml", text)
        ws.write("src/one.txt", "one")
        let executor = FakeExecutor(workspace: ws, graph: try Graph(try parse(text)))
        executor.behaviours["a"] = { ws in ws.write("out/a.txt", ws.read("src/one.txt")! + (ws.read("src/two.txt") ?? "")); return 0 }
        executor.behaviours["b"] = { ws in ws.write("out/b.txt", ws.read("out/a.txt")!.uppercased()); return 0 }
        return Setup(ws: ws, executor: executor)
    }

    /// Runs until the remembered answer is in place (files must be older than the racy window).
    func settle(_ s: Setup, _ targets: [String] = []) throws {
        _ = try s.run(targets)
        usleep(150_000)
        _ = try s.run(targets)
        let third = try s.run(targets)
        XCTAssertTrue(third.fast, "the no-op answer is used once the files have settled")
        XCTAssertEqual(third.summary.counts[.upToDate], 2)
    }

    func testNoopAnswerIsUsedAndEveryKindOfChangeDefeatsIt() throws {
        var s = try setUp(text)
        try settle(s)
        XCTAssertEqual(s.executor.ran, ["a", "b"])

        // Edit an input.
        s.ws.write("src/one.txt", "uno")
        var result = try s.run()
        XCTAssertFalse(result.fast)
        XCTAssertEqual(s.executor.ran, ["a", "b", "a", "b"])

        // A new file matching a glob.
        try settle(s)
        s.ws.write("src/two.txt", "two")
        result = try s.run()
        XCTAssertFalse(result.fast)
        XCTAssertEqual(s.executor.ran.suffix(2), ["a", "b"])

        // A declared environment variable.
        try settle(s)
        s.environment["MODE"] = "slow"
        result = try s.run()
        XCTAssertFalse(result.fast)
        XCTAssertEqual(result.summary.executed, 2)

        // An undeclared one changes nothing.
        try settle(s)
        s.environment["UNRELATED"] = "x"
        XCTAssertTrue(try s.run().fast)

        // A deleted output comes back from the cache.
        try FileSystem.remove(s.ws.path("out/b.txt"))
        result = try s.run()
        XCTAssertFalse(result.fast)
        XCTAssertEqual(result.summary.counts[.restored], 1)
        XCTAssertEqual(s.ws.read("out/b.txt"), "UNOTWO")

        // Other targets are another question.
        try settle(s)
        XCTAssertFalse(try s.run(["a"]).fast)
    }

    func testAnEditedPipelinefileIsNeverAnsweredFromMemory() throws {
        let s = try setUp(text)
        try settle(s)
        s.ws.write("Pipelinefile.yaml", text.replacingOccurrences(of: "run: b,", with: "run: b2,"))
        let result = try s.run()
        XCTAssertFalse(result.fast)
        XCTAssertEqual(result.summary.outcomes.first { $0.step == "b" }?.reason, .commandChanged)
    }

    func testTouchedFilesFallBackToTheFullCheckWithoutRunning() throws {
        let s = try setUp(text)
        try settle(s)
        var times = [timespec(tv_sec: 0, tv_nsec: (1 << 30) - 1), timespec(tv_sec: 0, tv_nsec: (1 << 30) - 1)]
        XCTAssertEqual(utimensat(AT_FDCWD, s.ws.path("src/one.txt"), &times, 0), 0)
        let result = try s.run()
        XCTAssertFalse(result.fast)
        XCTAssertEqual(result.summary.executed, 0)
    }

    func testAFailedRunLeavesNoAnswer() throws {
        let s = try setUp(text)
        try settle(s)
        s.executor.behaviours["a"] = { _ in 1 }
        s.ws.write("src/one.txt", "changed")
        XCTAssertEqual(try s.run().summary.counts[.failed], 1)
        s.ws.write("src/one.txt", "uno")
        usleep(150_000)
        let result = try s.run()
        XCTAssertFalse(result.fast, "a failure forgets the remembered answer")
    }
}

final class EngineFolderTests: XCTestCase {
    /// A step that writes an undeclared file into a folder another step's glob already read:
    /// the run cannot vouch for that folder, so the next run checks everything and sees it.
    func testAFolderChangedDuringTheRunIsNotRemembered() throws {
        let text = """
            pipeline: 1
            steps:
              a: { run: a, inputs: ["src/*.txt"], outputs: [out/a.txt] }
              sneaky: { run: s, needs: [a], inputs: [trigger], outputs: [out/s.txt] }
            """
        let ws = TestWorkspace()
        ws.write("Pipelinefile.yaml", text)
        ws.write("src/one.txt", "one")
        ws.write("trigger", "1")
        let executor = FakeExecutor(workspace: ws, graph: try Graph(try parse(text)))
        executor.behaviours["a"] = { ws in ws.write("out/a.txt", "a"); return 0 }
        executor.behaviours["sneaky"] = { ws in ws.write("out/s.txt", ws.read("trigger")!); return 0 }
        let workspace = Workspace(root: ws.root, pipelinefile: ws.path("Pipelinefile.yaml"), displayPath: "Pipelinefile.yaml",
                                  storePath: ws.path(".pipeline"))
        func run() throws -> (RunSummary, Bool) {
            let engine = Engine(workspace: workspace, environment: [:], events: EventLog())
            engine.racyWindowNanos = -1_000_000_000  // trust every stat: only the folder rule is under test
            let report = try engine.build(targets: [], options: RunOptions(jobs: 1), executor: executor)
            return (report.summary, engine.usedNoopCheck)
        }
        _ = try run()
        _ = try run()
        XCTAssertTrue(try run().1)

        ws.write("trigger", "2")
        executor.behaviours["sneaky"] = { ws in ws.write("src/extra.txt", "x"); ws.write("out/s.txt", "2"); return 0 }
        _ = try run()
        let (summary, fast) = try run()
        XCTAssertFalse(fast)
        XCTAssertEqual(summary.outcomes.first { $0.step == "a" }?.reason, .inputAdded("src/extra.txt"))
    }

    /// A file rewritten during the run by a step that does not declare it: the step that read
    /// it first has a stale digest, so the run cannot vouch for it.
    func testAFileChangedAfterAStepReadItIsNotRemembered() throws {
        let text = """
            pipeline: 1
            steps:
              a: { run: a, inputs: [shared.txt], outputs: [out/a.txt] }
              b: { run: b, needs: [a], inputs: [trigger], outputs: [out/b.txt] }
              c: { run: c, needs: [b], inputs: [shared.txt], outputs: [out/c.txt] }
            """
        let ws = TestWorkspace()
        ws.write("Pipelinefile.yaml", text)
        ws.write("shared.txt", "v1")
        ws.write("trigger", "1")
        let executor = FakeExecutor(workspace: ws, graph: try Graph(try parse(text)))
        executor.behaviours["a"] = { ws in ws.write("out/a.txt", ws.read("shared.txt")!); return 0 }
        executor.behaviours["b"] = { ws in ws.write("out/b.txt", ws.read("trigger")!); return 0 }
        executor.behaviours["c"] = { ws in ws.write("out/c.txt", ws.read("shared.txt")!); return 0 }
        let workspace = Workspace(root: ws.root, pipelinefile: ws.path("Pipelinefile.yaml"), displayPath: "Pipelinefile.yaml",
                                  storePath: ws.path(".pipeline"))
        func run() throws -> (RunSummary, Bool) {
            let engine = Engine(workspace: workspace, environment: [:], events: EventLog())
            engine.racyWindowNanos = -1_000_000_000
            let report = try engine.build(targets: [], options: RunOptions(jobs: 1), executor: executor)
            return (report.summary, engine.usedNoopCheck)
        }
        _ = try run()
        XCTAssertTrue(try run().1)

        ws.write("trigger", "2")
        executor.behaviours["b"] = { ws in ws.write("shared.txt", "v2!"); ws.write("out/b.txt", "2"); return 0 }
        _ = try run()
        let (summary, fast) = try run()
        XCTAssertFalse(fast)
        XCTAssertEqual(summary.outcomes.first { $0.step == "a" }?.reason, .inputChanged("shared.txt"))
    }
}

final class EngineTemporaryTests: XCTestCase {
    /// What a run killed mid-write leaves beside an output is removed by the next run.
    func testStaleTemporariesBesideOutputsAreRemoved() throws {
        let text = "pipeline: 1\nsteps:\n  a: { run: a, outputs: [out/a.txt] }\n"
        let ws = TestWorkspace()
        ws.write("Pipelinefile.yaml", text)
        ws.write("out/.a.txt.tmp-12345-678", "half")
        ws.write("out/.other.tmp-12345-678", "not ours")
        ws.write("out/.a.txt.tmp-notes", "not ours either")
        let executor = FakeExecutor(workspace: ws, graph: try Graph(try parse(text)))
        executor.behaviours["a"] = { ws in ws.write("out/a.txt", "a"); return 0 }
        let workspace = Workspace(root: ws.root, pipelinefile: ws.path("Pipelinefile.yaml"), displayPath: "Pipelinefile.yaml",
                                  storePath: ws.path(".pipeline"))
        _ = try Engine(workspace: workspace, environment: [:], events: EventLog()).build(targets: [], options: RunOptions(jobs: 1),
                                                                                           executor: executor)
        XCTAssertFalse(ws.exists("out/.a.txt.tmp-12345-678"))
        XCTAssertTrue(ws.exists("out/.other.tmp-12345-678"))
        XCTAssertTrue(ws.exists("out/.a.txt.tmp-notes"))
    }
}
