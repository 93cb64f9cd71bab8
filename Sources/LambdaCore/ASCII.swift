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

    /// `byte` with A–Z folded to a–z; every other byte unchanged (the rule for HTTP field names).
    @inlinable public static func lowercased(_ byte: UInt8) -> UInt8 {
        (byte >= 0x41 && byte <= 0x5A) ? byte | 0x20 : byte
    }

    /// Whether `bytes`, ASCII-lowercased, are exactly `lowercased`.
    @inlinable public static func equalsLowercased(_ bytes: UnsafeBufferPointer<UInt8>, _ lowercased: UnsafeBufferPointer<UInt8>) -> Bool {
        guard bytes.count == lowercased.count else { return false }
        for index in 0..<bytes.count where Self.lowercased(bytes[index]) != lowercased[index] {
            return false
        }
        return true
    }

    /// Whether two strings hold the same bytes once ASCII letters are folded: HTTP field names.
    /// Never Unicode equivalence (`"\u{212A}"`, the Kelvin sign, is not `"k"`).
    public static func equalsIgnoringCase(_ lhs: String, _ rhs: String) -> Bool {
        guard lhs.utf8.count == rhs.utf8.count else { return false }
        let fast = lhs.utf8.withContiguousStorageIfAvailable { left in
            rhs.utf8.withContiguousStorageIfAvailable { right in
                for index in 0..<left.count where left[index] != right[index] {
                    guard lowercased(left[index]) == lowercased(right[index]) else { return false }
                }
                return true
            }
        }
        if let fast, let result = fast { return result }
        for (a, b) in zip(lhs.utf8, rhs.utf8) where a != b {
            guard lowercased(a) == lowercased(b) else { return false }
        }
        return true
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
