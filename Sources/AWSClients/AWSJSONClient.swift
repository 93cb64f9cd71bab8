#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import CurlHTTP
import LambdaCore
import LeanJSON
import Synchronization

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
            throw AWSError(kind: .malformedResponse, code: "MalformedResponse", message: "\(error)", status: answer.status)
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
                    throw AWSError(kind: .deadlineExceeded, code: "Timeout", message: "no time left before the invocation deadline", status: 0)
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
                failure = AWSError(kind: .transport, code: "Transport", message: error.description, status: 0)
            }
            guard failure.isRetryable, attempt < retryPolicy.maxAttempts else { throw failure }
            let cap = min(retryPolicy.maxDelay, retryPolicy.baseDelay * (1 << min(attempt - 1, 16)))
            let delay = Duration.nanoseconds(Int64.random(in: 0...max(1, cap.wholeNanoseconds)))
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
