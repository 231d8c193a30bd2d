import Glibc
import XCTest

@testable import Pipeline

/// What a process killed mid-write leaves (a temp file beside an intact old file) is removed
/// by the next writer, but only once its process is gone (issue 9, crash consistency: the
/// campaign found a killed run's `.state.json.tmp-PID-N` left in its job folder for good).
final class StaleTemporaryTests: XCTestCase {
    /// No process has this id (pid_max is at most 2^22), so it reads as a dead writer.
    static let dead: pid_t = 2_147_483_646

    func testTheOwnerOfATempFileIsReadFromItsName() {
        XCTAssertEqual(Materializer.temporaryOwner(".state.json.tmp-1234-99"), 1234)
        XCTAssertEqual(Materializer.temporaryOwner(".a.tmp-b.tmp-7-8"), 7)
        let made = Path.lastComponent(Materializer.temporaryName(for: "/x/out/app"))
        XCTAssertEqual(Materializer.temporaryOwner(made), getpid())
        for name in ["state.json.tmp-1-2", ".tmp-1-2", ".a.tmp-1", ".a.tmp-1-2-3", ".a.tmp-x-2", ".a.tmp--2", ".a.tmp-1-", ".a"] {
            XCTAssertNil(Materializer.temporaryOwner(name), name)
        }
    }

    func testOnlyTempFilesOfProcessesThatAreGoneAreRemoved() throws {
        let ws = TestWorkspace()
        let dead = ".state.json.tmp-\(Self.dead)-1"
        let live = ".state.json.tmp-\(getppid())-2"
        let mine = ".state.json.tmp-\(getpid())-3"
        for name in [dead, live, mine, "state.json", ".pack_ab.zip.tmp-\(Self.dead)-4", "notes.tmp-\(Self.dead)-5"] { ws.write("f/" + name, "x") }
        XCTAssertEqual(Materializer.removeStaleTemporaries(in: ws.path("f"), prefix: ".state"), 1)
        XCTAssertEqual(Set(FileSystem.list(ws.path("f"))!.map(\.name)),
                       [live, mine, "state.json", ".pack_ab.zip.tmp-\(Self.dead)-4", "notes.tmp-\(Self.dead)-5"])
        XCTAssertEqual(Materializer.removeStaleTemporaries(in: ws.path("f")), 1, "the pack's, with any prefix")
        XCTAssertEqual(Materializer.removeStaleTemporaries(in: ws.path("missing")), 0)
    }

    func testTheStoreRemovesTempFilesOfDeadProcessesOnly() throws {
        let ws = TestWorkspace()
        let store = try LocalStore(root: ws.path(".pipeline"))
        ws.write(".pipeline/tmp/\(Self.dead)-w3", "half a blob")
        ws.write(".pipeline/tmp/\(getppid())-1", "being written")
        ws.write(".pipeline/tmp/\(getpid())-w1", "being written here")
        XCTAssertEqual(store.removeStaleTemporaries(), 1)
        XCTAssertEqual(Set(FileSystem.list(ws.path(".pipeline/tmp"))!.map(\.name)), ["\(getppid())-1", "\(getpid())-w1"])
    }

    func testTheNextWriteToAJobRemovesAKilledWritersSnapshotTemp() throws {
        let ws = TestWorkspace()
        let jobs = JobStore(storeRoot: ws.path(".pipeline"))
        let job = try jobs.create(targets: [], actor: "a")
        let stale = jobs.folder(job.id) + "/.state.json.tmp-\(Self.dead)-7"
        try Materializer.writeAtomically(Array("{\"half".utf8), to: stale)
        try jobs.transition(job.id, to: .running, actor: "a")
        XCTAssertFalse(FileSystem.exists(stale))

        try Materializer.writeAtomically(Array("{\"half".utf8), to: stale)
        let session = try jobs.session(job.id)
        XCTAssertFalse(FileSystem.exists(stale), "a run's session removes it too")
        session.close()
    }

    func testDoctorReportsAndRepairsATempFileOfAKilledWriter() throws {
        let ws = TestWorkspace()
        let jobs = JobStore(storeRoot: ws.path(".pipeline"))
        let job = try jobs.create(targets: [], actor: "a")
        try jobs.transition(job.id, to: .canceled, actor: "a")
        let stale = jobs.folder(job.id) + "/.state.json.tmp-\(Self.dead)-7"
        try Materializer.writeAtomically(Array("{\"half".utf8), to: stale)
        let doctor = JobDoctor(store: jobs)
        XCTAssertEqual(doctor.examine(job.id, repair: false).map(\.code), ["stale_temp"])
        XCTAssertTrue(FileSystem.exists(stale), "examining changes nothing")
        XCTAssertEqual(doctor.examine(job.id, repair: true).map(\.repaired), [true])
        XCTAssertFalse(FileSystem.exists(stale))
        XCTAssertEqual(doctor.examine(job.id, repair: false).map(\.code), [])
    }

    func testGCRemovesWhatKilledProcessesLeftAnywhereInTheStore() throws {
        let ws = TestWorkspace()
        let root = ws.path(".pipeline")
        let store = try LocalStore(root: root)
        let jobs = JobStore(storeRoot: root)
        let job = try jobs.create(targets: [], actor: "a")
        try jobs.transition(job.id, to: .canceled, actor: "a")
        _ = try store.workspaceState(for: ws.root)
        let state = LocalStore.workspaceStatePath(store: root, workspaceRoot: ws.root)
        let stale = [root + "/store.log.compact-\(Self.dead)", root + "/tmp/\(Self.dead)-w1", root + "/reports/.gc-x.json.tmp-\(Self.dead)-1",
                     root + "/pins/.job-x.json.tmp-\(Self.dead)-1", state + "/.steps.tmp-\(Self.dead)-2",
                     jobs.folder(job.id) + "/.state.json.tmp-\(Self.dead)-3"]
        for path in stale { try Materializer.writeAtomically(Array("half".utf8), to: path) }
        let live = root + "/tmp/\(getppid())-1"
        try Materializer.writeAtomically(Array("being written".utf8), to: live)
        _ = try GarbageCollector(storePath: root, policy: RetentionPolicy()).collect(dryRun: false)
        for path in stale { XCTAssertFalse(FileSystem.exists(path), path) }
        XCTAssertTrue(FileSystem.exists(live), "a live process's temp file stays")
        XCTAssertTrue(FileSystem.exists(jobs.folder(job.id) + "/state.json"))
    }
}
