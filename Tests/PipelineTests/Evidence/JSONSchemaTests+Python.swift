import Foundation
import XCTest

@testable import Pipeline

/// Cross-check: the Swift validator and Python's `jsonschema` (Draft 2020-12) agree on which
/// documents are valid. One python3 process judges the whole table.
extension JSONSchemaTests {
    /// (schema, document) as JSON text. Patterns avoid where Python's `re` and ECMA-262 differ
    /// (`$` before a final newline, Unicode digits).
    static let crossCheckTable: [(String, String)] = [
        (#"{"type":"integer"}"#, "1.0"),
        (#"{"type":"integer"}"#, "1.5"),
        (#"{"type":["string","null"]}"#, "null"),
        (#"{"type":"number"}"#, "true"),
        (#"{"required":["a"],"properties":{"a":{"type":"string"}}}"#, #"{"a":"x"}"#),
        (#"{"required":["a"],"properties":{"a":{"type":"string"}}}"#, #"{"b":1}"#),
        (#"{"additionalProperties":false,"properties":{"a":{}}}"#, #"{"a":1,"b":2}"#),
        (#"{"additionalProperties":{"type":"string"}}"#, #"{"a":"x","b":"y"}"#),
        (#"{"patternProperties":{"^x-":{"type":"integer"}},"additionalProperties":false}"#, #"{"x-a":1}"#),
        (#"{"patternProperties":{"^x-":{"type":"integer"}},"additionalProperties":false}"#, #"{"x-a":"s"}"#),
        (#"{"items":{"type":"integer"}}"#, #"[1,2,"3"]"#),
        (#"{"prefixItems":[{"type":"string"}],"items":false}"#, #"["a"]"#),
        (#"{"prefixItems":[{"type":"string"}],"items":false}"#, #"["a",1]"#),
        (#"{"minItems":2,"maxItems":3}"#, "[1]"),
        (#"{"minItems":2,"maxItems":3}"#, "[1,2,3]"),
        (#"{"uniqueItems":true}"#, "[1,1.0]"),
        (#"{"uniqueItems":true}"#, #"[{"a":1,"b":2},{"b":2,"a":1}]"#),
        (#"{"uniqueItems":true}"#, "[1,true]"),
        (#"{"enum":[1,"a",null]}"#, "1.0"),
        (#"{"enum":[1]}"#, "true"),
        (#"{"const":{"a":[1,2]}}"#, #"{"a":[1,2.0]}"#),
        (#"{"const":false}"#, "0"),
        (#"{"pattern":"\\d{3}"}"#, #""ab123""#),
        (#"{"pattern":"^[\\w.-]+$"}"#, #""a_b.c-d""#),
        (#"{"pattern":"^[\\w.-]+$"}"#, #""a b""#),
        (#"{"pattern":"^\\S+$"}"#, #""a\tb""#),
        (#"{"pattern":"^.{2}$"}"#, #""\u00e9\ud83d\ude00""#),
        (#"{"pattern":"^a.c$"}"#, #""a\nc""#),
        (#"{"pattern":"^(?:ab)+?$"}"#, #""abab""#),
        (#"{"pattern":"^[^\\d]+$"}"#, #""abc""#),
        (#"{"pattern":"^[\\]\\-^]+$"}"#, #""]-^""#),
        (#"{"pattern":"a|b"}"#, #""xbx""#),
        (#"{"pattern":"^\\u00e9$"}"#, #""\u00e9""#),
        (#"{"pattern":"^x{2}$"}"#, #""xxx""#),
        (#"{"pattern":"^[0-9a-f]{64}$"}"#, #""\#(String(repeating: "0f", count: 32))""#),
        (#"{"minLength":2,"maxLength":2}"#, #""\u00e9\ud83d\ude00""#),
        (#"{"maxLength":1}"#, #""ab""#),
        (#"{"minimum":1,"exclusiveMaximum":10}"#, "10"),
        (#"{"exclusiveMinimum":0}"#, "0.0001"),
        (#"{"maximum":9007199254740992}"#, "9007199254740993"),
        (#"{"minimum":1.5}"#, "1"),
        (#"{"type":"integer","minimum":1}"#, "1.0"),
        (#"{"allOf":[{"type":"integer"},{"minimum":5}]}"#, "4"),
        (#"{"anyOf":[{"type":"string"},{"minimum":0}]}"#, "-1"),
        (#"{"oneOf":[{"type":"integer"},{"minimum":0}]}"#, "5"),
        (#"{"oneOf":[{"type":"integer"},{"minimum":0}]}"#, "0.5"),
        (#"{"not":{"type":"null"}}"#, "null"),
        (#"{"if":{"properties":{"kind":{"const":"file"}}},"then":{"required":["sha256"]},"else":{"required":["target"]}}"#,
         #"{"kind":"link","target":"x"}"#),
        (#"{"if":{"properties":{"kind":{"const":"file"}}},"then":{"required":["sha256"]},"else":{"required":["target"]}}"#,
         #"{"kind":"file"}"#),
        (##"{"$defs":{"n":{"required":["name"],"properties":{"children":{"items":{"$ref":"#/$defs/n"}}}}},"$ref":"#/$defs/n"}"##,
         #"{"name":"a","children":[{"name":"b","children":[{}]}]}"#),
        (##"{"type":"object","properties":{"next":{"$ref":"#"}},"additionalProperties":false}"##, #"{"next":{"next":{}}}"#),
        (##"{"$defs":{"a/b":{"type":"string"}},"$ref":"#/$defs/a~1b"}"##, "1"),
        ("false", #""x""#),
        ("true", "null"),
        (#"{"properties":{"a":false}}"#, #"{"b":1}"#),
    ]

    func testAgreesWithPythonJSONSchema() throws {
        let script = """
            import json, sys
            try:
                from jsonschema import Draft202012Validator
            except ImportError:
                sys.exit(3)
            table = json.load(open(sys.argv[1]))
            print(json.dumps([Draft202012Validator(schema).is_valid(document) for schema, document in table]))
            """
        let table = "[" + Self.crossCheckTable.map { "[\($0.0),\($0.1)]" }.joined(separator: ",\n") + "]"
        let tablePath = FileManager.default.temporaryDirectory.appendingPathComponent("schema-crosscheck-\(getpid()).json")
        try Data(table.utf8).write(to: tablePath)
        defer { try? FileManager.default.removeItem(at: tablePath) }

        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script, tablePath.path]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch { throw XCTSkip("python3 is not available: \(error)") }
        let bytes = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        if process.terminationStatus == 3 || process.terminationStatus == 127 { throw XCTSkip("python3 jsonschema is not installed") }
        XCTAssertEqual(process.terminationStatus, 0)
        let verdicts = try XCTUnwrap(JSON.parse(Array(bytes)).arrayValue).compactMap(\.boolValue)
        XCTAssertEqual(verdicts.count, Self.crossCheckTable.count)
        XCTAssertTrue(verdicts.contains(true) && verdicts.contains(false), "the table has valid and invalid cases")

        for ((schemaText, documentText), pythonValid) in zip(Self.crossCheckTable, verdicts) {
            let violations = try JSONSchema(JSON.parse(schemaText)).validate(JSON.parse(documentText))
            XCTAssertEqual(violations.isEmpty, pythonValid,
                           "schema \(schemaText) document \(documentText): python says \(pythonValid ? "valid" : "invalid"), Swift says \(violations)")
        }
    }
}
