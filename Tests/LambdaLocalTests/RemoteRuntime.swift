import Foundation
import LambdaLocal
import Testing

/// The test as the function's runtime: `Fixtures/remote-runtime.sh` publishes its Runtime API address and
/// waits, and the test asks `/next` and posts results over ``RawHTTP`` connections.
struct RemoteRuntime {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/remote-runtime.sh").path

    /// Where the child writes its `AWS_LAMBDA_RUNTIME_API`.
    let file = FileManager.default.temporaryDirectory.appendingPathComponent("runtime-api-\(UUID().uuidString)").path

    /// lambda-local running this runtime.
    func configuration(timeout: Duration = .seconds(30), maxConcurrency: Int? = nil) -> LocalConfiguration {
        var configuration = LocalConfiguration(bootstrapPath: Self.script)
        configuration.timeout = timeout
        // The test is the runtime's loop: under a full parallel test run it may reach /next late.
        configuration.initTimeout = .seconds(60)
        configuration.maxConcurrency = maxConcurrency
        configuration.environment = ["RUNTIME_API_FILE": file]
        return configuration
    }

    /// The Runtime API address, once the child has started (it starts with the first invocation).
    func address() async throws -> String {
        for _ in 0..<6000 {
            if let text = try? String(contentsOfFile: file, encoding: .utf8), text.hasSuffix("\n") {
                return text.trimmingCharacters(in: .whitespacesAndNewlines)
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw RawHTTP.Failure.timeout
    }

    /// Runs `body` with lambda-local running a fresh remote runtime, then stops both.
    static func with(
        timeout: Duration = .seconds(30), maxConcurrency: Int? = nil, _ body: (LocalFixture, RemoteRuntime) async throws -> Void
    ) async throws {
        let runtime = RemoteRuntime()
        defer { runtime.cleanUp() }
        try await LocalFixture.with(runtime.configuration(timeout: timeout, maxConcurrency: maxConcurrency)) { local in
            try await body(local, runtime)
        }
    }

    /// A connection to the Runtime API and the event its `/next` received.
    func connectAndTakeEvent() async throws -> (RawHTTP, RawHTTP.Response) {
        let connection = try await connect()
        return (connection, try await connection.next())
    }

    /// A connection to the Runtime API.
    func connect() async throws -> RawHTTP {
        try RawHTTP(runtimeAPI: try await address())
    }

    func cleanUp() {
        try? FileManager.default.removeItem(atPath: file)
    }
}

// These wait on a thread of their own: a test blocked in a read on the cooperative pool could starve the very
// task (the invoke) it waits for.
extension RawHTTP {
    /// `GET /next`: the event and its headers.
    func next() async throws -> Response {
        try await onThread {
            try self.send("GET", "/2018-06-01/runtime/invocation/next")
            return try self.readResponse()
        }
    }

    /// Posts a buffered result; the status.
    func post(_ kind: String, requestID: String, body: [UInt8], headers: [(String, String)] = []) async throws -> Int {
        try await onThread {
            try self.send("POST", "/2018-06-01/runtime/invocation/\(requestID)/\(kind)", headers: headers, body: body)
            return try self.readResponse().status
        }
    }

    /// `GET /next` and at once a response of `body` for it, on one thread (no hop back to the pool in
    /// between, which under a loaded machine can outlast a short function timeout); the event and the status.
    func answerNext(with body: [UInt8]) async throws -> (event: Response, status: Int) {
        try await onThread {
            try self.send("GET", "/2018-06-01/runtime/invocation/next")
            let event = try self.readResponse()
            var headers: [(String, String)] = []
            if let invocationID = event.invocationID { headers.append(("Lambda-Runtime-Invocation-Id", invocationID)) }
            try self.send("POST", "/2018-06-01/runtime/invocation/\(event.requestID)/response", headers: headers, body: body)
            return (event, try self.readResponse().status)
        }
    }

    /// Reads a whole response without blocking the cooperative pool.
    func response() async throws -> Response {
        try await onThread { try self.readResponse() }
    }
}

extension RawHTTP.Response {
    var requestID: String { head.value("Lambda-Runtime-Aws-Request-Id") ?? "" }
    var invocationID: String? { head.value("Lambda-Runtime-Invocation-Id") }
}
