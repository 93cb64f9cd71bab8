import Foundation
import NIOHTTP1

/// An API Gateway HTTP API request event, payload format 2.0, as API Gateway sends it to a function.
struct APIGatewayV2Request: Encodable, Equatable {
    struct RequestContext: Encodable, Equatable {
        struct HTTP: Encodable, Equatable {
            var method: String
            var path: String
            var `protocol`: String
            var sourceIp: String
            var userAgent: String
        }

        struct Authorizer: Encodable, Equatable {
            struct JWT: Encodable, Equatable {
                /// The token's claims, every value as a string (as API Gateway's JWT authorizer passes them).
                var claims: [String: String]
                /// The `scope` claim split on spaces; `null` when the token has none.
                var scopes: [String]?

                func encode(to encoder: Encoder) throws {
                    var container = encoder.container(keyedBy: CodingKeys.self)
                    try container.encode(claims, forKey: .claims)
                    try container.encode(scopes, forKey: .scopes)
                }

                enum CodingKeys: String, CodingKey { case claims, scopes }
            }

            var jwt: JWT
        }

        var accountId = "123456789012"
        var apiId = "local"
        var domainName: String
        var domainPrefix: String
        var http: HTTP
        var requestId: String
        var routeKey = "$default"
        var stage = "$default"
        var time: String
        var timeEpoch: Int64
        var authorizer: Authorizer?
    }

    var version = "2.0"
    var routeKey = "$default"
    var rawPath: String
    var rawQueryString: String
    var cookies: [String]?
    var headers: [String: String]
    var queryStringParameters: [String: String]?
    var requestContext: RequestContext
    var body: String?
    var isBase64Encoded: Bool
}

/// What a function answers to an API Gateway HTTP API (payload 2.0): a structured response when it has
/// a `statusCode`; any other JSON is a bare result.
struct APIGatewayV2Response: Decodable {
    var statusCode: Int
    var headers: [String: JSONValue]?
    var multiValueHeaders: [String: [JSONValue]]?
    var cookies: [String]?
    var body: String?
    var isBase64Encoded: Bool?
}

/// Turns an HTTP request into an API Gateway HTTP API payload 2.0 event, and the function's result
/// back into an HTTP response, as API Gateway does.
enum APIGatewayHTTPEvent {
    /// The event for `request`.
    static func event(for request: LocalHTTPRequest, requestID: String, now: Date = Date()) -> APIGatewayV2Request {
        var headers: [String: String] = [:]
        var cookies: [String] = []
        for (name, value) in request.headers {
            let lower = name.lowercased()
            if lower == "cookie" {
                cookies.append(contentsOf: value.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty })
                continue
            }
            headers[lower] = headers[lower].map { $0 + "," + value } ?? value
        }
        let path = request.path.removingPercentEncoding ?? request.path
        let host = request.headers.first(name: "Host") ?? "127.0.0.1"
        let http = APIGatewayV2Request.RequestContext.HTTP(
            method: request.method.rawValue, path: path, protocol: "HTTP/\(request.version.major).\(request.version.minor)",
            sourceIp: request.remoteIP, userAgent: request.headers.first(name: "User-Agent") ?? "")
        let authorizer = bearerClaims(request.headers.first(name: "Authorization")).map { claims in
            APIGatewayV2Request.RequestContext.Authorizer(jwt: .init(
                claims: claims, scopes: claims["scope"].map { $0.split(separator: " ").map(String.init) }))
        }
        let context = APIGatewayV2Request.RequestContext(
            domainName: host, domainPrefix: String(host.prefix { $0 != "." && $0 != ":" }), http: http, requestId: requestID,
            time: clfTime(now), timeEpoch: Int64(now.timeIntervalSince1970 * 1000), authorizer: authorizer)
        var event = APIGatewayV2Request(
            rawPath: path, rawQueryString: request.rawQuery, cookies: cookies.isEmpty ? nil : cookies, headers: headers,
            queryStringParameters: queryParameters(request.rawQuery), requestContext: context, body: nil, isBase64Encoded: false)
        if request.bodyLength > 0 {
            if isText(contentType: headers["content-type"], body: request.body) {
                event.body = String(decoding: request.body, as: UTF8.self)
            } else {
                event.body = Data(request.body).base64EncodedString()
                event.isBase64Encoded = true
            }
        }
        return event
    }

    /// The HTTP response API Gateway makes from a function result (payload format 2.0).
    static func response(from payload: [UInt8]) -> (status: HTTPResponseStatus, headers: HTTPHeaders, body: [UInt8]) {
        guard let parsed = try? JSONText.decoder.decode(JSONValue.self, from: payload) else { return internalServerError() }
        guard case .number? = parsed["statusCode"],
              let structured = try? JSONText.decoder.decode(APIGatewayV2Response.self, from: payload)
        else {
            // A bare JSON result: 200, application/json, the JSON itself as the body.
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: "application/json")
            return (.ok, headers, payload)
        }
        var headers = HTTPHeaders()
        for (name, value) in structured.headers ?? [:] { headers.add(name: name, value: stringValue(value)) }
        for (name, values) in structured.multiValueHeaders ?? [:] {
            for value in values { headers.add(name: name, value: stringValue(value)) }
        }
        for cookie in structured.cookies ?? [] { headers.add(name: "Set-Cookie", value: cookie) }
        var body: [UInt8] = []
        if let text = structured.body {
            if structured.isBase64Encoded == true {
                guard let data = Data(base64Encoded: text) else { return internalServerError() }
                body = Array(data)
            } else {
                body = Array(text.utf8)
            }
        }
        if !headers.contains(name: "Content-Type"), !body.isEmpty {
            headers.add(name: "Content-Type", value: "application/json")
        }
        return (HTTPResponseStatus(statusCode: structured.statusCode), headers, body)
    }

    /// The status and headers of a streamed HTTP integration response from its JSON prelude
    /// (`{"statusCode":…,"headers":{…},"cookies":[…]}`, the bytes before the 8 NULs); `nil` if it is not JSON.
    /// The status defaults to 200; cookies become `Set-Cookie` fields.
    static func streamedHead(prelude: [UInt8]) -> (status: HTTPResponseStatus, headers: HTTPHeaders)? {
        guard let parsed = try? JSONText.decoder.decode(JSONValue.self, from: prelude), case .object(let fields) = parsed else {
            return nil
        }
        var status = HTTPResponseStatus.ok
        if case .number(let code)? = fields["statusCode"], (100...599).contains(code) { status = HTTPResponseStatus(statusCode: Int(code)) }
        var headers = HTTPHeaders()
        if case .object(let named)? = fields["headers"] {
            for (name, value) in named { headers.add(name: name, value: stringValue(value)) }
        }
        if case .object(let named)? = fields["multiValueHeaders"] {
            for (name, values) in named {
                guard case .array(let list) = values else { continue }
                for value in list { headers.add(name: name, value: stringValue(value)) }
            }
        }
        if case .array(let cookies)? = fields["cookies"] {
            for cookie in cookies { headers.add(name: "Set-Cookie", value: stringValue(cookie)) }
        }
        return (status, headers)
    }

    /// API Gateway's answer when the integration fails.
    static func internalServerError() -> (status: HTTPResponseStatus, headers: HTTPHeaders, body: [UInt8]) {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json")
        return (.internalServerError, headers, Array(#"{"message":"Internal Server Error"}"#.utf8))
    }

    /// The claims of a `Bearer` JWT, decoded without checking the signature (local testing only),
    /// with values as strings the way API Gateway's JWT authorizer passes them.
    static func bearerClaims(_ authorization: String?) -> [String: String]? {
        guard let authorization, authorization.lowercased().hasPrefix("bearer ") else { return nil }
        let token = authorization.dropFirst("bearer ".count).trimmingCharacters(in: .whitespaces)
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3 else { return nil }
        var payload = parts[1].replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while payload.count % 4 != 0 { payload += "=" }
        guard let data = Data(base64Encoded: payload),
              case .object(let object)? = try? JSONText.decoder.decode(JSONValue.self, from: Array(data))
        else { return nil }
        return object.mapValues(stringValue)
    }

    /// A JSON value as API Gateway writes it into a string: text as is, numbers without a needless
    /// fraction, arrays as `[a b]`, objects as JSON.
    private static func stringValue(_ value: JSONValue) -> String {
        switch value {
        case .string(let text): return text
        case .bool(let flag): return flag ? "true" : "false"
        case .null: return "null"
        case .number(let number):
            if number == number.rounded(), abs(number) < 1e15 { return String(Int64(number)) }
            return String(number)
        case .array(let values): return "[" + values.map(stringValue).joined(separator: " ") + "]"
        case .object: return String(decoding: JSONText.encode(value), as: UTF8.self)
        }
    }

    private static func queryParameters(_ raw: String) -> [String: String]? {
        guard !raw.isEmpty else { return nil }
        var result: [String: String] = [:]
        for pair in raw.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let key = decode(String(parts[0]))
            let value = parts.count > 1 ? decode(String(parts[1])) : ""
            result[key] = result[key].map { $0 + "," + value } ?? value
        }
        return result
    }

    private static func decode(_ text: String) -> String {
        text.replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? text
    }

    private static func isText(contentType: String?, body: [UInt8]) -> Bool {
        guard let contentType = contentType?.lowercased() else {
            return String(validating: body, as: UTF8.self) != nil
        }
        let textual = contentType.hasPrefix("text/") || contentType.contains("json") || contentType.contains("xml")
            || contentType.contains("javascript") || contentType.contains("x-www-form-urlencoded")
        return textual && String(validating: body, as: UTF8.self) != nil
    }

    private static func clfTime(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "dd/MMM/yyyy:HH:mm:ss Z"
        return formatter.string(from: date)
    }
}
