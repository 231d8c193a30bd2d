import Glibc
import XCTest

@testable import Pipeline

final class WatchSetTests: XCTestCase {
    private func makeSet(_ ws: TestWorkspace, store: String? = nil) throws -> WatchSet {
        let compile = Step(name: "compile", action: .run(.shell("cc")), inputs: ["src/**/*.c", "include/*.h", "config.txt", "assets"],
                           outputs: ["build/main.o", "gen"])
        let link = Step(name: "link", action: .run(.shell("ld")), needs: ["compile"], outputs: ["build/app"])
        let other = Step(name: "other", action: .run(.shell("x")), inputs: ["docs/*.md"])
        let graph = try Graph(steps: [compile, link, other])
        let workspace = Workspace(root: ws.root, pipelinefile: ws.path("Pipelinefile.yaml"), displayPath: "Pipelinefile.yaml",
                                  storePath: store ?? ws.path(".pipeline"))
        return WatchSet(workspace: workspace, graph: graph, selected: [0, 1])
    }

    func testInputsAndThePipelinefileCountButNotOutputsTheStoreOrTemporaries() throws {
        let ws = TestWorkspace()
        ws.write("assets/logo.png", "x")
        let set = try makeSet(ws, store: ws.path("cache"))
        let counts = { (path: String) in set.isTrigger(ws.path(path), isDirectory: false) }
        XCTAssertTrue(counts("Pipelinefile.yaml"))
        XCTAssertTrue(counts("src/main.c"))
        XCTAssertTrue(counts("src/deep/er/x.c"))
        XCTAssertTrue(counts("include/a.h"))
        XCTAssertTrue(counts("config.txt"))
        XCTAssertTrue(counts("assets/icons/new.png"), "a folder input counts whole")
        XCTAssertFalse(counts("assets/.DS_Store"))
        XCTAssertFalse(counts("include/sub/a.h"), "include/*.h stays in one folder")
        XCTAssertFalse(counts("src/notes.txt"))
        XCTAssertFalse(counts("src/.main.c.swp"), "dotfiles only when named")
        XCTAssertFalse(counts("src/.main.c.tmp-123-456"))
        XCTAssertFalse(counts("docs/a.md"), "a step that is not selected")
        XCTAssertFalse(counts("build/app"), "outputs are the build's own writes")
        XCTAssertFalse(counts("gen/x.c"), "below an output folder")
        XCTAssertFalse(counts("cache/cas/ab"), "the store")
        XCTAssertFalse(set.isTrigger("/elsewhere/src/main.c", isDirectory: false))
    }

    func testFoldersSkipTheStoreOutputsAndDotFolders() throws {
        let ws = TestWorkspace()
        for path in ["src/a.c", "src/lib/b.c", "src/.git/c.c", "include/a.h", "assets/x/y.png", ".pipeline/cas/z"] { ws.write(path, "x") }
        try FileSystem.makeDirectories(ws.path("src/build"))
        let set = try makeSet(ws)
        XCTAssertEqual(set.folders(), Set([ws.root, ws.path("src"), ws.path("src/lib"), ws.path("src/build"), ws.path("include"),
                                           ws.path("assets"), ws.path("assets/x")]))
    }

    func testAMissingRootIsWatchedThroughItsParentAndItsCreationCounts() throws {
        let ws = TestWorkspace()
        let set = try makeSet(ws)
        XCTAssertFalse(set.folders().contains(ws.path("src")))
        XCTAssertTrue(set.folders().contains(ws.root))
        try FileSystem.makeDirectories(ws.path("src"))
        XCTAssertTrue(set.isTriggerFolder(ws.path("src")), "the folder a glob starts in appeared")
        XCTAssertEqual(set.folders(below: ws.path("src")), [ws.path("src")])
    }

    func testAFolderThatAppearsCountsOnlyWhenItBringsInputs() throws {
        let ws = TestWorkspace()
        ws.write("src/a.c", "x")
        ws.write("src/empty/readme.txt", "x")
        ws.write("src/moved/deep/b.c", "x")
        let set = try makeSet(ws)
        XCTAssertFalse(set.isTriggerFolder(ws.path("src/empty")))
        XCTAssertTrue(set.isTriggerFolder(ws.path("src/moved")))
        XCTAssertEqual(set.folders(below: ws.path("src/moved")), [ws.path("src/moved"), ws.path("src/moved/deep")])
        XCTAssertFalse(set.isTriggerFolder(ws.path("docs")), "not where inputs are looked for")
    }
}
