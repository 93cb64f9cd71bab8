/// A function's code: takes the event bytes, returns the response bytes or throws.
///
/// The runtime makes one handler per sandbox (in the closure given to
/// ``LambdaRuntime/run(makeHandler:)-4ksff``) and calls ``handle(_:context:)`` for every invocation,
/// one at a time, so a handler may keep state between invocations (a client, a cache) in its
/// properties.
///
/// ```swift
/// struct Greeter: LambdaHandler {
///     func handle(_ event: [UInt8], context: LambdaContext) async throws -> [UInt8] {
///         Array("hello from \(context.function.name)".utf8)
///     }
/// }
/// ```
///
/// A thrown error becomes an invocation error (`POST …/error`); its `errorType` is the error's type
/// name unless the error conforms to `LambdaFunctionError` and chooses one. To serve several
/// invocations at once (Lambda Managed Instances) adopt ``ConcurrentLambdaHandler``; to stream the
/// response, ``StreamingLambdaHandler``.
public protocol LambdaHandler {
    /// Serves one invocation: `event` is the invocation's payload exactly as Lambda sent it (usually
    /// JSON); the result is the response payload, at most ``LambdaRuntime/maxResponseSize`` bytes
    /// (a larger one is reported as `Function.ResponseSizeTooLarge` instead). A throw is the
    /// invocation's error (see ``LambdaErrorReport/init(_:)``).
    mutating func handle(_ event: [UInt8], context: LambdaContext) async throws -> [UInt8]

    /// Runs after the result of an invocation has been posted, before the runtime asks for the next
    /// one: work that must not add to the caller's latency (refreshing caches, flushing metrics).
    mutating func afterResponse(context: LambdaContext) async
}

extension LambdaHandler {
    /// Does nothing.
    public mutating func afterResponse(context: LambdaContext) async {}
}

/// A handler that can serve several invocations at once (Lambda Managed Instances,
/// `AWS_LAMBDA_MAX_CONCURRENCY` ≥ 2).
///
/// What that asks of a handler: it is `Sendable`, because one value made at init is handed to every
/// loop; each loop serves invocations with its own copy, so what `handle` and `afterResponse` mutate
/// is that loop's copy and never shared across loops. State every loop must see (caches, stores,
/// connection pools) lives behind a `Sendable` reference that synchronizes itself (a `Mutex`, an
/// actor, a pool that hands each caller its own connection). A loop's thread may block (libcurl),
/// so a handler never waits for another loop's invocation to finish.
public protocol ConcurrentLambdaHandler: LambdaHandler, Sendable {}
