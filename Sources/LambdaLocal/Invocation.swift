import Foundation
import NIOCore

/// The outcome of one invocation, as the Invoke API reports it.
public struct InvocationResult: Sendable {
    /// The response payload, or the error JSON when the function failed.
    public var payload: [UInt8]
    /// The error type when the function failed (`X-Amz-Function-Error: Unhandled` is sent then).
    public var errorType: String?
    /// The version that ran.
    public var executedVersion: String
    /// The request id.
    public var requestID: String
    /// Time from dispatch to result.
    public var duration: Duration
    /// The function streamed its answer to the invocation's ``InvocationStreamObserver``: `payload` holds
    /// only the error JSON of a mid-stream error, the bytes went to the observer.
    public var streamed = false
    /// With ``InvokeOptions/logTail``: the last 4 KB of the invocation's log (`START`, the function's
    /// output lines, `END`, `REPORT`), as the Invoke API returns it in `X-Amz-Log-Result`.
    public var logTail: [UInt8]?

    /// Whether the function failed.
    public var isError: Bool { errorType != nil }

    /// An error result with Lambda's error JSON.
    static func failure(
        type: String, message: String, version: String, requestID: String, duration: Duration = .zero
    ) -> InvocationResult {
        InvocationResult(
            payload: JSONText.encode(["errorType": type, "errorMessage": message]), errorType: type,
            executedVersion: version, requestID: requestID, duration: duration)
    }
}

/// Who wants a streamed answer as it comes (InvokeWithResponseStream, the front door). Called on the
/// service's event loop; the end of the stream is the invocation's result. `Sendable` because the caller
/// makes it on its own thread and hands it to the loop; a class whose state only the loop's calls touch
/// can say so with `@unchecked Sendable`.
public protocol InvocationStreamObserver: AnyObject, Sendable {
    /// The function started a streamed response with this content type, from `version`.
    func streamStarted(contentType: String?, executedVersion: String, requestID: String)
    /// The next bytes the function streamed.
    func streamed(_ chunk: ByteBuffer)
    /// Whether the caller takes more bytes now; when not, `resume` runs once it does (the function's
    /// stream is read no faster than the caller reads).
    func whenWritable(_ resume: @escaping () -> Void) -> Bool
}

/// What the caller sent besides the payload.
public struct InvokeOptions: Sendable {
    /// The caller's X-Ray trace header.
    public var traceID: String?
    /// The decoded client context.
    public var clientContext: String?
    /// `X-Amz-Tenant-Id`: forwarded as `Lambda-Runtime-Aws-Tenant-Id`.
    public var tenantID: String?
    /// `X-Amz-Log-Type: Tail`: the result carries the end of the invocation's log
    /// (``InvocationResult/logTail``).
    public var logTail: Bool

    /// Creates options.
    public init(traceID: String? = nil, clientContext: String? = nil, tenantID: String? = nil, logTail: Bool = false) {
        self.traceID = traceID
        self.clientContext = clientContext
        self.tenantID = tenantID
        self.logTail = logTail
    }
}

/// The log of one invocation as Lambda's `LogType: Tail` returns it: only the last 4 KB are kept.
struct InvocationLogTail {
    /// What the Invoke API returns at most.
    static let limit = 4 * 1024
    private var bytes: [UInt8] = []

    /// Adds one line (a newline is added).
    mutating func append(line: some Collection<UInt8>) {
        bytes.append(contentsOf: line)
        bytes.append(UInt8(ascii: "\n"))
        if bytes.count > 2 * Self.limit { bytes.removeFirst(bytes.count - Self.limit) }
    }

    /// Adds one line of text.
    mutating func append(_ text: String) {
        append(line: text.utf8)
    }

    /// The last ``limit`` bytes.
    var tail: [UInt8] { Array(bytes.suffix(Self.limit)) }
}

/// One invocation on its way through lambda-local. Made by ``LocalLambda/invoke(payload:qualifier:options:observer:)``
/// on the service's event loop and touched only there.
final class PendingInvocation: @unchecked Sendable {
    let requestID: String
    let payload: [UInt8]
    let traceID: String
    let clientContext: String?
    let tenantID: String?
    let qualifier: String?
    /// The version that serves it.
    let version: String
    let promise: EventLoopPromise<InvocationResult>
    /// Receives a streamed answer as it arrives; without one, a streamed answer is collected.
    weak var observer: InvocationStreamObserver?
    var startedAt: ContinuousClock.Instant?
    var timeoutTask: Scheduled<Void>?
    /// The id of the current attempt (`Lambda-Runtime-Invocation-Id`), fresh on every dispatch.
    private(set) var attemptID = ""
    /// A streamed `/response` is arriving for it.
    var responseStreaming = false
    /// Its result is out (answered, failed or timed out): late bytes are dropped.
    var finished = false
    /// Its log, when the caller asked for the tail of it.
    var log: InvocationLogTail?

    init(
        payload: [UInt8], options: InvokeOptions, qualifier: String?, version: String,
        promise: EventLoopPromise<InvocationResult>
    ) {
        self.version = version
        self.requestID = UUID().uuidString.lowercased()
        self.payload = payload
        self.traceID = options.traceID ?? PendingInvocation.newTraceID()
        self.clientContext = options.clientContext
        self.tenantID = options.tenantID.flatMap { $0.isEmpty ? nil : $0 }
        self.log = options.logTail ? InvocationLogTail() : nil
        self.qualifier = qualifier
        self.promise = promise
    }

    /// Starts a new attempt: a fresh invocation id.
    func newAttempt() -> String {
        attemptID = UUID().uuidString.lowercased()
        return attemptID
    }

    /// An X-Ray trace header in the shape Lambda sends: `Root=1-{epoch hex}-{96-bit hex};Parent=…;Sampled=0`.
    static func newTraceID() -> String {
        let epoch = String(UInt32(Date().timeIntervalSince1970), radix: 16)
        let root = (0..<24).map { _ in String(Int.random(in: 0..<16), radix: 16) }.joined()
        let parent = (0..<16).map { _ in String(Int.random(in: 0..<16), radix: 16) }.joined()
        return "Root=1-\(String(repeating: "0", count: max(0, 8 - epoch.count)))\(epoch)-\(root);Parent=\(parent);Sampled=0"
    }
}
