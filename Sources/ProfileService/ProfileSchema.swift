import LambdaCore
import LeanJSON

/// The two profile shapes clients can see.
///
/// Stored attributes and who owns them (both versions share one item; each write updates only its own):
///
/// | attribute | v1 writes | v2 writes | notes |
/// |---|---|---|---|
/// | `name` | yes | yes, = `displayName` | v2 keeps it equal to `displayName` while v1 readers exist (expand) |
/// | `email` | yes | yes | |
/// | `displayName` | = `name`, only when the item already has one | yes | a v1 item read as v2 shows `name` |
/// | `givenName`, `familyName`, `locale`, `timeZone`, `preferences`, `schemaVersion` | never | yes | v1 never touches them |
/// | `updatedAt`, `version` | yes | yes | `version` rises by exactly one per write, under a condition |
public enum ProfileSchema: Int, Sendable, Equatable {
    /// `userId`, `name`, `email`, `updatedAt`, `version`.
    case v1 = 1
    /// `userId`, `givenName`, `familyName`, `displayName`, `email`, `locale`, `timeZone`, `preferences`,
    /// `updatedAt`, `version`, `schemaVersion: 2`.
    case v2 = 2

    /// Fields a client may send.
    var writableFields: [String] {
        switch self {
        case .v1: Self.v1WritableFields
        case .v2: Self.v2WritableFields
        }
    }

    private static let v1WritableFields = ["name", "email"]
    private static let v2WritableFields = ["givenName", "familyName", "displayName", "email", "locale", "timeZone", "preferences"]

    /// Fields a client sees but may not set.
    static let readOnlyFields: Set<String> = ["userId", "updatedAt", "version", "schemaVersion"]

    /// Whether a client may send `key`, compared as bytes: a `Set<String>` lookup is canonical
    /// equivalence, which must not decide what a client can write.
    func owns(_ key: String) -> Bool {
        writableFields.contains { $0.utf8.elementsEqual(key.utf8) }
    }

    /// Fields a `PUT` must contain.
    var requiredFields: [String] {
        switch self {
        case .v1: ["name", "email"]
        case .v2: ["displayName", "email"]
        }
    }

    /// The client's view of a stored item.
    func view(of item: ProfileItem) -> JSON {
        let attributes = item.attributes
        var view: [String: JSON] = [
            "userId": .string(item.userID),
            "version": .number(Double(item.version)),
        ]
        if let updatedAt = attributes["updatedAt"] { view["updatedAt"] = updatedAt }
        if let email = attributes["email"] { view["email"] = email }
        switch self {
        case .v1:
            view["name"] = attributes["name"] ?? attributes["displayName"] ?? .string("")
        case .v2:
            view["displayName"] = attributes["displayName"] ?? attributes["name"] ?? .string("")
            for field in ["givenName", "familyName", "locale", "timeZone"] {
                if let value = attributes[field] { view[field] = value }
            }
            view["preferences"] = attributes["preferences"] ?? .object([:])
            view["schemaVersion"] = 2
        }
        return .object(view)
    }

    /// The write that makes the item hold `input` (already validated) for the fields this schema owns.
    /// Owned optional fields missing from `input` are removed: a `PUT` replaces what the schema owns.
    func write(for input: [String: JSON], current: ProfileItem?, updatedAt: String) -> ProfileWrite {
        var set: [String: JSON] = ["updatedAt": .string(updatedAt)]
        var remove: [String] = []
        switch self {
        case .v1:
            set["name"] = input["name"]
            set["email"] = input["email"]
            if current?.attributes["displayName"] != nil {
                set["displayName"] = input["name"]
            }
        case .v2:
            for field in writableFields {
                if let value = input[field] {
                    set[field] = value
                } else if current?.attributes[field] != nil {
                    remove.append(field)
                }
            }
            set["name"] = input["displayName"]
            set["schemaVersion"] = 2
        }
        return ProfileWrite(set: set, remove: remove.sorted())
    }

    /// Checks a client document for this schema; every problem is listed. A merge patch is checked
    /// for its field names only (`checkValues: false`): its nulls remove, and the patched result is
    /// checked in full.
    func validate(_ document: JSON, requireAll: Bool, checkValues: Bool = true) -> [FieldProblem] {
        guard let members = document.objectValue else {
            return [FieldProblem(field: "", problem: "the body must be a JSON object, not \(document.typeName)")]
        }
        // Each group of problems is listed by field name in byte order; the members are read in the
        // dictionary's order and only the problems found (usually none) are sorted.
        var unknown: [FieldProblem] = []
        for key in members.keys where !owns(key) {
            if ProfileSchema.readOnlyFields.contains(where: { $0.utf8.elementsEqual(key.utf8) }) {
                unknown.append(FieldProblem(field: key, problem: "is read-only"))
            } else {
                unknown.append(FieldProblem(field: key, problem: "is not a field of the schema v\(rawValue) profile"))
            }
        }
        var problems = Self.inFieldOrder(unknown)
        if requireAll {
            for field in requiredFields where members[field] == nil || members[field] == .null {
                problems.append(FieldProblem(field: field, problem: "is required"))
            }
        }
        var invalid: [FieldProblem] = []
        for (key, value) in members where checkValues && owns(key) {
            if value == .null, !requiredFields.contains(key) { continue }
            if let problem = Self.check(field: key, value: value) {
                invalid.append(FieldProblem(field: key, problem: problem))
            }
        }
        return problems + Self.inFieldOrder(invalid)
    }

    private static func inFieldOrder(_ problems: [FieldProblem]) -> [FieldProblem] {
        problems.count < 2 ? problems : problems.sorted { JSON.precedesInBytes($0.field, $1.field) }
    }

    private static func check(field: String, value: JSON) -> String? {
        switch field {
        case "name", "displayName", "givenName", "familyName":
            return checkText(value, maxLength: 100)
        case "email":
            guard let text = value.stringValue else { return "must be a string, not \(value.typeName)" }
            return Validation.isEmail(text) ? nil : "is not a valid email address"
        case "locale":
            guard let text = value.stringValue else { return "must be a string, not \(value.typeName)" }
            return Validation.isLanguageTag(text) ? nil : "is not a BCP 47 language tag (for example en-GB)"
        case "timeZone":
            guard let text = value.stringValue else { return "must be a string, not \(value.typeName)" }
            return Validation.isTimeZoneName(text) ? nil : "is not an IANA time zone name (for example Europe/London)"
        case "preferences":
            guard let members = value.objectValue else { return "must be an object, not \(value.typeName)" }
            if members.count > 50 { return "has \(members.count) entries; at most 50 are allowed" }
            // Checked as they come; only a request with a bad entry pays for sorting, so that the
            // problem reported is the first in byte order of the keys, whatever the document order.
            guard members.contains(where: { Self.preferenceProblem(key: $0.key, entry: $0.value) != nil }) else { return nil }
            for (key, entry) in members.sorted(by: { JSON.precedesInBytes($0.key, $1.key) }) {
                if let problem = Self.preferenceProblem(key: key, entry: entry) { return problem }
            }
            return nil
        default:
            return nil
        }
    }

    /// What is wrong with one preference, or `nil`.
    private static func preferenceProblem(key: String, entry: JSON) -> String? {
        guard Validation.isPreferenceKey(key) else {
            return "key \"\(key)\" must be 1-64 letters, digits, '.', '_' or '-'"
        }
        switch entry {
        case .string(let text) where !isLonger(text, than: 256): return nil
        case .string: return "value of \"\(key)\" is longer than 256 characters"
        case .bool: return nil
        // DynamoDB stores magnitudes from 1e-130 to 9.9e125; 1e15 keeps integers exact in JSON.
        case .number(let number) where number == 0 || (1e-130...1e15).contains(abs(number)): return nil
        case .number: return "value of \"\(key)\" is out of range (0, or 1e-130 to 1e15 in magnitude)"
        default: return "value of \"\(key)\" must be a string, boolean or number, not \(entry.typeName)"
        }
    }

    private static func checkText(_ value: JSON, maxLength: Int) -> String? {
        guard let text = value.stringValue else { return "must be a string, not \(value.typeName)" }
        // A visible ASCII first byte starts a Character that is not whitespace: no need to trim.
        if !(text.utf8.first.map { $0 > 0x20 && $0 < 0x7F } ?? false), text.trimmed().isEmpty {
            return "must not be empty"
        }
        if isLonger(text, than: maxLength) { return "is longer than \(maxLength) characters" }
        // Control characters (category Cc): in ASCII text, the bytes below 0x20 and 0x7F.
        let hasControl = text.utf8.contains { $0 >= 0x80 }
            ? text.unicodeScalars.contains { $0.properties.generalCategory == .control }
            : text.utf8.contains { $0 < 0x20 || $0 == 0x7F }
        return hasControl ? "must not contain control characters" : nil
    }

    /// Whether `text` has more than `limit` Unicode scalars; counted only when its UTF-8 is longer.
    private static func isLonger(_ text: String, than limit: Int) -> Bool {
        text.utf8.count > limit && text.unicodeScalars.count > limit
    }
}

/// One invalid field and what is wrong with it.
public struct FieldProblem: Sendable, Equatable {
    /// The field name (empty for the document as a whole).
    public var field: String
    /// What is wrong.
    public var problem: String

    var json: JSON { ["field": .string(field), "problem": .string(problem)] }
}

/// Input checks that do not depend on the schema.
enum Validation {
    /// `[A-Za-z0-9._@-]{1,128}`, and not only dots.
    static func isUserID(_ id: String) -> Bool {
        let bytes = Array(id.utf8)
        guard (1...128).contains(bytes.count), !bytes.allSatisfy({ $0 == UInt8(ascii: ".") }) else { return false }
        return bytes.allSatisfy { byte in
            ASCII.isAlphanumeric(byte) || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "@")
                || byte == UInt8(ascii: "-")
        }
    }

    /// A practical address check: one `@`, a non-empty local part, a dotted domain, no spaces, ≤ 254 bytes.
    static func isEmail(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard bytes.count <= 254, let at = bytes.firstIndex(of: UInt8(ascii: "@")), at > 0,
              bytes.lastIndex(of: UInt8(ascii: "@")) == at else { return false }
        let domain = bytes[(at + 1)...]
        guard domain.count >= 3, domain.contains(UInt8(ascii: ".")), domain.first != UInt8(ascii: "."),
              domain.last != UInt8(ascii: ".") else { return false }
        return bytes.allSatisfy { $0 > 0x20 && $0 != 0x7F && $0 != UInt8(ascii: ",") && $0 != UInt8(ascii: "<") && $0 != UInt8(ascii: ">") }
    }

    /// BCP 47 shape: a 2-3 letter (or 5-8 letter) language, then subtags of 1-8 letters or digits.
    static func isLanguageTag(_ text: String) -> Bool {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard let language = parts.first, (2...3).contains(language.count) || (5...8).contains(language.count),
              language.utf8.allSatisfy(ASCII.isLetter) else { return false }
        return parts.dropFirst().allSatisfy { part in
            (1...8).contains(part.count) && part.utf8.allSatisfy(ASCII.isAlphanumeric)
        } && text.utf8.count <= 35
    }

    private static let timeZoneAreas: Set<String> = [
        "Africa", "America", "Antarctica", "Arctic", "Asia", "Atlantic", "Australia", "Europe", "Indian", "Pacific", "Etc",
    ]

    /// An IANA zone name: `UTC`, or `Area/Location[/Sub]` with a known area.
    static func isTimeZoneName(_ text: String) -> Bool {
        if text == "UTC" || text == "GMT" { return true }
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard (2...3).contains(parts.count), timeZoneAreas.contains(String(parts[0])) else { return false }
        return parts.dropFirst().allSatisfy { part in
            (1...30).contains(part.count) && part.utf8.allSatisfy { ASCII.isAlphanumeric($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "+") }
        }
    }

    /// 1-64 letters, digits, `.`, `_` or `-`.
    static func isPreferenceKey(_ key: String) -> Bool {
        (1...64).contains(key.utf8.count)
            && key.utf8.allSatisfy { ASCII.isAlphanumeric($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") }
    }
}

extension StringProtocol {
    /// The text without leading and trailing characters that `drop` matches (whitespace by default).
    func trimmed(where drop: (Character) -> Bool = \.isWhitespace) -> SubSequence {
        var start = startIndex
        var end = endIndex
        while start < end, drop(self[start]) { start = index(after: start) }
        while end > start, drop(self[index(before: end)]) { end = index(before: end) }
        return self[start..<end]
    }
}
