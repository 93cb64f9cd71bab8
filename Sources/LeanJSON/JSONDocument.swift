/// A parsed JSON text that decodes nothing until it is asked: the text is checked in one pass (the
/// rules of ``JSON/init(parsing:maxDepth:)``) and each value's place is recorded, so reading the few
/// fields a caller needs from a large document costs a look-up, not a tree of dictionaries.
///
/// Object members are found by their exact bytes, never by canonical equivalence.
public struct JSONDocument: Sendable {
    /// The outermost value.
    public let root: JSONNode
    /// In keep-first mode, the keys that were left out because an earlier key of their object is
    /// canonically equivalent (see ``JSON/parseKeepingFirstOfEquivalentKeys(_:maxDepth:)``).
    public let droppedEquivalentKeys: [String]

    /// Checks and indexes `bytes`. With `keepingFirstOfEquivalentKeys`, of two keys of one object that
    /// differ in bytes but not as Swift strings the first is kept and the second is listed in
    /// ``droppedEquivalentKeys``; otherwise such a pair is refused.
    public init(
        parsing bytes: some Collection<UInt8>, maxDepth: Int = 32, keepingFirstOfEquivalentKeys: Bool = false
    ) throws(JSONParseError) {
        var indexer = Indexer(bytes: Array(bytes), maxDepth: maxDepth, keepFirstOfEquivalentKeys: keepingFirstOfEquivalentKeys)
        try indexer.indexDocument()
        root = JSONNode(storage: Storage(bytes: indexer.bytes, tape: indexer.tape), entry: 0)
        droppedEquivalentKeys = indexer.droppedEquivalentKeys
    }

    final class Storage: Sendable {
        let bytes: [UInt8]
        let tape: [TapeEntry]

        init(bytes: [UInt8], tape: [TapeEntry]) {
            self.bytes = bytes
            self.tape = tape
        }
    }
}

/// One value of a ``JSONDocument``.
public struct JSONNode: Sendable {
    let storage: JSONDocument.Storage
    let entry: Int

    private var value: TapeEntry { storage.tape[entry] }

    /// The member whose key is exactly `key`, byte for byte, if this is an object.
    public subscript(key: String) -> JSONNode? {
        let tape = storage.tape
        guard tape[entry].kind == .object else { return nil }
        var utf8Key = key
        return utf8Key.withUTF8 { wanted -> JSONNode? in
            var position = entry + 1
            while position < tape[entry].next {
                let candidate = tape[position]
                if candidate.flags & TapeEntry.isDropped == 0, matches(candidate, wanted) {
                    return JSONNode(storage: storage, entry: position + 1)
                }
                position = tape[position + 1].next
            }
            return nil
        }
    }

    private func matches(_ key: TapeEntry, _ wanted: UnsafeBufferPointer<UInt8>) -> Bool {
        guard key.flags & TapeEntry.hasEscapes != 0 else {
            return key.end - key.start == wanted.count && Indexer.bytes(storage.bytes, at: key.start, equal: wanted)
        }
        return Indexer.decodeString(key, in: storage.bytes).utf8.elementsEqual(wanted)
    }

    /// The string, if this is one (unescaped).
    public var stringValue: String? {
        value.kind == .string ? Indexer.decodeString(value, in: storage.bytes) : nil
    }

    /// Whether this string is exactly `text`, byte for byte (no copy when it has no escapes).
    public func isString(_ text: String) -> Bool {
        let value = self.value
        guard value.kind == .string else { return false }
        guard value.flags & TapeEntry.hasEscapes == 0 else { return stringValue?.utf8.elementsEqual(text.utf8) ?? false }
        return storage.bytes[value.start..<value.end].elementsEqual(text.utf8)
    }

    /// The number, if this is one.
    public var numberValue: Double? {
        value.kind == .number ? value.number : nil
    }

    /// The Boolean, if this is one.
    public var boolValue: Bool? {
        switch value.kind {
        case .true: true
        case .false: false
        default: nil
        }
    }

    /// Whether this is `null`.
    public var isNull: Bool { value.kind == .null }

    /// Whether this is an object.
    public var isObject: Bool { value.kind == .object }

    /// Whether this is an array.
    public var isArray: Bool { value.kind == .array }

    /// This node if it is an object, else `nil`.
    public var object: JSONNode? { isObject ? self : nil }

    /// The members of an object in document order (keys unescaped; dropped equivalent keys left out);
    /// empty for anything else.
    public var members: [(key: String, value: JSONNode)] {
        let tape = storage.tape
        guard tape[entry].kind == .object else { return [] }
        var result: [(key: String, value: JSONNode)] = []
        result.reserveCapacity(tape[entry].count)
        var position = entry + 1
        while position < tape[entry].next {
            if tape[position].flags & TapeEntry.isDropped == 0 {
                result.append((Indexer.decodeString(tape[position], in: storage.bytes), JSONNode(storage: storage, entry: position + 1)))
            }
            position = tape[position + 1].next
        }
        return result
    }

    /// Calls `body` with each member of an object in document order (dropped equivalent keys left
    /// out), its key not decoded; nothing for anything else. For reading one or two of many members
    /// without making a string of every key.
    public func forEachMember(_ body: (JSONKey, JSONNode) -> Void) {
        let tape = storage.tape
        guard tape[entry].kind == .object else { return }
        var position = entry + 1
        while position < tape[entry].next {
            if tape[position].flags & TapeEntry.isDropped == 0 {
                body(JSONKey(storage: storage, entry: position), JSONNode(storage: storage, entry: position + 1))
            }
            position = tape[position + 1].next
        }
    }

    /// The elements of an array in order; empty for anything else.
    public var elements: [JSONNode] {
        let tape = storage.tape
        guard tape[entry].kind == .array else { return [] }
        var result: [JSONNode] = []
        result.reserveCapacity(tape[entry].count)
        var position = entry + 1
        while position < tape[entry].next {
            result.append(JSONNode(storage: storage, entry: position))
            position = tape[position].next
        }
        return result
    }

    /// The JSON type name, for error messages: `null`, `boolean`, `number`, `string`, `array`, `object`.
    public var typeName: String {
        switch value.kind {
        case .null: "null"
        case .true, .false: "boolean"
        case .number: "number"
        case .string: "string"
        case .array: "array"
        case .object: "object"
        }
    }

    /// The value as a ``JSON`` tree.
    public var json: JSON {
        switch value.kind {
        case .null: return .null
        case .true: return .bool(true)
        case .false: return .bool(false)
        case .number: return .number(value.number)
        case .string: return .string(Indexer.decodeString(value, in: storage.bytes))
        case .array: return .array(elements.map(\.json))
        case .object:
            let members = self.members
            var object = [String: JSON](minimumCapacity: members.count)
            for (key, member) in members { object[key] = member.json }
            return .object(object)
        }
    }
}

/// An object member's key as the text has it, decoded only when asked (``JSONNode/forEachMember(_:)``).
public struct JSONKey {
    let storage: JSONDocument.Storage
    let entry: Int

    /// Whether the key is ASCII without escapes: its bytes in the text are the key's, so it can be
    /// compared without decoding.
    public var isPlainASCII: Bool {
        storage.tape[entry].flags & (TapeEntry.hasEscapes | TapeEntry.isASCII) == TapeEntry.isASCII
    }

    /// Whether a plain ASCII key (``isPlainASCII``), its letters lower-cased when `lowercasingASCII`,
    /// is exactly `bytes`; `false` for any other key.
    public func equals(_ bytes: UnsafeBufferPointer<UInt8>, lowercasingASCII: Bool) -> Bool {
        let key = storage.tape[entry]
        guard isPlainASCII, key.end - key.start == bytes.count else { return false }
        return storage.bytes.withUnsafeBufferPointer { text in
            for offset in 0..<bytes.count {
                var byte = text[key.start + offset]
                if lowercasingASCII, byte >= UInt8(ascii: "A"), byte <= UInt8(ascii: "Z") { byte |= 0x20 }
                if byte != bytes[offset] { return false }
            }
            return true
        }
    }

    /// Whether a plain ASCII key has no upper-case letters.
    public var isPlainLowercaseASCII: Bool {
        let key = storage.tape[entry]
        return isPlainASCII && !storage.bytes[key.start..<key.end].contains { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") }
    }

    /// The key, unescaped.
    public var string: String { Indexer.decodeString(storage.tape[entry], in: storage.bytes) }
}
