/// What a built-in rule gets when it runs in-process.
public struct RuleContext: Sendable {
    public var step: Step
    public var with: JSON
    public var workspaceRoot: String

    public init(step: Step, with: JSON, workspaceRoot: String) {
        self.step = step
        self.with = with
        self.workspaceRoot = workspaceRoot
    }
}

/// A built-in step kind (`use: NAME`). Implementations live in the Rules module.
public protocol Rule: Sendable {
    static var name: String { get }
    /// Bumped whenever the rule's behaviour changes, so old cache entries stop matching.
    static var version: Int { get }
    func run(_ context: RuleContext) throws
}

/// Every built-in kind the design names, known to the parser even before it is implemented,
/// so `use: pakc` gets "did you mean 'pack'" and `use: pack` a clear "not available yet".
public struct RuleRegistry: Sendable {
    public static let builtinNames = ["approve", "capture", "diff", "gc", "pack", "replay", "sign", "verify"]

    private var implementations: [String: any Rule] = [:]

    public init() {}

    public mutating func register(_ rule: any Rule) {
        implementations[type(of: rule).name] = rule
    }

    public func isKnown(_ name: String) -> Bool { RuleRegistry.builtinNames.contains(name) || implementations[name] != nil }

    public func rule(named name: String) -> (any Rule)? { implementations[name] }

    public var knownNames: [String] { Array(Set(RuleRegistry.builtinNames).union(implementations.keys)).sorted() }

    public func version(of name: String) -> Int {
        implementations[name].map { type(of: $0).version } ?? 0
    }
}
