/// An HTTP request method.
public struct HTTPMethod: RawRepresentable, Sendable, Equatable, Hashable, CustomStringConvertible {
    /// The method token as sent on the wire, for example `GET`.
    public let rawValue: String
    /// Which of the methods libcurl names itself this is, found once: the session asks on every
    /// request (body or not, which option sets it), and each question was a string comparison.
    let known: Known

    /// The methods libcurl names itself, and any other.
    enum Known: UInt8 {
        case get, head, post, other
    }

    /// Creates a method from its token.
    public init(rawValue: String) {
        self.rawValue = rawValue
        // Tokens are case-sensitive (RFC 9110 9.1): compared byte for byte.
        let token = rawValue.utf8
        if token.elementsEqual("GET".utf8) {
            known = .get
        } else if token.elementsEqual("HEAD".utf8) {
            known = .head
        } else if token.elementsEqual("POST".utf8) {
            known = .post
        } else {
            known = .other
        }
    }

    /// Methods are equal when their tokens are.
    public static func == (lhs: HTTPMethod, rhs: HTTPMethod) -> Bool { lhs.rawValue == rhs.rawValue }

    /// Hashes the token.
    public func hash(into hasher: inout Hasher) { hasher.combine(rawValue) }

    /// `GET`
    public static let get = HTTPMethod(rawValue: "GET")
    /// `HEAD`
    public static let head = HTTPMethod(rawValue: "HEAD")
    /// `POST`
    public static let post = HTTPMethod(rawValue: "POST")
    /// `PUT`
    public static let put = HTTPMethod(rawValue: "PUT")
    /// `PATCH`
    public static let patch = HTTPMethod(rawValue: "PATCH")
    /// `DELETE`
    public static let delete = HTTPMethod(rawValue: "DELETE")

    /// The method token.
    public var description: String { rawValue }
}

/// AWS Signature Version 4 for one request, done by libcurl (`CURLOPT_AWS_SIGV4`).
public struct AWSSigV4: Sendable, Equatable {
    /// The region, for example `us-east-1`.
    public var region: String
    /// The signing name of the service, for example `dynamodb` or `appconfig`.
    public var service: String
    /// The access key id.
    public var accessKeyID: String
    /// The secret access key.
    public var secretAccessKey: String
    /// The session token of temporary credentials (inside Lambda always set); sent and signed as
    /// `X-Amz-Security-Token`.
    public var sessionToken: String?

    /// Creates signing parameters.
    public init(region: String, service: String, accessKeyID: String, secretAccessKey: String, sessionToken: String? = nil) {
        self.region = region
        self.service = service
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
    }

    /// libcurl's provider string: `aws:amz:REGION:SERVICE`.
    var provider: String { "aws:amz:\(region):\(service)" }
}

/// A request for ``CurlSession/perform(_:)``.
public struct HTTPRequest: Sendable {
    /// The method to send.
    public var method: HTTPMethod
    /// The absolute URL, for example `http://127.0.0.1:9001/2018-06-01/runtime/invocation/next`.
    public var url: String
    /// Header fields to send. An empty value removes a header libcurl would add on its own
    /// (for example `Expect:`).
    public var headers: HTTPHeaders
    /// The body; sent with an explicit `Content-Length` for every method but `GET` and `HEAD`.
    public var body: [UInt8]
    /// The longest the whole transfer may take; `nil` waits for ever (the Runtime API's `/next`).
    public var timeout: Duration?
    /// The largest response body accepted; a longer one fails with ``CurlError/Kind/responseTooLarge``.
    public var maxResponseBodySize: Int?
    /// Sign the request for AWS, if set.
    public var signing: AWSSigV4?
    /// The response header fields to keep (all by default).
    public var responseHeaders: ResponseHeaderSelection

    /// Creates a request.
    public init(
        method: HTTPMethod = .get,
        url: String,
        headers: HTTPHeaders = [:],
        body: [UInt8] = [],
        timeout: Duration? = nil,
        maxResponseBodySize: Int? = nil,
        signing: AWSSigV4? = nil,
        responseHeaders: ResponseHeaderSelection = .all
    ) {
        self.signing = signing
        self.responseHeaders = responseHeaders
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.timeout = timeout
        self.maxResponseBodySize = maxResponseBodySize
    }
}

/// A complete HTTP response.
public struct HTTPResponse: Sendable {
    /// The status code, for example 202.
    public var status: Int
    /// The header fields of the final response (interim `100 Continue` headers are dropped), those
    /// the request's ``HTTPRequest/responseHeaders`` selects.
    public var headers: HTTPHeaders
    /// The body bytes.
    public var body: [UInt8]
    /// Which of the request's ``HTTPRequest/responseHeaders`` names each kept field has, as the
    /// session matched it: a reader of the fields need not match the names again.
    package var selectedNames = SelectedNameIndices()

    /// Creates a response.
    public init(status: Int, headers: HTTPHeaders = [:], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// The body as UTF-8 text, with invalid bytes replaced; for logs and error messages.
    public var bodyText: String { String(decoding: body, as: UTF8.self) }
}

/// For each of a response's first 16 kept fields, the index of its name among the selection's
/// (when below 15): one word, no allocation.
package struct SelectedNameIndices: Sendable, Equatable {
    /// Four bits per field, from the lowest: its name's index plus one; 0 when not recorded.
    private var packed: UInt64 = 0

    package init() {}

    /// The index among the selection's names of the field at `position`, if it was recorded.
    package func nameIndex(ofField position: Int) -> Int? {
        guard position >= 0, position < 16 else { return nil }
        let nibble = Int(packed >> UInt64(4 * position) & 0xF)
        return nibble == 0 ? nil : nibble - 1
    }

    /// Records that the field at `position` has the name at `nameIndex`; ignored past the 16th
    /// field or from name 15 on (those are then matched by name).
    mutating func record(field position: Int, nameIndex: Int) {
        guard position >= 0, position < 16, nameIndex >= 0, nameIndex < 15 else { return }
        packed |= UInt64(nameIndex + 1) << UInt64(4 * position)
    }

    /// Forgets every field (a new status line started the header again).
    mutating func removeAll() {
        packed = 0
    }
}
