import Glibc

/// Key files: one line of base64 (`<prefix>_private.key`, 64 bytes, mode 0600;
/// `<prefix>_public.key`, 32 bytes, mode 0644), or the same text in an environment variable.
/// Loading checks everything and never quotes the key text in an error.
public enum KeyFile {
    public static let defaultPrefix = "pipeline"
    /// Far more than a key line; a bigger file is not a key file.
    static let maximumSize = 4096

    /// Where a key pair lives.
    public struct Pair: Sendable, Equatable {
        public var privateKey: String
        public var publicKey: String

        public init(privateKey: String, publicKey: String) {
            self.privateKey = privateKey
            self.publicKey = publicKey
        }
    }

    /// `<directory>/<prefix>_private.key` and `<directory>/<prefix>_public.key`. The prefix is
    /// a plain file-name part: letters, digits, `.`, `_`, `-`, not starting with `.`.
    public static func pair(in directory: String, prefix: String = defaultPrefix) throws -> Pair {
        let allowed = prefix.utf8.allSatisfy { c in
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x2E || c == 0x5F || c == 0x2D
        }
        guard !prefix.isEmpty, allowed, !prefix.hasPrefix(".") else {
            throw PipelineError(.invalidInput, "the key prefix '\(prefix)' must be letters, digits, '.', '_' or '-' (not starting with '.')")
        }
        return Pair(privateKey: Path.join(directory, prefix + "_private.key"), publicKey: Path.join(directory, prefix + "_public.key"))
    }

    // MARK: Loading

    public static func loadPrivate(path: String) throws -> SigningKey {
        try privateKey(from: try read(path, what: "private key file"), source: "private key file \(path)", path: path)
    }

    public static func loadPublic(path: String) throws -> PublicKey {
        try publicKey(from: try read(path, what: "public key file"), source: "public key file \(path)", path: path)
    }

    /// The private key in environment variable `name` (the text of a private key file).
    public static func loadPrivate(environmentVariable name: String, environment: [String: String]) throws -> SigningKey {
        try privateKey(from: try variable(name, environment), source: "environment variable \(name)", path: nil)
    }

    /// The public key in environment variable `name` (the text of a public key file).
    public static func loadPublic(environmentVariable name: String, environment: [String: String]) throws -> PublicKey {
        try publicKey(from: try variable(name, environment), source: "environment variable \(name)", path: nil)
    }

    static func privateKey(from text: [UInt8], source: String, path: String?) throws -> SigningKey {
        let bytes = try decode(text, source: source, what: "private", path: path)
        do {
            return try SigningKey(privateKeyBytes: bytes)
        } catch let error as PipelineError {
            throw PipelineError(.invalidInput, "\(source) is not a valid Ed25519 private key: \(error.message)", path: path)
        }
    }

    static func publicKey(from text: [UInt8], source: String, path: String?) throws -> PublicKey {
        let bytes = try decode(text, source: source, what: "public", path: path)
        do {
            return try PublicKey(bytes: bytes)
        } catch let error as PipelineError {
            throw PipelineError(.invalidInput, "\(source) is not a valid Ed25519 public key: \(error.message)", path: path)
        }
    }

    /// Strict base64 between optional surrounding whitespace.
    static func decode(_ text: [UInt8], source: String, what: String, path: String?) throws -> [UInt8] {
        func isSpace(_ c: UInt8) -> Bool { c == 0x20 || (c >= 0x09 && c <= 0x0D) }
        guard let first = text.firstIndex(where: { !isSpace($0) }), let last = text.lastIndex(where: { !isSpace($0) }) else {
            throw PipelineError(.invalidInput, "\(source) is empty (expected one line of base64 holding an Ed25519 \(what) key)", path: path)
        }
        do {
            return try Base64.decode(String(decoding: text[first...last], as: UTF8.self))
        } catch {
            throw PipelineError(.invalidInput, "\(source) does not hold one line of base64 (an Ed25519 \(what) key): \(error)", path: path)
        }
    }

    static func read(_ path: String, what: String) throws -> [UInt8] {
        let hint = "`pipeline key gen` creates a key pair"
        guard let stat = FileSystem.stat(path, follow: true) else {
            throw PipelineError(.invalidInput, "no \(what) at \(path)", path: path, hint: hint)
        }
        guard stat.kind == .file else { throw PipelineError(.invalidInput, "the \(what) \(path) is not a regular file", path: path) }
        guard stat.size <= UInt64(maximumSize) else {
            throw PipelineError(.invalidInput, "the \(what) \(path) is too large to be a key file (\(stat.size) bytes)", path: path)
        }
        do {
            return try FileSystem.readFile(path)
        } catch let error as PipelineError {
            throw PipelineError(.invalidInput, "cannot read the \(what) \(path)", path: path, cause: error.message)
        }
    }

    static func variable(_ name: String, _ environment: [String: String]) throws -> [UInt8] {
        guard let value = environment[name] else {
            throw PipelineError(.invalidInput, "environment variable \(name) is not set (expected the text of a key file)")
        }
        return Array(value.utf8)
    }

    // MARK: Writing

    /// The text of a key file: base64 and a newline.
    static func text(_ bytes: [UInt8]) -> [UInt8] { Array((Base64.encode(bytes) + "\n").utf8) }

    /// Writes the pair, each file atomically: the public key (0644), then the private key (0600,
    /// never readable by others, not even as a temp file). Refuses with `confirmation_required`
    /// when either file exists, unless `overwrite`.
    public static func write(_ key: SigningKey, to pair: Pair, overwrite: Bool = false) throws {
        if !overwrite {
            for path in [pair.privateKey, pair.publicKey] where FileSystem.stat(path) != nil {
                throw PipelineError(.confirmationRequired, "refusing to overwrite the key file \(path)", path: path,
                                    hint: "`pipeline key rotate` keeps the old pair; --force replaces it (its private key is lost)")
            }
        }
        try Materializer.writeAtomically(text(key.publicKey.bytes), to: pair.publicKey, mode: 0o644)
        try Materializer.writeAtomically(text(key.privateKeyBytes), to: pair.privateKey, mode: 0o600)
    }

    // MARK: Rotating

    /// What a rotation did: the old key and where its pair now lives, and the new key.
    public struct Rotation: Sendable {
        public var previous: PublicKey
        public var archived: Pair
        public var key: SigningKey
    }

    /// Moves the pair in `directory` aside to `<prefix>_<first 12 hex of its key_id>_*.key` and
    /// writes `key` at the usual names. The old private key is never lost: its archived public
    /// key is written first, then the private file is renamed aside, and only then is the new
    /// pair written; a crash at any point leaves the old pair whole, under one name or the other.
    public static func rotate(in directory: String, prefix: String = defaultPrefix, to key: SigningKey) throws -> Rotation {
        let current = try pair(in: directory, prefix: prefix)
        guard FileSystem.stat(current.privateKey) != nil else {
            throw PipelineError(.invalidInput, "no key pair to rotate: \(current.privateKey) does not exist", path: current.privateKey,
                                hint: "`pipeline key gen` creates a key pair")
        }
        let old = try loadPrivate(path: current.privateKey)
        if FileSystem.stat(current.publicKey) != nil {
            let published = try loadPublic(path: current.publicKey)
            guard published == old.publicKey else {
                throw PipelineError(.invalidInput, "the key pair does not match: \(current.publicKey) is not the public key of \(current.privateKey)",
                                    path: current.publicKey, hint: "rotation keeps the pair as it is; fix or remove the wrong file first")
            }
        }
        guard key.publicKey != old.publicKey else {
            throw PipelineError(.invalidInput, "the new key is the current key (\(old.publicKey.keyID))")
        }
        let archived = try pair(in: directory, prefix: prefix + "_" + String(old.publicKey.keyID.prefix(12)))
        try refuseToReplace(archived.privateKey, unlessItHolds: text(old.privateKeyBytes))
        try refuseToReplace(archived.publicKey, unlessItHolds: text(old.publicKey.bytes))

        try Materializer.writeAtomically(text(old.publicKey.bytes), to: archived.publicKey, mode: 0o644)
        guard rename(current.privateKey, archived.privateKey) == 0 else {
            throw FileSystem.ioError("cannot move the private key aside to", archived.privateKey)
        }
        FileSystem.syncDirectory(Path.directory(of: archived.privateKey))
        try Materializer.writeAtomically(text(key.publicKey.bytes), to: current.publicKey, mode: 0o644)
        try Materializer.writeAtomically(text(key.privateKeyBytes), to: current.privateKey, mode: 0o600)
        return Rotation(previous: old.publicKey, archived: archived, key: key)
    }

    /// An archive name is taken only by the same key (a rotation that stopped half-way);
    /// anything else there is not ours to replace.
    static func refuseToReplace(_ path: String, unlessItHolds expected: [UInt8]) throws {
        guard FileSystem.stat(path) != nil else { return }
        let existing = (try? FileSystem.readFile(path)) ?? []
        func trimmed(_ bytes: [UInt8]) -> [UInt8] { Array(bytes.drop { $0 <= 0x20 }.reversed().drop { $0 <= 0x20 }.reversed()) }
        guard trimmed(existing) == trimmed(expected) else {
            throw PipelineError(.confirmationRequired, "refusing to overwrite \(path): it holds a different key", path: path,
                                hint: "move it away, then rotate again")
        }
    }
}
