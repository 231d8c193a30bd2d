import Foundation
import Glibc
import XCTest

/// A scratch folder for one test: `root` is the workspace (where the Pipelinefile goes),
/// `outside` sits beside it for what the tests watch without it being part of the build
/// (the log of commands that ran, pid files, flags, a separate store).
final class Fixture {
    let base: String
    let root: String
    let outside: String
    /// Commands append their step name here (see `log(_:)`): one line per execution.
    let logPath: String

    init(_ test: XCTestCase, name: String = "ws") throws {
        base = try Scratch.folder(prefix: "fixture")
        root = base + "/" + name
        outside = base + "/outside"
        logPath = outside + "/log"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: outside, withIntermediateDirectories: true)
        let base = self.base
        test.addTeardownBlock {
            if ProcessInfo.processInfo.environment["PIPELINE_E2E_KEEP"] == nil {
                try? FileManager.default.removeItem(atPath: base)
            }
        }
    }

    // MARK: Files

    /// The shell text that records one execution of `step` in the log (outside the workspace).
    func log(_ step: String) -> String { "echo \(step) >> \(logPath)" }

    /// Lines of the command log, in the order the commands wrote them.
    var logLines: [String] {
        guard let text = try? String(contentsOfFile: logPath, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").map(String.init)
    }

    func path(_ relative: String) -> String { relative.hasPrefix("/") ? relative : root + "/" + relative }

    func write(_ relative: String, _ text: String) {
        let full = path(relative)
        try? FileManager.default.createDirectory(atPath: PipelineBinary.directory(of: full), withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: full, contents: Data(text.utf8))
    }

    func pipelinefile(_ text: String, name: String = "Pipelinefile.yaml") { write(name, text) }

    func read(_ relative: String) -> String? { try? String(contentsOfFile: path(relative), encoding: .utf8) }

    func exists(_ relative: String) -> Bool {
        var st = stat()
        return lstat(path(relative), &st) == 0
    }

    func remove(_ relative: String) { try? FileManager.default.removeItem(atPath: path(relative)) }

    /// Moves a file's modification time `seconds` ahead without changing its bytes.
    func touch(_ relative: String, secondsAhead seconds: Int = 10) {
        var st = stat()
        XCTAssertEqual(stat(path(relative), &st), 0, "touch: no file \(relative)")
        var times = [st.st_atim, timespec(tv_sec: st.st_mtim.tv_sec + seconds, tv_nsec: st.st_mtim.tv_nsec)]
        XCTAssertEqual(utimensat(AT_FDCWD, path(relative), &times, 0), 0, "touch \(relative)")
    }

    /// Every file and symlink under the workspace except the store, as path → (mode, bytes).
    func tree(excluding excluded: Set<String> = [".pipeline"]) -> [String: String] {
        var result: [String: String] = [:]
        guard let walker = FileManager.default.enumerator(atPath: root) else { return result }
        while let relative = walker.nextObject() as? String {
            if excluded.contains(where: { relative == $0 || relative.hasPrefix($0 + "/") }) {
                walker.skipDescendants()
                continue
            }
            var st = stat()
            guard lstat(root + "/" + relative, &st) == 0 else { continue }
            let mode = String(st.st_mode & 0o7777, radix: 8)
            switch st.st_mode & S_IFMT {
            case S_IFREG:
                let bytes = FileManager.default.contents(atPath: root + "/" + relative) ?? Data()
                result[relative] = "file \(mode) " + (String(data: bytes, encoding: .utf8) ?? bytes.base64EncodedString())
            case S_IFDIR:
                result[relative] = "dir"
            case S_IFLNK:
                result[relative] = "link " + ((try? FileManager.default.destinationOfSymbolicLink(atPath: root + "/" + relative)) ?? "?")
            default:
                result[relative] = "other"
            }
        }
        return result
    }

    // MARK: Running pipeline

    /// Runs the built `pipeline` with `arguments` (in the workspace unless `directory` is
    /// given) and waits for it. `environment` values override the caller's; nil removes one.
    @discardableResult
    func run(_ arguments: [String], in directory: String? = nil, environment: [String: String?] = [:],
             stdin: String = "/dev/null", timeout: Double = 60) -> ProcessResult {
        do {
            return try start(arguments, in: directory, environment: environment, stdin: stdin).wait(timeout: timeout)
        } catch {
            XCTFail("\(error)")
            return ProcessResult(status: -1, stdout: "", stderr: "\(error)", seconds: 0)
        }
    }

    func start(_ arguments: [String], in directory: String? = nil, environment: [String: String?] = [:],
               stdin: String = "/dev/null") throws -> SpawnedProcess {
        var env = ProcessInfo.processInfo.environment
        // What would make the binary behave differently from one test machine to another.
        for name in ["PIPELINE_STORE", "PIPELINE_REMOTE_CACHE", "PIPELINE_REMOTE_CACHE_TOKEN"] { env[name] = nil }
        for (name, value) in environment { env[name] = value }
        return try SpawnedProcess(executable: PipelineBinary.path, arguments: arguments, directory: directory ?? root,
                                  environment: env, stdin: stdin)
    }

    /// Waits until `condition` holds (polling), up to `timeout` seconds.
    @discardableResult
    static func waitUntil(timeout: Double = 10, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if condition() { return true }
            usleep(5_000)
        }
        return condition()
    }
}
