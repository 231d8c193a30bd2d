import Glibc
import Pipeline

/// Renders engine events: a live one-line progress display on a terminal, plain lines in CI
/// or when piped, JSON lines with `--json` (stdout carries JSON only; text goes to stderr).
final class EventPrinter: EventSink {
    enum Mode { case live, plain, json }

    let mode: Mode
    let explain: Bool
    private var liveLineShown = false
    private var job: JobID?
    private let width: Int

    init(json: Bool, explain: Bool, environment: [String: String]) {
        if json {
            mode = .json
        } else if isatty(1) == 1 && environment["CI"] != "true" && environment["TERM"] != "dumb" {
            mode = .live
        } else {
            mode = .plain
        }
        self.explain = explain
        var size = winsize()
        width = ioctl(1, UInt(TIOCGWINSZ), &size) == 0 && size.ws_col > 0 ? Int(size.ws_col) : 100
    }

    func emit(_ event: Event) {
        switch mode {
        case .json: emitJSON(event)
        case .live, .plain: emitText(event)
        }
    }

    // MARK: Text

    private func emitText(_ event: Event) {
        switch event {
        case .jobStarted(let id):
            text("job \(id)", stream: 2)
        case .waitingForLock(let holder):
            text("pipeline: waiting for another run in this workspace to finish (\(holder))", stream: 2)
        case .planned:
            break
        case .stepStarted(let start):
            let label = "[\(start.index)/\(start.total)] \(start.step)"
            if mode == .live {
                clearLive()
                var line = label + (start.description.map { ": \($0)" } ?? "")
                if line.count > width - 1 { line = String(line.prefix(width - 1)) }
                Output.raw(1, line)
                liveLineShown = true
                if explain { text("  because \(start.reason)") }
            } else {
                text(label + (explain ? "  (\(start.reason))" : ""))
            }
        case .stepFinished(let outcome):
            renderOutcome(outcome)
        case .warning(let message):
            text("pipeline: warning: \(message)", stream: 2)
        case .finished(let summary):
            clearLive()
            text(summaryLine(summary), stream: summary.succeeded || summary.paused ? 1 : 2)
        }
    }

    private func renderOutcome(_ outcome: StepOutcome) {
        if outcome.dryRun {
            switch outcome.status {
            case .ran: text("would run \(outcome.step): \(outcome.reason?.description ?? "")\n    \(outcome.command ?? "")")
            case .restored: text("would restore \(outcome.step) from the cache: \(outcome.reason?.description ?? "")")
            default: if explain { text("up to date: \(outcome.step)") }
            }
            return
        }
        switch outcome.status {
        case .failed:
            clearLive()
            var lines = ["FAILED: \(outcome.step)"]
            if let command = outcome.command { lines.append(command) }
            if let tail = outcome.stderrTail { lines.append(tail) }
            if let message = outcome.message { lines.append("pipeline: \(outcome.step): \(message)") }
            text(lines.joined(separator: "\n"), stream: 2)
        case .restored:
            clearLive()
            text("restored \(outcome.step) from the cache" + (explain ? " (\(outcome.reason?.description ?? ""))" : ""))
        case .upToDate:
            if explain { clearLive(); text("up to date: \(outcome.step)") }
        case .skipped, .canceled:
            if explain || outcome.status == .canceled { clearLive(); text("\(outcome.status.rawValue): \(outcome.step) (\(outcome.message ?? ""))", stream: 2) }
        case .ran:
            break
        }
    }

    private func summaryLine(_ summary: RunSummary) -> String {
        let seconds = Double(summary.durationNanos) / 1e9
        let time = String(Int(seconds * 100) / 100) + "." + String(format2(Int(seconds * 100) % 100)) + "s"
        let count = { (s: StepStatus) in summary.counts[s] ?? 0 }
        if summary.dryRun {
            return "pipeline: dry run: \(count(.ran)) would run, \(count(.restored)) would be restored, \(count(.upToDate)) up to date"
        }
        if summary.interrupted { return "pipeline: interrupted (\(count(.ran)) ran, \(count(.canceled)) canceled)" }
        if summary.paused {
            let resume = job.map { "; continue with: pipeline job resume \($0)" } ?? ""
            return "pipeline: paused (\(count(.ran)) ran, \(count(.skipped)) not started)\(resume)"
        }
        if count(.ran) == 0 && count(.restored) == 0 && summary.succeeded {
            return "pipeline: no work to do (\(count(.upToDate)) steps up to date, \(time))"
        }
        var parts = ["\(count(.ran)) ran", "\(count(.restored)) restored", "\(count(.upToDate)) up to date"]
        if count(.failed) > 0 { parts.append("\(count(.failed)) failed") }
        if count(.skipped) > 0 { parts.append("\(count(.skipped)) skipped") }
        return "pipeline: " + parts.joined(separator: ", ") + " (\(time))"
    }

    private func format2(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }

    private func clearLive() {
        if liveLineShown {
            Output.raw(1, "\r\u{1B}[K")
            liveLineShown = false
        }
    }

    private func text(_ line: String, stream: Int32 = 1) {
        clearLive()
        Output.write(stream, line + "\n")
    }

    // MARK: JSON

    private func emitJSON(_ event: Event) {
        var doc: [String: JSON]
        switch event {
        case .jobStarted(let id):
            // Text on stderr as in every mode; the JSON documents carry the id as `job`.
            Output.error("job \(id)")
            job = id
            return
        case .waitingForLock(let holder):
            doc = ["schema_id": "pipeline.event", "event": "waiting_for_lock", "holder": .string(holder)]
        case .planned(let steps):
            doc = ["schema_id": "pipeline.plan", "steps": .array(steps.map(JSON.string))]
        case .stepStarted(let start):
            doc = ["schema_id": "pipeline.step", "event": "started", "step": .string(start.step), "index": .int(Int64(start.index)),
                   "total": .int(Int64(start.total)), "reason": .string(start.reason.description), "reason_code": .string(start.reason.code),
                   "command": .string(start.command)]
        case .stepFinished(let outcome):
            doc = ["schema_id": "pipeline.step", "event": "finished", "step": .string(outcome.step), "status": .string(outcome.status.rawValue),
                   "duration_ms": .int(outcome.durationNanos / 1_000_000), "dry_run": .bool(outcome.dryRun)]
            if let reason = outcome.reason {
                doc["reason"] = .string(reason.description)
                doc["reason_code"] = .string(reason.code)
            }
            if let code = outcome.exitCode { doc["exit_code"] = .int(Int64(code)) }
            if let message = outcome.message { doc["message"] = .string(message) }
            if outcome.status == .failed, let tail = outcome.stderrTail { doc["stderr_tail"] = .string(tail) }
        case .warning(let message):
            doc = ["schema_id": "pipeline.warning", "message": .string(message)]
        case .finished(let summary):
            var counts: [String: JSON] = [:]
            for status in StepStatus.allCases { counts[status.rawValue] = .int(Int64(summary.counts[status] ?? 0)) }
            let status = summary.interrupted ? "interrupted" : (summary.succeeded ? "succeeded" : "failed")
            let ended = summary.paused && !summary.interrupted ? "paused" : status
            doc = ["schema_id": "pipeline.run", "status": .string(ended), "counts": .object(counts),
                   "duration_ms": .int(summary.durationNanos / 1_000_000), "dry_run": .bool(summary.dryRun)]
        }
        doc["schema_version"] = "1.0.0"
        if let job, doc["schema_id"] == "pipeline.plan" || doc["schema_id"] == "pipeline.run" { doc["job"] = .string(job.rawValue) }
        Output.line(JSON.object(doc).canonicalString)
    }
}
