import CSodium

/// An Ed25519 private key. It holds libsodium's 64-byte secret key (32-byte seed ‖ 32-byte
/// public key), always checked to agree with itself. It never prints its secret bytes.
public struct SigningKey: Sendable, CustomStringConvertible, CustomReflectable {
    public static let seedByteCount = 32
    public static let privateKeyByteCount = 64
    public static let signatureByteCount = 64

    /// Seed ‖ public key, as key files store it.
    let privateKeyBytes: [UInt8]
    public let publicKey: PublicKey

    /// A fresh key from the system's secure random source.
    public static func generate() throws -> SigningKey {
        guard Sodium.ready else { throw PipelineError(.internalError, "libsodium could not be initialised") }
        var seed = [UInt8](repeating: 0, count: seedByteCount)
        randombytes_buf(&seed, seedByteCount)
        return try SigningKey(seed: seed)
    }

    /// The key a 32-byte seed determines (RFC 8032's "private key").
    public init(seed: [UInt8]) throws {
        guard seed.count == SigningKey.seedByteCount else {
            throw PipelineError(.invalidInput, "an Ed25519 seed has \(SigningKey.seedByteCount) bytes, not \(seed.count)")
        }
        _ = Sodium.ready
        var publicBytes = [UInt8](repeating: 0, count: PublicKey.byteCount)
        var secretBytes = [UInt8](repeating: 0, count: SigningKey.privateKeyByteCount)
        guard crypto_sign_seed_keypair(&publicBytes, &secretBytes, seed) == 0 else {
            throw PipelineError(.internalError, "libsodium could not derive a key pair")
        }
        privateKeyBytes = secretBytes
        publicKey = try PublicKey(bytes: publicBytes)
    }

    /// A 64-byte private key (seed ‖ public key); refused unless its second half is the
    /// public key its seed derives.
    public init(privateKeyBytes bytes: [UInt8]) throws {
        guard bytes.count == SigningKey.privateKeyByteCount else {
            throw PipelineError(.invalidInput, "an Ed25519 private key has \(SigningKey.privateKeyByteCount) bytes (seed and public key), not \(bytes.count)")
        }
        try self.init(seed: Array(bytes[..<SigningKey.seedByteCount]))
        guard privateKeyBytes == bytes else {
            throw PipelineError(.invalidInput, "the public half of the private key does not match the key its seed derives")
        }
    }

    /// The 64-byte detached Ed25519 signature of `message`.
    public func sign(_ message: [UInt8]) -> [UInt8] {
        var signature = [UInt8](repeating: 0, count: SigningKey.signatureByteCount)
        var length: UInt64 = 0
        let status = SigningKey.withBytes(message) { pointer, count in
            crypto_sign_detached(&signature, &length, pointer, UInt64(count), privateKeyBytes)
        }
        precondition(status == 0 && length == UInt64(SigningKey.signatureByteCount), "crypto_sign_detached cannot fail")
        return signature
    }

    public var description: String { "SigningKey(key_id: \(publicKey.keyID))" }

    public var customMirror: Mirror { Mirror(self, children: ["publicKey": publicKey]) }

    /// Calls `body` with a non-null pointer even for an empty message (C wants one).
    static func withBytes<R>(_ bytes: [UInt8], _ body: (UnsafePointer<UInt8>, Int) -> R) -> R {
        if bytes.isEmpty {
            return withUnsafePointer(to: UInt8(0)) { body($0, 0) }
        }
        return bytes.withUnsafeBufferPointer { body($0.baseAddress!, $0.count) }
    }
}
