import NIOHTTP1

/// One request of the Runtime API a child sends, recognised from its method and path.
enum RuntimeAPIRoute: Equatable {
    /// `GET /2018-06-01/runtime/invocation/next`
    case next
    /// `POST /2018-06-01/runtime/invocation/{id}/response`
    case response(requestID: String)
    /// `POST /2018-06-01/runtime/invocation/{id}/error`
    case error(requestID: String)
    /// `POST /2018-06-01/runtime/init/error`
    case initError

    /// The route of `method` `path`, or `nil` (answered 404) for anything else.
    init?(method: HTTPMethod, path: String) {
        let parts = path.split(separator: "/")
        guard parts.count >= 4, parts[0] == "2018-06-01", parts[1] == "runtime" else { return nil }
        switch (method, parts[2], parts.count, parts.last) {
        case (.GET, "invocation", 4, "next"): self = .next
        case (.POST, "invocation", 5, "response"): self = .response(requestID: String(parts[3]))
        case (.POST, "invocation", 5, "error"): self = .error(requestID: String(parts[3]))
        case (.POST, "init", 4, "error"): self = .initError
        default: return nil
        }
    }

    /// The error type a runtime posted (header first, then the body's `errorType`) and a JSON body
    /// for the caller (the runtime's own JSON, or one made of its text).
    static func errorDetails(_ request: LocalHTTPRequest) -> (type: String, body: [UInt8]) {
        errorDetails(type: request.headers.first(name: RuntimeAPIHeader.errorType), body: request.body)
    }

    /// The same for an error type and body from anywhere (the trailers of a streamed response).
    static func errorDetails(type header: String?, body: [UInt8]) -> (type: String, body: [UInt8]) {
        let parsed = try? JSONText.decoder.decode(JSONValue.self, from: body)
        let type = header.flatMap { $0.isEmpty ? nil : $0 } ?? parsed?["errorType"]?.string ?? "Runtime.Unknown"
        if case .object? = parsed { return (type, body) }
        let message = String(decoding: body, as: UTF8.self)
        return (type, JSONText.encode(["errorType": type, "errorMessage": message]))
    }
}
