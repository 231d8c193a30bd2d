/// A step's `matrix:`: axes in declaration order, each with its values in declaration order.
/// The step expands to one ordinary step per combination, named
/// `name[axis=value,...]` (axes in declaration order); the first axis varies slowest.
public struct Matrix: Sendable, Equatable {
    public struct Axis: Sendable, Equatable {
        public var name: String
        public var values: [String]
    }

    public var axes: [Axis]

    public init(axes: [Axis]) {
        self.axes = axes
    }

    /// Every combination as (axis, value) pairs in axis order; the first axis varies slowest.
    public var combinations: [[(axis: String, value: String)]] {
        var result: [[(axis: String, value: String)]] = [[]]
        for axis in axes {
            var next: [[(axis: String, value: String)]] = []
            next.reserveCapacity(result.count * axis.values.count)
            for prefix in result {
                for value in axis.values { next.append(prefix + [(axis.name, value)]) }
            }
            result = next
        }
        return result
    }

    /// The interpolation variables of one combination: `matrix.AXIS` → value.
    public static func variables(_ combination: [(axis: String, value: String)]) -> [String: String] {
        var vars: [String: String] = [:]
        for (axis, value) in combination { vars["matrix." + axis] = value }
        return vars
    }

    /// `base[a=1,b=2]`.
    public static func name(_ base: String, _ combination: [(axis: String, value: String)]) -> String {
        base + "[" + combination.map { $0.axis + "=" + $0.value }.joined(separator: ",") + "]"
    }

    /// A name or selection split into its base and pairs: `build[os=linux]` → (build,
    /// [(os, linux)]); `build` → (build, []); nil when the brackets are malformed.
    public static func split(_ text: String) -> (base: String, pairs: [(axis: String, value: String)])? {
        guard let open = text.firstIndex(of: "[") else { return (text, []) }
        guard text.last == "]" else { return nil }
        let inner = text[text.index(after: open)..<text.index(before: text.endIndex)]
        var pairs: [(axis: String, value: String)] = []
        for part in inner.split(separator: ",", omittingEmptySubsequences: false) {
            let sides = part.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard sides.count == 2, !sides[0].isEmpty, !sides[1].isEmpty else { return nil }
            pairs.append((String(sides[0]), String(sides[1])))
        }
        return (String(text[..<open]), pairs)
    }

    /// A matrix value may hold letters, digits and `_ . + -`: it becomes part of a step name.
    public static func isValidValue(_ value: String) -> Bool {
        !value.isEmpty && value.utf8.allSatisfy { c in
            StepName.isLetter(c) || (c >= 0x30 && c <= 0x39) || c == UInt8(ascii: "_") || c == UInt8(ascii: ".") || c == UInt8(ascii: "+")
                || c == UInt8(ascii: "-")
        }
    }
}

/// Reading `matrix:` (the parser's helpers, beside the type it builds).
extension PipelinefileParser {
    /// A step with `matrix:`: one ordinary step per combination, in declaration order, each
    /// parsed with `${matrix.AXIS}` defined. Two expansions may not declare the same output.
    func expandMatrix(name keyNode: YAMLNode, body: YAMLNode, matrix node: YAMLNode, vars: [String: String], env: EnvSpec,
                      pools: [String: Int]) throws -> [Step] {
        let base = keyNode.scalar ?? ""
        guard StepName.isValid(base) else {
            throw PipelineError(.invalidInput, "invalid step name '\(base)': names match [A-Za-z_][A-Za-z0-9_.-]*", location: keyNode.location)
        }
        let matrix = try parseMatrix(node, step: base)
        var steps: [Step] = []
        var owners: [String: (step: Step, combination: [(axis: String, value: String)])] = [:]
        for combination in matrix.combinations {
            var stepVars = vars
            for (name, value) in Matrix.variables(combination) { stepVars[name] = value }
            let step = try parseStep(name: keyNode, body: body, vars: stepVars, env: env, pools: pools, combination: combination)
            for (k, output) in step.outputs.enumerated() {
                if let (other, otherCombination) = owners[output] {
                    let axis = zip(combination, otherCombination).first { $0.0.value != $0.1.value }?.0.axis ?? ""
                    throw PipelineError(.invalidInput, "output '\(output)' of step '\(step.name)' is also an output of '\(other.name)': "
                                            + "each expansion of a matrix step needs its own outputs",
                                        location: step.outputLocations[safe: k] ?? step.location, step: step.name, path: output,
                                        hint: "use ${matrix.\(axis)} in the path")
                }
                owners[output] = (step, combination)
            }
            steps.append(step)
        }
        return steps
    }

    /// `matrix: {os: [linux, mac], level: [O0, O2]}`: at least one axis, each a non-empty
    /// list of distinct plain values.
    func parseMatrix(_ node: YAMLNode, step: String) throws -> Matrix {
        guard case .mapping = node else {
            throw PipelineError(.invalidInput, "'matrix' of step '\(step)' must be a mapping of axes to lists of values, found \(describe(node))",
                                location: node.location)
        }
        let pairs = try mapping(node, what: "'matrix' of step '\(step)'", duplicate: "duplicate matrix axis")
        guard !pairs.isEmpty else {
            throw PipelineError(.invalidInput, "'matrix' of step '\(step)' has no axes", location: node.location,
                                hint: "matrix: { os: [linux, mac] }")
        }
        var axes: [Matrix.Axis] = []
        for (key, valueNode) in pairs {
            let axis = key.scalar ?? ""
            guard EnvName.isValid(axis) else {
                throw PipelineError(.invalidInput, "invalid matrix axis '\(axis)' in step '\(step)': axis names match [A-Za-z_][A-Za-z0-9_]*",
                                    location: key.location)
            }
            guard case .sequence(let items, _) = valueNode else {
                throw PipelineError(.invalidInput, "matrix axis '\(axis)' of step '\(step)' must be a list of values, found \(describe(valueNode))",
                                    location: valueNode.location)
            }
            guard !items.isEmpty else {
                throw PipelineError(.invalidInput, "matrix axis '\(axis)' of step '\(step)' is empty: give it at least one value",
                                    location: valueNode.location)
            }
            var values: [String] = []
            for item in items {
                guard case .scalar(let text, _, _) = item, !item.isNull else {
                    throw PipelineError(.invalidInput, "matrix axis '\(axis)' of step '\(step)' must hold plain values, found \(describe(item))",
                                        location: item.location)
                }
                guard Matrix.isValidValue(text) else {
                    throw PipelineError(.invalidInput,
                                        "matrix value '\(text)' of axis '\(axis)' in step '\(step)' may hold only letters, digits and _ . + - "
                                            + "(it becomes part of the step name)", location: item.location)
                }
                if values.contains(text) {
                    throw PipelineError(.invalidInput, "duplicate value '\(text)' in matrix axis '\(axis)' of step '\(step)'", location: item.location)
                }
                values.append(text)
            }
            axes.append(Matrix.Axis(name: axis, values: values))
        }
        return Matrix(axes: axes)
    }
}
