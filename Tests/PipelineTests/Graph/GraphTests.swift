import XCTest

@testable import Pipeline

final class GraphTests: XCTestCase {
    func testOrderSelectionAndImplicitProducerEdges() throws {
        let file = try parse("""
            pipeline: 1
            steps:
              link: { run: x, inputs: [obj/a.o, obj/b.o], outputs: [app] }
              a: { run: x, outputs: [obj/a.o] }
              b: { run: x, outputs: [obj/b.o] }
              docs: { run: x, outputs: [docs/] }
              index: { run: x, inputs: [docs/index.html], outputs: [site] }
              unrelated: { run: x }
            """)
        let graph = try Graph(file)
        let names = { (indices: [Int]) in indices.map { graph.steps[$0].name } }
        XCTAssertEqual(names(graph.order), ["a", "b", "link", "docs", "index", "unrelated"])
        XCTAssertEqual(names(graph.closure(of: try graph.resolve(targets: ["link"]))), ["a", "b", "link"])
        XCTAssertEqual(names(graph.closure(of: try graph.resolve(targets: ["index"]))), ["docs", "index"])
        XCTAssertEqual(graph.producer(of: "docs/index.html"), graph.index(of: "docs"))
    }

    func testUnknownTargetSuggests() throws {
        let graph = try Graph(try parse("pipeline: 1\nsteps:\n  compile: { run: x }\n"))
        XCTAssertThrowsError(try graph.resolve(targets: ["compiel"])) { error in
            let e = error as! PipelineError
            XCTAssertEqual(e.code, .unknownStep)
            XCTAssertTrue(e.message.contains("did you mean 'compile'"), e.message)
        }
    }

    func testLongerCycleThroughImplicitEdge() {
        guard let error = parseError("""
            pipeline: 1
            steps:
              a: { run: x, needs: [c], outputs: [a.txt] }
              b: { run: x, inputs: [a.txt], outputs: [b.txt] }
              c: { run: x, inputs: [b.txt] }
            """) else { return }
        XCTAssertEqual(error.code, .dependencyCycle)
        XCTAssertTrue(error.message.contains("a → c → b → a"), error.message)
    }
}
