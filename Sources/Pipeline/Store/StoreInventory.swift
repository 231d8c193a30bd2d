/// What a store holds, with sizes and last-use times: the input of retention and `store check`.
public struct StoreInventory: Sendable {
    public struct Entry: Sendable, Equatable {
        public var size: Int64
        /// Seconds since the epoch: when written, or last used (restored) for a result.
        public var time: Int64
        /// In `store.log` (else a file in `cas/` or `ac/`).
        public var inLog: Bool
    }

    public var blobs: [Digest: Entry] = [:]
    public var results: [Digest: Entry] = [:]
    /// Files in `cas/` or `ac/` that are not named like a store entry.
    public var foreign: [String] = []

    public var bytes: Int64 { blobs.values.reduce(0) { $0 + $1.size } + results.values.reduce(0) { $0 + $1.size } }
}
