#if canImport(Glibc)
import Glibc
#endif
import Foundation
import NIOCore
import NIOHTTP1

/// One execution environment: a `bootstrap` child process and the Runtime API it talks to.
///
/// Confined to the service's event loop: every method runs there. Its life is ``State``; the Runtime
/// API's requests (``RuntimeAPIRoute``) move it from state to state.
final class FunctionInstance: @unchecked Sendable {
    /// Where the instance is in its life.
    enum State {
        /// Spawned; its first `/next` has not arrived yet (the init phase). `first` is the invocation that
        /// started it (served first, or given the init failure); `initError` what the runtime posted to
        /// `/init/error`, or the init timeout.
        case starting(first: PendingInvocation?, initError: (type: String, body: [UInt8])?)
        /// Between invocations: long-polling `/next` (`next`), or not yet asking (`nil`).
        case ready(next: HTTPResponder?)
        /// Serving an invocation.
        case busy(PendingInvocation)
        /// Exited or killed.
        case dead

        /// The state's name, for `/_local/stats`.
        var name: String {
            switch self {
            case .starting: "starting"
            case .ready: "ready"
            case .busy: "busy"
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
    private var runtimeChannel: Channel?
    private let spawnedAt = ContinuousClock.now
    private var initTimeoutTask: Scheduled<Void>?
    /// The init duration, until the first REPORT line has shown (and billed) it.
    private var initDurationToReport: Duration?
    /// Request ids answered lately (the last 1000), to tell a second result (403) from an unknown id (400).
    private var answered: [String] = []

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

    /// Free for an invocation right now: long-polling `/next` on an open connection.
    var isReady: Bool {
        if case .ready(let next?) = state { return next.isActive }
        return false
    }

    /// Whether the child has exited (or never started).
    var isDead: Bool {
        if case .dead = state { return true }
        return false
    }

    /// Gives a starting instance that has no invocation yet its first one; `false` otherwise.
    func takeFirst(_ invocation: PendingInvocation) -> Bool {
        guard case .starting(nil, let initError) = state else { return false }
        state = .starting(first: invocation, initError: initError)
        return true
    }

    /// The child's process id, while it runs.
    var processID: Int32? { process?.pid }

    // MARK: Lifecycle

    /// Opens this instance's Runtime API, then starts the child.
    func start() {
        loop.assertInEventLoop()
        startHTTPServer(on: loop, port: 0, bodyLimit: configuration.maxPayload) { [self] request, responder in
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
                onOutputLine: output
            ) { [self] exit in
                loop.execute { self.died(reason: nil, exitDescription: exit.description) }
            }
        } catch {
            died(reason: "\(error)", exitDescription: nil)
            return
        }
        initTimeoutTask = loop.scheduleTask(in: .nanoseconds(configuration.initTimeout.nanosecondsForScheduling)) { [self] in
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
        case .busy(let invocation):
            state = .ready(next: nil)
            invocation.timeoutTask?.cancel()
            invocation.promise.fail(error)
        case .starting(let first?, let initError):
            state = .starting(first: nil, initError: initError)
            first.promise.fail(error)
        case .starting(nil, _), .ready, .dead:
            break
        }
        kill()
        if process?.isRunning != true { died(reason: "stopped", exitDescription: nil) }
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
        case .busy(let invocation):
            events.log("RequestId: \(invocation.requestID) Error: \(detail)")
            finish(invocation, with: .failure(
                type: "Runtime.ExitError", message: "RequestId: \(invocation.requestID) Error: \(detail)",
                version: version.name, requestID: invocation.requestID, duration: elapsed(invocation)), status: .exitError)
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
        case .starting(nil, _), .ready, .dead:
            break
        }
        events.instanceDied(self)
    }

    // MARK: Invocations

    /// Hands `invocation` to the waiting `/next`; `false` when the runtime is not there any more.
    func dispatch(_ invocation: PendingInvocation) -> Bool {
        loop.assertInEventLoop()
        guard case .ready(let next?) = state else { return false }
        guard next.isActive else {
            state = .ready(next: nil)
            return false
        }
        state = .busy(invocation)
        invocation.startedAt = .now
        events.log("START RequestId: \(invocation.requestID) Version: \(version.name)")
        let deadline = Int64(Date().timeIntervalSince1970 * 1000) + Int64(PlatformLog.wholeMilliseconds(configuration.timeout))
        var headers = HTTPHeaders()
        headers.add(name: "Lambda-Runtime-Aws-Request-Id", value: invocation.requestID)
        headers.add(name: "Lambda-Runtime-Deadline-Ms", value: String(deadline))
        headers.add(name: "Lambda-Runtime-Invoked-Function-Arn", value: configuration.functionARN(qualifier: invocation.qualifier))
        headers.add(name: "Lambda-Runtime-Trace-Id", value: invocation.traceID)
        if let clientContext = invocation.clientContext {
            headers.add(name: "Lambda-Runtime-Client-Context", value: clientContext)
        }
        headers.add(name: "Content-Type", value: "application/json")
        next.send(status: .ok, headers: headers, body: invocation.payload)
        invocation.timeoutTask = loop.scheduleTask(in: .nanoseconds(configuration.timeout.nanosecondsForScheduling)) { [self] in
            timedOut(invocation)
        }
        return true
    }

    private func timedOut(_ invocation: PendingInvocation) {
        guard case .busy(let current) = state, current === invocation else { return }
        state = .ready(next: nil)
        let seconds = PlatformLog.seconds(configuration.timeout)
        events.log("\(PlatformLog.timestamp()) \(invocation.requestID) Task timed out after \(seconds) seconds")
        finish(invocation, with: .failure(
            type: "Sandbox.Timedout", message: "Task timed out after \(seconds) seconds", version: version.name,
            requestID: invocation.requestID, duration: elapsed(invocation)), status: .timeout)
        kill()
    }

    /// Ends `invocation` (the caller has already left the busy state): END and REPORT lines, the result.
    private func finish(_ invocation: PendingInvocation, with result: InvocationResult, status: PlatformLog.Report.Status) {
        invocation.timeoutTask?.cancel()
        answered.append(invocation.requestID)
        if answered.count > 1000 { answered.removeFirst(answered.count - 1000) }
        let report = PlatformLog.Report(
            requestID: invocation.requestID, duration: result.duration, initDuration: initDurationToReport,
            memorySizeMB: configuration.memorySizeMB, maxMemoryUsedMB: process.flatMap { PlatformLog.maxMemoryUsedMB(pid: $0.pid) },
            status: status)
        initDurationToReport = nil
        events.log("END RequestId: \(invocation.requestID)")
        events.completed(self, invocation: invocation, result: result, report: report.line)
    }

    private func elapsed(_ invocation: PendingInvocation) -> Duration {
        invocation.startedAt.map { ContinuousClock.now - $0 } ?? .zero
    }

    // MARK: Runtime API

    private func handleRuntimeAPI(_ request: LocalHTTPRequest, _ responder: HTTPResponder) {
        loop.assertInEventLoop()
        switch RuntimeAPIRoute(method: request.method, path: request.path) {
        case .next?:
            next(responder)
        case .response(let requestID)?:
            post(requestID: requestID, request: request, responder: responder, isError: false)
        case .error(let requestID)?:
            post(requestID: requestID, request: request, responder: responder, isError: true)
        case .initError?:
            initErrorPosted(request, responder)
        case nil:
            responder.sendError(status: .notFound, type: "NotFound", message: "unknown Runtime API path \(request.method) \(request.path)")
        }
    }

    private func next(_ responder: HTTPResponder) {
        var first: PendingInvocation?
        switch state {
        case .dead:
            responder.sendError(status: .internalServerError, type: "Sandbox.Dead", message: "this instance is shutting down")
            return
        case .busy:
            responder.sendError(
                status: .forbidden, type: "InvalidStateTransition",
                message: "post a response or error for the current invocation before asking for the next one")
            return
        case .starting(let assigned, _):
            initDurationToReport = ContinuousClock.now - spawnedAt
            initTimeoutTask?.cancel()
            first = assigned
        case .ready:
            break
        }
        state = .ready(next: responder)
        responder.onClose = { [weak self] in
            // The runtime went away while long-polling: nothing was handed out, so nothing is lost.
            guard let self, case .ready(let waiting?) = self.state, waiting === responder else { return }
            self.state = .ready(next: nil)
        }
        if let first {
            if !dispatch(first) { events.requeue(first) }
            return
        }
        events.instanceReady(self)
    }

    private func post(requestID: String, request: LocalHTTPRequest, responder: HTTPResponder, isError: Bool) {
        guard case .busy(let current) = state, current.requestID == requestID else {
            if answered.contains(requestID) {
                responder.sendError(
                    status: .forbidden, type: "InvalidStateTransition",
                    message: "a result was already posted for request \(requestID)")
            } else {
                responder.sendError(status: .badRequest, type: "InvalidRequestID", message: "Invalid request ID: \(requestID)")
            }
            return
        }
        if !isError, request.bodyTooLarge || request.bodyLength > configuration.maxPayload {
            responder.sendError(
                status: .payloadTooLarge, type: "RequestEntityTooLarge",
                message: "Response payload size (\(request.bodyLength) bytes) exceeded maximum allowed payload size (\(configuration.maxPayload) bytes).")
            return
        }
        responder.send(status: .accepted, body: Array(#"{"status":"OK"}"#.utf8))
        state = .ready(next: nil)
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

    private func initErrorPosted(_ request: LocalHTTPRequest, _ responder: HTTPResponder) {
        guard case .starting(let first, _) = state else {
            responder.sendError(status: .forbidden, type: "InvalidStateTransition", message: "init error after init completed")
            return
        }
        let initError = RuntimeAPIRoute.errorDetails(request)
        state = .starting(first: first, initError: initError)
        responder.send(status: .accepted, body: Array(#"{"status":"OK"}"#.utf8))
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
