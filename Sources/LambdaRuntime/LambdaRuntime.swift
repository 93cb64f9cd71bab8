#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import CurlHTTP
import Logging
import Synchronization

/// The Lambda custom-runtime loop: initialize once, then `/next` → handler → `/response` or
/// `/error` → after-response hook, for as long as the sandbox lives.
///
/// A function's executable makes one from the environment Lambda sets and hands it the handler:
///
/// ```swift
/// let configuration = try LambdaRuntime.Configuration(environment: .current)
/// let reason = await LambdaRuntime(configuration: configuration).run { _ in Greeter() }
/// exit(reason.exitCode)
/// ```
///
/// ``run(makeHandler:)-4ksff`` serves a ``LambdaHandler``, ``run(makeHandler:)-4xmfa`` a
/// ``StreamingLambdaHandler``, one invocation at a time; ``runConcurrently(makeHandler:)-7n2df``
/// serves up to ``Configuration/maxConcurrency`` at once (Lambda Managed Instances). None returns
/// while the sandbox lives: the ``RuntimeExit`` they return says why the loop could not go on.
public struct LambdaRuntime: Sendable {
    /// Lambda's limit for a buffered response: 6 MB (6,291,456 bytes).
    public static let maxResponseSize = RuntimeAPIStatus.maxBufferedResponseBytes
    /// The most loops `AWS_LAMBDA_MAX_CONCURRENCY` may ask for (each is a thread and a connection).
    public static let maxLoops = 1024

    /// Everything the loop needs to know, usually read from the environment.
    public struct Configuration: Sendable {
        /// Where the Runtime API is.
        public var endpoint: RuntimeAPIEndpoint
        /// The function this sandbox runs.
        public var function: FunctionMetadata
        /// Log format and level.
        public var logging: LambdaLogConfiguration
        /// Retry behaviour of `/next`.
        public var retryPolicy: RetryPolicy
        /// Responses larger than this are reported as `Function.ResponseSizeTooLarge` without being sent.
        public var maxResponseSize: Int
        /// The environment handlers are initialized with.
        public var environment: ProcessEnvironment
        /// `AWS_LAMBDA_MAX_CONCURRENCY`: how many invocations a ``ConcurrentLambdaHandler`` serves at
        /// once (Lambda Managed Instances). 1, the default, is the classic single loop.
        public var maxConcurrency: Int

        /// Creates a configuration. With `maxConcurrency` ≥ 2 the log format is JSON whatever
        /// `logging` says: text lines of overlapping invocations cannot be told apart.
        public init(
            endpoint: RuntimeAPIEndpoint,
            function: FunctionMetadata,
            logging: LambdaLogConfiguration = LambdaLogConfiguration(),
            retryPolicy: RetryPolicy = RetryPolicy(),
            maxResponseSize: Int = LambdaRuntime.maxResponseSize,
            environment: ProcessEnvironment = .current,
            maxConcurrency: Int = 1
        ) {
            self.endpoint = endpoint
            self.function = function
            self.logging = logging
            self.retryPolicy = retryPolicy
            self.maxResponseSize = maxResponseSize
            self.environment = environment
            self.maxConcurrency = max(1, min(maxConcurrency, LambdaRuntime.maxLoops))
            if self.maxConcurrency > 1 {
                self.logging.format = .json
            }
        }

        /// Reads `AWS_LAMBDA_RUNTIME_API`, the function metadata, the logging variables and
        /// `AWS_LAMBDA_MAX_CONCURRENCY`.
        public init(environment: ProcessEnvironment) throws(RuntimeConfigurationError) {
            guard let api = environment["AWS_LAMBDA_RUNTIME_API"].nonEmpty else {
                throw .runtimeAPINotSet
            }
            self.init(
                endpoint: try RuntimeAPIEndpoint(api),
                function: FunctionMetadata(environment: environment),
                logging: LambdaLogConfiguration(environment: environment),
                environment: environment,
                maxConcurrency: try Self.maxConcurrency(environment["AWS_LAMBDA_MAX_CONCURRENCY"]))
        }

        /// Parses `AWS_LAMBDA_MAX_CONCURRENCY`: unset or empty is 1; anything but a whole number
        /// from 1 to ``LambdaRuntime/maxLoops`` is refused rather than guessed at.
        static func maxConcurrency(_ value: String?) throws(RuntimeConfigurationError) -> Int {
            guard let value, !value.isEmpty else { return 1 }
            guard let loops = Int(Substring(value).trimmingASCIIWhitespace()), loops >= 1, loops <= LambdaRuntime.maxLoops else {
                throw .invalidMaxConcurrency(value)
            }
            return loops
        }
    }

    /// The configuration the loop runs with.
    public let configuration: Configuration
    /// The runtime's own logger.
    public let logger: Logger

    /// Creates a runtime; `logger` defaults to one built from the configuration's log settings.
    public init(configuration: Configuration, logger: Logger? = nil) {
        self.configuration = configuration
        self.logger = logger ?? configuration.logging.makeLogger(label: "LambdaRuntime")
    }

    /// Initializes the handler with `makeHandler`, then serves invocations until the sandbox ends.
    ///
    /// A failing `makeHandler` is reported to `/init/error`. The loop only returns when it cannot go
    /// on; the reason tells the process which non-zero status to exit with.
    public func run<Handler: LambdaHandler>(
        makeHandler: @Sendable (LambdaInitContext) async throws -> Handler
    ) async -> RuntimeExit {
        await runSingleLoop(BufferedServing<Handler>.self, makeHandler: makeHandler)
    }

    /// Initializes the streaming handler with `makeHandler`, then serves invocations until the
    /// sandbox ends, streaming every response (see ``StreamingLambdaHandler``).
    public func run<Handler: StreamingLambdaHandler>(
        makeHandler: @Sendable (LambdaInitContext) async throws -> Handler
    ) async -> RuntimeExit {
        await runSingleLoop(StreamedServing<Handler>.self, makeHandler: makeHandler)
    }

    /// The single loop, for a handler of either kind.
    func runSingleLoop<Serving: InvocationServing>(
        _ kind: Serving.Type, makeHandler: @Sendable (LambdaInitContext) async throws -> Serving.Handler
    ) async -> RuntimeExit {
        Self.exitOnSIGTERM(logFormat: configuration.logging.format)
        if configuration.maxConcurrency > 1 {
            logger.warning(
                "AWS_LAMBDA_MAX_CONCURRENCY=\(configuration.maxConcurrency), but this handler is not a \(Serving.concurrentProtocolName): serving one invocation at a time")
        }
        let client: RuntimeClient
        var handler: Serving
        do {
            let (madeClient, made) = try await initialize(makeHandler: makeHandler)
            (client, handler) = (madeClient, Serving(handler: made))
        } catch {
            return error.exit
        }

        // This loop serves one invocation at a time, so the process environment can carry the
        // current trace id; it owns the only `TraceEnvironment` (see there: no `setenv`, nothing
        // allocated per invocation). A concurrent mode (Managed Instances) must not make one.
        var traceEnvironment = TraceEnvironment()
        while true {
            let invocation: Invocation
            do {
                invocation = try client.nextInvocation()
            } catch {
                logger.critical("stopping: \(error)")
                return error.exit
            }
            traceEnvironment.set(invocation.traceID)
            if let exit = await handler.serve(invocation, runtime: self, client: client, logger: logger) {
                return exit
            }
        }
    }

    /// Serves one invocation and posts its result; returns a reason to stop, or `nil` to go on.
    /// `logger` is the one the invocation's context logger is made from.
    func serve<Handler: LambdaHandler>(
        _ invocation: Invocation, with handler: inout Handler, client: RuntimeClient, logger: Logger
    ) async -> RuntimeExit? {
        let context = LambdaContext(invocation: invocation, function: configuration.function, logger: logger)
        if logger.logLevel <= .trace {
            // Not otherwise: the context makes its logger at the first use.
            context.logger.trace("invocation", metadata: ["bytes": "\(invocation.event.count)"])
        }

        let result: Result<[UInt8], LambdaErrorReport>
        do {
            let response = try await handler.handle(invocation.event, context: context)
            if response.count > configuration.maxResponseSize {
                result = .failure(Self.responseTooLarge(size: response.count, limit: configuration.maxResponseSize))
            } else {
                result = .success(response)
            }
        } catch {
            result = .failure(LambdaErrorReport(error))
        }

        do {
            switch result {
            case .success(let response):
                let outcome = try client.postResponse(response, for: invocation.requestID, invocationID: invocation.invocationID)
                switch outcome {
                case .accepted:
                    break
                case .payloadTooLarge(let body):
                    context.logger.error(
                        "the Runtime API refused the response as too large (413): \(body)",
                        metadata: ["bytes": "\(response.count)"])
                    let report = Self.responseTooLarge(size: response.count, limit: configuration.maxResponseSize)
                    try logRefusal(
                        outcome: client.postError(report, for: invocation.requestID, invocationID: invocation.invocationID),
                        context: context, sent: "error \(report.errorType)")
                case .rejected, .gone:
                    logRefusal(outcome: outcome, context: context, sent: "response of \(response.count) bytes")
                }
            case .failure(let report):
                context.logger.error(
                    "invocation failed",
                    metadata: ["errorType": .string(report.errorType), "errorMessage": .string(report.errorMessage)])
                try logRefusal(
                    outcome: client.postError(report, for: invocation.requestID, invocationID: invocation.invocationID),
                    context: context, sent: "error \(report.errorType)")
            }
        } catch {
            logger.critical("stopping: \(error)")
            return error.exit
        }

        await handler.afterResponse(context: context)
        return nil
    }

    /// Serves one invocation with a streaming handler; returns a reason to stop, or `nil` to go on.
    ///
    /// A throw before the first byte is posted to `/error`; after it, the stream ends with the error
    /// trailers. A handler that returns without finishing is finished for it.
    func serveStreaming<Handler: StreamingLambdaHandler>(
        _ invocation: Invocation, with handler: inout Handler, client: RuntimeClient, logger: Logger
    ) async -> RuntimeExit? {
        let context = LambdaContext(invocation: invocation, function: configuration.function, logger: logger)
        if logger.logLevel <= .trace {
            context.logger.trace("invocation", metadata: ["bytes": "\(invocation.event.count)", "response": "streaming"])
        }
        let writer = LambdaResponseStreamWriter(
            client: client, requestID: invocation.requestID, invocationID: invocation.invocationID)

        var failure: LambdaErrorReport?
        do {
            try await handler.handle(invocation.event, responseWriter: writer, context: context)
        } catch {
            failure = LambdaErrorReport(error)
        }

        do throws(RuntimeClientError) {
            if let report = failure {
                context.logger.error(
                    "invocation failed",
                    metadata: ["errorType": .string(report.errorType), "errorMessage": .string(report.errorMessage),
                               "streamedBytes": "\(writer.bytesWritten)"])
                switch writer.phase {
                case .idle:
                    try logRefusal(
                        outcome: client.postError(report, for: invocation.requestID, invocationID: invocation.invocationID),
                        context: context, sent: "error \(report.errorType)")
                case .streaming:
                    writer.fail(with: report)
                case .ended(.accepted):
                    context.logger.error("the error came after the stream was finished and accepted: it cannot be reported to Lambda")
                case .ended, .failed:
                    break
                }
            } else {
                writer.complete()
            }
            switch writer.phase {
            case .failed(let error):
                throw error
            case .ended(let outcome):
                logRefusal(outcome: outcome, context: context, sent: "streamed response of \(writer.bytesWritten) bytes")
            case .idle, .streaming:
                break
            }
        } catch {
            logger.critical("stopping: \(error)")
            return error.exit
        }

        await handler.afterResponse(context: context)
        return nil
    }

    /// Initialization ended the runtime; `exit` says why.
    struct InitializationFailure: Error {
        let exit: RuntimeExit
    }

    /// Sets up the first Runtime API client (and with it libcurl's global state) and makes the
    /// handler once; a failing `makeHandler` is reported to `/init/error`.
    func initialize<Handler>(
        makeHandler: @Sendable (LambdaInitContext) async throws -> Handler
    ) async throws(InitializationFailure) -> (RuntimeClient, Handler) {
        let client: RuntimeClient
        do {
            client = try RuntimeClient(endpoint: configuration.endpoint, retryPolicy: configuration.retryPolicy)
        } catch {
            logger.critical("cannot set up libcurl: \(error)")
            throw InitializationFailure(exit: .runtimeAPIUnreachable("\(error)"))
        }
        let initContext = LambdaInitContext(
            function: configuration.function, logger: logger, environment: configuration.environment)
        do {
            return (client, try await makeHandler(initContext))
        } catch {
            throw InitializationFailure(exit: reportInitFailure(LambdaErrorReport(error), client: client))
        }
    }

    /// Logs an init failure, posts it to `/init/error` once, and returns the reason to exit.
    func reportInitFailure(_ report: LambdaErrorReport, client: RuntimeClient) -> RuntimeExit {
        logger.critical(
            "initialization failed", metadata: ["errorType": .string(report.errorType),
                                                "errorMessage": .string(report.errorMessage)])
        do {
            let outcome = try client.postInitError(report)
            if outcome != .accepted {
                logger.error("the Runtime API did not accept the init error: \(outcome)")
            }
        } catch {
            logger.error("could not report the init error: \(error)")
        }
        return .initializationFailed(errorType: report.errorType)
    }

    /// Logs a post the Runtime API did not accept, with what was sent.
    func logRefusal(outcome: PostOutcome, context: LambdaContext, sent: String) {
        switch outcome {
        case .accepted:
            return
        case .payloadTooLarge(let body):
            context.logger.error("the Runtime API refused the \(sent) as too large (413): \(body)")
        case .gone:
            context.logger.warning("the \(sent) came too late: the attempt timed out (410), so it was dropped")
        case .rejected(let status, let body):
            context.logger.error("the Runtime API rejected the \(sent) with \(status): \(body)")
        }
    }

    /// Lambda sends SIGTERM before it shuts a sandbox down (when extensions are registered): exit 0
    /// at once, with one log line. The runtime buffers nothing (every log and metrics line is one
    /// `write(2)` as it happens), so there is nothing to flush; the handler is async-signal-safe
    /// (`write` of a static line, then `_exit`).
    ///
    /// SIGTERM is also unblocked on the calling thread: a process inherits its signal mask from the
    /// thread that started it, and a parent that spawns from a thread blocking SIGTERM (libdispatch's
    /// workers block it) would otherwise leave the signal pending for ever when no thread of ours
    /// unblocks it.
    public static func exitOnSIGTERM(logFormat: LambdaLogFormat) {
        sigtermWritesJSON.store(logFormat == .json, ordering: .relaxed)
        signal(SIGTERM) { _ in
            let line: StaticString = sigtermWritesJSON.load(ordering: .relaxed)
                ? "{\"level\":\"INFO\",\"message\":\"SIGTERM: the sandbox is shutting down; exiting\",\"logger\":\"LambdaRuntime\"}\n"
                : "SIGTERM: the sandbox is shutting down; exiting\n"
            _ = write(2, line.utf8Start, line.utf8CodeUnitCount)
            _exit(0)
        }
        // After the handler is in place: a SIGTERM pending while blocked is delivered at once, to it.
        var terminate = sigset_t()
        sigemptyset(&terminate)
        sigaddset(&terminate, SIGTERM)
        pthread_sigmask(SIG_UNBLOCK, &terminate, nil)
    }

    static func responseTooLarge(size: Int, limit: Int) -> LambdaErrorReport {
        LambdaErrorReport(
            errorType: "Function.ResponseSizeTooLarge",
            errorMessage: "Response payload size (\(size) bytes) exceeded maximum allowed payload size (\(limit) bytes).")
    }
}

/// How a loop serves one invocation with a handler of either kind: buffered (``LambdaHandler``,
/// one `/response` with a `Content-Length`) or streamed (``StreamingLambdaHandler``).
protocol InvocationServing {
    associatedtype Handler
    /// Wraps a handler made at init.
    init(handler: Handler)
    /// The protocol a handler of this kind adopts to run in several loops, for the log.
    static var concurrentProtocolName: String { get }
    /// Serves `invocation` and posts its result; returns a reason to stop, or `nil` to go on.
    mutating func serve(_ invocation: Invocation, runtime: LambdaRuntime, client: RuntimeClient, logger: Logger) async -> RuntimeExit?
}

struct BufferedServing<Handler: LambdaHandler>: InvocationServing {
    var handler: Handler
    static var concurrentProtocolName: String { "ConcurrentLambdaHandler" }

    @inline(__always)
    mutating func serve(_ invocation: Invocation, runtime: LambdaRuntime, client: RuntimeClient, logger: Logger) async -> RuntimeExit? {
        await runtime.serve(invocation, with: &handler, client: client, logger: logger)
    }
}

extension BufferedServing: Sendable where Handler: Sendable {}

struct StreamedServing<Handler: StreamingLambdaHandler>: InvocationServing {
    var handler: Handler
    static var concurrentProtocolName: String { "ConcurrentStreamingLambdaHandler" }

    mutating func serve(_ invocation: Invocation, runtime: LambdaRuntime, client: RuntimeClient, logger: Logger) async -> RuntimeExit? {
        await runtime.serveStreaming(invocation, with: &handler, client: client, logger: logger)
    }
}

extension StreamedServing: Sendable where Handler: Sendable {}

/// Read by the SIGTERM handler (a lock-free load is async-signal-safe); set before the handler is
/// installed. Atomic because runtimes in one process (tests, concurrent loops) may each set it.
private let sigtermWritesJSON = Atomic<Bool>(false)
