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
