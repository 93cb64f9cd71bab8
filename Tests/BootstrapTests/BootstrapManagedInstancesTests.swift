import FakeRuntimeAPI
import Foundation
import Testing

/// The real `bootstrap` with `AWS_LAMBDA_MAX_CONCURRENCY` set, as Lambda Managed Instances start it.
@Suite struct BootstrapManagedInstancesTests {
    @Test func fourLoopsHoldFourConnectionsAndLogJSONWhateverTheFormatSays() async throws {
        let server = try FakeRuntimeAPI()
        defer { server.stop() }
        let bootstrap = try BootstrapProcessTests.RunningBootstrap(runtimeAPI: server.runtimeAPI, environment: [
            "_HANDLER": "echo", "AWS_LAMBDA_MAX_CONCURRENCY": "4", "AWS_LAMBDA_LOG_FORMAT": "Text",
        ])
        #expect(await server.settle(timeout: .seconds(20)) { $0.waitingForEvent == 4 })
        #expect(server.snapshot.connections == 4)
        let ids = (0..<40).map { server.enqueue(.init(requestID: "req-\($0)", body: Array("event \($0)".utf8))) }
        #expect(await server.settle(timeout: .seconds(20)) { $0.outcomeCount == ids.count })
        for (index, id) in ids.enumerated() {
            #expect(server.outcome(for: id) == .response(Array("event \(index)".utf8)))
        }
        server.finish()
        let (status, stderr) = bootstrap.finish()
        #expect(status == 2, "a 500 on /next ends the process with the documented status")
        let lines = stderr.split(separator: "\n").map(String.init)
        #expect(!lines.isEmpty)
        for line in lines {
            #expect((try? JSONSerialization.jsonObject(with: Data(line.utf8))) is [String: Any], "JSON: \(line)")
        }
        #expect(lines.contains { $0.contains("Lambda Managed Instances") && $0.contains("it says Text") })
    }

    @Test(arguments: ["0", "lots", "100000"])
    func anUnusableMaxConcurrencyIsRefusedAtStart(value: String) throws {
        let server = try FakeRuntimeAPI()
        defer { server.stop() }
        let bootstrap = try BootstrapProcessTests.RunningBootstrap(runtimeAPI: server.runtimeAPI, environment: [
            "_HANDLER": "echo", "AWS_LAMBDA_MAX_CONCURRENCY": value,
        ])
        let (status, stderr) = bootstrap.finish()
        #expect(status == 5)  // a configuration error, not an unreachable Runtime API (3)
        #expect(stderr.contains("AWS_LAMBDA_MAX_CONCURRENCY=\(value) is not usable"))
        #expect(server.snapshot.nextRequests == 0)
    }
}
