import LambdaCore
import Testing

@Suite struct ASCIITests {
    /// Every byte against the obvious definition, so the arithmetic tricks cannot drift.
    @Test func classesMatchTheirDefinitionForEveryByte() {
        for value in 0...255 {
            let byte = UInt8(value)
            let digit = (0x30...0x39).contains(value)
            let letter = (0x41...0x5A).contains(value) || (0x61...0x7A).contains(value)
            #expect(ASCII.isDigit(byte) == digit, "\(value)")
            #expect(ASCII.isLetter(byte) == letter, "\(value)")
            #expect(ASCII.isAlphanumeric(byte) == (digit || letter), "\(value)")
            #expect(ASCII.isPrintable(byte) == (0x20...0x7E).contains(value), "\(value)")
        }
    }

    @Test func hexDigitsAreLowercaseAndUseTheLowNibble() {
        #expect((0...15).map { ASCII.hexDigit(UInt8($0)) } == Array("0123456789abcdef".utf8))
        #expect(ASCII.hexDigit(0xAB) == UInt8(ascii: "b"))
    }

    @Test func uppercaseHexDigits() {
        #expect((0...15).map { ASCII.hexDigit(UInt8($0), uppercase: true) } == Array("0123456789ABCDEF".utf8))
    }

    /// Every byte: exactly `0-9`, `a-f` and `A-F` have a value, and digit and value round-trip.
    @Test func hexValueOfEveryByte() {
        let digits = Array("0123456789abcdef".utf8)
        for value in 0...255 {
            let byte = UInt8(value)
            let lower = (0x41...0x5A).contains(value) ? byte + 0x20 : byte
            let expected = digits.firstIndex(of: lower).map(UInt8.init)
            #expect(ASCII.hexValue(byte) == expected, "\(value)")
        }
        for nibble in UInt8(0)...15 {
            #expect(ASCII.hexValue(ASCII.hexDigit(nibble)) == nibble)
            #expect(ASCII.hexValue(ASCII.hexDigit(nibble, uppercase: true)) == nibble)
        }
    }

    @Test func hexIsPaddedOrCutToTheDigitsAsked() {
        #expect(ASCII.hex(0x2a, digits: 4) == "002a")
        #expect(ASCII.hex(0x1234_5678, digits: 4) == "5678")
        #expect(ASCII.hex(.max, digits: 18) == "00ffffffffffffffff")
        #expect(ASCII.hex(7, digits: 0) == "")
    }

    @Test func lowercasingFoldsOnlyTheTwentySixLetters() {
        for value in 0...255 {
            let byte = UInt8(value)
            #expect(ASCII.lowercased(byte) == ((0x41...0x5A).contains(value) ? byte + 0x20 : byte), "\(value)")
        }
    }

    @Test func fieldNamesCompareByBytesIgnoringOnlyASCIICase() {
        #expect(ASCII.equalsIgnoringCase("Content-Type", "content-TYPE"))
        #expect(!ASCII.equalsIgnoringCase("Content-Type", "Content-Typf"))
        #expect(!ASCII.equalsIgnoringCase("Content-Type", "Content-Types"))
        // The Kelvin sign is canonically equivalent to K for String ==, never for a field name.
        #expect(!ASCII.equalsIgnoringCase("\u{212A}ey", "Key"))
        #expect(!ASCII.equalsIgnoringCase("caf\u{E9}", "cafe\u{301}"))
        #expect(ASCII.equalsIgnoringCase("", ""))
        // A byte outside A–Z is not folded: '[' (0x5B) and '{' (0x7B) differ by 0x20 too.
        #expect(!ASCII.equalsIgnoringCase("a[", "a{"))
    }

    @Test func lowercasedBytesMatchOnlyTheirLowercaseForm() {
        let expected = Array("lambda-runtime-aws-request-id".utf8)
        func matches(_ text: String) -> Bool {
            Array(text.utf8).withUnsafeBufferPointer { bytes in
                expected.withUnsafeBufferPointer { ASCII.equalsLowercased(bytes, $0) }
            }
        }
        #expect(matches("Lambda-Runtime-Aws-Request-Id"))
        #expect(matches("LAMBDA-RUNTIME-AWS-REQUEST-ID"))
        #expect(!matches("Lambda-Runtime-Aws-Request-I"))
        #expect(!matches("Lambda_Runtime-Aws-Request-Id"))
    }
}
