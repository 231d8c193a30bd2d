import CSupport

/// Makes pins from what a user names: a job id, a pack file, or a step of the workspace.
public enum PinRequest {
    public static func job(_ text: String, storePath: String, actor: String) throws -> Pin {
        guard let id = JobID(text) else { throw PipelineError(.invalidInput, "'\(text)' is not a job id (like 20260101T120000Z-0a1b2c)") }
        guard FileSystem.isDirectory(JobStore(storeRoot: storePath).folder(id)) else {
            throw PipelineError(.unknownJob, "no job \(id) in \(storePath)", hint: "`pipeline job list` shows the jobs")
        }
        return Pin(kind: .job, id: id.rawValue, reference: id.rawValue, createdAt: Timestamp.format(pl_wall_ns()), actor: actor, jobs: [id.rawValue])
    }

    /// A pack's blobs (by its manifest) and, when its source is a job here, that job.
    public static func pack(_ path: String, storePath: String, actor: String) throws -> Pin {
        let contents = try PackReader.read(path, hashing: false)
        guard let bytes = contents.documents[PackManifest.fileName], let manifest = try? JSON.parse(bytes),
              let packID = manifest["pack_id"]?.stringValue, Digest(hex: packID) != nil
        else { throw PipelineError(.invalidInput, "\(path) has no readable \(PackManifest.fileName): not a pipeline pack", path: path) }
        let blobs = (manifest["contents"]?.arrayValue ?? []).compactMap { item -> Digest? in
            guard let entry = item["path"]?.stringValue, entry.hasPrefix("blobs/sha256/") else { return nil }
            return Digest(hex: entry.dropFirst("blobs/sha256/".count))
        }
        var jobs: [String] = []
        if let source = manifest["source_ref"]?.stringValue, let id = JobID(source), FileSystem.isDirectory(JobStore(storeRoot: storePath).folder(id)) {
            jobs.append(id.rawValue)
        }
        return Pin(kind: .pack, id: packID, reference: path, createdAt: Timestamp.format(pl_wall_ns()), actor: actor, jobs: jobs, blobs: blobs)
    }

    /// A step's current result in a workspace, and the blobs it names.
    public static func step(_ name: String, workspace: Workspace, actor: String) throws -> Pin {
        let state = LocalStore.workspaceStatePath(store: workspace.storePath, workspaceRoot: workspace.root)
        let records = StepRecords(path: state + "/steps")
        guard let record = records.records[name], record.status.succeeded else {
            throw PipelineError(.unknownStep, "step '\(name)' has no current outputs in this workspace", hint: "run it first: pipeline run \(name)")
        }
        var blobs = record.result.blobs
        if let run = record.result.run, let evidence = try? RunRecord(json: run) { blobs += evidence.blobs }
        return Pin(kind: .step, id: "\(Path.lastComponent(state))/\(name)", reference: name, createdAt: Timestamp.format(pl_wall_ns()),
                   actor: actor, results: [record.key.digest], blobs: Array(Set(blobs)))
    }
}
