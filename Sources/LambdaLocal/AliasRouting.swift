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

    /// Checks the rules Lambda enforces on an alias, with the error codes and messages Lambda gives.
    ///
    /// `functionARN` is the unqualified ARN, for the not-found messages.
    public func validate(knownVersions: [String], functionARN: String = "function") throws(AliasRoutingError) {
        guard knownVersions.contains(primaryVersion) else {
            throw .notFound("Function not found: \(functionARN):\(primaryVersion)")
        }
        guard additionalVersionWeights.count <= 1 else {
            let listed = additionalVersionWeights.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", ")
            throw .validation(
                "1 validation error detected: Value '{\(listed)}' at 'routingConfig.additionalVersionWeights' failed to satisfy constraint: Member must have length less than or equal to 1")
        }
        for (version, weight) in additionalVersionWeights {
            guard weight >= 0, weight <= 1 else {
                throw .validation(
                    "1 validation error detected: Value '{\(version)=\(weight)}' at 'routingConfig.additionalVersionWeights' failed to satisfy constraint: Map value must satisfy constraint: [Member must have value less than or equal to 1.0, Member must have value greater than or equal to 0.0]")
            }
            guard version != "$LATEST", primaryVersion != "$LATEST" else {
                throw .invalidParameter("$LATEST is not supported for an alias pointing to more than 1 version")
            }
            guard version != primaryVersion else {
                throw .invalidParameter(
                    "Invalid function version \(version). Function version \(version) is already included in routing configuration.")
            }
            guard knownVersions.contains(version) else {
                throw .notFound("Function not found: \(functionARN):\(version)")
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

/// An alias setting Lambda would refuse, as the error Lambda answers.
public enum AliasRoutingError: Error, Equatable, CustomStringConvertible {
    /// `ValidationException` (400): the request breaks a constraint of the API's model.
    case validation(String)
    /// `InvalidParameterValueException` (400): the values contradict Lambda's rules.
    case invalidParameter(String)
    /// `ResourceNotFoundException` (404): a version that does not exist.
    case notFound(String)

    /// Lambda's error code.
    public var code: String {
        switch self {
        case .validation: "ValidationException"
        case .invalidParameter: "InvalidParameterValueException"
        case .notFound: "ResourceNotFoundException"
        }
    }

    /// The message.
    public var message: String {
        switch self {
        case .validation(let message), .invalidParameter(let message), .notFound(let message): message
        }
    }

    /// The code and the message.
    public var description: String { "\(code): \(message)" }
}
