import CCurl

/// A transfer that did not produce an HTTP response.
public struct CurlError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong, grouped by what a caller can do about it.
    public enum Kind: Sendable, Equatable {
        /// Nothing accepted the connection (refused, unreachable, connect timeout).
        case couldNotConnect
        /// The host name did not resolve.
        case couldNotResolve
        /// The connection broke while sending or receiving, or the peer closed it without answering.
        case connectionLost
        /// The transfer took longer than its timeout.
        case timedOut
        /// The response body was larger than the request allowed.
        case responseTooLarge
        /// libcurl could not be set up (out of memory, unsupported option).
        case setupFailed
        /// The request was refused before sending: a header or the URL holds CR, LF or NUL, which
        /// would split or end the line libcurl writes.
        case invalidRequest
        /// Any other libcurl failure; ``CurlError/code`` says which.
        case other
    }

    /// The libcurl result code (`CURLcode`), or 0 for errors raised by this module.
    public let code: Int
    /// libcurl's detailed message for this transfer, or its generic one.
    public let message: String
    /// The group the failure belongs to.
    public let kind: Kind

    /// Creates an error; normally only ``CurlSession`` does.
    public init(code: Int, message: String, kind: Kind) {
        self.code = code
        self.message = message
        self.kind = kind
    }

    init(code: CURLcode, detail: String) {
        let generic = String(cString: curl_easy_strerror(code))
        self.code = Int(code.rawValue)
        self.message = detail.isEmpty ? generic : detail
        switch code {
        case CURLE_COULDNT_CONNECT: kind = .couldNotConnect
        case CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY: kind = .couldNotResolve
        case CURLE_GOT_NOTHING, CURLE_SEND_ERROR, CURLE_RECV_ERROR, CURLE_PARTIAL_FILE: kind = .connectionLost
        case CURLE_OPERATION_TIMEDOUT: kind = .timedOut
        case CURLE_OUT_OF_MEMORY, CURLE_FAILED_INIT, CURLE_UNKNOWN_OPTION, CURLE_NOT_BUILT_IN: kind = .setupFailed
        default: kind = .other
        }
    }

    /// `curl error N: message`.
    public var description: String { "curl error \(code): \(message)" }
}
