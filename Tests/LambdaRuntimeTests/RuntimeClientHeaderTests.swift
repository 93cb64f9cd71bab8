import CurlHTTP
import FakeRuntimeAPI
@testable import LambdaRuntime
@testable import LambdaRuntimeProtocol
import Testing

/// `/next` keeps only the fields an invocation is read from, and no field the parser reads is lost.
@Suite struct RuntimeClientHeaderTests {
    @Test func nextKeepsExactlyTheFieldsTheMetadataParserReads() {
        let kept = Set((RuntimeClient.invocationHeaders.names ?? []).map { Array($0.utf8) })
        let read = Set(InvocationMetadata.Field.allCases.map { Array($0.headerName.utf8) })
        #expect(kept == read)
    }

    @Test func everyFieldArrivesThroughTheClientInAnyCase() throws {
        let server = try FakeRuntimeAPI()
        defer { server.stop() }
        let id = server.enqueue(FakeRuntimeAPI.Event(body: Array("{}".utf8), headers: [
            ("LAMBDA-RUNTIME-DEADLINE-MS", "1542409706888"),
            ("lambda-runtime-invoked-function-arn", "arn:aws:lambda:us-east-2:123456789012:function:f:live"),
            ("Lambda-Runtime-Trace-Id", "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Sampled=1"),
            ("Lambda-Runtime-Client-Context", #"{"client":{"installation_id":"abc"}}"#),
            ("Lambda-Runtime-Cognito-Identity", #"{"cognitoIdentityId":"id"}"#),
            ("Lambda-Runtime-Aws-Tenant-Id", "tenant-\u{E9}"),
            ("Lambda-Runtime-Invocation-Id", "attempt-1"),
            ("X-Not-Read", "1"),
        ]))
        let client = try RuntimeClient(endpoint: RuntimeAPIEndpoint(server.runtimeAPI))
        let invocation = try client.nextInvocation()
        #expect(Array(invocation.requestID.utf8) == Array(id.utf8))
        #expect(invocation.metadata.deadlineEpochMilliseconds == 1_542_409_706_888)
        #expect(invocation.invokedFunctionARN == "arn:aws:lambda:us-east-2:123456789012:function:f:live")
        #expect(invocation.traceID == "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Sampled=1")
        #expect(invocation.clientContext == #"{"client":{"installation_id":"abc"}}"#)
        #expect(invocation.cognitoIdentity == #"{"cognitoIdentityId":"id"}"#)
        #expect(invocation.tenantID.map { Array($0.utf8) } == Array("tenant-\u{E9}".utf8))
        #expect(invocation.invocationID == "attempt-1")
        #expect(invocation.event == Array("{}".utf8))
        #expect(try client.postResponse([1], for: invocation.requestID, invocationID: invocation.invocationID) == .accepted)
        // The Runtime API client sends no User-Agent.
        #expect(server.requests.count == 2)
        #expect(server.requests.allSatisfy { $0.header("User-Agent") == nil })
    }
}
