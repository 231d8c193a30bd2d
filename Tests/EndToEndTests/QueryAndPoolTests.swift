import Foundation
import XCTest

/// `pipeline query deps|rdeps`, targets given as output paths, and `pool:` limits.
final class QueryAndPoolTests: XCTestCase {
    private func writeDiamond(_ f: Fixture) {
        f.write("src/a.c", "a\n")
        f.pipelinefile("""
        pipeline: 1
        steps:
          gen: { run: "mkdir -p build; echo gen > build/gen.h; \(f.log("gen"))", outputs: [build/gen.h] }
          a: { needs: [gen], run: "cat src/a.c build/gen.h > build/a.o; \(f.log("a"))", inputs: [src/a.c], outputs: [build/a.o] }
          b: { needs: [gen], run: "cat build/gen.h > build/b.o; \(f.log("b"))", outputs: [build/b.o] }
          app: { run: "cat build/a.o build/b.o > build/app; \(f.log("app"))", inputs: [build/a.o, build/b.o], outputs: [build/app] }
          docs: { run: "mkdir -p build/docs; echo d > build/docs/index.html; \(f.log("docs"))", outputs: [build/docs] }
          all: { needs: [app, docs] }
        """)
    }

    func testQueryDepsAndRdeps() throws {
        let f = try Fixture(self)
        writeDiamond(f)
        let deps = f.run(["query", "deps", "app"])
        assertExit(deps, 0)
        XCTAssertEqual(deps.stdoutLines, ["gen", "a", "b"])
        XCTAssertEqual(f.run(["query", "deps", "app", "--direct"]).stdoutLines, ["a", "b"])
        XCTAssertEqual(f.run(["query", "rdeps", "gen"]).stdoutLines, ["a", "b", "app", "all"])
        XCTAssertEqual(f.run(["query", "rdeps", "gen", "--direct"]).stdoutLines, ["a", "b"])
        XCTAssertEqual(f.run(["query", "rdeps", "all"]).stdoutLines, [])

        let json = f.run(["query", "rdeps", "build/a.o", "--json"])
        assertExit(json, 0)
        let document = try XCTUnwrap(JSONLines(json.stdout).of("pipeline.query").first, json.transcript)
        XCTAssertEqual(document["query"] as? String, "rdeps")
        XCTAssertEqual(document["direct"] as? Bool, false)
        XCTAssertEqual(document["targets"] as? [String], ["a"])
        XCTAssertEqual(document["steps"] as? [String], ["app", "all"])

        let unknown = f.run(["query", "deps", "apq"])
        assertExit(unknown, 6)
        assertContains(unknown.stderr, "unknown step 'apq' (did you mean 'app'?)")
        XCTAssertEqual(f.logLines, [], "query ran commands")
    }

    func testRunByOutputPathBuildsItsProducer() throws {
        let f = try Fixture(self)
        writeDiamond(f)
        let result = f.run(["run", "./build/app"])
        assertExit(result, 0)
        XCTAssertEqual(Set(f.logLines), ["gen", "a", "b", "app"])
        XCTAssertEqual(f.read("build/app"), "a\ngen\ngen\n")
        XCTAssertFalse(f.exists("build/docs"))

        // A file inside a declared output folder stands for the folder's producer.
        assertExit(f.run(["run", "build/docs/index.html"]), 0)
        XCTAssertEqual(f.logLines.last, "docs")
        assertExit(f.run(["run", "build//app"]), 0)
        XCTAssertEqual(f.logLines.count, 5, "build//app is build/app: nothing to do")

        let typo = f.run(["run", "build/ap"])
        assertExit(typo, 6)
        assertContains(typo.stderr, "unknown step 'build/ap' (did you mean 'build/app'?)")
        let name = f.run(["run", "apq"])
        assertExit(name, 6)
        assertContains(name.stderr, "(did you mean 'app'?)")
    }

    /// Three link steps share a pool of depth 1 under -j 4: the mkdir lock proves no two
    /// overlap, while `other` (no pool) runs beside one of them. The same file without the
    /// pool shows the lock does catch overlaps.
    func testAPoolLimitsConcurrencyWhileOtherStepsOverlap() throws {
        let f = try Fixture(self)
        let lock = f.outside + "/link.lock"
        func link(_ name: String) -> String {
            "if mkdir \(lock); then sleep 0.3; rmdir \(lock); else echo \(name) >> \(f.outside)/overlaps; fi; touch \(name).out; \(f.log(name))"
        }
        let other = "for i in $(seq 1 60); do if [ -d \(lock) ]; then echo yes > \(f.outside)/overlapped; break; fi; sleep 0.05; done; touch other.out"
        func file(pool: Bool) -> String {
            """
            pipeline: 1
            pools: { link: 1 }
            steps:
              l1: { run: "\(link("l1"))", outputs: [l1.out]\(pool ? ", pool: link" : "") }
              l2: { run: "\(link("l2"))", outputs: [l2.out]\(pool ? ", pool: link" : "") }
              l3: { run: "\(link("l3"))", outputs: [l3.out]\(pool ? ", pool: link" : "") }
              other: { run: "\(other)", outputs: [other.out] }
            """
        }
        f.pipelinefile(file(pool: true))
        let result = f.run(["run", "-j", "4"])
        assertExit(result, 0)
        XCTAssertEqual(Set(f.logLines), ["l1", "l2", "l3"])
        XCTAssertNil(f.read(f.outside + "/overlaps"), "two steps of a depth-1 pool ran at once")
        XCTAssertEqual(f.read(f.outside + "/overlapped"), "yes\n", "the step outside the pool did not run beside the pool")

        f.pipelinefile(file(pool: false))  // (a pool is not part of a key: force them to run)
        assertExit(f.run(["run", "-j", "4", "--force", "l1", "--force", "l2", "--force", "l3"]), 0)
        XCTAssertNotNil(f.read(f.outside + "/overlaps"), "without the pool the lock saw no overlap: the check above proves nothing")
    }

    func testPoolErrorsHaveALocation() throws {
        let f = try Fixture(self)
        f.pipelinefile("""
        pipeline: 1
        pools: { link: 1 }
        steps:
          app: { run: "true", pool: lnk }
        """)
        let unknown = f.run(["run"])
        assertExit(unknown, 6)
        assertContains(unknown.stderr, "Pipelinefile.yaml:4:29: unknown pool 'lnk' in step 'app' (did you mean 'link'?)")
        f.pipelinefile("pipeline: 1\npools: { link: 0 }\nsteps:\n  app: { run: \"true\" }\n")
        let zero = f.run(["run"])
        assertExit(zero, 6)
        assertContains(zero.stderr, "Pipelinefile.yaml:2:16: the depth of pool 'link' must be a whole number of at least 1, found '0'")
    }
}
