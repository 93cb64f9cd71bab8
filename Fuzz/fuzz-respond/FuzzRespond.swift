import Dispatch
import FeatureFlags
import Foundation
import FuzzDriver
import LambdaRuntime
import LeanJSON
import Logging
import ProfileService

/// Fuzzes the whole request path of the profile handler (event parser, router, validation,
/// `ProfileAPI.respond`, the response encoding) over an in-memory store and static flags, once with
/// schema v1 and once with v2: no crash, and every answer is a well-formed API Gateway response in
/// the payload format the request came in.
@main
enum FuzzRespond {
    static func main() {
        FuzzDriver.main(check)
    }

    static let context = LambdaContext(
        invocation: Invocation(requestID: "fuzz"), function: FunctionMetadata(name: "profile-api", version: "7"),
        logger: Logger(label: "fuzz") { _ in SwiftLogNoOpLogHandler() })

    /// Each input gets a fresh store that already holds the sample events' profile (`user-123`),
    /// so that reads, patches and deletes get past "not found".
    static func handler(schemaV2: Bool) async -> ProfileHandler {
        let store = InMemoryProfileStore()
        _ = try? await store.update(
            "user-123",
            ProfileWrite(set: ["name": "Ada Lovelace", "email": "ada@example.com", "displayName": "Ada",
                               "preferences": ["theme": "dark"]]),
            expectedVersion: nil, deadline: nil)
        let flags = StaticFlags([ProfileAPI.schemaFlag: schemaV2])
        return ProfileHandler(api: ProfileAPI(store: store, flags: flags, functionVersion: "7"))
    }

    static func check(_ input: [UInt8]) {
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var outputs: [Result<[UInt8], any Error>] = []
        Task {
            for schemaV2 in [false, true] {
                let handler = await handler(schemaV2: schemaV2)
                do {
                    outputs.append(.success(try await handler.handle(input, context: context)))
                } catch {
                    outputs.append(.failure(error))
                }
            }
            done.signal()
        }
        done.wait()
        for output in outputs {
            switch output {
            case .success(let bytes):
                verify(bytes, expectV1: expectsV1(input), input: input)
            case .failure(let error as InvalidEventError):
                guard error.errorType == "InvalidEvent" else { FuzzDriver.fail("odd error type", input) }
                if let shape = apiGatewayShape(input) {
                    FuzzDriver.fail("an API Gateway \(shape) event became the function error \(error.errorMessage)", input)
                }
            case .failure(let error):
                FuzzDriver.fail("the handler threw \(error) (a function error)", input)
            }
        }
    }

    /// `"2.0"` or `"1.0"` when the input is an event API Gateway could deliver: a JSON object with
    /// `version` "2.0" and a string `requestContext.http.method`, or with string `httpMethod` and `path`.
    /// Such an event must be answered (at worst with a 400), never be a function error: those count in
    /// Lambda's `Errors`. Read with LeanJSON; when LeanJSON refuses only because two keys are canonically
    /// equivalent (API Gateway passes query and header names through as sent), read with Foundation's parser.
    static func apiGatewayShape(_ input: [UInt8]) -> String? {
        do {
            let event = try JSON(parsing: input, maxDepth: 64)
            if event["version"]?.stringValue == "2.0", event["requestContext"]?["http"]?["method"]?.stringValue != nil {
                return "2.0"
            }
            if event["httpMethod"]?.stringValue != nil, event["path"]?.stringValue != nil { return "1.0" }
            return nil
        } catch {
            guard case .equivalentKeys = error.reason,
                  let object = try? JSONSerialization.jsonObject(with: Data(input)) as? [String: Any]
            else { return nil }
            let http = (object["requestContext"] as? [String: Any])?["http"] as? [String: Any]
            if object["version"] as? String == "2.0", http?["method"] is String { return "2.0" }
            if object["httpMethod"] is String, object["path"] is String { return "1.0" }
            return nil
        }
    }

    /// A REST API (payload 1.0) event, read independently of the parser under test: `httpMethod`
    /// and `path` strings, and no `"version": "2.0"` with a `requestContext.http.method`.
    static func expectsV1(_ input: [UInt8]) -> Bool {
        guard let event = try? JSON(parsing: input, maxDepth: 64) else { return false }
        let v2 = event["version"]?.stringValue == "2.0" && event["requestContext"]?["http"]?["method"]?.stringValue != nil
        return !v2
    }

    static func verify(_ output: [UInt8], expectV1: Bool, input: [UInt8]) {
        guard let result = try? JSON(parsing: output), case .object(let members) = result else {
            FuzzDriver.fail("the result is not a JSON object: \(String(decoding: output, as: UTF8.self))", input)
        }
        guard let status = members["statusCode"]?.intValue, (100...599).contains(status) else {
            FuzzDriver.fail("statusCode is not an integer 100-599: \(result.text)", input)
        }
        guard case .object(let headers)? = members["headers"] else { FuzzDriver.fail("headers is not an object", input) }
        for (name, value) in headers {
            guard case .string(let text) = value else { FuzzDriver.fail("header \(name) is not a string", input) }
            guard !name.isEmpty, name.utf8.allSatisfy(isTokenByte) else {
                FuzzDriver.fail("header name \(name) is not an HTTP token", input)
            }
            guard !text.utf8.contains(where: { $0 == 0x0D || $0 == 0x0A || $0 == 0x00 }) else {
                FuzzDriver.fail("header \(name) has CR, LF or NUL in its value", input)
            }
        }
        guard case .string(let body)? = members["body"] else { FuzzDriver.fail("body is not a string", input) }
        guard case .bool(let base64)? = members["isBase64Encoded"] else {
            FuzzDriver.fail("isBase64Encoded is not a Boolean", input)
        }
        let isV1 = members["multiValueHeaders"] != nil
        guard isV1 == expectV1 else {
            FuzzDriver.fail("answered in payload format \(isV1 ? "1.0" : "2.0") to a \(expectV1 ? "1.0" : "2.0") request", input)
        }
        if !base64, !body.isEmpty, headers["content-type"]?.stringValue == "application/json",
           (try? JSON(parsing: body)) == nil
        {
            FuzzDriver.fail("a JSON response whose body is not JSON: \(body)", input)
        }
        if status == 503, headers["retry-after"] == nil {
            FuzzDriver.fail("a 503 without Retry-After", input)
        }
    }

    /// RFC 9110 `tchar`.
    static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            true
        default:
            "!#$%&'*+-.^_`|~".utf8.contains(byte)
        }
    }
}
