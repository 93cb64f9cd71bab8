import LeanJSON
import ProfileService
import Testing

/// Malformed requests get a clear 4xx and change nothing; none of them is a 500.
@Suite struct BadInputTests {
    static let original = #"{"givenName":"Ada","displayName":"Ada","email":"ada@example.com","preferences":{"theme":"dark"}}"#

    /// A v2 fixture holding one profile for user-123 at version 1.
    func seeded() async throws -> ProfileFixture {
        let profiles = ProfileFixture(schemaV2: true)
        let created = try await profiles.call(Events.v2("PUT", "/profiles/user-123", body: Self.original))
        #expect(created.status == 201)
        return profiles
    }

    func expectUnchanged(_ profiles: ProfileFixture) async throws {
        let item = try #require(try await profiles.store.item(for: "user-123", deadline: nil))
        #expect(item.version == 1)
        #expect(item.attributes["email"] == "ada@example.com")
    }

    struct Case: Sendable, CustomTestStringConvertible {
        let name: String
        let event: [UInt8]
        let status: Int
        let field: String?
        var testDescription: String { name }
    }

    static let cases: [Case] = {
        var cases: [Case] = [
            Case(name: "invalid JSON", event: Events.v2("PUT", "/profiles/user-123", body: #"{"displayName": "Ada",}"#), status: 400, field: nil),
            Case(name: "wrong type", event: Events.v2("PUT", "/profiles/user-123", body: #"{"displayName":42,"email":"a@example.com"}"#), status: 400, field: "displayName"),
            Case(name: "unknown field", event: Events.v2("PUT", "/profiles/user-123", body: #"{"displayName":"A","email":"a@example.com","isAdmin":true}"#), status: 400, field: "isAdmin"),
            Case(name: "read-only field", event: Events.v2("PUT", "/profiles/user-123", body: #"{"displayName":"A","email":"a@example.com","version":99}"#), status: 400, field: "version"),
            Case(name: "bad email", event: Events.v2("PUT", "/profiles/user-123", body: #"{"displayName":"A","email":"not-an-email"}"#), status: 400, field: "email"),
            Case(name: "bad locale", event: Events.v2("PUT", "/profiles/user-123", body: #"{"displayName":"A","email":"a@example.com","locale":"english please"}"#), status: 400, field: "locale"),
            Case(name: "bad time zone", event: Events.v2("PUT", "/profiles/user-123", body: #"{"displayName":"A","email":"a@example.com","timeZone":"Mars/Olympus"}"#), status: 400, field: "timeZone"),
            Case(name: "too many preferences", event: Events.v2("PUT", "/profiles/user-123", body: #"{"displayName":"A","email":"a@example.com","preferences":{\#((0..<51).map { "\"k\($0)\":1" }.joined(separator: ","))}}"#), status: 400, field: "preferences"),
            Case(name: "nested preference", event: Events.v2("PUT", "/profiles/user-123", body: #"{"displayName":"A","email":"a@example.com","preferences":{"a":{"b":1}}}"#), status: 400, field: "preferences"),
            Case(name: "number out of range", event: Events.v2("PUT", "/profiles/user-123", body: #"{"displayName":"A","email":"a@example.com","preferences":{"n":1e400}}"#), status: 400, field: nil),
            Case(name: "number too large for a preference", event: Events.v2("PUT", "/profiles/user-123", body: #"{"displayName":"A","email":"a@example.com","preferences":{"n":1e300}}"#), status: 400, field: "preferences"),
            Case(name: "nesting too deep", event: Events.v2("PUT", "/profiles/user-123", body: String(repeating: "[", count: 200) + String(repeating: "]", count: 200)), status: 400, field: nil),
            Case(name: "missing required", event: Events.v2("PUT", "/profiles/user-123", body: #"{"givenName":"A"}"#), status: 400, field: "displayName"),
            Case(name: "not an object", event: Events.v2("PUT", "/profiles/user-123", body: #"["displayName"]"#), status: 400, field: ""),
            Case(name: "empty body", event: Events.v2("PUT", "/profiles/user-123", body: ""), status: 400, field: nil),
            Case(name: "broken base64", event: Events.v2("PUT", "/profiles/user-123", base64Body: "e30=!"), status: 400, field: nil),
            Case(name: "invalid UTF-8 in base64 body", event: Events.v2("PUT", "/profiles/user-123", base64Body: "eyJkaXNwbGF5TmFtZSI6IsMoIn0="), status: 400, field: nil),
            Case(name: "10 MB body", event: Events.v2("PUT", "/profiles/user-123", body: #"{"displayName":""# + String(repeating: "a", count: 10 * 1024 * 1024) + #""}"#), status: 413, field: nil),
            Case(name: "not JSON content type", event: Events.v2("PUT", "/profiles/user-123", body: "displayName=A", headers: ["content-type": "application/x-www-form-urlencoded"]), status: 415, field: nil),
            Case(name: "patch as text", event: Events.v2("PATCH", "/profiles/user-123", body: "{}", headers: ["content-type": "text/plain"]), status: 415, field: nil),
            Case(name: "encoded slash in id", event: Events.v2("GET", "/profiles/..%2Fadmin"), status: 400, field: "userId"),
            Case(name: "dot-dot id", event: Events.v2("GET", "/profiles/..", sub: ".."), status: 400, field: "userId"),
            Case(name: "id too long", event: Events.v2("GET", "/profiles/" + String(repeating: "a", count: 129)), status: 400, field: "userId"),
            Case(name: "id with space", event: Events.v2("GET", "/profiles/user%20123", sub: "user 123"), status: 400, field: "userId"),
            Case(name: "malformed percent", event: Events.v2("GET", "/profiles/user%zz"), status: 400, field: nil),
            Case(name: "bad If-Match", event: Events.v2("PUT", "/profiles/user-123", body: original, headers: ["if-match": "\"v3\""]), status: 400, field: "If-Match"),
        ]
        cases.append(Case(name: "control character in a name", event: Events.v2("PUT", "/profiles/user-123", body: #"{"displayName":"A\u0007","email":"a@example.com"}"#), status: 400, field: "displayName"))
        return cases
    }()

    @Test(arguments: cases)
    func rejectedWithAClear4xxAndNothingChanges(_ badCase: Case) async throws {
        let profiles = try await seeded()
        let result = try await profiles.call(badCase.event)
        #expect(result.status == badCase.status, "\(badCase.name): \(result.body.prefix(300))")
        #expect((400...499).contains(result.status))
        #expect(result.json?["error"]?["message"]?.stringValue?.isEmpty == false)
        if let field = badCase.field {
            #expect(result.invalidFields.contains(field), "\(badCase.name): \(result.invalidFields)")
        }
        try await expectUnchanged(profiles)
    }

    @Test func invalidUTF8InThePlainBodyIsA400() async throws {
        // API Gateway would never send this, but a direct invoke can: bytes C3 28 are not UTF-8.
        let profiles = try await seeded()
        var event = Array(String(decoding: Events.v2("PUT", "/profiles/user-123", body: "PLACEHOLDER"), as: UTF8.self).utf8)
        let marker = Array("PLACEHOLDER".utf8)
        if let start = event.firstRange(of: marker) {
            event.replaceSubrange(start, with: [0xC3, 0x28])
        }
        await #expect { try await profiles.call(event) } throws: { error in
            "\(error)".contains("InvalidEvent") || "\(error)".contains("not JSON")
        }
        try await expectUnchanged(profiles)
    }
}
