import FakeRuntimeAPI
import Foundation
import Synchronization
import Testing

/// The real `bootstrap` executable, started as Lambda starts it, against a Runtime API on loopback.
@Suite struct BootstrapProcessTests {
    /// `bootstrap` is built beside the test bundle (the test target depends on it).
    static let executable: URL = {
        let testBinary = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        return testBinary.deletingLastPathComponent().appendingPathComponent("bootstrap")
    }()

    final class RunningBootstrap: Sendable {
        let process: Process
        let stderr: Pipe

        init(runtimeAPI: String, environment extra: [String: String]) throws {
            process = Process()
            process.executableURL = BootstrapProcessTests.executable
            var environment = [
                "AWS_LAMBDA_RUNTIME_API": runtimeAPI,
                "AWS_LAMBDA_FUNCTION_NAME": "profile-api",
                "AWS_LAMBDA_FUNCTION_VERSION": "3",
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
                "AWS_REGION": "us-east-1",
                "PATH": "/usr/bin:/bin",
            ]
            environment.merge(extra) { _, new in new }
            process.environment = environment
            stderr = Pipe()
            process.standardError = stderr
            process.standardOutput = FileHandle.nullDevice
            try process.run()
        }

        /// Waits for exit; returns the status and everything written to stderr.
        func finish(timeout: Duration = .seconds(30)) -> (status: Int32, stderr: String) {
            let output = stderr.fileHandleForReading.readDataToEndOfFile()
            let deadline = ContinuousClock.now + timeout
            while process.isRunning, ContinuousClock.now < deadline { usleep(10_000) }
            if process.isRunning { process.terminate() }
            process.waitUntilExit()
            return (process.terminationStatus, String(decoding: output, as: UTF8.self))
        }

        /// Resident memory of the child, in kB, from /proc.
        var residentKilobytes: Int? {
            guard let status = try? String(contentsOfFile: "/proc/\(process.processIdentifier)/status", encoding: .utf8),
                  let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") })
            else { return nil }
            return Int(line.split(separator: " ", omittingEmptySubsequences: true)[1])
        }
    }

    @Test func echoBootstrapReturnsEveryByteThroughTheRuntimeAPI() throws {
        let server = try FakeRuntimeAPI(recordBodies: false)
        defer { server.stop() }
        let events: [[UInt8]] = [
            [],
            Array(0...255),
            Array("{\"userId\":\"u-1\",\"name\":\"Ada\"}".utf8),
            (0..<(1024 * 1024)).map { UInt8(truncatingIfNeeded: $0 * 7) },
            [UInt8](repeating: 0x5A, count: 6 * 1024 * 1024),
        ]
        let ids = events.map { server.enqueue(.init(body: $0)) }
        server.finish()
        let child = try RunningBootstrap(runtimeAPI: server.runtimeAPI, environment: ["_HANDLER": "echo"])
        let (status, stderr) = child.finish()
        for (id, event) in zip(ids, events) {
            #expect(server.outcome(for: id) == .response(event), "event of \(event.count) bytes")
        }
        #expect(status == 2, "a 500 from /next ends the process with status 2; stderr: \(stderr)")
        #expect(stderr.contains("Runtime.Finished"))
    }

    @Test func unknownHandlerIsAnInitErrorListingTheValidNames() throws {
        let server = try FakeRuntimeAPI()
        defer { server.stop() }
        server.enqueue("{}")
        let child = try RunningBootstrap(
            runtimeAPI: server.runtimeAPI, environment: ["_HANDLER": "profiles", "AWS_LAMBDA_LOG_FORMAT": "JSON"])
        let (status, stderr) = child.finish()
        #expect(status == 1)
        let report = try #require(server.snapshot.initErrors.first)
        guard case .error(let type, let body) = report else {
            Issue.record("the init error is not an error report: \(report)")
            return
        }
        #expect(type == "Runtime.HandlerNotFound")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any])
        #expect(object["errorType"] as? String == "Runtime.HandlerNotFound")
        let message = try #require(object["errorMessage"] as? String)
        #expect(message.contains("profiles") && message.contains("echo"))
        #expect(server.snapshot.nextRequests == 0, "no event is taken after a failed init")
        let line = try #require(stderr.split(separator: "\n").first)
        let logged = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(logged["level"] as? String == "FATAL")
        #expect(logged["errorType"] as? String == "Runtime.HandlerNotFound")
    }

    @Test func missingHandlerVariableSaysSo() throws {
        let server = try FakeRuntimeAPI()
        defer { server.stop() }
        let child = try RunningBootstrap(runtimeAPI: server.runtimeAPI, environment: [:])
        let (status, _) = child.finish()
        #expect(status == 1)
        #expect(server.snapshot.initErrors.first?.text.contains("_HANDLER is not set") == true)
    }

    @Test func withoutARuntimeAPITheProcessExplainsAndExits() throws {
        let child = try RunningBootstrap(runtimeAPI: "", environment: ["_HANDLER": "echo"])
        let (status, stderr) = child.finish()
        #expect(status == 5)  // RuntimeExit.configurationInvalid, not 3 (unreachable): nothing was tried
        #expect(stderr.contains("AWS_LAMBDA_RUNTIME_API is not set"))
    }

    @Test func tenThousandSequentialInvocationsKeepMemoryFlat() throws {
        let server = try FakeRuntimeAPI(recordBodies: false)
        defer { server.stop() }
        let limit = Mutex(1000)
        let produced = Mutex(0)
        let event = Array(#"{"version":"2.0","routeKey":"GET /profiles/{userId}","rawPath":"/profiles/u-1"}"#.utf8)
        server.setEventSource(keepOutcomes: false) {
            let allowed = limit.withLock { $0 }
            return produced.withLock { count in
                guard count < allowed else { return nil }
                count += 1
                // A new trace id each time, as Lambda sends: setenv of it leaked ~160 bytes each (issue 11).
                return FakeRuntimeAPI.Event(requestID: "req-\(count)", body: event, headers: [
                    ("Lambda-Runtime-Deadline-Ms", String(Int64(Date().timeIntervalSince1970 * 1000) + 30_000)),
                    ("Lambda-Runtime-Trace-Id", "Root=1-69295680-\(String(count, radix: 16));Parent=53995c3f42cd8ad8;Sampled=0"),
                ])
            }
        }
        let child = try RunningBootstrap(runtimeAPI: server.runtimeAPI, environment: ["_HANDLER": "echo"])
        #expect(server.wait(timeout: .seconds(60)) { $0.outcomeCount == 1000 && $0.waitingForEvent == 1 })
        let afterWarmUp = try #require(child.residentKilobytes)
        limit.withLock { $0 = 10_000 }
        server.notifyEventsAvailable()
        #expect(server.wait(timeout: .seconds(120)) { $0.outcomeCount == 10_000 && $0.waitingForEvent == 1 })
        let afterAll = try #require(child.residentKilobytes)
        server.finish()
        let (status, _) = child.finish()
        #expect(status == 2)
        #expect(server.snapshot.connections == 1, "one kept-alive connection for 20,000 calls")
        #expect(afterAll - afterWarmUp < 512, "RSS grew from \(afterWarmUp) kB to \(afterAll) kB over 9,000 invocations")
        print("RSS after 1,000 invocations: \(afterWarmUp) kB; after 10,000: \(afterAll) kB")
    }
}

/// `_HANDLER=echo-stream`: the real bootstrap streams each event back in `ECHO_STREAM_CHUNK`-byte chunks.
@Suite struct BootstrapStreamingTests {
    @Test func echoStreamReturnsEveryByteInChunksOfTheConfiguredSize() throws {
        let server = try FakeRuntimeAPI()
        defer { server.stop() }
        let events: [[UInt8]] = [
            [7],
            (0..<(1024 * 1024)).map { UInt8(truncatingIfNeeded: $0 * 13) },
            [],
            (0..<(25 * 1024 * 1024)).map { UInt8(truncatingIfNeeded: $0 >> 3) },
        ]
        let ids = events.map { server.enqueue(.init(body: $0)) }
        server.finish()
        let child = try BootstrapProcessTests.RunningBootstrap(
            runtimeAPI: server.runtimeAPI, environment: ["_HANDLER": "echo-stream", "ECHO_STREAM_CHUNK": "4096"])
        let (status, stderr) = child.finish()
        #expect(status == 2, "stderr: \(stderr)")
        for (id, event) in zip(ids, events) {
            #expect(server.outcome(for: id) == .response(event), "event of \(event.count) bytes")
            let post = try #require(server.requests.first { $0.path.hasSuffix("/\(id)/response") })
            #expect(post.header("Lambda-Runtime-Function-Response-Mode") == "streaming")
            #expect(post.isChunked)
            #expect(post.chunkSizes.dropLast().allSatisfy { $0 == 4096 }, "one HTTP chunk per write")
            #expect(post.chunkSizes.count == (event.count + 4095) / 4096)
        }
        #expect(server.snapshot.connections == 2, "one for /next, one for streams, both kept alive")
    }

    @Test func anInvalidChunkSizeIsAnInitErrorNamingTheVariable() throws {
        let server = try FakeRuntimeAPI()
        defer { server.stop() }
        let child = try BootstrapProcessTests.RunningBootstrap(
            runtimeAPI: server.runtimeAPI, environment: ["_HANDLER": "echo-stream", "ECHO_STREAM_CHUNK": "16k"])
        let (status, _) = child.finish()
        #expect(status == 1)
        let report = try #require(server.snapshot.initErrors.first)
        guard case .error(let type, _) = report else {
            Issue.record("the init error is not an error report: \(report)")
            return
        }
        #expect(type == "Runtime.ConfigInvalid")
        #expect(report.text.contains("ECHO_STREAM_CHUNK=16k is not valid"))
        #expect(report.text.contains("from 1 to"))
    }

    @Test func echoStreamIsListedAmongTheValidHandlers() throws {
        let server = try FakeRuntimeAPI()
        defer { server.stop() }
        let child = try BootstrapProcessTests.RunningBootstrap(runtimeAPI: server.runtimeAPI, environment: ["_HANDLER": "nope"])
        _ = child.finish()
        #expect(server.snapshot.initErrors.first?.text.contains("echo-stream") == true)
    }
}
