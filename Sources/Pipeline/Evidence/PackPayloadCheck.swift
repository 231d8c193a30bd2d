/// The cross-checks between a pack's manifest and its payload: the payload names the same
/// source, every record it lists is there with the digest it says, every blob a record
/// names is carried and hashes to its name; a job pack's state and log agree with both.
struct PackPayloadCheck {
    let contents: PackContents
    let declared: [String: (sha: String, type: String)]
    let sourceRef: String
    private(set) var problems: [PackVerifier.Problem] = []

    init(contents: PackContents, declared: [String: (sha: String, type: String)], sourceRef: String) {
        self.contents = contents
        self.declared = declared
        self.sourceRef = sourceRef
    }

    private mutating func problem(_ code: String, _ message: String, path: String? = nil) {
        problems.append(PackVerifier.Problem(code: code, message: message, path: path))
    }

    /// A declared JSON document, parsed, canonical and valid against its schema; nil (with the
    /// problem recorded) otherwise.
    private mutating func document(_ path: String, schema: String?) -> JSON? {
        guard declared[path] != nil else {
            problem("missing_payload", "the manifest does not declare \(path)", path: path)
            return nil
        }
        guard let bytes = contents.documents[path] else { return nil }  // missing: reported already
        guard let json = try? JSON.parse(bytes) else {
            problem("payload_invalid", "\(path) is not JSON", path: path)
            return nil
        }
        if bytes != json.canonicalBytes { problem("not_canonical", "\(path) is not canonical JSON (RFC 8785)", path: path) }
        if let schema {
            do {
                for violation in try EmbeddedSchemas.schema(schema).validate(json) {
                    problem("schema_invalid", "\(path)\(violation.pointer): \(violation.message)", path: path)
                }
            } catch {
                problem("schema_invalid", "\(path): \(error)", path: path)
            }
        }
        return json
    }

    mutating func checkRun() {
        guard let payload = document("run_payload.json", schema: "schemas/v1/pack/run.schema.json") else { return }
        if payload["source_ref"]?.stringValue != sourceRef {
            problem("payload_mismatch", "run_payload.json names source \(payload["source_ref"]?.stringValue ?? "none"), the manifest \(sourceRef)",
                    path: "run_payload.json")
        }
        let listedBlobs = Set((payload["blobs"]?.arrayValue ?? []).compactMap(\.stringValue))
        var listedRuns: Set<String> = []
        for run in payload["runs"]?.arrayValue ?? [] {
            guard let path = run["path"]?.stringValue else { continue }
            listedRuns.insert(path)
            guard let entry = declared[path], entry.type == "run_record" else {
                problem("payload_mismatch", "run_payload.json lists \(path), which the manifest does not declare as a run record", path: path)
                continue
            }
            if run["sha256"]?.stringValue != entry.sha {
                problem("payload_mismatch", "run_payload.json and the manifest disagree on the SHA-256 of \(path)", path: path)
            }
            guard let record = document(path, schema: "schemas/v1/pack/run_record.schema.json") else { continue }
            if record["step"]?.stringValue != run["step"]?.stringValue || record["status"]?.stringValue != run["status"]?.stringValue {
                problem("payload_mismatch", "\(path) does not match its line in run_payload.json (step or status)", path: path)
            }
            guard let parsed = try? RunRecord(json: record) else { continue }
            for blob in parsed.blobs {
                let blobPath = "blobs/sha256/\(blob.hex)"
                if !listedBlobs.contains(blob.hex) {
                    problem("payload_mismatch", "\(path) names blob \(blob.hex), which run_payload.json does not list", path: path)
                }
                if declared[blobPath] == nil { problem("missing_blob", "\(path) names blob \(blob.hex), which the pack does not carry", path: blobPath) }
            }
        }
        for (path, entry) in declared where entry.type == "run_record" && !listedRuns.contains(path) {
            problem("payload_mismatch", "\(path) is not listed in run_payload.json", path: path)
        }
        for hex in listedBlobs.sorted() where declared["blobs/sha256/\(hex)"] == nil {
            problem("missing_blob", "run_payload.json lists blob \(hex), which the pack does not carry", path: "blobs/sha256/\(hex)")
        }
        // A blob must hash to its own name (the manifest check proves only that it matches the manifest).
        for (path, entry) in declared.sorted(by: { $0.key < $1.key }) where path.hasPrefix("blobs/sha256/") {
            if String(path.dropFirst("blobs/sha256/".count)) != entry.sha {
                problem("hash_mismatch", "\(path) is declared with SHA-256 \(entry.sha), not its name", path: path)
            }
        }
    }

    mutating func checkJob() {
        guard let payload = document("job_payload.json", schema: "schemas/v1/pack/job.schema.json") else { return }
        if payload["job_id"]?.stringValue != sourceRef {
            problem("payload_mismatch", "job_payload.json is for job \(payload["job_id"]?.stringValue ?? "none"), the manifest names \(sourceRef)",
                    path: "job_payload.json")
        }
        if let state = document("job_state.json", schema: nil) {
            if state["id"]?.stringValue != sourceRef {
                problem("payload_mismatch", "job_state.json is for job \(state["id"]?.stringValue ?? "none"), not \(sourceRef)", path: "job_state.json")
            }
            if state["status"]?.stringValue != payload["status"]?.stringValue {
                problem("payload_mismatch", "job_state.json and job_payload.json disagree on the status", path: "job_state.json")
            }
        }
        guard declared["job_events.jsonl"] != nil else {
            problem("missing_payload", "the manifest does not declare job_events.jsonl", path: "job_events.jsonl")
            return
        }
        guard let log = contents.documents["job_events.jsonl"] else { return }
        var count = 0
        var start = 0
        for (index, byte) in log.enumerated() where byte == 0x0A {
            defer { start = index + 1 }
            count += 1
            let line = Array(log[start..<index])
            guard let json = try? JSON.parse(line), (try? JobEvent(json: json)) != nil else {
                problem("payload_invalid", "line \(count) of job_events.jsonl is not a job event", path: "job_events.jsonl")
                return
            }
            if line != json.canonicalBytes { problem("not_canonical", "line \(count) of job_events.jsonl is not canonical JSON", path: "job_events.jsonl") }
            if json["seq"]?.intValue != Int64(count) {
                problem("payload_invalid", "line \(count) of job_events.jsonl has sequence \(json["seq"]?.intValue ?? 0)", path: "job_events.jsonl")
            }
        }
        if start != log.count { problem("payload_invalid", "job_events.jsonl does not end with a newline", path: "job_events.jsonl") }
        if payload["events"]?.intValue != Int64(count) {
            problem("payload_mismatch", "job_payload.json counts \(payload["events"]?.intValue ?? 0) events, job_events.jsonl has \(count)",
                    path: "job_events.jsonl")
        }
    }
}
