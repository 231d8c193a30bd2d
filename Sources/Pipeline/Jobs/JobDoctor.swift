import Glibc

/// Checks a job's files against each other and, asked to, repairs what the log can repair.
public struct JobDoctor {
    public struct Finding: Sendable, Equatable {
        public var code: String
        public var message: String
        public var repaired: Bool
    }

    let store: JobStore

    public init(store: JobStore) { self.store = store }

    /// What is wrong with a job (nothing: an empty list). With `repair`, fixes what can be
    /// fixed from the log: a torn last line is cut, a missing, damaged or stale snapshot is
    /// rebuilt, an abandoned running job is marked failed (queued: canceled), a job folder
    /// with no event is removed, a temp file a killed writer left (`.state.json.tmp-PID-N`)
    /// is removed (the next write to the job removes it too). A crash leaves only findings of these kinds (a snapshot
    /// behind its log is also what every read reconciles by itself).
    public func examine(_ id: JobID, repair: Bool) -> [Finding] {
        var findings: [Finding] = []
        let folder = store.folder(id)
        let logPath = folder + "/events.jsonl"
        guard FileSystem.isDirectory(folder) else {
            return [Finding(code: "missing_job", message: "no folder \(folder)", repaired: false)]
        }
        // The log: every line an event; a torn tail.
        let bytes = (try? FileSystem.readFile(logPath)) ?? []
        if bytes.isEmpty {
            // A crash between creating the folder and the first event: a job that never was.
            let fixed = repair && (try? FileSystem.remove(folder)) != nil
            return [Finding(code: "empty_log", message: "events.jsonl is missing or empty: the job never started", repaired: fixed)]
        }
        // A writer killed between its temp file and the rename: the old file is intact.
        for entry in (FileSystem.list(folder) ?? []).sorted(by: { $0.name < $1.name }) {
            guard let pid = Materializer.temporaryOwner(entry.name), pid != getpid(), !Materializer.isRunning(pid) else { continue }
            let fixed = repair && unlink(folder + "/" + entry.name) == 0
            findings.append(Finding(code: "stale_temp", message: "\(entry.name) is a temp file left by process \(pid), which no longer runs",
                                    repaired: fixed))
        }
        let whole = (bytes.lastIndex(of: 0x0A).map { $0 + 1 }) ?? 0
        if whole < bytes.count {
            var fixed = false
            if repair {
                let fd = open(logPath, O_WRONLY | O_CLOEXEC)
                if fd >= 0 {
                    fixed = ftruncate(fd, off_t(whole)) == 0 && fsync(fd) == 0
                    close(fd)
                }
            }
            findings.append(Finding(code: "torn_line", message: "the last line of events.jsonl is torn (\(bytes.count - whole) bytes)", repaired: fixed))
        }
        let events: [JobEvent]
        do {
            events = try store.readLog(id).events
        } catch {
            findings.append(Finding(code: "corrupt_log", message: "\(error)", repaired: false))
            return findings
        }
        // Replaying the log must work.
        var replayed = JobSnapshot(id: id, createdAt: events.first?.time ?? "")
        for event in events {
            do {
                try replayed.apply(event)
            } catch {
                findings.append(Finding(code: "invalid_history", message: "event \(event.sequence): \(error)", repaired: false))
                return findings
            }
        }
        // The snapshot must be the log's state.
        let snapshotPath = folder + "/state.json"
        let snapshot = (try? FileSystem.readFile(snapshotPath)).flatMap { try? JobSnapshot(json: JSON.parse($0)) }
        let problem: String?
        if snapshot == nil {
            problem = FileSystem.exists(snapshotPath) ? "state.json is damaged" : "state.json is missing"
        } else if snapshot!.revision < replayed.revision {
            problem = "state.json is behind the log (revision \(snapshot!.revision) of \(replayed.revision))"
        } else if snapshot!.revision > replayed.revision {
            problem = "state.json is ahead of the log (revision \(snapshot!.revision) of \(replayed.revision))"
        } else if snapshot! != replayed {
            problem = "state.json disagrees with the log"
        } else {
            problem = nil
        }
        if let problem {
            let fixed = repair && (try? Materializer.writeAtomically(replayed.json.canonicalBytes + [0x0A], to: snapshotPath)) != nil
            findings.append(Finding(code: "snapshot_diverged", message: problem, repaired: fixed))
        }
        // A contract, for every job that may still run.
        let mayRun: Set<JobStatus> = [.running, .paused, .decisionNeeded, .blocked, .failed]
        if mayRun.contains(replayed.status), (try? store.contract(id)) == nil {
            findings.append(Finding(code: "contract_unreadable", message: "contract.json is missing or damaged: the job cannot be resumed",
                                    repaired: false))
        }
        // Abandoned: says running, but no process holds it.
        if (replayed.status == .running || replayed.status == .queued) && !store.isLive(id) {
            var fixed = false
            if repair, let lease = try? store.lease(id) {
                fixed = (try? store.transition(id, to: replayed.status == .running ? .failed : .canceled, actor: "pipeline doctor",
                                               reason: "abandoned: no process runs it")) != nil
                withExtendedLifetime(lease) {}
            }
            findings.append(Finding(code: "abandoned", message: "job says \(replayed.status.rawValue) but no process runs it", repaired: fixed))
        }
        return findings
    }
}
