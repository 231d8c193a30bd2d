/// A normalized summary of a pack: identity, signatures, entries by type, and a timeline
/// (the run records by start time, or the job's events). Derived from the pack's bytes
/// only, so inspecting the same pack anywhere prints the same document.
public enum PackInspector {
    public static let schemaID = "pipeline.pack_inspect"

    /// Throws `PipelineError(.invalidInput)` when the file is not a readable pack.
    public static func inspect(_ path: String) throws -> JSON {
        let contents = try PackReader.read(path, hashing: false)
        guard let bytes = contents.documents[PackManifest.fileName], let manifest = try? JSON.parse(bytes), manifest.objectValue != nil else {
            throw PipelineError(.invalidInput, "\(path) has no readable \(PackManifest.fileName): not a pipeline pack", path: path)
        }
        var types: [String: String] = [:]
        for item in manifest["contents"]?.arrayValue ?? [] {
            if let p = item["path"]?.stringValue { types[p] = item["type"]?.stringValue ?? "" }
        }
        var byType: [String: (count: Int64, bytes: Int64)] = [:]
        for entry in contents.entries where entry.path != PackManifest.fileName {
            let type = types[entry.path] ?? "undeclared"
            byType[type, default: (0, 0)].count += 1
            byType[type, default: (0, 0)].bytes += Int64(entry.size)
        }
        let packType = manifest["pack_type"]?.stringValue ?? ""
        var timeline: [JSON] = []
        if packType == "run" {
            var runs: [(start: String, path: String, record: JSON)] = []
            for (entryPath, document) in contents.documents where entryPath.hasPrefix("runs/") {
                if let record = try? JSON.parse(document) { runs.append((record["started_at"]?.stringValue ?? "", entryPath, record)) }
            }
            runs.sort { ($0.start, $0.path) < ($1.start, $1.path) }
            timeline = runs.map { run in
                [
                    "at": .string(run.start), "ended_at": run.record["ended_at"] ?? .null, "step": run.record["step"] ?? .null,
                    "status": run.record["status"] ?? .null, "exit_code": run.record["exit_code"] ?? .null,
                    "duration_ns": run.record["duration_ns"] ?? .null, "record": .string(run.path),
                ]
            }
        } else if packType == "job", let log = contents.documents["job_events.jsonl"] {
            for line in log.split(separator: 0x0A) {
                guard let event = try? JSON.parse(Array(line)) else { continue }
                var item: [String: JSON] = [
                    "seq": event["seq"] ?? .null, "at": event["time"] ?? .null, "type": event["type"] ?? .null, "actor": event["actor"] ?? .null,
                ]
                let payload = event["payload"] ?? .null
                if let to = payload["to"]?.stringValue { item["status"] = .string(to) }
                if let checkpoint = payload["checkpoint"] {
                    item["checkpoint"] = checkpoint["id"] ?? .null
                    item["kind"] = checkpoint["kind"] ?? .null
                    item["summary"] = checkpoint["summary"] ?? .null
                }
                timeline.append(.object(item))
            }
        }
        var summary: [String: JSON] = [:]
        summary["schema_id"] = .string(schemaID)
        summary["schema_version"] = "1.0.0"
        summary["pack_id"] = manifest["pack_id"] ?? .null
        summary["pack_type"] = .string(packType)
        summary["source_ref"] = manifest["source_ref"] ?? .null
        summary["producer_version"] = manifest["producer_version"] ?? .null
        summary["manifest_schema_version"] = manifest["schema_version"] ?? .null
        summary["signatures"] = .array((manifest["signatures"]?.arrayValue ?? []).compactMap { (item: JSON) -> JSON? in item["key_id"] })
        summary["entries"] = .int(Int64(contents.entries.count))
        summary["bytes"] = .int(Int64(contents.totalBytes))
        summary["by_type"] = .object(byType.mapValues { (value: (count: Int64, bytes: Int64)) -> JSON in .object(["count": .int(value.count), "bytes": .int(value.bytes)]) })
        summary["timeline"] = .array(timeline)
        return .object(summary)
    }
}
