import FakeRuntimeAPI
import Foundation
import Testing

/// `LambdaRuntime.mainOnMainThread`, as the real `bootstrap` and a function of a user's run it: the
/// runtime on the process's main thread, no other thread before the first `/next`, and a handler that
/// leaves that thread (for the main actor, a timer, a detached task) comes back to it.
@Suite struct MainThreadRuntimeTests {
    static let fixture = BootstrapProcessTests.executable.deletingLastPathComponent().appendingPathComponent("main-thread-fixture")

    /// Starts `executable` against `server`; stderr is kept for failure messages.
    func start(_ executable: URL, server: FakeRuntimeAPI, environment extra: [String: String]) throws -> (Process, Pipe) {
        let process = Process()
        process.executableURL = executable
        var environment = [
            "AWS_LAMBDA_RUNTIME_API": server.runtimeAPI, "AWS_LAMBDA_FUNCTION_NAME": "f", "AWS_REGION": "us-east-1",
            "PATH": "/usr/bin:/bin", "METRICS": "off",
        ]
        environment.merge(extra) { _, new in new }
        process.environment = environment
        let stderr = Pipe()
        process.standardError = stderr
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        // A handler that never comes back must fail the test, not hang it.
        DispatchQueue.global().asyncAfter(deadline: .now() + 20) { if process.isRunning { process.terminate() } }
        return (process, stderr)
    }

    /// The number of threads of a running process.
    func threadCount(_ process: Process) -> Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(process.processIdentifier)/task").count) ?? -1
    }

    @Test(arguments: [("main-actor", "main"), ("main-actor-task", "main"), ("sleep", "main"), ("detached", "other")])
    func aHandlerThatLeavesTheRuntimesThreadComesBack(_ what: String, expectedThread: String) throws {
        let server = try FakeRuntimeAPI()
        defer { server.stop() }
        let ids = (0..<3).map { server.enqueue(.init(body: Array("event-\($0)".utf8))) }
        server.finish()
        let (process, stderr) = try start(Self.fixture, server: server, environment: ["_HANDLER": what])
        let log = String(decoding: stderr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        for (index, id) in ids.enumerated() {
            #expect(server.outcome(for: id)?.text == "\(what):\(expectedThread):event-\(index)", "stderr: \(log)")
        }
        #expect(process.terminationStatus == 2, "a 500 from /next ends the process with status 2; stderr: \(log)")
    }

    @Test(arguments: ["main-actor", "main-actor-task", "sleep", "detached"])
    func concurrentLoopsAwaitTheMainActorAndTheGlobalExecutor(_ what: String) throws {
        let server = try FakeRuntimeAPI()
        defer { server.stop() }
        let ids = (0..<6).map { server.enqueue(.init(body: Array("event-\($0)".utf8))) }
        let (process, stderr) = try start(Self.fixture, server: server, environment: ["_HANDLER": what, "AWS_LAMBDA_MAX_CONCURRENCY": "3"])
        // Not `finish()`: the first loop told "no more events" would end the process while others still serve.
        #expect(server.wait(timeout: .seconds(15)) { $0.outcomeCount == ids.count })
        process.terminate()
        let log = String(decoding: stderr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        // Each loop has a thread of its own; only the main actor's work runs on the main thread.
        let thread = what.hasPrefix("main-actor") ? "main" : "other"
        for (index, id) in ids.enumerated() {
            #expect(server.outcome(for: id)?.text == "\(what):\(thread):event-\(index)", "stderr: \(log)")
        }
    }

    @Test func calledOnAnotherThreadItStopsWithAMessage() throws {
        let server = try FakeRuntimeAPI()
        defer { server.stop() }
        let (process, stderr) = try start(Self.fixture, server: server, environment: ["_HANDLER": "sleep", "FIXTURE_FROM_ANOTHER_THREAD": "1"])
        let log = String(decoding: stderr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationReason == .uncaughtSignal, "status \(process.terminationStatus); stderr: \(log)")
        #expect(log.contains("must be called on the main thread"), "stderr: \(log)")
        #expect(server.snapshot.nextRequests == 0)
    }

    @Test(arguments: [BootstrapProcessTests.executable, fixture])
    func noThreadButTheMainOneBeforeTheFirstNext(_ executable: URL) throws {
        let server = try FakeRuntimeAPI()
        defer { server.stop() }
        let (process, _) = try start(executable, server: server, environment: ["_HANDLER": executable == Self.fixture ? "sleep" : "echo"])
        defer {
            process.terminate()
            process.waitUntilExit()
        }
        #expect(server.wait(timeout: .seconds(10)) { $0.waitingForEvent == 1 })
        #expect(threadCount(process) == 1, "libdispatch's threads start with the first work on the global executor, not before")
    }
}
