#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import LambdaRuntime

/// The entry point Lambda starts as `bootstrap`: reads the Runtime API's address from the environment,
/// then serves invocations with ``Greeter`` until the sandbox ends (several at once on Lambda Managed
/// Instances, `AWS_LAMBDA_MAX_CONCURRENCY`; one at a time otherwise).
@main
enum MyFunction {
    static func main() async {
        let environment = ProcessEnvironment.current
        do {
            let runtime = LambdaRuntime(configuration: try LambdaRuntime.Configuration(environment: environment))
            exit(await runtime.runConcurrently { _ in Greeter() }.exitCode)
        } catch {
            LambdaLogConfiguration(environment: environment).makeLogger(label: "MyFunction").critical("\(error)")
            exit(RuntimeExit.runtimeAPIUnreachable("\(error)").exitCode)
        }
    }
}
