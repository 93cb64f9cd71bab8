import LambdaRuntime

/// The entry point Lambda starts as `bootstrap`: serves invocations with ``Greeter`` until the sandbox
/// ends (several at once on Lambda Managed Instances, `AWS_LAMBDA_MAX_CONCURRENCY`; one at a time
/// otherwise). Started outside Lambda (no `AWS_LAMBDA_RUNTIME_API`), it exits with status 5.
///
/// `main` is synchronous so that the runtime runs on the main thread (`mainOnMainThread`): no
/// libdispatch thread starts before the first event, a shorter cold start. An `async` `main` would
/// call `await LambdaRuntime.main(label:makeHandler:)` instead.
@main
enum MyFunction {
    static func main() {
        LambdaRuntime.mainOnMainThread(label: "MyFunction") { _ in Greeter() }
    }
}
