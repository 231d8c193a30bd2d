import Dispatch

/// Writes what finished steps produced into the store on another thread, in order: each
/// step's blobs, then its action result (so a result is never visible before its blobs).
/// Creating two files per step on a slow filesystem then overlaps the next command instead
/// of delaying its start. `finish()` waits for everything and returns what failed; a failed
/// write only costs a cache entry (the result is not stored), never a wrong output.
public final class StoreWriter: @unchecked Sendable {
    private let store: LocalStore
    private let queue = DispatchQueue(label: "pipeline.store-writer")
    private let group = DispatchGroup()
    private var failures: [String] = []  // touched on `queue` only

    public init(storeRoot: String) throws {
        store = try LocalStore(root: storeRoot, create: false, tempTag: "w")
    }

    /// Stores the blobs, then (when every blob made it) the action result.
    public func save(blobs: [(bytes: [UInt8], digest: Digest)], result: ActionResult?, key: ActionKey?) {
        queue.async(group: group) { [self] in
            do {
                for blob in blobs where !store.contains(blob.digest) { try store.put(bytes: blob.bytes, digest: blob.digest) }
                if let result, let key { try store.store(result, for: key) }
            } catch {
                failures.append("\(error)")
            }
        }
    }

    /// Waits for every write; the failures, if any.
    public func finish() -> [String] {
        group.wait()
        return queue.sync { failures }
    }
}
