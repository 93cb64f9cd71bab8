import LeanJSON
import Testing

/// Inputs the fuzzers found (scripts/fuzz.sh), kept as tests; the same bytes are in Fuzz/regressions/json/.
@Suite struct FuzzRegressionTests {
    /// fuzz-json: `{"e\u{301}":1,"\u{E9}x":2}` was written with its keys in one order, and the text it
    /// wrote was written back in the other: sorting with `String <` (canonical order) is not stable on
    /// such keys. Keys are now sorted by their UTF-8 bytes.
    @Test func keysAreWrittenInByteOrderWhateverTheirNormalization() throws {
        let input: [UInt8] = Array(#"{"e"#.utf8) + [0xCC, 0x81] + Array(#"":1,""#.utf8) + [0xC3, 0xA9] + Array(#"x":2}"#.utf8)
        let value = try JSON(parsing: input)
        let text = value.text
        #expect(Array(text.utf8) == Array(#"{"e"#.utf8) + [0xCC, 0x81] + Array(#"":1,""#.utf8) + [0xC3, 0xA9] + Array(#"x":2}"#.utf8))
        #expect(try JSON(parsing: text).text.utf8.elementsEqual(text.utf8))
    }

    /// Keys that differ only in normalization stay distinct bytes on the way through, and ASCII keys
    /// keep the order they always had.
    @Test func writingKeepsKeyBytesAndAsciiOrder() throws {
        let value = try JSON(parsing: #"{"b":1,"a":{"z":true,"Z":false},"\u00e9":2,"e\u0301x":3}"#)
        #expect(value.text == "{\"a\":{\"Z\":false,\"z\":true},\"b\":1,\"e\u{301}x\":3,\"\u{E9}\":2}")
    }
}
