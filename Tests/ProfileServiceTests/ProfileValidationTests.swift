import LeanJSON
@testable import ProfileService
import Testing

/// The schema's checks of text and preferences, which take byte-level shortcuts for ASCII text: they
/// must answer exactly as the Unicode rules do, and list problems by field in byte order whatever the
/// document order.
@Suite struct ProfileValidationTests {
    static func problems(_ members: [String: JSON], requireAll: Bool = false) -> [FieldProblem] {
        ProfileSchema.v2.validate(.object(members), requireAll: requireAll)
    }

    @Test(arguments: [
        ("Ada", nil), ("  Ada  ", nil), ("é", nil), ("\u{65}\u{301}", nil), ("a\u{85}b", "must not contain control characters"),
        ("", "must not be empty"), ("   ", "must not be empty"), ("\t\n", "must not be empty"),
        ("\u{3000}\u{A0}", "must not be empty"), ("Ada\u{7}", "must not contain control characters"),
        ("A\u{7F}", "must not contain control characters"), ("\u{0}", "must not contain control characters"),
        ("Zoë\u{9F}", "must not contain control characters"), ("日本", nil),
    ] as [(String, String?)])
    func displayNameText(_ text: String, _ expected: String?) {
        let found = Self.problems(["displayName": .string(text)])
        #expect(found == expected.map { [FieldProblem(field: "displayName", problem: $0)] } ?? [], "\(Array(text.unicodeScalars))")
    }

    /// Length counts Unicode scalars, not bytes: 256 two-byte scalars fit a preference value, 257 do not.
    @Test func preferenceValuesAreMeasuredInScalars() {
        let fits = String(repeating: "é", count: 256), over = String(repeating: "é", count: 257)
        #expect(Self.problems(["preferences": ["note": .string(fits)]]).isEmpty)
        #expect(Self.problems(["preferences": ["note": .string(over)]])
            == [FieldProblem(field: "preferences", problem: "value of \"note\" is longer than 256 characters")])
        #expect(Self.problems(["preferences": ["note": .string(String(repeating: "a", count: 257))]]).count == 1)
    }

    /// Of several bad preferences the first in byte order of the keys is reported; of several bad
    /// fields, each, in byte order of the names.
    @Test func problemsComeInByteOrderOfTheirNames() {
        let preferences: JSON = ["zeta": .array([]), "Alpha": .null, "beta": .string("fine"), "b!d": .bool(true)]
        #expect(Self.problems(["preferences": preferences])
            == [FieldProblem(field: "preferences", problem: "value of \"Alpha\" must be a string, boolean or number, not null")])
        let found = Self.problems([
            "timeZone": .string("Nowhere/Land"), "email": .string("no-at-sign"), "displayName": .string(""),
            "userId": .string("x"), "zzz": .bool(true), "aaa": .bool(true),
        ])
        #expect(found.map(\.field) == ["aaa", "userId", "zzz", "displayName", "email", "timeZone"])
    }
}
