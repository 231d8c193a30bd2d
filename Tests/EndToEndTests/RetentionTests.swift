import Foundation
import Glibc
import Pipeline
import XCTest

/// `pipeline gc`, pins and `store check` through the built binary.
final class RetentionTests: XCTestCase {
    static let harshest = ["gc", "--keep-jobs", "0", "--ttl", "0s", "--max-size", "0"]

    func jobID(_ result: ProcessResult) -> String {
        String(result.stderr.split(separator: "\n").first { $0.hasPrefix("job ") }?.dropFirst(4) ?? "")
    }

    /// Three builds with different inputs, so the store holds old results too.
    func buildHistory(_ f: Fixture) -> [String] {
        f.writeChain()
        var jobs: [String] = []
        for text in ["one\n", "two\n", "three\n"] {
            f.write("src/in.txt", text)
            let run = f.run(["run"])
            assertExit(run, 0)
            jobs.append(jobID(run))
        }
        return jobs
    }

    func testAfterAnyGCTheNextRunIsANoOpAndPinnedAndActiveJobsSurvive() throws {
        let f = try Fixture(self)
        let jobs = buildHistory(f)
        assertExit(f.run(["pin", "add", "job", jobs[0]]), 0)
        // An active job: waiting at an approval gate.
        f.pipelinefile((f.read("Pipelinefile.yaml") ?? "") + """

              gate:
                needs: [c]
                use: approve
                with: { summary: "ship?" }
            """)
        let waiting = f.run(["run", "gate"])
        assertExit(waiting, 4)
        let active = jobID(waiting)
        let policies: [[String]] = [["gc"], ["gc", "--keep-jobs", "0"], ["gc", "--ttl", "0s"], ["gc", "--max-size", "0"], Self.harshest]
        for policy in policies {
            let gc = f.run(policy + ["--json"])
            assertExit(gc, 0, policy.joined(separator: " "))
            let listed = f.run(["job", "list"]).stdout
            assertContains(listed, jobs[0], "the pinned job survives \(policy)")
            assertContains(listed, active, "the active job survives \(policy)")
            let next = f.run(["run", "c", "other", "--json"])
            assertExit(next, 0)
            XCTAssertEqual(JSONLines(next.stdout).count("ran"), 0, "after \(policy) the next run executes nothing: \(next.transcript)")
            XCTAssertEqual(JSONLines(next.stdout).count("restored"), 0, "nor restores anything")
            assertExit(f.run(["store", "check"]), 0, "the store is intact after \(policy)")
        }
        assertContains(f.run(["job", "show", jobs[0]]).stdout, "completed", "the pinned job is whole")
        let removedJob = f.run(["job", "show", jobs[1]])
        assertExit(removedJob, 6, "an unpinned old job went")
        // The pin is listed in the report; removing it lets gc take the job.
        let report = try XCTUnwrap(JSONLines(f.run(Self.harshest + ["--json"]).stdout).of("pipeline.gc_report").first)
        XCTAssertEqual((report["pins"] as? [[String: Any]])?.first?["id"] as? String, jobs[0])
        assertExit(f.run(["pin", "rm", "job", jobs[0]]), 0)
        assertExit(f.run(Self.harshest), 0)
        assertExit(f.run(["job", "show", jobs[0]]), 6)
    }

    func testDryRunRemovesNothingAndSaysWhatItWould() throws {
        let f = try Fixture(self)
        _ = buildHistory(f)
        let before = f.tree(excluding: [".pipeline/reports"])
        let dry = f.run(Self.harshest + ["--dry-run"])
        assertExit(dry, 0)
        assertContains(dry.stdout, "would remove job")
        assertContains(dry.stdout, "would remove result")
        XCTAssertEqual(f.tree(excluding: [".pipeline/reports"]), before, "a dry run deletes nothing")
        let reports = try FileManager.default.contentsOfDirectory(atPath: f.root + "/.pipeline/reports")
        XCTAssertEqual(reports.count, 1)
        let report = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: f.root + "/.pipeline/reports/" + reports[0]))) as? [String: Any])
        XCTAssertEqual(report["dry_run"] as? Bool, true)
        XCTAssertEqual(report["status"] as? String, "dry_run")
        XCTAssertGreaterThan((report["removed"] as? [Any])?.count ?? 0, 0)
    }

    func testTheReportIsWrittenBeforeTheFirstDeletion() throws {
        let f = try Fixture(self)
        let jobs = buildHistory(f)
        let killed = f.run(Self.harshest, environment: ["PIPELINE_FAULT_INJECT": "gc.after_first_delete"])
        XCTAssertEqual(killed.status, 128 + SIGKILL, killed.transcript)
        let reports = try FileManager.default.contentsOfDirectory(atPath: f.root + "/.pipeline/reports")
        XCTAssertEqual(reports.count, 1, "the report exists although gc died after its first deletion")
        let report = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: f.root + "/.pipeline/reports/" + reports[0]))) as? [String: Any])
        XCTAssertEqual(report["status"] as? String, "planned")
        XCTAssertTrue(((report["removed"] as? [[String: Any]]) ?? []).contains { $0["id"] as? String == jobs[0] })
        // The store is consistent; the next gc finishes the work; the next run is a no-op.
        assertExit(f.run(["store", "check"]), 0)
        assertExit(f.run(Self.harshest), 0)
        let next = f.run(["run", "--json"])
        XCTAssertEqual(JSONLines(next.stdout).count("ran"), 0, next.transcript)
    }

    func testGCConcurrentWithRunningBuildsNeverBreaksThem() throws {
        let f = try Fixture(self)
        f.write("src/in.txt", "seed\n")
        var steps = "pipeline: 1\nsteps:\n"
        for i in 0..<6 {
            steps += "  s\(i):\n    run: sleep 0.02; cat src/in.txt > out/s\(i).txt; echo \(i) >> out/s\(i).txt\n    inputs: [src/in.txt]\n    outputs: [out/s\(i).txt]\n"
        }
        f.pipelinefile(steps)
        let rounds = Int(ProcessInfo.processInfo.environment["GC_RACE_ROUNDS"] ?? "") ?? 20
        assertExit(f.run(Self.harshest), 0, "no store yet: nothing to collect")
        assertExit(f.run(["run"]), 0)
        for round in 0..<rounds {
            f.write("src/in.txt", "round \(round % 3)\n")
            let build = try f.start(["run", "-j2"])
            let gc = f.run(Self.harshest)
            let result = build.wait()
            assertExit(result, 0, "round \(round): the build survives a concurrent gc")
            assertExit(gc, 0, "round \(round)")
            for i in 0..<6 { XCTAssertEqual(f.read("out/s\(i).txt"), "round \(round % 3)\n\(i)\n", "round \(round): s\(i) is right") }
        }
        assertExit(f.run(Self.harshest), 0)
        let next = f.run(["run", "--json"])
        XCTAssertEqual(JSONLines(next.stdout).count("ran"), 0, next.transcript)
        assertExit(f.run(["store", "check"]), 0)
    }

    func testStoreCheckFindsDamageAndChangesNothing() throws {
        let f = try Fixture(self)
        _ = buildHistory(f)
        assertExit(f.run(["store", "check"]), 0)
        let store = try LocalStore(root: f.root + "/.pipeline", create: false)
        let inventory = store.inventory()
        let results = inventory.results.keys.sorted()
        let resultBlobs = try results.map { try XCTUnwrap(store.result(for: ActionKey($0))).files[0].digest }
        let logPath = f.root + "/.pipeline/store.log"
        var log = try Data(contentsOf: URL(fileURLWithPath: logPath))

        // A flipped byte in a blob: find its record and flip one payload byte.
        func payloadOffset(_ digest: Digest) throws -> Int {
            let header = Data("B \(digest.hex) ".utf8)
            let start = try XCTUnwrap(log.range(of: header)).upperBound
            return try XCTUnwrap(log[start...].firstIndex(of: 0x0A)) + 1 + 1  // skip size/time, then one byte in
        }
        let flipped = resultBlobs[0]
        log[try payloadOffset(flipped)] ^= 0x20
        // A missing blob: rename its header so nothing names it any more.
        let missing = resultBlobs.first { $0 != flipped }!
        let header = Data("B \(missing.hex)".utf8)
        let range = try XCTUnwrap(log.range(of: header))
        log.replaceSubrange(range, with: Data("B \(String(repeating: "0", count: 64))".utf8))
        try log.write(to: URL(fileURLWithPath: logPath))

        let before = f.tree(excluding: [])
        let check = f.run(["store", "check", "--json"])
        assertExit(check, 2)
        let report = try XCTUnwrap(JSONLines(check.stdout).of("pipeline.store_check").first)
        let codes = Set(((report["problems"] as? [[String: Any]]) ?? []).compactMap { $0["code"] as? String })
        XCTAssertTrue(codes.isSuperset(of: ["corrupt_blob", "dangling_result"]), "\(codes)")
        let problems = (report["problems"] as? [[String: Any]]) ?? []
        XCTAssertTrue(problems.contains { $0["code"] as? String == "corrupt_blob" && $0["id"] as? String == flipped.hex })
        XCTAssertTrue(problems.contains { ($0["message"] as? String)?.contains(missing.hex) == true && ($0["message"] as? String)?.contains("missing") == true })
        XCTAssertEqual(f.tree(excluding: []), before, "store check changes nothing")

        // --repair removes what is damaged; the builds then run what they must, correctly.
        let repair = f.run(["store", "check", "--repair"])
        assertExit(repair, 0)
        assertContains(repair.stdout, "repaired")
        // What repair cannot mend stays reported: jobs whose evidence names the lost blobs.
        let after = try XCTUnwrap(JSONLines(f.run(["store", "check", "--json"]).stdout).of("pipeline.store_check").first)
        XCTAssertEqual(Set(((after["problems"] as? [[String: Any]]) ?? []).compactMap { $0["code"] as? String }), ["job_missing_blob"])
        f.remove("out")
        assertExit(f.run(["run"]), 0)
        XCTAssertEqual(f.read("out/a.out"), "THREE\n")
    }

    func testRetentionValuesAreCheckedWhereTheyAreWritten() throws {
        let f = try Fixture(self)
        f.pipelinefile("pipeline: 1\nretention: { keep_jobs: 5, ttl: 30x }\nsteps:\n  a: { run: 'true' }\n")
        let bad = f.run(["run"])
        assertExit(bad, 6)
        assertContains(bad.stderr, "Pipelinefile.yaml:2:")
        assertContains(bad.stderr, "ttl")
        f.pipelinefile("pipeline: 1\nretention: { keep_jobs: 1, ttl: 30d, max_size: 10GiB }\nsteps:\n  a: { run: 'true' }\n")
        assertExit(f.run(["run"]), 0)
        assertExit(f.run(["run", "--force", "a"]), 0)
        let jobs = f.run(["job", "list"]).stdoutLines.count
        let gc = f.run(["gc", "--json"])
        assertExit(gc, 0)
        let report = try XCTUnwrap(JSONLines(gc.stdout).of("pipeline.gc_report").first)
        XCTAssertEqual((report["policy"] as? [String: Any])?["keep_jobs"] as? Int, 1)
        XCTAssertEqual((report["removed"] as? [[String: Any]])?.filter { $0["class"] as? String == "job" }.count, jobs - 1)
        XCTAssertEqual(f.run(["job", "list"]).stdoutLines.count, 1)
        assertExit(f.run(["gc", "--ttl", "soon"]), 6)
    }

    func testPinnedPacksAndStepsKeepTheirBlobs() throws {
        let f = try Fixture(self)
        let jobs = buildHistory(f)
        let pack = f.run(["pack", "build", "--type", "run", "--from", jobs[0], "--out", f.outside])
        assertExit(pack, 0)
        let packPath = pack.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        assertExit(f.run(["pin", "add", "pack", packPath]), 0)
        assertExit(f.run(["pin", "add", "step", "other"]), 0)
        assertExit(f.run(["pin", "add", "step", "nope"]), 6)
        assertExit(f.run(["pin", "add", "box", "x"]), 6)
        let list = f.run(["pin", "list"])
        assertContains(list.stdout, "pack")
        assertContains(list.stdout, "step  other")
        let gc = try XCTUnwrap(JSONLines(f.run(Self.harshest + ["--json"]).stdout).of("pipeline.gc_report").first)
        XCTAssertEqual((gc["pins"] as? [[String: Any]])?.count, 2)
        // The pack's source job and every blob it carries are still there: a replay of it verifies.
        assertExit(f.run(["job", "show", jobs[0]]), 0)
        assertExit(f.run(["replay", jobs[0]]), 0)
        assertExit(f.run(["pin", "rm", "pack", packPath]), 0)
        assertExit(f.run(["pin", "rm", "pack", packPath]), 6)
        assertExit(f.run(Self.harshest), 0)
        assertExit(f.run(["job", "show", jobs[0]]), 6, "unpinned, the old job goes")
    }
}
