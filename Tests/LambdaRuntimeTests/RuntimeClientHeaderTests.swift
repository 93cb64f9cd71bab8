@testable import CurlHTTP
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

    /// The client reads `/next`'s fields itself (faster than the parser): for the same fields it must
    /// give the parser's answer, duplicates, empty values, case and near-miss names included.
    @Test(arguments: [
        [("Lambda-Runtime-Aws-Request-Id", "r1")],
        [("LAMBDA-RUNTIME-AWS-REQUEST-ID", "r1"), ("lambda-runtime-trace-id", "Root=1-2-3"),
         ("X-Lambda-Runtime-Aws-Tenant-Id", "no"), ("Lambda-Runtime-Aws-Tenant-Id ", "no"), ("Lambda-Runtime-Aws-Tenant-\u{130}d", "no"),
         ("Lambda-Runtime-Invocation-Id", ""), ("Lambda-Runtime-Invocation-Id", "attempt-2"), ("Lambda-Runtime-Trace-Id", "Root=second")],
        [("Lambda-Runtime-Aws-Request-Id", ""), ("Lambda-Runtime-Aws-Request-Id", "r2"), ("Lambda-Runtime-Aws-Request-Id", "r3"),
         ("Lambda-Runtime-Deadline-Ms", " 1700000000000\t"), ("Lambda-Runtime-Deadline-Ms", "1")],
        [("Lambda-Runtime-Aws-Request-Id", "r4"), ("Lambda-Runtime-Deadline-Ms", "soon"), ("Lambda-Runtime-Deadline-Ms", "1700000000000")],
        [("Lambda-Runtime-Aws-Request-Id", "r5"), ("Lambda-Runtime-Deadline-Ms", "-5")],
        [("Lambda-Runtime-Aws-Request-Id", "re\u{301}q"), ("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:1:function:f"),
         ("Lambda-Runtime-Client-Context", "{}"), ("Lambda-Runtime-Cognito-Identity", "{\"a\":1}"), ("Lambda-Runtime-Aws-Tenant-Id", "t\u{E9}"),
         ("Content-Type", "application/json"), ("Lambda-Runtime-Function-Error-Type", "x")],
        [("Lambda-Runtime-Deadline-Ms", "1700000000000")],
        [("Lambda-Runtime-Aws-Request-Id", "")],
        [],
    ] as [[(String, String)]])
    func theClientReadsTheFieldsAsTheParserDoes(_ fields: [(String, String)]) {
        let headers = HTTPHeaders(fields.map { HTTPHeader($0.0, $0.1) })
        let parsed = Result { () throws(InvocationHeaderError) in try Invocation(headers: headers, event: [7]) }
        let read = Result { () throws(InvocationHeaderError) in
            try RuntimeClient.invocation(from: HTTPResponse(status: 200, headers: headers, body: [7]))
        }
        expectSame(parsed, read)

        // The same fields as the session keeps them (the selection's index of each name recorded,
        // values trimmed): the client reads them by those indices, and must still agree.
        let sink = ResponseSink()
        sink.reset(limit: nil, selection: RuntimeClient.invocationHeaders)
        for (name, value) in [("HTTP/1.1", "200 OK")] + fields {
            let line = name == "HTTP/1.1" ? "HTTP/1.1 200 OK\r\n" : "\(name): \(value)\r\n"
            Array(line.utf8).withUnsafeBytes { sink.appendHeaderLine($0) }
        }
        var response = HTTPResponse(status: 200, headers: sink.takeHeaders(), body: [7])
        response.selectedNames = sink.selectedNames
        let keptParsed = Result { () throws(InvocationHeaderError) in try Invocation(headers: response.headers, event: [7]) }
        let keptRead = Result { () throws(InvocationHeaderError) in try RuntimeClient.invocation(from: response) }
        expectSame(keptParsed, keptRead)
    }

    private func expectSame(
        _ parsed: Result<Invocation, InvocationHeaderError>, _ read: Result<Invocation, InvocationHeaderError>
    ) {
        switch (parsed, read) {
        case (.success(let parsed), .success(let read)):
            #expect(read == parsed)
            #expect(Array(read.requestID.utf8) == Array(parsed.requestID.utf8))
        case (.failure(let parsed), .failure(let read)):
            #expect(read == parsed)
        default:
            Issue.record("parser: \(parsed), client: \(read)")
        }
    }

    /// The session records, for each kept field, its name's index in the selection.
    @Test func theSessionRecordsEachKeptFieldsNameIndex() {
        let sink = ResponseSink()
        sink.reset(limit: nil, selection: RuntimeClient.invocationHeaders)
        for line in ["HTTP/1.1 200 OK", "Content-Type: a", "lambda-runtime-trace-id: t", "Lambda-Runtime-Aws-Request-Id: r",
                     "X: y", "Lambda-Runtime-Invocation-Id: i"] {
            Array("\(line)\r\n".utf8).withUnsafeBytes { sink.appendHeaderLine($0) }
        }
        let names = RuntimeClient.invocationHeaders.names ?? []
        #expect(sink.takeHeaders().fields.map(\.name) == [names[3], names[0], names[7]])
        #expect((0..<4).map { sink.selectedNames.nameIndex(ofField: $0) } == [3, 0, 7, nil])
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
