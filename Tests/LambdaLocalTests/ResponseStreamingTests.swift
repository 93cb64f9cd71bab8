import CurlHTTP
import Foundation
import LambdaLocal
import Testing

extension RawHTTP {
    /// Posts a streamed `/response` (`Lambda-Runtime-Function-Response-Mode: streaming`, chunked): `chunks`,
    /// then `trailers`; the status of the answer.
    func stream(
        _ event: Response, contentType: String = "application/octet-stream", chunks: [[UInt8]], trailers: [(String, String)] = []
    ) async throws -> Int {
        var headers = [("Lambda-Runtime-Function-Response-Mode", "streaming"), ("Content-Type", contentType),
                       ("Trailer", "Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body")]
        if let invocationID = event.invocationID { headers.append(("Lambda-Runtime-Invocation-Id", invocationID)) }
        let requestHeaders = headers
        return try await onThread {
            try self.startChunked("POST", "/2018-06-01/runtime/invocation/\(event.requestID)/response", headers: requestHeaders)
            for chunk in chunks { try self.sendChunk(chunk) }
            try self.endChunks(trailers: trailers)
            return try self.readResponse().status
        }
    }
}

/// Lambda's error JSON as a mid-stream error trailer carries it (base64).
func errorTrailers(type: String, message: String) -> [(String, String)] {
    let body = #"{"errorMessage":"\#(message)","errorType":"\#(type)","stackTrace":[]}"#
    return [("Lambda-Runtime-Function-Error-Type", type), ("Lambda-Runtime-Function-Error-Body", Data(body.utf8).base64EncodedString())]
}

/// Streamed `/response` posts (`Lambda-Runtime-Function-Response-Mode: streaming`, chunked, error trailers),
/// sent by the test's own client since the bootstrap on this branch does not stream.
@Suite struct ResponseStreamingTests {
    @Test func aStreamedResponseReachesAPlainInvokeWhole() async throws {
        try await RemoteRuntime.with { local, runtime in
            let call = ThreadCall { try local.invoke("{}") }
            let (connection, event) = try await runtime.connectAndTakeEvent()
            let chunks = [Array("first,".utf8), Array("second,".utf8), Array("third".utf8)]
            #expect(try await connection.stream(event, chunks: chunks) == 202)
            let response = try await call.value
            #expect(response.bodyText == "first,second,third")
            #expect(response.headers["X-Amz-Function-Error"] == nil)
        }
    }

    @Test func anUnknownResponseModeIs400InvalidFunctionResponseMode() async throws {
        try await RemoteRuntime.with { local, runtime in
            let call = ThreadCall { try local.invoke("{}") }
            let (connection, event) = try await runtime.connectAndTakeEvent()
            try connection.startChunked(
                "POST", "/2018-06-01/runtime/invocation/\(event.requestID)/response",
                headers: [("Lambda-Runtime-Function-Response-Mode", "buffered")])
            try connection.sendChunk(Array("x".utf8))
            try connection.endChunks()
            let refused = try await connection.response()
            #expect(refused.status == 400)
            #expect(refused.text.contains(#""errorType":"InvalidFunctionResponseMode""#))
            // The invocation is still open: a good post ends it.
            #expect(try await connection.post("response", requestID: event.requestID, body: Array("ok".utf8)) == 202)
            #expect(try await call.value.bodyText == "ok")
        }
    }

    @Test func aFailureAfterThreeChunksEndsWithBothTrailersAndTheErrorJSON() async throws {
        try await RemoteRuntime.with { local, runtime in
            let call = ThreadCall { try local.invoke("{}") }
            let (connection, event) = try await runtime.connectAndTakeEvent()
            let status = try await connection.stream(
                event, chunks: [[1], [2], [3]], trailers: errorTrailers(type: "Function.StreamBroke", message: "after three chunks"))
            #expect(status == 202)
            let response = try await call.value
            #expect(response.headers["X-Amz-Function-Error"] == "Unhandled")
            #expect(json(response)?["errorType"] as? String == "Function.StreamBroke")
            #expect(json(response)?["errorMessage"] as? String == "after three chunks")
            #expect(local.logs.all.contains { $0.hasPrefix("REPORT RequestId: \(event.requestID)") })
        }
    }

    @Test func aSecondPostWhileStreamingIs403() async throws {
        try await RemoteRuntime.with { local, runtime in
            let call = ThreadCall { try local.invoke("{}") }
            let address = try await runtime.address()
            let connection = try RawHTTP(runtimeAPI: address)
            let event = try await connection.next()
            try connection.startChunked(
                "POST", "/2018-06-01/runtime/invocation/\(event.requestID)/response",
                headers: [("Lambda-Runtime-Function-Response-Mode", "streaming")])
            try connection.sendChunk(Array("part".utf8))
            let other = try RawHTTP(runtimeAPI: address)
            #expect(try await other.post("response", requestID: event.requestID, body: Array("other".utf8)) == 403)
            try connection.endChunks()
            #expect(try await connection.response().status == 202)
            #expect(try await call.value.bodyText == "part")
        }
    }
}
