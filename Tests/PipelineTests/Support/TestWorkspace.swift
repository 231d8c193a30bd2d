import Glibc
import XCTest

@testable import Pipeline

/// A temporary workspace folder, removed at deinit.
final class TestWorkspace {
    let root: String

    init() {
        var template = Array("/tmp/pipeline-test-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        precondition(made != nil)
        root = FileSystem.realPath(template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) })!
    }

    deinit { try? FileSystem.remove(root) }

    func path(_ relative: String) -> String { root + "/" + relative }

    func write(_ relative: String, _ text: String, mode: UInt32 = 0o644) {
        let path = self.path(relative)
        try! FileSystem.makeDirectories(Path.directory(of: path))
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode_t(mode))
        precondition(fd >= 0)
        try! FileSystem.writeAll(fd, Array(text.utf8), path: path)
        close(fd)
    }

    func read(_ relative: String) -> String? { try? FileSystem.readText(path(relative)) }

    func exists(_ relative: String) -> Bool { FileSystem.exists(path(relative)) }
}

/// Runs "commands" in-process: each step name maps to a closure that may write files and
/// returns an exit code. Records what ran.
final class FakeExecutor: Executor {
    var behaviours: [String: (TestWorkspace) -> Int32] = [:]
    private(set) var ran: [String] = []
    private var pending: [Completion] = []
    let workspace: TestWorkspace
    let names: [Int: String]
    var interrupt = false

    init(workspace: TestWorkspace, graph: Graph) {
        self.workspace = workspace
        var names: [Int: String] = [:]
        for (i, step) in graph.steps.enumerated() { names[i] = step.name }
        self.names = names
    }

    func start(_ invocation: Invocation) throws {
        let name = names[invocation.id]!
        ran.append(name)
        let code = behaviours[name]?(workspace) ?? 0
        pending.append(Completion(id: invocation.id, termination: .exited(code), durationNanos: 1000))
    }

    func waitAny() throws -> ExecutorEvent { .completed(pending.removeFirst()) }
    func terminateAll() {}
    func interruptRequested() -> Bool { interrupt }
}

extension FileSystem {
    static func touchEmpty(_ path: String) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        if fd >= 0 { close(fd) }
    }
}

/// Parses Pipelinefile text, failing the test on error.
func parse(_ text: String, file: StaticString = #filePath, line: UInt = #line) throws -> Pipelinefile {
    try PipelinefileParser().parse(bytes: Array(text.utf8))
}

/// The error a Pipelinefile text produces.
func parseError(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> PipelineError? {
    do {
        _ = try PipelinefileParser().parse(bytes: Array(text.utf8))
        XCTFail("expected a parse error", file: file, line: line)
        return nil
    } catch let error as PipelineError {
        return error
    } catch {
        XCTFail("unexpected error \(error)", file: file, line: line)
        return nil
    }
}
