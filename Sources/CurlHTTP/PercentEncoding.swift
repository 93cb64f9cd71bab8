import LambdaCore

/// RFC 3986's unreserved set, byte by byte: what `String.percentEncodedUnreserved` leaves as is.
public enum PercentEncoding {
    /// Whether `byte` is unreserved (`A-Z a-z 0-9 - . _ ~`): the only bytes sent as they are.
    @inlinable public static func isUnreserved(_ byte: UInt8) -> Bool {
        // One bit per ASCII byte, set for the unreserved ones: a shift and a mask, where five
        // comparisons cost about 12 instructions a byte (a request id is 36 bytes, twice per
        // invocation). Bytes 0-63: `-` `.` `0`-`9`; 64-127: `A`-`Z` `_` `a`-`z` `~`.
        let low: UInt64 = 1 << 45 | 1 << 46 | 0x3FF << 48
        let high: UInt64 = 0x3FF_FFFF << 1 | 1 << 31 | 0x3FF_FFFF << 33 | 1 << 62
        if byte < 64 { return (low >> UInt64(byte)) & 1 != 0 }
        return byte < 128 && (high >> UInt64(byte &- 64)) & 1 != 0
    }

    /// How many bytes `bytes` take percent-encoded: one for an unreserved byte, three for any other.
    @inlinable public static func encodedCount(_ bytes: UnsafeBufferPointer<UInt8>) -> Int {
        var count = 0
        for byte in bytes { count += isUnreserved(byte) ? 1 : 3 }
        return count
    }

    /// Writes `bytes` percent-encoded (uppercase hex) into `buffer` from `offset`, which has room for
    /// ``encodedCount(_:)`` bytes; returns the offset after the last byte written.
    @inlinable public static func encode(
        _ bytes: UnsafeBufferPointer<UInt8>, into buffer: UnsafeMutableBufferPointer<UInt8>, at offset: Int
    ) -> Int {
        var end = offset
        for byte in bytes {
            if isUnreserved(byte) {
                buffer[end] = byte
                end += 1
            } else {
                buffer[end] = 0x25
                buffer[end + 1] = ASCII.hexDigit(byte >> 4, uppercase: true)
                buffer[end + 2] = ASCII.hexDigit(byte, uppercase: true)
                end += 3
            }
        }
        return end
    }
}

extension String {
    /// The string with every byte outside RFC 3986's unreserved set (`A-Z a-z 0-9 - . _ ~`)
    /// percent-encoded: safe as one path segment or one query value.
    public var percentEncodedUnreserved: String {
        // A request id usually needs nothing: one loop over the contiguous bytes to find that out.
        var text = self
        return text.withUTF8 { bytes in
            let count = PercentEncoding.encodedCount(bytes)
            if count == bytes.count { return self }
            return String(unsafeUninitializedCapacity: count) { PercentEncoding.encode(bytes, into: $0, at: 0) }
        }
    }
}
