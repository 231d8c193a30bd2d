import CSupport
import Glibc

/// A shared cache over the Bazel HTTP remote cache protocol: `GET/HEAD/PUT <base>/cas/<sha256>`
/// for blobs and `<base>/ac/<key>` for action results (pipeline's own JSON encoding, the
/// same as in the local store). Served by nginx with WebDAV PUT, bazel-remote (with its AC
/// validation off) or any server of that protocol.
///
/// Nothing here can fail a build: every error is a miss plus one warning, and after
/// `maximumFailures` transport errors in a run the cache is left alone for the rest of it.
/// Every downloaded blob is checked against its digest (nginx checks nothing). libcurl is
/// loaded with dlopen on first use, so a build without a remote cache does not load it.
public final class RemoteCache: @unchecked Sendable {
    public let base: String
    /// `base` as messages show it: credentials in its user part (`https://user:pw@host`)
    /// replaced by `***`. The token and those credentials never reach a message.
    public let displayURL: String
    private let redactor: Redactor
    public let readOnly: Bool
    private let header: String?
    public var timeoutMillis = 10_000
    public static let maximumFailures = 3
    private let lock = Lock()
    private var failures = 0
    private var reportedUnreachable = false
    private var warned: Set<String> = []
    /// Warnings for the caller to show (each once).
    public private(set) var warnings: [String] = []

    /// `token`: `user:password` for basic auth, else a bearer token. Never logged.
    public init(url: String, token: String? = nil, readOnly: Bool = false) {
        let base = url.hasSuffix("/") ? String(url.dropLast()) : url
        self.base = base
        let userInfo = RemoteCache.userInfo(of: base)
        displayURL = userInfo.map { Redactor(values: [$0]).redact(base) } ?? base
        // The whole credentials and their password parts (a user name alone is no secret).
        let passwords = [token, userInfo].compactMap { $0?.split(separator: ":", maxSplits: 1).dropFirst().first.map(String.init) }
        redactor = Redactor(values: [token, userInfo].compactMap { $0 } + passwords)
        self.readOnly = readOnly
        if let token, !token.isEmpty {
            header = token.contains(":") ? "Authorization: Basic " + Base64.encode(Array(token.utf8)) : "Authorization: Bearer " + token
        } else {
            header = nil
        }
    }

    /// The `user:password` between `scheme://` and `@` in a URL, if any.
    static func userInfo(of url: String) -> String? {
        guard let scheme = url.firstRange(of: "://") else { return nil }
        let rest = url[scheme.upperBound...]
        let authority = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        guard let at = authority.lastIndex(of: "@") else { return nil }
        let info = String(authority[..<at])
        return info.isEmpty ? nil : info
    }

    private func withLock<T>(_ body: () throws -> T) rethrows -> T { try lock.withLock(body) }

    public var disabled: Bool { withLock { failures >= RemoteCache.maximumFailures } }

    private func warn(_ text: String) {
        withLock {
            if warned.insert(text).inserted { warnings.append(text) }
        }
    }

    /// (status, body); nil on a transport error (counted toward the circuit breaker). A
    /// transport error or a 5xx is retried twice, after 50 ms and 250 ms.
    private func request(_ method: String, _ path: String, body: [UInt8] = []) -> (status: Int, body: [UInt8])? {
        for (attempt, pause) in [0, 50_000, 250_000].enumerated() {
            if disabled { return nil }
            if pause > 0 { usleep(useconds_t(pause)) }
            let response = once(method, path, body: body, final: attempt == 2)
            switch response {
            case .some(let answer) where answer.status < 500: return answer
            case .some(let answer) where attempt == 2: return answer
            default: continue
            }
        }
        return nil
    }

    /// One try. Only the final failed try counts toward the circuit breaker and warns.
    private func once(_ method: String, _ path: String, body: [UInt8], final: Bool) -> (status: Int, body: [UInt8])? {
        var error = [CChar](repeating: 0, count: 512)
        let log = method == "GET" ? pl_memfd("pipeline-remote") : -1
        defer { if log >= 0 { close(log) } }
        let status = body.withUnsafeBytes { raw in
            pl_http_request(method, base + "/" + path, header, raw.baseAddress, raw.count, log, timeoutMillis, &error, error.count)
        }
        guard status >= 0 else {
            guard final else { return nil }
            let message = String(decoding: error.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            withLock { failures += 1 }
            // One warning per run, whatever the transport said each time.
            let first = withLock { () -> Bool in
                defer { reportedUnreachable = true }
                return !reportedUnreachable
            }
            if first { warn("remote cache \(displayURL) is unreachable (\(redactor.redact(message))); building locally") }
            return nil
        }
        withLock { failures = 0 }
        var bytes: [UInt8] = []
        if log >= 0 {
            var st = Glibc.stat()
            if fstat(log, &st) == 0, st.st_size > 0 {
                bytes = [UInt8](repeating: 0, count: Int(st.st_size))
                _ = bytes.withUnsafeMutableBytes { pread(log, $0.baseAddress, $0.count, 0) }
            }
        }
        return (Int(status), bytes)
    }

    public func result(for key: ActionKey) -> ActionResult? {
        guard let response = request("GET", "ac/" + key.digest.hex), response.status == 200 else { return nil }
        guard let json = try? JSON.parse(response.body), let result = try? ActionResult(json: json) else {
            warn("remote cache sent a malformed action result for \(key.digest.hex); ignored")
            return nil
        }
        return result
    }

    /// A blob's bytes, verified; nil when absent, unreachable or corrupt (then reported).
    public func blob(_ digest: Digest) -> [UInt8]? {
        guard let response = request("GET", "cas/" + digest.hex), response.status == 200 else { return nil }
        guard SHA256.hash(response.body) == digest else {
            warn("remote cache blob \(digest.hex) is corrupt (its bytes hash differently); the step runs here instead")
            return nil
        }
        return response.body
    }

    public func hasBlob(_ digest: Digest) -> Bool {
        request("HEAD", "cas/" + digest.hex)?.status == 200
    }

    /// Uploads blobs the cache lacks, then the result that names them.
    public func upload(blobs: [(digest: Digest, bytes: [UInt8])], result: ActionResult, key: ActionKey) {
        guard !readOnly, !disabled else { return }
        // An unreachable server was reported already; a refusal is reported once.
        for blob in blobs where !hasBlob(blob.digest) {
            guard let response = request("PUT", "cas/" + blob.digest.hex, body: blob.bytes) else { return }
            guard (200..<300).contains(response.status) else {
                warn("remote cache refused an upload (HTTP \(response.status)); results are not shared from this run")
                return
            }
        }
        guard let response = request("PUT", "ac/" + key.digest.hex, body: result.json.canonicalBytes) else { return }
        guard (200..<300).contains(response.status) else {
            warn("remote cache refused an upload (HTTP \(response.status)); results are not shared from this run")
            return
        }
    }
}
