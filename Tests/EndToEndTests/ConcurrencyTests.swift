import Foundation
import Glibc
import XCTest

/// Interrupts, and two runs meeting in one workspace.
final class ConcurrencyTests: XCTestCase {
    func testInterruptStopsTheCommandAndLeavesNoHalfWrittenOutput() throws {
        let f = try Fixture(self)
        let pidFile = f.outside + "/shell.pid"
        // A sleep length no other process on the machine uses, to find it in /proc.
        let marker = "29.\(Int.random(in: 100_000...999_999))"
        f.pipelinefile("""
        pipeline: 1
        steps:
          slow:
            run: echo $$ > \(pidFile); echo partial > out/x; sleep \(marker); echo done >> out/x
            outputs: [out/x]
        """)
        let process = try f.start(["run"])
        XCTAssertTrue(Fixture.waitUntil { f.exists("out/x") && (f.read(pidFile)?.hasSuffix("\n") ?? false) },
                      "the step never started:\n\(process.wait(timeout: 1).transcript)")
        usleep(500_000)
        XCTAssertFalse(process.poll(), "pipeline ended before the interrupt")
        guard let shell = f.read(pidFile).flatMap({ pid_t($0.trimmingCharacters(in: .whitespacesAndNewlines)) }) else {
            return XCTFail("no pid in \(pidFile)")
        }
        XCTAssertTrue(ProcessTable.isAlive(shell))
        XCTAssertFalse(ProcessTable.pids(runningArguments: ["sleep", marker]).isEmpty, "the step's sleep is not running")

        let interrupted = Date()
        process.signal(SIGINT)
        let result = process.wait(timeout: 20)
        let seconds = Date().timeIntervalSince(interrupted)
        assertExit(result, 130)
        XCTAssertLessThan(seconds, 5, "pipeline took \(seconds)s to stop after SIGINT")
        assertContains(result.stdout + result.stderr, "interrupted")
        XCTAssertFalse(f.exists("out/x"), "a half-written output was left: \(f.read("out/x") ?? "")")
        XCTAssertTrue(Fixture.waitUntil(timeout: 3) { !ProcessTable.isAlive(shell) }, "the step's shell (pid \(shell)) still runs")
        XCTAssertTrue(Fixture.waitUntil(timeout: 3) { ProcessTable.pids(runningArguments: ["sleep", marker]).isEmpty },
                      "the step's sleep still runs: \(ProcessTable.pids(runningArguments: ["sleep", marker]))")
        XCTAssertEqual(f.actionResults(), [], "an interrupted action was cached")
        for pid in ProcessTable.pids(runningArguments: ["sleep", marker]) { kill(pid, SIGKILL) }
    }

    func testASecondRunWithNoWaitMeetsALeaseConflict() throws {
        let f = try Fixture(self)
        let started = f.outside + "/started"
        // The first run holds its lease until the test releases it (not for a fixed time:
        // under a sanitizer and a loaded machine the other runs took longer than a 2 s sleep).
        let release = f.outside + "/release"
        f.pipelinefile("""
        pipeline: 1
        steps:
          hold:
            run: touch \(started); timeout 20 sh -c 'until [ -e \(release) ]; do sleep 0.05; done'; \(f.log("hold"))
            cache: false
          quick:
            run: \(f.log("quick"))
            cache: false
        """)
        let first = try f.start(["run", "hold"])
        XCTAssertTrue(Fixture.waitUntil { FileManager.default.fileExists(atPath: started) }, "the first run never started its step")

        let second = f.run(["run", "quick", "--no-wait", "--json"])
        assertExit(second, 1)
        let lines = JSONLines(second.stdout)
        let error = lines.documents.last
        XCTAssertEqual(error?["schema_id"] as? String, "pipeline.error", second.transcript)
        XCTAssertEqual(error?["error_code"] as? String, "lease_conflict", second.transcript)
        XCTAssertEqual(error?["retryable"] as? Bool, true)
        XCTAssertEqual(error?["exit_code"] as? Int, 1)
        XCTAssertFalse(f.logLines.contains("quick"), "the conflicting run ran its step")

        // Without --no-wait, a run queues behind the first and says so.
        let third = try f.start(["run", "quick"])
        XCTAssertTrue(Fixture.waitUntil(timeout: 20) {
            ((try? String(contentsOfFile: third.stderrPath, encoding: .utf8)) ?? "").contains("waiting for another run")
        }, "the third run did not say it waits")
        XCTAssertTrue(FileManager.default.createFile(atPath: release, contents: nil))
        let firstResult = first.wait(timeout: 20)
        let thirdResult = third.wait(timeout: 20)
        assertExit(firstResult, 0)
        assertExit(thirdResult, 0)
        assertContains(thirdResult.stderr, "waiting for another run")
        XCTAssertEqual(f.logLines, ["hold", "quick"], "the waiting run did not wait for the first")
    }
}

/// Looks at processes through /proc.
enum ProcessTable {
    /// Running (not a zombie, not gone).
    static func isAlive(_ pid: pid_t) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return false }
        let state = stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).first
        return state != "Z" && state != "X"
    }

    /// Live processes whose argv is exactly `arguments`.
    static func pids(runningArguments arguments: [String]) -> [pid_t] {
        let wanted = Data((arguments.joined(separator: "\0") + "\0").utf8)
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
        return entries.compactMap { pid_t($0) }.filter { pid in
            FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") == wanted && isAlive(pid)
        }
    }
}
