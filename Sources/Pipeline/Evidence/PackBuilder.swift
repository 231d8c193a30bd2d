/// Builds PackSpec v1 packs: `pack_<pack_id>.zip`, entries stored uncompressed, sorted, with
/// fixed times and modes, every JSON document canonical, so the same source gives the same
/// bytes on any machine. The zip is written through the atomic materialize path.
public struct PackBuilder {
    public struct Output: Sendable {
        /// Absolute path of the pack written.
        public var path: String
        public var manifest: PackManifest
    }

    let store: LocalStore
    let jobs: JobStore

    public init(store: LocalStore, jobs: JobStore) {
        self.store = store
        self.jobs = jobs
    }

    // MARK: Run packs

    /// A run pack of what a job executed: its run records and every blob they name.
    public func runPack(job id: JobID, into folder: String, signingKey: SigningKey? = nil) throws -> Output {
        let snapshot = try jobs.load(id)
        let records = try jobs.runs(id)
        return try runPack(records: records, sourceRef: id.rawValue, targets: snapshot.targets, into: folder, signingKey: signingKey)
    }

    public func runPack(records: [RunRecord], sourceRef: String, targets: [String], into folder: String,
                        signingKey: SigningKey? = nil) throws -> Output {
        var documents: [(path: String, bytes: [UInt8], type: String)] = []
        var runs: [JSON] = []
        var blobs: Set<Digest> = []
        for (index, record) in records.enumerated() {
            let path = "runs/\(PackBuilder.sequence(index + 1))_\(record.step).json"
            let bytes = record.json.canonicalBytes
            documents.append((path, bytes, "run_record"))
            runs.append([
                "path": .string(path), "step": .string(record.step), "status": .string(record.status.rawValue),
                "exit_code": record.exitCode.map { .int(Int64($0)) } ?? .null, "sha256": .string(SHA256.hash(bytes).hex),
            ])
            blobs.formUnion(record.blobs)
        }
        let sortedBlobs = blobs.sorted { $0.hex < $1.hex }
        let payload: JSON = [
            "schema_id": "pipeline.run_payload", "schema_version": "1.0.0", "source_ref": .string(sourceRef),
            "targets": .array(targets.map(JSON.string)), "runs": .array(runs), "blobs": .array(sortedBlobs.map { .string($0.hex) }),
        ]
        documents.append(("run_payload.json", payload.canonicalBytes, "payload"))

        var files: [(path: String, source: ZipEntry.Source, digest: Digest)] = []
        let hasher = FileHasher()
        for digest in sortedBlobs {
            guard let source = store.blobSource(digest) else {
                let owner = records.first { $0.blobs.contains(digest) }?.step ?? "?"
                throw PipelineError(.io, "blob \(digest.hex) named by the run record of step '\(owner)' is not in the store",
                                    path: store.root, hint: "a pack carries every blob its records name; rerun the step to capture it again")
            }
            if let bytes = source.bytes {
                files.append(("blobs/sha256/\(digest.hex)", .bytes(bytes), digest))
            } else if let path = source.path {
                // A blob is packed only if it still hashes to its name: a pack never carries a lie.
                guard try hasher.fingerprint(path).sha256 == digest else {
                    throw PipelineError(.storeFormat, "blob \(digest.hex) in the store is damaged (its bytes hash differently)", path: path)
                }
                files.append(("blobs/sha256/\(digest.hex)", .file(path), digest))
            }
        }
        return try write(type: .run, sourceRef: sourceRef, documents: documents, files: files, into: folder, signingKey: signingKey)
    }

    // MARK: Job packs

    /// A job pack: the job's snapshot, its whole event log and a summary.
    public func jobPack(job id: JobID, into folder: String, signingKey: SigningKey? = nil) throws -> Output {
        let snapshot = try jobs.load(id)
        let events = try jobs.events(id)
        let runs = (try? jobs.runs(id).count) ?? 0
        var log: [UInt8] = []
        for event in events { log += event.line }
        let payload: JSON = [
            "schema_id": "pipeline.job_payload", "schema_version": "1.0.0", "job_id": .string(id.rawValue),
            "status": .string(snapshot.status.rawValue), "targets": .array(snapshot.targets.map(JSON.string)),
            "created_at": .string(snapshot.createdAt), "events": .int(Int64(events.count)),
            "checkpoints": .int(Int64(snapshot.checkpoints.count)), "runs": .int(Int64(runs)),
        ]
        let documents: [(path: String, bytes: [UInt8], type: String)] = [
            ("job_payload.json", payload.canonicalBytes, "payload"),
            ("job_state.json", snapshot.json.canonicalBytes, "job_state"),
            ("job_events.jsonl", log, "job_events"),
        ]
        return try write(type: .job, sourceRef: id.rawValue, documents: documents, files: [], into: folder, signingKey: signingKey)
    }

    // MARK: Writing

    private func write(type: PackManifest.PackType, sourceRef: String, documents: [(path: String, bytes: [UInt8], type: String)],
                       files: [(path: String, source: ZipEntry.Source, digest: Digest)], into folder: String,
                       signingKey: SigningKey?) throws -> Output {
        var contents = documents.map { PackManifest.Entry(path: $0.path, sha256: SHA256.hash($0.bytes), type: $0.type) }
        contents += files.map { PackManifest.Entry(path: $0.path, sha256: $0.digest, type: "blob") }
        var manifest = PackManifest(producerVersion: PipelineVersion.current, packType: type, sourceRef: sourceRef, contents: contents)
        if let signingKey { manifest.sign(with: signingKey) }
        var entries = documents.map { ZipEntry(path: $0.path, source: .bytes($0.bytes)) }
        entries += files.map { ZipEntry(path: $0.path, source: $0.source) }
        entries.append(ZipEntry(path: PackManifest.fileName, source: .bytes(manifest.json.canonicalBytes)))
        let path = folder + "/pack_\(manifest.packID).zip"
        try FileSystem.makeDirectories(folder)
        // A pack build killed mid-write left `.pack_<id>.zip.tmp-PID-N` here; the old pack (if
        // any) is intact. Its process is gone: remove it.
        Materializer.removeStaleTemporaries(in: folder, prefix: ".pack_")
        try ZipWriter.write(entries, to: path)
        return Output(path: path, manifest: manifest)
    }

    /// `0001`, `0002`, … (at least four digits, so names sort by number).
    static func sequence(_ n: Int) -> String {
        let text = String(n)
        return String(repeating: "0", count: max(0, 4 - text.count)) + text
    }
}
