/// The header names of Lambda's Invoke APIs that lambda-local reads or writes (the Runtime API's are
/// `RuntimeHeader`, in `LambdaRuntimeProtocol`).
enum InvokeAPIHeader {
    /// The tenant of a tenant-isolated function (Invoke and InvokeWithResponseStream).
    static let tenantID = "X-Amz-Tenant-Id"
}
