/// A job's timeline in the Chrome trace-event format (Perfetto, chrome://tracing): one
/// process per run, one thread per worker slot, one complete (`"ph": "X"`) event per step
/// that ran, was restored from the cache or failed. Times are microseconds after the job's
/// first run started. Same timeline, same bytes.
public enum JobTrace {
    public static func json(_ timeline: JobTimeline) -> JSON {
        let origin = timeline.runs.first?.startedAt ?? 0
        var events: [JSON] = []
        for run in timeline.runs {
            let pid = JSON.int(Int64(run.number))
            events.append(["name": "process_name", "ph": "M", "pid": pid, "tid": 0,
                           "args": ["name": .string("run \(run.number)" + (run.ended.map { " (\($0))" } ?? ""))]])
            events.append(["name": "process_sort_index", "ph": "M", "pid": pid, "tid": 0, "args": ["sort_index": pid]])
            for slot in 1...max(1, run.slots) where run.slots > 0 {
                events.append(["name": "thread_name", "ph": "M", "pid": pid, "tid": .int(Int64(slot)), "args": ["name": .string("slot \(slot)")]])
            }
            let base = run.startedAt - origin
            for entry in run.steps where entry.isTimed {
                var args: [String: JSON] = ["status": .string(entry.status.rawValue), "cache_hit": .bool(entry.status == .restored),
                                            "critical_path": .bool(entry.onCriticalPath)]
                if let reason = entry.reason { args["reason"] = .string(reason) }
                if !entry.needs.isEmpty { args["needs"] = .array(entry.needs.map(JSON.string)) }
                events.append([
                    "name": .string(entry.step), "cat": .string(entry.status.rawValue), "ph": "X", "pid": pid, "tid": .int(Int64(entry.slot ?? 1)),
                    "ts": microseconds(base + entry.startNanos), "dur": microseconds(entry.durationNanos), "args": .object(args),
                ])
            }
        }
        return ["traceEvents": .array(events), "displayTimeUnit": "ms",
                "otherData": ["job": .string(timeline.job.rawValue), "producer": .string("pipeline \(PipelineVersion.current)")]]
    }

    /// The trace file's bytes (one line).
    public static func bytes(_ timeline: JobTimeline) -> [UInt8] { json(timeline).canonicalBytes + [0x0A] }

    static func microseconds(_ nanoseconds: Int64) -> JSON {
        nanoseconds % 1000 == 0 ? .int(nanoseconds / 1000) : .double(Double(nanoseconds) / 1000)
    }
}
