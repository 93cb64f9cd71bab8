import Foundation

/// Small JSON helpers over Foundation (lambda-local is a development tool; size does not matter here).
enum JSONText {
    /// Serializes a JSON-compatible value with sorted keys; `{}` if it cannot be serialized. Only for
    /// `/_local/stats`, whose shape is a report, not a protocol; everything else is typed (``encode(_:)``).
    static func object(_ value: Any) -> String {
        guard JSONSerialization.isValidJSONObject(value),
              let data = try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .withoutEscapingSlashes])
        else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }

    /// Serializes to bytes.
    static func bytes(_ value: Any) -> [UInt8] {
        Array(object(value).utf8)
    }

}

extension JSONText {
    /// Encodes a value with sorted keys and unescaped slashes; `{}` if it cannot be encoded.
    static func encode(_ value: some Encodable) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? Array(encoder.encode(value))) ?? Array("{}".utf8)
    }
}

extension JSONText {
    /// A decoder for request bodies.
    static var decoder: BytesDecoder { BytesDecoder() }

    /// Decodes JSON from bytes.
    struct BytesDecoder {
        func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8]) throws -> T {
            try JSONDecoder().decode(type, from: Data(bytes))
        }
    }
}
