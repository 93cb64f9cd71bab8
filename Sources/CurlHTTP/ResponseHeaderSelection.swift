import LambdaCore

/// Which fields of a response's header ``CurlSession`` keeps in ``HTTPResponse/headers``.
///
/// Every field kept is two new strings; a caller that reads a few known fields (the Runtime API
/// client reads the `/next` fields and nothing of a post's answer) names them, and the others are
/// skipped where libcurl hands them over, without a copy. Names match exactly, ignoring ASCII case
/// only, byte by byte (as HTTP field names compare): no Unicode folding, no prefix match, and a
/// line that is not `name:value` (an obsolete folded continuation, a name with blanks) matches none.
///
/// A selection is one reference to storage made once: a request that carries it copies a pointer,
/// not the arrays behind it (copying and destroying four arrays per request cost a retain and a
/// release each).
public struct ResponseHeaderSelection: Sendable {
    /// The names kept, as given; `nil` keeps every field.
    public var names: [String]? { storage.names }

    let storage: Storage

    private init(names: [String]?) {
        storage = Storage(names: names)
    }

    /// Every field, names as the server wrote them (the default).
    public static let all = ResponseHeaderSelection(names: nil)

    /// No field: for a caller that needs the status and the body only.
    public static let none = ResponseHeaderSelection(names: [])

    /// Only the fields named `names` (ASCII case-insensitive). A kept field's name is given as it is
    /// spelled here, whatever case the server wrote it in; its value is as received.
    public static func only(_ names: [String]) -> ResponseHeaderSelection {
        ResponseHeaderSelection(names: names)
    }

    /// Whether every field is kept.
    var keepsAll: Bool { storage.names == nil }

    /// The index in ``names`` of `name` (ASCII case-insensitive, byte by byte), if it is one of them.
    public func index(ofName name: String) -> Int? {
        let found = name.utf8.withContiguousStorageIfAvailable { storage.index(of: $0) }
        if let found { return found }
        return Array(name.utf8).withUnsafeBufferPointer { storage.index(of: $0) }
    }

    /// The index in ``names`` of the name `bytes` spells (ASCII case-insensitive), if it is one.
    func index(of bytes: UnsafeBufferPointer<UInt8>) -> Int? {
        storage.index(of: bytes)
    }

    /// The names, and their bytes laid out for matching, in one allocation made once; never changed.
    final class Storage: @unchecked Sendable {
        let names: [String]?
        /// Whether no field is kept (``names`` is empty).
        let keepsNone: Bool
        /// How many names there are.
        private let count: Int
        /// For each name, where its bytes start in ``lowercased`` and how many there are.
        private let spans: UnsafeMutablePointer<(start: Int, count: Int)>
        /// Every name's bytes ASCII-lowercased, one after the other.
        private let lowercased: UnsafeMutablePointer<UInt8>
        /// For each byte of ``lowercased``: 0x20 where it is a letter (either case matches), 0
        /// elsewhere (only that byte matches).
        private let caseBits: UnsafeMutablePointer<UInt8>

        /// For each length below ``Storage/indexedLengths``, a bit per name of that length (names
        /// 0-63): a field whose length no name has is skipped without a comparison; `nil` when a
        /// name is too long or there are too many names for the table (every name is tried).
        private let namesByLength: UnsafeMutablePointer<UInt64>?
        /// The lengths ``namesByLength`` covers.
        private static let indexedLengths = 64

        init(names: [String]?) {
            self.names = names
            let list = names ?? []
            keepsNone = names?.isEmpty ?? false
            count = list.count
            let total = list.reduce(0) { $0 + $1.utf8.count }
            spans = .allocate(capacity: max(count, 1))
            lowercased = .allocate(capacity: max(total, 1))
            caseBits = .allocate(capacity: max(total, 1))
            var offset = 0
            for (index, name) in list.enumerated() {
                (spans + index).initialize(to: (offset, name.utf8.count))
                for byte in name.utf8 {
                    let lower = ASCII.lowercased(byte)
                    (lowercased + offset).initialize(to: lower)
                    (caseBits + offset).initialize(to: lower >= 0x61 && lower <= 0x7A ? 0x20 : 0)
                    offset += 1
                }
            }
            if count <= UInt64.bitWidth, list.allSatisfy({ $0.utf8.count < Self.indexedLengths }) {
                let table = UnsafeMutablePointer<UInt64>.allocate(capacity: Self.indexedLengths)
                table.initialize(repeating: 0, count: Self.indexedLengths)
                for (index, name) in list.enumerated() {
                    table[name.utf8.count] |= 1 << UInt64(index)
                }
                namesByLength = table
            } else {
                namesByLength = nil
            }
        }

        deinit {
            spans.deallocate()
            lowercased.deallocate()
            caseBits.deallocate()
            namesByLength?.deallocate()
        }

        /// The index of the name `bytes` spells, if it is one.
        ///
        /// Runs for every field of every response: eight bytes at a time, a byte ORed with its case
        /// bit (0x20 for a letter, which folds exactly `A`-`Z` onto `a`-`z` there) against the
        /// lowercased name.
        func index(of bytes: UnsafeBufferPointer<UInt8>) -> Int? {
            guard let input = bytes.baseAddress else { return nil }
            let length = bytes.count
            guard let namesByLength else {
                for index in 0..<count where spans[index].count == length && matches(input, name: index) {
                    return index
                }
                return nil
            }
            guard length < Self.indexedLengths else { return nil }
            var candidates = namesByLength[length]
            while candidates != 0 {
                let index = candidates.trailingZeroBitCount
                if matches(input, name: index) { return index }
                candidates &= candidates &- 1
            }
            return nil
        }

        /// Whether the bytes at `input` (as many as name `index` has) spell that name.
        private func matches(_ input: UnsafePointer<UInt8>, name index: Int) -> Bool {
            let (start, length) = spans[index]
            let name = UnsafeRawPointer(lowercased + start)
            let bits = UnsafeRawPointer(caseBits + start)
            var offset = 0
            while offset + 8 <= length {
                let word = UnsafeRawPointer(input + offset).loadUnaligned(as: UInt64.self)
                if word | bits.loadUnaligned(fromByteOffset: offset, as: UInt64.self)
                    != name.loadUnaligned(fromByteOffset: offset, as: UInt64.self) {
                    return false
                }
                offset += 8
            }
            while offset < length {
                if input[offset] | caseBits[start + offset] != lowercased[start + offset] { return false }
                offset += 1
            }
            return true
        }
    }
}
