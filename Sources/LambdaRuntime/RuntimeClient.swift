#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import CurlHTTP

/// How often, and how patiently, `/next` is retried when the Runtime API cannot be reached.
public struct RetryPolicy: Sendable, Equatable {
    /// Retries after the first failed attempt.
    public var retries: Int
    /// The wait before the first retry; each later wait doubles.
    public var initialBackoff: Duration

    /// Creates a policy.
    public init(retries: Int = 3, initialBackoff: Duration = .milliseconds(100)) {
        self.retries = retries
        self.initialBackoff = initialBackoff
    }
}

/// How the Runtime API answered a post.
public enum PostOutcome: Sendable, Equatable {
    /// 202: accepted.
    case accepted
    /// 413: the response is larger than Lambda accepts.
    case payloadTooLarge(body: String)
    /// 410: the attempt this result belongs to timed out (its invocation id is stale); dropped.
    case gone(body: String)
    /// Any other 4xx (400 unknown request id, 403 not allowed now): logged; the loop goes on.
    case rejected(status: Int, body: String)
}

/// The Runtime API's four endpoints over one reused libcurl handle (keep-alive).
public final class RuntimeClient {
    /// Where the Runtime API is.
    public let endpoint: RuntimeAPIEndpoint
    /// Retry behaviour of `/next`.
    public let retryPolicy: RetryPolicy

    private let session: CurlSession

    /// Creates a client with its own libcurl handle.
    public init(endpoint: RuntimeAPIEndpoint, retryPolicy: RetryPolicy = RetryPolicy()) throws(CurlError) {
        self.endpoint = endpoint
        self.retryPolicy = retryPolicy
        // No User-Agent: nothing reads it on the Runtime API, and libcurl copies every byte of a
        // request's header through its printf (about 75 instructions a byte): a 50-byte field cost
        // 9,500 instructions per invocation (RFC 9110 10.1.5: "unless specifically configured not to").
        self.session = try CurlSession(configuration: .init(connectTimeout: .seconds(1), userAgent: ""))
        self.nextRequest = HTTPRequest(
            method: .get, url: endpoint.nextInvocationURL, timeout: nil, responseHeaders: Self.invocationHeaders)
    }

    /// `GET /invocation/next`, made once: the same request every time, lent to the session (a
    /// request made per call was copied and destroyed whole, about 600 instructions).
    private let nextRequest: HTTPRequest

    /// The fields of a `/next` answer an invocation is read from (the fields of `InvocationMetadata`),
    /// in the order ``invocation(from:)`` reads them by index; the others (`Content-Type`, `Date`, …)
    /// are skipped unread.
    static let invocationHeaders = ResponseHeaderSelection.only([
        RuntimeHeader.requestID, RuntimeHeader.deadline, RuntimeHeader.invokedFunctionARN, RuntimeHeader.traceID,
        RuntimeHeader.clientContext, RuntimeHeader.cognitoIdentity, RuntimeHeader.tenantID, RuntimeHeader.invocationID,
    ])

    /// The invocation in a `/next` answer, read from its kept fields by the rules of
    /// `InvocationMetadata.Parser` (the first non-empty value of each field counts, an empty one is
    /// none; no request id, no invocation), each field found by its index in ``invocationHeaders``:
    /// the parser matched every name against its eight again, with an array made per field (4,700
    /// instructions per invocation). A test holds the two to the same answers.
    static func invocation(from response: HTTPResponse) throws(InvocationHeaderError) -> Invocation {
        // One local per field of `invocationHeaders`, in its order: not a tuple of eight optionals,
        // which the generic runtime destroyed field by field (`tuple_destroy`, 700 instructions).
        var requestID: String?, deadline: String?, arn: String?, traceID: String?
        var clientContext: String?, cognitoIdentity: String?, tenantID: String?, invocationID: String?
        for (position, field) in response.headers.fields.enumerated() where !field.value.isEmpty {
            // The session recorded which name each field has; matched again only past its record.
            switch response.selectedNames.nameIndex(ofField: position) ?? invocationHeaders.index(ofName: field.name) {
            case 0: if requestID == nil { requestID = field.value }
            case 1: if deadline == nil { deadline = field.value }
            case 2: if arn == nil { arn = field.value }
            case 3: if traceID == nil { traceID = field.value }
            case 4: if clientContext == nil { clientContext = field.value }
            case 5: if cognitoIdentity == nil { cognitoIdentity = field.value }
            case 6: if tenantID == nil { tenantID = field.value }
            case 7: if invocationID == nil { invocationID = field.value }
            default: continue
            }
        }
        guard let requestID else { throw .missingRequestID }
        return Invocation(
            metadata: InvocationMetadata(
                requestID: requestID, deadlineEpochMilliseconds: deadline.flatMap(InvocationMetadata.Parser.epochMilliseconds),
                invokedFunctionARN: arn, traceID: traceID, clientContext: clientContext, cognitoIdentity: cognitoIdentity,
                tenantID: tenantID, invocationID: invocationID),
            event: response.body)
    }

    /// `GET /invocation/next`: waits, with no timeout, for the next event.
    ///
    /// A refused or broken connection, or an answer that is not a usable 200, is retried with
    /// exponential backoff; a 500 is final.
    public func nextInvocation() throws(RuntimeClientError) -> Invocation {
        let url = endpoint.nextInvocationURL
        var attempt = 0
        var backoff = retryPolicy.initialBackoff
        while true {
            attempt += 1
            let failure: RuntimeClientError
            do {
                let response = try session.perform(nextRequest)
                switch response.status {
                case RuntimeAPIStatus.event:
                    do {
                        return try Self.invocation(from: response)
                    } catch {
                        failure = .protocolViolation(url: url, detail: "200 without \(RuntimeHeader.requestID)")
                    }
                case 500...599:
                    throw RuntimeClientError.sandboxFailure(url: url, body: response.bodyText)
                default:
                    failure = .protocolViolation(
                        url: url, detail: "unexpected status \(response.status): \(response.bodyText.prefix(200))")
                }
            } catch let error as CurlError {
                failure = .unreachable(url: url, attempts: attempt, cause: error)
            } catch let error as RuntimeClientError {
                throw error
            } catch {
                failure = .protocolViolation(url: url, detail: "\(error)")
            }
            if attempt > retryPolicy.retries {
                throw failure
            }
            sleep(for: backoff)
            backoff = backoff * 2
        }
    }

    /// `POST /invocation/{id}/response` with the response bytes and an explicit `Content-Length`;
    /// `invocationID` (from `/next`) is echoed when Lambda sent one.
    public func postResponse(
        _ body: [UInt8], for requestID: String, invocationID: String? = nil
    ) throws(RuntimeClientError) -> PostOutcome {
        var headers = HTTPHeaders()
        if let invocationID { headers.add(RuntimeHeader.invocationID, invocationID) }
        return try post(url: endpoint.responseURL(for: requestID), headers: headers, body: body)
    }

    /// `POST /invocation/{id}/error` with the `Lambda-Runtime-Function-Error-Type` and X-Ray cause
    /// headers and the JSON body; `invocationID` is echoed when Lambda sent one.
    public func postError(
        _ report: LambdaErrorReport, for requestID: String, invocationID: String? = nil
    ) throws(RuntimeClientError) -> PostOutcome {
        var headers = errorHeaders(report)
        if let invocationID { headers.add(RuntimeHeader.invocationID, invocationID) }
        return try post(url: endpoint.errorURL(for: requestID), headers: headers, body: report.json)
    }

    /// `POST /invocation/{id}/response`, streamed: opens the chunked request with
    /// `Lambda-Runtime-Function-Response-Mode: streaming`, `Transfer-Encoding: chunked` (added by
    /// ``CurlSession``), `Trailer` naming the two error trailers, `Content-Type` and the invocation id
    /// when Lambda sent one. Nothing goes out before the first write or finish. Not retried: a stream
    /// cannot be sent twice (libcurl itself resends it on a fresh connection only while the first
    /// write is still in hand).
    func startStreamingResponse(
        for requestID: String, invocationID: String?, contentType: String
    ) throws(RuntimeClientError) -> CurlStreamingUpload {
        var headers: HTTPHeaders = [
            RuntimeHeader.responseMode: RuntimeHeader.streamingResponseMode,
            "Content-Type": contentType,
            "Trailer": RuntimeHeader.streamingTrailerDeclaration,
        ]
        if let invocationID { headers.add(RuntimeHeader.invocationID, invocationID) }
        let url = endpoint.responseURL(for: requestID)
        do {
            return try session.startStreamingUpload(
                HTTPRequest(method: .post, url: url, headers: headers, timeout: nil, responseHeaders: .none))
        } catch {
            throw .unreachable(url: url, attempts: 1, cause: error)
        }
    }

    /// How the Runtime API answered a post: 2xx accepted, 413, 410, other 4xx; 500s throw.
    func outcome(of response: HTTPResponse, url: String) throws(RuntimeClientError) -> PostOutcome {
        switch RuntimeAPIStatus.answer(toPost: response.status) {
        case .accepted: return .accepted
        case .payloadTooLarge: return .payloadTooLarge(body: response.bodyText)
        case .gone: return .gone(body: response.bodyText)
        case .sandboxFailure: throw .sandboxFailure(url: url, body: response.bodyText)
        case .rejected: return .rejected(status: response.status, body: response.bodyText)
        }
    }

    /// `POST /init/error`: initialization failed; the runtime exits after this.
    public func postInitError(_ report: LambdaErrorReport) throws(RuntimeClientError) -> PostOutcome {
        try post(url: endpoint.initErrorURL, headers: errorHeaders(report), body: report.json)
    }

    private func errorHeaders(_ report: LambdaErrorReport) -> HTTPHeaders {
        var headers: HTTPHeaders = [RuntimeHeader.functionErrorType: report.headerValue, "Content-Type": "application/json"]
        if let cause = report.xrayErrorCause(workingDirectory: workingDirectory) {
            headers.add(RuntimeHeader.xrayErrorCause, cause)
        }
        return headers
    }

    /// The process's working directory, read once, for X-Ray error causes.
    private lazy var workingDirectory: String = {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        guard getcwd(&buffer, buffer.count) != nil else { return "/" }
        let path = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        return String(decoding: path, as: UTF8.self)
    }()

    /// A post is tried twice when the connection breaks (a kept-alive connection may have been
    /// closed while the sandbox was frozen); any HTTP answer is final.
    ///
    /// The URL, fields and body are moved into the request, not copied (a retain each, and a release
    /// each when the copies went).
    private func post(
        url: consuming String, headers: consuming HTTPHeaders, body: consuming [UInt8]
    ) throws(RuntimeClientError) -> PostOutcome {
        // Only the status and the body of the answer are read.
        let request = HTTPRequest(method: .post, url: url, headers: headers, body: body, timeout: nil, responseHeaders: .none)
        var attempt = 0
        while true {
            attempt += 1
            let response: HTTPResponse
            do {
                response = try session.perform(request)
            } catch {
                if attempt < 2, error.kind == .connectionLost || error.kind == .couldNotConnect {
                    continue
                }
                throw .unreachable(url: request.url, attempts: attempt, cause: error)
            }
            return try outcome(of: response, url: request.url)
        }
    }

    private func sleep(for duration: Duration) {
        let nanoseconds = max(0, duration.wholeNanoseconds)
        var request = timespec(tv_sec: Int(nanoseconds / 1_000_000_000), tv_nsec: Int(nanoseconds % 1_000_000_000))
        var remaining = timespec()
        while nanosleep(&request, &remaining) != 0, errno == EINTR {
            request = remaining
        }
    }
}
