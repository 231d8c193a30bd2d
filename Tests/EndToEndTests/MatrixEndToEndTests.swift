import Foundation
import XCTest

/// `matrix:` steps with the built binary: selection by name and partial combination, and
/// names with `[`, `=` and `,` everywhere a step name goes.
final class MatrixEndToEndTests: XCTestCase {
    private func writeMatrix(_ f: Fixture) {
        f.pipelinefile("""
        pipeline: 1
        steps:
          compile:
            matrix: { os: [linux, mac], level: [O0, O2] }
            run: mkdir -p build/${matrix.os}; echo ${matrix.os} ${matrix.level} > build/${matrix.os}/app-${matrix.level}; echo built ${matrix.os}; \(f.log("compile-${matrix.os}-${matrix.level}"))
            outputs: ["build/${matrix.os}/app-${matrix.level}"]
          package:
            matrix: { os: [linux, mac] }
            needs: ["compile[os=${matrix.os}]"]
            run: cat build/${matrix.os}/app-O0 build/${matrix.os}/app-O2 > build/${matrix.os}.txt; \(f.log("package-${matrix.os}"))
            outputs: ["build/${matrix.os}.txt"]
          all: { needs: [package] }
        """)
    }

    func testSelectionRunsTheChosenExpansions() throws {
        let f = try Fixture(self)
        writeMatrix(f)
        let list = f.run(["list"])
        assertExit(list, 0)
        XCTAssertEqual(list.stdoutLines.compactMap { $0.split(separator: " ").first.map(String.init) }, [
            "compile[os=linux,level=O0]", "compile[os=linux,level=O2]", "compile[os=mac,level=O0]", "compile[os=mac,level=O2]",
            "package[os=linux]", "package[os=mac]", "all",
        ])

        // A partial combination selects its subset; the base name selects every expansion.
        assertExit(f.run(["run", "compile[os=linux]"]), 0)
        XCTAssertEqual(f.logLines.sorted(), ["compile-linux-O0", "compile-linux-O2"])
        XCTAssertEqual(f.read("build/linux/app-O2"), "linux O2\n")
        assertExit(f.run(["run", "compile"]), 0)
        XCTAssertEqual(f.logLines.count, 4)
        XCTAssertEqual(Set(f.logLines.suffix(2)), ["compile-mac-O0", "compile-mac-O2"])
        let json = f.run(["run", "--json", "package[os=mac]"])
        assertExit(json, 0)
        XCTAssertEqual(JSONLines(json.stdout).steps("ran"), ["package[os=mac]"])
        XCTAssertEqual(Set(JSONLines(json.stdout).steps("up_to_date")), ["compile[os=mac,level=O0]", "compile[os=mac,level=O2]"])
        XCTAssertEqual(f.read("build/mac.txt"), "mac O0\nmac O2\n")

        let unknown = f.run(["run", "compile[os=win]"])
        assertExit(unknown, 6)
        assertContains(unknown.stderr, "no expansion of matrix step 'compile' matches 'compile[os=win]'")
    }

    func testMatrixNamesWorkInEveryCommand() throws {
        let f = try Fixture(self)
        writeMatrix(f)
        let run = f.run(["run", "all"])
        assertExit(run, 0)
        XCTAssertEqual(f.logLines.count, 6)
        let job = try XCTUnwrap(run.stderr.split(separator: "\n").first { $0.hasPrefix("job ") }.map { String($0.dropFirst(4)) }, run.transcript)

        let dot = f.run(["graph"])
        assertContains(dot.stdout, #""compile[os=linux,level=O0]" -> "package[os=linux]";"#)
        assertContains(dot.stdout, #""package[os=mac]" -> "all";"#)
        let mermaid = f.run(["graph", "--format", "mermaid", "--status"])
        assertContains(mermaid.stdout, #"s0["compile[os=linux,level=O0]<br/>up_to_date"]"#)
        let explain = f.run(["explain", "package[os=linux]"])
        assertExit(explain, 0)
        assertContains(explain.stdout, "package[os=linux]: now up to date")
        let many = f.run(["explain", "compile[level=O0]"])
        assertExit(many, 6)
        assertContains(many.stderr, "'compile[level=O0]' is 2 steps; explain one of them")
        assertContains(f.run(["explain", "build/mac.txt"]).stdout, "now up to date")
        XCTAssertEqual(f.run(["query", "deps", "package[os=mac]"]).stdoutLines, ["compile[os=mac,level=O0]", "compile[os=mac,level=O2]"])
        XCTAssertEqual(f.run(["query", "rdeps", "compile[level=O2]", "--direct"]).stdoutLines, ["package[os=linux]", "package[os=mac]"])

        let logs = f.run(["job", "logs", job, "compile[os=mac,level=O2]"])
        assertExit(logs, 0)
        assertContains(logs.stdout, "== compile[os=mac,level=O2]")
        assertContains(logs.stdout, "built mac")

        // Evidence: a run pack names its records after the steps; it verifies.
        let pack = f.run(["pack", "build", "--type", "run", "--from", job, "--out", f.outside, "--json"])
        assertExit(pack, 0)
        let path = try XCTUnwrap(JSONLines(pack.stdout).of("pipeline.pack_build").first?["path"] as? String, pack.transcript)
        assertExit(f.run(["pack", "verify", path]), 0)

        // Records are kept by name: changing one value reruns only its expansions.
        f.pipelinefile(f.read("Pipelinefile.yaml")!.replacingOccurrences(of: "level: [O0, O2]", with: "level: [O0, O3]")
            .replacingOccurrences(of: "app-O2 >", with: "app-O3 >"))
        assertExit(f.run(["run", "all"]), 0)
        XCTAssertEqual(Set(f.logLines.dropFirst(6)), ["compile-linux-O3", "compile-mac-O3", "package-linux", "package-mac"])
    }

    func testMatrixErrorsHaveALocation() throws {
        let f = try Fixture(self)
        f.pipelinefile("""
        pipeline: 1
        steps:
          compile:
            matrix: { os: [linux, mac] }
            run: echo ${matrix.oss}
        """)
        let result = f.run(["run"])
        assertExit(result, 6)
        assertContains(result.stderr, "Pipelinefile.yaml:5:10: unknown matrix axis 'oss' in '${matrix.oss}' (did you mean 'os'?)")
        f.pipelinefile("pipeline: 1\nsteps:\n  a:\n    run: echo ${matrix.os}\n")
        let outside = f.run(["run"])
        assertExit(outside, 6)
        assertContains(outside.stderr, "Pipelinefile.yaml:4:10: '${matrix.os}' is only defined in a step with 'matrix:'")
    }
}
