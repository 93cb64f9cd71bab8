@testable import FeatureFlags
import LambdaCore
import Logging
import Synchronization
import Testing

/// A source whose answers the test scripts.
final class ScriptedSource: FlagSource {
    let answers: Mutex<[Result<FlagFetch, FlagSourceError>]>
    let calls = Mutex(0)

    init(_ answers: [Result<FlagFetch, FlagSourceError>]) {
        self.answers = Mutex(answers)
    }

    var name: String { "scripted" }

    func fetch(timeout: Duration) async throws(FlagSourceError) -> FlagFetch {
        calls.withLock { $0 += 1 }
        let next = answers.withLock { $0.isEmpty ? .failure(FlagSourceError("script ended")) : $0.removeFirst() }
        return try next.get()
    }
}

final class Lines: LogHandler, @unchecked Sendable {
    let captured = Mutex<[String]>([])
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }
    func log(event: LogEvent) {
        captured.withLock { $0.append("\(event.level) \(event.message) \(event.metadata ?? [:])") }
    }
}

@Suite struct FlagCacheTests {
    static func document(_ percentage: Int, enabled: Bool = true) -> FlagFetch {
        .document(Array(#"{"enableNewProfileSchema":{"enabled":\#(enabled),"rolloutPercentage":\#(percentage),"salt":"s"}}"#.utf8),
                  nextPollAfter: .zero)
    }

    @Test func neverFetchedIsDefaultThenTheDocumentRules() async {
        let source = ScriptedSource([.success(Self.document(100))])
        let lines = Lines()
        let cache = FlagCache(source: source, logger: Logger(label: "t") { _ in lines })
        #expect(cache.evaluate("enableNewProfileSchema", userID: "u").reason == .defaultValue)
        await cache.load()
        #expect(cache.evaluate("enableNewProfileSchema", userID: "u") == FlagEvaluation(value: true, reason: .staticValue))
        #expect(lines.captured.withLock { $0 }.contains { $0.contains("flags changed") && $0.contains("none") })
    }

    @Test func failedRefreshKeepsTheLastGoodValueAsStaleThenRecovers() async {
        let source = ScriptedSource([
            .success(Self.document(100)), .failure(FlagSourceError("throttled", retryAfter: .zero)),
            .success(.unchanged(nextPollAfter: .zero)),
        ])
        let cache = FlagCache(source: source, logger: Logger(label: "t") { _ in SwiftLogNoOpLogHandler() })
        await cache.load()
        await cache.refreshIfDue()
        #expect(cache.evaluate("enableNewProfileSchema", userID: "u") == FlagEvaluation(value: true, reason: .stale))
        #expect(cache.sourceState.contains("stale"))
        await cache.refreshIfDue()
        #expect(cache.evaluate("enableNewProfileSchema", userID: "u") == FlagEvaluation(value: true, reason: .staticValue))
    }

    @Test func garbledDocumentIsRefusedAndLoggedAndTheLastGoodOneStays() async {
        let source = ScriptedSource([.success(Self.document(100)), .success(.document(Array("{oops".utf8), nextPollAfter: .zero))])
        let lines = Lines()
        let cache = FlagCache(source: source, logger: Logger(label: "t") { _ in lines })
        await cache.load()
        await cache.refreshIfDue()
        #expect(cache.evaluate("enableNewProfileSchema", userID: "u").value)
        #expect(lines.captured.withLock { $0 }.contains { $0.hasPrefix("error") && $0.contains("refused") })
    }

    @Test func refreshWaitsForThePollInterval() async {
        let source = ScriptedSource([
            .success(.document(Array(#"{"enableNewProfileSchema":false}"#.utf8), nextPollAfter: .seconds(60))),
            .success(Self.document(100)),
        ])
        let cache = FlagCache(source: source, logger: Logger(label: "t") { _ in SwiftLogNoOpLogHandler() })
        await cache.load()
        await cache.refreshIfDue()
        #expect(source.calls.withLock { $0 } == 1, "not due yet: no call")
        await cache.refreshIfDue(now: .now + .seconds(61))
        #expect(source.calls.withLock { $0 } == 2)
        #expect(cache.evaluate("enableNewProfileSchema", userID: "u").value)
    }

    @Test func aChangeIsLoggedOldToNew() async {
        let source = ScriptedSource([.success(Self.document(10)), .success(Self.document(50))])
        let lines = Lines()
        let cache = FlagCache(source: source, logger: Logger(label: "t") { _ in lines })
        await cache.load()
        await cache.refreshIfDue()
        #expect(lines.captured.withLock { $0 }.contains { $0.contains("enableNewProfileSchema=on@10.0%") && $0.contains("enableNewProfileSchema=on@50.0%") })
    }
}

/// The first load, during init, has a budget of its own (`FLAGS_FIRST_LOAD_TIMEOUT_MS`), longer by
/// default than a refresh's.
@Suite struct FlagFirstLoadTimeoutTests {
    /// A source that records the budget each fetch was given.
    final class RecordingSource: FlagSource {
        let timeouts = Mutex<[Duration]>([])
        var name: String { "recording" }
        func fetch(timeout: Duration) async throws(FlagSourceError) -> FlagFetch {
            timeouts.withLock { $0.append(timeout) }
            return .unchanged(nextPollAfter: .zero)
        }
    }

    @Test func theFirstLoadAndTheRefreshesGetTheirOwnBudgets() async {
        let source = RecordingSource()
        let cache = FlagCache(
            source: source, logger: Logger(label: "flags") { _ in SwiftLogNoOpLogHandler() }, fetchTimeout: .milliseconds(700),
            firstLoadTimeout: .milliseconds(2500))
        await cache.load()
        await cache.refreshIfDue()
        #expect(source.timeouts.withLock { $0 } == [.milliseconds(2500), .milliseconds(700)])
        let byDefault = RecordingSource()
        await FlagCache(source: byDefault, logger: Logger(label: "flags") { _ in SwiftLogNoOpLogHandler() }).load()
        #expect(byDefault.timeouts.withLock { $0 } == [.seconds(2)])
    }

    @Test(arguments: [(nil, 2000), ("", 2000), ("1", 1), ("2500", 2500), ("9000", 9000)] as [(String?, Int)])
    func aWholeNumberOfMillisecondsUpToNineSecondsIsTaken(_ value: String?, _ milliseconds: Int) throws {
        #expect(try FlagConfiguration.firstLoadTimeout(value) == .milliseconds(milliseconds))
    }

    @Test(arguments: ["0", "-5", "9001", "1.5", " 100", "2s", "99999999999999999999"])
    func anythingElseIsAConfigurationError(_ value: String) {
        #expect(throws: FlagConfigurationError.self) { try FlagConfiguration.firstLoadTimeout(value) }
        let environment = ProcessEnvironment(["FLAGS_SOURCE": "file", "FLAGS_FILE": "/nonexistent", "FLAGS_FIRST_LOAD_TIMEOUT_MS": value])
        #expect(throws: FlagConfigurationError.self) {
            try FlagConfiguration.make(environment: environment, logger: Logger(label: "flags") { _ in SwiftLogNoOpLogHandler() })
        }
    }
}
