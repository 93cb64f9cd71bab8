import FeatureFlags
import Foundation
import LambdaRuntime
import LeanJSON
import Logging
import ProfileService

/// Sample events from the repository's `events/` folder.
enum SampleEvents {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../events").standardized

    static func bytes(_ name: String) throws -> [UInt8] {
        Array(try Data(contentsOf: folder.appendingPathComponent(name)))
    }

    static func json(_ name: String) throws -> JSON {
        try JSON(parsing: bytes(name), maxDepth: 64)
    }
}

/// Builds HTTP API 2.0 events the way API Gateway sends them.
enum Events {
    static func v2(
        _ method: String, _ path: String, body: String? = nil, sub: String? = "user-123", scope: String? = nil,
        headers: [String: String] = [:], base64Body: String? = nil
    ) -> [UInt8] {
        var allHeaders: [String: JSON] = ["accept": "application/json", "host": "api.example.com"]
        if body != nil || base64Body != nil { allHeaders["content-type"] = "application/json" }
        for (name, value) in headers { allHeaders[name.lowercased()] = .string(value) }
        var context: [String: JSON] = [
            "accountId": "123456789012", "apiId": "api", "domainName": "api.example.com", "domainPrefix": "api",
            "http": ["method": .string(method), "path": .string(path), "protocol": "HTTP/1.1", "sourceIp": "203.0.113.10",
                     "userAgent": "tests"],
            "requestId": .string("req-\(UUID().uuidString.prefix(8))"), "routeKey": "$default", "stage": "$default",
            "time": "28/Nov/2025:08:00:00 +0000", "timeEpoch": 1_764_316_800_000,
        ]
        if let sub {
            var claims: [String: JSON] = ["sub": .string(sub), "iss": "https://issuer.example.com"]
            if let scope { claims["scope"] = .string(scope) }
            context["authorizer"] = ["jwt": ["claims": .object(claims), "scopes": .null]]
        }
        var event: [String: JSON] = [
            "version": "2.0", "routeKey": "$default", "rawPath": .string(path), "rawQueryString": "",
            "headers": .object(allHeaders), "requestContext": .object(context), "isBase64Encoded": false,
        ]
        if let body { event["body"] = .string(body) }
        if let base64Body {
            event["body"] = .string(base64Body)
            event["isBase64Encoded"] = true
        }
        return JSON.object(event).bytes
    }
}

/// A handler over an in-memory store with a fixed flag value, and a context to call it with.
struct ProfileFixture {
    let store: InMemoryProfileStore
    let handler: ProfileHandler

    init(schemaV2: Bool = false, store: InMemoryProfileStore = InMemoryProfileStore()) {
        self.store = store
        let flags = StaticFlags([ProfileAPI.schemaFlag: schemaV2])
        handler = ProfileHandler(api: ProfileAPI(store: store, flags: flags, functionVersion: "7"))
    }

    static let context = LambdaContext(
        invocation: Invocation(requestID: "invocation-1"), function: FunctionMetadata(name: "profile-api", version: "7"),
        logger: Logger(label: "tests") { _ in SwiftLogNoOpLogHandler() })

    /// Calls the handler and decodes the API Gateway result.
    func call(_ event: [UInt8]) async throws -> Result {
        let output = try await handler.handle(event, context: Self.context)
        let result = try JSON(parsing: output)
        let body = result["body"]?.stringValue ?? ""
        return Result(
            status: result["statusCode"]?.intValue ?? 0,
            headers: (result["headers"]?.objectValue ?? [:]).compactMapValues(\.stringValue),
            body: body, json: try? JSON(parsing: body), raw: result)
    }

    struct Result {
        let status: Int
        let headers: [String: String]
        let body: String
        let json: JSON?
        let raw: JSON

        var errorCode: String? { json?["error"]?["code"]?.stringValue }
        var invalidFields: [String] {
            json?["error"]?["details"]?.arrayValue?.compactMap { $0["field"]?.stringValue } ?? []
        }
    }
}
