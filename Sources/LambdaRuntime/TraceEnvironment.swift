#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// `_X_AMZN_TRACE_ID` for the invocation being served, as custom runtimes must set it, kept in the
/// process environment without allocating anything per invocation.
///
/// Why not `setenv`: glibc's `setenv` copies `NAME=value` into a new heap string and never frees the
/// string it replaces (a caller may still hold the pointer `getenv` returned; glibc also remembers
/// every string it made, in a search tree). Lambda sends a new trace id with every invocation, traced
/// or not, so one `setenv` per invocation grew the process by about 140 bytes each time: 140 MB per
/// million invocations, enough to end a warm 128 MB sandbox with `Runtime.OutOfMemory` (issue 11).
///
/// What instead: two buffers owned here, each `_X_AMZN_TRACE_ID=` followed by room for the value. An
/// invocation's id is written into the buffer that is not in the environment, and that buffer is
/// handed to `putenv`, which installs the pointer itself (no copy): replacing the entry rewrites one
/// pointer in `environ` (after the first, the runtime rewrites that pointer itself, found by address). When an invocation has no trace id the entry is removed with `unsetenv` (a
/// stale id must never reach the next invocation); putting it back later re-uses the slot glibc's
/// `environ` array already has (a `realloc` to the size it had). So nothing grows, whatever the
/// mix of ids. The buffer in the environment is never written, so `getenv` on another thread sees
/// the old value or the new one, never a torn one; a pointer `getenv` returned stays valid until the
/// invocation after next reuses its buffer (or, for an over-long id, replaces it).
///
/// Size: each buffer holds a value of up to 8,192 bytes, the length Lambda allows for an
/// `X-Amzn-Trace-Id` (`TraceHeader.XAmznTraceId`: 0–8192); real ones are about 100 bytes
/// (`Root=1-…;Parent=…;Sampled=1;Lineage=…`), and only the touched page becomes resident. A longer
/// value, which only a non-Lambda Runtime API could send, is still stored whole, never truncated: the
/// spare buffer (not in the environment) is replaced by one of the next power of two that fits. Each
/// buffer grows at most to twice the longest id ever seen, once, not per invocation.
///
/// One loop only: the environment is per process, so it can describe the invocation being served
/// only while the process serves one at a time. `LambdaRuntime.run` owns the one instance (it is
/// `~Copyable`); a mode with concurrent invocations in one process (Lambda Managed Instances) must not
/// create one, and hands the trace id to handlers only through `LambdaContext.traceID`.
struct TraceEnvironment: ~Copyable {
    /// The variable's name.
    static let variable = "_X_AMZN_TRACE_ID"
    /// The longest value the buffers take before one has to grow: Lambda's limit for a trace header.
    static let defaultValueCapacity = 8192

    /// One `NAME=value\0` string that `putenv` can install.
    struct Buffer {
        /// The whole entry, `_X_AMZN_TRACE_ID=value`, NUL-terminated.
        let entry: UnsafeMutablePointer<CChar>
        /// Where the value starts (what `getenv` returns while this buffer is installed).
        let value: UnsafeMutablePointer<CChar>
        /// The longest value that fits, without its NUL.
        let valueCapacity: Int
        /// How many bytes the last ``write(_:)`` wrote (0 before the first).
        private(set) var count = 0

        init(valueCapacity: Int) {
            let name = TraceEnvironment.variable.utf8
            entry = .allocate(capacity: name.count + 1 + valueCapacity + 1)
            value = entry + name.count + 1
            self.valueCapacity = valueCapacity
            for (offset, byte) in name.enumerated() {
                entry[offset] = CChar(bitPattern: byte)
            }
            entry[name.count] = CChar(bitPattern: UInt8(ascii: "="))
            value[0] = 0
        }

        /// Copies `bytes` in as the value; the caller makes sure they fit.
        mutating func write(_ bytes: UnsafeBufferPointer<UInt8>) {
            count = bytes.count
            if let base = bytes.baseAddress, bytes.count > 0 {
                UnsafeMutableRawPointer(value).copyMemory(from: base, byteCount: bytes.count)
            }
            value[bytes.count] = 0
        }

        /// Whether the last ``write(_:)`` wrote exactly `bytes`.
        func holds(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
            guard bytes.count == count else { return false }
            guard let base = bytes.baseAddress, count > 0 else { return true }
            return memcmp(value, base, count) == 0
        }

        func deallocate() {
            entry.deallocate()
        }
    }

    /// The buffer handed to `putenv` last (in the environment unless the id was removed since).
    private(set) var installed: Buffer
    /// The other buffer: never in the environment, written by the next `set`.
    private(set) var spare: Buffer

    /// Allocates both buffers; the environment is not touched until the first `set`.
    init(valueCapacity: Int = TraceEnvironment.defaultValueCapacity) {
        installed = Buffer(valueCapacity: valueCapacity)
        spare = Buffer(valueCapacity: valueCapacity)
    }

    /// Makes `_X_AMZN_TRACE_ID` read `traceID`, or removes it when `traceID` is `nil`.
    ///
    /// Touches `environ` only when the value changes: an absent id that is already absent, or the id
    /// the installed buffer already shows (and the environment still points at), costs a `getenv`
    /// instead of `unsetenv`'s or `putenv`'s locked walk over every entry with `strncmp` (1,000
    /// instructions an invocation). Whoever set or removed the variable since is still overruled.
    mutating func set(_ traceID: String?) {
        guard var traceID else {
            if getenv(Self.variable) != nil { remove() }
            return
        }
        let unchanged = traceID.withUTF8 { bytes in installed.holds(bytes) }
        if unchanged, getenv(Self.variable) == installed.value { return }
        var buffer = spare
        traceID.withUTF8 { bytes in
            if bytes.count > buffer.valueCapacity {
                let smaller = buffer
                buffer = Buffer(valueCapacity: Self.capacity(toFit: bytes.count))
                smaller.deallocate()
            }
            buffer.write(bytes)
        }
        if let slot = Self.slot(holding: installed.entry) {
            // The entry is ours: point its slot at the other buffer, as `putenv` would, without
            // its locked walk comparing every entry's name (1,000 instructions an invocation).
            slot.pointee = buffer.entry
            spare = installed
            installed = buffer
        } else if putenv(buffer.entry) == 0 {
            spare = installed
            installed = buffer
        } else {
            // `environ` could not grow (ENOMEM): no trace id is better than the previous invocation's.
            spare = buffer
            remove()
        }
    }

    /// The `environ` slot that points at `entry`, if one does: a walk comparing pointers, not names.
    ///
    /// Writing the slot is what `putenv` does once it has found it (one aligned pointer store, which
    /// `getenv` on another thread sees whole). Like `putenv`, it must not race a `setenv` or
    /// `putenv` on another thread, which may move `environ` (glibc's environment functions are
    /// not safe to call concurrently with each other anyway).
    static func slot(holding entry: UnsafeMutablePointer<CChar>) -> UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? {
        let array: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = environ
        guard var slot = array else { return nil }
        while let current = slot.pointee {
            if current == entry { return slot }
            slot += 1
        }
        return nil
    }

    /// Removes `_X_AMZN_TRACE_ID` from the environment (whoever set it).
    func remove() {
        unsetenv(Self.variable)
    }

    /// Whether the environment's `_X_AMZN_TRACE_ID` is one of these buffers.
    var ownsEnvironmentEntry: Bool {
        guard let current = getenv(Self.variable) else { return false }
        return current == installed.value || current == spare.value
    }

    /// The smallest power of two that holds `count` bytes.
    static func capacity(toFit count: Int) -> Int {
        count <= 1 ? 1 : 1 << (Int.bitWidth - (count - 1).leadingZeroBitCount)
    }

    deinit {
        // Never leave `environ` pointing at freed memory.
        if ownsEnvironmentEntry {
            unsetenv(Self.variable)
        }
        installed.deallocate()
        spare.deallocate()
    }
}
