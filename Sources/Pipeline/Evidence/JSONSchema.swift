/// One way a document fails its schema.
public struct SchemaViolation: Sendable, Equatable, CustomStringConvertible {
    /// JSON Pointer (RFC 6901) of the failing value: "" for the root, e.g. "/contents/3/sha256".
    public var pointer: String
    public var message: String

    public init(pointer: String, message: String) {
        self.pointer = pointer
        self.message = message
    }

    public var description: String { "\(pointer.isEmpty ? "(root)" : pointer): \(message)" }
}

/// A JSON Schema (draft 2020-12, the subset this project's schemas use), compiled once and
/// reusable from any thread.
///
/// Assertions: `type`, `enum`, `const`, `properties`, `required`, `additionalProperties`,
/// `patternProperties`, `items`, `prefixItems`, `minItems`, `maxItems`, `uniqueItems`,
/// `pattern`, `minLength`, `maxLength`, `minimum`, `maximum`, `exclusiveMinimum`,
/// `exclusiveMaximum`; applicators `allOf`, `anyOf`, `oneOf`, `not`, `if`/`then`/`else`,
/// `$ref` to `#` or a JSON Pointer inside the document (such as `#/$defs/name`), and `$defs`.
/// Annotations (`$schema`, `$id`, `title`, `description`, `examples`, `default`, `$comment`)
/// are ignored. Any other keyword makes `init` throw, so a typo in a schema is caught.
public struct JSONSchema: Sendable {
    let nodes: [SchemaNode]

    /// Compiles `schema`; throws `PipelineError(.invalidInput)` for a malformed schema or a
    /// keyword this validator does not support.
    public init(_ schema: JSON) throws {
        var compiler = SchemaCompiler()
        nodes = try compiler.compile(schema)
    }

    /// Every way `document` fails the schema, in a deterministic order (schema keyword order,
    /// object members by key, array items by index); empty when it is valid.
    public func validate(_ document: JSON) -> [SchemaViolation] {
        var violations: [SchemaViolation] = []
        SchemaValidator(nodes: nodes).check(0, document, at: "", into: &violations)
        return violations
    }

    /// Whether `document` is valid; stops at the first violation.
    public func isValid(_ document: JSON) -> Bool {
        SchemaValidator(nodes: nodes).isValid(0, document)
    }

    /// Object members that no `properties` or `patternProperties` declares, for a strict
    /// profile: schemas stay open for later versions, yet a producer that writes a member
    /// the schema does not know about (often a typo) is reported. Follows the document
    /// through `properties`, `patternProperties`, schema-valued `additionalProperties`,
    /// `items` and `prefixItems`, and through `$ref`, `allOf`, `anyOf`, `oneOf` and
    /// `if`/`then`/`else` at the same place (a member declared by any of them counts). An
    /// object whose schema declares no members at all is free-form and not reported.
    public func unknownProperties(in document: JSON) -> [SchemaViolation] {
        var violations: [SchemaViolation] = []
        SchemaValidator(nodes: nodes).undeclared(0, document, at: "", into: &violations)
        var seen = Set<String>()
        return violations.filter { seen.insert($0.pointer + "\u{0}" + $0.message).inserted }
    }
}

/// One compiled schema object (or boolean schema); subschemas are indexes into the node list.
struct SchemaNode: Sendable {
    enum Kind: String, Sendable, CaseIterable {
        case null, boolean, object, array, number, string, integer
    }

    /// The schema's own JSON Pointer, for messages about the schema.
    var location: String
    /// `true` or `false` for a boolean schema.
    var constant: Bool? = nil

    var ref: Int? = nil
    var types: [Kind]? = nil
    var allowed: [JSON]? = nil
    var constValue: JSON? = nil

    var properties: [String: Int] = [:]
    var required: [String] = []
    var additionalProperties: Int? = nil
    var patternProperties: [(pattern: SchemaPattern, node: Int)] = []

    var prefixItems: [Int] = []
    var items: Int? = nil
    var minItems: Int? = nil
    var maxItems: Int? = nil
    var uniqueItems = false

    var pattern: SchemaPattern? = nil
    var minLength: Int? = nil
    var maxLength: Int? = nil

    var minimum: JSON? = nil
    var maximum: JSON? = nil
    var exclusiveMinimum: JSON? = nil
    var exclusiveMaximum: JSON? = nil

    var allOf: [Int] = []
    var anyOf: [Int]? = nil
    var oneOf: [Int]? = nil
    var not: Int? = nil
    var ifSchema: Int? = nil
    var thenSchema: Int? = nil
    var elseSchema: Int? = nil

    init(location: String) { self.location = location }

    /// Subschemas applied to the same value (no descent into the document).
    var inPlace: [Int] {
        var list: [Int] = []
        if let ref { list.append(ref) }
        list += allOf
        list += anyOf ?? []
        list += oneOf ?? []
        if let not { list.append(not) }
        for node in [ifSchema, thenSchema, elseSchema] { if let node { list.append(node) } }
        return list
    }
}

extension JSON {
    /// `key` escaped as one JSON Pointer segment (RFC 6901).
    static func pointerSegment(_ key: String) -> String {
        guard key.contains("~") || key.contains("/") else { return key }
        var out = ""
        for c in key.unicodeScalars {
            switch c {
            case "~": out += "~0"
            case "/": out += "~1"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }
}
