import FuzzDriver
import Glibc
import Pipeline

runLibFuzzer(fuzzDepfile)

/// libFuzzer target: `Depfile.parse` on any bytes. It either returns rules whose names are
/// non-empty or throws an error with a `line:col` inside the input.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzDepfile(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let buffer = UnsafeBufferPointer(start: size > 0 ? data : nil, count: size)
    do {
        let depfile = try Depfile.parse(buffer, path: "fuzz.d")
        for rule in depfile.rules {
            precondition(!rule.targets.isEmpty, "a rule without targets")
            precondition(!rule.targets.contains("") && !rule.prerequisites.contains(""), "an empty name")
        }
        _ = depfile.prerequisites
    } catch let error as PipelineError {
        guard let location = error.location else { fatalError("an error without a location: \(error)") }
        let lines = buffer.reduce(1) { $1 == UInt8(ascii: "\n") ? $0 + 1 : $0 }
        precondition(location.line >= 1 && location.line <= lines && location.column >= 1, "a location outside the input: \(error)")
        _ = error.description
    } catch {
        fatalError("not a PipelineError: \(error)")
    }
    return 0
}
