import FakeRuntimeAPI
import Foundation
import Testing

/// The profile handler's EMF metrics as the real `bootstrap` writes them: one bare JSON object per
/// request on standard output, in both log formats, never inside a log record.
@Suite struct BootstrapMetricsTests {
    /// Runs the bootstrap until the queued events are served; returns its stdout and stderr lines.
    func run(events: [String], environment extra: [String: String]) throws -> (stdout: [String], stderr: [String], server: FakeRuntimeAPI) {
        let server = try FakeRuntimeAPI()
        for event in events { server.enqueue(.init(requestID: "req-\(server.snapshot.outcomeCount)-\(UUID().uuidString.prefix(6))", body: Array(event.utf8), headers: [
            ("Lambda-Runtime-Deadline-Ms", String(Int(Date().timeIntervalSince1970 * 1000) + 30_000)),
            ("Lambda-Runtime-Trace-Id", "Root=1-67891233-abcdef012345678912345678;Sampled=1"),
        ])) }
        server.finish()
        let process = Process()
        process.executableURL = BootstrapProcessTests.executable
        var environment = [
            "AWS_LAMBDA_RUNTIME_API": server.runtimeAPI, "AWS_LAMBDA_FUNCTION_NAME": "profile-service-dev",
            "AWS_LAMBDA_FUNCTION_VERSION": "5", "AWS_REGION": "us-east-1", "PATH": "/usr/bin:/bin",
            "_HANDLER": "profile", "PROFILE_STORE": "memory",
        ]
        environment.merge(extra) { _, new in new }
        process.environment = environment
        let stdout = Pipe(), stderr = Pipe()
        process.standardOutput = stdout
        process.standardError = stderr
        try process.run()
        // Read both pipes to the end on their own threads so neither can fill up and block the child.
        nonisolated(unsafe) var errText = Data()
        let errReader = Thread { errText = stderr.fileHandleForReading.readDataToEndOfFile() }
        errReader.start()
        let outText = stdout.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        while !errReader.isFinished { usleep(1000) }
        func lines(_ data: Data) -> [String] { String(decoding: data, as: UTF8.self).split(separator: "\n").map(String.init) }
        return (lines(outText), lines(errText), server)
    }

    static let health = #"{"version":"2.0","routeKey":"GET /health","rawPath":"/health","rawQueryString":"","headers":{},"requestContext":{"http":{"method":"GET","path":"/health"},"requestId":"api-1"},"isBase64Encoded":false}"#
    static let missing = #"{"version":"2.0","routeKey":"GET /nowhere","rawPath":"/nowhere","rawQueryString":"","headers":{},"requestContext":{"http":{"method":"GET","path":"/nowhere"},"requestId":"api-2"},"isBase64Encoded":false}"#

    @Test(arguments: ["JSON", "Text"])
    func oneBareEMFObjectPerRequestOnStandardOutput(_ format: String) throws {
        let (stdout, stderr, server) = try run(
            events: [Self.health, Self.missing], environment: ["AWS_LAMBDA_LOG_FORMAT": format, "METRICS_NAMESPACE": "Acme/Profiles"])
        defer { server.stop() }
        #expect(stdout.count == 2, "stdout: \(stdout)\nstderr: \(stderr)")
        let objects = stdout.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect(objects.count == 2, "every stdout line is one JSON object: \(stdout)")
        for object in objects {
            let aws = try #require(object["_aws"] as? [String: Any], "the EMF object is bare, not nested in a log record")
            let directive = try #require((aws["CloudWatchMetrics"] as? [[String: Any]])?.first)
            #expect(directive["Namespace"] as? String == "Acme/Profiles")
            #expect(object["Service"] as? String == "profile-service-dev")
            #expect(object["FunctionVersion"] as? String == "5")
            #expect(object["traceId"] as? String == "Root=1-67891233-abcdef012345678912345678;Sampled=1")
            #expect(object["level"] == nil && object["message"] == nil)
        }
        #expect(objects.first?["Route"] as? String == "GET /health")
        #expect(objects.first?["ClientErrors"] as? Int == 0)
        #expect(objects.last?["Route"] as? String == "UNMATCHED")
        #expect(objects.last?["ClientErrors"] as? Int == 1)
        #expect(!stderr.contains { $0.contains("_aws") }, "metrics never go into the log stream's records")
    }

    @Test func metricsOffWritesNothingAndABadNamespaceIsAnInitError() throws {
        let (quiet, _, server) = try run(events: [Self.health], environment: ["METRICS": "off"])
        server.stop()
        #expect(quiet.isEmpty)
        let (_, _, refused) = try run(events: [Self.health], environment: ["METRICS_NAMESPACE": "AWS/Lambda"])
        defer { refused.stop() }
        let report = try #require(refused.snapshot.initErrors.first)
        #expect(report.text.contains("Runtime.ConfigInvalid") || report.text.contains("METRICS_NAMESPACE"))
        #expect(report.text.contains("METRICS_NAMESPACE"))
    }
}

/// SIGTERM, which Lambda sends before shutting a sandbox down: exit 0 at once, waiting or busy.
@Suite struct BootstrapShutdownTests {
    func start(_ environment: [String: String], server: FakeRuntimeAPI) throws -> Process {
        let process = Process()
        process.executableURL = BootstrapProcessTests.executable
        var values = [
            "AWS_LAMBDA_RUNTIME_API": server.runtimeAPI, "AWS_LAMBDA_FUNCTION_NAME": "profile-service-dev",
            "AWS_REGION": "us-east-1", "PATH": "/usr/bin:/bin", "METRICS": "off",
        ]
        values.merge(environment) { _, new in new }
        process.environment = values
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        return process
    }

    /// Sends SIGTERM and returns the exit status and how long the exit took.
    func terminate(_ process: Process) -> (status: Int32, reason: Process.TerminationReason, took: Duration) {
        let sent = ContinuousClock.now
        kill(process.processIdentifier, SIGTERM)
        while process.isRunning, ContinuousClock.now - sent < .seconds(5) { usleep(2_000) }
        let took = ContinuousClock.now - sent
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
        return (process.terminationStatus, process.terminationReason, took)
    }

    @Test func whileWaitingForTheNextEvent() throws {
        let server = try FakeRuntimeAPI()
        defer { server.stop() }
        let process = try start(["_HANDLER": "echo"], server: server)
        #expect(server.wait(timeout: .seconds(10)) { $0.waitingForEvent == 1 })
        let (status, reason, took) = terminate(process)
        #expect(reason == .exit && status == 0)
        #expect(took < .milliseconds(300), "exited in \(took)")
    }

    /// A parent may start the runtime from a thread that blocks SIGTERM (libdispatch's workers do):
    /// the child inherits that mask, and the runtime must unblock the signal, not leave it pending.
    @Test func evenWhenTheParentStartedItWithSIGTERMBlocked() throws {
        let server = try FakeRuntimeAPI()
        defer { server.stop() }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var blocked = sigset_t()
        sigemptyset(&blocked)
        sigaddset(&blocked, SIGTERM)
        posix_spawnattr_setsigmask(&attributes, &blocked)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK))
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        let path = BootstrapProcessTests.executable.path
        let arguments = [path]
        let environment = [
            "AWS_LAMBDA_RUNTIME_API=\(server.runtimeAPI)", "AWS_LAMBDA_FUNCTION_NAME=f", "AWS_REGION=us-east-1", "_HANDLER=echo",
        ]
        func cStrings(_ strings: [String]) -> [UnsafeMutablePointer<CChar>?] { strings.map { strdup($0) } + [nil] }
        let argv = cStrings(arguments), envp = cStrings(environment)
        defer { (argv + envp).forEach { free($0) } }
        var pid = pid_t()
        try #require(posix_spawn(&pid, path, &actions, &attributes, argv, envp) == 0)
        try #require(pid > 0)
        #expect(server.wait(timeout: .seconds(10)) { $0.waitingForEvent == 1 })
        let sent = ContinuousClock.now
        kill(pid, SIGTERM)
        var status: Int32 = 0
        var reaped = waitpid(pid, &status, WNOHANG)
        while reaped == 0, ContinuousClock.now - sent < .seconds(5) {
            usleep(2_000)
            reaped = waitpid(pid, &status, WNOHANG)
        }
        let took = ContinuousClock.now - sent
        if reaped == 0 {
            kill(pid, SIGKILL)
            reaped = waitpid(pid, &status, 0)
        }
        #expect(reaped == pid)
        // A blocked SIGTERM would leave it running until the 5 s bound; 1 s leaves room for a loaded machine.
        #expect(took < .seconds(1), "exited in \(took)")
        #expect(status == 0, "exit status word \(status)")
    }

    @Test func inTheMiddleOfAnInvocation() throws {
        // The profile store is a server that takes 5 s to answer: the invocation is busy when SIGTERM comes.
        let slowStore = try FakeRuntimeAPI()
        defer { slowStore.stop() }
        slowStore.setOverride { _ in
            usleep(5_000_000)
            return .init(status: 200, body: "{}")
        }
        let server = try FakeRuntimeAPI()
        defer { server.stop() }
        server.enqueue(#"{"version":"2.0","routeKey":"$default","rawPath":"/profiles/u-1","headers":{},"requestContext":{"http":{"method":"GET","path":"/profiles/u-1"},"authorizer":{"jwt":{"claims":{"sub":"u-1"}}},"requestId":"r"},"isBase64Encoded":false}"#)
        let process = try start([
            "_HANDLER": "profile", "PROFILE_STORE": "dynamodb", "PROFILE_TABLE": "profiles",
            "AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s", "AWS_ENDPOINT_URL_DYNAMODB": "http://\(slowStore.runtimeAPI)",
        ], server: server)
        #expect(slowStore.wait(timeout: .seconds(10)) { $0.connections >= 1 })
        usleep(100_000)
        #expect(server.snapshot.outcomeCount == 0, "still busy")
        let (status, reason, took) = terminate(process)
        #expect(reason == .exit && status == 0)
        #expect(took < .milliseconds(300), "exited in \(took)")
    }
}
