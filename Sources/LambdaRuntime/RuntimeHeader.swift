/// Header names of the Runtime API, in one place.
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
    /// The error type of an `/error` or `/init/error` post.
    public static let functionErrorType = "Lambda-Runtime-Function-Error-Type"
}
