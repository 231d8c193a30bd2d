import XCTest

@testable import Pipeline

final class GlobTests: XCTestCase {
    func testMatching() {
        XCTAssertTrue(Glob("src/*.c").matches("src/a.c"))
        XCTAssertFalse(Glob("src/*.c").matches("src/sub/a.c"))
        XCTAssertTrue(Glob("src/**/*.c").matches("src/a.c"))
        XCTAssertTrue(Glob("src/**/*.c").matches("src/x/y/a.c"))
        XCTAssertTrue(Glob("a?.txt").matches("ab.txt"))
        XCTAssertTrue(Glob("[ab]*.md").matches("b1.md"))
        XCTAssertFalse(Glob("[!ab]*.md").matches("b1.md"))
        XCTAssertFalse(Glob("*.c").matches(".hidden.c"), "dotfiles only when named")
        XCTAssertTrue(Glob(".*.c").matches(".hidden.c"))
        XCTAssertFalse(Glob("**/*.c").matches(".git/a.c"))
    }

    func testExpansionIsSortedAndSkipsTheStore() throws {
        let ws = TestWorkspace()
        for path in ["src/b.c", "src/a.c", "src/x/c.c", "src/.hidden.c", ".pipeline/cas/z.c", "src/notes.txt"] { ws.write(path, "x") }
        let rebuilder = InputResolver(root: ws.root, statCache: StatCache(path: nil))
        XCTAssertEqual(rebuilder.expand(Glob("src/**/*.c")), ["src/a.c", "src/b.c", "src/x/c.c"])
        XCTAssertEqual(rebuilder.expand(Glob("**/*.c")), ["src/a.c", "src/b.c", "src/x/c.c"])
        XCTAssertEqual(rebuilder.expand(Glob("src/*")), ["src/a.c", "src/b.c", "src/notes.txt"])
        XCTAssertEqual(rebuilder.expand(Glob("nothing/*.c")), [])
    }
}
