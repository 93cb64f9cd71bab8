#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Foundation
import LambdaCore
import LambdaRuntimeProtocol

/// A Lambda Runtime API on 127.0.0.1 for tests and benchmarks: blocking sockets, a thread per
/// connection, the real status codes (200 on `/next`, 202 on posts, 400 unknown id, 403 second
/// result, 413 over 6 MB, 500 once finished), and a record of what the runtime sent, streamed
/// responses included (`Transfer-Encoding: chunked`: the chunks as they arrived, the
/// `Lambda-Runtime-Function-Response-Mode` header and the trailers).
///
/// Not the product's local runtime mock (`lambda-local`): it has no invoke endpoint and never
/// starts a process. It exists so the runtime can be tested with nothing but itself.
public final class FakeRuntimeAPI: @unchecked Sendable {
    /// One event to hand out on `/next`.
    public struct Event: Sendable {
        /// The request id sent in `Lambda-Runtime-Aws-Request-Id`.
        public var requestID: String
        /// The event bytes.
        public var body: [UInt8]
        /// Headers sent with the event besides the request id (deadline, ARN, trace id, …).
        public var headers: [(String, String)]

        /// Creates an event; by default with a deadline 30 s away and a function ARN.
        public init(requestID: String = UUID().uuidString.lowercased(), body: [UInt8], headers: [(String, String)]? = nil) {
            self.requestID = requestID
            self.body = body
            self.headers = headers ?? [
                (RuntimeHeader.deadline, String(Int64(Date().timeIntervalSince1970 * 1000) + 30_000)),
                (RuntimeHeader.invokedFunctionARN, "arn:aws:lambda:us-east-1:123456789012:function:fake"),
                ("Content-Type", "application/json"),
            ]
        }
    }

    /// What the runtime posted for an invocation, or for initialization.
    public enum Outcome: Sendable, Equatable {
        /// `POST …/response` with these bytes (buffered, or streamed and ended without error trailers).
        case response([UInt8])
        /// A streamed `POST …/response` that ended with the error trailers: the bytes streamed before
        /// the error, the `Lambda-Runtime-Function-Error-Type` trailer and the
        /// `Lambda-Runtime-Function-Error-Body` trailer, base64-decoded (`nil` if it was not base64).
        case streamError(errorType: String?, errorBody: [UInt8]?, partial: [UInt8])
        /// `POST …/error` or `/init/error` with this error-type header and body.
        case error(errorType: String?, body: [UInt8])

        /// The body as text.
        public var text: String {
            switch self {
            case .response(let body), .error(_, let body): String(decoding: body, as: UTF8.self)
            case .streamError(_, let body, _): String(decoding: body ?? [], as: UTF8.self)
            }
        }
    }

    /// A request as the runtime sent it.
    public struct Request: Sendable {
        /// `GET` or `POST`.
        public var method: String
        /// The path, with the configured prefix removed.
        public var path: String
        /// Header fields in order, names as sent.
        public var headers: [(String, String)]
        /// The body (empty unless bodies are recorded).
        public var body: [UInt8]
        /// The body's length in bytes.
        public var bodySize: Int
        /// Whether the body came as `Transfer-Encoding: chunked`.
        public var isChunked = false
        /// The sizes of the chunks, in the order they arrived (the bytes are in ``body``).
        public var chunkSizes: [Int] = []
        /// Trailer fields after the last chunk, names as sent.
        public var trailers: [(String, String)] = []
        /// When the first chunk arrived (before the request was complete).
        public var firstChunkAt: ContinuousClock.Instant?
        /// When the whole request had arrived.
        public var receivedAt: ContinuousClock.Instant = .now

        /// The first header named `name`, case-insensitively.
        public func header(_ name: String) -> String? {
            headers.first { ASCII.equalsIgnoringCase($0.0, name) }?.1
        }

        /// The first trailer named `name`, case-insensitively.
        public func trailer(_ name: String) -> String? {
            trailers.first { ASCII.equalsIgnoringCase($0.0, name) }?.1
        }
    }

    /// An answer that replaces the default behaviour for one request.
    public struct Reply: Sendable {
        /// Status code.
        public var status: Int
        /// Body bytes.
        public var body: [UInt8]
        /// Extra headers.
        public var headers: [(String, String)]
        /// Close the connection after answering.
        public var close: Bool

        /// Creates a reply.
        public init(status: Int, body: String = "", headers: [(String, String)] = [], close: Bool = false) {
            self.status = status
            self.body = Array(body.utf8)
            self.headers = headers
            self.close = close
        }

        /// Creates a reply with a binary body.
        public init(status: Int, body: [UInt8], headers: [(String, String)] = [], close: Bool = false) {
            self.status = status
            self.body = body
            self.headers = headers
            self.close = close
        }
    }

    /// A reply that closes the connection without answering, as a crashed or reset peer would.
    public static let dropConnection = Reply(status: 0, close: true)

    /// The observable state, for ``wait(timeout:until:)``.
    public struct State: Sendable {
        /// `/next` requests received.
        public var nextRequests = 0
        /// `/next` requests waiting for an event right now.
        public var waitingForEvent = 0
        /// Results posted and accepted.
        public var outcomeCount = 0
        /// `/init/error` posts.
        public var initErrors: [Outcome] = []
        /// Connections accepted.
        public var connections = 0
        /// When the first `/next` arrived (for cold-start measurements).
        public var firstNextRequestAt: ContinuousClock.Instant?
        /// When the first result was accepted.
        public var firstOutcomeAt: ContinuousClock.Instant?
        /// When the latest result was accepted.
        public var lastOutcomeAt: ContinuousClock.Instant?
        /// Chunks of streamed (chunked) bodies received so far, counted as they arrive.
        public var streamedChunks = 0
        /// Bytes of streamed bodies received so far, counted as they arrive.
        public var streamedBytes = 0
        /// When the latest chunk of a streamed body arrived.
        public var lastStreamedChunkAt: ContinuousClock.Instant?
    }

    /// The port the server listens on.
    public let port: Int
    /// The value for `AWS_LAMBDA_RUNTIME_API`: `127.0.0.1:PORT[prefix]`.
    public var runtimeAPI: String { "127.0.0.1:\(port)\(pathPrefix)" }
    /// Largest accepted response body (Lambda's 6 MB).
    public let maxPayload: Int
    /// Largest accepted streamed response body (Lambda's soft limit, 200 MB); past it 413.
    public let maxStreamedPayload: Int

    private let pathPrefix: String
    private let recordBodies: Bool
    private let listener: Int32
    private let condition = NSCondition()
    // Everything below is guarded by `condition`.
    private var queue: [Event] = []
    private var eventSource: (@Sendable () -> Event?)?
    private var inFlight: Set<String> = []
    private var answered: Set<String> = []
    private var outcomes: [String: Outcome] = [:]
    private var keepOutcomes = true
    private var recorded: [Request] = []
    private var recordRequests = true
    private var finished = false
    private var stopped = false
    private var state = State()
    private var overrideReply: (@Sendable (Request) -> Reply?)?
    private var connectionFDs: Set<Int32> = []

    /// Starts listening on 127.0.0.1 and an ephemeral port.
    ///
    /// - Parameters:
    ///   - pathPrefix: a path prefix before `/2018-06-01`, as some emulators use (`/.rt`).
    ///   - recordBodies: keep the bodies of recorded requests (turn off for long runs).
    public init(
        pathPrefix: String = "", recordBodies: Bool = true, maxPayload: Int = RuntimeAPIStatus.maxBufferedResponseBytes,
        maxStreamedPayload: Int = RuntimeAPIStatus.maxStreamedResponseBytes
    ) throws {
        self.pathPrefix = pathPrefix
        self.recordBodies = recordBodies
        self.maxPayload = maxPayload
        self.maxStreamedPayload = maxStreamedPayload
        let (fd, port) = try Self.openListeningSocket()
        self.listener = fd
        self.port = port
        let thread = Thread { [self] in acceptLoop() }
        thread.name = "FakeRuntimeAPI.accept"
        thread.start()
    }

    deinit {
        stop()
    }

    // MARK: Scripting

    /// Queues an event; returns its request id.
    @discardableResult
    public func enqueue(_ event: Event) -> String {
        condition.withLock {
            queue.append(event)
            condition.broadcast()
        }
        return event.requestID
    }

    /// Queues an event with `body` and default headers; returns its request id.
    @discardableResult
    public func enqueue(_ body: String) -> String {
        enqueue(Event(body: Array(body.utf8)))
    }

    /// Hands out events from `source` whenever the queue is empty; `nil` from it means none yet.
    /// With `keepOutcomes: false` results are counted but not stored (long runs).
    public func setEventSource(keepOutcomes: Bool = true, _ source: @escaping @Sendable () -> Event?) {
        condition.withLock {
            eventSource = source
            self.keepOutcomes = keepOutcomes
            self.recordRequests = keepOutcomes
            condition.broadcast()
        }
    }

    /// Wakes waiting `/next` requests so they ask the event source again.
    public func notifyEventsAvailable() {
        condition.withLock { condition.broadcast() }
    }

    /// Answers requests with `reply` wherever it returns non-`nil`, before the default behaviour.
    public func setOverride(_ reply: @escaping @Sendable (Request) -> Reply?) {
        condition.withLock { overrideReply = reply }
    }

    /// From now on `/next` answers 500 once nothing is queued, which ends the runtime's loop.
    public func finish() {
        condition.withLock {
            finished = true
            condition.broadcast()
        }
    }

    /// Stops listening and closes every connection.
    public func stop() {
        // Under the lock: a connection thread closes its descriptor under the same lock, so a number
        // shut down here can never already belong to another server's socket.
        condition.withLock {
            guard !stopped else { return }
            stopped = true
            finished = true
            condition.broadcast()
            shutdown(listener, Int32(SHUT_RDWR))
            for fd in connectionFDs { shutdown(fd, Int32(SHUT_RDWR)) }
        }
    }

    // MARK: Observing

    /// What was posted for `requestID`, if anything.
    public func outcome(for requestID: String) -> Outcome? {
        condition.withLock { outcomes[requestID] }
    }

    /// Every request received so far, in order.
    public var requests: [Request] {
        condition.withLock { recorded }
    }

    /// A snapshot of the counters.
    public var snapshot: State {
        condition.withLock { state }
    }

    /// Waits until `predicate` holds for the state, or `timeout` passes; returns whether it held.
    @discardableResult
    public func wait(timeout: Duration = .seconds(10), until predicate: (State) -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(timeout.fractionalSeconds)
        condition.lock()
        defer { condition.unlock() }
        while !predicate(state) {
            if !condition.wait(until: deadline) { return predicate(state) }
        }
        return true
    }

    /// ``wait(timeout:until:)`` for async tests: polls instead of blocking a thread of the
    /// cooperative pool, which has as many threads as cores and may be what the code under test
    /// needs to make progress.
    public func settle(timeout: Duration = .seconds(10), until predicate: (State) -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if predicate(snapshot) { return true }
            try? await Task.sleep(for: .milliseconds(5))
        }
        return predicate(snapshot)
    }

    /// Waits for the result of `requestID`.
    public func waitForOutcome(_ requestID: String, timeout: Duration = .seconds(10)) -> Outcome? {
        let deadline = Date().addingTimeInterval(timeout.fractionalSeconds)
        condition.lock()
        defer { condition.unlock() }
        while outcomes[requestID] == nil {
            if !condition.wait(until: deadline) { break }
        }
        return outcomes[requestID]
    }

    // MARK: Serving

    private static func openListeningSocket() throws -> (Int32, Int) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw FakeRuntimeAPIError.socket("socket", errno) }
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 64) == 0 else {
            let code = errno
            close(fd)
            throw FakeRuntimeAPIError.socket("bind/listen", code)
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return (fd, Int(UInt16(bigEndian: address.sin_port)))
    }

    private func acceptLoop() {
        while true {
            let fd = accept(listener, nil, nil)
            if fd < 0 {
                if errno == EINTR { continue }
                break
            }
            var yes: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &yes, socklen_t(MemoryLayout<Int32>.size))
            let accepted: Bool = condition.withLock {
                guard !stopped else { return false }
                connectionFDs.insert(fd)
                state.connections += 1
                condition.broadcast()
                return true
            }
            guard accepted else {
                close(fd)
                break
            }
            let thread = Thread { [self] in serveConnection(fd) }
            thread.name = "FakeRuntimeAPI.connection"
            thread.start()
        }
        close(listener)
    }

    private func serveConnection(_ fd: Int32) {
        var reader = SocketReader(fd: fd)
        reader.maxChunkedBody = maxStreamedPayload
        reader.onChunk = { [self] size in
            condition.withLock {
                state.streamedChunks += 1
                state.streamedBytes += size
                state.lastStreamedChunkAt = .now
                condition.broadcast()
            }
        }
        defer {
            condition.withLock {
                connectionFDs.remove(fd)
                close(fd)
            }
        }
        while let parsed = reader.readRequest() {
            var request: Request
            switch parsed {
            case .failure(let problem):
                _ = writeReply(fd, Reply(status: problem.status, body: problem.message, close: true))
                return
            case .success(let value):
                request = value
            }
            if request.path.hasPrefix(pathPrefix) {
                request.path.removeFirst(pathPrefix.count)
            } else {
                request.path = "/unprefixed" + request.path
            }
            let reply = respond(to: request)
            guard writeReply(fd, reply), !reply.close else { return }
        }
    }

    private func respond(to request: Request) -> Reply {
        condition.lock()
        defer { condition.unlock() }
        if recordRequests {
            var stored = request
            if !recordBodies { stored.body = [] }
            recorded.append(stored)
        }
        if let overrideReply {
            condition.unlock()
            let reply = overrideReply(request)
            condition.lock()
            if let reply { return reply }
        }
        guard let route = RuntimeAPIRoute(method: request.method, path: request.path) else {
            return Reply(status: 404, body: #"{"errorType":"NotFound","errorMessage":"no such route"}"#)
        }
        switch route {
        case .next:
            return nextEvent()
        case .response(let requestID):
            if let mode = request.header(RuntimeHeader.responseMode), !mode.utf8.elementsEqual(RuntimeHeader.streamingResponseMode.utf8) {
                // As the RIE: the one mode there is, or none.
                return Reply(
                    status: RuntimeAPIStatus.badRequest,
                    body: #"{"errorType":"\#(RuntimeAPIErrorType.invalidFunctionResponseMode)","errorMessage":"unknown response mode"}"#)
            }
            if request.isChunked, let errorType = request.trailer(RuntimeHeader.functionErrorType) {
                let errorBody = request.trailer(RuntimeHeader.functionErrorBody).flatMap { Data(base64Encoded: $0) }.map { Array($0) }
                return record(
                    requestID, .streamError(errorType: errorType, errorBody: errorBody, partial: request.body),
                    size: request.bodySize, streamed: true)
            }
            return record(requestID, .response(request.body), size: request.bodySize, streamed: request.isChunked)
        case .error(let requestID):
            return record(
                requestID, .error(errorType: request.header(RuntimeHeader.functionErrorType), body: request.body),
                size: request.bodySize)
        case .initError:
            state.initErrors.append(.error(errorType: request.header(RuntimeHeader.functionErrorType), body: request.body))
            condition.broadcast()
            return Reply(status: RuntimeAPIStatus.accepted, body: #"{"status":"OK"}"#)
        }
    }

    /// Called with the lock held; waits for an event.
    private func nextEvent() -> Reply {
        state.nextRequests += 1
        if state.firstNextRequestAt == nil { state.firstNextRequestAt = .now }
        state.waitingForEvent += 1
        condition.broadcast()
        defer {
            state.waitingForEvent -= 1
            condition.broadcast()
        }
        while true {
            if !queue.isEmpty {
                return handOut(queue.removeFirst())
            }
            if let eventSource, let event = eventSource() {
                return handOut(event)
            }
            if finished {
                return Reply(status: 500, body: #"{"errorType":"Runtime.Finished","errorMessage":"the fake Runtime API has no more events"}"#)
            }
            condition.wait()
        }
    }

    private func handOut(_ event: Event) -> Reply {
        inFlight.insert(event.requestID)
        var headers = [(RuntimeHeader.requestID, event.requestID)]
        headers.append(contentsOf: event.headers)
        return Reply(status: RuntimeAPIStatus.event, body: event.body, headers: headers)
    }

    private func record(_ requestID: String, _ outcome: Outcome, size: Int, streamed: Bool = false) -> Reply {
        if answered.contains(requestID) {
            return Reply(
                status: RuntimeAPIStatus.forbidden,
                body: #"{"errorType":"\#(RuntimeAPIErrorType.invalidStateTransition)","errorMessage":"a result was already posted for this request"}"#)
        }
        guard inFlight.contains(requestID) else {
            return Reply(
                status: RuntimeAPIStatus.badRequest,
                body: #"{"errorType":"\#(RuntimeAPIErrorType.invalidRequestID)","errorMessage":"unknown request id"}"#)
        }
        if case .response = outcome, size > (streamed ? maxStreamedPayload : maxPayload) {
            return Reply(
                status: RuntimeAPIStatus.payloadTooLarge,
                body: #"{"errorType":"\#(RuntimeAPIErrorType.requestEntityTooLarge)","errorMessage":"response over the limit"}"#)
        }
        inFlight.remove(requestID)
        answered.insert(requestID)
        if keepOutcomes {
            outcomes[requestID] = outcome
        }
        state.outcomeCount += 1
        let now = ContinuousClock.now
        if state.firstOutcomeAt == nil { state.firstOutcomeAt = now }
        state.lastOutcomeAt = now
        condition.broadcast()
        return Reply(status: RuntimeAPIStatus.accepted, body: #"{"status":"OK"}"#)
    }

    private func writeReply(_ fd: Int32, _ reply: Reply) -> Bool {
        guard reply.status != 0 else { return false }
        var head = "HTTP/1.1 \(reply.status) \(Self.reason(reply.status))\r\nContent-Length: \(reply.body.count)\r\n"
        if !reply.headers.contains(where: { $0.0.caseInsensitiveCompare("Content-Type") == .orderedSame }) {
            head += "Content-Type: application/json\r\n"
        }
        for (name, value) in reply.headers { head += "\(name): \(value)\r\n" }
        if reply.close { head += "Connection: close\r\n" }
        head += "\r\n"
        return writeAll(fd, Array(head.utf8)) && writeAll(fd, reply.body)
    }

    private func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { buffer in
            guard let start = buffer.baseAddress else { return true }  // nothing to send
            var offset = 0
            while offset < buffer.count {
                let sent = send(fd, start + offset, buffer.count - offset, Int32(MSG_NOSIGNAL))
                if sent < 0, errno == EINTR { continue }
                if sent <= 0 { return false }
                offset += sent
            }
            return true
        }
    }

    private static func reason(_ status: Int) -> String {
        switch status {
        case 200: "OK"
        case 202: "Accepted"
        case 400: "Bad Request"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 411: "Length Required"
        case 413: "Payload Too Large"
        case 500: "Internal Server Error"
        default: "Status"
        }
    }
}

/// The fake server could not start.
public enum FakeRuntimeAPIError: Error, CustomStringConvertible {
    /// A socket call failed with `errno`.
    case socket(String, Int32)

    /// What failed.
    public var description: String {
        switch self {
        case .socket(let call, let code): "\(call) failed: \(String(cString: strerror(code)))"
        }
    }
}
