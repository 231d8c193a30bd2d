import CXXHash

/// An XXH3-128 fingerprint: a fast check that content did not change, never an identity.
public struct XXH128: Sendable, Hashable {
    public var low: UInt64
    public var high: UInt64

    public init(low: UInt64, high: UInt64) {
        self.low = low
        self.high = high
    }
}

/// Incremental XXH3-128 using the runtime-dispatched (AVX2 where present) kernels.
public final class XXH128Hasher {
    private let state: OpaquePointer

    public init() {
        state = XXH3_createState()
        XXH3_128bits_reset(state)
    }

    deinit { XXH3_freeState(state) }

    public func update(_ pointer: UnsafeRawPointer, count: Int) {
        _ = XXH3_128bits_update_dispatch(state, pointer, count)
    }

    public func finish() -> XXH128 {
        let h = XXH3_128bits_digest(state)
        XXH3_128bits_reset(state)
        return XXH128(low: h.low64, high: h.high64)
    }
}
