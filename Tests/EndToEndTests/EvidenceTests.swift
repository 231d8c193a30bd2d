import Foundation
import Glibc
import Pipeline
import XCTest

/// Capture, secrets and packs, through the built binary: run records in the job, blobs in
/// the store, packs that build byte-identically, verify, inspect and diff.
final class EvidenceTests: XCTestCase {
    static let secret = "s3cr3t-Value-7f1c9e"

    /// A two-step pipeline whose first step reads a source and echoes a secret.
    func writeEvidencePipeline(_ f: Fixture) {
        f.write("src/input.txt", "hello evidence\n")
        f.pipelinefile("""
            pipeline: 1
            steps:
              fetch:
                run: 'echo "token=$API_TOKEN" && echo "warn $API_TOKEN" >&2 && tr a-z A-Z < src/input.txt > build/upper.txt'
                inputs: [src/input.txt]
                outputs: [build/upper.txt]
                secrets: [API_TOKEN]
              report:
                needs: [fetch]
                run: wc -c build/upper.txt > build/report.txt
                outputs: [build/report.txt]
            """)
    }

    func secretEnvironment() -> [String: String?] {
        ["API_TOKEN": Self.secret, "API_TOKEN_ISSUED_AT": "2026-11-22T10:00:00Z", "API_TOKEN_EXPIRES_AT": "2026-11-22T11:30:00Z"]
    }

    func jobID(_ result: ProcessResult) throws -> String {
        let line = try XCTUnwrap(result.stderr.split(separator: "\n").first { $0.hasPrefix("job ") }, result.transcript)
        return String(line.dropFirst(4))
    }

    func runRecords(_ f: Fixture, job: String) throws -> [[String: Any]] {
        let text = try String(contentsOfFile: f.root + "/.pipeline/jobs/\(job)/runs.jsonl", encoding: .utf8)
        return try text.split(separator: "\n").map { try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
    }

    func testEveryExecutedStepLeavesARunRecordAndItsInputBlobs() throws {
        let f = try Fixture(self)
        writeEvidencePipeline(f)
        let result = f.run(["run", "report"], environment: secretEnvironment())
        assertExit(result, 0)
        let records = try runRecords(f, job: try jobID(result))
        XCTAssertEqual(records.map { $0["step"] as? String }, ["fetch", "report"])
        let fetch = records[0]
        XCTAssertEqual(fetch["schema_id"] as? String, "pipeline.run_record")
        XCTAssertEqual(fetch["status"] as? String, "ran")
        XCTAssertEqual(fetch["exit_code"] as? Int, 0)
        let inputs = try XCTUnwrap(fetch["inputs"] as? [[String: Any]])
        XCTAssertEqual(inputs.map { $0["path"] as? String }, ["src/input.txt"])
        let inputDigest = try XCTUnwrap(inputs[0]["sha256"] as? String)
        XCTAssertTrue(f.storeHas(inputDigest), "the input's bytes are kept in the store")
        let outputs = try XCTUnwrap(fetch["outputs"] as? [[String: Any]])
        XCTAssertEqual(outputs.map { $0["path"] as? String }, ["build/upper.txt"])
        for key in ["stdout", "stderr"] {
            let digest = try XCTUnwrap(fetch[key] as? String)
            XCTAssertTrue(f.storeHas(digest), "\(key) is a blob")
        }
        XCTAssertNotNil(fetch["started_at"] as? String)
        XCTAssertNotNil(fetch["env_fingerprint"] as? String)
        let secrets = try XCTUnwrap(fetch["secrets"] as? [[String: Any]])
        XCTAssertEqual(secrets.count, 1)
        XCTAssertEqual(secrets[0]["name"] as? String, "API_TOKEN")
        XCTAssertEqual(secrets[0]["provided"] as? Bool, true)
        XCTAssertEqual(secrets[0]["issued_at"] as? String, "2026-11-22T10:00:00Z")
        XCTAssertEqual(secrets[0]["expires_at"] as? String, "2026-11-22T11:30:00Z")
        XCTAssertEqual(secrets[0]["ttl_seconds"] as? Int, 5400)
        try validate(f, records.map { try JSONSerialization.data(withJSONObject: $0) }, schema: "schemas/v1/pack/run_record.schema.json")
    }

    func testASecretValueAppearsNowhereWhileTheStepRanWithIt() throws {
        let f = try Fixture(self)
        writeEvidencePipeline(f)
        let run = f.run(["run", "report", "--json"], environment: secretEnvironment())
        assertExit(run, 0)
        let job = try jobID(run)
        // The command saw the value: its masked log says so, and the output was produced.
        let logs = f.run(["job", "logs", job, "fetch"])
        assertContains(logs.stdout, "token=***")
        assertContains(logs.stdout, "warn ***")
        XCTAssertEqual(f.read("build/upper.txt"), "HELLO EVIDENCE\n")
        // A failing step's stderr tail is masked too.
        f.pipelinefile("""
            pipeline: 1
            steps:
              leak:
                run: 'echo "oops $API_TOKEN" >&2; exit 3'
                secrets: [API_TOKEN]
            """)
        let failed = f.run(["run", "leak"], environment: secretEnvironment())
        assertExit(failed, 1)
        let failedJSON = f.run(["run", "leak", "--json"], environment: secretEnvironment())
        assertExit(failedJSON, 1)
        assertContains(failed.stderr, "oops ***")
        let capture = f.run(["capture", "--secret", "API_TOKEN", "--", "/bin/sh", "-c", "echo captured $API_TOKEN"], environment: secretEnvironment())
        assertExit(capture, 0)
        assertContains(capture.stdout, "captured ***")
        let pack = f.run(["pack", "build", "--type", "run", "--from", try jobID(capture), "--out", "dist"])
        assertExit(pack, 0)
        let jobPack = f.run(["pack", "build", "--type", "job", "--from", job, "--out", "dist"])
        assertExit(jobPack, 0)
        let runPack = f.run(["pack", "build", "--type", "run", "--from", job, "--out", "dist"])
        assertExit(runPack, 0)

        for result in [run, logs, failed, failedJSON, capture, pack, jobPack, runPack] {
            assertLacks(result.stdout + result.stderr, Self.secret)
        }
        let grep = Process()
        grep.executableURL = URL(fileURLWithPath: "/bin/grep")
        grep.arguments = ["-r", "-a", "-l", Self.secret, f.root]
        let pipe = Pipe()
        grep.standardOutput = pipe
        try grep.run()
        grep.waitUntilExit()
        let found = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        XCTAssertEqual(found, "", "files holding the secret: \(found)")
        XCTAssertEqual(grep.terminationStatus, 1, "grep finds nothing in the workspace, its store or its packs")
    }

    func testAPackBuildsByteIdenticallyAnyTimeAnywhere() throws {
        let f = try Fixture(self)
        writeEvidencePipeline(f)
        let run = f.run(["run", "report"], environment: secretEnvironment())
        assertExit(run, 0)
        let job = try jobID(run)
        var packs: [Data] = []
        for (index, environment) in [[:], ["TZ": "Asia/Tokyo", "LANG": "C", "LC_ALL": "C"], ["TZ": "America/St_Johns"]].enumerated() {
            for type in ["run", "job"] {
                let out = f.outside + "/packs\(index)-\(type)"
                let arguments = ["pack", "build", "--type", type, "--from", job, "--out", out]
                let result: ProcessResult
                if index == 1 {
                    // umask 077 through a shell: the pack's own modes must not follow it.
                    let quoted = ([PipelineBinary.path] + arguments).map { "'\($0)'" }.joined(separator: " ")
                    let shell = Process()
                    shell.executableURL = URL(fileURLWithPath: "/bin/sh")
                    shell.arguments = ["-c", "umask 077 && cd '\(f.root)' && \(quoted)"]
                    var env = ProcessInfo.processInfo.environment
                    for (k, v) in environment { env[k] = v }
                    shell.environment = env
                    let pipe = Pipe()
                    shell.standardOutput = pipe
                    try shell.run()
                    shell.waitUntilExit()
                    XCTAssertEqual(shell.terminationStatus, 0)
                    result = ProcessResult(status: shell.terminationStatus, stdout: String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self),
                                           stderr: "", seconds: 0)
                } else {
                    result = f.run(arguments, environment: environment.mapValues { $0 })
                    assertExit(result, 0)
                }
                let path = result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
                XCTAssertTrue(path.hasPrefix(out + "/pack_") && path.hasSuffix(".zip"), path)
                packs.append(try Data(contentsOf: URL(fileURLWithPath: path)))
            }
        }
        XCTAssertEqual(packs[0], packs[2], "run pack: same bytes under another TZ, locale and umask")
        XCTAssertEqual(packs[0], packs[4])
        XCTAssertEqual(packs[1], packs[3], "job pack: same bytes")
        XCTAssertEqual(packs[1], packs[5])
    }

    func testValidPacksVerifyAndOtherZipToolsReadThem() throws {
        let f = try Fixture(self)
        writeEvidencePipeline(f)
        let run = f.run(["run", "report"], environment: secretEnvironment())
        let job = try jobID(run)
        assertExit(f.run(["key", "gen", "--out-dir", f.outside]), 0)
        var paths: [String] = []
        for type in ["run", "job"] {
            let result = f.run(["pack", "build", "--type", type, "--from", job, "--out", f.outside + "/\(type)"])
            assertExit(result, 0)
            paths.append(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        let signed = f.run(["pack", "build", "--type", "run", "--from", job, "--out", f.outside + "/signed", "--sign",
                            "--private-key", f.outside + "/pipeline_private.key"])
        assertExit(signed, 0)
        let signedPath = signed.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertEqual(Path.lastComponent(signedPath), Path.lastComponent(paths[0]), "a signature does not change the pack id")
        for path in paths + [signedPath] {
            assertExit(f.run(["pack", "verify", path]), 0)
            let python = Process()
            python.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            python.arguments = ["python3", "-c", """
                import sys, zipfile
                z = zipfile.ZipFile(sys.argv[1])
                assert z.testzip() is None
                for i in z.infolist():
                    assert i.compress_type == 0, i.filename
                    assert i.date_time == (1980, 1, 1, 0, 0, 0), i.date_time
                    assert not i.is_dir()
                names = [i.filename for i in z.infolist()]
                assert names == sorted(names), names
                assert 'pack_manifest.json' in names
                """, path]
            try python.run()
            python.waitUntilExit()
            XCTAssertEqual(python.terminationStatus, 0, "python zipfile reads \(path)")
            if FileManager.default.isExecutableFile(atPath: "/usr/bin/unzip") {
                let unzip = Process()
                unzip.executableURL = URL(fileURLWithPath: "/usr/bin/unzip")
                unzip.arguments = ["-t", "-qq", path]
                try unzip.run()
                unzip.waitUntilExit()
                XCTAssertEqual(unzip.terminationStatus, 0, "unzip -t accepts \(path)")
            }
        }
        // Signatures: verified with the key, skipped without, required under strict.
        let withKey = f.run(["pack", "verify", signedPath, "--public-key", f.outside + "/pipeline_public.key", "--profile", "strict", "--json"])
        assertExit(withKey, 0)
        let report = try XCTUnwrap(JSONLines(withKey.stdout).of("pipeline.pack_verify").first)
        XCTAssertEqual(report["signature"] as? String, "verified")
        XCTAssertEqual(report["ok"] as? Bool, true)
        let skipped = try XCTUnwrap(JSONLines(f.run(["pack", "verify", signedPath, "--json"]).stdout).of("pipeline.pack_verify").first)
        XCTAssertEqual(skipped["signature"] as? String, "skipped")
        let strictUnsigned = f.run(["pack", "verify", paths[0], "--profile", "strict", "--json"])
        assertExit(strictUnsigned, 2)
        XCTAssertEqual(JSONLines(strictUnsigned.stdout).of("pipeline.pack_verify").first?["signature"] as? String, "missing")
        XCTAssertEqual(JSONLines(strictUnsigned.stdout).of("pipeline.error").first?["error_code"] as? String, "verification_failed")
        assertExit(f.run(["pack", "verify", paths[0], "--require-signature"]), 2)
        // The zip bomb guards: a cap per entry and in total.
        let capped = f.run(["pack", "verify", paths[0], "--max-entry-size", "16", "--json"])
        assertExit(capped, 2)
        XCTAssertEqual((JSONLines(capped.stdout).of("pipeline.pack_verify").first?["problems"] as? [[String: Any]])?.first?["code"] as? String,
                       "limit_exceeded", capped.transcript)
        assertExit(f.run(["pack", "verify", paths[0], "--max-total-size", "1K"]), 2)
        assertExit(f.run(["pack", "verify", paths[0], "--max-total-size", "lots"]), 6)

        // Inspect is deterministic; diff says same/different with exit 0/2.
        let inspectA = f.run(["pack", "inspect", paths[0], "--json"])
        assertExit(inspectA, 0)
        XCTAssertEqual(inspectA.stdout, f.run(["pack", "inspect", paths[0], "--json"]).stdout)
        let summary = try XCTUnwrap(JSONLines(inspectA.stdout).of("pipeline.pack_inspect").first)
        XCTAssertEqual((summary["timeline"] as? [[String: Any]])?.map { $0["step"] as? String }, ["fetch", "report"])
        assertExit(f.run(["pack", "inspect", paths[1]]), 0)
        assertExit(f.run(["pack", "diff", paths[0], paths[0]]), 0)
        let diff = f.run(["pack", "diff", paths[0], signedPath, "--json"])
        assertExit(diff, 2)
        XCTAssertEqual(diff.stdout, f.run(["pack", "diff", paths[0], signedPath, "--json"]).stdout, "diff twice gives identical bytes")
        try validate(f, [Data(diff.stdout.utf8)], schema: "schemas/v1/pack/diff.schema.json")
        assertExit(f.run(["pack", "diff", paths[0], f.outside + "/missing.zip"]), 6)
    }

    func testPackAndSignRulesInAPipelinefile() throws {
        let f = try Fixture(self)
        assertExit(f.run(["key", "gen", "--out-dir", f.outside]), 0)
        let privateKey = try String(contentsOfFile: f.outside + "/pipeline_private.key", encoding: .utf8)
        f.write("src/app.txt", "app v1\n")
        f.pipelinefile("""
            pipeline: 1
            vars: { out: build }
            steps:
              app:
                run: cp src/app.txt ${out}/app
                inputs: [src/app.txt]
                outputs: ["${out}/app"]
              release:
                needs: [app]
                use: pack
                with: { type: run, out: dist, sign: "env:PIPELINE_SIGNING_KEY" }
              checksums:
                needs: [app]
                use: sign
                with: { files: ["${out}/app"], key: "env:PIPELINE_SIGNING_KEY" }
              all:
                needs: [release, checksums]
            """)
        let environment: [String: String?] = ["PIPELINE_SIGNING_KEY": privateKey.trimmingCharacters(in: .whitespacesAndNewlines)]
        let first = f.run(["run", "all"], environment: environment)
        assertExit(first, 0)
        let packs = try FileManager.default.contentsOfDirectory(atPath: f.root + "/dist")
        XCTAssertEqual(packs.count, 1, "\(packs)")
        let pack = f.root + "/dist/" + packs[0]
        let verify = f.run(["pack", "verify", pack, "--profile", "strict", "--public-key", f.outside + "/pipeline_public.key", "--json"])
        assertExit(verify, 0)
        let signature = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: f.root + "/build/app.sig"))) as? [String: Any])
        XCTAssertEqual(signature["file"] as? String, "build/app")
        XCTAssertEqual(signature["alg"] as? String, "ed25519")
        // The second run changes nothing; after a clean, the pack is restored identical.
        let second = f.run(["run", "all", "--json"], environment: environment)
        assertExit(second, 0)
        XCTAssertEqual(JSONLines(second.stdout).count("ran"), 0, second.transcript)
        let before = try Data(contentsOf: URL(fileURLWithPath: pack))
        f.remove("dist")
        f.remove("build")
        assertExit(f.run(["run", "all"], environment: environment), 0)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: pack)), before, "a restored pack is the same pack")
        // A signing key that is not there fails the step with a clear message.
        f.write("src/app.txt", "app v2\n")
        let missing = f.run(["run", "all"], environment: ["PIPELINE_SIGNING_KEY": nil])
        assertExit(missing, 1)
        assertContains(missing.stderr, "PIPELINE_SIGNING_KEY")
    }

    func testCaptureRecordsAnAdHocCommand() throws {
        let f = try Fixture(self)
        f.write("in.txt", "abc\n")
        let result = f.run(["capture", "--name", "count", "--input", "in.txt", "--output", "out.txt", "--", "/bin/sh", "-c", "wc -c < in.txt > out.txt; echo done"])
        assertExit(result, 0)
        assertContains(result.stdout, "done")
        let job = try jobID(result)
        let records = try runRecords(f, job: job)
        XCTAssertEqual(records.count, 1)
        XCTAssertEqual(records[0]["step"] as? String, "count")
        XCTAssertEqual((records[0]["command"] as? [String: Any])?["argv"] as? [String], ["/bin/sh", "-c", "wc -c < in.txt > out.txt; echo done"])
        XCTAssertEqual((records[0]["outputs"] as? [[String: Any]])?.first?["path"] as? String, "out.txt")
        let show = f.run(["job", "show", job, "--json", "--store", ".pipeline"])
        XCTAssertEqual(JSONLines(show.stdout).documents.first?["status"] as? String, "completed")
        let pack = f.run(["pack", "build", "--type", "run", "--from", f.root + "/.pipeline/jobs/" + job, "--out", f.outside])
        assertExit(pack, 0)
        assertExit(f.run(["pack", "verify", pack.stdout.trimmingCharacters(in: .whitespacesAndNewlines)]), 0)
        let failing = f.run(["capture", "--", "/bin/sh", "-c", "exit 4"])
        assertExit(failing, 1)
        assertExit(f.run(["capture", "--", "no-such-program-xyz"]), 7)
        assertExit(f.run(["capture"]), 6)
    }

    /// Validates JSON documents against a schema of the repository with python's jsonschema.
    func validate(_ f: Fixture, _ documents: [Data], schema: String) throws {
        let repo = PipelineBinary.directory(of: PipelineBinary.directory(of: PipelineBinary.directory(of: #filePath)))
        let file = f.outside + "/docs-\(UUID().uuidString).json"
        let array = try documents.map { try JSONSerialization.jsonObject(with: $0) }
        try JSONSerialization.data(withJSONObject: array).write(to: URL(fileURLWithPath: file))
        let python = Process()
        python.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        python.arguments = ["python3", "-c", """
            import json, sys, jsonschema
            schema = json.load(open(sys.argv[1]))
            for doc in json.load(open(sys.argv[2])):
                jsonschema.validate(doc, schema, cls=jsonschema.Draft202012Validator)
            """, repo + "/" + schema, file]
        try python.run()
        python.waitUntilExit()
        XCTAssertEqual(python.terminationStatus, 0, "documents match \(schema)")
    }
}

/// Bad input to the evidence commands and rules: a clear message and exit 6.
final class EvidenceInputTests: XCTestCase {
    func testBadFlagsAndRuleSettingsAreUsageErrors() throws {
        let f = try Fixture(self)
        f.writeChain()
        let run = f.run(["run"])
        let job = String(run.stderr.split(separator: "\n").first { $0.hasPrefix("job ") }?.dropFirst(4) ?? "")
        let cases: [([String], String)] = [
            (["pack", "build", "--type", "bogus", "--from", job], "--type must be run or job"),
            (["pack", "build", "--type", "run", "--from", job, "--sign"], "--sign needs --private-key"),
            (["pack", "build", "--type", "run", "--from", "nonsense"], "neither a job id nor a job folder"),
            (["pack", "verify", "x.zip", "--profile", "paranoid"], "--profile must be standard or strict"),
            (["replay", "nonsense"], "neither a job id nor a job folder"),
        ]
        for (arguments, message) in cases {
            let result = f.run(arguments)
            assertExit(result, 6, arguments.joined(separator: " "))
            assertContains(result.stderr, message)
        }
        f.pipelinefile("pipeline: 1\nsteps:\n  release:\n    use: pack\n    with: { type: run }\n")
        let noOut = f.run(["run"])
        assertExit(noOut, 6)
        assertContains(noOut.stderr, "Pipelinefile.yaml:5:")
        assertContains(noOut.stderr, "out")
        f.pipelinefile("pipeline: 1\nsteps:\n  sig:\n    use: sign\n    with: { files: [a.txt], colour: blue }\n")
        let unknown = f.run(["run"])
        assertExit(unknown, 6)
        assertContains(unknown.stderr, "unknown field 'colour'")
    }
}
