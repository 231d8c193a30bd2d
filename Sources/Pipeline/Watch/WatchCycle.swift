/// One cycle of watch mode: why it ran, and how the build (an ordinary run, so a job) ended.
public struct WatchCycle: Sendable {
    /// 1 for the first build, then one more per rebuild.
    public var number: Int
    /// The workspace-relative paths whose change started it (sorted; empty for the first).
    public var trigger: [String]
    /// The kernel dropped change events, so everything was checked.
    public var overflowed = false
    /// The build's report; nil when the cycle could not build (see `error`).
    public var report: BuildReport?
    /// What stopped the cycle before or during its build (a Pipelinefile with an error, a
    /// missing input); watch mode goes on waiting for the next change.
    public var error: PipelineError?
    public var durationNanos: Int64 = 0

    public init(number: Int, trigger: [String], overflowed: Bool = false) {
        self.number = number
        self.trigger = trigger
        self.overflowed = overflowed
    }

    /// The cycle ended because of an interrupt (Ctrl-C while it ran): watch mode ends.
    public var interrupted: Bool { report?.failure == .interrupted || error?.code == .interrupted }
}

/// What watch mode tells the CLI, besides the events of each cycle's build.
public enum WatchEvent: Sendable {
    /// Changes were seen and a cycle starts.
    case changed(paths: [String], overflowed: Bool)
    case finished(WatchCycle)
    case warning(String)
}
