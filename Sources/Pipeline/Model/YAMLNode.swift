/// A YAML node with the place it came from, so every error can say `file:line:col`.
public indirect enum YAMLNode: Sendable {
    case scalar(String, plain: Bool, SourceLocation)
    case sequence([YAMLNode], SourceLocation)
    case mapping([(key: YAMLNode, value: YAMLNode)], SourceLocation)

    public var location: SourceLocation {
        switch self {
        case .scalar(_, _, let l), .sequence(_, let l), .mapping(_, let l): return l
        }
    }

    /// The scalar text, nil for collections.
    public var scalar: String? {
        if case .scalar(let s, _, _) = self { return s }
        return nil
    }

    /// A plain (unquoted) scalar that YAML reads as null.
    public var isNull: Bool {
        if case .scalar(let s, let plain, _) = self { return plain && (s.isEmpty || s == "~" || s == "null" || s == "Null" || s == "NULL") }
        return false
    }

    public var kindName: String {
        switch self {
        case .scalar: return isNull ? "null" : "a scalar"
        case .sequence: return "a list"
        case .mapping: return "a mapping"
        }
    }
}
