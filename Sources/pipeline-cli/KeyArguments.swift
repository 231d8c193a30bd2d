import Pipeline

/// Keys named on the command line: a file, or an environment variable holding the base64
/// text. At most one of the two.
enum KeyArguments {
    static func signingKey(file: String?, variable: String?, environment: [String: String]) throws -> SigningKey? {
        switch (file, variable) {
        case (let file?, nil): return try KeyFile.loadPrivate(path: file)
        case (nil, let variable?): return try KeyFile.loadPrivate(environmentVariable: variable, environment: environment)
        case (nil, nil): return nil
        case (_?, _?): throw PipelineError(.invalidInput, "give --private-key or --private-key-env, not both")
        }
    }

    static func publicKey(file: String?, variable: String?, environment: [String: String]) throws -> PublicKey? {
        switch (file, variable) {
        case (let file?, nil): return try KeyFile.loadPublic(path: file)
        case (nil, let variable?): return try KeyFile.loadPublic(environmentVariable: variable, environment: environment)
        case (nil, nil): return nil
        case (_?, _?): throw PipelineError(.invalidInput, "give --public-key or --public-key-env, not both")
        }
    }
}
