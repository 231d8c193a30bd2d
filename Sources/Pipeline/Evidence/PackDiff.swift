/// What differs between two packs, from their manifests: files added, removed or changed
/// (with both digests) and the manifest members that differ. The JSON is canonical and
/// sorted, so diffing the same two packs twice gives identical bytes.
public struct PackDiff: Sendable {
    public static let schemaID = "pipeline.pack_diff"

    public struct File: Sendable, Equatable {
        public var path: String
        public var type: String
        public var sha256: String
    }

    public struct Change: Sendable, Equatable {
        public var path: String
        public var type: String
        public var a: String
        public var b: String
    }

    public var a: JSON
    public var b: JSON
    public var added: [File] = []
    public var removed: [File] = []
    public var changed: [Change] = []
    /// Top-level manifest members other than `contents` whose values differ.
    public var manifest: [(field: String, a: JSON, b: JSON)] = []

    public var same: Bool { added.isEmpty && removed.isEmpty && changed.isEmpty && manifest.isEmpty }

    /// Throws `PipelineError(.invalidInput)` when either file is not a readable pack.
    public static func compare(_ pathA: String, _ pathB: String) throws -> PackDiff {
        let manifestA = try manifest(of: pathA)
        let manifestB = try manifest(of: pathB)
        var diff = PackDiff(a: side(manifestA), b: side(manifestB))
        let filesA = files(of: manifestA), filesB = files(of: manifestB)
        for (path, file) in filesB.sorted(by: { $0.key < $1.key }) {
            guard let old = filesA[path] else {
                diff.added.append(file)
                continue
            }
            if old.sha256 != file.sha256 { diff.changed.append(Change(path: path, type: file.type, a: old.sha256, b: file.sha256)) }
        }
        for (path, file) in filesA.sorted(by: { $0.key < $1.key }) where filesB[path] == nil { diff.removed.append(file) }
        let membersA = manifestA.objectValue ?? [:], membersB = manifestB.objectValue ?? [:]
        for field in Set(membersA.keys).union(membersB.keys).sorted() where field != "contents" {
            let valueA = membersA[field] ?? .null, valueB = membersB[field] ?? .null
            if valueA != valueB { diff.manifest.append((field, valueA, valueB)) }
        }
        return diff
    }

    public var json: JSON {
        .object([
            "schema_id": .string(PackDiff.schemaID), "schema_version": "1.0.0", "a": a, "b": b, "same": .bool(same),
            "added": .array(added.map { ["path": .string($0.path), "type": .string($0.type), "sha256": .string($0.sha256)] }),
            "removed": .array(removed.map { ["path": .string($0.path), "type": .string($0.type), "sha256": .string($0.sha256)] }),
            "changed": .array(changed.map {
                ["path": .string($0.path), "type": .string($0.type), "a_sha256": .string($0.a), "b_sha256": .string($0.b)]
            }),
            "manifest": .array(manifest.map { ["field": .string($0.field), "a": $0.a, "b": $0.b] }),
        ])
    }

    static func manifest(of path: String) throws -> JSON {
        let contents = try PackReader.read(path, hashing: false)
        guard let bytes = contents.documents[PackManifest.fileName], let json = try? JSON.parse(bytes), json.objectValue != nil else {
            throw PipelineError(.invalidInput, "\(path) has no readable \(PackManifest.fileName): not a pipeline pack", path: path)
        }
        return json
    }

    static func side(_ manifest: JSON) -> JSON {
        [
            "pack_id": .string(manifest["pack_id"]?.stringValue ?? ""), "pack_type": .string(manifest["pack_type"]?.stringValue ?? ""),
            "source_ref": .string(manifest["source_ref"]?.stringValue ?? ""),
        ]
    }

    static func files(of manifest: JSON) -> [String: File] {
        var result: [String: File] = [:]
        for item in manifest["contents"]?.arrayValue ?? [] {
            guard let path = item["path"]?.stringValue else { continue }
            result[path] = File(path: path, type: item["type"]?.stringValue ?? "", sha256: item["sha256"]?.stringValue ?? "")
        }
        return result
    }
}
