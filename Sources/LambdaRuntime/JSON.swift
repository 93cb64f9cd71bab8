/// The little JSON writing the runtime needs (error bodies, log lines), without Foundation.
enum JSON {
    /// Appends `value` as a quoted JSON string, escaping quotes, backslashes and control characters.
    static func appendString(_ value: String, to output: inout String) {
        output.append("\"")
        var needsEscaping = false
        for byte in value.utf8 where byte < 0x20 || byte == 0x22 || byte == 0x5C {
            needsEscaping = true
            break
        }
        guard needsEscaping else {
            output.append(value)
            output.append("\"")
            return
        }
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": output.append("\\\"")
            case "\\": output.append("\\\\")
            case "\n": output.append("\\n")
            case "\r": output.append("\\r")
            case "\t": output.append("\\t")
            case _ where scalar.value < 0x20:
                let hex = Array("0123456789abcdef")
                output.append("\\u00")
                output.append(hex[Int(scalar.value >> 4)])
                output.append(hex[Int(scalar.value & 0xF)])
            default:
                output.unicodeScalars.append(scalar)
            }
        }
        output.append("\"")
    }
}
