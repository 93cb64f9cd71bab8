import FakeRuntimeAPI
import Foundation
import LambdaRuntime
import Testing

/// What the Runtime API gained in 2026 that the runtime follows: the per-attempt invocation id, 410
/// for a late post, X-Ray error causes, tenant ids in every log line.
@Suite struct RuntimeAPI2026Tests {
    struct Failure: LambdaFunctionError {
        var errorType: String { "Function.Failed" }
        var errorMessage: String { "the request for user-42 (secret@example.com) failed" }
    }

    @Test func theInvocationIdIsEchoedOnResponseAndErrorOnlyWhenSent() async throws {
        let server = try FakeRuntimeAPI()
        defer { server.stop() }
        let withID = server.enqueue(.init(requestID: "with-id", body: Array("ok".utf8), headers: [
            ("Lambda-Runtime-Invocation-Id", "attempt-1a2b")]))
        let failing = server.enqueue(.init(requestID: "failing", body: Array("fail".utf8), headers: [
            ("Lambda-Runtime-Invocation-Id", "attempt-3c4d")]))
        let without = server.enqueue(.init(requestID: "without", body: Array("ok".utf8), headers: []))
        let seen = Recorder<String?>()
        let exit = try await runLoop(against: server) { _ in
            ClosureHandler { event, context in
                seen.append(context.invocationID)
                if event == Array("fail".utf8) { throw Failure() }
                return event
            }
        }
        #expect(isFinished(exit))
        #expect(seen.all == ["attempt-1a2b", "attempt-3c4d", nil])
        func post(_ id: String) throws -> FakeRuntimeAPI.Request {
            try #require(server.requests.first { $0.method == "POST" && $0.path.contains("/\(id)/") })
        }
        #expect(try post(withID).header("Lambda-Runtime-Invocation-Id") == "attempt-1a2b")
        #expect(try post(failing).header("Lambda-Runtime-Invocation-Id") == "attempt-3c4d")
        #expect(try post(without).header("Lambda-Runtime-Invocation-Id") == nil)
    }

    /// A 410 (the attempt is gone) on a buffered or a streamed post: one warning, and the loop goes on.
    @Test(arguments: [false, true])
    func aPostAnswered410IsLoggedOnceAndTheLoopGoesOn(streamed: Bool) async throws {
        let server = try FakeRuntimeAPI()
        defer { server.stop() }
        let late = server.enqueue(.init(requestID: "late", body: Array("1".utf8), headers: [("Lambda-Runtime-Invocation-Id", "old")]))
        let next = server.enqueue("2")
        server.setOverride { request in
            request.path.hasSuffix("\(late)/response") ? .init(status: 410, body: #"{"errorType":"InvocationGone"}"#) : nil
        }
        let logs = LogCapture()
        let exit = streamed
            ? try await runStreamingLoop(against: server, logs: logs) { _ in EchoStreamHandler() }
            : try await runLoop(against: server, logs: logs) { _ in EchoHandler() }
        #expect(isFinished(exit))
        #expect(server.outcome(for: next) == .response(Array("2".utf8)))
        let warnings = logs.all.compactMap(jsonObject).filter { ($0["message"] as? String)?.contains("timed out (410)") == true }
        #expect(warnings.count == 1)
        #expect(warnings.first?["level"] as? String == "WARN")
        #expect(warnings.first?["requestId"] as? String == late)
    }

    @Test func errorsCarryAnXRayCauseThatTheRIEWouldAcceptAndThatHoldsNoRequestData() async throws {
        let server = try FakeRuntimeAPI()
        defer { server.stop() }
        let id = server.enqueue("{\"user\":\"secret@example.com\"}")
        let exit = try await runLoop(against: server) { _ in ClosureHandler { _, _ in throw Failure() } }
        #expect(isFinished(exit))
        let post = try #require(server.requests.first { $0.path.hasSuffix("\(id)/error") })
        let cause = try #require(post.header("Lambda-Runtime-Function-XRay-Error-Cause"))
        #expect(XRayCauseRules.problems(cause) == [])
        #expect(!cause.contains("secret"), "no request data in a trace")
        let object = try #require(jsonObject(cause))
        let exception = try #require((object["exceptions"] as? [[String: Any]])?.first)
        #expect(exception["type"] as? String == "Function.Failed")
        #expect(object["working_directory"] as? String == FileManager.default.currentDirectoryPath)
    }

    @Test func initErrorsCarryTheCauseToo() async throws {
        let server = try FakeRuntimeAPI()
        defer { server.stop() }
        let exit = try await runLoop(against: server) { _ -> EchoHandler in throw Failure() }
        guard case .initializationFailed = exit else { Issue.record("\(exit)"); return }
        let post = try #require(server.requests.first { $0.path.hasSuffix("/init/error") })
        #expect(XRayCauseRules.problems(try #require(post.header("Lambda-Runtime-Function-XRay-Error-Cause"))) == [])
    }

    @Test func theTenantIdIsInEveryLogLineOfItsInvocation() async throws {
        let server = try FakeRuntimeAPI()
        defer { server.stop() }
        server.enqueue(.init(requestID: "t-1", body: Array("x".utf8), headers: [("Lambda-Runtime-Aws-Tenant-Id", "tenant-blue")]))
        server.enqueue(.init(requestID: "t-2", body: Array("y".utf8), headers: []))
        let logs = LogCapture()
        let exit = try await runLoop(against: server, logs: logs) { _ in
            ClosureHandler { event, context in
                context.logger.info("handling")
                return event
            }
        }
        #expect(isFinished(exit))
        let lines = logs.all.compactMap(jsonObject).filter { $0["message"] as? String == "handling" }
        #expect(lines.count == 2)
        #expect(lines.first?["tenantId"] as? String == "tenant-blue")
        #expect(lines.last?["tenantId"] == nil, "no tenant, no key; nothing carried over")
    }
}

/// The RIE's rules for an X-Ray error cause (`rapi/model/error_cause.go`): valid JSON of the
/// ErrorCause shape, at least one of working_directory, paths, exceptions or message set, at most
/// 64 KiB; and, for a header, no CR or LF.
enum XRayCauseRules {
    static func problems(_ header: String) -> [String] {
        var found: [String] = []
        if header.utf8.count >= 64 * 1024 { found.append("larger than 64 KiB") }
        if header.utf8.contains(where: { $0 == 0x0A || $0 == 0x0D }) { found.append("CR or LF in a header") }
        guard let object = jsonObject(header) else { return found + ["not a JSON object"] }
        let workingDirectory = object["working_directory"] as? String ?? ""
        let paths = object["paths"] as? [String] ?? []
        let exceptions = object["exceptions"] as? [[String: Any]] ?? []
        let message = object["message"] as? String ?? ""
        if object["paths"] != nil, object["paths"] as? [String] == nil { found.append("paths is not a list of strings") }
        if object["exceptions"] != nil, object["exceptions"] as? [[String: Any]] == nil { found.append("exceptions is not a list of objects") }
        for exception in exceptions {
            for key in ["message", "type"] where exception[key] != nil && exception[key] as? String == nil {
                found.append("exception \(key) is not a string")
            }
        }
        if workingDirectory.isEmpty, paths.isEmpty, exceptions.isEmpty, message.isEmpty { found.append("empty cause") }
        return found
    }
}
