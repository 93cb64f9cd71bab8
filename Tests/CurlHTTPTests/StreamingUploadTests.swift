import CurlHTTP
import FakeRuntimeAPI
import Testing

/// Chunked uploads with trailers over a session's handle: what goes on the wire, trailer safety, and
/// the connection and session afterwards.
@Suite struct StreamingUploadTests {
    private func url(_ server: FakeRuntimeAPI, _ path: String) -> String {
        "http://\(server.runtimeAPI)\(path)"
    }

    @Test func writesBecomeChunksAndTrailersFollowTheLastOne() throws {
        let server = try FakeRuntimeAPI()
        defer { server.stop() }
        server.setOverride { _ in .init(status: 202, body: "ok") }
        let session = try CurlSession()
        let upload = try session.startStreamingUpload(HTTPRequest(
            method: .post, url: url(server, "/stream"),
            headers: ["Content-Type": "text/plain", "Trailer": "X-Checksum", "Transfer-Encoding": "gzip"]))
        #expect(try upload.write(Array("hello ".utf8)) == nil)
        #expect(try upload.write([]) == nil, "an empty write sends nothing (a 0 chunk would end the body)")
        #expect(try upload.write(Array("world".utf8)) == nil)
        let response = try upload.finish(trailers: ["X-Checksum": "abc123"])
        #expect(response.status == 202)
        #expect(response.bodyText == "ok")
        #expect(upload.bytesSent == 11)
        let request = try #require(server.requests.last)
        #expect(request.isChunked)
        #expect(request.header("Transfer-Encoding") == "chunked", "chunked whatever the caller said")
        #expect(request.header("Expect") == nil)
        #expect(request.chunkSizes == [6, 5])
        #expect(request.body == Array("hello world".utf8))
        #expect(request.trailer("X-Checksum") == "abc123")
        // The same session, and connection, serve the next request.
        let after = try session.perform(HTTPRequest(method: .post, url: url(server, "/after"), body: [1, 2, 3]))
        #expect(after.status == 202)
        let again = try session.startStreamingUpload(HTTPRequest(method: .post, url: url(server, "/again")))
        #expect(try again.finish().status == 202)
        #expect(server.snapshot.connections == 2, "buffered requests keep theirs, streams reuse theirs")
    }

    @Test(arguments: ["a\r\nX-Injected: 1", "a\nb", "a\u{0}b"])
    func trailersWithLineBreaksAreRefusedAndTheUploadCancelled(_ value: String) throws {
        let server = try FakeRuntimeAPI()
        defer { server.stop() }
        server.setOverride { _ in .init(status: 202) }
        let session = try CurlSession()
        let upload = try session.startStreamingUpload(HTTPRequest(method: .post, url: url(server, "/stream")))
        try upload.write(Array("partial".utf8))
        #expect {
            try upload.finish(trailers: ["X-Value": value])
        } throws: { error in
            (error as? CurlError)?.kind == .invalidRequest
        }
        #expect(upload.hasEnded)
        #expect(throws: CurlError.self) { try upload.finish() }
        let request = try session.perform(HTTPRequest(url: url(server, "/next")))
        #expect(request.status == 202, "the session works again after a cancelled upload")
        #expect(!server.requests.contains { $0.path == "/stream" }, "the cut-off upload never completed")
    }

    @Test func theSessionServesNothingElseWhileAnUploadIsOpen() throws {
        let server = try FakeRuntimeAPI()
        defer { server.stop() }
        server.setOverride { _ in .init(status: 202) }
        let session = try CurlSession()
        let upload = try session.startStreamingUpload(HTTPRequest(method: .post, url: url(server, "/stream")))
        #expect {
            try session.perform(HTTPRequest(url: url(server, "/x")))
        } throws: { error in
            (error as? CurlError)?.kind == .invalidRequest
        }
        _ = try upload.finish()
        #expect(try session.perform(HTTPRequest(url: url(server, "/x"))).status == 202)
    }

    @Test func manyStreamsInARowOnOneSessionStayIntact() throws {
        // libcurl 7.88 keeps an easy handle's trailer state across transfers; a second chunked upload
        // with trailers on the same handle corrupted the heap before each stream got its own handle.
        let server = try FakeRuntimeAPI()
        defer { server.stop() }
        server.setOverride { _ in .init(status: 202) }
        let session = try CurlSession()
        for round in 0..<20 {
            let upload = try session.startStreamingUpload(HTTPRequest(method: .post, url: url(server, "/s\(round)")))
            for piece in 0..<3 { try upload.write(Array("\(round)-\(piece);".utf8)) }
            _ = try upload.finish(trailers: ["X-Round": "\(round)"])
            _ = try session.perform(HTTPRequest(url: url(server, "/between")))
        }
        let streams = server.requests.filter { $0.isChunked }
        #expect(streams.count == 20)
        for (round, request) in streams.enumerated() {
            #expect(request.body == Array("\(round)-0;\(round)-1;\(round)-2;".utf8))
            #expect(request.trailer("X-Round") == "\(round)")
        }
        #expect(server.snapshot.connections == 2, "one for the streams, one for the buffered requests")
    }
}

/// The fake Runtime API refuses a response mode other than `streaming`, as the RIE does.
@Suite struct ResponseModeTests {
    @Test func anUnknownResponseModeIs400() throws {
        let server = try FakeRuntimeAPI()
        defer { server.stop() }
        let id = server.enqueue("x")
        let session = try CurlSession()
        _ = try session.perform(HTTPRequest(url: "http://\(server.runtimeAPI)/2018-06-01/runtime/invocation/next"))
        let upload = try session.startStreamingUpload(HTTPRequest(
            method: .post, url: "http://\(server.runtimeAPI)/2018-06-01/runtime/invocation/\(id)/response",
            headers: ["Lambda-Runtime-Function-Response-Mode": "Streaming"]))
        try upload.write([1])
        let response = try upload.finish()
        #expect(response.status == 400)
        #expect(response.bodyText.contains("InvalidFunctionResponseMode"))
        #expect(server.outcome(for: id) == nil)
    }
}
