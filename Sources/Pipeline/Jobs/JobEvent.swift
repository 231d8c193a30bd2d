/// One line of a job's append-only log.
public struct JobEvent: Sendable, Equatable {
    public static let schemaID = "pipeline.job_event"
    public static let schemaVersion = "1.0.0"

    public enum Kind: String, Sendable, CaseIterable {
        case created, status, checkpoint, approval, amendment
    }

    public var sequence: Int
    /// UTC, ISO 8601 with milliseconds.
    public var time: String
    public var type: Kind
    public var actor: String
    public var payload: JSON

    public init(sequence: Int, time: String, type: Kind, actor: String, payload: JSON) {
        self.sequence = sequence
        self.time = time
        self.type = type
        self.actor = actor
        self.payload = payload
    }

    /// One canonical JSON line, newline included.
    public var line: [UInt8] {
        JSON.object([
            "schema_id": .string(JobEvent.schemaID), "schema_version": .string(JobEvent.schemaVersion), "seq": .int(Int64(sequence)),
            "time": .string(time), "type": .string(type.rawValue), "actor": .string(actor), "payload": payload,
        ]).canonicalBytes + [0x0A]
    }

    public init(json: JSON) throws {
        guard json["schema_id"]?.stringValue == JobEvent.schemaID, let sequence = json["seq"]?.intValue,
              let time = json["time"]?.stringValue, let type = json["type"]?.stringValue.flatMap(Kind.init(rawValue:)),
              let actor = json["actor"]?.stringValue
        else { throw PipelineError(.jobCorrupt, "malformed job event") }
        self.init(sequence: Int(sequence), time: time, type: type, actor: actor, payload: json["payload"] ?? .object([:]))
    }
}
