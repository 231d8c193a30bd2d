/// One file (or symlink) an action produced.
public struct OutputFile: Sendable, Equatable {
    public var path: String
    public var digest: Digest
    public var size: UInt64
    public var mode: UInt32
    /// Set for a symlink: its target, as written.
    public var linkTarget: String?

    public init(path: String, digest: Digest, size: UInt64, mode: UInt32, linkTarget: String? = nil) {
        self.path = path
        self.digest = digest
        self.size = size
        self.mode = mode
        self.linkTarget = linkTarget
    }
}

extension OutputFile {
    /// `{path, sha256, size, mode, link?}`, as action results and run records write it.
    public var json: JSON {
        var entry: [String: JSON] = [
            "path": .string(path), "sha256": .string(digest.hex), "size": .int(Int64(size)), "mode": .int(Int64(mode)),
        ]
        if let linkTarget { entry["link"] = .string(linkTarget) }
        return .object(entry)
    }

    public init?(json: JSON) {
        guard let path = json["path"]?.stringValue, let sha = json["sha256"]?.stringValue.flatMap({ Digest(hex: $0) }),
              let size = json["size"]?.intValue, let mode = json["mode"]?.intValue
        else { return nil }
        self.init(path: path, digest: sha, size: UInt64(size), mode: UInt32(mode), linkTarget: json["link"]?.stringValue)
    }
}

/// A file a command said it read (in its depfile) beyond its declared inputs, with the
/// digest it had. Not part of the key: checked when a result is looked up.
public struct DiscoveredInput: Sendable, Equatable {
    /// Workspace-relative, or absolute for a file outside the workspace (a system header).
    public var path: String
    public var digest: Digest

    public init(path: String, digest: Digest) {
        self.path = path
        self.digest = digest
    }
}

/// What the action cache remembers of a successful action.
public struct ActionResult: Sendable, Equatable {
    public static let schemaID = "pipeline.action_result"
    public static let schemaVersion = "1.0.0"

    /// Every output file, sorted by path (files inside output directories included).
    public var files: [OutputFile]
    /// Declared outputs that are directories (restored even when empty).
    public var directories: [String]
    public var exitCode: Int32
    public var stdout: Digest
    public var stderr: Digest
    public var durationNanos: Int64
    /// The run record of the execution that produced these outputs (JSON of a `RunRecord`),
    /// so a step restored from the cache still has its evidence.
    public var run: JSON?
    /// What the step's depfile named besides its declared inputs, sorted by path: the result
    /// holds only while each still has its digest.
    public var discoveredInputs: [DiscoveredInput]

    public init(files: [OutputFile], directories: [String] = [], exitCode: Int32 = 0, stdout: Digest = .empty,
                stderr: Digest = .empty, durationNanos: Int64 = 0, run: JSON? = nil, discoveredInputs: [DiscoveredInput] = []) {
        self.discoveredInputs = discoveredInputs.sorted { $0.path < $1.path }
        self.files = files.sorted { $0.path < $1.path }
        self.directories = directories.sorted()
        self.exitCode = exitCode
        self.stdout = stdout
        self.stderr = stderr
        self.durationNanos = durationNanos
        self.run = run
    }

    /// Every blob the result references.
    public var blobs: [Digest] {
        files.filter { $0.linkTarget == nil }.map(\.digest) + [stdout, stderr]
    }

    public var json: JSON {
        var members: [String: JSON] = [
            "schema_id": .string(ActionResult.schemaID),
            "schema_version": .string(ActionResult.schemaVersion),
            "files": .array(files.map(\.json)),
            "directories": .array(directories.map(JSON.string)),
            "exit_code": .int(Int64(exitCode)),
            "stdout": .string(stdout.hex),
            "stderr": .string(stderr.hex),
            "duration_ns": .int(durationNanos),
        ]
        if let run { members["run"] = run }
        if !discoveredInputs.isEmpty {
            members["discovered_inputs"] = .array(discoveredInputs.map { ["path": .string($0.path), "sha256": .string($0.digest.hex)] })
        }
        return .object(members)
    }

    public init(json: JSON) throws {
        func fail(_ what: String) -> PipelineError { PipelineError(.storeFormat, "malformed action result: \(what)") }
        guard json["schema_id"]?.stringValue == ActionResult.schemaID else { throw fail("schema_id") }
        guard let version = json["schema_version"]?.stringValue, version.hasPrefix("1.") else { throw fail("schema_version") }
        guard let files = json["files"]?.arrayValue else { throw fail("files") }
        self.files = try files.map { entry in
            guard let file = OutputFile(json: entry) else { throw fail("file entry") }
            return file
        }
        directories = json["directories"]?.arrayValue?.compactMap(\.stringValue) ?? []
        exitCode = Int32(json["exit_code"]?.intValue ?? 0)
        guard let out = json["stdout"]?.stringValue.flatMap({ Digest(hex: $0) }),
              let err = json["stderr"]?.stringValue.flatMap({ Digest(hex: $0) })
        else { throw fail("logs") }
        stdout = out
        stderr = err
        durationNanos = json["duration_ns"]?.intValue ?? 0
        run = json["run"]
        // Results written before depfiles existed have none.
        discoveredInputs = try (json["discovered_inputs"]?.arrayValue ?? []).map { entry in
            guard let path = entry["path"]?.stringValue, let digest = entry["sha256"]?.stringValue.flatMap({ Digest(hex: $0) }) else {
                throw fail("discovered input")
            }
            return DiscoveredInput(path: path, digest: digest)
        }
    }
}
