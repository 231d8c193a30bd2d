import CSupport
import Glibc

/// `pipeline gc`: decides what the store keeps and why, writes the report, then removes the
/// rest. Kept, whatever the policy: everything pinned; every job not yet ended (queued,
/// running, paused, decision_needed, blocked) and what it references; the newest
/// `keep_jobs` ended jobs; each workspace's current results (so the next run is still a
/// no-op); and every blob a kept result, job or pin names. Removed: ended jobs beyond
/// `keep_jobs` or unused for longer than `ttl`, cache entries unused for longer than `ttl`,
/// then least-recently-used cache entries until the store fits `max_size`, and blobs
/// nothing kept refers to. The order is deterministic: oldest last use first, then by id.
///
/// It runs holding the store's exclusive lock (builds hold it shared), so it never removes
/// what a running build wrote or is about to read. Removal goes jobs, then results, then
/// blobs, each step atomic or idempotent: a gc killed at any point leaves a store where
/// every result names blobs that exist, and the next gc finishes the work.
public struct GarbageCollector {
    public struct Removal: Sendable {
        public var kind: String  // job, result, blob
        public var id: String
        public var size: Int64
        public var lastUse: Int64
        public var reason: String

        var json: JSON {
            ["class": .string(kind), "id": .string(id), "size": .int(size), "last_use": .string(Timestamp.format(lastUse * 1_000_000_000, fraction: false)),
             "reason": .string(reason)]
        }
    }

    public struct Report: Sendable {
        public static let schemaID = "pipeline.gc_report"
        public var startedAt: String
        public var finishedAt: String?
        public var dryRun: Bool
        public var status: String  // planned, completed, dry_run
        public var policy: RetentionPolicy
        public var pins: [Pin]
        public var scanned: (jobs: Int, results: Int, blobs: Int, bytes: Int64)
        public var kept: [String: Int]
        public var pinnedSpared: Int
        public var removed: [Removal]
        public var path: String

        public var bytesFreed: Int64 { removed.reduce(0) { $0 + $1.size } }

        public var json: JSON {
            .object([
                "schema_id": .string(Report.schemaID), "schema_version": "1.0.0", "started_at": .string(startedAt),
                "finished_at": finishedAt.map(JSON.string) ?? .null, "dry_run": .bool(dryRun), "status": .string(status),
                "policy": policy.json,
                "pins": .array(pins.map { ["kind": .string($0.kind.rawValue), "id": .string($0.id), "reference": .string($0.reference)] }),
                "scanned": ["jobs": .int(Int64(scanned.jobs)), "results": .int(Int64(scanned.results)), "blobs": .int(Int64(scanned.blobs)),
                            "bytes": .int(scanned.bytes)],
                "kept": .object(kept.mapValues { .int(Int64($0)) }), "pinned_spared": .int(Int64(pinnedSpared)),
                "removed": .array(removed.map(\.json)), "removed_count": .int(Int64(removed.count)), "bytes_freed": .int(bytesFreed),
            ])
        }
    }

    public let storePath: String
    public let policy: RetentionPolicy
    /// Seconds since the epoch.
    public let now: Int64

    public init(storePath: String, policy: RetentionPolicy, now: Int64 = Int64(time(nil))) {
        self.storePath = storePath
        self.policy = policy
        self.now = now
    }

    /// Decides, writes the report (before anything is removed), removes, finalizes the report.
    public func collect(dryRun: Bool, fault: String? = nil) throws -> Report {
        let store = try LocalStore(root: storePath, create: false)
        var report = try plan(store)
        report.dryRun = dryRun
        report.status = dryRun ? "dry_run" : "planned"
        try write(report)
        if dryRun { return report }
        // Jobs first (each moved aside atomically, then deleted), then results and blobs.
        let jobs = JobStore(storeRoot: storePath)
        var first = true
        func removed() {
            if first, fault == "gc.after_first_delete" { kill(getpid(), SIGKILL) }
            first = false
        }
        for removal in report.removed where removal.kind == "job" {
            guard let id = JobID(removal.id) else { continue }
            let aside = jobs.root + "/.gc-" + removal.id
            if rename(jobs.folder(id), aside) == 0 {
                removed()
                try FileSystem.remove(aside)
            }
        }
        let results = Set(report.removed.filter { $0.kind == "result" }.compactMap { Digest(hex: $0.id) })
        let blobs = Set(report.removed.filter { $0.kind == "blob" }.compactMap { Digest(hex: $0.id) })
        if !results.isEmpty || !blobs.isEmpty {
            try store.remove(blobs: blobs, results: results)
            removed()
        }
        for entry in FileSystem.list(jobs.root) ?? [] where entry.name.hasPrefix(".gc-") { try? FileSystem.remove(jobs.root + "/" + entry.name) }
        removeStaleTemporaries(store, jobs: jobs)
        report.status = "completed"
        report.finishedAt = Timestamp.format(pl_wall_ns())
        try write(report)
        return report
    }

    /// Temp files killed processes left anywhere in the store: a log compaction's new log
    /// (only gc and `store check --repair` write one, both holding the store exclusively),
    /// LocalStore's `tmp/`, and the atomic writes' `.NAME.tmp-PID-N` beside reports, pins,
    /// workspace state and job files (of processes that no longer run).
    private func removeStaleTemporaries(_ store: LocalStore, jobs: JobStore) {
        for entry in FileSystem.list(storePath) ?? [] where entry.name.hasPrefix("store.log.compact-") { unlink(storePath + "/" + entry.name) }
        store.removeStaleTemporaries()
        var folders = [storePath, storePath + "/reports", storePath + "/pins", storePath + "/workspaces", jobs.root]
        folders += (FileSystem.list(storePath + "/workspaces") ?? []).map { storePath + "/workspaces/" + $0.name }
        folders += jobs.list().map(jobs.folder)
        for folder in folders { Materializer.removeStaleTemporaries(in: folder) }
    }

    private func write(_ report: Report) throws {
        try Materializer.writeAtomically(report.json.canonicalBytes + [0x0A], to: report.path)
    }

    /// What stays and what goes, with reasons. Reads only.
    public func plan(_ store: LocalStore) throws -> Report {
        let started = pl_wall_ns()
        let pins = try PinStore(storeRoot: storePath).list()
        let inventory = store.inventory()
        let jobStore = JobStore(storeRoot: storePath)
        var kept: [String: Int] = [:]
        var removals: [Removal] = []
        var pinnedSpared = 0
        let ttlCutoff = policy.ttlSeconds.map { now - $0 }

        // Jobs.
        let pinnedJobs = Set(pins.flatMap(\.jobs))
        var keptJobs: [JobID] = []
        var ended: [(id: JobID, time: Int64, size: Int64)] = []
        let ids = jobStore.list()
        for id in ids {
            let snapshot = try? jobStore.load(id)
            let status = snapshot?.status ?? .failed
            let time = (snapshot.flatMap { Timestamp.parse($0.updatedAt) } ?? 0) / 1_000_000_000
            if pinnedJobs.contains(id.rawValue) {
                kept["pinned", default: 0] += 1
                keptJobs.append(id)
            } else if !(status == .completed || status == .failed || status == .canceled) {
                kept["active job", default: 0] += 1
                keptJobs.append(id)
            } else {
                ended.append((id, time, GarbageCollector.folderSize(jobStore.folder(id))))
            }
        }
        ended.sort { $0.id > $1.id }  // newest first: ids sort by time
        for (index, job) in ended.enumerated() {
            if let keep = policy.keepJobs, index >= keep {
                removals.append(Removal(kind: "job", id: job.id.rawValue, size: job.size, lastUse: job.time, reason: "beyond keep_jobs \(keep)"))
            } else if policy.keepJobs == nil, let ttlCutoff, job.time < ttlCutoff {
                removals.append(Removal(kind: "job", id: job.id.rawValue, size: job.size, lastUse: job.time, reason: "ended more than ttl ago"))
            } else {
                kept[policy.keepJobs != nil ? "recent job" : "job", default: 0] += 1
                keptJobs.append(job.id)
            }
        }

        // What kept jobs, pins and workspaces refer to.
        var protectedResults: [Digest: String] = [:]
        var protectedBlobs: Set<Digest> = []
        for pin in pins {
            for key in pin.results { protectedResults[key] = "pinned" }
            protectedBlobs.formUnion(pin.blobs)
        }
        for id in keptJobs {
            for record in (try? jobStore.runs(id)) ?? [] {
                if protectedResults[record.actionKey.digest] == nil { protectedResults[record.actionKey.digest] = "kept job" }
                protectedBlobs.formUnion(record.blobs)
            }
            for checkpoint in (try? jobStore.load(id))?.checkpoints ?? [] {
                if let out = checkpoint.stdout { protectedBlobs.insert(out) }
                if let err = checkpoint.stderr { protectedBlobs.insert(err) }
            }
        }
        for entry in FileSystem.list(storePath + "/workspaces") ?? [] {
            let records = StepRecords(path: storePath + "/workspaces/" + entry.name + "/steps")
            for record in records.records.values {
                protectedResults[record.key.digest] = "current workspace"
                protectedBlobs.formUnion(record.result.blobs)
            }
        }

        // Results: protected, expired, or candidates for max_size; each knows its blobs.
        var blobsOf: [Digest: [Digest]] = [:]
        var refcount: [Digest: Int] = [:]
        var liveResults: [(key: Digest, entry: StoreInventory.Entry)] = []
        for (key, entry) in inventory.results {
            let result = try? store.result(for: ActionKey(key))
            var names = result?.blobs ?? []
            if let run = result?.run, let record = try? RunRecord(json: run) { names += record.blobs }
            blobsOf[key] = Array(Set(names))
            if let reason = protectedResults[key] {
                kept[reason == "pinned" ? "pinned" : reason, default: 0] += 1
                if reason == "pinned" { pinnedSpared += 1 }
                protectedBlobs.formUnion(blobsOf[key]!)
            } else if let ttlCutoff, entry.time < ttlCutoff {
                removals.append(Removal(kind: "result", id: key.hex, size: entry.size, lastUse: entry.time, reason: "unused for more than ttl"))
            } else {
                liveResults.append((key, entry))
                for blob in blobsOf[key]! { refcount[blob, default: 0] += 1 }
            }
        }
        // max_size: least recently used first, then by key.
        var remaining = inventory.bytes - removals.filter { $0.kind != "job" }.reduce(0) { $0 + $1.size }
        var evicted: Set<Digest> = []
        if let maxSize = policy.maxSize {
            let garbage = inventory.blobs.filter { !protectedBlobs.contains($0.key) && refcount[$0.key] == nil }.values.reduce(0) { $0 + $1.size }
            remaining -= garbage
            for candidate in liveResults.sorted(by: { ($0.entry.time, $0.key) < ($1.entry.time, $1.key) }) where remaining > Int64(maxSize) {
                evicted.insert(candidate.key)
                removals.append(Removal(kind: "result", id: candidate.key.hex, size: candidate.entry.size, lastUse: candidate.entry.time,
                                        reason: "least recently used over max_size"))
                remaining -= candidate.entry.size
                for blob in blobsOf[candidate.key]! {
                    refcount[blob, default: 1] -= 1
                    if refcount[blob] == 0, !protectedBlobs.contains(blob), let entry = inventory.blobs[blob] { remaining -= entry.size }
                }
            }
        }
        kept["cache entry", default: 0] += liveResults.count - evicted.count
        if liveResults.count == evicted.count { kept["cache entry"] = nil }

        // Blobs: kept when anything kept names them; the rest is garbage.
        let namedByResults = Set(blobsOf.values.joined())
        var keptBlobs = 0
        for (digest, entry) in inventory.blobs.sorted(by: { ($0.value.time, $0.key) < ($1.value.time, $1.key) }) {
            if protectedBlobs.contains(digest) || (refcount[digest] ?? 0) > 0 {
                keptBlobs += 1
                continue
            }
            let reason = namedByResults.contains(digest) ? "only removed results named it" : "nothing kept names it"
            removals.append(Removal(kind: "blob", id: digest.hex, size: entry.size, lastUse: entry.time, reason: reason))
        }
        if keptBlobs > 0 { kept["blob in use"] = keptBlobs }
        let path = storePath + "/reports/gc-\(Timestamp.format(started).replacing(":", with: "").replacing("-", with: "")).json"
        return Report(startedAt: Timestamp.format(started), finishedAt: nil, dryRun: false, status: "planned", policy: policy, pins: pins,
                      scanned: (ids.count, inventory.results.count, inventory.blobs.count, inventory.bytes), kept: kept,
                      pinnedSpared: pinnedSpared, removed: removals, path: path)
    }

    static func folderSize(_ path: String) -> Int64 {
        var total: Int64 = 0
        for entry in FileSystem.list(path) ?? [] {
            let child = path + "/" + entry.name
            if entry.kind == .directory { total += folderSize(child) } else { total += Int64(FileSystem.stat(child)?.size ?? 0) }
        }
        return total
    }
}
