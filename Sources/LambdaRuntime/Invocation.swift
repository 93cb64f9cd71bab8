import CurlHTTP

/// One event handed out by `GET /invocation/next`, with every header the Runtime API sends.
public struct Invocation: Sendable, Equatable {
    /// The request id; the only mandatory header.
    public var requestID: String
    /// When Lambda stops the invocation; `nil` when the header is missing or garbled.
    public var deadline: LambdaDeadline?
    /// The ARN the caller invoked (function, version or alias).
    public var invokedFunctionARN: String?
    /// The X-Ray trace header, for example `Root=1-…;Parent=…;Sampled=1`.
    public var traceID: String?
    /// The Mobile SDK client context (JSON text), if any.
    public var clientContext: String?
    /// The Mobile SDK Cognito identity (JSON text), if any.
    public var cognitoIdentity: String?
    /// The tenant id, for tenant-isolated functions.
    public var tenantID: String?
    /// `Lambda-Runtime-Invocation-Id`: this attempt's id, echoed on the result when present.
    public var invocationID: String?
    /// The event bytes, exactly as received.
    public var event: [UInt8]

    /// Creates an invocation.
    public init(
        requestID: String, deadline: LambdaDeadline? = nil, invokedFunctionARN: String? = nil,
        traceID: String? = nil, clientContext: String? = nil, cognitoIdentity: String? = nil,
        tenantID: String? = nil, invocationID: String? = nil, event: [UInt8] = []
    ) {
        self.requestID = requestID
        self.deadline = deadline
        self.invokedFunctionARN = invokedFunctionARN
        self.traceID = traceID
        self.clientContext = clientContext
        self.cognitoIdentity = cognitoIdentity
        self.tenantID = tenantID
        self.invocationID = invocationID
        self.event = event
    }

    /// Reads an invocation from a `/next` answer. Fails only when the request id is missing.
    ///
    /// One pass over the fields: this runs on every invocation.
    public init(headers: HTTPHeaders, event: [UInt8]) throws(InvocationHeaderError) {
        var requestID: String?
        var deadline: LambdaDeadline?
        var arn, trace, clientContext, cognito, tenant, invocationID: String?
        for field in headers where !field.value.isEmpty {
            let name = field.name
            guard name.utf8.count > 15, name.utf8.first == UInt8(ascii: "L") || name.utf8.first == UInt8(ascii: "l") else {
                continue
            }
            if requestID == nil, name.equalsIgnoringASCIICase(RuntimeHeader.requestID) {
                requestID = field.value
            } else if deadline == nil, name.equalsIgnoringASCIICase(RuntimeHeader.deadline) {
                deadline = LambdaDeadline(headerValue: field.value)
            } else if arn == nil, name.equalsIgnoringASCIICase(RuntimeHeader.invokedFunctionARN) {
                arn = field.value
            } else if trace == nil, name.equalsIgnoringASCIICase(RuntimeHeader.traceID) {
                trace = field.value
            } else if clientContext == nil, name.equalsIgnoringASCIICase(RuntimeHeader.clientContext) {
                clientContext = field.value
            } else if cognito == nil, name.equalsIgnoringASCIICase(RuntimeHeader.cognitoIdentity) {
                cognito = field.value
            } else if tenant == nil, name.equalsIgnoringASCIICase(RuntimeHeader.tenantID) {
                tenant = field.value
            } else if invocationID == nil, name.equalsIgnoringASCIICase(RuntimeHeader.invocationID) {
                invocationID = field.value
            }
        }
        guard let requestID else { throw .missingRequestID }
        self.init(
            requestID: requestID, deadline: deadline, invokedFunctionARN: arn, traceID: trace,
            clientContext: clientContext, cognitoIdentity: cognito, tenantID: tenant, invocationID: invocationID,
            event: event)
    }
}

/// A `/next` answer that cannot be turned into an invocation.
public enum InvocationHeaderError: Error, Sendable, Equatable {
    /// `Lambda-Runtime-Aws-Request-Id` is missing or empty: there is nowhere to send a result.
    case missingRequestID
}

/// The moment an invocation times out, as Unix epoch milliseconds.
public struct LambdaDeadline: Sendable, Equatable, Hashable, Comparable {
    /// Milliseconds since 1970-01-01T00:00:00Z.
    public let epochMilliseconds: Int64

    /// Creates a deadline.
    public init(epochMilliseconds: Int64) {
        self.epochMilliseconds = epochMilliseconds
    }

    /// Parses `Lambda-Runtime-Deadline-Ms`; `nil` for anything but a positive whole number.
    public init?(headerValue: String) {
        guard let value = Int64(Substring(headerValue).trimmingASCIIWhitespace()), value > 0 else { return nil }
        self.epochMilliseconds = value
    }

    /// Time left until the deadline at `now` (negative once it has passed).
    public func remainingTime(at now: WallClock.Instant = WallClock.now()) -> Duration {
        .milliseconds(epochMilliseconds - now.epochMilliseconds)
    }

    /// Orders deadlines by time.
    public static func < (lhs: LambdaDeadline, rhs: LambdaDeadline) -> Bool {
        lhs.epochMilliseconds < rhs.epochMilliseconds
    }
}

extension Optional where Wrapped == String {
    var nonEmpty: String? {
        switch self {
        case .some(let value) where !value.isEmpty: value
        default: nil
        }
    }
}
