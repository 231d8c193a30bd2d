import Dispatch
import Synchronization
import XCTest

@testable import Pipeline

final class JSONSchemaTests: XCTestCase {
    private func check(_ schema: String, _ document: String, file: StaticString = #filePath, line: UInt = #line) throws -> [SchemaViolation] {
        try JSONSchema(JSON.parse(schema)).validate(JSON.parse(document))
    }

    private func v(_ pointer: String, _ message: String) -> SchemaViolation {
        SchemaViolation(pointer: pointer, message: message)
    }

    func testType() throws {
        XCTAssertEqual(try check(#"{"type":"string"}"#, "1"), [v("", "expected string, got integer")])
        XCTAssertEqual(try check(#"{"type":["string","null"]}"#, "1.5"), [v("", "expected string or null, got number")])
        XCTAssertEqual(try check(#"{"type":["array","object","boolean"]}"#, "null"),
                       [v("", "expected array, object or boolean, got null")])
        XCTAssertEqual(try check(#"{"type":"integer"}"#, "1.0"), [], "an integral number is an integer")
        XCTAssertEqual(try check(#"{"type":"integer"}"#, "1.5"), [v("", "expected integer, got number")])
        XCTAssertEqual(try check(#"{"type":"number"}"#, "3"), [])
        XCTAssertEqual(try check(#"{"type":"number"}"#, "true"), [v("", "expected number, got boolean")])
        XCTAssertEqual(try check(#"{"type":["null","object"]}"#, "{}"), [])
    }

    func testPropertiesRequiredAndAdditionalProperties() throws {
        let schema = #"""
        {"type":"object","required":["pack_id","contents"],
         "properties":{"pack_id":{"type":"string"},
                       "contents":{"type":"array","items":{"type":"object","properties":{"sha256":{"type":"string","pattern":"^[0-9a-f]{64}$"}},
                                                           "additionalProperties":false}}},
         "additionalProperties":{"type":"integer"}}
        """#
        let sha = String(repeating: "a", count: 64)
        let document = #"{"contents":[{"sha256":"\#(sha)"},{"sha256":"xyz","extra":1}],"count":"x","n":2}"#
        let expected = [
            v("", "missing required property 'pack_id'"),
            v("/contents/1/extra", "unexpected property 'extra'"),
            v("/contents/1/sha256", "does not match pattern ^[0-9a-f]{64}$"),
            v("/count", "expected integer, got string"),
        ]
        XCTAssertEqual(try check(schema, document), expected)
        for _ in 0..<3 { XCTAssertEqual(try check(schema, document), expected, "the order is deterministic") }
        XCTAssertEqual(try check(#"{"additionalProperties":false}"#, #"{"a/b~c":1}"#), [v("/a~1b~0c", "unexpected property 'a/b~c'")])
        XCTAssertEqual(try check(#"{"required":["a"]}"#, "[]"), [], "required applies to objects only")
    }

    func testPatternProperties() throws {
        let schema = #"{"patternProperties":{"^x-":{"type":"string"},"\\d$":{"type":"integer"}},"additionalProperties":false}"#
        XCTAssertEqual(try check(schema, #"{"x-a":"ok","x-1":"s","b2":3,"other":1}"#),
                       [v("/other", "unexpected property 'other'"), v("/x-1", "expected integer, got string")])
    }

    func testItemsPrefixItemsCountsAndUniqueness() throws {
        XCTAssertEqual(try check(#"{"prefixItems":[{"type":"string"},{"type":"integer"}],"items":false}"#, #"["a",1,true]"#),
                       [v("/2", "unexpected item: at most 2 allowed")])
        let bounded = #"{"prefixItems":[{"type":"string"}],"items":{"type":"integer"},"minItems":2,"maxItems":3}"#
        XCTAssertEqual(try check(bounded, "[1]"), [v("", "expected at least 2 items, got 1"), v("/0", "expected string, got integer")])
        XCTAssertEqual(try check(bounded, #"["a",1,2,"b"]"#), [v("", "expected at most 3 items, got 4"), v("/3", "expected integer, got string")])
        XCTAssertEqual(try check(bounded, #"["a",1,2]"#), [])
        XCTAssertEqual(try check(#"{"uniqueItems":true}"#, #"[1,1.0,{"a":1,"b":[2]},{"b":[2],"a":1},true,"1"]"#),
                       [v("", "items 0 and 1 are equal"), v("", "items 2 and 3 are equal")])
        XCTAssertEqual(try check(#"{"uniqueItems":false}"#, "[1,1]"), [])
    }

    func testEnumAndConst() throws {
        XCTAssertEqual(try check(#"{"enum":["a",1,null]}"#, "1.0"), [])
        XCTAssertEqual(try check(#"{"enum":["a",1,null]}"#, "true"), [v("", #"true is not one of "a", 1, null"#)])
        XCTAssertEqual(try check(#"{"enum":["a","b","c","d","e","f","g","h","i","j"]}"#, #""z""#),
                       [v("", #""z" is not one of "a", "b", "c", "d", "e", "f", "g", "h", … (10 values)"#)])
        XCTAssertEqual(try check(#"{"const":{"a":[1,2]}}"#, #"{"a":[1.0,2]}"#), [])
        XCTAssertEqual(try check(#"{"const":{"a":[1,2]}}"#, #"{"a":[2,1]}"#), [v("", #"expected {"a":[1,2]}, got {"a":[2,1]}"#)])
        XCTAssertEqual(try check(#"{"const":null}"#, "0"), [v("", "expected null, got 0")])
        XCTAssertEqual(try check(#"{"const":false}"#, "0"), [v("", "expected false, got 0")])
        XCTAssertEqual(try check(#"{"const":"pipeline.error"}"#, #""pipeline.error""#), [])
    }

    func testPattern() throws {
        XCTAssertEqual(try check(#"{"pattern":"\\d{3}"}"#, #""ab123x""#), [], "patterns are unanchored")
        XCTAssertEqual(try check(#"{"pattern":"\\d{3}"}"#, #""ab12""#), [v("", #"does not match pattern \d{3}"#)])
        XCTAssertEqual(try check(#"{"pattern":"^x"}"#, "12"), [], "pattern applies to strings only")

        XCTAssertEqual(try PatternTranslator.translate(#"^\d+$"#), "^[0-9]+$")
        XCTAssertEqual(try PatternTranslator.translate(#"\W\S"#), "[^A-Za-z0-9_][^[:space:]]")
        XCTAssertEqual(try PatternTranslator.translate(#"[\w.-]+"#), "[A-Za-z0-9_.-]+")
        XCTAssertEqual(try PatternTranslator.translate(#"[\]\-^]"#), "[]^-]")
        XCTAssertEqual(try PatternTranslator.translate(#"(?:ab)+?x*?"#), "(ab)+x*")
        XCTAssertEqual(try PatternTranslator.translate(#"a{2,}b{,1}"#), #"a{2,}b\{,1\}"#)

        func matches(_ pattern: String, _ text: String) throws -> Bool { try SchemaPattern(pattern).matches(text) }
        XCTAssertTrue(try matches(#"^[\]\-^]+$"#, "]-^"))
        XCTAssertFalse(try matches(#"^[\]\-^]+$"#, "a"))
        XCTAssertTrue(try matches(#"^[^\d]+$"#, "abc"))
        XCTAssertFalse(try matches(#"^[^\d]+$"#, "a1"))
        XCTAssertTrue(try matches(#"a\sb"#, "a\tb"))
        XCTAssertFalse(try matches(#"^\S+$"#, "a b"))
        XCTAssertTrue(try matches(#"^\.$"#, "."))
        XCTAssertFalse(try matches(#"^\.$"#, "x"))
        XCTAssertFalse(try matches("^.$", "\n"), "ECMA-262 . does not match a line terminator")
        XCTAssertTrue(try matches("^.$", "\u{E9}"), "one code point, two bytes")
        XCTAssertTrue(try matches("^.{2}$", "\u{E9}\u{1F600}"))
        XCTAssertTrue(try matches(#"^\u00e9$"#, "\u{E9}"))
        XCTAssertTrue(try matches("a{", "xa{"))
        XCTAssertTrue(try matches("b$", "a\u{0}b"), "a NUL does not end the text")
        XCTAssertTrue(try matches("^(cat|dog)s?$", "dogs"))
        XCTAssertTrue(try matches(#"^(?<year>\d{4})-"#, "2024-01"))
        XCTAssertFalse(try matches("^a$", "a\n"), "ECMA-262 $ matches only at the very end")
        XCTAssertTrue(try matches("", "anything"))

        for unsupported in ["(?=a)", "(?<!a)b", #"\bword"#, #"(a)\1"#, #"\p{L}"#, "[a\\D]", "[]", "[z-a]", #"\0"#] {
            XCTAssertThrowsError(try SchemaPattern(unsupported), unsupported) { error in
                XCTAssertEqual((error as? PipelineError)?.code, .invalidInput)
                XCTAssertTrue("\(error)".contains("not supported"), "\(error)")
            }
        }
        XCTAssertThrowsError(try SchemaPattern("(a")) { error in XCTAssertTrue("\(error)".contains("does not compile"), "\(error)") }
    }

    func testStringLengthCountsCodePoints() throws {
        let schema = #"{"minLength":2,"maxLength":3}"#
        XCTAssertEqual(try check(schema, #""\u00e9\ud83d\ude00""#), [], "two code points, six bytes")
        XCTAssertEqual(try check(schema, #""a""#), [v("", "expected at least 2 characters, got 1")])
        XCTAssertEqual(try check(schema, #""abcd""#), [v("", "expected at most 3 characters, got 4")])
    }

    func testNumericBounds() throws {
        let closed = #"{"minimum":1,"maximum":10.5}"#
        XCTAssertEqual(try check(closed, "1"), [])
        XCTAssertEqual(try check(closed, "10.5"), [])
        XCTAssertEqual(try check(closed, "0.5"), [v("", "expected a value >= 1, got 0.5")])
        XCTAssertEqual(try check(closed, "11"), [v("", "expected a value <= 10.5, got 11")])
        let open = #"{"exclusiveMinimum":0,"exclusiveMaximum":1}"#
        XCTAssertEqual(try check(open, "0"), [v("", "expected a value > 0, got 0")])
        XCTAssertEqual(try check(open, "1.0"), [v("", "expected a value < 1, got 1")])
        XCTAssertEqual(try check(open, "0.5"), [])
        XCTAssertEqual(try check(#"{"maximum":9007199254740992.0}"#, "9007199254740993"),
                       [v("", "expected a value <= 9007199254740992, got 9007199254740993")], "exact across integer and double")
        XCTAssertEqual(try check(#"{"minimum":1}"#, #""0""#), [], "bounds apply to numbers only")
    }

    func testComposition() throws {
        let all = #"{"allOf":[{"type":"integer"},{"minimum":5}]}"#
        XCTAssertEqual(try check(all, "3"), [v("", "expected a value >= 5, got 3")])
        XCTAssertEqual(try check(all, #""x""#), [v("", "expected integer, got string")])
        let any = #"{"anyOf":[{"type":"string"},{"type":"integer","minimum":0}]}"#
        XCTAssertEqual(try check(any, "-1"), [v("", "matches none of the 2 anyOf alternatives")])
        XCTAssertEqual(try check(any, #""a""#), [])
        let one = #"{"oneOf":[{"type":"integer"},{"minimum":0}]}"#
        XCTAssertEqual(try check(one, "5"), [v("", "matches oneOf alternatives 0 and 1; expected exactly one")])
        XCTAssertEqual(try check(one, "-1"), [])
        XCTAssertEqual(try check(one, "0.5"), [])
        XCTAssertEqual(try check(one, "-1.5"), [v("", "matches none of the 2 oneOf alternatives")])
        XCTAssertEqual(try check(#"{"not":{"type":"null"}}"#, "null"), [v("", "must not match the 'not' schema")])
        XCTAssertEqual(try check(#"{"not":{"type":"null"}}"#, "0"), [])
    }

    func testIfThenElse() throws {
        let schema = #"""
        {"if":{"properties":{"kind":{"const":"file"}},"required":["kind"]},
         "then":{"required":["sha256"]},"else":{"required":["target"]}}
        """#
        XCTAssertEqual(try check(schema, #"{"kind":"file"}"#), [v("", "missing required property 'sha256'")])
        XCTAssertEqual(try check(schema, #"{"kind":"link"}"#), [v("", "missing required property 'target'")])
        XCTAssertEqual(try check(schema, #"{"kind":"file","sha256":"x"}"#), [])
        XCTAssertEqual(try check(#"{"then":{"type":"string"}}"#, "1"), [], "then without if does nothing")
    }

    func testRefAndDefs() throws {
        let tree = #"""
        {"$defs":{"node":{"type":"object","required":["name"],
                          "properties":{"name":{"type":"string"},"children":{"type":"array","items":{"$ref":"#/$defs/node"}}}}},
         "$ref":"#/$defs/node"}
        """#
        XCTAssertEqual(try check(tree, #"{"name":"a","children":[{"name":"b","children":[{"children":[]}]}]}"#),
                       [v("/children/0/children/0", "missing required property 'name'")])
        XCTAssertEqual(try check(##"{"type":"object","properties":{"next":{"$ref":"#"}},"additionalProperties":false}"##,
                                 #"{"next":{"next":{"x":1}}}"#), [v("/next/next/x", "unexpected property 'x'")])
        XCTAssertEqual(try check(##"{"$defs":{"a/b":{"type":"string"}},"$ref":"#/$defs/a~1b"}"##, "1"), [v("", "expected string, got integer")])
        XCTAssertEqual(try check(##"{"$defs":{"a b":{"type":"string"}},"$ref":"#/$defs/a%20b"}"##, "1"), [v("", "expected string, got integer")])
        XCTAssertEqual(try check(##"{"$defs":{"s":{"type":"string"}},"$ref":"#/$defs/s","maxLength":1}"##, #""ab""#),
                       [v("", "expected at most 1 character, got 2")], "$ref applies beside its siblings")

        for bad in [##"{"$ref":"#"}"##, ##"{"$defs":{"a":{"$ref":"#/$defs/b"},"b":{"allOf":[{"$ref":"#/$defs/a"}]}},"$ref":"#/$defs/a"}"##,
                    ##"{"$ref":"#/$defs/missing"}"##, ##"{"$ref":"other.json#/x"}"##, ##"{"$ref":"#anchor"}"##] {
            XCTAssertThrowsError(try JSONSchema(JSON.parse(bad)), bad)
        }
    }

    func testBooleanSchemas() throws {
        XCTAssertEqual(try check("true", #"{"a":[1]}"#), [])
        XCTAssertEqual(try check("false", "null"), [v("", "no value is allowed here")])
        XCTAssertEqual(try check(#"{"properties":{"a":false}}"#, #"{"a":1}"#), [v("/a", "no value is allowed here")])
        XCTAssertEqual(try check(#"{"properties":{"a":false}}"#, #"{"b":1}"#), [])
    }

    func testUnsupportedOrMalformedSchemasThrow() throws {
        XCTAssertThrowsError(try JSONSchema(JSON.parse(#"{"properties":{"a":{"requird":["b"]}}}"#))) { error in
            XCTAssertEqual((error as? PipelineError)?.code, .invalidInput)
            XCTAssertEqual("\(error)", "schema #/properties/a: unsupported keyword 'requird'")
        }
        let bad = [
            #"{"type":"str"}"#, #"{"type":[]}"#, #"{"type":["string",1]}"#, #"{"items":[{}]}"#, #"{"minLength":-1}"#,
            #"{"minLength":1.5}"#, #"{"required":"a"}"#, #"{"properties":[]}"#, #"{"pattern":"(?=x)"}"#, #"{"pattern":"(a"}"#,
            #"{"patternProperties":{"(a":{}}}"#, #"{"format":"date"}"#, #"{"anyOf":[]}"#, "1", #"{"uniqueItems":"yes"}"#,
            #"{"minimum":"1"}"#, #"{"enum":"a"}"#, #"{"definitions":{}}"#, #"{"not":1}"#, #"{"additionalProperties":{"minItems":true}}"#,
        ]
        for schema in bad { XCTAssertThrowsError(try JSONSchema(JSON.parse(schema)), schema) }
        let annotated = #"""
        {"$schema":"https://json-schema.org/draft/2020-12/schema","$id":"x","title":"t","description":"d",
         "examples":[{"nope":1}],"default":2,"$comment":"c","properties":{"a":{"description":"x","type":"string"}}}
        """#
        XCTAssertEqual(try check(annotated, #"{"a":"b"}"#), [])
    }

    func testUnknownProperties() throws {
        let schema = try JSONSchema(JSON.parse(#"""
        {"type":"object",
         "properties":{"name":{"type":"string"},"meta":{"type":"object"},
                       "files":{"type":"array","items":{"type":"object","properties":{"path":{}}}},
                       "pair":{"prefixItems":[{"properties":{"a":{}}}]},
                       "counts":{"additionalProperties":{"type":"integer"}}},
         "patternProperties":{"^x-":{}},
         "allOf":[{"properties":{"extra":{}}}]}
        """#))
        let document = try JSON.parse(#"""
        {"name":"a","nmae":"b","x-ok":1,"extra":2,"meta":{"anything":1},"files":[{"path":"p","size":3}],
         "pair":[{"a":1,"b":2}],"counts":{"ran":1}}
        """#)
        XCTAssertEqual(schema.validate(document), [], "the schema is open")
        XCTAssertEqual(schema.unknownProperties(in: document), [
            v("/files/0/size", "undeclared property 'size'"),
            v("/nmae", "undeclared property 'nmae'"),
            v("/pair/0/b", "undeclared property 'b'"),
        ])
        XCTAssertEqual(schema.unknownProperties(in: ["name": "a"]), [])
    }

    func testValidatesFromManyThreads() throws {
        let schema = try JSONSchema(JSON.parse(#"{"items":{"pattern":"^[a-z]+\\d$"}}"#))
        let document: JSON = .array((0..<200).map { .string($0 % 2 == 0 ? "abc\($0 % 10)" : "ABC") })
        let expected = schema.validate(document)
        XCTAssertEqual(expected.count, 100)
        let agreed = Mutex(0)
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            if schema.validate(document) == expected { agreed.withLock { $0 += 1 } }
        }
        XCTAssertEqual(agreed.withLock { $0 }, 8)
    }
}
