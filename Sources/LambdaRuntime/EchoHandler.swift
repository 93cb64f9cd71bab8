/// The built-in `echo` handler: returns the event bytes unchanged. For conformance checks and
/// benchmarks of the runtime itself.
public struct EchoHandler: ConcurrentLambdaHandler {
    /// Creates the handler.
    public init() {}

    /// Returns `event` as it came.
    public func handle(_ event: [UInt8], context: LambdaContext) async throws -> [UInt8] {
        event
    }
}
