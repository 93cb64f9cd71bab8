import LeanJSON
import Testing

/// What API Gateway's binary bodies and the streaming error trailer rely on: RFC 4648 §4 with or
/// without padding, and `nil` (a 400, never a crash) for anything else.
@Suite struct Base64Tests {
    /// RFC 4648 §10's test vectors, both ways.
    @Test(arguments: [
        ("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="), ("fooba", "Zm9vYmE="),
        ("foobar", "Zm9vYmFy"),
    ])
    func rfcVectors(_ plain: String, _ encoded: String) {
        #expect(Base64.encode(Array(plain.utf8)) == encoded)
        #expect(Base64.decode(encoded) == Array(plain.utf8))
    }

    /// Every length up to a few groups, every byte value, and a body larger than one page.
    @Test func roundTrips() {
        for count in 0..<64 {
            let bytes = (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ count) }
            #expect(Base64.decode(Base64.encode(bytes)) == bytes)
        }
        let all = Array(UInt8.min...UInt8.max)
        #expect(Base64.decode(Base64.encode(all)) == all)
        let large = (0..<65_536).map { UInt8(truncatingIfNeeded: $0 &* 131) }
        #expect(Base64.decode(Base64.encode(large)) == large)
        #expect(Base64.decode("+/+/") == [0xFB, 0xFF, 0xBF])
    }

    /// Padding may be left out (API Gateway sends it, other producers do not), but not half done.
    @Test func paddingIsWholeOrAbsent() {
        #expect(Base64.decode("TWE") == Array("Ma".utf8))
        #expect(Base64.decode("TQ") == Array("M".utf8))
        #expect(Base64.decode("TWFuTQ") == Array("ManM".utf8))
        #expect(Base64.decode("TQ=") == nil)
        #expect(Base64.decode("TW=u") == nil)
        #expect(Base64.decode("TWFu=") == nil)
        #expect(Base64.decode("T===") == nil)
        #expect(Base64.decode("TWFu====") == nil)
        #expect(Base64.decode("TW==TWFu") == nil)
    }

    /// Wrong lengths, characters outside the standard alphabet (base64url's too) and whitespace.
    @Test(arguments: ["T", "=", "==", "====", "e30=!", "-_-_", "TW Fu", " TWFu", "TWFu\n", "TW\r\nFu", "TWF\u{E9}"])
    func invalidTextIsNil(_ text: String) {
        #expect(Base64.decode(text) == nil)
    }
}
