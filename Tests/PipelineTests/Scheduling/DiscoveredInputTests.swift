import Foundation
import Glibc
import XCTest

@testable import Pipeline

/// Steps with a depfile: the files it names are checked with the step's result, through the
/// no-op answer, the up-to-date shortcut and the action cache, while the key stays the same.
final class DiscoveredInputTests: XCTestCase {
    let text = """
        pipeline: 1
        steps:
          compile: { run: cc, inputs: [src/x.c], outputs: [build/x.o], depfile: build/x.d }
          link: { run: ld, needs: [compile], outputs: [build/app] }
        """

    struct Setup {
        let ws: TestWorkspace
        let outside: TestWorkspace
        let executor: FakeExecutor

        func run(force: Set<String> = []) throws -> (summary: RunSummary, fast: Bool) {
            let workspace = Workspace(root: ws.root, pipelinefile: ws.path("Pipelinefile.yaml"), displayPath: "Pipelinefile.yaml",
                                      storePath: ws.path(".pipeline"))
            let engine = Engine(workspace: workspace, environment: [:], events: EventLog())
            engine.racyWindowNanos = -1_000_000_000  // trust every stat: the no-op answer is under test, not the clock
            let report = try engine.build(targets: [], options: RunOptions(jobs: 1, force: force), executor: executor)
            return (report.summary, engine.usedNoopCheck)
        }

        func reason(_ summary: RunSummary, _ step: String) -> RebuildReason? { summary.outcomes.first { $0.step == step }?.reason }
    }

    func setUp(depfile: @escaping (_ ws: TestWorkspace, _ outside: String) -> String) throws -> Setup {
        let ws = TestWorkspace(), outside = TestWorkspace()
        ws.write("Pipelinefile.yaml", text)
        ws.write("src/x.c", "int x;")
        ws.write("include/x.h", "#define X 1")
        outside.write("sys.h", "system")
        let executor = FakeExecutor(workspace: ws, graph: try Graph(try parse(text)))
        executor.behaviours["compile"] = { ws in
            ws.write("build/x.o", ws.read("src/x.c")! + (ws.read("include/x.h") ?? ""))
            ws.write("build/x.d", depfile(ws, outside.root))
            return 0
        }
        executor.behaviours["link"] = { ws in ws.write("build/app", "app of " + ws.read("build/x.o")!); return 0 }
        return Setup(ws: ws, outside: outside, executor: executor)
    }

    func testEditingAHeaderAfterANoopRerunsTheCompileAndRevertingItRestores() throws {
        let s = try setUp { _, _ in "build/x.o: src/x.c ./include/x.h \\\n include/../include/x.h\n" }
        XCTAssertEqual(try s.run().summary.executed, 2)
        XCTAssertTrue(try s.run().fast, "a no-op is answered from stats alone")

        s.ws.write("include/x.h", "#define X 2")
        var (summary, fast) = try s.run()
        XCTAssertFalse(fast, "the header is part of the no-op answer")
        XCTAssertEqual(s.executor.ran, ["compile", "link", "compile", "link"])
        XCTAssertEqual(s.reason(summary, "compile"), .discoveredInputChanged("include/x.h"))
        XCTAssertEqual(s.ws.read("build/app"), "app of int x;#define X 2")

        s.ws.write("include/x.h", "#define X 1")
        (summary, fast) = try s.run()
        XCTAssertFalse(fast)
        XCTAssertEqual(s.executor.ran.count, 4, "the reverted header's result comes back from the cache")
        XCTAssertEqual(summary.outcomes.first { $0.step == "compile" }?.status, .restored)
        XCTAssertEqual(s.reason(summary, "compile"), .discoveredInputChanged("include/x.h"))
        XCTAssertEqual(s.ws.read("build/x.o"), "int x;#define X 1")
        XCTAssertEqual(s.ws.read("build/app"), "app of int x;#define X 1")
        XCTAssertEqual(try s.run().summary.counts[.upToDate], 2)
        XCTAssertTrue(try s.run().fast)
    }

    func testTheKeyIgnoresDiscoveredInputsAndTheRecordKeepsThem() throws {
        let s = try setUp { _, _ in "build/x.o: src/x.c include/x.h\n" }
        _ = try s.run()
        let state = try LocalStore(root: s.ws.path(".pipeline")).workspaceState(for: s.ws.root)
        let first = try XCTUnwrap(StepRecords(path: state + "/steps")["compile"])
        XCTAssertEqual(first.result.discoveredInputs.map(\.path), ["include/x.h"], "declared inputs are not repeated")
        XCTAssertEqual(first.result.discoveredInputs.first?.digest, SHA256.hash("#define X 1"))
        s.ws.write("include/x.h", "#define X 2")
        _ = try s.run()
        let second = try XCTUnwrap(StepRecords(path: state + "/steps")["compile"])
        XCTAssertEqual(second.key, first.key)
        XCTAssertEqual(second.result.discoveredInputs.first?.digest, SHA256.hash("#define X 2"))
        let stored = try XCTUnwrap(try LocalStore(root: s.ws.path(".pipeline")).result(for: second.key))
        XCTAssertEqual(stored.discoveredInputs, second.result.discoveredInputs)
        XCTAssertEqual(try ActionResult(json: try JSON.parse(stored.json.canonicalBytes)), stored, "the JSON round-trips")
    }

    func testARemovedHeaderAndAFileOutsideTheWorkspace() throws {
        let s = try setUp { ws, outside in "build/x.o: src/x.c include/x.h \(ws.root)/include/x.h /tmp/..\(ws.root)/include/x.h \(outside)/sys.h\n" }
        let sysPath = s.outside.path("sys.h")
        _ = try s.run()
        let state = try LocalStore(root: s.ws.path(".pipeline")).workspaceState(for: s.ws.root)
        XCTAssertEqual(StepRecords(path: state + "/steps")["compile"]?.result.discoveredInputs.map(\.path), [sysPath, "include/x.h"].sorted(),
                       "absolute paths inside the workspace become relative; outside ones stay absolute")
        XCTAssertTrue(try s.run().fast)

        s.outside.write("sys.h", "system 2")
        var summary = try s.run().summary
        XCTAssertEqual(s.reason(summary, "compile"), .discoveredInputChanged(sysPath))

        s.ws.write("include/x.h", "")
        try FileSystem.remove(s.ws.path("include/x.h"))
        summary = try s.run().summary
        XCTAssertEqual(summary.outcomes.first { $0.step == "compile" }?.status, .failed,
                       "its depfile names a file that is gone")
        XCTAssertEqual(s.reason(summary, "compile"), .discoveredInputRemoved("include/x.h"))
    }

    func testAMissingOrMalformedDepfileFailsTheStepAndCachesNothing() throws {
        let s = try setUp { _, _ in "build/x.o src/x.c\n" }
        var summary = try s.run().summary
        var outcome = try XCTUnwrap(summary.outcomes.first { $0.step == "compile" })
        XCTAssertEqual(outcome.status, .failed)
        XCTAssertEqual(outcome.message, "malformed depfile of step 'compile': build/x.d:1:1: expected ':' after the target 'src/x.c'")

        s.executor.behaviours["compile"] = { ws in ws.write("build/x.o", "o"); return 0 }
        s.ws.write("build/x.d", "build/x.o: stale.h\n")  // from an earlier run: removed before the command runs
        summary = try s.run().summary
        outcome = try XCTUnwrap(summary.outcomes.first { $0.step == "compile" })
        XCTAssertEqual(outcome.status, .failed)
        XCTAssertEqual(outcome.message, "step 'compile' did not write its depfile 'build/x.d'")
        XCTAssertFalse(s.ws.exists("build/x.o"), "a failed step's outputs are discarded")
    }

    func testAStepWithoutADepfileKeepsItsKeyAndAddingOneChangesIt() throws {
        let without = ActionDescription(kind: "run", command: .shell("cc"), inputs: [], outputs: ["a.o"])
        var with = without
        with.depfile = "a.d"
        XCTAssertNotEqual(without.key(), with.key())
        XCTAssertEqual(with.canonicalBytes, with.json.canonicalBytes)
        XCTAssertFalse(String(decoding: without.canonicalBytes, as: UTF8.self).contains("depfile"))
    }
}
