import CurlHTTP
// Deadlines, the wall clock and the environment are part of the handler API (`context.deadline`,
// `Configuration(environment:)`): `import LambdaRuntime` is enough to name them.
@_exported import LambdaCore

/// One event handed out by `GET /invocation/next`: its metadata, parsed once from the headers, and
/// the event bytes.
public struct Invocation: CarriesInvocationMetadata, Sendable, Equatable {
    /// What the headers said: request id, deadline, ARN, trace id, tenant, invocation id, ….
    public var metadata: InvocationMetadata
    /// The event bytes, exactly as received.
    public var event: [UInt8]

    /// Creates an invocation from parsed metadata.
    public init(metadata: InvocationMetadata, event: [UInt8] = []) {
        self.metadata = metadata
        self.event = event
    }

    /// Creates an invocation from its parts (tests, fixtures).
    public init(
        requestID: String, deadline: LambdaDeadline? = nil, invokedFunctionARN: String? = nil,
        traceID: String? = nil, clientContext: String? = nil, cognitoIdentity: String? = nil,
        tenantID: String? = nil, invocationID: String? = nil, event: [UInt8] = []
    ) {
        self.init(
            metadata: InvocationMetadata(
                requestID: requestID, deadlineEpochMilliseconds: deadline?.epochMilliseconds,
                invokedFunctionARN: invokedFunctionARN, traceID: traceID, clientContext: clientContext,
                cognitoIdentity: cognitoIdentity, tenantID: tenantID, invocationID: invocationID),
            event: event)
    }

    /// Reads an invocation from a `/next` answer, in one pass over the fields (see
    /// `InvocationMetadata.Parser`). Fails only when the request id is missing.
    public init(headers: HTTPHeaders, event: [UInt8]) throws(InvocationHeaderError) {
        var parser = InvocationMetadata.Parser()
        for field in headers { parser.add(name: field.name, value: field.value) }
        self.init(metadata: try parser.finish(), event: event)
    }
}

extension InvocationMetadata {
    /// The deadline as a `LambdaDeadline`.
    @inlinable public var deadline: LambdaDeadline? {
        deadlineEpochMilliseconds.map(LambdaDeadline.init(epochMilliseconds:))
    }
}

/// A value that wraps an invocation's metadata (``Invocation``, ``LambdaContext``): its fields, read
/// through, in one place.
public protocol CarriesInvocationMetadata {
    /// What `/next` said about the invocation.
    var metadata: InvocationMetadata { get }
}

extension CarriesInvocationMetadata {
    /// The request id.
    @inlinable public var requestID: String { metadata.requestID }
    /// When Lambda stops the invocation; `nil` when the header is missing or garbled.
    @inlinable public var deadline: LambdaDeadline? { metadata.deadline }
    /// The ARN the caller invoked (function, version or alias); `nil` when unknown.
    @inlinable public var invokedFunctionARN: String? { metadata.invokedFunctionARN }
    /// The X-Ray trace header (also in `_X_AMZN_TRACE_ID` while the invocation runs, in the single
    /// loop only: with `AWS_LAMBDA_MAX_CONCURRENCY` ≥ 2 it is in the context and on the log lines,
    /// never in the environment).
    @inlinable public var traceID: String? { metadata.traceID }
    /// The Mobile SDK client context (JSON text), if any.
    @inlinable public var clientContext: String? { metadata.clientContext }
    /// The Mobile SDK Cognito identity (JSON text), if any.
    @inlinable public var cognitoIdentity: String? { metadata.cognitoIdentity }
    /// The tenant id of a tenant-isolated function.
    @inlinable public var tenantID: String? { metadata.tenantID }
    /// `Lambda-Runtime-Invocation-Id`: this attempt's id, echoed on the result when present.
    @inlinable public var invocationID: String? { metadata.invocationID }
}

extension LambdaDeadline {
    /// Parses `Lambda-Runtime-Deadline-Ms`; `nil` for anything but a positive whole number.
    public init?(headerValue: String) {
        guard let value = InvocationMetadata.Parser.epochMilliseconds(headerValue) else { return nil }
        self.init(epochMilliseconds: value)
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
