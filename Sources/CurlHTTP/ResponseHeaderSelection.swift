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
    /// Each name, ASCII-lowercased, as bytes.
    let lowercasedNames: [[UInt8]]

    private init(names: [String]?) {
        self.names = names
        self.lowercasedNames = (names ?? []).map { $0.utf8.map(\.asciiLowercased) }
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

    /// The index in ``names`` of the name `bytes` spells (ASCII case-insensitive), if it is one.
    func index(of bytes: UnsafeBufferPointer<UInt8>) -> Int? {
        for (index, name) in lowercasedNames.enumerated() where name.count == bytes.count {
            let equal = name.withUnsafeBufferPointer { name in
                for offset in 0..<name.count where bytes[offset].asciiLowercased != name[offset] {
                    return false
                }
                return true
            }
            if equal { return index }
        }
        return nil
    }
}
