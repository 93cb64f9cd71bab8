#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Logging

extension LambdaRuntime {
    /// Initializes the handler once, then serves up to `configuration.maxConcurrency` invocations at
    /// once (Lambda Managed Instances); with 1 it is exactly ``run(makeHandler:)-4ksff``.
    ///
    /// With N ≥ 2: N loops, each on a thread of its own (`LoopThread`) with its own
    /// ``RuntimeClient`` (its own libcurl easy handle and connection; no handle is ever used by two
    /// threads), each `/next` → handler → result → `afterResponse` on its own copy of the handler.
    /// The trace id is in each invocation's context and log lines only: `_X_AMZN_TRACE_ID` means
    /// nothing while invocations overlap, and `setenv` is not thread-safe, so the process
    /// environment is never touched. Log lines are JSON (see ``Configuration``).
    ///
    /// A handler error is that invocation's `/error`; the other loops never notice. The first loop
    /// that cannot go on (a 500 from the Runtime API, an unreachable API) ends the whole runtime
    /// with its reason, as the single loop would; the process exits, loops still waiting on `/next`
    /// go with it. A failing `makeHandler` is reported to `/init/error` once, before any loop starts.
    public func runConcurrently<Handler: ConcurrentLambdaHandler>(
        makeHandler: @Sendable (LambdaInitContext) async throws -> Handler
    ) async -> RuntimeExit {
        await runLoops(BufferedServing<Handler>.self, makeHandler: makeHandler)
    }

    /// ``runConcurrently(makeHandler:)-7n2df`` for a streaming handler: every loop streams its
    /// responses over its own connection.
    public func runConcurrently<Handler: ConcurrentStreamingLambdaHandler>(
        makeHandler: @Sendable (LambdaInitContext) async throws -> Handler
    ) async -> RuntimeExit {
        await runLoops(StreamedServing<Handler>.self, makeHandler: makeHandler)
    }

    private func runLoops<Serving: InvocationServing & Sendable>(
        _ kind: Serving.Type, makeHandler: @Sendable (LambdaInitContext) async throws -> Serving.Handler
    ) async -> RuntimeExit {
        let loops = configuration.maxConcurrency
        guard loops > 1 else {
            return await runSingleLoop(kind, makeHandler: makeHandler)
        }
        Self.exitOnSIGTERM(logFormat: configuration.logging.format)
        var announcement = "Lambda Managed Instances: AWS_LAMBDA_MAX_CONCURRENCY=\(loops): \(loops) loops, "
            + "each with its own thread and Runtime API connection; _X_AMZN_TRACE_ID is not set (the trace id is in each "
            + "invocation's context and log lines); logs are JSON"
        if let requested = configuration.environment["AWS_LAMBDA_LOG_FORMAT"], requested.uppercased() != "JSON" {
            announcement += " whatever AWS_LAMBDA_LOG_FORMAT says (it says \(requested))"
        }
        logger.info("\(announcement)")

        // The first client reports init errors and becomes loop 0's; libcurl's global init runs
        // with it, before any loop thread exists.
        let firstClient: RuntimeClient
        let handler: Serving
        do {
            let (madeClient, made) = try await initialize(makeHandler: makeHandler)
            (firstClient, handler) = (madeClient, Serving(handler: made))
        } catch {
            return error.exit
        }

        let threads = (0..<loops).map { _ in LoopThread() }
        for (index, thread) in threads.enumerated() {
            if let status = thread.start() {
                // Nothing has been served yet: this is still initialization.
                for started in threads[..<index] { started.stop() }
                return reportInitFailure(
                    LambdaErrorReport(
                        errorType: "Runtime.ThreadCreationFailed",
                        errorMessage: "could not start loop \(index + 1) of \(loops) (pthread_create: \(status)); lower AWS_LAMBDA_MAX_CONCURRENCY"),
                    client: firstClient)
            }
        }

        let firstExit = FirstExit()
        let first = UncheckedTransfer(firstClient)
        for (index, thread) in threads.enumerated() {
            Task(executorPreference: thread) { [self] in
                defer { thread.stop() }
                let client: RuntimeClient
                if index == 0 {
                    client = first.value
                } else {
                    do {
                        client = try RuntimeClient(endpoint: configuration.endpoint, retryPolicy: configuration.retryPolicy)
                    } catch {
                        logger.critical("loop \(index): cannot set up libcurl: \(error)")
                        firstExit.report(.runtimeAPIUnreachable("\(error)"))
                        return
                    }
                }
                var loopLogger = logger
                loopLogger[metadataKey: "loop"] = .stringConvertible(index)
                firstExit.report(await serveLoop(handler: handler, client: client, logger: loopLogger))
            }
        }
        return await firstExit.wait()
    }

    /// One loop of the concurrent mode: the single loop without the process environment.
    private func serveLoop<Serving: InvocationServing & Sendable>(
        handler: Serving, client: RuntimeClient, logger: Logger
    ) async -> RuntimeExit {
        var handler = handler
        while true {
            let invocation: Invocation
            do {
                invocation = try client.nextInvocation()
            } catch {
                logger.critical("stopping: \(error)")
                return error.exit
            }
            var invocationLogger = logger
            if let traceID = invocation.traceID {
                invocationLogger[metadataKey: LambdaLogHandler.traceIDKey] = .string(traceID)
            }
            if let exit = await handler.serve(invocation, runtime: self, client: client, logger: invocationLogger) {
                return exit
            }
        }
    }
}

/// The reason the first loop to end gave; later ones are logged by their loop and dropped.
///
/// Guarded by a pthread mutex rather than `Synchronization.Mutex`, whose futex ThreadSanitizer
/// cannot see on Linux (every access it guards would be reported).
private final class FirstExit: @unchecked Sendable {
    private enum State {
        case running(waiter: CheckedContinuation<RuntimeExit, Never>?)
        case ended(RuntimeExit)
    }

    // `state` is guarded by `mutex`.
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private var state = State.running(waiter: nil)

    init() {
        mutex = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    private func withLock<Result>(_ body: (inout State) -> Result) -> Result {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return body(&state)
    }

    /// Records `exit` if it is the first, and wakes the waiter.
    func report(_ exit: RuntimeExit) {
        let waiter = withLock { state -> CheckedContinuation<RuntimeExit, Never>? in
            guard case .running(let waiter) = state else { return nil }
            state = .ended(exit)
            return waiter
        }
        waiter?.resume(returning: exit)
    }

    /// Waits for the first reason.
    func wait() async -> RuntimeExit {
        await withCheckedContinuation { continuation in
            let ended = withLock { state -> RuntimeExit? in
                switch state {
                case .ended(let exit):
                    return exit
                case .running:
                    state = .running(waiter: continuation)
                    return nil
                }
            }
            if let ended { continuation.resume(returning: ended) }
        }
    }
}

/// Moves a value that is not `Sendable` to the one task that uses it from then on (loop 0's client:
/// made and used for init on the calling task, then only ever on loop 0's thread).
private struct UncheckedTransfer<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
