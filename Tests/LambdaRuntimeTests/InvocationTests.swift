import CurlHTTP
import LambdaRuntime
import Testing

@Suite struct InvocationTests {
    /// Metadata is shared by copies (copy on write), but still a value: changing a copy, field by
    /// field, changes nothing else, and equality compares the fields.
    @Test func copiesOfMetadataAreIndependentValues() {
        let original = InvocationMetadata(requestID: "r", deadlineEpochMilliseconds: 5, traceID: "t")
        var copy = original
        #expect(copy == original)
        copy.requestID = "r2"
        copy.deadlineEpochMilliseconds = nil
        copy.invokedFunctionARN = "arn"
        copy.traceID = nil
        copy.clientContext = "{}"
        copy.cognitoIdentity = "{}"
        copy.tenantID = "tenant"
        copy.invocationID = "i"
        #expect(original == InvocationMetadata(requestID: "r", deadlineEpochMilliseconds: 5, traceID: "t"))
        #expect(copy == InvocationMetadata(
            requestID: "r2", invokedFunctionARN: "arn", clientContext: "{}", cognitoIdentity: "{}", tenantID: "tenant",
            invocationID: "i"))
        #expect(copy != original)
        let context = LambdaContext(
            invocation: Invocation(metadata: original), function: FunctionMetadata(name: "f"), logger: .init(label: "t"))
        var invocation = Invocation(metadata: original)
        invocation.metadata.requestID = "changed"
        #expect(context.requestID == "r")
        #expect(invocation.requestID == "changed")

        let function = FunctionMetadata(name: "f", memorySizeMB: 128, region: "eu-west-1")
        var other = function
        other.name = "g"
        other.version = "7"
        other.memorySizeMB = nil
        other.logGroupName = "group"
        other.logStreamName = "stream"
        other.region = nil
        #expect(function == FunctionMetadata(name: "f", memorySizeMB: 128, region: "eu-west-1"))
        #expect(other == FunctionMetadata(name: "g", version: "7", logGroupName: "group", logStreamName: "stream"))
    }

    @Test func everyHeaderIsRead() throws {
        let headers: HTTPHeaders = [
            "lambda-runtime-aws-request-id": "8476a536-e9f4-11e8-9739-2dfe598c3fcd",
            "Lambda-Runtime-Deadline-Ms": "1542409706888",
            "Lambda-Runtime-Invoked-Function-Arn": "arn:aws:lambda:us-east-2:123456789012:function:custom-runtime:live",
            "Lambda-Runtime-Trace-Id": "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1",
            "Lambda-Runtime-Client-Context": #"{"client":{"installation_id":"abc"}}"#,
            "Lambda-Runtime-Cognito-Identity": #"{"cognitoIdentityId":"id","cognitoIdentityPoolId":"pool"}"#,
            "Lambda-Runtime-Aws-Tenant-Id": "tenant-42",
        ]
        let invocation = try Invocation(headers: headers, event: [1, 2, 3])
        #expect(invocation.requestID == "8476a536-e9f4-11e8-9739-2dfe598c3fcd")
        #expect(invocation.deadline == LambdaDeadline(epochMilliseconds: 1_542_409_706_888))
        #expect(invocation.invokedFunctionARN == "arn:aws:lambda:us-east-2:123456789012:function:custom-runtime:live")
        #expect(invocation.traceID == "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1")
        #expect(invocation.clientContext == #"{"client":{"installation_id":"abc"}}"#)
        #expect(invocation.cognitoIdentity == #"{"cognitoIdentityId":"id","cognitoIdentityPoolId":"pool"}"#)
        #expect(invocation.tenantID == "tenant-42")
        #expect(invocation.event == [1, 2, 3])
    }

    @Test func onlyTheRequestIDIsMandatory() throws {
        let invocation = try Invocation(headers: ["Lambda-Runtime-Aws-Request-Id": "r1"], event: [])
        #expect(invocation.deadline == nil)
        #expect(invocation.invokedFunctionARN == nil)
        #expect(invocation.traceID == nil)
        #expect(invocation.tenantID == nil)
        #expect(throws: InvocationHeaderError.missingRequestID) {
            try Invocation(headers: ["Lambda-Runtime-Deadline-Ms": "1542409706888"], event: [])
        }
        #expect(throws: InvocationHeaderError.missingRequestID) {
            try Invocation(headers: ["Lambda-Runtime-Aws-Request-Id": ""], event: [])
        }
    }

    @Test(arguments: ["", "soon", "-5", "0", "1.5e12", "99999999999999999999999", "600000ms"])
    func garbledDeadlineMeansNoDeadline(_ value: String) throws {
        let invocation = try Invocation(
            headers: ["Lambda-Runtime-Aws-Request-Id": "r1", "Lambda-Runtime-Deadline-Ms": value], event: [])
        #expect(invocation.deadline == nil)
    }
}
