import CurlHTTP
import FeatureFlags
import Foundation
@testable import LambdaLocal
import Testing

/// `lambda-local --max-concurrency N`: Lambda Managed Instances mode, one child serving N invocations at once.
@Suite struct ManagedInstancesTests {
    static func stats(_ local: LocalFixture) throws -> (instances: [[String: Any]], latest: [String: Any]) {
        let stats = try local.stats()
        return ((stats["instances"] as? [[String: Any]]) ?? [], ((stats["versions"] as? [String: Any])?["$LATEST"] as? [String: Any]) ?? [:])
    }

    @Test func theChildGetsAWSLambdaMaxConcurrencyOnlyInThatMode() {
        var configuration = LocalConfiguration(bootstrapPath: "/var/task/bootstrap")
        #expect(ChildEnvironment.variables(configuration: configuration, version: configuration.versions[0], runtimePort: 9001)["AWS_LAMBDA_MAX_CONCURRENCY"] == nil)
        configuration.maxConcurrency = 8
        #expect(ChildEnvironment.variables(configuration: configuration, version: configuration.versions[0], runtimePort: 9001)["AWS_LAMBDA_MAX_CONCURRENCY"] == "8")
    }

    @Test func theRealBootstrapHoldsNNextRequestsOpenAndServesThemAll() async throws {
        var configuration = LocalFixture.echo()
        configuration.maxConcurrency = 4
        try await LocalFixture.with(configuration) { local in
            #expect(try local.invoke(#"{"first":true}"#).bodyText == #"{"first":true}"#)
            for _ in 0..<500 where (try Self.stats(local).instances.first?["waitingNext"] as? Int) != 4 {
                try await Task.sleep(for: .milliseconds(10))
            }
            #expect(try Self.stats(local).instances.first?["waitingNext"] as? Int == 4, "the bootstrap runs AWS_LAMBDA_MAX_CONCURRENCY=4 loops")
            let calls = (0..<16).map { n in ThreadCall { try local.invoke(#"{"n":\#(n)}"#) } }
            for (n, call) in calls.enumerated() {
                #expect(try await call.value.bodyText == #"{"n":\#(n)}"#)
            }
            #expect(try Self.stats(local).instances.count == 1)
            #expect(local.logs.all.filter { $0.hasPrefix("REPORT RequestId: ") }.count == 17)
        }
    }

    @Test func nNextRequestsAreHeldOpenAndNInvocationsRunAtOnce() async throws {
        try await RemoteRuntime.with(maxConcurrency: 4) { local, runtime in
            let warm = ThreadCall { try local.invoke(#"{"warm":true}"#) }
            let loops = try await (0..<4).asyncMap { _ in try await runtime.connect() }
            let first = try await loops[0].next()
            #expect(try await loops[0].post("response", requestID: first.requestID, body: Array("warm".utf8)) == 202)
            #expect(try await warm.value.bodyText == "warm")
            for loop in loops { try loop.send("GET", "/2018-06-01/runtime/invocation/next") }
            for _ in 0..<500 where (try Self.stats(local).instances.first?["waitingNext"] as? Int) != 4 {
                try await Task.sleep(for: .milliseconds(10))
            }
            #expect(try Self.stats(local).instances.first?["waitingNext"] as? Int == 4, "four /next requests held open")
            // A fifth loop is one too many.
            let extra = try await runtime.connect()
            #expect(try await extra.next().status == 403)

            let calls = (0..<4).map { n in ThreadCall { try local.invoke(#"{"n":\#(n)}"#) } }
            let events = try await loops.asyncMap { loop in try await onThread { try loop.readResponse() } }
            #expect(Set(events.map(\.text)) == Set((0..<4).map { #"{"n":\#($0)}"# }), "all four dispatched before any answered")
            let (instances, latest) = try Self.stats(local)
            #expect(instances.first?["inFlight"] as? Int == 4)
            #expect(latest["inFlight"] as? Int == 4)
            #expect(instances.first?["maxConcurrency"] as? Int == 4)
            for (loop, event) in zip(loops, events).reversed() {
                #expect(try await loop.post("response", requestID: event.requestID, body: Array("done:".utf8) + event.body,
                                      headers: [("Lambda-Runtime-Invocation-Id", try #require(event.invocationID))]) == 202)
            }
            for (n, call) in calls.enumerated() {
                #expect(try await call.value.bodyText == #"done:{"n":\#(n)}"#, "each result went to its own request id")
            }
            #expect(local.logs.all.filter { $0.hasPrefix("REPORT RequestId: ") }.count == 5, "one REPORT line per invocation")
            #expect(try Self.stats(local).latest["inFlight"] as? Int == 0)
        }
    }

    @Test func aTimeoutFailsThatInvocationOnlyAndTheOthersCarryOn() async throws {
        try await RemoteRuntime.with(timeout: .seconds(3), maxConcurrency: 2) { local, runtime in
            let slow = ThreadCall { try local.invoke(#"{"slow":true}"#) }
            let loopA = try await runtime.connect()
            let slowEvent = try await loopA.next()
            let loopB = try await runtime.connect()
            let fast = ThreadCall { try local.invoke(#"{"fast":true}"#) }
            #expect(try await loopB.answerNext(with: Array("fast".utf8)).status == 202)
            #expect(try await fast.value.bodyText == "fast")
            let timedOut = try await slow.value
            #expect(json(timedOut)?["errorType"] as? String == "Sandbox.Timedout")
            // The environment lives on: the other loop keeps serving, the slow one's late result is refused.
            let after = ThreadCall { try local.invoke(#"{"after":true}"#) }
            #expect(try await loopB.answerNext(with: Array("after".utf8)).status == 202)
            #expect(try await after.value.bodyText == "after")
            #expect(try await loopA.post("response", requestID: slowEvent.requestID, body: [],
                                   headers: [("Lambda-Runtime-Invocation-Id", try #require(slowEvent.invocationID))]) == 410)
            let reports = local.logs.all.filter { $0.hasPrefix("REPORT RequestId: ") }
            #expect(reports.count == 3)
            #expect(reports.filter { $0.contains("Status: timeout") }.count == 1)
            #expect(reports.first { $0.contains(slowEvent.requestID) }?.contains("Status: timeout") == true)
            #expect(try Self.stats(local).instances.count == 1, "no restart")
        }
    }
}

extension Sequence {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var results: [T] = []
        for element in self { results.append(try await transform(element)) }
        return results
    }
}
