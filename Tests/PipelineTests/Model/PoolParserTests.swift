import XCTest

@testable import Pipeline

/// `pools:` and `pool:` in the Pipelinefile, and their trip through the plan cache.
final class PoolParserTests: XCTestCase {
    func assertError(_ text: String, line: Int, column: Int, contains: String, file: StaticString = #filePath, testLine: UInt = #line) {
        guard let error = parseError(text, file: file, line: testLine) else { return }
        XCTAssertEqual(error.code, .invalidInput, "\(error)", file: file, line: testLine)
        XCTAssertEqual(error.location?.line, line, "\(error)", file: file, line: testLine)
        XCTAssertEqual(error.location?.column, column, "\(error)", file: file, line: testLine)
        XCTAssertTrue(error.description.contains(contains), "\(error.description) lacks \(contains)", file: file, line: testLine)
    }

    func testPoolsAndTheirSteps() throws {
        let file = try parse("""
            pipeline: 1
            pools: { link: 1, heavy: 3 }
            steps:
              app: { run: ld, pool: link }
              test: { run: t, pool: heavy }
              docs: { run: d }
            """)
        XCTAssertEqual(file.pools, ["link": 1, "heavy": 3])
        XCTAssertEqual(file.steps.map(\.pool), [Pool(name: "link", depth: 1), Pool(name: "heavy", depth: 3), nil])
    }

    func testPoolErrors() {
        assertError("pipeline: 1\npools: { link: 1 }\nsteps:\n  app:\n    run: ld\n    pool: lnk\n", line: 6, column: 11,
                    contains: "unknown pool 'lnk' in step 'app' (did you mean 'link'?)")
        assertError("pipeline: 1\nsteps:\n  app:\n    run: ld\n    pool: link\n", line: 5, column: 11, contains: "unknown pool 'link' in step 'app'")
        assertError("pipeline: 1\npools: { link: 0 }\nsteps: {}\n", line: 2, column: 16, contains: "the depth of pool 'link' must be a whole number of at least 1")
        assertError("pipeline: 1\npools: { link: two }\nsteps: {}\n", line: 2, column: 16, contains: "found 'two'")
        assertError("pipeline: 1\npools: { link: [1] }\nsteps: {}\n", line: 2, column: 16, contains: "found a list")
        assertError("pipeline: 1\npools: { link: 1, link: 2 }\nsteps: {}\n", line: 2, column: 19, contains: "duplicate pool 'link'")
        assertError("pipeline: 1\npools: { 'a b': 1 }\nsteps: {}\n", line: 2, column: 10, contains: "invalid pool name 'a b'")
        assertError("pipeline: 1\npools: { link: 1 }\nsteps:\n  app: { run: ld, pool: [link] }\n", line: 4, column: 25, contains: "must be a pool name")
    }

    func testThePlanCacheKeepsPools() throws {
        let ws = TestWorkspace()
        let text = "pipeline: 1\npools: { link: 2 }\nsteps:\n  app: { run: ld, pool: link }\n  docs: { run: d }\n"
        let (file, graph) = try PipelinefileParser().parseWithGraph(bytes: Array(text.utf8))
        try PlanCache.save(file, graph: graph, rules: [], to: ws.path("plan"))
        let loaded = try XCTUnwrap(PlanCache.load(path: ws.path("plan"), digest: file.digest, displayPath: file.displayPath, rules: []))
        XCTAssertEqual(loaded.file.pools, ["link": 2])
        XCTAssertEqual(loaded.file.steps.map(\.pool), [Pool(name: "link", depth: 2), nil])
    }
}
