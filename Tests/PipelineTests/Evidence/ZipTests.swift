import Foundation
import Glibc
import XCTest

@testable import Pipeline

final class ZipTests: XCTestCase {
    /// A mixed set: a non-ASCII name, an executable, an empty file, a file source larger than
    /// one 1 MiB chunk; given out of order.
    private func sampleEntries(_ ws: TestWorkspace) -> [ZipEntry] {
        // Over two 1 MiB chunks, not a multiple of them; built from blocks (a byte-wise map is slow in debug).
        let block = (0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 8) }
        var big: [UInt8] = []
        for round in 0..<((2 << 20) / block.count) { big += block; big[big.count - 1] = UInt8(truncatingIfNeeded: round) }
        big += block[0..<17]
        let fd = open(ws.path("big.bin"), O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        try! FileSystem.writeAll(fd, big, path: ws.path("big.bin"))
        close(fd)
        return [
            ZipEntry(path: "z/last.txt", source: .bytes(Array("last\n".utf8))),
            ZipEntry(path: "bin/tool", source: .bytes(Array("#!/bin/sh\necho hi\n".utf8)), executable: true),
            ZipEntry(path: "données/日本語 é.txt", source: .bytes(Array("bonjour\n".utf8))),
            ZipEntry(path: "data/big.bin", source: .file(ws.path("big.bin"))),
            ZipEntry(path: "empty", source: .bytes([])),
            ZipEntry(path: "Z-upper", source: .bytes([0, 1, 2, 255])),
        ]
    }

    private func contents(of path: String, limits: ZipLimits = ZipLimits()) throws -> [(info: ZipEntryInfo, data: [UInt8])] {
        let reader = try ZipReader(path: path, limits: limits)
        var result: [(info: ZipEntryInfo, data: [UInt8])] = []
        while let info = try reader.nextEntry() {
            var data: [UInt8] = []
            let count = try reader.readData { data.append(contentsOf: $0) }
            XCTAssertEqual(count, UInt64(data.count))
            result.append((info, data))
        }
        return result
    }

    private func readFailure(_ body: () throws -> Void, file: StaticString = #filePath, line: UInt = #line) -> ZipReadFailure? {
        do {
            try body()
            XCTFail("expected a ZipReadFailure", file: file, line: line)
        } catch let failure as ZipReadFailure {
            return failure
        } catch {
            XCTFail("unexpected error \(error)", file: file, line: line)
        }
        return nil
    }

    /// Runs a program found in PATH; skips the test when it is not installed.
    private func run(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["PYTHONIOENCODING"] = "utf-8"
        process.environment = environment
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        if process.terminationStatus == 127 { throw XCTSkip("\(arguments[0]) is not installed") }
        return (process.terminationStatus, output)
    }

    private func python(_ script: String, _ arguments: String...) throws -> String {
        let result = try run(["python3", "-c", script] + arguments)
        XCTAssertEqual(result.status, 0, result.output)
        return result.output
    }

    // MARK: - Writing

    func testRoundTrip() throws {
        let ws = TestWorkspace()
        let entries = sampleEntries(ws)
        try ZipWriter.write(entries, to: ws.path("out/pack.zip"))
        XCTAssertEqual(FileSystem.stat(ws.path("out/pack.zip"))?.mode, 0o644)
        XCTAssertEqual(FileSystem.list(ws.path("out"))?.map(\.name), ["pack.zip"], "no temp file left behind")

        // The C locale (ASCII) cannot represent the non-ASCII name: the reader must not depend on it.
        let savedLocale = String(cString: setlocale(LC_ALL, nil))
        setlocale(LC_ALL, "C")
        defer { setlocale(LC_ALL, savedLocale) }
        let read = try contents(of: ws.path("out/pack.zip"))
        XCTAssertEqual(read.map(\.info.path), ["Z-upper", "bin/tool", "data/big.bin", "donn\u{E9}es/日本語 \u{E9}.txt", "empty", "z/last.txt"])
        for (info, data) in read {
            let entry = entries.first { $0.path == info.path }!
            let expected: [UInt8]
            switch entry.source {
            case .bytes(let bytes): expected = bytes
            case .file(let path): expected = try FileSystem.readFile(path)
            }
            XCTAssertEqual(info, ZipEntryInfo(path: entry.path, kind: .file, size: UInt64(expected.count),
                                              mode: entry.executable ? 0o755 : 0o644))
            XCTAssertTrue(data == expected, info.path)
        }
    }

    func testSameBytesUnderAnyTimeZoneLocaleUmaskAndOrder() throws {
        let ws = TestWorkspace()
        let entries = sampleEntries(ws)
        try ZipWriter.write(entries, to: ws.path("first.zip"))

        let savedTZ = getenv("TZ").map { String(cString: $0) }
        let savedLocale = String(cString: setlocale(LC_ALL, nil))
        let savedMask = umask(0o077)
        setenv("TZ", "Asia/Tokyo", 1)
        tzset()
        setlocale(LC_ALL, "C.UTF-8")
        defer {
            umask(savedMask)
            setlocale(LC_ALL, savedLocale)
            if let savedTZ { setenv("TZ", savedTZ, 1) } else { unsetenv("TZ") }
            tzset()
        }
        try ZipWriter.write(entries.reversed(), to: ws.path("tokyo.zip"))
        setenv("TZ", "America/Los_Angeles", 1)
        setlocale(LC_ALL, "C")
        try ZipWriter.write(entries, to: ws.path("los-angeles.zip"))

        let first = try FileSystem.readFile(ws.path("first.zip"))
        XCTAssertTrue(first == (try FileSystem.readFile(ws.path("tokyo.zip"))), "TZ=Asia/Tokyo, C.UTF-8, umask 077")
        XCTAssertTrue(first == (try FileSystem.readFile(ws.path("los-angeles.zip"))), "TZ=America/Los_Angeles, C")
        XCTAssertEqual(FileSystem.stat(ws.path("tokyo.zip"))?.mode, 0o644)
    }

    /// Python's zipfile and Info-ZIP's unzip accept the archive; the format is as specified,
    /// down to the extra fields libarchive adds.
    func testPythonAndUnzipAcceptTheFixedFormat() throws {
        let ws = TestWorkspace()
        try ZipWriter.write(sampleEntries(ws), to: ws.path("pack.zip"))
        let listing = try python("""
            import struct, sys, zipfile
            z = zipfile.ZipFile(sys.argv[1])
            assert z.testzip() is None
            names = [i.filename for i in z.infolist()]
            assert names == sorted(names, key=lambda n: n.encode()), names
            for i in z.infolist():
                assert i.compress_type == zipfile.ZIP_STORED, i
                assert i.date_time == (1980, 1, 1, 0, 0, 0), i.date_time
                assert i.create_system == 3 and not i.is_dir(), i
                assert i.flag_bits & 0x800 == (0 if i.filename.isascii() else 0x800), i.flag_bits
                fields, extra = [], i.extra
                while extra:
                    tag, size = struct.unpack('<HH', extra[:4])
                    fields.append((tag, extra[4:4 + size]))
                    extra = extra[4 + size:]
                assert fields == [(0x5455, b'\\x01' + struct.pack('<I', 315532800)),
                                  (0x7875, b'\\x01\\x04' + bytes(4) + b'\\x04' + bytes(4))], fields
                print(i.filename, oct(i.external_attr >> 16), i.file_size)
            """, ws.path("pack.zip"))
        XCTAssertEqual(listing, """
            Z-upper 0o100644 4
            bin/tool 0o100755 18
            data/big.bin 0o100644 2097169
            données/日本語 é.txt 0o100644 8
            empty 0o100644 0
            z/last.txt 0o100644 5

            """)
        let unzip = try run(["unzip", "-tqq", ws.path("pack.zip")])
        XCTAssertEqual(unzip.status, 0, unzip.output)
    }

    func testWriterRefusesDuplicatesAndPathsThatAreNotPlainRelativeFiles() throws {
        let ws = TestWorkspace()
        for bad in [["a", "b", "a"], [""], ["/abs"], ["../x"], ["a/../b"], ["./a"], ["a//b"], ["dir/"], ["a\\b"]] {
            let entries = bad.map { ZipEntry(path: $0, source: .bytes([1])) }
            XCTAssertThrowsError(try ZipWriter.write(entries, to: ws.path("bad.zip")), "\(bad)") { error in
                XCTAssertEqual((error as? PipelineError)?.code, .invalidInput, "\(bad)")
            }
        }
        XCTAssertThrowsError(try ZipWriter.write([ZipEntry(path: "a", source: .file(ws.path("missing")))], to: ws.path("bad.zip"))) { error in
            XCTAssertEqual((error as? PipelineError)?.code, .io)
        }
        XCTAssertFalse(ws.exists("bad.zip"))
        XCTAssertEqual(FileSystem.list(ws.root)?.count, 0, "no temp file left behind")
    }

    func testEmptyZipReadsAsNoEntries() throws {
        let ws = TestWorkspace()
        try ZipWriter.write([], to: ws.path("empty.zip"))
        XCTAssertEqual(FileSystem.stat(ws.path("empty.zip"))?.size, 22, "only the end record")
        XCTAssertTrue(try contents(of: ws.path("empty.zip")).isEmpty)
    }

    // MARK: - Reading

    /// Duplicates, `..`, directories and symlinks are reported as they are, for the caller to judge.
    func testReaderReportsEveryEntryAsStored() throws {
        let ws = TestWorkspace()
        _ = try python("""
            import sys, warnings, zipfile
            warnings.simplefilter('ignore')
            with zipfile.ZipFile(sys.argv[1], 'w') as z:
                z.writestr('a', 'one')
                z.writestr('a', 'two')
                z.writestr('../x', 'up')
                z.writestr('dir/', '')
                link = zipfile.ZipInfo('link')
                link.external_attr = 0o120777 << 16
                z.writestr(link, 'target')
                z.writestr('deflated', bytes(range(256)) * 2400, compress_type=zipfile.ZIP_DEFLATED)
            """, ws.path("odd.zip"))
        let read = try contents(of: ws.path("odd.zip"))
        XCTAssertEqual(read.map(\.info.path), ["a", "a", "../x", "dir/", "link", "deflated"])
        XCTAssertEqual(read.map(\.info.kind), [.file, .file, .file, .directory, .symlink, .file])
        XCTAssertEqual(read.prefix(5).map { String(decoding: $0.data, as: UTF8.self) }, ["one", "two", "up", "", ""])
        XCTAssertEqual(read[4].info.mode, 0o777)
        // Inflated in several blocks (libarchive's are 256 KiB), in order.
        var expected: [UInt8] = []
        for _ in 0..<2400 { expected += (0...255) as ClosedRange<UInt8> }
        XCTAssertEqual(read[5].info.size, 614_400)
        XCTAssertTrue(read[5].data == expected)
    }

    func testTruncatedMissingAndNonZipFilesAreUnreadable() throws {
        let ws = TestWorkspace()
        try ZipWriter.write(sampleEntries(ws), to: ws.path("pack.zip"))
        let bytes = try FileSystem.readFile(ws.path("pack.zip"))
        try Materializer.writeAtomically(Array(bytes.dropLast(10)), to: ws.path("truncated.zip"))
        try Materializer.writeAtomically(Array(bytes.prefix(bytes.count / 2)), to: ws.path("half.zip"))
        ws.write("text.zip", "not a zip\n")
        ws.write("empty-file.zip", "")
        for name in ["truncated.zip", "half.zip", "text.zip", "empty-file.zip", "missing.zip"] {
            guard case .unreadable = readFailure({ _ = try ZipReader(path: ws.path(name)) }) else {
                XCTFail("\(name) should be unreadable")
                continue
            }
        }
    }

    func testCorruptDataIsMalformed() throws {
        let ws = TestWorkspace()
        let text = Array("hello, evidence\n".utf8)
        try ZipWriter.write([ZipEntry(path: "a.txt", source: .bytes(text)), ZipEntry(path: "b.txt", source: .bytes([1]))],
                            to: ws.path("pack.zip"))
        var bytes = try FileSystem.readFile(ws.path("pack.zip"))
        let at = (0...(bytes.count - text.count)).first { Array(bytes[$0..<$0 + text.count]) == text }!
        bytes[at] ^= 0xFF
        try Materializer.writeAtomically(bytes, to: ws.path("corrupt.zip"))

        let reader = try ZipReader(path: ws.path("corrupt.zip"))
        XCTAssertEqual(try reader.nextEntry()?.path, "a.txt")
        guard case .malformed(let message) = readFailure({ try reader.readData { _ in } }) else { return XCTFail() }
        XCTAssertTrue(message.contains("CRC"), message)
        XCTAssertEqual(try reader.nextEntry()?.path, "b.txt", "the next entry still reads")

        // Without the CRC check (for callers that hash every entry) the changed byte comes through.
        let unchecked = try ZipReader(path: ws.path("corrupt.zip"), verifyCRC: false)
        XCTAssertEqual(try unchecked.nextEntry()?.path, "a.txt")
        var data: [UInt8] = []
        try unchecked.readData { data.append(contentsOf: $0) }
        XCTAssertEqual(data.count, text.count)
        XCTAssertNotEqual(data, text)
    }

    func testLimitsStopZipBombs() throws {
        let ws = TestWorkspace()
        let hundred = [UInt8](repeating: 7, count: 100)
        try ZipWriter.write(["a", "b", "c"].map { ZipEntry(path: $0, source: .bytes(hundred)) }, to: ws.path("three.zip"))
        let path = ws.path("three.zip")

        guard case .limit = readFailure({ _ = try contents(of: path, limits: ZipLimits(maxEntries: 2)) }) else { return XCTFail("entries") }
        guard case .limit = readFailure({ _ = try contents(of: path, limits: ZipLimits(maxEntrySize: 99)) }) else { return XCTFail("declared") }
        guard case .limit = readFailure({ _ = try contents(of: path, limits: ZipLimits(maxTotalSize: 250)) }) else { return XCTFail("total") }
        XCTAssertEqual(try contents(of: path, limits: ZipLimits(maxEntrySize: 100, maxTotalSize: 300, maxEntries: 3)).count, 3)

        // A deflated entry that declares 10 bytes but inflates to 1 MB: refused at the first
        // block past what it declares, whatever the caps.
        _ = try python("""
            import io, struct, sys, zipfile
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, 'w', zipfile.ZIP_DEFLATED) as z:
                z.writestr('bomb', bytes(1000000))
            data = bytearray(buffer.getvalue())
            struct.pack_into('<I', data, 22, 10)
            struct.pack_into('<I', data, data.find(b'PK\\x01\\x02') + 24, 10)
            open(sys.argv[1], 'wb').write(data)
            """, ws.path("bomb.zip"))
        let reader = try ZipReader(path: ws.path("bomb.zip"), limits: ZipLimits(maxEntrySize: 1000))
        XCTAssertEqual(try reader.nextEntry()?.size, 10)
        var seen = 0
        guard case .malformed(let message) = readFailure({ try reader.readData { seen += $0.count } }) else { return XCTFail("inflated") }
        XCTAssertTrue(message.contains("inflates past the 10 bytes it declares"), message)
        XCTAssertEqual(seen, 0, "the block over the declared size never reaches the caller")
    }
}
