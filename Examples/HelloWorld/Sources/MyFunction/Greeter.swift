import LambdaRuntime
import LeanJSON

/// Answers `{"name":"Ada"}` with `{"greeting":"Hello, Ada!"}`; without a name it greets the world.
struct Greeter: ConcurrentLambdaHandler {
    func handle(_ event: [UInt8], context: LambdaContext) async throws -> [UInt8] {
        let name = try JSON(parsing: event)["name"]?.stringValue ?? "world"
        context.logger.info("greeting \(name)")
        return JSON.object(["greeting": .string("Hello, \(name)!")]).bytes
    }
}
