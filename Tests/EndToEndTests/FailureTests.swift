import Foundation
import XCTest

/// A failing step: how it is reported, what it stops, and that nothing of it is cached.
final class FailureTests: XCTestCase {
    func testAFailingStepIsReportedAndItsDependentsDoNotRun() throws {
        let f = try Fixture(self)
        f.writeBroken()

        let result = f.run(["run"])
        assertExit(result, 1)
        assertContains(result.stderr, "FAILED: broken")
        assertContains(result.stderr, "echo oops-on-stderr >&2", "(the command)")
        assertContains(result.stderr, "exit 3", "(the command)")
        XCTAssertTrue(result.stderr.split(separator: "\n").contains("oops-on-stderr"), "no stderr tail:\n\(result.stderr)")
        XCTAssertEqual(f.logLines, ["broken"], "a dependent of the failed step ran")
        XCTAssertFalse(f.exists("out/broken.txt"), "the failed step's half-written output was kept")
        XCTAssertFalse(f.exists("out/after.txt"))
        XCTAssertEqual(f.actionResults(), [], "a failed action was cached")

        // Not fixed: it fails again instead of being up to date.
        let again = f.run(["run"])
        assertExit(again, 1)
        assertContains(again.stderr, "FAILED: broken")
        assertLacks(again.stdout, "no work to do")
        XCTAssertEqual(f.logLines, ["broken", "broken"])
        XCTAssertEqual(f.actionResults(), [])

        // Fixed: both run.
        f.writeBroken(exitStatus: 0)
        let fixed = f.run(["run"])
        assertExit(fixed, 0)
        XCTAssertEqual(f.logLines, ["broken", "broken", "broken", "after"])
        XCTAssertEqual(f.read("out/after.txt"), "partial\n")
        XCTAssertEqual(f.actionResults().count, 2)
    }

    /// The same definition fails, then (the world outside having changed) succeeds: the
    /// failure must not have been recorded as a result.
    func testAFailureIsNotRememberedWhenTheDefinitionIsUnchanged() throws {
        let f = try Fixture(self)
        let flag = f.outside + "/flag"
        f.pipelinefile("""
        pipeline: 1
        steps:
          flaky:
            run: \(f.log("flaky")); echo data > out/f.txt; test -f \(flag)
            outputs: [out/f.txt]
        """)
        assertExit(f.run(["run"]), 1)
        XCTAssertFalse(f.exists("out/f.txt"))

        _ = FileManager.default.createFile(atPath: flag, contents: Data())
        let second = f.run(["run"])
        assertExit(second, 0)
        XCTAssertEqual(f.logLines, ["flaky", "flaky"])
        XCTAssertEqual(f.read("out/f.txt"), "data\n")

        let third = f.run(["run"])
        assertExit(third, 0)
        assertContains(third.stdout, "no work to do")
        XCTAssertEqual(f.logLines.count, 2)
    }

    private func writeBranches(_ f: Fixture) {
        f.pipelinefile("""
        pipeline: 1
        steps:
          bad:
            run: \(f.log("bad")); echo bad-news >&2; exit 1
          bad_child:
            needs: [bad]
            run: \(f.log("bad_child"))
          good:
            run: echo ok > out/good.txt; \(f.log("good"))
            outputs: [out/good.txt]
          good_child:
            needs: [good]
            run: cat out/good.txt > out/good_child.txt; \(f.log("good_child"))
            outputs: [out/good_child.txt]
        """)
    }

    func testKeepGoingBuildsIndependentBranches() throws {
        let f = try Fixture(self)
        writeBranches(f)
        let result = f.run(["run", "-k", "-j1", "--json"])
        assertExit(result, 1)
        XCTAssertEqual(Set(f.logLines), ["bad", "good", "good_child"])
        XCTAssertEqual(f.read("out/good_child.txt"), "ok\n")
        let lines = JSONLines(result.stdout)
        XCTAssertEqual(lines.steps("failed"), ["bad"])
        XCTAssertEqual(lines.steps("skipped"), ["bad_child"])
        XCTAssertEqual(Set(lines.steps("ran")), ["good", "good_child"])

        let plain = try Fixture(self)
        writeBranches(plain)
        let keepGoing = plain.run(["run", "--keep-going", "-j1"])
        assertExit(keepGoing, 1)
        assertContains(keepGoing.stderr, "FAILED: bad")
        XCTAssertEqual(Set(plain.logLines), ["bad", "good", "good_child"])
    }

    func testWithoutKeepGoingTheRunStopsAtTheFirstFailure() throws {
        let f = try Fixture(self)
        writeBranches(f)
        let result = f.run(["run", "-j1"])
        assertExit(result, 1)
        XCTAssertEqual(f.logLines, ["bad"])
        assertContains(result.stderr, "FAILED: bad")
        assertContains(result.stderr, "bad-news")
    }
}
