import Foundation
import XCTest

/// `pipeline graph --status`: what is out of date, decided without running or writing anything.
final class GraphStatusTests: XCTestCase {
    private func statuses(_ f: Fixture, _ extra: [String] = []) -> [String: (status: String, code: String?)] {
        let result = f.run(["graph", "--status", "--format", "json"] + extra)
        assertExit(result, 0)
        let steps = JSONLines(result.stdout).of("pipeline.graph").first?["steps"] as? [[String: Any]] ?? []
        var table: [String: (String, String?)] = [:]
        for step in steps { table[step["name"] as? String ?? ""] = (step["status"] as? String ?? "-", step["reason_code"] as? String) }
        return table
    }

    func testStatusMarksWhatWouldRunWithoutRunningOrWriting() throws {
        let f = try Fixture(self)
        f.writeChain()
        // Never built: everything would run, and asking creates no store, job or output.
        let fresh = statuses(f)
        XCTAssertEqual(fresh.mapValues(\.status), ["a": "run", "b": "run", "c": "run", "other": "run"])
        XCTAssertEqual(fresh["a"]?.code, "no_previous_run")
        XCTAssertFalse(f.exists(".pipeline"), "graph --status created the store")
        XCTAssertFalse(f.exists("out"))

        assertExit(f.run(["run"]), 0)
        XCTAssertEqual(statuses(f).mapValues(\.status), ["a": "up_to_date", "b": "up_to_date", "c": "up_to_date", "other": "up_to_date"])

        f.write("src/in.txt", "changed\n")
        f.remove("out/other.out")
        let jobs = try FileManager.default.contentsOfDirectory(atPath: f.path(".pipeline/jobs")).sorted()
        let before = f.tree(excluding: [])
        let after = statuses(f)
        XCTAssertEqual(after["a"]?.status, "run")
        XCTAssertEqual(after["a"]?.code, "input_changed")
        XCTAssertEqual(after["b"]?.status, "run")
        XCTAssertEqual(after["b"]?.code, "dependency_pending")
        XCTAssertEqual(after["other"]?.status, "restore")
        XCTAssertEqual(after["other"]?.code, "output_missing")

        let dot = f.run(["graph", "--status"])
        assertExit(dot, 0)
        assertContains(dot.stdout, ##""a" [style=filled, fillcolor="#ffcc80", label="a\nrun: input src/in.txt changed"];"##)
        assertContains(dot.stdout, ##""other" [style=filled, fillcolor="#bbdefb", label="other\nrestore: output out/other.out is missing"];"##)
        assertContains(dot.stdout, #""a" -> "b";"#)
        let mermaid = f.run(["graph", "--status", "--format", "mermaid", "c"])
        assertExit(mermaid, 0)
        assertContains(mermaid.stdout, "classDef run fill:#ffcc80")
        assertContains(mermaid.stdout, "class s0,s1,s2 run")
        assertLacks(mermaid.stdout, "other")

        // Nothing ran, nothing was written: not an output, not a job, not the store's state.
        XCTAssertEqual(f.logLines.count, 4, "graph --status ran commands")
        XCTAssertEqual(f.tree(excluding: []), before, "graph --status wrote files")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: f.path(".pipeline/jobs")).sorted(), jobs)
        XCTAssertFalse(f.exists("out/other.out"))

        // Without --status, no status fields.
        let plain = f.run(["graph", "--json"])
        assertLacks(plain.stdout, "\"status\"")
    }
}
