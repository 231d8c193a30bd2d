/// Walks a document along compiled schema nodes and collects violations.
struct SchemaValidator {
    let nodes: [SchemaNode]

    func isValid(_ index: Int, _ value: JSON) -> Bool {
        var violations: [SchemaViolation] = []
        check(index, value, at: "", into: &violations)
        return violations.isEmpty
    }

    func check(_ index: Int, _ value: JSON, at pointer: String, into out: inout [SchemaViolation]) {
        let node = nodes[index]
        func fail(_ message: String) { out.append(SchemaViolation(pointer: pointer, message: message)) }

        if let constant = node.constant {
            if !constant { fail("no value is allowed here") }
            return
        }
        if let ref = node.ref { check(ref, value, at: pointer, into: &out) }
        if let types = node.types, !types.contains(where: { SchemaValidator.has(value, type: $0) }) {
            fail("expected \(SchemaValidator.list(types.map(\.rawValue), conjunction: "or")), got \(SchemaValidator.typeName(value))")
        }
        if let allowed = node.allowed, !allowed.contains(where: { SchemaValidator.equal($0, value) }) {
            let shown = allowed.prefix(8).map { SchemaValidator.show($0) }.joined(separator: ", ")
            fail("\(SchemaValidator.show(value)) is not one of \(shown)\(allowed.count > 8 ? ", … (\(allowed.count) values)" : "")")
        }
        if let expected = node.constValue, !SchemaValidator.equal(expected, value) {
            fail("expected \(SchemaValidator.show(expected)), got \(SchemaValidator.show(value))")
        }

        switch value {
        case .string(let text):
            if node.minLength != nil || node.maxLength != nil {
                let length = text.unicodeScalars.count
                if let min = node.minLength, length < min { fail("expected at least \(SchemaValidator.count(min, "character")), got \(length)") }
                if let max = node.maxLength, length > max { fail("expected at most \(SchemaValidator.count(max, "character")), got \(length)") }
            }
            if let pattern = node.pattern, !pattern.matches(text) { fail("does not match pattern \(pattern.source)") }
        case .int, .double:
            let shown = value.canonicalString
            if let bound = node.minimum, SchemaValidator.compare(value, bound) < 0 {
                fail("expected a value >= \(bound.canonicalString), got \(shown)")
            }
            if let bound = node.exclusiveMinimum, SchemaValidator.compare(value, bound) <= 0 {
                fail("expected a value > \(bound.canonicalString), got \(shown)")
            }
            if let bound = node.maximum, SchemaValidator.compare(value, bound) > 0 {
                fail("expected a value <= \(bound.canonicalString), got \(shown)")
            }
            if let bound = node.exclusiveMaximum, SchemaValidator.compare(value, bound) >= 0 {
                fail("expected a value < \(bound.canonicalString), got \(shown)")
            }
        case .array(let items):
            checkArray(node, items, at: pointer, into: &out)
        case .object(let members):
            checkObject(node, members, at: pointer, into: &out)
        case .null, .bool:
            break
        }

        for sub in node.allOf { check(sub, value, at: pointer, into: &out) }
        if let alternatives = node.anyOf, !alternatives.contains(where: { isValid($0, value) }) {
            fail("matches none of the \(alternatives.count) anyOf alternatives")
        }
        if let alternatives = node.oneOf {
            let matching = alternatives.indices.filter { isValid(alternatives[$0], value) }
            if matching.isEmpty {
                fail("matches none of the \(alternatives.count) oneOf alternatives")
            } else if matching.count > 1 {
                fail("matches oneOf alternatives \(SchemaValidator.list(matching.map(String.init), conjunction: "and")); expected exactly one")
            }
        }
        if let not = node.not, isValid(not, value) { fail("must not match the 'not' schema") }
        if let condition = node.ifSchema {
            if isValid(condition, value) {
                if let then = node.thenSchema { check(then, value, at: pointer, into: &out) }
            } else if let otherwise = node.elseSchema {
                check(otherwise, value, at: pointer, into: &out)
            }
        }
    }

    private func checkArray(_ node: SchemaNode, _ items: [JSON], at pointer: String, into out: inout [SchemaViolation]) {
        if let min = node.minItems, items.count < min {
            out.append(SchemaViolation(pointer: pointer, message: "expected at least \(SchemaValidator.count(min, "item")), got \(items.count)"))
        }
        if let max = node.maxItems, items.count > max {
            out.append(SchemaViolation(pointer: pointer, message: "expected at most \(SchemaValidator.count(max, "item")), got \(items.count)"))
        }
        if node.uniqueItems {
            // Canonical bytes are equal exactly when values are (1 and 1.0 both print "1").
            var first: [[UInt8]: Int] = [:]
            for (i, item) in items.enumerated() {
                if let earlier = first[item.canonicalBytes] {
                    out.append(SchemaViolation(pointer: pointer, message: "items \(earlier) and \(i) are equal"))
                } else {
                    first[item.canonicalBytes] = i
                }
            }
        }
        for (i, item) in items.enumerated() {
            let itemPointer = pointer + "/\(i)"
            let sub = i < node.prefixItems.count ? node.prefixItems[i] : node.items
            guard let sub else { continue }
            if nodes[sub].constant == false {
                out.append(SchemaViolation(pointer: itemPointer, message: "unexpected item: at most \(node.prefixItems.count) allowed"))
            } else {
                check(sub, item, at: itemPointer, into: &out)
            }
        }
    }

    private func checkObject(_ node: SchemaNode, _ members: [String: JSON], at pointer: String, into out: inout [SchemaViolation]) {
        for name in node.required where members[name] == nil {
            out.append(SchemaViolation(pointer: pointer, message: "missing required property '\(name)'"))
        }
        for key in members.keys.sorted() {
            let member = members[key]!
            let memberPointer = pointer + "/" + JSON.pointerSegment(key)
            var declared = false
            if let sub = node.properties[key] {
                declared = true
                check(sub, member, at: memberPointer, into: &out)
            }
            for (pattern, sub) in node.patternProperties where pattern.matches(key) {
                declared = true
                check(sub, member, at: memberPointer, into: &out)
            }
            if !declared, let sub = node.additionalProperties {
                if nodes[sub].constant == false {
                    out.append(SchemaViolation(pointer: memberPointer, message: "unexpected property '\(key)'"))
                } else {
                    check(sub, member, at: memberPointer, into: &out)
                }
            }
        }
    }

    // MARK: - Strict profile

    func undeclared(_ index: Int, _ value: JSON, at pointer: String, into out: inout [SchemaViolation]) {
        var group: [Int] = []
        var seen = Set<Int>()
        func gather(_ i: Int) {
            guard seen.insert(i).inserted, nodes[i].constant == nil else { return }
            group.append(i)
            for next in nodes[i].inPlace where next != nodes[i].not { gather(next) }
        }
        gather(index)

        switch value {
        case .object(let members):
            let maps = group.compactMap { nodes[$0].additionalProperties }.filter { nodes[$0].constant == nil }
            let declaresMembers = group.contains { !nodes[$0].properties.isEmpty || !nodes[$0].patternProperties.isEmpty }
            guard declaresMembers || !maps.isEmpty else { return }  // free-form object
            for key in members.keys.sorted() {
                let memberPointer = pointer + "/" + JSON.pointerSegment(key)
                var subs: [Int] = []
                for i in group {
                    if let sub = nodes[i].properties[key] { subs.append(sub) }
                    for (pattern, sub) in nodes[i].patternProperties where pattern.matches(key) { subs.append(sub) }
                }
                if subs.isEmpty { subs = maps }
                if subs.isEmpty {
                    out.append(SchemaViolation(pointer: memberPointer, message: "undeclared property '\(key)'"))
                }
                for sub in subs { undeclared(sub, members[key]!, at: memberPointer, into: &out) }
            }
        case .array(let items):
            for (position, item) in items.enumerated() {
                for i in group {
                    let node = nodes[i]
                    if let sub = position < node.prefixItems.count ? node.prefixItems[position] : node.items {
                        undeclared(sub, item, at: pointer + "/\(position)", into: &out)
                    }
                }
            }
        default:
            break
        }
    }

    // MARK: - Values

    static func has(_ value: JSON, type: SchemaNode.Kind) -> Bool {
        switch (type, value) {
        case (.null, .null), (.boolean, .bool), (.object, .object), (.array, .array), (.string, .string): return true
        case (.number, .int), (.number, .double), (.integer, .int): return true
        case (.integer, .double(let d)): return d.isFinite && d == d.rounded()
        default: return false
        }
    }

    static func typeName(_ value: JSON) -> String {
        switch value {
        case .null: return "null"
        case .bool: return "boolean"
        case .int: return "integer"
        case .double: return "number"
        case .string: return "string"
        case .array: return "array"
        case .object: return "object"
        }
    }

    /// JSON equality: numbers by value (1 == 1.0), objects regardless of member order.
    static func equal(_ a: JSON, _ b: JSON) -> Bool {
        switch (a, b) {
        case (.int, .int), (.int, .double), (.double, .int), (.double, .double): return compare(a, b) == 0
        case (.array(let x), .array(let y)): return x.count == y.count && zip(x, y).allSatisfy { equal($0, $1) }
        case (.object(let x), .object(let y)):
            return x.count == y.count && x.allSatisfy { key, value in y[key].map { equal(value, $0) } ?? false }
        default: return a == b
        }
    }

    /// -1, 0 or 1 for two numbers, exact across Int64 and Double.
    static func compare(_ a: JSON, _ b: JSON) -> Int {
        switch (a, b) {
        case (.int(let x), .int(let y)): return x < y ? -1 : (x > y ? 1 : 0)
        case (.double(let x), .double(let y)): return x < y ? -1 : (x > y ? 1 : 0)
        case (.double(let x), .int(let y)): return compare(x, y)
        case (.int(let x), .double(let y)): return -compare(y, x)
        default: return 0
        }
    }

    private static func compare(_ d: Double, _ i: Int64) -> Int {
        if d >= 9_223_372_036_854_775_808.0 { return 1 }
        if d < -9_223_372_036_854_775_808.0 { return -1 }
        let whole = d.rounded(.down)
        let w = Int64(whole)
        if w != i { return w < i ? -1 : 1 }
        return d > whole ? 1 : 0
    }

    /// A value for a message: canonical JSON, cut short when long.
    static func show(_ value: JSON) -> String {
        let text = value.canonicalString
        return text.unicodeScalars.count <= 60 ? text : String(String.UnicodeScalarView(text.unicodeScalars.prefix(57))) + "..."
    }

    static func count(_ n: Int, _ noun: String) -> String { "\(n) \(noun)\(n == 1 ? "" : "s")" }

    static func list(_ words: [String], conjunction: String) -> String {
        guard words.count > 1 else { return words.first ?? "" }
        return words.dropLast().joined(separator: ", ") + " \(conjunction) " + words.last!
    }
}
