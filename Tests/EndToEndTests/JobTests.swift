import Foundation
import XCTest

/// Every run is a job: its id comes first on stderr, and `pipeline job` shows what it did.
final class JobTests: XCTestCase {
    func testRunPrintsItsJobIdFirstAndRecordsTheOutcome() throws {
        let f = try Fixture(self)
        f.writeChain()
        let result = f.run(["run"])
        assertExit(result, 0)
        let first = result.stderr.split(separator: "\n").first.map(String.init) ?? ""
        XCTAssertNotNil(first.range(of: #"^job [0-9]{8}T[0-9]{6}Z-[0-9a-f]{6}$"#, options: .regularExpression), result.transcript)
        let id = String(first.dropFirst(4))

        let shown = f.run(["job", "show", id, "--json"])
        assertExit(shown, 0)
        let job = try XCTUnwrap(JSONLines(shown.stdout).documents.first)
        XCTAssertEqual(job["schema_id"] as? String, "pipeline.job")
        XCTAssertEqual(job["status"] as? String, "completed")
        let checkpoints = job["checkpoints"] as? [[String: Any]] ?? []
        // plan, one progress checkpoint per step that ran, completed.
        XCTAssertEqual(checkpoints.map { $0["id"] as? String }, (1...6).map { "cp_000\($0)" })
        XCTAssertEqual(checkpoints.map { $0["type"] as? String }, ["plan", "progress", "progress", "progress", "progress", "completed"])
        XCTAssertEqual(Set(checkpoints.compactMap { $0["step"] as? String }), ["a", "b", "c", "other"])

        // A failing run is a failed job; the JSON documents carry the id.
        f.pipelinefile("pipeline: 1\nsteps:\n  bad: { run: 'exit 3' }\n")
        let failing = f.run(["run", "--json"])
        assertExit(failing, 1)
        let failedID = try XCTUnwrap(JSONLines(failing.stdout).of("pipeline.run").first?["job"] as? String)
        let failedJob = f.run(["job", "show", failedID, "--json"])
        XCTAssertEqual(JSONLines(failedJob.stdout).documents.first?["status"] as? String, "failed")

        let listed = f.run(["job", "list", "--json"])
        assertExit(listed, 0)
        XCTAssertEqual(JSONLines(listed.stdout).documents.map { $0["id"] as? String }, [id, failedID].sorted())
    }

    func testBadJobIdsAreInvalidInput() throws {
        let f = try Fixture(self)
        f.writeChain()
        let bad = f.run(["job", "show", "../etc"])
        assertExit(bad, 6)
        assertContains(bad.stderr, "is not a job id")
        let missing = f.run(["job", "show", "20260101T000000Z-000000"])
        assertExit(missing, 6)
        assertContains(missing.stderr, "no job 20260101T000000Z-000000")
    }
}

/// `use: approve`: the job stops (exit 4), independent work finishes first, and it resumes
/// once approved.
final class ApprovalFlowTests: XCTestCase {
    func testApproveThenResume() throws {
        let f = try Fixture(self)
        f.pipelinefile("""
            pipeline: 1
            steps:
              build: { run: "mkdir -p out && echo built > out/app && \(f.log("build"))", outputs: [out/app] }
              docs: { run: "mkdir -p out && echo docs > out/docs && \(f.log("docs"))", outputs: [out/docs] }
              ship:
                needs: [build]
                use: approve
                with: { summary: "Ship out/app?", required_action: "review out/app" }
              deploy: { needs: [ship], run: "cp out/app out/deployed && \(f.log("deploy"))", outputs: [out/deployed] }
            """)
        let first = f.run(["run"])
        assertExit(first, 4)
        assertContains(first.stderr, "waiting for approval at ship: Ship out/app? (review out/app)")
        XCTAssertEqual(Set(f.logLines), ["build", "docs"], "independent branches finish first")
        XCTAssertFalse(f.exists("out/deployed"))
        let id = String((first.stderr.split(separator: "\n").first ?? "").dropFirst(4))

        let early = f.run(["job", "resume", id])
        assertExit(early, 4)
        assertContains(early.stderr, "waits for approval of cp_0004 (step ship)")

        let noReason = f.run(["job", "approve", id, "--actor", "alice"])
        assertExit(noReason, 6)

        let approve = f.run(["job", "approve", id, "--actor", "alice", "--reason", "checked out/app"])
        assertExit(approve, 0)
        let resumed = f.run(["job", "resume", id])
        assertExit(resumed, 0)
        XCTAssertEqual(f.logLines.sorted(), ["build", "deploy", "docs"], "only what was left runs")
        XCTAssertEqual(f.read("out/deployed"), "built\n")

        let shown = JSONLines(f.run(["job", "show", id, "--json"]).stdout).documents.first
        XCTAssertEqual(shown?["status"] as? String, "completed")
        let approvals = shown?["approvals"] as? [String: [String: String]]
        XCTAssertEqual(approvals?["cp_0004"]?["actor"], "alice")
        XCTAssertEqual(approvals?["cp_0004"]?["reason"], "checked out/app")

        let again = f.run(["job", "resume", id])
        assertExit(again, 6)
        assertContains(again.stderr, "is completed")
    }
}

/// A job is run by one process at a time, and a dead one's job can be taken over.
final class JobLeaseTests: XCTestCase {
    func testAKilledRunIsAbandonedAndResumeFinishesIt() throws {
        let f = try Fixture(self)
        let marker = f.outside + "/started"
        f.pipelinefile("""
            pipeline: 1
            steps:
              first: { run: "mkdir -p out && echo 1 > out/first", outputs: [out/first] }
              slow: { needs: [first], run: "touch \(marker) && sleep 30.25 && echo 2 > out/slow", outputs: [out/slow] }
              last: { needs: [slow], run: "cat out/first out/slow > out/last", outputs: [out/last] }
            """)
        let run = try f.start(["run"])
        XCTAssertTrue(Fixture.waitUntil(timeout: 20) { FileManager.default.fileExists(atPath: marker) })
        run.signal(SIGKILL)
        let killed = run.wait(timeout: 10)
        XCTAssertEqual(killed.status, 128 + SIGKILL)
        // The orphaned `sleep` would finish the step later; stop it as a crashed machine would.
        _ = try? SpawnedProcess(executable: "/usr/bin/pkill", arguments: ["-f", "sleep 30.25"], directory: "/",
                                environment: ProcessInfo.processInfo.environment).wait()
        let id = try XCTUnwrap(try FileManager.default.contentsOfDirectory(atPath: f.root + "/.pipeline/jobs").sorted().last)

        let shown = f.run(["job", "show", id])
        assertContains(shown.stdout, "running (abandoned")
        XCTAssertEqual(JSONLines(f.run(["job", "show", id, "--json"]).stdout).documents.first?["live"] as? Bool, false)

        f.pipelinefile("""
            pipeline: 1
            steps:
              first: { run: "mkdir -p out && echo 1 > out/first", outputs: [out/first] }
              slow: { needs: [first], run: "echo 2 > out/slow", outputs: [out/slow] }
              last: { needs: [slow], run: "cat out/first out/slow > out/last", outputs: [out/last] }
            """)
        // The Pipelinefile changed (no more sleep): the contract makes that explicit.
        assertExit(f.run(["job", "resume", id]), 3)
        let resumed = f.run(["job", "resume", id, "--amend", "--reason", "the slow step no longer sleeps"])
        assertExit(resumed, 0)
        XCTAssertEqual(f.read("out/last"), "1\n2\n")
        XCTAssertEqual(JSONLines(f.run(["job", "show", id, "--json"]).stdout).documents.first?["status"] as? String, "completed")
    }

    func testTwoResumesOfOneJobRunOnce() throws {
        let f = try Fixture(self)
        let marker = f.outside + "/deploying"
        f.pipelinefile("""
            pipeline: 1
            steps:
              gate: { use: approve, with: { summary: "go?", required_action: "say go" } }
              deploy: { needs: [gate], run: "touch \(marker) && sleep 1.5 && mkdir -p out && echo done > out/deploy", outputs: [out/deploy] }
            """)
        let first = f.run(["run"])
        assertExit(first, 4)
        let id = String((first.stderr.split(separator: "\n").first ?? "").dropFirst(4))
        assertExit(f.run(["job", "approve", id, "--actor", "a", "--reason", "go"]), 0)

        let one = try f.start(["job", "resume", id])
        XCTAssertTrue(Fixture.waitUntil(timeout: 20) { FileManager.default.fileExists(atPath: marker) })
        let two = f.run(["job", "resume", id, "--json"])
        assertExit(two, 1)
        XCTAssertEqual(JSONLines(two.stdout).of("pipeline.error").first?["error_code"] as? String, "lease_conflict")
        assertExit(one.wait(timeout: 30), 0)
        XCTAssertEqual(f.read("out/deploy"), "done\n")
    }
}

/// `job pause` and `job cancel` from a second process.
final class JobControlTests: XCTestCase {
    func onlyJob(_ f: Fixture) throws -> String {
        try XCTUnwrap(try FileManager.default.contentsOfDirectory(atPath: f.root + "/.pipeline/jobs").sorted().last)
    }

    func testCancelStopsTheCommandAndLeavesNoHalfOutput() throws {
        let f = try Fixture(self)
        let marker = f.outside + "/child.pid"
        f.pipelinefile("""
            pipeline: 1
            steps:
              long: { run: "mkdir -p out && echo partial > out/x && echo $$ > \(marker) && sleep 100 && echo done >> out/x", outputs: [out/x] }
            """)
        let run = try f.start(["run"])
        XCTAssertTrue(Fixture.waitUntil(timeout: 20) { FileManager.default.fileExists(atPath: marker) && f.exists("out/x") })
        let id = try onlyJob(f)
        let pid = Int32((try String(contentsOfFile: marker, encoding: .utf8)).trimmingCharacters(in: .whitespacesAndNewlines))!
        let cancel = f.run(["job", "cancel", id])
        assertExit(cancel, 0)
        let asked = Date()
        XCTAssertTrue(Fixture.waitUntil(timeout: 1) { kill(pid, 0) != 0 }, "the command is stopped within a second")
        XCTAssertLessThan(Date().timeIntervalSince(asked), 1.0)
        let ended = run.wait(timeout: 10)
        XCTAssertEqual(ended.status, 130, ended.transcript)
        XCTAssertFalse(f.exists("out/x"), "no half-written output")
        XCTAssertEqual(JSONLines(f.run(["job", "show", id, "--json"]).stdout).documents.first?["status"] as? String, "canceled")
        assertExit(f.run(["job", "cancel", id]), 6)
    }

    func testPauseFinishesRunningStepsThenResumeContinues() throws {
        let f = try Fixture(self)
        let marker = f.outside + "/a-started"
        f.pipelinefile("""
            pipeline: 1
            steps:
              a: { run: "touch \(marker) && sleep 1 && mkdir -p out && echo a > out/a && \(f.log("a"))", outputs: [out/a] }
              b: { needs: [a], run: "cp out/a out/b && \(f.log("b"))", outputs: [out/b] }
            """)
        let run = try f.start(["run", "-j1"])
        XCTAssertTrue(Fixture.waitUntil(timeout: 20) { FileManager.default.fileExists(atPath: marker) })
        let id = try onlyJob(f)
        assertExit(f.run(["job", "pause", id]), 0)
        let paused = run.wait(timeout: 20)
        XCTAssertEqual(paused.status, 0, paused.transcript)
        assertContains(paused.stdout, "paused")
        XCTAssertEqual(f.logLines, ["a"], "the running step finished, nothing new started")
        XCTAssertEqual(JSONLines(f.run(["job", "show", id, "--json"]).stdout).documents.first?["status"] as? String, "paused")

        assertExit(f.run(["job", "resume", id]), 0)
        XCTAssertEqual(f.logLines, ["a", "b"])
        XCTAssertEqual(f.read("out/b"), "a\n")
        XCTAssertEqual(JSONLines(f.run(["job", "show", id, "--json"]).stdout).documents.first?["status"] as? String, "completed")
    }
}

/// The job contract: a resumed job builds what it promised, or says exactly what changed.
final class JobContractTests: XCTestCase {
    func gatedPipeline(_ f: Fixture, build: String) {
        f.pipelinefile("""
            pipeline: 1
            env: [MODE]
            steps:
              build: { run: "mkdir -p out && echo \(build) $MODE > out/app", outputs: [out/app] }
              gate: { needs: [build], use: approve, with: { summary: "go?", required_action: "look" } }
              deploy: { needs: [gate], run: "cp out/app out/deployed", outputs: [out/deployed] }
            """)
    }

    func waitingJob(_ f: Fixture, mode: String) throws -> String {
        let first = f.run(["run"], environment: ["MODE": mode])
        assertExit(first, 4)
        let id = String((first.stderr.split(separator: "\n").first ?? "").dropFirst(4))
        assertExit(f.run(["job", "approve", id, "--actor", "alice", "--reason", "ok"]), 0)
        return id
    }

    func status(_ f: Fixture, _ id: String) -> [String: Any]? { JSONLines(f.run(["job", "show", id, "--json"]).stdout).documents.first }

    func testAnEditedPipelinefileIsRefusedUnlessAmended() throws {
        let f = try Fixture(self)
        gatedPipeline(f, build: "v1")
        let id = try waitingJob(f, mode: "a")
        gatedPipeline(f, build: "v2")

        let refused = f.run(["job", "resume", id], environment: ["MODE": "a"])
        assertExit(refused, 3)
        assertContains(refused.stderr, "Pipelinefile.yaml changed since job \(id) started")
        assertContains(refused.stderr, "--amend --reason")
        XCTAssertEqual(status(f, id)?["status"] as? String, "decision_needed", "a refused resume changes nothing")
        assertExit(f.run(["job", "resume", id, "--amend"], environment: ["MODE": "a"]), 6)

        let amended = f.run(["job", "resume", id, "--amend", "--reason", "fixed the build line"], environment: ["MODE": "a"])
        assertExit(amended, 0)
        XCTAssertEqual(f.read("out/deployed"), "v2 a\n")
        XCTAssertEqual(status(f, id)?["epoch"] as? Int, 1)
        let events = try String(contentsOfFile: f.root + "/.pipeline/jobs/\(id)/events.jsonl", encoding: .utf8)
        assertContains(events, #""reason":"fixed the build line""#)
        assertContains(events, #""type":"amendment""#)
    }

    func testAChangedEnvironmentIsRefusedUnlessAllowed() throws {
        let f = try Fixture(self)
        gatedPipeline(f, build: "v1")
        let id = try waitingJob(f, mode: "a")
        let refused = f.run(["job", "resume", id], environment: ["MODE": "b"])
        assertExit(refused, 3)
        assertContains(refused.stderr, "the environment changed since job \(id) started: env:MODE")
        XCTAssertFalse(try String(contentsOfFile: f.root + "/.pipeline/jobs/\(id)/contract.json", encoding: .utf8).contains("\"b\""),
                       "values are only ever hashed")
        let allowed = f.run(["job", "resume", id, "--allow-env-mismatch", "--reason", "MODE b is the release mode"], environment: ["MODE": "b"])
        assertExit(allowed, 0)
        XCTAssertEqual(f.read("out/deployed"), "v1 b\n")
        XCTAssertEqual(status(f, id)?["status"] as? String, "completed")
    }

    func testABadEnvRuleIsInvalidInput() throws {
        let f = try Fixture(self)
        gatedPipeline(f, build: "v1")
        let bad = f.run(["run", "--env-rule", "CC"])
        assertExit(bad, 6)
        assertContains(bad.stderr, "--env-rule takes env:NAME, not 'CC'")
    }

    func testAMissingContractIsAClearError() throws {
        let f = try Fixture(self)
        gatedPipeline(f, build: "v1")
        let id = try waitingJob(f, mode: "a")
        f.remove(".pipeline/jobs/\(id)/contract.json")
        let result = f.run(["job", "resume", id], environment: ["MODE": "a"])
        assertExit(result, 1)
        assertContains(result.stderr, "has no contract")
        assertContains(result.stderr, "pipeline job doctor \(id)")
    }
}

/// Looking back at a job: its timeline, its commands' logs, its checkpoints.
final class JobHistoryTests: XCTestCase {
    func testInspectLogsAndCheckpoints() throws {
        let f = try Fixture(self)
        f.pipelinefile("""
            pipeline: 1
            steps:
              talk: { run: "echo to-stdout && echo to-stderr >&2 && mkdir -p out && touch out/t", outputs: [out/t] }
              quiet: { needs: [talk], run: "touch out/q", outputs: [out/q] }
            """)
        let run = f.run(["run"])
        assertExit(run, 0)
        let id = String((run.stderr.split(separator: "\n").first ?? "").dropFirst(4))

        let logs = f.run(["job", "logs", id, "talk"])
        assertExit(logs, 0)
        assertContains(logs.stdout, "to-stdout")
        assertContains(logs.stdout, "to-stderr")
        let json = JSONLines(f.run(["job", "logs", id, "--json"]).stdout).documents
        XCTAssertEqual(json.map { $0["step"] as? String }, ["talk", "quiet"])
        XCTAssertEqual(json.first?["stderr"] as? String, "to-stderr\n")
        assertExit(f.run(["job", "logs", id, "nope"]), 6)

        let timeline = f.run(["job", "inspect", id])
        assertContains(timeline.stdout, "→ running")
        assertContains(timeline.stdout, "→ completed")
        XCTAssertEqual(JSONLines(f.run(["job", "inspect", id, "--json"]).stdout).documents.map { $0["seq"] as? Int },
                       (1...7).map { $0 })

        let list = f.run(["job", "checkpoint", "list", id])
        assertContains(list.stdout, "cp_0001  plan")
        let shown = f.run(["job", "checkpoint", "show", id, "cp_0002"])
        assertContains(shown.stdout, "step      talk")
        assertExit(f.run(["job", "checkpoint", "show", id, "cp_0099"]), 6)
    }
}
