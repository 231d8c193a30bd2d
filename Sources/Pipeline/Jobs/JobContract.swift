/// What a job promised to build, fixed when it starts: the Pipelinefile's digest, the targets,
/// and an environment fingerprint (rule → SHA-256 of its value: os, arch, the pipeline
/// version, every declared environment variable; secret values are only ever hashed).
/// `resume` refuses a job whose Pipelinefile or environment changed, unless the change is
/// accepted with a reason (recorded, and the job's epoch goes up).
public struct JobContract: Sendable, Equatable {
    public static let schemaID = "pipeline.job_contract"
    public static let schemaVersion = "1.0.0"
    public static let version = "0.1.0"

    public var pipelinefile: String
    public var pipelinefileDigest: Digest
    public var targets: [String]
    /// Rule (`os`, `arch`, `pipeline`, `env:NAME`) → hex SHA-256 of its value.
    public var environment: [String: String]

    public init(pipelinefile: String, pipelinefileDigest: Digest, targets: [String], environment: [String: String]) {
        self.pipelinefile = pipelinefile
        self.pipelinefileDigest = pipelinefileDigest
        self.targets = targets
        self.environment = environment
    }

    /// The fingerprint of this machine and these variables now.
    public static func fingerprint(envNames: [String], values: [String: String]) -> [String: String] {
        let uts = utsInfo()
        var rules: [String: String] = [
            "os": SHA256.hash(uts.os).hex, "arch": SHA256.hash(uts.arch).hex,
            "pipeline": SHA256.hash("\(version) \(ActionDescription.salt)").hex,
        ]
        for name in envNames { rules["env:\(name)"] = SHA256.hash(values[name].map { "set:" + $0 } ?? "unset").hex }
        return rules
    }

    static func utsInfo() -> (os: String, arch: String) {
        let platform = ActionDescription.currentPlatform
        let parts = platform.split(separator: "-", maxSplits: 1).map(String.init)
        return (parts.first ?? platform, parts.count > 1 ? parts[1] : "")
    }

    /// Rules whose values differ (or exist on one side only), sorted.
    public func environmentChanges(comparedTo now: [String: String]) -> [String] {
        Set(environment.keys).union(now.keys).filter { environment[$0] != now[$0] }.sorted()
    }

    public var json: JSON {
        .object([
            "schema_id": .string(JobContract.schemaID), "schema_version": .string(JobContract.schemaVersion),
            "pipelinefile": .string(pipelinefile), "pipelinefile_sha256": .string(pipelinefileDigest.hex),
            "targets": .array(targets.map(JSON.string)), "environment": .object(environment.mapValues(JSON.string)),
        ])
    }

    public init(json: JSON) throws {
        guard json["schema_id"]?.stringValue == JobContract.schemaID, json["schema_version"]?.stringValue?.hasPrefix("1.") == true,
              let file = json["pipelinefile"]?.stringValue, let digest = json["pipelinefile_sha256"]?.stringValue.flatMap({ Digest(hex: $0) }),
              let targets = json["targets"]?.arrayValue, let environment = json["environment"]?.objectValue
        else { throw PipelineError(.jobCorrupt, "malformed job contract") }
        self.init(pipelinefile: file, pipelinefileDigest: digest, targets: targets.compactMap(\.stringValue),
                  environment: environment.compactMapValues(\.stringValue))
    }
}

extension JobStore {
    public func contractPath(_ id: JobID) -> String { folder(id) + "/contract.json" }

    public func saveContract(_ contract: JobContract, for id: JobID) throws {
        try Materializer.writeAtomically(contract.json.canonicalBytes + [0x0A], to: contractPath(id))
    }

    /// The job's contract; a missing or damaged file is a clear error with the way out.
    public func contract(_ id: JobID) throws -> JobContract {
        let path = contractPath(id)
        guard let bytes = try? FileSystem.readFile(path) else {
            throw PipelineError(.jobCorrupt, "job \(id) has no contract (\(path) is missing)", path: path,
                                hint: "`pipeline job doctor \(id)` explains; `pipeline run` starts a new job")
        }
        do {
            return try JobContract(json: try JSON.parse(bytes))
        } catch {
            throw PipelineError(.jobCorrupt, "job \(id): \(path) is damaged", path: path,
                                hint: "`pipeline job doctor \(id)` explains; `pipeline run` starts a new job")
        }
    }
}
