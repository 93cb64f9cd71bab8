import LeanJSON

/// An error answer: `{"error":{"code","message","details"}}` with its status and headers.
struct APIError: Error, Sendable {
    let status: Int
    let code: String
    let message: String
    var details: [FieldProblem] = []
    var headers: [String: String] = [:]

    var response: APIResponse {
        var error: [String: JSON] = ["code": .string(code), "message": .string(message)]
        error["details"] = .array(details.map(\.json))
        return APIResponse(status: status, json: ["error": .object(error)], headers: headers)
    }

    static func invalid(_ message: String, _ details: [FieldProblem] = []) -> APIError {
        APIError(status: 400, code: "invalid_request", message: message, details: details)
    }

    static let unauthenticated = APIError(
        status: 401, code: "unauthenticated",
        message: "no caller identity: the request needs a JWT whose sub claim is a valid user id")

    static let forbidden = APIError(status: 403, code: "forbidden", message: "you may only access your own profile")

    static func notFound(_ message: String) -> APIError {
        APIError(status: 404, code: "not_found", message: message)
    }

    static func methodNotAllowed(_ allowed: String) -> APIError {
        APIError(status: 405, code: "method_not_allowed", message: "allowed methods: \(allowed)", headers: ["allow": allowed])
    }

    static func preconditionFailed(current: Int?) -> APIError {
        let message = current.map { "If-Match does not match the current version \($0)" } ?? "If-Match given, but the profile does not exist"
        return APIError(status: 412, code: "precondition_failed", message: message)
    }

    /// A pinned write lost a race: the profile changed between reading and writing.
    static let changedWhileWriting = APIError(
        status: 412, code: "precondition_failed", message: "the profile changed while this request was written; read it again")

    static let tooLarge = APIError(status: 413, code: "payload_too_large", message: "the body is larger than 64 KiB")

    static func unsupportedMediaType(_ expected: String) -> APIError {
        APIError(status: 415, code: "unsupported_media_type", message: "send the body as \(expected)")
    }

    static let conflict = APIError(
        status: 409, code: "conflict", message: "the profile kept changing while it was written; try again")

    static func unavailable(retryAfter: Int) -> APIError {
        APIError(
            status: 503, code: "store_unavailable", message: "the profile store is unavailable; try again shortly",
            headers: ["retry-after": String(retryAfter)])
    }

    static func internalError(requestID: String) -> APIError {
        APIError(status: 500, code: "internal_error", message: "unexpected error; request id \(requestID)")
    }
}
