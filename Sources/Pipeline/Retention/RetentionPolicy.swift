/// `retention:` in the Pipelinefile (flags override each value): what `pipeline gc` may
/// remove. Unset limits remove nothing of their kind; garbage (blobs nothing kept refers to)
/// always goes.
public struct RetentionPolicy: Sendable, Equatable {
    /// Keep the newest N terminal jobs; older terminal jobs are removed.
    public var keepJobs: Int?
    /// Remove unprotected cache entries and terminal jobs not used for this many seconds.
    public var ttlSeconds: Int64?
    /// Evict least-recently-used unprotected cache entries until the store is under this.
    public var maxSize: UInt64?

    public init(keepJobs: Int? = nil, ttlSeconds: Int64? = nil, maxSize: UInt64? = nil) {
        self.keepJobs = keepJobs
        self.ttlSeconds = ttlSeconds
        self.maxSize = maxSize
    }

    /// Reads the values of `retention:` (already shape-checked by the parser).
    public init(_ values: [String: String]) throws {
        if let text = values["keep_jobs"] { keepJobs = try RetentionPolicy.jobs(text, "keep_jobs") }
        if let text = values["ttl"] { ttlSeconds = try RetentionPolicy.duration(text, "ttl") }
        if let text = values["max_size"] { maxSize = try RetentionPolicy.size(text, "max_size") }
    }

    /// This policy with the flags' values on top.
    public func overridden(keepJobs: String?, ttl: String?, maxSize: String?) throws -> RetentionPolicy {
        var result = self
        if let keepJobs { result.keepJobs = try RetentionPolicy.jobs(keepJobs, "--keep-jobs") }
        if let ttl { result.ttlSeconds = try RetentionPolicy.duration(ttl, "--ttl") }
        if let maxSize { result.maxSize = try RetentionPolicy.size(maxSize, "--max-size") }
        return result
    }

    static func jobs(_ text: String, _ name: String) throws -> Int {
        guard let n = Int(text), n >= 0 else { throw PipelineError(.invalidInput, "\(name) must be a whole number of jobs, like 20, not '\(text)'") }
        return n
    }

    static func duration(_ text: String, _ name: String) throws -> Int64 {
        let units: [Character: Int64] = ["s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800]
        guard let unit = text.last, let factor = units[unit], let value = Int64(text.dropLast()), value >= 0 else {
            throw PipelineError(.invalidInput, "\(name) must be a duration like 12h, 30d or 2w (units s, m, h, d, w), not '\(text)'")
        }
        return value * factor
    }

    static func size(_ text: String, _ name: String) throws -> UInt64 {
        guard let bytes = ByteCount.parse(text) else {
            throw PipelineError(.invalidInput, "\(name) must be a size like 500MiB or 10GiB, not '\(text)'")
        }
        return bytes
    }

    public var json: JSON {
        [
            "keep_jobs": keepJobs.map { .int(Int64($0)) } ?? .null, "ttl_seconds": ttlSeconds.map(JSON.int) ?? .null,
            "max_size": maxSize.map { .int(Int64($0)) } ?? .null,
        ]
    }
}
