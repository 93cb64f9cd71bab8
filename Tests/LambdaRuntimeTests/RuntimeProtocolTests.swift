import CurlHTTP
import FakeRuntimeAPI
import LambdaRuntime
import RuntimeAPIConformanceRunner
import Testing

/// The protocol's one home (`LambdaRuntimeProtocol`, re-exported by `LambdaRuntime`): `/next`
/// metadata parsed once and matched exactly, routes and status rules.
@Suite struct RuntimeProtocolTests {
    @Test func headerNamesMatchExactlyIgnoringASCIICaseOnly() throws {
        let metadata = try InvocationMetadata(headers: [
            ("LAMBDA-RUNTIME-AWS-REQUEST-ID", "r1"),
            ("lambda-runtime-trace-id", "Root=1-2-3"),
            ("X-Lambda-Runtime-Aws-Tenant-Id", "not-a-tenant"),       // a longer name that contains one
            ("Lambda-Runtime-Aws-Tenant-Id ", "not-a-tenant"),        // a trailing blank is another name
            ("Lambda-Runtime-Aws-Tenant-İd", "not-a-tenant"),         // no Unicode case folding
            ("Lambda-Runtime-Invocation-Id", ""),                     // empty is no value…
            ("Lambda-Runtime-Invocation-Id", "attempt-2"),            // …so the next one counts
            ("Lambda-Runtime-Trace-Id", "Root=second"),               // otherwise the first counts
        ])
        #expect(metadata == InvocationMetadata(requestID: "r1", traceID: "Root=1-2-3", invocationID: "attempt-2"))
    }

    @Test func shortAndUnusualNamesAreReadLikeAnyOther() throws {
        // The old parser skipped names of 15 bytes or less and names not starting with L without a
        // word; now every field is looked at and only an exact name matches.
        var parser = InvocationMetadata.Parser()
        for (name, value) in [("A", "1"), ("X-Amzn-Trace-Id", "Root=elsewhere"), ("lambda-runtime-deadline-ms", " 1700000000000 "),
                              ("Lambda-Runtime-Aws-Request-Id", "r2")] {
            parser.add(name: name, value: value)
        }
        let metadata = try parser.finish()
        #expect(metadata.requestID == "r2")
        #expect(metadata.traceID == nil, "X-Amzn-Trace-Id is not Lambda-Runtime-Trace-Id")
        #expect(metadata.deadline == LambdaDeadline(epochMilliseconds: 1_700_000_000_000))
    }

    @Test func theContextWrapsTheInvocationsMetadata() throws {
        let invocation = try Invocation(
            headers: ["Lambda-Runtime-Aws-Request-Id": "r3", "Lambda-Runtime-Aws-Tenant-Id": "t", "Lambda-Runtime-Invocation-Id": "i"],
            event: [])
        let context = LambdaContext(invocation: invocation, function: FunctionMetadata(name: "f"), logger: .init(label: "t"))
        #expect(context.metadata == invocation.metadata)
        #expect(context.requestID == "r3" && context.tenantID == "t" && context.invocationID == "i")
    }

    @Test(arguments: [
        ("GET", "/2018-06-01/runtime/invocation/next", RuntimeAPIRoute.next),
        ("POST", "/2018-06-01/runtime/invocation/abc-1/response", .response(requestID: "abc-1")),
        ("POST", "/2018-06-01/runtime/invocation/abc-1/error", .error(requestID: "abc-1")),
        ("POST", "/2018-06-01/runtime/init/error", .initError),
    ])
    func routesParseAndPrintBothWays(method: String, path: String, route: RuntimeAPIRoute) {
        #expect(RuntimeAPIRoute(method: method, path: path) == route)
        #expect(route.method == method)
        #expect(route.path == path)
    }

    @Test(arguments: [
        ("POST", "/2018-06-01/runtime/invocation/next"),
        ("GET", "/2018-06-01/runtime/invocation/abc/response"),
        ("get", "/2018-06-01/runtime/invocation/next"),
        ("GET", "/2018-06-02/runtime/invocation/next"),
        ("POST", "/2018-06-01/runtime/invocation/a/b/response"),
        ("POST", "/2018-06-01/runtime/init/errors"),
    ])
    func anythingElseIsNoRoute(method: String, path: String) {
        #expect(RuntimeAPIRoute(method: method, path: path) == nil)
    }

    @Test func theEndpointBuildsItsURLsFromTheRoutes() throws {
        let endpoint = try RuntimeAPIEndpoint("127.0.0.1:9001")
        #expect(endpoint.nextInvocationURL == "http://127.0.0.1:9001" + RuntimeAPIRoute.next.path)
        #expect(endpoint.responseURL(for: "a b") == "http://127.0.0.1:9001/2018-06-01/runtime/invocation/a%20b/response")
        #expect(endpoint.initErrorURL == "http://127.0.0.1:9001" + RuntimeAPIRoute.initError.path)
    }

    /// The result URLs are written in one go (no route value, no interpolation): the same as the
    /// route spells them, whatever the id and the emulator's prefix.
    @Test(arguments: ["127.0.0.1:9001", "http://localhost:9000/.rt/"])
    func resultURLsAreTheRoutesPaths(api: String) throws {
        let endpoint = try RuntimeAPIEndpoint(api)
        for id in ["", "r1", "8476a536-e9f4-11e8-9739-2dfe598c3fcd", "a b", "../init/error?x#y", "~._-", "é/ü", "%20",
                   String(repeating: "x", count: 300)] {
            let encoded = id.percentEncodedUnreserved
            #expect(endpoint.responseURL(for: id) == endpoint.baseURL + RuntimeAPIRoute.response(requestID: encoded).relativePath)
            #expect(endpoint.errorURL(for: id) == endpoint.baseURL + RuntimeAPIRoute.error(requestID: encoded).relativePath)
        }
        #expect("é/ü".percentEncodedUnreserved == "%C3%A9%2F%C3%BC")
        #expect("plain-id_1.2~3".percentEncodedUnreserved == "plain-id_1.2~3")
    }

    /// `Lambda-Runtime-Deadline-Ms` is read from its bytes: the same answers as `Int64(_:)` over the
    /// trimmed text, then only a positive number.
    @Test func deadlinesParseAsInt64Did() {
        func reference(_ value: String) -> Int64? {
            var bytes = Substring(value).utf8[...]
            while let first = bytes.first, first == 0x20 || first == 0x09 { bytes = bytes.dropFirst() }
            while let last = bytes.last, last == 0x20 || last == 0x09 { bytes = bytes.dropLast() }
            guard let number = Int64(Substring(bytes)), number > 0 else { return nil }
            return number
        }
        let values = ["", " ", "\t", "+", "-", "0", "-0", "+0", "1", "+1", "-1", " 1700000000000 ", "\t17\t", "1 2", "1\n",
                      "9223372036854775807", "9223372036854775808", "-9223372036854775808", "99999999999999999999",
                      "00012", "1e3", "0x10", "١٢", "12a", "+-1", "++1", " +5", "+ 5", "5 ", "1.5", "１２"]
        for value in values {
            #expect(InvocationMetadata.Parser.epochMilliseconds(value) == reference(value), "\(value.debugDescription)")
        }
        #expect(InvocationMetadata.Parser.epochMilliseconds(" 1700000000000 ") == 1_700_000_000_000)
        #expect(InvocationMetadata.Parser.epochMilliseconds("9223372036854775807") == Int64.max)
        #expect(InvocationMetadata.Parser.epochMilliseconds("9223372036854775808") == nil)
    }

    @Test func postStatusesFollowOneRule() {
        #expect(RuntimeAPIStatus.answer(toPost: 202) == .accepted)
        #expect(RuntimeAPIStatus.answer(toPost: 200) == .accepted)
        #expect(RuntimeAPIStatus.answer(toPost: 410) == .gone)
        #expect(RuntimeAPIStatus.answer(toPost: 413) == .payloadTooLarge)
        #expect(RuntimeAPIStatus.answer(toPost: 500) == .sandboxFailure)
        #expect(RuntimeAPIStatus.answer(toPost: 503) == .sandboxFailure)
        #expect(RuntimeAPIStatus.answer(toPost: 400) == .rejected)
        #expect(RuntimeAPIStatus.answer(toPost: 403) == .rejected)
    }

    /// The fake server answers by the same rules the runtime reads: both use the one home.
    @Test func theFakeServerAnswersWithTheProtocolsStatuses() throws {
        let server = try FakeRuntimeAPI()
        defer { server.stop() }
        let session = try CurlSession()
        let base = "http://\(server.runtimeAPI)"
        let id = server.enqueue("{}")
        #expect(try session.perform(HTTPRequest(url: base + RuntimeAPIRoute.next.path)).status == RuntimeAPIStatus.event)
        let unknown = try session.perform(HTTPRequest(method: .post, url: base + RuntimeAPIRoute.response(requestID: "nope").path, body: [1]))
        #expect(unknown.status == RuntimeAPIStatus.badRequest)
        #expect(unknown.bodyText.contains(RuntimeAPIErrorType.invalidRequestID))
        let first = try session.perform(HTTPRequest(method: .post, url: base + RuntimeAPIRoute.response(requestID: id).path, body: [1]))
        #expect(RuntimeAPIStatus.answer(toPost: first.status) == .accepted)
        let second = try session.perform(HTTPRequest(method: .post, url: base + RuntimeAPIRoute.error(requestID: id).path, body: [1]))
        #expect(second.status == RuntimeAPIStatus.forbidden)
        #expect(second.bodyText.contains(RuntimeAPIErrorType.invalidStateTransition))
    }
}

/// The protocol's conformance table run against `FakeRuntimeAPI` over libcurl, by the runner the local
/// mock's tests run it against `lambda-local` with (`LambdaLocalTests/RuntimeAPIConformanceTests.swift`).
@Suite struct RuntimeAPIConformanceTests {
    @Test(arguments: RuntimeAPIConformance.cases.map(\.name))
    func theFakeRuntimeAPIConforms(name: String) throws {
        let conformanceCase = try #require(RuntimeAPIConformance.cases.first { $0.name == name })
        let server = try FakeRuntimeAPI()
        defer { server.stop() }
        let id = server.enqueue("{}")
        let report = try RuntimeAPIConformanceRunner(server: .fakeRuntimeAPI, runtimeAPI: server.runtimeAPI)
            .run(conformanceCase, requestID: id)
        #expect(report.mismatches.isEmpty, "\(report.mismatches.joined(separator: "\n"))")
    }

    /// The runner is not a test that cannot fail: a server answering otherwise is reported.
    @Test func theRunnerReportsAServerThatAnswersOtherwise() throws {
        let server = try FakeRuntimeAPI()
        defer { server.stop() }
        let id = server.enqueue("{}")
        let wrong = RuntimeAPIConformance.Case(name: "expects what the server does not do", steps: [
            .init("GET", RuntimeAPIRoute.next.path, status: RuntimeAPIStatus.event, responseHeaders: [(RuntimeHeader.requestID, "other")]),
            .init("POST", RuntimeAPIRoute.response(requestID: "{id}").path, body: [1], status: RuntimeAPIStatus.forbidden,
                  errorType: RuntimeAPIErrorType.invalidStateTransition),
        ])
        let report = try RuntimeAPIConformanceRunner(server: .fakeRuntimeAPI, runtimeAPI: server.runtimeAPI).run(wrong, requestID: id)
        #expect(report.mismatches.count == 3, "\(report.mismatches.joined(separator: "\n"))")
        #expect(report.mismatches.first?.contains("header Lambda-Runtime-Aws-Request-Id is \(id), expected other") == true)
    }
}
