/// The header names of the Runtime API that lambda-local speaks to its children, in one place.
///
/// Sources: Lambda's Runtime API documentation (`runtimes-api.html`, `runtimes-custom.html`), the RIE's
/// `rapi` package (tenant id, response mode, trailers), and AWS's runtime clients for the 2026 invocation id
/// (the Python RIC's `aws-lambda-cpp-add-invocation-id.patch`, Rust `lambda_runtime` 1.5 `constants.rs`).
enum RuntimeAPIHeader {
    /// `/next`: the request id.
    static let requestID = "Lambda-Runtime-Aws-Request-Id"
    /// `/next`: the deadline in epoch milliseconds.
    static let deadline = "Lambda-Runtime-Deadline-Ms"
    /// `/next`: the ARN that was invoked (version or alias).
    static let invokedFunctionARN = "Lambda-Runtime-Invoked-Function-Arn"
    /// `/next`: the X-Ray trace header.
    static let traceID = "Lambda-Runtime-Trace-Id"
    /// `/next`: the Mobile SDK client context.
    static let clientContext = "Lambda-Runtime-Client-Context"
    /// `/next`: the tenant of a tenant-isolated function (from the caller's `X-Amz-Tenant-Id`), omitted when empty.
    static let tenantID = "Lambda-Runtime-Aws-Tenant-Id"
    /// `/next` and the result posts: this attempt's id; a post carrying a stale one is answered 410 Gone.
    static let invocationID = "Lambda-Runtime-Invocation-Id"
    /// `/error`, `/init/error`, and a trailer of a streamed `/response`: the error type.
    static let errorType = "Lambda-Runtime-Function-Error-Type"
    /// A trailer of a streamed `/response`: Lambda's error JSON, base64-encoded.
    static let errorBody = "Lambda-Runtime-Function-Error-Body"
    /// `/response`: `streaming` for a streamed response (any other value is refused, as by the RIE).
    static let responseMode = "Lambda-Runtime-Function-Response-Mode"

    /// The only response mode the Runtime API knows.
    static let streamingMode = "streaming"
    /// The content type of a Function URL / API Gateway streamed answer: a JSON prelude, 8 NUL bytes, the body.
    static let httpIntegrationResponse = "application/vnd.awslambda.http-integration-response"
}

/// The header names of Lambda's Invoke APIs that lambda-local reads or writes.
enum InvokeAPIHeader {
    /// The tenant of a tenant-isolated function (Invoke and InvokeWithResponseStream).
    static let tenantID = "X-Amz-Tenant-Id"
}
