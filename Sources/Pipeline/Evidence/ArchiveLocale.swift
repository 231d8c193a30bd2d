import Glibc

/// libarchive converts entry names between UTF-8 and the *current locale's* charset. A Swift
/// process runs in the "C" locale (ASCII), where a UTF-8 name such as `déjà.txt` cannot be
/// converted: the reader then reports the entry with no name at all. Running libarchive calls
/// under a thread-local UTF-8 locale (`uselocale`, never the process-wide `setlocale`) makes
/// names pass through byte for byte whatever the process locale or `LANG` is.
enum ArchiveLocale {
    /// `C.UTF-8`, built into glibc ≥ 2.35; nil where it is missing (names then fall back to
    /// the process locale, and non-ASCII names may fail to convert).
    nonisolated(unsafe) private static let utf8: locale_t? = newlocale(Int32(1 << LC_CTYPE), "C.UTF-8", nil)

    /// Runs `body` with the calling thread's character type set to UTF-8, then restores it.
    static func run<T>(_ body: () throws -> T) rethrows -> T {
        guard let utf8 else { return try body() }
        let previous = uselocale(utf8)
        defer { uselocale(previous) }
        return try body()
    }
}
