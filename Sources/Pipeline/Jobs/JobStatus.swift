/// Where a job stands. One table, below, says which changes are allowed.
public enum JobStatus: String, Sendable, CaseIterable {
    case queued
    case running
    case paused
    case decisionNeeded = "decision_needed"
    case blocked
    case completed
    case failed
    case canceled

    /// No change leaves these.
    public var isTerminal: Bool { self == .completed || self == .canceled }

    /// The whole transition table. Anything not listed is refused.
    public static let transitions: [JobStatus: Set<JobStatus>] = [
        .queued: [.running, .canceled],
        .running: [.paused, .decisionNeeded, .blocked, .completed, .failed, .canceled],
        .paused: [.running, .canceled],
        .decisionNeeded: [.running, .canceled],
        .blocked: [.running, .failed, .canceled],
        // A failed job can be resumed (run again from where it stopped) or given up.
        .failed: [.running, .canceled],
        .completed: [],
        .canceled: [],
    ]

    public func canChange(to next: JobStatus) -> Bool { JobStatus.transitions[self]?.contains(next) ?? false }

    /// Throws the stable error for a refused change, naming the current status.
    public func checkChange(to next: JobStatus, job: JobID) throws {
        guard canChange(to: next) else {
            throw PipelineError(.invalidTransition, "job \(job) is \(rawValue): it cannot become \(next.rawValue)",
                                hint: isTerminal ? "a \(rawValue) job stays \(rawValue); start a new run" : nil)
        }
    }
}
