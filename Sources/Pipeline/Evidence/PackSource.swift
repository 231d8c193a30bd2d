/// Where `pack build --from` points: a job id (in the workspace's store), or the path of a
/// job folder (`<store>/jobs/<id>`), whose store is then the folder two levels up.
public struct PackSource: Sendable {
    public var storePath: String
    public var job: JobID

    /// `storePath` is the workspace's store, when there is a workspace.
    public static func resolve(_ from: String, storePath: String?) throws -> PackSource {
        if let id = JobID(from), !from.contains("/") {
            guard let storePath else {
                throw PipelineError(.invalidInput, "no store to find job \(id) in", hint: "run inside a workspace, or pass --store DIR")
            }
            guard FileSystem.isDirectory(JobStore(storeRoot: storePath).folder(id)) else {
                throw PipelineError(.unknownJob, "no job \(id) in \(storePath)", hint: "`pipeline job list` shows the jobs")
            }
            return PackSource(storePath: storePath, job: id)
        }
        let absolute = Path.join(FileSystem.currentDirectory(), from)
        let trimmed = absolute.hasSuffix("/") ? String(absolute.dropLast()) : absolute
        guard FileSystem.isDirectory(trimmed), let id = JobID(Path.lastComponent(trimmed)),
              FileSystem.exists(trimmed + "/events.jsonl")
        else {
            throw PipelineError(.invalidInput, "'\(from)' is neither a job id nor a job folder (<store>/jobs/<id>)", path: from)
        }
        return PackSource(storePath: Path.directory(of: Path.directory(of: trimmed)), job: id)
    }

    /// Builds a pack of this job into `folder`; the path of the pack.
    public func build(_ type: PackManifest.PackType, into folder: String, signingKey: SigningKey?) throws -> PackBuilder.Output {
        let store = try LocalStore(root: storePath, create: false)
        let storeLock = try StoreLock(storeRoot: storePath, exclusive: false)
        defer { withExtendedLifetime(storeLock) {} }
        let builder = PackBuilder(store: store, jobs: JobStore(storeRoot: storePath))
        switch type {
        case .run: return try builder.runPack(job: job, into: folder, signingKey: signingKey)
        case .job: return try builder.jobPack(job: job, into: folder, signingKey: signingKey)
        }
    }
}
