import ArgumentParser
import Pipeline

struct PackCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pack", abstract: "Build, verify, inspect and compare evidence packs (PackSpec v1).",
        subcommands: [PackBuild.self, PackVerify.self, PackInspect.self, PackDiffCommand.self])
}

struct PackBuild: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "build", abstract: "Pack a job's evidence into pack_<pack_id>.zip.")

    @OptionGroup var workspaceOptions: WorkspaceOptions

    @Option(help: "run (the run records and every blob they name) or job (state and event log).")
    var type: String

    @Option(help: "A job id, or the path of a job folder (<store>/jobs/<id>).")
    var from: String

    @Option(help: "Folder to write the pack into (default: the current one).")
    var out: String = "."

    @Flag(help: "Sign the manifest (Ed25519) with --private-key or --private-key-env.")
    var sign = false

    @Option(help: "Private key file (one line of base64).")
    var privateKey: String?

    @Option(help: "Environment variable holding the private key (base64).")
    var privateKeyEnv: String?

    func run() throws {
        guard let packType = PackManifest.PackType(rawValue: type) else {
            throw PipelineError(.invalidInput, "--type must be run or job, not '\(type)'")
        }
        let environment = Output.environment
        let key = try KeyArguments.signingKey(file: privateKey, variable: privateKeyEnv, environment: environment)
        if sign && key == nil { throw PipelineError(.invalidInput, "--sign needs --private-key FILE or --private-key-env VAR") }
        if !sign && key != nil { throw PipelineError(.invalidInput, "a private key was given without --sign") }
        let storePath = try? workspaceOptions.storePath(environment)
        let source = try PackSource.resolve(from, storePath: storePath)
        let output = try source.build(packType, into: Path.join(FileSystem.currentDirectory(), out), signingKey: key)
        if workspaceOptions.json {
            Output.line(JSON.object([
                "schema_id": "pipeline.pack_build", "schema_version": "1.0.0", "path": .string(output.path),
                "pack_id": .string(output.manifest.packID), "pack_type": .string(packType.rawValue),
                "source_ref": .string(output.manifest.sourceRef), "entries": .int(Int64(output.manifest.contents.count + 1)),
                "signed": .bool(!output.manifest.signatures.isEmpty),
            ]).canonicalString)
        } else {
            Output.line(output.path)
        }
    }
}

struct PackVerify: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify", abstract: "Check a pack offline: schema, digests, entries, pack id, payload, signatures.",
        discussion: "Exit 0: verified. Exit 2: verification failed. Exit 6: not a readable pack.")

    @Argument(help: "The pack (a .zip).")
    var file: String

    @Option(help: "standard, or strict (a verified signature required; unknown manifest fields refused).")
    var profile: String = "standard"

    @Flag(help: "Fail unless a signature verifies.")
    var requireSignature = false

    @Option(help: "Public key file to check signatures with.")
    var publicKey: String?

    @Option(help: "Environment variable holding the public key (base64).")
    var publicKeyEnv: String?

    @Option(help: "Refuse an entry larger than this (a zip bomb guard; like 512M or 8GiB; default 8GiB).")
    var maxEntrySize: String?

    @Option(help: "Refuse a pack holding more than this in all (default 64GiB).")
    var maxTotalSize: String?

    @Option(help: "Refuse a pack with more entries than this (default 100000).")
    var maxEntries: Int?

    @Option(help: "Refuse a pack whose entries declare more than this many times its size (default 100; 16MiB always allowed).")
    var maxRatio: UInt64?

    @Flag(help: "Print the report as one JSON line on stdout.")
    var json = false

    func run() throws {
        guard let profile = PackVerifier.Profile(rawValue: profile) else {
            throw PipelineError(.invalidInput, "--profile must be standard or strict, not '\(self.profile)'")
        }
        let key = try KeyArguments.publicKey(file: publicKey, variable: publicKeyEnv, environment: Output.environment)
        func size(_ text: String?, _ flag: String, default value: UInt64) throws -> UInt64 {
            guard let text else { return value }
            guard let bytes = ByteCount.parse(text), bytes > 0 else {
                throw PipelineError(.invalidInput, "\(flag) takes a size like 512M or 8GiB, not '\(text)'")
            }
            return bytes
        }
        var limits = ZipLimits()
        limits.maxEntrySize = try size(maxEntrySize, "--max-entry-size", default: limits.maxEntrySize)
        limits.maxTotalSize = try size(maxTotalSize, "--max-total-size", default: limits.maxTotalSize)
        if let maxEntries {
            guard maxEntries > 0 else { throw PipelineError(.invalidInput, "--max-entries takes a positive count, not \(maxEntries)") }
            limits.maxEntries = maxEntries
        }
        if let maxRatio {
            guard maxRatio > 0 else { throw PipelineError(.invalidInput, "--max-ratio takes a positive number, not \(maxRatio)") }
            limits.maxRatio = maxRatio
        }
        let verifier = PackVerifier(profile: profile, requireSignature: requireSignature, publicKey: key, limits: limits)
        let report = try verifier.verify(file)
        if json {
            Output.line(report.json.canonicalString)
        } else {
            let kind = report.packType.map { "\($0) pack" } ?? "pack"
            let signature = report.signature == .verified ? "signature verified (key \(report.keyID ?? "?"))" : "signature \(report.signature.rawValue)"
            if report.ok {
                Output.line("\(file): ok (\(kind) \(report.packID ?? "?"), \(report.entries) entries, \(signature))")
            } else {
                Output.error("\(file): FAILED verification (\(kind), \(signature))")
                for problem in report.problems { Output.error("  \(problem.code): \(problem.message)") }
            }
        }
        if !report.ok {
            let first = report.problems[0]
            let error = PipelineError(.verificationFailed, "\(file): \(report.problems.count) problem(s); first: \(first.message)", path: file)
            if json { ErrorReport.print(error, json: true) }
            throw CommandExit(status: ExitStatus.verificationFailed)
        }
    }
}

struct PackInspect: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "inspect", abstract: "A normalized summary and timeline of a pack.")

    @Argument(help: "The pack (a .zip).")
    var file: String

    @Flag(help: "Print the summary as one JSON line on stdout.")
    var json = false

    func run() throws {
        let summary = try PackInspector.inspect(file)
        if json {
            Output.line(summary.canonicalString)
            return
        }
        Output.line("pack \(summary["pack_id"]?.stringValue ?? "?")")
        Output.line("  type       \(summary["pack_type"]?.stringValue ?? "?")")
        Output.line("  source     \(summary["source_ref"]?.stringValue ?? "?")")
        Output.line("  producer   \(summary["producer_version"]?.stringValue ?? "?")")
        let signers = (summary["signatures"]?.arrayValue ?? []).compactMap(\.stringValue)
        Output.line("  signed by  \(signers.isEmpty ? "(unsigned)" : signers.joined(separator: ", "))")
        Output.line("  entries    \(summary["entries"]?.intValue ?? 0) (\(summary["bytes"]?.intValue ?? 0) bytes)")
        for (type, value) in (summary["by_type"]?.objectValue ?? [:]).sorted(by: { $0.key < $1.key }) {
            Output.line("    \(type.padding(12)) \(value["count"]?.intValue ?? 0) files, \(value["bytes"]?.intValue ?? 0) bytes")
        }
        for item in summary["timeline"]?.arrayValue ?? [] {
            if let step = item["step"]?.stringValue {
                let exit = item["exit_code"]?.intValue.map { " exit \($0)" } ?? ""
                Output.line("  \(item["at"]?.stringValue ?? "")  \(step)  \(item["status"]?.stringValue ?? "")\(exit)")
            } else {
                var line = "  \(item["at"]?.stringValue ?? "")  #\(item["seq"]?.intValue ?? 0) \(item["type"]?.stringValue ?? "")"
                if let status = item["status"]?.stringValue { line += " → \(status)" }
                if let checkpoint = item["checkpoint"]?.stringValue { line += " \(checkpoint) \(item["kind"]?.stringValue ?? ""): \(item["summary"]?.stringValue ?? "")" }
                Output.line(line)
            }
        }
    }
}

struct PackDiffCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff", abstract: "What differs between two packs.", discussion: "Exit 0: same. Exit 2: different. Exit 6: not a readable pack.")

    @Argument(help: "The first pack.")
    var a: String

    @Argument(help: "The second pack.")
    var b: String

    @Flag(help: "Print the difference as one JSON line on stdout.")
    var json = false

    func run() throws {
        let diff = try PackDiff.compare(a, b)
        if json {
            Output.line(diff.json.canonicalString)
        } else if diff.same {
            Output.line("same: \(diff.a["pack_id"]?.stringValue ?? "")")
        } else {
            for file in diff.added { Output.line("+ \(file.path)  \(file.sha256)") }
            for file in diff.removed { Output.line("- \(file.path)  \(file.sha256)") }
            for change in diff.changed { Output.line("~ \(change.path)  \(change.a) → \(change.b)") }
            for field in diff.manifest { Output.line("~ manifest.\(field.field): \(field.a.canonicalString) → \(field.b.canonicalString)") }
        }
        if !diff.same { throw CommandExit(status: ExitStatus.verificationFailed) }
    }
}
