import AWSClients
import FeatureFlags
import Foundation
import LeanJSON
import Logging
import Synchronization
import Testing

/// Settings scripts/test.sh exports after starting ministack (AppConfig, AppConfigData) and
/// microburst (a fault proxy in front of it) on 127.0.0.1.
enum AppConfigEmulator {
    static let environment = ProcessInfo.processInfo.environment
    static var endpoint: String? { environment["FLAGS_TEST_APPCONFIG_ENDPOINT"] }
    static var faultProxy: String? { environment["FLAGS_TEST_FAULT_PROXY"] }
    static var awsCLI: String? { environment["FLAGS_TEST_AWS_CLI"] }
    static var available: Bool { endpoint != nil && awsCLI != nil }

    /// Runs the real `aws` CLI against ministack; returns its standard output.
    @discardableResult
    static func aws(_ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: awsCLI ?? "/usr/bin/false")
        process.arguments = ["--endpoint-url", endpoint ?? "", "--region", "us-east-1", "--output", "text"] + arguments
        var environment = ProcessInfo.processInfo.environment
        environment["AWS_ACCESS_KEY_ID"] = "test"
        environment["AWS_SECRET_ACCESS_KEY"] = "test"
        environment.removeValue(forKey: "AWS_SESSION_TOKEN")
        process.environment = environment
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let failure = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw CLIError(message: "aws \(arguments.prefix(2).joined(separator: " ")) failed: \(failure)")
        }
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    struct CLIError: Error, CustomStringConvertible {
        let message: String
        var description: String { message }
    }

    /// The stored (deployment-time) feature-flag document.
    static func flagsDocument(enabled: Bool, percentage: Int) -> String {
        #"{"version":"1","flags":{"enableNewProfileSchema":{"name":"Enable new profile schema","attributes":{"rolloutPercentage":{"constraints":{"type":"number","minimum":0,"maximum":100}},"salt":{"constraints":{"type":"string"}}}}},"values":{"enableNewProfileSchema":{"enabled":\#(enabled),"rolloutPercentage":\#(percentage),"salt":"nps-v2"}}}"#
    }

    /// An application, environment and feature-flag profile with a first deployment; returns their names.
    static func makeApplication(enabled: Bool, percentage: Int) throws -> (app: String, appID: String, envID: String, profileID: String, instant: String) {
        let name = "flags-\(UUID().uuidString.prefix(8).lowercased())"
        let appID = try aws(["appconfig", "create-application", "--name", name, "--query", "Id"])
        let envID = try aws(["appconfig", "create-environment", "--application-id", appID, "--name", "test", "--query", "Id"])
        let profileID = try aws([
            "appconfig", "create-configuration-profile", "--application-id", appID, "--name", "flags", "--location-uri", "hosted",
            "--type", "AWS.AppConfig.FeatureFlags", "--query", "Id",
        ])
        let instant = try aws([
            "appconfig", "create-deployment-strategy", "--name", "\(name)-instant", "--deployment-duration-in-minutes", "0",
            "--growth-factor", "100", "--final-bake-time-in-minutes", "0", "--replicate-to", "NONE", "--query", "Id",
        ])
        try deploy(enabled: enabled, percentage: percentage, appID: appID, envID: envID, profileID: profileID, strategy: instant)
        return (name, appID, envID, profileID, instant)
    }

    /// Uploads a new hosted version and deploys it with `strategy`; returns the deployment number.
    @discardableResult
    static func deploy(enabled: Bool, percentage: Int, appID: String, envID: String, profileID: String, strategy: String) throws -> String {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("flags-\(UUID().uuidString).json")
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("out-\(UUID().uuidString).json")
        defer {
            try? FileManager.default.removeItem(at: file)
            try? FileManager.default.removeItem(at: output)
        }
        try flagsDocument(enabled: enabled, percentage: percentage).write(to: file, atomically: true, encoding: .utf8)
        let version = try aws([
            "appconfig", "create-hosted-configuration-version", "--application-id", appID, "--configuration-profile-id", profileID,
            "--content", "fileb://\(file.path)", "--content-type", "application/json", "--query", "VersionNumber", output.path,
        ])
        return try aws([
            "appconfig", "start-deployment", "--application-id", appID, "--environment-id", envID, "--deployment-strategy-id", strategy,
            "--configuration-profile-id", profileID, "--configuration-version", version, "--query", "DeploymentNumber",
        ])
    }

    /// The first load, retried: init waits about a second by design, and the emulators on a busy
    /// two-core machine sometimes take longer than that to start a session.
    static func loadUntilFresh(_ cache: FlagCache) async {
        for _ in 0..<5 {
            await cache.load()
            if cache.sourceState.hasSuffix("(fresh)") { return }
        }
    }

    static func cache(application: String, endpoint: String, fetchTimeout: Duration = .seconds(1)) -> FlagCache {
        let aws = AWSEnvironment(region: "us-east-1", accessKeyID: "test", secretAccessKey: "test",
                                 endpointOverrides: ["APPCONFIGDATA": endpoint])
        let source = AppConfigDataSource(application: application, environment: "test", profile: "flags", aws: aws)
        return FlagCache(source: source, logger: Logger(label: "flags") { _ in SwiftLogNoOpLogHandler() }, fetchTimeout: fetchTimeout)
    }
}

@Suite(.enabled(if: AppConfigEmulator.available, "scripts/test.sh starts ministack and sets FLAGS_TEST_*"), .serialized)
struct AppConfigIntegrationTests {
    let user = "user-123"

    @Test func aNewDeploymentIsSeenAfterThePollIntervalAndARevertBringsTheOldValueBack() async throws {
        let setup = try AppConfigEmulator.makeApplication(enabled: false, percentage: 0)
        let cache = AppConfigEmulator.cache(application: setup.app, endpoint: try #require(AppConfigEmulator.endpoint))
        await AppConfigEmulator.loadUntilFresh(cache)
        #expect(cache.evaluate("enableNewProfileSchema", userID: user) == FlagEvaluation(value: false, reason: .disabled))

        try AppConfigEmulator.deploy(enabled: true, percentage: 100, appID: setup.appID, envID: setup.envID,
                                     profileID: setup.profileID, strategy: setup.instant)
        await cache.refreshIfDue()
        #expect(!cache.evaluate("enableNewProfileSchema", userID: user).value, "not before the poll interval")
        await cache.refreshIfDue(now: .now + .seconds(31))
        #expect(cache.evaluate("enableNewProfileSchema", userID: user) == FlagEvaluation(value: true, reason: .staticValue))

        // A deployment still baking can be stopped with --allow-revert: the previous value returns.
        let baking = try AppConfigEmulator.aws([
            "appconfig", "create-deployment-strategy", "--name", "\(setup.app)-bake", "--deployment-duration-in-minutes", "0",
            "--growth-factor", "100", "--final-bake-time-in-minutes", "10", "--replicate-to", "NONE", "--query", "Id",
        ])
        let number = try AppConfigEmulator.deploy(enabled: false, percentage: 0, appID: setup.appID, envID: setup.envID,
                                                  profileID: setup.profileID, strategy: baking)
        await cache.refreshIfDue(now: .now + .seconds(62))
        #expect(cache.evaluate("enableNewProfileSchema", userID: user) == FlagEvaluation(value: false, reason: .disabled))
        try AppConfigEmulator.aws([
            "appconfig", "stop-deployment", "--application-id", setup.appID, "--environment-id", setup.envID,
            "--deployment-number", number, "--allow-revert",
        ])
        await cache.refreshIfDue(now: .now + .seconds(93))
        #expect(cache.evaluate("enableNewProfileSchema", userID: user) == FlagEvaluation(value: true, reason: .staticValue))
    }

    @Test func throttlingServerErrorsAndSlownessLeaveTheLastGoodValueAndNeverBlockEvaluation() async throws {
        let proxy = try #require(AppConfigEmulator.faultProxy)
        let setup = try AppConfigEmulator.makeApplication(enabled: true, percentage: 100)
        // The proxy loads its service models on its first request, which takes seconds: warm it up
        // with a patient request before measuring anything through it.
        try FaultProxy.warmUp(proxy)
        let cache = AppConfigEmulator.cache(application: setup.app, endpoint: proxy, fetchTimeout: .seconds(1))
        await AppConfigEmulator.loadUntilFresh(cache)
        #expect(cache.evaluate("enableNewProfileSchema", userID: user) == FlagEvaluation(value: true, reason: .staticValue),
                "\(cache.sourceState)")

        for (index, rule) in [
            #"[{"service":"appconfig","times":1,"error":{"code":"ThrottlingException","status":429}}]"#,
            #"[{"service":"appconfig","times":1,"error":{"code":"InternalServerException","status":500}}]"#,
            #"[{"service":"appconfig","times":1,"latency":{"min":2000,"max":2000}}]"#,
        ].enumerated() {
            try FaultProxy.setRules(proxy, rule)
            // While the refresh waits on the faulty network, evaluations on another thread answer from
            // memory at once. (Timed on the test's own task after starting the refresh as a task, the
            // 200 evaluations were over before the refresh had even begun: nothing overlapped.)
            let sampler = EvaluationSampler(cache: cache)
            let started = ContinuousClock.now
            await cache.refreshIfDue(now: .now + .seconds(Int64(31 * (index + 1))))
            let refreshTook = ContinuousClock.now - started
            let (count, slowest) = await sampler.stop()
            // Far below the 2 s the slow rule holds the refresh; generous for a busy two-core machine.
            #expect(slowest < .milliseconds(500), "evaluation waited \(slowest) during a faulty refresh")
            if index == 2 {
                // The slow rule held the refresh until the fetch gave up (0.7 s seen; a healthy refresh takes
                // milliseconds), and evaluations went on all along.
                #expect(refreshTook >= .milliseconds(500), "the refresh waited on the slow network: \(refreshTook)")
                #expect(count >= 1_000, "\(count) evaluations during a refresh of \(refreshTook)")
            }
            let evaluation = cache.evaluate("enableNewProfileSchema", userID: user)
            #expect(evaluation == FlagEvaluation(value: true, reason: .stale), "rule \(index): \(evaluation)")
        }
        try FaultProxy.setRules(proxy, "[]")
    }
}

/// Evaluates `enableNewProfileSchema` over and over on a thread of its own (not a task, which could
/// start late on a busy cooperative pool), from creation to ``stop()``.
final class EvaluationSampler: Sendable {
    private let stopping = Atomic<Bool>(false)
    private let outcome = Mutex<(count: Int, slowest: Duration)>((0, .zero))
    private let done = DispatchSemaphore(value: 0)

    init(cache: FlagCache, userID: String = "user-123") {
        Thread { [self] in
            let clock = ContinuousClock()
            var count = 0
            var slowest = Duration.zero
            repeat {
                slowest = max(slowest, clock.measure { _ = cache.evaluate("enableNewProfileSchema", userID: userID) })
                count += 1
            } while !stopping.load(ordering: .acquiring)
            outcome.withLock { $0 = (count, slowest) }
            done.signal()
        }.start()
    }

    /// Stops the thread: how many evaluations it made and the slowest one.
    func stop() async -> (count: Int, slowest: Duration) {
        stopping.store(true, ordering: .releasing)
        done.wait()  // one evaluation at most: microseconds
        return outcome.withLock { $0 }
    }
}

/// microburst's control API.
enum FaultProxy {
    /// One signed AppConfigData request with a long timeout, so the proxy's first-request cost is paid.
    static func warmUp(_ proxy: String) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        process.arguments = ["-sS", "-o", "/dev/null", "--max-time", "60", "--aws-sigv4", "aws:amz:us-east-1:appconfig",
                             "--user", "test:test", "-H", "Content-Type: application/json",
                             "-d", #"{"ApplicationIdentifier":"warm-up","EnvironmentIdentifier":"test","ConfigurationProfileIdentifier":"flags"}"#,
                             "\(proxy)/configurationsessions"]
        try process.run()
        process.waitUntilExit()
    }

    /// Replaces the proxy's rule set (POST replaces, `[]` clears).
    static func setRules(_ proxy: String, _ rules: String) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        process.arguments = ["-sS", "-f", "-o", "/dev/null", "-X", "POST", "\(proxy)/_microburst/rules",
                             "-H", "content-type: application/json", "-d", rules]
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw AppConfigEmulator.CLIError(message: "microburst refused \(rules)") }
    }
}
