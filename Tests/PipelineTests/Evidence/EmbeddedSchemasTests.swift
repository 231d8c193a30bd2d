import XCTest

@testable import Pipeline

/// The binary is installed alone, so the schemas travel inside it: the embedded copies must
/// be exactly the files in schemas/v1, and every one must load.
final class EmbeddedSchemasTests: XCTestCase {
    static let repositoryRoot: String = {
        var path = #filePath  // <root>/Tests/PipelineTests/Evidence/EmbeddedSchemasTests.swift
        for _ in 0..<4 { path = Path.directory(of: path) }
        return path
    }()

    /// Repository paths of every schemas/v1/**/*.schema.json on disk.
    static func schemaFilesOnDisk() -> [String] {
        var found: [String] = []
        func walk(_ relative: String) {
            for entry in FileSystem.list(repositoryRoot + "/" + relative) ?? [] {
                let path = relative + "/" + entry.name
                if FileSystem.isDirectory(repositoryRoot + "/" + path) {
                    walk(path)
                } else if entry.name.hasSuffix(".schema.json") {
                    found.append(path)
                }
            }
        }
        walk("schemas/v1")
        if FileSystem.exists(repositoryRoot + "/schemas/pipelinefile.schema.json") { found.append("schemas/pipelinefile.schema.json") }
        return found.sorted()
    }

    func testEmbeddedSchemasMatchTheFilesOnDisk() throws {
        let onDisk = Self.schemaFilesOnDisk()
        XCTAssertFalse(onDisk.isEmpty, "no schemas found under \(Self.repositoryRoot)/schemas/v1")
        let fix = "run scripts/embed-schemas and commit Sources/Pipeline/Evidence/EmbeddedSchemas.swift"
        for path in onDisk {
            let text = try FileSystem.readText(Self.repositoryRoot + "/" + path)
            guard let embedded = EmbeddedSchemas.files[path] else {
                XCTFail("\(path) is not embedded in the binary: \(fix)")
                continue
            }
            XCTAssertTrue(embedded == text, "the embedded copy of \(path) differs from the file: \(fix)")
        }
        for path in EmbeddedSchemas.files.keys.sorted() where !onDisk.contains(path) {
            XCTFail("\(path) is embedded but no longer on disk: \(fix)")
        }
    }

    func testEveryEmbeddedSchemaLoads() {
        for path in EmbeddedSchemas.files.keys.sorted() {
            XCTAssertNoThrow(try EmbeddedSchemas.schema(path), "\(path) uses something JSONSchema does not support")
        }
    }

    func testAnEmbeddedSchemaValidates() throws {
        let schema = try EmbeddedSchemas.schema("schemas/v1/output/plan.schema.json")
        XCTAssertEqual(schema.validate(["schema_id": "pipeline.plan", "schema_version": "1.0.0", "steps": ["a"]]), [])
        XCTAssertEqual(schema.validate(["schema_id": "pipeline.plan", "schema_version": "1.0.0", "steps": ["a"], "job": "nope"]),
                       [SchemaViolation(pointer: "/job", message: "does not match pattern ^[0-9]{8}T[0-9]{6}Z-[0-9a-f]{6}$")])
    }

    func testAnUnknownPathThrows() {
        XCTAssertThrowsError(try EmbeddedSchemas.schema("schemas/v1/nope.schema.json")) { error in
            XCTAssertEqual((error as? PipelineError)?.code, .internalError)
        }
    }
}
