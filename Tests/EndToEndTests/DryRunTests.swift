import Foundation
import XCTest

final class DryRunTests: XCTestCase {
    func testDryRunRunsNothingAndSaysWhatWouldRun() throws {
        let f = try Fixture(self)
        f.writeChain()

        let result = f.run(["run", "-n"])
        assertExit(result, 0)
        XCTAssertEqual(f.logLines, [], "a dry run executed commands")
        for output in ["out/a.out", "out/b.out", "out/c.out", "out/other.out"] {
            XCTAssertFalse(f.exists(output), "a dry run produced \(output)")
        }
        for step in ["a", "b", "c", "other"] { assertContains(result.stdout, "would run \(step)") }
        assertContains(result.stdout, "4 would run")
        assertLacks(result.stdout, "[1/")

        // After a build and one edit, only what the edit reaches.
        assertExit(f.run(["run"]), 0)
        let built = f.tree()
        f.write("src/other.txt", "edited\n")
        let edited = f.run(["run", "--dry-run"])
        assertExit(edited, 0)
        assertContains(edited.stdout, "would run other")
        assertContains(edited.stdout, "src/other.txt")
        for step in ["a", "b", "c"] { assertLacks(edited.stdout, "would run \(step)") }
        XCTAssertEqual(f.logLines.count, 4, "a dry run executed commands")
        XCTAssertEqual(f.read("out/other.out"), "unrelated\n")
        var expected = built
        expected["src/other.txt"] = f.tree()["src/other.txt"]
        XCTAssertEqual(f.tree(), expected)

        // And the real run afterwards does exactly that.
        assertExit(f.run(["run"]), 0)
        XCTAssertEqual(f.logLines.last, "other")
        XCTAssertEqual(f.logLines.count, 5)
    }

    func testDryRunWithJSONMarksEveryStepAsDry() throws {
        let f = try Fixture(self)
        f.writeChain()
        let result = f.run(["run", "-n", "--json"])
        assertExit(result, 0)
        let lines = JSONLines(result.stdout)
        let finished = lines.of("pipeline.step").filter { $0["event"] as? String == "finished" }
        XCTAssertEqual(finished.count, 4)
        XCTAssertTrue(finished.allSatisfy { $0["dry_run"] as? Bool == true }, result.stdout)
        XCTAssertEqual(lines.of("pipeline.run").last?["dry_run"] as? Bool, true)
        XCTAssertEqual(f.logLines, [])
    }
}
