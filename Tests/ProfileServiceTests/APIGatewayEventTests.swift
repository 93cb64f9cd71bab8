import LeanJSON
@testable import ProfileService
import Testing

@Suite struct APIGatewayEventTests {
    @Test func httpAPIv2EventIsDecoded() throws {
        let request = try APIRequest(event: SampleEvents.bytes("http-api-v2-get-profile.json"))
        #expect(request.method == "GET")
        #expect(request.rawPath == "/profiles/user-123")
        #expect(request.claims["sub"] == "user-123")
        #expect(request.claims["scope"] == "profiles/read profiles/write")
        #expect(request.header("Accept") == "application/json")
        #expect(request.header("cookie") == "locale=en-GB; theme=dark")
        #expect(request.requestID == "Vx1AbC2dIAMEb0A=")
        #expect(request.format == .v2)
        #expect(request.body.isEmpty)
    }

    /// Fields are looked up in the event, not gathered into dictionaries: each lookup must answer as
    /// the dictionary would (``RequestFields/dictionary``), case rules and odd members included.
    @Test func fieldsLookedUpInTheEventAnswerAsTheirDictionary() throws {
        let event = #"""
            {"version":"2.0","routeKey":"$default","rawPath":"/health","headers":{"Content-Type":"b","CONTENT-TYPE":"c","content-type":"a","X-Mixed":"m","X-MIXED":"M","Key":"kelvin","x-n":7,"x-t":true,"x-o":{},"x-z":null},"queryStringParameters":{"q":"1","Q":"2"},"requestContext":{"http":{"method":"GET","path":"/health"},"requestId":"r","authorizer":{"jwt":{"claims":{"sub":"user-1","exp":17.5,"admin":false,"list":["a"]}}}},"isBase64Encoded":false}
            """#
        let request = try APIRequest(event: Array(event.utf8))
        #expect(request.header("content-type") == "a", "the lower-case name wins")
        #expect(request.header("Content-Type") == "a")
        #expect(request.header("x-mixed") == "M", "else the smallest name in bytes")
        #expect(request.header("key") == "kelvin", "a name lower-cased beyond ASCII")
        #expect(request.header("x-n") == "7")
        #expect(request.header("x-t") == "true")
        #expect(request.header("x-o") == nil)
        #expect(request.header("x-z") == nil)
        #expect(request.headers["Content-Type"] == nil, "names are stored lower-cased")
        #expect(request.query["q"] == "1")
        #expect(request.query["Q"] == "2")
        #expect(request.claims["sub"] == "user-1")
        #expect(request.claims["exp"] == "17.5")
        #expect(request.claims["admin"] == "false")
        #expect(request.claims["list"] == nil)
        for fields in [request.headers, request.query, request.claims] {
            #expect(!fields.isEmpty)
            for (name, value) in fields.dictionary {
                #expect(fields[name] == value, "\(name)")
            }
        }
        #expect(request.headers.dictionary.count == 5)
        var changed = request.headers
        changed["content-type"] = "z"
        #expect(changed["content-type"] == "z")
        #expect(changed != request.headers)
    }

    /// `isEmpty` stops at the first field, and agrees with the dictionary: members that are not
    /// fields (null, objects, arrays) do not count, and later changes do.
    @Test func fieldsAreEmptyExactlyWhenTheirDictionaryIs() throws {
        func headers(_ members: String) throws -> RequestFields {
            let event = #"{"version":"2.0","rawPath":"/health","requestContext":{"http":{"method":"GET"}},"headers":"#
                + members + "}"
            return try APIRequest(event: Array(event.utf8)).headers
        }
        for (members, empty) in [
            ("{}", true), (#"{"a":null,"b":{},"c":[]}"#, true), ("null", true),
            (#"{"a":null,"b":""}"#, false), (#"{"x":{},"n":0}"#, false), (#"{"t":false}"#, false),
        ] {
            let fields = try headers(members)
            #expect(fields.isEmpty == empty, "\(members)")
            #expect(fields.isEmpty == fields.dictionary.isEmpty, "\(members)")
        }
        var removed = try headers(#"{"cookie":"a=1"}"#)
        removed["cookie"] = nil
        #expect(removed.isEmpty)
        var added = try headers("{}")
        added["cookie"] = "a=1"
        #expect(!added.isEmpty)
    }

    /// A name is found by its bytes: a header whose name is only canonically equivalent to the one
    /// looked up (`e` + U+0301 against U+00E9) is not that header.
    @Test func fieldNamesMatchByBytesNotByCanonicalEquivalence() throws {
        let event = #"{"version":"2.0","rawPath":"/health","requestContext":{"http":{"method":"GET"}},"headers":{"x-caf\#u{65}\#u{301}":"decomposed"}}"#
        let request = try APIRequest(event: Array(event.utf8))
        #expect(request.header("x-caf\u{E9}") == nil)
        #expect(request.header("x-caf\u{65}\u{301}") == "decomposed")
    }

    @Test func base64BodyIsDecoded() throws {
        let request = try APIRequest(event: SampleEvents.bytes("http-api-v2-put-profile-base64.json"))
        #expect(request.bodyProblem == nil)
        let body = try JSON(parsing: request.body)
        #expect(body["displayName"]?.stringValue == "Ada Lovelace")
    }

    @Test func restAPIv1EventIsDecodedWithCognitoClaims() throws {
        let request = try APIRequest(event: SampleEvents.bytes("rest-api-v1-get-profile.json"))
        #expect(request.method == "GET")
        #expect(request.rawPath == "/profiles/user-123")
        #expect(request.claims["sub"] == "user-123")
        #expect(request.format == .v1)
    }

    @Test func functionURLEventIsDecoded() throws {
        let request = try APIRequest(event: SampleEvents.bytes("function-url-get-profile.json"))
        #expect(request.method == "GET")
        #expect(request.rawPath == "/profiles/user-123")
        #expect(request.claims.isEmpty)
    }

    @Test(arguments: [#"{"version":"0","source":"aws.events"}"#, "[1,2]", "\"text\"", "not json"])
    func nonHTTPEventsAreInvalidEvent(_ event: String) {
        #expect { try APIRequest(event: Array(event.utf8)) } throws: { error in
            (error as? InvalidEventError)?.errorType == "InvalidEvent"
        }
    }

    @Test func scheduledEventSampleIsInvalidEventWithAClearMessage() throws {
        let error = try #require(throws: InvalidEventError.self) {
            try APIRequest(event: SampleEvents.bytes("not-http-event.json"))
        }
        #expect(error.errorMessage.contains("expected an API Gateway HTTP API"))
        #expect(error.errorMessage.contains("detail-type"))
    }

    @Test func brokenBase64IsABodyProblemNotACrash() throws {
        let request = try APIRequest(event: Events.v2("PUT", "/profiles/user-123", base64Body: "!!not base64!!"))
        #expect(request.bodyProblem != nil)
    }

    @Test func responsesGoBackInTheFormatThatCameIn() throws {
        let response = APIResponse(status: 201, json: ["ok": true], headers: ["etag": "\"1\""])
        let v2 = try JSON(parsing: response.encoded(for: .v2))
        #expect(v2["statusCode"]?.intValue == 201)
        #expect(v2["headers"]?["etag"]?.stringValue == "\"1\"")
        #expect(v2["body"]?.stringValue == #"{"ok":true}"#)
        #expect(v2["isBase64Encoded"]?.boolValue == false)
        #expect(v2["multiValueHeaders"] == nil)
        let v1 = try JSON(parsing: response.encoded(for: .v1))
        #expect(v1["statusCode"]?.intValue == 201)
        #expect(v1["multiValueHeaders"] != nil)
    }

    @Test(arguments: [
        APIResponse(status: 200, json: ["name": "Zoë \"Z\"", "n": 1], headers: ["etag": "\"1\"", "Content-Type": "application/json"]),
        APIResponse(status: 204),
        APIResponse(status: 200, headers: ["a\u{1}b": "tab\there", "\u{212A}": "kelvin"], body: [0xFF, 0x00, 0x41]),
        APIResponse(status: 400, body: Array("caf\u{E9} \u{1F600}".utf8)),
    ])
    func encodingIsExactlyTheJSONWritersText(_ response: APIResponse) {
        for format in [PayloadFormat.v1, .v2] {
            let bodyText = String(validating: response.body, as: UTF8.self)
            var envelope: [String: JSON] = [
                "statusCode": .number(Double(response.status)), "headers": .object(response.headers.mapValues { .string($0) }),
                "body": .string(bodyText ?? Base64.encode(response.body)), "isBase64Encoded": .bool(bodyText == nil),
            ]
            if format == .v1 { envelope["multiValueHeaders"] = .object([:]) }
            #expect(response.encoded(for: format) == JSON.object(envelope).bytes)
        }
    }

    @Test func base64RoundTrips() {
        for sample in [[UInt8](), [0], [0, 1], [0, 1, 2], Array("any carnal pleasure.".utf8), Array(0...255)] {
            #expect(Base64.decode(Base64.encode(sample)) == sample)
        }
        #expect(Base64.encode(Array("Man".utf8)) == "TWFu")
        #expect(Base64.decode("TWE") == Array("Ma".utf8))
        #expect(Base64.decode("TW=u") == nil)
        #expect(Base64.decode("T") == nil)
    }
}
