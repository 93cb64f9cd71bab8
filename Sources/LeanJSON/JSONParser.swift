/// Why bytes are not acceptable JSON, with the byte offset where parsing stopped.
public struct JSONParseError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What is wrong.
    public enum Reason: Sendable, Equatable {
        case empty
        case unexpectedEnd
        case unexpectedCharacter(String)
        case invalidUTF8
        case invalidEscape
        case invalidNumber
        case numberOutOfRange
        case tooDeep(limit: Int)
        case duplicateKey(String)
        /// Two keys of one object whose bytes differ but which Swift's `String ==` (canonical
        /// equivalence) cannot tell apart, such as `"K"` and KELVIN SIGN `"\u{212A}"`: they are not
        /// duplicates, but a `[String: JSON]` object cannot hold both.
        case equivalentKeys(String, String)
        case trailingData
    }

    /// What is wrong.
    public let reason: Reason
    /// Where, as a byte offset.
    public let offset: Int

    /// One sentence for an error response.
    public var description: String {
        switch reason {
        case .empty: "the body is empty"
        case .unexpectedEnd: "the JSON ends too early"
        case .unexpectedCharacter(let character): "unexpected \(character) at byte \(offset)"
        case .invalidUTF8: "the text is not valid UTF-8 (byte \(offset))"
        case .invalidEscape: "invalid escape sequence at byte \(offset)"
        case .invalidNumber: "invalid number at byte \(offset)"
        case .numberOutOfRange: "number out of range at byte \(offset)"
        case .tooDeep(let limit): "nesting deeper than \(limit) levels"
        case .duplicateKey(let key): "the key \"\(key)\" appears twice"
        case .equivalentKeys(let first, let second):
            "the keys \"\(first)\" and \"\(second)\" differ in bytes but not as Unicode text (byte \(offset))"
        case .trailingData: "unexpected data after the JSON value at byte \(offset)"
        }
    }
}

extension JSON {
    /// Parses one JSON text (RFC 8259): strict UTF-8, no trailing data, no duplicate keys (keys are
    /// compared as bytes), at most `maxDepth` nested arrays and objects, finite numbers only. Two keys
    /// that differ in bytes but are canonically equivalent are refused (`equivalentKeys`).
    public init(parsing bytes: some Collection<UInt8>, maxDepth: Int = 32) throws(JSONParseError) {
        let array = Array(bytes)
        var parser = Parser(bytes: array, maxDepth: maxDepth)
        self = try parser.parseDocument()
    }

    /// Parses like ``init(parsing:maxDepth:)``, except that of two keys of one object that differ in
    /// bytes but not as Swift strings the first is kept and the second is returned in
    /// `equivalentKeys`, so a caller can answer such input instead of failing on it.
    public static func parseKeepingFirstOfEquivalentKeys(
        _ bytes: some Collection<UInt8>, maxDepth: Int = 32
    ) throws(JSONParseError) -> (value: JSON, equivalentKeys: [String]) {
        var parser = Parser(bytes: Array(bytes), maxDepth: maxDepth)
        parser.keepFirstOfEquivalentKeys = true
        let value = try parser.parseDocument()
        return (value, parser.droppedEquivalentKeys)
    }

    /// Parses JSON text.
    public init(parsing text: String, maxDepth: Int = 32) throws(JSONParseError) {
        try self.init(parsing: Array(text.utf8), maxDepth: maxDepth)
    }
}

private struct Parser {
    let bytes: [UInt8]
    let maxDepth: Int
    var index = 0
    var depth = 0
    var keepFirstOfEquivalentKeys = false
    var droppedEquivalentKeys: [String] = []

    init(bytes: [UInt8], maxDepth: Int) {
        self.bytes = bytes
        self.maxDepth = maxDepth
    }

    mutating func parseDocument() throws(JSONParseError) -> JSON {
        skipWhitespace()
        guard index < bytes.count else { throw JSONParseError(reason: .empty, offset: 0) }
        let value = try parseValue()
        skipWhitespace()
        guard index == bytes.count else { throw JSONParseError(reason: .trailingData, offset: index) }
        return value
    }

    mutating func skipWhitespace() {
        while index < bytes.count, bytes[index] == 0x20 || bytes[index] == 0x0A || bytes[index] == 0x0D || bytes[index] == 0x09 {
            index += 1
        }
    }

    func unexpected() -> JSONParseError {
        guard index < bytes.count else { return JSONParseError(reason: .unexpectedEnd, offset: index) }
        let byte = bytes[index]
        let shown = byte >= 0x20 && byte < 0x7F ? "'\(Character(UnicodeScalar(byte)))'" : "byte 0x\(String(byte, radix: 16))"
        return JSONParseError(reason: .unexpectedCharacter(shown), offset: index)
    }

    mutating func parseValue() throws(JSONParseError) -> JSON {
        guard index < bytes.count else { throw JSONParseError(reason: .unexpectedEnd, offset: index) }
        switch bytes[index] {
        case UInt8(ascii: "{"): return try parseObject()
        case UInt8(ascii: "["): return try parseArray()
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): try expectLiteral("true"); return .bool(true)
        case UInt8(ascii: "f"): try expectLiteral("false"); return .bool(false)
        case UInt8(ascii: "n"): try expectLiteral("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber()
        default: throw unexpected()
        }
    }

    mutating func expectLiteral(_ literal: StaticString) throws(JSONParseError) {
        let count = literal.utf8CodeUnitCount
        guard index + count <= bytes.count else { throw JSONParseError(reason: .unexpectedEnd, offset: index) }
        for offset in 0..<count where bytes[index + offset] != literal.utf8Start[offset] {
            index += offset
            throw unexpected()
        }
        index += count
    }

    mutating func enter() throws(JSONParseError) {
        depth += 1
        if depth > maxDepth { throw JSONParseError(reason: .tooDeep(limit: maxDepth), offset: index) }
    }

    mutating func parseObject() throws(JSONParseError) -> JSON {
        try enter()
        index += 1
        var members: [String: JSON] = [:]
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
            index += 1
            depth -= 1
            return .object(members)
        }
        while true {
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw unexpected() }
            let key = try parseString()
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw unexpected() }
            index += 1
            skipWhitespace()
            let value = try parseValue()
            if let earlier = members.updateValue(value, forKey: key) {
                // Dictionary keys compare as canonical equivalence; a duplicate is the same bytes.
                guard let stored = members.index(forKey: key) else { throw unexpected() }
                let storedKey = members[stored].key
                members[key] = earlier
                if storedKey.utf8.elementsEqual(key.utf8) {
                    throw JSONParseError(reason: .duplicateKey(key), offset: index)
                }
                guard keepFirstOfEquivalentKeys else {
                    throw JSONParseError(reason: .equivalentKeys(storedKey, key), offset: index)
                }
                droppedEquivalentKeys.append(key)
            }
            skipWhitespace()
            guard index < bytes.count else { throw JSONParseError(reason: .unexpectedEnd, offset: index) }
            if bytes[index] == UInt8(ascii: ",") {
                index += 1
                continue
            }
            guard bytes[index] == UInt8(ascii: "}") else { throw unexpected() }
            index += 1
            depth -= 1
            return .object(members)
        }
    }

    mutating func parseArray() throws(JSONParseError) -> JSON {
        try enter()
        index += 1
        var elements: [JSON] = []
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
            index += 1
            depth -= 1
            return .array(elements)
        }
        while true {
            skipWhitespace()
            elements.append(try parseValue())
            skipWhitespace()
            guard index < bytes.count else { throw JSONParseError(reason: .unexpectedEnd, offset: index) }
            if bytes[index] == UInt8(ascii: ",") {
                index += 1
                continue
            }
            guard bytes[index] == UInt8(ascii: "]") else { throw unexpected() }
            index += 1
            depth -= 1
            return .array(elements)
        }
    }

    mutating func parseString() throws(JSONParseError) -> String {
        index += 1
        // Fast path, the common case: no escapes. ASCII needs no validation; other UTF-8 is validated.
        let start = index
        var asciiOnly = true
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\""), asciiOnly {
                index += 1
                return String(decoding: bytes[start..<(index - 1)], as: UTF8.self)
            }
            if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") || byte < 0x20 { break }
            if byte >= 0x80 { asciiOnly = false }
            index += 1
        }
        index = start
        var scalars: [UInt8] = []
        var runStart = index
        while true {
            guard index < bytes.count else { throw JSONParseError(reason: .unexpectedEnd, offset: index) }
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                scalars.append(contentsOf: bytes[runStart..<index])
                index += 1
                break
            }
            if byte < 0x20 { throw unexpected() }
            if byte == UInt8(ascii: "\\") {
                scalars.append(contentsOf: bytes[runStart..<index])
                try parseEscape(into: &scalars)
                runStart = index
                continue
            }
            index += 1
        }
        guard let text = String(validating: scalars, as: UTF8.self) else {
            throw JSONParseError(reason: .invalidUTF8, offset: index)
        }
        return text
    }

    mutating func parseEscape(into output: inout [UInt8]) throws(JSONParseError) {
        index += 1
        guard index < bytes.count else { throw JSONParseError(reason: .unexpectedEnd, offset: index) }
        let escaped = bytes[index]
        index += 1
        switch escaped {
        case UInt8(ascii: "\""): output.append(0x22)
        case UInt8(ascii: "\\"): output.append(0x5C)
        case UInt8(ascii: "/"): output.append(0x2F)
        case UInt8(ascii: "b"): output.append(0x08)
        case UInt8(ascii: "f"): output.append(0x0C)
        case UInt8(ascii: "n"): output.append(0x0A)
        case UInt8(ascii: "r"): output.append(0x0D)
        case UInt8(ascii: "t"): output.append(0x09)
        case UInt8(ascii: "u"):
            var code = try parseHex4()
            if (0xD800...0xDBFF).contains(code) {
                guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else {
                    throw JSONParseError(reason: .invalidEscape, offset: index)
                }
                index += 2
                let low = try parseHex4()
                guard (0xDC00...0xDFFF).contains(low) else { throw JSONParseError(reason: .invalidEscape, offset: index) }
                code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
            } else if (0xDC00...0xDFFF).contains(code) {
                throw JSONParseError(reason: .invalidEscape, offset: index)
            }
            guard let scalar = Unicode.Scalar(code) else { throw JSONParseError(reason: .invalidEscape, offset: index) }
            output.append(contentsOf: Array(String(Character(scalar)).utf8))
        default:
            throw JSONParseError(reason: .invalidEscape, offset: index - 1)
        }
    }

    mutating func parseHex4() throws(JSONParseError) -> UInt32 {
        guard index + 4 <= bytes.count else { throw JSONParseError(reason: .unexpectedEnd, offset: index) }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[index]
            let digit: UInt32
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(byte - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(byte - UInt8(ascii: "A") + 10)
            default: throw JSONParseError(reason: .invalidEscape, offset: index)
            }
            value = value * 16 + digit
            index += 1
        }
        return value
    }

    mutating func parseNumber() throws(JSONParseError) -> JSON {
        let start = index
        if bytes[index] == UInt8(ascii: "-") { index += 1 }
        guard index < bytes.count else { throw JSONParseError(reason: .invalidNumber, offset: start) }
        if bytes[index] == UInt8(ascii: "0") {
            index += 1
        } else if isDigit(bytes[index]) {
            while index < bytes.count, isDigit(bytes[index]) { index += 1 }
        } else {
            throw JSONParseError(reason: .invalidNumber, offset: start)
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            guard index < bytes.count, isDigit(bytes[index]) else { throw JSONParseError(reason: .invalidNumber, offset: start) }
            while index < bytes.count, isDigit(bytes[index]) { index += 1 }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard index < bytes.count, isDigit(bytes[index]) else { throw JSONParseError(reason: .invalidNumber, offset: start) }
            while index < bytes.count, isDigit(bytes[index]) { index += 1 }
        }
        let text = String(decoding: bytes[start..<index], as: UTF8.self)
        guard let value = Double(text) else { throw JSONParseError(reason: .invalidNumber, offset: start) }
        guard value.isFinite else { throw JSONParseError(reason: .numberOutOfRange, offset: start) }
        return .number(value)
    }

    func isDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }
}
