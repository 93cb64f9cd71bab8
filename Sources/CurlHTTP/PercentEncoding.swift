import LambdaCore

extension String {
    /// The string with every byte outside RFC 3986's unreserved set (`A-Z a-z 0-9 - . _ ~`)
    /// percent-encoded: safe as one path segment or one query value.
    public var percentEncodedUnreserved: String {
        let isUnreserved: (UInt8) -> Bool = { byte in
            ASCII.isAlphanumeric(byte) || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_")
                || byte == UInt8(ascii: "~")
        }
        // A request id usually needs nothing: one loop over the contiguous bytes to find that out.
        let plain = utf8.withContiguousStorageIfAvailable { bytes in
            for byte in bytes where !isUnreserved(byte) { return false }
            return true
        }
        if plain ?? utf8.allSatisfy(isUnreserved) { return self }
        var encoded: [UInt8] = []
        encoded.reserveCapacity(utf8.count * 3)
        for byte in utf8 {
            if isUnreserved(byte) {
                encoded.append(byte)
            } else {
                encoded.append(0x25)
                encoded.append(ASCII.hexDigit(byte >> 4, uppercase: true))
                encoded.append(ASCII.hexDigit(byte, uppercase: true))
            }
        }
        return String(decoding: encoded, as: UTF8.self)
    }
}
