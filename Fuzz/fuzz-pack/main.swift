import FuzzDriver
import Glibc
import Pipeline

runLibFuzzer(fuzzPack)

/// libFuzzer target: `PackVerifier.verify` (libarchive's zip reader, the manifest's JSON and
/// schema, entry checks, payload checks, signatures) on any bytes as a pack file. The input
/// goes to an unlinked temp file read through /proc/self/fd, so nothing is left behind even
/// on a crash; size caps keep a zip bomb from asking for gigabytes.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPack(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let fd = PackInput.fd
    guard ftruncate(fd, 0) == 0, pwrite(fd, data, size, 0) == size else { fatalError("cannot write the input: errno \(errno)") }
    let path = "/proc/self/fd/\(fd)"
    for verifier in PackInput.verifiers {
        do {
            let report = try verifier.verify(path)
            _ = report.json.canonicalBytes
        } catch let error as PipelineError {
            _ = error.description
        } catch {
            fatalError("not a PipelineError: \(error)")
        }
    }
    return 0
}

enum PackInput {
    static let fd: Int32 = {
        var template = Array(((getenv("TMPDIR").map { String(cString: $0) } ?? "/tmp") + "/pipeline-fuzz-pack-XXXXXX").utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { fatalError("mkstemp failed: errno \(errno)") }
        template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) }
        return fd
    }()

    static let limits = ZipLimits(maxEntrySize: 4 << 20, maxTotalSize: 16 << 20, maxEntries: 4096)
    /// The TCK's public key (tck/v1/keys/tck_public.key): the signed seeds verify with it.
    static let key = try! PublicKey(bytes: Base64.decode("M1UjMjfrrbj9h6d9INCHEUrkYaIBGomXA1R52gHdXIc="))
    nonisolated(unsafe) static let verifiers = [
        PackVerifier(profile: .standard, publicKey: key, limits: limits),
        PackVerifier(profile: .strict, limits: limits),
    ]
}
