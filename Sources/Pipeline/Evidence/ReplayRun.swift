import Glibc

/// `pipeline replay SOURCE`: finds the records (a job in the store, a job folder, or a run
/// pack), makes the scratch folders real replay and `--out` need, replays, cleans up.
public struct ReplayRun {
    public var source: String
    /// The workspace's store, for a job id.
    public var storePath: String?
    public var policy: ReplayPolicy
    /// Where to write each verified step's recorded outputs (must be absent or empty).
    public var out: String?
    /// Keep the scratch folder of real replay (its path is returned).
    public var keep: Bool

    public init(source: String, storePath: String?, policy: ReplayPolicy, out: String?, keep: Bool) {
        self.source = source
        self.storePath = storePath
        self.policy = policy
        self.out = out
        self.keep = keep
    }

    public func run(executor: Executor?, environment: [String: String]) throws -> (report: Replayer.Report, scratch: String?) {
        if let out {
            if let entries = FileSystem.list(out), !entries.isEmpty {
                throw PipelineError(.confirmationRequired, "--out \(out) is not empty; replay writes only into a new or empty folder", path: out)
            }
            try FileSystem.makeDirectories(out)
        }
        var scratch: String?
        var blobFolder: String?
        var storeLock: StoreLock?
        defer { withExtendedLifetime(storeLock) {} }
        defer {
            if let blobFolder { try? FileSystem.remove(blobFolder) }
            if let scratch, !keep { try? FileSystem.remove(scratch) }
        }
        if policy.isReal { scratch = try ReplayRun.temporaryFolder("pipeline-replay", environment) }
        let replayer: Replayer
        if FileSystem.stat(source, follow: true)?.kind == .file {
            // A pack is replayed only when its container verifies: no unsafe, special,
            // overlapping, duplicate or undeclared entry, within the zip-bomb caps. What it
            // lacks (a blob, a record) replay itself reports step by step.
            let check = try PackVerifier().verify(source)
            if let first = check.problems.first(where: { ReplayRun.refusing.contains($0.code) }) {
                throw PipelineError(.verificationFailed,
                                    "\(source) does not verify (\(first.code): \(first.message)); see pipeline pack verify \(source)", path: source)
            }
            if policy.isReal || out != nil { blobFolder = try ReplayRun.temporaryFolder("pipeline-replay-blobs", environment) }
            let pack = try PackBlobs(pack: source, extractInto: blobFolder)
            replayer = Replayer(source: "pack:\(pack.sourceRef)", records: pack.records, blobs: pack, policy: policy, environment: environment)
        } else {
            let job = try PackSource.resolve(source, storePath: storePath)
            let store = try LocalStore(root: job.storePath, create: false)
            storeLock = try StoreLock(storeRoot: job.storePath, exclusive: false)
            let records = try JobStore(storeRoot: job.storePath).runs(job.job)
            replayer = Replayer(source: "job:\(job.job)", records: records, blobs: store, policy: policy, environment: environment)
        }
        let report = try replayer.replay(executor: executor, scratch: scratch, out: out)
        return (report, keep ? scratch : nil)
    }

    /// The verify problems that stop a pack from being replayed at all.
    static let refusing: Set<String> = [
        "unreadable_entry", "limit_exceeded", "unsafe_path", "symlink_entry", "directory_entry", "special_entry", "overlapping_entry",
        "duplicate_entry", "undeclared_file",
    ]

    public static func temporaryFolder(_ prefix: String, _ environment: [String: String]) throws -> String {
        let base = environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        var template = Array("\(base)/\(prefix)-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw FileSystem.ioError("cannot create a scratch folder in", base) }
        return String(cString: made)
    }
}
