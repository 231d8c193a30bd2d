import Foundation
import XCTest

/// Bad input: the exit status and the message.
final class ErrorPathTests: XCTestCase {
    func testUnknownKeyIsReportedWithItsLocation() throws {
        let f = try Fixture(self)
        f.write("src/a.txt", "a\n")
        f.pipelinefile("""
        pipeline: 1
        steps:
          compile:
            run: cp src/a.txt out/a.txt
            inputs: [src/a.txt]
            ouputs: [out/a.txt]
        """)
        let result = f.run(["run"])
        assertExit(result, 6)
        assertContains(result.stderr, "Pipelinefile.yaml:6:5:")
        assertContains(result.stderr, "ouputs")
        assertContains(result.stderr, "did you mean 'outputs'")
        XCTAssertEqual(result.stdout, "")
    }

    /// Found by fuzzing: 64,000 nested `[` took libyaml 30 s and then overflowed the stack
    /// (SIGSEGV). Now refused at once, where the nesting passes 128 levels.
    func testDeeplyNestedYAMLIsRefusedQuicklyWithItsLocation() throws {
        let f = try Fixture(self)
        let depth = 64_000
        f.pipelinefile("pipeline: 1\nsteps:\n  s:\n    use: capture\n    with: " + String(repeating: "[", count: depth)
            + String(repeating: "]", count: depth) + "\n")
        let result = f.run(["graph"])
        assertExit(result, 6)
        assertContains(result.stderr, "Pipelinefile.yaml:5:136: nesting deeper than 128 levels")
    }

    func testUnknownTargetSuggestsTheNearestStep() throws {
        let f = try Fixture(self)
        f.pipelinefile("""
        pipeline: 1
        steps:
          compile:
            run: \(f.log("compile"))
        """)
        let result = f.run(["run", "compil"])
        assertExit(result, 6)
        assertContains(result.stderr, "compil")
        assertContains(result.stderr, "did you mean 'compile'")
        XCTAssertEqual(f.logLines, [])

        let forced = f.run(["run", "--force", "compiel"])
        assertExit(forced, 6)
        assertContains(forced.stderr, "did you mean 'compile'")
    }

    func testMissingLiteralInputThatNoStepProducesIsExit7() throws {
        let f = try Fixture(self)
        f.pipelinefile("""
        pipeline: 1
        steps:
          reader:
            run: cat src/missing.txt; \(f.log("reader"))
            inputs: [src/missing.txt]
        """)
        let result = f.run(["run"])
        assertExit(result, 7)
        assertContains(result.stderr, "src/missing.txt")
        XCTAssertEqual(f.logLines, [])
    }

    func testAGlobThatMatchesNothingIsAnEmptySet() throws {
        let f = try Fixture(self)
        f.pipelinefile("""
        pipeline: 1
        steps:
          reader:
            run: \(f.log("reader"))
            inputs: [src/**/*.c]
        """)
        assertExit(f.run(["run"]), 0)
        XCTAssertEqual(f.logLines, ["reader"])
    }

    func testProgramNotFoundIsExit7() throws {
        let f = try Fixture(self)
        f.pipelinefile("""
        pipeline: 1
        steps:
          shell:
            run: no-such-program-xyz --flag
          direct:
            run: [no-such-program-xyz, --flag]
        """)
        let shell = f.run(["run", "shell"])
        assertExit(shell, 7)
        assertContains(shell.stderr, "FAILED: shell")
        assertContains(shell.stderr, "no-such-program-xyz")

        let direct = f.run(["run", "direct"])
        assertExit(direct, 7)
        assertContains(direct.stderr, "FAILED: direct")
        assertContains(direct.stderr, "no-such-program-xyz")
    }

    func testCleanWithoutYesOffATerminalIsRefused() throws {
        let f = try Fixture(self)
        f.writeChain()
        assertExit(f.run(["run"]), 0)
        let result = f.run(["clean"], stdin: "/dev/null")
        assertExit(result, 8)
        assertContains(result.stderr, "--yes")
        XCTAssertTrue(f.exists("out/a.out"), "clean removed outputs without confirmation")

        let store = f.run(["clean", "--store"], stdin: "/dev/null")
        assertExit(store, 8)
        XCTAssertTrue(f.exists(".pipeline/format"), "clean --store removed the store without confirmation")
    }

    func testDependencyCycleIsNamed() throws {
        let f = try Fixture(self)
        f.pipelinefile("""
        pipeline: 1
        steps:
          a:
            run: echo a
            needs: [b]
          b:
            run: echo b
            needs: [a]
        """)
        let result = f.run(["run"])
        assertExit(result, 6)
        assertContains(result.stderr, "a → b → a")
    }

    func testBadFlagsAreUsageErrors() throws {
        let f = try Fixture(self)
        f.writeChain()
        assertExit(f.run(["run", "-j", "0"]), 6)
        assertExit(f.run(["run", "--no-such-flag"]), 6)
        assertExit(f.run(["graph", "--format", "png"]), 6)
        XCTAssertEqual(f.logLines, [])
    }

    func testNoPipelinefileIsInvalidInput() throws {
        let f = try Fixture(self)
        let result = f.run(["run"], in: f.outside)
        assertExit(result, 6)
        assertContains(result.stderr, "Pipelinefile.yaml")
    }

    func testNewerStoreFormatIsRefusedWithAWayOut() throws {
        let f = try Fixture(self)
        f.writeChain()
        assertExit(f.run(["run"]), 0)
        let built = f.tree()
        f.write(".pipeline/format", "pipeline-store 99\n")

        let result = f.run(["run"])
        XCTAssertNotEqual(result.status, 0, result.transcript)
        assertContains(result.stderr, "format")
        assertContains(result.stderr, "99")
        assertContains(result.stderr, "pipeline clean --store")
        XCTAssertEqual(f.tree(excluding: []).filter { !$0.key.hasPrefix(".pipeline") }, built, "outputs changed")
        XCTAssertEqual(f.read(".pipeline/format"), "pipeline-store 99\n", "the store's format file was rewritten")

        let json = f.run(["run", "--json"])
        XCTAssertEqual(json.status, result.status)
        XCTAssertEqual(JSONLines(json.stdout).of("pipeline.error").last?["error_code"] as? String, "store_format", json.transcript)
    }
}
