/// AWS event-stream framing (`application/vnd.amazon.eventstream`), as InvokeWithResponseStream answers.
///
/// A message is a 12-byte prelude (total length, headers length, CRC32 of those 8 bytes), the headers, the
/// payload, and a CRC32 of everything before it; all integers big-endian. Headers here are strings only
/// (type 7: a 1-byte name length, the name, the type, a 2-byte value length, the value).
enum EventStream {
    /// The content type of the whole HTTP response.
    static let contentType = "application/vnd.amazon.eventstream"

    /// One event message (`:message-type` `event`) of type `eventType` carrying `payload`.
    static func event(_ eventType: String, contentType: String, payload: some Collection<UInt8>) -> [UInt8] {
        message(headers: [(":event-type", eventType), (":content-type", contentType), (":message-type", "event")], payload: payload)
    }

    /// A message with string `headers` and `payload`.
    static func message(headers: [(String, String)], payload: some Collection<UInt8>) -> [UInt8] {
        var encodedHeaders: [UInt8] = []
        for (name, value) in headers {
            let nameBytes = Array(name.utf8), valueBytes = Array(value.utf8)
            encodedHeaders.append(UInt8(truncatingIfNeeded: nameBytes.count))
            encodedHeaders.append(contentsOf: nameBytes)
            encodedHeaders.append(7)
            appendBigEndian(UInt16(truncatingIfNeeded: valueBytes.count), to: &encodedHeaders)
            encodedHeaders.append(contentsOf: valueBytes)
        }
        let total = 12 + encodedHeaders.count + payload.count + 4
        var bytes: [UInt8] = []
        bytes.reserveCapacity(total)
        appendBigEndian(UInt32(total), to: &bytes)
        appendBigEndian(UInt32(encodedHeaders.count), to: &bytes)
        appendBigEndian(CRC32.checksum(bytes), to: &bytes)
        bytes.append(contentsOf: encodedHeaders)
        bytes.append(contentsOf: payload)
        appendBigEndian(CRC32.checksum(bytes), to: &bytes)
        return bytes
    }

    private static func appendBigEndian<T: FixedWidthInteger>(_ value: T, to bytes: inout [UInt8]) {
        withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) }
    }
}

/// CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320), the checksum event-stream messages carry.
enum CRC32 {
    private static let table: [UInt32] = (0..<256).map { index in
        var value = UInt32(index)
        for _ in 0..<8 { value = value & 1 == 1 ? 0xEDB8_8320 ^ (value >> 1) : value >> 1 }
        return value
    }

    /// The CRC-32 of `bytes`.
    static func checksum(_ bytes: some Sequence<UInt8>) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes { crc = table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8) }
        return crc ^ 0xFFFF_FFFF
    }
}
