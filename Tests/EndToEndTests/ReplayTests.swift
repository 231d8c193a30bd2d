import Foundation
import Glibc
import XCTest

/// `pipeline replay` through the built binary: stub checks of jobs and packs, the four
/// interlocks of real replay, reproduced / differs / stubbed, and a workspace left untouched.
final class ReplayTests: XCTestCase {
    static let interlocks = ["--real-tools", "--unsafe-real-tools", "--allow-tools", "tr,sh"]
    static let allowed: [String: String?] = ["PIPELINE_ALLOW_REAL_REPLAY": "1"]

    /// `upper` is deterministic (tr); `stamp` writes the time (sh); `mark` touches a marker
    /// outside the workspace, so a test sees whether anything executed.
    func writeReplayPipeline(_ f: Fixture) {
        f.write("src.txt", "hello replay\n")
        f.pipelinefile("""
            pipeline: 1
            steps:
              upper:
                run: tr a-z A-Z < src.txt > out/upper.txt
                inputs: [src.txt]
                outputs: [out/upper.txt]
              stamp:
                needs: [upper]
                run: sh -c 'date +%s%N > out/stamp.txt; cat out/upper.txt >> out/stamp.txt'
                outputs: [out/stamp.txt]
              mark:
                run: touch \(f.outside)/marker && cp src.txt out/copy.txt
                inputs: [src.txt]
                outputs: [out/copy.txt]
            """)
    }

    func recordedJob(_ f: Fixture) throws -> String {
        let run = f.run(["run", "stamp", "mark"])
        assertExit(run, 0)
        unlink(f.outside + "/marker")
        let line = try XCTUnwrap(run.stderr.split(separator: "\n").first { $0.hasPrefix("job ") }, run.transcript)
        return String(line.dropFirst(4))
    }

    func steps(_ result: ProcessResult) -> [String: String] {
        let report = JSONLines(result.stdout).of("pipeline.replay").first
        var statuses: [String: String] = [:]
        for step in report?["steps"] as? [[String: Any]] ?? [] { statuses[step["step"] as! String] = step["status"] as? String }
        return statuses
    }

    func testStubReplayOfAJobAndOfAPackVerifiesWithoutRunningAnything() throws {
        let f = try Fixture(self)
        writeReplayPipeline(f)
        let job = try recordedJob(f)
        let before = f.tree(excluding: [])
        let stub = f.run(["replay", job, "--json"])
        assertExit(stub, 0)
        XCTAssertEqual(steps(stub), ["upper": "verified", "stamp": "verified", "mark": "verified"])
        XCTAssertEqual(JSONLines(stub.stdout).of("pipeline.replay").first?["mode"] as? String, "stub")
        let pack = f.run(["pack", "build", "--type", "run", "--from", job, "--out", f.outside])
        assertExit(pack, 0)
        let packPath = pack.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let fromPack = f.run(["replay", packPath, "--json", "--out", f.outside + "/restored"])
        assertExit(fromPack, 0)
        XCTAssertEqual(steps(fromPack).values.sorted(), ["verified", "verified", "verified"])
        XCTAssertEqual(try String(contentsOfFile: f.outside + "/restored/out/upper.txt", encoding: .utf8), "HELLO REPLAY\n")
        XCTAssertEqual(stub.stdout, f.run(["replay", job, "--json"]).stdout, "the report is deterministic")
        XCTAssertFalse(FileManager.default.fileExists(atPath: f.outside + "/marker"), "stub replay executes nothing")
        XCTAssertEqual(f.tree(excluding: []), before, "the workspace is untouched")

        // A pack missing a blob: missing_result, exit 2.
        let broken = f.outside + "/broken.zip"
        let python = Process()
        python.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        python.arguments = ["python3", "-c", """
            import sys, zipfile
            src = zipfile.ZipFile(sys.argv[1])
            record = [n for n in src.namelist() if n.startswith('runs/') and n.endswith('_upper.json')][0]
            import json
            upper = json.loads(src.read(record))['outputs'][0]['sha256']
            with zipfile.ZipFile(sys.argv[2], 'w') as out:
                for info in src.infolist():
                    if info.filename != 'blobs/sha256/' + upper:
                        out.writestr(info, src.read(info))
            """, packPath, broken]
        try python.run()
        python.waitUntilExit()
        XCTAssertEqual(python.terminationStatus, 0)
        let missing = f.run(["replay", broken, "--json"])
        assertExit(missing, 2)
        XCTAssertEqual(steps(missing)["upper"], "missing_result")
        XCTAssertEqual(JSONLines(missing.stdout).of("pipeline.error").first?["exit_code"] as? Int, 2)
    }

    func testEachMissingInterlockRefusesWithExit8AndRunsNothing() throws {
        let f = try Fixture(self)
        writeReplayPipeline(f)
        let job = try recordedJob(f)
        let cases: [(arguments: [String], environment: [String: String?], missing: String)] = [
            (["--unsafe-real-tools", "--allow-tools", "touch,tr,sh"], Self.allowed, "--real-tools"),
            (["--real-tools", "--allow-tools", "touch,tr,sh"], Self.allowed, "--unsafe-real-tools"),
            (["--real-tools", "--unsafe-real-tools"], Self.allowed, "--allow-tools"),
            (["--real-tools", "--unsafe-real-tools", "--allow-tools", "touch,tr,sh"], ["PIPELINE_ALLOW_REAL_REPLAY": nil], "PIPELINE_ALLOW_REAL_REPLAY=1"),
        ]
        for item in cases {
            let result = f.run(["replay", job] + item.arguments, environment: item.environment)
            assertExit(result, 8, item.missing)
            assertContains(result.stderr, item.missing)
            XCTAssertFalse(FileManager.default.fileExists(atPath: f.outside + "/marker"), "nothing ran without \(item.missing)")
        }
    }

    func testRealReplayReproducesDetectsDifferencesAndStubsWhatIsNotAllowed() throws {
        let f = try Fixture(self)
        writeReplayPipeline(f)
        let job = try recordedJob(f)
        let before = f.tree(excluding: [])
        let deterministic = f.run(["replay", job, "--json", "--real-tools", "--unsafe-real-tools", "--allow-tools", "tr"], environment: Self.allowed)
        assertExit(deterministic, 0)
        XCTAssertEqual(steps(deterministic), ["upper": "reproduced", "stamp": "stubbed", "mark": "stubbed"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: f.outside + "/marker"), "a step whose tool is not allowed never runs")

        let all = f.run(["replay", job, "--json"] + Self.interlocks, environment: Self.allowed)
        assertExit(all, 5)
        XCTAssertEqual(steps(all)["stamp"], "differs")
        let stamp = (JSONLines(all.stdout).of("pipeline.replay").first?["steps"] as? [[String: Any]])?.first { $0["step"] as? String == "stamp" }
        XCTAssertEqual((stamp?["changed"] as? [[String: Any]])?.first?["path"] as? String, "out/stamp.txt")
        let human = f.run(["replay", job] + Self.interlocks, environment: Self.allowed)
        assertExit(human, 5)
        assertContains(human.stdout, "differs")
        assertContains(human.stdout, "out/stamp.txt")
        XCTAssertEqual(f.tree(excluding: []), before, "real replay runs in a scratch folder, never in the workspace")
    }

    func testReplayRuleAssertsReproducibilityInAPipelinefile() throws {
        let f = try Fixture(self)
        f.write("src.txt", "abc\n")
        f.pipelinefile("""
            pipeline: 1
            steps:
              upper:
                run: tr a-z A-Z < src.txt > out/upper.txt
                inputs: [src.txt]
                outputs: [out/upper.txt]
              stamp:
                run: sh -c 'date +%s%N > out/stamp.txt'
                outputs: [out/stamp.txt]
              check:
                needs: [upper]
                use: replay
                with: { report: out/replay.json }
              check-stamp:
                needs: [stamp]
                use: replay
                with: { allow_tools: [sh] }
            """)
        assertExit(f.run(["run", "check"]), 0)
        let report = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: f.root + "/out/replay.json"))) as? [String: Any])
        XCTAssertEqual(report["mode"] as? String, "stub", "without the interlocks the rule only checks")
        assertExit(f.run(["run", "check-stamp"]), 0, "stub mode: the stamp's result is there")
        f.write("src.txt", "abcd\n")
        let real = f.run(["run", "check", "check-stamp", "--real-tools", "--unsafe-real-tools", "--allow-tools", "tr,sh"], environment: Self.allowed)
        assertExit(real, 5)
        assertContains(real.stderr, "did not reproduce: stamp")
        assertExit(f.run(["run", "check", "--real-tools"]), 8)
    }
}
