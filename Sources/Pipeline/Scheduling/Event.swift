/// Something the engine tells whoever watches a run. The core never prints: the CLI
/// renders events as a progress line, plain lines, or JSON lines.
public enum Event: Sendable {
    /// Every run is a job; this comes before anything else.
    case jobStarted(JobID)
    case waitingForLock(holder: String)
    /// The steps this run will consider, in order.
    case planned(steps: [String])
    case stepStarted(StepStart)
    case stepFinished(StepOutcome)
    case warning(String)
    case finished(RunSummary)
}

public struct StepStart: Sendable {
    public var step: String
    public var description: String?
    /// 1-based position among the steps that do work in this run.
    public var index: Int
    public var total: Int
    public var reason: RebuildReason
    public var command: String

    public init(step: String, description: String?, index: Int, total: Int, reason: RebuildReason, command: String) {
        self.step = step
        self.description = description
        self.index = index
        self.total = total
        self.reason = reason
        self.command = command
    }
}

public struct StepOutcome: Sendable {
    public var step: String
    public var status: StepStatus
    /// Why it ran or was restored; nil when up to date.
    public var reason: RebuildReason?
    public var durationNanos: Int64
    public var exitCode: Int32?
    public var command: String?
    /// The last lines of stderr, for a failed step.
    public var stderrTail: String?
    /// What went wrong, for a failed, skipped or canceled step.
    public var message: String?
    /// In a dry run: the step was not executed, this is what would happen.
    public var dryRun: Bool
    /// Digests of the command's stdout and stderr in the store, when it ran.
    public var logs: (stdout: Digest, stderr: Digest)?
    /// The evidence of an executed step (ran or failed), as the JSON document written once
    /// into the job and the action result.
    public var record: JSON?

    public init(step: String, status: StepStatus, reason: RebuildReason? = nil, durationNanos: Int64 = 0, exitCode: Int32? = nil,
                command: String? = nil, stderrTail: String? = nil, message: String? = nil, dryRun: Bool = false) {
        self.step = step
        self.status = status
        self.reason = reason
        self.durationNanos = durationNanos
        self.exitCode = exitCode
        self.command = command
        self.stderrTail = stderrTail
        self.message = message
        self.dryRun = dryRun
    }
}

public struct RunSummary: Sendable {
    public var counts: [StepStatus: Int]
    public var outcomes: [StepOutcome]
    public var durationNanos: Int64
    public var dryRun: Bool
    public var interrupted: Bool
    /// `approve` steps that stopped the run, waiting for a person.
    public var awaitingApproval: [Step] = []
    /// Someone paused the run: what ran finished, nothing new started.
    public var paused = false

    public init(counts: [StepStatus: Int], outcomes: [StepOutcome], durationNanos: Int64, dryRun: Bool, interrupted: Bool) {
        self.counts = counts
        self.outcomes = outcomes
        self.durationNanos = durationNanos
        self.dryRun = dryRun
        self.interrupted = interrupted
    }

    public var failed: [StepOutcome] { outcomes.filter { $0.status == .failed } }
    public var succeeded: Bool { !interrupted && outcomes.allSatisfy { $0.status.succeeded } }
    /// Steps that executed a command.
    public var executed: Int { counts[.ran] ?? 0 }
}

/// Receives events. Called on the engine's thread, in order.
public protocol EventSink: AnyObject {
    func emit(_ event: Event)
}

/// Keeps every event (tests, and callers that render at the end).
public final class EventLog: EventSink {
    public private(set) var events: [Event] = []
    public init() {}
    public func emit(_ event: Event) { events.append(event) }
}
