import Foundation
import Glibc
import XCTest

/// A real nginx serving the Bazel HTTP cache protocol (WebDAV PUT) on 127.0.0.1, from the
/// repository's deploy/nginx-cache.conf, writing under a scratch folder. Tests that need
/// it skip when nginx is not installed (CI installs it).
final class NginxServer {
    let prefix: String
    let port: Int
    private var process: Process?

    var url: String { "http://127.0.0.1:\(port)/pipeline" }
    var root: String { prefix + "/root/pipeline" }
    var accessLog: String { prefix + "/access.log" }

    static var binary: String? {
        ["/usr/sbin/nginx", "/usr/bin/nginx"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    init(_ test: XCTestCase) throws {
        guard let binary = NginxServer.binary else { throw XCTSkip("nginx is not installed (CI installs it: apt-get install nginx)") }
        prefix = try Scratch.folder(prefix: "nginx")
        port = NginxServer.freePort()
        for folder in ["tmp", "root"] { try FileManager.default.createDirectory(atPath: prefix + "/" + folder, withIntermediateDirectories: true) }
        // nginx may drop to `nobody` for its files: let it write here.
        chmod(prefix, 0o777)
        chmod(prefix + "/tmp", 0o777)
        chmod(prefix + "/root", 0o777)
        let template = try String(contentsOfFile: PipelineBinary.directory(of: PipelineBinary.directory(of: PipelineBinary.directory(of: #filePath)))
                                  + "/../deploy/nginx-cache.conf", encoding: .utf8)
        let config = template.replacingOccurrences(of: "@PREFIX@", with: prefix).replacingOccurrences(of: "@PORT@", with: String(port))
        try config.write(toFile: prefix + "/nginx.conf", atomically: true, encoding: .utf8)
        let base = prefix
        test.addTeardownBlock { [self] in
            stop()
            if ProcessInfo.processInfo.environment["PIPELINE_E2E_KEEP"] == nil { try? FileManager.default.removeItem(atPath: base) }
        }
        try start(binary)
    }

    private func start(_ binary: String) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["-c", prefix + "/nginx.conf", "-p", prefix]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        self.process = process
        guard Fixture.waitUntil(timeout: 10, { NginxServer.accepts(port) }) else {
            throw XCTSkip("nginx did not start: \((try? String(contentsOfFile: prefix + "/error.log", encoding: .utf8)) ?? "")")
        }
    }

    func stop() {
        guard let process, process.isRunning else { return }
        process.terminate()
        process.waitUntilExit()
    }

    /// The PUT requests nginx logged.
    var puts: Int {
        ((try? String(contentsOfFile: accessLog, encoding: .utf8)) ?? "").split(separator: "\n").filter { $0.contains("\"PUT ") }.count
    }

    static func accepts(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }

    static func freePort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        _ = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
