import Pipeline

/// `use: sign` with `with: { files: [PATH, ...], key: env:NAME | KEYFILE }`: a detached
/// Ed25519 signature of each file, written beside it as `PATH.sig`: one canonical JSON
/// document naming the file, its SHA-256, the key id and the signature over the raw digest.
public struct SignRule: Rule {
    public static let name = "sign"
    public static let version = 1
    public static let schemaID = "pipeline.signature"

    public init() {}

    public func declare(_ with: JSON, step: String) throws -> (inputs: [String], outputs: [String]) {
        let fields = WithFields(with: with, step: step, rule: Self.name)
        try fields.checkKeys(["files", "key"])
        guard let files = try fields.strings("files"), !files.isEmpty else {
            throw PipelineError(.invalidInput, "rule 'sign' of step '\(step)' needs 'with: { files: [PATH, ...] }'")
        }
        _ = try fields.string("key", required: true)
        return (files, files.map { $0 + ".sig" })
    }

    public func run(_ context: RuleContext) throws -> [String] {
        let fields = WithFields(with: context.with, step: context.step.name, rule: Self.name)
        let key = try KeyReference.signingKey(try fields.string("key", required: true)!, context: context)
        var lines: [String] = []
        for file in try fields.strings("files") ?? [] {
            let path = Path.join(context.workspaceRoot, file)
            let relative = Path.normalizeRelative(file) ?? file
            let digest = try FileHasher().sha256(path)
            let document: JSON = [
                "schema_id": .string(Self.schemaID), "schema_version": "1.0.0", "file": .string(relative), "sha256": .string(digest.hex),
                "alg": "ed25519", "key_id": .string(key.publicKey.keyID), "sig": .string(Base64.encode(key.sign(digest.bytes))),
            ]
            try Materializer.writeAtomically(document.canonicalBytes + [0x0A], to: path + ".sig")
            lines.append("signed \(relative) (sha256 \(digest.hex), key \(key.publicKey.keyID))")
        }
        return lines
    }
}
