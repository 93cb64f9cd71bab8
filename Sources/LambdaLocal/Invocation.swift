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

/// One invocation on its way through lambda-local.
final class PendingInvocation {
    let requestID: String
    let payload: [UInt8]
    let traceID: String
    let clientContext: String?
    let qualifier: String?
    /// The version that serves it.
    let version: String
    let promise: EventLoopPromise<InvocationResult>
    var startedAt: ContinuousClock.Instant?
    var timeoutTask: Scheduled<Void>?

    init(
        payload: [UInt8], traceID: String?, clientContext: String?, qualifier: String?, version: String,
        promise: EventLoopPromise<InvocationResult>
    ) {
        self.version = version
        self.requestID = UUID().uuidString.lowercased()
        self.payload = payload
        self.traceID = traceID ?? PendingInvocation.newTraceID()
        self.clientContext = clientContext
        self.qualifier = qualifier
        self.promise = promise
    }

    /// An X-Ray trace header in the shape Lambda sends: `Root=1-{epoch hex}-{96-bit hex};Parent=…;Sampled=0`.
    static func newTraceID() -> String {
        let epoch = String(UInt32(Date().timeIntervalSince1970), radix: 16)
        let root = (0..<24).map { _ in String(Int.random(in: 0..<16), radix: 16) }.joined()
        let parent = (0..<16).map { _ in String(Int.random(in: 0..<16), radix: 16) }.joined()
        return "Root=1-\(String(repeating: "0", count: max(0, 8 - epoch.count)))\(epoch)-\(root);Parent=\(parent);Sampled=0"
    }
}
