import AWSClients
import FeatureFlags
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import LambdaRuntime
import LeanJSON
import Logging
import ProfileService
import Testing

/// microburst (a fault-injecting proxy) in front of moto, as scripts/test.sh starts it.
enum FaultProxy {
    static let environment = ProcessInfo.processInfo.environment
    static let url = environment["PROFILE_TEST_DYNAMODB_FAULT_PROXY"] ?? ""
    static let available = !url.isEmpty && environment["PROFILE_TEST_DYNAMODB_ENDPOINT"] != nil

    /// Replaces every rule (an empty list clears them).
    static func setRules(_ rules: JSON) async throws {
        try await control("POST", "/_microburst/rules", body: rules)
    }

    /// What fired since the rules were set, as `service operation action` lines.
    static func fired() async throws -> [String] {
        let answer = try await control("GET", "/_microburst/fired", body: nil)
        let events = answer?.arrayValue ?? answer?["fired"]?.arrayValue ?? answer?["events"]?.arrayValue ?? []
        return events.map { event in
            ["operation", "action"].compactMap { event[$0]?.stringValue }.joined(separator: " ")
        }
    }

    static func clearFired() async throws {
        try await control("DELETE", "/_microburst/fired", body: nil)
    }

    @discardableResult
    private static func control(_ method: String, _ path: String, body: JSON?) async throws -> JSON? {
        var request = URLRequest(url: try #require(URL(string: url + path)))
        request.httpMethod = method
        if let body {
            request.httpBody = Data(body.bytes)
            request.setValue("application/json", forHTTPHeaderField: "content-type")
        }
        let (data, response) = try await URLSession.shared.data(for: request)
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        guard (200...299).contains(status) else {
            throw FaultProxyError(message: "\(method) \(path): HTTP \(status) \(String(decoding: data, as: UTF8.self))")
        }
        return try? JSON(parsing: Array(data), maxDepth: 64)
    }

    struct FaultProxyError: Error, CustomStringConvertible {
        let message: String
        var description: String { message }
    }
}

/// DynamoDB faults between the profile handler and the table: throttling, 500s, slow answers, resets
/// and cut answers. Every request ends in its documented status (503 with `Retry-After` when the store
/// is down) before the invocation's deadline, and no write is half-applied: after every fault the item,
/// read from moto directly, is exactly the state before the request or exactly the state after it.
@Suite(
    .enabled(if: FaultProxy.available, "needs PROFILE_TEST_DYNAMODB_FAULT_PROXY: scripts/test.sh starts microburst in front of moto"),
    .serialized
)
struct StoreFaultTests {
    /// The function's time budget for one invocation in these tests.
    static let budget: Duration = .seconds(3)

    let table = StoreUnderTest.environment["PROFILE_TEST_DYNAMODB_TABLE"] ?? "profiles-test"

    /// The store as the function sees it: through the proxy.
    var faultyStore: DynamoDBProfileStore {
        var environment = StoreUnderTest.awsEnvironment()
        environment.endpointOverrides["DYNAMODB"] = FaultProxy.url
        return DynamoDBProfileStore(table: table, environment: environment)
    }

    /// The store as the test checks it: moto directly.
    var directStore: DynamoDBProfileStore {
        DynamoDBProfileStore(table: table, environment: StoreUnderTest.awsEnvironment())
    }

    struct Answer {
        let status: Int
        let headers: [String: String]
        let body: String
        let elapsed: Duration
    }

    /// One invocation through `ProfileHandler.handle` with a deadline `budget` from now.
    func invoke(_ event: [UInt8], budget: Duration = Self.budget) async throws -> Answer {
        let handler = ProfileHandler(api: ProfileAPI(store: faultyStore, flags: StaticFlags(), functionVersion: "7"))
        let deadline = LambdaDeadline(after: budget)
        let context = LambdaContext(
            invocation: Invocation(requestID: "fault-\(UUID().uuidString.prefix(8))", deadline: deadline),
            function: FunctionMetadata(name: "profile-api", version: "7"),
            logger: Logger(label: "fault-tests") { _ in SwiftLogNoOpLogHandler() })
        let started = ContinuousClock.now
        let output = try await handler.handle(event, context: context)
        let elapsed = ContinuousClock.now - started
        let result = try JSON(parsing: output)
        return Answer(
            status: result["statusCode"]?.intValue ?? 0,
            headers: (result["headers"]?.objectValue ?? [:]).compactMapValues(\.stringValue),
            body: result["body"]?.stringValue ?? "", elapsed: elapsed)
    }

    static func newUser() -> String { "fault-\(UUID().uuidString.lowercased().prefix(13))" }

    /// A rule for one DynamoDB operation on one user's item (jmespath on the request body).
    static func rule(_ operation: String, user: String, keyPath: String = "Key", _ fault: JSON) -> JSON {
        guard case .object(var members) = fault else { return fault }
        members["service"] = "dynamodb"
        members["operation"] = .string(operation)
        members["body"] = .string("\(keyPath).userId.S == '\(user)'")
        return .object(members)
    }

    /// Creates the user's profile through moto directly (no faults): version 1, name "Ada".
    func seed(_ user: String) async throws -> ProfileItem {
        try await directStore.update(
            user, ProfileWrite(set: ["name": "Ada", "email": "ada@example.com", "updatedAt": "2025-11-28T08:00:00Z"]),
            expectedVersion: nil, deadline: nil)
    }

    func putEvent(_ user: String, name: String, ifMatch: String? = nil) -> [UInt8] {
        Events.v2(
            "PUT", "/profiles/\(user)", body: #"{"name":"\#(name)","email":"ada@example.com"}"#, sub: user,
            headers: ifMatch.map { ["if-match": $0] } ?? [:])
    }

    func expectUnavailable(_ answer: Answer, _ comment: Comment) {
        #expect(answer.status == 503, comment)
        #expect(answer.headers["retry-after"].flatMap { Int($0) }.map { $0 >= 1 } == true, "503 carries Retry-After: \(comment)")
        #expect(answer.body.contains("\"error\""), comment)
    }

    func expectWithinDeadline(_ answer: Answer, budget: Duration = Self.budget, _ comment: Comment) {
        #expect(answer.elapsed < budget, "answered after \(answer.elapsed), the deadline was \(budget) away: \(comment)")
    }

    /// The item is exactly `before` (nothing applied) or has `name` at version+1 with every other
    /// attribute intact (all applied); never a mix.
    func expectWholeOrNothing(_ user: String, before: ProfileItem?, name: String) async throws {
        let after = try await directStore.item(for: user, deadline: nil)
        if after == before { return }
        let item = try #require(after, "the item vanished")
        #expect(item.version == (before?.version ?? 0) + 1, "exactly one write applied: \(item)")
        #expect(item.attributes["name"] == .string(name), "the write's own attributes are all there: \(item)")
        #expect(item.attributes["email"] == "ada@example.com")
        #expect(item.attributes["updatedAt"]?.stringValue != nil)
    }

    init() async throws {
        try await FaultProxy.setRules([])
    }

    // MARK: Store down: 503 with Retry-After, nothing written

    @Test(arguments: [
        ("throttled", ["error": ["code": "ProvisionedThroughputExceededException"]] as JSON),
        ("500", ["error": ["code": "InternalServerError", "status": 500]] as JSON),
        ("reset", ["reset": true] as JSON),
    ])
    func readWhileTheStoreIsDownIs503(_ name: String, _ fault: JSON) async throws {
        let user = Self.newUser()
        _ = try await seed(user)
        try await FaultProxy.setRules([Self.rule("GetItem", user: user, fault)])
        let answer = try await invoke(Events.v2("GET", "/profiles/\(user)", sub: user))
        expectUnavailable(answer, "GET while GetItem is \(name)")
        expectWithinDeadline(answer, "GET while GetItem is \(name)")
    }

    @Test(arguments: [
        ("throttled", ["error": ["code": "ThrottlingException"]] as JSON),
        ("500", ["error": ["code": "InternalServerError", "status": 500]] as JSON),
        ("reset", ["reset": true] as JSON),
    ])
    func writeWhileTheStoreIsDownIs503AndWritesNothing(_ name: String, _ fault: JSON) async throws {
        let user = Self.newUser()
        let before = try await seed(user)
        try await FaultProxy.setRules([Self.rule("UpdateItem", user: user, fault)])
        let answer = try await invoke(putEvent(user, name: "Eve"))
        expectUnavailable(answer, "PUT while UpdateItem is \(name)")
        expectWithinDeadline(answer, "PUT while UpdateItem is \(name)")
        #expect(try await directStore.item(for: user, deadline: nil) == before, "nothing of the PUT was applied")
    }

    @Test func deleteWhileTheStoreIsDownIs503AndKeepsTheItem() async throws {
        let user = Self.newUser()
        let before = try await seed(user)
        // A delete is one transaction: the profile's DeleteItem and its tombstone's Put.
        try await FaultProxy.setRules([Self.rule(
            "TransactWriteItems", user: user, keyPath: "TransactItems[0].Delete.Key",
            ["error": ["code": "InternalServerError", "status": 500]])])
        let answer = try await invoke(Events.v2("DELETE", "/profiles/\(user)", sub: user))
        expectUnavailable(answer, "DELETE while its transaction fails")
        expectWithinDeadline(answer, "DELETE while its transaction fails")
        #expect(try await directStore.item(for: user, deadline: nil) == before)
    }

    // MARK: Transient faults: retried within the deadline, applied once

    @Test(arguments: [
        ("throttled once", ["times": 1, "error": ["code": "ProvisionedThroughputExceededException"]] as JSON),
        ("500 twice", ["times": 2, "error": ["code": "InternalServerError", "status": 500]] as JSON),
        ("reset once", ["times": 1, "reset": true] as JSON),
    ])
    func transientWriteFaultsAreRetriedAndAppliedOnce(_ name: String, _ fault: JSON) async throws {
        let user = Self.newUser()
        let before = try await seed(user)
        try await FaultProxy.setRules([Self.rule("UpdateItem", user: user, fault)])
        let answer = try await invoke(putEvent(user, name: "Eve"))
        #expect(answer.status == 200, "PUT with UpdateItem \(name): \(answer.body)")
        expectWithinDeadline(answer, "PUT with UpdateItem \(name)")
        let item = try #require(try await directStore.item(for: user, deadline: nil))
        #expect(item.version == before.version + 1, "applied exactly once")
        #expect(item.attributes["name"] == "Eve")
        #expect(answer.headers["etag"] == "\"\(item.version)\"")
    }

    @Test func transientCreateFaultIsRetriedAndCreatesOnce() async throws {
        let user = Self.newUser()
        try await FaultProxy.setRules([Self.rule("UpdateItem", user: user, ["times": 1, "error": ["code": "ThrottlingException"]])])
        let answer = try await invoke(putEvent(user, name: "Ada"))
        #expect(answer.status == 201, "\(answer.body)")
        let item = try #require(try await directStore.item(for: user, deadline: nil))
        #expect(item.version == 1)
    }

    // MARK: Slow answers: the deadline decides

    @Test func slowButInTimeAnswersSucceed() async throws {
        let user = Self.newUser()
        _ = try await seed(user)
        try await FaultProxy.setRules([Self.rule("GetItem", user: user, ["latency": ["min": 400, "max": 400]])])
        let answer = try await invoke(Events.v2("GET", "/profiles/\(user)", sub: user))
        #expect(answer.status == 200)
        #expect(answer.elapsed >= .milliseconds(400))
        expectWithinDeadline(answer, "GET with a 400 ms GetItem")
    }

    @Test func answersSlowerThanTheDeadlineAre503BeforeIt() async throws {
        let user = Self.newUser()
        _ = try await seed(user)
        try await FaultProxy.setRules([Self.rule("GetItem", user: user, ["latency": ["min": 5000, "max": 5000]])])
        let budget: Duration = .milliseconds(1500)
        let answer = try await invoke(Events.v2("GET", "/profiles/\(user)", sub: user), budget: budget)
        expectUnavailable(answer, "GET with a 5 s GetItem and a 1.5 s deadline")
        expectWithinDeadline(answer, budget: budget, "GET with a 5 s GetItem and a 1.5 s deadline")
    }

    @Test func aWriteSlowerThanTheDeadlineIsWholeOrNothing() async throws {
        let user = Self.newUser()
        let before = try await seed(user)
        // The proxy holds the request 2.5 s before forwarding it; the client gives up first.
        try await FaultProxy.setRules([Self.rule("UpdateItem", user: user, ["times": 1, "latency": ["min": 2500, "max": 2500]])])
        let budget: Duration = .milliseconds(1500)
        let answer = try await invoke(putEvent(user, name: "Eve"), budget: budget)
        expectUnavailable(answer, "PUT with a 2.5 s UpdateItem and a 1.5 s deadline")
        expectWithinDeadline(answer, budget: budget, "PUT with a 2.5 s UpdateItem and a 1.5 s deadline")
        try await Task.sleep(for: .seconds(2))  // let the held request reach moto, if it does
        try await expectWholeOrNothing(user, before: before, name: "Eve")
    }

    @Test func timeoutThen504IsRetriedOrUnavailable() async throws {
        let user = Self.newUser()
        _ = try await seed(user)
        try await FaultProxy.setRules([Self.rule("GetItem", user: user, ["times": 1, "timeout_ms": 300])])
        let answer = try await invoke(Events.v2("GET", "/profiles/\(user)", sub: user))
        #expect(answer.status == 200, "a 504 after 300 ms is retried: \(answer.body)")
        expectWithinDeadline(answer, "GET with one 504")
    }

    // MARK: Answers lost after the write was applied

    /// The write reaches DynamoDB, the answer is cut: the retry of the same conditional UpdateItem fails
    /// its condition. The item must hold the PUT exactly once, and the client must not be told that it
    /// failed when it did not.
    @Test func aWriteWhoseAnswerIsLostIsAppliedOnceAndNotReportedAsFailed() async throws {
        let user = Self.newUser()
        let before = try await seed(user)
        try await FaultProxy.setRules([Self.rule("UpdateItem", user: user, ["times": 1, "response": ["abort_frac": 0.3]])])
        let answer = try await invoke(putEvent(user, name: "Eve", ifMatch: "\"\(before.version)\""))
        expectWithinDeadline(answer, "PUT whose UpdateItem answer is cut")
        try await expectWholeOrNothing(user, before: before, name: "Eve")
        let item = try #require(try await directStore.item(for: user, deadline: nil))
        if item.version == before.version + 1 {
            // The retried UpdateItem fails its condition on the write itself; the store recognises its
            // own write in the item DynamoDB returns (ReturnValuesOnConditionCheckFailure: ALL_OLD).
            #expect(answer.status == 200, "the PUT was applied, yet the client got \(answer.status): \(answer.body)")
            #expect(answer.headers["etag"] == "\"\(item.version)\"")
        } else {
            #expect(answer.status == 503)
        }
    }

    /// The same without `If-Match`: the API re-reads and writes again, so the PUT lands whole; the
    /// version then rises by two for one PUT (the ETag skips one).
    @Test func aWriteWhoseAnswerIsLostWithoutIfMatchLandsWhole() async throws {
        let user = Self.newUser()
        let before = try await seed(user)
        try await FaultProxy.setRules([Self.rule("UpdateItem", user: user, ["times": 1, "response": ["abort_frac": 0.3]])])
        let answer = try await invoke(putEvent(user, name: "Eve"))
        expectWithinDeadline(answer, "PUT whose UpdateItem answer is cut")
        #expect(answer.status == 200, "\(answer.body)")
        let item = try #require(try await directStore.item(for: user, deadline: nil))
        #expect(item.attributes["name"] == "Eve")
        #expect(answer.headers["etag"] == "\"\(item.version)\"")
        #expect((before.version + 1...before.version + 2).contains(item.version), "\(item.version)")
    }

    @Test func aCutReadAnswerIs503NotA500() async throws {
        let user = Self.newUser()
        _ = try await seed(user)
        try await FaultProxy.setRules([Self.rule("GetItem", user: user, ["response": ["truncate_frac": 0.5]])])
        let answer = try await invoke(Events.v2("GET", "/profiles/\(user)", sub: user))
        expectUnavailable(answer, "GET whose GetItem answers are truncated")
        expectWithinDeadline(answer, "GET whose GetItem answers are truncated")
    }

    @Test func theProxyReallyFired() async throws {
        let user = Self.newUser()
        _ = try await seed(user)
        try await FaultProxy.clearFired()
        try await FaultProxy.setRules([Self.rule("GetItem", user: user, ["times": 1, "error": ["code": "ThrottlingException"]])])
        let answer = try await invoke(Events.v2("GET", "/profiles/\(user)", sub: user))
        #expect(answer.status == 200)
        let fired = try await FaultProxy.fired()
        #expect(fired.contains { $0.contains("GetItem") }, "microburst saw and faulted the signed GetItem: \(fired)")
    }
}
