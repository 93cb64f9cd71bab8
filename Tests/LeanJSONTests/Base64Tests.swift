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

    /// Every text of up to 8 characters over two digits, `=` and three foreign characters (2 million
    /// texts) decodes exactly as the reference does: same bytes, same refusals.
    @Test func agreesWithTheReferenceOnEveryShortText() {
        let symbols: [[UInt8]] = ["A", "/", "w", "=", "-", "\u{E9}"].map { Array($0.utf8) }
        var digits: [Int] = []
        for length in 0...8 {
            digits = Array(repeating: 0, count: length)
            while true {
                let text = String(decoding: digits.flatMap { symbols[$0] }, as: UTF8.self)
                if Base64.decode(text) != ReferenceBase64.decode(text) {
                    Issue.record("decode(\(text.debugDescription)) differs from the reference")
                    return
                }
                guard let carry = digits.lastIndex(where: { $0 < symbols.count - 1 }) else { break }
                digits[carry] += 1
                for index in (carry + 1)..<length { digits[index] = 0 }
            }
        }
    }

    /// Every ASCII character in every place of a group, alone and after a whole group.
    @Test func agreesWithTheReferenceOnEveryASCIICharacter() {
        for scalar in UInt8(0)...UInt8(127) {
            let character = String(decoding: [scalar], as: UTF8.self)
            for text in ["\(character)AAA", "A\(character)AA", "AA\(character)A", "AAA\(character)", "TWFu\(character)A",
                         "TWFuT\(character)", "TWFuTW\(character)", "TWFuTW\(character)="] {
                #expect(Base64.decode(text) == ReferenceBase64.decode(text), "\(text.debugDescription)")
            }
        }
    }

    /// Random texts over the whole alphabet with `=`, whitespace and foreign characters mixed in, and
    /// random bytes both ways.
    @Test func agreesWithTheReferenceOnRandomInput() {
        var random = SplitMix64(seed: 17)
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
        let foreign: [[UInt8]] = ["=", "=", "=", " ", "\n", "-", "_", "\u{0}", "\u{E9}", "\u{1F600}"].map { Array($0.utf8) }
        for _ in 0..<100_000 {
            let length = Int(random.next() % 24)
            var bytes: [UInt8] = []
            for _ in 0..<length {
                let pick = Int(random.next() % 80)
                if pick < alphabet.count { bytes.append(alphabet[pick]) } else { bytes += foreign[pick % foreign.count] }
            }
            // Half of the texts end in padding, the place where the rules are finest.
            if random.next() % 2 == 0 { bytes += Array(repeating: UInt8(ascii: "="), count: Int(random.next() % 4)) }
            let text = String(decoding: bytes, as: UTF8.self)
            #expect(Base64.decode(text) == ReferenceBase64.decode(text), "\(text.debugDescription)")
        }
        for _ in 0..<5_000 {
            let bytes = (0..<Int(random.next() % 300)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            let encoded = Base64.encode(bytes)
            #expect(encoded == ReferenceBase64.encode(bytes))
            #expect(Base64.decode(encoded) == bytes)
            let unpadded = String(encoded.utf8.prefix { $0 != UInt8(ascii: "=") }) ?? ""
            #expect(Base64.decode(unpadded) == bytes)
        }
    }
}

/// A fixed, seedable generator, so that a failure comes back on the next run.
private struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// The hand-written coder that LeanJSON shipped before the tables (commit f68f648^), kept as the
/// statement of the rules: one 6-bit value per character first, then the bytes.
private enum ReferenceBase64 {
    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
    static let table: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (index, byte) in alphabet.enumerated() { table[Int(byte)] = UInt8(index) }
        return table
    }()

    static func decode(_ text: String) -> [UInt8]? {
        var values: [UInt8] = []
        values.reserveCapacity(text.utf8.count)
        var padding = 0
        for byte in text.utf8 {
            if byte == UInt8(ascii: "=") {
                padding += 1
                continue
            }
            guard padding == 0 else { return nil }
            let value = table[Int(byte)]
            guard value != 0xFF else { return nil }
            values.append(value)
        }
        guard padding <= 2, values.count % 4 != 1 else { return nil }
        if padding > 0, (values.count + padding) % 4 != 0 { return nil }
        var output: [UInt8] = []
        output.reserveCapacity(values.count * 3 / 4)
        var index = 0
        while index + 4 <= values.count {
            let chunk = UInt32(values[index]) << 18 | UInt32(values[index + 1]) << 12 | UInt32(values[index + 2]) << 6 | UInt32(values[index + 3])
            output.append(UInt8(truncatingIfNeeded: chunk >> 16))
            output.append(UInt8(truncatingIfNeeded: chunk >> 8))
            output.append(UInt8(truncatingIfNeeded: chunk))
            index += 4
        }
        let rest = values.count - index
        if rest == 2 {
            let chunk = UInt32(values[index]) << 18 | UInt32(values[index + 1]) << 12
            output.append(UInt8(truncatingIfNeeded: chunk >> 16))
        } else if rest == 3 {
            let chunk = UInt32(values[index]) << 18 | UInt32(values[index + 1]) << 12 | UInt32(values[index + 2]) << 6
            output.append(UInt8(truncatingIfNeeded: chunk >> 16))
            output.append(UInt8(truncatingIfNeeded: chunk >> 8))
        }
        return output
    }

    static func encode(_ bytes: [UInt8]) -> String {
        var output: [UInt8] = []
        output.reserveCapacity((bytes.count + 2) / 3 * 4)
        var index = 0
        while index < bytes.count {
            let b0 = UInt32(bytes[index])
            let b1 = index + 1 < bytes.count ? UInt32(bytes[index + 1]) : 0
            let b2 = index + 2 < bytes.count ? UInt32(bytes[index + 2]) : 0
            let chunk = b0 << 16 | b1 << 8 | b2
            output.append(alphabet[Int(chunk >> 18 & 63)])
            output.append(alphabet[Int(chunk >> 12 & 63)])
            output.append(index + 1 < bytes.count ? alphabet[Int(chunk >> 6 & 63)] : UInt8(ascii: "="))
            output.append(index + 2 < bytes.count ? alphabet[Int(chunk & 63)] : UInt8(ascii: "="))
            index += 3
        }
        return String(decoding: output, as: UTF8.self)
    }
}
