import Dispatch

/// Writes what finished steps produced into the store on another thread, in order: each
/// step's blobs, then its action result (so a result is never visible before its blobs).
/// Creating two files per step on a slow filesystem then overlaps the next command instead
/// of delaying its start. `finish()` waits for everything and returns what failed; a failed
/// write never stores a wrong result (the result is not stored), but the job's evidence
/// then lacks blobs, so the run reports it (a full disk fails the run, exit 1).
public final class StoreWriter: @unchecked Sendable {
    private let store: LocalStore
    private let queue = DispatchQueue(label: "pipeline.store-writer")
    private let group = DispatchGroup()
    private var failures: [PipelineError] = []  // touched on `queue` only
    /// Digests known to be in the store (touched on `queue` only).
    private var stored: Set<Digest> = []

    /// A writer sharing `store`'s log index (one index per process).
    public init(sharing store: LocalStore) throws {
        self.store = try LocalStore(sharing: store, tempTag: "w")
    }

    /// Stores the blobs, then (when every blob made it) the action result.
    /// Where results are shared, when a remote cache is configured (and not read-only).
    public var remote: RemoteCache?

    public func save(blobs: [(bytes: [UInt8], digest: Digest)], result: ActionResult?, key: ActionKey?) {
        queue.async(group: group) { [self] in
            do {
                let fresh = blobs.filter { !stored.contains($0.digest) }
                try store.save(blobs: fresh, result: result, key: key)
                for blob in fresh { stored.insert(blob.digest) }
                if let remote, !remote.readOnly, let result, let key { share(result, key: key, with: remote) }
            } catch {
                failures.append(error as? PipelineError ?? PipelineError(.io, "\(error)"))
            }
        }
    }

    /// Uploads a stored result's output and log blobs (read back, verified), then the result.
    private func share(_ result: ActionResult, key: ActionKey, with remote: RemoteCache) {
        var blobs: [(digest: Digest, bytes: [UInt8])] = []
        var names = result.files.filter { $0.linkTarget == nil }.map(\.digest)
        for log in [result.stdout, result.stderr] where log != .empty { names.append(log) }
        for digest in Set(names).sorted() {
            guard let bytes = try? store.read(digest) else { return }
            blobs.append((digest, bytes))
        }
        remote.upload(blobs: blobs, result: result, key: key)
    }

    /// Keeps copies of the files a step read (its run record names them, and a replay needs
    /// them). A file whose bytes no longer match the digest the step saw changed meanwhile:
    /// the copy lands under its new digest and the record's blob is simply missing.
    public func keep(files: [(path: String, digest: Digest)]) {
        queue.async(group: group) { [self] in
            for file in files where !stored.contains(file.digest) {
                if store.contains(file.digest) {
                    stored.insert(file.digest)
                    continue
                }
                do {
                    if try store.put(fileAt: file.path).sha256 == file.digest { stored.insert(file.digest) }
                } catch {
                    failures.append(error as? PipelineError ?? PipelineError(.io, "\(error)"))
                }
            }
        }
    }

    /// Runs `work` on the writer's thread once everything queued so far is written: what
    /// names blobs (a job's run records and checkpoints) goes after the blobs, so a run
    /// killed at any moment never leaves a job naming a blob the store lacks.
    public func then(_ work: @escaping @Sendable () -> Void) {
        queue.async(group: group, execute: work)
    }

    /// Waits for every write queued so far (a rule about to read the store needs them).
    public func flush() { group.wait() }

    /// Waits for every write; the failures, if any.
    public func finish() -> [PipelineError] {
        group.wait()
        return queue.sync { failures }
    }
}
