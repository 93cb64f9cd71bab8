import CurlHTTP
import LeanJSON

/// Where a ``StreamingLambdaHandler`` writes its response, piece by piece.
///
/// The stream starts with the first ``write(_:)-([UInt8])`` (or ``start(contentType:)`` or
/// ``startHTTPResponse(_:)``), which sends the request headers; everything about the response's
/// head is therefore chosen *before* any byte: the `Content-Type` (``start(contentType:)``, default
/// `application/octet-stream`) or a whole Function URL response head (``startHTTPResponse(_:)``,
/// which sets `application/vnd.awslambda.http-integration-response` and writes the prelude in one
/// step). Either after the first byte is refused with ``LambdaStreamingError/alreadyStarted(_:)``,
/// before anything is sent, so no response can go out with a head that does not match its body.
///
/// Each write returns once its bytes are on the connection to the Runtime API (in the kernel's
/// socket buffer); a slow reader slows the writer down (back-pressure). Writes block the calling
/// thread in libcurl, as every Runtime API call does. Not `Sendable`: one task writes.
public final class LambdaResponseStreamWriter {
    /// The content type of a stream whose handler chose none (as AWS's Node.js runtime).
    public static let defaultContentType = RuntimeContentType.defaultStreamed
    /// The content type of a Function URL response with a prelude.
    public static let httpIntegrationContentType = RuntimeContentType.httpIntegrationResponse

    enum Phase {
        /// Nothing sent yet.
        case idle
        /// The request is open; bytes are flowing.
        case streaming(CurlStreamingUpload)
        /// The Runtime API answered (after the last chunk, or early, cutting the stream short).
        case ended(PostOutcome)
        /// The connection failed, or the Runtime API answered 500: the loop must stop.
        case failed(RuntimeClientError)
    }

    private let client: RuntimeClient
    private let requestID: String
    private let invocationID: String?
    private(set) var phase = Phase.idle
    /// The handler called ``finish()``.
    private(set) var finishedByHandler = false

    /// Body bytes written so far (the prelude of ``startHTTPResponse(_:)`` included).
    public private(set) var bytesWritten = 0
    /// The content type the stream was started with, once it has started.
    public private(set) var contentType: String?

    init(client: RuntimeClient, requestID: String, invocationID: String?) {
        self.client = client
        self.requestID = requestID
        self.invocationID = invocationID
    }

    /// Whether the first byte (or the request head) has gone out.
    public var hasStarted: Bool {
        if case .idle = phase { return false }
        return true
    }

    /// Starts the stream with `contentType`, sending the request head now (before any body byte).
    /// Only before the first write; afterwards it throws ``LambdaStreamingError/alreadyStarted(_:)``.
    public func start(contentType: String) async throws {
        try open(contentType: contentType, what: "the content type")
    }

    /// Starts a Function URL response (`RESPONSE_STREAM` mode): sets the content type
    /// `application/vnd.awslambda.http-integration-response` and writes `head` as the JSON prelude
    /// and its 8 NUL bytes; the following writes are the HTTP body the client receives.
    ///
    /// Only as the first thing written: afterwards it throws
    /// ``LambdaStreamingError/alreadyStarted(_:)`` and sends nothing.
    public func startHTTPResponse(_ head: LambdaHTTPResponseHead) async throws {
        guard case .idle = phase else { throw Self.misuse(phase, finishedByHandler, what: "the HTTP response head") }
        let prelude = try head.prelude()
        try open(contentType: Self.httpIntegrationContentType, what: "the HTTP response head")
        try send(prelude)
    }

    /// Writes `bytes` as the next part of the response; an empty write sends nothing.
    public func write(_ bytes: [UInt8]) async throws {
        try send(bytes)
    }

    /// Writes `bytes` as the next part of the response.
    public func write(_ bytes: ArraySlice<UInt8>) async throws {
        try bytes.withUnsafeBytes { buffer in try send(buffer) }
    }

    /// Writes `text` as UTF-8.
    public func write(_ text: String) async throws {
        var text = text
        try text.withUTF8 { buffer in try send(UnsafeRawBufferPointer(buffer)) }
    }

    /// Ends the stream and waits for the Runtime API's answer. Finishing twice is harmless; writing
    /// after finishing throws ``LambdaStreamingError/writeAfterFinish``. Throws only when the
    /// connection failed; an answer other than 202 (410, 413) is the runtime's to log.
    public func finish() async throws {
        if finishedByHandler { return }
        finishedByHandler = true
        try end(trailers: [:])
    }

    // MARK: Runtime side

    /// After the handler returned: ends the stream if the handler did not (an empty stream if it
    /// wrote nothing). Errors are in ``phase``.
    func complete() {
        switch phase {
        case .idle, .streaming:
            try? end(trailers: [:])
        case .ended, .failed:
            break
        }
    }

    /// After the handler threw mid-stream: ends the stream with the error trailers. Only while
    /// streaming; errors are in ``phase``.
    func fail(with report: LambdaErrorReport) {
        guard case .streaming = phase else { return }
        try? end(trailers: [
            RuntimeHeader.functionErrorType: report.trailerErrorType,
            RuntimeHeader.functionErrorBody: Base64.encode(report.streamTrailerJSON),
        ])
    }

    // MARK: Internals

    private func open(contentType: String, what: String) throws {
        guard case .idle = phase else { throw Self.misuse(phase, finishedByHandler, what: what) }
        guard !contentType.isEmpty, LambdaHTTPResponseHead.isFieldValue(contentType) else {
            throw LambdaStreamingError.invalidContentType(contentType)
        }
        do {
            phase = .streaming(try client.startStreamingResponse(
                for: requestID, invocationID: invocationID, contentType: contentType))
            self.contentType = contentType
        } catch {
            phase = .failed(error)
            throw LambdaStreamingError.runtimeAPIFailed(error.description)
        }
    }

    private func send(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { buffer in try send(buffer) }
    }

    private func send(_ buffer: UnsafeRawBufferPointer) throws {
        guard let upload = try openUpload() else { throw Self.misuse(phase, finishedByHandler, what: "") }
        guard buffer.count > 0 else { return }
        let early: HTTPResponse?
        do {
            early = try upload.write(buffer)
        } catch {
            let failure = RuntimeClientError.unreachable(url: client.endpoint.responseURL(for: requestID), attempts: 1, cause: error)
            phase = .failed(failure)
            throw LambdaStreamingError.runtimeAPIFailed(failure.description)
        }
        if let early {
            settle(early)
            throw Self.misuse(phase, finishedByHandler, what: "")
        }
        bytesWritten += buffer.count
    }

    private func end(trailers: HTTPHeaders) throws {
        guard let upload = try openUpload() else {
            // Already answered: the runtime logs a refusal once; it is not the handler's to handle.
            if case .failed = phase { throw Self.misuse(phase, false, what: "") }
            return
        }
        do {
            settle(try upload.finish(trailers: trailers))
        } catch {
            phase = .failed(.unreachable(url: client.endpoint.responseURL(for: requestID), attempts: 1, cause: error))
        }
        if case .failed = phase { throw Self.misuse(phase, false, what: "") }
    }

    /// The open upload, opened with the default content type if nothing was sent yet; `nil` once
    /// the stream has ended or failed.
    private func openUpload() throws -> CurlStreamingUpload? {
        if case .idle = phase { try open(contentType: Self.defaultContentType, what: "") }
        if case .streaming(let upload) = phase { return upload }
        return nil
    }

    private func settle(_ response: HTTPResponse) {
        do {
            phase = .ended(try client.outcome(of: response, url: client.endpoint.responseURL(for: requestID)))
        } catch {
            phase = .failed(error)
        }
    }

    /// The error for an operation the current phase does not allow.
    private static func misuse(_ phase: Phase, _ finishedByHandler: Bool, what: String) -> LambdaStreamingError {
        switch phase {
        case .idle:
            return .runtimeAPIFailed("the stream is not open")
        case .streaming:
            return .alreadyStarted(what)
        case .ended(let outcome):
            if finishedByHandler, case .accepted = outcome { return .writeAfterFinish }
            return .responseEnded("\(outcome)")
        case .failed(let error):
            return .runtimeAPIFailed(error.description)
        }
    }
}

/// A streaming operation that cannot be done; thrown to the handler by ``LambdaResponseStreamWriter``.
public enum LambdaStreamingError: LambdaFunctionError, Equatable, CustomStringConvertible {
    /// The content type or HTTP response head (named) was given after the stream had started.
    case alreadyStarted(String)
    /// A write after ``LambdaResponseStreamWriter/finish()``.
    case writeAfterFinish
    /// The content type is empty or holds CR, LF or NUL.
    case invalidContentType(String)
    /// The Function URL response head cannot be sent; the reason says why.
    case invalidHTTPResponseHead(String)
    /// The Runtime API answered before the stream was complete (for example 410: the attempt timed
    /// out; 413: over Lambda's limit), so nothing more is sent.
    case responseEnded(String)
    /// The connection to the Runtime API failed, or it answered 500.
    case runtimeAPIFailed(String)

    /// `Runtime.StreamingMisuse` for programming errors, `Runtime.StreamEnded` otherwise.
    public var errorType: String {
        switch self {
        case .alreadyStarted, .writeAfterFinish, .invalidContentType, .invalidHTTPResponseHead: "Runtime.StreamingMisuse"
        case .responseEnded, .runtimeAPIFailed: "Runtime.StreamEnded"
        }
    }

    /// What happened and what to do instead.
    public var errorMessage: String {
        switch self {
        case .alreadyStarted(let what):
            "\(what.isEmpty ? "that" : what) must come before the first byte: the response stream has already started (its Content-Type went out with the first write)"
        case .writeAfterFinish:
            "write after finish(): the response stream is complete"
        case .invalidContentType(let value):
            "content type \(value.debugDescription) is empty or contains CR, LF or NUL"
        case .invalidHTTPResponseHead(let reason):
            "the HTTP response head cannot be sent: \(reason)"
        case .responseEnded(let outcome):
            "the Runtime API ended the response stream early: \(outcome)"
        case .runtimeAPIFailed(let detail):
            "the response stream to the Runtime API failed: \(detail)"
        }
    }

    /// The message.
    public var description: String { errorMessage }
}
