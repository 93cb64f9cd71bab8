import LeanJSON

/// One Boolean flag as a flag document defines it.
public struct FlagDefinition: Sendable, Equatable {
    /// On at all.
    public var enabled: Bool
    /// Share of users on, 0–100; `nil` means everyone (when enabled).
    public var rolloutPercentage: Double?
    /// Salt of the sticky bucket; the flag key alone when absent.
    public var salt: String?
    /// Set when this flag's attributes cannot be evaluated (a percentage outside 0–100, a wrong type).
    public var problem: String?

    /// Creates a definition.
    public init(enabled: Bool, rolloutPercentage: Double? = nil, salt: String? = nil, problem: String? = nil) {
        self.enabled = enabled
        self.rolloutPercentage = rolloutPercentage
        self.salt = salt
        self.problem = problem
    }
}

/// A flag document, in either shape AppConfig hands out:
/// - feature flags (retrieval format): `{"enableNewProfileSchema":{"enabled":true,"rolloutPercentage":10,"salt":"…"}}`,
///   attributes absent when disabled;
/// - freeform: `{"enableNewProfileSchema": true}`.
public struct FlagDocument: Sendable, Equatable {
    /// The flags by key.
    public var flags: [String: FlagDefinition]

    /// Creates a document.
    public init(flags: [String: FlagDefinition]) {
        self.flags = flags
    }

    /// Parses a document; a document that is not a JSON object of flags is rejected as a whole.
    public init(parsing bytes: [UInt8]) throws(FlagDocumentError) {
        let json: JSON
        do {
            json = try JSON(parsing: bytes, maxDepth: 8)
        } catch {
            throw FlagDocumentError(reason: "not JSON: \(error)")
        }
        guard let members = json.objectValue else {
            throw FlagDocumentError(reason: "expected a JSON object of flags, got \(json.typeName)")
        }
        var flags: [String: FlagDefinition] = [:]
        for (key, value) in members {
            switch value {
            case .bool(let enabled):
                flags[key] = FlagDefinition(enabled: enabled)
            case .object(let attributes):
                guard let enabled = attributes["enabled"]?.boolValue else {
                    flags[key] = FlagDefinition(enabled: false, problem: "no boolean \"enabled\"")
                    continue
                }
                var definition = FlagDefinition(enabled: enabled)
                if let percentage = attributes["rolloutPercentage"], percentage != .null {
                    if let number = percentage.numberValue, (0...100).contains(number) {
                        definition.rolloutPercentage = number
                    } else {
                        definition.problem = "rolloutPercentage must be a number from 0 to 100, not \(percentage.text)"
                    }
                }
                if let salt = attributes["salt"], salt != .null {
                    if let text = salt.stringValue {
                        definition.salt = text
                    } else {
                        definition.problem = "salt must be a string"
                    }
                }
                flags[key] = definition
            default:
                // Other freeform settings live beside flags; they are not flags.
                continue
            }
        }
        self.flags = flags
    }
}

/// Why a document was refused (the last good one stays in use).
public struct FlagDocumentError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What is wrong.
    public let reason: String

    /// The reason.
    public var description: String { "flag document refused: \(reason)" }
}

extension FlagDocument {
    /// Evaluates `flag` for `userID`; `stale` turns SPLIT/STATIC/DISABLED into STALE.
    public func evaluate(_ flag: String, userID: String, stale: Bool = false) -> FlagEvaluation {
        guard let definition = flags[flag] else { return FlagEvaluation(value: false, reason: .defaultValue) }
        if definition.problem != nil { return FlagEvaluation(value: false, reason: .error) }
        let result: FlagEvaluation
        if !definition.enabled {
            result = FlagEvaluation(value: false, reason: .disabled)
        } else if let percentage = definition.rolloutPercentage, percentage < 100 {
            let bucket = RolloutBucket.bucket(flagKey: flag, salt: definition.salt ?? flag, userID: userID)
            result = FlagEvaluation(value: bucket < percentage / 100, reason: .split)
        } else {
            result = FlagEvaluation(value: true, reason: .staticValue)
        }
        return stale ? FlagEvaluation(value: result.value, reason: .stale) : result
    }
}
