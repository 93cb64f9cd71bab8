extension String {
    /// The string with every byte outside RFC 3986's unreserved set (`A-Z a-z 0-9 - . _ ~`)
    /// percent-encoded: safe as one path segment or one query value.
    public var percentEncodedUnreserved: String {
        let isUnreserved: (UInt8) -> Bool = { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                || byte == 0x2D || byte == 0x2E || byte == 0x5F || byte == 0x7E
        }
        // A request id usually needs nothing: one loop over the contiguous bytes to find that out.
        let plain = utf8.withContiguousStorageIfAvailable { bytes in
            for byte in bytes where !isUnreserved(byte) { return false }
            return true
        }
        if plain ?? utf8.allSatisfy(isUnreserved) { return self }
        let hex: [UInt8] = Array("0123456789ABCDEF".utf8)
        var encoded: [UInt8] = []
        encoded.reserveCapacity(utf8.count * 3)
        for byte in utf8 {
            if isUnreserved(byte) {
                encoded.append(byte)
            } else {
                encoded.append(0x25)
                encoded.append(hex[Int(byte >> 4)])
                encoded.append(hex[Int(byte & 0x0F)])
            }
        }
        return String(decoding: encoded, as: UTF8.self)
    }
}
