import AWSClients
import CurlHTTP
import FakeRuntimeAPI
import LambdaCore
import LeanJSON
import Synchronization
import Testing

@Suite struct AWSEnvironmentTests {
    @Test func readsLambdasVariablesAndNamesWhatIsMissing() throws {
        let values = [
            "AWS_REGION": "eu-west-1", "AWS_ACCESS_KEY_ID": "ASIAEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret",
            "AWS_SESSION_TOKEN": "token", "AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:8000/",
        ]
        let environment = try AWSEnvironment { values[$0] }
        #expect(environment.region == "eu-west-1")
        #expect(environment.sessionToken == "token")
        #expect(environment.endpoint(serviceID: "DYNAMODB", hostPrefix: "dynamodb") == "http://127.0.0.1:8000")
        #expect(environment.endpoint(serviceID: "APPCONFIGDATA", hostPrefix: "appconfigdata") == "https://appconfigdata.eu-west-1.amazonaws.com")
        let global = try AWSEnvironment { ["AWS_DEFAULT_REGION": "us-west-2", "AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s", "AWS_ENDPOINT_URL": "http://localhost:4566"][$0] }
        #expect(global.endpoint(serviceID: "APPCONFIGDATA", hostPrefix: "appconfigdata") == "http://localhost:4566")
        #expect(throws: AWSConfigurationError.missing("AWS_ACCESS_KEY_ID")) {
            try AWSEnvironment { ["AWS_REGION": "us-east-1"][$0] }
        }
        #expect(throws: AWSConfigurationError.missing("AWS_REGION")) { try AWSEnvironment { _ in nil } }
    }

    @Test func caBundleIsFoundOnAmazonLinuxDebianOrFromSSLCertFile() {
        #expect(AWSEnvironment.caBundle(explicit: "/custom.pem", exists: { _ in false }) == "/custom.pem")
        #expect(AWSEnvironment.caBundle(explicit: nil, exists: { $0 == "/etc/pki/tls/certs/ca-bundle.crt" }) == "/etc/pki/tls/certs/ca-bundle.crt")
        #expect(AWSEnvironment.caBundle(explicit: nil, exists: { $0 == "/etc/ssl/certs/ca-certificates.crt" }) == "/etc/ssl/certs/ca-certificates.crt")
        #expect(AWSEnvironment.caBundle(explicit: nil, exists: { _ in false }) == nil)
    }
}

@Suite struct AWSErrorTests {
    @Test(arguments: [
        (#"{"__type":"com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException","message":"The conditional request failed"}"#, "ConditionalCheckFailedException"),
        (#"{"__type":"ThrottlingException","Message":"Rate exceeded"}"#, "ThrottlingException"),
        (#"{"__type":"ResourceNotFoundException:http://internal.amazon.com/coral/com.amazon.coral.validate/"}"#, "ResourceNotFoundException"),
        ("<ErrorResponse><Error><Code>SignatureDoesNotMatch</Code></Error></ErrorResponse>", "SignatureDoesNotMatch"),
        ("", "HTTP400"),
    ])
    func errorCodesAreReadWithOrWithoutNamespace(_ body: String, _ code: String) {
        #expect(AWSError(status: 400, body: Array(body.utf8)).code == code)
    }

    @Test(arguments: [
        (400, "ThrottlingException", AWSError.Kind.busy),
        (400, "ProvisionedThroughputExceededException", .busy),
        (400, "TransactionInProgressException", .busy),
        (429, "HTTP429", .busy),
        (500, "InternalServerError", .serviceFailure),
        (503, "HTTP503", .serviceFailure),
        (0, "Transport", .transport),
        (400, "ValidationException", .rejected),
        (400, "ConditionalCheckFailedException", .conditionFailed),
        (400, "TransactionCanceledException", .transactionCanceled),
        (400, "AccessDeniedException", .accessDenied),
        (403, "SignatureDoesNotMatch", .accessDenied),
    ])
    func theKindFollowsFromStatusAndCode(_ status: Int, _ code: String, _ kind: AWSError.Kind) {
        #expect(AWSError(code: code, message: "", status: status).kind == kind)
    }

    @Test func throttlingAnd5xxAreRetryableOthersAreNot() {
        #expect(AWSError(code: "ThrottlingException", message: "", status: 400).isRetryable)
        #expect(AWSError(code: "InternalServerError", message: "", status: 500).isRetryable)
        #expect(AWSError(code: "Transport", message: "", status: 0).isRetryable)
        #expect(!AWSError(code: "ValidationException", message: "", status: 400).isRetryable)
        #expect(!AWSError(code: "ConditionalCheckFailedException", message: "", status: 400).isRetryable)
        #expect(!AWSError(kind: .deadlineExceeded, code: "Timeout", message: "", status: 0).isRetryable)
    }

    @Test func structuredDetailsAreReadNotTheMessage() {
        let cancelled = AWSError(status: 400, body: Array(#"""
            {"__type":"com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
             "Message":"Transaction cancelled, please refer cancellation reasons for specific reasons [None, ConditionalCheckFailed]",
             "CancellationReasons":[{"Code":"None"},{"Code":"ConditionalCheckFailed","Message":"The conditional request failed"}]}
            """#.utf8))
        #expect(cancelled.kind == .transactionCanceled)
        #expect(cancelled.cancellationReasons == ["None", "ConditionalCheckFailed"])
        let expired = AWSError(status: 400, body: Array(#"""
            {"Message":"Bad Request","Reason":"InvalidParameters",
             "Details":{"InvalidParameters":{"ConfigurationToken":{"Problem":"Expired"}}}}
            """#.utf8))
        #expect(expired.kind == .rejected)
        #expect(expired.invalidParameterProblems == ["Expired"])
        // Prose is not a detail.
        let prose = AWSError(status: 400, body: Array(#"{"__type":"BadRequestException","message":"Invalid or expired configuration token"}"#.utf8))
        #expect(prose.invalidParameterProblems.isEmpty && prose.cancellationReasons.isEmpty)
    }
}

/// The client against a scripted HTTP server on loopback.
@Suite struct AWSJSONClientTests {
    func client(_ server: FakeRuntimeAPI, attempts: Int = 4) -> AWSJSONClient {
        let environment = AWSEnvironment(
            region: "us-east-1", accessKeyID: "AKIDEXAMPLE", secretAccessKey: "secret", sessionToken: "session-token",
            endpointOverrides: ["DYNAMODB": "http://\(server.runtimeAPI)"])
        return AWSJSONClient(
            environment: environment, serviceID: "DYNAMODB", hostPrefix: "dynamodb", signingName: "dynamodb",
            retryPolicy: .init(maxAttempts: attempts, baseDelay: .milliseconds(2), maxDelay: .milliseconds(20)))
    }

    @Test func callsAreSignedWithTheSessionToken() async throws {
        let server = try FakeRuntimeAPI()
        defer { server.stop() }
        server.setOverride { _ in .init(status: 200, body: #"{"Item":{"userId":{"S":"u1"}}}"#) }
        let answer = try await client(server).call(target: "DynamoDB_20120810.GetItem", body: ["TableName": "t"], deadline: nil)
        #expect(answer["Item"]?["userId"]?["S"] == "u1")
        let request = try #require(server.requests.last)
        #expect(request.header("X-Amz-Target") == "DynamoDB_20120810.GetItem")
        #expect(request.header("Content-Type") == "application/x-amz-json-1.0")
        #expect(request.header("X-Amz-Security-Token") == "session-token")
        let authorization = try #require(request.header("Authorization"))
        #expect(authorization.hasPrefix("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/"))
        #expect(authorization.contains("/us-east-1/dynamodb/aws4_request"))
        #expect(authorization.contains("x-amz-security-token"))
        #expect(request.header("X-Amz-Date") != nil)
        #expect(request.header("Expect") == nil)
    }

    @Test func throttlingAndServerErrorsAreRetriedThenSucceed() async throws {
        let server = try FakeRuntimeAPI()
        defer { server.stop() }
        let calls = Mutex(0)
        server.setOverride { _ in
            let call = calls.withLock { count in
                count += 1
                return count
            }
            switch call {
            case 1: return .init(status: 400, body: #"{"__type":"com.amazonaws.dynamodb.v20120810#ThrottlingException","message":"slow down"}"#)
            case 2: return .init(status: 503, body: "unavailable")
            default: return .init(status: 200, body: "{}")
            }
        }
        _ = try await client(server).call(target: "DynamoDB_20120810.GetItem", body: [:], deadline: nil)
        #expect(calls.withLock { $0 } == 3)
    }

    @Test func retriesStopAtTheLimitAndClientErrorsAreNotRetried() async throws {
        let server = try FakeRuntimeAPI()
        defer { server.stop() }
        server.setOverride { request in
            request.header("X-Amz-Target")?.hasSuffix("GetItem") == true
                ? .init(status: 500, body: #"{"__type":"InternalServerError"}"#)
                : .init(status: 400, body: #"{"__type":"ValidationException","message":"bad key"}"#)
        }
        let client = client(server, attempts: 3)
        await #expect { try await client.call(target: "DynamoDB_20120810.GetItem", body: [:], deadline: nil) } throws: {
            ($0 as? AWSError)?.code == "InternalServerError"
        }
        #expect(server.requests.count == 3)
        await #expect { try await client.call(target: "DynamoDB_20120810.UpdateItem", body: [:], deadline: nil) } throws: {
            ($0 as? AWSError)?.message == "bad key"
        }
        #expect(server.requests.count == 4, "a ValidationException is not retried")
    }

    @Test func noRetryStartsInsideTheDeadlineMargin() async throws {
        let server = try FakeRuntimeAPI()
        defer { server.stop() }
        server.setOverride { _ in .init(status: 500, body: "{}") }
        let soon = LambdaDeadline(after: .milliseconds(200))
        await #expect(throws: AWSError.self) {
            try await client(server).call(target: "DynamoDB_20120810.GetItem", body: [:], deadline: soon)
        }
        #expect(server.requests.count <= 1)
    }
}

@Suite struct DynamoDBValueTests {
    @Test func plainJSONRoundTripsThroughAttributeValues() {
        let value: JSON = ["s": "text", "n": 14, "f": 1.5, "b": true, "z": .null, "l": [1, "a"], "m": ["k": false], "e": [:]]
        let attribute = DynamoDBValue.attribute(value)
        #expect(attribute["M"]?["n"] == ["N": "14"])
        #expect(attribute["M"]?["f"] == ["N": "1.5"])
        #expect(attribute["M"]?["b"] == ["BOOL": true])
        #expect(attribute["M"]?["z"] == ["NULL": true])
        #expect(DynamoDBValue.plain(attribute) == value)
        #expect(DynamoDBValue.plain(["SS": ["a"]]) == nil)
    }
}
