@testable import CurlHTTP
import Testing

/// The unreserved set is RFC 3986's, for every byte value, and encoding follows it.
@Suite struct PercentEncodingTests {
    @Test func exactlyTheRFC3986UnreservedBytesAreUnreserved() {
        let unreserved = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~".utf8)
        for byte in UInt8.min...UInt8.max {
            #expect(PercentEncoding.isUnreserved(byte) == unreserved.contains(byte), "byte \(byte)")
        }
    }

    @Test func everyOtherByteIsEncodedAsUppercaseHex() {
        let bytes = Array(UInt8.min...UInt8.max)
        let expected = bytes.map { byte in
            PercentEncoding.isUnreserved(byte) ? String(UnicodeScalar(byte)) : "%" + (byte < 16 ? "0" : "") + String(byte, radix: 16, uppercase: true)
        }.joined()
        let encoded = bytes.withUnsafeBufferPointer { input in
            let count = PercentEncoding.encodedCount(input)
            return String(unsafeUninitializedCapacity: count) { PercentEncoding.encode(input, into: $0, at: 0) }
        }
        #expect(encoded == expected)
        #expect(bytes.withUnsafeBufferPointer { PercentEncoding.encodedCount($0) } == 66 + 3 * 190)
    }
}

/// The session knows GET, HEAD and POST by their exact tokens; every other token is a custom method.
@Suite struct HTTPMethodTests {
    @Test func onlyTheExactTokensAreTheMethodsLibcurlNames() {
        #expect(HTTPMethod.get.sendsBody == false)
        #expect(HTTPMethod.head.sendsBody == false)
        #expect(HTTPMethod.post.sendsBody)
        #expect(HTTPMethod.put.sendsBody)
        for token in ["get", "Get", "GET ", "HEAD\u{0}", "POS", "PUT", "DELETE", "", "G\u{45}T\u{301}"] {
            let method = HTTPMethod(rawValue: token)
            #expect(method.known == .other, "\(token.debugDescription)")
            #expect(method.sendsBody)
        }
        #expect(HTTPMethod(rawValue: "GET").known == .get)
        #expect(HTTPMethod(rawValue: "HEAD").known == .head)
        #expect(HTTPMethod(rawValue: "POST").known == .post)
        #expect(HTTPMethod(rawValue: "POST") == .post)
        #expect(Set([HTTPMethod.get, HTTPMethod(rawValue: "GET"), .post]).count == 2)
    }
}
