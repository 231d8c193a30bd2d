import Glibc
import XCTest

@testable import Pipeline

final class StoreTests: XCTestCase {
    func testBlobsAndActionResultsRoundTrip() throws {
        let ws = TestWorkspace()
        let store = try LocalStore(root: ws.path(".pipeline"))
        ws.write("f.txt", "hello")
        let fingerprint = try store.put(fileAt: ws.path("f.txt"))
        XCTAssertEqual(fingerprint.sha256, SHA256.hash("hello"))
        XCTAssertEqual(try store.read(fingerprint.sha256), Array("hello".utf8))
        let result = ActionResult(files: [OutputFile(path: "f.txt", digest: fingerprint.sha256, size: 5, mode: 0o644)], directories: ["d"],
                                  stdout: .empty, stderr: SHA256.hash("warn"), durationNanos: 42)
        let key = ActionKey(SHA256.hash("key"))
        try store.store(result, for: key)
        XCTAssertEqual(try store.result(for: key), result)
        XCTAssertNil(try store.result(for: ActionKey(SHA256.hash("other"))))
    }

    func testDamagedActionResultIsAMiss() throws {
        let ws = TestWorkspace()
        let store = try LocalStore(root: ws.path(".pipeline"))
        let key = ActionKey(SHA256.hash("key"))
        try store.store(ActionResult(files: []), for: key)
        try StoreLogDamage.replace("\"schema_id\"", with: "\"schema_xx\"", in: ws.path(".pipeline/store.log"))
        XCTAssertNil(try LocalStore(root: ws.path(".pipeline")).result(for: key), "read by another process")
        // An entry from an older version (a file in ac/) that is damaged is a miss too.
        let old = ActionKey(SHA256.hash("old"))
        try Materializer.writeAtomically(Array("{\"schema_id\":".utf8), to: store.actionPath(old))
        XCTAssertNil(try store.result(for: old))
    }

    func testFormatVersionMismatchIsAClearError() throws {
        let ws = TestWorkspace()
        _ = try LocalStore(root: ws.path(".pipeline"))
        ws.write(".pipeline/format", "pipeline-store 99\n")
        XCTAssertThrowsError(try LocalStore(root: ws.path(".pipeline"))) { error in
            let e = error as! PipelineError
            XCTAssertEqual(e.code, .storeFormat)
            XCTAssertTrue(e.message.contains("format 99"), e.message)
            XCTAssertTrue(e.hint?.contains("pipeline clean --store") ?? false)
        }
    }

    func testStatCacheSkipsUnchangedAndProvesTouchedFiles() throws {
        let ws = TestWorkspace()
        ws.write("a.txt", "same")
        let cache = StatCache(path: ws.path("statcache"))
        let first = try cache.digest(of: ws.path("a.txt"), key: "a.txt")?.digest
        XCTAssertEqual(first, SHA256.hash("same"))
        XCTAssertEqual(cache.counts[.fullHash], 1)
        try cache.save()

        let reloaded = StatCache(path: ws.path("statcache"))
        reloaded.racyWindowNanos = -1  // the file was just written: trust its stat anyway
        XCTAssertEqual(try reloaded.digest(of: ws.path("a.txt"), key: "a.txt")?.digest, first)
        XCTAssertEqual(reloaded.counts[.stat], 1)

        // touch: times change, content does not → XXH3 proves it, no SHA-256.
        var times = [timespec(tv_sec: 1_000_000, tv_nsec: 0), timespec(tv_sec: 1_000_000, tv_nsec: 0)]
        XCTAssertEqual(utimensat(AT_FDCWD, ws.path("a.txt"), &times, 0), 0)
        XCTAssertEqual(try reloaded.digest(of: ws.path("a.txt"), key: "a.txt")?.digest, first)
        XCTAssertEqual(reloaded.counts[.quickHash], 1)
        XCTAssertEqual(reloaded.counts[.fullHash], 0)

        // Same size, new content: detected.
        ws.write("a.txt", "diff")
        XCTAssertEqual(try reloaded.digest(of: ws.path("a.txt"), key: "a.txt")?.digest, SHA256.hash("diff"))
    }

    func testDamagedStateFilesReadAsEmpty() throws {
        let ws = TestWorkspace()
        ws.write("steps", StepRecords.magic + " garbage garbage garbage")
        let records = StepRecords(path: ws.path("steps"))
        XCTAssertTrue(records.wasDamaged)
        XCTAssertTrue(records.records.isEmpty)
        // Records of an older format are not damage: they are simply not reused.
        ws.write("old", "PLSTEP01 anything")
        let old = StepRecords(path: ws.path("old"))
        XCTAssertFalse(old.wasDamaged)
        XCTAssertTrue(old.records.isEmpty)
        ws.write("statcache", "PLSTAT01\u{0}\u{0}")
        XCTAssertTrue(StatCache(path: ws.path("statcache")).entries.isEmpty)
    }

    func testStepRecordsRoundTrip() throws {
        let ws = TestWorkspace()
        let records = StepRecords(path: ws.path("steps"))
        let record = StepRecord(name: "a", key: ActionKey(SHA256.hash("k")), status: .ran, reason: "no previous run",
                                inputs: [("in.txt", SHA256.hash("in"))], definition: Array("{}".utf8),
                                result: ActionResult(files: [OutputFile(path: "l", digest: SHA256.hash("t"), size: 1, mode: 0o777, linkTarget: "t")]),
                                finishedAt: 7)
        records.update(record)
        try records.save()
        XCTAssertEqual(StepRecords(path: ws.path("steps"))["a"], record)
    }
}

/// Damages bytes inside the store log in place (same length), as a disk or a person might.
enum StoreLogDamage {
    static func replace(_ text: String, with replacement: String, in path: String) throws {
        precondition(text.utf8.count == replacement.utf8.count)
        var bytes = try FileSystem.readFile(path)
        let needle = Array(text.utf8)
        guard let start = (0...(bytes.count - needle.count)).first(where: { bytes[$0..<$0 + needle.count].elementsEqual(needle) }) else {
            throw PipelineError(.internalError, "'\(text)' is not in \(path)")
        }
        bytes.replaceSubrange(start..<start + needle.count, with: Array(replacement.utf8))
        try Materializer.writeAtomically(bytes, to: path)
    }
}

final class StoreLogTests: XCTestCase {
    func testBlobsAndResultsSurviveReopeningAndAnotherWriter() throws {
        let ws = TestWorkspace()
        let a = try LocalStore(root: ws.path(".pipeline"))
        let b = try LocalStore(root: ws.path(".pipeline"))
        let small = try a.put(bytes: Array("small".utf8))
        let big = try a.put(bytes: [UInt8](repeating: 7, count: LocalStore.smallBlobLimit + 1))
        XCTAssertTrue(FileSystem.exists(a.blobPath(big)), "a big blob is a file")
        XCTAssertFalse(FileSystem.exists(a.blobPath(small)), "a small blob lives in the log")
        let key = ActionKey(SHA256.hash("k"))
        try b.save(blobs: [(Array("from b".utf8), SHA256.hash("from b"))], result: ActionResult(files: [], exitCode: 0), key: key)
        // Each instance sees what the other appended.
        XCTAssertEqual(try a.read(SHA256.hash("from b")), Array("from b".utf8))
        XCTAssertNotNil(try a.result(for: key))
        XCTAssertEqual(try b.read(small), Array("small".utf8))
        XCTAssertEqual(try LocalStore(root: ws.path(".pipeline")).resultKeys(), [key])
    }

    /// The store writer appends on its queue while the scheduler looks results up on the
    /// main thread, both through the one shared log index. Every save lands and reads back.
    /// Under `scripts/sanitize thread` this is also the regression test for the lock's
    /// hand-over being invisible to ThreadSanitizer (a contended `Mutex` waits in the
    /// kernel): without `Lock`'s annotations it reports the index as raced.
    func testTheStoreWriterAndLookupsShareTheLogAcrossThreads() throws {
        let ws = TestWorkspace()
        let store = try LocalStore(root: ws.path(".pipeline"))
        let writer = try StoreWriter(sharing: store)
        let keys = (0..<400).map { ActionKey(SHA256.hash("key \($0)")) }
        for (i, key) in keys.enumerated() {
            let bytes = Array("output \(i)".utf8)
            writer.save(blobs: [(bytes, SHA256.hash(bytes))], result: ActionResult(files: [], exitCode: 0), key: key)
            // A lookup while the writer appends: a miss scans what was appended since.
            _ = try store.result(for: keys[i / 2])
        }
        XCTAssertEqual(writer.finish().map(\.message), [])
        for (i, key) in keys.enumerated() {
            XCTAssertNotNil(try store.result(for: key), "result \(i)")
            XCTAssertEqual(try store.read(SHA256.hash("output \(i)")), Array("output \(i)".utf8))
        }
    }

    func testATornTailIsCutByTheNextWriterAndNothingBeforeItIsLost() throws {
        let ws = TestWorkspace()
        let store = try LocalStore(root: ws.path(".pipeline"))
        let first = try store.put(bytes: Array("first".utf8))
        // A crash in the middle of a record.
        let fd = open(ws.path(".pipeline/store.log"), O_WRONLY | O_APPEND)
        try FileSystem.writeAll(fd, Array("B \(SHA256.hash("torn").hex) 100\npartial".utf8), path: "log")
        close(fd)
        let next = try LocalStore(root: ws.path(".pipeline"))
        XCTAssertFalse(next.contains(SHA256.hash("torn")))
        let second = try next.put(bytes: Array("second".utf8))
        let fresh = try LocalStore(root: ws.path(".pipeline"))
        XCTAssertEqual(try fresh.read(first), Array("first".utf8))
        XCTAssertEqual(try fresh.read(second), Array("second".utf8))
        let text = try FileSystem.readText(ws.path(".pipeline/store.log"))
        XCTAssertFalse(text.contains("partial"), "the torn record was cut")
    }
}

