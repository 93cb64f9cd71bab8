#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import FakeRuntimeAPI
import Foundation
@testable import LambdaRuntime
import Testing

/// A handler made of a closure that may serve several invocations at once, for tests.
struct ConcurrentClosureHandler: ConcurrentLambdaHandler {
    let body: @Sendable ([UInt8], LambdaContext) async throws -> [UInt8]

    func handle(_ event: [UInt8], context: LambdaContext) async throws -> [UInt8] {
        try await body(event, context)
    }
}

/// Runs `loops` concurrent loops against `server` until one ends (the caller decides when the
/// server finishes).
func runConcurrentLoops<Handler: ConcurrentLambdaHandler>(
    against server: FakeRuntimeAPI,
    loops: Int,
    endpoint: String? = nil,
    logs: LogCapture = LogCapture(),
    environment: [String: String] = ["AWS_LAMBDA_LOG_FORMAT": "Text"],
    makeHandler: @escaping @Sendable (LambdaInitContext) async throws -> Handler
) async throws -> RuntimeExit {
    try await concurrentRuntime(against: server, loops: loops, endpoint: endpoint, logs: logs, environment: environment)
        .runConcurrently(makeHandler: makeHandler)
}

/// `runConcurrentLoops` for a streaming handler.
func runConcurrentStreamingLoops<Handler: ConcurrentStreamingLambdaHandler>(
    against server: FakeRuntimeAPI, loops: Int,
    makeHandler: @escaping @Sendable (LambdaInitContext) async throws -> Handler
) async throws -> RuntimeExit {
    try await concurrentRuntime(against: server, loops: loops, logs: LogCapture(), environment: [:])
        .runConcurrently(makeHandler: makeHandler)
}

/// A runtime configured from the environment with `AWS_LAMBDA_MAX_CONCURRENCY=loops`.
func concurrentRuntime(
    against server: FakeRuntimeAPI, loops: Int, endpoint: String? = nil, logs: LogCapture, environment: [String: String]
) throws -> LambdaRuntime {
    var configuration = try LambdaRuntime.Configuration(environment: ProcessEnvironment(environment.merging([
        "AWS_LAMBDA_RUNTIME_API": endpoint ?? server.runtimeAPI, "AWS_LAMBDA_MAX_CONCURRENCY": String(loops),
        "AWS_LAMBDA_FUNCTION_NAME": "profile-api", "AWS_LAMBDA_FUNCTION_VERSION": "7",
    ]) { _, new in new }))
    configuration.retryPolicy = RetryPolicy(retries: 0, initialBackoff: .milliseconds(1))
    let logger = configuration.logging.makeLogger(label: "test", sink: logs)
    return LambdaRuntime(configuration: configuration, logger: logger)
}

/// Counts invocations in flight and remembers the most there ever were.
final class InFlightCounter: Sendable {
    private let counts = Locked((now: 0, most: 0))

    func enter() {
        counts.withLock { $0.now += 1; $0.most = max($0.most, $0.now) }
    }

    func leave() {
        counts.withLock { $0.now -= 1 }
    }

    var most: Int { counts.withLock { $0.most } }
}

/// Lambda Managed Instances: `AWS_LAMBDA_MAX_CONCURRENCY` loops in one process (issue 15).
@Suite struct ConcurrentLoopTests {
    @Test func maxConcurrencyIsReadStrictlyAndForcesJSONLogs() throws {
        func configuration(_ value: String?, format: String = "Text") throws -> LambdaRuntime.Configuration {
            var environment = ["AWS_LAMBDA_RUNTIME_API": "127.0.0.1:9001", "AWS_LAMBDA_LOG_FORMAT": format]
            environment["AWS_LAMBDA_MAX_CONCURRENCY"] = value
            return try LambdaRuntime.Configuration(environment: ProcessEnvironment(environment))
        }
        #expect(try configuration(nil).maxConcurrency == 1)
        #expect(try configuration(nil).logging.format == .text)
        #expect(try configuration("").maxConcurrency == 1)
        #expect(try configuration("1").logging.format == .text, "1 is the classic loop, with the format asked for")
        #expect(try configuration("8").maxConcurrency == 8)
        #expect(try configuration("8").logging.format == .json, "overlapping text lines cannot be told apart")
        #expect(try configuration(" 4 ").maxConcurrency == 4)
        for bad in ["0", "-3", "many", "2.5", "1025"] {
            #expect(throws: RuntimeConfigurationError.invalidMaxConcurrency(bad)) { try configuration(bad) }
        }
    }

    @Test(arguments: [2, 4, 8])
    func nLoopsWaitOnNConnectionsBeforeAnyIsAnswered(loops: Int) async throws {
        let server = try FakeRuntimeAPI()
        defer { server.stop() }
        let logs = LogCapture()
        let run = Task { try await runConcurrentLoops(against: server, loops: loops, logs: logs) { _ in EchoHandler() } }
        // No event is queued: every /next is held open.
        let allWaiting = await server.settle(timeout: .seconds(20)) { $0.waitingForEvent == loops }
        #expect(allWaiting)
        #expect(server.snapshot.connections == loops, "one connection per loop")
        #expect(server.snapshot.nextRequests == loops)

        let ids = (0..<loops * 3).map { server.enqueue(.init(requestID: "req-\($0)", body: Array("\($0)".utf8))) }
        server.finish()
        let exit = try await run.value
        #expect(isFinished(exit))
        #expect(exit.exitCode == 2)
        #expect(await server.settle(timeout: .seconds(20)) { $0.outcomeCount == ids.count })
        for (index, id) in ids.enumerated() {
            #expect(server.outcome(for: id) == .response(Array("\(index)".utf8)))
        }
        let announcement = try #require(logs.all.first { $0.contains("Lambda Managed Instances") })
        #expect(jsonObject(announcement) != nil, "JSON whatever AWS_LAMBDA_LOG_FORMAT says")
        #expect(announcement.contains("it says Text"))
    }

    @Test func tenThousandInvocationsOverEightLoopsEachPostedOnceToItsOwnID() async throws {
        let server = try FakeRuntimeAPI(recordBodies: false)
        defer { server.stop() }
        let count = 10_000
        let ids = (0..<count).map { server.enqueue(.init(requestID: "req-\($0)", body: Array("req-\($0)".utf8), headers: [])) }
        server.finish()
        let loopsSeen = Locked<[String: Int]>([:])
        let mismatched = Locked(0)
        let exit = try await runConcurrentLoops(against: server, loops: 8) { _ in
            ConcurrentClosureHandler { event, context in
                if String(decoding: event, as: UTF8.self) != context.requestID { mismatched.withLock { $0 += 1 } }
                let loop = context.logger[metadataKey: "loop"]?.description ?? "?"
                loopsSeen.withLock { $0[loop, default: 0] += 1 }
                return Array(context.requestID.utf8)
            }
        }
        #expect(isFinished(exit))
        #expect(await server.settle(timeout: .seconds(60)) { $0.outcomeCount == count })
        #expect(mismatched.withLock { $0 } == 0, "every handler saw its own event")
        var lost = 0
        for id in ids where server.outcome(for: id) != .response(Array(id.utf8)) { lost += 1 }
        #expect(lost == 0, "every response was posted to its own request id")
        let posts = server.requests.filter { $0.method == "POST" }
        #expect(posts.count == count, "no result was posted twice (a second post would be a 403)")
        #expect(Set(posts.map(\.path)).count == count)
        let perLoop = loopsSeen.withLock { $0 }
        #expect(perLoop.count == 8, "every loop served: \(perLoop)")
        #expect(perLoop.values.reduce(0, +) == count)
    }

    @Test func blockedAndFailingInvocationsDoNotDisturbTheOtherLoops() async throws {
        let server = try FakeRuntimeAPI()
        defer { server.stop() }
        // Three of four loops get stuck in a blocking call (a crash-free timeout: the deadline has
        // passed, the handler has not returned); the fourth serves everything else, errors included.
        let released = Locked(false)
        let stuck = (0..<3).map { server.enqueue(.init(requestID: "stuck-\($0)", body: Array("stuck".utf8))) }
        let others = (0..<40).map { server.enqueue(.init(requestID: "req-\($0)", body: Array(($0 % 4 == 0 ? "fail" : "ok").utf8))) }
        let run = Task {
            try await runConcurrentLoops(against: server, loops: 4) { _ in
                ConcurrentClosureHandler { event, _ in
                    switch String(decoding: event, as: UTF8.self) {
                    case "stuck":
                        while !released.withLock({ $0 }) { usleep(2_000) }  // blocks this loop's thread
                        return Array("late".utf8)
                    case "fail":
                        throw LambdaErrorReport(errorType: "Function.Rejected", errorMessage: "no")
                    default:
                        return event
                    }
                }
            }
        }
        let othersServed = await server.settle(timeout: .seconds(30)) { $0.outcomeCount == others.count }
        #expect(othersServed, "one free loop served the rest while three were blocked")
        for (index, id) in others.enumerated() {
            if index % 4 == 0 {
                guard case .error(let type, _) = server.outcome(for: id) else {
                    Issue.record("\(id) has no error")
                    continue
                }
                #expect(type == "Function.Rejected")
            } else {
                #expect(server.outcome(for: id) == .response(Array("ok".utf8)))
            }
        }
        for id in stuck { #expect(server.outcome(for: id) == nil) }
        released.withLock { $0 = true }
        server.finish()
        #expect(isFinished(try await run.value))
        #expect(await server.settle(timeout: .seconds(20)) { $0.outcomeCount == others.count + stuck.count })
        for id in stuck { #expect(server.outcome(for: id) == .response(Array("late".utf8))) }
    }

    @Test func serverErrorOnOneLoopEndsTheRuntimeWithExitStatus2() async throws {
        let server = try FakeRuntimeAPI()
        defer { server.stop() }
        let broken = Locked(false)
        server.setOverride { request in
            request.path.hasSuffix("/next") && broken.withLock({ $0 }) ? .init(status: 500, body: #"{"errorType":"Sandbox.Broken"}"#) : nil
        }
        let run = Task { try await runConcurrentLoops(against: server, loops: 4) { _ in EchoHandler() } }
        #expect(await server.settle(timeout: .seconds(20)) { $0.waitingForEvent == 4 })
        broken.withLock { $0 = true }
        server.enqueue("one")  // the loop that takes it gets a 500 on its next /next
        let exit = try await run.value
        guard case .sandboxFailure(let detail) = exit else {
            Issue.record("expected a sandbox failure, got \(exit)")
            return
        }
        #expect(detail.contains("Sandbox.Broken"))
        #expect(exit.exitCode == 2)
        server.stop()
    }

    @Test func unreachableRuntimeAPIEndsTheRuntimeWithExitStatus3() async throws {
        let server = try FakeRuntimeAPI()
        let endpoint = server.runtimeAPI
        server.stop()
        usleep(50_000)
        let exit = try await runConcurrentLoops(against: server, loops: 3, endpoint: endpoint) { _ in EchoHandler() }
        guard case .runtimeAPIUnreachable = exit else {
            Issue.record("expected unreachable, got \(exit)")
            return
        }
        #expect(exit.exitCode == 3)
    }

    @Test func initFailureIsReportedOnceAndNoLoopStarts() async throws {
        struct Broken: Error {}
        let server = try FakeRuntimeAPI()
        defer { server.stop() }
        server.finish()
        let exit = try await runConcurrentLoops(against: server, loops: 8) { _ -> EchoHandler in throw Broken() }
        #expect(exit == .initializationFailed(errorType: "Broken"))
        #expect(server.snapshot.initErrors.count == 1)
        #expect(server.snapshot.nextRequests == 0)
    }

    @Test func invocationsOverlapWhenTheHandlerWaits() async throws {
        let server = try FakeRuntimeAPI()
        defer { server.stop() }
        for index in 0..<64 { server.enqueue(.init(requestID: "req-\(index)", body: [])) }
        server.finish()
        let counter = InFlightCounter()
        let exit = try await runConcurrentLoops(against: server, loops: 8) { _ in
            ConcurrentClosureHandler { event, _ in
                counter.enter()
                defer { counter.leave() }
                usleep(20_000)  // a blocking store call
                return event
            }
        }
        #expect(isFinished(exit))
        #expect(await server.settle(timeout: .seconds(20)) { $0.outcomeCount == 64 })
        #expect(counter.most == 8, "8 blocking invocations were in flight at once")
    }
}

extension RuntimeLoopTests {
    /// Nested in `RuntimeLoopTests` to run serialized with the single loop's tests, which set
    /// `_X_AMZN_TRACE_ID` in this process's environment.
    @Suite struct ConcurrentTraceTests {
        @Test func traceIDTravelsInTheContextAndLogLinesNeverTheEnvironment() async throws {
            unsetenv(TraceEnvironment.variable)
            let environmentBefore = environ
            let server = try FakeRuntimeAPI()
            defer { server.stop() }
            let count = 200
            for index in 0..<count {
                server.enqueue(.init(requestID: "req-\(index)", body: [], headers: [
                    ("Lambda-Runtime-Trace-Id", "Root=1-69295680-\(String(repeating: "0", count: 20))\(1000 + index);Sampled=1"),
                ]))
            }
            server.finish()
            let logs = LogCapture()
            let sawVariable = Locked(false)
            let mismatched = Locked(0)
            let exit = try await runConcurrentLoops(against: server, loops: 4, logs: logs) { _ in
                ConcurrentClosureHandler { event, context in
                    if getenv(TraceEnvironment.variable) != nil { sawVariable.withLock { $0 = true } }
                    let index = context.requestID.dropFirst(4)
                    if context.traceID?.contains("\(1000 + (Int(index) ?? -1));") != true { mismatched.withLock { $0 += 1 } }
                    context.logger.info("handled")
                    return event
                }
            }
            #expect(isFinished(exit))
            #expect(await server.settle(timeout: .seconds(20)) { $0.outcomeCount == count })
            #expect(!sawVariable.withLock { $0 }, "_X_AMZN_TRACE_ID is never set")
            #expect(getenv(TraceEnvironment.variable) == nil)
            #expect(environ == environmentBefore, "environ was never reallocated")
            #expect(mismatched.withLock { $0 } == 0, "each context carries its own trace id")
            let lines = logs.all.filter { $0.contains("\"handled\"") }
            #expect(lines.count == count)
            for line in lines {
                let object = try #require(jsonObject(line), "JSON lines: \(line)")
                let requestID = try #require(object["requestId"] as? String)
                let traceID = try #require(object["traceId"] as? String)
                #expect(traceID.contains("\(1000 + (Int(requestID.dropFirst(4)) ?? -1));"), "\(line)")
            }
        }
    }
}
