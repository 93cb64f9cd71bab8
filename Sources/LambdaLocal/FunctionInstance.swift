#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Foundation
import LambdaCore
import LambdaRuntimeProtocol
import NIOCore
import NIOHTTP1

/// One execution environment: a `bootstrap` child process and the Runtime API it talks to.
///
/// Confined to the service's event loop: every method runs there. Its life is ``State``; the Runtime
/// API's requests (``RuntimeAPIRoute``) move it from state to state. It serves one invocation at a time, or
/// `maxConcurrency` at once in Lambda Managed Instances mode.
final class FunctionInstance: @unchecked Sendable {
    /// Where the instance is in its life.
    enum State {
        /// Spawned; its first `/next` has not arrived yet (the init phase). `first` is the invocation that
        /// started it (served first, or given the init failure); `initError` what the runtime posted to
        /// `/init/error`, or the init timeout.
        case starting(first: PendingInvocation?, initError: (type: String, body: [UInt8])?)
        /// Initialized: `waiting` are the runtime's long-polled `/next` requests, `busy` the invocations it
        /// serves (at most one of either without Managed Instances).
        case running(waiting: [HTTPResponder], busy: [PendingInvocation])
        /// Exited or killed.
        case dead

        /// The state's name, for `/_local/stats`.
        var name: String {
            switch self {
            case .starting: "starting"
            case .running(_, let busy): busy.isEmpty ? "ready" : "busy"
            case .dead: "dead"
            }
        }
    }

    let number: Int
    let version: FunctionVersion
    private let configuration: LocalConfiguration
    private let loop: EventLoop
    private let events: InstanceEvents
    private let output: @Sendable ([UInt8]) -> Void
    private(set) var state: State

    private var process: ChildProcess?
    /// A newer build replaced this instance's bootstrap: it takes no new invocation and is killed once the
    /// ones it serves have ended.
    private(set) var isRetiring = false
    private var runtimeChannel: Channel?
    private let spawnedAt = ContinuousClock.now
    private var initTimeoutTask: Scheduled<Void>?
    /// The init duration, until the first REPORT line has shown (and billed) it.
    private var initDurationToReport: Duration?
    /// Request ids answered lately (the last 1000), to tell a second result (403) from an unknown id (400).
    private var answered: [String] = []
    /// Invocation ids of attempts that timed out lately (the last 1000): a post carrying one is answered 410.
    private var timedOutAttempts: [String] = []
    /// Ended invocations whose log tail waits for the last lines the child wrote before its result.
    private var draining: [PendingInvocation] = []

    /// Creates an instance that will serve `first` once started.
    init(
        number: Int, version: FunctionVersion, configuration: LocalConfiguration, loop: EventLoop, events: InstanceEvents,
        first: PendingInvocation?, output: @escaping @Sendable ([UInt8]) -> Void
    ) {
        self.number = number
        self.version = version
        self.configuration = configuration
        self.loop = loop
        self.events = events
        self.output = output
        self.state = .starting(first: first, initError: nil)
    }

    /// Invocations the child serves at once: `AWS_LAMBDA_MAX_CONCURRENCY` in Managed Instances mode, else 1.
    private var slots: Int { configuration.maxConcurrency ?? 1 }

    /// Free for an invocation right now: long-polling `/next` on an open connection.
    var isReady: Bool {
        if isRetiring { return false }
        if case .running(let waiting, _) = state { return waiting.contains(where: \.isActive) }
        return false
    }

    /// Invocations being served now.
    var inFlight: Int {
        if case .running(_, let busy) = state { return busy.count }
        return 0
    }

    /// `/next` requests held open now.
    var waitingNext: Int {
        if case .running(let waiting, _) = state { return waiting.count }
        return 0
    }

    /// Whether the child has exited (or never started).
    var isDead: Bool {
        if case .dead = state { return true }
        return false
    }

    /// Gives a starting instance that has no invocation yet its first one; `false` otherwise.
    func takeFirst(_ invocation: PendingInvocation) -> Bool {
        guard !isRetiring, case .starting(nil, let initError) = state else { return false }
        state = .starting(first: invocation, initError: initError)
        return true
    }

    /// The child's process id, while it runs.
    var processID: Int32? { process?.pid }

    // MARK: Lifecycle

    /// Opens this instance's Runtime API, then starts the child.
    func start() {
        loop.assertInEventLoop()
        startHTTPServer(
            on: loop, port: 0, bodyLimit: configuration.maxPayload,
            streamedRequest: { [self] request, responder, control in streamedResponse(request, responder, control) }
        ) { [self] request, responder in
            handleRuntimeAPI(request, responder)
        }.whenComplete { [self] result in
            switch result {
            case .success(let channel):
                runtimeChannel = channel
                spawn(port: channel.localAddress?.port ?? 0)
            case .failure(let error):
                died(reason: "could not open a Runtime API port: \(error)", exitDescription: nil)
            }
        }
    }

    private func spawn(port: Int) {
        let loop = self.loop
        do {
            process = try ChildProcess.spawn(
                path: version.bootstrapPath,
                environment: ChildEnvironment.variables(configuration: configuration, version: version, runtimePort: port),
                directory: URL(fileURLWithPath: version.bootstrapPath).deletingLastPathComponent().path,
                // Both streams are the function's log, as CloudWatch Logs gets them (the runtime logs to
                // standard error, EMF metrics may come on either).
                onOutputLine: { [self, output] line in
                    output(line)
                    loop.execute { self.childWrote(line) }
                },
                standardErrorToo: true
            ) { [self] exit in
                loop.execute { self.died(reason: nil, exitDescription: exit.description) }
            }
        } catch {
            died(reason: "\(error)", exitDescription: nil)
            return
        }
        initTimeoutTask = loop.scheduleTask(in: .nanoseconds(configuration.initTimeout.wholeNanoseconds)) { [self] in
            guard case .starting(let first, _) = state else { return }
            let timeout = configuration.initTimeout
            events.log("INIT_REPORT Init Duration: \(PlatformLog.milliseconds(timeout)) ms\tPhase: init\tStatus: timeout")
            state = .starting(first: first, initError: (type: "Sandbox.Timedout", body: JSONText.encode([
                "errorType": "Sandbox.Timedout", "errorMessage": "Init timed out after \(PlatformLog.seconds(timeout)) seconds",
            ])))
            kill()
        }
    }

    /// Fails whatever this instance holds (lambda-local is stopping) and kills the child.
    func abandon(_ error: Error) {
        loop.assertInEventLoop()
        switch state {
        case .running(_, let busy):
            state = .running(waiting: [], busy: [])
            for invocation in busy {
                invocation.finished = true
                invocation.timeoutTask?.cancel()
                invocation.promise.fail(error)
            }
        case .starting(let first?, let initError):
            state = .starting(first: nil, initError: initError)
            first.promise.fail(error)
        case .starting(nil, _), .dead:
            break
        }
        kill()
        if process?.isRunning != true { died(reason: "stopped", exitDescription: nil) }
    }

    /// Stops giving this instance invocations (its bootstrap was rebuilt): it is killed at once when idle,
    /// else as soon as what it serves has ended, so that in-flight invocations finish on the build they
    /// started on.
    func retire() {
        loop.assertInEventLoop()
        isRetiring = true
        killIfRetiredAndIdle()
    }

    private func killIfRetiredAndIdle() {
        guard isRetiring else { return }
        switch state {
        case .running(_, let busy) where busy.isEmpty: kill()
        case .starting(nil, _): kill()
        case .running, .starting, .dead: break
        }
    }

    /// Kills the child at once (SIGKILL), as Lambda does on a timeout.
    func kill() {
        process?.send(SIGKILL)
    }

    private func died(reason: String?, exitDescription: String?) {
        loop.assertInEventLoop()
        let previous = state
        if case .dead = previous { return }
        state = .dead
        initTimeoutTask?.cancel()
        runtimeChannel?.close(promise: nil)
        runtimeChannel = nil
        let detail = reason ?? "Runtime exited with error: \(exitDescription ?? "unknown")"
        switch previous {
        case .running(_, let busy):
            for invocation in busy {
                events.log("RequestId: \(invocation.requestID) Error: \(detail)")
                finish(invocation, with: .failure(
                    type: "Runtime.ExitError", message: "RequestId: \(invocation.requestID) Error: \(detail)",
                    version: version.name, requestID: invocation.requestID, duration: elapsed(invocation)), status: .exitError)
            }
        case .starting(let first?, let initError):
            let result: InvocationResult
            if let initError {
                result = InvocationResult(
                    payload: initError.body, errorType: initError.type, executedVersion: version.name,
                    requestID: first.requestID, duration: .zero)
            } else {
                result = .failure(
                    type: "Runtime.ExitError", message: "RequestId: \(first.requestID) Error: \(detail)",
                    version: version.name, requestID: first.requestID)
            }
            events.log("INIT_REPORT Init Duration: \(PlatformLog.milliseconds(ContinuousClock.now - spawnedAt)) ms\tPhase: init\tStatus: error\tError Type: \(result.errorType ?? "")")
            events.completed(self, invocation: first, result: result, report: nil)
        case .starting(nil, _), .dead:
            break
        }
        events.instanceDied(self)
    }

    // MARK: Invocations

    /// Hands `invocation` to a waiting `/next`; `false` when no runtime loop is waiting any more.
    func dispatch(_ invocation: PendingInvocation) -> Bool {
        loop.assertInEventLoop()
        guard case .running(var waiting, var busy) = state else { return false }
        waiting.removeAll { !$0.isActive }
        guard !waiting.isEmpty else {
            state = .running(waiting: waiting, busy: busy)
            return false
        }
        let next = waiting.removeFirst()
        busy.append(invocation)
        state = .running(waiting: waiting, busy: busy)
        invocation.startedAt = .now
        let start = "START RequestId: \(invocation.requestID) Version: \(version.name)"
        events.log(start)
        invocation.log?.append(start)
        let deadline = Int64(Date().timeIntervalSince1970 * 1000) + configuration.timeout.wholeMilliseconds
        var headers = HTTPHeaders()
        headers.add(name: RuntimeHeader.requestID, value: invocation.requestID)
        headers.add(name: RuntimeHeader.invocationID, value: invocation.newAttempt())
        headers.add(name: RuntimeHeader.deadline, value: String(deadline))
        headers.add(name: RuntimeHeader.invokedFunctionARN, value: configuration.functionARN(qualifier: invocation.qualifier))
        headers.add(name: RuntimeHeader.traceID, value: invocation.traceID)
        if let clientContext = invocation.clientContext {
            headers.add(name: RuntimeHeader.clientContext, value: clientContext)
        }
        if let tenantID = invocation.tenantID {
            headers.add(name: RuntimeHeader.tenantID, value: tenantID)
        }
        headers.add(name: "Content-Type", value: "application/json")
        next.send(status: .init(statusCode: RuntimeAPIStatus.event), headers: headers, body: invocation.payload)
        invocation.timeoutTask = loop.scheduleTask(in: .nanoseconds(configuration.timeout.wholeNanoseconds)) { [self] in
            timedOut(invocation)
        }
        return true
    }

    /// Takes `invocation` out of the busy list; `false` when it is not there (already ended).
    private func release(_ invocation: PendingInvocation) -> Bool {
        guard case .running(let waiting, var busy) = state, let index = busy.firstIndex(where: { $0 === invocation }) else {
            return false
        }
        busy.remove(at: index)
        state = .running(waiting: waiting, busy: busy)
        return true
    }

    /// The function timeout passed. Lambda kills the environment; Lambda Managed Instances fail only this
    /// invocation and let the code run on ("Lambda Managed Instances do not enforce the timeout; your code
    /// continues running", lambda-managed-instances-execution-environment), so a late result gets 410.
    private func timedOut(_ invocation: PendingInvocation) {
        guard release(invocation) else { return }
        timedOutAttempts.append(invocation.attemptID)
        if timedOutAttempts.count > 1000 { timedOutAttempts.removeFirst(timedOutAttempts.count - 1000) }
        let seconds = PlatformLog.seconds(configuration.timeout)
        events.log("\(PlatformLog.timestamp()) \(invocation.requestID) Task timed out after \(seconds) seconds")
        finish(invocation, with: .failure(
            type: "Sandbox.Timedout", message: "Task timed out after \(seconds) seconds", version: version.name,
            requestID: invocation.requestID, duration: elapsed(invocation)), status: .timeout)
        if configuration.maxConcurrency == nil { kill() }
    }

    /// Ends `invocation` (the caller has already left the busy state): END and REPORT lines, the result.
    private func finish(_ invocation: PendingInvocation, with result: InvocationResult, status: PlatformLog.Report.Status) {
        invocation.finished = true
        invocation.timeoutTask?.cancel()
        answered.append(invocation.requestID)
        if answered.count > 1000 { answered.removeFirst(answered.count - 1000) }
        let report = PlatformLog.Report(
            requestID: invocation.requestID, duration: result.duration, initDuration: initDurationToReport,
            memorySizeMB: configuration.memorySizeMB, maxMemoryUsedMB: process.flatMap { PlatformLog.maxMemoryUsedMB(pid: $0.pid) },
            status: status)
        initDurationToReport = nil
        let end = "END RequestId: \(invocation.requestID)"
        events.log(end)
        let reportLine = report.line
        if invocation.log != nil {
            // The function wrote its lines before its result: wait (briefly) until they have been read.
            let process = self.process
            draining.append(invocation)
            let requestID = invocation.requestID
            whenOutputDelivered(process, giveUpAt: .now() + .milliseconds(100)) { [self] in
                guard let index = draining.firstIndex(where: { $0.requestID.utf8.elementsEqual(requestID.utf8) }) else { return }
                let invocation = draining.remove(at: index)
                var result = result
                invocation.log?.append(end)
                invocation.log?.append(reportLine)
                result.logTail = invocation.log?.tail
                events.completed(self, invocation: invocation, result: result, report: reportLine)
            }
        } else {
            events.completed(self, invocation: invocation, result: result, report: reportLine)
        }
        killIfRetiredAndIdle()
    }

    /// A line of the child's output, on the event loop: it belongs to the invocations that asked for
    /// their log's tail, the one in flight, or (Managed Instances) those whose request id it names.
    private func childWrote(_ line: [UInt8]) {
        let busy: [PendingInvocation] = if case .running(_, let busy) = state { busy } else { [] }
        let candidates = busy + draining
        for invocation in candidates where invocation.log != nil {
            if candidates.count == 1 || Self.contains(line, invocation.requestID.utf8) {
                invocation.log?.append(line: line)
            }
        }
    }

    private static func contains(_ line: [UInt8], _ needle: String.UTF8View) -> Bool {
        let needle = Array(needle)
        guard !needle.isEmpty, line.count >= needle.count else { return false }
        for start in 0...(line.count - needle.count) where line[start] == needle[0] {
            if line[start..<(start + needle.count)].elementsEqual(needle) { return true }
        }
        return false
    }

    /// Runs `body` on the event loop once `process` has handed on all the output it wrote (or at
    /// `giveUpAt`: a busy Managed Instances child may never be quiet), after the lines read so far.
    private func whenOutputDelivered(_ process: ChildProcess?, giveUpAt: NIODeadline, _ body: @escaping @Sendable () -> Void) {
        if process?.outputDelivered ?? true || NIODeadline.now() >= giveUpAt {
            loop.execute(body)
            return
        }
        loop.scheduleTask(in: .milliseconds(1)) { [self] in whenOutputDelivered(process, giveUpAt: giveUpAt, body) }
    }

    private func elapsed(_ invocation: PendingInvocation) -> Duration {
        invocation.startedAt.map { ContinuousClock.now - $0 } ?? .zero
    }

    // MARK: Runtime API

    private func handleRuntimeAPI(_ request: LocalHTTPRequest, _ responder: HTTPResponder) {
        loop.assertInEventLoop()
        switch RuntimeAPIRoute(method: request.method.rawValue, path: request.path) {
        case .next?:
            next(responder)
        case .response(let requestID)?:
            post(requestID: requestID, request: request, responder: responder, isError: false)
        case .error(let requestID)?:
            post(requestID: requestID, request: request, responder: responder, isError: true)
        case .initError?:
            initErrorPosted(request, responder)
        case nil:
            responder.sendRuntimeAPIError(
                RuntimeAPIStatus.notFound, type: RuntimeAPIErrorType.notFound,
                message: "unknown Runtime API path \(request.method) \(request.path)")
        }
    }

    private func next(_ responder: HTTPResponder) {
        var first: PendingInvocation?
        switch state {
        case .dead:
            responder.sendRuntimeAPIError(RuntimeAPIStatus.sandboxFailure, type: "Sandbox.Dead", message: "this instance is shutting down")
            return
        case .starting(let assigned, _):
            initDurationToReport = ContinuousClock.now - spawnedAt
            initTimeoutTask?.cancel()
            first = assigned
            state = .running(waiting: [], busy: [])
        case .running:
            break
        }
        guard case .running(var waiting, let busy) = state else { return }
        waiting.removeAll { !$0.isActive }
        guard waiting.count + busy.count < slots else {
            state = .running(waiting: waiting, busy: busy)
            responder.sendRuntimeAPIError(
                RuntimeAPIStatus.forbidden, type: RuntimeAPIErrorType.invalidStateTransition,
                message: "post a response or error for the current invocation before asking for the next one")
            return
        }
        waiting.append(responder)
        state = .running(waiting: waiting, busy: busy)
        responder.onClose = { [weak self] in
            // The runtime went away while long-polling: nothing was handed out, so nothing is lost.
            guard let self, case .running(var waiting, let busy) = self.state else { return }
            waiting.removeAll { $0 === responder }
            self.state = .running(waiting: waiting, busy: busy)
        }
        if let first, !dispatch(first) {
            events.requeue(first)
        } else if isReady {
            events.instanceReady(self)
        }
    }

    /// The invocation a result post for `requestID` belongs to, or `nil` once the post has been refused:
    /// 410 for an invocation id of an attempt that timed out or is not the current one, 403 for a second
    /// result, 400 for an unknown request id. A post without the invocation id (older runtimes) is checked by
    /// request id only.
    private func invocationForPost(requestID: String, headers: HTTPHeaders, responder: HTTPResponder) -> PendingInvocation? {
        let busy: [PendingInvocation] = if case .running(_, let busy) = state { busy } else { [] }
        let current = busy.first { $0.requestID.utf8.elementsEqual(requestID.utf8) }
        if let attempt = headers.first(name: RuntimeHeader.invocationID) {
            let timedOut = timedOutAttempts.contains { $0.utf8.elementsEqual(attempt.utf8) }
            let otherAttempt = current.map { !$0.attemptID.utf8.elementsEqual(attempt.utf8) } ?? false
            if timedOut || otherAttempt {
                responder.sendRuntimeAPIError(
                    RuntimeAPIStatus.gone, type: RuntimeAPIErrorType.invocationGone,
                    message: "invocation \(attempt) of request \(requestID) timed out or is not the current attempt; its result is dropped")
                return nil
            }
        }
        guard let current, !current.responseStreaming else {
            if current != nil || answered.contains(where: { $0.utf8.elementsEqual(requestID.utf8) }) {
                responder.sendRuntimeAPIError(
                    RuntimeAPIStatus.forbidden, type: RuntimeAPIErrorType.invalidStateTransition,
                    message: "a result was already posted for request \(requestID)")
            } else {
                responder.sendRuntimeAPIError(
                    RuntimeAPIStatus.badRequest, type: RuntimeAPIErrorType.invalidRequestID, message: "Invalid request ID: \(requestID)")
            }
            return nil
        }
        return current
    }

    private func post(requestID: String, request: LocalHTTPRequest, responder: HTTPResponder, isError: Bool) {
        guard let current = invocationForPost(requestID: requestID, headers: request.headers, responder: responder) else { return }
        if !isError, request.bodyTooLarge || request.bodyLength > configuration.maxPayload {
            responder.sendRuntimeAPIError(
                RuntimeAPIStatus.payloadTooLarge, type: RuntimeAPIErrorType.requestEntityTooLarge,
                message: "Response payload size (\(request.bodyLength) bytes) exceeded maximum allowed payload size (\(configuration.maxPayload) bytes).")
            return
        }
        responder.acceptRuntimeAPIPost()
        _ = release(current)
        let result: InvocationResult
        if isError {
            let (type, body) = RuntimeAPIRoute.errorDetails(request)
            result = InvocationResult(
                payload: body, errorType: type, executedVersion: version.name, requestID: requestID, duration: elapsed(current))
        } else {
            result = InvocationResult(
                payload: request.body, errorType: nil, executedVersion: version.name, requestID: requestID,
                duration: elapsed(current))
        }
        finish(current, with: result, status: .success)
    }

    // MARK: Streamed responses

    /// Decides at the head of a request whether it is a streamed `/response`
    /// (`Lambda-Runtime-Function-Response-Mode` present) and takes its body as it arrives.
    private func streamedResponse(_ request: LocalHTTPRequest, _ responder: HTTPResponder, _ control: ReadControl) -> RequestBodyStream? {
        loop.assertInEventLoop()
        guard case .response(let requestID)? = RuntimeAPIRoute(method: request.method.rawValue, path: request.path),
              let mode = request.headers.first(name: RuntimeHeader.responseMode)
        else { return nil }
        guard mode.utf8.elementsEqual(RuntimeHeader.streamingResponseMode.utf8) else {
            responder.sendRuntimeAPIError(
                RuntimeAPIStatus.badRequest, type: RuntimeAPIErrorType.invalidFunctionResponseMode,
                message: "\(RuntimeHeader.responseMode) must be \(RuntimeHeader.streamingResponseMode), not \(mode)")
            return DiscardedRequestBody()
        }
        guard let current = invocationForPost(requestID: requestID, headers: request.headers, responder: responder) else {
            return DiscardedRequestBody()
        }
        current.responseStreaming = true
        return StreamedFunctionResponse(
            instance: self, invocation: current, responder: responder, contentType: request.headers.first(name: "Content-Type"),
            collectLimit: configuration.maxPayload, streamLimit: configuration.maxStreamedPayload, control: control)
    }

    /// A streamed `/response` ended: its trailers say whether the function failed mid-stream.
    fileprivate func streamEnded(_ stream: StreamedFunctionResponse, trailers: HTTPHeaders?) {
        let invocation = stream.invocation
        invocation.responseStreaming = false
        guard release(invocation) else {
            stream.responder.sendRuntimeAPIError(
                RuntimeAPIStatus.gone, type: RuntimeAPIErrorType.invocationGone,
                message: "request \(invocation.requestID) timed out while its response streamed; the rest was dropped")
            return
        }
        let observed = stream.startObserverIfNeeded()
        let limit = observed ? configuration.maxStreamedPayload : configuration.maxPayload
        var result: InvocationResult
        if stream.tooLarge {
            let message = "Response payload size exceeded maximum allowed payload size (\(limit) bytes)."
            stream.responder.sendRuntimeAPIError(
                RuntimeAPIStatus.payloadTooLarge, type: RuntimeAPIErrorType.requestEntityTooLarge, message: message)
            result = .failure(
                type: "Function.ResponseSizeTooLarge", message: message, version: version.name, requestID: invocation.requestID,
                duration: elapsed(invocation))
        } else if let errorType = trailers?.first(name: RuntimeHeader.functionErrorType), !errorType.isEmpty {
            let body = trailers?.first(name: RuntimeHeader.functionErrorBody).flatMap { Data(base64Encoded: $0) }.map { Array($0) } ?? []
            let (type, json) = RuntimeAPIRoute.errorDetails(type: errorType, body: body)
            result = InvocationResult(
                payload: json, errorType: type, executedVersion: version.name, requestID: invocation.requestID,
                duration: elapsed(invocation))
        } else {
            result = InvocationResult(
                payload: stream.collected, errorType: nil, executedVersion: version.name, requestID: invocation.requestID,
                duration: elapsed(invocation))
        }
        if !stream.tooLarge { stream.responder.acceptRuntimeAPIPost() }
        result.streamed = observed
        finish(invocation, with: result, status: .success)
    }

    /// The runtime's connection closed before its streamed response ended.
    fileprivate func streamAborted(_ stream: StreamedFunctionResponse) {
        let invocation = stream.invocation
        invocation.responseStreaming = false
        guard release(invocation) else { return }
        var result = InvocationResult.failure(
            type: "Runtime.TruncatedResponse", message: "the runtime closed its connection before the streamed response ended",
            version: version.name, requestID: invocation.requestID, duration: elapsed(invocation))
        result.streamed = stream.startObserverIfNeeded()
        finish(invocation, with: result, status: .success)
    }

    private func initErrorPosted(_ request: LocalHTTPRequest, _ responder: HTTPResponder) {
        guard case .starting(let first, _) = state else {
            responder.sendRuntimeAPIError(
                RuntimeAPIStatus.forbidden, type: RuntimeAPIErrorType.invalidStateTransition,
                message: "init error after init completed")
            return
        }
        let initError = RuntimeAPIRoute.errorDetails(request)
        state = .starting(first: first, initError: initError)
        responder.acceptRuntimeAPIPost()
        events.log("\(PlatformLog.timestamp()) INIT error: \(String(decoding: initError.body, as: UTF8.self))")
        // Lambda stops the environment after an init error; give the runtime a moment to exit itself.
        loop.scheduleTask(in: .milliseconds(500)) { [self] in kill() }
    }
}

/// What an instance tells its owner. All calls happen on the event loop.
protocol InstanceEvents: AnyObject {
    /// The instance is long-polling `/next` and free.
    func instanceReady(_ instance: FunctionInstance)
    /// An invocation ended (result, or init failure when `report` is nil).
    func completed(_ instance: FunctionInstance, invocation: PendingInvocation, result: InvocationResult, report: String?)
    /// An invocation could not be handed out after all; put it back in the queue.
    func requeue(_ invocation: PendingInvocation)
    /// The child is gone.
    func instanceDied(_ instance: FunctionInstance)
    /// Writes a platform log line (START, END, REPORT…).
    func log(_ line: String)
}

/// The body of a streamed `/response` on its way: forwarded to the invocation's observer as it arrives, or
/// collected (up to the buffered limit) for a caller that wants the whole answer.
final class StreamedFunctionResponse: RequestBodyStream {
    let instance: FunctionInstance
    let invocation: PendingInvocation
    let responder: HTTPResponder
    let contentType: String?
    private let collectLimit: Int
    private let streamLimit: Int
    private let control: ReadControl
    private var started = false
    private var forwarded = 0
    private(set) var collected: [UInt8] = []
    /// The answer passed its limit: what came after was dropped.
    private(set) var tooLarge = false

    init(
        instance: FunctionInstance, invocation: PendingInvocation, responder: HTTPResponder, contentType: String?,
        collectLimit: Int, streamLimit: Int, control: ReadControl
    ) {
        self.control = control
        self.instance = instance
        self.invocation = invocation
        self.responder = responder
        self.contentType = contentType
        self.collectLimit = collectLimit
        self.streamLimit = streamLimit
    }

    /// Tells the observer, once, that the stream started; whether there is an observer.
    func startObserverIfNeeded() -> Bool {
        guard let observer = invocation.observer else { return false }
        if !started {
            started = true
            observer.streamStarted(contentType: contentType, executedVersion: instance.version.name, requestID: invocation.requestID)
        }
        return true
    }

    func received(_ chunk: ByteBuffer) {
        guard !invocation.finished, !tooLarge else { return }
        if startObserverIfNeeded() {
            forwarded += chunk.readableBytes
            if forwarded <= streamLimit, let observer = invocation.observer {
                observer.streamed(chunk)
                // Backpressure: read the function's stream no faster than the caller reads.
                let control = self.control
                if !observer.whenWritable({ control.resume() }) { control.pause() }
            } else {
                tooLarge = true
            }
        } else {
            if collected.count + chunk.readableBytes <= collectLimit {
                collected.append(contentsOf: chunk.readableBytesView)
            } else {
                tooLarge = true
                collected = []
            }
        }
    }

    func ended(trailers: HTTPHeaders?) {
        control.resume()
        instance.streamEnded(self, trailers: trailers)
    }

    func aborted() {
        instance.streamAborted(self)
    }
}

/// The body of a request already answered at its head (a refused streamed post): read and dropped.
final class DiscardedRequestBody: RequestBodyStream {
    func received(_ chunk: ByteBuffer) {}
    func ended(trailers: HTTPHeaders?) {}
    func aborted() {}
}
