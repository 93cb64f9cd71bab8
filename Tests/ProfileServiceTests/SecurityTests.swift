import FeatureFlags
import Foundation
import LambdaRuntime
import LeanJSON
import Logging
import ProfileService
import Testing

/// Events as an attacker would shape them, each through the real event parser and handler: every
/// finding of the security review is one test here.
@Suite struct SecurityTests {
    static let adaV2 = ProfileAPITests.adaV2

    /// An HTTP API 2.0 event with full control over the parts attackers choose.
    static func event(
        _ method: String, _ rawPath: String, claims: [String: JSON]? = ["sub": "user-123"], jwtScopes: JSON = .null,
        query: [String: JSON]? = nil, headers: [String: JSON] = [:], body: String? = nil, routeKey: String = "$default",
        pathParameters: [String: JSON]? = nil, domainName: String = "api.example.com"
    ) -> [UInt8] {
        var context: [String: JSON] = [
            "http": ["method": .string(method), "path": .string(rawPath)], "requestId": "sec-1",
            "domainName": .string(domainName), "stage": "$default",
        ]
        if let claims { context["authorizer"] = ["jwt": ["claims": .object(claims), "scopes": jwtScopes]] }
        var event: [String: JSON] = [
            "version": "2.0", "routeKey": .string(routeKey), "rawPath": .string(rawPath), "rawQueryString": "",
            "headers": .object(headers), "requestContext": .object(context), "isBase64Encoded": false,
        ]
        if let query { event["queryStringParameters"] = .object(query) }
        if let body { event["body"] = .string(body) }
        if let pathParameters { event["pathParameters"] = .object(pathParameters) }
        return JSON.object(event).bytes
    }

    /// The event with one object's keys written raw: JSON dictionaries cannot hold two canonically
    /// equal keys, so the attack has to be spelled out as text.
    static func healthWithQuery(_ rawMembers: String) -> [UInt8] {
        Array(#"{"version":"2.0","routeKey":"$default","rawPath":"/health","rawQueryString":"x","headers":{},"queryStringParameters":{\#(rawMembers)},"requestContext":{"http":{"method":"GET","path":"/health"},"requestId":"r"},"isBase64Encoded":false}"#.utf8)
    }

    @Test func aSubCanonicallyEqualToAnotherUserIsRefusedAndTheirProfileIsUntouched() async throws {
        let profiles = ProfileFixture()
        _ = try await profiles.call(Events.v2("PUT", "/profiles/Kate", body: ProfileAPITests.adaV1, sub: "Kate"))
        let before = try await profiles.store.item(for: "Kate", deadline: nil)
        let kelvin = "\u{212A}ate"
        #expect(kelvin == "Kate", "the trap: Swift's String == is canonical equivalence")
        for method in ["GET", "PUT", "PATCH", "DELETE"] {
            let body = method == "PUT" ? ProfileAPITests.adaV1 : method == "PATCH" ? #"{"name":"Mallory"}"# : nil
            var headers: [String: JSON] = [:]
            if body != nil { headers["content-type"] = "application/json" }
            let result = try await profiles.call(Self.event(method, "/profiles/Kate", claims: ["sub": .string(kelvin)], headers: headers, body: body))
            #expect(result.status == 401, "\(method) with sub KELVIN SIGN+ate")
        }
        #expect(try await profiles.store.item(for: "Kate", deadline: nil) == before)
    }

    @Test(arguments: [
        #""K":"1","\u212A":"2""#, #""\u00e9":"1","e\u0301":"2""#, "\"K\":\"1\",\"\u{212A}\":\"2\"",
    ])
    func canonicallyEqualQueryKeysAreA400NotAFunctionError(_ members: String) async throws {
        let output = try await ProfileFixture().call(Self.healthWithQuery(members))
        #expect(output.status == 400)
        #expect(output.json?["error"]?["message"]?.stringValue?.contains("differ in bytes") == true)
    }

    @Test func trulyDuplicateKeysStayInvalidJSONButOnlyEquivalentOnesAreDistinguished() throws {
        #expect(throws: JSONParseError.self) { try JSON(parsing: #"{"a":1,"a":2}"#) }
        do {
            _ = try JSON(parsing: "{\"K\":1,\"\u{212A}\":2}")
            Issue.record("equivalent keys must be refused by the plain parser")
        } catch {
            guard case .equivalentKeys(let first, let second) = error.reason else {
                Issue.record("expected equivalentKeys, got \(error.reason)")
                return
            }
            #expect(Array(first.utf8) == [0x4B] && Array(second.utf8) == [0xE2, 0x84, 0xAA])
        }
        let (value, dropped) = try JSON.parseKeepingFirstOfEquivalentKeys(Array("{\"K\":1,\"\u{212A}\":2}".utf8))
        #expect(value["K"] == 1)
        #expect(dropped.map { Array($0.utf8) } == [[0xE2, 0x84, 0xAA]])
    }

    @Test func healthShowsStatesNeverTheSourcesErrorText() async throws {
        let secretPath = "/var/task/secret-\(UUID().uuidString)/flags.json"
        let cache = FlagCache(source: FileFlagSource(path: secretPath), logger: Logger(label: "t") { _ in SwiftLogNoOpLogHandler() })
        await cache.load()
        let api = ProfileAPI(store: InMemoryProfileStore(), flags: cache, functionVersion: "7")
        let health = await api.respond(to: APIRequest(method: "GET", rawPath: "/health")).response
        #expect(health.status == 200)
        #expect(health.json?["flags"] == "file (not loaded)")
        #expect(!String(decoding: health.body, as: UTF8.self).contains("secret-"))
    }

    @Test func scopesComeFromJWTScopesThenScopeThenScpAndNeverFromScopes() async throws {
        let profiles = ProfileFixture()
        _ = try await profiles.call(Events.v2("PUT", "/profiles/user-9", body: ProfileAPITests.adaV1, sub: "user-9"))
        func read(_ claims: [String: JSON], jwtScopes: JSON = .null) async throws -> Int {
            try await profiles.call(Self.event("GET", "/profiles/user-9", claims: claims, jwtScopes: jwtScopes)).status
        }
        #expect(try await read(["sub": "admin-1"], jwtScopes: ["openid", "profiles/admin"]) == 200)
        #expect(try await read(["sub": "admin-1", "scope": "openid profiles/admin"]) == 200)
        #expect(try await read(["sub": "admin-1", "scope": "[profiles/admin openid]"]) == 200, "API Gateway's text form of a list claim")
        #expect(try await read(["sub": "admin-1", "scp": ["openid", "profiles/admin"]]) == 200, "scp as a list, any position")
        #expect(try await read(["sub": "admin-1", "scp": ["profiles/admin", "openid"]]) == 200)
        #expect(try await read(["sub": "admin-1", "scp": "profiles/admin"]) == 200)
        #expect(try await read(["sub": "admin-1", "scopes": "profiles/admin"]) == 403, "the non-standard scopes claim is ignored")
        #expect(try await read(["sub": "admin-1", "scope": "profiles/admin/x profiles/adminx"]) == 403)
        #expect(try await read(["sub": "admin-1", "scope": "Profiles/Admin"]) == 403)
    }

    @Test func preferenceNumbersOutsideDynamoDBsRangeAreA400() async throws {
        let profiles = ProfileFixture(schemaV2: true)
        func put(_ number: String) async throws -> Int {
            try await profiles.call(Events.v2("PUT", "/profiles/user-123", body: #"{"displayName":"Ada","email":"ada@example.com","preferences":{"x":\#(number)}}"#)).status
        }
        #expect(try await put("1e-200") == 400)
        #expect(try await put("-1e-131") == 400)
        #expect(try await put("1e16") == 400)
        #expect(try await put("0") != 400)
        #expect(try await put("1e-130") != 400)
        #expect(try await put("-0.5") != 400)
    }

    @Test func nullInAPutMeansAbsent() async throws {
        let profiles = ProfileFixture(schemaV2: true)
        _ = try await profiles.call(Events.v2("PUT", "/profiles/user-123", body: Self.adaV2))
        let cleared = try await profiles.call(Events.v2("PUT", "/profiles/user-123", body: #"{"displayName":"Ada","email":"ada@example.com","locale":null,"givenName":null}"#))
        #expect(cleared.status == 200)
        #expect(cleared.json?["locale"] == nil && cleared.json?["givenName"] == nil)
        let item = try #require(try await profiles.store.item(for: "user-123", deadline: nil))
        #expect(item.attributes["locale"] == nil, "removed, not stored as NULL")
        let missing = try await profiles.call(Events.v2("PUT", "/profiles/user-123", body: #"{"displayName":null,"email":"ada@example.com"}"#))
        #expect(missing.status == 400)
        #expect(missing.invalidFields == ["displayName"])
    }

    @Test func ifMatchStarMeansExistsAndWeakTagsNeverMatchAWrite() async throws {
        let profiles = ProfileFixture()
        let body = ProfileAPITests.adaV1
        let onMissing = try await profiles.call(Events.v2("PUT", "/profiles/user-123", body: body, headers: ["if-match": "*"]))
        #expect(onMissing.status == 412)
        #expect(try await profiles.store.item(for: "user-123", deadline: nil) == nil)
        _ = try await profiles.call(Events.v2("PUT", "/profiles/user-123", body: body))
        #expect(try await profiles.call(Events.v2("PUT", "/profiles/user-123", body: body, headers: ["if-match": "*"])).status == 200)
        #expect(try await profiles.call(Events.v2("PUT", "/profiles/user-123", body: body, headers: ["if-match": #"W/"2""#])).status == 412)
        #expect(try await profiles.call(Events.v2("PUT", "/profiles/user-123", body: body, headers: ["if-match": #""9", "2""#])).status == 200)
        #expect(try await profiles.call(Events.v2("DELETE", "/profiles/user-123", headers: ["if-match": #"W/"3""#])).status == 412)
        #expect(try await profiles.store.item(for: "user-123", deadline: nil)?.version == 3)
    }

    @Test func anETagFromBeforeADeleteNeverMatchesTheRecreatedProfile() async throws {
        let profiles = ProfileFixture()
        let created = try await profiles.call(Events.v2("PUT", "/profiles/user-123", body: ProfileAPITests.adaV1))
        let staleETag = try #require(created.headers["etag"])
        #expect(try await profiles.call(Events.v2("DELETE", "/profiles/user-123")).status == 204)
        let recreated = try await profiles.call(Events.v2("PUT", "/profiles/user-123", body: #"{"name":"Eve","email":"eve@example.com"}"#))
        #expect(recreated.status == 201)
        #expect(recreated.headers["etag"] != staleETag)
        let overwrite = try await profiles.call(Events.v2("PUT", "/profiles/user-123", body: ProfileAPITests.adaV1, headers: ["if-match": staleETag]))
        #expect(overwrite.status == 412)
        #expect(try await profiles.store.item(for: "user-123", deadline: nil)?.attributes["name"] == "Eve")
    }

    @Test func httpAPIPathsAreDecodedOnceFunctionURLPathsOnce() async throws {
        let profiles = ProfileFixture()
        _ = try await profiles.call(Events.v2("PUT", "/profiles/a-b", body: ProfileAPITests.adaV1, sub: "a-b"))
        // A client sent /profiles/a%252Db; the HTTP API decoded it to a%2Db. Decoding again would reach a-b.
        let httpAPI = try await profiles.call(Self.event("GET", "/profiles/a%2Db", claims: ["sub": "a-b"]))
        #expect(httpAPI.status == 400)
        // A Function URL delivers the path still encoded: one decode gives a-b.
        let functionURL = try await profiles.call(Self.event(
            "GET", "/profiles/a%2Db", claims: ["sub": "a-b"], domainName: "abcdefgh.lambda-url.eu-west-1.on.aws"))
        #expect(functionURL.status == 200)
        // With a route key and path parameters, those name the route (a custom domain's base path in rawPath is harmless).
        let routed = try await profiles.call(Self.event(
            "GET", "/v1/profiles/a-b", claims: ["sub": "a-b"], routeKey: "GET /profiles/{userId}", pathParameters: ["userId": "a-b"]))
        #expect(routed.status == 200)
    }

    @Test func restAPIBasePathMappingsStillMatchRoutes() async throws {
        let profiles = ProfileFixture()
        _ = try await profiles.call(Events.v2("PUT", "/profiles/user-5", body: ProfileAPITests.adaV1, sub: "user-5"))
        var event = try SampleEvents.json("rest-api-v1-get-profile.json").objectValue ?? [:]
        event["path"] = "/profiles-api/profiles/user-5"
        event["resource"] = "/profiles/{userId}"
        event["pathParameters"] = ["userId": "user-5"]
        var context = event["requestContext"]?.objectValue ?? [:]
        var authorizer = context["authorizer"]?.objectValue ?? [:]
        authorizer["claims"] = ["sub": "user-5"]
        context["authorizer"] = .object(authorizer)
        event["requestContext"] = .object(context)
        let result = try await profiles.call(JSON.object(event).bytes)
        #expect(result.status == 200)
    }

    @Test func whenContentTypeComesInTwoCasesTheLowerCaseOneWins() async throws {
        for (name, other) in [("Content-Type", "CONTENT-TYPE"), ("CONTENT-TYPE", "Content-Type")] {
            let profiles = ProfileFixture()
            let event = Self.event(
                "PUT", "/profiles/user-123",
                headers: [name: "text/plain", "content-type": "application/json", other: "text/html"], body: ProfileAPITests.adaV1)
            #expect(try await profiles.call(event).status == 201, "\(name) and \(other) lose to content-type")
        }
        let request = APIRequest(method: "PUT", rawPath: "/", headers: ["Content-type": "b", "Content-Type": "a"])
        #expect(request.header("content-type") == "a", "then the smallest name in bytes")
    }

    @Test func unknownMethodsGetA405WhoseAllowComesFromTheTable() async throws {
        let result = try await ProfileFixture().call(Events.v2("POST", "/profiles/user-123"))
        #expect(result.status == 405)
        #expect(result.headers["allow"] == "DELETE, GET, PATCH, PUT")
        #expect(try await ProfileFixture().call(Events.v2("GET", "/profiles/user-123/extra")).status == 404)
    }

    @Test func templateRoutesAreExactlyTheRoutingTable() throws {
        let template = try String(contentsOf: SampleEvents.folder.appendingPathComponent("../template.yaml").standardized, encoding: .utf8)
        // Every HttpApi event in the template: "Method: X" and "Path: Y" within one event block.
        var routes: [String] = []
        var method: String?
        for line in template.split(separator: "\n") {
            let text = line.trimmingCharacters(in: .whitespaces)
            for part in text.split(separator: ",").map({ $0.trimmingCharacters(in: CharacterSet(charactersIn: " {}")) }) {
                if part.hasPrefix("Method:") { method = part.dropFirst(7).trimmingCharacters(in: .whitespaces) }
                if part.hasPrefix("Path:"), let current = method {
                    routes.append(current + " " + part.dropFirst(5).trimmingCharacters(in: CharacterSet(charactersIn: " \"")))
                    method = nil
                }
            }
        }
        #expect(routes.sorted() == ProfileAPI.routes.map(\.name).sorted())
    }
}
