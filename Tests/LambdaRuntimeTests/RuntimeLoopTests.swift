#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import FakeRuntimeAPI
import Foundation
import LambdaRuntime
import Testing

private struct Boom: Error, CustomStringConvertible {
    var description: String { "the store said \"no\"" }
}

/// The whole loop against a Runtime API on loopback. Serialized: the loop sets `_X_AMZN_TRACE_ID`
/// in this process's environment.
@Suite(.serialized) struct RuntimeLoopTests {
    @Test(arguments: [0, 1, 256, 1024 * 1024, 6 * 1024 * 1024])
    func echoReturnsEveryByte(size: Int) async throws {
        let server = try FakeRuntimeAPI(recordBodies: false)
        defer { server.stop() }
        let event = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 8) }
        let id = server.enqueue(.init(body: event))
        let exit = try await runLoop(against: server) { _ in EchoHandler() }
        #expect(isFinished(exit))
        #expect(server.outcome(for: id) == .response(event))
    }

    @Test func everyHeaderReachesTheContext() async throws {
        let server = try FakeRuntimeAPI()
        defer { server.stop() }
        let seen = Recorder<LambdaContext>()
        let deadline = Int64(Date().timeIntervalSince1970 * 1000) + 5000
        server.enqueue(.init(requestID: "req-1", body: Array("{}".utf8), headers: [
            ("Lambda-Runtime-Deadline-Ms", String(deadline)),
            ("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:eu-west-1:123456789012:function:profile-api:live"),
            ("Lambda-Runtime-Trace-Id", "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1"),
            ("Lambda-Runtime-Client-Context", #"{"custom":{"k":"v"}}"#),
            ("Lambda-Runtime-Cognito-Identity", #"{"cognitoIdentityId":"i","cognitoIdentityPoolId":"p"}"#),
            ("Lambda-Runtime-Aws-Tenant-Id", "tenant-7"),
        ]))
        let exit = try await runLoop(against: server) { _ in
            ClosureHandler { event, context in
                seen.append(context)
                return event
            }
        }
        #expect(isFinished(exit))
        let context = try #require(seen.all.first)
        #expect(context.requestID == "req-1")
        #expect(context.deadline == LambdaDeadline(epochMilliseconds: deadline))
        let remaining = try #require(context.remainingTime)
        #expect(remaining > .seconds(3) && remaining <= .seconds(5))
        #expect(context.invokedFunctionARN == "arn:aws:lambda:eu-west-1:123456789012:function:profile-api:live")
        #expect(context.traceID == "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1")
        #expect(context.clientContext == #"{"custom":{"k":"v"}}"#)
        #expect(context.cognitoIdentity == #"{"cognitoIdentityId":"i","cognitoIdentityPoolId":"p"}"#)
        #expect(context.tenantID == "tenant-7")
        #expect(context.function == FunctionMetadata(name: "profile-api", version: "7", memorySizeMB: 512, region: "eu-west-1"))
        #expect(context.logger[metadataKey: "requestId"] == "req-1")
    }

    @Test func missingAndGarbledHeadersNeverCrash() async throws {
        let server = try FakeRuntimeAPI()
        defer { server.stop() }
        let seen = Recorder<LambdaContext>()
        let id = server.enqueue(.init(requestID: "bare", body: Array("x".utf8), headers: [
            ("Lambda-Runtime-Deadline-Ms", "not-a-number"),
        ]))
        let exit = try await runLoop(against: server) { _ in
            ClosureHandler { event, context in
                seen.append(context)
                return event
            }
        }
        #expect(isFinished(exit))
        #expect(server.outcome(for: id) == .response(Array("x".utf8)))
        let context = try #require(seen.all.first)
        #expect(context.deadline == nil)
        #expect(context.remainingTime == nil)
        #expect(context.invokedFunctionARN == nil)
    }

    @Test func traceVariableIsSetPerInvocationAndClearedWhenAbsent() async throws {
        let server = try FakeRuntimeAPI()
        defer { server.stop() }
        setenv("_X_AMZN_TRACE_ID", "stale-from-before", 1)
        server.enqueue(.init(body: [], headers: [("Lambda-Runtime-Trace-Id", "Root=1-aaaaaaaa-000000000000000000000001")]))
        server.enqueue(.init(body: [], headers: []))
        server.enqueue(.init(body: [], headers: [("Lambda-Runtime-Trace-Id", "Root=1-aaaaaaaa-000000000000000000000003")]))
        let seen = Recorder<String?>()
        let exit = try await runLoop(against: server) { _ in
            ClosureHandler { event, _ in
                seen.append(getenv("_X_AMZN_TRACE_ID").map { String(cString: $0) })
                return event
            }
        }
        #expect(isFinished(exit))
        #expect(seen.all == [
            "Root=1-aaaaaaaa-000000000000000000000001", nil, "Root=1-aaaaaaaa-000000000000000000000003",
        ])
    }

    @Test func thrownErrorsReachErrorEndpointWithHeaderAndJSONBody() async throws {
        let server = try FakeRuntimeAPI()
        defer { server.stop() }
        let failing = server.enqueue("{\"fail\":true}")
        let fine = server.enqueue("{}")
        let logs = LogCapture()
        let exit = try await runLoop(against: server, logs: logs) { _ in
            ClosureHandler { event, _ in
                if event.count > 2 { throw Boom() }
                return event
            }
        }
        #expect(isFinished(exit))
        guard case .error(let type, let body) = server.outcome(for: failing) else {
            Issue.record("expected an error for \(failing), got \(String(describing: server.outcome(for: failing)))")
            return
        }
        #expect(type == "Boom")
        let object = try #require(jsonObject(body))
        #expect(object["errorType"] as? String == "Boom")
        #expect(object["errorMessage"] as? String == "the store said \"no\"")
        #expect((object["stackTrace"] as? [Any])?.isEmpty == true)
        let post = try #require(server.requests.first { $0.path.hasSuffix("/\(failing)/error") })
        #expect(post.header("Lambda-Runtime-Function-Error-Type") == "Boom")
        #expect(post.header("Content-Type") == "application/json")
        #expect(server.outcome(for: fine) == .response(Array("{}".utf8)))
        let logged = logs.all.compactMap(jsonObject).first { $0["message"] as? String == "invocation failed" }
        #expect(logged?["requestId"] as? String == failing)
        #expect(logged?["level"] as? String == "ERROR")
    }

    @Test func initFailureIsReportedAndEndsTheLoop() async throws {
        let server = try FakeRuntimeAPI()
        defer { server.stop() }
        server.enqueue("{}")
        let exit: RuntimeExit = try await runLoop(against: server) { _ -> EchoHandler in
            throw Boom()
        }
        #expect(exit == .initializationFailed(errorType: "Boom"))
        #expect(exit.exitCode != 0)
        let initError = try #require(server.snapshot.initErrors.first)
        guard case .error(let type, let body) = initError else {
            Issue.record("the init error is not an error report: \(initError)")
            return
        }
        #expect(type == "Boom")
        #expect(jsonObject(body)?["errorMessage"] as? String == "the store said \"no\"")
        #expect(server.snapshot.nextRequests == 0)
    }

    @Test func responseRefusedWith413BecomesResponseSizeTooLarge() async throws {
        let server = try FakeRuntimeAPI(maxPayload: 1000)
        defer { server.stop() }
        let id = server.enqueue(.init(body: [UInt8](repeating: 65, count: 2000)))
        let exit = try await runLoop(against: server) { _ in EchoHandler() }
        #expect(isFinished(exit))
        guard case .error(let type, let body) = server.outcome(for: id) else {
            Issue.record("expected an error outcome")
            return
        }
        #expect(type == "Function.ResponseSizeTooLarge")
        #expect(jsonObject(body)?["errorType"] as? String == "Function.ResponseSizeTooLarge")
    }

    @Test func responseOverSixMegabytesIsCaughtBeforeItIsSent() async throws {
        let server = try FakeRuntimeAPI(recordBodies: false)
        defer { server.stop() }
        let id = server.enqueue("{}")
        let exit = try await runLoop(against: server) { _ in
            ClosureHandler { _, _ in [UInt8](repeating: 0x61, count: LambdaRuntime.maxResponseSize + 1) }
        }
        #expect(isFinished(exit))
        guard case .error(let type, let body) = server.outcome(for: id) else {
            Issue.record("expected an error outcome")
            return
        }
        #expect(type == "Function.ResponseSizeTooLarge")
        #expect((jsonObject(body)?["errorMessage"] as? String)?.contains("6291457 bytes") == true)
        #expect(!server.requests.contains { $0.path.hasSuffix("/response") })
    }

    @Test func serverErrorOnNextEndsTheLoopPromptly() async throws {
        let server = try FakeRuntimeAPI()
        defer { server.stop() }
        server.setOverride { request in
            request.path.hasSuffix("/next") ? .init(status: 500, body: #"{"errorType":"Sandbox.Broken"}"#) : nil
        }
        let started = ContinuousClock.now
        let exit = try await runLoop(against: server, retryPolicy: RetryPolicy(retries: 3, initialBackoff: .seconds(1))) { _ in
            EchoHandler()
        }
        guard case .sandboxFailure(let detail) = exit else {
            Issue.record("expected a sandbox failure, got \(exit)")
            return
        }
        #expect(detail.contains("Sandbox.Broken"))
        #expect(ContinuousClock.now - started < .seconds(1), "a 500 is not retried")
        #expect(server.requests.filter { $0.path.hasSuffix("/next") }.count == 1)
    }

    @Test func serverErrorOnAPostEndsTheLoop() async throws {
        let server = try FakeRuntimeAPI()
        defer { server.stop() }
        server.enqueue("{}")
        server.enqueue("{}")
        server.setOverride { request in
            request.path.hasSuffix("/response") ? .init(status: 500, body: "broken") : nil
        }
        let exit = try await runLoop(against: server) { _ in EchoHandler() }
        guard case .sandboxFailure = exit else {
            Issue.record("expected a sandbox failure, got \(exit)")
            return
        }
        #expect(server.snapshot.nextRequests == 1)
    }

    @Test func refusedConnectionIsRetriedWithBackoffThenGivesUp() async throws {
        let server = try FakeRuntimeAPI()
        let address = server.runtimeAPI
        server.stop()
        try await Task.sleep(for: .milliseconds(50))
        let configuration = LambdaRuntime.Configuration(
            endpoint: try RuntimeAPIEndpoint(address), function: FunctionMetadata(name: "f"),
            retryPolicy: RetryPolicy(retries: 3, initialBackoff: .milliseconds(40)), environment: ProcessEnvironment([:]))
        let logs = LogCapture()
        let started = ContinuousClock.now
        let exit = await LambdaRuntime(
            configuration: configuration, logger: LambdaLogConfiguration(format: .json).makeLogger(label: "t", sink: logs)
        ).run { _ in EchoHandler() }
        let elapsed = ContinuousClock.now - started
        guard case .runtimeAPIUnreachable(let detail) = exit else {
            Issue.record("expected unreachable, got \(exit)")
            return
        }
        #expect(detail.contains("4 time(s)"))
        #expect(elapsed >= .milliseconds(280), "40 + 80 + 160 ms of backoff")
        #expect(exit.exitCode != 0)
        #expect(logs.all.contains { $0.contains("FATAL") && $0.contains("invocation/next") })
    }

    @Test func resetConnectionOnNextIsRetriedAndTheLoopGoesOn() async throws {
        let server = try FakeRuntimeAPI()
        defer { server.stop() }
        let dropped = Recorder<Bool>()
        server.setOverride { request in
            guard request.path.hasSuffix("/next"), dropped.all.isEmpty else { return nil }
            dropped.append(true)
            return FakeRuntimeAPI.dropConnection
        }
        let id = server.enqueue("{\"n\":1}")
        let exit = try await runLoop(against: server, retryPolicy: RetryPolicy(retries: 2, initialBackoff: .milliseconds(5))) { _ in
            EchoHandler()
        }
        #expect(isFinished(exit))
        #expect(server.outcome(for: id) == .response(Array("{\"n\":1}".utf8)))
        #expect(server.snapshot.connections == 2)
    }

    @Test func rejectedPostIsLoggedAndTheLoopGoesOn() async throws {
        let server = try FakeRuntimeAPI()
        defer { server.stop() }
        let first = server.enqueue("{\"n\":1}")
        let second = server.enqueue("{\"n\":2}")
        server.setOverride { request in
            request.path.hasSuffix("\(first)/response") ? .init(status: 400, body: #"{"errorType":"InvalidRequestID"}"#) : nil
        }
        let logs = LogCapture()
        let exit = try await runLoop(against: server, logs: logs) { _ in EchoHandler() }
        #expect(isFinished(exit))
        #expect(server.outcome(for: second) == .response(Array("{\"n\":2}".utf8)))
        let line = try #require(logs.all.compactMap(jsonObject).first { $0["level"] as? String == "ERROR" })
        #expect((line["message"] as? String)?.contains("400") == true)
        #expect((line["message"] as? String)?.contains("response of 7 bytes") == true)
        #expect(line["requestId"] as? String == first)
    }

    @Test func afterResponseRunsOnceThePostIsAcceptedAndBeforeTheNextPoll() async throws {
        let server = try FakeRuntimeAPI()
        defer { server.stop() }
        for n in 1...3 { server.enqueue("{\"n\":\(n)}") }
        let observed = Recorder<FakeRuntimeAPI.State>()
        let exit = try await runLoop(against: server) { _ in
            ClosureHandler(body: { event, _ in event }, after: { _ in observed.append(server.snapshot) })
        }
        #expect(isFinished(exit))
        #expect(observed.all.map(\.outcomeCount) == [1, 2, 3])
        #expect(observed.all.map(\.nextRequests) == [1, 2, 3])
    }

    @Test func oneKeptAliveConnectionServesEveryCall() async throws {
        let server = try FakeRuntimeAPI(recordBodies: false)
        defer { server.stop() }
        for n in 0..<50 { server.enqueue("{\"n\":\(n)}") }
        let exit = try await runLoop(against: server) { _ in EchoHandler() }
        #expect(isFinished(exit))
        #expect(server.snapshot.outcomeCount == 50)
        #expect(server.snapshot.connections == 1)
        let requests = server.requests
        #expect(requests.count == 101)
        let post = try #require(requests.first { $0.method == "POST" })
        #expect(post.header("Content-Length") == String(post.bodySize))
        #expect(post.header("Expect") == nil)
        #expect(post.header("Transfer-Encoding") == nil)
    }

    @Test func pathPrefixedRuntimeAPIWorks() async throws {
        let server = try FakeRuntimeAPI(pathPrefix: "/.rt")
        defer { server.stop() }
        let id = server.enqueue("{\"prefixed\":true}")
        let exit = try await runLoop(against: server) { _ in EchoHandler() }
        #expect(isFinished(exit))
        #expect(server.outcome(for: id) == .response(Array("{\"prefixed\":true}".utf8)))
    }

    @Test func nothingIsLoggedPerInvocationAtInfo() async throws {
        let server = try FakeRuntimeAPI()
        defer { server.stop() }
        for _ in 0..<5 { server.enqueue("{}") }
        let logs = LogCapture()
        _ = try await runLoop(against: server, logs: logs) { _ in EchoHandler() }
        #expect(logs.all.filter { !$0.contains("FATAL") }.isEmpty)
    }
}
