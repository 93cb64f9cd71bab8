import Foundation

/// Small JSON helpers over Foundation (lambda-local is a development tool; size does not matter here).
enum JSONText {
    /// Serializes a JSON-compatible value with sorted keys; `{}` if it cannot be serialized.
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

    /// Parses bytes as any JSON value (fragments allowed).
    static func parse(_ bytes: [UInt8]) -> Any? {
        try? JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])
    }
}
