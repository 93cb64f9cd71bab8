import LambdaRuntime

/// The entry point Lambda starts as `bootstrap`: serves invocations with ``Greeter`` until the sandbox
/// ends (several at once on Lambda Managed Instances, `AWS_LAMBDA_MAX_CONCURRENCY`; one at a time
/// otherwise). Started outside Lambda (no `AWS_LAMBDA_RUNTIME_API`), it exits with status 5.
@main
enum MyFunction {
    static func main() async {
        await LambdaRuntime.main(label: "MyFunction") { _ in Greeter() }
    }
}
