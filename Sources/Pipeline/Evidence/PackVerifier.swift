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
        for path in contents.oversizedDocuments {
            problem("limit_exceeded", "\(path) is larger than the \(PackReader.maximumDocumentSize >> 20) MiB a pack document may take "
                    + "(or the documents together pass \(PackReader.maximumDocumentsSize >> 20) MiB)", path: path)
        }
        if contents.oversizedDocuments.contains(PackManifest.fileName) { return report }
        guard let manifestBytes = contents.documents[PackManifest.fileName] else {
            throw PipelineError(.invalidInput, "\(file) has no \(PackManifest.fileName): not a pipeline pack", path: file)
        }
        let manifest: JSON
        do {
            manifest = try JSON.parse(manifestBytes)
        } catch {
            throw PipelineError(.invalidInput, "\(file): \(PackManifest.fileName) is not JSON: \(PackVerifier.reason(error))", path: file)
        }
        guard manifest.objectValue != nil else {
            throw PipelineError(.invalidInput, "\(file): \(PackManifest.fileName) is not a JSON object", path: file)
        }
        if let failure = contents.readFailure { problem(contents.readFailureCode, failure) }
        report.packID = manifest["pack_id"]?.stringValue
        report.packType = manifest["pack_type"]?.stringValue
        report.sourceRef = manifest["source_ref"]?.stringValue

        // The entries themselves, as libarchive reads them and as the central directory holds them.
        var flagged: Set<String> = []  // "code path": one problem per entry and kind of fault
        func flag(_ code: String, _ message: String, path: String) {
            if flagged.insert("\(code) \(path)").inserted { problem(code, message, path: path) }
        }
        var seen: [String: PackContents.Entry] = [:]
        var duplicates: Set<String> = []
        for record in contents.directory.records {
            let name = record.displayName
            if record.utf8Name == nil { flag("unsafe_path", "entry '\(name)' has a name that is not valid UTF-8", path: name) }
            if let reason = PackVerifier.unsafe(name) { flag("unsafe_path", "entry '\(name)' \(reason)", path: name) }
            switch (record.mode ?? 0) & 0o170000 {
            case 0, 0o100000: break
            case 0o120000: flag("symlink_entry", "entry '\(name)' is a symlink", path: name)
            case 0o040000: flag("directory_entry", "entry '\(name)' is a directory (packs hold files only)", path: name)
            default: flag("special_entry", "entry '\(name)' is not a regular file", path: name)
            }
        }
        for index in contents.directory.overlapping() {
            let name = contents.directory.records[index].displayName
            flag("overlapping_entry", "entry '\(name)' shares its bytes with another entry (a second name for it, or an overlapping-entries zip bomb)",
                 path: name)
        }
        for entry in contents.entries {
            if let reason = PackVerifier.unsafe(entry.path) { flag("unsafe_path", "entry '\(entry.path)' \(reason)", path: entry.path) }
            switch entry.kind {
            case .file: break
            case .symlink: flag("symlink_entry", "entry '\(entry.path)' is a symlink", path: entry.path)
            case .directory: flag("directory_entry", "entry '\(entry.path)' is a directory (packs hold files only)", path: entry.path)
            case .other: flag("special_entry", "entry '\(entry.path)' is not a regular file", path: entry.path)
            }
            if seen[entry.path] != nil {
                duplicates.insert(entry.path)
                problem("duplicate_entry", "entry '\(entry.path)' appears more than once", path: entry.path)
            } else {
                seen[entry.path] = entry
            }
        }
        // Names that differ only in case are one file where they are extracted on macOS or Windows.
        var folded: [String: String] = [:]
        for record in contents.directory.records {
            let name = record.displayName, key = name.lowercased()
            if let other = folded[key] {
                if other != name { flag("duplicate_entry", "entry '\(name)' differs from '\(other)' only in case", path: name) }
            } else {
                folded[key] = name
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
            if duplicates.contains(entry.path) { continue }
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
        report.problems = PackVerifier.capped(report.problems)
        return report
    }

    /// At most this many problems of one code are listed; the rest are counted in one more.
    public static let problemsPerCode = 100

    /// The problems with at most `problemsPerCode` of each code, and for a code with more, a
    /// last one saying how many were left out: a pack of a million bad entries gives a
    /// report of bounded size.
    static func capped(_ problems: [Problem]) -> [Problem] {
        var counts: [String: Int] = [:]
        var result: [Problem] = []
        for problem in problems {
            counts[problem.code, default: 0] += 1
            if counts[problem.code]! <= problemsPerCode { result.append(problem) }
        }
        for (code, count) in counts.sorted(by: { $0.key < $1.key }) where count > problemsPerCode {
            result.append(Problem(code: code, message: "and \(count - problemsPerCode) more \(code) problems not listed"))
        }
        return result
    }

    static func reason(_ error: Error) -> String {
        (error as? PipelineError)?.message ?? "\(error)"
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

    /// Why an entry name is unsafe to extract, or nil. One pass over the bytes (a pack may
    /// hold a million names).
    static func unsafe(_ path: String) -> String? {
        var path = path
        return path.withUTF8 { unsafe($0) }
    }

    private static func unsafe(_ bytes: UnsafeBufferPointer<UInt8>) -> String? {
        let slash = UInt8(ascii: "/"), dot = UInt8(ascii: ".")
        if bytes.isEmpty { return "has an empty name" }
        if bytes[0] == slash || bytes[0] == UInt8(ascii: "\\") { return "is absolute" }
        if bytes.count >= 2, bytes[1] == UInt8(ascii: ":") { return "has a drive letter" }
        if bytes.contains(UInt8(ascii: "\\")) { return "contains a backslash" }
        if bytes.contains(0) { return "contains a NUL byte" }
        var start = 0
        var normalized = true
        for index in 0...bytes.count where index == bytes.count || bytes[index] == slash {
            let length = index - start
            if length == 2, bytes[start] == dot, bytes[start + 1] == dot { return "contains '..'" }
            if length == 0 || (length == 1 && bytes[start] == dot) { normalized = false }
            start = index + 1
        }
        return normalized ? nil : "is not a normalized relative path"
    }
}
