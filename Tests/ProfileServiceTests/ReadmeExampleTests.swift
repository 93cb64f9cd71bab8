import FeatureFlags
import Foundation
import LambdaRuntime
import LeanJSON
import Logging
import ProfileService
import Testing

/// The example in README.md, kept compiling and passing here (same code).
@Test func readmeExampleNewSchemaUsersSeeDisplayName() async throws {
    let store = InMemoryProfileStore()
    let flags = StaticFlags([ProfileAPI.schemaFlag: true])
    let handler = ProfileHandler(api: ProfileAPI(store: store, flags: flags, functionVersion: "7"))
    let context = LambdaContext(
        invocation: Invocation(requestID: "test"), function: FunctionMetadata(name: "profile-api"),
        logger: Logger(label: "test"))
    _ = try await store.update(
        "user-123", ProfileWrite(set: ["name": "Ada Lovelace", "email": "ada@example.com"]),
        expectedVersion: nil, deadline: nil)

    let event = try Array(Data(contentsOf: URL(fileURLWithPath: "events/http-api-v2-get-profile.json")))
    let result = try JSON(parsing: try await handler.handle(event, context: context))
    #expect(result["statusCode"] == 200)
    #expect(result["headers"]?["x-profile-schema"] == "2")
    let profile = try JSON(parsing: result["body"]?.stringValue ?? "")
    #expect(profile["displayName"] == "Ada Lovelace")  // a v1 item read through schema 2
}
