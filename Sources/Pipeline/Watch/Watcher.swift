import CSupport
import Glibc

/// Watch mode: build, then wait for a change to an input or the Pipelinefile, and build
/// again, until interrupted. Each cycle is an ordinary run through a fresh `Engine` (so it is
/// a job, holds the workspace lock only while it builds, re-plans a changed Pipelinefile,
/// and runs nothing for a file touched but unchanged). Changes are gathered until quiet for
/// `quietNanos` (at most `maximumDelayNanos` after the first), and changes made during a
/// build start one more cycle after it. The wait is one `poll` on the inotify descriptor and
/// a signalfd, so Ctrl-C while idle ends it at once.
public final class Watcher {
    public let workspace: Workspace
    public let targets: [String]
    public var quietNanos: UInt64 = 100_000_000
    public var maximumDelayNanos: UInt64 = 1_000_000_000

    private let files: FileWatcher
    private let signals: Int32
    private var warnedAboutLimit = false

    /// Blocks SIGINT, SIGTERM and SIGHUP in this thread (and threads started later): they
    /// are read from a signalfd while idle, and by the executor while a cycle runs.
    public init(workspace: Workspace, targets: [String]) throws {
        self.workspace = workspace
        self.targets = targets
        files = try FileWatcher()
        signals = pl_signalfd_open()
        guard signals >= 0 else { throw PipelineError(.io, "cannot receive signals (signalfd): \(FileSystem.errorText(pl_errno()))") }
    }

    deinit { close(signals) }

    private enum Wake {
        case changed([String], overflowed: Bool)
        case interrupted
    }

    /// Runs cycles until an interrupt, then returns. `makeEngine` gives each cycle its
    /// engine; `build` runs the cycle's build with it; `report` hears what happens. Throws
    /// only when the first cycle cannot plan (a Pipelinefile with an error, an unknown
    /// target): later, such errors are reported and watching goes on.
    public func run(makeEngine: () throws -> Engine, build: (Engine) throws -> BuildReport, report: (WatchEvent) -> Void) throws {
        var set: WatchSet?
        var cycle = WatchCycle(number: 1, trigger: [])
        while true {
            let started = pl_monotonic_ns()
            do {
                let engine = try makeEngine()
                let (file, graph) = try engine.load()
                let selected = try engine.selection(targets, file: file, graph: graph)
                let planned = WatchSet(workspace: workspace, graph: graph, selected: selected)
                watch(planned.folders(), replacing: true, report: report)
                set = planned
                cycle.report = try build(engine)
            } catch let error as PipelineError {
                guard set != nil || error.code == .interrupted else { throw error }
                cycle.error = error
            }
            cycle.durationNanos = Int64(pl_monotonic_ns() - started)
            report(.finished(cycle))
            if cycle.interrupted { return }
            switch wait(for: set!, report: report) {
            case .interrupted: return
            case .changed(let paths, let overflowed):
                report(.changed(paths: paths, overflowed: overflowed))
                cycle = WatchCycle(number: cycle.number + 1, trigger: paths, overflowed: overflowed)
            }
        }
    }

    /// Watches `folders`; with `replacing`, stops watching every other folder.
    private func watch(_ folders: Set<String>, replacing: Bool, report: (WatchEvent) -> Void) {
        if replacing { for folder in files.folders where !folders.contains(folder) { files.unwatch(folder) } }
        for folder in folders {
            do {
                try files.watch(folder)
            } catch .limitReached {
                if !warnedAboutLimit {
                    warnedAboutLimit = true
                    report(.warning("too many folders to watch (fs.inotify.max_user_watches): changes in some folders are not seen"))
                }
            } catch {
                continue  // gone meanwhile: its parent's watch reports it
            }
        }
    }

    /// Waits for changes that count and for quiet after them, or for an interrupt.
    private func wait(for set: WatchSet, report: (WatchEvent) -> Void) -> Wake {
        var changed = Set<String>()
        var overflowed = false
        var first: UInt64 = 0
        var last: UInt64 = 0
        while true {
            var timeout: Int32 = -1
            if !changed.isEmpty || overflowed {
                let due = min(last + quietNanos, first + maximumDelayNanos)
                let now = pl_monotonic_ns()
                if now >= due { return .changed(changed.sorted(), overflowed: overflowed) }
                timeout = Int32(min(UInt64(Int32.max), (due - now + 999_999) / 1_000_000))
            }
            var fds = [pollfd(fd: signals, events: Int16(POLLIN), revents: 0), pollfd(fd: files.descriptor, events: Int16(POLLIN), revents: 0)]
            if poll(&fds, 2, timeout) < 0 && errno != EINTR { return .interrupted }
            if fds[0].revents != 0 {
                let signal = pl_signalfd_read(signals)
                // SIGUSR1 pauses a running job; while idle there is none to pause.
                if signal != 0 && signal != SIGUSR1 { return .interrupted }
            }
            guard fds[1].revents != 0 else { continue }
            let (changes, lost) = files.read()
            var counted = lost
            overflowed = overflowed || lost
            for change in changes {
                let path = change.path
                let counts: Bool
                if change.isDirectory && FileSystem.isDirectory(path) {
                    // Watch a folder that appeared before looking inside, so nothing written
                    // into it meanwhile goes unseen.
                    watch(set.folders(below: path), replacing: false, report: report)
                    counts = set.isTriggerFolder(path)
                } else {
                    counts = set.isTrigger(path, isDirectory: change.isDirectory)
                }
                guard counts, let relative = WatchSet.relative(path, to: set.root) else { continue }
                changed.insert(relative)
                counted = true
            }
            if counted {
                let now = pl_monotonic_ns()
                if first == 0 { first = now }
                last = now
            }
        }
    }
}
