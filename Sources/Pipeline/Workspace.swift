/// Where a run happens: the Pipelinefile, the workspace root beside it, and the store.
public struct Workspace: Sendable {
    public static let fileNames = ["Pipelinefile.yaml", "Pipelinefile.yml"]

    /// Absolute, symlink-free folder holding the Pipelinefile; commands run here.
    public var root: String
    /// Absolute path of the Pipelinefile.
    public var pipelinefile: String
    /// How messages name the Pipelinefile (`Pipelinefile.yaml`, or the `-f` path as given).
    public var displayPath: String
    public var storePath: String

    public init(root: String, pipelinefile: String, displayPath: String, storePath: String) {
        self.root = root
        self.pipelinefile = pipelinefile
        self.displayPath = displayPath
        self.storePath = storePath
    }

    /// Finds the Pipelinefile like git finds its repository: in `directory` (default: the
    /// current one) or the nearest parent. `file` (`-f`) names it directly. The store is
    /// `store`, else `PIPELINE_STORE`, else `.pipeline/` beside the Pipelinefile.
    public static func locate(directory: String?, file: String?, store: String?, environment: [String: String]) throws -> Workspace {
        let cwd = FileSystem.currentDirectory()
        let start = directory.map { Path.join(cwd, $0) } ?? cwd
        guard FileSystem.isDirectory(start), let startReal = FileSystem.realPath(start) else {
            throw PipelineError(.invalidInput, "no such directory: \(directory ?? start)", path: directory)
        }
        var pipelinefile: String
        var displayPath: String
        if let file {
            let path = Path.join(startReal, file)
            guard FileSystem.exists(path), let real = FileSystem.realPath(path) else {
                throw PipelineError(.invalidInput, "no such Pipelinefile: \(file)", path: file)
            }
            pipelinefile = real
            displayPath = file
        } else {
            var candidate: String? = startReal
            pipelinefile = ""
            displayPath = ""
            search: while let dir = candidate {
                for name in fileNames where FileSystem.stat(dir + "/" + name, follow: true)?.kind == .file {
                    pipelinefile = dir == "/" ? "/" + name : dir + "/" + name
                    displayPath = name
                    break search
                }
                candidate = dir == "/" ? nil : Path.directory(of: dir)
            }
            guard !pipelinefile.isEmpty else {
                throw PipelineError(.invalidInput, "no Pipelinefile.yaml in \(startReal) or any folder above it",
                                    hint: "create one (see README), or point at it with -C DIR or -f FILE")
            }
            if Path.directory(of: pipelinefile) != startReal {
                displayPath = String(pipelinefile.dropFirst(Path.directory(of: pipelinefile).count + 1))
            }
        }
        let root = Path.directory(of: pipelinefile)
        let storeSetting = store ?? environment["PIPELINE_STORE"].flatMap { $0.isEmpty ? nil : $0 }
        let storePath = storeSetting.map { Path.join(startReal, $0) } ?? root + "/.pipeline"
        return Workspace(root: root, pipelinefile: pipelinefile, displayPath: displayPath, storePath: storePath)
    }
}
