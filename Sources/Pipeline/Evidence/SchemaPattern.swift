import Glibc

/// A JSON Schema `pattern`: an ECMA-262 regular expression (a subset) translated to a POSIX
/// extended expression and compiled once with `regcomp`. Matching is unanchored, as JSON
/// Schema says, and counts Unicode code points (the expression is compiled and run under the
/// C.UTF-8 locale when the system has it). `PatternTranslator` lists the syntax supported.
///
/// `regex_t` is not Sendable: it lives behind a pointer and every use holds `lock`.
final class SchemaPattern: @unchecked Sendable {
    let source: String
    private let expression: UnsafeMutablePointer<regex_t>
    private let lock = Lock()

    init(_ source: String) throws {
        // Everything that can fail happens before the stored properties are set: a throwing
        // init of a fully initialized class would run deinit.
        let translated = try PatternTranslator.translate(source)
        let compiled = UnsafeMutablePointer<regex_t>.allocate(capacity: 1)
        compiled.initialize(to: regex_t())
        let status = SchemaPattern.withLocale { regcomp(compiled, translated, REG_EXTENDED | REG_NOSUB) }
        guard status == 0 else {
            var buffer = [CChar](repeating: 0, count: 256)
            regerror(status, compiled, &buffer, buffer.count)
            compiled.deallocate()
            let reason = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw PipelineError(.invalidInput, "pattern \(source) does not compile: \(reason)")
        }
        self.source = source
        expression = compiled
    }

    deinit {
        regfree(expression)
        expression.deallocate()
    }

    /// Whether the pattern matches somewhere in `text`.
    func matches(_ text: String) -> Bool {
        // REG_STARTEND bounds the match by the length, so a NUL inside the text does not end it.
        let length = text.utf8.count
        return text.withCString { base in
            var range = regmatch_t(rm_so: 0, rm_eo: regoff_t(length))
            return lock.withLock {
                SchemaPattern.withLocale { regexec(expression, base, 1, &range, REG_STARTEND) } == 0
            }
        }
    }

    // MARK: - Locale

    private struct Locale: @unchecked Sendable { let handle: locale_t? }
    private static let utf8 = Locale(handle: newlocale(LC_CTYPE_MASK, "C.UTF-8", nil))

    private static func withLocale<T>(_ body: () -> T) -> T {
        guard let handle = utf8.handle else { return body() }
        let previous = uselocale(handle)
        defer { uselocale(previous) }
        return body()
    }
}
