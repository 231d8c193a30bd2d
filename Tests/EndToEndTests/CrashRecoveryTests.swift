import Foundation
import XCTest

/// What a process killed mid-write leaves behind is removed by the next command that writes
/// there (issue 9, crash consistency; `scripts/chaos.d/crash` kills them at random moments).
final class CrashRecoveryTests: XCTestCase {
    /// No process has this id (pid_max is at most 2^22): a writer that is gone.
    static let dead = "2147483646"

    func jobID(_ result: ProcessResult) -> String {
        result.stderr.split(separator: "\n").first { $0.hasPrefix("job ") }.map { String($0.dropFirst(4)) } ?? ""
    }

    func testARunRemovesTheStoreTempFilesAndStateTempsOfAKilledRun() throws {
        let f = try Fixture(self)
        f.write("src/a", "1\n")
        f.pipelinefile("""
        pipeline: 1
        steps:
          copy:
            inputs: [src/a]
            run: mkdir -p out && cp src/a out/a
            outputs: [out/a]
        """)
        assertExit(f.run(["run"]), 0)
        let state = try XCTUnwrap(try FileManager.default.contentsOfDirectory(atPath: f.root + "/.pipeline/workspaces").first)
        let leftovers = [".pipeline/tmp/\(Self.dead)-w4", ".pipeline/workspaces/\(state)/.steps.tmp-\(Self.dead)-9"]
        for path in leftovers { f.write(path, "half") }
        f.write("src/a", "2\n")
        assertExit(f.run(["run"]), 0)
        for path in leftovers { XCTAssertFalse(f.exists(path), path) }
        XCTAssertEqual(f.read("out/a"), "2\n")
    }

    func testAPackBuildRemovesTheTempFileOfAKilledPackBuild() throws {
        let f = try Fixture(self)
        f.pipelinefile("""
        pipeline: 1
        steps:
          hello:
            run: mkdir -p out && echo hi > out/hello
            outputs: [out/hello]
        """)
        let run = f.run(["run"])
        assertExit(run, 0)
        let stale = "dist/.pack_0123.zip.tmp-\(Self.dead)-5"
        let other = "dist/.notes.tmp-\(Self.dead)-6"
        f.write(stale, "PK half a zip")
        f.write(other, "not ours")
        let pack = f.run(["pack", "build", "--type", "run", "--from", jobID(run), "--out", "dist"])
        assertExit(pack, 0)
        XCTAssertFalse(f.exists(stale), "the killed pack build's temp file is still there")
        XCTAssertTrue(f.exists(other), "a file pack build does not name is left alone")
        let packs = try FileManager.default.contentsOfDirectory(atPath: f.root + "/dist").filter { $0.hasPrefix("pack_") }
        XCTAssertEqual(packs.count, 1)
    }
}
