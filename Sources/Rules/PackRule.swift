import Pipeline

/// `use: pack` with `with: { type: run|job, out: FOLDER, sign: env:NAME | KEYFILE }`: packs
/// the evidence of the steps it needs (type run: their run records and every blob those
/// name, whether they ran now or were restored from the cache) or of the current job (type
/// job) into `FOLDER/pack_<pack_id>.zip`. The folder is the step's output.
public struct PackRule: Rule {
    public static let name = "pack"
    public static let version = 1

    public init() {}

    public func declare(_ with: JSON, step: String) throws -> (inputs: [String], outputs: [String]) {
        let fields = WithFields(with: with, step: step, rule: Self.name)
        try fields.checkKeys(["type", "out", "sign"])
        let type = try fields.string("type") ?? "run"
        guard PackManifest.PackType(rawValue: type) != nil else {
            throw PipelineError(.invalidInput, "'type' in 'with' of step '\(step)' must be run or job, not '\(type)'")
        }
        _ = try fields.string("sign")
        return ([], [try fields.string("out", required: true)!])
    }

    public func run(_ context: RuleContext) throws -> [String] {
        let fields = WithFields(with: context.with, step: context.step.name, rule: Self.name)
        let type = PackManifest.PackType(rawValue: try fields.string("type") ?? "run") ?? .run
        let folder = Path.join(context.workspaceRoot, try fields.string("out", required: true)!)
        let key = try fields.string("sign").map { try KeyReference.signingKey($0, context: context) }
        // Only this step's pack stays in its folder: an old pack there is not this output.
        try FileSystem.remove(folder)
        let store = try LocalStore(root: context.storePath, create: false)
        let builder = PackBuilder(store: store, jobs: JobStore(storeRoot: context.storePath))
        let output: PackBuilder.Output
        switch type {
        case .run:
            let targets = context.step.needs
            output = try builder.runPack(records: context.records, sourceRef: "step:\(context.step.name)", targets: targets, into: folder,
                                         signingKey: key)
        case .job:
            guard let job = context.job else { throw PipelineError(.invalidInput, "a job pack needs a job (this run records none)") }
            output = try builder.jobPack(job: job, into: folder, signingKey: key)
        }
        return ["wrote \(output.path)", "pack_id \(output.manifest.packID)"]
    }
}
