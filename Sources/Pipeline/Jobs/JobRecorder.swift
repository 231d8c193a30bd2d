import CSupport

/// Passes a run's events on, and after every step that did something (ran, restored, failed)
/// records a `progress` checkpoint in the job, with its status, reason, timing and the steps
/// it needs (for `pipeline job trace` and `job report`). Skipped and canceled steps are noted
/// in the session and listed once, with the event that ends the run.
///
/// With a store writer, the session is written on the writer's thread, after the blobs the
/// step left there: a run record or checkpoint never names a blob not yet in the store.
/// The session is then touched only on that serial queue until the writer is finished, and
/// `failure` is read after `StoreWriter.finish()`.
final class JobRecorder: EventSink, @unchecked Sendable {
    private let next: EventSink
    private let session: JobSession
    private let actor: String
    /// The names of the steps a step needs (direct dependencies), when the caller knows them.
    private let needs: ((String) -> [String])?
    /// Wall-clock start of each step whose command is running.
    private var started: [String: Int64] = [:]
    /// The first error writing the log; the run goes on, the caller reports it at the end.
    private(set) var failure: Error?

    /// Where the session writes go once the step's blobs are stored; nil: at once.
    private let writer: StoreWriter?

    init(next: EventSink, session: JobSession, actor: String, writer: StoreWriter? = nil, needs: ((String) -> [String])? = nil) {
        self.next = next
        self.session = session
        self.actor = actor
        self.writer = writer
        self.needs = needs
    }

    /// Runs a session write after the blobs queued so far (or at once without a writer).
    private func record(_ write: @escaping @Sendable () -> Void) {
        if let writer { writer.then(write) } else { write() }
    }

    func emit(_ event: Event) {
        next.emit(event)
        if case .stepStarted(let start) = event {
            started[start.step] = pl_wall_ns()
            return
        }
        guard case .stepFinished(let outcome) = event, !outcome.dryRun else { return }
        if outcome.status == .skipped || outcome.status == .canceled {
            started[outcome.step] = nil
            record { [self] in session.noteUnfinished(outcome.step, outcome.status, message: outcome.message) }
            return
        }
        guard outcome.status == .ran || outcome.status == .restored || outcome.status == .failed else { return }
        var summary = "\(outcome.step) \(outcome.status.rawValue)"
        if let reason = outcome.reason { summary += ": \(reason)" }
        if let message = outcome.message, outcome.status == .failed { summary += " (\(message))" }
        let now = pl_wall_ns()
        let start = started.removeValue(forKey: outcome.step) ?? now
        // The command's own time when it had one; else from its start (or an instant).
        let duration = outcome.durationNanos > 0 ? outcome.durationNanos : now - start
        let needed = needs?(outcome.step)
        let text = String(summary.utf8.prefix(Checkpoint.maximumSummaryBytes)) ?? outcome.step
        record { [self] in
            guard failure == nil else { return }
            do {
                if let record = outcome.record { try session.recordRun(record) }
                try session.checkpoint(.progress, summary: text, step: outcome.step, logs: outcome.logs, actor: actor) { checkpoint in
                    checkpoint.status = outcome.status
                    var why = outcome.reason?.description
                    if outcome.status == .failed, let message = outcome.message { why = why.map { "\($0); \(message)" } ?? message }
                    checkpoint.reason = why
                    checkpoint.startedAt = start
                    checkpoint.durationNanos = duration
                    checkpoint.needs = needed
                }
            } catch {
                failure = error
            }
        }
    }
}
