import LambdaRuntimeProtocol
import NIOCore
import NIOHTTP1

/// A streamed function answer on its way to an HTTP client of the front door, as a Function URL in
/// `RESPONSE_STREAM` mode delivers it: with `Content-Type: application/vnd.awslambda.http-integration-response`
/// the JSON prelude up to 8 NUL bytes gives the status, headers and cookies, and the rest is the body; any
/// other content type is the body itself, sent as 200 with that type. Bytes reach the client chunk by chunk
/// as the function writes them. Confined to the service's event loop, as its responder is.
final class HTTPIntegrationStream: InvocationStreamObserver, @unchecked Sendable {
    /// The most prelude bytes read before giving up (API Gateway asks for the prelude in the first 16 KB).
    static let maxPrelude = 16 * 1024

    private enum Phase {
        /// Nothing streamed yet.
        case idle
        /// Reading the prelude; these bytes came so far.
        case prelude([UInt8])
        /// The head is out; the rest is body.
        case body
        /// The prelude was unusable; the client got 500 and the rest is dropped.
        case failed
    }

    private let responder: HTTPResponder
    private let apiRequestID: String
    private var phase = Phase.idle
    private var executedVersion = ""

    init(responder: HTTPResponder, apiRequestID: String) {
        self.responder = responder
        self.apiRequestID = apiRequestID
    }

    func streamStarted(contentType: String?, executedVersion: String, requestID: String) {
        self.executedVersion = executedVersion
        if let contentType, contentType.utf8.elementsEqual(RuntimeContentType.httpIntegrationResponse.utf8) {
            phase = .prelude([])
        } else {
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: contentType ?? "application/octet-stream")
            startBody(status: .ok, headers: headers)
        }
    }

    private func startBody(status: HTTPResponseStatus, headers: HTTPHeaders) {
        var headers = headers
        headers.add(name: "Apigw-Requestid", value: apiRequestID)
        headers.add(name: "X-Amz-Executed-Version", value: executedVersion)
        responder.startStream(status: status, headers: headers)
        phase = .body
    }

    func streamed(_ chunk: ByteBuffer) {
        switch phase {
        case .body:
            responder.sendChunk(chunk)
        case .prelude(var bytes):
            bytes.append(contentsOf: chunk.readableBytesView)
            guard let end = Self.separator(in: bytes) else {
                if bytes.count > Self.maxPrelude { fail() } else { phase = .prelude(bytes) }
                return
            }
            guard let head = APIGatewayHTTPEvent.streamedHead(prelude: Array(bytes[..<end])) else {
                fail()
                return
            }
            startBody(status: head.status, headers: head.headers)
            responder.sendChunk(Array(bytes[(end + 8)...]))
        case .idle, .failed:
            break
        }
    }

    func whenWritable(_ resume: @escaping () -> Void) -> Bool {
        responder.whenWritable(resume)
    }

    private func fail() {
        phase = .failed
        let error = APIGatewayHTTPEvent.internalServerError()
        var headers = error.headers
        headers.add(name: "Apigw-Requestid", value: apiRequestID)
        responder.send(status: error.status, headers: headers, body: error.body)
    }

    /// The invocation ended; `true` when the answer was streamed (and is now complete, or cut off where
    /// the function failed), `false` when the caller must answer from the buffered result.
    func completed(_ result: Result<InvocationResult, Error>) -> Bool {
        switch phase {
        case .idle:
            return false
        case .body:
            if case .success(let outcome) = result, !outcome.isError {
                responder.endStream()
            } else {
                responder.abortStream()
            }
        case .prelude:
            fail()
        case .failed:
            break
        }
        return true
    }

    /// Where the 8 NUL bytes that end the prelude start.
    static func separator(in bytes: [UInt8]) -> Int? {
        var run = 0
        for (index, byte) in bytes.enumerated() {
            run = byte == 0 ? run + 1 : 0
            if run == 8 { return index - 7 }
        }
        return nil
    }
}
