/// One command to run.
public struct Invocation: Sendable {
    /// Chosen by the scheduler; completions carry it back.
    public var id: Int
    public var command: Command
    public var environment: [String: String]
    public var workingDirectory: String
    /// Descriptors that receive the command's stdout and stderr (the caller owns them).
    public var stdout: Int32
    public var stderr: Int32
    /// Seconds; nil for no limit.
    public var timeout: Double?

    public init(id: Int, command: Command, environment: [String: String], workingDirectory: String, stdout: Int32,
                stderr: Int32, timeout: Double?) {
        self.id = id
        self.command = command
        self.environment = environment
        self.workingDirectory = workingDirectory
        self.stdout = stdout
        self.stderr = stderr
        self.timeout = timeout
    }
}

public enum Termination: Sendable, Equatable {
    case exited(Int32)
    case signaled(Int32)
    case timedOut
    /// The process could not start (errno).
    case spawnFailed(Int32)
}

public struct Completion: Sendable {
    public var id: Int
    public var termination: Termination
    public var durationNanos: Int64

    public init(id: Int, termination: Termination, durationNanos: Int64) {
        self.id = id
        self.termination = termination
        self.durationNanos = durationNanos
    }
}

public enum ExecutorEvent: Sendable {
    case completed(Completion)
    /// The user asked to stop (Ctrl-C, SIGTERM): the signal number.
    case interrupted(Int32)
}

/// How commands run. The scheduler starts up to `-j` at once and waits for any to end.
/// The local executor spawns processes; tests use a fake that records what ran.
public protocol Executor: AnyObject {
    func start(_ invocation: Invocation) throws
    /// Blocks until a started command ends or an interrupt arrives.
    func waitAny() throws -> ExecutorEvent
    /// Asks every running command to stop (SIGTERM, then SIGKILL after a grace period).
    func terminateAll()
    /// Whether an interrupt is pending (checked between steps when nothing runs).
    func interruptRequested() -> Bool
    /// Whether someone asked the run to pause: finish what runs, start nothing new.
    func pauseRequested() -> Bool
}

extension Executor {
    public func pauseRequested() -> Bool { false }
}
