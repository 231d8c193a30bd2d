import CSupport
import Synchronization

/// The mutex of the classes whose state several threads share (the store log, the remote
/// cache, a compiled pattern): a `Synchronization.Mutex`, plus what ThreadSanitizer needs to
/// see it.
///
/// On Linux a contended `Mutex` waits and hands over in the kernel (a priority-inheritance
/// futex, in the Synchronization library, which is not instrumented), so ThreadSanitizer
/// sees no ordering between one holder and the next and reports the fields the lock guards
/// as raced: it did for `StoreLog` whenever the store writer and the scheduler met on it.
/// `withLock` tells it: an acquire on entry and a release on exit, on the lock's address
/// (both do nothing outside a ThreadSanitizer build).
final class Lock: Sendable {
    private let mutex = Mutex(())

    init() {}

    func withLock<T>(_ body: () throws -> T) rethrows -> T {
        try mutex.withLock { _ in
            let address = UnsafeRawPointer(Unmanaged.passUnretained(self).toOpaque())
            pl_tsan_acquire(address)
            defer { pl_tsan_release(address) }
            return try body()
        }
    }
}
