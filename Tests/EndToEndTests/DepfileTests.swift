import Foundation
import XCTest

/// `depfile:` with a real compiler (examples/c-depfile), and `pipeline compdb`.
final class DepfileTests: XCTestCase {
    static let repository = PipelineBinary.directory(of: PipelineBinary.directory(of: PipelineBinary.directory(of: #filePath)))

    /// A fixture holding a copy of examples/c-depfile (without anything it built).
    func example() throws -> Fixture {
        let f = try Fixture(self)
        let source = Self.repository + "/examples/c-depfile"
        for file in ["Pipelinefile.yaml", "include/config.h", "include/shout.h", "src/main.c", "src/shout.c"] {
            f.write(file, try String(contentsOfFile: source + "/" + file, encoding: .utf8))
        }
        return f
    }

    func testEditingAHeaderRerunsOnlyTheCompileThatReadItAndRevertingRestores() throws {
        let f = try example()
        var result = f.run(["run", "--json"])
        assertExit(result, 0)
        XCTAssertEqual(JSONLines(result.stdout).count("ran"), 4, result.transcript)
        XCTAssertEqual(f.read("build/shout.txt"), "hello from a depfile!\n")
        usleep(150_000)  // older than the racy window: the next run remembers the no-op answer
        for _ in 0..<2 {
            result = f.run(["run", "--json"])
            XCTAssertEqual(JSONLines(result.stdout).count("up_to_date"), 4, result.transcript)
        }

        let original = try XCTUnwrap(f.read("include/config.h"))
        f.write("include/config.h", original.replacing("\"hello from a depfile\"", with: "\"hello from a depfile!!\""))
        result = f.run(["explain", "main_o"])
        assertContains(result.stdout, "main_o: now would run: discovered input include/config.h changed")
        result = f.run(["run", "--json"])
        assertExit(result, 0)
        var lines = JSONLines(result.stdout)
        XCTAssertEqual(lines.steps("ran"), ["main_o", "app", "check"], result.transcript)
        XCTAssertEqual(lines.steps("up_to_date"), ["shout_o"])
        let step = lines.of("pipeline.step").first { $0["step"] as? String == "main_o" && $0["event"] as? String == "finished" }
        XCTAssertEqual(step?["reason_code"] as? String, "discovered_input_changed")
        XCTAssertEqual(step?["reason"] as? String, "discovered input include/config.h changed")
        XCTAssertEqual(f.read("build/shout.txt"), "hello from a depfile!!!\n")

        f.write("include/config.h", original)
        result = f.run(["run", "--json"])
        assertExit(result, 0)
        lines = JSONLines(result.stdout)
        XCTAssertEqual(lines.steps("restored"), ["main_o", "app", "check"], result.transcript)
        XCTAssertEqual(f.read("build/shout.txt"), "hello from a depfile!\n")
    }

    func testCompdbWritesCompileCommandsForTheCompileSteps() throws {
        let f = try example()
        var result = f.run(["compdb"])
        assertExit(result, 0)
        XCTAssertEqual(result.stdout, f.root + "/compile_commands.json\n")
        let entries = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: f.path("compile_commands.json")))) as? [[String: Any]])
        XCTAssertEqual(entries.map { $0["file"] as? String }, ["src/main.c", "src/shout.c"])
        XCTAssertEqual(entries.map { $0["output"] as? String }, ["build/main.o", "build/shout.o"])
        XCTAssertEqual(entries.first?["directory"] as? String, f.root)
        XCTAssertEqual(entries.first?["arguments"] as? [String],
                       ["cc", "-O2", "-Wall", "-Iinclude", "-MD", "-MF", "build/main.d", "-c", "src/main.c", "-o", "build/main.o"])
        let first = f.read("compile_commands.json")

        // The compiler comes from the declared CC; targets narrow it; -o writes elsewhere.
        result = f.run(["compdb", "shout_o", "-o", "../outside/cc.json", "--json"], environment: ["CC": "clang"])
        assertExit(result, 0)
        let document = try XCTUnwrap(JSONLines(result.stdout).of("pipeline.compdb").first, result.transcript)
        XCTAssertEqual(document["steps"] as? [String], ["shout_o"])
        assertContains(f.read(f.outside + "/cc.json") ?? "", "\"arguments\":[\"clang\",")
        XCTAssertEqual(f.read("compile_commands.json"), first, "deterministic, and left alone")
        XCTAssertEqual(f.run(["compdb"]).status, 0)
        XCTAssertEqual(f.read("compile_commands.json"), first)

        assertExit(f.run(["compdb", "nope"]), 6)
    }
}
