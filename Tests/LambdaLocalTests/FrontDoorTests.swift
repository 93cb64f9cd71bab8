import CurlHTTP
import Foundation
@testable import LambdaLocal
import Testing

/// The API Gateway HTTP API (payload 2.0) front door.
@Suite struct FrontDoorTests {
    /// A JWT whose payload is `claims`; the signature is junk on purpose (it is not checked locally).
    static func token(_ claims: String) -> String {
        func base64url(_ text: String) -> String {
            Data(text.utf8).base64EncodedString().replacingOccurrences(of: "+", with: "-")
                .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        }
        return base64url(#"{"alg":"RS256","typ":"JWT"}"#) + "." + base64url(claims) + ".not-a-signature"
    }

    @Test func requestBecomesAPayloadV2EventAndBareJSONComesBackAs200() async throws {
        try await LocalFixture.with(LocalFixture.echo()) { local in
            let jwt = Self.token(#"{"sub":"user-123","scope":"profiles/read profiles/write","exp":1764320100,"admin":false}"#)
            let response = try local.request(
                .put, "/profiles/user-123?expand=prefs&tag=a&tag=b",
                body: Array(#"{"name":"Ada"}"#.utf8),
                headers: ["Content-Type": "application/json", "Cookie": "session=abc; theme=dark", "Authorization": "Bearer \(jwt)",
                          "X-Custom": "1"])
            #expect(response.status == 200)
            #expect(response.headers["Content-Type"] == "application/json")
            #expect(response.headers["X-Amz-Executed-Version"] == "$LATEST")
            let event = try #require(json(response))
            #expect(event["version"] as? String == "2.0")
            #expect(event["routeKey"] as? String == "$default")
            #expect(event["rawPath"] as? String == "/profiles/user-123")
            #expect(event["rawQueryString"] as? String == "expand=prefs&tag=a&tag=b")
            #expect(event["cookies"] as? [String] == ["session=abc", "theme=dark"])
            #expect(event["queryStringParameters"] as? [String: String] == ["expand": "prefs", "tag": "a,b"])
            #expect(event["body"] as? String == #"{"name":"Ada"}"#)
            #expect(event["isBase64Encoded"] as? Bool == false)
            let headers = try #require(event["headers"] as? [String: String])
            #expect(headers["x-custom"] == "1")
            #expect(headers["content-type"] == "application/json")
            #expect(headers["cookie"] == nil, "cookies move to the cookies array")
            let context = try #require(event["requestContext"] as? [String: Any])
            let http = try #require(context["http"] as? [String: Any])
            #expect(http["method"] as? String == "PUT")
            #expect(http["path"] as? String == "/profiles/user-123")
            #expect(http["protocol"] as? String == "HTTP/1.1")
            #expect(http["sourceIp"] as? String == "127.0.0.1")
            #expect((http["userAgent"] as? String)?.hasPrefix("swift-lambda-bluegreen") == true)
            #expect(context["stage"] as? String == "$default")
            #expect((context["requestId"] as? String)?.isEmpty == false)
            #expect(context["time"] is String)
            let epoch = try #require(context["timeEpoch"] as? Int)
            #expect(abs(epoch - Int(Date().timeIntervalSince1970 * 1000)) < 60_000)
            let jwtContext = try #require((context["authorizer"] as? [String: Any])?["jwt"] as? [String: Any])
            let claims = try #require(jwtContext["claims"] as? [String: String])
            #expect(claims["sub"] == "user-123")
            #expect(claims["exp"] == "1764320100", "API Gateway passes claims as strings")
            #expect(claims["admin"] == "false")
            #expect(jwtContext["scopes"] as? [String] == ["profiles/read", "profiles/write"])
        }
    }

    /// Replays the AWS-shaped sample `events/http-api-v2-get-profile.json` through the front door and
    /// compares the event lambda-local builds with it.
    @Test func eventMatchesTheShapeOfARealHTTPAPIEvent() async throws {
        let samplePath = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../events/http-api-v2-get-profile.json").standardized.path
        let sample = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: samplePath))) as? [String: Any])
        let sampleHeaders = try #require(sample["headers"] as? [String: String])
        let sampleCookies = try #require(sample["cookies"] as? [String])
        try await LocalFixture.with(LocalFixture.echo()) { local in
            var headers: CurlHTTP.HTTPHeaders = ["Cookie": sampleCookies.joined(separator: "; ")]
            for name in ["accept", "authorization", "user-agent"] {
                headers.add(name, try #require(sampleHeaders[name]))
            }
            let response = try local.request(.get, "/profiles/user-123", headers: headers)
            let event = try #require(json(response))
            let optionalTopLevel: Set<String> = ["pathParameters", "stageVariables", "queryStringParameters", "body"]
            #expect(Set(event.keys).subtracting(optionalTopLevel) == Set(sample.keys).subtracting(optionalTopLevel))
            let context = try #require(event["requestContext"] as? [String: Any])
            let sampleContext = try #require(sample["requestContext"] as? [String: Any])
            #expect(Set(context.keys) == Set(sampleContext.keys))
            #expect(Set((context["http"] as? [String: Any] ?? [:]).keys) == Set((sampleContext["http"] as? [String: Any] ?? [:]).keys))
            #expect(event["cookies"] as? [String] == sampleCookies)
            #expect(event["rawPath"] as? String == sample["rawPath"] as? String)
            #expect(event["rawQueryString"] as? String == "")
            let jwt = (context["authorizer"] as? [String: Any])?["jwt"] as? [String: Any]
            let sampleJWT = (sampleContext["authorizer"] as? [String: Any])?["jwt"] as? [String: Any]
            #expect(jwt?["claims"] as? [String: String] == sampleJWT?["claims"] as? [String: String])
            #expect(jwt?["scopes"] as? [String] == sampleJWT?["scopes"] as? [String])
            let time = try #require(context["time"] as? String)
            #expect(time.wholeMatch(of: /\d{2}\/[A-Z][a-z]{2}\/\d{4}:\d{2}:\d{2}:\d{2} \+0000/) != nil)
        }
    }

    @Test func binaryBodiesAreBase64Encoded() async throws {
        try await LocalFixture.with(LocalFixture.echo()) { local in
            let bytes: [UInt8] = [0, 159, 146, 150, 255]
            let response = try local.request(.post, "/upload", body: bytes, headers: ["Content-Type": "application/octet-stream"])
            let event = try #require(json(response))
            #expect(event["isBase64Encoded"] as? Bool == true)
            #expect(event["body"] as? String == Data(bytes).base64EncodedString())
        }
    }

    @Test func functionErrorBecomes500LikeAPIGateway() async throws {
        try await LocalFixture.with(LocalFixture.echo(handler: "missing")) { local in
            let response = try local.request(.get, "/health")
            #expect(response.status == 500)
            #expect(json(response)?["message"] as? String == "Internal Server Error")
        }
    }

    @Test func structuredResultMapsStatusHeadersCookiesAndBody() {
        let payload = #"{"statusCode":201,"headers":{"x-profile-schema":"2","content-type":"application/json"},"cookies":["a=1; Path=/","b=2"],"body":"{\"ok\":true}","isBase64Encoded":false}"#
        let response = APIGatewayHTTPEvent.response(from: Array(payload.utf8))
        #expect(response.status.code == 201)
        #expect(response.headers["x-profile-schema"] == ["2"])
        #expect(response.headers["Set-Cookie"] == ["a=1; Path=/", "b=2"])
        #expect(String(decoding: response.body, as: UTF8.self) == #"{"ok":true}"#)
    }

    @Test func base64ResultBodyIsDecoded() {
        let payload = #"{"statusCode":200,"headers":{"content-type":"image/png"},"body":"AJ+Slv8=","isBase64Encoded":true}"#
        let response = APIGatewayHTTPEvent.response(from: Array(payload.utf8))
        #expect(response.body == [0, 159, 146, 150, 255])
        #expect(response.headers["content-type"] == ["image/png"])
    }

    @Test func bareJSONIs200AndGarbageIs500() {
        let bare = APIGatewayHTTPEvent.response(from: Array(#"{"userId":"u1"}"#.utf8))
        #expect(bare.status == .ok)
        #expect(bare.headers["Content-Type"] == ["application/json"])
        #expect(String(decoding: bare.body, as: UTF8.self) == #"{"userId":"u1"}"#)
        let garbage = APIGatewayHTTPEvent.response(from: Array("not json".utf8))
        #expect(garbage.status == .internalServerError)
    }

    @Test func malformedTokensGiveNoClaims() {
        #expect(APIGatewayHTTPEvent.bearerClaims(nil) == nil)
        #expect(APIGatewayHTTPEvent.bearerClaims("Basic dXNlcjpwYXNz") == nil)
        #expect(APIGatewayHTTPEvent.bearerClaims("Bearer only.two") == nil)
        #expect(APIGatewayHTTPEvent.bearerClaims("Bearer a.!!!.c") == nil)
        #expect(APIGatewayHTTPEvent.bearerClaims("bearer " + Self.token(#"{"sub":"x"}"#)) == ["sub": "x"])
    }
}
