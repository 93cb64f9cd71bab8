import CurlHTTP
import LambdaCore

/// A published Lambda version, named the way CloudFormation's `!Ref Function.Version` names it:
/// `arn:PARTITION:lambda:REGION:ACCOUNT:function:NAME:VERSION`.
public struct LambdaVersionARN: Sendable, Equatable, CustomStringConvertible {
    /// The AWS region of the function.
    public var region: String
    /// The function's name.
    public var functionName: String
    /// The published version number.
    public var version: String
    /// The ARN as given.
    public var description: String

    /// Parses a qualified function ARN whose qualifier is a published version number; `nil` otherwise
    /// (`$LATEST` and aliases are refused: a version is what a pre-traffic check must test).
    public init?(_ text: String) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 8, parts[0].utf8.elementsEqual("arn".utf8), parts[2].utf8.elementsEqual("lambda".utf8),
              parts[5].utf8.elementsEqual("function".utf8), !parts[3].isEmpty,
              Self.isName(parts[6]), !parts[7].isEmpty, parts[7].utf8.allSatisfy(ASCII.isDigit)
        else { return nil }
        self.region = parts[3]
        self.functionName = parts[6]
        self.version = parts[7]
        self.description = text
    }

    /// Lambda's function-name alphabet: `A-Z a-z 0-9 - _`, 1-64 characters.
    static func isName(_ name: String) -> Bool {
        (1...64).contains(name.utf8.count) && name.utf8.allSatisfy { byte in
            ASCII.isAlphanumeric(byte) || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_")
        }
    }
}

/// What a synchronous invocation returned.
public struct LambdaInvokeResult: Sendable, Equatable {
    /// The function's response payload (or its error document).
    public var payload: [UInt8]
    /// `X-Amz-Function-Error` (`Unhandled`), when the function failed.
    public var functionError: String?
    /// `X-Amz-Executed-Version`: the version that ran.
    public var executedVersion: String?
}

/// Synchronous (`RequestResponse`) invocations of a Lambda version through the Invoke API, signed
/// with SigV4 by libcurl.
public struct LambdaInvokeClient: Sendable {
    private let client: AWSJSONClient

    /// Creates a client in `environment`'s region (endpoint override `AWS_ENDPOINT_URL_LAMBDA`).
    /// Invocations may take as long as the function's own timeout, so the per-request timeout is long;
    /// the caller's deadline still bounds it.
    public init(environment: AWSEnvironment, requestTimeout: Duration = .seconds(900)) {
        client = AWSJSONClient(
            environment: environment, serviceID: "LAMBDA", hostPrefix: "lambda", signingName: "lambda",
            retryPolicy: .init(maxAttempts: 3, baseDelay: .milliseconds(100)), requestTimeout: requestTimeout)
    }

    /// Invokes `target` with `payload` and waits for its answer. A function error is a result (its
    /// `functionError` is set), not a thrown error; throws when Lambda itself refused or failed.
    public func invoke(_ target: LambdaVersionARN, payload: [UInt8], deadline: LambdaDeadline?) async throws(AWSError) -> LambdaInvokeResult {
        // The name and the version travel separately: a name needs no percent-encoding, so the path
        // libcurl signs is the path Lambda checks.
        let response = try await client.send(
            method: .post, path: "/2015-03-31/functions/\(target.functionName)/invocations?Qualifier=\(target.version)",
            body: payload, headers: ["X-Amz-Invocation-Type": "RequestResponse", "Content-Type": "application/json"],
            deadline: deadline)
        return LambdaInvokeResult(
            payload: response.body, functionError: response.headers["X-Amz-Function-Error"],
            executedVersion: response.headers["X-Amz-Executed-Version"])
    }
}

/// CodeDeploy's `PutLifecycleEventHookExecutionStatus`: how a lifecycle hook function reports.
public struct CodeDeployHookClient: Sendable {
    /// The outcome a hook reports.
    public enum Status: String, Sendable {
        /// The deployment goes on.
        case succeeded = "Succeeded"
        /// The deployment stops and rolls back.
        case failed = "Failed"
    }

    private let client: AWSJSONClient

    /// Creates a client (endpoint override `AWS_ENDPOINT_URL_CODEDEPLOY`).
    public init(environment: AWSEnvironment) {
        client = AWSJSONClient(environment: environment, serviceID: "CODEDEPLOY", hostPrefix: "codedeploy", signingName: "codedeploy")
    }

    /// Reports `status` for one hook execution of one deployment.
    public func report(
        _ status: Status, deploymentID: String, hookExecutionID: String, deadline: LambdaDeadline?
    ) async throws(AWSError) {
        _ = try await client.call(
            target: "CodeDeploy_20141006.PutLifecycleEventHookExecutionStatus",
            body: ["deploymentId": .string(deploymentID), "lifecycleEventHookExecutionId": .string(hookExecutionID),
                   "status": .string(status.rawValue)],
            protocolVersion: "1.1", deadline: deadline)
    }
}
