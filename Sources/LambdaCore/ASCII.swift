/// ASCII byte classes and hex digits, decided on bytes, never on `Character`.
///
/// Ids, versions, header names and escapes are ASCII by validation; a Unicode-aware check
/// (`Character.isLetter`, `isHexDigit`) would let other scripts' letters and digits through.
public enum ASCII {
    /// `0-9`.
    @inlinable public static func isDigit(_ byte: UInt8) -> Bool {
        byte &- UInt8(ascii: "0") < 10
    }

    /// `A-Z` and `a-z`.
    @inlinable public static func isLetter(_ byte: UInt8) -> Bool {
        (byte | 0x20) &- UInt8(ascii: "a") < 26
    }

    /// `A-Z`, `a-z` and `0-9`.
    @inlinable public static func isAlphanumeric(_ byte: UInt8) -> Bool {
        isLetter(byte) || isDigit(byte)
    }

    /// A visible character or the space (0x20–0x7E): safe as is in a header value.
    @inlinable public static func isPrintable(_ byte: UInt8) -> Bool {
        byte &- 0x20 < 0x5F
    }

    /// The hex digit of the low four bits of `nibble`: `0-9a-f`, or `0-9A-F` when `uppercase`
    /// (percent-encoding as SigV4 signs it).
    @inlinable public static func hexDigit(_ nibble: UInt8, uppercase: Bool = false) -> UInt8 {
        let value = nibble & 0xF
        return value < 10 ? UInt8(ascii: "0") + value : (uppercase ? UInt8(ascii: "A") : UInt8(ascii: "a")) - 10 + value
    }

    /// The value (0–15) of a hex digit `0-9`, `a-f` or `A-F`; `nil` for any other byte.
    @inlinable public static func hexValue(_ byte: UInt8) -> UInt8? {
        if isDigit(byte) { return byte &- UInt8(ascii: "0") }
        let lower = byte | 0x20
        return lower &- UInt8(ascii: "a") < 6 ? lower &- UInt8(ascii: "a") &+ 10 : nil
    }

    /// `value` in lowercase hex, exactly `digits` long: zero-padded, or its low digits when longer.
    public static func hex(_ value: UInt64, digits: Int) -> String {
        let count = max(0, digits)
        return String(unsafeUninitializedCapacity: count) { buffer in
            for index in 0..<count {
                buffer[count - 1 - index] = hexDigit(UInt8(truncatingIfNeeded: value >> UInt64(4 * index)))
            }
            return count
        }
    }
}
