/// Turns a schema document into `SchemaNode`s: checks every keyword's shape, compiles each
/// distinct pattern once, resolves `$ref`s and refuses reference cycles that would never
/// descend into the document.
struct SchemaCompiler {
    private var nodes: [SchemaNode] = []
    private var byLocation: [String: Int] = [:]
    private var refs: [(node: Int, target: String)] = []
    private var patterns: [String: SchemaPattern] = [:]

    static let annotations: Set<String> = ["$schema", "$id", "title", "description", "examples", "default", "$comment"]

    mutating func compile(_ schema: JSON) throws -> [SchemaNode] {
        _ = try node(schema, at: "")
        for (index, target) in refs {
            guard let resolved = byLocation[SchemaCompiler.fragment(target)] else {
                throw malformed(nodes[index].location, "$ref \"\(target)\" does not name a schema in this document")
            }
            nodes[index].ref = resolved
        }
        try refuseCycles()
        return nodes
    }

    private func malformed(_ location: String, _ message: String) -> PipelineError {
        PipelineError(.invalidInput, "schema #\(location): \(message)")
    }

    private mutating func node(_ json: JSON, at location: String) throws -> Int {
        let index = nodes.count
        nodes.append(SchemaNode(location: location))
        byLocation[location] = index
        switch json {
        case .bool(let value):
            nodes[index].constant = value
        case .object(let members):
            var node = SchemaNode(location: location)
            for key in members.keys.sorted() {
                try apply(key, members[key]!, to: &node, index: index)
            }
            nodes[index] = node
        default:
            throw malformed(location, "a schema must be an object or a boolean")
        }
        return index
    }

    private mutating func apply(_ keyword: String, _ value: JSON, to node: inout SchemaNode, index: Int) throws {
        let here = node.location + "/" + JSON.pointerSegment(keyword)
        func bad(_ what: String) -> PipelineError { malformed(node.location, "'\(keyword)' must be \(what)") }
        func count() throws -> Int {
            guard let n = value.intValue, n >= 0, n <= Int64(Int32.max) else { throw bad("a non-negative integer") }
            return Int(n)
        }
        func number() throws -> JSON {
            switch value {
            case .int, .double: return value
            default: throw bad("a number")
            }
        }
        func schemaList() throws -> [Int] {
            guard let list = value.arrayValue, !list.isEmpty else { throw bad("a non-empty array of schemas") }
            return try list.enumerated().map { try self.node($0.element, at: here + "/\($0.offset)") }
        }

        switch keyword {
        case _ where SchemaCompiler.annotations.contains(keyword):
            break
        case "type":
            let names = value.stringValue.map { [$0] } ?? value.arrayValue?.compactMap(\.stringValue)
            guard let names, !names.isEmpty, names.count == (value.arrayValue?.count ?? 1) else {
                throw bad("a type name or an array of them")
            }
            node.types = try names.map { name in
                guard let kind = SchemaNode.Kind(rawValue: name) else { throw bad("one of null, boolean, object, array, number, string, integer") }
                return kind
            }
        case "enum":
            guard let list = value.arrayValue else { throw bad("an array") }
            node.allowed = list
        case "const":
            node.constValue = value
        case "properties":
            guard let members = value.objectValue else { throw bad("an object of schemas") }
            for name in members.keys.sorted() {
                node.properties[name] = try self.node(members[name]!, at: here + "/" + JSON.pointerSegment(name))
            }
        case "required":
            guard let list = value.arrayValue, list.allSatisfy({ $0.stringValue != nil }) else { throw bad("an array of strings") }
            node.required = list.compactMap(\.stringValue)
        case "additionalProperties":
            node.additionalProperties = try self.node(value, at: here)
        case "patternProperties":
            guard let members = value.objectValue else { throw bad("an object of schemas") }
            for source in members.keys.sorted() {
                node.patternProperties.append(
                    (try pattern(source), try self.node(members[source]!, at: here + "/" + JSON.pointerSegment(source))))
            }
        case "items":
            if value.arrayValue != nil { throw bad("a schema (use 'prefixItems' for tuples)") }
            node.items = try self.node(value, at: here)
        case "prefixItems": node.prefixItems = try schemaList()
        case "minItems": node.minItems = try count()
        case "maxItems": node.maxItems = try count()
        case "uniqueItems":
            guard let flag = value.boolValue else { throw bad("a boolean") }
            node.uniqueItems = flag
        case "pattern":
            guard let source = value.stringValue else { throw bad("a string") }
            node.pattern = try pattern(source)
        case "minLength": node.minLength = try count()
        case "maxLength": node.maxLength = try count()
        case "minimum": node.minimum = try number()
        case "maximum": node.maximum = try number()
        case "exclusiveMinimum": node.exclusiveMinimum = try number()
        case "exclusiveMaximum": node.exclusiveMaximum = try number()
        case "allOf": node.allOf = try schemaList()
        case "anyOf": node.anyOf = try schemaList()
        case "oneOf": node.oneOf = try schemaList()
        case "not": node.not = try self.node(value, at: here)
        case "if": node.ifSchema = try self.node(value, at: here)
        case "then": node.thenSchema = try self.node(value, at: here)
        case "else": node.elseSchema = try self.node(value, at: here)
        case "$ref":
            guard let target = value.stringValue, target == "#" || target.hasPrefix("#/") else {
                throw bad("a reference inside this document, \"#\" or \"#/...\"")
            }
            refs.append((index, target))
        case "$defs":
            guard let members = value.objectValue else { throw bad("an object of schemas") }
            for name in members.keys.sorted() {
                _ = try self.node(members[name]!, at: here + "/" + JSON.pointerSegment(name))
            }
        default:
            throw malformed(node.location, "unsupported keyword '\(keyword)'")
        }
    }

    private mutating func pattern(_ source: String) throws -> SchemaPattern {
        if let cached = patterns[source] { return cached }
        let compiled = try SchemaPattern(source)
        patterns[source] = compiled
        return compiled
    }

    /// The JSON Pointer a `#...` reference names, with %-escapes decoded.
    static func fragment(_ reference: String) -> String {
        let bytes = Array(reference.utf8.dropFirst())
        var out: [UInt8] = []
        var i = 0
        while i < bytes.count {
            if bytes[i] == UInt8(ascii: "%"), i + 2 < bytes.count,
               let value = UInt8(String(decoding: bytes[i + 1...i + 2], as: UTF8.self), radix: 16) {
                out.append(value)
                i += 3
            } else {
                out.append(bytes[i])
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// A cycle through `$ref` and in-place applicators (`{"$ref": "#"}`, or two definitions
    /// that refer to each other without descending) would never end: refused here.
    private func refuseCycles() throws {
        var state = [UInt8](repeating: 0, count: nodes.count)  // 0 new, 1 on the path, 2 done
        func visit(_ index: Int) throws {
            if state[index] == 2 { return }
            if state[index] == 1 { throw malformed(nodes[index].location, "$ref cycle that never descends into the document") }
            state[index] = 1
            for next in nodes[index].inPlace { try visit(next) }
            state[index] = 2
        }
        for index in nodes.indices { try visit(index) }
    }
}
