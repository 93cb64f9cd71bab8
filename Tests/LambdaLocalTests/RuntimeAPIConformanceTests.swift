import CurlHTTP
import LambdaLocal
import LambdaRuntimeProtocol
import RuntimeAPIConformanceRunner
import Testing

/// The protocol's conformance table run against lambda-local's Runtime API (the one a child `bootstrap`
/// talks to) by the runner that runs it against `FakeRuntimeAPI`, so the two servers cannot drift.
@Suite struct LocalRuntimeAPIConformanceTests {
    @Test(arguments: RuntimeAPIConformance.cases.map(\.name))
    func lambdaLocalConforms(name: String) async throws {
        let conformanceCase = try #require(RuntimeAPIConformance.cases.first { $0.name == name })
        // A short timeout ends every invocation the case leaves open, so the Invoke answer names its request id.
        try await RemoteRuntime.with(timeout: .seconds(3)) { local, runtime in
            // The queued event: an Invoke the test's runtime (the runner) serves.
            let invoke = ThreadCall { try local.invoke("{}") }
            let address = try await runtime.address()
            let report = try await onThread {
                try RuntimeAPIConformanceRunner(server: .lambdaLocal, runtimeAPI: address).run(conformanceCase, requestID: nil)
            }
            #expect(report.mismatches.isEmpty, "\(report.mismatches.joined(separator: "\n"))")
            // lambda-local makes the request id up, so `{id}` was learned from `/next`: the Invoke answer
            // must name the same one.
            if let requestID = report.requestID {
                let answer = try await invoke.value
                #expect(answer.headers["X-Amzn-RequestId"] == requestID, "\(answer.status) \(answer.bodyText.prefix(200))")
            }
            // Otherwise no `/next` came, and the Invoke ends when lambda-local stops.
        }
    }
}
