import CurlHTTP
import Foundation
@testable import LambdaLocal
import Synchronization
import Testing

/// A function that streams an HTTP integration response (`application/vnd.awslambda.http-integration-response`:
/// JSON prelude, 8 NUL bytes, body) through the API Gateway front door, as a Function URL in `RESPONSE_STREAM`
/// mode delivers it.
@Suite struct FrontDoorStreamingTests {
    static let prelude = Array(#"{"statusCode":201,"headers":{"content-type":"text/plain","x-custom":"yes"},"cookies":["a=1; Path=/","b=2"]}"#.utf8)
        + [UInt8](repeating: 0, count: 8)

    /// The function's side: a streamed `/response` with the integration content type.
    static func startIntegrationStream(_ connection: RawHTTP, _ event: RawHTTP.Response) throws {
        var headers = [("Lambda-Runtime-Function-Response-Mode", "streaming"), ("Content-Type", "application/vnd.awslambda.http-integration-response")]
        if let invocationID = event.invocationID { headers.append(("Lambda-Runtime-Invocation-Id", invocationID)) }
        try connection.startChunked("POST", "/2018-06-01/runtime/invocation/\(event.requestID)/response", headers: headers)
    }

    @Test func thePreludeSetsStatusHeadersAndCookiesAndTheFirstChunkArrivesBeforeTheFunctionFinishes() async throws {
        try await RemoteRuntime.with { local, runtime in
            let client = try RawHTTP(port: local.port)
            try client.send("GET", "/events/live")
            let (connection, event) = try await runtime.connectAndTakeEvent()
            #expect(event.text.contains(#""rawPath":"/events/live""#), "the API Gateway v2 event")
            try Self.startIntegrationStream(connection, event)
            // The prelude is split across chunks, even inside the 8 NULs.
            try connection.sendChunk(Array(Self.prelude[..<20]))
            try connection.sendChunk(Array(Self.prelude[20..<(Self.prelude.count - 3)]))
            let sent = ContinuousClock.now
            try connection.sendChunk(Array(Self.prelude[(Self.prelude.count - 3)...]) + Array("first ".utf8))
            let head = try await onThread { try client.readHead() }
            #expect(head.status == 201)
            #expect(head.value("x-custom") == "yes")
            #expect(head.value("content-type") == "text/plain")
            #expect(head.values("Set-Cookie") == ["a=1; Path=/", "b=2"])
            #expect(head.isChunked)
            #expect(head.value("X-Amz-Executed-Version") == "$LATEST")
            let first = try #require(try await onThread { try client.readChunk() })
            let firstAfter = ContinuousClock.now - sent
            #expect(first == Array("first ".utf8))
            // Only now does the function write the rest and finish.
            try connection.sendChunk(Array("second".utf8))
            try connection.endChunks()
            #expect(try await connection.response().status == 202)
            var rest: [UInt8] = []
            while let chunk = try await onThread({ try client.readChunk() }) { rest += chunk }
            #expect(rest == Array("second".utf8))
            print("front door: first body chunk reached the HTTP client \(firstAfter) after the function wrote it, before it finished")
        }
    }

    @Test(arguments: [1, 1024 * 1024, 25 * 1024 * 1024])
    func bodiesOfEverySizeArriveByteIdentical(size: Int) async throws {
        try await RemoteRuntime.with { local, runtime in
            let client = try RawHTTP(port: local.port)
            try client.send("GET", "/download")
            let (connection, event) = try await runtime.connectAndTakeEvent()
            let bytes = patternBytes(size, seed: UInt32(truncatingIfNeeded: size) | 1)
            let reader = ThreadCall { try client.readResponse() }
            // Sent from a thread of its own too: the sends block until the reader reads, and the reader's
            // task needs a free cooperative thread to start, which a full parallel run may not have.
            try await onThread {
                try Self.startIntegrationStream(connection, event)
                try connection.sendChunk(Self.prelude)
                for start in stride(from: 0, to: size, by: 64 * 1024) {
                    try connection.sendChunk(Array(bytes[start..<min(size, start + 64 * 1024)]))
                }
                try connection.endChunks()
            }
            #expect(try await connection.response().status == 202)
            let response = try await reader.value
            #expect(response.status == 201)
            #expect(response.body.count == size)
            #expect(firstDifference(response.body, bytes) == nil, "byte-identical")
        }
    }

    @Test func aStreamWithAnotherContentTypeIsTheBodyAndAMissingPreludeIs500() async throws {
        try await RemoteRuntime.with { local, runtime in
            let plain = ThreadCall { try local.request(.get, "/plain") }
            let (connection, event) = try await runtime.connectAndTakeEvent()
            #expect(try await connection.stream(event, contentType: "text/csv", chunks: [Array("a,b\n".utf8), Array("1,2\n".utf8)]) == 202)
            let response = try await plain.value
            #expect(response.status == 200)
            #expect(response.headers["Content-Type"] == "text/csv")
            #expect(response.bodyText == "a,b\n1,2\n")

            let broken = ThreadCall { try local.request(.get, "/broken") }
            let second = try await connection.next()
            let status = try await connection.stream(
                second, contentType: "application/vnd.awslambda.http-integration-response", chunks: [Array(#"{"statusCode":200}"#.utf8)])
            #expect(status == 202)
            let failed = try await broken.value
            #expect(failed.status == 500)
            #expect(json(failed)?["message"] as? String == "Internal Server Error")
        }
    }

    /// A function that fails after its body started: the client gets what was streamed, then the
    /// connection closes without the last chunk, so that a cut-off body never looks complete.
    @Test func aFailureMidStreamCutsTheBodyOffInsteadOfEndingIt() async throws {
        try await RemoteRuntime.with { local, runtime in
            let client = try RawHTTP(port: local.port)
            try client.send("GET", "/fails-midway")
            let (connection, event) = try await runtime.connectAndTakeEvent()
            try Self.startIntegrationStream(connection, event)
            try connection.sendChunk(Self.prelude + Array("partial".utf8))
            let head = try await onThread { try client.readHead() }
            #expect(head.status == 201)
            #expect(try await onThread { try client.readChunk() } == Array("partial".utf8))
            let errorBody = Array(#"{"errorType":"Disk.Full","errorMessage":"no space"}"#.utf8)
            try connection.endChunks(trailers: [
                ("Lambda-Runtime-Function-Error-Type", "Disk.Full"),
                ("Lambda-Runtime-Function-Error-Body", Data(errorBody).base64EncodedString()),
            ])
            #expect(try await connection.response().status == 202)
            await #expect {
                try await onThread { _ = try client.readChunk() }
            } throws: { error in
                if case RawHTTP.Failure.closed = error { return true }
                return false
            }

            // The same function finishing normally ends the body with its last chunk.
            let complete = try RawHTTP(port: local.port)
            try complete.send("GET", "/succeeds")
            let second = try await connection.next()
            try Self.startIntegrationStream(connection, second)
            try connection.sendChunk(Self.prelude + Array("whole".utf8))
            try connection.endChunks()
            #expect(try await connection.response().status == 202)
            let response = try await onThread { try complete.readResponse() }
            #expect(response.body == Array("whole".utf8))
        }
    }

    @Test func preludeParsing() {
        #expect(HTTPIntegrationStream.separator(in: [1, 0, 0, 0, 0, 0, 0, 0, 0, 2]) == 1)
        #expect(HTTPIntegrationStream.separator(in: [0, 0, 0, 0, 0, 0, 0]) == nil)
        let head = APIGatewayHTTPEvent.streamedHead(prelude: Array(#"{"headers":{"x-n":7},"cookies":["c=1"]}"#.utf8))
        #expect(head?.status == .ok, "statusCode defaults to 200")
        #expect(head?.headers["x-n"] == ["7"])
        #expect(head?.headers["Set-Cookie"] == ["c=1"])
        #expect(APIGatewayHTTPEvent.streamedHead(prelude: Array("not json".utf8)) == nil)
    }
}

/// Backpressure: a caller that does not read holds the function's stream back instead of lambda-local
/// buffering it all.
@Suite struct StreamBackpressureTests {
    @Test func aCallerThatDoesNotReadHoldsTheFunctionBack() async throws {
        try await RemoteRuntime.with { local, runtime in
            let client = try RawHTTP(port: local.port)
            try client.send("GET", "/slow-reader")
            let (connection, event) = try await runtime.connectAndTakeEvent()
            // More than the kernel buffers of both connections hold (tcp_wmem + tcp_rmem, a few MB each).
            let size = 48 * 1024 * 1024
            let bytes = patternBytes(size, seed: 7)
            let finished = Atomic<Bool>(false)
            let sent = Atomic<Int>(0)
            let function = ThreadCall { () -> Int in
                try FrontDoorStreamingTests.startIntegrationStream(connection, event)
                try connection.sendChunk(FrontDoorStreamingTests.prelude)
                for start in stride(from: 0, to: size, by: 256 * 1024) {
                    let chunk = Array(bytes[start..<min(size, start + 256 * 1024)])
                    try connection.sendChunk(chunk)
                    sent.add(chunk.count, ordering: .relaxed)
                }
                try connection.endChunks()
                let status = try connection.readResponse().status
                finished.store(true, ordering: .releasing)
                return status
            }
            // Held back, not merely slow: it has sent bytes, then sends no more for half a second.
            var stalledAt = -1
            var lastChange = ContinuousClock.now
            let giveUp = ContinuousClock.now + .seconds(60)
            while ContinuousClock.now < giveUp, !finished.load(ordering: .acquiring) {
                let now = sent.load(ordering: .relaxed)
                if now != stalledAt {
                    (stalledAt, lastChange) = (now, .now)
                } else if now > 0, ContinuousClock.now - lastChange >= .milliseconds(500) {
                    break
                }
                try await Task.sleep(for: .milliseconds(20))
            }
            let finishedEarly = finished.load(ordering: .acquiring)
            #expect(!finishedEarly, "the function is held back while the caller reads nothing")
            #expect(stalledAt > 0 && stalledAt < size, "it stopped after \(stalledAt) of \(size) bytes")
            let response = try await onThread { try client.readResponse() }
            #expect(try await function.value == 202)
            #expect(response.body.count == size)
            #expect(firstDifference(response.body, bytes) == nil, "byte-identical")
        }
    }
}
