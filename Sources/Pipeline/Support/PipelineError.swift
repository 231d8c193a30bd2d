/// Where in a file something is: 1-based line and column.
public struct SourceLocation: Sendable, Hashable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int

    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    public var description: String { "\(file):\(line):\(column)" }
}

/// The one error type of the core: a stable code, a message, and context.
public struct PipelineError: Error, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable, CaseIterable {
        /// The Pipelinefile or a flag is malformed.
        case invalidInput = "invalid_input"
        /// A requested step or target does not exist.
        case unknownStep = "unknown_step"
        case dependencyCycle = "dependency_cycle"
        /// A `use:` names a rule this version cannot run yet.
        case ruleUnavailable = "rule_unavailable"
        /// A literal input that is missing and that no step produces.
        case missingInput = "missing_input"
        /// A program a step runs was not found (shell exit 127).
        case programNotFound = "program_not_found"
        case stepFailed = "step_failed"
        /// A path escapes the workspace at run time.
        case pathEscapes = "path_escapes"
        /// Destructive operation without confirmation.
        case confirmationRequired = "confirmation_required"
        case leaseConflict = "lease_conflict"
        /// Refused by policy: a job's Pipelinefile or environment changed since it started.
        case policyRefused = "policy_refused"
        /// A job waits at an `approve` step for a person's decision.
        case approvalRequired = "approval_required"
        /// A job status change the transition table refuses.
        case invalidTransition = "invalid_transition"
        case unknownJob = "unknown_job"
        /// A job's files disagree or cannot be read; `pipeline job doctor` explains.
        case jobCorrupt = "job_corrupt"
        /// A pack (or other evidence) failed verification.
        case verificationFailed = "verification_failed"
        /// A replayed step did not reproduce its recorded outputs.
        case notReproduced = "not_reproduced"
        case storeFormat = "store_format"
        case io = "io_error"
        case interrupted = "interrupted"
        case internalError = "internal_error"
    }

    public var code: Code
    public var message: String
    public var location: SourceLocation?
    public var step: String?
    public var path: String?
    public var hint: String?
    public var cause: String?

    public init(_ code: Code, _ message: String, location: SourceLocation? = nil,
                step: String? = nil, path: String? = nil, hint: String? = nil, cause: String? = nil) {
        self.code = code
        self.message = message
        self.location = location
        self.step = step
        self.path = path
        self.hint = hint
        self.cause = cause
    }

    /// `file:line:col: message` when the error has a location, else the message.
    public var description: String {
        var text = location.map { "\($0): \(message)" } ?? message
        if let cause { text += " (\(cause))" }
        return text
    }

    /// Whether retrying the same request later may succeed.
    public var retryable: Bool { code == .leaseConflict || code == .io }
}
