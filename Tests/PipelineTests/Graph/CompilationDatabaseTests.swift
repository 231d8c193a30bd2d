import XCTest

@testable import Pipeline

/// Which commands are compiles, and what `compile_commands.json` says about them.
final class CompilationDatabaseTests: XCTestCase {
    func entries(_ text: String, environment: [String: String] = [:]) throws -> [CompilationDatabase.Entry] {
        CompilationDatabase(steps: try parse(text).steps, directory: "/ws", environment: environment).entries
    }

    func testWhatCountsAsACompile() throws {
        let text = """
            pipeline: 1
            env: [CC]
            steps:
              plain: { run: "cc -c src/a.c -o build/a.o" }
              argv: { run: [/usr/bin/g++-12, -std=c++20, -c, src/b.cpp, -obuild/b.o] }
              assigned: { run: "CCACHE_DISABLE=1 clang -I include -D X=1 -c 'src/with space.c'" }
              cross: { run: "x86_64-linux-gnu-gcc -c src/c.c" }
              fromenv: { run: "$${CC:-cc} -MD -MF build/d.d -c src/d.c -o build/d.o" }
              linked: { run: "cc src/e.c -o build/e" }
              listed: { run: "mkdir -p build && cc -c src/f.c -o build/f.o" }
              twocompiles: { run: "cc -c src/x.c && cc -c src/y.c" }
              quoted: { run: "echo 'a && b' && true" }
              expanded: { run: "cc -c src/g.c $(pkg-config --cflags x)" }
              notacompiler: { run: "ccx -c src/h.c" }
              rule: { use: pack, with: { type: run, out: dist } }
            """
        var found = try entries(text)
        XCTAssertEqual(found.map(\.step), ["plain", "argv", "assigned", "cross", "fromenv", "listed"])
        XCTAssertEqual(found.map(\.file), ["src/a.c", "src/b.cpp", "src/with space.c", "src/c.c", "src/d.c", "src/f.c"])
        XCTAssertEqual(found.map(\.output), ["build/a.o", "build/b.o", nil, nil, "build/d.o", "build/f.o"])
        XCTAssertEqual(found.dropFirst(2).first?.arguments, ["clang", "-I", "include", "-D", "X=1", "-c", "src/with space.c"])
        XCTAssertEqual(found.last?.arguments, ["cc", "-c", "src/f.c", "-o", "build/f.o"])
        XCTAssertEqual(found.dropLast().last?.arguments.first, "cc")
        found = try entries(text, environment: ["CC": "ccache gcc"])
        XCTAssertEqual(found.map(\.step), ["plain", "argv", "assigned", "cross", "fromenv", "listed"])
        XCTAssertEqual(found.dropLast().last?.arguments.prefix(3), ["ccache", "gcc", "-MD"])
    }

    func testTheFileIsSortedJSONOneEntryPerLine() throws {
        let database = CompilationDatabase(steps: try parse("pipeline: 1\nsteps:\n  a: { run: cc -c a.c -o a.o }\n").steps, directory: "/ws",
                                           environment: [:])
        XCTAssertEqual(String(decoding: database.bytes, as: UTF8.self),
                       "[\n  {\"arguments\":[\"cc\",\"-c\",\"a.c\",\"-o\",\"a.o\"],\"directory\":\"/ws\",\"file\":\"a.c\",\"output\":\"a.o\"}\n]\n")
        XCTAssertEqual(String(decoding: CompilationDatabase(steps: [], directory: "/ws", environment: [:]).bytes, as: UTF8.self), "[]\n")
    }

    func testAndLists() {
        XCTAssertEqual(ShellWords.andList("mkdir -p b && cc -c a.c"), ["mkdir -p b ", " cc -c a.c"])
        XCTAssertEqual(ShellWords.andList("echo 'x && y' && z"), ["echo 'x && y' ", " z"])
        XCTAssertEqual(ShellWords.andList(#"echo "x \" && y" && z"#)?.count, 2)
        XCTAssertEqual(ShellWords.andList("a & b"), ["a & b"])
        for line in ["a &&", "&& a", "a && && b"] { XCTAssertNil(ShellWords.andList(line), line) }
    }

    func testShellWords() {
        XCTAssertEqual(ShellWords.split(#"a 'b c' "d \"e\" \x" f\ g"#), ["a", "b c", #"d "e" \x"#, "f g"])
        XCTAssertEqual(ShellWords.split("a \\\n b"), ["a", "b"])
        for line in ["a; b", "a | b", "a > f", "a `b`", "'open", "a\nb", "(a)"] { XCTAssertNil(ShellWords.split(line), line) }
    }
}
