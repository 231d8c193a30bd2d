import XCTest

@testable import Pipeline

/// The Makefile-style depfile parser, on the cases gcc, clang and ninja's own tests cover.
final class DepfileTests: XCTestCase {
    func parse(_ text: String) throws -> Depfile { try Depfile.parse(Array(text.utf8), path: "x.d") }

    func rules(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> [[[String]]] {
        do {
            return try parse(text).rules.map { [$0.targets, $0.prerequisites] }
        } catch {
            XCTFail("\(error)", file: file, line: line)
            return []
        }
    }

    func error(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> String {
        do {
            _ = try parse(text)
            XCTFail("parsed: \(text)", file: file, line: line)
            return ""
        } catch {
            return (error as? PipelineError)?.description ?? "\(error)"
        }
    }

    func testOneRuleAsGccWritesIt() {
        XCTAssertEqual(rules("build/x.o: src/x.c include/x.h\n"), [[["build/x.o"], ["src/x.c", "include/x.h"]]])
        XCTAssertEqual(rules("build/x.o: src/x.c"), [[["build/x.o"], ["src/x.c"]]], "no final newline")
    }

    func testContinuationsAndBlanks() {
        let text = "build/x.o: src/x.c \\\n  include/a.h \\\n\tinclude/b.h\n"
        XCTAssertEqual(rules(text), [[["build/x.o"], ["src/x.c", "include/a.h", "include/b.h"]]])
        XCTAssertEqual(rules("a.o: \\\n  b.h\\\n"), [[["a.o"], ["b.h"]]], "a continuation right after a word, and at the end")
    }

    func testCRLF() {
        XCTAssertEqual(rules("a.o: a.c \\\r\n b.h\r\nc.o: c.c\r\n"), [[["a.o"], ["a.c", "b.h"]], [["c.o"], ["c.c"]]])
    }

    func testEmptyFileAndBlankLines() {
        XCTAssertEqual(rules(""), [])
        XCTAssertEqual(rules("\n\n  \n"), [])
        XCTAssertEqual(rules("\n\na.o: a.c\n\n"), [[["a.o"], ["a.c"]]])
    }

    func testEscapedSpacesHashesAndDollars() {
        XCTAssertEqual(rules("a.o: dir\\ with\\ spaces/x.h b\\#c.h cost$$.h\n"), [[["a.o"], ["dir with spaces/x.h", "b#c.h", "cost$.h"]]])
        // As ninja reads backslashes before a blank: 2N+1 give N and a blank; 2N end the word.
        XCTAssertEqual(rules("a.o: x\\\\\\ y z\\\\ w\n"), [[["a.o"], ["x\\ y", "z\\\\", "w"]]])
        // Any other backslash is part of the name.
        XCTAssertEqual(rules("a.o: c:\\src\\x.h\n"), [[["a.o"], ["c:\\src\\x.h"]]])
    }

    func testMultipleTargetsAndPhonyRules() {
        let text = "build/x.o build/x.d: src/x.c include/x.h\ninclude/x.h:\n"
        XCTAssertEqual(rules(text), [[["build/x.o", "build/x.d"], ["src/x.c", "include/x.h"]], [["include/x.h"], []]])
        XCTAssertEqual(try parse(text).prerequisites, ["src/x.c", "include/x.h"])
        XCTAssertEqual(try parse("a: x y\nb: y z x\n").prerequisites, ["x", "y", "z"], "each once, first seen first")
        XCTAssertEqual(rules("a : b\n"), [[["a"], ["b"]]], "a colon on its own")
    }

    func testComments() {
        XCTAssertEqual(rules("# generated\na.o: a.c # the source\n"), [[["a.o"], ["a.c"]]])
    }

    func testMalformedInputSaysWhere() {
        XCTAssertEqual(error("a.o a.c\n"), "x.d:1:1: expected ':' after the target 'a.c'")
        XCTAssertEqual(error("a.o: a.c\n  : b\n"), "x.d:2:3: missing target before ':'")
        XCTAssertEqual(error("a.o: a.c b: c\n"), "x.d:1:11: unexpected ':' after 'b': one rule has one ':'")
        XCTAssertEqual(error("a.o: a\u{0}c\n"), "x.d:1:7: unexpected NUL byte")
    }

    func testInvalidUTF8IsAnError() {
        do {
            _ = try Depfile.parse([0x61, 0x3A, 0x20, 0xFF, 0x0A], path: "x.d")
            XCTFail("parsed")
        } catch {
            XCTAssertEqual((error as? PipelineError)?.description, "x.d:1:4: a path that is not valid UTF-8")
        }
    }

    /// Whatever the bytes, the parser ends (the fuzzer will hold it to this at scale).
    func testArbitraryBytesNeverCrashOrHang() {
        // Every string of up to 4 bytes over the characters that mean something, plus a few more.
        let alphabet: [UInt8] = Array("a: \\\t\r\n#$".utf8) + [0, 0xFF]
        var parsed = 0
        func all(_ prefix: [UInt8], _ left: Int) {
            if (try? Depfile.parse(prefix)) != nil { parsed += 1 }
            guard left > 0 else { return }
            for c in alphabet { all(prefix + [c], left - 1) }
        }
        all([], 4)
        XCTAssertGreaterThan(parsed, 100)
        for bytes in [[UInt8(ascii: "\\")], Array("\\\\".utf8), Array(":".utf8), Array("a:\\".utf8), Array("\r".utf8), Array("$".utf8)] {
            _ = try? Depfile.parse(bytes)
        }
    }
}
