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

    public init(files: [OutputFile], directories: [String] = [], exitCode: Int32 = 0, stdout: Digest = .empty,
                stderr: Digest = .empty, durationNanos: Int64 = 0) {
        self.files = files.sorted { $0.path < $1.path }
        self.directories = directories.sorted()
        self.exitCode = exitCode
        self.stdout = stdout
        self.stderr = stderr
        self.durationNanos = durationNanos
    }

    /// Every blob the result references.
    public var blobs: [Digest] {
        files.filter { $0.linkTarget == nil }.map(\.digest) + [stdout, stderr]
    }

    public var json: JSON {
        .object([
            "schema_id": .string(ActionResult.schemaID),
            "schema_version": .string(ActionResult.schemaVersion),
            "files": .array(files.map { file in
                var entry: [String: JSON] = [
                    "path": .string(file.path), "sha256": .string(file.digest.hex),
                    "size": .int(Int64(file.size)), "mode": .int(Int64(file.mode)),
                ]
                if let target = file.linkTarget { entry["link"] = .string(target) }
                return .object(entry)
            }),
            "directories": .array(directories.map(JSON.string)),
            "exit_code": .int(Int64(exitCode)),
            "stdout": .string(stdout.hex),
            "stderr": .string(stderr.hex),
            "duration_ns": .int(durationNanos),
        ])
    }

    public init(json: JSON) throws {
        func fail(_ what: String) -> PipelineError { PipelineError(.storeFormat, "malformed action result: \(what)") }
        guard json["schema_id"]?.stringValue == ActionResult.schemaID else { throw fail("schema_id") }
        guard let version = json["schema_version"]?.stringValue, version.hasPrefix("1.") else { throw fail("schema_version") }
        guard let files = json["files"]?.arrayValue else { throw fail("files") }
        self.files = try files.map { entry in
            guard let path = entry["path"]?.stringValue, let sha = entry["sha256"]?.stringValue.flatMap({ Digest(hex: $0) }),
                  let size = entry["size"]?.intValue, let mode = entry["mode"]?.intValue
            else { throw fail("file entry") }
            return OutputFile(path: path, digest: sha, size: UInt64(size), mode: UInt32(mode), linkTarget: entry["link"]?.stringValue)
        }
        directories = json["directories"]?.arrayValue?.compactMap(\.stringValue) ?? []
        exitCode = Int32(json["exit_code"]?.intValue ?? 0)
        guard let out = json["stdout"]?.stringValue.flatMap({ Digest(hex: $0) }),
              let err = json["stderr"]?.stringValue.flatMap({ Digest(hex: $0) })
        else { throw fail("logs") }
        stdout = out
        stderr = err
        durationNanos = json["duration_ns"]?.intValue ?? 0
    }
}
