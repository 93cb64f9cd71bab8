import LeanJSON
import ProfileService
import Testing

/// The profile API called as users test their handlers: events in, HTTP results out, no server.
@Suite struct ProfileAPITests {
    static let adaV1 = #"{"name":"Ada Lovelace","email":"ada@example.com"}"#
    static let adaV2 = #"{"givenName":"Ada","familyName":"Lovelace","displayName":"Ada L.","email":"ada@example.com","locale":"en-GB","timeZone":"Europe/London","preferences":{"newsletter":true,"theme":"dark","fontSize":14}}"#

    @Test func sampleEventsDriveAFullRoundTripOnSchema1() async throws {
        let profiles = ProfileFixture()
        let missing = try await profiles.call(SampleEvents.bytes("http-api-v2-get-profile.json"))
        #expect(missing.status == 404)
        #expect(missing.errorCode == "not_found")

        let put = try await profiles.call(Events.v2("PUT", "/profiles/user-123", body: Self.adaV1))
        #expect(put.status == 201)
        #expect(put.headers["etag"] == "\"1\"")
        #expect(put.headers["x-profile-schema"] == "1")
        #expect(put.headers["x-function-version"] == "7")

        let get = try await profiles.call(SampleEvents.bytes("http-api-v2-get-profile.json"))
        #expect(get.status == 200)
        #expect(get.json == [
            "userId": "user-123", "name": "Ada Lovelace", "email": "ada@example.com", "version": 1,
            "updatedAt": get.json?["updatedAt"] ?? .null,
        ])
        let rest = try await profiles.call(SampleEvents.bytes("rest-api-v1-get-profile.json"))
        #expect(rest.status == 200)
        #expect(rest.raw["multiValueHeaders"] != nil, "a REST API event gets a payload 1.0 result")

        let patch = try await profiles.call(Events.v2(
            "PATCH", "/profiles/user-123", body: #"{"email":"ada@lovelace.org"}"#,
            headers: ["content-type": "application/merge-patch+json", "if-match": "\"1\""]))
        #expect(patch.status == 200)
        #expect(patch.json?["email"] == "ada@lovelace.org")
        #expect(patch.json?["name"] == "Ada Lovelace")
        #expect(patch.json?["version"] == 2)

        let delete = try await profiles.call(SampleEvents.bytes("http-api-v2-delete-profile.json"))
        #expect(delete.status == 204)
        #expect(try await profiles.call(Events.v2("GET", "/profiles/user-123")).status == 404)
    }

    @Test func schema2ReadsAV1ItemWithDisplayNameFromName() async throws {
        let store = InMemoryProfileStore()
        _ = try await ProfileFixture(schemaV2: false, store: store).call(Events.v2("PUT", "/profiles/user-123", body: Self.adaV1))
        let v2 = try await ProfileFixture(schemaV2: true, store: store).call(Events.v2("GET", "/profiles/user-123"))
        #expect(v2.status == 200)
        #expect(v2.headers["x-profile-schema"] == "2")
        #expect(v2.json?["displayName"] == "Ada Lovelace")
        #expect(v2.json?["schemaVersion"] == 2)
        #expect(v2.json?["preferences"] == .object([:]))
    }

    @Test func schema2WritesKeepNameForOldReadersAndSchema1WritesKeepV2Fields() async throws {
        let store = InMemoryProfileStore()
        let v1 = ProfileFixture(schemaV2: false, store: store)
        let v2 = ProfileFixture(schemaV2: true, store: store)
        let created = try await v2.call(Events.v2("PUT", "/profiles/user-123", body: Self.adaV2))
        #expect(created.status == 201)
        #expect(created.json?["preferences"]?["fontSize"] == 14)
        let oldReader = try await v1.call(Events.v2("GET", "/profiles/user-123"))
        #expect(oldReader.json?["name"] == "Ada L.", "v2 keeps name equal to displayName")

        let v1Write = try await v1.call(Events.v2("PUT", "/profiles/user-123", body: #"{"name":"Augusta Ada King","email":"ada@example.com"}"#))
        #expect(v1Write.status == 200)
        let newReader = try await v2.call(Events.v2("GET", "/profiles/user-123"))
        #expect(newReader.json?["locale"] == "en-GB", "a v1 write does not lose v2 attributes")
        #expect(newReader.json?["timeZone"] == "Europe/London")
        #expect(newReader.json?["preferences"]?["theme"] == "dark")
        #expect(newReader.json?["displayName"] == "Augusta Ada King", "the v1 rename is visible to v2 readers")
        #expect(newReader.json?["version"] == 2)
    }

    @Test func mergePatchFollowsRFC7396() async throws {
        let profiles = ProfileFixture(schemaV2: true)
        _ = try await profiles.call(Events.v2("PUT", "/profiles/user-123", body: Self.adaV2))
        let patched = try await profiles.call(SampleEvents.bytes("http-api-v2-patch-profile.json"))
        #expect(patched.status == 200)
        #expect(patched.json?["displayName"] == "Ada L.")
        #expect(patched.json?["preferences"] == ["newsletter": true, "fontSize": 14], "null removes theme")
        let unknown = try await profiles.call(Events.v2(
            "PATCH", "/profiles/nobody", body: #"{"email":"x@example.com"}"#, sub: "nobody",
            headers: ["content-type": "application/merge-patch+json"]))
        #expect(unknown.status == 404)
        let removeRequired = try await profiles.call(Events.v2(
            "PATCH", "/profiles/user-123", body: #"{"email":null}"#, headers: ["content-type": "application/merge-patch+json"]))
        #expect(removeRequired.status == 400)
        #expect(removeRequired.invalidFields == ["email"])
    }

    @Test func ifMatchMismatchIs412AndChangesNothing() async throws {
        let profiles = ProfileFixture()
        _ = try await profiles.call(Events.v2("PUT", "/profiles/user-123", body: Self.adaV1))
        let stale = try await profiles.call(Events.v2(
            "PUT", "/profiles/user-123", body: #"{"name":"Other","email":"o@example.com"}"#, headers: ["if-match": "\"7\""]))
        #expect(stale.status == 412)
        #expect(stale.errorCode == "precondition_failed")
        let staleDelete = try await profiles.call(Events.v2("DELETE", "/profiles/user-123", headers: ["if-match": "W/\"3\""]))
        #expect(staleDelete.status == 412)
        let item = try #require(try await profiles.store.item(for: "user-123", deadline: nil))
        #expect(item.version == 1)
        #expect(item.attributes["name"] == "Ada Lovelace")
    }

    @Test func authorizationIsDefaultDeny() async throws {
        let profiles = ProfileFixture()
        _ = try await profiles.call(Events.v2("PUT", "/profiles/user-123", body: Self.adaV1))
        let anonymous = try await profiles.call(Events.v2("GET", "/profiles/user-123", sub: nil))
        #expect(anonymous.status == 401)
        let other = try await profiles.call(Events.v2("GET", "/profiles/user-123", sub: "mallory"))
        #expect(other.status == 403)
        let otherWrite = try await profiles.call(Events.v2("PUT", "/profiles/user-123", body: Self.adaV1, sub: "mallory"))
        #expect(otherWrite.status == 403)
        let admin = try await profiles.call(Events.v2("GET", "/profiles/user-123", sub: "support", scope: "openid profiles/admin"))
        #expect(admin.status == 200)
        let functionURL = try await profiles.call(SampleEvents.bytes("function-url-get-profile.json"))
        #expect(functionURL.status == 401, "no authorizer, no identity")
    }

    @Test func healthNeedsNoIdentityAndReportsTheSetup() async throws {
        let health = try await ProfileFixture().call(SampleEvents.bytes("http-api-v2-get-health.json"))
        #expect(health.status == 200)
        #expect(health.json == ["status": "ok", "functionVersion": "7", "store": "memory", "flags": "static"])
    }

    @Test func unknownRoutesAre404AndWrongMethods405WithAllow() async throws {
        let profiles = ProfileFixture()
        #expect(try await profiles.call(Events.v2("GET", "/accounts/user-123")).status == 404)
        #expect(try await profiles.call(Events.v2("GET", "/profiles")).status == 404)
        let post = try await profiles.call(Events.v2("POST", "/profiles/user-123", body: Self.adaV1))
        #expect(post.status == 405)
        #expect(post.headers["allow"] == "DELETE, GET, PATCH, PUT")
        let healthPost = try await profiles.call(Events.v2("POST", "/health"))
        #expect(healthPost.status == 405)
        #expect(healthPost.headers["allow"] == "GET")
    }

    @Test func unavailableStoreIs503WithRetryAfter() async throws {
        let api = ProfileAPI(store: FailingStore(), flags: StaticFlagsOff(), functionVersion: "7")
        let outcome = await api.respond(to: APIRequest(method: "GET", rawPath: "/profiles/user-123", claims: ["sub": "user-123"]))
        #expect(outcome.response.status == 503)
        #expect(outcome.response.headers["retry-after"] == "2")
        let broken = ProfileAPI(store: FailingStore(error: .failed("ValidationException: secret internals")), flags: StaticFlagsOff(), functionVersion: "7")
        let failed = await broken.respond(to: APIRequest(method: "GET", rawPath: "/profiles/user-123", claims: ["sub": "user-123"], requestID: "rid-42"))
        #expect(failed.response.status == 500)
        let text = String(decoding: failed.response.body, as: UTF8.self)
        #expect(text.contains("rid-42"))
        #expect(!text.contains("secret internals"), "no internals in the response")
    }
}

import FeatureFlags
import LambdaRuntime

struct StaticFlagsOff: FlagEvaluating {
    func evaluate(_ flag: String, userID: String) -> FlagEvaluation { FlagEvaluation(value: false, reason: .defaultValue) }
    var sourceState: String { "static" }
}

struct FailingStore: ProfileStore {
    var error: ProfileStoreError = .unavailable("throttled", retryAfter: 2)
    var kind: String { "failing" }
    func item(for userID: String, deadline: LambdaDeadline?) async throws(ProfileStoreError) -> ProfileItem? { throw error }
    func update(_ userID: String, _ write: ProfileWrite, expectedVersion: Int?, deadline: LambdaDeadline?) async throws(ProfileStoreError) -> ProfileItem { throw error }
    func delete(_ userID: String, expectedVersion: Int, deadline: LambdaDeadline?) async throws(ProfileStoreError) { throw error }
}
