import XCTest

@testable import Pipeline

/// Run records, redaction, timestamps and manifest identity, in memory.
final class EvidenceUnitTests: XCTestCase {
    func testTimestampsRoundTripAndParseOffsetsAndEpochSeconds() {
        let t = Timestamp.parse("2026-11-22T21:15:03.120Z")
        XCTAssertEqual(t, 1_795_382_103_120_000_000)
        XCTAssertEqual(Timestamp.format(t!), "2026-11-22T21:15:03.120Z")
        XCTAssertEqual(Timestamp.format(t!, fraction: false), "2026-11-22T21:15:03Z")
        XCTAssertEqual(Timestamp.parse("2026-11-22T22:15:03.12+01:00"), t)
        XCTAssertEqual(Timestamp.parse("1970-01-01T00:00:00Z"), 0)
        XCTAssertEqual(Timestamp.parse("2000-02-29T00:00:00.123456789123Z"), 951_782_400_123_456_789)
        XCTAssertEqual(Timestamp.parseLenient("1795382103"), 1_795_382_103_000_000_000)
        for bad in ["", "2026-11-22", "2026-13-01T00:00:00Z", "2026-11-22T21:15:03", "2026-11-22T21:15:03.Z", "2026-11-22T21:15:03Zjunk"] {
            XCTAssertNil(Timestamp.parse(bad), bad)
        }
    }

    /// Found by Fuzz/fuzz-pack: a run record in a pack with `started_at` in the year 1013 made
    /// the nanosecond arithmetic overflow and trap (pack verify crashed instead of reporting).
    func testTimestampsBeyondInt64NanosecondsAreNotTimes() {
        for far in ["9999-12-31T23:59:59Z", "2262-04-12T00:00:00Z", "1677-09-21T00:00:00Z", "0000-01-01T00:00:00Z"] {
            XCTAssertNil(Timestamp.parse(far), far)
        }
        XCTAssertEqual(Timestamp.parse("2262-04-11T23:47:16.854775807Z"), Int64.max)
        XCTAssertEqual(Timestamp.parse("1677-09-21T00:12:44Z"), -9_223_372_036_000_000_000)
    }

    func testRedactorMasksEveryOccurrenceLongestFirst() {
        let redactor = Redactor(values: ["abc", "abcdef", ""])
        XCTAssertEqual(redactor.redact("x abcdef y abc z abcabc"), "x *** y *** z ******")
        XCTAssertEqual(redactor.redact("nothing here"), "nothing here")
        XCTAssertTrue(Redactor(values: [""]).isEmpty)
        XCTAssertEqual(Redactor(values: ["tok"]).redact(Array("tok".utf8)), Array("***".utf8))
    }

    func testSecretUseReportsLifetimeWithoutTheValue() {
        let uses = SecretUse.describe(["B", "A"], environment: ["A": "value", "A_ISSUED_AT": "2026-01-01T00:00:00Z", "A_EXPIRES_AT": "1767229200"])
        XCTAssertEqual(uses.map(\.name), ["A", "B"])
        XCTAssertEqual(uses[0].json, ["name": "A", "provided": true, "issued_at": "2026-01-01T00:00:00Z", "expires_at": "2026-01-01T01:00:00Z",
                                      "ttl_seconds": 3600])
        XCTAssertEqual(uses[1].json, ["name": "B", "provided": false])
    }

    func testRunRecordRoundTripsThroughJSON() throws {
        let digest = SHA256.hash("x")
        let record = RunRecord(step: "a", kind: "run", actionKey: ActionKey(digest), command: .argv(["cc", "-c"]), with: nil, env: ["CC": "cc"],
                               secrets: [SecretUse(name: "T", provided: true)], inputs: [("src/a.c", digest)],
                               outputs: [OutputFile(path: "a.o", digest: digest, size: 1, mode: 0o644)], directories: [], status: .ran,
                               exitCode: 0, stdout: digest, stderr: .empty, startedAt: 1_000_000_000, endedAt: 2_000_000_000,
                               durationNanos: 1_000_000_000, timeout: 5, platform: "linux-x86_64")
        let parsed = try RunRecord(json: try JSON.parse(record.json.canonicalBytes))
        XCTAssertEqual(parsed, record)
        XCTAssertEqual(parsed.blobs, [digest, digest, digest])
        XCTAssertEqual(record.json["started_at"], "1970-01-01T00:00:01.000Z")
    }

    func testPackIDIgnoresSignaturesAndHashesTheManifestWithAnEmptyID() {
        let manifest = PackManifest(producerVersion: "0.1.0", packType: .run, sourceRef: "job",
                                    contents: [.init(path: "b", sha256: SHA256.hash("b"), type: "blob"),
                                               .init(path: "a", sha256: SHA256.hash("a"), type: "payload")])
        XCTAssertEqual(manifest.contents.map(\.path), ["a", "b"], "contents are sorted")
        var blank = manifest.json.objectValue!
        blank["pack_id"] = ""
        XCTAssertEqual(manifest.packID, SHA256.hash(JSON.object(blank).canonicalBytes).hex)
        var signed = manifest
        signed.signatures = [.init(keyID: "k", sig: "s", signedDigest: .empty)]
        XCTAssertEqual(PackManifest.packID(of: signed.json), manifest.packID)
        XCTAssertEqual(PackManifest.signedDigest(of: signed.json), SHA256.hash(manifest.json.canonicalBytes))
    }

    func testUnsafeEntryNames() {
        for bad in ["/etc/passwd", "../x", "a/../../x", "a//b", "./a", "", "a\\b", "C:x"] {
            XCTAssertNotNil(PackVerifier.unsafe(bad), bad)
        }
        for good in ["a", "blobs/sha256/ab", "runs/0001_x.json", "é/ü"] { XCTAssertNil(PackVerifier.unsafe(good), good) }
    }
}

final class ByteCountTests: XCTestCase {
    func testSizesAsPeopleWriteThem() {
        XCTAssertEqual(ByteCount.parse("1048576"), 1_048_576)
        XCTAssertEqual(ByteCount.parse("512K"), 512 * 1024)
        XCTAssertEqual(ByteCount.parse("64KiB"), 64 * 1024)
        XCTAssertEqual(ByteCount.parse("10GiB"), 10 << 30)
        XCTAssertEqual(ByteCount.parse("2GB"), 2_000_000_000)
        XCTAssertEqual(ByteCount.parse("1.5G"), 3 << 29)
        for bad in ["", "x", "10 parsecs", "-1", "1e3"] { XCTAssertNil(ByteCount.parse(bad), bad) }
    }
}

final class ReplayPolicyTests: XCTestCase {
    func testToolIsTheProgramBasenameAfterAssignments() {
        XCTAssertEqual(ReplayPolicy.tool(of: .argv(["/usr/bin/cc", "-c"])), "cc")
        XCTAssertEqual(ReplayPolicy.tool(of: .shell("CC=gcc LANG=C make -j2")), "make")
        XCTAssertEqual(ReplayPolicy.tool(of: .shell("  /bin/tr a-z A-Z < x")), "tr")
        XCTAssertEqual(ReplayPolicy.tool(of: .shell("=x echo")), "=x")
    }

    func testEveryInterlockIsNeededAndTheMissingOnesAreNamed() throws {
        XCTAssertEqual(try ReplayPolicy.from(realTools: false, unsafeRealTools: false, allowTools: [], environment: [:]), .stub)
        let ok = try ReplayPolicy.from(realTools: true, unsafeRealTools: true, allowTools: ["cc, make", "tr"],
                                       environment: ["PIPELINE_ALLOW_REAL_REPLAY": "1"])
        XCTAssertEqual(ok.allowedTools, ["cc", "make", "tr"])
        XCTAssertTrue(ok.allows(.shell("make all")))
        XCTAssertFalse(ok.allows(.shell("rm -rf /")))
        XCTAssertEqual(ok.narrowed(to: ["tr", "sh"]).allowedTools, ["tr"], "a Pipelinefile narrows, never widens")
        XCTAssertThrowsError(try ReplayPolicy.from(realTools: true, unsafeRealTools: false, allowTools: ["x"], environment: [:])) { error in
            let message = (error as? PipelineError)?.message ?? ""
            XCTAssertTrue(message.contains("--unsafe-real-tools") && message.contains("PIPELINE_ALLOW_REAL_REPLAY=1"), message)
            XCTAssertFalse(message.contains("--real-tools,"), message)
            XCTAssertEqual((error as? PipelineError)?.code, .confirmationRequired)
        }
    }
}
