import Foundation
import NIOHTTP1

/// Turns an HTTP request into an API Gateway HTTP API payload 2.0 event, and the function's result
/// back into an HTTP response, as API Gateway does.
enum APIGatewayHTTPEvent {
    /// The event for `request`, arriving at `host` (for `domainName`).
    static func event(for request: LocalHTTPRequest, requestID: String, now: Date = Date()) -> [String: Any] {
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
        let rawQuery = request.rawQuery
        let host = request.headers.first(name: "Host") ?? "127.0.0.1"
        var http: [String: Any] = [
            "method": request.method.rawValue, "path": path, "protocol": "HTTP/\(request.version.major).\(request.version.minor)",
            "sourceIp": request.remoteIP, "userAgent": request.headers.first(name: "User-Agent") ?? "",
        ]
        http["userAgent"] = request.headers.first(name: "User-Agent") ?? ""
        var context: [String: Any] = [
            "accountId": "123456789012", "apiId": "local", "domainName": host,
            "domainPrefix": String(host.prefix { $0 != "." && $0 != ":" }), "http": http, "requestId": requestID,
            "routeKey": "$default", "stage": "$default", "time": Self.clfTime(now),
            "timeEpoch": Int64(now.timeIntervalSince1970 * 1000),
        ]
        if let claims = bearerClaims(request.headers.first(name: "Authorization")) {
            var jwt: [String: Any] = ["claims": claims]
            if let scope = claims["scope"] { jwt["scopes"] = scope.split(separator: " ").map(String.init) } else { jwt["scopes"] = NSNull() }
            context["authorizer"] = ["jwt": jwt]
        }
        var event: [String: Any] = [
            "version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": rawQuery,
            "headers": headers, "requestContext": context, "isBase64Encoded": false,
        ]
        if !cookies.isEmpty { event["cookies"] = cookies }
        if let query = queryParameters(rawQuery) { event["queryStringParameters"] = query }
        if request.bodyLength > 0 {
            if isText(contentType: headers["content-type"], body: request.body) {
                event["body"] = String(decoding: request.body, as: UTF8.self)
            } else {
                event["body"] = Data(request.body).base64EncodedString()
                event["isBase64Encoded"] = true
            }
        }
        return event
    }

    /// The HTTP response API Gateway makes from a function result (payload format 2.0).
    static func response(from payload: [UInt8]) -> (status: HTTPResponseStatus, headers: HTTPHeaders, body: [UInt8]) {
        let parsed = JSONText.parse(payload)
        guard let object = parsed as? [String: Any], let status = (object["statusCode"] as? NSNumber)?.intValue else {
            guard parsed != nil else {
                return internalServerError()
            }
            // A bare JSON result: 200, application/json, the JSON itself as the body.
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: "application/json")
            return (.ok, headers, payload)
        }
        var headers = HTTPHeaders()
        if let fields = object["headers"] as? [String: Any] {
            for (name, value) in fields { headers.add(name: name, value: stringValue(value)) }
        }
        if let multi = object["multiValueHeaders"] as? [String: [Any]] {
            for (name, values) in multi { for value in values { headers.add(name: name, value: stringValue(value)) } }
        }
        if let cookies = object["cookies"] as? [String] {
            for cookie in cookies { headers.add(name: "Set-Cookie", value: cookie) }
        }
        var body: [UInt8] = []
        if let text = object["body"] as? String {
            if (object["isBase64Encoded"] as? Bool) == true {
                guard let data = Data(base64Encoded: text) else { return internalServerError() }
                body = Array(data)
            } else {
                body = Array(text.utf8)
            }
        }
        if !headers.contains(name: "Content-Type"), !body.isEmpty {
            headers.add(name: "Content-Type", value: "application/json")
        }
        return (HTTPResponseStatus(statusCode: status), headers, body)
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
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        else { return nil }
        return object.mapValues(stringValue)
    }

    private static func stringValue(_ value: Any) -> String {
        switch value {
        case let text as String: return text
        case let number as NSNumber:
            if String(cString: number.objCType) == "c" { return number.boolValue ? "true" : "false" }
            return number.stringValue
        case let array as [Any]: return "[" + array.map(stringValue).joined(separator: " ") + "]"
        default: return JSONText.object(value)
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
