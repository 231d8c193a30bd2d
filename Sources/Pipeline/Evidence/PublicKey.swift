import CSodium

/// An Ed25519 public key: 32 bytes, named by its `keyID` (lowercase hex of their SHA-256).
public struct PublicKey: Sendable, Equatable, CustomStringConvertible {
    public static let byteCount = 32

    public let bytes: [UInt8]
    /// `hex(sha256(bytes))`: how manifests and reports name the key.
    public let keyID: String

    /// Refuses anything but 32 bytes that encode a valid point of the Ed25519 group.
    public init(bytes: [UInt8]) throws {
        guard bytes.count == PublicKey.byteCount else {
            throw PipelineError(.invalidInput, "an Ed25519 public key has \(PublicKey.byteCount) bytes, not \(bytes.count)")
        }
        _ = Sodium.ready
        guard crypto_core_ed25519_is_valid_point(bytes) == 1 else {
            throw PipelineError(.invalidInput, "the bytes are not a valid Ed25519 public key")
        }
        self.bytes = bytes
        self.keyID = SHA256.hash(bytes).hex
    }

    /// The key as key files and `--json` documents carry it.
    public var base64: String { Base64.encode(bytes) }

    /// Whether `signature` is this key's detached Ed25519 signature of `message`.
    public func verify(signature: [UInt8], message: [UInt8]) -> Bool {
        guard signature.count == SigningKey.signatureByteCount else { return false }
        _ = Sodium.ready
        return SigningKey.withBytes(message) { pointer, count in
            crypto_sign_verify_detached(signature, pointer, UInt64(count), bytes) == 0
        }
    }

    public var description: String { "PublicKey(key_id: \(keyID))" }
}
