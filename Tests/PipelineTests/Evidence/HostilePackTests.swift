import Foundation
import XCTest

@testable import Pipeline

/// Packs built to attack the verifier (scripts/hostilepacks.py, also used by scripts/gen-tck
/// and scripts/chaos.d/packs): each is refused with the right problem, without inflating a bomb.
final class HostilePackTests: XCTestCase {
    private static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().path

    /// Writes `hostilepacks.<call>` over the entries of the TCK's valid run pack to `out`.
    private func make(_ call: String, _ out: String) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", """
            import sys, zipfile
            sys.path.insert(0, sys.argv[1] + '/scripts')
            import hostilepacks as h
            with zipfile.ZipFile(sys.argv[1] + '/tck/v1/packs/valid_run.zip') as z:
                E = [(i.filename, z.read(i)) for i in z.infolist()]
            open(sys.argv[2], 'wb').write(h.\(call))
            """, HostilePackTests.root, out]
        try process.run()
        process.waitUntilExit()
        if process.terminationStatus == 127 { throw XCTSkip("python3 is not installed") }
        XCTAssertEqual(process.terminationStatus, 0, call)
    }

    private func verify(_ call: String, limits: ZipLimits = ZipLimits()) throws -> PackVerifier.Report {
        let ws = TestWorkspace()
        try make(call, ws.path("hostile.zip"))
        return try PackVerifier(limits: limits).verify(ws.path("hostile.zip"))
    }

    private func codes(_ report: PackVerifier.Report) -> Set<String> { Set(report.problems.map(\.code)) }

    func testTheGeneratorsOwnZipOfAValidPackVerifies() throws {
        XCTAssertEqual(try verify("plain(E).finish()").problems, [])
    }

    func testADeflateBombIsRefusedFromItsCentralDirectory() throws {
        // 17 MiB of zeros in ~17 KB, declared honestly with its true hash: only the ratio gives it away.
        let report = try verify("bomb_ratio(E, 17 << 20)")
        XCTAssertEqual(codes(report), ["limit_exceeded"])
        XCTAssertTrue(report.problems[0].message.contains("more than 100 times"), report.problems[0].message)
        XCTAssertEqual(report.bytes, 0, "nothing was inflated")
        XCTAssertTrue(try verify("bomb_ratio(E, 17 << 20)", limits: ZipLimits(maxRatio: 10_000)).ok, "a higher --max-ratio lets it through")
    }

    func testAnEntryInflatingPastItsDeclaredSizeStopsAtOnce() throws {
        let report = try verify("bomb_lying(E, 8 << 20)")
        XCTAssertEqual(codes(report), ["unreadable_entry"])
        XCTAssertLessThan(report.bytes, 4 << 20)
    }

    func testTwoNamesForOneLocalHeaderAreFound() throws {
        // libarchive drops the second record silently: undeclared, it used to pass unseen.
        let ws = TestWorkspace()
        try make("alias(E)", ws.path("declared.zip"))
        XCTAssertTrue(codes(try PackVerifier().verify(ws.path("declared.zip"))).contains("overlapping_entry"))
        try make("hidden_alias(E)", ws.path("hidden.zip"))
        let report = try PackVerifier().verify(ws.path("hidden.zip"))
        XCTAssertEqual(codes(report), ["overlapping_entry"])
        XCTAssertEqual(report.problems[0].path, "zz_hidden")
    }

    func testOverlappingEntriesAreFound() throws {
        // Fifield's trick: each stored entry's data holds the next entries; small enough for the ratio cap.
        XCTAssertTrue(codes(try verify("bomb_overlap(E, 20, 1024)")).contains("overlapping_entry"))
    }

    func testAFIFOEntryIsSpecialThoughLibarchiveCallsItAFile() throws {
        XCTAssertEqual(codes(try verify("typed_entry(E, h.FIFO)")), ["special_entry"])
        XCTAssertEqual(codes(try verify("typed_entry(E, h.SYMLINK)")), ["symlink_entry"])
    }

    func testNamesAreJudgedAsStoredNotAsLibarchiveRewritesThem() throws {
        // libarchive reports `..\..\x` as `../../x`; unzip on Linux would write a file named `..\..\x`.
        let report = try verify(#"unsafe_name(E, "..\\..\\x")"#)
        XCTAssertTrue(report.problems.contains { $0.code == "unsafe_path" && $0.path == #"..\..\x"# }, "\(report.problems)")
        XCTAssertTrue(codes(try verify(#"raw_name(E, b"caf\xe9.txt", False)"#)).contains("unsafe_path"))
    }

    func testTwoManifestsDifferingInCaseAreDuplicates() throws {
        let report = try verify("manifest_twice(E)")
        XCTAssertTrue(report.problems.contains { $0.code == "duplicate_entry" && $0.message.contains("only in case") }, "\(report.problems)")
    }

    func testAManifestOverTheDocumentCapIsALimitNotUnreadable() throws {
        // Was exit 6 ("no pack_manifest.json"): the cap had dropped it silently.
        let report = try verify("huge_manifest(E, \(PackReader.maximumDocumentSize + 1), False)")
        XCTAssertEqual(report.problems.map(\.code), ["limit_exceeded"])
        XCTAssertEqual(report.problems[0].path, "pack_manifest.json")
    }

    func testADeepManifestIsInvalidInputNamingTheNesting() throws {
        XCTAssertThrowsError(try verify("deep_manifest(E, 100000)")) { error in
            XCTAssertEqual((error as? PipelineError)?.code, .invalidInput)
            XCTAssertTrue("\(error)".contains("nesting deeper than 128"), "\(error)")
        }
    }

    func testManyBadEntriesGiveABoundedReport() throws {
        // 300 undeclared entries: 100 listed and one counting the rest (was quadratic, and unbounded).
        let report = try verify("many_entries(E, 300)")
        XCTAssertEqual(report.problems.count, PackVerifier.problemsPerCode + 1)
        XCTAssertEqual(report.problems.last?.message, "and 200 more undeclared_file problems not listed")
        let refused = try verify("many_entries(E, 300)", limits: ZipLimits(maxEntries: 200))
        XCTAssertEqual(codes(refused), ["limit_exceeded"])
    }

    func testReplayRefusesAPackWhoseContainerDoesNotVerify() throws {
        let ws = TestWorkspace()
        try make("typed_entry(E, h.FIFO)", ws.path("fifo.zip"))
        let run = ReplayRun(source: ws.path("fifo.zip"), storePath: nil, policy: .stub, out: nil, keep: false)
        XCTAssertThrowsError(try run.run(executor: nil, environment: [:])) { error in
            XCTAssertEqual((error as? PipelineError)?.code, .verificationFailed)
            XCTAssertTrue("\(error)".contains("special_entry"), "\(error)")
        }
    }
}
