import XCTest

@testable import Pipeline

/// Hostile YAML, as Fuzz/fuzz-pipelinefile found it: bounded in depth and in alias expansion.
final class YAMLReaderTests: XCTestCase {
    func read(_ text: String) throws -> YAMLNode? { try YAMLReader.read(Array(text.utf8), file: "p.yaml") }

    func message(_ text: String) -> String {
        do {
            _ = try read(text)
            return "parsed"
        } catch {
            return "\(error)"
        }
    }

    /// Found by fuzz-pipelinefile (a timeout): libyaml's scanner is quadratic in the nesting of
    /// flow collections (8000 `[` took over 5 s) and the tree's consumers recurse; now refused
    /// at the first level too deep.
    func testNestingDeeperThanTheLimitIsRefusedWhereItStarts() throws {
        let limit = YAMLReader.maxDepth
        XCTAssertNotNil(try read(String(repeating: "[", count: limit) + String(repeating: "]", count: limit)))
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        XCTAssertEqual(message(deep), "p.yaml:1:\(limit + 1): nesting deeper than \(limit) levels")
        let block = (0...limit).map { String(repeating: " ", count: $0) + "k:" }.joined(separator: "\n")
        XCTAssertTrue(message(block).contains("nesting deeper than \(limit) levels"), message(block))
    }

    /// A "billion laughs": ten levels of nine aliases stand for 9^10 strings. The tree shares
    /// them, but `with:` → JSON visited every copy (memory and time without bound).
    func testAliasesThatExpandBeyondTheLimitAreRefused() {
        var lines = ["pipeline: 1", "a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
        for i in 1...9 { lines.append("a\(i): &a\(i) [" + Array(repeating: "*a\(i - 1)", count: 9).joined(separator: ", ") + "]") }
        let text = lines.joined(separator: "\n") + "\n"
        XCTAssertTrue(message(text).contains("the aliases expand to more than \(YAMLReader.maxExpandedNodes) nodes"), message(text))
    }

    func testOrdinaryAliasesStillWork() throws {
        let node = try read("base: &b { run: make, needs: [a, b] }\nx: *b\ny: *b\n")
        guard case .mapping(let pairs, _)? = node else { return XCTFail("not a mapping") }
        XCTAssertEqual(pairs.map { $0.key.scalar }, ["base", "x", "y"])
        guard case .mapping(let inner, _) = pairs[2].value else { return XCTFail("alias not resolved") }
        XCTAssertEqual(inner.first?.value.scalar, "make")
    }
}
