/// A job's state, derived from its event log: the log is the truth, the snapshot a fast copy
/// of it with the revision (last applied sequence number) it reflects.
public struct JobSnapshot: Sendable, Equatable {
    public static let schemaID = "pipeline.job"
    public static let schemaVersion = "1.0.0"

    public var id: JobID
    public var revision: Int
    public var status: JobStatus
    public var targets: [String]
    public var epoch: Int
    public var createdAt: String
    public var updatedAt: String
    public var checkpoints: [Checkpoint]
    /// Checkpoint id → (actor, reason) of its approval.
    public var approvals: [String: Approval]

    public struct Approval: Sendable, Equatable {
        public var actor: String
        public var reason: String
    }

    public init(id: JobID, createdAt: String) {
        self.id = id
        revision = 0
        status = .queued
        targets = []
        epoch = 0
        self.createdAt = createdAt
        updatedAt = createdAt
        checkpoints = []
        approvals = [:]
    }

    /// The snapshot after one more event. Throws when the event does not follow (a gap in
    /// sequence numbers, or a change the transition table refuses).
    public func applying(_ event: JobEvent) throws -> JobSnapshot {
        var next = self
        try next.apply(event)
        return next
    }

    /// Applies one more event in place (replaying a long log stays linear).
    public mutating func apply(_ event: JobEvent) throws {
        guard event.sequence == revision + 1 else {
            throw PipelineError(.jobCorrupt, "job \(id): event \(event.sequence) follows revision \(revision)",
                                hint: "run `pipeline job doctor \(id)`")
        }
        switch event.type {
        case .created:
            createdAt = event.time
            targets = event.payload["targets"]?.arrayValue?.compactMap(\.stringValue) ?? []
        case .status:
            guard let to = event.payload["to"]?.stringValue.flatMap(JobStatus.init(rawValue:)) else {
                throw PipelineError(.jobCorrupt, "job \(id): status event \(event.sequence) has no valid 'to'")
            }
            try status.checkChange(to: to, job: id)
            status = to
        case .checkpoint:
            let checkpoint = try Checkpoint(json: event.payload["checkpoint"] ?? .null)
            if status.isTerminal {
                throw PipelineError(.invalidTransition, "job \(id) is \(status.rawValue): no checkpoint can reopen it")
            }
            checkpoints.append(checkpoint)
        case .approval:
            guard let checkpoint = event.payload["checkpoint"]?.stringValue, let actor = event.payload["actor"]?.stringValue,
                  let reason = event.payload["reason"]?.stringValue
            else { throw PipelineError(.jobCorrupt, "job \(id): approval event \(event.sequence) is incomplete") }
            approvals[checkpoint] = Approval(actor: actor, reason: reason)
        case .amendment:
            epoch += 1
        }
        revision = event.sequence
        updatedAt = event.time
    }

    /// `decision-needed` checkpoints not approved yet, oldest first.
    public var pendingDecisions: [Checkpoint] {
        checkpoints.filter { $0.kind == .decisionNeeded && approvals[$0.id] == nil }
    }

    public var json: JSON {
        .object([
            "schema_id": .string(JobSnapshot.schemaID), "schema_version": .string(JobSnapshot.schemaVersion),
            "id": .string(id.rawValue), "revision": .int(Int64(revision)), "status": .string(status.rawValue),
            "targets": .array(targets.map(JSON.string)), "epoch": .int(Int64(epoch)),
            "created_at": .string(createdAt), "updated_at": .string(updatedAt),
            "checkpoints": .array(checkpoints.map(\.json)),
            "approvals": .object(approvals.mapValues { ["actor": .string($0.actor), "reason": .string($0.reason)] }),
        ])
    }

    public init(json: JSON) throws {
        guard json["schema_id"]?.stringValue == JobSnapshot.schemaID, let idText = json["id"]?.stringValue, let id = JobID(idText),
              let revision = json["revision"]?.intValue, let status = json["status"]?.stringValue.flatMap(JobStatus.init(rawValue:))
        else { throw PipelineError(.jobCorrupt, "malformed job snapshot") }
        self.id = id
        self.revision = Int(revision)
        self.status = status
        targets = json["targets"]?.arrayValue?.compactMap(\.stringValue) ?? []
        epoch = Int(json["epoch"]?.intValue ?? 0)
        createdAt = json["created_at"]?.stringValue ?? ""
        updatedAt = json["updated_at"]?.stringValue ?? ""
        checkpoints = try (json["checkpoints"]?.arrayValue ?? []).map(Checkpoint.init(json:))
        var approvals: [String: Approval] = [:]
        for (key, value) in json["approvals"]?.objectValue ?? [:] {
            approvals[key] = Approval(actor: value["actor"]?.stringValue ?? "", reason: value["reason"]?.stringValue ?? "")
        }
        self.approvals = approvals
    }
}
