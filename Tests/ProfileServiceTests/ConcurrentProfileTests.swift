#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import FakeRuntimeAPI
import FeatureFlags
import Foundation
import LambdaRuntime
import LeanJSON
import Logging
import ProfileService
import Testing

/// Two versions of the profile handler in one process, sharing one store: the invocation's request
/// id says which serves it (`…-v2` the new schema), as Lambda picks a version per invocation during
/// a canary. Both are served by the same N loops.
private struct CanaryHandler: ConcurrentLambdaHandler {
    let v1: ProfileHandler
    let v2: ProfileHandler

    init(store: any ProfileStore) {
        v1 = ProfileHandler(api: ProfileAPI(store: store, flags: StaticFlagsOff(), functionVersion: "1"))
        v2 = ProfileHandler(api: ProfileAPI(store: store, flags: PerUserFlagsOn(), functionVersion: "2"))
    }

    func handle(_ event: [UInt8], context: LambdaContext) async throws -> [UInt8] {
        try await (context.requestID.hasSuffix("-v2") ? v2 : v1).handle(event, context: context)
    }
}

/// A store that answers after `delay`, blocking its thread the way a libcurl call to DynamoDB does.
private struct SlowStore: ProfileStore {
    let base = InMemoryProfileStore()
    let delay: Duration

    var kind: String { "slow" }

    private func wait() {
        usleep(useconds_t(delay.wholeMicroseconds))
    }

    func item(for userID: String, deadline: LambdaDeadline?) async throws(ProfileStoreError) -> ProfileItem? {
        wait()
        return try await base.item(for: userID, deadline: deadline)
    }

    func update(
        _ userID: String, _ write: ProfileWrite, expectedVersion: Int?, deadline: LambdaDeadline?
    ) async throws(ProfileStoreError) -> ProfileItem {
        wait()
        return try await base.update(userID, write, expectedVersion: expectedVersion, deadline: deadline)
    }

    func delete(_ userID: String, expectedVersion: Int, deadline: LambdaDeadline?) async throws(ProfileStoreError) {
        wait()
        try await base.delete(userID, expectedVersion: expectedVersion, deadline: deadline)
    }
}

/// Runs `loops` loops of the real runtime against `server` until it runs out of events.
private func serve<Handler: ConcurrentLambdaHandler>(
    _ server: FakeRuntimeAPI, loops: Int, handler: Handler
) async throws -> RuntimeExit {
    server.finish()
    let configuration = try LambdaRuntime.Configuration(environment: ProcessEnvironment([
        "AWS_LAMBDA_RUNTIME_API": server.runtimeAPI, "AWS_LAMBDA_MAX_CONCURRENCY": String(loops),
        "AWS_LAMBDA_FUNCTION_NAME": "profile-api", "AWS_LAMBDA_LOG_LEVEL": "ERROR",
    ]))
    return await LambdaRuntime(configuration: configuration).runConcurrently { _ in handler }
}

/// The profile service behind N concurrent loops of the runtime (Lambda Managed Instances, issue 15).
@Suite struct ConcurrentProfileTests {
    /// The mixed-version canary of `MixedVersionTests`, concurrent now: 2,000 writes of 20 users, v1
    /// and v2 alternating per user, through 8 loops of the real runtime onto one memory store.
    @Test func concurrentV1AndV2WritesThroughEightLoopsLoseNoUpdateAndNoAttribute() async throws {
        let store = InMemoryProfileStore()
        let users = (0..<20).map { "user-\($0)" }
        let server = try FakeRuntimeAPI(recordBodies: false)
        defer { server.stop() }
        // Every user exists first (a v1 PUT each), so every later write is an update that can race.
        for userID in users {
            server.enqueue(.init(
                requestID: "seed-\(userID)-v1", body: Events.v2("PUT", "/profiles/\(userID)",
                    body: MixedVersionTests.body(schemaV2: false, writer: 99, step: 0), sub: userID), headers: []))
        }
        #expect(isFinished(try await serve(server, loops: 1, handler: CanaryHandler(store: store))))

        let second = try FakeRuntimeAPI(recordBodies: false)
        defer { second.stop() }
        var sent: [(id: String, userID: String, schemaV2: Bool, body: String)] = []
        for index in 0..<2_000 {
            let userID = users[index % users.count]
            let step = index / users.count
            let schemaV2 = (index + step) % 2 == 0
            let body = MixedVersionTests.body(schemaV2: schemaV2, writer: index % 8, step: step)
            let id = "w-\(index)-\(schemaV2 ? "v2" : "v1")"
            second.enqueue(.init(requestID: id, body: Events.v2(step % 3 == 2 ? "PATCH" : "PUT", "/profiles/\(userID)", body: body, sub: userID), headers: []))
            sent.append((id, userID, schemaV2, body))
        }
        #expect(isFinished(try await serve(second, loops: 8, handler: CanaryHandler(store: store))))
        #expect(await second.settle(timeout: .seconds(60)) { $0.outcomeCount == sent.count })

        var writes = users.map {
            MixedVersionTests.Write(userID: $0, version: 1, schemaV2: false,
                                    set: (try? JSON(parsing: MixedVersionTests.body(schemaV2: false, writer: 99, step: 0)).objectValue) ?? [:])
        }
        var conflicts = 0
        for write in sent {
            guard case .response(let bytes) = second.outcome(for: write.id), let result = try? JSON(parsing: bytes),
                  let status = result["statusCode"]?.intValue else {
                Issue.record("\(write.id): no API Gateway result")
                continue
            }
            guard (200...201).contains(status) else {
                #expect(status == 409, "\(write.id): \(status)")
                conflicts += 1
                continue
            }
            let view = try JSON(parsing: Array((result["body"]?.stringValue ?? "").utf8))
            let version = try #require(view["version"]?.intValue)
            var set = try JSON(parsing: Array(write.body.utf8)).objectValue ?? [:]
            if write.schemaV2 { set["name"] = set["displayName"] }
            writes.append(MixedVersionTests.Write(userID: write.userID, version: version, schemaV2: write.schemaV2, set: set))
        }
        #expect(writes.count - users.count + conflicts == sent.count)
        #expect(conflicts < sent.count / 10, "409s only after repeated lost races: \(conflicts)")
        try await MixedVersionTests.verify(store: store, writes: writes, users: users)
    }

    /// The work is waiting: with a store that answers after 20 ms, 8 loops serve at least 6× the
    /// invocations per second of one loop on this 2-core machine.
    @Test func throughputGrowsAtLeastSixfoldFromOneToEightLoopsWhenTheStoreWaits() async throws {
        func invocationsPerSecond(loops: Int, count: Int) async throws -> Double {
            let store = SlowStore(delay: .milliseconds(20))
            _ = try await store.base.update(
                "user-123", ProfileWrite(set: ["name": "Ada", "email": "ada@example.com"]), expectedVersion: nil, deadline: nil)
            let server = try FakeRuntimeAPI(recordBodies: false)
            defer { server.stop() }
            let get = Events.v2("GET", "/profiles/user-123")
            for index in 0..<count { server.enqueue(.init(requestID: "get-\(index)", body: get, headers: [])) }
            #expect(isFinished(try await serve(server, loops: loops, handler: ProfileHandler(api: ProfileAPI(
                store: store, flags: StaticFlagsOff(), functionVersion: "1")))))
            #expect(await server.settle(timeout: .seconds(60)) { $0.outcomeCount == count })
            // From the first result to the last, by the server's clock: the test's own task may be
            // slow to notice the end when other tests hold the cooperative pool.
            let state = server.snapshot
            let first = try #require(state.firstOutcomeAt)
            let elapsed = try #require(state.lastOutcomeAt) - first
            return Double(count - 1) / elapsed.fractionalSeconds
        }
        let one = try await invocationsPerSecond(loops: 1, count: 40)
        let eight = try await invocationsPerSecond(loops: 8, count: 320)
        #expect(eight >= 6 * one, "1 loop: \(one)/s, 8 loops: \(eight)/s")
    }
}

/// A flag source that takes 30 ms per fetch (blocking), counts fetches running at once, and notes
/// how many invocations the other loops finished while a fetch was running.
private final class SlowFlagSource: FlagSource {
    private let counts = Locked((now: 0, most: 0, total: 0, servedMeanwhile: 0))
    private let served: @Sendable () -> Int
    let document = Array(#"{"enableNewProfileSchema":{"enabled":true}}"#.utf8)

    init(served: @escaping @Sendable () -> Int) {
        self.served = served
    }

    var name: String { "file:slow" }

    func fetch(timeout: Duration) async throws(FlagSourceError) -> FlagFetch {
        counts.withLock { $0.now += 1; $0.most = max($0.most, $0.now); $0.total += 1 }
        let before = served()
        usleep(30_000)
        let after = served()
        counts.withLock { $0.now -= 1; $0.servedMeanwhile += after - before }
        return .document(document, nextPollAfter: .zero)
    }

    var most: Int { counts.withLock { $0.most } }
    var total: Int { counts.withLock { $0.total } }
    var servedMeanwhile: Int { counts.withLock { $0.servedMeanwhile } }
}

extension ConcurrentProfileTests {
    /// The flag cache under 8 loops: every response makes a refresh due, one loop refreshes at a
    /// time, and the others keep serving meanwhile (evaluation stays a short lock).
    @Test func flagRefreshRunsOnOneLoopAtATimeAndNeverHoldsUpTheOthers() async throws {
        let server = try FakeRuntimeAPI(recordBodies: false)
        defer { server.stop() }
        let source = SlowFlagSource { server.snapshot.outcomeCount }
        let cache = FlagCache(source: source, logger: Logger(label: "flags") { _ in SwiftLogNoOpLogHandler() })
        await cache.load()
        let handler = ProfileHandler(api: ProfileAPI(store: InMemoryProfileStore(), flags: cache, functionVersion: "2"), flagCache: cache)
        let count = 400
        for index in 0..<count {
            server.enqueue(.init(requestID: "get-\(index)", body: Events.v2("GET", "/profiles/user-\(index % 20)", sub: "user-\(index % 20)"), headers: []))
        }
        #expect(isFinished(try await serve(server, loops: 8, handler: handler)))
        #expect(await server.settle(timeout: .seconds(60)) { $0.outcomeCount == count })
        #expect(source.most == 1, "one refresh at a time")
        #expect(source.total >= 2)
        #expect(source.total < count, "loops that found a refresh running went back to /next instead")
        #expect(source.servedMeanwhile > 0, "other loops served invocations while a refresh was running")
    }
}

/// The "no more events" ending.
private func isFinished(_ exit: RuntimeExit) -> Bool {
    if case .sandboxFailure(let detail) = exit { return detail.contains("Runtime.Finished") }
    return false
}
