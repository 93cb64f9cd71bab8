/// Where the Runtime API lives, from `AWS_LAMBDA_RUNTIME_API`, and the URLs of its endpoints.
///
/// The value Lambda sets is `host:port` (for example `127.0.0.1:9001`). Some emulators add a path
/// prefix (`127.0.0.1:9000/.rt`) or a scheme; both are accepted.
public struct RuntimeAPIEndpoint: Sendable, Equatable, CustomStringConvertible {
    /// `http://host:port[/prefix]/2018-06-01/runtime`
    public let baseURL: String

    /// The URL of `GET …/invocation/next`.
    public let nextInvocationURL: String

    /// The URL of `POST …/init/error`.
    public let initErrorURL: String

    /// Parses an `AWS_LAMBDA_RUNTIME_API` value.
    public init(_ value: String) throws(RuntimeConfigurationError) {
        var rest = Substring(value).trimmingASCIIWhitespace()
        if rest.hasPrefix("http://") {
            rest = rest.dropFirst("http://".count)
        } else if rest.contains("://") {
            throw .invalidRuntimeAPI(value, reason: "only plain http is spoken to the Runtime API")
        }
        while rest.hasSuffix("/") { rest = rest.dropLast() }
        let hostPort = rest.prefix { $0 != "/" }
        guard !hostPort.isEmpty, !hostPort.hasPrefix(":") else {
            throw .invalidRuntimeAPI(value, reason: "expected host:port, for example 127.0.0.1:9001")
        }
        guard !rest.contains(where: { $0 == " " || $0 == "?" || $0 == "#" || $0.isNewline }) else {
            throw .invalidRuntimeAPI(value, reason: "it contains characters a host:port/prefix cannot have")
        }
        baseURL = "http://\(rest)/2018-06-01/runtime"
        nextInvocationURL = baseURL + "/invocation/next"
        initErrorURL = baseURL + "/init/error"
    }

    /// The URL of `POST …/invocation/{id}/response`.
    public func responseURL(for requestID: String) -> String {
        "\(baseURL)/invocation/\(requestID.percentEncodedPathSegment)/response"
    }

    /// The URL of `POST …/invocation/{id}/error`.
    public func errorURL(for requestID: String) -> String {
        "\(baseURL)/invocation/\(requestID.percentEncodedPathSegment)/error"
    }

    /// The base URL.
    public var description: String { baseURL }
}

extension Substring {
    func trimmingASCIIWhitespace() -> Substring {
        var result = self
        while let first = result.first, first == " " || first == "\t" || first == "\n" || first == "\r" {
            result = result.dropFirst()
        }
        while let last = result.last, last == " " || last == "\t" || last == "\n" || last == "\r" {
            result = result.dropLast()
        }
        return result
    }
}

extension String {
    /// The string with every byte outside RFC 3986's unreserved set percent-encoded, so a request id
    /// can never change the shape of a URL. Request ids Lambda sends (UUIDs) come back unchanged.
    var percentEncodedPathSegment: String {
        let isSafe: (UInt8) -> Bool = { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                || byte == 0x2D || byte == 0x2E || byte == 0x5F || byte == 0x7E
        }
        if utf8.allSatisfy(isSafe) { return self }
        let hex: [UInt8] = Array("0123456789ABCDEF".utf8)
        var encoded: [UInt8] = []
        encoded.reserveCapacity(utf8.count * 3)
        for byte in utf8 {
            if isSafe(byte) {
                encoded.append(byte)
            } else {
                encoded.append(0x25)
                encoded.append(hex[Int(byte >> 4)])
                encoded.append(hex[Int(byte & 0x0F)])
            }
        }
        return String(decoding: encoded, as: UTF8.self)
    }
}
