#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import LambdaRuntime

/// The composition root: read the environment, pick the handler `_HANDLER` names, run the loop,
/// exit with the loop's reason.
@main
enum Bootstrap {
    static func main() async {
        let environment = ProcessEnvironment.current
        let logging = LambdaLogConfiguration(environment: environment)
        let logger = logging.makeLogger(label: "bootstrap")
        let configuration: LambdaRuntime.Configuration
        do {
            configuration = try LambdaRuntime.Configuration(environment: environment)
        } catch {
            logger.critical("\(error)")
            exit(RuntimeExit.runtimeAPIUnreachable("").exitCode)
        }
        let runtime = LambdaRuntime(configuration: configuration, logger: logger)
        let reason = await runtime.run { context in
            try await BuiltInHandler.make(named: context.environment["_HANDLER"], context: context)
        }
        exit(reason.exitCode)
    }
}
