import Foundation
import XCTest

/// The committed man page (docs/pipeline.1, written by scripts/gen-man) covers every
/// subcommand and every long option the binary knows: adding one without regenerating the
/// page fails here.
final class ManPageTests: XCTestCase {
    func testManPageListsEveryCommandAndOption() throws {
        let f = try Fixture(self)
        let dump = f.run(["--experimental-dump-help"])
        assertExit(dump, 0)
        let tree = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(dump.stdout.utf8)) as? [String: Any])
        let root = try XCTUnwrap(tree["command"] as? [String: Any])
        let page = try String(contentsOfFile: packageRoot() + "/docs/pipeline.1", encoding: .utf8)
        var missing: [String] = []
        func visit(_ command: [String: Any], path: [String]) {
            for argument in command["arguments"] as? [[String: Any]] ?? [] where argument["shouldDisplay"] as? Bool != false {
                for name in argument["names"] as? [[String: Any]] ?? [] where name["kind"] as? String == "long" {
                    let long = name["name"] as? String ?? ""
                    if !page.contains("Fl -\(long)") && !page.contains(", -\(long)") { missing.append((path + ["--" + long]).joined(separator: " ")) }
                }
            }
            for sub in command["subcommands"] as? [[String: Any]] ?? [] where sub["shouldDisplay"] as? Bool != false {
                let name = sub["commandName"] as? String ?? ""
                if !page.contains(".It Em \(name)") && !page.contains(".It Em \"\(name),") { missing.append((path + [name]).joined(separator: " ")) }
                visit(sub, path: path + [name])
            }
        }
        visit(root, path: ["pipeline"])
        XCTAssertEqual(missing, [], "docs/pipeline.1 is out of date: run scripts/gen-man")
        XCTAssertGreaterThan(page.components(separatedBy: ".It Em ").count, 20, "the page lists the subcommands")
    }

    private func packageRoot(filePath: String = #filePath) -> String {
        var folder = PipelineBinary.directory(of: filePath)
        while !FileManager.default.fileExists(atPath: folder + "/Package.swift") { folder = PipelineBinary.directory(of: folder) }
        return folder
    }
}
