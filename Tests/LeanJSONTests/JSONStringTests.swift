import LeanJSON
import Testing

@Suite struct StringEscapingTests {
    @Test(arguments: [
        "plain", "", "\"", "\\", "a\"b\\c", "\"\u{301}x", "e\u{301}\"\u{301}", "tab\there\nline\r",
        "\u{1}\u{1F}\u{7F}", "ünïcödé \"quoted\" 🎉", "\u{212A}\"", String(repeating: "\"x", count: 300),
    ])
    func writtenStringsParseBackToTheSameBytes(_ text: String) throws {
        var written = ""
        JSON.writeString(text, to: &written)
        let parsed = try JSON(parsing: written)
        #expect(parsed.stringValue.map { Array($0.utf8) } == Array(text.utf8))
    }

    @Test func escapesAreTheShortOnesAndLowercaseHex() {
        var written = ""
        JSON.writeString("a\"\\\n\r\t\u{1}\u{1F}", to: &written)
        #expect(written == #""a\"\\\n\r\t\u0001\u001f""#)
    }

    @Test func unescapedNonASCIIIsValidatedAndEscapedStringsToo() {
        #expect(throws: JSONParseError.self) { try JSON(parsing: [0x22, 0xC3, 0x22]) }
        #expect(throws: JSONParseError.self) { try JSON(parsing: [0x22, 0x5C, 0x6E, 0xFF, 0x22]) }
        #expect(throws: JSONParseError.self) { try JSON(parsing: [0x22, 0x61, 0x0A, 0x22]) }
        #expect((try? JSON(parsing: Array("\"caf\u{E9}\"".utf8)))?.stringValue == "caf\u{E9}")
    }
}

@Suite struct ByteOrderTests {
    @Test(arguments: [("", "a"), ("a", "b"), ("a", "ab"), ("Z", "a"), ("e\u{301}", "\u{E9}"), ("\u{212A}", "k"), ("ab", "b")])
    func keysSortByTheirBytes(_ first: String, _ second: String) {
        #expect(JSON.precedesInBytes(first, second) == first.utf8.lexicographicallyPrecedes(second.utf8))
        #expect(JSON.precedesInBytes(second, first) == second.utf8.lexicographicallyPrecedes(first.utf8))
        #expect(!JSON.precedesInBytes(first, first))
    }
}

@Suite struct WideStringScanTests {
    /// Every special byte at every position of a long string is found, whatever the word alignment.
    @Test func specialBytesAreFoundAtEveryOffset() throws {
        for offset in 0..<24 {
            for special: UInt8 in [0x22, 0x5C, 0x00, 0x1F, 0x0A] {
                var body = [UInt8](repeating: UInt8(ascii: "a"), count: 40)
                body[offset] = special
                let text = [0x22] + body + [0x22]
                switch special {
                case 0x22:
                    #expect(throws: JSONParseError.self) { try JSON(parsing: text) }
                case 0x5C:
                    body[offset + 1] = UInt8(ascii: "n")
                    let parsed = try JSON(parsing: [0x22] + body + [0x22])
                    #expect(parsed.stringValue?.utf8.count == 39)
                default:
                    #expect(throws: JSONParseError.self, "byte \(special) at \(offset)") { try JSON(parsing: text) }
                }
            }
            var nonASCII = [UInt8](repeating: UInt8(ascii: "b"), count: 40)
            nonASCII.replaceSubrange(offset..<(offset + 2), with: [0xC3, 0xA9])
            #expect(try JSON(parsing: [0x22] + nonASCII + [0x22]).stringValue?.unicodeScalars.contains("\u{E9}") == true)
            nonASCII[offset + 1] = UInt8(ascii: "x")
            #expect(throws: JSONParseError.self, "a cut UTF-8 sequence at \(offset)") { try JSON(parsing: [0x22] + nonASCII + [0x22]) }
        }
    }
}
