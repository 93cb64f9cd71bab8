import LambdaRuntime
import LeanJSON
import Testing

@testable import MyFunction

/// The handler called directly: an event, a context made in the test, no Runtime API.
@Suite struct GreeterTests {
    let context = LambdaContext(
        invocation: Invocation(requestID: "test-request"), function: FunctionMetadata(name: "MyFunction"),
        logger: LambdaLogConfiguration().makeLogger(label: "test"))

    @Test func greetsByName() async throws {
        let response = try await Greeter().handle(Array(#"{"name":"Ada"}"#.utf8), context: context)
        #expect(String(decoding: response, as: UTF8.self) == #"{"greeting":"Hello, Ada!"}"#)
    }

    @Test func greetsTheWorldWithoutAName() async throws {
        let response = try JSON(parsing: try await Greeter().handle(Array("{}".utf8), context: context))
        #expect(response["greeting"] == "Hello, world!")
    }

    @Test func rejectsAnEventThatIsNotJSON() async {
        await #expect(throws: JSONParseError.self) {
            try await Greeter().handle(Array("not json".utf8), context: context)
        }
    }
}
