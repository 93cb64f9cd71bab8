@testable import CurlHTTP
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

    /// The word-at-a-time check finds CR, LF and NUL at every position of every length, and nothing
    /// else (every other byte value, UTF-8 included, is safe).
    @Test func everyForbiddenByteIsFoundWhereverItIs() {
        let safeBytes = (0...255).map(UInt8.init).filter { $0 != 0x0D && $0 != 0x0A && $0 != 0x00 }
        for length in 0...40 {
            let clean = (0..<length).map { safeBytes[($0 * 37 + length) % safeBytes.count] }
            #expect(clean.withUnsafeBytes { CurlSession.isLineSafe($0) }, "length \(length)")
            for position in 0..<length {
                for forbidden: UInt8 in [0x0D, 0x0A, 0x00] {
                    var bytes = clean
                    bytes[position] = forbidden
                    #expect(!bytes.withUnsafeBytes { CurlSession.isLineSafe($0) }, "\(forbidden) at \(position) of \(length)")
                }
            }
        }
        // Each safe byte value filling a whole word (the quick test for bytes below 0x0E passes some
        // of them on to the exact tests), alone and beside each forbidden byte.
        for safe in safeBytes {
            #expect([UInt8](repeating: safe, count: 8).withUnsafeBytes { CurlSession.isLineSafe($0) }, "byte \(safe)")
            for position in 0..<8 {
                for forbidden: UInt8 in [0x0D, 0x0A, 0x00] {
                    var word = [UInt8](repeating: safe, count: 8)
                    word[position] = forbidden
                    #expect(!word.withUnsafeBytes { CurlSession.isLineSafe($0) }, "\(forbidden) at \(position) among \(safe)")
                }
            }
        }
        #expect(CurlSession.isLineSafe("caf\u{E9} \u{1F600} \u{85}\u{2028}"))
        #expect(!CurlSession.isLineSafe("http://127.0.0.1:9001/2018-06-01/runtime/invocation/a\rb/response"))
    }
}
