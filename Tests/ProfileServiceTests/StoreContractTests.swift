import AWSClients
import Foundation
import LeanJSON
import ProfileService
import Testing

/// Which stores the contract runs against: always the in-memory one; DynamoDB when scripts/test.sh
/// has started moto (with signature checking) and exported its settings.
enum StoreUnderTest: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case memory
    case dynamodb

    static let environment = ProcessInfo.processInfo.environment

    static var available: [StoreUnderTest] {
        environment["PROFILE_TEST_DYNAMODB_ENDPOINT"] == nil ? [.memory] : [.memory, .dynamodb]
    }

    var testDescription: String { rawValue }

    /// Credentials as Lambda hands them: an assumed role's key, secret and session token.
    static func awsEnvironment(secret: String? = nil, token: String?? = nil) -> AWSEnvironment {
        AWSEnvironment(
            region: "us-east-1",
            accessKeyID: environment["PROFILE_TEST_SESSION_ACCESS_KEY_ID"] ?? "",
            secretAccessKey: secret ?? environment["PROFILE_TEST_SESSION_SECRET_ACCESS_KEY"] ?? "",
            sessionToken: token ?? environment["PROFILE_TEST_SESSION_TOKEN"],
            endpointOverrides: ["DYNAMODB": environment["PROFILE_TEST_DYNAMODB_ENDPOINT"] ?? ""])
    }

    func makeStore() -> any ProfileStore {
        switch self {
        case .memory:
            InMemoryProfileStore()
        case .dynamodb:
            DynamoDBProfileStore(
                table: Self.environment["PROFILE_TEST_DYNAMODB_TABLE"] ?? "profiles-test", environment: Self.awsEnvironment())
        }
    }
}

/// One contract for every ``ProfileStore``: conditional writes, owned attributes, typed values.
@Suite struct StoreContractTests {
    static func newUser() -> String { "contract-\(UUID().uuidString.lowercased())" }

    @Test(arguments: StoreUnderTest.available)
    func missingItemIsNil(_ kind: StoreUnderTest) async throws {
        #expect(try await kind.makeStore().item(for: Self.newUser(), deadline: nil) == nil)
    }

    @Test(arguments: StoreUnderTest.available)
    func createOnlyWhenAbsentThenUpdateOnlyAtTheExpectedVersion(_ kind: StoreUnderTest) async throws {
        let store = kind.makeStore()
        let user = Self.newUser()
        let created = try await store.update(user, ProfileWrite(set: ["name": "Ada", "email": "ada@example.com"]), expectedVersion: nil, deadline: nil)
        #expect(created == ProfileItem(userID: user, version: 1, attributes: ["name": "Ada", "email": "ada@example.com"]))
        await #expect(throws: ProfileStoreError.conflict) {
            try await store.update(user, ProfileWrite(set: ["name": "Eve"]), expectedVersion: nil, deadline: nil)
        }
        await #expect(throws: ProfileStoreError.conflict) {
            try await store.update(user, ProfileWrite(set: ["name": "Eve"]), expectedVersion: 5, deadline: nil)
        }
        let updated = try await store.update(
            user, ProfileWrite(set: ["locale": "en-GB", "name": "Ada L."]), expectedVersion: 1, deadline: nil)
        #expect(updated.version == 2)
        #expect(updated.attributes == ["name": "Ada L.", "email": "ada@example.com", "locale": "en-GB"], "unnamed attributes stay")
        let removed = try await store.update(user, ProfileWrite(set: [:], remove: ["locale"]), expectedVersion: 2, deadline: nil)
        #expect(removed.attributes == ["name": "Ada L.", "email": "ada@example.com"])
        #expect(try await store.item(for: user, deadline: nil) == removed)
    }

    @Test(arguments: StoreUnderTest.available)
    func nestedValuesRoundTripWithTheirTypes(_ kind: StoreUnderTest) async throws {
        let store = kind.makeStore()
        let user = Self.newUser()
        let preferences: JSON = ["theme": "dark", "newsletter": false, "fontSize": 14, "ratio": 1.5, "empty": ""]
        _ = try await store.update(
            user, ProfileWrite(set: ["preferences": preferences, "schemaVersion": 2, "blank": [:]]), expectedVersion: nil, deadline: nil)
        let item = try #require(try await store.item(for: user, deadline: nil))
        #expect(item.attributes["preferences"] == preferences)
        #expect(item.attributes["schemaVersion"] == 2)
        #expect(item.attributes["blank"] == .object([:]))
    }

    @Test(arguments: StoreUnderTest.available)
    func deleteOnlyAtTheExpectedVersion(_ kind: StoreUnderTest) async throws {
        let store = kind.makeStore()
        let user = Self.newUser()
        _ = try await store.update(user, ProfileWrite(set: ["name": "Ada"]), expectedVersion: nil, deadline: nil)
        await #expect(throws: ProfileStoreError.conflict) { try await store.delete(user, expectedVersion: 7, deadline: nil) }
        #expect(try await store.item(for: user, deadline: nil) != nil)
        try await store.delete(user, expectedVersion: 1, deadline: nil)
        #expect(try await store.item(for: user, deadline: nil) == nil)
        await #expect(throws: ProfileStoreError.conflict) { try await store.delete(user, expectedVersion: 1, deadline: nil) }
    }

    @Test(arguments: StoreUnderTest.available)
    func versionsNeverRestartAfterADeleteSoOldETagsNeverMatch(_ kind: StoreUnderTest) async throws {
        let store = kind.makeStore()
        let user = Self.newUser()
        _ = try await store.update(user, ProfileWrite(set: ["name": "Ada"]), expectedVersion: nil, deadline: nil)
        _ = try await store.update(user, ProfileWrite(set: ["name": "Ada L."]), expectedVersion: 1, deadline: nil)
        try await store.delete(user, expectedVersion: 2, deadline: nil)
        let recreated = try await store.update(user, ProfileWrite(set: ["name": "Eve"]), expectedVersion: nil, deadline: nil)
        #expect(recreated == ProfileItem(userID: user, version: 3, attributes: ["name": "Eve"]))
        #expect(try await store.item(for: user, deadline: nil) == recreated)
        await #expect(throws: ProfileStoreError.conflict, "a stale version of the old profile matches nothing") {
            try await store.update(user, ProfileWrite(set: ["name": "Mallory"]), expectedVersion: 2, deadline: nil)
        }
        try await store.delete(user, expectedVersion: 3, deadline: nil)
        let third = try await store.update(user, ProfileWrite(set: ["name": "Ada"]), expectedVersion: nil, deadline: nil)
        #expect(third.version == 4)
    }

    @Test(arguments: StoreUnderTest.available)
    func mixedVersionWritersLoseNothing(_ kind: StoreUnderTest) async throws {
        let store = kind.makeStore()
        let users = (0..<3).map { _ in Self.newUser() }
        let writes = try await MixedVersionTests.runCanary(store: store, users: users, writers: 4, writesPerWriter: 125)
        // Writers that really interleave lose some races four times running (409, which changes nothing):
        // about 10 of 500 alone, 15% in a loaded parallel run. Most must land, or nothing was tested.
        #expect(writes.count >= 503 / 2, "\(writes.count) of 503 writes landed")
        try await MixedVersionTests.verify(store: store, writes: writes, users: users)
    }
}

/// What only the DynamoDB store has: real signatures, checked by moto.
@Suite(.enabled(if: StoreUnderTest.environment["PROFILE_TEST_DYNAMODB_ENDPOINT"] != nil, "scripts/test.sh starts moto"))
struct DynamoDBSigningTests {
    func store(_ environment: AWSEnvironment) -> DynamoDBProfileStore {
        DynamoDBProfileStore(
            table: StoreUnderTest.environment["PROFILE_TEST_DYNAMODB_TABLE"] ?? "profiles-test", environment: environment,
            retryPolicy: .init(maxAttempts: 1))
    }

    @Test func wrongSecretIsRefused() async throws {
        let forged = store(StoreUnderTest.awsEnvironment(secret: "not-the-secret"))
        await #expect {
            try await forged.item(for: "anyone", deadline: nil)
        } throws: { error in
            "\(error)".contains("SignatureDoesNotMatch") || "\(error)".contains("403")
        }
    }

    @Test func sessionCredentialsNeedTheirToken() async throws {
        await #expect(throws: ProfileStoreError.self) {
            try await store(StoreUnderTest.awsEnvironment(token: .some(nil))).item(for: "anyone", deadline: nil)
        }
        await #expect(throws: ProfileStoreError.self) {
            try await store(StoreUnderTest.awsEnvironment(token: "bogus")).item(for: "anyone", deadline: nil)
        }
        #expect(try await store(StoreUnderTest.awsEnvironment()).item(for: "anyone", deadline: nil) == nil)
    }

    @Test func longTermUserKeysWorkToo() async throws {
        let environment = AWSEnvironment(
            region: "us-east-1", accessKeyID: StoreUnderTest.environment["PROFILE_TEST_ACCESS_KEY_ID"] ?? "",
            secretAccessKey: StoreUnderTest.environment["PROFILE_TEST_SECRET_ACCESS_KEY"] ?? "",
            endpointOverrides: ["DYNAMODB": StoreUnderTest.environment["PROFILE_TEST_DYNAMODB_ENDPOINT"] ?? ""])
        #expect(try await store(environment).item(for: "anyone", deadline: nil) == nil)
    }

    @Test func missingTableIsAFailureNotARetryLoop() async throws {
        let missing = DynamoDBProfileStore(table: "no-such-table", environment: StoreUnderTest.awsEnvironment())
        await #expect {
            try await missing.item(for: "anyone", deadline: nil)
        } throws: { error in
            if case .failed(let detail) = error as? ProfileStoreError { return detail.contains("ResourceNotFoundException") }
            return false
        }
    }
}
