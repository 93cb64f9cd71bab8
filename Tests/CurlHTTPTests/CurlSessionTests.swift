import CurlHTTP
import Foundation
import LambdaCore
import FakeRuntimeAPI
import Testing

@Suite struct CurlSessionTests {
    private func url(_ server: FakeRuntimeAPI, _ path: String) -> String {
        "http://\(server.runtimeAPI)\(path)"
    }

    @Test func getReturnsStatusHeadersAndBody() throws {
        let server = try FakeRuntimeAPI()
        defer { server.stop() }
        let id = server.enqueue("{\"hello\":\"world\"}")
        let session = try CurlSession()
        let response = try session.perform(HTTPRequest(url: url(server, "/2018-06-01/runtime/invocation/next")))
        #expect(response.status == 200)
        #expect(response.headers["lambda-runtime-aws-request-id"] == id)
        #expect(response.headers["LAMBDA-RUNTIME-AWS-REQUEST-ID"] == id)
        #expect(response.bodyText == "{\"hello\":\"world\"}")
    }

    @Test func anyStatusIsAResponseNotAnError() throws {
        let server = try FakeRuntimeAPI()
        defer { server.stop() }
        let session = try CurlSession()
        let response = try session.perform(HTTPRequest(method: .post, url: url(server, "/2018-06-01/runtime/invocation/nope/response"), body: [1]))
        #expect(response.status == 400)
        #expect(response.bodyText.contains("InvalidRequestID"))
        let missing = try session.perform(HTTPRequest(url: url(server, "/elsewhere")))
        #expect(missing.status == 404)
    }

    @Test func postSendsExactBodyWithContentLengthAndNoExpectOrChunking() throws {
        let server = try FakeRuntimeAPI()
        defer { server.stop() }
        server.setOverride { _ in .init(status: 202) }
        let session = try CurlSession()
        let body = (0..<100_000).map { UInt8(truncatingIfNeeded: $0) }
        let response = try session.perform(HTTPRequest(
            method: .post, url: url(server, "/upload"), headers: ["X-Custom": "1", "Content-Type": "application/octet-stream"],
            body: body))
        #expect(response.status == 202)
        let request = try #require(server.requests.last)
        #expect(request.body == body)
        #expect(request.header("Content-Length") == "100000")
        #expect(request.header("Expect") == nil)
        #expect(request.header("Transfer-Encoding") == nil)
        #expect(request.header("X-Custom") == "1")
        #expect(request.header("Content-Type") == "application/octet-stream")
        #expect(request.header("User-Agent")?.hasPrefix("swift-lambda-bluegreen") == true)
    }

    @Test(arguments: [HTTPMethod.put, .patch, .delete, .post])
    func bodyMethodsSendTheirTokenAndAnEmptyBodySafely(method: HTTPMethod) throws {
        let server = try FakeRuntimeAPI()
        defer { server.stop() }
        server.setOverride { _ in .init(status: 204) }
        let session = try CurlSession()
        let response = try session.perform(HTTPRequest(method: method, url: url(server, "/thing")))
        #expect(response.status == 204)
        let request = try #require(server.requests.last)
        #expect(request.method == method.rawValue)
        #expect(request.header("Content-Length") == "0")
        #expect(request.header("Content-Type") == nil, "no form content type is invented")
    }

    @Test func oneHandleKeepsOneConnectionAcrossMethods() throws {
        let server = try FakeRuntimeAPI()
        defer { server.stop() }
        server.setOverride { request in .init(status: 200, body: request.method) }
        let session = try CurlSession()
        for method in [HTTPMethod.get, .post, .get, .put, .delete, .get] {
            let response = try session.perform(HTTPRequest(method: method, url: url(server, "/x"), body: [1, 2]))
            #expect(response.bodyText == method.rawValue)
        }
        #expect(server.snapshot.connections == 1)
    }

    /// The handle skips `curl_easy_reset` between requests on a kept-alive connection: nothing of one
    /// request (method, custom method, HEAD's no-body flag, headers, URL, body) may reach the next.
    @Test func aReusedHandleSendsEachRequestAsAFreshOneWould() throws {
        let server = try FakeRuntimeAPI()
        defer { server.stop() }
        // No body after a HEAD's head, as a real server does (the fake writes whatever it is given).
        server.setOverride { request in .init(status: 200, body: request.method == "HEAD" ? "" : request.method) }
        let session = try CurlSession()
        let steps: [(HTTPMethod, String, HTTPHeaders, [UInt8])] = [
            (.get, "/a", ["X-Only-First": "1"], []),
            (.get, "/a", [:], []),
            (.put, "/b", ["Content-Type": "application/json"], Array("{}".utf8)),
            (.head, "/c", [:], []),
            (.post, "/d", [:], [1, 2, 3]),
            (.delete, "/e", ["X-Delete": "yes"], []),
            (.patch, "/e", [:], [4]),
            (.get, "/f?q=1", [:], [9]),
            (.post, "/d", ["Content-Type": "text/plain", "X-Two": ""], Array("hi".utf8)),
            (.head, "/c", [:], []),
            (.put, "/b", [:], []),
        ]
        for (method, path, headers, body) in steps {
            let response = try session.perform(HTTPRequest(method: method, url: url(server, path), headers: headers, body: body))
            let request = try #require(server.requests.last)
            let comment = Comment(rawValue: "\(method) \(path)")
            #expect(response.status == 200, comment)
            #expect(response.bodyText == (method == .head ? "" : method.rawValue), comment)
            #expect(request.method == method.rawValue, comment)
            #expect(request.path == path, comment)
            #expect(request.header("X-Only-First") == (path == "/a" && !headers.fields.isEmpty ? "1" : nil), comment)
            #expect(request.header("X-Delete") == (method == .delete ? "yes" : nil), comment)
            #expect(request.header("Expect") == nil, comment)
            #expect(request.header("Transfer-Encoding") == nil, comment)
            #expect(request.header("Content-Type") == headers["Content-Type"], comment)
            #expect(request.header("User-Agent")?.hasPrefix("swift-lambda-bluegreen") == true, comment)
            if method != .get, method != .head {
                #expect(request.body == body, comment)
                #expect(request.header("Content-Length") == String(body.count), comment)
            } else {
                #expect(request.body.isEmpty, comment)
                #expect(request.header("Content-Length") == nil, comment)
            }
        }
        #expect(server.snapshot.connections == 1)
    }

    @Test func aTimeoutDoesNotOutliveItsRequestOnAReusedHandle() throws {
        let server = try FakeRuntimeAPI()
        defer { server.stop() }
        let session = try CurlSession()
        let next = url(server, "/2018-06-01/runtime/invocation/next")
        for _ in 0..<2 {
            #expect(try session.perform(HTTPRequest(url: url(server, "/x"))).status == 404)
        }
        let first = server.enqueue("{}")
        let answered = try session.perform(HTTPRequest(url: next, timeout: .milliseconds(200)))
        #expect(answered.headers["lambda-runtime-aws-request-id"] == first)
        let posted = try session.perform(HTTPRequest(
            method: .post, url: url(server, "/2018-06-01/runtime/invocation/\(first)/response"), body: [1]))
        #expect(posted.status == 202)
        // The next event comes after the first request's 200 ms: a kept timeout would fail this wait. It
        // is queued from a thread of its own: as a task it needed a free cooperative thread while this
        // test holds one in the wait, and with the other held too (a full parallel run) both waited forever.
        let started = ContinuousClock.now
        Thread {
            usleep(600_000)
            _ = server.enqueue("{}")
        }.start()
        let waited = try session.perform(HTTPRequest(url: next))
        #expect(waited.status == 200)
        #expect(ContinuousClock.now - started >= .milliseconds(500), "the request waited past the first one's timeout")
    }

    @Test func timeoutEndsAWaitingRequest() throws {
        let server = try FakeRuntimeAPI()
        defer { server.stop() }
        let session = try CurlSession()
        #expect {
            try session.perform(HTTPRequest(url: url(server, "/2018-06-01/runtime/invocation/next"), timeout: .milliseconds(200)))
        } throws: { error in
            (error as? CurlError)?.kind == .timedOut
        }
    }

    @Test func closedPortIsCouldNotConnect() throws {
        let server = try FakeRuntimeAPI()
        let address = server.runtimeAPI
        server.stop()
        let session = try CurlSession()
        #expect {
            try session.perform(HTTPRequest(url: "http://\(address)/x"))
        } throws: { error in
            (error as? CurlError)?.kind == .couldNotConnect
        }
    }

    @Test func droppedConnectionIsConnectionLost() throws {
        let server = try FakeRuntimeAPI()
        defer { server.stop() }
        server.setOverride { _ in FakeRuntimeAPI.dropConnection }
        let session = try CurlSession()
        #expect {
            try session.perform(HTTPRequest(url: url(server, "/x")))
        } throws: { error in
            (error as? CurlError)?.kind == .connectionLost
        }
    }

    @Test func bodyLimitStopsAnOversizedResponse() throws {
        let server = try FakeRuntimeAPI()
        defer { server.stop() }
        server.setOverride { _ in .init(status: 200, body: [UInt8](repeating: 7, count: 10_000)) }
        let session = try CurlSession()
        #expect {
            try session.perform(HTTPRequest(url: url(server, "/big"), maxResponseBodySize: 1000))
        } throws: { error in
            (error as? CurlError)?.kind == .responseTooLarge
        }
        let fits = try session.perform(HTTPRequest(url: url(server, "/big"), maxResponseBodySize: 10_000))
        #expect(fits.body.count == 10_000)
    }

    @Test func headerListLooksUpCaseInsensitively() {
        var headers: HTTPHeaders = ["Content-Type": "application/json", "X-A": "1"]
        headers.add("x-a", "2")
        #expect(headers["content-type"] == "application/json")
        #expect(headers.values(for: "X-a") == ["1", "2"])
        headers.set("X-A", "3")
        #expect(headers.values(for: "x-a") == ["3"])
        #expect(headers["missing"] == nil)
        #expect(!ASCII.equalsIgnoringCase("Content-Type", "Content-Typf"))
    }
}
