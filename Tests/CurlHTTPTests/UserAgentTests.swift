@testable import CurlHTTP
import FakeRuntimeAPI
import Testing

/// The session's `User-Agent` is sent once per request, made once per session.
@Suite struct UserAgentTests {
    private func send(_ session: CurlSession, _ server: FakeRuntimeAPI, _ request: (String) -> HTTPRequest) throws -> [String] {
        server.setOverride { _ in .init(status: 200) }
        _ = try session.perform(request("http://\(server.runtimeAPI)/ua"))
        let sent = try #require(server.requests.last)
        return sent.headers.filter { $0.0.lowercased() == "user-agent" }.map(\.1)
    }

    @Test func everyUnsignedRequestCarriesTheSessionsUserAgentOnce() throws {
        let server = try FakeRuntimeAPI()
        defer { server.stop() }
        let session = try CurlSession(configuration: .init(userAgent: "test-agent/1"))
        for method in [HTTPMethod.get, .post, .get, .put, .head, .post] {
            let agents = try send(session, server) { HTTPRequest(method: method, url: $0, body: method.sendsBody ? [1] : []) }
            #expect(agents == ["test-agent/1"], "\(method)")
        }
        let typed = try send(session, server) {
            HTTPRequest(method: .post, url: $0, headers: ["Content-Type": "text/plain"], body: [1])
        }
        #expect(typed == ["test-agent/1"])
    }

    @Test func aRequestsOwnUserAgentReplacesTheSessionsOne() throws {
        let server = try FakeRuntimeAPI()
        defer { server.stop() }
        let session = try CurlSession(configuration: .init(userAgent: "test-agent/1"))
        for method in [HTTPMethod.get, .post] {
            let agents = try send(session, server) {
                HTTPRequest(method: method, url: $0, headers: ["user-agent": "mine/2"], body: method.sendsBody ? [1] : [])
            }
            #expect(agents == ["mine/2"], "\(method)")
            // Nothing of it stays for the next request.
            #expect(try send(session, server) { HTTPRequest(method: method, url: $0) } == ["test-agent/1"])
        }
    }

    @Test func anEmptyUserAgentSendsNone() throws {
        let server = try FakeRuntimeAPI()
        defer { server.stop() }
        let session = try CurlSession(configuration: .init(userAgent: ""))
        #expect(try send(session, server) { HTTPRequest(url: $0) }.isEmpty)
        #expect(try send(session, server) { HTTPRequest(method: .post, url: $0, body: [1]) }.isEmpty)
    }

    @Test(arguments: ["a\r\nX-Injected: 1", "a\nb", "a\u{0}b"])
    func aUserAgentThatWouldSplitTheLineIsRefused(_ agent: String) {
        #expect(throws: CurlError.self) { try CurlSession(configuration: .init(userAgent: agent)) }
    }

    @Test(arguments: ["", "test-agent/1"])
    func aStreamedRequestCarriesTheSessionsUserAgentOrNone(_ agent: String) throws {
        let server = try FakeRuntimeAPI()
        defer { server.stop() }
        server.setOverride { _ in .init(status: 202) }
        let session = try CurlSession(configuration: .init(userAgent: agent))
        let upload = try session.startStreamingUpload(HTTPRequest(method: .post, url: "http://\(server.runtimeAPI)/stream"))
        _ = try upload.write([1, 2, 3])
        #expect(try upload.finish().status == 202)
        let sent = try #require(server.requests.last)
        #expect(sent.headers.filter { $0.0.lowercased() == "user-agent" }.map(\.1) == (agent.isEmpty ? [] : [agent]))
    }
}

/// Unsigned requests send no `Accept: */*` (the same meaning as none); a request's own Accept goes out.
@Suite struct AcceptFieldTests {
    @Test func noAcceptUnlessTheRequestNamesOne() throws {
        let server = try FakeRuntimeAPI()
        defer { server.stop() }
        server.setOverride { _ in .init(status: 200) }
        let session = try CurlSession()
        let url = "http://\(server.runtimeAPI)/accept"
        for (method, accept) in [(HTTPMethod.get, nil), (.post, nil), (.get, "application/json"), (.post, "text/plain"), (.put, nil)] as [(HTTPMethod, String?)] {
            var headers = HTTPHeaders()
            if let accept { headers.add("Accept", accept) }
            _ = try session.perform(HTTPRequest(method: method, url: url, headers: headers, body: method.sendsBody ? [1] : []))
            let sent = try #require(server.requests.last)
            #expect(sent.headers.filter { $0.0.lowercased() == "accept" }.map(\.1) == (accept.map { [$0] } ?? []), "\(method) \(accept ?? "-")")
        }
    }
}
