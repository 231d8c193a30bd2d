/// Reads a pack once, streaming: every entry's name, kind, size and SHA-256, and the bytes
/// of the small JSON documents (manifest, payloads, run records, job state and events),
/// never a whole blob. Writes nothing anywhere.
public struct PackContents: Sendable {
    public struct Entry: Sendable {
        public var path: String
        public var kind: ZipEntryInfo.Kind
        public var size: UInt64
        /// nil for what is not a regular file.
        public var sha256: Digest?
    }

    /// In archive order, duplicates included.
    public var entries: [Entry] = []
    /// Bytes of the JSON documents, by path (the first entry of a name wins).
    public var documents: [String: [UInt8]] = [:]
    /// A damaged entry or a cap exceeded, found while reading; what was read before stands.
    public var readFailure: String?
    /// `limit_exceeded` (a size or count cap: a zip bomb guard) or `unreadable_entry`.
    public var readFailureCode = "unreadable_entry"
    public var totalBytes: UInt64 = 0
    /// The central directory as the file holds it (empty when a cap refused the zip).
    public var directory = ZipDirectory()
    /// JSON documents not kept because they passed a size cap (`PackReader.maximumDocumentSize`
    /// or `maximumDocumentsSize`): their checks cannot run, which is a `limit_exceeded` problem.
    public var oversizedDocuments: [String] = []
}

public enum PackReader {
    /// A JSON document (the manifest, a payload, a run record, the job log) larger than this
    /// is not kept in memory, and the pack fails with `limit_exceeded`. Parsed, a document
    /// takes several times its size, so this bounds verify's memory.
    public static let maximumDocumentSize = 16 << 20
    /// All the documents of a pack together (a run pack holds one record per run).
    public static let maximumDocumentsSize = 256 << 20

    static func isDocument(_ path: String) -> Bool {
        path == PackManifest.fileName || path == "run_payload.json" || path == "job_payload.json" || path == "job_state.json"
            || path == "job_events.jsonl" || (path.hasPrefix("runs/") && path.hasSuffix(".json"))
    }

    /// Throws `PipelineError(.invalidInput)` when the file cannot be read as a zip at all.
    /// `hashing: false` reads only the documents (what inspect and diff need).
    public static func read(_ path: String, limits: ZipLimits = ZipLimits(), hashing: Bool = true) throws -> PackContents {
        let reader: ZipReader
        do {
            // No CRC-32: every entry's SHA-256 is checked against the manifest, and the CRC
            // (zlib's, ~2 GB/s) cost a quarter of verify's time for nothing more.
            reader = try ZipReader(path: path, limits: limits, verifyCRC: false)
        } catch ZipReadFailure.limit(let message) {
            // Refused from its central directory (a zip bomb): nothing was inflated.
            var contents = PackContents()
            contents.readFailure = message
            contents.readFailureCode = "limit_exceeded"
            return contents
        } catch let failure as ZipReadFailure {
            throw PipelineError(.invalidInput, "\(path) is not a readable zip: \(failure.text)", path: path)
        }
        var contents = PackContents()
        contents.directory = reader.directory
        var documentsSize = 0
        let sha = SHA256()
        do {
            while let info = try reader.nextEntry() {
                var entry = PackContents.Entry(path: info.path, kind: info.kind, size: info.size ?? 0, sha256: nil)
                let keep = isDocument(info.path) && contents.documents[info.path] == nil
                if info.kind == .file && (hashing || keep) {
                    sha.reset()
                    var document: [UInt8] = []
                    var tooLarge = false
                    let size = try reader.readData { block in
                        if let base = block.baseAddress { sha.update(base, count: block.count) }
                        if keep && !tooLarge {
                            if document.count + block.count > maximumDocumentSize
                                || documentsSize + document.count + block.count > maximumDocumentsSize {
                                tooLarge = true
                                document = []
                            } else {
                                document.append(contentsOf: block)
                            }
                        }
                    }
                    entry.size = size
                    entry.sha256 = sha.finish()
                    contents.totalBytes += size
                    if keep && !tooLarge {
                        contents.documents[info.path] = document
                        documentsSize += document.count
                    }
                    if keep && tooLarge { contents.oversizedDocuments.append(info.path) }
                } else {
                    contents.totalBytes += entry.size
                }
                contents.entries.append(entry)
            }
        } catch let failure as ZipReadFailure {
            if contents.entries.isEmpty, case .unreadable = failure {
                throw PipelineError(.invalidInput, "\(path) is not a readable zip: \(failure.text)", path: path)
            }
            contents.readFailure = failure.text
            if case .limit = failure { contents.readFailureCode = "limit_exceeded" }
        }
        return contents
    }
}

extension ZipReadFailure {
    var text: String {
        switch self {
        case .unreadable(let message), .malformed(let message), .limit(let message): return message
        }
    }
}
