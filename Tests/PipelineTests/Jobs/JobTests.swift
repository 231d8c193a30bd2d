import Dispatch
import Glibc
import XCTest

@testable import Pipeline

final class JobIDTests: XCTestCase {
    func testMadeIdsAreValidAndSortByTime() {
        let early = JobID.make(nanoseconds: 1_700_000_000_000_000_000)
        let late = JobID.make(nanoseconds: 1_800_000_000_000_000_000)
        XCTAssertTrue(early.rawValue.hasPrefix("20231114T221320Z-"), early.rawValue)
        XCTAssertTrue(JobID.isValid(late.rawValue))
        XCTAssertLessThan(early, late)
    }

    func testRejectsWhatIsNotAnId() {
        for bad in ["", "20231114T221320Z-abcde", "20231114T221320Z-ABCDEF", "20231114 221320Z-abcdef", "../../etc/passwd",
                    "20231114T221320Z-abcdefg", "2023111XT221320Z-abcdef"] {
            XCTAssertNil(JobID(bad), bad)
        }
        XCTAssertNotNil(JobID("20231114T221320Z-0a9f3c"))
    }
}

final class JobStatusTests: XCTestCase {
    /// The whole table, pinned: every allowed pair and, by omission, every refused one.
    func testTransitionTable() {
        let allowed: Set<String> = [
            "queued>running", "queued>canceled",
            "running>paused", "running>decision_needed", "running>blocked", "running>completed", "running>failed", "running>canceled",
            "paused>running", "paused>canceled",
            "decision_needed>running", "decision_needed>canceled",
            "blocked>running", "blocked>failed", "blocked>canceled",
            "failed>running", "failed>canceled",
        ]
        for from in JobStatus.allCases {
            for to in JobStatus.allCases {
                XCTAssertEqual(from.canChange(to: to), allowed.contains("\(from.rawValue)>\(to.rawValue)"), "\(from) → \(to)")
            }
        }
    }

    func testTerminalStatusesStayTerminal() throws {
        for status in JobStatus.allCases where status.isTerminal {
            XCTAssertTrue(JobStatus.transitions[status]!.isEmpty)
        }
        let id = JobID.make()
        XCTAssertThrowsError(try JobStatus.completed.checkChange(to: .running, job: id)) { error in
            let e = error as! PipelineError
            XCTAssertEqual(e.code, .invalidTransition)
            XCTAssertTrue(e.message.contains("is completed"), e.message)
        }
    }
}

final class CheckpointTests: XCTestCase {
    func testValidation() throws {
        XCTAssertNoThrow(try Checkpoint(id: "cp_0001", kind: .plan, summary: "3 steps", createdAt: 0))
        XCTAssertNoThrow(try Checkpoint(id: "cp_0001", kind: .progress, summary: String(repeating: "é", count: 256), createdAt: 0))
        XCTAssertThrowsError(try Checkpoint(id: "cp_0001", kind: .progress, summary: String(repeating: "é", count: 257), createdAt: 0))
        XCTAssertThrowsError(try Checkpoint(id: "cp_0001", kind: .plan, summary: "", createdAt: 0))
        XCTAssertThrowsError(try Checkpoint(id: "cp_0001", kind: .decisionNeeded, summary: "ship?", createdAt: 0))
        XCTAssertNoThrow(try Checkpoint(id: "cp_0001", kind: .decisionNeeded, summary: "ship?", requiredAction: "review dist/", createdAt: 0))
        for bad in ["cp_1", "cp_0000", "cp-0001", "cp_00a1"] {
            XCTAssertThrowsError(try Checkpoint(id: bad, kind: .plan, summary: "x", createdAt: 0), bad)
        }
        XCTAssertEqual(Checkpoint.id(number: 7), "cp_0007")
        XCTAssertEqual(Checkpoint.id(number: 12345), "cp_12345")
    }
}

final class JobStoreTests: XCTestCase {
    func testLifecycleIsLoggedAndSnapshotted() throws {
        let ws = TestWorkspace()
        let store = JobStore(storeRoot: ws.path(".pipeline"))
        let job = try store.create(targets: ["app"], actor: "alice")
        XCTAssertEqual(job.status, .queued)
        XCTAssertEqual(job.revision, 1)
        try store.transition(job.id, to: .running, actor: "pipeline")
        try store.checkpoint(job.id, kind: .plan, summary: "2 steps", actor: "pipeline")
        try store.checkpoint(job.id, kind: .progress, summary: "app ran", step: "app", actor: "pipeline")
        let done = try store.transition(job.id, to: .completed, actor: "pipeline")
        XCTAssertEqual(done.revision, 5)
        XCTAssertEqual(done.checkpoints.map(\.id), ["cp_0001", "cp_0002"])
        XCTAssertEqual(try store.load(job.id), done)
        XCTAssertEqual(try store.events(job.id).map(\.sequence), [1, 2, 3, 4, 5])
        XCTAssertEqual(store.list(), [job.id])

        XCTAssertThrowsError(try store.transition(job.id, to: .running, actor: "bob")) { error in
            XCTAssertEqual((error as? PipelineError)?.code, .invalidTransition)
        }
        XCTAssertThrowsError(try store.checkpoint(job.id, kind: .progress, summary: "again", actor: "bob")) { error in
            XCTAssertEqual((error as? PipelineError)?.code, .invalidTransition)
        }
        XCTAssertEqual(try store.load(job.id).revision, 5, "refused changes leave nothing behind")
    }

    func testACrashBetweenLogAndSnapshotIsReconciledOnRead() throws {
        let ws = TestWorkspace()
        let store = JobStore(storeRoot: ws.path(".pipeline"))
        let job = try store.create(targets: [], actor: "a")
        let snapshotBefore = try FileSystem.readFile(store.folder(job.id) + "/state.json")
        try store.transition(job.id, to: .running, actor: "a")
        // As if the process died after flushing the log line, before replacing the snapshot.
        try Materializer.writeAtomically(snapshotBefore, to: store.folder(job.id) + "/state.json")
        XCTAssertEqual(try store.load(job.id).status, .running)
        XCTAssertEqual(try store.transition(job.id, to: .completed, actor: "a").revision, 3)
    }

    func testATornLastLineIsIgnoredAndCutBeforeTheNextAppend() throws {
        let ws = TestWorkspace()
        let store = JobStore(storeRoot: ws.path(".pipeline"))
        let job = try store.create(targets: [], actor: "a")
        let log = store.folder(job.id) + "/events.jsonl"
        let fd = open(log, O_WRONLY | O_APPEND)
        try FileSystem.writeAll(fd, Array("{\"schema_id\":\"pipeline.job_ev".utf8), path: log)
        close(fd)
        XCTAssertEqual(try store.load(job.id).revision, 1)
        try store.transition(job.id, to: .running, actor: "a")
        XCTAssertEqual(try store.events(job.id).map(\.sequence), [1, 2])
        let text = try FileSystem.readText(log)
        XCTAssertFalse(text.contains("pipeline.job_ev\""), "the torn line is gone")
    }

    func testADamagedSnapshotIsRebuiltFromTheLog() throws {
        let ws = TestWorkspace()
        let store = JobStore(storeRoot: ws.path(".pipeline"))
        let job = try store.create(targets: ["x"], actor: "a")
        try store.transition(job.id, to: .running, actor: "a")
        ws.write(".pipeline/jobs/\(job.id)/state.json", "{not json")
        let loaded = try store.load(job.id)
        XCTAssertEqual(loaded.status, .running)
        XCTAssertEqual(loaded.targets, ["x"])
    }

    func testUnknownJobIsAClearError() {
        let ws = TestWorkspace()
        let store = JobStore(storeRoot: ws.path(".pipeline"))
        XCTAssertThrowsError(try store.load(JobID.make())) { error in
            XCTAssertEqual((error as? PipelineError)?.code, .unknownJob)
        }
    }

    func testConcurrentWritersAreSerialized() throws {
        let ws = TestWorkspace()
        let store = JobStore(storeRoot: ws.path(".pipeline"))
        let job = try store.create(targets: [], actor: "a")
        try store.transition(job.id, to: .running, actor: "a")
        let root = ws.path(".pipeline")
        let id = job.id
        DispatchQueue.concurrentPerform(iterations: 8) { n in
            let mine = JobStore(storeRoot: root)
            for k in 0..<5 { _ = try? mine.checkpoint(id, kind: .progress, summary: "w\(n)-\(k)", actor: "w\(n)") }
        }
        let loaded = try store.load(job.id)
        XCTAssertEqual(loaded.checkpoints.count, 40)
        XCTAssertEqual(Set(loaded.checkpoints.map(\.id)).count, 40)
        XCTAssertEqual(try store.events(job.id).map(\.sequence), Array(1...42))
    }
}

final class ApprovalTests: XCTestCase {
    func decisionJob(_ store: JobStore, gates: [String]) throws -> JobID {
        let job = try store.create(targets: [], actor: "a")
        try store.transition(job.id, to: .running, actor: "a")
        for gate in gates {
            try store.checkpoint(job.id, kind: .decisionNeeded, summary: "ship \(gate)?", requiredAction: "look", step: gate, actor: "a")
        }
        try store.transition(job.id, to: .decisionNeeded, actor: "a")
        return job.id
    }

    func testApprovalNeedsActorReasonAndAWaitingJob() throws {
        let ws = TestWorkspace()
        let store = JobStore(storeRoot: ws.path(".pipeline"))
        let id = try decisionJob(store, gates: ["ship"])
        XCTAssertThrowsError(try store.approve(id, checkpoint: nil, actor: " ", reason: "ok"))
        XCTAssertThrowsError(try store.approve(id, checkpoint: nil, actor: "alice", reason: ""))
        let approved = try store.approve(id, checkpoint: nil, actor: "alice", reason: "checked")
        XCTAssertEqual(approved.approvals["cp_0001"], JobSnapshot.Approval(actor: "alice", reason: "checked"))
        XCTAssertEqual(approved.pendingDecisions, [])
        XCTAssertThrowsError(try store.approve(id, checkpoint: "cp_0001", actor: "bob", reason: "again"))

        let running = try store.create(targets: [], actor: "a")
        XCTAssertThrowsError(try store.approve(running.id, checkpoint: nil, actor: "alice", reason: "x")) { error in
            XCTAssertEqual((error as? PipelineError)?.code, .invalidTransition)
            XCTAssertTrue((error as? PipelineError)?.message.contains("is queued") ?? false)
        }
    }

    func testSeveralPendingApprovalsMustBeNamed() throws {
        let ws = TestWorkspace()
        let store = JobStore(storeRoot: ws.path(".pipeline"))
        let id = try decisionJob(store, gates: ["ship", "announce"])
        XCTAssertThrowsError(try store.approve(id, checkpoint: nil, actor: "alice", reason: "ok")) { error in
            XCTAssertTrue((error as? PipelineError)?.message.contains("cp_0001, cp_0002") ?? false)
        }
        XCTAssertThrowsError(try store.approve(id, checkpoint: "cp_0009", actor: "alice", reason: "ok"))
        let job = try store.approve(id, checkpoint: "cp_0002", actor: "alice", reason: "ok")
        XCTAssertEqual(job.pendingDecisions.map(\.id), ["cp_0001"])
    }
}

final class JobDoctorTests: XCTestCase {
    func job(_ ws: TestWorkspace) throws -> (JobStore, JobID) {
        let store = JobStore(storeRoot: ws.path(".pipeline"))
        let job = try store.create(targets: ["x"], actor: "a")
        try store.saveContract(JobContract(pipelinefile: "Pipelinefile.yaml", pipelinefileDigest: .empty, targets: ["x"], environment: [:]),
                               for: job.id)
        return (store, job.id)
    }

    func testAHealthyJobHasNoFindings() throws {
        let ws = TestWorkspace()
        let (store, id) = try job(ws)
        try store.transition(id, to: .running, actor: "a")
        try store.transition(id, to: .completed, actor: "a")
        XCTAssertEqual(JobDoctor(store: store).examine(id, repair: false), [])
    }

    func testTornLineAndStaleSnapshotAreRepairedFromTheLog() throws {
        let ws = TestWorkspace()
        let (store, id) = try job(ws)
        let before = try FileSystem.readFile(store.folder(id) + "/state.json")
        try store.transition(id, to: .running, actor: "a")
        try store.transition(id, to: .failed, actor: "a")
        try Materializer.writeAtomically(before, to: store.folder(id) + "/state.json")
        let log = store.folder(id) + "/events.jsonl"
        let fd = open(log, O_WRONLY | O_APPEND)
        try FileSystem.writeAll(fd, Array("{\"sche".utf8), path: log)
        close(fd)

        let doctor = JobDoctor(store: store)
        XCTAssertEqual(doctor.examine(id, repair: false).map(\.code), ["torn_line", "snapshot_diverged"])
        XCTAssertTrue(doctor.examine(id, repair: true).allSatisfy(\.repaired))
        XCTAssertEqual(doctor.examine(id, repair: false), [])
        XCTAssertEqual(try store.load(id).status, .failed)
    }

    func testAbandonedJobsAndMissingContractsAreReported() throws {
        let ws = TestWorkspace()
        let (store, id) = try job(ws)
        try store.transition(id, to: .running, actor: "a")
        try FileSystem.remove(store.contractPath(id))
        let doctor = JobDoctor(store: store)
        XCTAssertEqual(doctor.examine(id, repair: false).map(\.code), ["contract_unreadable", "abandoned"])
        let repaired = doctor.examine(id, repair: true)
        XCTAssertEqual(repaired.filter(\.repaired).map(\.code), ["abandoned"])
        XCTAssertEqual(try store.load(id).status, .failed)

        // While a process holds the lease, the job is live, not abandoned.
        let other = try store.create(targets: [], actor: "a")
        try store.transition(other.id, to: .running, actor: "a")
        let lease = try store.lease(other.id)
        XCTAssertFalse(doctor.examine(other.id, repair: false).map(\.code).contains("abandoned"))
        XCTAssertThrowsError(try store.lease(other.id)) { error in XCTAssertEqual((error as? PipelineError)?.code, .leaseConflict) }
        withExtendedLifetime(lease) {}
    }
}

final class JobDoctorEmptyTests: XCTestCase {
    /// A crash between creating a job's folder and its first event: a job that never was.
    func testAJobFolderWithoutEventsIsRemovedOnRepair() throws {
        let ws = TestWorkspace()
        let store = JobStore(storeRoot: ws.path(".pipeline"))
        let id = JobID.make()
        try FileSystem.makeDirectories(store.folder(id))
        let doctor = JobDoctor(store: store)
        XCTAssertEqual(doctor.examine(id, repair: false).map(\.code), ["empty_log"])
        XCTAssertEqual(doctor.examine(id, repair: true).map(\.repaired), [true])
        XCTAssertFalse(FileSystem.exists(store.folder(id)))
    }
}

final class JobContractTests: XCTestCase {
    func testFingerprintHashesValuesAndNamesWhatChanged() throws {
        let before = JobContract.fingerprint(envNames: ["CC", "TOKEN"], values: ["CC": "gcc", "TOKEN": "s3cret"])
        XCTAssertNotNil(before["os"])
        XCTAssertNotNil(before["arch"])
        XCTAssertNotNil(before["pipeline"])
        XCTAssertFalse(before.values.contains { $0.contains("s3cret") || $0.contains("gcc") }, "only hashes are kept")
        let contract = JobContract(pipelinefile: "Pipelinefile.yaml", pipelinefileDigest: .empty, targets: ["app"], environment: before)
        XCTAssertEqual(contract.environmentChanges(comparedTo: before), [])
        let after = JobContract.fingerprint(envNames: ["CC", "TOKEN"], values: ["CC": "clang", "TOKEN": "s3cret"])
        XCTAssertEqual(contract.environmentChanges(comparedTo: after), ["env:CC"])
        let unset = JobContract.fingerprint(envNames: ["CC", "TOKEN"], values: ["CC": "gcc"])
        XCTAssertEqual(contract.environmentChanges(comparedTo: unset), ["env:TOKEN"])
        let more = JobContract.fingerprint(envNames: ["CC", "TOKEN", "NEW"], values: ["CC": "gcc", "TOKEN": "s3cret"])
        XCTAssertEqual(contract.environmentChanges(comparedTo: more), ["env:NEW"])
        XCTAssertEqual(try JobContract(json: contract.json), contract)
    }
}

final class JobSessionTests: XCTestCase {
    func testASessionAppendsInOrderAndLeavesASnapshot() throws {
        let ws = TestWorkspace()
        let store = JobStore(storeRoot: ws.path(".pipeline"))
        let job = try store.create(targets: [], actor: "a")
        try store.transition(job.id, to: .running, actor: "a")
        let session = try store.session(job.id)
        for n in 1...3000 { try session.checkpoint(.progress, summary: "step \(n)", step: "s\(n)", actor: "a") }
        session.close()
        let loaded = try store.load(job.id)
        XCTAssertEqual(loaded.checkpoints.count, 3000)
        XCTAssertEqual(loaded.checkpoints.last?.id, "cp_3000")
        XCTAssertEqual(loaded.revision, 3002)
        XCTAssertEqual(JobDoctor(store: store).examine(job.id, repair: false).map(\.code), ["contract_unreadable", "abandoned"], "no snapshot drift")
        XCTAssertEqual(try store.transition(job.id, to: .completed, actor: "a").revision, 3003, "the lock is free again")
    }
}

/// Crash consistency (issue 9): a job never names a blob the store does not hold yet. The
/// chaos campaign found a run killed between a step's end and its store write leaving a job
/// whose run record named missing blobs (`store check`: job_missing_blob; the job could not
/// be packed).
final class JobRecorderTests: XCTestCase {
    func testTheRecordOfAStepWaitsForItsBlobsToBeStored() throws {
        let ws = TestWorkspace()
        let storeRoot = ws.path(".pipeline")
        let store = try LocalStore(root: storeRoot)
        let writer = try StoreWriter(sharing: store)
        let jobs = JobStore(storeRoot: storeRoot)
        let job = try jobs.create(targets: [], actor: "a")
        try jobs.transition(job.id, to: .running, actor: "a")
        let session = try jobs.session(job.id)
        let recorder = JobRecorder(next: EventLog(), session: session, actor: "a", writer: writer)

        // The writer is busy: the step's blob waits in its queue.
        let gate = DispatchSemaphore(value: 0)
        writer.then { gate.wait() }
        let output = Array("the step's output\n".utf8)
        let digest = SHA256.hash(output)
        writer.save(blobs: [(output, digest)], result: nil, key: nil)
        var outcome = StepOutcome(step: "make", status: .ran, durationNanos: 1, exitCode: 0)
        outcome.logs = (digest, .empty)
        outcome.record = ["step": "make", "blob": .string(digest.hex)]
        recorder.emit(.stepFinished(outcome))

        // A kill now would leave the store without the blob: the job must not name it yet.
        let runs = jobs.folder(job.id) + "/" + JobStore.runsFile
        XCTAssertFalse(store.contains(digest))
        XCTAssertEqual((try? FileSystem.readFile(runs)) ?? [], [], "the run record was written before its blob")
        XCTAssertEqual(try jobs.readLog(job.id).events.count, 2, "a checkpoint naming the blob was written before it")

        gate.signal()
        XCTAssertEqual(writer.finish().map(\.message), [])
        XCTAssertNil(recorder.failure)
        session.close()
        XCTAssertTrue(store.contains(digest))
        XCTAssertEqual(try FileSystem.readText(runs), #"{"blob":"\#(digest.hex)","step":"make"}"# + "\n")
        XCTAssertEqual(try jobs.load(job.id).checkpoints.last?.stdout, digest)
    }
}
