import FakeRuntimeAPI
import Foundation
import LambdaRuntime
import Testing

/// Response streaming through the real loop and libcurl against `FakeRuntimeAPI`: what goes on the
/// wire (headers, chunks, trailers), errors before and after the first byte, the Function URL
/// prelude, and when the first chunk arrives.
@Suite struct ResponseStreamingTests {
    struct Failure: LambdaFunctionError {
        var errorType: String { "Function.Failed" }
        var errorMessage: String { "the third chunk was the last" }
    }

    /// A pattern that shows any byte out of place.
    static func pattern(_ count: Int) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 8) }
    }

    func streamedPost(_ server: FakeRuntimeAPI, _ requestID: String) throws -> FakeRuntimeAPI.Request {
        try #require(server.requests.first { $0.method == "POST" && $0.path.hasSuffix("/\(requestID)/response") })
    }

    @Test(arguments: [1, 1024 * 1024, 25 * 1024 * 1024])
    func streamsArriveByteIdenticalInTheHandlersChunks(size: Int) async throws {
        let server = try FakeRuntimeAPI()
        defer { server.stop() }
        let event = Self.pattern(size)
        let id = server.enqueue(.init(body: event))
        let started = ContinuousClock.now
        let exit = try await runStreamingLoop(against: server) { _ in EchoStreamHandler(chunkSize: 16 * 1024) }
        let elapsed = ContinuousClock.now - started
        #expect(isFinished(exit))
        #expect(server.outcome(for: id) == .response(event))
        let post = try streamedPost(server, id)
        #expect(post.isChunked)
        #expect(post.header("Lambda-Runtime-Function-Response-Mode") == "streaming")
        #expect(post.header("Transfer-Encoding") == "chunked")
        #expect(post.header("Trailer") == "Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body")
        #expect(post.header("Content-Type") == "application/octet-stream")
        #expect(post.header("Content-Length") == nil)
        #expect(post.header("Expect") == nil)
        #expect(post.header("Lambda-Runtime-Invocation-Id") == nil, "no invocation id from /next, none echoed")
        #expect(post.trailers.isEmpty, "a stream that succeeds has no error trailers")
        #expect(post.chunkSizes.reduce(0, +) == size)
        #expect(post.chunkSizes.dropLast().allSatisfy { $0 == 16 * 1024 }, "one HTTP chunk per write")
        #expect(server.snapshot.connections == 2, "kept alive: one for /next and buffered posts, one for streams")
        print("streamed \(size) bytes in \(post.chunkSizes.count) chunks; the whole invocation took \(elapsed)")
    }

    @Test func aHandlerFailingAfterThreeChunksEndsTheStreamWithBothTrailers() async throws {
        let server = try FakeRuntimeAPI()
        defer { server.stop() }
        let id = server.enqueue("go")
        let next = server.enqueue("again")
        let logs = LogCapture()
        let exit = try await runStreamingLoop(against: server, logs: logs) { _ in
            ClosureStreamingHandler { event, writer, _ in
                if event == Array("again".utf8) {
                    try await writer.write("fine")
                    return
                }
                for index in 1...3 { try await writer.write("chunk \(index);") }
                throw Failure()
            }
        }
        #expect(isFinished(exit))
        guard case .streamError(let errorType, let errorBody, let partial) = server.outcome(for: id) else {
            Issue.record("not a stream error: \(String(describing: server.outcome(for: id)))")
            return
        }
        #expect(errorType == "Function.Failed")
        #expect(partial == Array("chunk 1;chunk 2;chunk 3;".utf8))
        let body = try #require(errorBody, "the Error-Body trailer is base64")
        #expect(body == LambdaErrorReport(Failure()).json, "the same JSON /error would carry")
        let object = try #require(jsonObject(body))
        #expect(object["errorType"] as? String == "Function.Failed")
        #expect(object["errorMessage"] as? String == "the third chunk was the last")
        #expect((object["stackTrace"] as? [Any])?.isEmpty == true)
        let post = try streamedPost(server, id)
        #expect(post.chunkSizes == [8, 8, 8])
        #expect(post.trailer("Lambda-Runtime-Function-Error-Type") == "Function.Failed")
        #expect(post.trailer("Lambda-Runtime-Function-Error-Body") == Data(LambdaErrorReport(Failure()).json).base64EncodedString())
        #expect(!server.requests.contains { $0.path.hasSuffix("/error") }, "nothing goes to /error once bytes were sent")
        #expect(server.outcome(for: next) == .response(Array("fine".utf8)), "the loop goes on")
        let failed = logs.all.compactMap(jsonObject).first { $0["message"] as? String == "invocation failed" }
        #expect(failed?["streamedBytes"] as? String == "24")
        #expect(server.snapshot.connections == 2, "the stream's connection served the next stream too")
    }

    @Test func aThrowBeforeTheFirstByteIsAnInvocationErrorAsForABufferedHandler() async throws {
        let server = try FakeRuntimeAPI()
        defer { server.stop() }
        let id = server.enqueue(.init(requestID: "early", body: Array("x".utf8), headers: [("Lambda-Runtime-Invocation-Id", "attempt-9")]))
        let exit = try await runStreamingLoop(against: server) { _ in
            ClosureStreamingHandler { _, _, _ in throw Failure() }
        }
        #expect(isFinished(exit))
        #expect(server.outcome(for: id) == .error(errorType: "Function.Failed", body: LambdaErrorReport(Failure()).json))
        #expect(!server.requests.contains { $0.path.hasSuffix("/response") })
        let post = try #require(server.requests.first { $0.path.hasSuffix("/\(id)/error") })
        #expect(post.header("Lambda-Runtime-Invocation-Id") == "attempt-9")
        #expect(!post.isChunked)
    }

    @Test func theFunctionURLPreludeRoundTripsStatusHeadersAndCookies() async throws {
        let server = try FakeRuntimeAPI()
        defer { server.stop() }
        let id = server.enqueue("{}")
        let exit = try await runStreamingLoop(against: server) { _ in
            ClosureStreamingHandler { _, writer, _ in
                try await writer.startHTTPResponse(LambdaHTTPResponseHead(
                    statusCode: 201,
                    headers: ["Content-Type": "text/html; charset=utf-8", "X-Quote": #"say "hi" \ bye"#, "X-Unicode": "grüße"],
                    cookies: ["session=abc; Path=/; HttpOnly", "theme=dark"]))
                try await writer.write("<p>hello</p>")
                try await writer.write("<p>world</p>")
            }
        }
        #expect(isFinished(exit))
        let post = try streamedPost(server, id)
        #expect(post.header("Content-Type") == "application/vnd.awslambda.http-integration-response")
        let body = try #require(server.outcome(for: id).flatMap { outcome -> [UInt8]? in
            if case .response(let bytes) = outcome { return bytes }
            return nil
        })
        let delimiter = [UInt8](repeating: 0, count: 8)
        let split = try #require((0...(body.count - 8)).first { Array(body[$0..<($0 + 8)]) == delimiter })
        let prelude = try #require(jsonObject(Array(body[..<split])))
        #expect(prelude["statusCode"] as? Int == 201)
        #expect(prelude["headers"] as? [String: String] == [
            "Content-Type": "text/html; charset=utf-8", "X-Quote": #"say "hi" \ bye"#, "X-Unicode": "grüße"])
        #expect(prelude["cookies"] as? [String] == ["session=abc; Path=/; HttpOnly", "theme=dark"])
        #expect(Array(body[(split + 8)...]) == Array("<p>hello</p><p>world</p>".utf8))
        #expect(post.chunkSizes.count == 3, "the prelude goes out at once, as its own chunk, before the body")
    }

    @Test func misusesAreClearErrorsAndSendNothingWrong() async throws {
        let server = try FakeRuntimeAPI()
        defer { server.stop() }
        let id = server.enqueue("x")
        let badHead = server.enqueue("bad head")
        let seen = Recorder<String>()
        let exit = try await runStreamingLoop(against: server) { _ in
            ClosureStreamingHandler { event, writer, _ in
                if event == Array("bad head".utf8) {
                    // Refused before anything is sent: the handler's throw is an ordinary /error.
                    try await writer.startHTTPResponse(LambdaHTTPResponseHead(statusCode: 200, headers: ["Bad Name": "v"]))
                    return
                }
                try await writer.start(contentType: "text/plain")
                try await writer.write("body")
                for attempt in [
                    { try await writer.startHTTPResponse(LambdaHTTPResponseHead()) },
                    { try await writer.start(contentType: "application/json") },
                ] as [() async throws -> Void] {
                    do { try await attempt(); seen.append("no error") } catch let error as LambdaStreamingError {
                        seen.append(error.errorType + ": " + error.errorMessage)
                    }
                }
                try await writer.finish()
                try await writer.finish()
                do { try await writer.write("late") } catch let error as LambdaStreamingError {
                    seen.append(error.errorMessage)
                }
            }
        }
        #expect(isFinished(exit))
        #expect(server.outcome(for: id) == .response(Array("body".utf8)))
        #expect(try streamedPost(server, id).header("Content-Type") == "text/plain")
        #expect(seen.all == [
            "Runtime.StreamingMisuse: the HTTP response head must come before the first byte: the response stream has already started (its Content-Type went out with the first write)",
            "Runtime.StreamingMisuse: the content type must come before the first byte: the response stream has already started (its Content-Type went out with the first write)",
            "write after finish(): the response stream is complete",
        ])
        guard case .error(let type, let body) = server.outcome(for: badHead) else {
            Issue.record("\(String(describing: server.outcome(for: badHead)))")
            return
        }
        #expect(type == "Runtime.StreamingMisuse")
        #expect(String(decoding: body, as: UTF8.self).contains("not an HTTP token"))
    }

    @Test func theFirstChunkReachesTheRuntimeAPIBeforeTheHandlerFinishes() async throws {
        let server = try FakeRuntimeAPI()
        defer { server.stop() }
        let id = server.enqueue("x")
        let measured = Recorder<Duration>()
        let exit = try await runStreamingLoop(against: server) { _ in
            ClosureStreamingHandler { [server] _, writer, _ in
                try await writer.write("first")
                let written = ContinuousClock.now
                // Still inside the handler: the server must already have the chunk.
                let deadline = written + .seconds(5)
                while server.snapshot.streamedChunks == 0, ContinuousClock.now < deadline {
                    try await Task.sleep(for: .microseconds(50))
                }
                let arrived = try #require(server.snapshot.lastStreamedChunkAt)
                measured.append(arrived - written)
                try await writer.write("second")
                measured.append(ContinuousClock.now - arrived)
            }
        }
        #expect(isFinished(exit))
        #expect(server.outcome(for: id) == .response(Array("firstsecond".utf8)))
        let post = try streamedPost(server, id)
        let firstChunk = try #require(post.firstChunkAt)
        #expect(firstChunk < post.receivedAt)
        let durations = measured.all
        #expect(durations.count == 2, "the first chunk arrived while the handler was running")
        print("first chunk: at the server \(durations.first ?? .zero) after write() returned (negative: before it returned); "
            + "the handler finished \(post.receivedAt - firstChunk) after the first chunk arrived")
    }

    @Test func theInvocationIdIsEchoedOnAStreamOnlyWhenSent() async throws {
        let server = try FakeRuntimeAPI()
        defer { server.stop() }
        let with = server.enqueue(.init(requestID: "with", body: Array("a".utf8), headers: [("Lambda-Runtime-Invocation-Id", "attempt-7f")]))
        let without = server.enqueue(.init(requestID: "without", body: Array("b".utf8), headers: []))
        let exit = try await runStreamingLoop(against: server) { _ in EchoStreamHandler() }
        #expect(isFinished(exit))
        #expect(try streamedPost(server, with).header("Lambda-Runtime-Invocation-Id") == "attempt-7f")
        #expect(try streamedPost(server, without).header("Lambda-Runtime-Invocation-Id") == nil)
    }

    @Test func anEmptyStreamAndAnUnfinishedOneAreFinishedForTheHandler() async throws {
        let server = try FakeRuntimeAPI()
        defer { server.stop() }
        let empty = server.enqueue("")
        let unfinished = server.enqueue("u")
        let exit = try await runStreamingLoop(against: server) { _ in
            ClosureStreamingHandler { event, writer, _ in
                if !event.isEmpty { try await writer.write(event) }
            }
        }
        #expect(isFinished(exit))
        #expect(server.outcome(for: empty) == .response([]))
        #expect(try streamedPost(server, empty).chunkSizes == [])
        #expect(server.outcome(for: unfinished) == .response(Array("u".utf8)))
    }

    struct Long: LambdaFunctionError {
        let length: Int
        var errorType: String { "Function.Long" }
        var errorMessage: String { String(repeating: "é", count: length) }
    }

    /// Every base64 padding case, and a message too long for a trailer (shortened, still JSON).
    @Test(arguments: [0, 1, 2, 100_000])
    func theErrorBodyTrailerIsBase64OfTheErrorJSON(length: Int) async throws {
        let server = try FakeRuntimeAPI()
        defer { server.stop() }
        let id = server.enqueue("x")
        let exit = try await runStreamingLoop(against: server) { _ in
            ClosureStreamingHandler { _, writer, _ in
                try await writer.write("a")
                throw Long(length: length)
            }
        }
        #expect(isFinished(exit))
        let post = try streamedPost(server, id)
        let trailer = try #require(post.trailer("Lambda-Runtime-Function-Error-Body"))
        #expect(trailer.utf8.count <= 64 * 1024)
        let decoded = try #require(Data(base64Encoded: trailer).map(Array.init))
        if length < 1000 {
            #expect(decoded == LambdaErrorReport(Long(length: length)).json)
        } else {
            let object = try #require(jsonObject(decoded))
            #expect(object["errorType"] as? String == "Function.Long")
            #expect((object["errorMessage"] as? String)?.hasSuffix("… (truncated)") == true)
        }
    }

    @Test(arguments: ["0", "-1", "abc", "67108865", "1.5"])
    func anInvalidEchoStreamChunkIsAConfigurationError(value: String) {
        #expect(throws: LambdaConfigurationError.self) {
            try EchoStreamHandler(environment: ProcessEnvironment(["ECHO_STREAM_CHUNK": value]))
        }
    }

    @Test func echoStreamChunkDefaultsTo16KiB() throws {
        #expect(try EchoStreamHandler(environment: ProcessEnvironment([:])).chunkSize == 16 * 1024)
        #expect(try EchoStreamHandler(environment: ProcessEnvironment(["ECHO_STREAM_CHUNK": " 4096 "])).chunkSize == 4096)
    }
}

/// The README's streaming example, as written there.
struct Countdown: StreamingLambdaHandler {
    func handle(_ event: [UInt8], responseWriter: LambdaResponseStreamWriter, context: LambdaContext) async throws {
        try await responseWriter.startHTTPResponse(LambdaHTTPResponseHead(
            statusCode: 200, headers: ["Content-Type": "text/plain"], cookies: ["seen=1"]))  // optional, first
        for n in (1...3).reversed() { try await responseWriter.write("\(n)\n") }
        try await responseWriter.finish()  // optional: returning finishes too
    }
}

@Suite struct ReadmeStreamingExampleTests {
    @Test func theCountdownStreamsAPreludeAndThreeLines() async throws {
        let server = try FakeRuntimeAPI()
        defer { server.stop() }
        let id = server.enqueue("{}")
        let exit = try await runStreamingLoop(against: server) { _ in Countdown() }
        #expect(isFinished(exit))
        let prelude = Array(#"{"statusCode":200,"headers":{"Content-Type":"text/plain"},"cookies":["seen=1"]}"#.utf8)
        #expect(server.outcome(for: id) == .response(prelude + [UInt8](repeating: 0, count: 8) + Array("3\n2\n1\n".utf8)))
    }
}

/// Streaming in Lambda Managed Instances mode: every loop streams over its own connection. (Named to
/// match `ConcurrentLoopTests`, which `scripts/test.sh` runs apart, one at a time: it times N loops.)
@Suite struct StreamingConcurrentLoopTests {
    @Test func fourLoopsStreamEightEventsIntact() async throws {
        let server = try FakeRuntimeAPI()
        defer { server.stop() }
        let events = (0..<8).map { index in ResponseStreamingTests.pattern(100_000 + index * 4099) }
        let ids = events.map { server.enqueue(.init(body: $0)) }
        // Every loop has taken one event before any finishes: the first chunk waits for four in flight.
        let inFlight = InFlightCounter()
        let run = Task {
            try await runConcurrentStreamingLoops(against: server, loops: 4) { _ in
                GatedEcho(inFlight: inFlight)
            }
        }
        #expect(await server.settle(timeout: .seconds(20)) { $0.outcomeCount == 8 })
        server.finish()
        #expect(isFinished(try await run.value))
        for (id, event) in zip(ids, events) {
            #expect(server.outcome(for: id) == .response(event))
        }
        #expect(inFlight.most == 4)
        #expect(server.snapshot.connections == 8, "two kept-alive connections per loop: /next and streams")
    }

    struct GatedEcho: ConcurrentStreamingLambdaHandler {
        let inFlight: InFlightCounter

        func handle(_ event: [UInt8], responseWriter: LambdaResponseStreamWriter, context: LambdaContext) async throws {
            inFlight.enter()
            defer { inFlight.leave() }
            try await responseWriter.write(event[..<1000])
            let deadline = ContinuousClock.now + .seconds(5)
            while inFlight.most < 4, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(1)) }
            try await EchoStreamHandler(chunkSize: 8192).handle(Array(event[1000...]), responseWriter: responseWriter, context: context)
        }
    }
}
