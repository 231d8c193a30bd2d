/// The identity of an action: SHA-256 of the canonical description.
public struct ActionKey: Sendable, Hashable, CustomStringConvertible {
    public var digest: Digest
    public init(_ digest: Digest) { self.digest = digest }
    public var description: String { digest.hex }
}

/// Everything that defines what a step computes. Two steps with equal descriptions are the
/// same action, on any machine; anything not in here cannot change a result.
public struct ActionDescription: Sendable, Equatable {
    /// Bump to invalidate every key at once (a change in how steps run).
    public static let salt = "pipeline/1"

    public var kind: String
    public var ruleVersion: Int
    public var command: Command?
    public var with: JSON?
    /// Declared env names and the values they had.
    public var env: [String: String]
    /// Secret names and whether each was set (values never enter a key).
    public var secrets: [String: Bool]
    /// Every input file, needed steps' outputs included.
    public var inputs: [(path: String, digest: Digest)]
    public var outputs: [String]
    public var timeout: Double?
    public var platform: String
    /// Where the command writes its depfile; in the key only when set (so results of steps
    /// without one keep their keys), so adding one never reuses a result that lacks it.
    public var depfile: String?

    public init(kind: String, ruleVersion: Int = 0, command: Command?, with: JSON? = nil, env: [String: String] = [:],
                secrets: [String: Bool] = [:], inputs: [(path: String, digest: Digest)], outputs: [String],
                timeout: Double? = nil, platform: String = ActionDescription.currentPlatform, depfile: String? = nil) {
        self.depfile = depfile
        self.kind = kind
        self.ruleVersion = ruleVersion
        self.command = command
        self.with = with
        self.env = env
        self.secrets = secrets
        self.inputs = ActionDescription.isSorted(inputs.lazy.map(\.path)) ? inputs : inputs.sorted { $0.path < $1.path }
        self.outputs = ActionDescription.isSorted(outputs) ? outputs : outputs.sorted()
        self.timeout = timeout
        self.platform = platform
    }

    static func isSorted<S: Sequence>(_ items: S) -> Bool where S.Element == String {
        var previous: String?
        for item in items {
            if let p = previous, !(p < item) { return false }
            previous = item
        }
        return true
    }

    public static func == (a: ActionDescription, b: ActionDescription) -> Bool {
        a.json == b.json
    }

    public static var currentPlatform: String {
        #if arch(x86_64)
        let arch = "x86_64"
        #elseif arch(arm64)
        let arch = "arm64"
        #else
        let arch = "unknown"
        #endif
        #if os(Linux)
        return "linux-\(arch)"
        #else
        return "other-\(arch)"
        #endif
    }

    /// The description as a JSON document (the definition of the canonical bytes).
    public var json: JSON {
        var members: [String: JSON] = [
            "command": command?.json ?? .null,
            "env": .object(env.mapValues(JSON.string)),
            "inputs": .array(inputs.map { .array([.string($0.path), .string($0.digest.hex)]) }),
            "kind": .string(kind),
            "outputs": .array(outputs.map(JSON.string)),
            "platform": .string(platform),
            "rule_version": .int(Int64(ruleVersion)),
            "salt": .string(ActionDescription.salt),
            "secrets": .object(secrets.mapValues(JSON.bool)),
            "timeout": timeout.map(JSON.double) ?? .null,
            "with": with ?? .null,
        ]
        if let depfile { members["depfile"] = .string(depfile) }
        return .object(members)
    }

    /// RFC 8785 bytes of `json`, written directly (the hot path on a 10,000-step no-op).
    /// A test proves these equal `json.canonicalBytes`.
    public var canonicalBytes: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(192 + inputs.count * 96)
        func raw(_ s: StaticString) { out.append(contentsOf: UnsafeBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount)) }
        raw("{\"command\":")
        switch command {
        case .shell(let line)?:
            raw("{\"shell\":")
            JSON.writeString(line, into: &out)
            raw("}")
        case .argv(let words)?:
            raw("{\"argv\":[")
            for (i, w) in words.enumerated() {
                if i > 0 { raw(",") }
                JSON.writeString(w, into: &out)
            }
            raw("]}")
        case nil: raw("null")
        }
        if let depfile {
            raw(",\"depfile\":")
            JSON.writeString(depfile, into: &out)
        }
        raw(",\"env\":")
        if env.isEmpty {
            raw("{}")
        } else {
            raw("{")
            for (i, name) in env.keys.sorted(by: JSON.utf16Less).enumerated() {
                if i > 0 { raw(",") }
                JSON.writeString(name, into: &out)
                raw(":")
                JSON.writeString(env[name]!, into: &out)
            }
            raw("}")
        }
        raw(",\"inputs\":[")
        for (i, input) in inputs.enumerated() {
            if i > 0 { raw(",") }
            raw("[")
            JSON.writeString(input.path, into: &out)
            raw(",\"")
            input.digest.appendHex(to: &out)
            raw("\"]")
        }
        raw("],\"kind\":")
        JSON.writeString(kind, into: &out)
        raw(",\"outputs\":[")
        for (i, o) in outputs.enumerated() {
            if i > 0 { raw(",") }
            JSON.writeString(o, into: &out)
        }
        raw("],\"platform\":")
        JSON.writeString(platform, into: &out)
        raw(",\"rule_version\":")
        out.append(contentsOf: String(ruleVersion).utf8)
        raw(",\"salt\":")
        JSON.writeString(ActionDescription.salt, into: &out)
        raw(",\"secrets\":")
        if secrets.isEmpty { raw("{}") } else { JSON.write(.object(secrets.mapValues(JSON.bool)), into: &out) }
        raw(",\"timeout\":")
        if let timeout { out.append(contentsOf: JSON.formatNumber(timeout).utf8) } else { raw("null") }
        raw(",\"with\":")
        if let with { JSON.write(with, into: &out) } else { raw("null") }
        raw("}")
        return out
    }

    public func key(using hasher: SHA256 = SHA256()) -> ActionKey {
        hasher.update(canonicalBytes)
        return ActionKey(hasher.finish())
    }
}
