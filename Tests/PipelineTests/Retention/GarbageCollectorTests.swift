import XCTest

@testable import Pipeline

/// The order gc removes cache entries in, with times under the test's control.
final class GarbageCollectorTests: XCTestCase {
    /// A store whose log holds results (each with one blob) written at the given times.
    func store(_ ws: TestWorkspace, times: [Int64]) throws -> [Digest] {
        _ = try LocalStore(root: ws.path(".pipeline"))
        var log: [UInt8] = []
        var keys: [Digest] = []
        for (i, time) in times.enumerated() {
            let bytes = Array("blob \(i)\n".utf8)
            let blob = SHA256.hash(bytes)
            let key = SHA256.hash("key \(i)")
            keys.append(key)
            let result = ActionResult(files: [OutputFile(path: "out/\(i)", digest: blob, size: UInt64(bytes.count), mode: 0o644)]).json.canonicalBytes
            StoreLog.appendHeader(.blob, blob, size: bytes.count, time: time, to: &log)
            log += bytes + [0x0A]
            StoreLog.appendHeader(.result, key, size: result.count, time: time, to: &log)
            log += result + [0x0A]
        }
        try Materializer.writeAtomically(log, to: ws.path(".pipeline/store.log"))
        return keys
    }

    func testTTLRemovesWhatWasNotUsedSinceAndAUseCountsAsUse() throws {
        let ws = TestWorkspace()
        let keys = try store(ws, times: [1000, 2000, 3000])
        try LocalStore(root: ws.path(".pipeline")).touch([ActionKey(keys[0])])  // used now
        let gc = GarbageCollector(storePath: ws.path(".pipeline"), policy: RetentionPolicy(ttlSeconds: 500), now: 2600)
        let report = try gc.plan(try LocalStore(root: ws.path(".pipeline")))
        XCTAssertEqual(report.removed.filter { $0.kind == "result" }.map(\.id), [keys[1].hex], "only the one unused for more than the ttl")
        XCTAssertEqual(report.removed.filter { $0.kind == "blob" }.count, 1, "and the blob only it named")
    }

    func testMaxSizeEvictsLeastRecentlyUsedFirstThenByKey() throws {
        let ws = TestWorkspace()
        let keys = try store(ws, times: [3000, 1000, 2000, 1000])
        let store = try LocalStore(root: ws.path(".pipeline"))
        let total = store.inventory().bytes
        let each = total / 4
        let gc = GarbageCollector(storePath: ws.path(".pipeline"), policy: RetentionPolicy(maxSize: UInt64(total - each - each / 2)), now: 4000)
        let removed = try gc.plan(store).removed.filter { $0.kind == "result" }.map(\.id)
        let oldest = [keys[1], keys[3]].sorted()
        XCTAssertEqual(removed, [oldest[0].hex, oldest[1].hex], "the two oldest (tied: by key) go; the newer stay")
        let gentle = GarbageCollector(storePath: ws.path(".pipeline"), policy: RetentionPolicy(maxSize: UInt64(total)), now: 4000)
        XCTAssertEqual(try gentle.plan(store).removed.count, 0, "a store under max_size keeps everything")
    }

    func testDurationsAndSizes() throws {
        XCTAssertEqual(try RetentionPolicy(["keep_jobs": "20", "ttl": "30d", "max_size": "10GiB"]),
                       RetentionPolicy(keepJobs: 20, ttlSeconds: 30 * 86_400, maxSize: 10 << 30))
        XCTAssertEqual(try RetentionPolicy(["ttl": "12h"]).ttlSeconds, 43_200)
        XCTAssertThrowsError(try RetentionPolicy(["ttl": "12"]))
        XCTAssertThrowsError(try RetentionPolicy(["keep_jobs": "-1"]))
        XCTAssertThrowsError(try RetentionPolicy(["max_size": "big"]))
    }
}
