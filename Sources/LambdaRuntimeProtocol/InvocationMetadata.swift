import LambdaCore

/// Everything `/next` says about an invocation besides the event: its header fields, parsed once.
///
/// The runtime's `Invocation` and `LambdaContext` wrap this value; nothing is copied field by field
/// (copies share one storage until one of them is changed).
public struct InvocationMetadata: Sendable, Equatable {
    /// The fields, shared by every copy until one is changed: the runtime hands an invocation's
    /// metadata to its context and through the loop, and a copy of eight strings was sixteen
    /// reference counts to change, where this is one.
    private var fields: CopyOnWrite<Fields>

    /// The stored fields.
    private struct Fields: Sendable, Equatable {
        var requestID: String
        var deadlineEpochMilliseconds: Int64?
        var invokedFunctionARN: String?
        var traceID: String?
        var clientContext: String?
        var cognitoIdentity: String?
        var tenantID: String?
        var invocationID: String?
    }

    /// `Lambda-Runtime-Aws-Request-Id`: the only mandatory field.
    public var requestID: String {
        get { fields.value.requestID }
        set { fields.value.requestID = newValue }
    }
    /// `Lambda-Runtime-Deadline-Ms`: when Lambda stops the invocation, Unix epoch milliseconds;
    /// `nil` when missing or not a positive whole number.
    public var deadlineEpochMilliseconds: Int64? {
        get { fields.value.deadlineEpochMilliseconds }
        set { fields.value.deadlineEpochMilliseconds = newValue }
    }
    /// `Lambda-Runtime-Invoked-Function-Arn`: the ARN the caller invoked (function, version or alias).
    public var invokedFunctionARN: String? {
        get { fields.value.invokedFunctionARN }
        set { fields.value.invokedFunctionARN = newValue }
    }
    /// `Lambda-Runtime-Trace-Id`: the X-Ray trace header, for example `Root=1-…;Parent=…;Sampled=1`.
    public var traceID: String? {
        get { fields.value.traceID }
        set { fields.value.traceID = newValue }
    }
    /// `Lambda-Runtime-Client-Context`: the Mobile SDK client context (JSON text).
    public var clientContext: String? {
        get { fields.value.clientContext }
        set { fields.value.clientContext = newValue }
    }
    /// `Lambda-Runtime-Cognito-Identity`: the Mobile SDK Cognito identity (JSON text).
    public var cognitoIdentity: String? {
        get { fields.value.cognitoIdentity }
        set { fields.value.cognitoIdentity = newValue }
    }
    /// `Lambda-Runtime-Aws-Tenant-Id`: the tenant of a tenant-isolated function.
    public var tenantID: String? {
        get { fields.value.tenantID }
        set { fields.value.tenantID = newValue }
    }
    /// `Lambda-Runtime-Invocation-Id`: this attempt's id, echoed on the result when present.
    public var invocationID: String? {
        get { fields.value.invocationID }
        set { fields.value.invocationID = newValue }
    }

    /// Creates metadata.
    public init(
        requestID: String, deadlineEpochMilliseconds: Int64? = nil, invokedFunctionARN: String? = nil,
        traceID: String? = nil, clientContext: String? = nil, cognitoIdentity: String? = nil,
        tenantID: String? = nil, invocationID: String? = nil
    ) {
        fields = CopyOnWrite(Fields(
            requestID: requestID, deadlineEpochMilliseconds: deadlineEpochMilliseconds,
            invokedFunctionARN: invokedFunctionARN, traceID: traceID, clientContext: clientContext,
            cognitoIdentity: cognitoIdentity, tenantID: tenantID, invocationID: invocationID))
    }

    /// Reads the metadata from `(name, value)` header fields.
    public init(headers: some Sequence<(String, String)>) throws(InvocationHeaderError) {
        var parser = Parser()
        for (name, value) in headers { parser.add(name: name, value: value) }
        self = try parser.finish()
    }

    /// Reads `/next`'s header fields one at a time, in one pass, without allocating.
    ///
    /// Names match exactly, ignoring ASCII case only, byte by byte (as HTTP field names compare):
    /// no prefix or length shortcut, no Unicode folding. The first non-empty field of each name
    /// counts; an empty value is no value; unknown fields are ignored.
    public struct Parser: Sendable {
        private var metadata = InvocationMetadata(requestID: "")
        private var seen: UInt16 = 0

        /// Creates an empty parser.
        public init() {}

        /// Takes one header field.
        public mutating func add(name: String, value: String) {
            guard !value.isEmpty, let field = Field(name: name), seen & field.bit == 0 else { return }
            seen |= field.bit
            switch field {
            case .requestID: metadata.requestID = value
            case .deadline: metadata.deadlineEpochMilliseconds = Self.epochMilliseconds(value)
            case .invokedFunctionARN: metadata.invokedFunctionARN = value
            case .traceID: metadata.traceID = value
            case .clientContext: metadata.clientContext = value
            case .cognitoIdentity: metadata.cognitoIdentity = value
            case .tenantID: metadata.tenantID = value
            case .invocationID: metadata.invocationID = value
            }
        }

        /// The metadata (moved out, not copied); fails when no request id came.
        public consuming func finish() throws(InvocationHeaderError) -> InvocationMetadata {
            guard seen & Field.requestID.bit != 0 else { throw .missingRequestID }
            return metadata
        }

        /// Parses `Lambda-Runtime-Deadline-Ms`: a positive whole number, surrounding ASCII blanks
        /// allowed; `nil` for anything else.
        public static func epochMilliseconds(_ value: String) -> Int64? {
            // Read where the bytes are: a 13-digit value is a small string, stored inline, whose
            // bytes `withUTF8` would first copy out of a `var` made for it.
            value.utf8.withContiguousStorageIfAvailable(epochMilliseconds(bytes:))
                ?? epochMilliseconds(bytes: Array(value.utf8))
        }

        /// ``epochMilliseconds(bytes:)`` over an array's bytes.
        private static func epochMilliseconds(bytes: [UInt8]) -> Int64? {
            bytes.withUnsafeBufferPointer(epochMilliseconds(bytes:))
        }

        /// ``epochMilliseconds(_:)`` over the bytes: the digits read in place, where the trimming
        /// slices and the generic `Int64(_:)` over a `Substring` cost 600 instructions per invocation.
        /// Accepts what `Int64(_:)` does (an optional `+`, then decimal digits, no overflow), then only
        /// a positive number; a test holds the two to the same answers.
        static func epochMilliseconds(bytes: UnsafeBufferPointer<UInt8>) -> Int64? {
            var start = 0
            var end = bytes.count
            while start < end, bytes[start] == 0x20 || bytes[start] == 0x09 { start += 1 }
            while end > start, bytes[end - 1] == 0x20 || bytes[end - 1] == 0x09 { end -= 1 }
            // A `-` sign can only make a number that is not positive.
            if start < end, bytes[start] == UInt8(ascii: "+") { start += 1 }
            guard start < end else { return nil }
            var number: Int64 = 0
            for index in start..<end {
                let digit = bytes[index] &- 0x30
                guard digit < 10 else { return nil }
                let (scaled, overflowed) = number.multipliedReportingOverflow(by: 10)
                let (sum, overflowedAgain) = scaled.addingReportingOverflow(Int64(digit))
                guard !overflowed, !overflowedAgain else { return nil }
                number = sum
            }
            return number > 0 ? number : nil
        }
    }

    /// The fields `/next` carries, with their header names.
    enum Field: Int, CaseIterable {
        case requestID, deadline, invokedFunctionARN, traceID, clientContext, cognitoIdentity, tenantID, invocationID

        var headerName: String {
            switch self {
            case .requestID: RuntimeHeader.requestID
            case .deadline: RuntimeHeader.deadline
            case .invokedFunctionARN: RuntimeHeader.invokedFunctionARN
            case .traceID: RuntimeHeader.traceID
            case .clientContext: RuntimeHeader.clientContext
            case .cognitoIdentity: RuntimeHeader.cognitoIdentity
            case .tenantID: RuntimeHeader.tenantID
            case .invocationID: RuntimeHeader.invocationID
            }
        }

        var bit: UInt16 { 1 << UInt16(rawValue) }

        /// Every name, ASCII-lowercased, as bytes.
        static let lowercasedNames: [[UInt8]] = allCases.map { $0.headerName.utf8.map(ASCII.lowercased) }
        /// The shortest and longest name: a field of any other length is none of them (a comparison
        /// saved, not a rule: within the range every name is compared in full).
        static let nameLengths: ClosedRange<Int> = {
            let counts = allCases.map(\.headerName.utf8.count)
            return (counts.min() ?? 0)...(counts.max() ?? 0)
        }()

        /// The field named `name` (exact, ASCII case-insensitive), if it is one of them.
        init?(name: String) {
            let count = name.utf8.count
            guard Self.nameLengths.contains(count) else { return nil }
            var name = name
            let found: Field? = name.withUTF8 { bytes in
                let names = Self.lowercasedNames
                for field in Self.allCases where names[field.rawValue].count == count {
                    if names[field.rawValue].withUnsafeBufferPointer({ ASCII.equalsLowercased(bytes, $0) }) {
                        return field
                    }
                }
                return nil
            }
            guard let found else { return nil }
            self = found
        }
    }
}

/// A `/next` answer that cannot be turned into an invocation.
public enum InvocationHeaderError: Error, Sendable, Equatable {
    /// `Lambda-Runtime-Aws-Request-Id` is missing or empty: there is nowhere to send a result.
    case missingRequestID
}
