/// A validated Pipelinefile and its graph, kept in binary beside the workspace state and
/// keyed by the file's digest: a run whose Pipelinefile did not change skips YAML entirely.
public enum PlanCache {
    static let magic = "PLPLAN06"

    /// The cached plan, if `path` holds one for exactly these bytes and display name.
    public static func load(path: String, digest: Digest, displayPath: String, rules: [String]) -> (file: Pipelinefile, graph: Graph)? {
        guard let bytes = try? FileSystem.readFile(path), var r = BinaryReader(bytes, magic: magic) else { return nil }
        do {
            guard try r.digest() == digest, try r.string() == displayPath, try r.strings() == rules else { return nil }
            let version = Int(try r.u32())
            let vars = try r.pairs()
            let env = try readEnv(&r)
            let defaults = try r.strings()
            let retention = try r.pairs()
            let cache = try r.pairs()
            let pools = try r.pairs()
            let count = Int(try r.u32())
            var steps: [Step] = []
            steps.reserveCapacity(count)
            for _ in 0..<count { steps.append(try readStep(&r, file: displayPath)) }
            var dependencies: [[Int]] = []
            dependencies.reserveCapacity(count)
            for _ in 0..<count { dependencies.append(try r.ints()) }
            let order = try r.ints()
            guard r.atEnd, order.count == count else { return nil }
            var file = Pipelinefile(displayPath: displayPath, version: version, vars: Dictionary(vars, uniquingKeysWith: { $1 }), env: env,
                                    defaultTargets: defaults, steps: steps, digest: digest,
                                    retention: Dictionary(retention, uniquingKeysWith: { $1 }),
                                    cache: Dictionary(cache, uniquingKeysWith: { $1 }))
            file.pools = Dictionary(pools.map { ($0.0, Int($0.1) ?? 1) }, uniquingKeysWith: { $1 })
            return (file, Graph(validated: steps, dependencies: dependencies, order: order))
        } catch {
            return nil
        }
    }

    public static func save(_ file: Pipelinefile, graph: Graph, rules: [String], to path: String) throws {
        var w = BinaryWriter(magic: magic)
        w.digest(file.digest)
        w.string(file.displayPath)
        w.strings(rules)
        w.u32(UInt32(file.version))
        w.pairs(file.vars.sorted { $0.key < $1.key })
        writeEnv(file.env, &w)
        w.strings(file.defaultTargets)
        w.pairs(file.retention.sorted { $0.key < $1.key })
        w.pairs(file.cache.sorted { $0.key < $1.key })
        w.pairs(file.pools.sorted { $0.key < $1.key }.map { ($0.key, String($0.value)) })
        w.u32(UInt32(file.steps.count))
        for step in file.steps { writeStep(step, &w) }
        for deps in graph.dependencies { w.ints(deps) }
        w.ints(graph.order)
        try Materializer.writeAtomically(w.bytes, to: path, durable: false)
    }

    static func writeEnv(_ env: EnvSpec, _ w: inout BinaryWriter) {
        w.strings(env.passThrough)
        w.pairs(env.values.sorted { $0.key < $1.key })
        w.strings(env.secrets)
    }

    static func readEnv(_ r: inout BinaryReader) throws -> EnvSpec {
        EnvSpec(passThrough: try r.strings(), values: Dictionary(try r.pairs(), uniquingKeysWith: { $1 }), secrets: try r.strings())
    }

    static func writeLocation(_ l: SourceLocation, _ w: inout BinaryWriter) {
        w.u32(UInt32(l.line))
        w.u32(UInt32(l.column))
    }

    static func readLocation(_ r: inout BinaryReader, file: String) throws -> SourceLocation {
        SourceLocation(file: file, line: Int(try r.u32()), column: Int(try r.u32()))
    }

    static func writeStep(_ step: Step, _ w: inout BinaryWriter) {
        w.string(step.name)
        switch step.action {
        case .run(.shell(let line)): w.u8(0); w.string(line)
        case .run(.argv(let words)): w.u8(1); w.strings(words)
        case .use(let rule, let with): w.u8(2); w.string(rule); w.string(with.canonicalString)
        case .alias: w.u8(3)
        }
        w.strings(step.needs)
        w.strings(step.inputs)
        w.strings(step.outputs)
        w.u8(step.description == nil ? 0 : 1)
        w.string(step.description ?? "")
        w.u8(step.timeout == nil ? 0 : 1)
        w.u64((step.timeout ?? 0).bitPattern)
        w.u8(step.cache ? 1 : 0)
        writeEnv(step.env, &w)
        w.u8(step.depfile == nil ? 0 : 1)
        w.string(step.depfile ?? "")
        writeLocation(step.location, &w)
        writeLocation(step.actionLocation, &w)
        for list in [step.needsLocations, step.inputLocations, step.outputLocations] {
            w.u32(UInt32(list.count))
            for l in list { writeLocation(l, &w) }
        }
        w.string(step.pool?.name ?? "")
        w.u32(UInt32(step.pool?.depth ?? 0))
    }

    static func readStep(_ r: inout BinaryReader, file: String) throws -> Step {
        let name = try r.string()
        let action: StepAction
        switch try r.u8() {
        case 0: action = .run(.shell(try r.string()))
        case 1: action = .run(.argv(try r.strings()))
        case 2:
            let rule = try r.string()
            action = .use(rule: rule, with: try JSON.parse(try r.string()))
        case 3: action = .alias
        default: throw BinaryReader.Corrupt()
        }
        let step = Step(name: name, action: action)
        step.needs = try r.strings()
        step.inputs = try r.strings()
        step.outputs = try r.strings()
        let hasDescription = try r.u8() == 1
        let description = try r.string()
        step.description = hasDescription ? description : nil
        let hasTimeout = try r.u8() == 1
        let timeout = Double(bitPattern: try r.u64())
        step.timeout = hasTimeout ? timeout : nil
        step.cache = try r.u8() == 1
        step.env = try readEnv(&r)
        let hasDepfile = try r.u8() == 1
        let depfile = try r.string()
        step.depfile = hasDepfile ? depfile : nil
        step.location = try readLocation(&r, file: file)
        step.actionLocation = try readLocation(&r, file: file)
        var lists: [[SourceLocation]] = []
        for _ in 0..<3 {
            let n = Int(try r.u32())
            var list: [SourceLocation] = []
            list.reserveCapacity(n)
            for _ in 0..<n { list.append(try readLocation(&r, file: file)) }
            lists.append(list)
        }
        step.needsLocations = lists[0]
        step.inputLocations = lists[1]
        step.outputLocations = lists[2]
        let pool = try r.string()
        let depth = Int(try r.u32())
        step.pool = pool.isEmpty ? nil : Pool(name: pool, depth: depth)
        return step
    }
}

extension BinaryWriter {
    mutating func strings(_ list: [String]) {
        u32(UInt32(list.count))
        for s in list { string(s) }
    }

    mutating func pairs(_ list: [(key: String, value: String)]) {
        u32(UInt32(list.count))
        for (k, v) in list { string(k); string(v) }
    }

    mutating func ints(_ list: [Int]) {
        u32(UInt32(list.count))
        for i in list { u32(UInt32(i)) }
    }
}

extension BinaryReader {
    mutating func strings() throws -> [String] {
        let n = Int(try u32())
        guard n <= bytes.count else { throw Corrupt() }
        var list: [String] = []
        list.reserveCapacity(n)
        for _ in 0..<n { list.append(try string()) }
        return list
    }

    mutating func pairs() throws -> [(String, String)] {
        let n = Int(try u32())
        guard n <= bytes.count else { throw Corrupt() }
        var list: [(String, String)] = []
        for _ in 0..<n { list.append((try string(), try string())) }
        return list
    }

    mutating func ints() throws -> [Int] {
        let n = Int(try u32())
        guard n <= bytes.count else { throw Corrupt() }
        var list: [Int] = []
        list.reserveCapacity(n)
        for _ in 0..<n { list.append(Int(try u32())) }
        return list
    }
}
