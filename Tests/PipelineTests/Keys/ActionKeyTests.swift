import XCTest

@testable import Pipeline

final class ActionKeyTests: XCTestCase {
    let digestA = SHA256.hash("a")
    let digestB = SHA256.hash("b")

    func description(_ inputs: [(String, Digest)], env: [String: String] = ["CC": "gcc"]) -> ActionDescription {
        ActionDescription(kind: "run", command: .shell("cc -c a.c -o a.o"), env: env, secrets: ["TOKEN": true],
                          inputs: inputs.map { (path: $0.0, digest: $0.1) }, outputs: ["z.o", "a.o"], timeout: 30, platform: "linux-x86_64")
    }

    /// Pins the canonical encoding: if this changes, every cache in the world misses.
    func testGoldenCanonicalBytesAndKey() {
        let d = description([("src/b.c", digestB), ("src/a.c", digestA)])
        let expected = #"{"command":{"shell":"cc -c a.c -o a.o"},"env":{"CC":"gcc"},"inputs":[["src/a.c","ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb"],["src/b.c","3e23e8160039594a33894f6564e1b1348bbd7a0088d42c4acb73eeaed59c009d"]],"kind":"run","outputs":["a.o","z.o"],"platform":"linux-x86_64","rule_version":0,"salt":"pipeline/1","secrets":{"TOKEN":true},"timeout":30,"with":null}"#
        XCTAssertEqual(String(decoding: d.canonicalBytes, as: UTF8.self), expected)
        XCTAssertEqual(d.key().description, "7f81d1076cc68b1806de5560fc3eaf88c78daad4527ddf829db4d76860041ab3")
    }

    func testFastEncodingEqualsGenericCanonicalJSON() {
        let cases = [
            description([("src/a.c", digestA)]),
            ActionDescription(kind: "pack", ruleVersion: 3, command: nil, with: ["out": "dist", "list": [1, "two", nil], "é": true],
                              env: ["Z": "1", "A": "quote\"\n"], inputs: [], outputs: [], timeout: 0.5),
            ActionDescription(kind: "run", command: .argv(["printf", "%s\\n", "ü"]), inputs: [("a b", digestB)], outputs: ["x"]),
        ]
        for d in cases { XCTAssertEqual(d.canonicalBytes, d.json.canonicalBytes) }
    }

    func testOrderNeverLeaksIntoKeys() {
        let one = description([("src/a.c", digestA), ("src/b.c", digestB)], env: ["A": "1", "B": "2"])
        let two = description([("src/b.c", digestB), ("src/a.c", digestA)], env: ["B": "2", "A": "1"])
        XCTAssertEqual(one.key(), two.key())
    }

    func testEveryPartChangesTheKey() {
        let base = description([("src/a.c", digestA)])
        var changed: [ActionDescription] = []
        var d = base; d.command = .shell("cc -O2 -c a.c -o a.o"); changed.append(d)
        d = base; d.env = ["CC": "clang"]; changed.append(d)
        d = base; d.inputs = [("src/a.c", digestB)]; changed.append(d)
        d = base; d.inputs = [("src/other.c", digestA)]; changed.append(d)
        d = base; d.outputs = ["a.o"]; changed.append(d)
        d = base; d.timeout = 31; changed.append(d)
        d = base; d.platform = "linux-arm64"; changed.append(d)
        d = base; d.secrets = ["TOKEN": false]; changed.append(d)
        d = base; d.kind = "pack"; changed.append(d)
        let keys = Set(changed.map { $0.key() } + [base.key()])
        XCTAssertEqual(keys.count, changed.count + 1)
    }
}
