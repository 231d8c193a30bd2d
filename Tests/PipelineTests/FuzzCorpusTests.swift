import Rules
import XCTest

@testable import Pipeline

/// Replays the fuzzers' seed corpora (Fuzz/corpus/<target>/, which keep every input a fuzzer
/// found failing) through the same entry points as the fuzz targets in Fuzz/, in process:
/// none may trap, and each found input gets the answer its fix gives.
final class FuzzCorpusTests: XCTestCase {
    static let corpus: String = {
        var path = #filePath  // <root>/Tests/PipelineTests/FuzzCorpusTests.swift
        for _ in 0..<3 { path = Path.directory(of: path) }
        return path + "/Fuzz/corpus"
    }()

    func inputs(_ target: String) throws -> [(name: String, bytes: [UInt8])] {
        let names = (FileSystem.list(FuzzCorpusTests.corpus + "/" + target) ?? []).map(\.name).sorted()
        XCTAssertFalse(names.isEmpty, "no seeds for \(target)")
        return try names.map { ($0, try FileSystem.readFile(FuzzCorpusTests.corpus + "/" + target + "/" + $0)) }
    }

    func testJSONSeedsRoundTripCanonically() throws {
        var parsed = 0
        for (name, bytes) in try inputs("json") {
            guard let value = try? JSON.parse(bytes) else { continue }
            parsed += 1
            let canonical = value.canonicalBytes
            let again = try JSON.parse(canonical)
            XCTAssertEqual(again.canonicalBytes, canonical, name)
        }
        XCTAssertGreaterThan(parsed, 10)
        // Found by fuzz-json: read as infinity, encoded as null.
        XCTAssertThrowsError(try JSON.parse(try FileSystem.readFile(FuzzCorpusTests.corpus + "/json/out-of-range.json")))
    }

    func testPipelinefileSeedsParseOrFailWithALocation() throws {
        let parser = PipelinefileParser(registry: BuiltinRules.registry)
        var messages: [String: String] = [:]
        for (name, bytes) in try inputs("pipelinefile") {
            do {
                _ = try parser.parseWithGraph(bytes: bytes, displayPath: name)
            } catch let error as PipelineError {
                XCTAssertNotNil(error.location, "\(name): \(error)")
                messages[name] = error.description
            }
        }
        XCTAssertNil(messages["root.yaml"], "the repository's own Pipelinefile parses")
        // Found by fuzz-pipelinefile: a timeout on deep nesting; unbounded alias expansion.
        XCTAssertTrue(messages["deep-nesting.yaml"]?.contains("nesting deeper than 128 levels") == true, messages["deep-nesting.yaml"] ?? "parsed")
        XCTAssertTrue(messages["alias-bomb.yaml"]?.contains("the aliases expand to more than") == true, messages["alias-bomb.yaml"] ?? "parsed")
    }

    func testPackSeedsVerifyWithoutTrapping() throws {
        let verifier = PackVerifier(limits: ZipLimits(maxEntrySize: 4 << 20, maxTotalSize: 16 << 20, maxEntries: 4096))
        var reports: [String: PackVerifier.Report] = [:]
        for (name, _) in try inputs("pack") {
            if let report = try? verifier.verify(FuzzCorpusTests.corpus + "/pack/" + name) { reports[name] = report }
        }
        XCTAssertEqual(reports["valid_run.zip"]?.ok, true)
        // Found by fuzz-pack: a run record's started_at in the year 1013 overflowed Int64
        // nanoseconds and trapped; now the pack is reported, not crashed on.
        XCTAssertEqual(reports["run-record-year-1013.zip"]?.ok, false)
    }

    func testDepfileSeedsParseOrFailWithALocation() throws {
        for (name, bytes) in try inputs("depfile") {
            do {
                _ = try Depfile.parse(bytes, path: name)
            } catch let error as PipelineError {
                XCTAssertNotNil(error.location, "\(name): \(error)")
            }
        }
    }
}
