import CSupport
import Dispatch

/// The fast answer to "is everything still up to date?", the way ninja answers it: after a
/// run in which every selected step succeeded, remember the `stat` of every file the run
/// depended on or produced (inputs, outputs, listed folders, the Pipelinefile), exactly as it
/// was when its digest was established. Next time, with the same targets, binary and
/// declared environment, if every one of those files still stats the same, nothing can have
/// changed: the run is a no-op without reading the plan, the records or any content.
///
/// Anything short of that (a file touched, added to a listed folder, removed; a racy
/// timestamp; a file that changed while the run was using it) falls back to the full check.
public enum NoopCheck {
    static let magic = "PLNOOP02"

    public struct Entry: Sendable, Equatable {
        public var path: String
        public var stat: FileStat
    }

    /// What must match besides the files: targets, key format, platform, workspace, and the
    /// values of every environment variable the selected steps declare.
    public static func context(targets: [String], envNames: [String], environment: [String: String], root: String) -> Digest {
        var text = "\(ActionDescription.salt)\n\(ActionDescription.currentPlatform)\n\(root)\n\(targets.joined(separator: "\u{0}"))\n"
        for name in envNames.sorted() { text += "\(name)=\(environment[name].map { "1" + $0 } ?? "0")\u{0}" }
        return SHA256.hash(text)
    }

    /// The steps of the remembered run when every condition still holds; nil otherwise.
    /// `context` is computed from the env names stored in the file, so it is a closure.
    public static func check(path: String, root: String, context: ([String]) -> Digest,
                             racyWindowNanos: Int64 = 100_000_000)
        -> (steps: [String], upToDate: Int, envNames: [String], pipelinefileDigest: Digest)?
    {
        guard let bytes = try? FileSystem.readFile(path), var r = ChecksummedFile.open(bytes, magic: magic) else { return nil }
        do {
            let stored = try r.digest()
            let writtenAt = try r.i64()
            let envNames = try r.strings()
            guard stored == context(envNames) else { return nil }
            let steps = try r.strings()
            let upToDate = Int(try r.u32())
            let pipelinefileDigest = try r.digest()
            let count = Int(try r.u32())
            var entries: [Entry] = []
            entries.reserveCapacity(count)
            for _ in 0..<count {
                let path = try r.string()
                let stat = FileStat(device: try r.u64(), inode: try r.u64(), size: try r.u64(), mtimeNanos: try r.i64(),
                                    ctimeNanos: try r.i64(), mode: try r.u32(), kind: FileStat.Kind(rawValue: try r.u32()) ?? .other)
                entries.append(Entry(path: path, stat: stat))
            }
            guard r.atEnd else { return nil }
            // Split the stats over two cores.
            let all = entries
            let half = all.count / 2
            let other = BackgroundLoad { matches(all[half...], root: root, writtenAt: writtenAt, racy: racyWindowNanos) }
            let mine = matches(all[..<half], root: root, writtenAt: writtenAt, racy: racyWindowNanos)
            return mine && other.wait() ? (steps, upToDate, envNames, pipelinefileDigest) : nil
        } catch {
            return nil
        }
    }

    static func matches(_ entries: ArraySlice<Entry>, root: String, writtenAt: Int64, racy: Int64) -> Bool {
        for entry in entries {
            let full = entry.path.isEmpty ? root : (entry.path.hasPrefix("/") ? entry.path : root + "/" + entry.path)
            guard let now = FileSystem.stat(full, follow: true), sameStat(now, entry.stat),
                  writtenAt - max(now.mtimeNanos, now.ctimeNanos) > racy
            else { return false }
        }
        return true
    }

    /// A change of content, mode or owner moves ctime; (device, inode) catches a replaced file.
    static func sameStat(_ a: FileStat, _ b: FileStat) -> Bool {
        a.device == b.device && a.inode == b.inode && a.size == b.size && a.mtimeNanos == b.mtimeNanos && a.ctimeNanos == b.ctimeNanos
            && a.kind == b.kind
    }

    /// Remembers a successful run. `entries` hold each file's stat as it was when the run
    /// used it; when any file differs now, or is too fresh to trust, nothing is written (and
    /// an old answer is removed), so the next run takes the full check.
    public static func write(path: String, context: Digest, envNames: [String], steps: [String], upToDate: Int, entries: [Entry],
                             pipelinefileDigest: Digest, root: String, racyWindowNanos: Int64 = 100_000_000) throws {
        let writtenAt = pl_wall_ns()
        for entry in entries {
            let full = entry.path.isEmpty ? root : (entry.path.hasPrefix("/") ? entry.path : root + "/" + entry.path)
            guard let now = FileSystem.stat(full, follow: true), sameStat(now, entry.stat),
                  writtenAt - max(now.mtimeNanos, now.ctimeNanos) > racyWindowNanos
            else {
                forget(path: path)
                return
            }
        }
        var w = BinaryWriter(magic: magic)
        w.digest(context)
        w.i64(writtenAt)
        w.strings(envNames)
        w.strings(steps)
        w.u32(UInt32(upToDate))
        w.digest(pipelinefileDigest)
        w.u32(UInt32(entries.count))
        for entry in entries {
            w.string(entry.path)
            w.u64(entry.stat.device); w.u64(entry.stat.inode); w.u64(entry.stat.size)
            w.i64(entry.stat.mtimeNanos); w.i64(entry.stat.ctimeNanos)
            w.u32(entry.stat.mode); w.u32(entry.stat.kind.rawValue)
        }
        try Materializer.writeAtomically(ChecksummedFile.seal(w), to: path, durable: false)
    }

    public static func forget(path: String) {
        try? FileSystem.remove(path)
    }
}
