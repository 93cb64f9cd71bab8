import Foundation
import NIOCore
import NIOHTTP1

/// `InvokeWithResponseStream` (`POST /2021-11-15/functions/{name}/response-streaming-invocations`): the
/// function's answer in AWS event-stream framing, a `PayloadChunk` event per chunk as it arrives, then one
/// `InvokeComplete` event (with `ErrorCode` and `ErrorDetails` when the function failed, before or during the
/// stream). A buffered answer is one `PayloadChunk`, as Lambda delivers it. Shapes and error codes follow
/// botocore's Lambda service model (`lambda/2015-03-31/service-2.json`). Confined to the service's event
/// loop, as its responder is.
final class EventStreamInvocation: InvocationStreamObserver, @unchecked Sendable {
    private let responder: HTTPResponder
    private var headSent = false

    init(responder: HTTPResponder) {
        self.responder = responder
    }

    private func sendHead(executedVersion: String, requestID: String) {
        guard !headSent else { return }
        headSent = true
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: EventStream.contentType)
        headers.add(name: "X-Amz-Executed-Version", value: executedVersion)
        headers.add(name: "X-Amzn-RequestId", value: requestID)
        responder.startStream(status: .ok, headers: headers)
    }

    func streamStarted(contentType: String?, executedVersion: String, requestID: String) {
        sendHead(executedVersion: executedVersion, requestID: requestID)
    }

    func streamed(_ chunk: ByteBuffer) {
        responder.sendChunk(EventStream.event("PayloadChunk", contentType: "application/octet-stream", payload: chunk.readableBytesView))
    }

    func whenWritable(_ resume: @escaping () -> Void) -> Bool {
        responder.whenWritable(resume)
    }

    /// The invocation ended: the buffered answer if nothing streamed, then `InvokeComplete`.
    func completed(_ result: InvocationResult) {
        sendHead(executedVersion: result.executedVersion, requestID: result.requestID)
        if !result.streamed, !result.isError, !result.payload.isEmpty {
            responder.sendChunk(EventStream.event("PayloadChunk", contentType: "application/octet-stream", payload: result.payload))
        }
        var complete: [String: String] = [:]
        if let errorType = result.errorType {
            let parsed = try? JSONText.decoder.decode(JSONValue.self, from: result.payload)
            complete["ErrorCode"] = errorType
            complete["ErrorDetails"] = parsed?["errorMessage"]?.string ?? String(decoding: result.payload, as: UTF8.self)
        }
        if let tail = result.logTail { complete["LogResult"] = Data(tail).base64EncodedString() }
        responder.sendChunk(EventStream.event("InvokeComplete", contentType: "application/json", payload: JSONText.encode(complete)))
        responder.endStream()
    }
}

extension FrontDoorRouter {
    /// Serves `InvokeWithResponseStream`.
    func invokeWithResponseStream(_ request: LocalHTTPRequest, _ responder: HTTPResponder) {
        guard request.method == .POST else {
            LambdaAPIError(status: 405, code: "MethodNotAllowed", message: "use POST to invoke").send(to: responder)
            return
        }
        let target: InvokeTarget
        do {
            target = try invokeTarget(request)
        } catch {
            error.send(to: responder)
            return
        }
        guard !request.bodyTooLarge else {
            LambdaAPIError(
                status: 413, code: "RequestTooLargeException",
                message: "Request must be smaller than \(configuration.maxPayload) bytes for the InvokeWithResponseStream operation"
            ).send(to: responder)
            return
        }
        switch request.headers.first(name: "X-Amz-Invocation-Type") ?? "RequestResponse" {
        case "RequestResponse":
            break
        case "DryRun":
            responder.send(status: .noContent)
            return
        case let other:
            LambdaAPIError(
                status: 400, code: "InvalidParameterValueException",
                message: "InvocationType \(other) is not one of RequestResponse, DryRun for InvokeWithResponseStream"
            ).send(to: responder)
            return
        }
        let stream = EventStreamInvocation(responder: responder)
        lambda.invoke(payload: request.body, qualifier: target.qualifier, options: target.options, observer: stream)
            .whenComplete { result in
                switch result {
                case .success(let outcome):
                    stream.completed(outcome)
                case .failure(let error as LocalInvokeError):
                    LambdaAPIError(error).send(to: responder)
                case .failure(let error):
                    LambdaAPIError(status: 500, code: "ServiceException", message: "\(error)").send(to: responder)
                }
            }
    }
}

extension LambdaAPIError {
    /// Lambda's answer when an invocation cannot start.
    init(_ error: LocalInvokeError) {
        switch error {
        case .unknownQualifier:
            self.init(status: 404, code: "ResourceNotFoundException", message: error.description)
        case .shuttingDown:
            self.init(status: 503, code: "ServiceException", message: error.description)
        }
    }
}
