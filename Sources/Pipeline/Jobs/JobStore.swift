import CSupport
import Glibc

/// Jobs on disk, one folder each under `<store>/jobs/<id>/`:
///
///     events.jsonl   append-only log, one canonical JSON line per event (the truth)
///     state.json     snapshot of the state after `revision` events (a fast copy)
///     lock           serializes writers (flock; the kernel drops it when a writer dies)
///
/// A change is appended to the log and flushed first, then the snapshot is replaced. A crash
/// between the two leaves a log one event ahead: the next read replays it, so a change is
/// either in both or, if the log line never got flushed, in neither. A torn last line (a
/// crash mid-append) is ignored on read and cut off before the next append.
public final class JobStore {
    public let root: String

    public init(storeRoot: String) {
        root = storeRoot + "/jobs"
    }

    public func folder(_ id: JobID) -> String { root + "/" + id.rawValue }

    /// Every job id, oldest first.
    public func list() -> [JobID] {
        (FileSystem.list(root) ?? []).compactMap { JobID($0.name) }.sorted()
    }

    /// A new job, queued, with its `created` event.
    public func create(targets: [String], actor: String, payload extra: [String: JSON] = [:], durable: Bool = true) throws -> JobSnapshot {
        try FileSystem.makeDirectories(root)
        var id = JobID.make()
        while mkdir(folder(id), 0o755) != 0 {
            guard errno == EEXIST else { throw FileSystem.ioError("cannot create job folder", folder(id)) }
            id = JobID.make()
        }
        var payload = extra
        payload["targets"] = .array(targets.map(JSON.string))
        do {
            return try append(id, type: .created, actor: actor, durable: durable) { _ in .object(payload) }
        } catch {
            // A job whose first event could not be written (a full disk) never was: leave no
            // folder behind for `job list` and `job doctor` to trip over.
            try? FileSystem.remove(folder(id))
            throw error
        }
    }

    /// The job's current state: the snapshot, plus any logged events it does not reflect yet.
    public func load(_ id: JobID) throws -> JobSnapshot {
        let events = try readLog(id).events
        var snapshot = try readSnapshot(id) ?? JobSnapshot(id: id, createdAt: events.first?.time ?? "")
        if snapshot.revision > events.count {
            throw PipelineError(.jobCorrupt, "job \(id): its snapshot (revision \(snapshot.revision)) is ahead of its log (\(events.count) events)",
                                path: folder(id), hint: "run `pipeline job doctor \(id)`")
        }
        for event in events.dropFirst(snapshot.revision) { try snapshot.apply(event) }
        return snapshot
    }

    /// The job's events, oldest first (a torn last line is left out).
    public func events(_ id: JobID) throws -> [JobEvent] { try readLog(id).events }

    /// Appends one event under the job's lock. `payload` sees the current state: it refuses
    /// (throws) or returns the event's payload. Returns the new state.
    @discardableResult
    /// `durable: false` leaves the line to the kernel's writeback: a crash of the process
    /// still keeps it, a power loss may drop it and anything after it (never a line in the
    /// middle: the log is only appended). Runs flush the events that end or stop them.
    public func append(_ id: JobID, type: JobEvent.Kind, actor: String, durable: Bool = true,
                       payload: (JobSnapshot) throws -> JSON) throws -> JobSnapshot {
        let lock = try JobLock(path: folder(id) + "/lock")
        defer { withExtendedLifetime(lock) {} }
        Materializer.removeStaleTemporaries(in: folder(id))  // a killed writer's snapshot
        let log = try readLog(id)
        var current = try readSnapshot(id) ?? JobSnapshot(id: id, createdAt: JobStore.timestamp())
        for event in log.events.dropFirst(current.revision) { try current.apply(event) }
        let event = JobEvent(sequence: current.revision + 1, time: JobStore.timestamp(), type: type, actor: actor, payload: try payload(current))
        let next = try current.applying(event)

        let path = folder(id) + "/events.jsonl"
        let fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw FileSystem.ioError("cannot write", path) }
        defer { close(fd) }
        // Cut a torn tail, then append at the end of the last whole line.
        guard ftruncate(fd, off_t(log.validBytes)) == 0, lseek(fd, off_t(log.validBytes), SEEK_SET) >= 0 else {
            throw FileSystem.ioError("cannot write", path)
        }
        try FileSystem.writeAll(fd, event.line, path: path)
        guard !durable || fsync(fd) == 0 else { throw FileSystem.ioError("cannot flush", path) }
        // The log line above is the durable record; the snapshot is rebuilt from it if lost,
        // so failing to write it (a full disk) does not undo or fail the change.
        try? Materializer.writeAtomically(next.json.canonicalBytes + [0x0A], to: folder(id) + "/state.json", durable: false)
        return next
    }

    /// Changes the job's status, refusing what the transition table refuses.
    @discardableResult
    public func transition(_ id: JobID, to status: JobStatus, actor: String, reason: String? = nil, durable: Bool = true) throws -> JobSnapshot {
        var payload: [String: JSON] = ["to": .string(status.rawValue)]
        if let reason { payload["reason"] = .string(reason) }
        return try append(id, type: .status, actor: actor, durable: durable) { current in
            try current.status.checkChange(to: status, job: id)
            return .object(payload)
        }
    }

    /// Records a checkpoint with the next id (`cp_0001`, …).
    @discardableResult
    public func checkpoint(_ id: JobID, kind: Checkpoint.Kind, summary: String, requiredAction: String? = nil, step: String? = nil,
                           actor: String, durable: Bool = true) throws -> JobSnapshot {
        try append(id, type: .checkpoint, actor: actor, durable: durable) { current in
            if current.status.isTerminal {
                throw PipelineError(.invalidTransition, "job \(id) is \(current.status.rawValue): no checkpoint can reopen it")
            }
            let checkpoint = try Checkpoint(id: Checkpoint.id(number: current.checkpoints.count + 1), kind: kind, summary: summary,
                                            requiredAction: requiredAction, step: step, createdAt: pl_wall_ns())
            return ["checkpoint": checkpoint.json]
        }
    }

    /// Records a person's approval of a pending decision: actor and reason are required; with
    /// several pending, `checkpoint` must name one.
    @discardableResult
    public func approve(_ id: JobID, checkpoint: String?, actor: String, reason: String) throws -> JobSnapshot {
        guard !actor.trimmingWhitespace.isEmpty else { throw PipelineError(.invalidInput, "an approval needs --actor (who approves)") }
        guard !reason.trimmingWhitespace.isEmpty else { throw PipelineError(.invalidInput, "an approval needs --reason (why)") }
        return try append(id, type: .approval, actor: actor) { current in
            guard current.status == .decisionNeeded else {
                throw PipelineError(.invalidTransition, "job \(id) is \(current.status.rawValue): nothing waits for approval")
            }
            let pending = current.pendingDecisions
            let chosen: Checkpoint
            if let checkpoint {
                guard let match = current.checkpoints.first(where: { $0.id == checkpoint && $0.kind == .decisionNeeded }) else {
                    throw PipelineError(.invalidInput, "job \(id) has no decision-needed checkpoint \(checkpoint)"
                                        + (pending.isEmpty ? "" : " (pending: \(pending.map(\.id).joined(separator: ", ")))"))
                }
                guard current.approvals[match.id] == nil else {
                    throw PipelineError(.invalidInput, "\(checkpoint) of job \(id) is approved already")
                }
                chosen = match
            } else {
                guard pending.count == 1 else {
                    throw PipelineError(.invalidInput, "job \(id) waits for \(pending.count) approvals: \(pending.map(\.id).joined(separator: ", "))",
                                        hint: "name one with --checkpoint")
                }
                chosen = pending[0]
            }
            return ["checkpoint": .string(chosen.id), "actor": .string(actor), "reason": .string(reason), "step": chosen.step.map(JSON.string) ?? .null]
        }
    }

    /// Takes the job's lease (throws `lease_conflict` while another process holds it).
    public func lease(_ id: JobID) throws -> JobLease {
        try JobLease(path: folder(id) + "/lease", job: id)
    }

    /// The process on this host that holds the job's lease, if one does.
    public func holder(_ id: JobID) -> pid_t? {
        guard isLive(id), let text = try? FileSystem.readText(folder(id) + "/lease") else { return nil }
        let words = text.split(whereSeparator: { $0 == " " || $0 == "\n" })
        guard words.count >= 4, words[0] == "pid", let pid = pid_t(words[1]), String(words[3]) == JobLease.hostName() else { return nil }
        return pid
    }

    /// Asks the process running a job to pause (finish what runs, start nothing new) or to
    /// stop (cancel: its commands get SIGTERM, then SIGKILL). Without a live process, a
    /// cancel is recorded directly; a pause needs one.
    public func request(_ id: JobID, _ request: JobRequest, actor: String) throws -> JobSnapshot {
        let job = try load(id)
        if let pid = holder(id) {
            guard job.status == .running || job.status == .queued else {
                throw PipelineError(.invalidTransition, "job \(id) is \(job.status.rawValue)")
            }
            guard kill(pid, request == .pause ? SIGUSR1 : SIGTERM) == 0 else {
                throw FileSystem.ioError("cannot signal the process running job", id.rawValue)
            }
            return job
        }
        switch request {
        case .pause:
            throw PipelineError(.invalidTransition, "job \(id) is \(job.status.rawValue) and no process runs it: there is nothing to pause")
        case .cancel:
            let lease = try self.lease(id)
            defer { withExtendedLifetime(lease) {} }
            return try transition(id, to: .canceled, actor: actor, reason: "canceled by \(actor)")
        }
    }

    /// Whether a live process holds the job's lease.
    public func isLive(_ id: JobID) -> Bool {
        let fd = open(folder(id) + "/lease", O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        if flock(fd, LOCK_EX | LOCK_NB) == 0 {
            flock(fd, LOCK_UN)
            return false
        }
        return true
    }

    // MARK: Reading

    struct Log {
        var events: [JobEvent]
        /// Bytes up to the end of the last complete line.
        var validBytes: Int
    }

    func readLog(_ id: JobID) throws -> Log {
        let path = folder(id) + "/events.jsonl"
        guard FileSystem.exists(folder(id)) else {
            throw PipelineError(.unknownJob, "no job \(id)", hint: "`pipeline job list` shows the jobs")
        }
        guard let bytes = try? FileSystem.readFile(path) else { return Log(events: [], validBytes: 0) }
        var events: [JobEvent] = []
        var start = 0
        var validBytes = 0
        for (index, byte) in bytes.enumerated() where byte == 0x0A {
            let line = Array(bytes[start..<index])
            start = index + 1
            guard let json = try? JSON.parse(line), let event = try? JobEvent(json: json) else {
                throw PipelineError(.jobCorrupt, "job \(id): line \(events.count + 1) of events.jsonl is not a job event", path: path,
                                    hint: "run `pipeline job doctor \(id)`")
            }
            events.append(event)
            validBytes = start
        }
        return Log(events: events, validBytes: validBytes)
    }

    func readSnapshot(_ id: JobID) throws -> JobSnapshot? {
        let path = folder(id) + "/state.json"
        guard let bytes = try? FileSystem.readFile(path) else { return nil }
        guard let json = try? JSON.parse(bytes), let snapshot = try? JobSnapshot(json: json), snapshot.id == id else {
            // A damaged snapshot is rebuilt from the log, which is the truth.
            return nil
        }
        return snapshot
    }

    /// Where a job keeps its run records.
    public static let runsFile = "runs.jsonl"

    /// The run records of a job, in the order its steps ended. A torn last line (a crash
    /// mid-write) is ignored; a damaged line before it is an error.
    public func runs(_ id: JobID) throws -> [RunRecord] {
        let path = folder(id) + "/" + JobStore.runsFile
        guard FileSystem.exists(folder(id)) else {
            throw PipelineError(.unknownJob, "no job \(id)", hint: "`pipeline job list` shows the jobs")
        }
        guard let bytes = try? FileSystem.readFile(path) else { return [] }
        var records: [RunRecord] = []
        var start = 0
        for (index, byte) in bytes.enumerated() where byte == 0x0A {
            defer { start = index + 1 }
            guard let json = try? JSON.parse(Array(bytes[start..<index])), let record = try? RunRecord(json: json) else {
                throw PipelineError(.jobCorrupt, "job \(id): line \(records.count + 1) of \(JobStore.runsFile) is not a run record", path: path)
            }
            records.append(record)
        }
        return records
    }

    /// Now, as `2026-11-22T21:15:03.120Z`.
    public static func timestamp(nanoseconds: Int64 = pl_wall_ns()) -> String { Timestamp.format(nanoseconds) }
}

/// The right to run a job: an exclusive `flock` on `jobs/<id>/lease`, held by the process
/// running it for as long as it runs. The kernel drops it when that process dies, so a job
/// whose status says `running` but whose lease is free was abandoned (kill -9, power loss)
/// and may be taken over. Holder: pid and host, for messages.
public final class JobLease {
    private let fd: Int32

    init(path: String, job: JobID) throws {
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw FileSystem.ioError("cannot open lease", path) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let holder = (try? FileSystem.readText(path))?.split(separator: "\n").first.map(String.init) ?? "another process"
            close(fd)
            throw PipelineError(.leaseConflict, "job \(job) is being run by \(holder)", path: path,
                                hint: "wait for it to finish (`pipeline job show \(job)`)")
        }
        let note = "pid \(getpid()) on \(JobLease.hostName())\n"
        _ = ftruncate(fd, 0)
        _ = pwrite(fd, note, note.utf8.count, 0)
    }

    static func hostName() -> String {
        var host = [CChar](repeating: 0, count: 256)
        gethostname(&host, 255)
        return host.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }

    deinit { close(fd) }
}

public enum JobRequest: Sendable { case pause, cancel }

/// An exclusive lock on a job's folder for one writer at a time.
final class JobLock {
    private let fd: Int32

    init(path: String) throws {
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw FileSystem.ioError("cannot open lock", path) }
        while flock(fd, LOCK_EX) != 0 {
            guard errno == EINTR else {
                let code = errno
                close(fd)
                throw FileSystem.ioError("cannot lock", path, errno: code)
            }
        }
    }

    deinit { close(fd) }
}

extension String {
    var trimmingWhitespace: Substring {
        let trimmed = drop { $0.isWhitespace }
        return trimmed.dropLast(trimmed.reversed().prefix { $0.isWhitespace }.count)
    }
}

/// The running process's pen for a job's log: it holds the job's lock, keeps the state in
/// memory and appends without re-reading the log (progress checkpoints after every step must
/// cost microseconds, not a read of the whole log). Lines are not flushed one by one; the
/// event that ends the run is (see `Engine`). The snapshot is written when the session ends.
public final class JobSession {
    public let id: JobID
    private let store: JobStore
    private var lock: JobLock?
    private let fd: Int32
    /// `runs.jsonl`, opened at the first run record.
    private var runsFD: Int32 = -1
    private var closed = false
    private var broken = false
    public private(set) var state: JobSnapshot
    /// Steps skipped or canceled in this run, written with the status event that ends it.
    private var unfinished: [JSON] = []

    init(store: JobStore, id: JobID) throws {
        self.store = store
        self.id = id
        lock = try JobLock(path: store.folder(id) + "/lock")
        Materializer.removeStaleTemporaries(in: store.folder(id))  // a killed writer's snapshot
        let log = try store.readLog(id)
        var current = try store.readSnapshot(id) ?? JobSnapshot(id: id, createdAt: JobStore.timestamp())
        for event in log.events.dropFirst(current.revision) { try current.apply(event) }
        state = current
        let path = store.folder(id) + "/events.jsonl"
        fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw FileSystem.ioError("cannot write", path) }
        guard ftruncate(fd, off_t(log.validBytes)) == 0, lseek(fd, off_t(log.validBytes), SEEK_SET) >= 0 else {
            Glibc.close(fd)
            throw FileSystem.ioError("cannot write", path)
        }
    }

    /// Records a checkpoint with the next id.
    public func checkpoint(_ kind: Checkpoint.Kind, summary: String, requiredAction: String? = nil, step: String?,
                           logs: (stdout: Digest, stderr: Digest)? = nil, actor: String, durable: Bool = false,
                           details: ((inout Checkpoint) -> Void)? = nil) throws {
        var checkpoint = try Checkpoint(id: Checkpoint.id(number: state.checkpoints.count + 1), kind: kind, summary: summary,
                                        requiredAction: requiredAction, step: step, createdAt: pl_wall_ns())
        checkpoint.stdout = logs?.stdout
        checkpoint.stderr = logs?.stderr
        details?(&checkpoint)
        try append(.checkpoint, payload: ["checkpoint": checkpoint.json], actor: actor, durable: durable)
    }

    /// Changes the job's status, refusing what the transition table refuses.
    public func transition(to status: JobStatus, reason: String?, actor: String, durable: Bool) throws {
        try state.status.checkChange(to: status, job: id)
        var payload: [String: JSON] = ["to": .string(status.rawValue)]
        if let reason { payload["reason"] = .string(reason) }
        if status != .running {
            // The steps this run left undone, once, with how it ended (not a line each).
            if !unfinished.isEmpty { payload["unfinished"] = .array(unfinished) }
            unfinished = []
        }
        try append(.status, payload: .object(payload), actor: actor, durable: durable)
    }

    /// Notes a step the run skipped or canceled; the event that ends the run lists them.
    public func noteUnfinished(_ step: String, _ status: StepStatus, message: String?) {
        var entry: [String: JSON] = ["step": .string(step), "status": .string(status.rawValue)]
        if let message { entry["message"] = .string(message) }
        unfinished.append(.object(entry))
    }

    /// Appends an executed step's evidence to `runs.jsonl` (one canonical JSON line each).
    /// Flushed with the next durable event, so a finished job's records are on disk.
    public func recordRun(_ record: JSON) throws {
        guard !closed else { throw PipelineError(.internalError, "job \(id): writing after the session ended") }
        let path = store.folder(id) + "/" + JobStore.runsFile
        if runsFD < 0 {
            runsFD = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
            guard runsFD >= 0 else { throw FileSystem.ioError("cannot write", path) }
        }
        try FileSystem.writeAll(runsFD, record.canonicalBytes + [0x0A], path: path)
    }

    private func append(_ type: JobEvent.Kind, payload: JSON, actor: String, durable: Bool) throws {
        guard !closed, !broken else { throw PipelineError(.internalError, "job \(id): writing after the session ended") }
        let event = JobEvent(sequence: state.revision + 1, time: JobStore.timestamp(), type: type, actor: actor, payload: payload)
        try state.apply(event)  // in place: no copy of the checkpoint list per step
        do {
            if durable && runsFD >= 0 && fsync(runsFD) != 0 { throw FileSystem.ioError("cannot flush", store.folder(id) + "/" + JobStore.runsFile) }
            try FileSystem.writeAll(fd, event.line, path: store.folder(id) + "/events.jsonl")
            if durable && fsync(fd) != 0 { throw FileSystem.ioError("cannot flush", store.folder(id) + "/events.jsonl") }
        } catch {
            // The state is now ahead of the log: never write it as the snapshot.
            broken = true
            throw error
        }
    }

    /// Writes the snapshot and gives the job back to other writers.
    public func close() {
        guard !closed else { return }
        closed = true
        if !broken {
            try? Materializer.writeAtomically(state.json.canonicalBytes + [0x0A], to: store.folder(id) + "/state.json", durable: false)
        }
        Glibc.close(fd)
        if runsFD >= 0 { Glibc.close(runsFD) }
        lock = nil
    }

    deinit { close() }
}

extension JobStore {
    public func session(_ id: JobID) throws -> JobSession { try JobSession(store: self, id: id) }
}
