import AWSClients
import FeatureFlags
import LambdaRuntime
import LeanJSON
import Logging

/// The `profile` handler: API Gateway event in, API Gateway result out, one access-log line per request.
///
/// Safe to serve several invocations at once: the API, the stores, the flag cache and the metrics are
/// `Sendable` and synchronize themselves (the in-memory store and the flag cache under a `Mutex`, the
/// DynamoDB store through a pool that lends each call its own libcurl handle); the flag refresh after a
/// response is done by one loop at a time, the others return at once.
public struct ProfileHandler: ConcurrentLambdaHandler {
    /// The API it serves.
    public let api: ProfileAPI
    /// The flag cache refreshed after each response, when flags come from a source.
    public let flagCache: FlagCache?
    /// The per-request EMF metrics line, unless `METRICS=off`.
    public let metrics: ServiceMetrics?

    /// Creates the handler around an API.
    public init(api: ProfileAPI, flagCache: FlagCache? = nil, metrics: ServiceMetrics? = nil) {
        self.api = api
        self.flagCache = flagCache
        self.metrics = metrics
    }

    /// Builds the handler from the environment (`PROFILE_STORE`, `FLAGS_SOURCE`…) and loads the flags
    /// once, waiting at most about a second for them.
    public static func make(context: LambdaInitContext) async throws -> ProfileHandler {
        let (flags, cache) = try FlagConfiguration.make(environment: context.environment, logger: context.logger)
        await cache?.load()
        return try ProfileHandler(context: context, flags: flags, flagCache: cache)
    }

    /// Refreshes the flags when their poll interval has passed, off the caller's latency.
    public func afterResponse(context: LambdaContext) async {
        await flagCache?.refreshIfDue()
    }

    /// Builds the handler from the environment: `PROFILE_STORE=memory`, or `dynamodb` with
    /// `PROFILE_TABLE`, `AWS_REGION` and credentials (endpoint override `AWS_ENDPOINT_URL_DYNAMODB`);
    /// metrics from `METRICS`, `METRICS_NAMESPACE` and `METRICS_SERVICE`.
    public init(
        context: LambdaInitContext, flags: any FlagEvaluating, flagCache: FlagCache? = nil
    ) throws(ProfileConfigurationError) {
        let environment = context.environment
        let store: any ProfileStore
        switch environment["PROFILE_STORE"] {
        case "memory":
            store = InMemoryProfileStore()
        case "dynamodb":
            guard let table = environment["PROFILE_TABLE"], !table.isEmpty else {
                throw ProfileConfigurationError(variable: "PROFILE_TABLE", value: nil, expected: "the DynamoDB table name")
            }
            do {
                store = DynamoDBProfileStore(table: table, environment: try AWSEnvironment { environment[$0] })
            } catch {
                throw ProfileConfigurationError(variable: error.variable, value: nil, expected: "the value Lambda sets")
            }
        case let other:
            throw ProfileConfigurationError(variable: "PROFILE_STORE", value: other, expected: "memory or dynamodb")
        }
        let metrics = try ServiceMetrics.Configuration(environment: environment, function: context.function)
            .map { ServiceMetrics(configuration: $0) }
        self.init(
            api: ProfileAPI(store: store, flags: flags, functionVersion: context.function.version), flagCache: flagCache,
            metrics: metrics)
    }

    /// Serves one event: the response, one access-log line and one EMF metrics line.
    public func handle(_ event: [UInt8], context: LambdaContext) async throws -> [UInt8] {
        let started = ContinuousClock.now
        let request = try APIRequest(event: event)
        let outcome = await api.respond(to: request, deadline: context.deadline, logger: context.logger)
        let response = outcome.response.encoded(for: request.format)
        metrics?.record(ServiceMetrics.Sample(
            route: outcome.route, status: outcome.response.status, latency: ContinuousClock.now - started,
            schemaV2: outcome.schema == .v2, flagsStale: api.flags.isStale, requestID: context.requestID,
            traceID: context.traceID, tenantID: context.tenantID, timestamp: WallClock.now()))
        var metadata: Logger.Metadata = [
            "method": .string(request.method), "path": .string(request.rawPath),
            "status": .stringConvertible(outcome.response.status),
        ]
        if let schema = outcome.schema { metadata["schema"] = .stringConvertible(schema.rawValue) }
        if let flag = outcome.flag {
            metadata["flag"] = .string(ProfileAPI.schemaFlag)
            metadata["flagReason"] = .string(flag.reason.rawValue)
        }
        context.logger.info("request", metadata: metadata)
        return response
    }
}

/// A setting the profile handler needs is missing or wrong: an init error naming the variable.
public typealias ProfileConfigurationError = LambdaConfigurationError
