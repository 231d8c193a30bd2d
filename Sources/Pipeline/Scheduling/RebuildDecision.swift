/// Why a step has to do work. Reasons are data: `explain` and `--explain` print them,
/// `--json` carries them.
public enum RebuildReason: Sendable, Equatable, CustomStringConvertible {
    case noPreviousRun
    case forced
    case cacheDisabled
    case previousRunFailed
    case commandChanged
    case envChanged(String)
    /// Another part of the definition changed: outputs, timeout, rule, with, platform.
    case definitionChanged(String)
    case inputChanged(String)
    case inputAdded(String)
    case inputRemoved(String)
    case outputMissing(String)
    case outputModified(String)
    /// A file the step's depfile named (a header) has other content than when it ran.
    case discoveredInputChanged(String)
    case discoveredInputRemoved(String)
    /// Dry run only: a dependency would run first, so this step's inputs are not known yet.
    case dependencyPending(String)

    public var description: String {
        switch self {
        case .noPreviousRun: return "no previous run"
        case .forced: return "forced with --force"
        case .cacheDisabled: return "cache: false, so it always runs"
        case .previousRunFailed: return "it failed last time"
        case .commandChanged: return "its command changed"
        case .envChanged(let name): return "environment variable \(name) changed"
        case .definitionChanged(let field): return "its \(field) changed"
        case .inputChanged(let path): return "input \(path) changed"
        case .inputAdded(let path): return "input \(path) is new"
        case .inputRemoved(let path): return "input \(path) is gone"
        case .outputMissing(let path): return "output \(path) is missing"
        case .outputModified(let path): return "output \(path) was modified"
        case .discoveredInputChanged(let path): return "discovered input \(path) changed"
        case .discoveredInputRemoved(let path): return "discovered input \(path) is gone"
        case .dependencyPending(let step): return "it depends on \(step), which would run first"
        }
    }

    /// A stable machine name for `--json`.
    public var code: String {
        switch self {
        case .noPreviousRun: return "no_previous_run"
        case .forced: return "forced"
        case .cacheDisabled: return "cache_disabled"
        case .previousRunFailed: return "previous_run_failed"
        case .commandChanged: return "command_changed"
        case .envChanged: return "env_changed"
        case .definitionChanged: return "definition_changed"
        case .inputChanged: return "input_changed"
        case .inputAdded: return "input_added"
        case .inputRemoved: return "input_removed"
        case .outputMissing: return "output_missing"
        case .outputModified: return "output_modified"
        case .discoveredInputChanged: return "discovered_input_changed"
        case .discoveredInputRemoved: return "discovered_input_removed"
        case .dependencyPending: return "dependency_pending"
        }
    }
}

/// What the rebuilder decided for one step.
public enum RebuildDecision: Sendable {
    case upToDate
    /// The action cache has this exact action: put its outputs in place, run nothing.
    case restore(ActionResult, because: RebuildReason)
    case run(because: RebuildReason)
}
