/// One HTTP header field as it was sent or received.
public struct HTTPHeader: Sendable, Equatable {
    /// The field name, in the case it was written.
    public var name: String
    /// The field value, without surrounding whitespace.
    public var value: String

    /// Creates a header field.
    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}

/// An ordered list of header fields with case-insensitive lookup by name.
public struct HTTPHeaders: Sendable, Equatable, Sequence, ExpressibleByDictionaryLiteral {
    /// The fields in the order they were added.
    public private(set) var fields: [HTTPHeader]

    /// Creates a list from fields in order.
    public init(_ fields: [HTTPHeader] = []) {
        self.fields = fields
    }

    /// Creates a list from `name: value` literals, in order.
    public init(dictionaryLiteral elements: (String, String)...) {
        self.fields = elements.map { HTTPHeader($0.0, $0.1) }
    }

    /// The value of the first field named `name` (ASCII case-insensitive), or `nil`.
    public subscript(name: String) -> String? {
        fields.first { $0.name.equalsIgnoringASCIICase(name) }?.value
    }

    /// Every value of the fields named `name`, in order.
    public func values(for name: String) -> [String] {
        fields.filter { $0.name.equalsIgnoringASCIICase(name) }.map(\.value)
    }

    /// Appends a field; earlier fields with the same name stay.
    public mutating func add(_ name: String, _ value: String) {
        fields.append(HTTPHeader(name, value))
    }

    /// Replaces every field named `name` with one field.
    public mutating func set(_ name: String, _ value: String) {
        fields.removeAll { $0.name.equalsIgnoringASCIICase(name) }
        fields.append(HTTPHeader(name, value))
    }

    /// Makes room for `count` fields without growing.
    mutating func reserveCapacity(_ count: Int) {
        fields.reserveCapacity(count)
    }

    /// Removes every field.
    public mutating func removeAll(keepingCapacity: Bool = false) {
        fields.removeAll(keepingCapacity: keepingCapacity)
    }

    /// Iterates over the fields in order.
    public func makeIterator() -> IndexingIterator<[HTTPHeader]> {
        fields.makeIterator()
    }

    /// The number of fields.
    public var count: Int { fields.count }
}

extension String {
    /// Compares two strings byte by byte, folding only ASCII letters: the rule for HTTP field names.
    public func equalsIgnoringASCIICase(_ other: String) -> Bool {
        guard utf8.count == other.utf8.count else { return false }
        let fast = utf8.withContiguousStorageIfAvailable { lhs in
            other.utf8.withContiguousStorageIfAvailable { rhs in
                for index in 0..<lhs.count where lhs[index] != rhs[index] {
                    guard lhs[index].asciiLowercased == rhs[index].asciiLowercased else { return false }
                }
                return true
            }
        }
        if let fast, let result = fast { return result }
        for (a, b) in zip(utf8, other.utf8) where a != b {
            guard a.asciiLowercased == b.asciiLowercased else { return false }
        }
        return true
    }
}

extension UInt8 {
    @inline(__always)
    var asciiLowercased: UInt8 { (self >= 0x41 && self <= 0x5A) ? self | 0x20 : self }
}
