/// The Runtime API's status codes and limits, and what a runtime does with each answer to a post.
public enum RuntimeAPIStatus {
    /// `/next` handed out an event.
    public static let event = 200
    /// A result or error was accepted.
    public static let accepted = 202
    /// Unknown request id, or a bad request (for example an unknown response mode).
    public static let badRequest = 400
    /// Not allowed now (a second result for one request).
    public static let forbidden = 403
    /// No such endpoint.
    public static let notFound = 404
    /// The attempt the post belongs to timed out (its invocation id is stale): dropped.
    public static let gone = 410
    /// The response is larger than Lambda accepts.
    public static let payloadTooLarge = 413
    /// The sandbox is broken: the runtime must exit.
    public static let sandboxFailure = 500

    /// Lambda's limit for a buffered response: 6 MB (6,291,456 bytes).
    public static let maxBufferedResponseBytes = 6 * 1024 * 1024
    /// Lambda's soft limit for a streamed response: 200 MB (Lambda enforces it, not the runtime).
    public static let maxStreamedResponseBytes = 200 * 1024 * 1024

    /// How a runtime treats the status of its post.
    public enum PostAnswer: Sendable, Equatable {
        /// 2xx: done.
        case accepted
        /// 413: report `Function.ResponseSizeTooLarge` instead (buffered), or log (streamed).
        case payloadTooLarge
        /// 410: the attempt timed out; log once and go on.
        case gone
        /// 5xx: the sandbox is broken; exit.
        case sandboxFailure
        /// Any other status: log and go on.
        case rejected
    }

    /// The rule for a post's status.
    public static func answer(toPost status: Int) -> PostAnswer {
        switch status {
        case 200...299: .accepted
        case payloadTooLarge: .payloadTooLarge
        case gone: .gone
        case 500...599: .sandboxFailure
        default: .rejected
        }
    }
}

/// The `errorType` values the Runtime API answers with (RIE `rapi/model`), for servers and tests.
public enum RuntimeAPIErrorType {
    /// 400: the request id is not the one being served.
    public static let invalidRequestID = "InvalidRequestID"
    /// 400: a `Lambda-Runtime-Function-Response-Mode` other than `streaming`.
    public static let invalidFunctionResponseMode = "InvalidFunctionResponseMode"
    /// 403: for example a second result for one request.
    public static let invalidStateTransition = "InvalidStateTransition"
    /// 413: over the payload limit.
    public static let requestEntityTooLarge = "RequestEntityTooLarge"
    /// 404: no such endpoint.
    public static let notFound = "NotFound"
    /// 410: the post belongs to an attempt that timed out or is not the current one (lambda-local's
    /// name; the RIE has no invocation ids).
    public static let invocationGone = "InvocationGone"
}
