import LeanJSON
import Testing

@Suite struct JSONTests {
    @Test func parsesEveryKindOfValue() throws {
        let value = try JSON(parsing: #" {"s":"a\"b\\c\n\u00e9\ud83d\ude80","n":-12.5e1,"i":42,"t":true,"f":false,"z":null,"a":[1,[2],{}],"o":{"k":"v"}} "#)
        #expect(value["s"] == "a\"b\\c\né🚀")
        #expect(value["n"] == .number(-125))
        #expect(value["i"]?.intValue == 42)
        #expect(value["t"] == true)
        #expect(value["f"] == false)
        #expect(value["z"] == .null)
        #expect(value["a"] == [1, [2], [:]])
        #expect(value["o"]?["k"] == "v")
    }

    @Test func writesCompactSortedAndRoundTrips() throws {
        let value: JSON = ["b": [1, 2.5, "x\"y\n"], "a": ["nested": true], "c": .null]
        #expect(value.text == #"{"a":{"nested":true},"b":[1,2.5,"x\"y\n"],"c":null}"#)
        #expect(try JSON(parsing: value.text) == value)
        #expect(JSON.number(1e20).text == "1e+20")
        #expect(JSON.string("\u{01}").text == #""\u0001""#)
    }

    @Test(arguments: [
        ("", "empty"), ("{", "ends"), (#"{"a":1,}"#, "unexpected"), ("[1 2]", "unexpected"), ("01", "unexpected data"),
        ("1.", "invalid number"), ("-", "invalid number"), (#""\x""#, "escape"), (#""\ud800""#, "escape"),
        ("tru", "ends"), (#"{"a":1}x"#, "unexpected data"), (#"{"a":1,"a":2}"#, "twice"), ("1e999", "out of range"),
        ("\"\u{07}\"", "unexpected"), ("NaN", "unexpected"),
    ])
    func rejectsMalformedTextWithAReason(_ text: String, _ expected: String) {
        #expect {
            try JSON(parsing: text)
        } throws: { error in
            "\(error)".contains(expected)
        }
    }

    @Test func rejectsInvalidUTF8() {
        let bytes: [UInt8] = [0x22, 0xC3, 0x28, 0x22]
        #expect { try JSON(parsing: bytes) } throws: { ($0 as? JSONParseError)?.reason == .invalidUTF8 }
    }

    @Test func limitsNesting() throws {
        let deep = String(repeating: "[", count: 40) + String(repeating: "]", count: 40)
        #expect { try JSON(parsing: deep, maxDepth: 32) } throws: { ($0 as? JSONParseError)?.reason == .tooDeep(limit: 32) }
        #expect(throws: Never.self) { try JSON(parsing: deep, maxDepth: 40) }
    }

    @Test func equivalentKeysAreNamedAsSuchNotAsADuplicate() {
        #expect { try JSON(parsing: #"{"K":1,"\u212A":2}"#) } throws: {
            ($0 as? JSONParseError)?.reason == .equivalentKeys("K", "\u{212A}")
        }
        #expect { try JSON(parsing: #"{"\u00e9":1,"e\u0301":2}"#) } throws: {
            ($0 as? JSONParseError)?.reason == .equivalentKeys("\u{E9}", "e\u{301}")
        }
        #expect { try JSON(parsing: #"{"a":1,"a":2}"#) } throws: { ($0 as? JSONParseError)?.reason == .duplicateKey("a") }
    }

    @Test func errorMessagesQuoteKeysAsJSONSoTheyStayOneLine() {
        let messages = [#"{"a\nb":1,"a\nb":2}"#, #"{"K\r\"":1,"\u212A\r\"":2}"#].map { (text: String) -> String in
            do {
                _ = try JSON(parsing: text)
                return ""
            } catch {
                return "\(error)"
            }
        }
        #expect(messages[0] == #"the key "a\nb" appears twice"#)
        #expect(messages[1].hasPrefix(#"the keys "K\r\"" and "\#u{212A}\r\"" differ in bytes"#))
        #expect(messages.allSatisfy { !$0.utf8.contains { $0 < 0x20 } })
    }

    @Test func memberLookupComparesKeyBytes() throws {
        let value = try JSON(parsing: #"{"\u212Aey":1,"e\u0301":2,"sub":3}"#)
        #expect(value["Key"] == nil, "KELVIN SIGN + ey is not Key")
        #expect(value["\u{212A}ey"] == 1)
        #expect(value["\u{E9}"] == nil, "precomposed é is not e + COMBINING ACUTE")
        #expect(value["e\u{301}"] == 2)
        #expect(value["sub"] == 3)
        #expect(JSON.string("sub")["sub"] == nil)
    }
}
