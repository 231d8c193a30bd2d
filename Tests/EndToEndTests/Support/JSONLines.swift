import Foundation
import XCTest

/// The documents `pipeline --json` prints, one per stdout line.
struct JSONLines {
    var documents: [[String: Any]]

    /// Parses every line of `stdout`; a line that is not a JSON object fails the test.
    init(_ stdout: String, file: StaticString = #filePath, line: UInt = #line) {
        documents = []
        for text in stdout.split(separator: "\n", omittingEmptySubsequences: false) where !text.isEmpty {
            guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
                XCTFail("stdout line is not a JSON object: \(text)", file: file, line: line)
                continue
            }
            documents.append(object)
        }
    }

    func of(_ schema: String) -> [[String: Any]] { documents.filter { $0["schema_id"] as? String == schema } }

    /// Names of the steps that finished with `status`, in the order they finished.
    func steps(_ status: String) -> [String] {
        of("pipeline.step").filter { $0["event"] as? String == "finished" && $0["status"] as? String == status }
            .compactMap { $0["step"] as? String }
    }

    /// The final `pipeline.run` summary's count for `status`.
    func count(_ status: String) -> Int? {
        (of("pipeline.run").last?["counts"] as? [String: Any])?[status] as? Int
    }
}
