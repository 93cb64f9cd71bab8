import NIOCore
import NIOHTTP1
import NIOPosix

/// One complete HTTP request, as the local servers see it.
public struct LocalHTTPRequest: Sendable {
    /// The method.
    public var method: HTTPMethod
    /// The request target as sent (path and query).
    public var uri: String
    /// The header fields.
    public var headers: HTTPHeaders
    /// The body, up to the server's limit.
    public var body: [UInt8]
    /// The body was longer than the limit; `body` holds only its start.
    public var bodyTooLarge: Bool
    /// The declared or counted body length.
    public var bodyLength: Int
    /// The peer's IP address.
    public var remoteIP: String
    /// HTTP version, for example `HTTP/1.1`.
    public var version: HTTPVersion

    /// The path without the query.
    public var path: String {
        String(uri.prefix { $0 != "?" })
    }

    /// The raw query string (after `?`), or empty.
    public var rawQuery: String {
        guard let mark = uri.firstIndex(of: "?") else { return "" }
        return String(uri[uri.index(after: mark)...])
    }
}

/// Answers one request, now or later (a long-polled `/next` is answered when an event arrives).
///
/// Confined to the channel's event loop, which is the loop of the whole local service: futures of
/// ``LocalLambda`` complete there, so a completion handler may answer with it; every method that
/// writes checks the loop (in debug builds), so a call from another thread is caught in tests.
public final class HTTPResponder: @unchecked Sendable {
    private let context: ChannelHandlerContext
    private let keepAlive: Bool
    private let head: Bool
    private(set) var answered = false
    private var streaming = false
    private var onWritable: (() -> Void)?
    /// The write of the latest chunk of a streamed response.
    private var lastChunkWritten: EventLoopFuture<Void>?
    /// Called once if the connection closes before the response was sent.
    var onClose: (() -> Void)?

    init(context: ChannelHandlerContext, keepAlive: Bool, head: Bool) {
        self.context = context
        self.keepAlive = keepAlive
        self.head = head
    }

    /// Whether the connection is still open.
    var isActive: Bool { context.channel.isActive }

    /// Sends a complete response. A second call is ignored.
    func send(status: HTTPResponseStatus, headers: HTTPHeaders = HTTPHeaders(), body: [UInt8] = []) {
        context.eventLoop.assertInEventLoop()
        guard !answered else { return }
        answered = true
        onClose = nil
        var headers = headers
        headers.replaceOrAdd(name: "Content-Length", value: String(body.count))
        if !headers.contains(name: "Content-Type"), !body.isEmpty {
            headers.add(name: "Content-Type", value: "application/json")
        }
        headers.replaceOrAdd(name: "Connection", value: keepAlive ? "keep-alive" : "close")
        let response = HTTPResponseHead(version: .http1_1, status: status, headers: headers)
        context.write(NIOAny(HTTPServerResponsePart.head(response)), promise: nil)
        if !body.isEmpty, !head {
            var buffer = context.channel.allocator.buffer(capacity: body.count)
            buffer.writeBytes(body)
            context.write(NIOAny(HTTPServerResponsePart.body(.byteBuffer(buffer))), promise: nil)
        }
        let keepAlive = self.keepAlive
        let channel = context.channel
        context.writeAndFlush(NIOAny(HTTPServerResponsePart.end(nil))).whenComplete { _ in
            if !keepAlive { channel.close(promise: nil) }
        }
    }

    /// Starts a streamed response: the head now (chunked, no `Content-Length`), then ``sendChunk(_:)`` as
    /// bytes come and ``endStream(trailers:)``. A later ``send(status:headers:body:)`` is ignored.
    func startStream(status: HTTPResponseStatus, headers: HTTPHeaders) {
        context.eventLoop.assertInEventLoop()
        guard !answered else { return }
        answered = true
        onClose = nil
        streaming = true
        var headers = headers
        headers.remove(name: "Content-Length")
        headers.replaceOrAdd(name: "Transfer-Encoding", value: "chunked")
        headers.replaceOrAdd(name: "Connection", value: keepAlive ? "keep-alive" : "close")
        context.writeAndFlush(NIOAny(HTTPServerResponsePart.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
    }

    /// Sends one chunk of a streamed response at once (flushed: the client sees it before the next arrives).
    func sendChunk(_ bytes: ByteBuffer) {
        context.eventLoop.assertInEventLoop()
        guard streaming, bytes.readableBytes > 0 else { return }
        lastChunkWritten = context.writeAndFlush(NIOAny(HTTPServerResponsePart.body(.byteBuffer(bytes))))
    }

    /// Sends one chunk of a streamed response made of `bytes`.
    func sendChunk(_ bytes: [UInt8]) {
        guard streaming, !bytes.isEmpty else { return }
        var buffer = context.channel.allocator.buffer(capacity: bytes.count)
        buffer.writeBytes(bytes)
        sendChunk(buffer)
    }

    /// Ends a streamed response that failed part-way (the function's error, or its timeout): the chunks
    /// sent so far reach the client, then the connection closes without the last chunk, so that the client
    /// sees a cut-off body and not a complete one, as from a Function URL whose streaming function fails.
    func abortStream() {
        context.eventLoop.assertInEventLoop()
        guard streaming else { return }
        streaming = false
        let channel = context.channel
        (lastChunkWritten ?? context.eventLoop.makeSucceededVoidFuture()).whenComplete { _ in
            channel.close(promise: nil)
        }
    }

    /// Ends a streamed response.
    func endStream(trailers: HTTPHeaders? = nil) {
        context.eventLoop.assertInEventLoop()
        guard streaming else { return }
        streaming = false
        let keepAlive = self.keepAlive
        let channel = context.channel
        context.writeAndFlush(NIOAny(HTTPServerResponsePart.end(trailers))).whenComplete { _ in
            if !keepAlive { channel.close(promise: nil) }
        }
    }

    /// Whether a streamed response can take more bytes now (the connection's buffer is below NIO's high-water
    /// mark); when not, `resume` runs once it can again, or once the connection closed.
    func whenWritable(_ resume: @escaping () -> Void) -> Bool {
        context.eventLoop.assertInEventLoop()
        guard streaming, context.channel.isActive, !context.channel.isWritable else { return true }
        onWritable = resume
        return false
    }

    fileprivate func writabilityChanged() {
        guard context.channel.isWritable || !context.channel.isActive, let resume = onWritable else { return }
        onWritable = nil
        resume()
    }

    /// Sends a JSON error body `{"errorType","errorMessage"}` (the Runtime API and Invoke API shape).
    func sendError(status: HTTPResponseStatus, type: String, message: String, headers: HTTPHeaders = HTTPHeaders()) {
        send(status: status, headers: headers, body: JSONText.encode(["errorType": type, "errorMessage": message]))
    }

    fileprivate func connectionClosed() {
        guard !answered else { return }
        answered = true
        let callback = onClose
        onClose = nil
        callback?()
    }
}

/// Receives a request body while it arrives (a streamed `/response`), on the channel's event loop.
protocol RequestBodyStream: AnyObject {
    /// The next bytes of the body.
    func received(_ chunk: ByteBuffer)
    /// The body ended; `trailers` are the trailer fields of a chunked body, if any.
    func ended(trailers: HTTPHeaders?)
    /// The connection closed before the body ended.
    func aborted()
}

/// Pauses and resumes reading a connection: backpressure from a slow reader of a streamed body.
struct ReadControl {
    let channel: Channel

    /// Stops reading after what has arrived.
    func pause() {
        channel.setOption(ChannelOptions.autoRead, value: false).whenFailure { _ in }
    }

    /// Reads again.
    func resume() {
        channel.setOption(ChannelOptions.autoRead, value: true).whenFailure { _ in }
    }
}

/// Decides, from a request's head, whether its body is streamed (a ``RequestBodyStream``) rather than collected.
typealias StreamedRequestDecision = (LocalHTTPRequest, HTTPResponder, ReadControl) -> RequestBodyStream?

/// Collects whole requests (bodies up to a limit) and hands each to `onRequest` with a responder; or, when
/// `streamedRequest` says so at the head, hands the body over as it arrives.
final class CollectingHTTPHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let bodyLimit: Int
    private let onRequest: (LocalHTTPRequest, HTTPResponder) -> Void
    private let streamedRequest: StreamedRequestDecision?
    private var head: HTTPRequestHead?
    private var body: [UInt8] = []
    private var bodyLength = 0
    private var pending: [HTTPResponder] = []
    private var stream: RequestBodyStream?

    init(
        bodyLimit: Int, streamedRequest: StreamedRequestDecision? = nil,
        onRequest: @escaping (LocalHTTPRequest, HTTPResponder) -> Void
    ) {
        self.bodyLimit = bodyLimit
        self.streamedRequest = streamedRequest
        self.onRequest = onRequest
    }

    private func responder(for requestHead: HTTPRequestHead, context: ChannelHandlerContext) -> HTTPResponder {
        let responder = HTTPResponder(context: context, keepAlive: requestHead.isKeepAlive, head: requestHead.method == .HEAD)
        pending.removeAll { $0.answered }
        pending.append(responder)
        return responder
    }

    private func request(_ requestHead: HTTPRequestHead, context: ChannelHandlerContext, body: [UInt8]) -> LocalHTTPRequest {
        LocalHTTPRequest(
            method: requestHead.method, uri: requestHead.uri, headers: requestHead.headers,
            body: body.count > bodyLimit ? Array(body.prefix(bodyLimit)) : body,
            bodyTooLarge: bodyLength > bodyLimit, bodyLength: bodyLength,
            remoteIP: context.channel.remoteAddress?.ipAddress ?? "127.0.0.1", version: requestHead.version)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let requestHead):
            head = requestHead
            body = []
            bodyLength = 0
            if let streamedRequest {
                let responder = responder(for: requestHead, context: context)
                let control = ReadControl(channel: context.channel)
                if let decided = streamedRequest(request(requestHead, context: context, body: []), responder, control) {
                    stream = decided
                    head = nil
                } else {
                    pending.removeAll { $0 === responder }
                }
            }
        case .body(let buffer) where stream != nil:
            stream?.received(buffer)
        case .end(let trailers) where stream != nil:
            let ended = stream
            stream = nil
            ended?.ended(trailers: trailers)
        case .body(var buffer):
            bodyLength += buffer.readableBytes
            let room = max(0, bodyLimit + 1 - body.count)
            if room > 0, let bytes = buffer.readBytes(length: min(room, buffer.readableBytes)) {
                body.append(contentsOf: bytes)
            }
        case .end:
            guard let requestHead = head else { return }
            head = nil
            let responder = responder(for: requestHead, context: context)
            let request = request(requestHead, context: context, body: body)
            body = []
            onRequest(request, responder)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        let interrupted = stream
        stream = nil
        interrupted?.aborted()
        let open = pending
        pending = []
        for responder in open {
            responder.connectionClosed()
            responder.writabilityChanged()
        }
        context.fireChannelInactive()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        for responder in pending { responder.writabilityChanged() }
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }
}

/// Starts an HTTP/1.1 server on 127.0.0.1 (port 0: any free port).
func startHTTPServer(
    on loop: EventLoop, port: Int, bodyLimit: Int,
    streamedRequest: (@Sendable (LocalHTTPRequest, HTTPResponder, ReadControl) -> RequestBodyStream?)? = nil,
    onRequest: @escaping @Sendable (LocalHTTPRequest, HTTPResponder) -> Void
) -> EventLoopFuture<Channel> {
    ServerBootstrap(group: loop)
        .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
        .childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
        .childChannelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                try channel.pipeline.syncOperations.addHandler(
                    CollectingHTTPHandler(bodyLimit: bodyLimit, streamedRequest: streamedRequest, onRequest: onRequest))
            }
        }
        .bind(host: "127.0.0.1", port: port)
}

extension LocalHTTPRequest {
    /// The first value of query parameter `name`, percent-decoded.
    func queryValue(_ name: String) -> String? {
        for pair in rawQuery.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            if parts[0].utf8.elementsEqual(name.utf8) {
                return parts.count > 1 ? String(parts[1]).removingPercentEncoding ?? String(parts[1]) : ""
            }
        }
        return nil
    }

    /// The service of a SigV4 `Authorization` header's credential scope (`lambda`, `monitoring`), if any.
    var signedService: String? {
        guard let authorization = headers.first(name: "Authorization"),
              let credential = authorization.range(of: "Credential=")
        else { return nil }
        let scope = authorization[credential.upperBound...].prefix { $0 != "," && $0 != " " }.split(separator: "/")
        return scope.count >= 5 ? String(scope[3]) : nil
    }
}
