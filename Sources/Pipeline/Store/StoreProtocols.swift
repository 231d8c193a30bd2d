/// Content-addressed blobs. The local store implements it; a remote cache can too.
public protocol BlobStore: AnyObject {
    func contains(_ digest: Digest) -> Bool
    /// Adds a file's bytes; returns what they hash to.
    func put(fileAt path: String) throws -> FileFingerprint
    func put(bytes: [UInt8]) throws -> Digest
    /// The bytes of a blob, nil when absent. For small blobs (logs, records).
    func read(_ digest: Digest) throws -> [UInt8]?
    /// Copies a blob into an open file, verifying its digest on the way; false when absent
    /// or corrupt (a corrupt blob is never written out as good). `name`: the file a write
    /// error names (the target the user knows, not a temp file).
    func copy(_ digest: Digest, to fd: Int32, named name: String) throws -> Bool
}

/// Action key → action result.
public protocol ActionCache: AnyObject {
    func result(for key: ActionKey) throws -> ActionResult?
    func store(_ result: ActionResult, for key: ActionKey) throws
}
