import Pipeline

/// The registry with every built-in rule this version implements.
public enum BuiltinRules {
    public static var registry: RuleRegistry {
        var registry = RuleRegistry()
        registry.register(CaptureRule())
        registry.register(PackRule())
        registry.register(SignRule())
        registry.register(ReplayRule())
        return registry
    }
}

/// `with:` values, checked with messages that name the step and the field.
struct WithFields {
    let with: JSON
    let step: String
    let rule: String

    func string(_ name: String, required: Bool = false) throws -> String? {
        guard let value = with[name] else {
            if required { throw PipelineError(.invalidInput, "rule '\(rule)' of step '\(step)' needs 'with: { \(name): ... }'") }
            return nil
        }
        guard let text = value.stringValue, !text.isEmpty else {
            throw PipelineError(.invalidInput, "'\(name)' in 'with' of step '\(step)' must be non-empty text")
        }
        return text
    }

    func strings(_ name: String) throws -> [String]? {
        guard let value = with[name] else { return nil }
        if let text = value.stringValue { return [text] }
        guard let items = value.arrayValue, let texts = Optional(items.compactMap(\.stringValue)), texts.count == items.count else {
            throw PipelineError(.invalidInput, "'\(name)' in 'with' of step '\(step)' must be a list of paths")
        }
        return texts
    }

    func checkKeys(_ allowed: [String]) throws {
        for key in (with.objectValue ?? [:]).keys.sorted() where !allowed.contains(key) {
            throw PipelineError(.invalidInput, "unknown field '\(key)' in 'with' of step '\(step)' (rule '\(rule)' takes: \(allowed.joined(separator: ", ")))")
        }
    }
}

/// A key reference in `with`: `env:NAME` (base64 in the caller's environment) or a file path
/// relative to the workspace.
enum KeyReference {
    static func signingKey(_ reference: String, context: RuleContext) throws -> SigningKey {
        if reference.hasPrefix("env:") {
            return try KeyFile.loadPrivate(environmentVariable: String(reference.dropFirst(4)), environment: context.environment)
        }
        return try KeyFile.loadPrivate(path: Path.join(context.workspaceRoot, reference))
    }
}
