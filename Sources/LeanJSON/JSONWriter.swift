extension JSON {
    /// Compact JSON text with object keys sorted by their UTF-8 bytes.
    public var text: String {
        var output = ""
        write(to: &output)
        return output
    }

    /// Compact JSON as UTF-8 bytes.
    public var bytes: [UInt8] {
        Array(text.utf8)
    }

    /// Appends compact JSON text to `output`.
    public func write(to output: inout String) {
        switch self {
        case .null:
            output += "null"
        case .bool(let value):
            output += value ? "true" : "false"
        case .number(let value):
            output += JSON.format(value)
        case .string(let value):
            JSON.writeString(value, to: &output)
        case .array(let elements):
            output += "["
            for (position, element) in elements.enumerated() {
                if position > 0 { output += "," }
                element.write(to: &output)
            }
            output += "]"
        case .object(let members):
            output += "{"
            // Byte order, not `String <`: that compares canonically, and on keys such as "e\u{301}" and
            // "\u{E9}x" the order it gives depends on the order it was given (found by fuzz-json).
            for (position, key) in members.keys.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }).enumerated() {
                if position > 0 { output += "," }
                JSON.writeString(key, to: &output)
                output += ":"
                members[key]!.write(to: &output)
            }
            output += "}"
        }
    }

    /// Whole numbers without a fraction (`3`, not `3.0`); others in Swift's shortest round-trip form.
    static func format(_ value: Double) -> String {
        if value.rounded() == value, abs(value) < 1e15 {
            return String(Int64(value))
        }
        return value.description
    }

    /// Appends `value` as a quoted JSON string.
    ///
    /// Runs of bytes that need no escape are appended whole; every byte that needs one is ASCII, so
    /// runs start and end on scalar boundaries (not always on `Character` boundaries: `"` followed by
    /// a combining mark is one `Character`, hence the scalar views).
    public static func writeString(_ value: String, to output: inout String) {
        output += "\""
        let utf8 = value.utf8
        var runStart = utf8.startIndex
        var position = runStart
        while position != utf8.endIndex {
            let byte = utf8[position]
            guard byte < 0x20 || byte == 0x22 || byte == 0x5C else {
                utf8.formIndex(after: &position)
                continue
            }
            if runStart != position { output += Substring(value.unicodeScalars[runStart..<position]) }
            switch byte {
            case 0x22: output += "\\\""
            case 0x5C: output += "\\\\"
            case 0x0A: output += "\\n"
            case 0x0D: output += "\\r"
            case 0x09: output += "\\t"
            default:
                output += "\\u00"
                output.unicodeScalars.append(hexDigits[Int(byte >> 4)])
                output.unicodeScalars.append(hexDigits[Int(byte & 0xF)])
            }
            utf8.formIndex(after: &position)
            runStart = position
        }
        if runStart != utf8.endIndex { output += Substring(value.unicodeScalars[runStart...]) }
        output += "\""
    }

    private static let hexDigits: [Unicode.Scalar] = Array("0123456789abcdef".unicodeScalars)
}

extension JSON {
    /// RFC 7396 JSON merge patch: objects merge member by member, `null` removes a member, anything
    /// else replaces the target.
    public func mergePatched(with patch: JSON) -> JSON {
        guard case .object(let patchMembers) = patch else { return patch }
        var result = objectValue ?? [:]
        for (key, value) in patchMembers {
            if value == .null {
                result.removeValue(forKey: key)
            } else {
                result[key] = (result[key] ?? .null).mergePatched(with: value)
            }
        }
        return .object(result)
    }
}
