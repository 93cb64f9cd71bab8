import CurlHTTP
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
