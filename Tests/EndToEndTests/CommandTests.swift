import Foundation
import XCTest

/// The smaller commands: --version, hash, list, graph, explain, clean.
final class CommandTests: XCTestCase {
    func testVersion() throws {
        let f = try Fixture(self)
        let result = f.run(["--version"], in: f.outside)
        assertExit(result, 0)
        XCTAssertNotNil(result.stdout.range(of: #"^pipeline \d+\.\d+\.\d+\n$"#, options: .regularExpression), result.transcript)
    }

    func testHashPrintsTheSHA256() throws {
        let f = try Fixture(self)
        f.write("abc.txt", "abc")
        let result = f.run(["hash", "abc.txt"])
        assertExit(result, 0)
        XCTAssertEqual(result.stdout, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad  abc.txt\n")
        assertExit(f.run(["hash", "missing.txt"]), 1)
    }

    func testListShowsDescriptionsAndDefaults() throws {
        let f = try Fixture(self)
        f.pipelinefile("""
            pipeline: 1
            default: [app]
            steps:
              compile:
                description: Compile the sources
                run: "true"
              app:
                needs: [compile]
                run: "true"
            """)
        let list = f.run(["list"])
        assertExit(list, 0)
        XCTAssertEqual(list.stdoutLines, ["compile  Compile the sources", "app      true (default)"])
        let json = JSONLines(f.run(["list", "--json"]).stdout)
        XCTAssertEqual(json.documents.first?["description"] as? String, "Compile the sources")
        XCTAssertEqual(json.documents.last?["default"] as? Bool, true)
    }

    func testListAndGraph() throws {
        let f = try Fixture(self)
        f.writeChain()
        let list = f.run(["list"])
        assertExit(list, 0)
        XCTAssertEqual(list.stdoutLines.compactMap { $0.split(separator: " ").first.map(String.init) }, ["a", "b", "c", "other"])

        let dot = f.run(["graph", "--format", "dot"])
        assertExit(dot, 0)
        assertContains(dot.stdout, #""a" -> "b""#)
        assertContains(dot.stdout, #""b" -> "c""#)

        let mermaid = f.run(["graph", "--format", "mermaid"])
        assertExit(mermaid, 0)
        XCTAssertTrue(mermaid.stdout.hasPrefix("graph"), mermaid.stdout)

        let json = f.run(["graph", "--format", "json"])
        assertExit(json, 0)
        let document = JSONLines(json.stdout).documents.first
        XCTAssertEqual(document?["schema_id"] as? String, "pipeline.graph")
        let steps = document?["steps"] as? [[String: Any]] ?? []
        XCTAssertEqual(steps.compactMap { $0["name"] as? String }, ["a", "b", "c", "other"])
        XCTAssertEqual(steps.first { $0["name"] as? String == "c" }?["needs"] as? [String], ["b"])
        XCTAssertEqual(f.logLines, [], "list/graph ran commands")
    }

    func testExplainSaysWhyAStepWouldRun() throws {
        let f = try Fixture(self)
        f.writeChain()
        assertExit(f.run(["run"]), 0)
        let upToDate = f.run(["explain", "b"])
        assertExit(upToDate, 0)
        assertContains(upToDate.stdout, "up to date")

        f.write("src/in.txt", "changed\n")
        let changed = f.run(["explain", "a"])
        assertExit(changed, 0)
        assertContains(changed.stdout, "src/in.txt")
        XCTAssertEqual(f.logLines.count, 4, "explain ran commands")

        assertExit(f.run(["explain", "nope"]), 6)
    }

    func testCleanWithYesRemovesOutputsThenTheStore() throws {
        let f = try Fixture(self)
        f.writeChain()
        assertExit(f.run(["run"]), 0)

        let outputs = f.run(["clean", "--yes"])
        assertExit(outputs, 0)
        for output in ["out/a.out", "out/b.out", "out/c.out", "out/other.out"] { XCTAssertFalse(f.exists(output), output) }
        XCTAssertTrue(f.exists("src/in.txt"), "clean removed an input")
        XCTAssertTrue(f.exists(".pipeline/format"))

        // The cache still has everything: a run restores and executes nothing.
        let restored = f.run(["run"])
        assertExit(restored, 0)
        XCTAssertEqual(f.logLines.count, 4)

        let store = f.run(["clean", "--store", "--yes"])
        assertExit(store, 0)
        XCTAssertFalse(f.exists(".pipeline"))
        XCTAssertTrue(f.exists("out/a.out"), "clean --store removed outputs")
    }

    func testCleanStoreRecoversFromAStoreOfAnotherFormat() throws {
        let f = try Fixture(self)
        f.writeChain()
        assertExit(f.run(["run"]), 0)
        f.write(".pipeline/format", "pipeline-store 99\n")
        XCTAssertNotEqual(f.run(["run"]).status, 0)

        assertExit(f.run(["clean", "--store", "--yes"]), 0)
        let result = f.run(["run"])
        assertExit(result, 0)
        XCTAssertEqual(f.read(".pipeline/format"), "pipeline-store 1\n")
    }
}
