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
