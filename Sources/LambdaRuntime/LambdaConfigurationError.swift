/// A setting a handler needs is missing or wrong: reported as the init error `Runtime.ConfigInvalid`,
/// naming the variable, what it was and what would be valid.
public struct LambdaConfigurationError: LambdaFunctionError, Equatable {
    /// The environment variable.
    public let variable: String
    /// Its value, if set.
    public let value: String?
    /// What would be valid.
    public let expected: String

    /// Creates the error.
    public init(variable: String, value: String?, expected: String) {
        self.variable = variable
        self.value = value
        self.expected = expected
    }

    /// `Runtime.ConfigInvalid`
    public var errorType: String { "Runtime.ConfigInvalid" }

    /// Which variable, what it was, what it may be.
    public var errorMessage: String {
        guard let value, !value.isEmpty else { return "\(variable) is not set; set it to \(expected)" }
        return "\(variable)=\(value) is not valid; use \(expected)"
    }
}
