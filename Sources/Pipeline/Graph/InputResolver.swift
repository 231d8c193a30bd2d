/// Turns a step's input patterns into the files it reads, with their digests: globs expanded
/// (`*`, `?`, `[…]`, `**`; dotfiles only when named; the store and symlinked folders never
/// entered; symlinks only to files inside the workspace), folders taken whole, literal paths
/// checked. Folder listings are cached until `forgetListings()`.
public final class InputResolver {
    public let root: String
    let statCache: StatCache
    private var directoryCache: [String: [(name: String, kind: FileStat.Kind?)]] = [:]

    public init(root: String, statCache: StatCache) {
        self.root = root
        self.statCache = statCache
    }

    func absolute(_ relative: String) -> String { root + "/" + relative }

    /// The files a step consumes with their digests, sorted by path: its input patterns
    /// expanded, plus every file its needed steps produced (`produced`).
    public func inputs<Files: Sequence<String>>(of step: Step, produced: [String: Digest], neededFiles: Files) throws
        -> [(path: String, digest: Digest)]
    {
        var found: [(path: String, digest: Digest)] = []
        found.reserveCapacity(step.inputs.count + 4)
        for path in neededFiles { if let digest = produced[path] { found.append((path, digest)) } }
        for (index, pattern) in step.inputs.enumerated() {
            if Glob.isPattern(pattern) {
                for path in expand(Glob(pattern)) { found.append((path, try produced[path] ?? digest(of: path))) }
                continue
            }
            if let known = produced[pattern] {
                found.append((pattern, known))
                continue
            }
            let path = absolute(pattern)
            guard let st = FileSystem.stat(path, follow: true) else {
                throw PipelineError(.missingInput, "input '\(pattern)' of step '\(step.name)' does not exist and no step produces it",
                                    location: step.inputLocations[safe: index], step: step.name, path: pattern)
            }
            if st.kind == .directory {
                for file in filesUnder(pattern) { found.append((file, try produced[file] ?? digest(of: file))) }
            } else {
                found.append((pattern, try statCache.digest(of: path, key: pattern, stat: st)))
            }
        }
        // Sorted by path, each path once.
        found.sort { $0.path < $1.path }
        var kept = 0
        for entry in found where kept == 0 || found[kept - 1].path != entry.path {
            found[kept] = entry
            kept += 1
        }
        found.removeSubrange(kept...)
        return found
    }

    func digest(of relative: String) throws -> Digest {
        guard let (digest, _) = try statCache.digest(of: absolute(relative), key: relative) else {
            throw PipelineError(.io, "cannot read input \(relative)", path: relative)
        }
        return digest
    }

    /// Files matching a glob, sorted; symlinked directories are not entered.
    public func expand(_ glob: Glob) -> [String] {
        let (prefix, rest) = glob.literalPrefix
        var results: [String] = []
        walk(prefix, rest, into: &results)
        return results.sorted()
    }

    private func walk(_ directory: String, _ pattern: ArraySlice<[UInt8]>, into results: inout [String]) {
        guard let first = pattern.first else { return }
        let isLast = pattern.count == 1
        let entries = listing(directory)
        if first == Array("**".utf8) {
            walk(directory, pattern.dropFirst(), into: &results)
            if isLast {
                // A trailing ** matches every file below.
                for entry in entries where !entry.name.hasPrefix(".") {
                    let path = join(directory, entry.name)
                    let kind = entry.kind ?? FileSystem.stat(absolute(path))?.kind
                    if kind == .directory { results.append(contentsOf: filesUnder(path)) } else if kind == .file || kind == .symlink {
                        if isFileInside(path) { results.append(path) }
                    }
                }
                return
            }
            for entry in entries where !entry.name.hasPrefix(".") {
                let path = join(directory, entry.name)
                let kind = entry.kind ?? FileSystem.stat(absolute(path))?.kind
                if kind == .directory, path != ".pipeline" { walk(path, pattern, into: &results) }
            }
            return
        }
        for entry in entries where Glob.matchComponent(first, Array(entry.name.utf8)) {
            let path = join(directory, entry.name)
            if path == ".pipeline" { continue }
            let kind = entry.kind ?? FileSystem.stat(absolute(path))?.kind
            if isLast {
                if kind == .file || (kind == .symlink && isFileInside(path)) { results.append(path) }
            } else if kind == .directory {
                walk(path, pattern.dropFirst(), into: &results)
            }
        }
    }

    /// Every file below a directory (not entering symlinked directories or the store).
    public func filesUnder(_ directory: String) -> [String] {
        var results: [String] = []
        for entry in listing(directory) where !entry.name.hasPrefix(".") {
            let path = join(directory, entry.name)
            let kind = entry.kind ?? FileSystem.stat(absolute(path))?.kind
            if kind == .directory { results.append(contentsOf: filesUnder(path)) } else if kind == .file || (kind == .symlink && isFileInside(path)) {
                results.append(path)
            }
        }
        return results.sorted()
    }

    /// A symlink counts as an input only when it resolves to a file inside the workspace.
    func isFileInside(_ relative: String) -> Bool {
        let path = absolute(relative)
        guard let st = FileSystem.stat(path), st.kind != .symlink else {
            guard let real = FileSystem.realPath(path) else { return false }
            return Path.isInside(real, root: root) && FileSystem.stat(real)?.kind == .file
        }
        return st.kind == .file
    }

    private func join(_ directory: String, _ name: String) -> String { directory.isEmpty ? name : directory + "/" + name }

    private func listing(_ directory: String) -> [(name: String, kind: FileStat.Kind?)] {
        if let cached = directoryCache[directory] { return cached }
        let path = directory.isEmpty ? root : absolute(directory)
        // The folder's stat before reading it: a later change to it means the listing is old.
        if let st = FileSystem.stat(path, follow: true), listedFolders[directory] == nil { listedFolders[directory] = st }
        let entries = FileSystem.list(path) ?? []
        directoryCache[directory] = entries
        return entries
    }

    /// Every folder a glob or folder input listed in this run, with its stat when first listed.
    public private(set) var listedFolders: [String: FileStat] = [:]

    /// Listings are reused until a command or a restore may have changed a folder.
    public func forgetListings() { directoryCache.removeAll(keepingCapacity: true) }
}
