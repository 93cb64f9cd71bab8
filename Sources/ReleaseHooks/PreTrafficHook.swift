import AWSClients
import LambdaRuntime
import LeanJSON
import Logging

/// The `pretraffic` handler: a CodeDeploy `PreTraffic` lifecycle hook. Before CodeDeploy shifts any
/// traffic, it invokes the new version directly with an API Gateway `GET /health` event (and, when
/// `PRETRAFFIC_EVENT` is set, with that event too) and reports `Succeeded` only when every answer is
/// a 2xx API Gateway response; anything else, a function error included, reports `Failed`, which
/// stops the deployment before a single user reaches the new version.
///
/// Configuration: `PRETRAFFIC_TARGET` (the version's ARN, `!Ref Function.Version` in a template),
/// `PRETRAFFIC_EVENT` (optional, inline JSON), credentials and region from Lambda's environment,
/// endpoint overrides `AWS_ENDPOINT_URL_LAMBDA` / `AWS_ENDPOINT_URL_CODEDEPLOY`.
public struct PreTrafficHook: LambdaHandler, Sendable {
    /// One event to send and what it is called in the report.
    public struct Check: Sendable, Equatable {
        /// A short name for logs and the report (`GET /health`, `PRETRAFFIC_EVENT`).
        public var name: String
        /// The event bytes.
        public var event: [UInt8]

        /// Creates a check.
        public init(name: String, event: [UInt8]) {
            self.name = name
            self.event = event
        }
    }

    /// How one check went.
    public struct CheckResult: Sendable, Equatable {
        /// The check's name.
        public var name: String
        /// Whether the version answered with a 2xx API Gateway response.
        public var passed: Bool
        /// What it answered, in words (`HTTP 200`, `HTTP 503: {...}`, `function error Unhandled: ...`).
        public var detail: String
    }

    /// The version under test.
    public let target: LambdaVersionARN
    /// The events sent, in order.
    public let checks: [Check]
    private let lambda: LambdaInvokeClient
    private let codeDeploy: CodeDeployHookClient
    /// Time kept back from each invocation so that the report to CodeDeploy still fits.
    static let reportMargin: Duration = .seconds(3)
    /// Attempts at an invocation that Lambda refuses with `AccessDeniedException`: the hook's role is
    /// updated by the same deployment that runs the hook, and IAM takes seconds to apply a change.
    static let accessDeniedAttempts = 5
    /// The wait between those attempts.
    let accessDeniedDelay: Duration

    /// Creates the hook.
    public init(
        target: LambdaVersionARN, checks: [Check], lambda: LambdaInvokeClient, codeDeploy: CodeDeployHookClient,
        accessDeniedDelay: Duration = .seconds(2)
    ) {
        self.target = target
        self.checks = checks
        self.lambda = lambda
        self.codeDeploy = codeDeploy
        self.accessDeniedDelay = accessDeniedDelay
    }

    /// Builds the hook from the environment; a missing or malformed setting is an init error.
    public init(context: LambdaInitContext, accessDeniedDelay: Duration = .seconds(2)) throws(LambdaConfigurationError) {
        let environment = context.environment
        guard let targetText = environment["PRETRAFFIC_TARGET"], !targetText.isEmpty else {
            throw LambdaConfigurationError(variable: "PRETRAFFIC_TARGET", value: nil, expected:
                "the ARN of the version to check, arn:aws:lambda:REGION:ACCOUNT:function:NAME:VERSION (!Ref Function.Version)")
        }
        guard let target = LambdaVersionARN(targetText) else {
            throw LambdaConfigurationError(variable: "PRETRAFFIC_TARGET", value: targetText, expected:
                "a function ARN qualified with a published version number, arn:aws:lambda:REGION:ACCOUNT:function:NAME:VERSION")
        }
        var checks = [Check(name: "GET /health", event: Self.healthEvent(region: target.region))]
        if let extra = environment["PRETRAFFIC_EVENT"], !extra.isEmpty {
            guard (try? JSON(parsing: Array(extra.utf8), maxDepth: 64))?.objectValue != nil else {
                throw LambdaConfigurationError(variable: "PRETRAFFIC_EVENT", value: String(extra.prefix(80)), expected:
                    "one API Gateway event as a JSON object")
            }
            checks.append(Check(name: "PRETRAFFIC_EVENT", event: Array(extra.utf8)))
        }
        var aws: AWSEnvironment
        do {
            aws = try AWSEnvironment { environment[$0] }
        } catch {
            throw LambdaConfigurationError(variable: error.variable, value: nil, expected: "the value Lambda sets")
        }
        let codeDeploy = CodeDeployHookClient(environment: aws)
        aws.region = target.region
        self.init(
            target: target, checks: checks, lambda: LambdaInvokeClient(environment: aws), codeDeploy: codeDeploy,
            accessDeniedDelay: accessDeniedDelay)
    }

    /// Runs the checks for one CodeDeploy hook execution and reports the outcome to CodeDeploy.
    /// Returns the report as JSON; throws only when the event is not a hook event or the report
    /// could not be delivered (CodeDeploy then fails the hook at its own timeout).
    public func handle(_ event: [UInt8], context: LambdaContext) async throws -> [UInt8] {
        let hook = try PreTrafficEvent(event)
        let invokeDeadline = context.deadline.map { $0 - Self.reportMargin }
        var results: [CheckResult] = []
        for check in checks {
            let result = await run(check, deadline: invokeDeadline)
            results.append(result)
            let metadata: Logger.Metadata = [
                "check": .string(check.name), "target": .string(target.description), "detail": .string(result.detail),
                "deploymentId": .string(hook.deploymentID),
            ]
            if result.passed {
                context.logger.info("pre-traffic check passed", metadata: metadata)
            } else {
                context.logger.error("pre-traffic check failed", metadata: metadata)
            }
        }
        let status: CodeDeployHookClient.Status = results.allSatisfy(\.passed) ? .succeeded : .failed
        do {
            try await codeDeploy.report(status, deploymentID: hook.deploymentID, hookExecutionID: hook.hookExecutionID, deadline: context.deadline)
        } catch {
            context.logger.critical("could not report to CodeDeploy; the hook will time out and fail the deployment", metadata: [
                "status": .string(status.rawValue), "error": .string(error.description),
            ])
            throw PreTrafficReportError(status: status, underlying: error)
        }
        context.logger.info("pre-traffic hook reported", metadata: ["status": .string(status.rawValue), "deploymentId": .string(hook.deploymentID)])
        return JSON.object([
            "deploymentId": .string(hook.deploymentID), "target": .string(target.description), "status": .string(status.rawValue),
            "checks": .array(results.map { ["name": .string($0.name), "passed": .bool($0.passed), "detail": .string($0.detail)] }),
        ]).bytes
    }

    /// Invokes the version with one event and judges the answer.
    func run(_ check: Check, deadline: LambdaDeadline?) async -> CheckResult {
        var attempt = 0
        while true {
            attempt += 1
            do {
                let answer = try await lambda.invoke(target, payload: check.event, deadline: deadline)
                return CheckResult(name: check.name, verdict: Self.judge(answer))
            } catch {
                let denied = error.kind == .accessDenied
                let timeLeft = deadline.map { $0.remainingTime() > accessDeniedDelay + .seconds(1) } ?? true
                guard denied, attempt < Self.accessDeniedAttempts, timeLeft else {
                    return CheckResult(name: check.name, passed: false, detail: "the invocation failed: \(error.description)")
                }
                try? await Task.sleep(for: accessDeniedDelay)
            }
        }
    }

    /// A 2xx API Gateway response passes; a function error, another status, or a payload that is not
    /// an API Gateway response fails.
    static func judge(_ answer: LambdaInvokeResult) -> (passed: Bool, detail: String) {
        let excerpt = String(decoding: answer.payload.prefix(300), as: UTF8.self)
        if let functionError = answer.functionError {
            return (false, "function error \(functionError): \(excerpt)")
        }
        guard let response = try? JSON(parsing: answer.payload, maxDepth: 64), let status = response["statusCode"]?.intValue else {
            return (false, "not an API Gateway response (no statusCode): \(excerpt)")
        }
        guard (200...299).contains(status) else {
            let body = String((response["body"]?.stringValue ?? "").prefix(300))
            return (false, "HTTP \(status): \(body)")
        }
        return (true, "HTTP \(status)")
    }

    /// The synthetic `GET /health` request, shaped as an HTTP API (payload 2.0) event from API Gateway.
    public static func healthEvent(region: String) -> [UInt8] {
        let host = "pretraffic.execute-api.\(region).amazonaws.com"
        let event: JSON = [
            "version": "2.0", "routeKey": "GET /health", "rawPath": "/health", "rawQueryString": "",
            "headers": ["accept": "application/json", "host": .string(host), "user-agent": "codedeploy-pretraffic-hook"],
            "requestContext": [
                "accountId": "anonymous", "apiId": "pretraffic", "domainName": .string(host), "domainPrefix": "pretraffic",
                "http": ["method": "GET", "path": "/health", "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1",
                         "userAgent": "codedeploy-pretraffic-hook"],
                "requestId": "pretraffic", "routeKey": "GET /health", "stage": "$default",
                "time": "01/Jan/1970:00:00:00 +0000", "timeEpoch": 0,
            ],
            "isBase64Encoded": false,
        ]
        return event.bytes
    }
}

extension PreTrafficHook.CheckResult {
    init(name: String, verdict: (passed: Bool, detail: String)) {
        self.init(name: name, passed: verdict.passed, detail: verdict.detail)
    }
}

/// CodeDeploy's lifecycle hook event: `{"DeploymentId": "d-…", "LifecycleEventHookExecutionId": "…"}`.
public struct PreTrafficEvent: Sendable, Equatable {
    /// The deployment.
    public var deploymentID: String
    /// The hook execution to report for.
    public var hookExecutionID: String

    /// Reads the event; anything else is `InvalidEvent` (there is nothing to report to).
    public init(_ bytes: [UInt8]) throws(PreTrafficEventError) {
        guard let json = try? JSON(parsing: bytes, maxDepth: 16),
              let deployment = json["DeploymentId"]?.stringValue, !deployment.isEmpty,
              let execution = json["LifecycleEventHookExecutionId"]?.stringValue, !execution.isEmpty
        else { throw PreTrafficEventError() }
        self.deploymentID = deployment
        self.hookExecutionID = execution
    }
}

/// The event is not a CodeDeploy lifecycle hook event.
public struct PreTrafficEventError: LambdaFunctionError, Equatable {
    /// `InvalidEvent`
    public var errorType: String { "InvalidEvent" }
    /// What was expected.
    public var errorMessage: String {
        "the pretraffic handler takes CodeDeploy's lifecycle hook event {\"DeploymentId\":…,\"LifecycleEventHookExecutionId\":…}"
    }
}

/// The outcome could not be reported to CodeDeploy.
public struct PreTrafficReportError: LambdaFunctionError {
    /// The status that was to be reported.
    public let status: CodeDeployHookClient.Status
    /// Why the report failed.
    public let underlying: AWSError

    /// `PreTraffic.ReportFailed`
    public var errorType: String { "PreTraffic.ReportFailed" }
    /// The status and the AWS error.
    public var errorMessage: String {
        "PutLifecycleEventHookExecutionStatus(\(status.rawValue)) failed: \(underlying.description); check the hook role's codedeploy:PutLifecycleEventHookExecutionStatus permission"
    }
}
