/// Standard base64 (RFC 4648 §4), without Foundation: API Gateway's binary bodies, the streaming
/// error trailer.
///
/// Table-driven: three bytes become four characters through a 64-byte alphabet, four characters
/// three bytes through a 256-entry reverse table, straight between buffers (`bench/dependency-choices.md`).
public enum Base64 {
    /// The standard alphabet, value → character.
    private static let alphabet: StaticString = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

    /// Character → value for every byte; 0xFF (any value with the high bit set would do) for `=` and
    /// everything outside the alphabet. A literal, so it is static data, not built at first use.
    private static let values: [UInt8] = [
        0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x3E, 0xFF, 0xFF, 0xFF, 0x3F,
        0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3A, 0x3B, 0x3C, 0x3D, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        0xFF, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x0E,
        0x0F, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        0xFF, 0x1A, 0x1B, 0x1C, 0x1D, 0x1E, 0x1F, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28,
        0x29, 0x2A, 0x2B, 0x2C, 0x2D, 0x2E, 0x2F, 0x30, 0x31, 0x32, 0x33, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    ]

    /// Decodes padded or unpadded base64; `nil` for any other character or a wrong length.
    ///
    /// Padding must be whole: `TQ==` and `TQ` decode, `TQ=`, `TW=u` and `TWFu=` do not. Whitespace
    /// is refused like any other character outside the alphabet; bits below the last byte are ignored.
    public static func decode(_ text: String) -> [UInt8]? {
        var text = text
        return text.withUTF8 { decode(utf8: $0) }
    }

    /// Encodes with padding.
    public static func encode(_ bytes: [UInt8]) -> String {
        let count = (bytes.count + 2) / 3 * 4
        return bytes.withUnsafeBufferPointer { input in
            alphabet.withUTF8Buffer { alphabet in
                String(unsafeUninitializedCapacity: count) { output in
                    encode(input, into: output, alphabet: alphabet)
                    return count
                }
            }
        }
    }

    private static func encode(
        _ input: UnsafeBufferPointer<UInt8>,
        into output: UnsafeMutableBufferPointer<UInt8>,
        alphabet: UnsafeBufferPointer<UInt8>
    ) {
        let whole = input.count - input.count % 3
        var index = 0
        var written = 0
        while index < whole {
            let chunk = UInt32(input[index]) << 16 | UInt32(input[index &+ 1]) << 8 | UInt32(input[index &+ 2])
            output[written] = alphabet[Int(chunk >> 18)]
            output[written &+ 1] = alphabet[Int(chunk >> 12 & 63)]
            output[written &+ 2] = alphabet[Int(chunk >> 6 & 63)]
            output[written &+ 3] = alphabet[Int(chunk & 63)]
            index &+= 3
            written &+= 4
        }
        let rest = input.count - whole
        guard rest > 0 else { return }
        let b1 = rest == 2 ? UInt32(input[index &+ 1]) : 0
        let chunk = UInt32(input[index]) << 16 | b1 << 8
        output[written] = alphabet[Int(chunk >> 18)]
        output[written &+ 1] = alphabet[Int(chunk >> 12 & 63)]
        output[written &+ 2] = rest == 2 ? alphabet[Int(chunk >> 6 & 63)] : UInt8(ascii: "=")
        output[written &+ 3] = UInt8(ascii: "=")
    }

    private static func decode(utf8 input: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        // Up to two `=` end the text, and only a text of whole groups; any other `=` is not a digit.
        var digits = input.count
        while digits > 0, input.count - digits < 2, input[digits - 1] == UInt8(ascii: "=") { digits -= 1 }
        if digits < input.count, input.count % 4 != 0 { return nil }
        let rest = digits % 4
        guard rest != 1 else { return nil }
        let whole = digits - rest
        let count = whole / 4 * 3 + (rest == 0 ? 0 : rest - 1)
        var valid = true
        let output = values.withUnsafeBufferPointer { table in
            [UInt8](unsafeUninitializedCapacity: count) { output, initialized in
                valid = decode(input, digits: digits, into: output, table: table)
                initialized = valid ? count : 0
            }
        }
        return valid ? output : nil
    }

    /// Decodes `input[..<digits]` (no `=` left) into `output`, sized for it; false at a byte outside the alphabet.
    private static func decode(
        _ input: UnsafeBufferPointer<UInt8>,
        digits: Int,
        into output: UnsafeMutableBufferPointer<UInt8>,
        table: UnsafeBufferPointer<UInt8>
    ) -> Bool {
        let whole = digits - digits % 4
        var index = 0
        var written = 0
        while index < whole {
            let v0 = table[Int(input[index])]
            let v1 = table[Int(input[index &+ 1])]
            let v2 = table[Int(input[index &+ 2])]
            let v3 = table[Int(input[index &+ 3])]
            guard (v0 | v1 | v2 | v3) & 0x80 == 0 else { return false }
            let chunk = UInt32(v0) << 18 | UInt32(v1) << 12 | UInt32(v2) << 6 | UInt32(v3)
            output[written] = UInt8(truncatingIfNeeded: chunk >> 16)
            output[written &+ 1] = UInt8(truncatingIfNeeded: chunk >> 8)
            output[written &+ 2] = UInt8(truncatingIfNeeded: chunk)
            index &+= 4
            written &+= 3
        }
        let rest = digits - whole
        guard rest > 0 else { return true }
        let v0 = table[Int(input[index])]
        let v1 = table[Int(input[index &+ 1])]
        let v2 = rest == 3 ? table[Int(input[index &+ 2])] : 0
        guard (v0 | v1 | v2) & 0x80 == 0 else { return false }
        let chunk = UInt32(v0) << 18 | UInt32(v1) << 12 | UInt32(v2) << 6
        output[written] = UInt8(truncatingIfNeeded: chunk >> 16)
        if rest == 3 { output[written &+ 1] = UInt8(truncatingIfNeeded: chunk >> 8) }
        return true
    }
}
