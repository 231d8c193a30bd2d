/// Checks a pack offline, as anyone holding only the zip (and maybe a public key) can:
/// the manifest against its schema, every declared file present with its SHA-256, nothing
/// undeclared, no duplicate, absolute, `..` or symlink entries, the pack id recomputed, the
/// payload consistent with the manifest, and the signatures. Reads the zip once, streaming;
/// writes nothing.
public struct PackVerifier {
    public enum Profile: String, Sendable, CaseIterable {
        /// Signatures checked when a key is given; unknown manifest members allowed.
        case standard
        /// A verified signature required; unknown manifest members refused.
        case strict
    }

    public enum SignatureStatus: String, Sendable {
        case verified, failed, missing, skipped
    }

    public struct Problem: Sendable, Equatable {
        public var code: String
        public var message: String
        public var path: String?

        public var json: JSON {
            var members: [String: JSON] = ["code": .string(code), "message": .string(message)]
            if let path { members["path"] = .string(path) }
            return .object(members)
        }
    }

    public struct Report: Sendable {
        public static let schemaID = "pipeline.pack_verify"
        public var file: String
        public var profile: Profile
        public var packID: String?
        public var packType: String?
        public var sourceRef: String?
        public var entries = 0
        public var bytes: UInt64 = 0
        public var signature: SignatureStatus = .missing
        public var keyID: String?
        public var problems: [Problem] = []

        public var ok: Bool { problems.isEmpty }

        public var json: JSON {
            .object([
                "schema_id": .string(Report.schemaID), "schema_version": "1.0.0", "file": .string(file), "ok": .bool(ok),
                "profile": .string(profile.rawValue), "pack_id": packID.map(JSON.string) ?? .null,
                "pack_type": packType.map(JSON.string) ?? .null, "source_ref": sourceRef.map(JSON.string) ?? .null,
                "entries": .int(Int64(entries)), "bytes": .int(Int64(bytes)), "signature": .string(signature.rawValue),
                "key_id": keyID.map(JSON.string) ?? .null, "problems": .array(problems.map(\.json)),
            ])
        }
    }

    public var profile: Profile = .standard
    public var requireSignature = false
    public var publicKey: PublicKey?
    public var limits = ZipLimits()

    public init(profile: Profile = .standard, requireSignature: Bool = false, publicKey: PublicKey? = nil, limits: ZipLimits = ZipLimits()) {
        self.profile = profile
        self.requireSignature = requireSignature
        self.publicKey = publicKey
        self.limits = limits
    }

    /// Throws `PipelineError(.invalidInput)` (exit 6) only when the file is unreadable, not a
    /// zip, or has no parseable manifest; every other failure is a problem in the report.
    public func verify(_ file: String) throws -> Report {
        let contents = try PackReader.read(file, limits: limits)
        var report = Report(file: file, profile: profile)
        report.entries = contents.entries.count
        report.bytes = contents.totalBytes
        func problem(_ code: String, _ message: String, path: String? = nil) {
            report.problems.append(Problem(code: code, message: message, path: path))
        }
        if contents.readFailureCode == "limit_exceeded", contents.documents[PackManifest.fileName] == nil {
            // Refused by a cap before the manifest was read: a failed check, not unreadable input.
            problem(contents.readFailureCode, contents.readFailure ?? "a size cap was exceeded")
            return report
        }
        guard let manifestBytes = contents.documents[PackManifest.fileName] else {
            throw PipelineError(.invalidInput, "\(file) has no \(PackManifest.fileName): not a pipeline pack", path: file)
        }
        guard let manifest = try? JSON.parse(manifestBytes), manifest.objectValue != nil else {
            throw PipelineError(.invalidInput, "\(file): \(PackManifest.fileName) is not a JSON object", path: file)
        }
        if let failure = contents.readFailure { problem(contents.readFailureCode, failure) }
        report.packID = manifest["pack_id"]?.stringValue
        report.packType = manifest["pack_type"]?.stringValue
        report.sourceRef = manifest["source_ref"]?.stringValue

        // The entries themselves.
        var seen: [String: PackContents.Entry] = [:]
        for entry in contents.entries {
            if let reason = PackVerifier.unsafe(entry.path) { problem("unsafe_path", "entry '\(entry.path)' \(reason)", path: entry.path) }
            switch entry.kind {
            case .file: break
            case .symlink: problem("symlink_entry", "entry '\(entry.path)' is a symlink", path: entry.path)
            case .directory: problem("directory_entry", "entry '\(entry.path)' is a directory (packs hold files only)", path: entry.path)
            case .other: problem("special_entry", "entry '\(entry.path)' is not a regular file", path: entry.path)
            }
            if seen[entry.path] != nil {
                problem("duplicate_entry", "entry '\(entry.path)' appears more than once", path: entry.path)
            } else {
                seen[entry.path] = entry
            }
        }
        if manifestBytes != manifest.canonicalBytes {
            problem("not_canonical", "\(PackManifest.fileName) is not canonical JSON (RFC 8785)", path: PackManifest.fileName)
        }

        // The manifest against its schema.
        let schema = try EmbeddedSchemas.schema("schemas/v1/pack/manifest.schema.json")
        for violation in schema.validate(manifest) {
            problem("schema_invalid", "\(PackManifest.fileName)\(violation.pointer): \(violation.message)", path: PackManifest.fileName)
        }
        if profile == .strict {
            for violation in schema.unknownProperties(in: manifest) {
                problem("unknown_field", "\(PackManifest.fileName)\(violation.pointer): \(violation.message)", path: PackManifest.fileName)
            }
        }

        // Declared contents: present, matching, sorted, nothing else.
        var declared: [String: (sha: String, type: String)] = [:]
        var previous: String?
        for item in manifest["contents"]?.arrayValue ?? [] {
            guard let path = item["path"]?.stringValue else { continue }
            let sha = item["sha256"]?.stringValue ?? ""
            if let reason = PackVerifier.unsafe(path) { problem("unsafe_path", "declared path '\(path)' \(reason)", path: path) }
            if let previous, !Array(previous.utf8).lexicographicallyPrecedes(Array(path.utf8)) {
                problem(previous == path ? "duplicate_declaration" : "unsorted_contents",
                        previous == path ? "'\(path)' is declared twice" : "contents are not sorted by path at '\(path)'", path: path)
            }
            previous = path
            declared[path] = (sha, item["type"]?.stringValue ?? "")
            if path == PackManifest.fileName {
                problem("manifest_listed", "the manifest must not list itself", path: path)
                continue
            }
            guard let entry = seen[path] else {
                problem("missing_file", "declared file '\(path)' is not in the pack", path: path)
                continue
            }
            if let actual = entry.sha256, actual.hex != sha {
                problem("hash_mismatch", "'\(path)' has SHA-256 \(actual.hex), the manifest says \(sha)", path: path)
            }
        }
        for entry in contents.entries where entry.path != PackManifest.fileName && declared[entry.path] == nil {
            if report.problems.contains(where: { $0.code == "duplicate_entry" && $0.path == entry.path }) { continue }
            problem("undeclared_file", "'\(entry.path)' is in the pack but not in the manifest", path: entry.path)
        }

        // Identity.
        let expectedID = PackManifest.packID(of: manifest)
        if let id = report.packID, id != expectedID {
            problem("pack_id_mismatch", "pack_id is \(id) but the manifest hashes to \(expectedID)")
        }
        let name = Path.lastComponent(file)
        if name.hasPrefix("pack_"), name.hasSuffix(".zip"), name.utf8.count == 73, name != "pack_\(expectedID).zip" {
            problem("file_name_mismatch", "the file is named \(name) but its pack id is \(expectedID)")
        }

        // The payload agrees with the manifest.
        var payload = PackPayloadCheck(contents: contents, declared: declared, sourceRef: report.sourceRef ?? "")
        switch report.packType {
        case "run"?: payload.checkRun()
        case "job"?: payload.checkJob()
        default: break
        }
        report.problems += payload.problems

        // Signatures.
        checkSignatures(manifest, into: &report)
        return report
    }

    private func checkSignatures(_ manifest: JSON, into report: inout Report) {
        let signatures = manifest["signatures"]?.arrayValue ?? []
        let required = requireSignature || profile == .strict
        if signatures.isEmpty {
            report.signature = .missing
            if required { report.problems.append(Problem(code: "signature_missing", message: "the pack is not signed and a signature is required")) }
            return
        }
        guard let publicKey else {
            report.signature = .skipped
            if required {
                report.problems.append(Problem(code: "signature_unchecked",
                                               message: "a verified signature is required but no public key was given (--public-key)"))
            }
            return
        }
        report.keyID = publicKey.keyID
        let digest = PackManifest.signedDigest(of: manifest)
        guard let signature = signatures.first(where: { $0["key_id"]?.stringValue == publicKey.keyID }) else {
            report.signature = .failed
            report.problems.append(Problem(code: "signature_failed", message: "no signature by key \(publicKey.keyID)"))
            return
        }
        guard signature["signed_digest"]?.stringValue == digest.hex, let sig = signature["sig"]?.stringValue.flatMap({ try? Base64.decode($0) }),
              publicKey.verify(signature: sig, message: digest.bytes)
        else {
            report.signature = .failed
            report.problems.append(Problem(code: "signature_failed", message: "the signature by key \(publicKey.keyID) does not match the manifest"))
            return
        }
        report.signature = .verified
    }

    /// Why an entry name is unsafe to extract, or nil.
    static func unsafe(_ path: String) -> String? {
        if path.isEmpty { return "has an empty name" }
        if path.hasPrefix("/") || path.hasPrefix("\\") { return "is absolute" }
        if path.utf8.count >= 2, Array(path.utf8)[1] == UInt8(ascii: ":") { return "has a drive letter" }
        if path.contains("\\") { return "contains a backslash" }
        if path.utf8.contains(0) { return "contains a NUL byte" }
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        if parts.contains("..") { return "contains '..'" }
        if parts.contains(".") || parts.contains("") { return "is not a normalized relative path" }
        return nil
    }
}
