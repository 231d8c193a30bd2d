/// `pipeline store check`: re-hashes every blob, checks that every action result parses and
/// names blobs that exist, that every job reads and names blobs that exist, and finds
/// orphans (blobs nothing names), foreign files and a torn log tail. Changes nothing unless
/// asked to repair: then corrupt blobs and dangling results are removed (a miss, never a
/// wrong output) and the report says what was done.
public struct StoreChecker {
    public struct Finding: Sendable, Equatable {
        public var code: String
        public var id: String
        public var message: String

        var json: JSON { ["code": .string(code), "id": .string(id), "message": .string(message)] }
    }

    public struct Report: Sendable {
        public static let schemaID = "pipeline.store_check"
        public var blobs = 0
        public var results = 0
        public var jobs = 0
        public var bytes: Int64 = 0
        public var problems: [Finding] = []
        /// Blobs nothing names: garbage `pipeline gc` removes, not damage.
        public var orphans: [String] = []
        public var repaired: [Finding] = []

        public var clean: Bool { problems.isEmpty }

        public var json: JSON {
            .object([
                "schema_id": .string(Report.schemaID), "schema_version": "1.0.0", "clean": .bool(clean),
                "scanned": ["blobs": .int(Int64(blobs)), "results": .int(Int64(results)), "jobs": .int(Int64(jobs)), "bytes": .int(bytes)],
                "problems": .array(problems.map(\.json)), "orphans": .array(orphans.map(JSON.string)), "repaired": .array(repaired.map(\.json)),
            ])
        }
    }

    public let storePath: String

    public init(storePath: String) {
        self.storePath = storePath
    }

    public func check(repair: Bool) throws -> Report {
        let store = try LocalStore(root: storePath, create: false)
        var report = Report()
        let inventory = store.inventory()
        report.blobs = inventory.blobs.count
        report.results = inventory.results.count
        report.bytes = inventory.bytes
        for path in inventory.foreign.sorted() {
            report.problems.append(Finding(code: "foreign_file", id: path, message: "\(path) is not a store entry"))
        }
        if !store.log.refresh() {
            report.problems.append(Finding(code: "torn_log", id: "store.log", message: "store.log ends with a partial record (a crash mid-write); the next write cuts it"))
        }

        // Every blob hashes to its name.
        var corrupt: Set<Digest> = []
        let hasher = FileHasher()
        let index = store.logIndex()
        for digest in inventory.blobs.keys.sorted() {
            let ok: Bool
            if let location = index.blobs[digest] {
                ok = store.readLog(location).map { SHA256.hash($0) == digest } ?? false
            } else {
                ok = (try? hasher.sha256(store.blobPath(digest))) == digest
            }
            if !ok {
                corrupt.insert(digest)
                report.problems.append(Finding(code: "corrupt_blob", id: digest.hex, message: "blob \(digest.hex) does not hash to its name"))
            }
        }
        let good = Set(inventory.blobs.keys).subtracting(corrupt)

        // Every result parses and names blobs that are there.
        var named: Set<Digest> = []
        var dangling: Set<Digest> = []
        for key in inventory.results.keys.sorted() {
            guard let result = try? store.result(for: ActionKey(key)) else {
                dangling.insert(key)
                report.problems.append(Finding(code: "damaged_result", id: key.hex, message: "action result \(key.hex) does not parse"))
                continue
            }
            var blobs = result.files.filter { $0.linkTarget == nil }.map(\.digest)
            for log in [result.stdout, result.stderr] where log != .empty { blobs.append(log) }
            var evidence: [Digest] = []
            if let run = result.run, let record = try? RunRecord(json: run) { evidence = record.blobs }
            named.formUnion(blobs + evidence)
            if let missing = blobs.first(where: { !good.contains($0) }) {
                dangling.insert(key)
                report.problems.append(Finding(code: "dangling_result", id: key.hex,
                                               message: "action result \(key.hex) names blob \(missing.hex), which is \(corrupt.contains(missing) ? "corrupt" : "missing")"))
            }
        }

        // Every job reads; what its records and checkpoints name is there.
        let jobs = JobStore(storeRoot: storePath)
        for id in jobs.list() {
            report.jobs += 1
            guard let snapshot = try? jobs.load(id), let records = try? jobs.runs(id) else {
                report.problems.append(Finding(code: "damaged_job", id: id.rawValue, message: "job \(id) cannot be read (see `pipeline job doctor \(id)`)"))
                continue
            }
            var blobs = records.flatMap(\.blobs)
            for checkpoint in snapshot.checkpoints { blobs += [checkpoint.stdout, checkpoint.stderr].compactMap { $0 }.filter { $0 != .empty } }
            named.formUnion(blobs)
            // A failed or canceled job may lack blobs it names (the store was full, or the run
            // was killed before its writes landed): its evidence is incomplete, as its status says.
            if snapshot.status != .failed, snapshot.status != .canceled, let missing = blobs.first(where: { !good.contains($0) && $0 != .empty }) {
                report.problems.append(Finding(code: "job_missing_blob", id: id.rawValue, message: "job \(id) names blob \(missing.hex), which is not in the store"))
            }
        }
        for pin in (try? PinStore(storeRoot: storePath).list()) ?? [] { named.formUnion(pin.blobs) }
        for entry in FileSystem.list(storePath + "/workspaces") ?? [] {
            for record in StepRecords(path: storePath + "/workspaces/" + entry.name + "/steps").records.values { named.formUnion(record.result.blobs) }
        }
        report.orphans = good.subtracting(named).map(\.hex).sorted()

        if repair && (!corrupt.isEmpty || !dangling.isEmpty) {
            try store.remove(blobs: corrupt, results: dangling)
            report.repaired = corrupt.sorted().map { Finding(code: "removed_blob", id: $0.hex, message: "removed corrupt blob \($0.hex)") }
                + dangling.sorted().map { Finding(code: "removed_result", id: $0.hex, message: "removed action result \($0.hex): its next run executes") }
        }
        return report
    }
}
