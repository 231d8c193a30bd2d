import CSupport
import Glibc
import Pipeline

/// Runs commands as local processes: `/bin/sh -ec LINE` (or the argv directly) with a
/// controlled environment, stdout/stderr to files. Each command leads its own process group,
/// so a timeout or an interrupt stops everything it started: SIGTERM, then SIGKILL after a
/// grace period. One thread waits on pidfds and a signalfd with `poll`, no polling loop.
public final class LocalExecutor: Executor {
    private struct Process {
        var pid: pid_t
        var pidfd: Int32
        var started: UInt64
        var deadline: UInt64?
        var terminatedAt: UInt64?
        var timedOut = false
    }

    public static let graceNanos: UInt64 = 2_000_000_000

    private var processes: [Int: Process] = [:]
    private var finished: [Completion] = []
    private let signalFD: Int32
    private var interrupt: Int32 = 0
    private var interruptReported = false
    private var pause = false

    /// With `handlesSignals`, SIGINT/SIGTERM/SIGHUP are blocked in this thread (and threads
    /// it starts later) and reported through `waitAny` as `.interrupted`.
    public init(handlesSignals: Bool) {
        signalFD = handlesSignals ? pl_signalfd_open() : -1
    }

    deinit {
        if signalFD >= 0 { close(signalFD) }
    }

    /// The signal that interrupted the run, 0 if none.
    public var interruptSignal: Int32 { interrupt }

    public func start(_ invocation: Invocation) throws {
        let outFD = invocation.stdout
        let errFD = invocation.stderr

        let argv: [String]
        switch invocation.command {
        case .shell(let line): argv = ["/bin/sh", "-ec", line]
        case .argv(let words): argv = words
        }
        let environment = invocation.environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        let now = pl_monotonic_ns()
        var pid: pid_t = 0
        let rc = LocalExecutor.withCStrings(argv) { cArgv in
            LocalExecutor.withCStrings(environment) { cEnv in
                pl_spawn(cArgv, cEnv, invocation.workingDirectory, outFD, errFD, &pid)
            }
        }
        if rc != 0 {
            if rc == ENOENT || rc == EACCES {
                let message = "pipeline: \(argv[0]): \(FileSystem.errorText(rc))\n"
                _ = message.withCString { write(errFD, $0, strlen($0)) }
            }
            finished.append(Completion(id: invocation.id, termination: .spawnFailed(rc), durationNanos: 0))
            return
        }
        let pidfd = pl_pidfd_open(pid)
        let deadline = invocation.timeout.map { now + UInt64($0 * 1e9) }
        processes[invocation.id] = Process(pid: pid, pidfd: pidfd, started: now, deadline: deadline)
    }

    public func waitAny() throws -> ExecutorEvent {
        while true {
            if let done = finished.popLast() { return .completed(done) }
            if interrupt != 0 && !interruptReported {
                interruptReported = true
                return .interrupted(interrupt)
            }
            if processes.isEmpty {
                throw PipelineError(.internalError, "waiting for a command while none runs")
            }
            let now = pl_monotonic_ns()
            var timeoutMillis: Int32 = -1
            for (id, process) in processes {
                if let deadline = process.deadline, process.terminatedAt == nil {
                    if now >= deadline {
                        processes[id]?.timedOut = true
                        terminate(id, at: now)
                    } else {
                        timeoutMillis = LocalExecutor.sooner(timeoutMillis, deadline - now)
                    }
                }
                if let terminatedAt = processes[id]?.terminatedAt {
                    let killAt = terminatedAt + LocalExecutor.graceNanos
                    if now >= killAt { kill(-process.pid, SIGKILL) } else { timeoutMillis = LocalExecutor.sooner(timeoutMillis, killAt - now) }
                }
            }
            var fds: [pollfd] = []
            var ids: [Int] = []
            if signalFD >= 0 { fds.append(pollfd(fd: signalFD, events: Int16(POLLIN), revents: 0)) }
            for (id, process) in processes where process.pidfd >= 0 {
                fds.append(pollfd(fd: process.pidfd, events: Int16(POLLIN), revents: 0))
                ids.append(id)
            }
            // Without pidfds (old kernels), fall back to checking every 10 ms.
            if processes.values.contains(where: { $0.pidfd < 0 }) { timeoutMillis = LocalExecutor.sooner(timeoutMillis, 10_000_000) }
            let n = poll(&fds, nfds_t(fds.count), timeoutMillis)
            if n < 0 && errno != EINTR { throw PipelineError(.io, "poll failed: \(FileSystem.errorText(errno))") }
            if signalFD >= 0, fds[0].revents != 0 {
                note(pl_signalfd_read(signalFD))
            }
            for (id, process) in processes {
                var status: Int32 = 0
                let r = waitpid(process.pid, &status, WNOHANG)
                guard r == process.pid else { continue }
                if process.pidfd >= 0 { close(process.pidfd) }
                processes[id] = nil
                let duration = Int64(pl_monotonic_ns() - process.started)
                let termination: Termination
                if process.timedOut {
                    termination = .timedOut
                } else if status & 0x7F == 0 {
                    termination = .exited((status >> 8) & 0xFF)
                } else {
                    termination = .signaled(status & 0x7F)
                }
                finished.append(Completion(id: id, termination: termination, durationNanos: duration))
            }
            _ = ids
        }
    }

    public func terminateAll() {
        let now = pl_monotonic_ns()
        for id in processes.keys { terminate(id, at: now) }
    }

    private func terminate(_ id: Int, at now: UInt64) {
        guard let process = processes[id], process.terminatedAt == nil else { return }
        kill(-process.pid, SIGTERM)
        kill(-process.pid, SIGCONT)
        processes[id]?.terminatedAt = now
    }

    /// SIGUSR1 asks for a pause (`pipeline job pause`); the others interrupt.
    private func note(_ signal: Int32) {
        if signal == SIGUSR1 {
            pause = true
        } else if signal != 0 && interrupt == 0 {
            interrupt = signal
        }
    }

    public func pauseRequested() -> Bool {
        if signalFD >= 0 { note(pl_signalfd_read(signalFD)) }
        return pause
    }

    public func interruptRequested() -> Bool {
        if interrupt == 0, signalFD >= 0 { note(pl_signalfd_read(signalFD)) }
        if interrupt != 0 { interruptReported = true }
        return interrupt != 0
    }

    static func sooner(_ current: Int32, _ nanos: UInt64) -> Int32 {
        let millis = Int32(min(UInt64(Int32.max), (nanos + 999_999) / 1_000_000))
        return current < 0 ? millis : min(current, millis)
    }

    static func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
        var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
        pointers.append(nil)
        defer { for p in pointers { free(p) } }
        return pointers.withUnsafeBufferPointer { buffer in
            buffer.baseAddress!.withMemoryRebound(to: UnsafePointer<CChar>?.self, capacity: buffer.count) { body($0) }
        }
    }
}
