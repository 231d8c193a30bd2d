import Glibc
import XCTest

@testable import Pipeline

final class MaterializerTests: XCTestCase {
    struct Crash: Error {}

    func testCrashBetweenWriteAndRenameLeavesTheOldFile() throws {
        let ws = TestWorkspace()
        ws.write("out/app", "old")
        var materializer = Materializer(root: ws.root)
        materializer.beforeRename = { _ in throw Crash() }
        XCTAssertThrowsError(try materializer.write(Array("new".utf8), to: "out/app"))
        XCTAssertEqual(ws.read("out/app"), "old")
        XCTAssertEqual(FileSystem.list(ws.path("out"))?.map(\.name), ["app"], "no temp file left behind")
    }

    func testWriteReplacesAndKeepsMode() throws {
        let ws = TestWorkspace()
        let materializer = Materializer(root: ws.root)
        try materializer.write(Array("#!/bin/sh\n".utf8), to: "bin/tool", mode: 0o755)
        XCTAssertEqual(ws.read("bin/tool"), "#!/bin/sh\n")
        XCTAssertEqual(FileSystem.stat(ws.path("bin/tool"))?.mode, 0o755)
    }

    func testRefusesPathsOutsideTheWorkspace() throws {
        let ws = TestWorkspace()
        let outside = TestWorkspace()
        XCTAssertEqual(symlink(outside.root, ws.path("link")), 0)
        let materializer = Materializer(root: ws.root)
        for path in ["../escape", "link/file", "/etc/x"] {
            XCTAssertThrowsError(try materializer.write([1], to: path), path) { error in
                XCTAssertEqual((error as? PipelineError)?.code, .pathEscapes)
            }
        }
        XCTAssertFalse(outside.exists("file"))
    }

    func testRestoreVerifiesTheBlob() throws {
        let ws = TestWorkspace()
        let store = try LocalStore(root: ws.path(".pipeline"))
        let digest = try store.put(bytes: Array("content".utf8))
        let materializer = Materializer(root: ws.root)
        XCTAssertTrue(try materializer.restore(OutputFile(path: "a/b.txt", digest: digest, size: 7, mode: 0o640), from: store))
        XCTAssertEqual(ws.read("a/b.txt"), "content")
        XCTAssertEqual(FileSystem.stat(ws.path("a/b.txt"))?.mode, 0o640)

        // A corrupted blob is never written out; the old file stays.
        ws.write("a/b.txt", "old")
        try StoreLogDamage.replace("content", with: "CONTENT", in: ws.path(".pipeline/store.log"))
        let reopened = try LocalStore(root: ws.path(".pipeline"))
        XCTAssertFalse(try materializer.restore(OutputFile(path: "a/b.txt", digest: digest, size: 7, mode: 0o640), from: reopened))
        XCTAssertEqual(ws.read("a/b.txt"), "old")
        XCTAssertFalse(reopened.contains(digest), "a corrupt blob reads as missing")
    }

    func testRestoreVerifiesABigBlobFile() throws {
        let ws = TestWorkspace()
        let store = try LocalStore(root: ws.path(".pipeline"))
        let content = [UInt8](repeating: 0x61, count: LocalStore.smallBlobLimit + 10)
        let digest = try store.put(bytes: content)
        let materializer = Materializer(root: ws.root)
        ws.write("big.txt", "old")
        let blob = store.blobPath(digest)
        chmod(blob, 0o644)
        let fd = open(blob, O_WRONLY | O_TRUNC)
        try FileSystem.writeAll(fd, Array("tampered".utf8), path: blob)
        close(fd)
        XCTAssertFalse(try materializer.restore(OutputFile(path: "big.txt", digest: digest, size: UInt64(content.count), mode: 0o644), from: store))
        XCTAssertEqual(ws.read("big.txt"), "old")
        XCTAssertFalse(store.contains(digest), "a corrupt blob file is removed")
    }
}
