import XCTest

@testable import Pipeline

/// `matrix:` steps: expansion order and names, `${matrix.AXIS}`, selection, and errors.
final class MatrixTests: XCTestCase {
    private let text = """
        pipeline: 1
        vars: { out: build }
        steps:
          gen: { run: gen, outputs: [gen.h] }
          compile:
            matrix: { os: [linux, mac], level: [O2, O0] }
            run: cc -${matrix.level} --target=${matrix.os} -o ${out}/${matrix.os}/app-${matrix.level}
            needs: [gen]
            outputs: ["${out}/${matrix.os}/app-${matrix.level}"]
            env: { TARGET_OS: "${matrix.os}" }
          package:
            matrix: { os: [linux, mac] }
            needs: ["compile[os=${matrix.os}]"]
            run: tar cf ${out}/${matrix.os}.tar ${out}/${matrix.os}
            outputs: ["${out}/${matrix.os}.tar"]
          all: { needs: [package] }
        """

    func testExpansionOrderNamesAndInterpolation() throws {
        let file = try parse(text)
        XCTAssertEqual(file.steps.map(\.name), [
            "gen",
            "compile[os=linux,level=O2]", "compile[os=linux,level=O0]", "compile[os=mac,level=O2]", "compile[os=mac,level=O0]",
            "package[os=linux]", "package[os=mac]", "all",
        ])
        let macO0 = file.steps[4]
        XCTAssertEqual(macO0.action, .run(.shell("cc -O0 --target=mac -o build/mac/app-O0")))
        XCTAssertEqual(macO0.outputs, ["build/mac/app-O0"])
        XCTAssertEqual(macO0.env.values, ["TARGET_OS": "mac"])
        XCTAssertEqual(macO0.location.line, 5, "every expansion points at the step's name")
        XCTAssertEqual(file.steps[5].needs, ["compile[os=linux]"])
    }

    func testNeedsAndTargetsSelectExpansions() throws {
        let graph = try Graph(try parse(text))
        let names = { (indices: [Int]) in indices.map { graph.steps[$0].name } }
        // package[os=linux] needs the linux compiles only; all needs every package.
        XCTAssertEqual(names(graph.dependencies[graph.index(of: "package[os=linux]")!]),
                       ["compile[os=linux,level=O2]", "compile[os=linux,level=O0]"])
        XCTAssertEqual(names(graph.dependencies[graph.index(of: "all")!]), ["package[os=linux]", "package[os=mac]"])

        XCTAssertEqual(names(try graph.resolve(target: "compile")).count, 4)
        XCTAssertEqual(names(try graph.resolve(target: "compile[level=O0]")), ["compile[os=linux,level=O0]", "compile[os=mac,level=O0]"])
        XCTAssertEqual(names(try graph.resolve(target: "compile[level=O2,os=mac]")), ["compile[os=mac,level=O2]"])
        XCTAssertEqual(names(try graph.resolve(target: "compile[os=mac,level=O2]")), ["compile[os=mac,level=O2]"])
        XCTAssertThrowsError(try graph.resolve(target: "compile[os=win]")) { error in
            XCTAssertEqual((error as? PipelineError)?.code, .unknownStep)
            XCTAssertTrue("\(error)".contains("no expansion of matrix step 'compile' matches 'compile[os=win]'"), "\(error)")
        }
        XCTAssertThrowsError(try graph.resolve(target: "compile[os]"))
        XCTAssertThrowsError(try graph.resolve(target: "compil")) { error in
            XCTAssertTrue("\(error)".contains("unknown step 'compil' (did you mean 'compile'?)"), "\(error)")
        }
    }

    func testCombinationsVaryTheLastAxisFastest() {
        let matrix = Matrix(axes: [.init(name: "a", values: ["1", "2"]), .init(name: "b", values: ["x", "y", "z"])])
        XCTAssertEqual(matrix.combinations.map { Matrix.name("s", $0) },
                       ["s[a=1,b=x]", "s[a=1,b=y]", "s[a=1,b=z]", "s[a=2,b=x]", "s[a=2,b=y]", "s[a=2,b=z]"])
        XCTAssertEqual(Matrix.split("s[a=1,b=x]")?.base, "s")
        XCTAssertNil(Matrix.split("s[a=1"))
        XCTAssertNil(Matrix.split("s[a=]"))
    }

    func assertError(_ text: String, line: Int, column: Int, contains: String, code: PipelineError.Code = .invalidInput,
                     file: StaticString = #filePath, testLine: UInt = #line) {
        guard let error = parseError(text, file: file, line: testLine) else { return }
        XCTAssertEqual(error.code, code, "\(error)", file: file, line: testLine)
        XCTAssertEqual(error.location?.line, line, "\(error)", file: file, line: testLine)
        XCTAssertEqual(error.location?.column, column, "\(error)", file: file, line: testLine)
        XCTAssertTrue(error.description.contains(contains), "\(error.description) lacks \(contains)", file: file, line: testLine)
    }

    func testErrorsHaveALocation() {
        // ${matrix.x} outside a matrix step, and an unknown axis with a suggestion.
        assertError("pipeline: 1\nsteps:\n  a:\n    run: echo ${matrix.os}\n", line: 4, column: 10,
                    contains: "'${matrix.os}' is only defined in a step with 'matrix:'")
        assertError("pipeline: 1\nsteps:\n  a:\n    matrix: { os: [linux] }\n    run: echo ${matrix.oss}\n", line: 5, column: 10,
                    contains: "unknown matrix axis 'oss' in '${matrix.oss}' (did you mean 'os'?)")
        assertError("pipeline: 1\nsteps:\n  a:\n    matrix: { os: [linux] }\n    run: x\n    outputs: [\"o/${matrix.arch}\"]\n", line: 6, column: 15,
                    contains: "unknown matrix axis 'arch'")
        // The shape of the matrix.
        assertError("pipeline: 1\nsteps:\n  a:\n    matrix: { os: [] }\n    run: x\n", line: 4, column: 19,
                    contains: "matrix axis 'os' of step 'a' is empty")
        assertError("pipeline: 1\nsteps:\n  a:\n    matrix: {}\n    run: x\n", line: 4, column: 13, contains: "'matrix' of step 'a' has no axes")
        assertError("pipeline: 1\nsteps:\n  a:\n    matrix: [linux, mac]\n    run: x\n", line: 4, column: 13,
                    contains: "'matrix' of step 'a' must be a mapping")
        assertError("pipeline: 1\nsteps:\n  a:\n    matrix: { os: linux }\n    run: x\n", line: 4, column: 19,
                    contains: "matrix axis 'os' of step 'a' must be a list of values, found 'linux'")
        assertError("pipeline: 1\nsteps:\n  a:\n    matrix: { os: [linux, [mac]] }\n    run: x\n", line: 4, column: 27,
                    contains: "must hold plain values, found a list")
        assertError("pipeline: 1\nsteps:\n  a:\n    matrix: { os: [linux, { x: 1 }] }\n    run: x\n", line: 4, column: 27,
                    contains: "must hold plain values, found a mapping")
        assertError("pipeline: 1\nsteps:\n  a:\n    matrix: { os: [linux, 'a b'] }\n    run: x\n", line: 4, column: 27,
                    contains: "matrix value 'a b' of axis 'os' in step 'a' may hold only")
        assertError("pipeline: 1\nsteps:\n  a:\n    matrix: { os: [linux, linux] }\n    run: x\n", line: 4, column: 27,
                    contains: "duplicate value 'linux' in matrix axis 'os'")
        assertError("pipeline: 1\nsteps:\n  a:\n    matrix: { os: [linux], os: [mac] }\n    run: x\n", line: 4, column: 28,
                    contains: "duplicate matrix axis 'os'")
        assertError("pipeline: 1\nsteps:\n  a:\n    matrix: { os-name: [linux] }\n    run: x\n", line: 4, column: 15,
                    contains: "invalid matrix axis 'os-name'")
        // Two expansions claiming one output.
        assertError("pipeline: 1\nsteps:\n  a:\n    matrix: { os: [linux, mac], level: [O0, O2] }\n    run: x\n    outputs: [\"o/${matrix.os}\"]\n",
                    line: 6, column: 15,
                    contains: "output 'o/linux' of step 'a[os=linux,level=O2]' is also an output of 'a[os=linux,level=O0]'")
        if let error = parseError("pipeline: 1\nsteps:\n  a:\n    matrix: { os: [linux], level: [O0, O2] }\n    run: x\n    outputs: [o]\n") {
            XCTAssertEqual(error.hint, "use ${matrix.level} in the path")
        }
        // A need or default naming no expansion, or a typo of a matrix step's name.
        assertError("pipeline: 1\nsteps:\n  compile: { matrix: { os: [linux] }, run: x }\n  b: { needs: [compil], run: y }\n", line: 4, column: 16,
                    contains: "needs unknown step 'compil' (did you mean 'compile'?)", code: .unknownStep)
        assertError("pipeline: 1\nsteps:\n  a: { matrix: { os: [linux] }, run: x }\n  b: { needs: [\"a[os=mac]\"], run: y }\n", line: 4, column: 16,
                    contains: "needs unknown step 'a[os=mac]'", code: .unknownStep)
    }

    func testThePlanCacheHoldsTheExpandedSteps() throws {
        let ws = TestWorkspace()
        let (file, graph) = try PipelinefileParser().parseWithGraph(bytes: Array(text.utf8))
        try PlanCache.save(file, graph: graph, rules: [], to: ws.path("plan"))
        let loaded = try XCTUnwrap(PlanCache.load(path: ws.path("plan"), digest: file.digest, displayPath: file.displayPath, rules: []))
        XCTAssertEqual(loaded.file.steps.map(\.name), file.steps.map(\.name))
        XCTAssertEqual(loaded.graph.dependencies, graph.dependencies)
        XCTAssertEqual(try loaded.graph.resolve(target: "compile[os=mac]"), try graph.resolve(target: "compile[os=mac]"))
    }
}
