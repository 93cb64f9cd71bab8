import LambdaRuntimeProtocol

extension RuntimeAPIRoute {
    /// The error type a runtime posted (header first, then the body's `errorType`) and a JSON body
    /// for the caller (the runtime's own JSON, or one made of its text).
    static func errorDetails(_ request: LocalHTTPRequest) -> (type: String, body: [UInt8]) {
        errorDetails(type: request.headers.first(name: RuntimeHeader.functionErrorType), body: request.body)
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
