import Pipeline
import XCTest

@testable import pipeline_cli

/// Pins the exit-status contract scripts and CI rely on (README, "Exit codes").
final class ExitStatusTests: XCTestCase {
    func testEveryErrorCodeHasItsDocumentedStatus() {
        let expected: [PipelineError.Code: Int32] = [
            .invalidInput: 6, .unknownStep: 6, .dependencyCycle: 6, .ruleUnavailable: 6, .invalidTransition: 6, .unknownJob: 6,
            .missingInput: 7, .programNotFound: 7,
            .stepFailed: 1, .leaseConflict: 1, .storeFormat: 1, .io: 1, .internalError: 1, .jobCorrupt: 1,
            .pathEscapes: 8, .confirmationRequired: 8,
            .interrupted: 130, .approvalRequired: 4, .policyRefused: 3, .verificationFailed: 2, .notReproduced: 5,
        ]
        XCTAssertEqual(Set(expected.keys), Set(PipelineError.Code.allCases), "every code is pinned")
        for (code, status) in expected { XCTAssertEqual(ExitStatus.of(code), status, "\(code)") }
    }

    func testTheNamedStatuses() {
        XCTAssertEqual([ExitStatus.ok, ExitStatus.failure, ExitStatus.verificationFailed, ExitStatus.refusedByPolicy, ExitStatus.approvalRequired,
                        ExitStatus.notReproduced, ExitStatus.usage, ExitStatus.missingDependency, ExitStatus.unsafe, ExitStatus.interrupted],
                       [0, 1, 2, 3, 4, 5, 6, 7, 8, 130])
    }

    func testErrorEnvelopeCarriesTheContractFields() throws {
        let error = PipelineError(.leaseConflict, "busy", hint: "wait")
        let json = try JSON.parse(ErrorReport.document(error))
        XCTAssertEqual(json["schema_id"], "pipeline.error")
        XCTAssertEqual(json["schema_version"], "1.0.0")
        XCTAssertEqual(json["error_code"], "lease_conflict")
        XCTAssertEqual(json["category"], "contention")
        XCTAssertEqual(json["exit_code"], 1)
        XCTAssertEqual(json["retryable"], true)
        XCTAssertEqual(json["hint"], "wait")
    }

    func testArgumentParserUsageErrorsAreInvalidInput() {
        XCTAssertThrowsError(try PipelineCommand.parseAsRoot(["run", "-j", "zero"]))
        XCTAssertThrowsError(try PipelineCommand.parseAsRoot(["frobnicate"]))
    }
}
