import Foundation
import XCTest

/// `--json`: stdout carries only JSON lines, each a versioned document.
final class JSONOutputTests: XCTestCase {
    private let statuses: Set<String> = ["up_to_date", "restored", "ran", "failed", "skipped", "canceled"]

    private func assertEnvelope(_ lines: JSONLines, _ result: ProcessResult, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertFalse(lines.documents.isEmpty, result.transcript, file: file, line: line)
        XCTAssertEqual(lines.documents.count, result.stdoutLines.count, "some stdout lines are not JSON objects", file: file, line: line)
        for document in lines.documents {
            let schema = document["schema_id"] as? String ?? ""
            XCTAssertTrue(schema.hasPrefix("pipeline."), "no schema_id: \(document)", file: file, line: line)
            XCTAssertEqual(document["schema_version"] as? String, "1.0.0", "\(document)", file: file, line: line)
            if schema == "pipeline.step", document["event"] as? String == "finished" {
                XCTAssertTrue(statuses.contains(document["status"] as? String ?? ""), "bad status: \(document)", file: file, line: line)
            }
        }
    }

    func testASuccessfulRunPrintsOnlyVersionedJSONLines() throws {
        let f = try Fixture(self)
        f.writeChain()
        let result = f.run(["run", "--json"])
        assertExit(result, 0)
        let lines = JSONLines(result.stdout)
        assertEnvelope(lines, result)
        XCTAssertEqual(lines.documents.first?["schema_id"] as? String, "pipeline.plan")
        XCTAssertEqual(Set(lines.documents.first?["steps"] as? [String] ?? []), ["a", "b", "c", "other"])
        XCTAssertEqual(Set(lines.steps("ran")), ["a", "b", "c", "other"])
        let summary = lines.documents.last
        XCTAssertEqual(summary?["schema_id"] as? String, "pipeline.run")
        XCTAssertEqual(summary?["status"] as? String, "succeeded")
        XCTAssertTrue(lines.of("pipeline.error").isEmpty)

        let again = f.run(["run", "--json"])
        assertEnvelope(JSONLines(again.stdout), again)
        XCTAssertEqual(Set(JSONLines(again.stdout).steps("up_to_date")), ["a", "b", "c", "other"])
    }

    func testAFailedRunEndsWithAnErrorDocument() throws {
        let f = try Fixture(self)
        f.writeBroken()
        let result = f.run(["run", "--json"])
        assertExit(result, 1)
        let lines = JSONLines(result.stdout)
        assertEnvelope(lines, result)
        XCTAssertEqual(lines.steps("failed"), ["broken"])
        XCTAssertEqual(lines.of("pipeline.run").last?["status"] as? String, "failed")
        let error = try XCTUnwrap(lines.documents.last, result.transcript)
        XCTAssertEqual(error["schema_id"] as? String, "pipeline.error")
        XCTAssertEqual(error["error_code"] as? String, "step_failed")
        XCTAssertNotNil(error["category"] as? String, "\(error)")
        XCTAssertNotNil(error["message"] as? String, "\(error)")
        XCTAssertEqual(error["exit_code"] as? Int, 1)
        XCTAssertEqual(error["retryable"] as? Bool, false)
        XCTAssertTrue(error.keys.contains("hint"), "no hint field: \(error)")
        let finished = lines.of("pipeline.step").first { $0["step"] as? String == "broken" && $0["event"] as? String == "finished" }
        assertContains(finished?["stderr_tail"] as? String ?? "", "oops-on-stderr")
    }

    func testInvalidInputIsAnErrorDocumentWithALocation() throws {
        let f = try Fixture(self)
        f.pipelinefile("""
        pipeline: 1
        steps:
          compile:
            run: echo hi
            ouputs: [out/a.txt]
        """)
        let result = f.run(["run", "--json"])
        assertExit(result, 6)
        let lines = JSONLines(result.stdout)
        assertEnvelope(lines, result)
        let error = try XCTUnwrap(lines.of("pipeline.error").last, result.transcript)
        XCTAssertEqual(lines.documents.count, 1)
        XCTAssertEqual(error["error_code"] as? String, "invalid_input")
        XCTAssertEqual(error["category"] as? String, "invalid_input")
        XCTAssertEqual(error["exit_code"] as? Int, 6)
        XCTAssertEqual(error["retryable"] as? Bool, false)
        XCTAssertTrue(error.keys.contains("hint"))
        let location = error["location"] as? [String: Any]
        XCTAssertEqual(location?["file"] as? String, "Pipelinefile.yaml")
        XCTAssertEqual(location?["line"] as? Int, 5)
        XCTAssertEqual(location?["column"] as? Int, 5)
    }

    func testMissingDependencyIsAnErrorDocumentWithExit7() throws {
        let f = try Fixture(self)
        f.pipelinefile("""
        pipeline: 1
        steps:
          tool:
            run: no-such-program-xyz
        """)
        let result = f.run(["run", "--json"])
        assertExit(result, 7)
        let lines = JSONLines(result.stdout)
        assertEnvelope(lines, result)
        let error = try XCTUnwrap(lines.documents.last, result.transcript)
        XCTAssertEqual(error["schema_id"] as? String, "pipeline.error")
        XCTAssertEqual(error["error_code"] as? String, "program_not_found")
        XCTAssertEqual(error["category"] as? String, "missing_dependency")
        XCTAssertEqual(error["exit_code"] as? Int, 7)
    }
}

/// Every `--json` document validates against the schema shipped in `schemas/v1/output/`
/// (checked with Python's jsonschema where it is installed).
final class JSONSchemaTests: XCTestCase {
    func testOutputDocumentsMatchTheShippedSchemas() throws {
        let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
        let schemas = packageRoot + "/schemas/v1/output"
        let probe = try SpawnedProcess(executable: "/usr/bin/env", arguments: ["python3", "-c", "import jsonschema"], directory: "/",
                                       environment: ProcessInfo.processInfo.environment).wait()
        guard probe.status == 0 else { throw XCTSkip("python3 with jsonschema is not installed") }

        let f = try Fixture(self)
        f.writeChain()
        var lines: [String] = []
        lines += f.run(["run", "--json"]).stdoutLines
        lines += f.run(["run", "--json", "--explain"]).stdoutLines
        f.write("src/in.txt", "changed\n")
        lines += f.run(["run", "--json", "-n"]).stdoutLines
        lines += f.run(["graph", "--json", "--status"]).stdoutLines
        lines += f.run(["query", "deps", "c", "--json"]).stdoutLines
        lines += f.run(["query", "rdeps", "a", "--direct", "--json"]).stdoutLines
        lines += f.run(["run", "--json", "no-such-step"]).stdoutLines
        f.pipelinefile("pipeline: 1\nsteps:\n  bad: { run: 'echo oops >&2; exit 3' }\n")
        lines += f.run(["run", "--json"]).stdoutLines
        f.pipelinefile("pipeline: 1\nsteps:\n  bad: { rn: x }\n")
        lines += f.run(["run", "--json"]).stdoutLines
        // Evidence commands: pack build, verify (ok and failed), inspect, key.
        f.writeChain()
        let run = f.run(["run"])
        let job = run.stderr.split(separator: "\n").first { $0.hasPrefix("job ") }.map { String($0.dropFirst(4)) } ?? ""
        let build = f.run(["pack", "build", "--type", "run", "--from", job, "--out", f.outside, "--json"])
        lines += build.stdoutLines
        let pack = (JSONLines(build.stdout).of("pipeline.pack_build").first?["path"] as? String) ?? ""
        lines += f.run(["pack", "verify", pack, "--json"]).stdoutLines
        lines += f.run(["pack", "verify", pack, "--json", "--profile", "strict"]).stdoutLines
        lines += f.run(["pack", "inspect", pack, "--json"]).stdoutLines
        lines += f.run(["key", "gen", "--out-dir", f.outside, "--json"]).stdoutLines
        lines += f.run(["replay", job, "--json"]).stdoutLines
        lines += f.run(["job", "report", job, "--json"]).stdoutLines
        lines += f.run(["pin", "add", "job", job, "--json"]).stdoutLines
        lines += f.run(["pin", "list", "--json"]).stdoutLines
        lines += f.run(["gc", "--dry-run", "--json", "--ttl", "0s"]).stdoutLines
        lines += f.run(["gc", "--json", "--keep-jobs", "0"]).stdoutLines
        lines += f.run(["store", "check", "--json"]).stdoutLines
        lines += f.run(["replay", job, "--json", "--real-tools", "--unsafe-real-tools", "--allow-tools", "sh"],
                       environment: ["PIPELINE_ALLOW_REAL_REPLAY": "1"]).stdoutLines
        XCTAssertEqual(Set(lines.compactMap { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any] }
                        .compactMap { $0["schema_id"] as? String }).isSuperset(of: ["pipeline.pack_build", "pipeline.pack_verify", "pipeline.pack_inspect", "pipeline.replay", "pipeline.gc_report", "pipeline.store_check",
                                      "pipeline.pin", "pipeline.job_report"]),
                      true, lines.joined(separator: "\n"))
        XCTAssertGreaterThan(lines.count, 10)

        let linesFile = f.outside + "/lines.jsonl"
        try lines.joined(separator: "\n").write(toFile: linesFile, atomically: true, encoding: .utf8)
        let script = """
            import json, sys, jsonschema
            schemas = {}
            import os
            for name in os.listdir(sys.argv[1]):
                s = json.load(open(os.path.join(sys.argv[1], name)))
                schemas[s["title"]] = s
            bad = 0
            for line in open(sys.argv[2]):
                doc = json.loads(line)
                schema = schemas.get(doc.get("schema_id"))
                if schema is None:
                    print("no schema for", doc.get("schema_id")); bad += 1; continue
                try:
                    jsonschema.validate(doc, schema)
                except jsonschema.ValidationError as e:
                    print("invalid:", line.strip(), e.message); bad += 1
            sys.exit(1 if bad else 0)
            """
        let check = try SpawnedProcess(executable: "/usr/bin/env", arguments: ["python3", "-c", script, schemas, linesFile], directory: "/",
                                       environment: ProcessInfo.processInfo.environment).wait()
        XCTAssertEqual(check.status, 0, check.transcript)
    }
}
