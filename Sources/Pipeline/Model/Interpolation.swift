/// `${name}` expansion. `$${` gives a literal `${`; any other `$` passes through untouched.
public enum Interpolation {
    public static func expand(_ text: String, vars: [String: String], at location: SourceLocation) throws -> String {
        guard text.utf8.contains(UInt8(ascii: "$")) else { return text }
        let bytes = Array(text.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = 0
        while i < bytes.count {
            let c = bytes[i]
            if c == UInt8(ascii: "$"), i + 2 < bytes.count, bytes[i + 1] == UInt8(ascii: "$"), bytes[i + 2] == UInt8(ascii: "{") {
                out.append(contentsOf: [UInt8(ascii: "$"), UInt8(ascii: "{")])
                i += 3
                continue
            }
            if c == UInt8(ascii: "$"), i + 1 < bytes.count, bytes[i + 1] == UInt8(ascii: "{") {
                guard let close = bytes[(i + 2)...].firstIndex(of: UInt8(ascii: "}")) else {
                    throw PipelineError(.invalidInput, "unterminated '${' in \"\(text)\" (write '$${' for a literal '${')", location: location)
                }
                let name = String(decoding: bytes[(i + 2)..<close], as: UTF8.self)
                guard let value = vars[name] else {
                    if name.hasPrefix("matrix.") { throw matrixError(name, vars: vars, at: location) }
                    let hint = Suggestion.hint(for: name, in: vars.keys)
                    throw PipelineError(.invalidInput, "undefined variable '${\(name)}'\(hint)", location: location,
                                        hint: "define it under vars:, or write '$${' for a literal '${'")
                }
                out.append(contentsOf: value.utf8)
                i = close + 1
                continue
            }
            out.append(c)
            i += 1
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// `${matrix.AXIS}` that is not defined: outside a matrix step, or an unknown axis.
    static func matrixError(_ name: String, vars: [String: String], at location: SourceLocation) -> PipelineError {
        let axes = vars.keys.filter { $0.hasPrefix("matrix.") }.map { String($0.dropFirst("matrix.".count)) }
        if axes.isEmpty {
            return PipelineError(.invalidInput, "'${\(name)}' is only defined in a step with 'matrix:'", location: location,
                                 hint: "give the step a matrix, e.g. matrix: { os: [linux, mac] }, or write '$${' for a literal '${'")
        }
        let axis = String(name.dropFirst("matrix.".count))
        return PipelineError(.invalidInput, "unknown matrix axis '\(axis)' in '${\(name)}'\(Suggestion.hint(for: axis, in: axes))", location: location,
                             hint: "this step's axes: \(axes.sorted().joined(separator: ", "))")
    }
}
