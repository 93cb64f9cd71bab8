import AWSClients
import FakeRuntimeAPI
import FeatureFlags
import LambdaRuntime
import LeanJSON
import Logging
import ProfileService
import ReleaseHooks
import Synchronization
import Testing

/// The CodeDeploy PreTraffic hook against a loopback server that plays Lambda's Invoke API and
/// CodeDeploy's JSON API, recording what the hook sent.
@Suite struct PreTrafficHookTests {
    static let target = "arn:aws:lambda:eu-west-1:123456789012:function:profile-service-dev:7"
    static let hookEvent = #"{"DeploymentId":"d-ABCDEF123","LifecycleEventHookExecutionId":"hook-exec-42"}"#

    /// A running fake: `answer` decides what Lambda returns for each invocation payload.
    final class FakeAWS: Sendable {
        let server: FakeRuntimeAPI

        init(codeDeployStatus: Int = 200, answer: @escaping @Sendable (FakeRuntimeAPI.Request) -> FakeRuntimeAPI.Reply) throws {
            server = try FakeRuntimeAPI()
            server.setOverride { request in
                if request.path.hasPrefix("/2015-03-31/functions/") { return answer(request) }
                return codeDeployStatus == 200
                    ? .init(status: 200, body: "{}")
                    : .init(status: codeDeployStatus, body: #"{"__type":"AccessDeniedException","message":"not allowed"}"#)
            }
        }

        var invocations: [FakeRuntimeAPI.Request] { server.requests.filter { $0.path.hasPrefix("/2015-03-31/") } }
        var reports: [JSON] {
            server.requests.filter { $0.header("X-Amz-Target") != nil }.compactMap { try? JSON(parsing: $0.body) }
        }

        func hook(_ extra: [String: String] = [:]) throws -> PreTrafficHook {
            var values = [
                "PRETRAFFIC_TARGET": PreTrafficHookTests.target, "AWS_REGION": "eu-west-1", "AWS_ACCESS_KEY_ID": "ASIAHOOK",
                "AWS_SECRET_ACCESS_KEY": "secret", "AWS_SESSION_TOKEN": "token", "AWS_ENDPOINT_URL": "http://\(server.runtimeAPI)",
            ]
            values.merge(extra) { _, new in new }
            return try PreTrafficHook(context: LambdaInitContext(
                function: FunctionMetadata(name: "profile-service-dev-pretraffic"), logger: PreTrafficHookTests.logger,
                environment: ProcessEnvironment(values)), accessDeniedDelay: .milliseconds(5))
        }
    }

    static let logger = Logger(label: "tests") { _ in SwiftLogNoOpLogHandler() }

    static func context() -> LambdaContext {
        LambdaContext(
            invocation: Invocation(requestID: "hook-1", deadline: LambdaDeadline(after: .seconds(120))),
            function: FunctionMetadata(name: "profile-service-dev-pretraffic"), logger: logger)
    }

    static func apiGatewayResponse(_ status: Int, _ body: String = "{}") -> FakeRuntimeAPI.Reply {
        .init(status: 200, body: JSON.object(["statusCode": .number(Double(status)), "body": .string(body)]).text,
              headers: [("X-Amz-Executed-Version", "7")])
    }

    func run(_ fake: FakeAWS, extra: [String: String] = [:]) async throws -> JSON {
        try JSON(parsing: try await fake.hook(extra).handle(Array(Self.hookEvent.utf8), context: Self.context()))
    }

    @Test func aHealthyVersionIsReportedSucceededAfterOneSignedInvocationOfThatVersion() async throws {
        let fake = try FakeAWS { _ in Self.apiGatewayResponse(200, #"{"status":"ok"}"#) }
        defer { fake.server.stop() }
        let report = try await run(fake)
        #expect(report["status"] == "Succeeded")
        let invocation = try #require(fake.invocations.first)
        #expect(fake.invocations.count == 1)
        #expect(invocation.method == "POST")
        #expect(invocation.path == "/2015-03-31/functions/profile-service-dev/invocations?Qualifier=7")
        #expect(invocation.header("X-Amz-Invocation-Type") == "RequestResponse")
        #expect(invocation.header("Authorization")?.contains("/eu-west-1/lambda/aws4_request") == true)
        #expect(invocation.header("X-Amz-Security-Token") == "token")
        let codeDeploy = try #require(fake.server.requests.first { $0.header("X-Amz-Target") != nil })
        #expect(codeDeploy.header("X-Amz-Target") == "CodeDeploy_20141006.PutLifecycleEventHookExecutionStatus")
        #expect(codeDeploy.header("Content-Type") == "application/x-amz-json-1.1")
        #expect(codeDeploy.header("Authorization")?.contains("/eu-west-1/codedeploy/aws4_request") == true)
        #expect(fake.reports == [["deploymentId": "d-ABCDEF123", "lifecycleEventHookExecutionId": "hook-exec-42", "status": "Succeeded"]])
    }

    @Test func theSyntheticHealthEventIsOneTheProfileServiceAnswers() async throws {
        let event = PreTrafficHook.healthEvent(region: "eu-west-1")
        let request = try APIRequest(event: event)
        #expect(request.method == "GET" && request.rawPath == "/health")
        let handler = ProfileHandler(api: ProfileAPI(store: InMemoryProfileStore(), flags: StaticFlags(), functionVersion: "7"))
        let answer = try JSON(parsing: try await handler.handle(event, context: Self.context()))
        #expect(answer["statusCode"] == 200)
    }

    @Test(arguments: [
        (apiGatewayResponse(503, #"{"error":{"code":"unavailable"}}"#), "HTTP 503"),
        (apiGatewayResponse(500), "HTTP 500"),
        (apiGatewayResponse(302), "HTTP 302"),
        (FakeRuntimeAPI.Reply(status: 200, body: #"{"errorMessage":"boom","errorType":"Runtime.ExitError"}"#,
                              headers: [("X-Amz-Function-Error", "Unhandled")]), "function error Unhandled"),
        (FakeRuntimeAPI.Reply(status: 200, body: #""hello""#), "not an API Gateway response"),
        (FakeRuntimeAPI.Reply(status: 404, body: #"{"Type":"User","Message":"Function not found: profile-service-dev:7"}"#),
         "Function not found"),
        (FakeRuntimeAPI.Reply(status: 403, body: #"{"__type":"AccessDeniedException","message":"not authorized to perform lambda:InvokeFunction"}"#),
         "lambda:InvokeFunction"),
    ])
    func anythingButA2xxAPIGatewayResponseIsReportedFailed(_ reply: FakeRuntimeAPI.Reply, _ detail: String) async throws {
        let fake = try FakeAWS { _ in reply }
        defer { fake.server.stop() }
        let report = try await run(fake)
        #expect(report["status"] == "Failed")
        let check = try #require(report["checks"]?.arrayValue?.first)
        #expect(check["passed"] == false)
        #expect(check["detail"]?.stringValue?.contains(detail) == true, "\(check)")
        #expect(fake.reports.first?["status"] == "Failed")
    }

    @Test func accessDeniedWhileIAMCatchesUpIsRetriedThenSucceeds() async throws {
        let calls = Mutex(0)
        let fake = try FakeAWS { _ in
            let call = calls.withLock { count in
                count += 1
                return count
            }
            return call <= 2
                ? .init(status: 403, body: #"{"Type":"User","Message":"not authorized to perform: lambda:InvokeFunction"}"#)
                : Self.apiGatewayResponse(200)
        }
        defer { fake.server.stop() }
        let report = try await run(fake)
        #expect(report["status"] == "Succeeded")
        #expect(fake.invocations.count == 3)
    }

    @Test func theExtraEventRunsAfterHealthAndItsFailureFailsTheHook() async throws {
        let extra = String(decoding: Events.smokeGet, as: UTF8.self)
        let fake = try FakeAWS { request in
            request.body.elementsEqual(Events.smokeGet) ? Self.apiGatewayResponse(404) : Self.apiGatewayResponse(200)
        }
        defer { fake.server.stop() }
        let report = try await run(fake, extra: ["PRETRAFFIC_EVENT": extra])
        #expect(fake.invocations.count == 2)
        #expect(report["checks"]?.arrayValue?.compactMap { $0["name"]?.stringValue } == ["GET /health", "PRETRAFFIC_EVENT"])
        #expect(report["checks"]?.arrayValue?.compactMap { $0["passed"]?.boolValue } == [true, false])
        #expect(report["status"] == "Failed")
        #expect(fake.reports.first?["status"] == "Failed")
    }

    @Test func aReportCodeDeployRefusesIsAFunctionErrorNamingThePermission() async throws {
        let fake = try FakeAWS(codeDeployStatus: 400) { _ in Self.apiGatewayResponse(200) }
        defer { fake.server.stop() }
        await #expect { try await run(fake) } throws: { error in
            guard let error = error as? PreTrafficReportError else { return false }
            return error.errorType == "PreTraffic.ReportFailed" && error.errorMessage.contains("PutLifecycleEventHookExecutionStatus")
                && error.status == .succeeded
        }
    }

    @Test func anEventThatIsNotAHookEventInvokesNothing() async throws {
        let fake = try FakeAWS { _ in Self.apiGatewayResponse(200) }
        defer { fake.server.stop() }
        for event in ["{}", #"{"DeploymentId":"d-1"}"#, "[]", "not json", #"{"DeploymentId":"","LifecycleEventHookExecutionId":"x"}"#] {
            await #expect(throws: PreTrafficEventError.self) {
                try await fake.hook().handle(Array(event.utf8), context: Self.context())
            }
        }
        #expect(fake.server.requests.isEmpty)
    }

    @Test func missingOrMalformedSettingsAreInitErrors() throws {
        let fake = try FakeAWS { _ in Self.apiGatewayResponse(200) }
        defer { fake.server.stop() }
        for (variable, value) in [
            ("PRETRAFFIC_TARGET", ""), ("PRETRAFFIC_TARGET", "profile-service-dev"),
            ("PRETRAFFIC_TARGET", "arn:aws:lambda:eu-west-1:123456789012:function:profile-service-dev:$LATEST"),
            ("PRETRAFFIC_TARGET", "arn:aws:lambda:eu-west-1:123456789012:function:profile-service-dev:live"),
            ("PRETRAFFIC_TARGET", "arn:aws:lambda:eu-west-1:123456789012:function:profile-service-dev"),
            ("PRETRAFFIC_TARGET", "arn:aws:lambda:eu-west-1:123456789012:function:bad/name:3"),
            ("PRETRAFFIC_EVENT", "{not json"), ("PRETRAFFIC_EVENT", "[1]"), ("AWS_ACCESS_KEY_ID", ""),
        ] {
            #expect(throws: LambdaConfigurationError.self, "\(variable)=\(value)") { try fake.hook([variable: value]) }
        }
        #expect(try fake.hook().checks.count == 1)
    }

    @Test func versionARNsAreParsedByBytes() {
        let arn = LambdaVersionARN("arn:aws-cn:lambda:cn-north-1:123456789012:function:my_fn-1:12")
        #expect(arn?.region == "cn-north-1")
        #expect(arn?.functionName == "my_fn-1")
        #expect(arn?.version == "12")
        #expect(LambdaVersionARN("arn:aws:lambda:us-east-1:1:function:\u{212A}ate:1") == nil, "KELVIN SIGN is not a name character")
        #expect(LambdaVersionARN("arn:aws:lambda:us-east-1:1:function:fn:1\u{0661}") == nil, "only ASCII digits")
        #expect(LambdaVersionARN("arn:aws:lambda:us-east-1:1:layer:fn:1") == nil)
    }
}

enum Events {
    /// A `GET /profiles/{userId}` smoke request, as a user would pass in `PRETRAFFIC_EVENT`.
    static let smokeGet = Array(#"{"version":"2.0","routeKey":"GET /profiles/{userId}","rawPath":"/profiles/smoke-user","rawQueryString":"","headers":{},"requestContext":{"http":{"method":"GET","path":"/profiles/smoke-user"},"requestId":"smoke"},"isBase64Encoded":false}"#.utf8)
}
