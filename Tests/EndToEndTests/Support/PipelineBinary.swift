import Foundation
import Glibc

/// The built `pipeline` executable these tests run.
///
/// Found, in order: `PIPELINE_BIN`; beside the test runner (SwiftPM puts executables and the
/// test bundle in the same `<scratch>/debug` folder); else `<package>/.build-e2e/debug` or
/// `<package>/.build/debug`, the package being found by walking up from this file.
enum PipelineBinary {
    static let path: String = locate()

    static func locate(filePath: String = #filePath) -> String {
        let environment = ProcessInfo.processInfo.environment
        if let path = environment["PIPELINE_BIN"], !path.isEmpty { return absolute(path) }
        var candidates: [String] = []
        if let runner = CommandLine.arguments.first, runner.contains("/") {
            let resolved = realpath(absolute(runner))
            candidates.append(directory(of: resolved) + "/pipeline")
            candidates.append(directory(of: absolute(runner)) + "/pipeline")
        }
        if let executable = Bundle.main.executablePath {
            candidates.append(directory(of: executable) + "/pipeline")
        }
        var folder = directory(of: filePath)
        while folder != "/" && !folder.isEmpty {
            if FileManager.default.fileExists(atPath: folder + "/Package.swift") {
                candidates.append(folder + "/.build-e2e/debug/pipeline")
                candidates.append(folder + "/.build/debug/pipeline")
                break
            }
            folder = directory(of: folder)
        }
        for candidate in candidates where access(candidate, X_OK) == 0 {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: candidate, isDirectory: &isDirectory) && !isDirectory.boolValue { return candidate }
        }
        // Let the first run fail with a clear message rather than crash here.
        return candidates.last ?? "pipeline"
    }

    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    static func absolute(_ path: String) -> String {
        path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
    }

    static func realpath(_ path: String) -> String {
        guard let resolved = Glibc.realpath(path, nil) else { return path }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}

/// What a finished process left: its exit status (128 + signal when killed) and output.
struct ProcessResult {
    var status: Int32
    var stdout: String
    var stderr: String
    /// Wall time from start to exit.
    var seconds: Double

    var stdoutLines: [String] { stdout.split(separator: "\n", omittingEmptySubsequences: true).map(String.init) }
    /// Both streams, for failure messages.
    var transcript: String { "exit \(status)\n--- stdout ---\n\(stdout)--- stderr ---\n\(stderr)" }
}

/// A process started with `posix_spawn`, its stdout and stderr going to files.
final class SpawnedProcess {
    let pid: pid_t
    let stdoutPath: String
    let stderrPath: String
    private let started: Date
    private var finished: (status: Int32, at: Date)?

    /// Starts `executable` with `arguments` in `directory`. `stdin` defaults to /dev/null
    /// (never a terminal). SIGINT/SIGTERM/SIGHUP start with their default action and
    /// nothing blocked, whatever the test runner inherited.
    init(executable: String, arguments: [String], directory: String, environment: [String: String], stdin: String = "/dev/null") throws {
        let folder = try Scratch.folder(prefix: "spawn")
        stdoutPath = folder + "/stdout"
        stderrPath = folder + "/stderr"

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, stdin, O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdoutPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, stderrPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)

        var argv = [executable] + arguments
        var program = executable
        if let addChdir = SpawnedProcess.addChdir {
            _ = directory.withCString { addChdir(&actions, $0) }
        } else {
            // glibc before 2.29: change directory through a shell that then execs the program.
            argv = ["/bin/sh", "-c", "cd \"$0\" && exec \"$@\"", directory] + argv
            program = "/bin/sh"
        }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var mask = sigset_t()
        sigemptyset(&mask)
        posix_spawnattr_setsigmask(&attributes, &mask)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGINT, SIGTERM, SIGHUP, SIGPIPE, SIGQUIT] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let cArguments: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        let cEnvironment: [UnsafeMutablePointer<CChar>?] = environment.sorted { $0.key < $1.key }.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in cArguments { free(pointer) }
            for pointer in cEnvironment { free(pointer) }
        }
        var pid: pid_t = 0
        started = Date()
        let rc = posix_spawn(&pid, program, &actions, &attributes, cArguments, cEnvironment)
        guard rc == 0 else {
            try? FileManager.default.removeItem(atPath: folder)
            throw SpawnError(message: "cannot start \(program): \(String(cString: strerror(rc)))")
        }
        self.pid = pid
    }

    /// `posix_spawn_file_actions_addchdir_np` (glibc 2.29+; not exported to Swift by Glibc).
    private static var addChdir: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>?, UnsafePointer<CChar>?) -> Int32)? {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addchdir_np") else { return nil }
        return unsafeBitCast(symbol, to: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>?, UnsafePointer<CChar>?) -> Int32).self)
    }

    func signal(_ signal: Int32) {
        if finished == nil { kill(pid, signal) }
    }

    /// Reaps the process if it has exited; true once it has.
    @discardableResult
    func poll() -> Bool {
        if finished != nil { return true }
        var status: Int32 = 0
        let r = waitpid(pid, &status, WNOHANG)
        guard r == pid else { return false }
        let code = status & 0x7F == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
        finished = (code, Date())
        return true
    }

    /// Waits for the exit (polling, so a hung process cannot hang the suite: after `timeout`
    /// seconds it is killed and the status is -1).
    func wait(timeout: Double = 60) -> ProcessResult {
        let deadline = Date().addingTimeInterval(timeout)
        var pause: useconds_t = 500
        while !poll() {
            if Date() > deadline {
                kill(pid, SIGKILL)
                var status: Int32 = 0
                waitpid(pid, &status, 0)
                finished = (-1, Date())
                break
            }
            usleep(pause)
            pause = min(pause * 2, 10_000)
        }
        let (status, at) = finished!
        let stdout = (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? ""
        let stderr = (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? ""
        try? FileManager.default.removeItem(atPath: PipelineBinary.directory(of: stdoutPath))
        return ProcessResult(status: status, stdout: stdout, stderr: stderr, seconds: at.timeIntervalSince(started))
    }

    deinit {
        if finished == nil {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
        }
    }
}

struct SpawnError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

/// Fresh folders under the system temp directory (symlinks resolved, so paths compare equal
/// to what `pipeline` reports).
enum Scratch {
    static func folder(prefix: String) throws -> String {
        let base = ProcessInfo.processInfo.environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        var template = Array("\(base)/pipeline-e2e-\(prefix)-XXXXXX".utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw SpawnError(message: "mkdtemp failed: \(String(cString: strerror(errno)))")
        }
        return PipelineBinary.realpath(String(cString: made))
    }
}
