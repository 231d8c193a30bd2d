import CCrypto

/// OpenSSL's SHA-256, fetched once; one context reused across calls.
nonisolated(unsafe) private let sha256Algorithm = EVP_MD_fetch(nil, "SHA256", nil)

/// An incremental SHA-256. Not thread-safe: one per task.
public final class SHA256 {
    private let context: OpaquePointer

    public init() {
        context = EVP_MD_CTX_new()
        EVP_DigestInit_ex2(context, sha256Algorithm, nil)
    }

    deinit { EVP_MD_CTX_free(context) }

    public func reset() { EVP_DigestInit_ex2(context, sha256Algorithm, nil) }

    public func update(_ pointer: UnsafeRawPointer, count: Int) {
        EVP_DigestUpdate(context, pointer, count)
    }

    public func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { if let base = $0.baseAddress { EVP_DigestUpdate(context, base, $0.count) } }
    }

    /// The digest of everything fed since the last reset; resets the hasher.
    public func finish() -> Digest {
        var out = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        EVP_DigestFinal_ex(context, &out, &length)
        reset()
        return Digest(bytes: out)
    }

    public static func hash(_ bytes: [UInt8]) -> Digest {
        let hasher = SHA256()
        hasher.update(bytes)
        return hasher.finish()
    }

    public static func hash(_ text: String) -> Digest { hash(Array(text.utf8)) }
}
