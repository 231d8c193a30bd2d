import Foundation
import Glibc
import XCTest

/// The shared remote cache against a real nginx: machine A builds and uploads, machine B
/// (another folder, an empty store) restores everything without running a command; a
/// corrupt blob on the server, a server gone mid-build and read-only mode.
final class RemoteCacheTests: XCTestCase {
    /// Two "machines": the same project in two folders, each with its own store.
    func machines() throws -> (a: Fixture, b: Fixture) {
        let a = try Fixture(self, name: "machine-a")
        let b = try Fixture(self, name: "machine-b")
        for f in [a, b] {
            f.write("src/words.txt", "shared caches save time\n")
            f.pipelinefile("""
                pipeline: 1
                steps:
                  upper:
                    run: tr a-z A-Z < src/words.txt > out/upper.txt && echo "uppered"
                    inputs: [src/words.txt]
                    outputs: [out/upper.txt]
                  count:
                    needs: [upper]
                    run: wc -c < out/upper.txt > out/count.txt
                    outputs: [out/count.txt]
                  slow:
                    needs: [count]
                    run: sleep 0.3; cp out/count.txt out/slow.txt
                    outputs: [out/slow.txt]
                """)
        }
        return (a, b)
    }

    func testASecondMachineRestoresEverythingWithoutRunningACommand() throws {
        let server = try NginxServer(self)
        let (a, b) = try machines()
        let first = a.run(["run", "--remote-cache", server.url, "--json"])
        assertExit(first, 0)
        XCTAssertEqual(JSONLines(first.stdout).count("ran"), 3)
        XCTAssertGreaterThan(server.puts, 0, "machine A uploaded")
        let second = b.run(["run", "--json"], environment: ["PIPELINE_REMOTE_CACHE": server.url])
        assertExit(second, 0)
        XCTAssertEqual(JSONLines(second.stdout).count("ran"), 0, "machine B executes nothing: \(second.transcript)")
        XCTAssertEqual(JSONLines(second.stdout).count("restored"), 3)
        XCTAssertEqual(b.tree(), a.tree(), "outputs are byte-identical")
    }

    func testACorruptBlobOnTheServerIsCaughtAndTheStepRunsHere() throws {
        let server = try NginxServer(self)
        let (a, b) = try machines()
        assertExit(a.run(["run", "upper", "--remote-cache", server.url]), 0)
        let digest = try XCTUnwrap(a.read("out/upper.txt").map { SHA256Hex.of($0) })
        let blob = server.root + "/cas/" + digest
        XCTAssertTrue(FileManager.default.fileExists(atPath: blob))
        try "tampered\n".write(toFile: blob, atomically: false, encoding: .utf8)
        let result = b.run(["run", "upper", "--remote-cache", server.url, "--json"])
        assertExit(result, 0)
        XCTAssertEqual(JSONLines(result.stdout).count("ran"), 1, "the step ran locally")
        XCTAssertEqual(b.read("out/upper.txt"), "SHARED CACHES SAVE TIME\n", "with the right result")
        assertContains(result.stdout + result.stderr, "corrupt")
    }

    func testAServerGoneMidBuildLeavesALocalBuildAndOneWarning() throws {
        let server = try NginxServer(self)
        let (a, _) = try machines()
        let build = try a.start(["run", "--remote-cache", server.url])
        XCTAssertTrue(Fixture.waitUntil(timeout: 10) { a.exists("out/count.txt") })
        server.stop()
        let result = build.wait()
        assertExit(result, 0)
        XCTAssertEqual(a.read("out/slow.txt"), a.read("out/count.txt"))
        let warnings = result.stderr.split(separator: "\n").filter { $0.contains("remote cache") }
        XCTAssertEqual(warnings.count, 1, result.transcript)
        // With no server at all: still a local build.
        a.remove("out")
        a.remove(".pipeline")
        assertExit(a.run(["run", "--remote-cache", server.url]), 0)
    }

    func testReadOnlyModeUploadsNothing() throws {
        let server = try NginxServer(self)
        let (a, b) = try machines()
        assertExit(a.run(["run", "--remote-cache", server.url, "--remote-cache-read-only"]), 0)
        XCTAssertEqual(server.puts, 0, "read-only: no PUT reached the server")
        assertExit(a.run(["run", "--remote-cache", server.url, "--force", "upper", "--force", "count", "--force", "slow"]), 0)
        let puts = server.puts
        XCTAssertGreaterThan(puts, 0)
        let reader = b.run(["run", "--remote-cache", server.url, "--remote-cache-read-only", "--json"])
        XCTAssertEqual(JSONLines(reader.stdout).count("ran"), 0, "a read-only client still reads")
        XCTAssertEqual(server.puts, puts)
    }
}

extension RemoteCacheTests {
    func testACacheSectionInThePipelinefilePointsEveryMachineAtTheCache() throws {
        let server = try NginxServer(self)
        let (a, b) = try machines()
        for f in [a, b] { f.pipelinefile("cache: { remote: \"\(server.url)\" }\n" + (f.read("Pipelinefile.yaml") ?? "")) }
        assertExit(a.run(["run"]), 0)
        let second = b.run(["run", "--json"])
        assertExit(second, 0)
        XCTAssertEqual(JSONLines(second.stdout).count("ran"), 0, second.transcript)
        a.pipelinefile("cache: { remote: ftp://nope }\n" + "pipeline: 1\nsteps:\n  x: { run: 'true' }\n")
        let bad = a.run(["run"])
        assertExit(bad, 6)
        assertContains(bad.stderr, "Pipelinefile.yaml:1:")
    }
}

enum SHA256Hex {
    static func of(_ text: String) -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", "import hashlib,sys; print(hashlib.sha256(sys.argv[1].encode()).hexdigest())", text]
        let pipe = Pipe()
        process.standardOutput = pipe
        try? process.run()
        process.waitUntilExit()
        return String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
