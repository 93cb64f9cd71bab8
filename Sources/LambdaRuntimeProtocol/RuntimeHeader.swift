/// Header names of the Runtime API, in one place: the runtime's client, the test server
/// (`FakeRuntimeAPI`) and the local mock use these, so they cannot drift apart.
public enum RuntimeHeader {
    /// The invocation's request id (mandatory on `/next`).
    public static let requestID = "Lambda-Runtime-Aws-Request-Id"
    /// The deadline, Unix epoch milliseconds.
    public static let deadline = "Lambda-Runtime-Deadline-Ms"
    /// The ARN the caller invoked: function, version or alias.
    public static let invokedFunctionARN = "Lambda-Runtime-Invoked-Function-Arn"
    /// The X-Ray trace header value.
    public static let traceID = "Lambda-Runtime-Trace-Id"
    /// The Mobile SDK client context, JSON.
    public static let clientContext = "Lambda-Runtime-Client-Context"
    /// The Mobile SDK Cognito identity, JSON.
    public static let cognitoIdentity = "Lambda-Runtime-Cognito-Identity"
    /// The tenant id of a tenant-isolated function.
    public static let tenantID = "Lambda-Runtime-Aws-Tenant-Id"
    /// The per-attempt invocation id (2026): echoed on `/response` and `/error` when `/next` sent it,
    /// so that a late post from a timed-out attempt cannot land on a retry (answered 410 Gone).
    /// Name as in AWS's Python runtime client (`lambda_runtime_client.py`) and the Rust runtime's
    /// `constants.rs` (lambda_runtime 1.5).
    public static let invocationID = "Lambda-Runtime-Invocation-Id"
    /// The error type of an `/error` or `/init/error` post.
    public static let functionErrorType = "Lambda-Runtime-Function-Error-Type"
    /// The X-Ray error cause of an `/error` or `/init/error` post: a JSON document (RIE
    /// `rapi/model/error_cause.go`: at most 64 KiB, at least one of its fields set).
    public static let xrayErrorCause = "Lambda-Runtime-Function-XRay-Error-Cause"
    /// The response mode of a streamed `/response` post (value ``streamingResponseMode``). Name and
    /// value as AWS's Node.js runtime client (`ResponseStream.js`) and Lambda's custom-runtime docs.
    public static let responseMode = "Lambda-Runtime-Function-Response-Mode"
    /// `streaming`
    public static let streamingResponseMode = "streaming"
    /// The trailer of a stream that failed after its first byte: base64 of the error JSON
    /// (`{"errorMessage","errorType","stackTrace"}`, as `/error` carries).
    public static let functionErrorBody = "Lambda-Runtime-Function-Error-Body"
    /// The `Trailer` value a streamed response declares up front: the two error trailers.
    public static let streamingTrailerDeclaration = "\(functionErrorType), \(functionErrorBody)"
}

/// Content types of the Runtime API's responses.
public enum RuntimeContentType {
    /// A streamed response whose handler chose none (AWS's Node.js runtime client).
    public static let defaultStreamed = "application/octet-stream"
    /// A Function URL (or API Gateway) response with a JSON prelude and 8 NUL bytes before the body.
    public static let httpIntegrationResponse = "application/vnd.awslambda.http-integration-response"
    /// The NUL bytes between the prelude of an HTTP integration response and its body.
    public static let httpIntegrationDelimiterLength = 8
}
