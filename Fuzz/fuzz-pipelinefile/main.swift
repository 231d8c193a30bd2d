import FuzzDriver
import Glibc
import Pipeline
import Rules

runLibFuzzer(fuzzPipelinefile)

/// libFuzzer target: the Pipelinefile parser (libyaml events → YAMLNode → steps → graph) on
/// any bytes. It either returns a validated file and graph or throws a `PipelineError`.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPipelinefile(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: size > 0 ? data : nil, count: size))
    do {
        let (file, graph) = try PipelinefileParser(registry: CLIRules.registry).parseWithGraph(bytes: bytes, displayPath: "Pipelinefile.yaml")
        _ = (file.steps.count, graph.names.count)
    } catch let error as PipelineError {
        _ = error.description
    } catch {
        fatalError("not a PipelineError: \(error)")
    }
    return 0
}

/// The CLI's rules, so `use:` and `with:` are read as `pipeline run` reads them.
enum CLIRules {
    static let registry = BuiltinRules.registry
}
