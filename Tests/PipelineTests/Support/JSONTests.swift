import XCTest

@testable import Pipeline

final class JSONTests: XCTestCase {
    func testCanonicalSortsKeysByUTF16AndEscapesMinimally() {
        let value: JSON = ["b": 1, "a": [true, nil, "x\"y\\z\n\u{1}"], "é": "ü", "\u{1F600}": 0, "\u{FB33}": 1]
        // U+1F600 is a surrogate pair (D83D…), which sorts before U+FB33 in UTF-16 order.
        XCTAssertEqual(value.canonicalString, #"{"a":[true,null,"x\"y\\z\n\u0001"],"b":1,"é":"ü","😀":0,"דּ":1}"#)
    }

    func testNumbersFollowECMAScript() {
        XCTAssertEqual(JSON.double(1.0).canonicalString, "1")
        XCTAssertEqual(JSON.double(0.5).canonicalString, "0.5")
        XCTAssertEqual(JSON.double(-0.0).canonicalString, "0")
        XCTAssertEqual(JSON.double(1e21).canonicalString, "1e+21")
        XCTAssertEqual(JSON.double(1e-7).canonicalString, "1e-7")
    }

    func testParseRoundTrip() throws {
        let text = #"{"a":[1,2.5,"\u00e9\ud83d\ude00",false,null],"b":{"c":"d"}}"#
        let value = try JSON.parse(text)
        XCTAssertEqual(value["a"]?.arrayValue?[2].stringValue, "é😀")
        XCTAssertEqual(try JSON.parse(value.canonicalString), value)
    }

    func testParseRejectsBadInput() {
        for bad in ["", "{", "[1,]", "{\"a\":1,\"a\":2}", "01", "\"\\x\"", "[1] 2", "\"\\ud800\""] {
            XCTAssertThrowsError(try JSON.parse(bad), bad)
        }
        let deep = String(repeating: "[", count: 1000) + String(repeating: "]", count: 1000)
        XCTAssertThrowsError(try JSON.parse(deep))
    }

    /// Found by Fuzz/fuzz-json: a number beyond Double's range read as infinity, which encodes
    /// as `null`, so the canonical round trip changed the value.
    func testParseRejectsNumbersOutOfRange() {
        for bad in ["2.1e555555555520", "-1e400", "[1e309]", "{\"a\":1E+999}"] {
            XCTAssertThrowsError(try JSON.parse(bad), bad) { error in
                XCTAssertTrue("\(error)".contains("number out of range"), "\(error)")
            }
        }
        XCTAssertEqual(try JSON.parse("1.7976931348623157e308"), .double(1.7976931348623157e308))
        XCTAssertEqual(try JSON.parse("1e-400"), .double(0))
    }
}
