/// What watch mode watches for one plan, and which changes count. The folders: where each
/// selected step's inputs live (a glob's literal root, and every folder below it when the
/// pattern spans folders; a folder input whole; a literal file's folder), and the workspace
/// root for the Pipelinefile. A change counts when it is the Pipelinefile or could be an
/// input: never the store, a declared output (the build writes those), or an atomic write's
/// temporary file. Folders below a root are walked as globs are expanded: dot folders, the
/// store, outputs and symlinked folders are not entered.
public struct WatchSet: Sendable {
    /// A folder to watch, workspace-relative ("" is the root), and whether below it too.
    public struct Root: Sendable, Equatable, Hashable {
        public var folder: String
        public var recursive: Bool
    }

    public let root: String
    public private(set) var roots: Set<Root> = []
    private var patterns: [Glob] = []
    private var literals: Set<String> = []
    /// Inputs that are folders: any file below them (not dotfiles) counts.
    private var folderInputs: [String] = []
    private var outputs: Set<String> = []
    /// The store and the Pipelinefile, workspace-relative (the store nil when outside).
    private let store: String?
    public let pipelinefile: String

    public init(workspace: Workspace, graph: Graph, selected: [Int]) {
        root = workspace.root
        pipelinefile = WatchSet.relative(workspace.pipelinefile, to: workspace.root) ?? Path.lastComponent(workspace.pipelinefile)
        store = WatchSet.relative(workspace.storePath, to: workspace.root)
        roots.insert(Root(folder: "", recursive: false))
        for step in graph.steps { outputs.formUnion(step.outputs) }
        for i in selected {
            for input in graph.steps[i].inputs {
                if Glob.isPattern(input) {
                    let glob = Glob(input)
                    patterns.append(glob)
                    let (prefix, rest) = glob.literalPrefix
                    roots.insert(Root(folder: prefix, recursive: rest.count > 1))
                    continue
                }
                guard let path = Path.normalizeRelative(input), !path.isEmpty else { continue }
                if FileSystem.isDirectory(workspace.root + "/" + path) {
                    folderInputs.append(path)
                    roots.insert(Root(folder: path, recursive: true))
                } else {
                    literals.insert(path)
                    roots.insert(Root(folder: WatchSet.parent(of: path), recursive: false))
                }
            }
        }
    }

    /// The absolute folders to watch now. A root that does not exist yet is watched through
    /// its nearest existing parent, so its creation is seen.
    public func folders() -> Set<String> {
        var result = Set<String>()
        for entry in roots {
            var folder = entry.folder
            while !folder.isEmpty, !FileSystem.isDirectory(absolute(folder)) { folder = WatchSet.parent(of: folder) }
            guard folder == entry.folder else {
                result.insert(absolute(folder))
                continue
            }
            if entry.recursive { walk(folder, into: &result) } else { result.insert(absolute(folder)) }
        }
        return result
    }

    /// The folders to watch at and below `path` (absolute), a folder that just appeared.
    public func folders(below path: String) -> Set<String> {
        var result = Set<String>()
        guard let relative = WatchSet.relative(path, to: root), isTrigger(path, isDirectory: true) else { return result }
        if roots.contains(where: { $0.recursive && WatchSet.isBelow(relative, $0.folder) }) { walk(relative, into: &result) }
        return result
    }

    /// Whether a folder that just appeared (absolute) starts a cycle: it leads to a root
    /// that was missing, or holds a file that counts (a folder moved in brings its files
    /// without an event for each).
    public func isTriggerFolder(_ path: String) -> Bool {
        guard let relative = WatchSet.relative(path, to: root), isTrigger(path, isDirectory: true) else { return false }
        if roots.contains(where: { WatchSet.isBelow($0.folder, relative) }) { return true }
        return holdsTrigger(relative)
    }

    private func holdsTrigger(_ folder: String) -> Bool {
        for entry in FileSystem.list(absolute(folder)) ?? [] where !entry.name.hasPrefix(".") {
            let path = folder + "/" + entry.name
            let kind = entry.kind ?? FileSystem.stat(absolute(path))?.kind
            if kind == .directory {
                if !isIgnored(path) && holdsTrigger(path) { return true }
            } else if isTrigger(absolute(path), isDirectory: false) {
                return true
            }
        }
        return false
    }

    private func walk(_ folder: String, into result: inout Set<String>) {
        guard result.insert(absolute(folder)).inserted else { return }
        for entry in FileSystem.list(absolute(folder)) ?? [] where entry.kind == .directory && !entry.name.hasPrefix(".") {
            let path = folder.isEmpty ? entry.name : folder + "/" + entry.name
            if isIgnored(path) { continue }
            walk(path, into: &result)
        }
    }

    /// Whether a change to `path` (absolute) should start a cycle.
    public func isTrigger(_ path: String, isDirectory: Bool) -> Bool {
        guard let relative = WatchSet.relative(path, to: root) else { return false }
        if relative == pipelinefile { return true }
        if relative.isEmpty || isIgnored(relative) { return false }
        let name = Path.lastComponent(relative)
        if name.hasPrefix(".") && name.contains(".tmp-") { return false }
        if isDirectory {
            // A folder appearing or leaving where inputs are looked for, or on the way to a
            // root that did not exist.
            return roots.contains { root in
                (root.recursive && WatchSet.isBelow(relative, root.folder) && !WatchSet.hasDotComponent(relative, after: root.folder))
                    || WatchSet.isBelow(root.folder, relative)
            }
        }
        if literals.contains(relative) { return true }
        if folderInputs.contains(where: { WatchSet.isBelow(relative, $0) && relative != $0 && !WatchSet.hasDotComponent(relative, after: $0) }) {
            return true
        }
        return patterns.contains { $0.matches(relative) }
    }

    /// The store, or a declared output or anything below one.
    private func isIgnored(_ relative: String) -> Bool {
        if let store, WatchSet.isBelow(relative, store) { return true }
        if outputs.contains(relative) { return true }
        var folder = relative
        while !folder.isEmpty {
            folder = WatchSet.parent(of: folder)
            if outputs.contains(folder) { return true }
        }
        return false
    }

    private func absolute(_ relative: String) -> String { relative.isEmpty ? root : root + "/" + relative }

    /// `path` relative to `root` ("" for the root itself), nil when outside it.
    static func relative(_ path: String, to root: String) -> String? {
        if path == root { return "" }
        guard Path.isInside(path, root: root) else { return nil }
        return String(path.dropFirst(root.hasSuffix("/") ? root.count : root.count + 1))
    }

    /// The folder holding a relative path ("" at the top).
    static func parent(of relative: String) -> String {
        guard let slash = relative.lastIndex(of: "/") else { return "" }
        return String(relative[..<slash])
    }

    /// Whether `path` is `folder` or below it ("" holds everything).
    static func isBelow(_ path: String, _ folder: String) -> Bool {
        folder.isEmpty || path == folder || path.hasPrefix(folder + "/")
    }

    /// Whether a component of `path` after `folder` starts with a dot (not matched by `**`).
    static func hasDotComponent(_ path: String, after folder: String) -> Bool {
        let rest = folder.isEmpty ? Substring(path) : path.dropFirst(folder.count)
        return rest.split(separator: "/").contains { $0.hasPrefix(".") }
    }
}
