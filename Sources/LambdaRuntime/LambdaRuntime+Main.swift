#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import CDispatchMainQueue

extension LambdaRuntime {
    /// The whole `main` of a function: reads ``Configuration`` from the process environment, serves
    /// invocations with the handler `makeHandler` makes (`AWS_LAMBDA_MAX_CONCURRENCY` at once on Lambda
    /// Managed Instances, one at a time otherwise; see ``runConcurrently(makeHandler:)-7n2df``), and ends
    /// the process with the ``RuntimeExit`` status the runtime stopped for.
    ///
    /// ```swift
    /// @main
    /// enum MyFunction {
    ///     static func main() async {
    ///         await LambdaRuntime.main { _ in Greeter() }
    ///     }
    /// }
    /// ```
    ///
    /// When the runtime's own settings are unusable (no `AWS_LAMBDA_RUNTIME_API`: the program was not
    /// started by Lambda or an emulator) it logs one critical line and exits with
    /// ``RuntimeExit/configurationInvalid(_:)``'s status, 5. `label` names the logger (`logger` in JSON lines).
    public static func main<Handler: ConcurrentLambdaHandler>(
        label: String = "bootstrap",
        makeHandler: @Sendable (LambdaInitContext) async throws -> Handler
    ) async -> Never {
        exit(await configuredFromEnvironment(label: label).runConcurrently(makeHandler: makeHandler).exitCode)
    }

    /// ``main(label:makeHandler:)-86vd1`` for a handler that streams its responses.
    public static func main<Handler: ConcurrentStreamingLambdaHandler>(
        label: String = "bootstrap",
        makeHandler: @Sendable (LambdaInitContext) async throws -> Handler
    ) async -> Never {
        exit(await configuredFromEnvironment(label: label).runConcurrently(makeHandler: makeHandler).exitCode)
    }

    /// ``main(label:makeHandler:)-86vd1`` from a synchronous `main`, on the main thread: the runtime's
    /// task runs there instead of on Swift's global executor, whose libdispatch threads (two workers
    /// and a manager, each with a stack and a malloc arena) would otherwise start before the first
    /// `/next`. A cold start is about 5% shorter (4–8% in interleaved runs). Configuration, loops,
    /// exit statuses and SIGTERM are as with ``main(label:makeHandler:)-86vd1``.
    ///
    /// ```swift
    /// @main
    /// enum MyFunction {
    ///     static func main() {
    ///         LambdaRuntime.mainOnMainThread(label: "MyFunction") { _ in Greeter() }
    ///     }
    /// }
    /// ```
    ///
    /// Call it on the process's main thread, from a synchronous `main` (anywhere else it stops the
    /// process with a message saying so). What differs from the `async` `main`:
    /// - With one loop, the runtime and the handler's nonisolated code run on the main thread.
    /// - That thread also stands in for `dispatch_main()`: main-actor work runs on it whenever the
    ///   handler is suspended at an `await` (so a handler may await the main actor), not while the
    ///   handler runs without suspending, nor while the runtime waits in `/next` (Lambda freezes the
    ///   sandbox then anyway).
    /// - Work on the global executor (`Task.detached`, `Task.sleep`'s timer) runs as usual; its
    ///   threads start with the first such work.
    /// - With `AWS_LAMBDA_MAX_CONCURRENCY` ≥ 2 the loops get a thread each, and the main thread runs
    ///   main-actor work whenever it comes.
    public static func mainOnMainThread<Handler: ConcurrentLambdaHandler>(
        label: String = "bootstrap",
        makeHandler: @escaping @Sendable (LambdaInitContext) async throws -> Handler
    ) -> Never {
        runOnMainThread { await main(label: label, makeHandler: makeHandler) }
    }

    /// `mainOnMainThread(label:makeHandler:)`, as above, for a handler that streams its responses.
    public static func mainOnMainThread<Handler: ConcurrentStreamingLambdaHandler>(
        label: String = "bootstrap",
        makeHandler: @escaping @Sendable (LambdaInitContext) async throws -> Handler
    ) -> Never {
        runOnMainThread { await main(label: label, makeHandler: makeHandler) }
    }

    /// Runs `body` as a task whose executor is the calling thread; the thread serves that executor
    /// (and the main queue) for as long as the process lives.
    private static func runOnMainThread(_ body: @escaping @Sendable () async -> Never) -> Never {
        guard cdispatch_is_main_thread() != 0 else {
            // A programmer's error, said plainly: from another thread the main queue would be drained
            // where libdispatch does not allow it, and the calling thread blocked for good.
            fatalError("LambdaRuntime.mainOnMainThread must be called on the main thread, from a synchronous main; an async main calls LambdaRuntime.main")
        }
        let executor = LoopThread()
        Task(executorPreference: executor) { await body() }
        executor.runOnCurrentThread()
    }

    /// The runtime the process environment configures, logging with its log settings; or the process
    /// ends with ``RuntimeExit/configurationInvalid(_:)``.
    private static func configuredFromEnvironment(label: String) -> LambdaRuntime {
        let environment = ProcessEnvironment.current
        do {
            let configuration = try Configuration(environment: environment)
            // JSON whatever AWS_LAMBDA_LOG_FORMAT says when AWS_LAMBDA_MAX_CONCURRENCY ≥ 2 (see Configuration).
            return LambdaRuntime(configuration: configuration, logger: configuration.logging.makeLogger(label: label))
        } catch {
            let reason = RuntimeExit.configurationInvalid(error)
            LambdaLogConfiguration(environment: environment).makeLogger(label: label).critical("\(reason)")
            exit(reason.exitCode)
        }
    }
}
