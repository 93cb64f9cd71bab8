import LambdaRuntime
import ProfileService
import ReleaseHooks

/// The handlers this bootstrap ships, selected by `_HANDLER`. Each is safe to serve several
/// invocations at once (Lambda Managed Instances).
enum BuiltInHandler: ConcurrentLambdaHandler {
    /// `echo`: returns the event unchanged (conformance checks, benchmarks).
    case echo(EchoHandler)
    /// `profile`: the user-profile API behind API Gateway.
    case profile(ProfileHandler)
    /// `pretraffic`: the CodeDeploy PreTraffic hook that checks a new version before any traffic.
    case pretraffic(PreTrafficHook)

    /// Every valid `_HANDLER` value (`echo-stream` is served by the streaming loop, see `Bootstrap`).
    static let names = ["echo", "echo-stream", "profile", "pretraffic"]

    /// `echo-stream`: streams the event back in `ECHO_STREAM_CHUNK`-byte chunks.
    static let echoStream = "echo-stream"

    /// Builds the handler `_HANDLER` names.
    static func make(named name: String?, context: LambdaInitContext) async throws -> BuiltInHandler {
        switch name {
        case "echo": return .echo(EchoHandler())
        case "profile": return .profile(try await ProfileHandler.make(context: context))
        case "pretraffic": return .pretraffic(try PreTrafficHook(context: context))
        default: throw HandlerSelectionError(requested: name, valid: names)
        }
    }

    mutating func handle(_ event: [UInt8], context: LambdaContext) async throws -> [UInt8] {
        switch self {
        case .echo(let echo): try await echo.handle(event, context: context)
        case .profile(let profile): try await profile.handle(event, context: context)
        case .pretraffic(let hook): try await hook.handle(event, context: context)
        }
    }

    mutating func afterResponse(context: LambdaContext) async {
        switch self {
        case .echo(var echo):
            await echo.afterResponse(context: context)
            self = .echo(echo)
        case .profile(let profile):
            await profile.afterResponse(context: context)
        case .pretraffic:
            break
        }
    }
}

/// `_HANDLER` names no built-in handler: reported as the init error `Runtime.HandlerNotFound`.
struct HandlerSelectionError: LambdaFunctionError {
    let requested: String?
    let valid: [String]

    var errorType: String { "Runtime.HandlerNotFound" }

    var errorMessage: String {
        let list = valid.joined(separator: ", ")
        guard let requested, !requested.isEmpty else {
            return "_HANDLER is not set; set it to one of: \(list)"
        }
        return "_HANDLER=\(requested) is not a built-in handler; valid handlers: \(list)"
    }
}
