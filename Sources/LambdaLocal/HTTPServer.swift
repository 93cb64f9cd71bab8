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
/// Confined to the channel's event loop.
public final class HTTPResponder {
    private let context: ChannelHandlerContext
    private let keepAlive: Bool
    private let head: Bool
    private(set) var answered = false
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
        let context = self.context
        context.writeAndFlush(NIOAny(HTTPServerResponsePart.end(nil))).whenComplete { _ in
            if !keepAlive { context.close(promise: nil) }
        }
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

/// Collects whole requests (bodies up to a limit) and hands each to `onRequest` with a responder.
final class CollectingHTTPHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let bodyLimit: Int
    private let onRequest: (LocalHTTPRequest, HTTPResponder) -> Void
    private var head: HTTPRequestHead?
    private var body: [UInt8] = []
    private var bodyLength = 0
    private var pending: [HTTPResponder] = []

    init(bodyLimit: Int, onRequest: @escaping (LocalHTTPRequest, HTTPResponder) -> Void) {
        self.bodyLimit = bodyLimit
        self.onRequest = onRequest
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let requestHead):
            head = requestHead
            body = []
            bodyLength = 0
        case .body(var buffer):
            bodyLength += buffer.readableBytes
            let room = max(0, bodyLimit + 1 - body.count)
            if room > 0, let bytes = buffer.readBytes(length: min(room, buffer.readableBytes)) {
                body.append(contentsOf: bytes)
            }
        case .end:
            guard let requestHead = head else { return }
            head = nil
            let responder = HTTPResponder(
                context: context, keepAlive: requestHead.isKeepAlive, head: requestHead.method == .HEAD)
            pending.removeAll { $0.answered }
            pending.append(responder)
            let remote = context.channel.remoteAddress?.ipAddress ?? "127.0.0.1"
            let request = LocalHTTPRequest(
                method: requestHead.method, uri: requestHead.uri, headers: requestHead.headers,
                body: body.count > bodyLimit ? Array(body.prefix(bodyLimit)) : body,
                bodyTooLarge: bodyLength > bodyLimit, bodyLength: bodyLength, remoteIP: remote,
                version: requestHead.version)
            body = []
            onRequest(request, responder)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        let open = pending
        pending = []
        for responder in open { responder.connectionClosed() }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }
}

/// Starts an HTTP/1.1 server on 127.0.0.1 (port 0: any free port).
func startHTTPServer(
    on loop: EventLoop, port: Int, bodyLimit: Int,
    onRequest: @escaping @Sendable (LocalHTTPRequest, HTTPResponder) -> Void
) -> EventLoopFuture<Channel> {
    ServerBootstrap(group: loop)
        .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
        .childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
        .childChannelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                try channel.pipeline.syncOperations.addHandler(
                    CollectingHTTPHandler(bodyLimit: bodyLimit, onRequest: onRequest))
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
