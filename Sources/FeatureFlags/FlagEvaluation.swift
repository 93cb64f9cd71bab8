/// Why a flag evaluated the way it did; goes into the log line of every request that asked.
public enum FlagReason: String, Sendable, Equatable {
    /// A fixed value (a static source, or a flag without a percentage).
    case staticValue = "STATIC"
    /// The flag was never fetched: its default (`false`).
    case defaultValue = "DEFAULT"
    /// On or off by the user's bucket in a percentage rollout.
    case split = "SPLIT"
    /// The flag exists and is disabled.
    case disabled = "DISABLED"
    /// From the last good document, because the latest refresh failed.
    case stale = "STALE"
    /// The document had this flag in a shape that cannot be evaluated.
    case error = "ERROR"
}

/// The value of a Boolean flag for one user, and why.
public struct FlagEvaluation: Sendable, Equatable {
    /// On or off.
    public var value: Bool
    /// Why.
    public var reason: FlagReason

    /// Creates an evaluation.
    public init(value: Bool, reason: FlagReason) {
        self.value = value
        self.reason = reason
    }
}

/// Evaluates Boolean flags for a user, from memory: never a network call, never throws.
public protocol FlagEvaluating: Sendable {
    /// The value of `flag` for `userID`.
    func evaluate(_ flag: String, userID: String) -> FlagEvaluation

    /// What the source is and how fresh it is, for `GET /health`.
    var sourceState: String { get }

    /// Whether evaluations are served from a document whose latest refresh failed (`STALE`).
    var isStale: Bool { get }
}

extension FlagEvaluating {
    /// Never stale: sources without a cache.
    public var isStale: Bool { false }
}

/// Flags with fixed values, for tests and for running without a flag store.
public struct StaticFlags: FlagEvaluating {
    /// The values; flags not listed are off (`DEFAULT`).
    public var values: [String: Bool]

    /// Creates a source with fixed values.
    public init(_ values: [String: Bool] = [:]) {
        self.values = values
    }

    /// The fixed value, or `false` with reason `DEFAULT`.
    public func evaluate(_ flag: String, userID: String) -> FlagEvaluation {
        guard let value = values[flag] else { return FlagEvaluation(value: false, reason: .defaultValue) }
        return FlagEvaluation(value: value, reason: .staticValue)
    }

    /// `static`.
    public var sourceState: String { "static" }
}
