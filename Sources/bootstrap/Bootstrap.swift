#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import LambdaRuntime

/// The composition root: read the environment, pick the handler `_HANDLER` names, run the loop (or
/// `AWS_LAMBDA_MAX_CONCURRENCY` loops; streamed for `echo-stream`), exit with the loop's reason.
@main
enum Bootstrap {
    static func main() async {
        let environment = ProcessEnvironment.current
        let configuration: LambdaRuntime.Configuration
        do {
            configuration = try LambdaRuntime.Configuration(environment: environment)
        } catch {
            let reason = RuntimeExit.configurationInvalid(error)
            LambdaLogConfiguration(environment: environment).makeLogger(label: "bootstrap").critical("\(reason)")
            exit(reason.exitCode)
        }
        // JSON whatever AWS_LAMBDA_LOG_FORMAT says when AWS_LAMBDA_MAX_CONCURRENCY ≥ 2 (see Configuration).
        let logger = configuration.logging.makeLogger(label: "bootstrap")
        let runtime = LambdaRuntime(configuration: configuration, logger: logger)
        let reason: RuntimeExit
        if let name = environment["_HANDLER"], name.utf8.elementsEqual(BuiltInHandler.echoStream.utf8) {
            // The one built-in handler that streams its response; the others stay buffered.
            reason = await runtime.runConcurrently { context in try EchoStreamHandler(environment: context.environment) }
        } else {
            reason = await runtime.runConcurrently { context in
                try await BuiltInHandler.make(named: context.environment["_HANDLER"], context: context)
            }
        }
        exit(reason.exitCode)
    }
}
