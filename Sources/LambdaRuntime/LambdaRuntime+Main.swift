#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

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
