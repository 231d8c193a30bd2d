import CSupport
import Glibc

/// Owns keys and the cache: computes a step's inputs and key, decides up to date / restore /
/// run (with a reason), restores outputs, and stores what a successful run produced.
public final class Rebuilder {
    public let root: String
    public let store: BlobStore & ActionCache
    public let statCache: StatCache
    public let records: StepRecords
    public let registry: RuleRegistry
    public var materializer: Materializer
    /// The caller's environment, for declared pass-through variables.
    public let callerEnvironment: [String: String]
    /// Fingerprint of the plan the keys are computed under (Pipelinefile digest, key format,
    /// platform, rule versions); nil disables the unchanged-key shortcut.
    public var plan: Digest?
    private let keyHasher = SHA256()

    public init(root: String, store: BlobStore & ActionCache, statCache: StatCache, records: StepRecords,
                registry: RuleRegistry = RuleRegistry(), callerEnvironment: [String: String]) {
        self.root = root
        self.store = store
        self.statCache = statCache
        self.records = records
        self.registry = registry
        self.callerEnvironment = callerEnvironment
        self.materializer = Materializer(root: root)
    }

    func absolute(_ relative: String) -> String { root + "/" + relative }

    // MARK: Inputs

    /// Finds and hashes what steps read.
    public private(set) lazy var resolver = InputResolver(root: root, statCache: statCache)

    public func inputs<Files: Sequence<String>>(of step: Step, produced: [String: Digest], neededFiles: Files) throws
        -> [(path: String, digest: Digest)]
    {
        try resolver.inputs(of: step, produced: produced, neededFiles: neededFiles)
    }

    /// Listings are reused until a command or a restore may have changed a folder.
    public func forgetListings() { resolver.forgetListings() }

    // MARK: Keys

    static let defaultPath = "/usr/local/bin:/usr/bin:/bin"

    /// The declared env values that enter a step's key, and which secrets are set.
    public func keyEnvironment(for step: Step) -> (values: [String: String], secrets: [String: Bool]) {
        if step.env.passThrough.isEmpty && step.env.values.isEmpty && step.env.secrets.isEmpty { return ([:], [:]) }
        var key: [String: String] = [:]
        for name in step.env.passThrough {
            if let value = callerEnvironment[name] {
                key[name] = value
            } else if name == "PATH" {
                key[name] = Rebuilder.defaultPath
            }
        }
        for (name, value) in step.env.values { key[name] = value }
        var secrets: [String: Bool] = [:]
        for name in step.env.secrets { secrets[name] = callerEnvironment[name] != nil }
        return (key, secrets)
    }

    /// The environment a step's command sees: a fixed base plus what it declares.
    public func processEnvironment(for step: Step) -> [String: String] {
        var process: [String: String] = ["PATH": Rebuilder.defaultPath, "LANG": "C.UTF-8", "TZ": "UTC"]
        if let home = callerEnvironment["HOME"] { process["HOME"] = home }
        for name in step.env.passThrough { if let value = callerEnvironment[name] { process[name] = value } }
        for (name, value) in step.env.values { process[name] = value }
        for name in step.env.secrets { if let value = callerEnvironment[name] { process[name] = value } }
        return process
    }

    public func describe(_ step: Step, inputs: [(path: String, digest: Digest)], env: [String: String], secrets: [String: Bool]) -> ActionDescription {
        switch step.action {
        case .run(let command):
            return ActionDescription(kind: "run", command: command, env: env, secrets: secrets, inputs: inputs, outputs: step.outputs,
                                     timeout: step.timeout, depfile: step.depfile)
        case .use(let rule, let with):
            return ActionDescription(kind: rule, ruleVersion: registry.version(of: rule), command: nil, with: with, env: env, secrets: secrets,
                                     inputs: inputs, outputs: step.outputs, timeout: step.timeout)
        case .alias:
            return ActionDescription(kind: "alias", command: nil, inputs: inputs, outputs: [])
        }
    }

    public func key(of description: ActionDescription) -> ActionKey { description.key(using: keyHasher) }

    static func definition(of description: ActionDescription) -> [UInt8] {
        var copy = description
        copy.inputs = []
        return copy.canonicalBytes
    }

    // MARK: Decisions

    public func decide(_ step: Step, description: ActionDescription, key: ActionKey, forced: Bool) throws -> RebuildDecision {
        if forced { return .run(because: .forced) }
        let record = records[step.name]
        if let record, record.status.succeeded, record.key == key {
            guard step.cache else { return .run(because: .cacheDisabled) }
            if let changed = try discoveredChange(record.result) {
                return try cached(step, key: key, reason: changed) ?? .run(because: changed)
            }
            if let problem = try checkOutputs(record.result) {
                return try cached(step, key: key, reason: problem) ?? .run(because: problem)
            }
            return .upToDate
        }
        let reason = explain(record, description: description)
        guard step.cache else { return .run(because: .cacheDisabled) }
        return try cached(step, key: key, reason: reason) ?? .run(because: reason)
    }

    /// The shared remote cache, when one is configured: asked after a local miss.
    public var remote: RemoteCache?

    /// An action-cache hit whose blobs are all present; anything less is a miss. Locally
    /// first, then from the remote cache, whose result and (verified) blobs land in the
    /// local store before they are used.
    func cached(_ step: Step, key: ActionKey, reason: RebuildReason) throws -> RebuildDecision? {
        if let stored = try store.result(for: key), let result = try holding(stored, key: key, lookup: { try self.store.result(for: $0) }),
           !result.files.contains(where: { $0.linkTarget == nil && !store.contains($0.digest) }) {
            return .restore(result, because: reason)
        }
        guard let remote, let shared = remote.result(for: key), let result = try holding(shared, key: key, lookup: { remote.result(for: $0) })
        else { return nil }
        var needed = result.files.filter { $0.linkTarget == nil }.map(\.digest)
        for log in [result.stdout, result.stderr] where log != .empty { needed.append(log) }
        for digest in Set(needed) where !store.contains(digest) {
            guard let bytes = remote.blob(digest) else { return nil }
            if let local = store as? LocalStore { try local.put(bytes: bytes, digest: digest) } else { _ = try store.put(bytes: bytes) }
        }
        try store.store(result, for: key)
        if !result.discoveredInputs.isEmpty { try store.store(result, for: Rebuilder.variantKey(key, result.discoveredInputs)) }
        return .restore(result, because: reason)
    }

    // MARK: Discovered inputs

    /// The first discovered input of `result` that is gone or has other content now.
    public func discoveredChange(_ result: ActionResult) throws -> RebuildReason? {
        for input in result.discoveredInputs {
            guard let digest = try currentDigest(input.path) else { return .discoveredInputRemoved(input.path) }
            if digest != input.digest { return .discoveredInputChanged(input.path) }
        }
        return nil
    }

    /// A discovered input's digest now (through the stat cache); nil when it is not a file.
    func currentDigest(_ path: String) throws -> Digest? {
        let full = path.hasPrefix("/") ? path : absolute(path)
        guard let st = FileSystem.stat(full, follow: true), st.kind == .file else { return nil }
        return try statCache.digest(of: full, key: path, stat: st)
    }

    /// `result` when its discovered inputs still hold. Otherwise the result stored for the
    /// same key under the digests those files have now (an edited header reverted, a branch
    /// switched back), if there is one and it holds; else nil. Like ccache's manifest: the
    /// latest result names the files, their current digests name the variant.
    func holding(_ result: ActionResult, key: ActionKey, lookup: (ActionKey) throws -> ActionResult?) throws -> ActionResult? {
        if result.discoveredInputs.isEmpty { return result }
        var current: [DiscoveredInput] = []
        current.reserveCapacity(result.discoveredInputs.count)
        for input in result.discoveredInputs {
            guard let digest = try currentDigest(input.path) else { return nil }
            current.append(DiscoveredInput(path: input.path, digest: digest))
        }
        if current == result.discoveredInputs { return result }
        guard let variant = try lookup(Rebuilder.variantKey(key, current)), try discoveredChange(variant) == nil else { return nil }
        return variant
    }

    /// Where a result is also stored: its key and its discovered inputs' digests.
    public static func variantKey(_ key: ActionKey, _ discovered: [DiscoveredInput]) -> ActionKey {
        var text = "pipeline/discovered\n" + key.digest.hex + "\n"
        for input in discovered { text += input.path + "\u{0}" + input.digest.hex + "\n" }
        return ActionKey(SHA256.hash(text))
    }

    /// Before a step with a depfile runs: the old depfile goes (so one the command failed to
    /// write is noticed, not taken from an earlier run) and its folder exists.
    public func prepareDepfile(of step: Step) throws {
        guard let depfile = step.depfile else { return }
        let path = absolute(depfile)
        if FileSystem.stat(path) != nil {
            try FileSystem.remove(path)
            statCache.forget(depfile)
        }
        let folder = Path.directory(of: depfile)
        if folder != "." { try FileSystem.makeDirectories(absolute(folder)) }
    }

    /// After a successful command: the files its depfile names that are not declared inputs
    /// or outputs, each with its digest now. Paths inside the workspace are made relative;
    /// files outside it (system headers) are kept by absolute path and checked the same way
    /// (`-MMD` leaves them out of the depfile). A missing or malformed depfile fails the step.
    public func discoveredInputs(of step: Step, declared: [(path: String, digest: Digest)]) throws -> [DiscoveredInput] {
        guard let depfile = step.depfile else { return [] }
        let bytes: [UInt8]
        do {
            bytes = try FileSystem.readFile(absolute(depfile))
        } catch {
            throw PipelineError(.stepFailed, "step '\(step.name)' did not write its depfile '\(depfile)'", step: step.name, path: depfile)
        }
        let parsed: Depfile
        do {
            parsed = try Depfile.parse(bytes, path: depfile)
        } catch let error as PipelineError {
            throw PipelineError(.stepFailed, "malformed depfile of step '\(step.name)': \(error.description)", step: step.name, path: depfile)
        }
        var skip = Set(declared.map(\.path))
        skip.formUnion(step.outputs)
        skip.insert(depfile)
        var found: [DiscoveredInput] = []
        for raw in parsed.prerequisites {
            let path = workspacePath(raw)
            guard skip.insert(path).inserted else { continue }
            let full = path.hasPrefix("/") ? path : absolute(path)
            guard let st = FileSystem.stat(full, follow: true) else {
                throw PipelineError(.stepFailed, "the depfile '\(depfile)' of step '\(step.name)' names '\(raw)', which does not exist",
                                    step: step.name, path: depfile)
            }
            guard st.kind == .file else { continue }  // a folder says nothing about content
            found.append(DiscoveredInput(path: path, digest: try statCache.digest(of: full, key: path, stat: st)))
        }
        return found
    }

    /// A depfile's path, workspace-relative when inside the workspace, else absolute; both normalized.
    func workspacePath(_ raw: String) -> String {
        if !raw.hasPrefix("/"), let relative = Path.normalizeRelative(raw) { return relative }
        var parts: [Substring] = []
        let full = raw.hasPrefix("/") ? raw : root + "/" + raw
        for part in full.split(separator: "/", omittingEmptySubsequences: true) {
            if part == "." { continue }
            if part == ".." {
                if !parts.isEmpty { parts.removeLast() }
                continue
            }
            parts.append(part)
        }
        let normalized = "/" + parts.joined(separator: "/")
        if normalized.hasPrefix(root + "/") { return String(normalized.dropFirst(root.count + 1)) }
        return normalized
    }

    /// The first declared output that is missing or differs from what was recorded.
    /// `prefetched`: the files' `lstat`s taken earlier in this run (same order), if any.
    func checkOutputs(_ result: ActionResult, prefetched: [FileStat?]? = nil) throws -> RebuildReason? {
        for directory in result.directories where !FileSystem.isDirectory(absolute(directory)) {
            return .outputMissing(directory)
        }
        let prefetched = prefetched?.count == result.files.count ? prefetched : nil
        for (index, file) in result.files.enumerated() {
            let path = absolute(file.path)
            if let target = file.linkTarget {
                guard let st = FileSystem.stat(path), st.kind == .symlink else { return .outputMissing(file.path) }
                if readLink(path) != target { return .outputModified(file.path) }
                continue
            }
            let stat = prefetched.map { $0[index] } ?? FileSystem.stat(path, follow: false)
            guard let st = stat, st.kind == .file else { return .outputMissing(file.path) }
            if st.mode != file.mode { return .outputModified(file.path) }
            if try statCache.digest(of: path, key: file.path, stat: st) != file.digest { return .outputModified(file.path) }
        }
        return nil
    }

    /// Why the current description differs from the last recorded run.
    public func explain(_ record: StepRecord?, description: ActionDescription) -> RebuildReason {
        guard let record else { return .noPreviousRun }
        if !record.status.succeeded { return .previousRunFailed }
        let now = Rebuilder.definition(of: description)
        if now != record.definition {
            guard let old = try? JSON.parse(record.definition), let new = try? JSON.parse(now) else { return .commandChanged }
            if old["command"] != new["command"] { return .commandChanged }
            if old["env"] != new["env"] || old["secrets"] != new["secrets"] {
                let before = old["env"]?.objectValue ?? [:], after = new["env"]?.objectValue ?? [:]
                let names = Set(before.keys).union(after.keys).sorted()
                if let name = names.first(where: { before[$0] != after[$0] }) { return .envChanged(name) }
                let secretsBefore = old["secrets"]?.objectValue ?? [:], secretsAfter = new["secrets"]?.objectValue ?? [:]
                let secretNames = Set(secretsBefore.keys).union(secretsAfter.keys).sorted()
                return .envChanged(secretNames.first(where: { secretsBefore[$0] != secretsAfter[$0] }) ?? "?")
            }
            for field in ["outputs", "timeout", "kind", "rule_version", "with", "platform", "salt", "depfile"] where old[field] != new[field] {
                return .definitionChanged(field.replacing("_", with: " "))
            }
            return .commandChanged
        }
        var oldInputs: [String: Digest] = [:]
        for input in record.inputs { oldInputs[input.path] = input.digest }
        for input in description.inputs {
            guard let before = oldInputs.removeValue(forKey: input.path) else { return .inputAdded(input.path) }
            if before != input.digest { return .inputChanged(input.path) }
        }
        if let gone = oldInputs.keys.sorted().first { return .inputRemoved(gone) }
        return .noPreviousRun
    }

    // MARK: Restoring and storing

    /// Stores finished steps' outputs on another thread, when set.
    public var writer: StoreWriter?
    /// Output bytes collected for the writer since the last `takePendingBlobs()`.
    private var pendingBlobs: [(bytes: [UInt8], digest: Digest)] = []

    public func takePendingBlobs() -> [(bytes: [UInt8], digest: Digest)] {
        defer { pendingBlobs = [] }
        return pendingBlobs
    }

    /// Restores staged but not yet in place; `flushRestores` puts them there.
    private lazy var pendingRestores = MaterializeBatch(materializer: materializer)

    /// Stages a cached result's outputs; false when a blob turned out missing or corrupt
    /// (nothing of this result is staged then, and the caller runs the step). The files are
    /// in place after the next `flushRestores()`.
    public func restore(_ result: ActionResult) throws -> Bool {
        for directory in result.directories {
            let path = try materializer.absolutePath(directory)
            try FileSystem.makeDirectories(path)
        }
        let mark = pendingRestores.mark
        for file in result.files {
            let path = absolute(file.path)
            if file.linkTarget == nil, let st = FileSystem.stat(path), st.kind == .file, st.mode == file.mode,
               (try? statCache.digest(of: path, key: file.path, stat: st)) == file.digest {
                continue  // already right
            }
            statCache.forget(file.path)
            let staged: Bool
            do {
                staged = try pendingRestores.stage(file, from: store)
            } catch {
                // A restore that failed half-way (a full disk) puts none of the step's files in place.
                pendingRestores.discard(after: mark)
                throw error
            }
            guard staged else {
                pendingRestores.discard(after: mark)
                return false
            }
        }
        return true
    }

    /// Puts every staged restore in place (before a command may read them, and at the end).
    public func flushRestores() throws {
        guard !pendingRestores.isEmpty else { return }
        try pendingRestores.commit()
        forgetListings()
    }

    /// After a successful command: every declared output must exist; each file goes into
    /// the CAS. Throws when an output is missing (nothing is cached then).
    public func collectOutputs(of step: Step) throws -> (files: [OutputFile], directories: [String]) {
        var files: [OutputFile] = []
        var directories: [String] = []
        for (index, output) in step.outputs.enumerated() {
            let path = absolute(output)
            guard let st = FileSystem.stat(path) else {
                throw PipelineError(.stepFailed, "step '\(step.name)' did not produce its declared output '\(output)'",
                                    location: step.outputLocations[safe: index], step: step.name, path: output)
            }
            switch st.kind {
            case .directory:
                directories.append(output)
                for file in resolver.filesUnder(output) { files.append(try collect(file)) }
            case .file, .symlink:
                files.append(try collect(output))
            case .other:
                throw PipelineError(.stepFailed, "output '\(output)' of step '\(step.name)' is not a file or directory", step: step.name, path: output)
            }
        }
        return (files, directories)
    }

    private func collect(_ relative: String) throws -> OutputFile {
        let path = absolute(relative)
        guard let st = FileSystem.stat(path) else { throw FileSystem.ioError("output vanished:", relative, errno: ENOENT) }
        if st.kind == .symlink {
            let target = readLink(path) ?? ""
            return OutputFile(path: relative, digest: SHA256.hash(target), size: UInt64(target.utf8.count), mode: 0o777, linkTarget: target)
        }
        let fingerprint: FileFingerprint
        if writer != nil, st.size <= 1 << 20 {
            // Hash here; the writer thread stores the bytes (see `pendingBlobs`).
            let bytes = try FileSystem.readFile(path)
            fingerprint = FileFingerprint(bytes: bytes)
            pendingBlobs.append((bytes, fingerprint.sha256))
        } else {
            fingerprint = try store.put(fileAt: path)
        }
        statCache.record(key: relative, stat: st, fingerprint: fingerprint)
        return OutputFile(path: relative, digest: fingerprint.sha256, size: fingerprint.size, mode: st.mode)
    }

    func readLink(_ path: String) -> String? {
        var buffer = [CChar](repeating: 0, count: 4097)
        let n = readlink(path, &buffer, 4096)
        guard n >= 0 else { return nil }
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Removes what a failed or interrupted command left at its declared outputs, so no
    /// half-written file is ever taken for a result.
    public func discardOutputs(of step: Step, unchangedSince before: [String: FileStat?]) {
        for output in step.outputs {
            let path = absolute(output)
            let now = FileSystem.stat(path)
            if let previous = before[output], previous == now { continue }
            try? FileSystem.remove(path)
            statCache.forget(output)
        }
    }

    public func snapshotOutputs(of step: Step) -> [String: FileStat?] {
        var result: [String: FileStat?] = [:]
        for output in step.outputs { result[output] = FileSystem.stat(absolute(output)) }
        return result
    }

    public func record(_ step: Step, key: ActionKey, status: StepStatus, reason: String, description: ActionDescription,
                       result: ActionResult) {
        records.update(StepRecord(name: step.name, key: key, status: status, reason: reason, inputs: description.inputs,
                                  definition: Rebuilder.definition(of: description), result: result, finishedAt: pl_wall_ns(),
                                  plan: plan ?? .empty, envText: Rebuilder.envText(keyEnvironment(for: step))))
    }

    /// The env values a key depends on, as comparable text.
    static func envText(_ env: (values: [String: String], secrets: [String: Bool])) -> String {
        if env.values.isEmpty && env.secrets.isEmpty { return "" }
        var parts = env.values.map { "\($0.key)=\($0.value)" }.sorted()
        parts += env.secrets.map { "\($0.key)?\($0.value)" }.sorted()
        return parts.joined(separator: "\u{0}")
    }

    /// The key a step had last time, when provably unchanged: same plan, same env values,
    /// same inputs with the same digests. Saves building and hashing the description on the
    /// (very common) unchanged step.
    public func unchangedRecord(_ step: Step, inputs: [(path: String, digest: Digest)], env: (values: [String: String], secrets: [String: Bool])) -> StepRecord? {
        guard let plan, let record = records[step.name], record.plan == plan, record.inputs.count == inputs.count,
              record.envText == Rebuilder.envText(env)
        else { return nil }
        for (a, b) in zip(record.inputs, inputs) where a.digest != b.digest || a.path != b.path { return nil }
        if !record.result.discoveredInputs.isEmpty {
            do {
                if try discoveredChange(record.result) != nil { return nil }
            } catch {
                return nil
            }
        }
        return record
    }

    /// Results restored in this run: their last use is recorded at the end (one append).
    public var restoredKeys: [ActionKey] = []

    /// `keepRecords: false` when the store could not take this run's results: the records
    /// would call steps up to date whose outputs the store lacks, so the next run decides
    /// from the cache again (and stores what is missing).
    public func save(keepRecords: Bool = true) throws {
        if !restoredKeys.isEmpty, let local = store as? LocalStore {
            try? local.touch(restoredKeys)
            restoredKeys = []
        }
        try flushRestores()
        try statCache.save()
        if keepRecords { try records.save() }
    }
}
