import CurlHTTP
import Foundation
import LambdaLocal
import Testing

/// Where the Python with awslambdaric is.
enum RICEnvironment {
    static let python: String? = ProcessInfo.processInfo.environment["RIC_PYTHON"].flatMap { $0.isEmpty ? nil : $0 }
}

/// AWS's own Python Runtime Interface Client (awslambdaric) through lambda-local: code nobody here
/// wrote must work unchanged. scripts/test.sh creates the virtual environment and sets RIC_PYTHON.
@Suite(.enabled(if: RICEnvironment.python != nil, "set RIC_PYTHON to a Python with awslambdaric (scripts/test.sh does)"))
struct RICConformanceTests {
    static var python: String? { RICEnvironment.python }

    static let bootstrap = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/ric-bootstrap.sh").path

    static func configuration(handler: String, timeout: Duration = .seconds(10)) throws -> LocalConfiguration {
        let python = try #require(python)
        #expect(FileManager.default.isExecutableFile(atPath: python), "RIC_PYTHON=\(python) is not executable")
        var configuration = LocalConfiguration(bootstrapPath: bootstrap)
        configuration.functionName = "ric-conformance"
        configuration.handler = handler
        configuration.timeout = timeout
        configuration.environment = ["RIC_PYTHON": python]
        return configuration
    }

    @Test func echoRoundTripsAndTheContextIsComplete() async throws {
        try await LocalFixture.with(Self.configuration(handler: "ric_handlers.echo")) { local in
            let payload = #"{"userId":"user-123","nested":{"list":[1,2,3]},"unicode":"Grüße 🚀"}"#
            let response = try local.invoke(payload, function: "ric-conformance")
            #expect(response.status == 200)
            #expect(response.headers["X-Amz-Function-Error"] == nil)
            let echoed = try #require(json(response))
            #expect(echoed["userId"] as? String == "user-123")
            #expect(echoed["unicode"] as? String == "Grüße 🚀")
        }
        try await LocalFixture.with(Self.configuration(handler: "ric_handlers.context_info", timeout: .seconds(9))) { local in
            let trace = "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1"
            let response = try local.invoke(
                "{}", function: "ric-conformance",
                headers: ["X-Amzn-Trace-Id": trace, "X-Amz-Client-Context": Data(#"{"custom":{"k":"v"}}"#.utf8).base64EncodedString(),
                          "X-Amz-Tenant-Id": "tenant-ric"])
            let context = try #require(json(response))
            #expect(context["requestId"] as? String == response.headers["X-Amzn-RequestId"])
            #expect(context["invokedFunctionArn"] as? String == "arn:aws:lambda:us-east-1:123456789012:function:ric-conformance")
            #expect(context["functionName"] as? String == "ric-conformance")
            #expect(context["functionVersion"] as? String == "$LATEST")
            #expect(context["memoryLimitInMB"] as? String == "128")
            #expect(context["logGroupName"] as? String == "/aws/lambda/ric-conformance")
            #expect(context["traceEnv"] as? String == trace)
            #expect(context["clientContext"] as? [String: String] == ["k": "v"])
            #expect(context["tenantId"] as? String == "tenant-ric", "X-Amz-Tenant-Id reaches awslambdaric's context")
            let remaining = try #require(context["remainingMs"] as? Int)
            #expect(remaining > 7_000 && remaining <= 9_000, "the deadline is real: \(remaining) ms left of 9 s")
        }
    }

    @Test func handlerExceptionIsAnUnhandledFunctionError() async throws {
        try await LocalFixture.with(Self.configuration(handler: "ric_handlers.fail")) { local in
            let response = try local.invoke("{}", function: "ric-conformance")
            #expect(response.status == 200)
            #expect(response.headers["X-Amz-Function-Error"] == "Unhandled")
            let error = try #require(json(response))
            #expect(error["errorType"] as? String == "ValueError")
            #expect(error["errorMessage"] as? String == "asked to fail")
            #expect((error["stackTrace"] as? [String])?.isEmpty == false)
            // The runtime keeps serving after a handler error.
            #expect(try local.invoke("{}", function: "ric-conformance").headers["X-Amz-Function-Error"] == "Unhandled")
        }
    }

    @Test func initFailureReachesTheCallerThroughInitError() async throws {
        try await LocalFixture.with(Self.configuration(handler: "ric_init_fail.handler")) { local in
            let response = try local.invoke("{}", function: "ric-conformance")
            #expect(response.status == 200)
            #expect(response.headers["X-Amz-Function-Error"] == "Unhandled")
            let error = try #require(json(response))
            #expect(error["errorType"] as? String == "RuntimeError")
            #expect(error["errorMessage"] as? String == "cannot reach the configuration store during init")
            #expect(local.logs.all.contains { $0.hasPrefix("INIT_REPORT") && $0.contains("Error Type: RuntimeError") })
        }
    }

    @Test func timeoutKillsTheRuntimeAndTheNextInvokeStartsAFreshOne() async throws {
        try await LocalFixture.with(Self.configuration(handler: "ric_handlers.slow", timeout: .seconds(1))) { local in
            let started = ContinuousClock.now
            let response = try local.invoke(#"{"sleep":10}"#, function: "ric-conformance")
            #expect(ContinuousClock.now - started < .seconds(5))
            #expect(response.headers["X-Amz-Function-Error"] == "Unhandled")
            #expect(json(response)?["errorType"] as? String == "Sandbox.Timedout")
            #expect(json(response)?["errorMessage"] as? String == "Task timed out after 1.00 seconds")
            let quick = try local.invoke(#"{"sleep":0}"#, function: "ric-conformance")
            #expect(quick.bodyText == #"{"slept": true}"#)
        }
    }
}
