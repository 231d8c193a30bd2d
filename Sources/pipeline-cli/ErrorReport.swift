import Glibc
import Pipeline

/// Errors on stderr as `pipeline: error: file:line:col: message`, or as a `pipeline.error`
/// JSON line on stdout with `--json`.
enum ErrorReport {
    static func print(_ error: PipelineError, json: Bool, usage: Bool = false) {
        if json {
            Output.line(document(error))
        } else {
            var text = usage ? error.message : "pipeline: error: \(error.description)"
            if let hint = error.hint { text += "\n  hint: \(hint)" }
            Output.error(text)
        }
    }

    static func document(_ error: PipelineError) -> String {
        var fields: [String: JSON] = [
            "schema_id": "pipeline.error", "schema_version": "1.0.0",
            "error_code": .string(error.code.rawValue), "category": .string(ExitStatus.category(error.code)),
            "message": .string(error.description), "exit_code": .int(Int64(ExitStatus.of(error.code))),
            "retryable": .bool(error.retryable), "hint": error.hint.map(JSON.string) ?? .null,
        ]
        if let location = error.location {
            fields["location"] = ["file": .string(location.file), "line": .int(Int64(location.line)), "column": .int(Int64(location.column))]
        }
        if let step = error.step { fields["step"] = .string(step) }
        if let path = error.path { fields["path"] = .string(path) }
        return JSON.object(fields).canonicalString
    }
}

/// Unbuffered writes to stdout/stderr (the core never prints; only the CLI does).
enum Output {
    static func line(_ text: String) { write(1, text + "\n") }
    static func error(_ text: String) { write(2, text + "\n") }
    static func raw(_ fd: Int32, _ text: String) { write(fd, text) }

    static func write(_ fd: Int32, _ text: String) {
        var text = text
        text.withUTF8 { buffer in
            var offset = 0
            while offset < buffer.count {
                let n = Glibc.write(fd, buffer.baseAddress! + offset, buffer.count - offset)
                if n <= 0 { if errno == EINTR { continue }; return }
                offset += n
            }
        }
    }

    static var environment: [String: String] {
        var result: [String: String] = [:]
        var pointer = environ
        while let entry = pointer.pointee {
            let text = String(cString: entry)
            if let eq = text.firstIndex(of: "=") { result[String(text[..<eq])] = String(text[text.index(after: eq)...]) }
            pointer += 1
        }
        return result
    }
}
