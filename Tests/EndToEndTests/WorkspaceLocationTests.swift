import Foundation
import XCTest

/// Where the Pipelinefile and the store are found.
final class WorkspaceLocationTests: XCTestCase {
    func testThePipelinefileIsFoundFromASubdirectory() throws {
        let f = try Fixture(self)
        f.writeChain()
        f.write("sub/deeper/keep.txt", "")

        let result = f.run(["run"], in: f.root + "/sub/deeper")
        assertExit(result, 0)
        XCTAssertEqual(f.logLines.count, 4)
        XCTAssertEqual(f.read("out/b.out"), "b-HELLO\nb-WORLD\n")
        XCTAssertFalse(f.exists("sub/deeper/out"), "commands ran in the subdirectory")
        XCTAssertTrue(f.exists(".pipeline/format"))
        XCTAssertFalse(f.exists("sub/deeper/.pipeline"), "the store was put in the current directory")

        // -C from outside the workspace: the same workspace and store.
        let other = f.run(["run", "-C", f.root], in: f.outside)
        assertExit(other, 0)
        assertContains(other.stdout, "no work to do")
        let relative = f.run(["run", "-C", "../ws"], in: f.outside)
        assertExit(relative, 0)
        assertContains(relative.stdout, "no work to do")
        XCTAssertFalse(FileManager.default.fileExists(atPath: f.outside + "/.pipeline"))
    }

    func testFileOptionPicksAnotherPipelinefile() throws {
        let f = try Fixture(self)
        f.writeChain()
        f.pipelinefile("""
        pipeline: 1
        steps:
          alternative:
            run: echo alt > out/alt.txt; \(f.log("alternative"))
            outputs: [out/alt.txt]
        """, name: "ci/build.yaml")

        let result = f.run(["run", "-f", "ci/build.yaml"])
        assertExit(result, 0)
        XCTAssertEqual(f.logLines, ["alternative"])
        XCTAssertEqual(f.read("ci/out/alt.txt"), "alt\n", "commands run beside the Pipelinefile")
        XCTAssertFalse(f.exists("out/a.out"), "the default Pipelinefile was used")

        let fromOutside = f.run(["run", "-C", f.root, "-f", "ci/build.yaml"], in: f.outside)
        assertExit(fromOutside, 0)
        assertContains(fromOutside.stdout, "no work to do")

        let missing = f.run(["run", "-f", "ci/nope.yaml"])
        assertExit(missing, 6)
        assertContains(missing.stderr, "ci/nope.yaml")
    }

    func testStoreOptionPutsTheStoreElsewhere() throws {
        let f = try Fixture(self)
        f.writeChain()
        let store = f.outside + "/store"
        let result = f.run(["run", "--store", store])
        assertExit(result, 0)
        XCTAssertTrue(FileManager.default.fileExists(atPath: store + "/format"), "no store at \(store)")
        XCTAssertFalse(f.exists(".pipeline"), "a store was made in the workspace too")
        XCTAssertEqual(f.actionResults(store: store).count, 4)

        let again = f.run(["run", "--store", store])
        assertExit(again, 0)
        assertContains(again.stdout, "no work to do")
        XCTAssertFalse(f.exists(".pipeline"))
    }

    func testStoreEnvironmentVariablePutsTheStoreElsewhere() throws {
        let f = try Fixture(self)
        f.writeChain()
        let store = f.outside + "/env-store"
        let result = f.run(["run"], environment: ["PIPELINE_STORE": store])
        assertExit(result, 0)
        XCTAssertTrue(FileManager.default.fileExists(atPath: store + "/format"), "no store at \(store)")
        XCTAssertFalse(f.exists(".pipeline"), "a store was made in the workspace too")

        // The option wins over the variable.
        let option = f.outside + "/option-store"
        assertExit(f.run(["run", "--store", option], environment: ["PIPELINE_STORE": store]), 0)
        XCTAssertTrue(FileManager.default.fileExists(atPath: option + "/format"))
        XCTAssertFalse(f.exists(".pipeline"))
    }

    /// Two checkouts of the same project share one store: the second restores, runs nothing.
    func testTwoWorkspacesShareOneStore() throws {
        let f = try Fixture(self)
        f.writeChain()
        let twin = f.base + "/twin"
        try FileManager.default.createDirectory(atPath: twin, withIntermediateDirectories: true)
        for file in ["Pipelinefile.yaml", "src/in.txt", "src/other.txt"] {
            try FileManager.default.createDirectory(atPath: PipelineBinary.directory(of: twin + "/" + file), withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: f.path(file), toPath: twin + "/" + file)
        }
        let store = f.outside + "/shared"
        assertExit(f.run(["run"], environment: ["PIPELINE_STORE": store]), 0)
        XCTAssertEqual(f.logLines.count, 4)

        let second = f.run(["run", "--json"], in: twin, environment: ["PIPELINE_STORE": store])
        assertExit(second, 0)
        XCTAssertEqual(f.logLines.count, 4, "the twin workspace ran commands instead of restoring")
        XCTAssertEqual(Set(JSONLines(second.stdout).steps("restored")), ["a", "b", "c", "other"])
        XCTAssertEqual(try String(contentsOfFile: twin + "/out/b.out", encoding: .utf8), f.read("out/b.out"))
    }
}
