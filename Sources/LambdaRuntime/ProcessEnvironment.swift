#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Read access to environment variables: the live process environment, or a fixed set for tests.
public struct ProcessEnvironment: Sendable {
    private let overrides: [String: String]?

    /// The live environment of this process.
    public static var current: ProcessEnvironment { ProcessEnvironment(overrides: nil) }

    /// A fixed environment, for tests and embedding.
    public init(_ values: [String: String]) {
        self.overrides = values
    }

    private init(overrides: [String: String]?) {
        self.overrides = overrides
    }

    /// The value of `name`, or `nil` when unset.
    public subscript(name: String) -> String? {
        if let overrides { return overrides[name] }
        guard let value = getenv(name) else { return nil }
        return String(cString: value)
    }
}

/// Sets `_X_AMZN_TRACE_ID` for the invocation being served, as custom runtimes must, and removes it
/// when an invocation has no trace header (so a stale id never leaks into the next one).
enum TraceEnvironment {
    static let variable = "_X_AMZN_TRACE_ID"

    static func set(_ traceID: String?) {
        if let traceID {
            setenv(variable, traceID, 1)
        } else {
            unsetenv(variable)
        }
    }
}
