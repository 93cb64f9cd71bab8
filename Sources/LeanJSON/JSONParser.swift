#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import LambdaCore

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
        case .duplicateKey(let key): "the key \(JSON.quoted(key)) appears twice"
        case .equivalentKeys(let first, let second):
            "the keys \(JSON.quoted(first)) and \(JSON.quoted(second)) differ in bytes but not as Unicode text (byte \(offset))"
        case .trailingData: "unexpected data after the JSON value at byte \(offset)"
        }
    }
}

extension JSON {
    /// Parses one JSON text (RFC 8259): strict UTF-8, no trailing data, no duplicate keys (keys are
    /// compared as bytes), at most `maxDepth` nested arrays and objects, finite numbers only. Two keys
    /// that differ in bytes but are canonically equivalent are refused (`equivalentKeys`).
    public init(parsing bytes: some Collection<UInt8>, maxDepth: Int = 32) throws(JSONParseError) {
        self = try JSONDocument(parsing: bytes, maxDepth: maxDepth).root.json
    }

    /// Parses like ``init(parsing:maxDepth:)``, except that of two keys of one object that differ in
    /// bytes but not as Swift strings the first is kept and the second is returned in
    /// `equivalentKeys`, so a caller can answer such input instead of failing on it.
    public static func parseKeepingFirstOfEquivalentKeys(
        _ bytes: some Collection<UInt8>, maxDepth: Int = 32
    ) throws(JSONParseError) -> (value: JSON, equivalentKeys: [String]) {
        let document = try JSONDocument(parsing: bytes, maxDepth: maxDepth, keepingFirstOfEquivalentKeys: true)
        return (document.root.json, document.droppedEquivalentKeys)
    }

    /// Parses JSON text.
    public init(parsing text: String, maxDepth: Int = 32) throws(JSONParseError) {
        try self.init(parsing: Array(text.utf8), maxDepth: maxDepth)
    }
}

/// One value of a parsed document, in document order: a value's children follow it, and `next` is
/// the position just past its last descendant.
struct TapeEntry {
    enum Kind: UInt8 { case null, `false`, `true`, number, string, array, object }

    var kind: Kind
    /// Strings: ``hasEscapes`` and ``isASCII``; object keys: ``isDropped``.
    var flags: UInt8 = 0
    /// Members of an object, elements of an array; a number's value (its bit pattern, see ``number``),
    /// parsed once while indexing.
    var count = 0
    /// The value's bytes: a string's between its quotes, a number's text, a container's brackets.
    var start: Int
    var end: Int
    var next = 0

    static let hasEscapes: UInt8 = 1
    static let isASCII: UInt8 = 2
    /// A key left out because an earlier key of the object is canonically equivalent (keep-first mode).
    static let isDropped: UInt8 = 4
}

extension TapeEntry {
    /// A number entry: its value, parsed once while indexing.
    init(number value: Double, start: Int, end: Int, next: Int) {
        self.init(kind: .number, count: Int(bitPattern: UInt(value.bitPattern)), start: start, end: end, next: next)
    }

    /// The value of a number entry.
    var number: Double { Double(bitPattern: UInt64(UInt(bitPattern: count))) }
}

/// Checks a JSON text in one pass and records where each value is; decodes nothing it does not have to.
struct Indexer {
    let bytes: [UInt8]
    let maxDepth: Int
    let keepFirstOfEquivalentKeys: Bool
    var index = 0
    var depth = 0
    var tape: [TapeEntry] = []
    var droppedEquivalentKeys: [String] = []
    /// Scratch space for escape checks.
    private var scratch: [UInt8] = []

    init(bytes: [UInt8], maxDepth: Int, keepFirstOfEquivalentKeys: Bool) {
        self.bytes = bytes
        self.maxDepth = maxDepth
        self.keepFirstOfEquivalentKeys = keepFirstOfEquivalentKeys
        tape.reserveCapacity(bytes.count / 8 + 4)
    }

    mutating func indexDocument() throws(JSONParseError) {
        skipWhitespace()
        guard index < bytes.count else { throw JSONParseError(reason: .empty, offset: 0) }
        try indexValue()
        skipWhitespace()
        guard index == bytes.count else { throw JSONParseError(reason: .trailingData, offset: index) }
    }

    mutating func skipWhitespace() {
        index = bytes.withUnsafeBufferPointer { buffer in
            var position = index
            while position < buffer.count, buffer[position] == 0x20 || buffer[position] == 0x0A || buffer[position] == 0x0D
                || buffer[position] == 0x09 {
                position += 1
            }
            return position
        }
    }

    func unexpected() -> JSONParseError {
        guard index < bytes.count else { return JSONParseError(reason: .unexpectedEnd, offset: index) }
        let byte = bytes[index]
        let shown = byte >= 0x20 && byte < 0x7F ? "'\(Character(UnicodeScalar(byte)))'" : "byte 0x\(String(byte, radix: 16))"
        return JSONParseError(reason: .unexpectedCharacter(shown), offset: index)
    }

    mutating func indexValue() throws(JSONParseError) {
        guard index < bytes.count else { throw JSONParseError(reason: .unexpectedEnd, offset: index) }
        switch bytes[index] {
        case UInt8(ascii: "{"): try indexContainer(.object)
        case UInt8(ascii: "["): try indexContainer(.array)
        case UInt8(ascii: "\""): try indexString()
        case UInt8(ascii: "t"): try indexLiteral("true", .true)
        case UInt8(ascii: "f"): try indexLiteral("false", .false)
        case UInt8(ascii: "n"): try indexLiteral("null", .null)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): try indexNumber()
        default: throw unexpected()
        }
    }

    mutating func indexLiteral(_ literal: StaticString, _ kind: TapeEntry.Kind) throws(JSONParseError) {
        let count = literal.utf8CodeUnitCount
        guard index + count <= bytes.count else { throw JSONParseError(reason: .unexpectedEnd, offset: index) }
        for offset in 0..<count where bytes[index + offset] != literal.utf8Start[offset] {
            index += offset
            throw unexpected()
        }
        tape.append(TapeEntry(kind: kind, start: index, end: index + count, next: tape.count + 1))
        index += count
    }

    mutating func enter() throws(JSONParseError) {
        depth += 1
        if depth > maxDepth { throw JSONParseError(reason: .tooDeep(limit: maxDepth), offset: index) }
    }

    /// An object or an array: its entry, then its members' (key, value) or its elements' entries.
    mutating func indexContainer(_ kind: TapeEntry.Kind) throws(JSONParseError) {
        try enter()
        let closing = kind == .object ? UInt8(ascii: "}") : UInt8(ascii: "]")
        let entry = tape.count
        tape.append(TapeEntry(kind: kind, start: index, end: index))
        index += 1
        skipWhitespace()
        var count = 0
        if index < bytes.count, bytes[index] == closing {
            index += 1
        } else {
            while true {
                skipWhitespace()
                if kind == .object { try indexKey() }
                try indexValue()
                count += 1
                skipWhitespace()
                guard index < bytes.count else { throw JSONParseError(reason: .unexpectedEnd, offset: index) }
                if bytes[index] == UInt8(ascii: ",") {
                    index += 1
                    continue
                }
                guard bytes[index] == closing else { throw unexpected() }
                index += 1
                break
            }
        }
        depth -= 1
        tape[entry].count = count
        tape[entry].end = index
        tape[entry].next = tape.count
        if kind == .object, count > 1 { try checkKeys(ofObjectAt: entry) }
    }

    /// A member's key and the colon after it.
    mutating func indexKey() throws(JSONParseError) {
        guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw unexpected() }
        try indexString()
        skipWhitespace()
        guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw unexpected() }
        index += 1
        skipWhitespace()
    }

    /// The same key bytes twice is a duplicate. Two keys that differ in bytes but not as Swift strings
    /// (only possible when one is not plain ASCII) are refused, or the later one is dropped when the
    /// caller asked for that. Problems are reported in document order.
    mutating func checkKeys(ofObjectAt entry: Int) throws(JSONParseError) {
        var keys: [Int] = []
        keys.reserveCapacity(tape[entry].count)
        var plainASCII = true
        var position = entry + 1
        while position < tape[entry].next {
            keys.append(position)
            if tape[position].flags & (TapeEntry.hasEscapes | TapeEntry.isASCII) != TapeEntry.isASCII { plainASCII = false }
            position = tape[position + 1].next
        }
        if plainASCII, keys.count <= 32 {
            let duplicate: Int? = bytes.withUnsafeBufferPointer { buffer in
                guard let base = buffer.baseAddress else { return nil }
                for later in 1..<keys.count {
                    let key = tape[keys[later]]
                    for earlier in 0..<later {
                        let other = tape[keys[earlier]]
                        // Length and first byte before memcmp: most keys differ there (a call per pair
                        // cost more than the comparison).
                        if other.end - other.start == key.end - key.start,
                           key.end == key.start || base[other.start] == base[key.start],
                           memcmp(base + other.start, base + key.start, key.end - key.start) == 0 {
                            return later
                        }
                    }
                }
                return nil
            }
            if let duplicate {
                throw JSONParseError(reason: .duplicateKey(decodeString(at: keys[duplicate])), offset: tape[entry].end)
            }
            return
        }
        var seen = [String: Int](minimumCapacity: keys.count)
        for key in keys {
            let text = decodeString(at: key)
            guard let earlier = seen[text] else {
                seen[text] = key
                continue
            }
            let earlierText = decodeString(at: earlier)
            if earlierText.utf8.elementsEqual(text.utf8) {
                throw JSONParseError(reason: .duplicateKey(text), offset: tape[entry].end)
            }
            guard keepFirstOfEquivalentKeys else {
                throw JSONParseError(reason: .equivalentKeys(earlierText, text), offset: tape[entry].end)
            }
            tape[key].flags |= TapeEntry.isDropped
            droppedEquivalentKeys.append(text)
        }
    }

    /// Checks a string: no control characters, valid escapes, valid UTF-8 (checked on the raw bytes:
    /// escapes are ASCII and decode to whole scalars, so raw and decoded text are valid together).
    mutating func indexString() throws(JSONParseError) {
        index += 1
        let start = index
        var flags = TapeEntry.isASCII
        while true {
            // The common run: bytes that are neither the end, an escape nor a control character.
            let (stop, unionOfBytes) = bytes.withUnsafeBufferPointer { buffer in
                var position = index
                var union: UInt8 = 0
                // Eight bytes at a time while none of them is special (SWAR: a word-wide test for
                // bytes equal to '"' or '\\', or below 0x20), then byte by byte to find which one.
                if let base = UnsafeRawPointer(buffer.baseAddress) {
                    var wide: UInt64 = 0
                    while position + 8 <= buffer.count {
                        let word = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: position, as: UInt64.self))
                        if Self.hasSpecialStringByte(word) { break }
                        wide |= word
                        position += 8
                    }
                    if wide & 0x8080_8080_8080_8080 != 0 { union = 0x80 }
                }
                while position < buffer.count {
                    let byte = buffer[position]
                    if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") || byte < 0x20 { break }
                    union |= byte
                    position += 1
                }
                return (position, union)
            }
            index = stop
            if unionOfBytes >= 0x80 { flags &= ~TapeEntry.isASCII }
            guard index < bytes.count else { throw JSONParseError(reason: .unexpectedEnd, offset: index) }
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") { break }
            if byte < 0x20 { throw unexpected() }
            flags |= TapeEntry.hasEscapes
            scratch.removeAll(keepingCapacity: true)
            try Self.decodeEscape(in: bytes, at: &index, into: &scratch)
        }
        if flags & TapeEntry.isASCII == 0, String(validUTF8: bytes[start..<index]) == nil {
            throw JSONParseError(reason: .invalidUTF8, offset: index)
        }
        tape.append(TapeEntry(kind: .string, flags: flags, start: start, end: index, next: tape.count + 1))
        index += 1
    }

    /// Whether `bytes[start..<start + other.count]` is exactly `other` (the caller checked the range).
    static func bytes(_ bytes: [UInt8], at start: Int, equal other: UnsafeBufferPointer<UInt8>) -> Bool {
        bytes.withUnsafeBufferPointer { text in
            guard let base = text.baseAddress, let wanted = other.baseAddress else { return other.isEmpty }
            return memcmp(base + start, wanted, other.count) == 0
        }
    }

    /// Whether any byte of `word` is `"`, `\\` or a control character (below 0x20).
    @inline(__always)
    static func hasSpecialStringByte(_ word: UInt64) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        func hasZeroByte(_ value: UInt64) -> Bool { (value &- ones) & ~value & highs != 0 }
        let below0x20 = (word &- ones &* 0x20) & ~word & highs != 0
        return below0x20 || hasZeroByte(word ^ (ones &* 0x22)) || hasZeroByte(word ^ (ones &* 0x5C))
    }

    mutating func indexNumber() throws(JSONParseError) {
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
        guard let value = Self.number(bytes[start..<index]) else { throw JSONParseError(reason: .invalidNumber, offset: start) }
        guard value.isFinite else { throw JSONParseError(reason: .numberOutOfRange, offset: start) }
        tape.append(TapeEntry(number: value, start: start, end: index, next: tape.count + 1))
    }

    func isDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }

    /// A number's text as a `Double` (the text has been checked against JSON's grammar).
    static func number(_ text: ArraySlice<UInt8>) -> Double? {
        Double(String(decoding: text, as: UTF8.self))
    }

    /// The string at tape position `entry`, unescaped.
    func decodeString(at entry: Int) -> String {
        Self.decodeString(tape[entry], in: bytes)
    }

    /// A string entry's text, unescaped.
    static func decodeString(_ entry: TapeEntry, in bytes: [UInt8]) -> String {
        let raw = bytes[entry.start..<entry.end]
        guard entry.flags & TapeEntry.hasEscapes != 0 else { return String(decoding: raw, as: UTF8.self) }
        var decoded: [UInt8] = []
        decoded.reserveCapacity(raw.count)
        var index = entry.start
        var runStart = index
        while index < entry.end {
            guard bytes[index] == UInt8(ascii: "\\") else {
                index += 1
                continue
            }
            decoded.append(contentsOf: bytes[runStart..<index])
            // Checked when the document was indexed.
            try? decodeEscape(in: bytes, at: &index, into: &decoded)
            runStart = index
        }
        decoded.append(contentsOf: bytes[runStart..<entry.end])
        return String(decoding: decoded, as: UTF8.self)
    }

    /// Decodes the escape at `index` (a backslash) into UTF-8 and moves `index` past it.
    static func decodeEscape(in bytes: [UInt8], at index: inout Int, into output: inout [UInt8]) throws(JSONParseError) {
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
            var code = try hex4(in: bytes, at: &index)
            if (0xD800...0xDBFF).contains(code) {
                guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else {
                    throw JSONParseError(reason: .invalidEscape, offset: index)
                }
                index += 2
                let low = try hex4(in: bytes, at: &index)
                guard (0xDC00...0xDFFF).contains(low) else { throw JSONParseError(reason: .invalidEscape, offset: index) }
                code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
            } else if (0xDC00...0xDFFF).contains(code) {
                throw JSONParseError(reason: .invalidEscape, offset: index)
            }
            guard let scalar = Unicode.Scalar(code) else { throw JSONParseError(reason: .invalidEscape, offset: index) }
            output.append(contentsOf: scalar.utf8)
        default:
            throw JSONParseError(reason: .invalidEscape, offset: index - 1)
        }
    }

    static func hex4(in bytes: [UInt8], at index: inout Int) throws(JSONParseError) -> UInt32 {
        guard index + 4 <= bytes.count else { throw JSONParseError(reason: .unexpectedEnd, offset: index) }
        var value: UInt32 = 0
        for _ in 0..<4 {
            guard let digit = ASCII.hexValue(bytes[index]) else { throw JSONParseError(reason: .invalidEscape, offset: index) }
            value = value * 16 + UInt32(digit)
            index += 1
        }
        return value
    }
}
