import Glibc
import XCTest

@testable import Pipeline

final class FileWatcherTests: XCTestCase {
    func testReportsWritesRenamesAndNewFoldersAndNothingOnceUnwatched() throws {
        let ws = TestWorkspace()
        ws.write("src/a.c", "x")
        let watcher = try FileWatcher()
        try watcher.watch(ws.path("src"))
        XCTAssertThrowsError(try watcher.watch(ws.path("missing")))
        // The kernel queues events as the calls return: no waiting needed.
        ws.write("src/a.c", "changed")
        ws.write("src/.a.c.tmp-1-2", "new")
        XCTAssertEqual(rename(ws.path("src/.a.c.tmp-1-2"), ws.path("src/b.c")), 0)
        try FileSystem.makeDirectories(ws.path("src/sub"))
        let (changes, overflowed) = watcher.read()
        XCTAssertFalse(overflowed)
        XCTAssertTrue(changes.contains(FileWatcher.Change(path: ws.path("src/a.c"), isDirectory: false)), "\(changes)")
        XCTAssertTrue(changes.contains(FileWatcher.Change(path: ws.path("src/b.c"), isDirectory: false)), "\(changes)")
        XCTAssertTrue(changes.contains(FileWatcher.Change(path: ws.path("src/sub"), isDirectory: true)), "\(changes)")
        XCTAssertEqual(watcher.read().changes, [])
        watcher.unwatch(ws.path("src"))
        ws.write("src/a.c", "again")
        XCTAssertEqual(watcher.read().changes, [])
        XCTAssertEqual(watcher.folders, [])
    }
}
