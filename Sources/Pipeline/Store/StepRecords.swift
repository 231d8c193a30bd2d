
/// The outcome of a step in one run, as the output contract names it.
public enum StepStatus: String, Sendable, CaseIterable {
    case upToDate = "up_to_date"
    case restored
    case ran
    case failed
    case skipped
    case canceled

    public var succeeded: Bool { self == .upToDate || self == .restored || self == .ran }
}

/// What the last run of a step left in this workspace: enough to decide "up to date" without
/// reading the action cache, and to explain later why it ran.
/// A class (immutable, so Sendable): the scheduler reads thousands of these per run, and
/// sharing one costs a retain where copying the struct cost a dozen.
public final class StepRecord: Sendable, Equatable {
    public let name: String
    public let key: ActionKey
    public let status: StepStatus
    /// Why it ran (or was restored) last time, as shown to the user.
    public let reason: String
    public let inputs: [(path: String, digest: Digest)]
    /// Canonical JSON of the action description without its inputs.
    public let definition: [UInt8]
    public let result: ActionResult
    public let finishedAt: Int64
    /// The plan (Pipelinefile, format, platform) and env values the key was computed under:
    /// when both are unchanged and so are the inputs, the key is too, without recomputing it.
    public let plan: Digest
    public let envText: String

    public init(name: String, key: ActionKey, status: StepStatus, reason: String, inputs: [(path: String, digest: Digest)],
                definition: [UInt8], result: ActionResult, finishedAt: Int64, plan: Digest = .empty, envText: String = "") {
        self.plan = plan
        self.envText = envText
        self.name = name
        self.key = key
        self.status = status
        self.reason = reason
        self.inputs = inputs
        self.definition = definition
        self.result = result
        self.finishedAt = finishedAt
    }

    public static func == (a: StepRecord, b: StepRecord) -> Bool {
        a.name == b.name && a.key == b.key && a.status == b.status && a.reason == b.reason && a.definition == b.definition
            && a.result == b.result && a.finishedAt == b.finishedAt && a.inputs.map(\.path) == b.inputs.map(\.path)
            && a.inputs.map(\.digest) == b.inputs.map(\.digest)
    }
}

/// Every step's last record in one workspace, in one binary file replaced atomically at the
/// end of a run (ninja's .ninja_log, with content digests).
public final class StepRecords {
    static let magic = "PLSTEP04"
    public let path: String?
    public private(set) var records: [String: StepRecord] = [:]
    public private(set) var isDirty = false
    /// Set when the file existed but could not be read (it is then treated as empty).
    public private(set) var wasDamaged = false

    public init(path: String?) {
        self.path = path
        guard let path, let bytes = try? FileSystem.readFile(path) else { return }
        if let decoded = StepRecords.decode(bytes) {
            records = decoded
        } else {
            // Records of another format version are simply not reused; anything else is damage.
            wasDamaged = !(bytes.starts(with: Array("PLSTEP".utf8)) && !bytes.starts(with: Array(StepRecords.magic.utf8)))
        }
    }

    public subscript(name: String) -> StepRecord? { records[name] }

    public func update(_ record: StepRecord) {
        records[record.name] = record
        isDirty = true
    }

    public func remove(_ name: String) {
        if records.removeValue(forKey: name) != nil { isDirty = true }
    }

    public func save() throws {
        guard isDirty, let path else { return }
        try Materializer.writeAtomically(StepRecords.encode(records), to: path, durable: false)
        isDirty = false
    }

    static func encode(_ records: [String: StepRecord]) -> [UInt8] {
        var w = BinaryWriter(magic: magic)
        w.u32(UInt32(records.count))
        for name in records.keys.sorted() {
            let r = records[name]!
            w.string(r.name)
            w.digest(r.key.digest)
            w.string(r.status.rawValue)
            w.string(r.reason)
            w.u32(UInt32(r.inputs.count))
            for input in r.inputs { w.string(input.path); w.digest(input.digest) }
            w.bytesField(r.definition)
            w.u32(UInt32(r.result.files.count))
            for f in r.result.files {
                w.string(f.path); w.digest(f.digest); w.u64(f.size); w.u32(f.mode)
                w.string(f.linkTarget ?? ""); w.u8(f.linkTarget == nil ? 0 : 1)
            }
            w.u32(UInt32(r.result.directories.count))
            for d in r.result.directories { w.string(d) }
            w.u32(UInt32(bitPattern: r.result.exitCode))
            w.digest(r.result.stdout); w.digest(r.result.stderr)
            w.i64(r.result.durationNanos)
            w.i64(r.finishedAt)
            w.digest(r.plan)
            w.string(r.envText)
            w.u32(UInt32(r.result.discoveredInputs.count))
            for input in r.result.discoveredInputs { w.string(input.path); w.digest(input.digest) }
        }
        return ChecksummedFile.seal(w)
    }

    static func decode(_ bytes: [UInt8]) -> [String: StepRecord]? {
        guard var r = ChecksummedFile.open(bytes, magic: magic) else { return nil }
        do {
            let count = Int(try r.u32())
            var records: [String: StepRecord] = [:]
            records.reserveCapacity(count)
            for _ in 0..<count {
                let name = try r.string()
                let key = ActionKey(try r.digest())
                guard let status = StepStatus(rawValue: try r.string()) else { return nil }
                let reason = try r.string()
                let inputCount = Int(try r.u32())
                var inputs: [(path: String, digest: Digest)] = []
                inputs.reserveCapacity(inputCount)
                for _ in 0..<inputCount { inputs.append((try r.string(), try r.digest())) }
                let definition = try r.bytesField()
                let fileCount = Int(try r.u32())
                var files: [OutputFile] = []
                files.reserveCapacity(fileCount)
                for _ in 0..<fileCount {
                    let path = try r.string(), digest = try r.digest(), size = try r.u64(), mode = try r.u32()
                    let link = try r.string()
                    let isLink = try r.u8() == 1
                    files.append(OutputFile(path: path, digest: digest, size: size, mode: mode, linkTarget: isLink ? link : nil))
                }
                let dirCount = Int(try r.u32())
                var directories: [String] = []
                for _ in 0..<dirCount { directories.append(try r.string()) }
                let exitCode = Int32(bitPattern: try r.u32())
                let stdout = try r.digest(), stderr = try r.digest()
                let duration = try r.i64()
                let finishedAt = try r.i64()
                let plan = try r.digest()
                let envText = try r.string()
                let discoveredCount = Int(try r.u32())
                guard discoveredCount <= bytes.count else { return nil }
                var discovered: [DiscoveredInput] = []
                discovered.reserveCapacity(discoveredCount)
                for _ in 0..<discoveredCount { discovered.append(DiscoveredInput(path: try r.string(), digest: try r.digest())) }
                let result = ActionResult(files: files, directories: directories, exitCode: exitCode, stdout: stdout, stderr: stderr,
                                          durationNanos: duration, discoveredInputs: discovered)
                records[name] = StepRecord(name: name, key: key, status: status, reason: reason, inputs: inputs, definition: definition,
                                           result: result, finishedAt: finishedAt, plan: plan, envText: envText)
            }
            return records
        } catch {
            return nil
        }
    }
}
