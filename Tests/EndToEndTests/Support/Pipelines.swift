import Foundation
import Pipeline
import XCTest

/// Pipelinefiles several tests share. Every command appends its step name to the fixture's
/// log, which lives outside the workspace and outside every declared output.
extension Fixture {
    /// `a → b → c` over `src/in.txt`, plus `other` over `src/other.txt`, independent of them.
    func writeChain() {
        write("src/in.txt", "hello\nworld\n")
        write("src/other.txt", "unrelated\n")
        pipelinefile("""
        pipeline: 1
        steps:
          a:
            run: tr a-z A-Z < src/in.txt > out/a.out; \(log("a"))
            inputs: [src/in.txt]
            outputs: [out/a.out]
          b:
            needs: [a]
            run: sed 's/^/b-/' out/a.out > out/b.out; \(log("b"))
            outputs: [out/b.out]
          c:
            needs: [b]
            run: wc -c < out/b.out > out/c.out; \(log("c"))
            outputs: [out/c.out]
          other:
            run: cp src/other.txt out/other.out; \(log("other"))
            inputs: [src/other.txt]
            outputs: [out/other.out]
        """)
    }

    /// `broken` writes part of its output, complains on stderr and exits 3; `after` needs it.
    /// `exitStatus: 0` is the fixed command.
    func writeBroken(exitStatus: Int = 3) {
        pipelinefile("""
        pipeline: 1
        steps:
          broken:
            run: |
              \(log("broken"))
              echo partial > out/broken.txt
              echo oops-on-stderr >&2
              exit \(exitStatus)
            outputs: [out/broken.txt]
          after:
            needs: [broken]
            run: cat out/broken.txt > out/after.txt; \(log("after"))
            outputs: [out/after.txt]
        """)
    }

    /// The keys of the action results in the store (one per cached action).
    func actionResults(store: String? = nil) -> [String] {
        guard let opened = try? LocalStore(root: store ?? root + "/.pipeline", create: false) else { return [] }
        return opened.resultKeys().map(\.description)
    }

    /// Whether the store holds a blob (in its log or as a file).
    func storeHas(_ digest: String, store: String? = nil) -> Bool {
        guard let opened = try? LocalStore(root: store ?? root + "/.pipeline", create: false), let digest = Digest(hex: digest) else { return false }
        return opened.contains(digest)
    }
}

extension XCTestCase {
    /// Asserts the exit status, printing both streams when it differs.
    func assertExit(_ result: ProcessResult, _ status: Int32, _ message: String = "", file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(result.status, status, "\(message)\n\(result.transcript)", file: file, line: line)
    }

    func assertContains(_ text: String, _ part: String, _ message: String = "", file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertTrue(text.contains(part), "expected to find \(part.debugDescription) \(message) in:\n\(text)", file: file, line: line)
    }

    func assertLacks(_ text: String, _ part: String, _ message: String = "", file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertFalse(text.contains(part), "did not expect \(part.debugDescription) \(message) in:\n\(text)", file: file, line: line)
    }
}
