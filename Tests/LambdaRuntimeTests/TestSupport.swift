import FakeRuntimeAPI
import Foundation
import LambdaRuntime
import Logging

/// Collects log lines instead of writing them.
final class LogCapture: LogLineSink {
    private let lines = Locked<[String]>([])

    func write(line: String) {
        lines.withLock { $0.append(line) }
    }

    var all: [String] { lines.withLock { $0 } }
}

/// Thread-safe storage a handler writes to and a test reads after the loop.
final class Recorder<Value: Sendable>: Sendable {
    private let values = Locked<[Value]>([])

    func append(_ value: Value) {
        values.withLock { $0.append(value) }
    }

    var all: [Value] { values.withLock { $0 } }
}

/// A handler made of a closure, for tests.
struct ClosureHandler: LambdaHandler {
    let body: @Sendable ([UInt8], LambdaContext) async throws -> [UInt8]
    var after: (@Sendable (LambdaContext) -> Void)? = nil

    func handle(_ event: [UInt8], context: LambdaContext) async throws -> [UInt8] {
        try await body(event, context)
    }

    func afterResponse(context: LambdaContext) async {
        after?(context)
    }
}

/// Runs the real loop against `server` until it runs out of events (then `/next` answers 500).
func runLoop<Handler: LambdaHandler>(
    against server: FakeRuntimeAPI,
    retryPolicy: RetryPolicy = RetryPolicy(retries: 0, initialBackoff: .milliseconds(1)),
    maxResponseSize: Int = LambdaRuntime.maxResponseSize,
    logs: LogCapture = LogCapture(),
    makeHandler: @escaping @Sendable (LambdaInitContext) async throws -> Handler
) async throws -> RuntimeExit {
    let runtime = try testRuntime(
        against: server, retryPolicy: retryPolicy, maxResponseSize: maxResponseSize, logs: logs)
    return await runtime.run(makeHandler: makeHandler)
}

/// A runtime for `server` with JSON logs into `logs`; `server` answers 500 once its events are served.
func testRuntime(
    against server: FakeRuntimeAPI,
    retryPolicy: RetryPolicy = RetryPolicy(retries: 0, initialBackoff: .milliseconds(1)),
    maxResponseSize: Int = LambdaRuntime.maxResponseSize,
    logs: LogCapture
) throws -> LambdaRuntime {
    server.finish()
    let configuration = LambdaRuntime.Configuration(
        endpoint: try RuntimeAPIEndpoint(server.runtimeAPI),
        function: FunctionMetadata(name: "profile-api", version: "7", memorySizeMB: 512, region: "eu-west-1"),
        logging: LambdaLogConfiguration(format: .json, level: .info),
        retryPolicy: retryPolicy,
        maxResponseSize: maxResponseSize,
        environment: ProcessEnvironment([:]))
    let logger = configuration.logging.makeLogger(label: "test", sink: logs)
    return LambdaRuntime(configuration: configuration, logger: logger)
}

/// Parses a JSON object.
func jsonObject(_ bytes: [UInt8]) -> [String: Any]? {
    (try? JSONSerialization.jsonObject(with: Data(bytes))) as? [String: Any]
}

/// Parses a JSON object from text.
func jsonObject(_ text: String) -> [String: Any]? {
    jsonObject(Array(text.utf8))
}

/// The "no more events" ending every loop test expects.
func isFinished(_ exit: RuntimeExit) -> Bool {
    if case .sandboxFailure(let detail) = exit { return detail.contains("Runtime.Finished") }
    return false
}

/// A streaming handler made of a closure, for tests.
struct ClosureStreamingHandler: StreamingLambdaHandler {
    let body: ([UInt8], LambdaResponseStreamWriter, LambdaContext) async throws -> Void

    func handle(_ event: [UInt8], responseWriter: LambdaResponseStreamWriter, context: LambdaContext) async throws {
        try await body(event, responseWriter, context)
    }
}

/// Runs the real loop with a streaming handler against `server` until it runs out of events.
func runStreamingLoop<Handler: StreamingLambdaHandler>(
    against server: FakeRuntimeAPI,
    logs: LogCapture = LogCapture(),
    makeHandler: @escaping @Sendable (LambdaInitContext) async throws -> Handler
) async throws -> RuntimeExit {
    await (try testRuntime(against: server, logs: logs)).run(makeHandler: makeHandler)
}
