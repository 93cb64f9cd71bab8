import Foundation

/// A value behind a lock that ThreadSanitizer can see, for tests that run code on many threads.
///
/// Why not `Synchronization.Mutex`: on Linux its lock lives in the toolchain's uninstrumented
/// `libswiftSynchronization` (a futex), so ThreadSanitizer sees the guarded accesses but not the
/// lock, and reports a race for every value a `Mutex` guards correctly (four threads adding under
/// one `Mutex` are enough). `NSLock` is a pthread mutex, which ThreadSanitizer intercepts.
public final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value

    /// Creates the lock around `value`.
    public init(_ value: Value) {
        self.value = value
    }

    /// Runs `body` with the value while holding the lock.
    public func withLock<Result>(_ body: (inout Value) throws -> Result) rethrows -> Result {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
