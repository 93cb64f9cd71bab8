import CurlHTTP
// The protocol's names, paths and status rules come with the runtime: `import LambdaRuntime` is enough.
@_exported import LambdaRuntimeProtocol

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

    /// `…/invocation/`: what the URL of every result starts with, made once.
    private let invocationURLPrefix: String

    /// Parses an `AWS_LAMBDA_RUNTIME_API` value.
    public init(_ value: String) throws(RuntimeConfigurationError) {
        var rest = Substring(value).trimmingASCIIWhitespace()
        if rest.hasPrefix("http://") {
            rest = rest.dropFirst("http://".count)
        } else if rest.utf8.contains(UInt8(ascii: ":")), rest.split(separator: ":", maxSplits: 1).last?.hasPrefix("//") == true {
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
        baseURL = "http://\(rest)" + RuntimeAPIRoute.basePath
        nextInvocationURL = baseURL + RuntimeAPIRoute.next.relativePath
        initErrorURL = baseURL + RuntimeAPIRoute.initError.relativePath
        invocationURLPrefix = baseURL + "/invocation/"
    }

    /// The URL of `POST …/invocation/{id}/response`.
    public func responseURL(for requestID: String) -> String {
        invocationURL(for: requestID, then: "/response")
    }

    /// The URL of `POST …/invocation/{id}/error`.
    public func errorURL(for requestID: String) -> String {
        invocationURL(for: requestID, then: "/error")
    }

    /// The prefix, `requestID` percent-encoded, then `suffix`, written into one new string: once per
    /// invocation, where the route's interpolation and a concatenation made two and copied the
    /// prefix twice (2,500 instructions). The same URL as ``RuntimeAPIRoute/relativePath`` spells
    /// (a test holds the two together).
    private func invocationURL(for requestID: String, then suffix: StaticString) -> String {
        var prefix = invocationURLPrefix
        var requestID = requestID
        return prefix.withUTF8 { prefix in
            requestID.withUTF8 { id in
                let suffix = UnsafeBufferPointer(start: suffix.utf8Start, count: suffix.utf8CodeUnitCount)
                let encodedCount = PercentEncoding.encodedCount(id)
                let count = prefix.count + encodedCount + suffix.count
                return String(unsafeUninitializedCapacity: count) { url in
                    var end = url.initialize(fromContentsOf: prefix)
                    // A request id (a UUID) needs no encoding: copied whole.
                    end = encodedCount == id.count
                        ? url[end...].initialize(fromContentsOf: id) : PercentEncoding.encode(id, into: url, at: end)
                    return url[end...].initialize(fromContentsOf: suffix)
                }
            }
        }
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
