import Foundation
import Glibc
import XCTest

/// A full disk, a read-only store or workspace, missing permissions and a file size limit,
/// met by the real binary: the old output stays, the error names the path (exit 1, never a
/// crash), the store stays consistent, and after freeing space a rerun succeeds.
///
/// These need root (to mount small tmpfs file systems, to run as `nobody`); elsewhere, or
/// where mounting is refused (a container without CAP_SYS_ADMIN), they skip with a warning.
final class DiskFaultTests: XCTestCase {
    // MARK: Tools

    /// Runs a system tool; its exit status.
    @discardableResult
    static func tool(_ path: String, _ arguments: [String]) -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return -1 }
        process.waitUntilExit()
        return process.terminationStatus
    }

    func skip(_ why: String) throws -> Never {
        print("warning: DiskFaultTests.\(name): skipped: \(why)")
        throw XCTSkip(why)
    }

    /// Mounts a tmpfs of `size` on `path` (created if needed), unmounted after the test.
    func mountTmpfs(_ path: String, size: String) throws {
        guard getuid() == 0 else { try skip("needs root to mount a tmpfs") }
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        guard DiskFaultTests.tool("/bin/mount", ["-t", "tmpfs", "-o", "size=\(size),mode=0755", "tmpfs", path]) == 0 else {
            try skip("mount -t tmpfs failed (no CAP_SYS_ADMIN?)")
        }
        addTeardownBlock { DiskFaultTests.tool("/bin/umount", ["-l", path]) }
    }

    func remount(_ path: String, readOnly: Bool) {
        XCTAssertEqual(DiskFaultTests.tool("/bin/mount", ["-o", "remount," + (readOnly ? "ro" : "rw"), path]), 0, "remount \(path)")
    }

    /// Fills the file system holding `folder` until `leaving` bytes are free (a file
    /// `folder/filler`).
    func fill(_ folder: String, leaving: Int) {
        var info = statvfs()
        XCTAssertEqual(statvfs(folder, &info), 0)
        let free = Int(info.f_bavail) * Int(info.f_frsize)
        let fd = open(folder + "/filler", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        XCTAssertGreaterThanOrEqual(fd, 0)
        defer { close(fd) }
        let chunk = [UInt8](repeating: 0x61, count: 1 << 16)
        var left = max(0, free - leaving)
        while left > 0 {
            let n = chunk.withUnsafeBytes { write(fd, $0.baseAddress!, min(left, $0.count)) }
            if n <= 0 { break }
            left -= n
        }
    }

    func unfill(_ folder: String) { unlink(folder + "/filler") }

    /// Names under `folder` (recursively) that look like pipeline's temp files.
    func temporaries(under folder: String) -> [String] {
        (FileManager.default.subpaths(atPath: folder) ?? []).filter { Path($0).last.hasPrefix(".") && $0.contains(".tmp-") }
    }

    /// A step writing `size` bytes derived from the file `tag` into out.bin (plus `smallFiles`
    /// files of 60 KB, which the store keeps in store.log).
    /// files of 60 KB, which the store keeps in store.log); with `dependent`, a step `use`
    /// that reads out.bin.
    func pipelinefile(_ fixture: Fixture, size: Int, smallFiles: Int = 0, dependent: Bool = false) {
        let small = (0..<smallFiles).map { "s\($0).bin" }
        let writeSmall = small.map { "; yes \"$(cat tag) \($0)\" | head -c 60000 > \($0)" }.joined()
        fixture.pipelinefile("""
            pipeline: 1
            steps:
              gen:
                run: yes "$(cat tag)" | head -c \(size) > out.bin\(writeSmall)
                inputs: [tag]
                outputs: [out.bin\(small.map { ", " + $0 }.joined())]
            """ + (dependent ? """

              use:
                needs: [gen]
                run: cat out.bin > copy.bin
                outputs: [copy.bin]
            """ : ""))
    }

    func expected(_ tag: String, size: Int) -> String { String(String(repeating: tag + "\n", count: size / (tag.count + 1) + 1).prefix(size)) }

    func errorDocument(_ result: ProcessResult) -> [String: Any]? { JSONLines(result.stdout).of("pipeline.error").last }

    // MARK: Disk full

    /// A restore from the cache into a full disk: the old output is intact, no temp file is
    /// left, exit 1 names the output; after freeing space the rerun restores it.
    func testRestoreOnAFullDiskKeepsTheOldOutputAndNamesIt() throws {
        let fixture = try Fixture(self)
        try mountTmpfs(fixture.root, size: "2m")
        pipelinefile(fixture, size: 300_000)
        fixture.write("tag", "A")
        XCTAssertEqual(fixture.run(["run"]).status, 0)
        fixture.write("tag", "B")
        XCTAssertEqual(fixture.run(["run"]).status, 0)
        fixture.write("tag", "A")
        fill(fixture.root, leaving: 100_000)

        let full = fixture.run(["run", "--json"])
        XCTAssertEqual(full.status, 1, full.transcript)
        let error = try XCTUnwrap(errorDocument(full), full.transcript)
        let message = error["message"] as? String ?? ""
        XCTAssertTrue(message.contains(fixture.path("out.bin")), message)
        XCTAssertTrue(message.contains("No space left on device"), message)
        XCTAssertEqual(error["exit_code"] as? Int, 1)
        XCTAssertEqual(fixture.read("out.bin"), expected("B", size: 300_000), "the old output must stay whole")
        XCTAssertEqual(temporaries(under: fixture.root), [])
        let text = fixture.run(["run"])
        XCTAssertEqual(text.status, 1, text.transcript)
        XCTAssertTrue(text.stderr.contains("cannot write \(fixture.path("out.bin")): No space left on device"), text.stderr)

        unfill(fixture.root)
        let rerun = fixture.run(["run"])
        XCTAssertEqual(rerun.status, 0, rerun.transcript)
        XCTAssertEqual(fixture.read("out.bin"), expected("A", size: 300_000))
        let check = fixture.run(["store", "check"])
        XCTAssertEqual(check.status, 0, check.transcript)
        XCTAssertTrue(check.stdout.contains("clean"), check.transcript)
    }

    /// A store too full to keep a run's blobs (small ones appended to store.log, cut short):
    /// the run fails naming the store, store.log keeps no torn record, `store check` stays
    /// clean, and once there is space the rerun stores everything.
    func testAFullStoreFailsTheRunAndStaysConsistent() throws {
        let fixture = try Fixture(self)
        let store = fixture.outside + "/store"
        try mountTmpfs(store, size: "2m")
        pipelinefile(fixture, size: 1000, smallFiles: 8, dependent: true)
        fixture.write("tag", "A")
        XCTAssertEqual(fixture.run(["run", "--store", store]).status, 0)
        fixture.write("tag", "B")
        fill(store, leaving: 200_000)

        let full = fixture.run(["run", "--store", store, "--json"])
        XCTAssertEqual(full.status, 1, full.transcript)
        let message = errorDocument(full)?["message"] as? String ?? ""
        XCTAssertTrue(message.contains(store), message)
        XCTAssertTrue(message.contains("No space left on device"), message)
        XCTAssertTrue(fixture.read("s7.bin")?.hasPrefix("B s7.bin") ?? false, "the command's outputs are in place")
        let check = fixture.run(["store", "check", "--store", store])
        XCTAssertEqual(check.status, 0, check.transcript)
        XCTAssertFalse(check.stdout.contains("torn_log"), check.transcript)

        // The rerun stores what the failed one could not (a step it ran is not "up to date"
        // with its outputs missing from the store), and its job packs.
        unfill(store)
        let rerun = fixture.run(["run", "--store", store])
        XCTAssertEqual(rerun.status, 0, rerun.transcript)
        XCTAssertEqual(fixture.run(["run", "--store", store, "--json"]).status, 0)
        let after = fixture.run(["store", "check", "--store", store])
        XCTAssertEqual(after.status, 0, after.transcript)
        let jobs = fixture.run(["job", "list", "--store", store]).stdoutLines.filter { $0.contains(" completed ") }
        let job = try XCTUnwrap(jobs.last?.split(separator: " ").first.map(String.init))
        let pack = fixture.run(["pack", "build", "--type", "run", "--from", job, "--out", fixture.outside, "--store", store])
        XCTAssertEqual(pack.status, 0, pack.transcript)
        // Only what the log repairs (a snapshot behind it); then nothing.
        fixture.run(["job", "doctor", "--repair", "--store", store])
        let doctor = fixture.run(["job", "doctor", "--store", store])
        XCTAssertEqual(doctor.status, 0, doctor.transcript)
    }

    /// A disk so full that a run cannot even record its job: exit 1, and no half-made job
    /// folder is left for `job list` and `job doctor`.
    func testAJobThatCannotStartLeavesNoFolder() throws {
        let fixture = try Fixture(self)
        try mountTmpfs(fixture.root, size: "1m")
        pipelinefile(fixture, size: 1000)
        fixture.write("tag", "A")
        XCTAssertEqual(fixture.run(["run"]).status, 0)
        fill(fixture.root, leaving: 0)
        let full = fixture.run(["run"])
        XCTAssertEqual(full.status, 1, full.transcript)
        XCTAssertTrue(full.stderr.contains("No space left on device"), full.stderr)
        unfill(fixture.root)
        let jobs = fixture.run(["job", "list"])
        XCTAssertEqual(jobs.status, 0, jobs.transcript)
        XCTAssertEqual(jobs.stdoutLines.count, 1, jobs.transcript)
        let doctor = fixture.run(["job", "doctor"])
        XCTAssertEqual(doctor.status, 0, doctor.transcript)
    }

    /// `pack build` into a full folder: exit 1 with the pack's path and the system's reason
    /// (not libarchive's bare "Write error"), no partial pack or temp file; then it builds.
    func testPackBuildOnAFullDiskLeavesNoPartialPack() throws {
        let fixture = try Fixture(self)
        let out = fixture.outside + "/packs"
        try mountTmpfs(out, size: "1m")
        pipelinefile(fixture, size: 300_000)
        fixture.write("tag", "A")
        XCTAssertEqual(fixture.run(["run"]).status, 0)
        let job = try XCTUnwrap(fixture.run(["job", "list"]).stdoutLines.first?.split(separator: " ").first.map(String.init))
        fill(out, leaving: 50_000)

        let full = fixture.run(["pack", "build", "--type", "run", "--from", job, "--out", out, "--json"])
        XCTAssertEqual(full.status, 1, full.transcript)
        let error = try XCTUnwrap(errorDocument(full), full.transcript)
        let message = error["message"] as? String ?? ""
        XCTAssertTrue(message.contains(out + "/pack_"), message)
        XCTAssertTrue(message.contains("No space left on device"), message)
        XCTAssertNotNil(error["path"] as? String)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: out).sorted(), ["filler"])

        unfill(out)
        let built = fixture.run(["pack", "build", "--type", "run", "--from", job, "--out", out])
        XCTAssertEqual(built.status, 0, built.transcript)
        XCTAssertEqual(fixture.run(["pack", "verify", built.stdout.trimmingCharacters(in: .whitespacesAndNewlines)]).status, 0)
    }

    /// Over a file size limit (`ulimit -f`), a restore fails with EFBIG and exit 1, instead of
    /// SIGXFSZ killing pipeline half-way (exit 153).
    func testAFileSizeLimitIsAnErrorNotASignal() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/prlimit") else { try skip("prlimit is not installed") }
        let fixture = try Fixture(self)
        let store = fixture.outside + "/store"
        pipelinefile(fixture, size: 300_000)
        fixture.write("tag", "A")
        XCTAssertEqual(fixture.run(["run", "--store", store]).status, 0)
        fixture.write("tag", "B")
        XCTAssertEqual(fixture.run(["run", "--store", store]).status, 0)
        fixture.write("tag", "A")
        let process = try SpawnedProcess(executable: "/usr/bin/prlimit", arguments: ["--fsize=100000", PipelineBinary.path, "run", "--store", store],
                                         directory: fixture.root, environment: ProcessInfo.processInfo.environment)
        let limited = process.wait()
        XCTAssertEqual(limited.status, 1, limited.transcript)
        XCTAssertTrue(limited.stderr.contains("File too large"), limited.stderr)
        XCTAssertTrue(limited.stderr.contains(fixture.path("out.bin")), limited.stderr)
        XCTAssertEqual(fixture.read("out.bin"), expected("B", size: 300_000))
        XCTAssertEqual(temporaries(under: fixture.root), [])
    }

    /// A step that ran while the store could not keep its results (here store.log is over
    /// the file size limit) is not "up to date" next time: a later run that needs its outputs
    /// finds them in the store, and the job it leaves names no missing blob.
    func testAStepTheStoreCouldNotKeepRunsAgain() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/prlimit") else { try skip("prlimit is not installed") }
        let fixture = try Fixture(self)
        fixture.pipelinefile("""
            pipeline: 1
            steps:
              big:
                run: yes "$(cat tag) big" | head -c 200000 > big.bin
                inputs: [tag]
                outputs: [big.bin]
              small:
                run: yes "$(cat tag) small" | head -c 40000 > small.bin
                inputs: [tag]
                outputs: [small.bin]
              combine:
                needs: [big, small]
                run: cat big.bin small.bin > all.bin
                outputs: [all.bin]
            """)
        fixture.write("tag", "A")
        XCTAssertEqual(fixture.run(["run"]).status, 0)
        fixture.write("tag", "B")
        // big's command dies of the limit; small runs, but store.log (already over the
        // limit) cannot take its results; combine is skipped.
        let limited = try SpawnedProcess(executable: "/usr/bin/prlimit", arguments: ["--fsize=60000", PipelineBinary.path, "run"],
                                         directory: fixture.root, environment: ProcessInfo.processInfo.environment).wait()
        XCTAssertEqual(limited.status, 1, limited.transcript)
        XCTAssertTrue(limited.stderr.contains("store.log: File too large"), limited.transcript)

        let rerun = fixture.run(["run", "--json"])
        XCTAssertEqual(rerun.status, 0, rerun.transcript)
        XCTAssertEqual(JSONLines(rerun.stdout).steps("up_to_date"), [], "small must not be up to date with its outputs missing from the store")
        let check = fixture.run(["store", "check"])
        XCTAssertEqual(check.status, 0, check.transcript)
        let job = try XCTUnwrap(fixture.run(["job", "list"]).stdoutLines.last?.split(separator: " ").first.map(String.init))
        let pack = fixture.run(["pack", "build", "--type", "run", "--from", job, "--out", fixture.outside])
        XCTAssertEqual(pack.status, 0, pack.transcript)
    }

    // MARK: Read-only and permissions

    /// A store on a read-only mount: everything that only reads works (store check reads the
    /// log, job list, graph, list, a dry run, pack build); a run fails clearly with exit 1.
    func testAReadOnlyStoreStillReads() throws {
        let fixture = try Fixture(self)
        let store = fixture.outside + "/store"
        try mountTmpfs(store, size: "4m")
        pipelinefile(fixture, size: 1000, smallFiles: 1)
        fixture.write("tag", "A")
        XCTAssertEqual(fixture.run(["run", "--store", store]).status, 0)
        let job = try XCTUnwrap(fixture.run(["job", "list", "--store", store]).stdoutLines.first?.split(separator: " ").first.map(String.init))
        remount(store, readOnly: true)
        addTeardownBlock { DiskFaultTests.tool("/bin/mount", ["-o", "remount,rw", store]) }

        let check = fixture.run(["store", "check", "--store", store])
        XCTAssertEqual(check.status, 0, check.transcript)
        XCTAssertTrue(check.stdout.contains("clean"), check.transcript)
        for arguments in [["job", "list"], ["job", "show", job], ["graph"], ["list"], ["run", "--dry-run"]] {
            let result = fixture.run(arguments + ["--store", store])
            XCTAssertEqual(result.status, 0, "\(arguments): \(result.transcript)")
        }
        let pack = fixture.run(["pack", "build", "--type", "run", "--from", job, "--out", fixture.outside, "--store", store])
        XCTAssertEqual(pack.status, 0, pack.transcript)

        fixture.write("tag", "B")
        let run = fixture.run(["run", "--store", store, "--json"])
        XCTAssertEqual(run.status, 1, run.transcript)
        let error = try XCTUnwrap(errorDocument(run), run.transcript)
        XCTAssertTrue((error["message"] as? String ?? "").contains("Read-only file system"), run.transcript)
        XCTAssertTrue((error["message"] as? String ?? "").contains(store), run.transcript)
        XCTAssertTrue((error["hint"] as? String ?? "").contains("read-only"), run.transcript)
    }

    /// A workspace on a read-only mount: restoring an output fails with exit 1 naming it.
    func testARestoreIntoAReadOnlyWorkspaceNamesTheOutput() throws {
        let fixture = try Fixture(self)
        let store = fixture.outside + "/store"
        try mountTmpfs(fixture.root, size: "2m")
        pipelinefile(fixture, size: 1000)
        fixture.write("tag", "A")
        XCTAssertEqual(fixture.run(["run", "--store", store]).status, 0)
        fixture.write("tag", "B")
        XCTAssertEqual(fixture.run(["run", "--store", store]).status, 0)
        fixture.write("tag", "A")
        remount(fixture.root, readOnly: true)
        addTeardownBlock { DiskFaultTests.tool("/bin/mount", ["-o", "remount,rw", fixture.root]) }

        let run = fixture.run(["run", "--store", store])
        XCTAssertEqual(run.status, 1, run.transcript)
        XCTAssertTrue(run.stderr.contains("cannot write \(fixture.path("out.bin")): Read-only file system"), run.transcript)
        XCTAssertEqual(fixture.read("out.bin"), expected("B", size: 1000))
        XCTAssertEqual(fixture.run(["list", "--store", store]).status, 0)
    }

    /// Another user (root's store, run as `nobody`): a clear permission error with the path
    /// and exit 1; reading commands still work.
    func testAnotherUsersStoreGivesAPermissionError() throws {
        guard getuid() == 0 else { try skip("needs root to run as nobody") }
        guard FileManager.default.isExecutableFile(atPath: "/usr/sbin/runuser") else { try skip("runuser is not installed") }
        guard DiskFaultTests.tool("/usr/sbin/runuser", ["-u", "nobody", "--", PipelineBinary.path, "--version"]) == 0 else {
            try skip("nobody cannot run \(PipelineBinary.path)")
        }
        let fixture = try Fixture(self)
        chmod(fixture.base, 0o755)
        pipelinefile(fixture, size: 1000)
        fixture.write("tag", "A")
        XCTAssertEqual(fixture.run(["run"]).status, 0)
        fixture.write("tag", "B")

        func asNobody(_ arguments: [String]) throws -> ProcessResult {
            try SpawnedProcess(executable: "/usr/sbin/runuser", arguments: ["-u", "nobody", "--", PipelineBinary.path] + arguments,
                               directory: fixture.root, environment: ProcessInfo.processInfo.environment).wait()
        }
        let run = try asNobody(["run", "--json"])
        XCTAssertEqual(run.status, 1, run.transcript)
        let error = try XCTUnwrap(errorDocument(run), run.transcript)
        XCTAssertTrue((error["message"] as? String ?? "").contains("Permission denied"), run.transcript)
        XCTAssertTrue((error["message"] as? String ?? "").contains(fixture.path(".pipeline")), run.transcript)
        XCTAssertTrue((error["hint"] as? String ?? "").contains("permissions"), run.transcript)
        for arguments in [["job", "list"], ["list"], ["graph"], ["store", "check"]] {
            let result = try asNobody(arguments)
            XCTAssertEqual(result.status, 0, "\(arguments): \(result.transcript)")
        }
    }
}

private struct Path {
    let text: String
    init(_ text: String) { self.text = text }
    var last: String { text.split(separator: "/").last.map(String.init) ?? text }
}
