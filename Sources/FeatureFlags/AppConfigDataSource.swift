import AWSClients
import CurlHTTP
import LambdaCore
import LeanJSON
import Synchronization

/// AWS AppConfigData, called directly (`FLAGS_SOURCE=appconfig`): `StartConfigurationSession`, then
/// `GetLatestConfiguration` with the token each answer hands back. An empty body means unchanged; an
/// expired or corrupted token starts a new session; `PollIntervalNotSatisfied` backs off.
public final class AppConfigDataSource: FlagSource {
    /// Application, environment and profile (names or ids).
    public let application: String, environment: String, profile: String
    /// The poll interval asked for at session start (15–86400 s).
    public let requestedPollInterval: Int
    private let client: AWSJSONClient
    private let token = Mutex<String?>(nil)

    /// Creates a source; no call is made until the first fetch.
    public init(application: String, environment: String, profile: String, aws: AWSEnvironment, requestedPollInterval: Int = 15) {
        self.application = application
        self.environment = environment
        self.profile = profile
        self.requestedPollInterval = min(86_400, max(15, requestedPollInterval))
        client = AWSJSONClient(
            environment: aws, serviceID: "APPCONFIGDATA", hostPrefix: "appconfigdata", signingName: "appconfig",
            retryPolicy: .init(maxAttempts: 1), requestTimeout: .seconds(2))
    }

    /// `appconfig:APP/ENV/PROFILE`
    public var name: String { "appconfig:\(application)/\(environment)/\(profile)" }

    /// One poll: a session first if there is no token.
    public func fetch(timeout: Duration) async throws(FlagSourceError) -> FlagFetch {
        // One budget for both calls (session and configuration): a deadline, not a timeout per call.
        let deadline = LambdaDeadline(after: timeout)
        var current = token.withLock { $0 }
        if current == nil {
            current = try await startSession(deadline: deadline)
        }
        guard let current else { throw FlagSourceError("no configuration token") }
        let response: HTTPResponse
        do {
            response = try await client.send(
                method: .get, path: "/configuration?configuration_token=\(current.percentEncodedUnreserved)", deadline: deadline)
        } catch {
            if error.invalidParameterProblems.contains(where: { $0.utf8.elementsEqual("PollIntervalNotSatisfied".utf8) }) {
                throw FlagSourceError("AppConfigData: polled too early", retryAfter: .seconds(Int64(requestedPollInterval)))
            }
            if error.kind == .rejected {
                // The token is unusable (Expired, Corrupted, already used; emulators and some answers say so
                // only in prose): a new session is cheap and always allowed, so it starts at the next poll.
                token.withLock { $0 = nil }
                throw FlagSourceError("AppConfigData rejected the configuration token (\(error)); a new session starts next poll",
                                      retryAfter: .zero)
            }
            throw FlagSourceError("AppConfigData GetLatestConfiguration: \(error)", retryAfter: .seconds(5))
        }
        let next = response.headers["Next-Poll-Configuration-Token"]
        token.withLock { $0 = next }
        let interval = response.headers["Next-Poll-Interval-In-Seconds"].flatMap { Int64($0) } ?? Int64(requestedPollInterval)
        if response.body.isEmpty {
            return .unchanged(nextPollAfter: .seconds(interval))
        }
        return .document(response.body, nextPollAfter: .seconds(interval))
    }

    private func startSession(deadline: LambdaDeadline) async throws(FlagSourceError) -> String {
        let body: JSON = [
            "ApplicationIdentifier": .string(application), "EnvironmentIdentifier": .string(environment),
            "ConfigurationProfileIdentifier": .string(profile),
            "RequiredMinimumPollIntervalInSeconds": .number(Double(requestedPollInterval)),
        ]
        do {
            let response = try await client.send(
                method: .post, path: "/configurationsessions", body: body.bytes,
                headers: ["Content-Type": "application/json"], deadline: deadline)
            guard let initial = (try? JSON(parsing: response.body))?["InitialConfigurationToken"]?.stringValue else {
                throw FlagSourceError("StartConfigurationSession returned no token")
            }
            token.withLock { $0 = initial }
            return initial
        } catch let error as FlagSourceError {
            throw error
        } catch {
            throw FlagSourceError("AppConfigData StartConfigurationSession: \(error)", retryAfter: .seconds(5))
        }
    }
}
