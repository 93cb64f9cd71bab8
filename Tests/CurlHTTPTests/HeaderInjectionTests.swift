import CurlHTTP
import FakeRuntimeAPI
import Testing

/// No value that reaches a libcurl header line can end it early.
@Suite struct HeaderInjectionTests {
    @Test(arguments: ["a\r\nX-Injected: 1", "a\nb", "a\rb", "a\u{0}b"])
    func headerValuesWithLineBreaksAreRefusedBeforeSending(_ value: String) throws {
        let server = try FakeRuntimeAPI()
        defer { server.stop() }
        let session = try CurlSession()
        let url = "http://\(server.runtimeAPI)/2018-06-01/runtime/invocation/next"
        #expect(throws: CurlError.self) {
            try session.perform(HTTPRequest(method: .get, url: url, headers: ["X-Value": value]))
        }
        #expect(throws: CurlError.self) {
            try session.perform(HTTPRequest(method: .get, url: url, headers: HTTPHeaders([HTTPHeader("X-\(value)", "v")])))
        }
        #expect(throws: CurlError.self) { try session.perform(HTTPRequest(method: .get, url: url + "?q=" + value)) }
        #expect(server.requests.isEmpty, "nothing was sent")
        do {
            _ = try session.perform(HTTPRequest(method: .get, url: url, headers: ["X-Value": value]))
        } catch {
            #expect(error.kind == .invalidRequest)
        }
    }
}
