#if canImport(Glibc)
import Glibc
#endif
import CurlHTTP
import LambdaRuntime
import LeanJSON
import Synchronization

/// An error an AWS JSON API answered with, or the reason there was no answer.
public struct AWSError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The error code without its namespace (`ConditionalCheckFailedException`), or `Transport` / `Timeout`.
    public var code: String
    /// The service's message.
    public var message: String
    /// The HTTP status (0 when there was no response).
    public var status: Int
    /// The start of the error body, for details the message leaves out (`Details.InvalidParameters`).
    public var body: String

    /// Creates an error.
    public init(code: String, message: String, status: Int, body: String = "") {
        self.code = code
        self.message = message
        self.status = status
        self.body = body
    }

    /// Reads `__type` (with or without `namespace#`) and `message`/`Message` from an error body.
    public init(status: Int, body: [UInt8]) {
        let json = try? JSON(parsing: body)
        var type = json?["__type"]?.stringValue ?? json?["code"]?.stringValue ?? ""
        if let hash = type.lastIndex(of: "#") { type = String(type[type.index(after: hash)...]) }
        if let colon = type.firstIndex(of: ":") { type = String(type[..<colon]) }
        let text = String(decoding: body.prefix(300), as: UTF8.self)
        if type.isEmpty, let code = Self.xmlCode(in: text) {
            type = code
        }
        self.code = type.isEmpty ? "HTTP\(status)" : type
        self.message = json?["message"]?.stringValue ?? json?["Message"]?.stringValue ?? text
        self.status = status
        // Enough for the item DynamoDB returns with a failed condition (ReturnValuesOnConditionCheckFailure).
        self.body = String(decoding: body.prefix(70_000), as: UTF8.self)
    }

    /// The text between `<Code>` and `</Code>` (AWS's XML errors, for example from signature checks).
    static func xmlCode(in text: String) -> String? {
        let bytes = Array(text.utf8)
        guard let start = byteOffset(of: "<Code>", in: bytes) else { return nil }
        let valueStart = start + "<Code>".utf8.count
        let valueEnd = bytes[valueStart...].firstIndex(of: UInt8(ascii: "<")) ?? bytes.count
        return valueEnd > valueStart ? String(decoding: bytes[valueStart..<valueEnd], as: UTF8.self) : nil
    }

    /// Whether the message or the error body contains `text` (for details such as `"Problem":"Expired"`).
    public func mentions(_ text: String) -> Bool {
        Self.byteOffset(of: text, in: Array(message.utf8)) != nil || Self.byteOffset(of: text, in: Array(body.utf8)) != nil
    }

    /// Where `needle` starts in `bytes`. A byte search: String's own substring search needs the regex
    /// library, which would add a megabyte to the bootstrap.
    static func byteOffset(of needle: String, in bytes: [UInt8]) -> Int? {
        let pattern = Array(needle.utf8)
        guard !pattern.isEmpty, bytes.count >= pattern.count else { return nil }
        return (0...(bytes.count - pattern.count)).first { bytes[$0..<($0 + pattern.count)].elementsEqual(pattern) }
    }

    /// Throttling or a server-side failure: worth another try.
    public var isRetryable: Bool {
        if status >= 500 || status == 429 || status == 0 { return true }
        return ["ThrottlingException", "ProvisionedThroughputExceededException", "RequestLimitExceeded",
                "TooManyRequestsException", "InternalServerError", "ServiceUnavailable", "TransactionInProgressException"]
            .contains(code)
    }

    /// `code: message (HTTP status)`.
    public var description: String { "\(code): \(message) (HTTP \(status))" }
}

/// Signed calls to an AWS JSON protocol API (DynamoDB, AppConfigData) over libcurl, with retries.
public final class AWSJSONClient: Sendable {
    /// How failed calls are retried.
    public struct RetryPolicy: Sendable {
        /// Attempts in all, the first included.
        public var maxAttempts: Int
        /// The backoff cap for the first retry; it doubles each time (full jitter).
        public var baseDelay: Duration
        /// The largest single backoff.
        public var maxDelay: Duration
        /// Time kept free before the deadline: no retry starts inside it.
        public var deadlineMargin: Duration

        /// Creates a policy.
        public init(maxAttempts: Int = 4, baseDelay: Duration = .milliseconds(25), maxDelay: Duration = .seconds(1),
                    deadlineMargin: Duration = .milliseconds(300)) {
            self.maxAttempts = maxAttempts
            self.baseDelay = baseDelay
            self.maxDelay = maxDelay
            self.deadlineMargin = deadlineMargin
        }
    }

    private let environment: AWSEnvironment
    private let endpoint: String
    private let signingName: String
    private let retryPolicy: RetryPolicy
    private let requestTimeout: Duration
    private let sessions = Mutex<[CurlSession]>([])

    /// Creates a client for one service.
    public init(
        environment: AWSEnvironment, serviceID: String, hostPrefix: String, signingName: String,
        retryPolicy: RetryPolicy = RetryPolicy(), requestTimeout: Duration = .seconds(5)
    ) {
        self.environment = environment
        self.endpoint = environment.endpoint(serviceID: serviceID, hostPrefix: hostPrefix)
        self.signingName = signingName
        self.retryPolicy = retryPolicy
        self.requestTimeout = requestTimeout
    }

    /// The endpoint calls go to.
    public var endpointURL: String { endpoint }

    /// POSTs `body` with `X-Amz-Target: target` (the AWS JSON protocol, version 1.0 by default, 1.1 for
    /// services such as CodeDeploy) and returns the parsed answer.
    public func call(
        target: String, body: JSON, protocolVersion: String = "1.0", deadline: LambdaDeadline?
    ) async throws(AWSError) -> JSON {
        let answer = try await send(
            method: .post, path: "/", body: body.bytes,
            headers: ["Content-Type": "application/x-amz-json-" + protocolVersion, "X-Amz-Target": target], deadline: deadline)
        do {
            return answer.body.isEmpty ? .object([:]) : try JSON(parsing: answer.body, maxDepth: 64)
        } catch {
            throw AWSError(code: "MalformedResponse", message: "\(error)", status: answer.status)
        }
    }

    /// Sends a signed request and retries throttling, 5xx and connection failures with exponential
    /// backoff and full jitter, as long as the invocation's deadline leaves room. Any 2xx is returned.
    public func send(
        method: HTTPMethod, path: String, body: [UInt8] = [], headers: HTTPHeaders = [:], deadline: LambdaDeadline?
    ) async throws(AWSError) -> HTTPResponse {
        var attempt = 0
        while true {
            attempt += 1
            let failure: AWSError
            var timeout = requestTimeout
            if let remaining = deadline?.remainingTime() {
                timeout = min(timeout, remaining - retryPolicy.deadlineMargin)
                guard timeout > .milliseconds(50) else {
                    throw AWSError(code: "Timeout", message: "no time left before the invocation deadline", status: 0)
                }
            }
            let request = HTTPRequest(
                method: method, url: endpoint + path, headers: headers, body: body, timeout: timeout,
                maxResponseBodySize: 16 * 1024 * 1024, signing: environment.signing(service: signingName))
            do {
                let response = try perform(request)
                if (200...299).contains(response.status) { return response }
                failure = AWSError(status: response.status, body: response.body)
            } catch {
                failure = AWSError(code: "Transport", message: error.description, status: 0)
            }
            guard failure.isRetryable, attempt < retryPolicy.maxAttempts else { throw failure }
            let cap = min(retryPolicy.maxDelay, retryPolicy.baseDelay * (1 << min(attempt - 1, 16)))
            let delay = Duration.nanoseconds(Int64.random(in: 0...max(1, Int64(cap.components.seconds) * 1_000_000_000 + cap.components.attoseconds / 1_000_000_000)))
            if let remaining = deadline?.remainingTime(), remaining - delay < retryPolicy.deadlineMargin {
                throw failure
            }
            try? await Task.sleep(for: delay)
        }
    }

    /// Runs a request on a pooled session (one libcurl handle per concurrent call, reused after).
    private func perform(_ request: HTTPRequest) throws(CurlError) -> HTTPResponse {
        let session: CurlSession
        if let pooled = sessions.withLock({ $0.popLast() }) {
            session = pooled
        } else {
            session = try CurlSession(configuration: .init(
                connectTimeout: .seconds(2), userAgent: "swift-lambda-bluegreen/0.1", caBundlePath: environment.caBundlePath))
        }
        defer { sessions.withLock { $0.append(session) } }
        return try session.perform(request)
    }
}
