import LambdaRuntime

/// The composition root: pick the handler `_HANDLER` names and serve it (`AWS_LAMBDA_MAX_CONCURRENCY`
/// loops; streamed for `echo-stream`); the process exits with the runtime's reason.
///
/// The runtime runs on the main thread (`mainOnMainThread`): no libdispatch thread starts before the
/// first `/next`.
@main
enum Bootstrap {
    static func main() {
        if let name = ProcessEnvironment.current["_HANDLER"], name.utf8.elementsEqual(BuiltInHandler.echoStream.utf8) {
            // The one built-in handler that streams its response; the others stay buffered.
            LambdaRuntime.mainOnMainThread { context in try EchoStreamHandler(environment: context.environment) }
        }
        LambdaRuntime.mainOnMainThread { context in
            try await BuiltInHandler.make(named: context.environment["_HANDLER"], context: context)
        }
    }
}
