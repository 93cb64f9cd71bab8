import LeanJSON

/// A function's code that streams its response: takes the event bytes and writes the response to
/// `responseWriter` in as many pieces as it likes, as they become available.
///
/// On the wire (Lambda's response streaming): one `POST …/response` with
/// `Lambda-Runtime-Function-Response-Mode: streaming` and `Transfer-Encoding: chunked`, started by
/// the first write and ended by ``LambdaResponseStreamWriter/finish()`` or by returning.
///
/// Errors: a throw before the first byte is an invocation error (`POST …/error`, exactly as for a
/// ``LambdaHandler``). A throw after the first byte cannot take back what was sent: the stream ends
/// with the trailers `Lambda-Runtime-Function-Error-Type` and `Lambda-Runtime-Function-Error-Body`
/// (base64 of the same JSON `/error` would carry), and Lambda reports the invocation as failed.
public protocol StreamingLambdaHandler {
    /// Serves one invocation by writing to `responseWriter`. Returning finishes the stream if the
    /// handler did not; returning without writing anything sends an empty stream.
    mutating func handle(
        _ event: [UInt8], responseWriter: LambdaResponseStreamWriter, context: LambdaContext
    ) async throws

    /// Runs after the stream has ended, before the runtime asks for the next invocation.
    mutating func afterResponse(context: LambdaContext) async
}

extension StreamingLambdaHandler {
    /// Does nothing.
    public mutating func afterResponse(context: LambdaContext) async {}
}

/// A streaming handler that can serve several invocations at once (Lambda Managed Instances,
/// `AWS_LAMBDA_MAX_CONCURRENCY` ≥ 2); the same rules as ``ConcurrentLambdaHandler``. Each loop has
/// its own writer and connection.
public protocol ConcurrentStreamingLambdaHandler: StreamingLambdaHandler, Sendable {}

/// The status line, headers and cookies of a Function URL response in `RESPONSE_STREAM` mode,
/// written before the body by ``LambdaResponseStreamWriter/startHTTPResponse(_:)``.
public struct LambdaHTTPResponseHead: Sendable, Equatable {
    /// The HTTP status code, 100 to 599.
    public var statusCode: Int
    /// Response headers (one value each; cookies go in ``cookies``), written in name order.
    public var headers: [String: String]
    /// `Set-Cookie` values, in order.
    public var cookies: [String]

    /// Creates a response head.
    public init(statusCode: Int = 200, headers: [String: String] = [:], cookies: [String] = []) {
        self.statusCode = statusCode
        self.headers = headers
        self.cookies = cookies
    }

    /// The prelude Lambda expects: `{"statusCode":…,"headers":{…},"cookies":[…]}` followed by 8 NUL
    /// bytes (the Node.js runtime's `HttpResponseStream`). Throws for a status outside 100–599 and for
    /// a header name that is not an HTTP token or a value (or cookie) holding CR, LF or NUL: the front
    /// door would have to refuse them after the function had already answered.
    func prelude() throws(LambdaStreamingError) -> [UInt8] {
        guard (100...599).contains(statusCode) else {
            throw .invalidHTTPResponseHead("status code \(statusCode) is not between 100 and 599")
        }
        var text = #"{"statusCode":"#
        text += String(statusCode)
        text += #","headers":{"#
        for (index, name) in headers.keys.sorted().enumerated() {
            guard Self.isToken(name) else {
                throw .invalidHTTPResponseHead("header name \(name.debugDescription) is not an HTTP token")
            }
            let value = headers[name] ?? ""
            guard Self.isFieldValue(value) else {
                throw .invalidHTTPResponseHead("the value of header \(name) contains CR, LF or NUL")
            }
            if index > 0 { text += "," }
            JSON.writeString(name, to: &text)
            text += ":"
            JSON.writeString(value, to: &text)
        }
        text += #"},"cookies":["#
        for (index, cookie) in cookies.enumerated() {
            guard Self.isFieldValue(cookie) else {
                throw .invalidHTTPResponseHead("cookie \(index + 1) contains CR, LF or NUL")
            }
            if index > 0 { text += "," }
            JSON.writeString(cookie, to: &text)
        }
        text += "]}"
        var bytes = Array(text.utf8)
        bytes.append(contentsOf: repeatElement(0, count: Self.delimiterLength))
        return bytes
    }

    /// The NUL bytes between the prelude and the body.
    static let delimiterLength = RuntimeContentType.httpIntegrationDelimiterLength

    static func isToken(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.allSatisfy { byte in
            ASCII.isAlphanumeric(byte) || "!#$%&'*+-.^_`|~".utf8.contains(byte)
        }
    }

    static func isFieldValue(_ value: String) -> Bool {
        !value.utf8.contains { $0 == 0x0D || $0 == 0x0A || $0 == 0x00 }
    }
}
