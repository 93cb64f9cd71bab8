/// A Lambda alias: a primary version plus at most one additional version with a weight, as
/// `UpdateAlias --routing-config AdditionalVersionWeights` sets it.
public struct AliasRouting: Sendable, Equatable {
    /// The alias name (front-door invocations go through it).
    public var name: String
    /// The version that serves whatever the additional version does not.
    public var primaryVersion: String
    /// The additional version and the share (0…1) of invocations it serves.
    public var additionalVersionWeights: [String: Double]

    /// Creates an alias.
    public init(name: String, primaryVersion: String, additionalVersionWeights: [String: Double] = [:]) {
        self.name = name
        self.primaryVersion = primaryVersion
        self.additionalVersionWeights = additionalVersionWeights
    }

    /// Checks the rules Lambda enforces on an alias, with the messages Lambda gives.
    public func validate(knownVersions: [String]) throws(AliasRoutingError) {
        guard knownVersions.contains(primaryVersion) else {
            throw .invalid("Function not found: version \(primaryVersion) does not exist (ResourceNotFoundException)")
        }
        guard additionalVersionWeights.count <= 1 else {
            throw .invalid(
                "1 validation error detected: Value at 'routingConfig.additionalVersionWeights' failed to satisfy constraint: Member must have length less than or equal to 1")
        }
        for (version, weight) in additionalVersionWeights {
            guard weight >= 0, weight <= 1 else {
                throw .invalid(
                    "1 validation error detected: Value '\(weight)' at 'routingConfig.additionalVersionWeights' failed to satisfy constraint: Member must have value less than or equal to 1.0 and greater than or equal to 0.0")
            }
            guard version != "$LATEST", primaryVersion != "$LATEST" else {
                throw .invalid(
                    "Alias with weights can not be used with $LATEST as a version. Publish a version and use it instead (InvalidParameterValueException)")
            }
            guard version != primaryVersion else {
                throw .invalid(
                    "Invalid function version \(version). Function version \(version) is already included in routing configuration. (InvalidParameterValueException)")
            }
            guard knownVersions.contains(version) else {
                throw .invalid("Function not found: version \(version) does not exist (ResourceNotFoundException)")
            }
        }
    }

    /// Picks the version for one invocation from a uniform random number in 0..<1.
    public func pickVersion(random: Double) -> String {
        if let (version, weight) = additionalVersionWeights.first, random < weight {
            return version
        }
        return primaryVersion
    }
}

/// An alias setting Lambda would refuse.
public enum AliasRoutingError: Error, Equatable, CustomStringConvertible {
    /// The message Lambda gives.
    case invalid(String)

    /// The message.
    public var description: String {
        switch self {
        case .invalid(let message): message
        }
    }
}
