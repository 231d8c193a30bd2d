/// A point in a job's life worth stopping at or looking back to.
public struct Checkpoint: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable {
        case plan
        case progress
        case decisionNeeded = "decision-needed"
        case blocked
        case completed
    }

    public static let maximumSummaryBytes = 512

    /// `cp_0001`, `cp_0002`, … (at least four digits).
    public var id: String
    public var kind: Kind
    public var summary: String
    /// What a person must do; required for `decision-needed`.
    public var requiredAction: String?
    public var step: String?
    public var createdAt: Int64
    /// For a step's progress: its command's stdout and stderr in the store.
    public var stdout: Digest?
    public var stderr: Digest?
    /// For a step's progress: what it did, why, and when (wall-clock nanoseconds); the
    /// steps it needs. Read by `pipeline job trace` and `job report`; older jobs lack them.
    public var status: StepStatus?
    public var reason: String?
    public var startedAt: Int64?
    public var durationNanos: Int64?
    public var needs: [String]?

    public init(id: String, kind: Kind, summary: String, requiredAction: String? = nil, step: String? = nil, createdAt: Int64) throws {
        let bytes = summary.utf8.count
        guard bytes >= 1, bytes <= Checkpoint.maximumSummaryBytes else {
            throw PipelineError(.invalidInput, "a checkpoint summary has 1 to \(Checkpoint.maximumSummaryBytes) bytes; this one has \(bytes)")
        }
        if kind == .decisionNeeded, (requiredAction ?? "").isEmpty {
            throw PipelineError(.invalidInput, "a decision-needed checkpoint needs a required_action")
        }
        guard Checkpoint.isValidID(id) else { throw PipelineError(.invalidInput, "invalid checkpoint id '\(id)' (expected cp_0001, cp_0002, …)") }
        self.id = id
        self.kind = kind
        self.summary = summary
        self.requiredAction = requiredAction
        self.step = step
        self.createdAt = createdAt
    }

    public static func id(number: Int) -> String {
        let digits = String(number)
        return "cp_" + String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }

    public static func isValidID(_ text: String) -> Bool {
        guard text.hasPrefix("cp_") else { return false }
        let digits = text.dropFirst(3)
        return digits.count >= 4 && digits.allSatisfy { $0.isASCII && $0.isNumber } && Int(digits).map { $0 >= 1 } == true
    }

    public var json: JSON {
        var fields: [String: JSON] = ["id": .string(id), "type": .string(kind.rawValue), "summary": .string(summary), "created_at": .int(createdAt)]
        if let requiredAction { fields["required_action"] = .string(requiredAction) }
        if let step { fields["step"] = .string(step) }
        if let stdout { fields["stdout"] = .string(stdout.hex) }
        if let stderr { fields["stderr"] = .string(stderr.hex) }
        if let status { fields["status"] = .string(status.rawValue) }
        if let reason { fields["reason"] = .string(reason) }
        if let startedAt { fields["started_at"] = .int(startedAt) }
        if let durationNanos { fields["duration_ns"] = .int(durationNanos) }
        if let needs { fields["needs"] = .array(needs.map(JSON.string)) }
        return .object(fields)
    }

    public init(json: JSON) throws {
        guard let id = json["id"]?.stringValue, let kind = json["type"]?.stringValue.flatMap(Kind.init(rawValue:)),
              let summary = json["summary"]?.stringValue
        else { throw PipelineError(.invalidInput, "malformed checkpoint") }
        try self.init(id: id, kind: kind, summary: summary, requiredAction: json["required_action"]?.stringValue,
                      step: json["step"]?.stringValue, createdAt: json["created_at"]?.intValue ?? 0)
        stdout = json["stdout"]?.stringValue.flatMap { Digest(hex: $0) }
        stderr = json["stderr"]?.stringValue.flatMap { Digest(hex: $0) }
        status = json["status"]?.stringValue.flatMap(StepStatus.init(rawValue:))
        reason = json["reason"]?.stringValue
        startedAt = json["started_at"]?.intValue
        durationNanos = json["duration_ns"]?.intValue
        needs = json["needs"]?.arrayValue?.compactMap(\.stringValue)
    }
}
