import Glibc

/// Where replay finds blobs: the store, or the blobs of a pack.
public protocol ReplayBlobs: AnyObject {
    /// Whether the blob is there and its bytes hash to its digest.
    func verify(_ digest: Digest) -> Bool
    /// Writes the blob into `fd`, verified; false when it is missing or damaged.
    func copy(_ digest: Digest, to fd: Int32, named name: String) throws -> Bool
}

extension LocalStore: ReplayBlobs {
    public func verify(_ digest: Digest) -> Bool {
        guard let source = blobSource(digest) else { return false }
        if source.bytes != nil { return true }  // verified when read
        guard let path = source.path, let actual = try? FileHasher().sha256(path) else { return false }
        return actual == digest
    }
}

/// The run records and blobs of a run pack, read in one streaming pass. Blobs are checked
/// against their names on the way; with `extractInto`, good ones are written there (one
/// file per digest) for replay to copy from. Nothing is written anywhere else.
public final class PackBlobs: ReplayBlobs {
    public private(set) var records: [RunRecord] = []
    public private(set) var sourceRef = ""
    private var good: Set<Digest> = []
    private let folder: String?

    public init(pack: String, extractInto folder: String?) throws {
        self.folder = folder
        let reader: ZipReader
        do {
            reader = try ZipReader(path: pack, verifyCRC: false)
        } catch let failure as ZipReadFailure {
            throw PipelineError(.invalidInput, "\(pack) is not a readable zip: \(failure.text)", path: pack)
        }
        var documents: [(path: String, bytes: [UInt8])] = []
        var manifest: JSON?
        let sha = SHA256()
        while let info = try reader.nextEntry() {
            guard info.kind == .file else { continue }
            if info.path.hasPrefix("blobs/sha256/"), let digest = Digest(hex: info.path.dropFirst("blobs/sha256/".count)) {
                sha.reset()
                var fd: Int32 = -1
                let temp = folder.map { "\($0)/.\(digest.hex).part" }
                if let temp {
                    fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
                    guard fd >= 0 else { throw FileSystem.ioError("cannot write", temp) }
                }
                defer { if fd >= 0 { close(fd) } }
                var writeError: Error?
                try reader.readData { block in
                    guard let base = block.baseAddress else { return }
                    sha.update(base, count: block.count)
                    if fd >= 0, writeError == nil {
                        do { try FileSystem.writeAll(fd, Array(block), path: temp ?? "") } catch { writeError = error }
                    }
                }
                if let writeError { throw writeError }
                if sha.finish() == digest {
                    good.insert(digest)
                    if let temp, let folder { guard rename(temp, "\(folder)/\(digest.hex)") == 0 else { throw FileSystem.ioError("cannot write", temp) } }
                } else if let temp {
                    unlink(temp)
                }
            } else if info.path == PackManifest.fileName || (info.path.hasPrefix("runs/") && info.path.hasSuffix(".json")) {
                var bytes: [UInt8] = []
                try reader.readData { block in
                    if bytes.count + block.count <= PackReader.maximumDocumentSize { bytes.append(contentsOf: block) }
                }
                if info.path == PackManifest.fileName { manifest = try? JSON.parse(bytes) } else { documents.append((info.path, bytes)) }
            }
        }
        guard let manifest, manifest["pack_type"]?.stringValue == "run" else {
            throw PipelineError(.invalidInput, "\(pack) is not a run pack (replay needs the run records of a run pack)", path: pack)
        }
        sourceRef = manifest["source_ref"]?.stringValue ?? ""
        records = try documents.sorted { $0.path < $1.path }.map { document in
            guard let json = try? JSON.parse(document.bytes), let record = try? RunRecord(json: json) else {
                throw PipelineError(.invalidInput, "\(pack): \(document.path) is not a run record", path: pack)
            }
            return record
        }
    }

    public func verify(_ digest: Digest) -> Bool { good.contains(digest) }

    public func copy(_ digest: Digest, to fd: Int32, named name: String) throws -> Bool {
        guard good.contains(digest), let folder else { return false }
        let path = "\(folder)/\(digest.hex)"
        let source = open(path, O_RDONLY | O_CLOEXEC)
        guard source >= 0 else { return false }
        defer { close(source) }
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(source, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n < 0 { throw FileSystem.ioError("cannot read", path) }
            if n == 0 { return true }
            try FileSystem.writeAll(fd, Array(buffer[0..<n]), path: name)
        }
    }
}
