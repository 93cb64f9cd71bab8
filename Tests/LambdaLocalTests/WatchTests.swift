import CurlHTTP
import Foundation
import LambdaLocal
import Testing

/// `lambda-local --watch`: a change under `Sources/` rebuilds the bootstrap and replaces the instances.
@Suite struct WatchTests {
    /// `swift` on `PATH`, which the rebuild runs.
    static let swiftOnPath: Bool = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").contains {
        FileManager.default.isExecutableFile(atPath: "\($0)/swift")
    }

    /// Generous bounds: the machine builds other things at the same time.
    static let buildTimeout: Duration = .seconds(600)

    @Test(
        .enabled(if: WatchTests.swiftOnPath, "swift is not on PATH: --watch rebuilds with swift build"),
        .timeLimit(.minutes(30)))
    func anEditIsServedByTheNextInvocationAndABrokenBuildKeepsTheOldOne() async throws {
        let package = try ScratchPackage()
        defer { package.remove() }
        try package.build(timeout: Self.buildTimeout)

        let local = try WatchedLambdaLocal(package)
        defer { local.stop() }
        try await local.waitForPort()
        #expect(try local.answer() == "first build")
        #expect(local.standardOutput.contains("/package/Sources: a change rebuilds with `swift build --product bootstrap"))

        // A burst of saves: one rebuild.
        try package.setAnswer(to: "\"second build\"", saves: 3)
        let started = ContinuousClock.now
        var answer = try local.answer()
        while answer != "second build", ContinuousClock.now - started < Self.buildTimeout {
            try await Task.sleep(for: .milliseconds(250))
            answer = try local.answer()
        }
        #expect(answer == "second build")
        #expect(local.standardOutput.components(separatedBy: "lambda-local: rebuilt bootstrap in ").count == 2)
        #expect(local.standardOutput.contains("Sources/bootstrap/main.swift changed"))

        try package.setAnswer(to: "\"third build")
        try await local.waitForOutput("lambda-local: rebuild failed after", timeout: Self.buildTimeout)
        #expect(try local.answer() == "second build")
        #expect(local.standardError.contains("main.swift"))
        #expect(local.standardError.contains("error:"))
        #expect(local.standardError.contains("unterminated string literal"))
        // Checked again now: a second rebuild for the burst would run after the first (rebuilds take
        // turns) and could not have logged yet when the answer first changed; before this failed one it has.
        #expect(local.standardOutput.components(separatedBy: "lambda-local: rebuilt bootstrap in ").count == 2)
    }

    @Test func inFlightInvocationsFinishOnTheOldBuildWhileNewOnesStartTheNewOne() async throws {
        try await LocalFixture.with(LocalFixture.scripted()) { local in
            #expect(try local.invoke(#"{"warm":1}"#).status == 200)
            // On a thread of its own, and running before the rebuild: as a task after a fixed pause it could
            // start only once a cooperative thread was free (the suite's other test blocks one in
            // `swift build`), and then ran wholly after the rebuild, which the test could not tell.
            let slow = ThreadCall { try local.invoke(#"{"sleep":6}"#) }
            var running = false
            for _ in 0..<100 where !running {
                try await Task.sleep(for: .milliseconds(50))
                let instances = try local.stats()["instances"] as? [[String: Any]] ?? []
                running = instances.contains { $0["inFlight"] as? Int == 1 }
            }
            try #require(running, "the slow invocation started within 5 s")
            let replaced = try await local.server.lambda.replaceInstances(runningBootstrap: Executables.scripted).get()
            #expect(replaced == 1)
            let quickStarted = ContinuousClock.now
            let quick = try local.invoke(#"{"quick":1}"#)
            #expect(quick.status == 200)
            #expect(ContinuousClock.now - quickStarted < .seconds(4), "a new invocation does not wait for the retired instance")
            // While the slow one runs, /_local/stats shows both: the old build's instance as retiring.
            let during = try local.stats()["instances"] as? [[String: Any]] ?? []
            #expect(during.count == 2, "\(during)")
            #expect(during.filter { $0["retiring"] as? Bool == true }.count == 1)
            #expect(during.contains { $0["retiring"] as? Bool == true && $0["inFlight"] as? Int == 1 })
            let slowAnswer = try await slow.value
            #expect(slowAnswer.status == 200)
            #expect(String(decoding: slowAnswer.body, as: UTF8.self).contains("sleep"))
            #expect(slowAnswer.headers["X-Amz-Function-Error"] == nil)
            // The retired instance is killed once its invocation ended; the new one stays.
            var instances: [[String: Any]] = []
            for _ in 0..<100 {
                instances = try local.stats()["instances"] as? [[String: Any]] ?? []
                if instances.count == 1 { break }
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(instances.count == 1)
        }
    }

    @Test func aBootstrapOutsideABuildDirectoryCannotBeWatched() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Executables.lambdaLocal)
        process.arguments = ["--bootstrap", Executables.scripted, "--port", "0", "--watch"]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus != 0)
        #expect(output.contains("is not in a SwiftPM build directory"))
    }
}

/// A copy of `Fixtures/watch-echo` (a dependency-free bootstrap answering `{"answer":ANSWER}`) in a
/// temporary directory of its own, which is also the `TMPDIR` of every build (SwiftPM leaves lock files there).
struct ScratchPackage {
    /// The temporary directory that holds everything.
    let root: String
    /// The package.
    let path: String
    private static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/watch-echo").path

    init() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("lambda-local-watch-\(UUID().uuidString)").path
        path = root + "/package"
        try FileManager.default.createDirectory(atPath: root + "/tmp", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Self.fixture, toPath: path)
    }

    /// The environment of the builds: this one's, with `TMPDIR` inside ``root``.
    var environment: [String: String] {
        var environment = ProcessInfo.processInfo.environment
        environment["TMPDIR"] = root + "/tmp"
        return environment
    }

    var bootstrap: String { path + "/.build/debug/bootstrap" }
    private var source: String { path + "/Sources/bootstrap/main.swift" }

    /// Builds the bootstrap as a user would before starting lambda-local.
    func build(timeout: Duration) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["swift", "build", "--product", "bootstrap", "--package-path", path, "--scratch-path", path + "/.build"]
        process.environment = environment
        let log = root + "/first-build.log"
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        defer { try? handle.close() }
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        let started = ContinuousClock.now
        while process.isRunning, ContinuousClock.now - started < timeout { usleep(100_000) }
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
        let output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        try #require(process.terminationStatus == 0, "the first build failed: \(output)")
    }

    /// Rewrites the `answer` line as an editor saves a file (a new file renamed over the old one), `saves` times
    /// in a row.
    func setAnswer(to literal: String, saves: Int = 1) throws {
        let text = try String(contentsOfFile: source, encoding: .utf8)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { line in
            line.hasPrefix("let answer = ") ? "let answer = \(literal)" : String(line)
        }
        try #require(lines.contains { $0.hasPrefix("let answer = \(literal)") })
        for _ in 0..<saves {
            try lines.joined(separator: "\n").write(toFile: source, atomically: true, encoding: .utf8)
        }
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: root)
    }
}

/// The lambda-local executable started with `--watch` on a free port, its output in files.
final class WatchedLambdaLocal: @unchecked Sendable {
    private let process = Process()
    private let directory: String
    private(set) var port = 0

    /// Starts lambda-local on `package`'s bootstrap; its output goes to files in the package's temporary directory.
    init(_ package: ScratchPackage) throws {
        directory = package.root
        process.executableURL = URL(fileURLWithPath: Executables.lambdaLocal)
        process.arguments = ["--bootstrap", package.bootstrap, "--port", "0", "--watch", "--timeout", "60"]
        process.environment = package.environment
        process.standardOutput = try Self.file(directory + "/stdout")
        process.standardError = try Self.file(directory + "/stderr")
        try process.run()
    }

    private static func file(_ path: String) throws -> FileHandle {
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        return try FileHandle(forWritingTo: URL(fileURLWithPath: path))
    }

    var standardOutput: String { (try? String(contentsOfFile: directory + "/stdout", encoding: .utf8)) ?? "" }
    var standardError: String { (try? String(contentsOfFile: directory + "/stderr", encoding: .utf8)) ?? "" }

    /// Waits until lambda-local says where it listens.
    func waitForPort() async throws {
        try await waitForOutput("lambda-local:   watching", timeout: .seconds(60))
        let marker = "on http://127.0.0.1:"
        let output = standardOutput
        let range = try #require(output.range(of: marker), "no address in: \(output)")
        port = try #require(Int(output[range.upperBound...].prefix { $0.isNumber }))
    }

    func waitForOutput(_ text: String, timeout: Duration) async throws {
        let started = ContinuousClock.now
        while !standardOutput.contains(text), process.isRunning, ContinuousClock.now - started < timeout {
            try await Task.sleep(for: .milliseconds(100))
        }
        try #require(standardOutput.contains(text), "no '\(text)' in:\n\(standardOutput)\n\(standardError)")
    }

    /// Invokes the function and returns its `answer`.
    func answer() throws -> String? {
        let session = try CurlSession()
        let response = try session.perform(CurlHTTP.HTTPRequest(
            method: .post, url: "http://127.0.0.1:\(port)/2015-03-31/functions/function/invocations", headers: [:],
            body: Array("{}".utf8), timeout: .seconds(60)))
        let object = try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any]
        return object?["answer"] as? String
    }

    func stop() {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
    }
}
