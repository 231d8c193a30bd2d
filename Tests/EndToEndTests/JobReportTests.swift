import Foundation
import Glibc
import XCTest

/// `pipeline job trace` (Chrome trace-event JSON) and `pipeline job report` (text, JSON, and a
/// self-contained HTML page checked in a real headless Chromium when one is installed).
final class JobReportTests: XCTestCase {
    func jobID(_ result: ProcessResult) -> String {
        result.stderr.split(separator: "\n").first { $0.hasPrefix("job ") }.map { String($0.dropFirst(4)) } ?? ""
    }

    func trace(_ f: Fixture, _ id: String) throws -> (all: [[String: Any]], complete: [[String: Any]]) {
        let traced = f.run(["job", "trace", id])
        assertExit(traced, 0)
        let document = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(traced.stdout.utf8)) as? [String: Any], traced.stdout)
        XCTAssertEqual(document["displayTimeUnit"] as? String, "ms")
        let events = try XCTUnwrap(document["traceEvents"] as? [[String: Any]])
        return (events, events.filter { $0["ph"] as? String == "X" })
    }

    func testTraceHasOneCompleteEventPerExecutedStepAndMarksCacheHits() throws {
        let f = try Fixture(self)
        f.writeChain()
        let first = f.run(["run", "-j", "2"])
        assertExit(first, 0)
        let (events, complete) = try trace(f, jobID(first))
        XCTAssertEqual(complete.compactMap { $0["name"] as? String }.sorted(), ["a", "b", "c", "other"])
        for event in complete {
            XCTAssertEqual(event["cat"] as? String, "ran")
            XCTAssertEqual(event["pid"] as? Int, 1)
            XCTAssertGreaterThanOrEqual(event["tid"] as? Int ?? 0, 1)
            XCTAssertLessThanOrEqual(event["tid"] as? Int ?? 9, 2, "-j 2 needs at most two slots")
            XCTAssertNotNil(event["ts"] as? Double)
            XCTAssertGreaterThan(event["dur"] as? Double ?? 0, 0)
        }
        // A named track for every slot in use.
        let slots = Set(complete.compactMap { $0["tid"] as? Int })
        let named = Set(events.filter { $0["name"] as? String == "thread_name" }.compactMap { $0["tid"] as? Int })
        XCTAssertEqual(named, slots)

        // One input changed: a, b and c run again, other is up to date (no event).
        f.write("src/in.txt", "changed\n")
        let second = f.run(["run", "--json"])
        assertExit(second, 0)
        XCTAssertEqual(try trace(f, jobID(second)).complete.compactMap { $0["name"] as? String }, ["a", "b", "c"])

        // Outputs gone: every step is restored from the cache, marked as a cache hit.
        f.remove("out")
        let third = f.run(["run"])
        assertExit(third, 0)
        let restored = try trace(f, jobID(third)).complete
        XCTAssertEqual(restored.count, 4)
        for event in restored {
            XCTAssertEqual(event["cat"] as? String, "restored")
            XCTAssertEqual((event["args"] as? [String: Any])?["cache_hit"] as? Bool, true)
        }

        // -o writes the same bytes to a file.
        let file = f.outside + "/trace.json"
        assertExit(f.run(["job", "trace", jobID(third), "-o", file]), 0)
        XCTAssertEqual(try String(contentsOfFile: file, encoding: .utf8), f.run(["job", "trace", jobID(third)]).stdout)
    }

    /// Every status in one run: ran, restored, up to date, failed and skipped.
    func writeMixed(_ f: Fixture) {
        f.write("src/g.txt", "one\n")
        f.write("src/c.txt", "cached\n")
        f.write("src/s.txt", "same\n")
        f.pipelinefile("""
            pipeline: 1
            steps:
              gen: { run: "mkdir -p out && cp src/g.txt out/g", inputs: [src/g.txt], outputs: [out/g] }
              lib: { needs: [gen], run: "sleep 0.05; cp out/g out/lib", outputs: [out/lib] }
              cached: { run: "mkdir -p out && cp src/c.txt out/c", inputs: [src/c.txt], outputs: [out/c] }
              same: { run: "mkdir -p out && cp src/s.txt out/s", inputs: [src/s.txt], outputs: [out/s] }
              broken: { run: "echo no >&2; exit 3" }
              after: { needs: [broken], run: "true" }
            """)
    }

    func mixedRun(_ f: Fixture) -> String {
        writeMixed(f)
        assertExit(f.run(["run", "-k"]), 1)
        f.write("src/g.txt", "two\n")
        f.remove("out/c")
        let second = f.run(["run", "-k"])
        assertExit(second, 1)
        return jobID(second)
    }

    func testReportListsEveryStepWithStatusTimingAndWhy() throws {
        let f = try Fixture(self)
        let id = mixedRun(f)
        let report = f.run(["job", "report", id, "--json"])
        assertExit(report, 0)
        let document = try XCTUnwrap(JSONLines(report.stdout).of("pipeline.job_report").first, report.transcript)
        XCTAssertEqual(document["status"] as? String, "failed")
        let run = try XCTUnwrap((document["runs"] as? [[String: Any]])?.first)
        XCTAssertEqual(run["ended"] as? String, "failed")
        let steps = run["steps"] as? [[String: Any]] ?? []
        var status: [String: String] = [:]
        for step in steps { status[step["step"] as? String ?? ""] = step["status"] as? String }
        XCTAssertEqual(status, ["gen": "ran", "lib": "ran", "cached": "restored", "same": "up_to_date", "broken": "failed", "after": "skipped"])
        let byName = Dictionary(uniqueKeysWithValues: steps.map { ($0["step"] as? String ?? "", $0) })
        XCTAssertEqual(byName["after"]?["reason"] as? String, "broken failed")
        assertContains(byName["gen"]?["reason"] as? String ?? "", "src/g.txt")
        XCTAssertNil(byName["same"]?["start_ns"])
        XCTAssertGreaterThanOrEqual((byName["lib"]?["duration_ns"] as? Int) ?? 0, 50_000_000)
        XCTAssertEqual(byName["lib"]?["needs"] as? [String], ["gen"])
        // lib (50 ms, after gen) is the longest chain.
        XCTAssertEqual(run["critical_path"] as? [String], ["gen", "lib"])

        let text = f.run(["job", "report", id])
        assertExit(text, 0)
        assertContains(text.stdout, "critical path: gen → lib")
        assertContains(text.stdout, "after")

        let unknown = f.run(["job", "report", "20260101T000000Z-000000"])
        assertExit(unknown, 6)
    }

    /// The HTML report in a real browser: it loads from a file with nothing else, the rendered
    /// DOM has a row for every step, and a screenshot is kept (outside git) to look at.
    func testHTMLReportRendersInHeadlessChromium() throws {
        let f = try Fixture(self)
        let id = mixedRun(f)
        let html = f.outside + "/report.html"
        let written = f.run(["job", "report", id, "--html", html])
        assertExit(written, 0)
        XCTAssertEqual(written.stdout, html + "\n")
        let page = try String(contentsOfFile: html, encoding: .utf8)
        // Self-contained: no script, stylesheet, image or font from anywhere.
        for fetch in ["<script", "<link", "src=", "@import", "url("] { assertLacks(page, fetch) }
        // Deterministic: the same job gives the same bytes.
        assertExit(f.run(["job", "report", id, "--html", f.outside + "/again.html"]), 0)
        XCTAssertEqual(try String(contentsOfFile: f.outside + "/again.html", encoding: .utf8), page)

        guard let chromium = Chromium.binary else {
            print("warning: chromium is not installed; the HTML report is not checked in a browser (CI installs it: apt-get install chromium)")
            throw XCTSkip("chromium is not installed (CI installs it: apt-get install chromium)")
        }
        let browser = try Chromium(binary: chromium, scratch: f.outside)
        let dom = try browser.dumpDOM("file://" + html)
        for step in ["gen", "lib", "cached", "same", "broken", "after"] {
            assertContains(dom, "data-step=\"\(step)\"", "(a table row for every step)")
        }
        for status in ["ran", "restored", "up_to_date", "failed", "skipped"] {
            assertContains(dom, "<tr class=\"step \(status)")
        }
        assertContains(dom, "<svg class=\"timeline\"")
        assertContains(dom, "Critical path")

        let shot = Chromium.artifacts + "/job-report.png"
        try browser.screenshot("file://" + html, to: shot)
        let png = try XCTUnwrap(FileManager.default.contents(atPath: shot))
        XCTAssertEqual(Array(png.prefix(4)), [0x89, 0x50, 0x4E, 0x47], "a PNG at \(shot)")
        XCTAssertGreaterThan(png.count, 5_000)
        print("screenshot of the HTML report: \(shot)")
    }
}

/// Debian's headless `chromium`, run with a private profile and a time limit (`--no-sandbox`:
/// tests may run as root, where the sandbox refuses to start).
struct Chromium {
    static var binary: String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for directory in path.split(separator: ":") {
            for name in ["chromium", "chromium-browser"] where access("\(directory)/\(name)", X_OK) == 0 { return "\(directory)/\(name)" }
        }
        return nil
    }

    /// Where screenshots go: `PIPELINE_TEST_ARTIFACTS`, else `.build/test-artifacts` in the package (ignored by git).
    static var artifacts: String {
        if let folder = ProcessInfo.processInfo.environment["PIPELINE_TEST_ARTIFACTS"], !folder.isEmpty { return folder }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
            + "/.build/test-artifacts"
    }

    let binary: String
    let profile: String

    init(binary: String, scratch: String) throws {
        self.binary = binary
        profile = scratch + "/chromium-profile"
        try FileManager.default.createDirectory(atPath: profile, withIntermediateDirectories: true)
    }

    func run(_ arguments: [String]) throws -> ProcessResult {
        let flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", "--disable-extensions",
                     "--hide-scrollbars", "--user-data-dir=\(profile)"]
        var environment = ProcessInfo.processInfo.environment
        environment["HOME"] = profile
        let result = try SpawnedProcess(executable: binary, arguments: flags + arguments, directory: profile, environment: environment).wait(timeout: 60)
        XCTAssertEqual(result.status, 0, "chromium \(arguments.joined(separator: " "))\n\(result.transcript)")
        return result
    }

    func dumpDOM(_ url: String) throws -> String { try run(["--dump-dom", url]).stdout }

    func screenshot(_ url: String, to path: String) throws {
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try? FileManager.default.removeItem(atPath: path)
        _ = try run(["--screenshot=\(path)", "--window-size=1200,800", url])
    }
}
