import AWSClients
import LambdaCore
import Logging

/// Builds the flag evaluator the environment asks for:
///
/// | `FLAGS_SOURCE` | reads | also needs |
/// |---|---|---|
/// | unset or `none` | nothing: every flag off (`DEFAULT`) | |
/// | `file` | a JSON file, re-read every 2 s | `FLAGS_FILE` |
/// | `agent` | the AppConfig agent extension on `localhost:${AWS_APPCONFIG_EXTENSION_HTTP_PORT:-2772}` | `APPCONFIG_APPLICATION`, `APPCONFIG_ENVIRONMENT`, `APPCONFIG_PROFILE` |
/// | `appconfig` | AppConfigData directly (SigV4 `appconfig`; `AWS_ENDPOINT_URL_APPCONFIGDATA` overrides) | the same three, `AWS_REGION`, credentials |
///
/// With a source, `FLAGS_FIRST_LOAD_TIMEOUT_MS` (1 to 9,000; default 2,000) bounds the first load,
/// during init.
public enum FlagConfiguration {
    /// The longest first load `FLAGS_FIRST_LOAD_TIMEOUT_MS` may ask for: Lambda ends an init phase
    /// after 10 s.
    public static let maxFirstLoadMilliseconds = 9000

    /// The evaluator and, when it has a source, the cache to refresh after each response.
    public static func make(
        environment: ProcessEnvironment, logger: Logger
    ) throws(FlagConfigurationError) -> (evaluator: any FlagEvaluating, cache: FlagCache?) {
        func required(_ name: String) throws(FlagConfigurationError) -> String {
            guard let value = environment[name], !value.isEmpty else { throw .missing(name) }
            return value
        }
        let source: any FlagSource
        switch environment["FLAGS_SOURCE"] {
        case nil, "", "none":
            return (StaticFlags(), nil)
        case "file":
            source = FileFlagSource(path: try required("FLAGS_FILE"))
        case "agent":
            let port = Int(environment["AWS_APPCONFIG_EXTENSION_HTTP_PORT"] ?? "") ?? 2772
            do {
                source = try AgentFlagSource(
                    port: port, application: try required("APPCONFIG_APPLICATION"),
                    environment: try required("APPCONFIG_ENVIRONMENT"), profile: try required("APPCONFIG_PROFILE"))
            } catch let error as FlagConfigurationError {
                throw error
            } catch {
                throw .invalid("FLAGS_SOURCE", "agent: \(error)")
            }
        case "appconfig":
            let aws: AWSEnvironment
            do {
                aws = try AWSEnvironment { environment[$0] }
            } catch {
                throw .missing(error.variable)
            }
            source = AppConfigDataSource(
                application: try required("APPCONFIG_APPLICATION"), environment: try required("APPCONFIG_ENVIRONMENT"),
                profile: try required("APPCONFIG_PROFILE"), aws: aws,
                requestedPollInterval: Int(environment["APPCONFIG_POLL_INTERVAL_SECONDS"] ?? "") ?? 15)
        case let other?:
            throw .invalid("FLAGS_SOURCE", "\(other) is not one of none, file, agent, appconfig")
        }
        let cache = FlagCache(
            source: source, logger: logger,
            firstLoadTimeout: try firstLoadTimeout(environment["FLAGS_FIRST_LOAD_TIMEOUT_MS"]))
        return (cache, cache)
    }

    /// Parses `FLAGS_FIRST_LOAD_TIMEOUT_MS`: unset or empty is the default; anything but a whole
    /// number of milliseconds from 1 to ``maxFirstLoadMilliseconds`` is refused, not guessed at.
    static func firstLoadTimeout(_ value: String?) throws(FlagConfigurationError) -> Duration {
        guard let value, !value.isEmpty else { return FlagCache.defaultFirstLoadTimeout }
        guard let milliseconds = Int(value), milliseconds >= 1, milliseconds <= maxFirstLoadMilliseconds else {
            throw .invalid(
                "FLAGS_FIRST_LOAD_TIMEOUT_MS", "\(value) is not a whole number of milliseconds from 1 to \(maxFirstLoadMilliseconds)")
        }
        return .milliseconds(milliseconds)
    }
}

/// A flag setting is missing or wrong: an init error naming the variable.
public enum FlagConfigurationError: LambdaFunctionError, Sendable, Equatable, CustomStringConvertible {
    /// The variable must be set.
    case missing(String)
    /// The variable's value is unusable.
    case invalid(String, String)

    /// `Runtime.ConfigInvalid`
    public var errorType: String { "Runtime.ConfigInvalid" }

    /// What to fix.
    public var errorMessage: String { description }

    /// What to fix.
    public var description: String {
        switch self {
        case .missing(let name): "\(name) is not set (needed by FLAGS_SOURCE)"
        case .invalid(let name, let reason): "\(name): \(reason)"
        }
    }
}
