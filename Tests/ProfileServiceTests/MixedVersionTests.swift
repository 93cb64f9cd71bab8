import LambdaCore
import LeanJSON
import ProfileService
import Synchronization
import Testing

/// A canary in miniature: old-schema and new-schema code write the same items concurrently.
@Suite struct MixedVersionTests {
    /// One successful write: the version it produced and the attributes it set.
    struct Write: Sendable {
        let userID: String
        let version: Int
        let schemaV2: Bool
        let set: [String: JSON]
    }

    static func body(schemaV2: Bool, writer: Int, step: Int) -> String {
        schemaV2
            ? #"{"displayName":"w\#(writer)-s\#(step)","email":"w\#(writer).s\#(step)@example.com","locale":"en-GB","timeZone":"Europe/London","preferences":{"writer":\#(writer),"step":\#(step)}}"#
            : #"{"name":"w\#(writer)-s\#(step)","email":"w\#(writer).s\#(step)@example.com"}"#
    }

    /// Runs the canary against `store`; returns every successful write. The store yields before every
    /// call, so that writers interleave between their read and their conditional write even when the
    /// pool has one thread free (without it, each writer could run all its writes before the next began).
    static func runCanary(store: any ProfileStore, users: [String], writers: Int, writesPerWriter: Int) async throws -> [Write] {
        let store = InterleavingStore(base: store)
        let flagsOff = ProfileAPI(store: store, flags: StaticFlagsOff(), functionVersion: "1")
        let flagsOn = ProfileAPI(store: store, flags: PerUserFlagsOn(), functionVersion: "2")
        var seeds: [Write] = []
        for userID in users {
            let body = Self.body(schemaV2: false, writer: 99, step: 0)
            let seeded = await flagsOff.respond(to: APIRequest(
                method: "PUT", rawPath: "/profiles/\(userID)", headers: ["content-type": "application/json"],
                body: Array(body.utf8), claims: ["sub": userID]))
            #expect(seeded.response.status == 201)
            seeds.append(Write(userID: userID, version: 1, schemaV2: false, set: try JSON(parsing: body).objectValue ?? [:]))
        }
        let seedWrites = seeds
        return try await withThrowingTaskGroup(of: [Write].self) { group in
            for writer in 0..<writers {
                group.addTask {
                    var writes: [Write] = []
                    for step in 0..<writesPerWriter {
                        let userID = users[(writer + step) % users.count]
                        let schemaV2 = (writer + step) % 2 == 0
                        let api = schemaV2 ? flagsOn : flagsOff
                        let body = Self.body(schemaV2: schemaV2, writer: writer, step: step)
                        let request = APIRequest(
                            method: step % 3 == 2 ? "PATCH" : "PUT", rawPath: "/profiles/\(userID)",
                            headers: ["content-type": "application/json"], body: Array(body.utf8), claims: ["sub": userID])
                        let outcome = await api.respond(to: request)
                        guard (200...201).contains(outcome.response.status) else {
                            // 409 after repeated lost races is allowed; it must change nothing.
                            #expect(outcome.response.status == 409, "\(String(decoding: outcome.response.body, as: UTF8.self))")
                            continue
                        }
                        let view = try #require(outcome.response.json)
                        let version = try #require(view["version"]?.intValue)
                        let document = try JSON(parsing: body).objectValue ?? [:]
                        var set = document
                        if schemaV2 { set["name"] = document["displayName"] }
                        writes.append(Write(userID: userID, version: version, schemaV2: schemaV2, set: set))
                    }
                    return writes
                }
            }
            var all = seedWrites
            for try await writes in group { all.append(contentsOf: writes) }
            #expect(store.mostInFlight >= 2, "writers overlapped in the store")
            return all
        }
    }

    /// No lost update: versions per item are exactly 1…n, and every attribute holds the value of the
    /// latest successful write that set it, whichever schema wrote.
    static func verify(store: any ProfileStore, writes: [Write], users: [String]) async throws {
        for userID in users {
            let mine = writes.filter { $0.userID == userID }.sorted { $0.version < $1.version }
            #expect(mine.map(\.version) == Array(1...max(1, mine.count)).prefix(mine.count).map { $0 },
                    "each successful write raised \(userID)'s version by exactly one")
            let item = try #require(try await store.item(for: userID, deadline: nil))
            #expect(item.version == mine.count)
            var expected: [String: JSON] = [:]
            for write in mine {
                for (key, value) in write.set { expected[key] = value }
                // A v1 write keeps an existing displayName in step with name (see ProfileSchema).
                if !write.schemaV2, expected["displayName"] != nil { expected["displayName"] = write.set["name"] }
            }
            for (key, value) in expected {
                #expect(item.attributes[key] == value, "\(userID).\(key)")
            }
            let v2Writes = mine.filter { $0.set["locale"] != nil }
            if !v2Writes.isEmpty {
                #expect(item.attributes["locale"] == "en-GB", "v1 writes never drop v2 attributes")
                #expect(item.attributes["preferences"] != nil)
            }
        }
    }

    @Test func concurrentV1AndV2WritersLoseNothing() async throws {
        let store = InMemoryProfileStore()
        let users = ["user-a", "user-b", "user-c"]
        let writes = try await Self.runCanary(store: store, users: users, writers: 6, writesPerWriter: 100)
        // The rest are 409 after four lost races, which change nothing: 13% seen in a loaded parallel run.
        #expect(writes.count >= 603 / 2, "\(writes.count) of 603 writes landed")
        try await Self.verify(store: store, writes: writes, users: users)
    }
}

import FeatureFlags

/// `base`, yielding before each call and counting the calls in flight.
final class InterleavingStore: ProfileStore {
    let base: any ProfileStore
    private let counts = Mutex((now: 0, most: 0))

    init(base: any ProfileStore) { self.base = base }

    var kind: String { base.kind }
    /// The most calls that were in flight at one moment.
    var mostInFlight: Int { counts.withLock { $0.most } }

    private func call<Result>(_ body: () async throws(ProfileStoreError) -> Result) async throws(ProfileStoreError) -> Result {
        counts.withLock { $0.now += 1; $0.most = max($0.most, $0.now) }
        defer { counts.withLock { $0.now -= 1 } }
        await Task.yield()
        return try await body()
    }

    func item(for userID: String, deadline: LambdaDeadline?) async throws(ProfileStoreError) -> ProfileItem? {
        try await call { () async throws(ProfileStoreError) in try await base.item(for: userID, deadline: deadline) }
    }

    func update(
        _ userID: String, _ write: ProfileWrite, expectedVersion: Int?, deadline: LambdaDeadline?
    ) async throws(ProfileStoreError) -> ProfileItem {
        try await call { () async throws(ProfileStoreError) in
            try await base.update(userID, write, expectedVersion: expectedVersion, deadline: deadline)
        }
    }

    func delete(_ userID: String, expectedVersion: Int, deadline: LambdaDeadline?) async throws(ProfileStoreError) {
        try await call { () async throws(ProfileStoreError) in
            try await base.delete(userID, expectedVersion: expectedVersion, deadline: deadline)
        }
    }
}

/// The new schema for everyone.
struct PerUserFlagsOn: FlagEvaluating {
    func evaluate(_ flag: String, userID: String) -> FlagEvaluation { FlagEvaluation(value: true, reason: .staticValue) }
    var sourceState: String { "static" }
}
