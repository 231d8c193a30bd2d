import XCTest

@testable import Pipeline

/// Slots, critical path and the timeline read back from a job's log; the trace and the HTML
/// made from it.
final class JobTimelineTests: XCTestCase {
    typealias Entry = JobTimeline.Entry

    func timed(_ name: String, _ start: Int64, _ duration: Int64, _ status: StepStatus = .ran, needs: [String] = []) -> Entry {
        Entry(step: name, status: status, startNanos: start, durationNanos: duration, needs: needs)
    }

    func testSlotsAreTheLowestFreeAtEachStartAndIgnoreUntimedSteps() {
        var entries = [
            timed("a", 0, 10), timed("b", 2, 3), timed("c", 5, 3), timed("d", 10, 2),
            Entry(step: "u", status: .upToDate), timed("e", 3, 1, .restored), timed("f", 6, 0, .failed),
        ]
        JobTimeline.assignSlots(&entries)
        XCTAssertEqual(entries.map(\.slot), [1, 2, 2, 1, nil, 3, 3])
        // The same intervals listed in another order get the same slots.
        var reversed = Array(entries.reversed())
        for k in reversed.indices { reversed[k].slot = nil }
        JobTimeline.assignSlots(&reversed)
        XCTAssertEqual(Dictionary(uniqueKeysWithValues: reversed.map { ($0.step, $0.slot) }),
                       Dictionary(uniqueKeysWithValues: entries.map { ($0.step, $0.slot) }))
    }

    func testSlotsAtSameStartFollowStepOrder() {
        var entries = [timed("x", 5, 4), timed("y", 5, 1), timed("z", 0, 5)]
        JobTimeline.assignSlots(&entries)
        XCTAssertEqual(entries.map(\.slot), [1, 2, 1])
    }

    func testCriticalPathIsTheLongestChainOfDurations() {
        // a(10) → b(5) → d(1); a → c(20) → d: a, c, d.
        let entries = [timed("a", 0, 10), timed("b", 10, 5, needs: ["a"]), timed("c", 10, 20, needs: ["a"]),
                       timed("d", 30, 1, needs: ["b", "c"]), timed("e", 0, 25)]
        XCTAssertEqual(JobTimeline.criticalPath(entries), ["a", "c", "d"])
    }

    func testCriticalPathCrossesUpToDateStepsAndDropsLeadingOnesThatTookNoTime() {
        let entries = [Entry(step: "root", status: .upToDate), timed("a", 0, 10, needs: ["root"]),
                       Entry(step: "mid", status: .upToDate, needs: ["a"]), timed("b", 10, 5, needs: ["mid"]), timed("solo", 0, 12)]
        XCTAssertEqual(JobTimeline.criticalPath(entries), ["a", "mid", "b"])
        XCTAssertEqual(JobTimeline.criticalPath([Entry(step: "u", status: .upToDate)]), [])
        // Skipped steps add nothing, even with a duration.
        XCTAssertEqual(JobTimeline.criticalPath([timed("s", 0, 50, .skipped), timed("r", 0, 1)]), ["r"])
    }

    func testCriticalPathTiesPickTheFirstInStepOrder() {
        let entries = [timed("a", 0, 5), timed("b", 0, 5), timed("c", 5, 1, needs: ["b", "a"])]
        XCTAssertEqual(JobTimeline.criticalPath(entries), ["b", "c"])
    }

    // MARK: From the log

    static let t0: Int64 = 1_800_000_000_000_000_000
    let id = JobID("20270115T080000Z-0a1b2c")!

    func event(_ sequence: Int, _ type: JobEvent.Kind, _ payload: JSON) -> JobEvent {
        JobEvent(sequence: sequence, time: "2027-01-15T08:00:00.000Z", type: type, actor: "test", payload: payload)
    }

    func checkpoint(_ number: Int, _ kind: Checkpoint.Kind, _ summary: String, step: String? = nil, at: Int64,
                    _ fill: (inout Checkpoint) -> Void = { _ in }) -> JSON {
        var checkpoint = try! Checkpoint(id: Checkpoint.id(number: number), kind: kind, summary: summary, step: step, createdAt: at)
        fill(&checkpoint)
        return ["checkpoint": checkpoint.json]
    }

    func progress(_ number: Int, _ step: String, _ status: StepStatus, start: Int64, duration: Int64, needs: [String] = [],
                  reason: String = "inputs changed") -> JSON {
        checkpoint(number, .progress, "\(step) \(status.rawValue)", step: step, at: JobTimelineTests.t0 + start + duration) {
            $0.status = status
            $0.reason = reason
            $0.startedAt = JobTimelineTests.t0 + start
            $0.durationNanos = duration
            $0.needs = needs
        }
    }

    /// A failed run (`lib` fails, `app` skipped, `docs` up to date), then a resume.
    var log: [JobEvent] {
        let t0 = JobTimelineTests.t0
        return [
            event(1, .created, ["targets": []]),
            event(2, .status, ["to": "running"]),
            event(3, .checkpoint, checkpoint(1, .plan, "4 steps: gen, lib, app, docs", at: t0)),
            event(4, .checkpoint, progress(2, "gen", .ran, start: 1_000, duration: 4_000_000)),
            event(5, .checkpoint, progress(3, "lib", .failed, start: 4_100_000, duration: 2_000_000, needs: ["gen"], reason: "exit 1")),
            event(6, .status, ["to": "failed", "unfinished": [["step": "app", "status": "skipped", "message": "lib failed"]]]),
            event(7, .status, ["to": "running"]),
            event(8, .checkpoint, checkpoint(4, .plan, "4 steps: gen, lib, app, docs", at: t0 + 1_000_000_000)),
            event(9, .checkpoint, progress(5, "lib", .restored, start: 1_000_100_000, duration: 0, needs: ["gen"])),
            event(10, .checkpoint, progress(6, "app", .ran, start: 1_000_200_000, duration: 3_000_000, needs: ["lib"])),
            event(11, .status, ["to": "completed"]),
        ]
    }

    let plan = JobTimeline.Plan(steps: ["gen", "lib", "app", "docs"], needs: [[], [0], [1], []])

    func testRunsStepsAndStatusesFromTheLog() {
        let timeline = JobTimeline(job: id, events: log, plan: plan)
        XCTAssertEqual(timeline.notes, [])
        XCTAssertEqual(timeline.runs.map(\.ended), ["failed", "completed"])
        let first = timeline.runs[0], second = timeline.runs[1]
        XCTAssertEqual(first.steps.map(\.step), ["gen", "lib", "app", "docs"])
        XCTAssertEqual(first.steps.map(\.status), [.ran, .failed, .skipped, .upToDate])
        XCTAssertEqual(first.steps.map(\.reason), ["inputs changed", "exit 1", "lib failed", nil])
        XCTAssertEqual(first.steps[1].startNanos, 4_100_000)
        XCTAssertEqual(first.steps[1].durationNanos, 2_000_000)
        XCTAssertEqual(first.criticalPath, ["gen", "lib"])
        XCTAssertEqual(first.slots, 1)
        XCTAssertEqual(first.durationNanos, 6_100_000)
        XCTAssertEqual(second.steps.map(\.status), [.upToDate, .restored, .ran, .upToDate])
        XCTAssertEqual(second.steps[3].needs, [])
        XCTAssertEqual(second.steps[2].needs, ["lib"])
        XCTAssertEqual(second.criticalPath, ["app"])
    }

    func testWithoutAPlanOnlyTheNamedStepsAreListedWithTheirRecordedNeeds() {
        var events = log
        // A plan summary cut short names nothing.
        events[2] = event(3, .checkpoint, checkpoint(1, .plan, "4 steps: gen, lib, …", at: JobTimelineTests.t0))
        let timeline = JobTimeline(job: id, events: events, plan: nil)
        XCTAssertEqual(timeline.notes.count, 1)
        XCTAssertEqual(timeline.runs[0].steps.map(\.step), ["gen", "lib", "app"])
        XCTAssertEqual(timeline.runs[0].criticalPath, ["gen", "lib"])
        // The whole summary lists up-to-date steps too.
        XCTAssertEqual(timeline.runs[1].steps.map(\.step), ["gen", "lib", "app", "docs"])
        XCTAssertEqual(timeline.runs[1].steps.map(\.status), [.upToDate, .restored, .ran, .upToDate])
    }

    func testOlderProgressCheckpointsWithoutTimingStillRead() {
        let events = [
            event(1, .created, ["targets": []]),
            event(2, .checkpoint, checkpoint(1, .plan, "1 steps: build", at: JobTimelineTests.t0)),
            event(3, .checkpoint, checkpoint(2, .progress, "build ran: no previous run", step: "build", at: JobTimelineTests.t0 + 5)),
        ]
        let timeline = JobTimeline(job: id, events: events, plan: nil)
        XCTAssertEqual(timeline.runs[0].steps, [Entry(step: "build", status: .ran, reason: "no previous run", startNanos: 5)].map {
            var entry = $0
            entry.slot = 1
            return entry
        })
        XCTAssertEqual(timeline.runs[0].ended, nil)
        XCTAssertTrue(timeline.notes.contains { $0.contains("older pipeline") })
    }

    // MARK: Renderings

    func testTraceHasOneCompleteEventPerTimedStepAndMarksCacheHits() throws {
        let timeline = JobTimeline(job: id, events: log, plan: plan)
        let trace = try JSON.parse(JobTrace.bytes(timeline))
        let events = trace["traceEvents"]?.arrayValue ?? []
        let complete = events.filter { $0["ph"] == "X" }
        XCTAssertEqual(complete.compactMap { $0["name"]?.stringValue }, ["gen", "lib", "lib", "app"])
        XCTAssertEqual(complete.map { $0["pid"] }, [1, 1, 2, 2])
        XCTAssertEqual(complete[2]["cat"], "restored")
        XCTAssertEqual(complete[2]["args"]?["cache_hit"], .bool(true))
        XCTAssertEqual(complete[0]["args"]?["cache_hit"], .bool(false))
        // Microseconds after the job's first run started.
        XCTAssertEqual(complete[0]["ts"], .int(1))
        XCTAssertEqual(complete[0]["dur"], .int(4000))
        XCTAssertEqual(complete[3]["ts"], .int(1_000_200))
        XCTAssertTrue(events.contains { $0["ph"] == "M" && $0["name"] == "thread_name" && $0["tid"] == 1 })
        XCTAssertEqual(trace["displayTimeUnit"], "ms")
        XCTAssertEqual(JobTrace.bytes(timeline), JobTrace.bytes(JobTimeline(job: id, events: log, plan: plan)))
    }

    func testHTMLListsEveryStepEscaped() {
        let events = [
            event(1, .created, ["targets": []]),
            event(2, .checkpoint, checkpoint(1, .plan, "1 steps: x", at: JobTimelineTests.t0)),
            event(3, .checkpoint, progress(2, "<b>&\"x'", .ran, start: 0, duration: 1_000_000, reason: "<script>alert(1)</script>")),
        ]
        let html = HTMLReport.render(JobTimeline(job: id, events: events, plan: JobTimeline.Plan(steps: ["x", "<b>&\"x'"], needs: [[], [0]])))
        XCTAssertTrue(html.contains("data-step=\"&lt;b&gt;&amp;&quot;x&#39;\""), html)
        XCTAssertTrue(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))
        XCTAssertFalse(html.contains("<script"))
        // Nothing to fetch: the only URL is the SVG namespace.
        XCTAssertFalse(html.replacingOccurrences(of: "xmlns=\"http://www.w3.org/2000/svg\"", with: "").contains("http"))
        XCTAssertEqual(html.components(separatedBy: "<tr class=\"step ").count - 1, 2)
        XCTAssertTrue(html.contains("<tr class=\"step up_to_date\" data-step=\"x\" data-status=\"up_to_date\">"), html)
    }

    func testDurationsReadWell() {
        XCTAssertEqual(HTMLReport.duration(0), "0.0 ms")
        XCTAssertEqual(HTMLReport.duration(420_000), "0.4 ms")
        XCTAssertEqual(HTMLReport.duration(812_049_999), "812.0 ms")
        XCTAssertEqual(HTMLReport.duration(3_254_000_000), "3.25 s")
        XCTAssertEqual(HTMLReport.duration(61_005_000_000), "61.01 s")
    }
}
