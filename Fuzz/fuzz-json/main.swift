import FuzzDriver
import Glibc
import Pipeline

runLibFuzzer(fuzzJSON)

/// libFuzzer target: `JSON.parse` on any bytes, and the canonical round trip — whatever parses
/// encodes (RFC 8785) to bytes that parse back to the same value and re-encode to the same
/// bytes. A broken property is a crash (fatalError) so libFuzzer keeps the input.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJSON(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: size > 0 ? data : nil, count: size))
    let value: JSON
    do {
        value = try JSON.parse(bytes)
    } catch {
        _ = "\(error)"
        return 0
    }
    let canonical = value.canonicalBytes
    guard let again = try? JSON.parse(canonical) else {
        fatalError("canonical bytes do not parse: \(String(decoding: canonical, as: UTF8.self))")
    }
    guard again.canonicalBytes == canonical else {
        fatalError("canonical encoding is not a fixed point: \(String(decoding: canonical, as: UTF8.self))")
    }
    guard same(value, again) else {
        fatalError("round trip changed the value: \(String(decoding: canonical, as: UTF8.self))")
    }
    return 0
}

/// Equal as JSON values: numbers by value (1.0 encodes as 1 and reads back as an integer),
/// strings and keys byte for byte (Swift's String == would equate canonically equivalent ones).
func same(_ a: JSON, _ b: JSON) -> Bool {
    switch (a, b) {
    case (.null, .null): return true
    case (.bool(let x), .bool(let y)): return x == y
    case (.string(let x), .string(let y)): return Array(x.utf8) == Array(y.utf8)
    case (.int(let x), .int(let y)): return x == y
    case (.double(let x), .double(let y)): return x == y
    case (.int(let x), .double(let y)), (.double(let y), .int(let x)): return Double(x) == y && Double(exactly: y).flatMap { Int64(exactly: $0) } == x
    case (.array(let x), .array(let y)): return x.count == y.count && zip(x, y).allSatisfy { same($0, $1) }
    case (.object(let x), .object(let y)):
        guard x.count == y.count else { return false }
        for (key, value) in x {
            guard let other = y.first(where: { Array($0.key.utf8) == Array(key.utf8) }) else { return false }
            if !same(value, other.value) { return false }
        }
        return true
    default: return false
    }
}
