import Foundation
import Glibc
import XCTest

/// Signing keys, remote-cache credentials and `secrets:` values never appear in what
/// pipeline prints (text or --json), stores (store.log, cas/, job events, run records) or
/// packs. `scripts/chaos.d/secrets` runs the same search over many more commands.
final class SecretsTests: XCTestCase {
    /// The places a leak would land: every byte printed, and every file under `folders`.
    func leaks(of needles: [String: String], in results: [ProcessResult], folders: [String]) -> [String] {
        var found: [String] = []
        func search(_ data: Data, _ where: String) {
            for (name, needle) in needles where data.range(of: Data(needle.utf8)) != nil { found.append("\(name) in \(`where`)") }
        }
        for (index, result) in results.enumerated() { search(Data((result.stdout + result.stderr).utf8), "output \(index)") }
        for folder in folders {
            for relative in FileManager.default.subpaths(atPath: folder) ?? [] {
                guard let data = FileManager.default.contents(atPath: folder + "/" + relative) else { continue }
                search(data, relative)
            }
        }
        return found
    }

    /// Credentials in a remote cache URL (`http://user:password@host`) are shown as `***`
    /// when the cache is unreachable, in text and in --json.
    func testRemoteCacheCredentialsInTheURLAreNeverShown() throws {
        let fixture = try Fixture(self)
        fixture.pipelinefile("""
            pipeline: 1
            steps:
              hello:
                run: echo hi > out.txt
                outputs: [out.txt]
            """)
        let url = "http://ci:pw-8c1d5e9a@127.0.0.1:9/cache"
        let token = "tok-5f0e4b7d2a"
        let json = fixture.run(["run", "--json", "--remote-cache", url], environment: ["PIPELINE_REMOTE_CACHE_TOKEN": token])
        XCTAssertEqual(json.status, 0, json.transcript)
        XCTAssertTrue((json.stdout + json.stderr).contains("remote cache http://***@127.0.0.1:9/cache is unreachable"), json.transcript)
        XCTAssertEqual(leaks(of: ["password": "pw-8c1d5e9a", "token": token], in: [json], folders: [fixture.root]), [])
    }

    /// A signing key given through the environment (`use: sign`, `use: pack`, `pack build
    /// --private-key-env`), a secret a command echoes, and a remote cache token: none of them
    /// in any output, in the store, or in a pack.
    func testKeysTokensAndSecretsReachNoOutputStoreOrPack() throws {
        let fixture = try Fixture(self)
        let keys = fixture.outside + "/keys"
        XCTAssertEqual(fixture.run(["key", "gen", "--out-dir", keys]).status, 0)
        let privateKey = try String(contentsOfFile: keys + "/pipeline_private.key", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let raw = try XCTUnwrap(Data(base64Encoded: privateKey))
        let seedHex = raw.prefix(32).map { String(format: "%02x", $0) }.joined()
        let secret = "sv-3b9f27c4e1d8"
        let token = "tok-a41c7e90b2"
        fixture.pipelinefile("""
            pipeline: 1
            default: [all]
            steps:
              build:
                run: echo "secret $MY_SECRET"; echo "also $MY_SECRET" >&2; echo hello > out.txt
                secrets: [MY_SECRET]
                outputs: [out.txt]
              checksums:
                needs: [build]
                use: sign
                with: { files: [out.txt], key: env:PIPELINE_SIGNING_KEY }
              release:
                needs: [build]
                use: pack
                with: { type: run, out: dist, sign: env:PIPELINE_SIGNING_KEY }
              all:
                needs: [checksums, release]
              broken:
                run: echo "$MY_SECRET" >&2; exit 3
                secrets: [MY_SECRET]
            """)
        let environment: [String: String?] = ["PIPELINE_SIGNING_KEY": privateKey, "MY_SECRET": secret, "PIPELINE_REMOTE_CACHE_TOKEN": token]
        var results: [ProcessResult] = []
        let run = fixture.run(["run"], environment: environment)
        XCTAssertEqual(run.status, 0, run.transcript)
        results.append(run)
        results.append(fixture.run(["run", "--json", "--explain", "--force", "build"], environment: environment))
        let broken = fixture.run(["run", "broken", "--json"], environment: environment)
        XCTAssertEqual(broken.status, 1, broken.transcript)
        results.append(broken)
        let job = try XCTUnwrap(fixture.run(["job", "list"]).stdoutLines.first?.split(separator: " ").first.map(String.init))
        results.append(fixture.run(["job", "show", job, "--json"]))
        results.append(fixture.run(["job", "logs", job]))
        let packs = fixture.outside + "/packs"
        let pack = fixture.run(["pack", "build", "--type", "run", "--from", job, "--out", packs, "--sign", "--private-key-env", "PIPELINE_SIGNING_KEY"],
                               environment: environment)
        XCTAssertEqual(pack.status, 0, pack.transcript)
        results.append(pack)
        // A malformed key in the variable: refused without echoing it.
        let bad = fixture.run(["pack", "build", "--type", "run", "--from", job, "--out", packs, "--sign", "--private-key-env", "PIPELINE_SIGNING_KEY"],
                              environment: ["PIPELINE_SIGNING_KEY": secret])
        XCTAssertEqual(bad.status, 6, bad.transcript)
        results.append(bad)

        let needles = ["private key": privateKey, "private seed (hex)": seedHex, "secret": secret, "token": token]
        XCTAssertEqual(leaks(of: needles, in: results, folders: [fixture.root, packs]), [])
        XCTAssertTrue(run.stdout.contains("***") || run.stderr.contains("***") || fixture.run(["job", "logs", job]).stdout.contains("***"),
                      "the echoed secret shows as ***")
    }
}
