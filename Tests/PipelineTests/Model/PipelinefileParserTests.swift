import XCTest

@testable import Pipeline

final class PipelinefileParserTests: XCTestCase {
    func testParsesTheDesignExample() throws {
        let file = try parse("""
            pipeline: 1
            vars: { out: build }
            env: [CC]
            default: [app]
            steps:
              compile:
                run: cc -O2 -c src/main.c -o ${out}/main.o
                inputs: [src/**/*.c, include/*.h]
                outputs: ["${out}/main.o"]
                description: compile it
                timeout: 5m
              app:
                needs: [compile]
                run: [cc, "${out}/main.o", -o, "${out}/app"]
                outputs:
                  - ${out}/app
                env: { MODE: release }
              deploy:
                needs: [app]
                run: ./deploy.sh
                cache: false
              all:
                needs: [deploy]
            retention: { keep_jobs: 20, ttl: 30d, max_size: 10GiB }
            """)
        XCTAssertEqual(file.version, 1)
        XCTAssertEqual(file.defaultTargets, ["app"])
        XCTAssertEqual(file.steps.map(\.name), ["compile", "app", "deploy", "all"])
        XCTAssertEqual(file.steps[0].action, .run(.shell("cc -O2 -c src/main.c -o build/main.o")))
        XCTAssertEqual(file.steps[0].outputs, ["build/main.o"])
        XCTAssertEqual(file.steps[0].timeout, 300)
        XCTAssertEqual(file.steps[0].description, "compile it")
        XCTAssertEqual(file.steps[0].env.passThrough, ["CC"])
        XCTAssertEqual(file.steps[1].action, .run(.argv(["cc", "build/main.o", "-o", "build/app"])))
        XCTAssertEqual(file.steps[1].outputs, ["build/app"])
        XCTAssertEqual(file.steps[1].env.values, ["MODE": "release"])
        XCTAssertFalse(file.steps[2].cache)
        XCTAssertTrue(file.steps[3].isAlias)
        XCTAssertEqual(file.retention["ttl"], "30d")
    }

    func testDollarEscapesAndShellVariablesPassThrough() throws {
        let file = try parse("""
            pipeline: 1
            vars: { name: world }
            steps:
              a:
                run: echo ${name} $HOME $${literal}
            """)
        XCTAssertEqual(file.steps[0].action, .run(.shell("echo world $HOME ${literal}")))
    }

    func testUseStepsKeepTheirWithMapping() throws {
        let file = try parse("""
            pipeline: 1
            steps:
              ship:
                use: approve
                with: { summary: "Ship?", required_action: "review", count: 3, strict: true }
            """)
        XCTAssertEqual(file.steps[0].action, .use(rule: "approve", with: ["summary": "Ship?", "required_action": "review", "count": 3, "strict": true]))
    }

    // MARK: Errors: every one has file:line:col and is invalid input (exit 6)

    func assertError(_ text: String, line: Int, column: Int? = nil, contains: String, code: PipelineError.Code = .invalidInput,
                     file: StaticString = #filePath, testLine: UInt = #line) {
        guard let error = parseError(text, file: file, line: testLine) else { return }
        XCTAssertEqual(error.code, code, "\(error)", file: file, line: testLine)
        XCTAssertEqual(error.location?.line, line, "\(error)", file: file, line: testLine)
        if let column { XCTAssertEqual(error.location?.column, column, "\(error)", file: file, line: testLine) }
        XCTAssertTrue(error.description.hasPrefix("Pipelinefile.yaml:\(line):"), error.description, file: file, line: testLine)
        XCTAssertTrue(error.description.contains(contains), "\(error.description) lacks \(contains)", file: file, line: testLine)
    }

    func testUnknownTopLevelKeySuggests() {
        assertError("pipeline: 1\nstep:\n  a: { run: x }\n", line: 2, column: 1, contains: "unknown top-level key 'step' (did you mean 'steps'?)")
    }

    func testUnknownStepKeySuggests() {
        assertError("pipeline: 1\nsteps:\n  a:\n    run: x\n    output: [y]\n", line: 5, column: 5, contains: "(did you mean 'outputs'?)")
    }

    func testWrongTypes() {
        assertError("pipeline: 1\nsteps:\n  a:\n    run: x\n    needs: { b: c }\n", line: 5, contains: "must be a list of strings")
        assertError("pipeline: 1\nsteps:\n  a:\n    run: { x: 1 }\n", line: 4, contains: "must be a shell command string or a list")
        assertError("pipeline: 1\nsteps:\n  a:\n    run: x\n    cache: maybe\n", line: 5, contains: "must be true or false")
        assertError("pipeline: 1\nsteps:\n  a:\n    run: x\n    timeout: soon\n", line: 5, contains: "positive duration")
        assertError("pipeline: 1\nsteps: [a, b]\n", line: 2, contains: "'steps' must be a mapping")
    }

    func testVersion() {
        assertError("pipeline: 2\nsteps: {}\n", line: 1, column: 11, contains: "unsupported Pipelinefile version 2")
        assertError("steps:\n  a: { run: x }\n", line: 1, contains: "missing 'pipeline: 1'")
        assertError("pipeline: one\nsteps: {}\n", line: 1, contains: "must be the format version number")
    }

    func testUnknownNeeds() {
        assertError("pipeline: 1\nsteps:\n  compile: { run: x }\n  app:\n    run: y\n    needs: [compil]\n", line: 6, column: 13,
                    contains: "needs unknown step 'compil' (did you mean 'compile'?)", code: .unknownStep)
    }

    func testUndefinedVariable() {
        assertError("pipeline: 1\nvars: { out: build }\nsteps:\n  a:\n    run: echo ${ot}\n", line: 5, contains: "undefined variable '${ot}' (did you mean 'out'?)")
    }

    func testDuplicateStepNames() {
        assertError("pipeline: 1\nsteps:\n  a: { run: x }\n  a: { run: y }\n", line: 4, column: 3, contains: "duplicate step name 'a' (first at line 3)")
    }

    func testRunAndUseTogetherOrNeither() {
        assertError("pipeline: 1\nsteps:\n  a:\n    run: x\n    use: pack\n", line: 5, contains: "has both 'run' and 'use'")
        assertError("pipeline: 1\nsteps:\n  a:\n    description: nothing\n", line: 3, contains: "has neither 'run' nor 'use'")
    }

    func testUnknownRuleSuggests() {
        assertError("pipeline: 1\nsteps:\n  a:\n    use: pakc\n", line: 4, column: 10, contains: "unknown rule 'pakc' in step 'a' (did you mean 'pack'?)")
    }

    func testOutputClaimedTwice() {
        assertError("pipeline: 1\nsteps:\n  a: { run: x, outputs: [o.txt] }\n  b:\n    run: y\n    outputs: [o.txt]\n", line: 6, column: 15,
                    contains: "output 'o.txt' of step 'b' is already produced by step 'a'")
    }

    func testCycleIsPrinted() {
        assertError("pipeline: 1\nsteps:\n  a: { run: x, needs: [b] }\n  b: { run: y, needs: [a] }\n", line: 3,
                    contains: "dependency cycle: a → b → a", code: .dependencyCycle)
        assertError("pipeline: 1\nsteps:\n  a: { run: x, needs: [a] }\n", line: 3, contains: "dependency cycle: a → a", code: .dependencyCycle)
    }

    func testPathsMayNotEscape() {
        assertError("pipeline: 1\nsteps:\n  a:\n    run: x\n    outputs: [../x]\n", line: 5, contains: "escapes the workspace")
        assertError("pipeline: 1\nsteps:\n  a:\n    run: x\n    inputs: [/etc/passwd]\n", line: 5, contains: "escapes the workspace")
    }

    func testInvalidStepName() {
        assertError("pipeline: 1\nsteps:\n  9lives: { run: x }\n", line: 3, contains: "invalid step name '9lives'")
    }

    func testYAMLSyntaxErrorHasLocationAndHint() {
        guard let error = parseError("pipeline: 1\nsteps:\n  a:\n    run: x\n    outputs: [${out}/a]\n") else { return }
        XCTAssertEqual(error.location?.line, 5)
        XCTAssertNotNil(error.hint)
    }

    func testUnknownDefaultTarget() {
        assertError("pipeline: 1\ndefault: [ap]\nsteps:\n  app: { run: x }\n", line: 2, contains: "default target 'ap' is not a step (did you mean 'app'?)",
                    code: .unknownStep)
    }

    func testParsesTwentyThousandStepsQuickly() throws {
        var text = "pipeline: 1\nsteps:\n"
        for i in 0..<20_000 {
            text += "  s\(i):\n    run: cat in/\(i) > out/\(i)\n    inputs: [in/\(i)]\n    outputs: [out/\(i)]\n"
            if i > 0 { text += "    needs: [s\(i - 1)]\n" }
        }
        let file = try parse(text)
        XCTAssertEqual(file.steps.count, 20_000)
        XCTAssertEqual(try Graph(file).order.count, 20_000)
    }

    func testDepfile() throws {
        let text = "pipeline: 1\nvars: { out: build }\nsteps:\n  c:\n    run: cc -MD -MF ${out}/c.d -c c.c\n    depfile: ./${out}//c.d\n"
        let file = try parse(text)
        XCTAssertEqual(file.steps[0].depfile, "build/c.d", "interpolated and normalized")
        XCTAssertNil(try parse("pipeline: 1\nsteps:\n  c: { run: x }\n").steps[0].depfile)
        assertError("pipeline: 1\nsteps:\n  a:\n    use: pack\n    depfile: a.d\n", line: 5, column: 5, contains: "'depfile' belongs to 'run' steps")
        assertError("pipeline: 1\nsteps:\n  a:\n    run: x\n    depfile: ../a.d\n", line: 5, column: 14, contains: "escapes the workspace")
        assertError("pipeline: 1\nsteps:\n  a:\n    run: x\n    depfile: [a.d]\n", line: 5, contains: "'depfile' of step 'a' must be a path")
        assertError("pipeline: 1\nsteps:\n  a:\n    run: x\n    depfile: '*.d'\n", line: 5, contains: "must name one file")
        assertError("pipeline: 1\nsteps:\n  a:\n    run: x\n    depfile: .pipeline/a.d\n", line: 5, contains: "inside the store")

        // The plan cache keeps it.
        let ws = TestWorkspace()
        let parsed = try PipelinefileParser().parseWithGraph(bytes: Array(text.utf8), displayPath: "Pipelinefile.yaml")
        try PlanCache.save(parsed.file, graph: parsed.graph, rules: [], to: ws.path("plan"))
        let loaded = try XCTUnwrap(PlanCache.load(path: ws.path("plan"), digest: parsed.file.digest, displayPath: "Pipelinefile.yaml", rules: []))
        XCTAssertEqual(loaded.file.steps[0].depfile, "build/c.d")
    }
}
