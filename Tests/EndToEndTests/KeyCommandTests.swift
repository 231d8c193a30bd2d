import Foundation
import Glibc
import Pipeline
import XCTest

/// `pipeline key gen|show|rotate`: the key files' format and modes, refusals and exit statuses.
final class KeyCommandTests: XCTestCase {
    func testGenWritesOneLineOfBase64PerFileWithTheRightSizesAndModes() throws {
        let f = try Fixture(self)
        let result = f.run(["key", "gen", "--json"])
        assertExit(result, 0)
        let document = try XCTUnwrap(JSONLines(result.stdout).of("pipeline.key").first, result.transcript)
        XCTAssertEqual(result.stdoutLines.count, 1, result.transcript)
        XCTAssertEqual(document["schema_version"] as? String, "1.0.0")
        XCTAssertEqual(document["action"] as? String, "gen")
        XCTAssertEqual(document["private_key_path"] as? String, "pipeline_private.key")
        XCTAssertEqual(document["public_key_path"] as? String, "pipeline_public.key")

        let privateKey = try keyFile(f, "pipeline_private.key", bytes: 64)
        let publicKey = try keyFile(f, "pipeline_public.key", bytes: 32)
        XCTAssertEqual(Array(privateKey[32...]), publicKey, "the private key file holds seed ‖ public key")
        XCTAssertEqual(mode(f, "pipeline_private.key"), 0o600)
        XCTAssertEqual(mode(f, "pipeline_public.key"), 0o644)
        XCTAssertEqual(document["key_id"] as? String, SHA256.hash(publicKey).hex)
        XCTAssertEqual(document["public_key"] as? String, Data(publicKey).base64EncodedString())

        let human = f.run(["key", "gen", "--out-dir", f.outside + "/keys", "--prefix", "release"])
        assertExit(human, 0)
        let releasePublic = try keyFile(f, f.outside + "/keys/release_public.key", bytes: 32)
        _ = try keyFile(f, f.outside + "/keys/release_private.key", bytes: 64)
        XCTAssertEqual(mode(f, f.outside + "/keys/release_private.key"), 0o600)
        assertContains(human.stdout, "key \(SHA256.hash(releasePublic).hex)\n")
        assertContains(human.stdout, f.outside + "/keys/release_private.key")
        assertContains(human.stdout, f.outside + "/keys/release_public.key")
        assertLacks(human.stdout + human.stderr, try XCTUnwrap(f.read(f.outside + "/keys/release_private.key")).trimmed)
    }

    func testGenRefusesToOverwriteAKeyWithExit8UnlessForced() throws {
        let f = try Fixture(self)
        assertExit(f.run(["key", "gen"]), 0)
        let before = (f.read("pipeline_private.key"), f.read("pipeline_public.key"))

        let refused = f.run(["key", "gen"])
        assertExit(refused, 8)
        assertContains(refused.stderr, "refusing to overwrite")
        assertContains(refused.stderr, "pipeline_")
        assertContains(refused.stderr, "--force")
        XCTAssertEqual(refused.stdout, "")

        let json = f.run(["key", "gen", "--json"])
        assertExit(json, 8)
        let error = try XCTUnwrap(JSONLines(json.stdout).of("pipeline.error").first, json.transcript)
        XCTAssertEqual(error["error_code"] as? String, "confirmation_required")
        XCTAssertEqual(error["category"] as? String, "unsafe")
        XCTAssertEqual(error["exit_code"] as? Int, 8)

        f.remove("pipeline_private.key")
        assertExit(f.run(["key", "gen"]), 8, "a public key file alone also blocks")
        XCTAssertEqual(f.read("pipeline_public.key"), before.1)
        XCTAssertFalse(f.exists("pipeline_private.key"))

        assertExit(f.run(["key", "gen", "--force"]), 0)
        XCTAssertNotEqual(f.read("pipeline_public.key"), before.1)
        XCTAssertNotEqual(f.read("pipeline_private.key"), before.0)
        XCTAssertEqual(mode(f, "pipeline_private.key"), 0o600)
    }

    func testShowPrintsTheKeyIDGenPrintedFromEverySource() throws {
        let f = try Fixture(self)
        let gen = JSONLines(f.run(["key", "gen", "--json", "--out-dir", "keys"]).stdout).of("pipeline.key").first
        let keyID = try XCTUnwrap(gen?["key_id"] as? String)
        let publicText = try XCTUnwrap(gen?["public_key"] as? String)
        let privateText = try XCTUnwrap(f.read("keys/pipeline_private.key"))
        let environment = ["PIPELINE_TEST_PRIVATE": privateText, "PIPELINE_TEST_PUBLIC": publicText]

        let sources: [[String]] = [
            ["--out-dir", "keys"], ["--public-key", "keys/pipeline_public.key"], ["--private-key", "keys/pipeline_private.key"],
            ["--private-key-env", "PIPELINE_TEST_PRIVATE"], ["--public-key-env", "PIPELINE_TEST_PUBLIC"],
        ]
        for source in sources {
            let json = f.run(["key", "show", "--json"] + source, environment: environment)
            assertExit(json, 0, "\(source)")
            let document = try XCTUnwrap(JSONLines(json.stdout).of("pipeline.key").first, json.transcript)
            XCTAssertEqual(document["key_id"] as? String, keyID, "\(source)")
            XCTAssertEqual(document["public_key"] as? String, publicText, "\(source)")
            XCTAssertEqual(document["action"] as? String, "show")

            let human = f.run(["key", "show"] + source, environment: environment)
            assertExit(human, 0, "\(source)")
            XCTAssertTrue(human.stdout.hasPrefix("key \(keyID)\n"), human.transcript)
            assertContains(human.stdout, publicText)
            for output in [json.stdout, human.stdout, human.stderr] { assertLacks(output, privateText.trimmed) }
        }

        let missing = f.run(["key", "show"])
        assertExit(missing, 6)
        assertContains(missing.stderr, "no public key file at pipeline_public.key")
        assertContains(missing.stderr, "pipeline key gen")
        assertExit(f.run(["key", "show", "--public-key", "a", "--private-key", "b"]), 6)
        let unset = f.run(["key", "show", "--private-key-env", "PIPELINE_TEST_UNSET"], environment: ["PIPELINE_TEST_UNSET": nil])
        assertExit(unset, 6)
        assertContains(unset.stderr, "PIPELINE_TEST_UNSET is not set")
    }

    func testRotateKeepsTheOldPairAndChangesTheKeyID() throws {
        let f = try Fixture(self)
        let gen = JSONLines(f.run(["key", "gen", "--json"]).stdout).of("pipeline.key").first
        let oldID = try XCTUnwrap(gen?["key_id"] as? String)
        let oldPrivate = f.read("pipeline_private.key"), oldPublic = f.read("pipeline_public.key")

        let result = f.run(["key", "rotate", "--json"])
        assertExit(result, 0)
        let document = try XCTUnwrap(JSONLines(result.stdout).of("pipeline.key").first, result.transcript)
        let newID = try XCTUnwrap(document["key_id"] as? String)
        XCTAssertNotEqual(newID, oldID)
        XCTAssertEqual(document["action"] as? String, "rotate")
        XCTAssertEqual(document["previous_key_id"] as? String, oldID)
        let archive = "pipeline_\(oldID.prefix(12))"
        XCTAssertEqual(document["previous_private_key_path"] as? String, archive + "_private.key")
        XCTAssertEqual(document["previous_public_key_path"] as? String, archive + "_public.key")

        XCTAssertEqual(f.read(archive + "_private.key"), oldPrivate)
        XCTAssertEqual(f.read(archive + "_public.key"), oldPublic)
        XCTAssertEqual(mode(f, archive + "_private.key"), 0o600)
        XCTAssertEqual(mode(f, "pipeline_private.key"), 0o600)
        _ = try keyFile(f, "pipeline_private.key", bytes: 64)
        XCTAssertEqual(SHA256.hash(try keyFile(f, "pipeline_public.key", bytes: 32)).hex, newID)

        let showOld = f.run(["key", "show", "--prefix", archive])
        assertExit(showOld, 0)
        XCTAssertTrue(showOld.stdout.hasPrefix("key \(oldID)\n"), showOld.transcript)
        let showNew = f.run(["key", "show", "--private-key", "pipeline_private.key"])
        XCTAssertTrue(showNew.stdout.hasPrefix("key \(newID)\n"), showNew.transcript)

        let human = f.run(["key", "rotate"])
        assertExit(human, 0)
        assertContains(human.stdout, "(was \(newID))")
        assertContains(human.stdout, "pipeline_\(newID.prefix(12))_private.key")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: f.root).count, 6, "three pairs, no temp files")

        let nothing = f.run(["key", "rotate", "--out-dir", f.outside])
        assertExit(nothing, 6)
        assertContains(nothing.stderr, "no key pair to rotate")
        assertContains(nothing.stderr, f.outside + "/pipeline_private.key")
        assertContains(nothing.stderr, "pipeline key gen")
    }

    func testABadKeyFileIsExit6NamingThePathButNotTheKey() throws {
        let f = try Fixture(self)
        assertExit(f.run(["key", "gen", "--prefix", "a"]), 0)
        assertExit(f.run(["key", "gen", "--prefix", "b"]), 0)
        let privateA = try keyFile(f, "a_private.key", bytes: 64)
        let publicB = try keyFile(f, "b_public.key", bytes: 32)
        let mismatched = Data(privateA[..<32] + publicB).base64EncodedString()
        f.write("mismatched.key", mismatched + "\n")
        f.write("short.key", Data(privateA[..<32]).base64EncodedString() + "\n")
        f.write("garbage.key", "-----BEGIN PRIVATE KEY-----\n")

        for (name, reason) in [("mismatched.key", "does not match"), ("short.key", "64 bytes"), ("garbage.key", "base64")] {
            let result = f.run(["key", "show", "--private-key", f.path(name)])
            assertExit(result, 6, name)
            assertContains(result.stderr, "private key file \(f.path(name))")
            assertContains(result.stderr, reason)
            assertLacks(result.stderr, String(mismatched.prefix(16)))
            XCTAssertEqual(result.stdout, "")
        }
        let json = f.run(["key", "show", "--json", "--private-key", "mismatched.key"])
        assertExit(json, 6)
        let error = try XCTUnwrap(JSONLines(json.stdout).of("pipeline.error").first, json.transcript)
        XCTAssertEqual(error["error_code"] as? String, "invalid_input")
        XCTAssertEqual(error["path"] as? String, "mismatched.key")
        assertLacks(json.stdout, String(mismatched.prefix(16)))

        let fromEnvironment = f.run(["key", "show", "--private-key-env", "PIPELINE_TEST_KEY"], environment: ["PIPELINE_TEST_KEY": mismatched])
        assertExit(fromEnvironment, 6)
        assertContains(fromEnvironment.stderr, "environment variable PIPELINE_TEST_KEY")
        assertLacks(fromEnvironment.stderr, String(mismatched.prefix(16)))

        f.write("a_public.key", "not base64\n")
        let rotate = f.run(["key", "rotate", "--prefix", "a"])
        assertExit(rotate, 6)
        assertContains(rotate.stderr, "public key file a_public.key")
        XCTAssertEqual(try keyFile(f, "a_private.key", bytes: 64), privateA, "nothing moved")
        assertExit(f.run(["key", "gen", "--prefix", "../up"]), 6)
    }

    func testKeyDocumentsMatchTheShippedSchema() throws {
        let probe = try SpawnedProcess(executable: "/usr/bin/env", arguments: ["python3", "-c", "import jsonschema"], directory: "/",
                                       environment: ProcessInfo.processInfo.environment).wait()
        guard probe.status == 0 else { throw XCTSkip("python3 with jsonschema is not installed") }
        let f = try Fixture(self)
        var lines = f.run(["key", "gen", "--json"]).stdoutLines
        lines += f.run(["key", "show", "--json"]).stdoutLines
        lines += f.run(["key", "show", "--json", "--private-key", "pipeline_private.key"]).stdoutLines
        lines += f.run(["key", "show", "--json", "--public-key-env", "K"], environment: ["K": f.read("pipeline_public.key")]).stdoutLines
        lines += f.run(["key", "rotate", "--json"]).stdoutLines
        lines += f.run(["key", "gen", "--json"]).stdoutLines
        XCTAssertEqual(lines.count, 6)

        let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
        let linesFile = f.outside + "/lines.jsonl"
        try lines.joined(separator: "\n").write(toFile: linesFile, atomically: true, encoding: .utf8)
        let script = """
            import json, sys, jsonschema
            schemas = {}
            for name in ["key.schema.json", "error.schema.json"]:
                s = json.load(open(sys.argv[1] + "/" + name))
                schemas[s["title"]] = s
            bad = 0
            for line in open(sys.argv[2]):
                doc = json.loads(line)
                try:
                    jsonschema.validate(doc, schemas[doc["schema_id"]])
                except jsonschema.ValidationError as e:
                    print("invalid:", line.strip(), e.message); bad += 1
            sys.exit(1 if bad else 0)
            """
        let check = try SpawnedProcess(executable: "/usr/bin/env", arguments: ["python3", "-c", script, packageRoot + "/schemas/v1/output", linesFile],
                                       directory: "/", environment: ProcessInfo.processInfo.environment).wait()
        XCTAssertEqual(check.status, 0, check.transcript)
    }

    // MARK: Helpers

    /// The bytes of a key file, checked to be one line of base64 of `count` bytes.
    func keyFile(_ f: Fixture, _ path: String, bytes count: Int, file: StaticString = #filePath, line: UInt = #line) throws -> [UInt8] {
        let text = try XCTUnwrap(f.read(path), "no \(path)", file: file, line: line)
        XCTAssertTrue(text.hasSuffix("\n"), "\(path) ends with a newline", file: file, line: line)
        XCTAssertEqual(text.filter { $0 == "\n" }.count, 1, "\(path) is one line", file: file, line: line)
        let bytes = try XCTUnwrap(Data(base64Encoded: String(text.dropLast())), "\(path) is base64", file: file, line: line)
        XCTAssertEqual(bytes.count, count, path, file: file, line: line)
        return Array(bytes)
    }

    func mode(_ f: Fixture, _ path: String) -> UInt32 {
        var st = stat()
        guard lstat(f.path(path), &st) == 0 else { return 0 }
        return UInt32(st.st_mode & 0o7777)
    }
}

private extension String {
    var trimmed: String { trimmingCharacters(in: .whitespacesAndNewlines) }
}
