import Foundation
import XCTest

/// `schemas/pipelinefile.schema.json` (printed by `pipeline schema`) accepts every real
/// Pipelinefile of the repository and the test fixtures, and rejects structurally invalid
/// ones. Checked with Python's jsonschema and PyYAML, as an editor's YAML server would.
final class PipelinefileSchemaTests: XCTestCase {
    static let repository = PipelineBinary.directory(of: PipelineBinary.directory(of: PipelineBinary.directory(of: #filePath)))

    func check(_ documents: [(name: String, yaml: String, valid: Bool)], schema: String) throws {
        let f = try Fixture(self)
        var cases: [[String: Any]] = []
        for (index, document) in documents.enumerated() {
            let path = f.outside + "/case\(index).yaml"
            try document.yaml.write(toFile: path, atomically: true, encoding: .utf8)
            cases.append(["name": document.name, "path": path, "valid": document.valid])
        }
        let list = f.outside + "/cases.json"
        try JSONSerialization.data(withJSONObject: cases).write(to: URL(fileURLWithPath: list))
        let script = """
            import json, sys
            try:
                import jsonschema, yaml
            except ImportError:
                sys.exit(77)
            schema = json.load(open(sys.argv[1]))
            bad = 0
            for case in json.load(open(sys.argv[2])):
                document = yaml.safe_load(open(case["path"]))
                errors = list(jsonschema.Draft202012Validator(schema).iter_errors(document))
                if bool(errors) == case["valid"]:
                    bad += 1
                    print("MISMATCH", case["name"], "expected", "valid" if case["valid"] else "invalid", [e.message for e in errors][:3])
            sys.exit(1 if bad else 0)
            """
        let run = try SpawnedProcess(executable: "/usr/bin/env", arguments: ["python3", "-c", script, schema, list], directory: "/",
                                     environment: ProcessInfo.processInfo.environment).wait()
        if run.status == 77 { throw XCTSkip("python3 with jsonschema and PyYAML is not installed") }
        XCTAssertEqual(run.status, 0, run.transcript)
    }

    func testTheSchemaAcceptsRealPipelinefilesAndRejectsMalformedOnes() throws {
        let f = try Fixture(self)
        let printed = f.run(["schema"])
        assertExit(printed, 0)
        let schemaPath = f.outside + "/pipelinefile.schema.json"
        try printed.stdout.write(toFile: schemaPath, atomically: true, encoding: .utf8)
        XCTAssertEqual(printed.stdout, try String(contentsOfFile: Self.repository + "/schemas/pipelinefile.schema.json", encoding: .utf8),
                       "pipeline schema prints the shipped file")
        var documents: [(name: String, yaml: String, valid: Bool)] = []
        for path in ["Pipelinefile.yaml", "examples/c-hello/Pipelinefile.yaml", "examples/text-report/Pipelinefile.yaml",
                     "examples/c-depfile/Pipelinefile.yaml"] {
            documents.append((path, try String(contentsOfFile: Self.repository + "/" + path, encoding: .utf8), true))
        }
        f.writeChain()
        documents.append(("the chain fixture", f.read("Pipelinefile.yaml") ?? "", true))
        try FileManager.default.createDirectory(atPath: f.outside + "/starter", withIntermediateDirectories: true)
        assertExit(f.run(["init", "-C", f.outside + "/starter"]), 0)
        documents.append(("pipeline init's starter", try String(contentsOfFile: f.outside + "/starter/Pipelinefile.yaml", encoding: .utf8), true))
        documents.append(("rules, env, secrets, retention, cache", """
            pipeline: 1
            vars: { out: build, level: 2 }
            env: [CC]
            default: [all]
            retention: { keep_jobs: 20, ttl: 30d, max_size: 10GiB }
            cache: { remote: "http://cache:8080/pipeline", read_only: true }
            steps:
              app: { run: [cc, -o, app, main.c], inputs: main.c, outputs: [app], timeout: 5m, env: { DEBUG: 1 }, secrets: [TOKEN] }
              release: { needs: [app], use: pack, with: { type: run, out: dist } }
              all: { needs: [release] }
            """, true))
        documents.append(("pools and matrix", """
            pipeline: 1
            pools: { link: 1 }
            steps:
              compile: { matrix: { os: [linux, mac], level: [O0, 2] }, run: "cc -${matrix.level}", outputs: ["o/${matrix.os}-${matrix.level}"] }
              link: { needs: [compile], run: ld, pool: link }
            """, true))
        documents.append(("empty matrix axis", "pipeline: 1\nsteps:\n  a: { matrix: { os: [] }, run: x }\n", false))
        documents.append(("matrix value with a space", "pipeline: 1\nsteps:\n  a: { matrix: { os: [a b] }, run: x }\n", false))
        documents.append(("pool depth 0", "pipeline: 1\npools: { link: 0 }\nsteps:\n  a: { run: x }\n", false))
        documents.append(("missing pipeline:", "steps:\n  a: { run: x }\n", false))
        documents.append(("unknown top-level key", "pipeline: 1\nstpes: {}\nsteps:\n  a: { run: x }\n", false))
        documents.append(("unknown step key", "pipeline: 1\nsteps:\n  a: { rn: x }\n", false))
        documents.append(("wrong type", "pipeline: 1\nsteps:\n  a: { run: x, needs: 3 }\n", false))
        documents.append(("run and use", "pipeline: 1\nsteps:\n  a: { run: x, use: pack }\n", false))
        documents.append(("with without use", "pipeline: 1\nsteps:\n  a: { run: x, with: { a: 1 } }\n", false))
        documents.append(("bad step name", "pipeline: 1\nsteps:\n  9lives: { run: x }\n", false))
        documents.append(("unknown rule", "pipeline: 1\nsteps:\n  a: { use: pakc }\n", false))
        documents.append(("depfile without run", "pipeline: 1\nsteps:\n  a: { use: pack, depfile: a.d }\n", false))
        documents.append(("depfile not a path", "pipeline: 1\nsteps:\n  a: { run: x, depfile: [a.d] }\n", false))
        documents.append(("version 2", "pipeline: 2\nsteps:\n  a: { run: x }\n", false))
        try check(documents, schema: schemaPath)
    }
}

/// `pipeline init`: a starter that runs, validates against the schema, and never replaces.
final class InitCommandTests: XCTestCase {
    func testInitWritesAStarterThatRunsAndRefusesToReplaceIt() throws {
        let f = try Fixture(self)
        assertExit(f.run(["init"]), 0)
        let first = f.run(["run", "--json"])
        assertExit(first, 0)
        XCTAssertEqual(JSONLines(first.stdout).count("ran"), 2, first.transcript)
        XCTAssertEqual(f.read("build/hello.txt"), "hello from pipeline\n")
        f.write("Pipelinefile.yaml", "pipeline: 1\nsteps:\n  mine: { run: 'true' }\n")
        assertExit(f.run(["init"]), 8)
        XCTAssertEqual(f.read("Pipelinefile.yaml"), "pipeline: 1\nsteps:\n  mine: { run: 'true' }\n", "nothing the user wrote is lost")
        assertExit(f.run(["init", "--force"]), 0)
        assertContains(f.read("Pipelinefile.yaml") ?? "", "yaml-language-server")
        let completion = f.run(["--generate-completion-script", "bash"])
        assertExit(completion, 0)
        assertContains(completion.stdout, "pipeline")
    }
}
