#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import LambdaCore

extension JSON {
    /// Compact JSON text with object keys sorted by their UTF-8 bytes.
    public var text: String {
        String(decoding: bytes, as: UTF8.self)
    }

    /// Compact JSON as UTF-8 bytes.
    public var bytes: [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(128)
        write(to: &output)
        return output
    }

    /// Appends compact JSON text to `output`.
    public func write(to output: inout String) {
        output += text
    }

    /// Appends compact JSON as UTF-8 bytes to `output`.
    public func write(to output: inout [UInt8]) {
        switch self {
        case .null:
            output.append(contentsOf: "null".utf8)
        case .bool(let value):
            output.append(contentsOf: value ? "true".utf8 : "false".utf8)
        case .number(let value):
            output.append(contentsOf: JSON.format(value).utf8)
        case .string(let value):
            JSON.writeString(value, to: &output)
        case .array(let elements):
            output.append(UInt8(ascii: "["))
            for (position, element) in elements.enumerated() {
                if position > 0 { output.append(UInt8(ascii: ",")) }
                element.write(to: &output)
            }
            output.append(UInt8(ascii: "]"))
        case .object(let members):
            output.append(UInt8(ascii: "{"))
            // Byte order, not `String <`: that compares canonically, and on keys such as "e\u{301}" and
            // "\u{E9}x" the order it gives depends on the order it was given (found by fuzz-json).
            // Positions are sorted, not members: moving a (String, JSON) pair costs reference counting.
            var order = Array(members.indices)
            order.sort { JSON.precedesInBytes(members[$0].key, members[$1].key) }
            for (position, index) in order.enumerated() {
                if position > 0 { output.append(UInt8(ascii: ",")) }
                JSON.writeString(members[index].key, to: &output)
                output.append(UInt8(ascii: ":"))
                members[index].value.write(to: &output)
            }
            output.append(UInt8(ascii: "}"))
        }
    }

    /// Whether `first` sorts before `second` by their UTF-8 bytes (the order object keys are written in).
    public static func precedesInBytes(_ first: String, _ second: String) -> Bool {
        let ordered = first.utf8.withContiguousStorageIfAvailable { a in
            second.utf8.withContiguousStorageIfAvailable { b in
                let common = min(a.count, b.count)
                if common > 0, let a = a.baseAddress, let b = b.baseAddress {
                    let order = memcmp(a, b, common)
                    if order != 0 { return order < 0 }
                }
                return a.count < b.count
            }
        }
        return (ordered ?? nil) ?? first.utf8.lexicographicallyPrecedes(second.utf8)
    }

    /// Whole numbers without a fraction (`3`, not `3.0`); others in Swift's shortest round-trip form.
    static func format(_ value: Double) -> String {
        if value.rounded() == value, abs(value) < 1e15 {
            return String(Int64(value))
        }
        return value.description
    }

    /// `value` as a quoted JSON string: how an error message shows text from a request, so that a
    /// quote, a newline or another control character in it cannot break the message or a log line.
    public static func quoted(_ value: String) -> String {
        var output = ""
        writeString(value, to: &output)
        return output
    }

    /// Appends `value` as a quoted JSON string.
    public static func writeString(_ value: String, to output: inout String) {
        let needsEscapes = value.utf8.contains { $0 < 0x20 || $0 == 0x22 || $0 == 0x5C }
        guard needsEscapes else {
            output += "\""
            output += value
            output += "\""
            return
        }
        var escaped: [UInt8] = []
        writeString(value, to: &escaped)
        output += String(decoding: escaped, as: UTF8.self)
    }

    /// Appends `value` as a quoted JSON string, in UTF-8: runs of bytes that need no escape are
    /// copied whole.
    public static func writeString(_ value: String, to output: inout [UInt8]) {
        output.append(UInt8(ascii: "\""))
        var copy = value
        copy.withUTF8 { text in
            output.reserveCapacity(output.count + text.count + 1)
            var runStart = 0
            var position = 0
            while position < text.count {
                // Eight bytes at a time while none needs an escape (most text), then byte by byte.
                if position + 8 <= text.count,
                   !Indexer.hasSpecialStringByte(UInt64(littleEndian: UnsafeRawBufferPointer(text).loadUnaligned(fromByteOffset: position, as: UInt64.self))) {
                    position += 8
                    continue
                }
                let byte = text[position]
                position += 1
                guard byte < 0x20 || byte == 0x22 || byte == 0x5C else { continue }
                let escapeAt = position - 1
                output.append(contentsOf: UnsafeBufferPointer(rebasing: text[runStart..<escapeAt]))
                output.append(UInt8(ascii: "\\"))
                switch byte {
                case 0x22: output.append(UInt8(ascii: "\""))
                case 0x5C: output.append(UInt8(ascii: "\\"))
                case 0x0A: output.append(UInt8(ascii: "n"))
                case 0x0D: output.append(UInt8(ascii: "r"))
                case 0x09: output.append(UInt8(ascii: "t"))
                default:
                    output.append(contentsOf: "u00".utf8)
                    output.append(ASCII.hexDigit(byte >> 4))
                    output.append(ASCII.hexDigit(byte))
                }
                runStart = position
            }
            output.append(contentsOf: UnsafeBufferPointer(rebasing: text[runStart...]))
        }
        output.append(UInt8(ascii: "\""))
    }
}
