import Dispatch

/// Runs `work` on another thread; `wait()` returns its result.
final class BackgroundLoad<T>: @unchecked Sendable {
    private var result: T?
    private let group = DispatchGroup()

    init(_ work: @escaping @Sendable () -> T) {
        let box = self
        DispatchQueue.global().async(group: group) { box.result = work() }
    }

    func wait() -> T {
        group.wait()
        return result!
    }
}
