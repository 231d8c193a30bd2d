/// A job's timeline as one self-contained HTML page (inline CSS and SVG, no script, nothing
/// fetched): per run, the steps over time in their worker slots with the critical path
/// outlined, and a table of every step with its status, start, duration and why. Same
/// timeline, same bytes.
public enum HTMLReport {
    public static func render(_ timeline: JobTimeline, job: JobSnapshot? = nil) -> String {
        var html = """
            <!DOCTYPE html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>pipeline job \(escape(timeline.job.rawValue))</title>
            <style>\(style)</style>
            </head>
            <body>
            <h1>Job <code>\(escape(timeline.job.rawValue))</code></h1>

            """
        if let job {
            html += "<p class=\"job\">status <b>\(escape(job.status.rawValue))</b> · targets "
                + escape(job.targets.isEmpty ? "(default)" : job.targets.joined(separator: " "))
                + " · created \(escape(job.createdAt)) · updated \(escape(job.updatedAt))</p>\n"
        }
        for note in timeline.notes { html += "<p class=\"note\">\(escape(note))</p>\n" }
        if timeline.runs.isEmpty { html += "<p class=\"note\">This job has not run yet.</p>\n" }
        html += legend
        for run in timeline.runs { html += section(run) }
        html += "</body>\n</html>\n"
        return html
    }

    static func section(_ run: JobTimeline.Run) -> String {
        var counts: [StepStatus: Int] = [:]
        for entry in run.steps { counts[entry.status, default: 0] += 1 }
        let tally = StepStatus.allCases.compactMap { status in counts[status].map { "\($0) \(label(status))" } }.joined(separator: ", ")
        var html = "<section class=\"run\" id=\"run-\(run.number)\">\n<h2>Run \(run.number)"
            + (run.ended.map { " — \(escape($0))" } ?? "") + "</h2>\n"
        html += "<p>\(run.steps.count) steps (\(escape(tally))) · \(duration(run.durationNanos)) · \(run.slots) slot\(run.slots == 1 ? "" : "s")"
            + " · started \(escape(Timestamp.format(run.startedAt)))</p>\n"
        let byName = Dictionary(run.steps.map { ($0.step, $0) }, uniquingKeysWith: { _, last in last })
        if !run.criticalPath.isEmpty {
            let total = run.criticalPath.compactMap { byName[$0]?.durationNanos }.reduce(0, +)
            html += "<p class=\"critical\">Critical path (\(duration(total))): "
                + run.criticalPath.map { "<span>\(escape($0))</span>" }.joined(separator: " → ") + "</p>\n"
        }
        html += chart(run)
        html += """
            <table class="steps">
            <thead><tr><th>Step</th><th>Status</th><th>Start</th><th>Duration</th><th>Slot</th><th>Why</th></tr></thead>
            <tbody>

            """
        for entry in run.steps {
            let classes = "step \(entry.status.rawValue)" + (entry.onCriticalPath ? " critical" : "")
            html += "<tr class=\"\(classes)\" data-step=\"\(escape(entry.step))\" data-status=\"\(entry.status.rawValue)\">"
                + "<td class=\"name\">\(escape(entry.step))\(entry.onCriticalPath ? " <span class=\"mark\" title=\"on the critical path\">◆</span>" : "")</td>"
                + "<td class=\"status\">\(label(entry.status))</td>"
                + "<td class=\"num\">\(entry.isTimed ? duration(entry.startNanos) : "")</td>"
                + "<td class=\"num\">\(entry.isTimed ? duration(entry.durationNanos) : "")</td>"
                + "<td class=\"num\">\(entry.slot.map(String.init) ?? "")</td>"
                + "<td class=\"why\">\(escape(why(entry)))</td></tr>\n"
        }
        html += "</tbody>\n</table>\n</section>\n"
        return html
    }

    /// The run's timed steps as bars, one row per worker slot.
    static func chart(_ run: JobTimeline.Run) -> String {
        let timed = run.steps.filter(\.isTimed)
        guard !timed.isEmpty else { return "<p class=\"note\">No step ran, was restored or failed in this run.</p>\n" }
        let left = 64.0, width = 1000.0, row = 24.0, top = 22.0
        let total = Double(max(run.durationNanos, 1))
        let height = top + row * Double(run.slots) + 8
        var svg = "<svg class=\"timeline\" xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(left + width + 16))\" height=\"\(Int(height))\" "
            + "viewBox=\"0 0 \(Int(left + width + 16)) \(Int(height))\" role=\"img\" aria-label=\"timeline of run \(run.number)\">\n"
        for tick in 0...4 {
            let x = left + width * Double(tick) / 4
            svg += "<line class=\"tick\" x1=\"\(format(x))\" y1=\"\(format(top - 4))\" x2=\"\(format(x))\" y2=\"\(format(height - 8))\"/>"
                + "<text class=\"axis\" x=\"\(format(x))\" y=\"12\" text-anchor=\"\(tick == 0 ? "start" : tick == 4 ? "end" : "middle")\">\(duration(Int64(total * Double(tick) / 4)))</text>\n"
        }
        for slot in 1...max(1, run.slots) {
            svg += "<text class=\"slot\" x=\"4\" y=\"\(format(top + row * Double(slot - 1) + 16))\">slot \(slot)</text>\n"
        }
        for entry in timed {
            let x = left + width * Double(entry.startNanos) / total
            let w = max(2, width * Double(entry.durationNanos) / total)
            let y = top + row * Double((entry.slot ?? 1) - 1) + 2
            let classes = "bar \(entry.status.rawValue)" + (entry.onCriticalPath ? " critical" : "")
            svg += "<g class=\"\(classes)\" data-step=\"\(escape(entry.step))\"><title>\(escape(entry.step)): \(label(entry.status)), "
                + "\(duration(entry.durationNanos))\(entry.reason.map { " — " + escape($0) } ?? "")</title>"
                + "<rect x=\"\(format(x))\" y=\"\(format(y))\" width=\"\(format(w))\" height=\"\(format(row - 4))\" rx=\"3\"/>"
            if w >= Double(entry.step.count) * 7 + 8 {
                svg += "<text x=\"\(format(x + 4))\" y=\"\(format(y + 14))\">\(escape(entry.step))</text>"
            }
            svg += "</g>\n"
        }
        return svg + "</svg>\n"
    }

    static func why(_ entry: JobTimeline.Entry) -> String {
        if let reason = entry.reason { return reason }
        switch entry.status {
        case .upToDate: return "nothing it depends on changed"
        case .restored: return "a cached result matched"
        default: return ""
        }
    }

    static func label(_ status: StepStatus) -> String { status == .upToDate ? "up to date" : status.rawValue }

    /// `0.4 ms`, `812.0 ms`, `3.25 s`.
    public static func duration(_ nanoseconds: Int64) -> String {
        if nanoseconds < 1_000_000_000 {
            let tenths = (nanoseconds + 50_000) / 100_000
            return "\(tenths / 10).\(tenths % 10) ms"
        }
        let hundredths = (nanoseconds + 5_000_000) / 10_000_000
        let fraction = hundredths % 100
        return "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction) s"
    }

    /// A coordinate with at most one decimal.
    static func format(_ value: Double) -> String {
        let tenths = Int64((value * 10).rounded())
        return tenths % 10 == 0 ? String(tenths / 10) : "\(tenths / 10).\(abs(tenths % 10))"
    }

    /// Text safe in element content and in quoted attribute values.
    public static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(character)
            }
        }
        return out
    }

    static let legend = """
        <p class="legend"><span class="key ran"></span>ran <span class="key restored"></span>restored (cache hit)
        <span class="key failed"></span>failed <span class="key critical"></span>critical path ·
        up to date: its outputs were already current (no work) · skipped / canceled: did not run</p>

        """

    static let style = """
        body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px;color:#1f2328;background:#fff}
        h1{font-size:20px;margin:0 0 8px}h2{font-size:16px;margin:24px 0 4px}code{font:13px ui-monospace,monospace}
        .note{color:#8a5a00}.critical span{font-family:ui-monospace,monospace}
        svg.timeline{display:block;margin:8px 0;max-width:100%;height:auto}
        svg text{font:11px ui-monospace,monospace;fill:#1f2328}svg .axis,svg .slot{fill:#656d76}
        .tick{stroke:#d0d7de;stroke-width:1}
        .bar rect{fill:#4f8ad8}.bar.restored rect{fill:#3fa85b}.bar.failed rect{fill:#d1453b}
        .bar text{fill:#fff;pointer-events:none}.bar.critical rect{stroke:#e8890c;stroke-width:3}
        .key{display:inline-block;width:12px;height:12px;margin:0 4px 0 10px;vertical-align:-1px;border-radius:2px;background:#4f8ad8}
        .key.restored{background:#3fa85b}.key.failed{background:#d1453b}.key.critical{background:#fff;border:3px solid #e8890c;width:8px;height:8px}
        table.steps{border-collapse:collapse;margin:8px 0}
        .steps th,.steps td{padding:3px 10px;border-bottom:1px solid #d8dee4;text-align:left;vertical-align:top}
        .steps td.name{font-family:ui-monospace,monospace}.steps td.num{text-align:right;font-variant-numeric:tabular-nums}
        .steps tr.critical td.name{font-weight:600}.mark{color:#e8890c}
        .steps tr.ran td.status{color:#2f6bbf}.steps tr.restored td.status{color:#2b8a47}
        .steps tr.failed td.status{color:#c0362c;font-weight:600}.steps tr.skipped td.status,.steps tr.canceled td.status{color:#8a5a00}
        .steps tr.up_to_date td.status{color:#656d76}
        """
}
