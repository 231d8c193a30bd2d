import Glibc

/// Re-checks captured runs. Stub mode (the default) runs nothing: each step's recorded
/// outputs must be available with their digests. Real mode (every interlock given, see
/// `ReplayPolicy`) re-executes allow-listed steps in a scratch folder holding their
/// recorded inputs, never in the workspace, and compares what they write, bit for bit.
public struct Replayer {
    public enum Status: String, Sendable, CaseIterable {
        /// Stub mode: every recorded output is there with its digest.
        case verified
        case reproduced, differs
        /// Real mode, tool not allow-listed: checked, not run.
        case stubbed
        case missingResult = "missing_result"
        /// Real mode: the command failed this time.
        case failed
    }

    public struct StepReport: Sendable {
        public var step: String
        public var status: Status
        public var tool: String
        public var needs: [String]
        /// Outputs whose bytes differ: recorded digest (a), replayed digest (b).
        public var changed: [(path: String, recorded: Digest, replayed: Digest)] = []
        /// Recorded outputs (or inputs) that are missing.
        public var missing: [(path: String, digest: Digest)] = []
        public var message: String?

        public var json: JSON {
            var members: [String: JSON] = [
                "step": .string(step), "status": .string(status.rawValue), "tool": .string(tool), "needs": .array(needs.map(JSON.string)),
                "changed": .array(changed.map { ["path": .string($0.path), "a_sha256": .string($0.recorded.hex), "b_sha256": .string($0.replayed.hex)] }),
                "missing": .array(missing.map { ["path": .string($0.path), "sha256": .string($0.digest.hex)] }),
            ]
            if let message { members["message"] = .string(message) }
            return .object(members)
        }
    }

    public struct Report: Sendable {
        public static let schemaID = "pipeline.replay"
        public var source: String
        public var policy: ReplayPolicy
        public var steps: [StepReport]

        public func count(_ status: Status) -> Int { steps.filter { $0.status == status }.count }

        /// 2 (results missing) before 5 (differs or failed) before 0.
        public var failure: PipelineError.Code? {
            if count(.missingResult) > 0 { return .verificationFailed }
            if count(.differs) + count(.failed) > 0 { return .notReproduced }
            return nil
        }

        public var json: JSON {
            .object([
                "schema_id": .string(Report.schemaID), "schema_version": "1.0.0", "source": .string(source),
                "mode": .string(policy.isReal ? "real" : "stub"),
                "allowed_tools": .array((policy.allowedTools ?? []).sorted().map(JSON.string)),
                "steps": .array(steps.map(\.json)),
                "counts": .object(Dictionary(uniqueKeysWithValues: Status.allCases.map { ($0.rawValue, JSON.int(Int64(count($0)))) })),
                "ok": .bool(failure == nil),
            ])
        }
    }

    public let source: String
    public let records: [RunRecord]
    public let blobs: ReplayBlobs
    public let policy: ReplayPolicy
    public let environment: [String: String]

    /// Records that ended `failed` are not replayed; of a step recorded twice, the last run counts.
    public init(source: String, records: [RunRecord], blobs: ReplayBlobs, policy: ReplayPolicy, environment: [String: String]) {
        var last: [String: Int] = [:]
        let succeeded = records.filter { $0.status == .ran }
        for (index, record) in succeeded.enumerated() { last[record.step] = index }
        self.records = succeeded.enumerated().filter { last[$0.element.step] == $0.offset }.map(\.element)
        self.source = source
        self.blobs = blobs
        self.policy = policy
        self.environment = environment
    }

    /// The step graph the records imply: a step needs the steps whose outputs it read.
    public func needs() -> [[String]] {
        var producer: [String: String] = [:]
        for record in records { for output in record.outputs { producer[output.path] = record.step } }
        return records.map { record in
            Array(Set(record.inputs.compactMap { producer[$0.path] }.filter { $0 != record.step })).sorted()
        }
    }

    /// Checks (and in real mode re-runs) every step. `out`: also write each verified step's
    /// recorded outputs there. `scratch`: the folder real replay runs in (made and owned by
    /// the caller).
    public func replay(executor: Executor?, scratch: String?, out: String?) throws -> Report {
        var reports: [StepReport] = []
        let graph = needs()
        for (index, record) in records.enumerated() {
            var report = StepReport(step: record.step, status: .verified, tool: record.command.map(ReplayPolicy.tool(of:)) ?? record.kind,
                                    needs: graph[index])
            report.missing = record.outputs.filter { $0.linkTarget == nil && !blobs.verify($0.digest) }.map { ($0.path, $0.digest) }
            if policy.isReal && report.missing.isEmpty {
                if policy.allows(record.command), let executor, let scratch {
                    try execute(record, into: &report, executor: executor, scratch: scratch)
                } else {
                    report.status = .stubbed
                }
            } else if !report.missing.isEmpty {
                report.status = .missingResult
            }
            if let out, report.status == .verified || report.status == .stubbed || report.status == .reproduced {
                try materialize(record.outputs, into: out)
            }
            reports.append(report)
        }
        return Report(source: source, policy: policy, steps: reports)
    }

    // MARK: Real execution

    private func execute(_ record: RunRecord, into report: inout StepReport, executor: Executor, scratch: String) throws {
        guard let command = record.command else {
            report.status = .stubbed
            return
        }
        let lacking = record.inputs.filter { !blobs.verify($0.digest) }
        if !lacking.isEmpty {
            report.status = .missingResult
            report.missing = lacking.map { ($0.path, $0.digest) }
            report.message = "recorded inputs are missing, so the step cannot run"
            return
        }
        try materialize(record.inputs.map { OutputFile(path: $0.path, digest: $0.digest, size: 0, mode: 0o644) }, into: scratch)
        for output in record.outputs { unlink(scratch + "/" + output.path) }
        for path in record.outputs.map(\.path) + record.directories {
            try FileSystem.makeDirectories(scratch + "/" + Path.directory(of: path))
        }
        var env: [String: String] = ["PATH": Rebuilder.defaultPath, "LANG": "C.UTF-8", "TZ": "UTC"]
        if let home = environment["HOME"] { env["HOME"] = home }
        for (name, value) in record.env { env[name] = value }
        for secret in record.secrets { if let value = environment[secret.name] { env[secret.name] = value } }
        let logs = (stdout: try CommandLog(), stderr: try CommandLog())
        try executor.start(Invocation(id: 0, command: command, environment: env, workingDirectory: scratch, stdout: logs.stdout.fd,
                                      stderr: logs.stderr.fd, timeout: record.timeout))
        var ended: Termination?
        while ended == nil {
            switch try executor.waitAny() {
            case .completed(let completion): ended = completion.termination
            case .interrupted:
                executor.terminateAll()
                throw PipelineError(.interrupted, "replay interrupted")
            }
        }
        guard ended == .exited(0) else {
            report.status = .failed
            let tail = CommandLog.tail(logs.stderr.contents()).map { ": \($0)" } ?? ""
            report.message = "the command ended with \(ended.map { "\($0)" } ?? "?")\(tail)"
            return
        }
        let hasher = FileHasher()
        for output in record.outputs {
            let path = scratch + "/" + output.path
            if let target = output.linkTarget {
                var buffer = [CChar](repeating: 0, count: 4096)
                let n = readlink(path, &buffer, buffer.count - 1)
                let actual = n >= 0 ? String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) : nil
                if actual != target { report.changed.append((output.path, output.digest, SHA256.hash(actual ?? ""))) }
                continue
            }
            guard FileSystem.stat(path)?.kind == .file, let digest = try? hasher.sha256(path) else {
                report.missing.append((output.path, output.digest))
                continue
            }
            if digest != output.digest { report.changed.append((output.path, output.digest, digest)) }
        }
        report.status = report.changed.isEmpty && report.missing.isEmpty ? .reproduced : .differs
    }

    /// Writes recorded files under `folder` (temp file, rename), from the blobs.
    private func materialize(_ files: [OutputFile], into folder: String) throws {
        for file in files {
            let path = folder + "/" + file.path
            try FileSystem.makeDirectories(Path.directory(of: path))
            if let target = file.linkTarget {
                unlink(path)
                guard symlink(target, path) == 0 else { throw FileSystem.ioError("cannot create link", path) }
                continue
            }
            let temp = Materializer.temporaryName(for: path)
            let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode_t(file.mode & 0o777))
            guard fd >= 0 else { throw FileSystem.ioError("cannot write", path) }
            let ok: Bool
            do {
                ok = try blobs.copy(file.digest, to: fd, named: path)
            } catch {
                close(fd)
                unlink(temp)
                throw error
            }
            close(fd)
            guard ok, rename(temp, path) == 0 else {
                unlink(temp)
                throw PipelineError(.io, "cannot write \(file.path): its blob \(file.digest.hex) is missing or damaged", path: path)
            }
        }
    }
}
