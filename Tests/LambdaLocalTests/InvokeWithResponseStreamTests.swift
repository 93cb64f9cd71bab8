import CurlHTTP
import Foundation
import LambdaLocal
import Testing

/// Runs `Fixtures/stream_invoke.py` (boto3's `invoke_with_response_stream`, botocore's event-stream parser)
/// against lambda-local; the summary it prints and the payload bytes it received.
/// What `stream_invoke.py` prints.
struct StreamInvokeSummary: Decodable, Sendable {
    struct Complete: Decodable, Sendable {
        var ErrorCode: String?
        var ErrorDetails: String?
    }

    var status: Int?
    var executedVersion: String?
    var contentType: String?
    var chunks: Int?
    var complete: Complete?
    var eventsAfterComplete: Int?
    /// The error code of a refused call (botocore's `ClientError`).
    var error: String?
}

func botocoreStreamInvoke(port: Int, function: String = "function", payload: [UInt8] = Array("{}".utf8)) throws -> (summary: StreamInvokeSummary, payload: [UInt8]) {
    let python = try #require(RICEnvironment.python)
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("stream-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let input = directory.appendingPathComponent("in"), output = directory.appendingPathComponent("out")
    try Data(payload).write(to: input)
    let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/stream_invoke.py").path
    let process = Process()
    process.executableURL = URL(fileURLWithPath: python)
    process.arguments = [script, "http://127.0.0.1:\(port)", function, input.path, output.path]
    let stdout = Pipe()
    process.standardOutput = stdout
    try process.run()
    let printed = stdout.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    let summary = try JSONDecoder().decode(StreamInvokeSummary.self, from: printed)
    let received = (try? Data(contentsOf: output)).map { Array($0) } ?? []
    return (summary, received)
}

/// One event-stream message as the raw client sees it (only to tell when a chunk arrived; botocore checks the framing).
struct RawEventMessage {
    var eventType: String
    var payload: [UInt8]

    /// Splits whole messages off the front of `bytes`.
    static func take(from bytes: inout [UInt8]) -> [RawEventMessage] {
        var messages: [RawEventMessage] = []
        while bytes.count >= 12 {
            let total = bytes[0..<4].reduce(0) { $0 << 8 | Int($1) }
            let headersLength = bytes[4..<8].reduce(0) { $0 << 8 | Int($1) }
            guard bytes.count >= total else { break }
            var eventType = ""
            var index = 12
            while index < 12 + headersLength {
                let nameLength = Int(bytes[index])
                let name = String(decoding: bytes[(index + 1)..<(index + 1 + nameLength)], as: UTF8.self)
                index += 1 + nameLength + 1
                let valueLength = Int(bytes[index]) << 8 | Int(bytes[index + 1])
                let value = String(decoding: bytes[(index + 2)..<(index + 2 + valueLength)], as: UTF8.self)
                index += 2 + valueLength
                if name == ":event-type" { eventType = value }
            }
            messages.append(RawEventMessage(eventType: eventType, payload: Array(bytes[(12 + headersLength)..<(total - 4)])))
            bytes.removeSubrange(0..<total)
        }
        return messages
    }
}

/// `InvokeWithResponseStream` checked with botocore's own event-stream parser (a second implementation
/// nobody here wrote), with the test streaming as the function.
@Suite(.enabled(if: RICEnvironment.python != nil, "set RIC_PYTHON to the test venv's Python (boto3, awslambdaric); scripts/test.sh does"))
struct InvokeWithResponseStreamTests {
    @Test(arguments: [1, 1024 * 1024, 25 * 1024 * 1024])
    func streamsOfEverySizeArriveByteIdentical(size: Int) async throws {
        try await RemoteRuntime.with { local, runtime in
            let port = local.port
            let call = ThreadCall { try botocoreStreamInvoke(port: port) }
            let (connection, event) = try await runtime.connectAndTakeEvent()
            let bytes = patternBytes(size)
            let chunkSize = 64 * 1024
            let chunks = stride(from: 0, to: size, by: chunkSize).map { Array(bytes[$0..<min(size, $0 + chunkSize)]) }
            #expect(try await connection.stream(event, chunks: chunks) == 202)
            let (summary, received) = try await call.value
            #expect(received.count == size)
            #expect(firstDifference(received, bytes) == nil, "byte-identical")
            #expect(summary.status == 200)
            #expect(summary.executedVersion == "$LATEST")
            #expect(summary.contentType == "application/vnd.amazon.eventstream")
            #expect((summary.chunks ?? 0) >= 1)
            let complete = try #require(summary.complete)
            #expect(complete.ErrorCode == nil)
            #expect(summary.eventsAfterComplete == 0)
        }
    }

    @Test func aMidStreamErrorEndsWithInvokeCompleteCarryingErrorCodeAndDetails() async throws {
        try await RemoteRuntime.with { local, runtime in
            let port = local.port
            let call = ThreadCall { try botocoreStreamInvoke(port: port) }
            let (connection, event) = try await runtime.connectAndTakeEvent()
            let status = try await connection.stream(
                event, chunks: [Array("a".utf8), Array("b".utf8), Array("c".utf8)],
                trailers: errorTrailers(type: "Function.StreamBroke", message: "disk on fire"))
            #expect(status == 202)
            let (summary, received) = try await call.value
            #expect(received == Array("abc".utf8))
            let complete = try #require(summary.complete)
            #expect(complete.ErrorCode == "Function.StreamBroke")
            #expect(complete.ErrorDetails == "disk on fire")
        }
    }

    @Test func aBufferedAnswerIsOnePayloadChunkAndUnknownFunctionsAre404() async throws {
        try await LocalFixture.with(LocalFixture.echo()) { local in
            let payload = Array(#"{"buffered":"answer"}"#.utf8)
            let (summary, received) = try botocoreStreamInvoke(port: local.port, payload: payload)
            #expect(received == payload)
            #expect(summary.chunks == 1)
            #expect(summary.complete != nil && summary.complete?.ErrorCode == nil)
            let missing = try botocoreStreamInvoke(port: local.port, function: "no-such-function")
            #expect(missing.summary.error == "ResourceNotFoundException")
            #expect(missing.summary.status == 404)
            let badQualifier = try botocoreStreamInvoke(port: local.port, function: "function:9")
            #expect(badQualifier.summary.error == "ResourceNotFoundException")
        }
    }

    @Test func aFunctionErrorBeforeStreamingIsInvokeComplete() async throws {
        try await LocalFixture.with(LocalFixture.scripted()) { local in
            let (summary, received) = try botocoreStreamInvoke(port: local.port, payload: Array(#"{"fail":true}"#.utf8))
            #expect(received.isEmpty)
            let complete = try #require(summary.complete)
            #expect(complete.ErrorCode == "Function.AskedToFail")
            #expect(complete.ErrorDetails == "asked to fail")
        }
    }
}

/// Chunks are forwarded as they arrive, measured with the raw client (no Python needed).
@Suite struct InvokeWithResponseStreamTimingTests {
    @Test func theFirstChunkReachesTheCallerBeforeTheFunctionFinishes() async throws {
        try await RemoteRuntime.with { local, runtime in
            let client = try RawHTTP(port: local.port)
            try client.send("POST", "/2021-11-15/functions/function/response-streaming-invocations", body: Array("{}".utf8))
            let (connection, event) = try await runtime.connectAndTakeEvent()
            try connection.startChunked(
                "POST", "/2018-06-01/runtime/invocation/\(event.requestID)/response",
                headers: [("Lambda-Runtime-Function-Response-Mode", "streaming")])
            let sent = ContinuousClock.now
            try connection.sendChunk(Array("first".utf8))
            // The function has not finished: the caller must already see the first chunk.
            let head = try await onThread { try client.readHead() }
            #expect(head.status == 200)
            #expect(head.value("Content-Type") == "application/vnd.amazon.eventstream")
            var pending: [UInt8] = []
            var messages: [RawEventMessage] = []
            while messages.isEmpty {
                pending += try #require(try await onThread { try client.readChunk() })
                messages += RawEventMessage.take(from: &pending)
            }
            let firstChunkAfter = ContinuousClock.now - sent
            #expect(messages.first?.eventType == "PayloadChunk")
            #expect(messages.first?.payload == Array("first".utf8))
            try await Task.sleep(for: .milliseconds(100))
            try connection.sendChunk(Array("second".utf8))
            try connection.endChunks()
            #expect(try await connection.response().status == 202)
            while let chunk = try await onThread({ try client.readChunk() }) {
                pending += chunk
                messages += RawEventMessage.take(from: &pending)
            }
            #expect(messages.map(\.eventType) == ["PayloadChunk", "PayloadChunk", "InvokeComplete"])
            #expect(messages[1].payload == Array("second".utf8))
            print("InvokeWithResponseStream: first chunk reached the caller \(firstChunkAfter) after the function wrote it, before it finished")
        }
    }
}

/// The streamed-response limit (Lambda's 200 MB, lowered here to 1 MiB to keep the test small).
@Suite struct StreamedResponseLimitTests {
    @Test func aStreamPastTheLimitIsCutWithResponseSizeTooLargeAndThePostIs413() async throws {
        let runtime = RemoteRuntime()
        defer { runtime.cleanUp() }
        var configuration = runtime.configuration()
        configuration.maxStreamedPayload = 1024 * 1024
        try await LocalFixture.with(configuration) { local in
            let client = try RawHTTP(port: local.port)
            try client.send("POST", "/2021-11-15/functions/function/response-streaming-invocations", body: Array("{}".utf8))
            let reader = Task {
                try await onThread { () -> [RawEventMessage] in
                    let head = try client.readHead()
                    #expect(head.status == 200)
                    var pending: [UInt8] = [], messages: [RawEventMessage] = []
                    while let chunk = try client.readChunk() {
                        pending += chunk
                        messages += RawEventMessage.take(from: &pending)
                    }
                    return messages
                }
            }
            let (connection, event) = try await runtime.connectAndTakeEvent()
            let chunk = patternBytes(256 * 1024)
            #expect(try await connection.stream(event, chunks: Array(repeating: chunk, count: 6)) == 413)
            let messages = try await reader.value
            let delivered = messages.filter { $0.eventType == "PayloadChunk" }.reduce(0) { $0 + $1.payload.count }
            #expect(delivered == 1024 * 1024, "the chunks within the limit, nothing after")
            #expect(messages.last?.eventType == "InvokeComplete")
            let complete = try #require(messages.last.flatMap { try? JSONSerialization.jsonObject(with: Data($0.payload)) as? [String: String] })
            #expect(complete["ErrorCode"] == "Function.ResponseSizeTooLarge")
        }
    }
}
