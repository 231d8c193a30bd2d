/// Pins: what `pipeline gc` must keep until someone removes the pin. Plain files under
/// `<store>/pins/`, one canonical JSON document each, named `<kind>-<id>.json`:
///
/// - `job`: a job, its run records and every blob they name;
/// - `pack`: the blobs a pack carries (by its manifest) and, when its source is a job of
///   this store, that job;
/// - `step`: a step's current outputs in a workspace (its action result and blobs).
public struct Pin: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable {
        case job, pack, step
    }

    public var kind: Kind
    /// The job id, the pack id, or `<workspace id>/<step>`.
    public var id: String
    /// What the pin names, in words (a job id, a pack path, a step name).
    public var reference: String
    public var createdAt: String
    public var actor: String
    public var jobs: [String]
    public var results: [Digest]
    public var blobs: [Digest]

    public var fileName: String { "\(kind.rawValue)-\(id.replacing("/", with: "_")).json" }

    public var json: JSON {
        [
            "schema_id": "pipeline.pin", "schema_version": "1.0.0", "kind": .string(kind.rawValue), "id": .string(id),
            "reference": .string(reference), "created_at": .string(createdAt), "actor": .string(actor),
            "jobs": .array(jobs.sorted().map(JSON.string)), "results": .array(results.sorted().map { .string($0.hex) }),
            "blobs": .array(blobs.sorted().map { .string($0.hex) }),
        ]
    }

    public init(kind: Kind, id: String, reference: String, createdAt: String, actor: String, jobs: [String] = [], results: [Digest] = [],
                blobs: [Digest] = []) {
        self.kind = kind
        self.id = id
        self.reference = reference
        self.createdAt = createdAt
        self.actor = actor
        self.jobs = jobs
        self.results = results
        self.blobs = blobs
    }

    public init(json: JSON) throws {
        guard json["schema_id"]?.stringValue == "pipeline.pin", let kind = json["kind"]?.stringValue.flatMap(Kind.init(rawValue:)),
              let id = json["id"]?.stringValue
        else { throw PipelineError(.invalidInput, "not a pin") }
        self.kind = kind
        self.id = id
        reference = json["reference"]?.stringValue ?? id
        createdAt = json["created_at"]?.stringValue ?? ""
        actor = json["actor"]?.stringValue ?? ""
        jobs = json["jobs"]?.arrayValue?.compactMap(\.stringValue) ?? []
        results = json["results"]?.arrayValue?.compactMap { $0.stringValue.flatMap { Digest(hex: $0) } } ?? []
        blobs = json["blobs"]?.arrayValue?.compactMap { $0.stringValue.flatMap { Digest(hex: $0) } } ?? []
    }
}

/// The pins of a store.
public struct PinStore {
    public let folder: String

    public init(storeRoot: String) {
        folder = storeRoot + "/pins"
    }

    /// Every pin, by file name. A file that is not a pin is an error naming it: a pin must
    /// never be silently ignored, or gc could remove what it protects.
    public func list() throws -> [Pin] {
        try (FileSystem.list(folder) ?? []).filter { $0.name.hasSuffix(".json") }.sorted { $0.name < $1.name }.map { entry in
            let path = folder + "/" + entry.name
            guard let json = try? JSON.parse(FileSystem.readFile(path)), let pin = try? Pin(json: json) else {
                throw PipelineError(.storeFormat, "\(path) is not a readable pin", path: path,
                                    hint: "fix or remove the file; gc refuses to run while a pin cannot be read")
            }
            return pin
        }
    }

    public func add(_ pin: Pin) throws {
        try Materializer.writeAtomically(pin.json.canonicalBytes + [0x0A], to: folder + "/" + pin.fileName)
    }

    /// Removes the pins of `kind` whose id or reference is `name`; how many.
    public func remove(kind: Pin.Kind, matching name: String) throws -> Int {
        var removed = 0
        for pin in try list() where pin.kind == kind && (pin.id == name || pin.reference == name) {
            try FileSystem.remove(folder + "/" + pin.fileName)
            removed += 1
        }
        return removed
    }
}
