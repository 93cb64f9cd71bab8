/// Which fields of a response's header ``CurlSession`` keeps in ``HTTPResponse/headers``.
///
/// Every field kept is two new strings; a caller that reads a few known fields (the Runtime API
/// client reads the `/next` fields and nothing of a post's answer) names them, and the others are
/// skipped where libcurl hands them over, without a copy. Names match exactly, ignoring ASCII case
/// only, byte by byte (as HTTP field names compare): no Unicode folding, no prefix match, and a
/// line that is not `name:value` (an obsolete folded continuation, a name with blanks) matches none.
public struct ResponseHeaderSelection: Sendable {
    /// The names kept, as given; `nil` keeps every field.
    public let names: [String]?
    /// Every name's bytes ASCII-lowercased, one after the other.
    private let lowercased: [UInt8]
    /// For each byte of ``lowercased``: 0x20 where it is a letter (either case matches), 0 elsewhere
    /// (only that byte matches).
    private let caseBits: [UInt8]
    /// Where each name starts in ``lowercased``, and its length.
    private let spans: [(start: Int, count: Int)]

    private init(names: [String]?) {
        self.names = names
        var lowercased: [UInt8] = []
        var caseBits: [UInt8] = []
        var spans: [(start: Int, count: Int)] = []
        for name in names ?? [] {
            spans.append((lowercased.count, name.utf8.count))
            for byte in name.utf8 {
                let lower = byte.asciiLowercased
                lowercased.append(lower)
                caseBits.append(lower >= 0x61 && lower <= 0x7A ? 0x20 : 0)
            }
        }
        self.lowercased = lowercased
        self.caseBits = caseBits
        self.spans = spans
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
    var keepsAll: Bool { names == nil }

    /// The index in ``names`` of `name` (ASCII case-insensitive, byte by byte), if it is one of them.
    public func index(ofName name: String) -> Int? {
        let found = name.utf8.withContiguousStorageIfAvailable { index(of: $0) }
        if let found { return found }
        return Array(name.utf8).withUnsafeBufferPointer { index(of: $0) }
    }

    /// The index in ``names`` of the name `bytes` spells (ASCII case-insensitive), if it is one.
    ///
    /// Runs for every field of every response: eight bytes at a time, a byte ORed with its case bit
    /// (0x20 for a letter, which folds exactly `A`-`Z` onto `a`-`z` there) against the lowercased name.
    func index(of bytes: UnsafeBufferPointer<UInt8>) -> Int? {
        guard let input = bytes.baseAddress, !spans.isEmpty else { return nil }
        return lowercased.withUnsafeBytes { lowercased in
            caseBits.withUnsafeBytes { caseBits in
                for (index, span) in spans.enumerated() where span.count == bytes.count {
                    var offset = 0
                    var equal = true
                    while offset + 8 <= span.count {
                        let word = UnsafeRawPointer(input + offset).loadUnaligned(as: UInt64.self)
                        let bits = caseBits.loadUnaligned(fromByteOffset: span.start + offset, as: UInt64.self)
                        if word | bits != lowercased.loadUnaligned(fromByteOffset: span.start + offset, as: UInt64.self) {
                            equal = false
                            break
                        }
                        offset += 8
                    }
                    while equal, offset < span.count {
                        equal = input[offset] | caseBits[span.start + offset] == lowercased[span.start + offset]
                        offset += 1
                    }
                    if equal { return index }
                }
                return nil
            }
        }
    }
}
