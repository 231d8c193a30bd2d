/// What one executed step leaves as evidence: the command exactly as it ran, what it read
/// and wrote (with digests), how it ended, its logs (as blobs in the store) and when. A job
/// keeps one per executed step in `runs.jsonl`; run packs carry them with every blob they
/// name, so a run can be checked and replayed offline.
///
/// Secret values never appear here: only the names a step received and, when the caller's
/// environment gives them, when each credential was issued and expires.
public struct RunRecord: Sendable, Equatable {
    public static let schemaID = "pipeline.run_record"
    public static let schemaVersion = "1.0.0"

    public var step: String
    /// `run`, `capture`, or a rule name.
    public var kind: String
    public var actionKey: ActionKey
    public var command: Command?
    public var with: JSON?
    /// Declared environment values (secrets excluded).
    public var env: [String: String]
    public var secrets: [SecretUse]
    public var inputs: [(path: String, digest: Digest)]
    public var outputs: [OutputFile]
    public var directories: [String]
    /// `ran` or `failed`.
    public var status: StepStatus
    /// nil when the command never exited by itself (timeout, spawn failure).
    public var exitCode: Int32?
    public var stdout: Digest
    public var stderr: Digest
    /// Wall-clock nanoseconds since the epoch.
    public var startedAt: Int64
    public var endedAt: Int64
    public var durationNanos: Int64
    public var timeout: Double?
    public var platform: String

    public init(step: String, kind: String, actionKey: ActionKey, command: Command?, with: JSON?, env: [String: String],
                secrets: [SecretUse], inputs: [(path: String, digest: Digest)], outputs: [OutputFile], directories: [String],
                status: StepStatus, exitCode: Int32?, stdout: Digest, stderr: Digest, startedAt: Int64, endedAt: Int64,
                durationNanos: Int64, timeout: Double?, platform: String) {
        self.step = step
        self.kind = kind
        self.actionKey = actionKey
        self.command = command
        self.with = with
        self.env = env
        self.secrets = secrets
        self.inputs = inputs
        self.outputs = outputs
        self.directories = directories
        self.status = status
        self.exitCode = exitCode
        self.stdout = stdout
        self.stderr = stderr
        self.startedAt = startedAt
        self.endedAt = endedAt
        self.durationNanos = durationNanos
        self.timeout = timeout
        self.platform = platform
    }

    public static func == (a: RunRecord, b: RunRecord) -> Bool { a.json == b.json }

    /// SHA-256 over the canonical declared environment and which secrets were set: equal
    /// fingerprints mean the command saw the same declared environment.
    public var envFingerprint: Digest {
        let document: JSON = [
            "env": .object(env.mapValues(JSON.string)),
            "secrets": .object(Dictionary(secrets.map { ($0.name, JSON.bool($0.provided)) }, uniquingKeysWith: { a, _ in a })),
        ]
        return SHA256.hash(document.canonicalBytes)
    }

    /// Every blob the record names: inputs, outputs (not symlinks) and non-empty logs.
    public var blobs: [Digest] {
        var all = inputs.map(\.digest) + outputs.filter { $0.linkTarget == nil }.map(\.digest)
        if stdout != .empty { all.append(stdout) }
        if stderr != .empty { all.append(stderr) }
        return all
    }

    public var json: JSON {
        .object([
            "schema_id": .string(RunRecord.schemaID),
            "schema_version": .string(RunRecord.schemaVersion),
            "step": .string(step),
            "kind": .string(kind),
            "action_key": .string(actionKey.digest.hex),
            "command": command?.json ?? .null,
            "with": with ?? .null,
            "env": .object(env.mapValues(JSON.string)),
            "env_fingerprint": .string(envFingerprint.hex),
            "secrets": .array(secrets.sorted { $0.name < $1.name }.map(\.json)),
            "inputs": .array(inputs.map { ["path": .string($0.path), "sha256": .string($0.digest.hex)] }),
            "outputs": .array(outputs.map(\.json)),
            "directories": .array(directories.map(JSON.string)),
            "status": .string(status.rawValue),
            "exit_code": exitCode.map { .int(Int64($0)) } ?? .null,
            "stdout": .string(stdout.hex),
            "stderr": .string(stderr.hex),
            "started_at": .string(JobStore.timestamp(nanoseconds: startedAt)),
            "ended_at": .string(JobStore.timestamp(nanoseconds: endedAt)),
            "duration_ns": .int(durationNanos),
            "timeout": timeout.map(JSON.double) ?? .null,
            "platform": .string(platform),
        ])
    }

    public init(json: JSON) throws {
        func fail(_ what: String) -> PipelineError { PipelineError(.invalidInput, "malformed run record: \(what)") }
        func digest(_ key: String, in object: JSON) throws -> Digest {
            guard let value = object[key]?.stringValue.flatMap({ Digest(hex: $0) }) else { throw fail(key) }
            return value
        }
        guard json["schema_id"]?.stringValue == RunRecord.schemaID else { throw fail("schema_id") }
        guard let version = json["schema_version"]?.stringValue, version.hasPrefix("1.") else { throw fail("schema_version") }
        guard let step = json["step"]?.stringValue, let kind = json["kind"]?.stringValue else { throw fail("step") }
        self.step = step
        self.kind = kind
        actionKey = ActionKey(try digest("action_key", in: json))
        switch json["command"] {
        case .null?, nil: command = nil
        case let value?:
            guard let parsed = Command(json: value) else { throw fail("command") }
            command = parsed
        }
        with = json["with"] == .null ? nil : json["with"]
        env = (json["env"]?.objectValue ?? [:]).compactMapValues(\.stringValue)
        secrets = try (json["secrets"]?.arrayValue ?? []).map(SecretUse.init(json:))
        inputs = try (json["inputs"]?.arrayValue ?? []).map { entry in
            guard let path = entry["path"]?.stringValue else { throw fail("input path") }
            return (path, try digest("sha256", in: entry))
        }
        outputs = try (json["outputs"]?.arrayValue ?? []).map { entry in
            guard let file = OutputFile(json: entry) else { throw fail("output entry") }
            return file
        }
        directories = json["directories"]?.arrayValue?.compactMap(\.stringValue) ?? []
        guard let status = json["status"]?.stringValue.flatMap(StepStatus.init(rawValue:)) else { throw fail("status") }
        self.status = status
        exitCode = json["exit_code"]?.intValue.map { Int32(truncatingIfNeeded: $0) }
        stdout = try digest("stdout", in: json)
        stderr = try digest("stderr", in: json)
        guard let started = json["started_at"]?.stringValue.flatMap(Timestamp.parse),
              let ended = json["ended_at"]?.stringValue.flatMap(Timestamp.parse)
        else { throw fail("started_at/ended_at") }
        startedAt = started
        endedAt = ended
        durationNanos = json["duration_ns"]?.intValue ?? 0
        timeout = json["timeout"].flatMap { value -> Double? in
            switch value {
            case .int(let i): return Double(i)
            case .double(let d): return d
            default: return nil
            }
        }
        platform = json["platform"]?.stringValue ?? ""
    }
}

/// A secret a step received: its name, never its value; and, when the caller's environment
/// has `NAME_ISSUED_AT` / `NAME_EXPIRES_AT` (RFC 3339 or seconds since the epoch), the
/// credential's lifetime, so an auditor sees what was used and until when.
public struct SecretUse: Sendable, Equatable {
    public var name: String
    /// Whether the caller's environment had a value for it.
    public var provided: Bool
    public var issuedAt: Int64?
    public var expiresAt: Int64?

    public init(name: String, provided: Bool, issuedAt: Int64? = nil, expiresAt: Int64? = nil) {
        self.name = name
        self.provided = provided
        self.issuedAt = issuedAt
        self.expiresAt = expiresAt
    }

    /// What the environment says of each secret a step declares.
    public static func describe(_ names: [String], environment: [String: String]) -> [SecretUse] {
        names.sorted().map { name in
            SecretUse(name: name, provided: environment[name] != nil,
                      issuedAt: environment[name + "_ISSUED_AT"].flatMap(Timestamp.parseLenient),
                      expiresAt: environment[name + "_EXPIRES_AT"].flatMap(Timestamp.parseLenient))
        }
    }

    public var json: JSON {
        var members: [String: JSON] = ["name": .string(name), "provided": .bool(provided)]
        if let issuedAt { members["issued_at"] = .string(Timestamp.format(issuedAt, fraction: false)) }
        if let expiresAt { members["expires_at"] = .string(Timestamp.format(expiresAt, fraction: false)) }
        if let issuedAt, let expiresAt { members["ttl_seconds"] = .int((expiresAt - issuedAt) / 1_000_000_000) }
        return .object(members)
    }

    public init(json: JSON) throws {
        guard let name = json["name"]?.stringValue else { throw PipelineError(.invalidInput, "malformed run record: secret name") }
        self.name = name
        provided = json["provided"]?.boolValue ?? false
        issuedAt = json["issued_at"]?.stringValue.flatMap(Timestamp.parse)
        expiresAt = json["expires_at"]?.stringValue.flatMap(Timestamp.parse)
    }
}
