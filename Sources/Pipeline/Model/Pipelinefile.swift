/// A parsed, validated Pipelinefile.
public struct Pipelinefile: Sendable {
    /// The name used in messages (as the user would type it).
    public var displayPath: String
    public var version: Int
    public var vars: [String: String]
    public var env: EnvSpec
    public var defaultTargets: [String]
    /// Steps in file order.
    public var steps: [Step]
    /// SHA-256 of the file's bytes.
    public var digest: Digest
    /// `retention:` as written; interpreted by retention.
    public var retention: [String: String]
    /// `cache:` as written: `remote` (a Bazel HTTP cache URL) and `read_only`.
    public var cache: [String: String]
    /// `pools:`: pool name → depth (how many of its steps' commands may run at once).
    public var pools: [String: Int] = [:]

    public init(displayPath: String = "Pipelinefile.yaml", version: Int = 1, vars: [String: String] = [:], env: EnvSpec = EnvSpec(),
                defaultTargets: [String] = [], steps: [Step], digest: Digest = .empty, retention: [String: String] = [:],
                cache: [String: String] = [:]) {
        self.displayPath = displayPath
        self.version = version
        self.vars = vars
        self.env = env
        self.defaultTargets = defaultTargets
        self.steps = steps
        self.digest = digest
        self.retention = retention
        self.cache = cache
    }

    public static let supportedVersion = 1
}
