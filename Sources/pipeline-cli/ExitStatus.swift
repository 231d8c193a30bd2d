import Pipeline

/// The one table from error codes to exit statuses (pinned by a test; documented in the README).
enum ExitStatus {
    static let ok: Int32 = 0
    static let failure: Int32 = 1
    static let verificationFailed: Int32 = 2
    static let refusedByPolicy: Int32 = 3
    static let approvalRequired: Int32 = 4
    static let notReproduced: Int32 = 5
    static let usage: Int32 = 6
    static let missingDependency: Int32 = 7
    static let unsafe: Int32 = 8
    static let interrupted: Int32 = 130

    static func of(_ code: PipelineError.Code) -> Int32 {
        switch code {
        case .invalidInput, .unknownStep, .dependencyCycle, .ruleUnavailable, .invalidTransition, .unknownJob: return usage
        case .missingInput, .programNotFound: return missingDependency
        case .pathEscapes, .confirmationRequired: return unsafe
        case .interrupted: return interrupted
        case .approvalRequired: return approvalRequired
        case .policyRefused: return refusedByPolicy
        case .verificationFailed: return verificationFailed
        case .notReproduced: return notReproduced
        case .stepFailed, .leaseConflict, .storeFormat, .io, .internalError, .jobCorrupt: return failure
        }
    }

    static func category(_ code: PipelineError.Code) -> String {
        switch code {
        case .invalidInput, .unknownStep, .dependencyCycle, .ruleUnavailable, .invalidTransition, .unknownJob: return "invalid_input"
        case .missingInput, .programNotFound: return "missing_dependency"
        case .pathEscapes, .confirmationRequired: return "unsafe"
        case .interrupted: return "interrupted"
        case .approvalRequired: return "approval"
        case .policyRefused: return "policy"
        case .verificationFailed: return "verification"
        case .notReproduced: return "replay"
        case .stepFailed: return "step_failed"
        case .leaseConflict: return "contention"
        case .storeFormat, .jobCorrupt: return "store"
        case .io, .internalError: return "internal"
        }
    }
}

/// Thrown by a command that already reported what happened and only needs to exit.
struct CommandExit: Error {
    var status: Int32
}
