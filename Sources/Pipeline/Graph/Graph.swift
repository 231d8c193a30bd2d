/// The step graph: names, dependency edges (declared `needs` and producer → consumer edges
/// found from literal inputs), and one topological order. Building it validates references,
/// output ownership and cycles.
public struct Graph: Sendable {
    public let steps: [Step]
    public let indexByName: [String: Int]
    /// For each step, the steps it depends on (sorted, unique).
    public let dependencies: [[Int]]
    /// For each step, the steps that depend on it.
    public let dependents: [[Int]]
    /// Declared output path → producing step.
    public let producers: [String: Int]
    /// Every step, dependencies first; ties keep file order.
    public let order: [Int]

    public init(_ file: Pipelinefile) throws {
        try self.init(steps: file.steps)
    }

    public init(steps: [Step]) throws {
        self.steps = steps
        var indexByName: [String: Int] = [:]
        indexByName.reserveCapacity(steps.count)
        for (index, step) in steps.enumerated() {
            if indexByName[step.name] != nil {
                throw PipelineError(.invalidInput, "duplicate step name '\(step.name)'", location: step.location, step: step.name)
            }
            indexByName[step.name] = index
        }
        var producers: [String: Int] = [:]
        producers.reserveCapacity(steps.count)
        for (index, step) in steps.enumerated() {
            for (k, output) in step.outputs.enumerated() {
                if let other = producers[output] {
                    let otherStep = steps[other]
                    throw PipelineError(.invalidInput,
                                        "output '\(output)' of step '\(step.name)' is already produced by step '\(otherStep.name)' (\(otherStep.location))",
                                        location: step.outputLocations[safe: k] ?? step.location, step: step.name, path: output)
                }
                producers[output] = index
            }
        }
        // Directory outputs may be nested in no other output.
        var dependencies = [[Int]](repeating: [], count: steps.count)
        var matrixSteps: [String: [Int]]?
        for (index, step) in steps.enumerated() {
            var deps: [Int] = []
            for (k, need) in step.needs.enumerated() {
                // A matrix step's name stands for all its expansions, `name[axis=value]` for some.
                var targets = indexByName[need].map { [$0] } ?? []
                if targets.isEmpty {
                    if matrixSteps == nil { matrixSteps = Graph.matrixSteps(steps) }
                    targets = Graph.matrixSelection(need, steps: steps, groups: matrixSteps!)
                }
                guard !targets.isEmpty else {
                    let names = Array(indexByName.keys) + Array((matrixSteps ?? [:]).keys)
                    throw PipelineError(.unknownStep, "step '\(step.name)' needs unknown step '\(need)'\(Suggestion.hint(for: need, in: names))",
                                        location: step.needsLocations[safe: k] ?? step.location, step: step.name)
                }
                if targets.contains(index) {
                    throw PipelineError(.dependencyCycle, "dependency cycle: \(step.name) → \(step.name)",
                                        location: step.needsLocations[safe: k] ?? step.location, step: step.name)
                }
                deps.append(contentsOf: targets)
            }
            for input in step.inputs where !Glob.isPattern(input) {
                if let producer = Graph.producer(of: input, in: producers), producer != index { deps.append(producer) }
            }
            dependencies[index] = Array(Set(deps)).sorted()
        }
        self.indexByName = indexByName
        self.producers = producers
        self.dependencies = dependencies
        self.dependents = Graph.dependents(of: dependencies)
        self.order = try Graph.topologicalOrder(steps: steps, dependencies: dependencies)
    }

    /// A graph validated before (the plan cache): no checks, only the derived tables.
    init(validated steps: [Step], dependencies: [[Int]], order: [Int]) {
        self.steps = steps
        var indexByName: [String: Int] = [:]
        indexByName.reserveCapacity(steps.count)
        var producers: [String: Int] = [:]
        producers.reserveCapacity(steps.count)
        for (index, step) in steps.enumerated() {
            indexByName[step.name] = index
            for output in step.outputs { producers[output] = index }
        }
        self.indexByName = indexByName
        self.producers = producers
        self.dependencies = dependencies
        self.dependents = Graph.dependents(of: dependencies)
        self.order = order
    }

    /// The reverse edges: for each step, the steps that depend on it.
    static func dependents(of dependencies: [[Int]]) -> [[Int]] {
        var dependents = [[Int]](repeating: [], count: dependencies.count)
        for (index, deps) in dependencies.enumerated() { for d in deps { dependents[d].append(index) } }
        return dependents
    }

    /// The step producing `path`: an exact output, or an output directory containing it.
    static func producer(of path: String, in producers: [String: Int]) -> Int? {
        if let exact = producers[path] { return exact }
        var current = path
        while let slash = current.lastIndex(of: "/") {
            current = String(current[..<slash])
            if let owner = producers[current] { return owner }
        }
        return nil
    }

    public func producer(of path: String) -> Int? { Graph.producer(of: path, in: producers) }

    public func index(of name: String) -> Int? { indexByName[name] }

    public var names: [String] { steps.map(\.name) }

    /// Kahn's algorithm in file order; on a cycle, finds one and names it `a → b → a`.
    static func topologicalOrder(steps: [Step], dependencies: [[Int]]) throws -> [Int] {
        var remaining = dependencies.map(\.count)
        let dependents = Graph.dependents(of: dependencies)
        var ready = (0..<steps.count).filter { remaining[$0] == 0 }.reversed() as [Int]
        var order: [Int] = []
        order.reserveCapacity(steps.count)
        // A stack of ready steps, smallest index on top, keeps the order close to file order.
        while let next = ready.popLast() {
            order.append(next)
            var released: [Int] = []
            for dependent in dependents[next] {
                remaining[dependent] -= 1
                if remaining[dependent] == 0 { released.append(dependent) }
            }
            ready.append(contentsOf: released.sorted(by: >))
        }
        if order.count == steps.count { return order }
        let cycle = findCycle(dependencies: dependencies, among: Set((0..<steps.count).filter { remaining[$0] > 0 }))
        let names = cycle.map { steps[$0].name }
        let first = steps[cycle[0]]
        throw PipelineError(.dependencyCycle, "dependency cycle: \(names.joined(separator: " → "))", location: first.location, step: first.name)
    }

    /// A cycle as step indices, first repeated at the end.
    static func findCycle(dependencies: [[Int]], among candidates: Set<Int>) -> [Int] {
        var state = [UInt8](repeating: 0, count: dependencies.count)  // 0 new, 1 on stack, 2 done
        for start in candidates.sorted() where state[start] == 0 {
            var stack: [(node: Int, next: Int)] = [(start, 0)]
            var path: [Int] = [start]
            state[start] = 1
            while let top = stack.last {
                let deps = dependencies[top.node]
                if top.next < deps.count {
                    stack[stack.count - 1].next += 1
                    let d = deps[top.next]
                    guard candidates.contains(d) else { continue }
                    if state[d] == 1 {
                        let from = path.firstIndex(of: d)!
                        // Edges point at dependencies; print in "a needs b" direction reversed to read as flow.
                        return Array(path[from...]) + [d]
                    }
                    if state[d] == 0 {
                        state[d] = 1
                        stack.append((d, 0))
                        path.append(d)
                    }
                } else {
                    state[top.node] = 2
                    stack.removeLast()
                    path.removeLast()
                }
            }
        }
        return Array(candidates.sorted().prefix(1))
    }

    /// The steps needed to build `targets` (themselves included), in topological order.
    public func closure(of targets: [Int]) -> [Int] {
        var wanted = [Bool](repeating: false, count: steps.count)
        var work = targets
        while let next = work.popLast() {
            if wanted[next] { continue }
            wanted[next] = true
            work.append(contentsOf: dependencies[next])
        }
        return order.filter { wanted[$0] }
    }

    /// The steps that depend on `targets`, directly or through others (themselves included),
    /// in topological order.
    public func dependentClosure(of targets: [Int]) -> [Int] {
        var wanted = [Bool](repeating: false, count: steps.count)
        var work = targets
        while let next = work.popLast() {
            if wanted[next] { continue }
            wanted[next] = true
            work.append(contentsOf: dependents[next])
        }
        return order.filter { wanted[$0] }
    }

    /// The expansions of each matrix step (`base[axis=value,...]`), by base name, in file order.
    static func matrixSteps(_ steps: [Step]) -> [String: [Int]] {
        var groups: [String: [Int]] = [:]
        for (index, step) in steps.enumerated() where step.name.utf8.last == UInt8(ascii: "]") {
            if let base = Matrix.split(step.name)?.base { groups[base, default: []].append(index) }
        }
        return groups
    }

    /// The expansions `target` selects: `base` selects them all, `base[axis=value,...]`
    /// (any subset of axes, in any order) those with every given value. Empty when none.
    static func matrixSelection(_ target: String, steps: [Step], groups: [String: [Int]]) -> [Int] {
        guard let (base, wanted) = Matrix.split(target), let group = groups[base] else { return [] }
        if wanted.isEmpty { return group }
        return group.filter { index in
            guard let pairs = Matrix.split(steps[index].name)?.pairs else { return false }
            return wanted.allSatisfy { want in pairs.contains { $0.axis == want.axis && $0.value == want.value } }
        }
    }

    /// Resolves targets; an unknown one is an error with a suggestion.
    public func resolve(targets: [String]) throws -> [Int] {
        var result: [Int] = []
        for target in targets { result += try resolve(target: target) }
        return result
    }

    /// One target: a step name, else a declared output path (`build/app`, `./build/app`, a
    /// file inside a declared output folder), which stands for the step producing it.
    public func resolve(target: String) throws -> [Int] {
        if let index = indexByName[target] { return [index] }
        let matrixSteps = Graph.matrixSteps(steps)
        let selection = Graph.matrixSelection(target, steps: steps, groups: matrixSteps)
        if !selection.isEmpty { return selection }
        if let base = Matrix.split(target)?.base, let group = matrixSteps[base] {
            let names = group.map { steps[$0].name }
            throw PipelineError(.unknownStep, "no expansion of matrix step '\(base)' matches '\(target)'\(Suggestion.hint(for: target, in: names))",
                                hint: "its expansions: " + names.joined(separator: ", "))
        }
        if let path = Path.normalizeRelative(target), !path.isEmpty,
           let producer = producers[path] ?? (path.contains("/") ? producer(of: path) : nil) {
            return [producer]
        }
        let names = Array(indexByName.keys) + Array(matrixSteps.keys)
        let candidates = target.contains("/") ? names + Array(producers.keys) : names
        throw PipelineError(.unknownStep, "unknown step '\(target)'\(Suggestion.hint(for: target, in: candidates))",
                            hint: "`pipeline list` shows the steps; a declared output path builds the step producing it")
    }
}

extension Array {
    subscript(safe index: Int) -> Element? { indices.contains(index) ? self[index] : nil }
}
