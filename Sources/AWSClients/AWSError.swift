import LeanJSON

/// An error an AWS JSON API answered with, or the reason there was no answer.
///
/// Callers decide on ``kind`` (and the structured details ``cancellationReasons`` and
/// ``invalidParameterProblems``), never on the text of ``code`` or ``message``: codes differ between
/// services and emulators, and messages are prose.
public struct AWSError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong, as far as a caller's decision goes.
    public enum Kind: Sendable, Equatable {
        /// No answer: the connection failed or broke, or the request timed out on the way.
        case transport
        /// Not sent: no time was left before the invocation's deadline.
        case deadlineExceeded
        /// A 2xx answer whose body is not the JSON the API promises.
        case malformedResponse
        /// Throttled or busy (429, a throttling code, `TransactionInProgressException`): try again later.
        case busy
        /// The service failed (5xx).
        case serviceFailure
        /// The caller may not do this (403, `AccessDeniedException`); IAM changes take a while to apply.
        case accessDenied
        /// A write's condition did not hold (DynamoDB `ConditionalCheckFailedException`).
        case conditionFailed
        /// A DynamoDB transaction was cancelled; ``AWSError/cancellationReasons`` says why, item by item.
        case transactionCanceled
        /// Any other answer: the request itself is at fault and a retry will not fix it.
        case rejected
    }

    /// What went wrong.
    public var kind: Kind
    /// The error code without its namespace (`ConditionalCheckFailedException`), or `Transport` / `Timeout`,
    /// for people reading logs.
    public var code: String
    /// The service's message.
    public var message: String
    /// The HTTP status (0 when there was no response).
    public var status: Int
    /// The start of the error body, for details the message leaves out (the item of a failed condition).
    public var body: String
    /// DynamoDB `CancellationReasons[].Code`, one per item of a cancelled transaction (`None`,
    /// `ConditionalCheckFailed`, `TransactionConflict`, …); empty for other errors.
    public var cancellationReasons: [String]
    /// AppConfigData `Details.InvalidParameters.*.Problem` (`Expired`, `Corrupted`,
    /// `PollIntervalNotSatisfied`); empty when the service gave no details.
    public var invalidParameterProblems: [String]

    /// Creates an error; the kind follows from `status` and `code` unless given.
    public init(kind: Kind? = nil, code: String, message: String, status: Int, body: String = "") {
        self.kind = kind ?? Self.kind(status: status, code: code)
        self.code = code
        self.message = message
        self.status = status
        self.body = body
        self.cancellationReasons = []
        self.invalidParameterProblems = []
    }

    /// Reads `__type` (with or without `namespace#`), `message`/`Message` and the structured details
    /// from an error body.
    public init(status: Int, body: [UInt8]) {
        let json = try? JSON(parsing: body)
        var type = json?["__type"]?.stringValue ?? json?["code"]?.stringValue ?? ""
        if let hash = type.lastIndex(of: "#") { type = String(type[type.index(after: hash)...]) }
        if let colon = type.firstIndex(of: ":") { type = String(type[..<colon]) }
        let text = String(decoding: body.prefix(300), as: UTF8.self)
        if type.isEmpty, let code = Self.xmlCode(in: body.prefix(300)) {
            type = code
        }
        let code = type.isEmpty ? "HTTP\(status)" : type
        // Enough for the item DynamoDB returns with a failed condition (ReturnValuesOnConditionCheckFailure).
        self.init(
            code: code, message: json?["message"]?.stringValue ?? json?["Message"]?.stringValue ?? text, status: status,
            body: String(decoding: body.prefix(70_000), as: UTF8.self))
        cancellationReasons = json?["CancellationReasons"]?.arrayValue?.compactMap { $0["Code"]?.stringValue } ?? []
        invalidParameterProblems = json?["Details"]?["InvalidParameters"]?.objectValue?.values
            .compactMap { $0["Problem"]?.stringValue }.sorted() ?? []
    }

    /// Whether a later attempt may succeed: no answer, throttling, a server-side failure.
    public var isRetryable: Bool {
        switch kind {
        case .transport, .busy, .serviceFailure: true
        default: false
        }
    }

    /// `code: message (HTTP status)`.
    public var description: String { "\(code): \(message) (HTTP \(status))" }

    /// The kind an answer's status and code mean. Codes are compared as bytes.
    static func kind(status: Int, code: String) -> Kind {
        func named(_ names: String...) -> Bool { names.contains { $0.utf8.elementsEqual(code.utf8) } }
        if status == 0 { return .transport }
        if status == 429 || named("ThrottlingException", "ProvisionedThroughputExceededException", "RequestLimitExceeded",
                                  "TooManyRequestsException", "TransactionInProgressException") {
            return .busy
        }
        if status >= 500 || named("InternalServerError", "ServiceUnavailable") { return .serviceFailure }
        if named("ConditionalCheckFailedException") { return .conditionFailed }
        if named("TransactionCanceledException") { return .transactionCanceled }
        if status == 403 || named("AccessDeniedException") { return .accessDenied }
        return .rejected
    }

    /// The text between `<Code>` and `</Code>` (AWS's XML errors, for example from signature checks).
    static func xmlCode(in bytes: ArraySlice<UInt8>) -> String? {
        guard let start = byteOffset(of: "<Code>", in: bytes) else { return nil }
        let valueStart = start + "<Code>".utf8.count
        let valueEnd = bytes[valueStart...].firstIndex(of: UInt8(ascii: "<")) ?? bytes.endIndex
        return valueEnd > valueStart ? String(decoding: bytes[valueStart..<valueEnd], as: UTF8.self) : nil
    }

    /// Where `needle` starts in `bytes`. A byte search: String's own substring search needs the regex
    /// library, which would add a megabyte to the bootstrap.
    static func byteOffset(of needle: String, in bytes: ArraySlice<UInt8>) -> Int? {
        let pattern = Array(needle.utf8)
        guard !pattern.isEmpty, bytes.count >= pattern.count else { return nil }
        return (bytes.startIndex...(bytes.endIndex - pattern.count)).first {
            bytes[$0..<($0 + pattern.count)].elementsEqual(pattern)
        }
    }
}
