/// Passes a run's events on, and after every step that did something (ran, restored, failed)
/// records a `progress` checkpoint in the job.
final class JobRecorder: EventSink {
    private let next: EventSink
    private let session: JobSession
    private let actor: String
    /// The first error writing the log; the run goes on, the caller reports it at the end.
    private(set) var failure: Error?

    init(next: EventSink, session: JobSession, actor: String) {
        self.next = next
        self.session = session
        self.actor = actor
    }

    func emit(_ event: Event) {
        next.emit(event)
        guard failure == nil, case .stepFinished(let outcome) = event, !outcome.dryRun,
              outcome.status == .ran || outcome.status == .restored || outcome.status == .failed
        else { return }
        var summary = "\(outcome.step) \(outcome.status.rawValue)"
        if let reason = outcome.reason { summary += ": \(reason)" }
        if let message = outcome.message, outcome.status == .failed { summary += " (\(message))" }
        do {
            if let record = outcome.record { try session.recordRun(record) }
            try session.checkpoint(.progress, summary: String(summary.utf8.prefix(Checkpoint.maximumSummaryBytes)) ?? outcome.step,
                                   step: outcome.step, logs: outcome.logs, actor: actor)
        } catch {
            failure = error
        }
    }
}
