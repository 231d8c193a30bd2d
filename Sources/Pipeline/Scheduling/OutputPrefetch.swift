import CSupport
import Dispatch

/// Stats the outputs each step recorded last time, on the second core, in the order the
/// scheduler will check them. On a no-op run those `stat` calls are most of the work; the
/// scheduler takes a step's stats from here when they are ready, and stats itself otherwise.
///
/// Stats taken ahead are only as fresh as the moment they were taken, so the scheduler uses
/// them only until the first command of the run starts (`stop()`): before that, nothing but
/// the step being decided writes its own outputs.
final class OutputPrefetch: @unchecked Sendable {
    private let count: Int
    private let stats: UnsafeMutablePointer<[FileStat?]>
    private let ready: UnsafeMutablePointer<Int32>
    private let stopped: UnsafeMutablePointer<Int32>

    /// `order`: step indices in the order they will be checked; `files(i)`: the workspace
    /// paths recorded for step i (nil when it has no record).
    init(steps: Int, order: [Int], root: String, files: [[String]?]) {
        count = steps
        stats = .allocate(capacity: steps)
        stats.initialize(repeating: [], count: steps)
        ready = .allocate(capacity: steps)
        ready.initialize(repeating: 0, count: steps)
        stopped = .allocate(capacity: 1)
        stopped.initialize(to: 0)
        // The closure holds `self` until it finishes, so the buffers outlive it.
        DispatchQueue.global().async { [self] in
            for i in order {
                if pl_load_acquire(stopped) != 0 { return }
                guard let paths = files[i] else { continue }
                stats[i] = paths.map { FileSystem.stat(root + "/" + $0) }
                pl_store_release(ready + i, 1)
            }
        }
    }

    /// The stats of step i's recorded files, when taken already and still usable.
    func stats(for i: Int) -> [FileStat?]? {
        guard pl_load_acquire(stopped) == 0, pl_load_acquire(ready + i) != 0 else { return nil }
        return stats[i]
    }

    /// From now on every stat is taken live (a command is about to run).
    func stop() { pl_store_release(stopped, 1) }

    deinit {
        stats.deinitialize(count: count)
        stats.deallocate()
        ready.deallocate()
        stopped.deallocate()
    }
}
