import LeanJSON

/// A function's code: takes the event bytes, returns the response bytes or throws.
///
/// The runtime makes one handler per sandbox (in the closure given to
/// ``LambdaRuntime/run(makeHandler:)-4ksff``) and calls ``handle(_:context:)`` for every invocation,
/// one at a time, so a handler may keep state between invocations (a client, a cache) in its
/// properties.
///
/// ```swift
/// struct Greeter: LambdaHandler {
///     func handle(_ event: [UInt8], context: LambdaContext) async throws -> [UInt8] {
///         Array("hello from \(context.function.name)".utf8)
///     }
/// }
/// ```
///
/// A thrown error becomes an invocation error (`POST …/error`); its `errorType` is the error's type
/// name unless the error conforms to ``LambdaFunctionError`` and chooses one. To serve several
/// invocations at once (Lambda Managed Instances) adopt ``ConcurrentLambdaHandler``; to stream the
/// response, ``StreamingLambdaHandler``.
public protocol LambdaHandler {
    /// Serves one invocation: `event` is the invocation's payload exactly as Lambda sent it (usually
    /// JSON); the result is the response payload, at most ``LambdaRuntime/maxResponseSize`` bytes
    /// (a larger one is reported as `Function.ResponseSizeTooLarge` instead). A throw is the
    /// invocation's error (see ``LambdaErrorReport/init(_:)``).
    mutating func handle(_ event: [UInt8], context: LambdaContext) async throws -> [UInt8]

    /// Runs after the result of an invocation has been posted, before the runtime asks for the next
    /// one: work that must not add to the caller's latency (refreshing caches, flushing metrics).
    mutating func afterResponse(context: LambdaContext) async
}

extension LambdaHandler {
    /// Does nothing.
    public mutating func afterResponse(context: LambdaContext) async {}
}

/// A handler that can serve several invocations at once (Lambda Managed Instances,
/// `AWS_LAMBDA_MAX_CONCURRENCY` ≥ 2).
///
/// What that asks of a handler: it is `Sendable`, because one value made at init is handed to every
/// loop; each loop serves invocations with its own copy, so what `handle` and `afterResponse` mutate
/// is that loop's copy and never shared across loops. State every loop must see (caches, stores,
/// connection pools) lives behind a `Sendable` reference that synchronizes itself (a `Mutex`, an
/// actor, a pool that hands each caller its own connection). A loop's thread may block (libcurl),
/// so a handler never waits for another loop's invocation to finish.
public protocol ConcurrentLambdaHandler: LambdaHandler, Sendable {}

/// An error that chooses how Lambda reports it.
public protocol LambdaFunctionError: Error {
    /// The `errorType`, for example `Runtime.HandlerNotFound` or `Function.InvalidInput`.
    var errorType: String { get }
    /// The `errorMessage`: what happened, in words a user can act on.
    var errorMessage: String { get }
}

/// The error shape Lambda expects on `/error` and `/init/error`:
/// `{"errorMessage":…,"errorType":…,"stackTrace":[]}`.
public struct LambdaErrorReport: Sendable, Equatable, Error {
    /// The error's type, sent as `errorType` and as the `Lambda-Runtime-Function-Error-Type` header.
    public var errorType: String
    /// The error's message, sent as `errorMessage`: what happened, for whoever called the function.
    public var errorMessage: String
    /// Stack frames, if known; Swift errors carry none.
    public var stackTrace: [String]

    /// Creates a report with the given type and message, as it will be sent.
    public init(errorType: String, errorMessage: String, stackTrace: [String] = []) {
        self.errorType = errorType
        self.errorMessage = errorMessage
        self.stackTrace = stackTrace
    }

    /// Describes any thrown error: its own type and message when it is a ``LambdaFunctionError``,
    /// otherwise its Swift type name and description.
    public init(_ error: any Error) {
        switch error {
        case let report as LambdaErrorReport:
            self = report
        case let chosen as any LambdaFunctionError:
            self.init(errorType: chosen.errorType, errorMessage: chosen.errorMessage)
        default:
            self.init(errorType: String(describing: type(of: error)), errorMessage: String(describing: error))
        }
    }

    /// The JSON body for the Runtime API, `{"errorMessage":…,"errorType":…,"stackTrace":[…]}`, which
    /// Lambda hands to the caller as it is.
    public var json: [UInt8] {
        var text = #"{"errorMessage":"#
        JSON.writeString(errorMessage, to: &text)
        text += #","errorType":"#
        JSON.writeString(errorType, to: &text)
        text += #","stackTrace":["#
        for (index, frame) in stackTrace.enumerated() {
            if index > 0 { text += "," }
            JSON.writeString(frame, to: &text)
        }
        text += "]}"
        return Array(text.utf8)
    }

    /// The JSON for the `Lambda-Runtime-Function-Error-Body` trailer of a stream that failed: ``json``,
    /// with the message shortened (and the stack dropped) past 40 KiB. libcurl 7.88 compiles all
    /// trailers into one buffer of at most 64 KiB (`DYN_TRAILERS`) and fails the transfer past it;
    /// 40 KiB of JSON is 54.6 KiB of base64, which leaves room for the error type (at most
    /// ``maxTrailerErrorTypeBytes``) and the field names.
    var streamTrailerJSON: [UInt8] {
        let full = json
        guard full.count > Self.maxStreamTrailerJSONBytes else { return full }
        var shortened = self
        let excess = full.count - Self.maxStreamTrailerJSONBytes + 64
        let keep = max(0, errorMessage.utf8.count - excess)
        shortened.errorMessage = String(decoding: errorMessage.utf8.prefix(keep), as: UTF8.self) + "… (truncated)"
        shortened.stackTrace = []
        let bytes = shortened.json
        return bytes.count <= Self.maxStreamTrailerJSONBytes ? bytes
            : LambdaErrorReport(errorType: String(headerValue.prefix(256)), errorMessage: "(message too long for a trailer)").json
    }

    /// 40 KiB of JSON: 54.6 KiB once in base64.
    static let maxStreamTrailerJSONBytes = 40 * 1024

    /// The longest error type sent in the `Lambda-Runtime-Function-Error-Type` trailer.
    static let maxTrailerErrorTypeBytes = 1024

    /// ``headerValue`` cut to ``maxTrailerErrorTypeBytes`` (it is ASCII, so any cut is valid).
    var trailerErrorType: String {
        let value = headerValue
        return value.utf8.count <= Self.maxTrailerErrorTypeBytes ? value : String(value.prefix(Self.maxTrailerErrorTypeBytes))
    }

    /// The X-Ray error cause for this error (`{"working_directory","exceptions","paths"}`, the shape
    /// AWS's runtime clients send), or `nil` when it would exceed the 64 KiB the Runtime API keeps.
    ///
    /// It names the error's type only: messages of handler errors can quote a request's data, which
    /// must not leave the function in a trace. Text is JSON-escaped; a header value cannot hold CR/LF.
    func xrayErrorCause(workingDirectory: String) -> String? {
        var text = #"{"working_directory":"#
        JSON.writeString(workingDirectory, to: &text)
        text += #","exceptions":[{"type":"#
        JSON.writeString(headerValue, to: &text)
        text += #","stack":[]}],"paths":[]}"#
        return text.utf8.count < Self.maxXRayErrorCauseBytes ? text : nil
    }

    /// The Runtime API's limit for an X-Ray error cause (RIE `MaxErrorCauseSizeBytes`).
    static let maxXRayErrorCauseBytes = 64 * 1024

    /// The error type as a header value: printable ASCII only, so it can never break the request.
    var headerValue: String {
        let cleaned = errorType.unicodeScalars.map { $0.value >= 0x20 && $0.value < 0x7F ? Character($0) : "_" }
        return cleaned.isEmpty ? "Unhandled" : String(cleaned)
    }
}
