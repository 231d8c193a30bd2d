import Foundation
import XCTest

/// What runs, and what does not, as the workspace changes between runs.
final class IncrementalBuildTests: XCTestCase {
    func testFirstRunExecutesEverythingAndSecondRunNothing() throws {
        let f = try Fixture(self)
        f.writeChain()

        let first = f.run(["run"])
        assertExit(first, 0)
        XCTAssertEqual(f.logLines.sorted(), ["a", "b", "c", "other"])
        for step in ["a", "b", "c", "other"] {
            XCTAssertTrue(first.stdoutLines.contains { $0.range(of: #"^\[[1-4]/4\] "# + step + "$", options: .regularExpression) != nil },
                          "no [i/4] \(step) line:\n\(first.transcript)")
        }
        XCTAssertEqual(f.read("out/b.out"), "b-HELLO\nb-WORLD\n")
        XCTAssertEqual(f.read("out/c.out")?.trimmingCharacters(in: .whitespacesAndNewlines), "16")

        let second = f.run(["run"])
        assertExit(second, 0)
        XCTAssertEqual(f.logLines.count, 4, "the second run executed commands")
        assertContains(second.stdout, "no work to do")
        assertLacks(second.stdout, "[1/")

        let json = f.run(["run", "--json"])
        assertExit(json, 0)
        let lines = JSONLines(json.stdout)
        XCTAssertEqual(lines.steps("ran"), [])
        XCTAssertEqual(lines.count("ran"), 0)
        XCTAssertEqual(lines.count("up_to_date"), 4)
        XCTAssertEqual(f.logLines.count, 4)
    }

    func testTouchingFilesWithoutChangingThemRunsNothing() throws {
        let f = try Fixture(self)
        f.writeChain()
        assertExit(f.run(["run"]), 0)
        let before = f.tree()

        f.touch("src/in.txt")
        f.touch("src/other.txt")
        f.touch("out/a.out")
        let result = f.run(["run"])
        assertExit(result, 0)
        assertContains(result.stdout, "no work to do")
        XCTAssertEqual(f.logLines.count, 4)
        XCTAssertEqual(f.tree(), before)
    }

    func testAnEditPropagatesDownTheChainAndNowhereElse() throws {
        let f = try Fixture(self)
        f.writeChain()
        assertExit(f.run(["run"]), 0)
        let logged = f.logLines.count

        f.write("src/in.txt", "hello\nthere\nworld\n")
        let result = f.run(["run", "--json"])
        assertExit(result, 0)
        XCTAssertEqual(Array(f.logLines.dropFirst(logged)), ["a", "b", "c"])
        let lines = JSONLines(result.stdout)
        XCTAssertEqual(lines.steps("ran"), ["a", "b", "c"])
        XCTAssertEqual(lines.steps("up_to_date"), ["other"])
        XCTAssertEqual(f.read("out/b.out"), "b-HELLO\nb-THERE\nb-WORLD\n")
        XCTAssertEqual(f.read("out/c.out")?.trimmingCharacters(in: .whitespacesAndNewlines), "24")

        // The other branch alone.
        f.write("src/other.txt", "changed\n")
        let other = f.run(["run"])
        assertExit(other, 0)
        XCTAssertEqual(Array(f.logLines.dropFirst(logged + 3)), ["other"])
        XCTAssertEqual(f.read("out/other.out"), "changed\n")
    }

    /// b counts the lines of a's output: an edit that keeps the line count reruns a and b,
    /// b writes the same bytes, and c stays up to date.
    func testARerunThatWritesIdenticalBytesStopsPropagation() throws {
        let f = try Fixture(self)
        f.write("src/in.txt", "one\ntwo\n")
        f.pipelinefile("""
        pipeline: 1
        steps:
          a:
            run: cp src/in.txt out/a.out; \(f.log("a"))
            inputs: [src/in.txt]
            outputs: [out/a.out]
          b:
            needs: [a]
            run: wc -l < out/a.out > out/b.out; \(f.log("b"))
            outputs: [out/b.out]
          c:
            needs: [b]
            run: sed 's/^/lines=/' out/b.out > out/c.out; \(f.log("c"))
            outputs: [out/c.out]
        """)
        assertExit(f.run(["run"]), 0)
        XCTAssertEqual(f.logLines, ["a", "b", "c"])

        // Same size and same line count, right after the first run (same timestamp tick).
        f.write("src/in.txt", "uno\ndos\n")
        let same = f.run(["run", "--json"])
        assertExit(same, 0)
        XCTAssertEqual(f.logLines, ["a", "b", "c", "a", "b"], "c must not run when b's output did not change")
        let lines = JSONLines(same.stdout)
        XCTAssertEqual(lines.steps("ran"), ["a", "b"])
        XCTAssertEqual(lines.steps("up_to_date"), ["c"])
        XCTAssertEqual(f.read("out/a.out"), "uno\ndos\n")
        XCTAssertEqual(f.read("out/c.out")?.filter { !$0.isWhitespace }, "lines=2")

        // A different line count goes all the way down.
        f.write("src/in.txt", "uno\ndos\ntres\n")
        let more = f.run(["run", "--json"])
        assertExit(more, 0)
        XCTAssertEqual(JSONLines(more.stdout).steps("ran"), ["a", "b", "c"])
        XCTAssertEqual(f.read("out/c.out")?.filter { !$0.isWhitespace }, "lines=3")
    }

    func testADeletedOutputIsRestoredFromTheCacheWithoutRunning() throws {
        let f = try Fixture(self)
        f.writeChain()
        assertExit(f.run(["run"]), 0)
        let built = f.tree()
        let original = f.read("out/b.out")

        f.remove("out/b.out")
        let result = f.run(["run"])
        assertExit(result, 0)
        XCTAssertEqual(f.logLines.count, 4, "a command ran to restore out/b.out")
        assertContains(result.stdout, "restored b from the cache")
        assertLacks(result.stdout, "restored c")
        XCTAssertEqual(f.read("out/b.out"), original)
        XCTAssertEqual(f.tree(), built)

        // Every output gone, folder included.
        f.remove("out")
        let all = f.run(["run", "--json"])
        assertExit(all, 0)
        XCTAssertEqual(f.logLines.count, 4)
        let lines = JSONLines(all.stdout)
        XCTAssertEqual(Set(lines.steps("restored")), ["a", "b", "c", "other"])
        XCTAssertEqual(lines.count("ran"), 0)
        XCTAssertEqual(f.tree(), built)
    }

    /// One seed, 18 steps reading it, one step gathering them: 20 steps.
    private func writeFanOut(_ f: Fixture) {
        var text = """
        pipeline: 1
        default: [gather]
        steps:
          seed:
            run: seq 1 90 > out/seed.txt; \(f.log("seed"))
            outputs: [out/seed.txt]

        """
        var names: [String] = []
        for i in 1...18 {
            let name = String(format: "part%02d", i)
            names.append(name)
            text += """
              \(name):
                needs: [seed]
                run: awk 'NR % 18 == \(i % 18) { print "\(name)", $1 * \(i) }' out/seed.txt > out/parts/\(name).txt; \(f.log(name))
                outputs: [out/parts/\(name).txt]

            """
        }
        text += """
          gather:
            needs: [\(names.joined(separator: ", "))]
            run: cat out/parts/*.txt > out/all.txt; wc -l < out/all.txt > out/count.txt; \(f.log("gather"))
            outputs: [out/all.txt, out/count.txt]

        """
        f.pipelinefile(text)
    }

    func testParallelismDoesNotChangeTheOutputs() throws {
        var trees: [[String: String]] = []
        for jobs in ["1", "8"] {
            let f = try Fixture(self)
            writeFanOut(f)
            let result = f.run(["run", "-j", jobs, "--json"])
            assertExit(result, 0, "-j \(jobs)")
            XCTAssertEqual(JSONLines(result.stdout).count("ran"), 20, "-j \(jobs)")
            XCTAssertEqual(f.logLines.count, 20, "-j \(jobs)")
            XCTAssertEqual(f.logLines.first, "seed")
            XCTAssertEqual(f.logLines.last, "gather")
            XCTAssertEqual(f.read("out/count.txt")?.filter { !$0.isWhitespace }, "90")
            let again = f.run(["run", "-j", jobs])
            assertExit(again, 0)
            assertContains(again.stdout, "no work to do")
            trees.append(f.tree(excluding: [".pipeline", "Pipelinefile.yaml"]))
        }
        XCTAssertEqual(trees[0].count, 1 + 18 + 2 + 2, "out/, out/parts/ and 21 files: \(trees[0].keys.sorted())")
        XCTAssertEqual(trees[0], trees[1], "-j1 and -j8 built different trees")
    }
}
