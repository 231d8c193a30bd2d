import Pipeline

/// Renders watch mode: a line on stderr when changes start a cycle and one summary line per
/// cycle; with `--json`, a `pipeline.watch_cycle` document after each cycle's own documents
/// (and its `pipeline.error` when it failed, as a plain run ends).
struct WatchPrinter {
    let json: Bool
    let workspace: Workspace

    func render(_ event: WatchEvent) {
        switch event {
        case .changed(let paths, let overflowed):
            guard !json else { return }
            Output.error("watch: " + WatchPrinter.describe(paths, overflowed: overflowed))
        case .warning(let message):
            if json {
                Output.line(JSON.object(["schema_id": "pipeline.warning", "schema_version": "1.0.0", "message": .string(message)]).canonicalString)
            } else {
                Output.error("pipeline: warning: \(message)")
            }
        case .finished(let cycle):
            finished(cycle)
        }
    }

    private func finished(_ cycle: WatchCycle) {
        if let error = cycle.error, error.code != .interrupted {
            ErrorReport.print(error, json: json)
        } else if json, let report = cycle.report, let failure = report.failure, failure != .interrupted {
            let failed = report.summary.failed.map(\.step)
            let message = failure == .approvalRequired ? "waiting for approval" : "step failed: \(failed.joined(separator: ", "))"
            ErrorReport.print(PipelineError(failure, message, step: failed.first), json: true)
        }
        if json {
            Output.line(document(cycle).canonicalString)
        } else if !cycle.interrupted {
            Output.error("watch: \(summary(cycle)) — waiting for changes (Ctrl-C to stop)")
        }
    }

    /// Watch mode ended on an interrupt.
    func stopped() {
        if json {
            ErrorReport.print(PipelineError(.interrupted, "interrupted: watch mode stopped"), json: true)
        } else {
            Output.error("watch: stopped")
        }
    }

    static func describe(_ paths: [String], overflowed: Bool) -> String {
        if overflowed { return "too many changes at once to follow: checking everything" }
        guard let first = paths.first else { return "changes seen" }
        if paths.count == 1 { return "\(first) changed" }
        let shown = paths.prefix(3).joined(separator: ", ")
        return "\(paths.count) files changed (\(shown)\(paths.count > 3 ? ", …" : ""))"
    }

    private func summary(_ cycle: WatchCycle) -> String {
        let time = WatchPrinter.seconds(cycle.durationNanos)
        guard let report = cycle.report else {
            return "not built, see the error above (\(time))"
        }
        let count = { (status: StepStatus) in report.summary.counts[status] ?? 0 }
        var parts: [String] = []
        if count(.failed) > 0 { parts.append("\(count(.failed)) failed") }
        parts.append("\(count(.ran)) ran")
        if count(.restored) > 0 { parts.append("\(count(.restored)) restored") }
        parts.append("\(count(.upToDate)) up to date")
        if count(.skipped) > 0 { parts.append("\(count(.skipped)) skipped") }
        return parts.joined(separator: ", ") + " in \(time)"
    }

    static func seconds(_ nanos: Int64) -> String {
        let hundredths = max(0, nanos) / 10_000_000
        let fraction = hundredths % 100
        return "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction)s"
    }

    private func document(_ cycle: WatchCycle) -> JSON {
        var doc: [String: JSON] = [
            "schema_id": "pipeline.watch_cycle", "schema_version": "1.0.0", "cycle": .int(Int64(cycle.number)),
            "trigger": .array(cycle.trigger.map(JSON.string)), "overflowed": .bool(cycle.overflowed),
            "duration_ms": .int(cycle.durationNanos / 1_000_000),
        ]
        if let report = cycle.report {
            var counts: [String: JSON] = [:]
            for status in StepStatus.allCases { counts[status.rawValue] = .int(Int64(report.summary.counts[status] ?? 0)) }
            doc["counts"] = .object(counts)
            doc["status"] = .string(cycle.interrupted ? "interrupted" : (report.failure == nil ? "succeeded" : "failed"))
            if let job = report.job { doc["job"] = .string(job.rawValue) }
        } else {
            doc["status"] = .string(cycle.interrupted ? "interrupted" : "error")
            if let error = cycle.error { doc["error_code"] = .string(error.code.rawValue) }
        }
        return .object(doc)
    }
}
