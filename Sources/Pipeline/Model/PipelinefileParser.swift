/// Reads Pipelinefile.yaml (version 1) into a validated `Pipelinefile`. Every error carries
/// `file:line:col`.
public struct PipelinefileParser {
    public var registry: RuleRegistry

    public init(registry: RuleRegistry = RuleRegistry()) {
        self.registry = registry
    }

    public static let topLevelKeys = ["pipeline", "vars", "env", "default", "steps", "retention", "cache", "pools"]
    public static let cacheKeys = ["remote", "read_only"]
    public static let stepKeys = ["run", "use", "with", "needs", "inputs", "outputs", "description", "timeout", "cache", "env", "secrets", "depfile", "pool", "matrix"]
    public static let retentionKeys = ["keep_jobs", "ttl", "max_size"]

    public func parse(path: String, displayPath: String? = nil) throws -> Pipelinefile {
        let bytes = try FileSystem.readFile(path)
        return try parse(bytes: bytes, displayPath: displayPath ?? Path.lastComponent(path))
    }

    public func parse(bytes: [UInt8], displayPath: String = "Pipelinefile.yaml") throws -> Pipelinefile {
        try parseWithGraph(bytes: bytes, displayPath: displayPath).file
    }

    /// The file and its validated graph (built once).
    public func parseWithGraph(bytes: [UInt8], displayPath: String = "Pipelinefile.yaml") throws -> (file: Pipelinefile, graph: Graph) {
        let file = displayPath
        let start = SourceLocation(file: file, line: 1, column: 1)
        guard let root = try YAMLReader.read(bytes, file: file), !root.isNull else {
            throw PipelineError(.invalidInput, "the Pipelinefile is empty: it needs at least 'pipeline: 1' and 'steps:'", location: start)
        }
        let top = try mapping(root, what: "the Pipelinefile")
        try checkKeys(top, allowed: PipelinefileParser.topLevelKeys, what: "top-level key")

        guard let versionNode = value(top, "pipeline") else {
            throw PipelineError(.invalidInput, "missing 'pipeline: 1' (the format version)", location: root.location)
        }
        guard let versionText = versionNode.scalar, let version = Int(versionText) else {
            throw PipelineError(.invalidInput, "'pipeline' must be the format version number, found \(describe(versionNode))", location: versionNode.location)
        }
        guard version == Pipelinefile.supportedVersion else {
            throw PipelineError(.invalidInput, "unsupported Pipelinefile version \(version) (this pipeline reads version \(Pipelinefile.supportedVersion))",
                                location: versionNode.location)
        }

        let vars = try parseVars(value(top, "vars"))
        let env = try value(top, "env").map { try parseEnv($0, vars: vars) } ?? EnvSpec()
        let defaults = try value(top, "default").map { try stringList($0, what: "default", vars: vars) } ?? []
        let retention = try value(top, "retention").map(parseRetention) ?? [:]
        let cache = try value(top, "cache").map(parseCache) ?? [:]
        let pools = try value(top, "pools").map(parsePools) ?? [:]

        guard let stepsNode = value(top, "steps") else {
            throw PipelineError(.invalidInput, "missing 'steps:'", location: root.location)
        }
        let stepPairs = try mapping(stepsNode, what: "'steps'", duplicate: "duplicate step name")
        var steps: [Step] = []
        steps.reserveCapacity(stepPairs.count)
        for (keyNode, body) in stepPairs {
            if case .mapping(let fields, _) = body, let matrixNode = value(fields, "matrix") {
                steps += try expandMatrix(name: keyNode, body: body, matrix: matrixNode, vars: vars, env: env, pools: pools)
            } else {
                steps.append(try parseStep(name: keyNode, body: body, vars: vars, env: env, pools: pools))
            }
        }
        var file_ = Pipelinefile(displayPath: file, version: version, vars: vars, env: env, defaultTargets: [],
                                 steps: steps, digest: SHA256.hash(bytes), retention: retention, cache: cache)
        file_.pools = pools
        let graph = try Graph(file_)
        if let defaultsNode = value(top, "default") {
            for (index, name) in defaults.enumerated() where (try? graph.resolve(target: name)) == nil {
                let loc = elementLocation(defaultsNode, index)
                throw PipelineError(.unknownStep, "default target '\(name)' is not a step\(Suggestion.hint(for: name, in: graph.names))", location: loc)
            }
        }
        file_.defaultTargets = defaults
        return (file_, graph)
    }

    // MARK: Steps

    /// One step; `combination` is the matrix expansion it is (its values are in `vars`).
    func parseStep(name keyNode: YAMLNode, body: YAMLNode, vars: [String: String], env: EnvSpec, pools: [String: Int] = [:],
                   combination: [(axis: String, value: String)] = []) throws -> Step {
        let base = keyNode.scalar ?? ""
        guard StepName.isValid(base) else {
            throw PipelineError(.invalidInput, "invalid step name '\(base)': names match [A-Za-z_][A-Za-z0-9_.-]*", location: keyNode.location)
        }
        let name = combination.isEmpty ? base : Matrix.name(base, combination)
        if body.isNull {
            throw PipelineError(.invalidInput, "step '\(name)' is empty: give it 'run', 'use' or 'needs'", location: keyNode.location)
        }
        let fields = try mapping(body, what: "step '\(name)'")
        try checkKeys(fields, allowed: PipelinefileParser.stepKeys, what: "key in step '\(name)'")

        let step = Step(name: name, action: .alias, location: keyNode.location)
        let runNode = value(fields, "run")
        let useNode = value(fields, "use")
        let withNode = value(fields, "with")
        if let runNode, let useNode {
            let first = runNode.location.line <= useNode.location.line ? useNode : runNode
            throw PipelineError(.invalidInput, "step '\(name)' has both 'run' and 'use': give one", location: keyOf(fields, first) ?? first.location)
        }
        if let runNode {
            step.actionLocation = runNode.location
            switch runNode {
            case .scalar(let text, _, _) where !runNode.isNull:
                let line = try Interpolation.expand(text, vars: vars, at: runNode.location)
                guard !line.allSatisfy({ $0.isWhitespace }) else {
                    throw PipelineError(.invalidInput, "'run' of step '\(name)' is empty", location: runNode.location)
                }
                step.action = .run(.shell(line))
            case .sequence:
                let words = try stringList(runNode, what: "'run' of step '\(name)'", vars: vars)
                guard !words.isEmpty else {
                    throw PipelineError(.invalidInput, "'run' of step '\(name)' is an empty list", location: runNode.location)
                }
                step.action = .run(.argv(words))
            default:
                throw PipelineError(.invalidInput, "'run' of step '\(name)' must be a shell command string or a list of arguments, found \(describe(runNode))", location: runNode.location)
            }
            if let withNode {
                throw PipelineError(.invalidInput, "'with' belongs to 'use' steps; step '\(name)' uses 'run'", location: keyOf(fields, withNode) ?? withNode.location)
            }
        } else if let useNode {
            step.actionLocation = useNode.location
            guard let rule = useNode.scalar, !useNode.isNull else {
                throw PipelineError(.invalidInput, "'use' of step '\(name)' must be a rule name, found \(describe(useNode))", location: useNode.location)
            }
            guard registry.isKnown(rule) else {
                throw PipelineError(.invalidInput, "unknown rule '\(rule)' in step '\(name)'\(Suggestion.hint(for: rule, in: registry.knownNames))",
                                    location: useNode.location, hint: "built-in rules: \(registry.knownNames.joined(separator: ", "))")
            }
            let with = try withNode.map { try json($0, vars: vars) } ?? .object([:])
            if let withNode, with.objectValue == nil {
                throw PipelineError(.invalidInput, "'with' of step '\(name)' must be a mapping, found \(describe(withNode))", location: withNode.location)
            }
            step.action = .use(rule: rule, with: with)
        } else if let withNode {
            throw PipelineError(.invalidInput, "'with' needs 'use' in step '\(name)'", location: keyOf(fields, withNode) ?? withNode.location)
        }

        if let node = value(fields, "needs") {
            step.needs = try stringList(node, what: "'needs' of step '\(name)'", vars: vars)
            step.needsLocations = step.needs.indices.map { elementLocation(node, $0) }
        }
        if let node = value(fields, "inputs") {
            let raw = try stringList(node, what: "'inputs' of step '\(name)'", vars: vars)
            step.inputLocations = raw.indices.map { elementLocation(node, $0) }
            step.inputs = try raw.enumerated().map { index, path in
                try workspacePath(path, what: "input", step: name, at: step.inputLocations[index])
            }
        }
        if let node = value(fields, "outputs") {
            let raw = try stringList(node, what: "'outputs' of step '\(name)'", vars: vars)
            step.outputLocations = raw.indices.map { elementLocation(node, $0) }
            step.outputs = try raw.enumerated().map { index, path in
                let loc = step.outputLocations[index]
                if Glob.isPattern(path) {
                    throw PipelineError(.invalidInput, "output '\(path)' of step '\(name)' is a pattern: outputs are exact paths", location: loc)
                }
                let normalized = try workspacePath(path, what: "output", step: name, at: loc)
                if normalized.isEmpty {
                    throw PipelineError(.invalidInput, "output '\(path)' of step '\(name)' is the workspace itself", location: loc)
                }
                if normalized == ".pipeline" || normalized.hasPrefix(".pipeline/") {
                    throw PipelineError(.invalidInput, "output '\(path)' of step '\(name)' is inside the store", location: loc)
                }
                return normalized
            }
        }
        if let node = value(fields, "description") {
            guard let text = node.scalar else {
                throw PipelineError(.invalidInput, "'description' of step '\(name)' must be text, found \(describe(node))", location: node.location)
            }
            step.description = text
        }
        if let node = value(fields, "timeout") {
            guard let text = node.scalar, let seconds = DurationText.seconds(text), seconds > 0 else {
                throw PipelineError(.invalidInput, "'timeout' of step '\(name)' must be a positive duration like 30, 90s, 5m or 1h, found \(describe(node))",
                                    location: node.location)
            }
            step.timeout = seconds
        }
        if let node = value(fields, "cache") {
            guard let flag = bool(node) else {
                throw PipelineError(.invalidInput, "'cache' of step '\(name)' must be true or false, found \(describe(node))", location: node.location)
            }
            step.cache = flag
        }
        if let node = value(fields, "depfile") {
            guard let text = node.scalar, !node.isNull else {
                throw PipelineError(.invalidInput, "'depfile' of step '\(name)' must be a path, found \(describe(node))", location: node.location)
            }
            guard case .run = step.action else {
                throw PipelineError(.invalidInput, "'depfile' belongs to 'run' steps: step '\(name)' has no command that writes one",
                                    location: keyOf(fields, node) ?? node.location)
            }
            let path = try workspacePath(try Interpolation.expand(text, vars: vars, at: node.location), what: "depfile", step: name, at: node.location)
            if path.isEmpty || Glob.isPattern(path) {
                throw PipelineError(.invalidInput, "depfile '\(text)' of step '\(name)' must name one file", location: node.location)
            }
            if path == ".pipeline" || path.hasPrefix(".pipeline/") {
                throw PipelineError(.invalidInput, "depfile '\(text)' of step '\(name)' is inside the store", location: node.location)
            }
            step.depfile = path
        }
        if let node = value(fields, "pool") {
            guard let pool = node.scalar, !node.isNull else {
                throw PipelineError(.invalidInput, "'pool' of step '\(name)' must be a pool name, found \(describe(node))", location: node.location)
            }
            guard let depth = pools[pool] else {
                throw PipelineError(.invalidInput, "unknown pool '\(pool)' in step '\(name)'\(Suggestion.hint(for: pool, in: pools.keys))",
                                    location: node.location, hint: pools.isEmpty ? "declare it at the top: pools: { \(pool): 1 }" : "pools: \(pools.keys.sorted().joined(separator: ", "))")
            }
            step.pool = Pool(name: pool, depth: depth)
        }
        var stepEnv = env
        if let node = value(fields, "env") { stepEnv = stepEnv.merged(with: try parseEnv(node, vars: vars)) }
        if let node = value(fields, "secrets") {
            let names = try stringList(node, what: "'secrets' of step '\(name)'", vars: [:])
            for (index, secret) in names.enumerated() where !EnvName.isValid(secret) {
                throw PipelineError(.invalidInput, "invalid environment variable name '\(secret)'", location: elementLocation(node, index))
            }
            stepEnv.secrets += names.filter { !stepEnv.secrets.contains($0) }
        }
        step.env = stepEnv
        if case .use(let rule, let with) = step.action, let implementation = registry.rule(named: rule) {
            let location = withNode?.location ?? step.actionLocation
            if !type(of: implementation).cacheable { step.cache = false }
            let implied: (inputs: [String], outputs: [String])
            do {
                implied = try implementation.declare(with, step: name)
            } catch var error as PipelineError {
                error.location = error.location ?? location
                throw error
            }
            for path in implied.inputs {
                let normalized = try workspacePath(path, what: "input", step: name, at: location)
                if !step.inputs.contains(normalized) {
                    step.inputs.append(normalized)
                    step.inputLocations.append(location)
                }
            }
            for path in implied.outputs {
                let normalized = try workspacePath(path, what: "output", step: name, at: location)
                if normalized.isEmpty || normalized == ".pipeline" || normalized.hasPrefix(".pipeline/") {
                    throw PipelineError(.invalidInput, "output '\(path)' of step '\(name)' must be a folder or file inside the workspace", location: location)
                }
                if !step.outputs.contains(normalized) {
                    step.outputs.append(normalized)
                    step.outputLocations.append(location)
                }
            }
        }

        if step.action == .alias {
            if step.needs.isEmpty {
                throw PipelineError(.invalidInput, "step '\(name)' has neither 'run' nor 'use': give one (or 'needs' to make it an alias)", location: keyNode.location)
            }
            if !step.outputs.isEmpty || !step.inputs.isEmpty {
                throw PipelineError(.invalidInput, "step '\(name)' declares inputs or outputs but has neither 'run' nor 'use'", location: keyNode.location)
            }
        }
        return step
    }

    func workspacePath(_ path: String, what: String, step: String, at location: SourceLocation) throws -> String {
        guard !path.isEmpty else {
            throw PipelineError(.invalidInput, "empty \(what) path in step '\(step)'", location: location)
        }
        guard let normalized = Path.normalizeRelative(path) else {
            throw PipelineError(.invalidInput, "\(what) '\(path)' of step '\(step)' escapes the workspace: paths are relative to the Pipelinefile's folder",
                                location: location)
        }
        return normalized
    }

    // MARK: Sections

    func parseVars(_ node: YAMLNode?) throws -> [String: String] {
        guard let node, !node.isNull else { return [:] }
        var raw: [(String, String, SourceLocation)] = []
        for (key, valueNode) in try mapping(node, what: "'vars'") {
            guard let text = valueNode.scalar, !valueNode.isNull else {
                throw PipelineError(.invalidInput, "var '\(key.scalar ?? "")' must be a string, found \(describe(valueNode))", location: valueNode.location)
            }
            raw.append((key.scalar ?? "", text, valueNode.location))
        }
        // A var may use vars defined above it.
        var vars: [String: String] = [:]
        for (name, text, location) in raw { vars[name] = try Interpolation.expand(text, vars: vars, at: location) }
        return vars
    }

    func parseEnv(_ node: YAMLNode, vars: [String: String]) throws -> EnvSpec {
        var spec = EnvSpec()
        switch node {
        case .sequence(let items, _):
            for item in items {
                guard let name = item.scalar, EnvName.isValid(name) else {
                    throw PipelineError(.invalidInput, "'env' entries must be environment variable names, found \(describe(item))", location: item.location)
                }
                if !spec.passThrough.contains(name) { spec.passThrough.append(name) }
            }
        case .mapping:
            for (key, valueNode) in try mapping(node, what: "'env'") {
                let name = key.scalar ?? ""
                guard EnvName.isValid(name) else {
                    throw PipelineError(.invalidInput, "invalid environment variable name '\(name)'", location: key.location)
                }
                if valueNode.isNull {
                    spec.passThrough.append(name)
                    continue
                }
                guard let text = valueNode.scalar else {
                    throw PipelineError(.invalidInput, "env value of '\(name)' must be a string, found \(describe(valueNode))", location: valueNode.location)
                }
                spec.values[name] = try Interpolation.expand(text, vars: vars, at: valueNode.location)
            }
        default:
            if node.isNull { return spec }
            throw PipelineError(.invalidInput, "'env' must be a list of names or a mapping of values, found \(describe(node))", location: node.location)
        }
        return spec
    }

    func parseRetention(_ node: YAMLNode) throws -> [String: String] {
        if node.isNull { return [:] }
        let pairs = try mapping(node, what: "'retention'")
        try checkKeys(pairs, allowed: PipelinefileParser.retentionKeys, what: "key in 'retention'")
        var result: [String: String] = [:]
        for (key, valueNode) in pairs {
            guard let text = valueNode.scalar, !valueNode.isNull else {
                throw PipelineError(.invalidInput, "'\(key.scalar ?? "")' in 'retention' must be a value, found \(describe(valueNode))", location: valueNode.location)
            }
            let name = key.scalar ?? ""
            result[name] = text
            // Bad values are errors here, with their place, not when gc runs.
            do {
                _ = try RetentionPolicy([name: text])
            } catch let error as PipelineError {
                throw PipelineError(.invalidInput, "'retention': " + error.message, location: valueNode.location)
            }
        }
        return result
    }

    func parseCache(_ node: YAMLNode) throws -> [String: String] {
        if node.isNull { return [:] }
        let pairs = try mapping(node, what: "'cache'")
        try checkKeys(pairs, allowed: PipelinefileParser.cacheKeys, what: "key in 'cache'")
        var result: [String: String] = [:]
        for (key, valueNode) in pairs {
            let name = key.scalar ?? ""
            if name == "read_only" {
                guard let flag = bool(valueNode) else {
                    throw PipelineError(.invalidInput, "'read_only' in 'cache' must be true or false, found \(describe(valueNode))", location: valueNode.location)
                }
                result[name] = flag ? "true" : "false"
            } else {
                guard let text = valueNode.scalar, text.hasPrefix("http://") || text.hasPrefix("https://") else {
                    throw PipelineError(.invalidInput, "'remote' in 'cache' must be an http:// or https:// URL, found \(describe(valueNode))",
                                        location: valueNode.location)
                }
                result[name] = text
            }
        }
        return result
    }

    /// `pools: {link: 1}`: names and depths (at least 1).
    func parsePools(_ node: YAMLNode) throws -> [String: Int] {
        var pools: [String: Int] = [:]
        for (key, valueNode) in try mapping(node, what: "'pools'", duplicate: "duplicate pool") {
            let name = key.scalar ?? ""
            guard StepName.isValid(name) else {
                throw PipelineError(.invalidInput, "invalid pool name '\(name)': names match [A-Za-z_][A-Za-z0-9_.-]*", location: key.location)
            }
            guard case .scalar(let text, true, _) = valueNode, let depth = Int(text), depth >= 1 else {
                throw PipelineError(.invalidInput, "the depth of pool '\(name)' must be a whole number of at least 1, found \(describe(valueNode))",
                                    location: valueNode.location)
            }
            pools[name] = depth
        }
        return pools
    }

    // MARK: Node helpers

    func mapping(_ node: YAMLNode, what: String, duplicate: String = "duplicate key") throws -> [(key: YAMLNode, value: YAMLNode)] {
        guard case .mapping(let pairs, _) = node else {
            if node.isNull { return [] }
            throw PipelineError(.invalidInput, "\(what) must be a mapping, found \(describe(node))", location: node.location)
        }
        var seen: [String: SourceLocation] = [:]
        seen.reserveCapacity(pairs.count)
        for (key, _) in pairs {
            let name = key.scalar ?? ""
            if let first = seen[name] {
                throw PipelineError(.invalidInput, "\(duplicate) '\(name)' (first at line \(first.line))", location: key.location)
            }
            seen[name] = key.location
        }
        return pairs
    }

    func checkKeys(_ pairs: [(key: YAMLNode, value: YAMLNode)], allowed: [String], what: String) throws {
        for (key, _) in pairs {
            let name = key.scalar ?? ""
            if !allowed.contains(name) {
                throw PipelineError(.invalidInput, "unknown \(what) '\(name)'\(Suggestion.hint(for: name, in: allowed))", location: key.location,
                                    hint: "allowed: \(allowed.joined(separator: ", "))")
            }
        }
    }

    func value(_ pairs: [(key: YAMLNode, value: YAMLNode)], _ key: String) -> YAMLNode? {
        pairs.first { $0.key.scalar == key }?.value
    }

    func keyOf(_ pairs: [(key: YAMLNode, value: YAMLNode)], _ node: YAMLNode) -> SourceLocation? {
        pairs.first { $0.value.location == node.location }?.key.location
    }

    /// A list of strings; a single scalar counts as a one-element list.
    func stringList(_ node: YAMLNode, what: String, vars: [String: String]) throws -> [String] {
        switch node {
        case .scalar(let text, _, let loc):
            if node.isNull { return [] }
            return [try Interpolation.expand(text, vars: vars, at: loc)]
        case .sequence(let items, _):
            return try items.map { item in
                guard case .scalar(let text, _, let loc) = item, !item.isNull else {
                    throw PipelineError(.invalidInput, "\(what) must be a list of strings, found \(describe(item)) in it", location: item.location)
                }
                return try Interpolation.expand(text, vars: vars, at: loc)
            }
        case .mapping:
            throw PipelineError(.invalidInput, "\(what) must be a list of strings, found a mapping", location: node.location)
        }
    }

    func elementLocation(_ node: YAMLNode, _ index: Int) -> SourceLocation {
        if case .sequence(let items, _) = node, index < items.count { return items[index].location }
        return node.location
    }

    func bool(_ node: YAMLNode) -> Bool? {
        guard case .scalar(let text, let plain, _) = node, plain else { return nil }
        switch text {
        case "true", "True", "TRUE", "yes", "on": return true
        case "false", "False", "FALSE", "no", "off": return false
        default: return nil
        }
    }

    /// YAML → JSON for `with:`: plain scalars that read as numbers, booleans or null become
    /// those; everything else is a string (interpolated).
    func json(_ node: YAMLNode, vars: [String: String]) throws -> JSON {
        switch node {
        case .scalar(let text, let plain, let loc):
            if plain {
                if node.isNull { return .null }
                if let flag = bool(node) { return .bool(flag) }
                if let i = Int64(text) { return .int(i) }
            }
            return .string(try Interpolation.expand(text, vars: vars, at: loc))
        case .sequence(let items, _):
            return .array(try items.map { try json($0, vars: vars) })
        case .mapping:
            var members: [String: JSON] = [:]
            for (key, valueNode) in try mapping(node, what: "'with'") { members[key.scalar ?? ""] = try json(valueNode, vars: vars) }
            return .object(members)
        }
    }

    func describe(_ node: YAMLNode) -> String {
        if case .scalar(let text, _, _) = node, !node.isNull { return "'\(text)'" }
        return node.kindName
    }
}

/// Environment variable names: `[A-Za-z_][A-Za-z0-9_]*`.
public enum EnvName {
    public static func isValid(_ name: String) -> Bool {
        guard let first = name.utf8.first, StepName.isLetter(first) || first == UInt8(ascii: "_") else { return false }
        return name.utf8.allSatisfy { StepName.isLetter($0) || ($0 >= 0x30 && $0 <= 0x39) || $0 == UInt8(ascii: "_") }
    }
}

/// Durations written as `90`, `90s`, `5m`, `2h`, `1d`, `500ms`.
public enum DurationText {
    public static func seconds(_ text: String) -> Double? {
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600), ("d", 86400), ("w", 604800)]
        for (suffix, scale) in units where text.hasSuffix(suffix) {
            guard let number = Double(text.dropLast(suffix.count)), number >= 0 else { return nil }
            return number * scale
        }
        return Double(text).flatMap { $0 >= 0 ? $0 : nil }
    }
}
