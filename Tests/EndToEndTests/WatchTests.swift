import Foundation
import Glibc
import XCTest

/// `pipeline run --watch`: a cycle per change, nothing for the build's own writes, exit 130
/// on Ctrl-C. Waits are bounded and end as soon as what they wait for is seen.
final class WatchTests: XCTestCase {
    /// A running `pipeline run --watch`, read through its output files.
    private final class Session {
        let process: SpawnedProcess
        let json: Bool
        init(_ process: SpawnedProcess, json: Bool) {
            self.process = process
            self.json = json
        }

        var stderr: String { (try? String(contentsOfFile: process.stderrPath, encoding: .utf8)) ?? "" }
        var stdout: String { (try? String(contentsOfFile: process.stdoutPath, encoding: .utf8)) ?? "" }
        /// Cycles finished so far (one summary line each; a `pipeline.watch_cycle` with --json).
        var cycles: Int {
            json ? JSONLines(stdout).of("pipeline.watch_cycle").count : stderr.components(separatedBy: "waiting for changes").count - 1
        }

        /// Waits (at most 10 s) until `count` cycles have finished.
        func waitForCycles(_ count: Int, file: StaticString = #filePath, line: UInt = #line) {
            XCTAssertTrue(Fixture.waitUntil(timeout: 10) { cycles >= count || process.poll() },
                          "waited for \(count) cycles, saw \(cycles):\n\(stderr)\n\(stdout)", file: file, line: line)
        }

        /// Sends `signal` and returns how it ended, which must be within a few seconds.
        func stop(_ signal: Int32 = SIGINT, file: StaticString = #filePath, line: UInt = #line) -> ProcessResult {
            let sent = Date()
            process.signal(signal)
            let result = process.wait(timeout: 10)
            XCTAssertLessThan(Date().timeIntervalSince(sent), 5, "watch mode took long to stop", file: file, line: line)
            return result
        }
    }

    private func start(_ f: Fixture, _ arguments: [String] = []) throws -> Session {
        Session(try f.start(["run", "--watch"] + arguments), json: arguments.contains("--json"))
    }

    private func writeUpperAndCount(_ f: Fixture) {
        f.pipelinefile("""
        pipeline: 1
        steps:
          upper:
            run: tr a-z A-Z < src/in.txt > build/out.txt; \(f.log("upper"))
            inputs: [src/**/*.txt]
            outputs: [build/out.txt]
          count:
            needs: [upper]
            run: wc -c < build/out.txt > build/count.txt; \(f.log("count"))
            outputs: [build/count.txt]
        """)
        f.write("src/in.txt", "hello\n")
    }

    func testEditingAnInputRerunsOnceAndCtrlCExits130() throws {
        let f = try Fixture(self)
        writeUpperAndCount(f)
        let watch = try start(f)
        watch.waitForCycles(1)
        XCTAssertEqual(f.logLines, ["upper", "count"])
        assertContains(watch.stderr, "watch: 2 ran, 0 up to date in ")

        f.write("src/in.txt", "changed\n")
        watch.waitForCycles(2)
        XCTAssertEqual(f.logLines, ["upper", "count", "upper", "count"])
        XCTAssertEqual(f.read("build/out.txt"), "CHANGED\n")
        assertContains(watch.stderr, "watch: src/in.txt changed")

        // Between cycles the workspace is free: another command runs without waiting.
        assertExit(f.run(["run", "--no-wait"]), 0)
        // Not triggers: the outputs the build wrote, an editor's dotfile, a file no step reads,
        // the store (written by the run just above).
        f.write("src/.in.txt.swp", "x")
        f.write("notes.md", "x")
        usleep(500_000)
        XCTAssertEqual(watch.cycles, 2, "a cycle ran without an input changing:\n\(watch.stderr)")

        // Touched but unchanged: a cycle that runs nothing. A new file in a new folder: a rerun.
        f.touch("src/in.txt")
        watch.waitForCycles(3)
        assertContains(watch.stderr, "watch: 0 ran, 2 up to date")
        f.write("src/more/extra.txt", "x")
        watch.waitForCycles(4)
        // The new input reruns `upper`; its output is the same, so `count` stays up to date.
        XCTAssertEqual(f.logLines, ["upper", "count", "upper", "count", "upper"])

        let result = watch.stop()
        assertExit(result, 130)
        assertContains(result.stderr, "watch: stopped")
    }

    func testAPipelinefileEditReplansAndAnErrorKeepsWatching() throws {
        let f = try Fixture(self)
        f.pipelinefile("pipeline: 1\nsteps:\n  a: { run: '\(f.log("a"))', inputs: [a.txt] }\n")
        f.write("a.txt", "1")
        let watch = try start(f)
        watch.waitForCycles(1)

        f.pipelinefile("pipeline: 1\nsteps:\n  a: { run: x\n")
        watch.waitForCycles(2)
        assertContains(watch.stderr, "pipeline: error: Pipelinefile.yaml:")
        assertContains(watch.stderr, "not built, see the error above")
        XCTAssertFalse(watch.process.poll(), "watch mode ended on a Pipelinefile error:\n\(watch.stderr)")

        f.write("b.txt", "1")
        f.pipelinefile("""
        pipeline: 1
        steps:
          a: { run: '\(f.log("a"))', inputs: [a.txt] }
          b: { run: '\(f.log("b"))', inputs: [b.txt] }
        """)
        watch.waitForCycles(3)
        XCTAssertEqual(f.logLines, ["a", "b"])
        // The new step's input is watched too.
        f.write("b.txt", "2")
        watch.waitForCycles(4)
        XCTAssertEqual(f.logLines, ["a", "b", "b"])
        assertExit(watch.stop(), 130)
    }

    func testJSONCyclesAFailingStepKeepsWatchingAndSIGTERMExits130() throws {
        let f = try Fixture(self)
        f.pipelinefile("""
        pipeline: 1
        steps:
          check:
            run: \(f.log("check")); grep -q good in.txt
            inputs: [in.txt]
        """)
        f.write("in.txt", "good\n")
        let watch = try start(f, ["--json"])
        watch.waitForCycles(1)
        f.write("in.txt", "bad\n")
        watch.waitForCycles(2)
        f.write("in.txt", "good again\n")
        watch.waitForCycles(3)
        let result = watch.stop(SIGTERM)
        assertExit(result, 130)

        let lines = JSONLines(result.stdout)
        let cycles = lines.of("pipeline.watch_cycle")
        XCTAssertEqual(cycles.map { $0["cycle"] as? Int }, [1, 2, 3], result.transcript)
        XCTAssertEqual(cycles.map { $0["status"] as? String }, ["succeeded", "failed", "succeeded"])
        XCTAssertEqual(cycles.map { $0["trigger"] as? [String] }, [[], ["in.txt"], ["in.txt"]])
        XCTAssertEqual(cycles.map { ($0["counts"] as? [String: Int])?["ran"] }, [1, 0, 1])
        XCTAssertEqual(cycles.map { ($0["counts"] as? [String: Int])?["failed"] }, [0, 1, 0])
        XCTAssertEqual(Set(cycles.compactMap { $0["job"] as? String }).count, 3, "one job per cycle")
        XCTAssertEqual(lines.of("pipeline.run").count, 3)
        XCTAssertEqual(lines.of("pipeline.error").map { $0["error_code"] as? String }, ["step_failed", "interrupted"])
        XCTAssertEqual(lines.documents.last?["error_code"] as? String, "interrupted")
        XCTAssertEqual(f.logLines, ["check", "check", "check"])
        try validateAgainstSchemas(result.stdout, f)
    }

    func testCtrlCDuringACycleStopsTheCommandAndExits130() throws {
        let f = try Fixture(self)
        let started = f.outside + "/started"
        f.pipelinefile("""
        pipeline: 1
        steps:
          slow: { run: 'touch \(started); sleep 30', inputs: [in.txt] }
        """)
        f.write("in.txt", "1")
        let watch = try start(f)
        XCTAssertTrue(Fixture.waitUntil { FileManager.default.fileExists(atPath: started) }, "the step never started:\n\(watch.stderr)")
        let result = watch.stop()
        assertExit(result, 130)
        assertContains(result.stderr, "interrupted")
    }

    func testWatchWithDryRunIsAUsageError() throws {
        let f = try Fixture(self)
        f.pipelinefile("pipeline: 1\nsteps:\n  a: { run: 'true' }\n")
        let result = f.run(["run", "--watch", "-n"])
        assertExit(result, 6)
        assertContains(result.stderr, "--watch cannot be combined with --dry-run")
        let missing = f.run(["run", "--watch", "nope"])
        assertExit(missing, 6)
        assertContains(missing.stderr, "nope")
    }

    /// Every document validates against the schemas in `schemas/v1/output/` (with Python's
    /// jsonschema, where it is installed).
    private func validateAgainstSchemas(_ stdout: String, _ f: Fixture) throws {
        let probe = try SpawnedProcess(executable: "/usr/bin/env", arguments: ["python3", "-c", "import jsonschema"], directory: "/",
                                       environment: ProcessInfo.processInfo.environment).wait()
        guard probe.status == 0 else { return }
        let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
        let linesFile = f.outside + "/lines.jsonl"
        try stdout.write(toFile: linesFile, atomically: true, encoding: .utf8)
        let script = """
            import json, os, sys, jsonschema
            schemas = {}
            for name in os.listdir(sys.argv[1]):
                s = json.load(open(os.path.join(sys.argv[1], name)))
                schemas[s["title"]] = s
            for line in open(sys.argv[2]):
                doc = json.loads(line)
                jsonschema.validate(doc, schemas[doc["schema_id"]])
            """
        let check = try SpawnedProcess(executable: "/usr/bin/env", arguments: ["python3", "-c", script, packageRoot + "/schemas/v1/output", linesFile],
                                       directory: "/", environment: ProcessInfo.processInfo.environment).wait()
        XCTAssertEqual(check.status, 0, check.transcript)
    }
}
