import LambdaRuntime
import LeanJSON

/// Which API Gateway payload format a request came in, so the response goes back in the same one.
public enum PayloadFormat: Sendable, Equatable {
    /// HTTP API payload 2.0 (also Lambda Function URLs).
    case v2
    /// REST API payload 1.0.
    case v1
}

/// One HTTP request, whichever event shape it arrived in.
public struct APIRequest: Sendable, Equatable {
    /// `GET`, `PUT`…
    public var method: String
    /// The path as sent (still percent-encoded), without an HTTP API stage prefix.
    public var rawPath: String
    /// Header fields with lower-cased names.
    public var headers: [String: String]
    /// Query parameters (repeated ones joined with commas, as API Gateway does).
    public var query: [String: String]
    /// The body bytes, base64 already decoded.
    public var body: [UInt8]
    /// Set when the body could not be decoded (broken base64); the request gets a 400.
    public var bodyProblem: String?
    /// Authorizer claims: HTTP API JWT claims or REST API Cognito claims.
    public var claims: [String: String]
    /// API Gateway's request id.
    public var requestID: String
    /// The payload format, for the response.
    public var format: PayloadFormat

    /// Creates a request directly (tests, other front ends).
    public init(
        method: String, rawPath: String, headers: [String: String] = [:], query: [String: String] = [:],
        body: [UInt8] = [], claims: [String: String] = [:], requestID: String = "local", format: PayloadFormat = .v2
    ) {
        self.method = method
        self.rawPath = rawPath
        self.headers = Dictionary(headers.map { ($0.key.lowercased(), $0.value) }) { first, _ in first }
        self.query = query
        self.body = body
        self.claims = claims
        self.requestID = requestID
        self.format = format
    }

    /// Reads an API Gateway HTTP API 2.0, Function URL or REST API 1.0 event.
    public init(event bytes: [UInt8]) throws(InvalidEventError) {
        let event: JSON
        do {
            event = try JSON(parsing: bytes, maxDepth: 64)
        } catch {
            throw InvalidEventError(detail: "the event is not JSON (\(error))")
        }
        guard let object = event.objectValue else {
            throw InvalidEventError(detail: "the event is a JSON \(event.typeName)")
        }
        let context = object["requestContext"]?.objectValue ?? [:]
        if object["version"]?.stringValue == "2.0", let http = context["http"]?.objectValue,
           let method = http["method"]?.stringValue {
            var rawPath = object["rawPath"]?.stringValue ?? http["path"]?.stringValue ?? "/"
            if let stage = context["stage"]?.stringValue, stage != "$default", rawPath.hasPrefix("/\(stage)/") {
                rawPath.removeFirst(stage.count + 1)
            }
            var headers = Self.stringMap(object["headers"]).mapKeys { $0.lowercased() }
            if let cookies = object["cookies"]?.arrayValue?.compactMap(\.stringValue), !cookies.isEmpty {
                headers["cookie"] = cookies.joined(separator: "; ")
            }
            let claims = Self.stringMap(context["authorizer"]?["jwt"]?["claims"])
            self.init(
                method: method.uppercased(), rawPath: rawPath, headers: headers,
                query: Self.stringMap(object["queryStringParameters"]), body: [], claims: claims,
                requestID: context["requestId"]?.stringValue ?? "", format: .v2)
        } else if let method = object["httpMethod"]?.stringValue, let path = object["path"]?.stringValue {
            var headers = Self.stringMap(object["headers"]).mapKeys { $0.lowercased() }
            for (name, values) in object["multiValueHeaders"]?.objectValue ?? [:] where headers[name.lowercased()] == nil {
                headers[name.lowercased()] = values.arrayValue?.compactMap(\.stringValue).joined(separator: ",")
            }
            var query = Self.stringMap(object["queryStringParameters"])
            for (name, values) in object["multiValueQueryStringParameters"]?.objectValue ?? [:] {
                if let joined = values.arrayValue?.compactMap(\.stringValue).joined(separator: ",") { query[name] = joined }
            }
            let claims = Self.stringMap(context["authorizer"]?["claims"])
            self.init(
                method: method.uppercased(), rawPath: path, headers: headers, query: query, body: [], claims: claims,
                requestID: context["requestId"]?.stringValue ?? "", format: .v1)
        } else {
            let keys = object.keys.sorted().prefix(8).joined(separator: ", ")
            throw InvalidEventError(detail: "the event has none of their fields (it has: \(keys))")
        }
        if let text = object["body"]?.stringValue {
            if object["isBase64Encoded"]?.boolValue == true {
                if let decoded = Base64.decode(text) {
                    body = decoded
                } else {
                    bodyProblem = "the body is marked base64 but is not valid base64"
                }
            } else {
                body = Array(text.utf8)
            }
        }
    }

    /// A header value by case-insensitive name.
    public func header(_ name: String) -> String? {
        headers[name.lowercased()]
    }

    private static func stringMap(_ value: JSON?) -> [String: String] {
        guard let object = value?.objectValue else { return [:] }
        var result: [String: String] = [:]
        for (key, member) in object {
            switch member {
            case .string(let text): result[key] = text
            case .number, .bool: result[key] = member.text
            case .array(let elements): result[key] = "[" + elements.map { $0.stringValue ?? $0.text }.joined(separator: " ") + "]"
            default: continue
            }
        }
        return result
    }
}

/// The response to an ``APIRequest``.
public struct APIResponse: Sendable, Equatable {
    /// Status code.
    public var status: Int
    /// Header fields.
    public var headers: [String: String]
    /// Body bytes (JSON).
    public var body: [UInt8]

    /// Creates a response.
    public init(status: Int, headers: [String: String] = [:], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// A JSON response.
    public init(status: Int, json: JSON, headers: [String: String] = [:]) {
        var headers = headers
        headers["content-type"] = "application/json"
        self.init(status: status, headers: headers, body: json.bytes)
    }

    /// The body parsed as JSON, if it is.
    public var json: JSON? {
        try? JSON(parsing: body)
    }

    /// The Lambda result for API Gateway in the payload format the request came in.
    public func encoded(for format: PayloadFormat) -> [UInt8] {
        let bodyText = String(validating: body, as: UTF8.self)
        var result: [String: JSON] = [
            "statusCode": .number(Double(status)),
            "headers": .object(headers.mapValues { .string($0) }),
            "body": .string(bodyText ?? Base64.encode(body)),
            "isBase64Encoded": .bool(bodyText == nil),
        ]
        if format == .v1 {
            result["multiValueHeaders"] = .object([:])
        }
        return JSON.object(result).bytes
    }
}

/// The event is not an HTTP event this handler understands: an invocation error `InvalidEvent`.
public struct InvalidEventError: LambdaFunctionError, Equatable {
    /// What was wrong with it.
    public let detail: String

    /// `InvalidEvent`
    public var errorType: String { "InvalidEvent" }

    /// What was expected, and what came.
    public var errorMessage: String {
        "expected an API Gateway HTTP API (payload 2.0), Function URL or REST API (payload 1.0) event; \(detail)"
    }
}

extension Dictionary {
    func mapKeys<NewKey: Hashable>(_ transform: (Key) -> NewKey) -> [NewKey: Value] {
        Dictionary<NewKey, Value>(map { (transform($0.key), $0.value) }) { first, _ in first }
    }
}
