/// `pack_manifest.json` of a PackSpec v1 pack: what the pack holds (every other entry, with
/// its SHA-256 and type), where it came from, its id, and optional signatures.
///
/// - `pack_id` = SHA-256 of the RFC 8785 JSON of the manifest with `pack_id` = "" and no
///   `signatures`.
/// - A signature (Ed25519) covers the raw 32 bytes of SHA-256 over the RFC 8785 JSON of the
///   manifest without `signatures` (pack_id filled in); `signed_digest` is that digest.
public struct PackManifest: Sendable, Equatable {
    public static let schemaID = "pipeline.pack_manifest"
    public static let schemaVersion = "1.0.0"
    public static let createdAt = "1980-01-01T00:00:00Z"
    public static let fileName = "pack_manifest.json"

    public enum PackType: String, Sendable, CaseIterable {
        case run, job
    }

    public struct Entry: Sendable, Equatable {
        public var path: String
        public var sha256: Digest
        public var type: String

        public init(path: String, sha256: Digest, type: String) {
            self.path = path
            self.sha256 = sha256
            self.type = type
        }

        public var json: JSON { ["path": .string(path), "sha256": .string(sha256.hex), "type": .string(type)] }
    }

    public struct Signature: Sendable, Equatable {
        public var keyID: String
        /// Base64 of the 64-byte Ed25519 signature.
        public var sig: String
        public var signedDigest: Digest

        public init(keyID: String, sig: String, signedDigest: Digest) {
            self.keyID = keyID
            self.sig = sig
            self.signedDigest = signedDigest
        }

        public var json: JSON {
            ["alg": "ed25519", "key_id": .string(keyID), "sig": .string(sig), "signed_digest": .string(signedDigest.hex)]
        }
    }

    public var producerVersion: String
    public var packType: PackType
    public var sourceRef: String
    /// Sorted by path.
    public var contents: [Entry]
    public var packID: String = ""
    public var signatures: [Signature] = []

    public init(producerVersion: String, packType: PackType, sourceRef: String, contents: [Entry]) {
        self.producerVersion = producerVersion
        self.packType = packType
        self.sourceRef = sourceRef
        self.contents = contents.sorted { Array($0.path.utf8).lexicographicallyPrecedes(Array($1.path.utf8)) }
        packID = PackManifest.packID(of: json)
    }

    public var json: JSON {
        var members: [String: JSON] = [
            "schema_id": .string(PackManifest.schemaID),
            "schema_version": .string(PackManifest.schemaVersion),
            "created_at": .string(PackManifest.createdAt),
            "producer_version": .string(producerVersion),
            "pack_id": .string(packID),
            "pack_type": .string(packType.rawValue),
            "source_ref": .string(sourceRef),
            "contents": .array(contents.map(\.json)),
        ]
        if !signatures.isEmpty { members["signatures"] = .array(signatures.map(\.json)) }
        return .object(members)
    }

    /// The pack id a manifest document should carry (any members, signatures ignored).
    public static func packID(of manifest: JSON) -> String {
        guard case .object(var members) = manifest else { return "" }
        members["signatures"] = nil
        members["pack_id"] = .string("")
        return SHA256.hash(JSON.object(members).canonicalBytes).hex
    }

    /// What a signature covers: SHA-256 of the manifest without its signatures.
    public static func signedDigest(of manifest: JSON) -> Digest {
        guard case .object(var members) = manifest else { return .empty }
        members["signatures"] = nil
        return SHA256.hash(JSON.object(members).canonicalBytes)
    }

    /// Adds a signature by `key` (replacing an earlier one by the same key).
    public mutating func sign(with key: SigningKey) {
        let digest = PackManifest.signedDigest(of: json)
        let signature = Signature(keyID: key.publicKey.keyID, sig: Base64.encode(key.sign(digest.bytes)), signedDigest: digest)
        signatures.removeAll { $0.keyID == signature.keyID }
        signatures.append(signature)
        signatures.sort { $0.keyID < $1.keyID }
    }
}
