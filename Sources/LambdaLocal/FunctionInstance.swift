#if canImport(Glibc)
import Glibc
#endif
import Foundation
import NIOCore
import NIOHTTP1

/// One execution environment: a `bootstrap` child process and the Runtime API it talks to.
///
/// Confined to the service's event loop: every method runs there.
final class FunctionInstance: @unchecked Sendable {
    enum Phase: Equatable {
        /// Spawned; its first `/next` has not arrived yet (the init phase).
        case starting
        /// Long-polling `/next`, free for an invocation.
        case ready
        /// Serving an invocation.
        case busy
        /// Exited or killed.
        case dead
    }

    let number: Int
    let version: FunctionVersion
    private let configuration: LocalConfiguration
    private let loop: EventLoop
    private let events: InstanceEvents
    private(set) var phase: Phase = .starting

    private var process: ChildProcess?
    private var runtimeChannel: Channel?
    private var pendingNext: HTTPResponder?
    private(set) var current: PendingInvocation?
    /// The invocation that started this instance: it is served first, or gets the init failure.
    var assigned: PendingInvocation?
    private var answered: [String] = []
    private let spawnedAt = ContinuousClock.now
    private var initDuration: Duration?
    private var initDurationReported = false
    private var initError: (type: String, body: [UInt8])?
    private var initTimeoutTask: Scheduled<Void>?

    private let output: @Sendable ([UInt8]) -> Void

    init(
        number: Int, version: FunctionVersion, configuration: LocalConfiguration, loop: EventLoop, events: InstanceEvents,
        output: @escaping @Sendable ([UInt8]) -> Void
    ) {
        self.number = number
        self.output = output
        self.version = version
        self.configuration = configuration
        self.loop = loop
        self.events = events
    }

    /// Free for an invocation right now.
    var isReady: Bool { phase == .ready && current == nil && (pendingNext?.isActive ?? false) }

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
                path: version.bootstrapPath, environment: childEnvironment(runtimePort: port),
                directory: URL(fileURLWithPath: version.bootstrapPath).deletingLastPathComponent().path,
                onOutputLine: output
            ) { [self] exit in
                loop.execute { self.died(reason: nil, exitDescription: exit.description) }
            }
        } catch {
            died(reason: "\(error)", exitDescription: nil)
            return
        }
        let seconds = Self.seconds(configuration.initTimeout)
        initTimeoutTask = loop.scheduleTask(in: .nanoseconds(Int64(configuration.initTimeout.components.seconds) * 1_000_000_000
                                                             + configuration.initTimeout.components.attoseconds / 1_000_000_000)) { [self] in
            guard phase == .starting else { return }
            events.log("INIT_REPORT Init Duration: \(Self.milliseconds(configuration.initTimeout)) ms\tPhase: init\tStatus: timeout")
            initError = (type: "Sandbox.Timedout", body: JSONText.bytes([
                "errorType": "Sandbox.Timedout", "errorMessage": "Init timed out after \(seconds) seconds",
            ]))
            kill()
        }
    }

    private func childEnvironment(runtimePort: Int) -> [String: String] {
        let date = Self.logStreamDate()
        var environment: [String: String] = [
            "AWS_LAMBDA_RUNTIME_API": "127.0.0.1:\(runtimePort)",
            "AWS_LAMBDA_FUNCTION_NAME": configuration.functionName,
            "AWS_LAMBDA_FUNCTION_VERSION": version.name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": String(configuration.memorySizeMB),
            "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/\(configuration.functionName)",
            "AWS_LAMBDA_LOG_STREAM_NAME": "\(date)/[\(version.name)]\(UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased())",
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_REGION": configuration.region,
            "AWS_DEFAULT_REGION": configuration.region,
            "LAMBDA_TASK_ROOT": URL(fileURLWithPath: version.bootstrapPath).deletingLastPathComponent().path,
            "LAMBDA_RUNTIME_DIR": "/var/runtime",
            "_HANDLER": configuration.handler,
            "TZ": ":UTC",
            "LANG": "en_US.UTF-8",
            "PATH": "/usr/local/bin:/usr/bin:/bin:/opt/bin",
        ]
        let parent = ProcessInfo.processInfo.environment
        for key in ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"] {
            if let value = parent[key] { environment[key] = value }
        }
        environment.merge(configuration.environment) { _, new in new }
        environment.merge(version.environment) { _, new in new }
        // Lambda sets the version; neither --env nor --version-env can contradict it.
        environment["AWS_LAMBDA_FUNCTION_VERSION"] = version.name
        return environment
    }

    /// Fails whatever this instance holds (lambda-local is stopping) and kills the child.
    func abandon(_ error: Error) {
        loop.assertInEventLoop()
        if let current {
            self.current = nil
            current.timeoutTask?.cancel()
            current.promise.fail(error)
        }
        if let assigned {
            self.assigned = nil
            assigned.promise.fail(error)
        }
        kill()
        if process?.isRunning != true { died(reason: "stopped", exitDescription: nil) }
    }

    /// Whether the child has exited (or never started).
    var isDead: Bool { phase == .dead }

    /// Kills the child at once (SIGKILL), as Lambda does on a timeout.
    func kill() {
        process?.send(SIGKILL)
    }

    private func died(reason: String?, exitDescription: String?) {
        loop.assertInEventLoop()
        guard phase != .dead else { return }
        phase = .dead
        initTimeoutTask?.cancel()
        pendingNext = nil
        runtimeChannel?.close(promise: nil)
        runtimeChannel = nil
        let detail = reason ?? "Runtime exited with error: \(exitDescription ?? "unknown")"
        if let current {
            self.current = nil
            events.log("RequestId: \(current.requestID) Error: \(detail)")
            finish(current, with: .failure(
                type: "Runtime.ExitError", message: "RequestId: \(current.requestID) Error: \(detail)",
                version: version.name, requestID: current.requestID, duration: elapsed(current)))
        }
        if let assigned {
            self.assigned = nil
            let result: InvocationResult
            if let initError {
                result = InvocationResult(
                    payload: initError.body, errorType: initError.type, executedVersion: version.name,
                    requestID: assigned.requestID, duration: .zero)
            } else {
                result = .failure(
                    type: "Runtime.ExitError", message: "RequestId: \(assigned.requestID) Error: \(detail)",
                    version: version.name, requestID: assigned.requestID)
            }
            events.log("INIT_REPORT Init Duration: \(Self.milliseconds(ContinuousClock.now - spawnedAt)) ms\tPhase: init\tStatus: error\tError Type: \(result.errorType ?? "")")
            events.completed(self, invocation: assigned, result: result, report: nil)
        }
        events.instanceDied(self)
    }

    // MARK: Invocations

    /// Hands `invocation` to the waiting `/next`; `false` when the runtime is not there any more.
    func dispatch(_ invocation: PendingInvocation) -> Bool {
        loop.assertInEventLoop()
        guard phase == .ready, current == nil, let responder = pendingNext, responder.isActive else {
            if pendingNext?.isActive == false { pendingNext = nil }
            return false
        }
        pendingNext = nil
        current = invocation
        phase = .busy
        invocation.startedAt = .now
        events.log("START RequestId: \(invocation.requestID) Version: \(version.name)")
        let deadline = Int64(Date().timeIntervalSince1970 * 1000) + Int64(Self.milliseconds(configuration.timeout) ?? 0)
        var headers = HTTPHeaders()
        headers.add(name: "Lambda-Runtime-Aws-Request-Id", value: invocation.requestID)
        headers.add(name: "Lambda-Runtime-Deadline-Ms", value: String(deadline))
        headers.add(name: "Lambda-Runtime-Invoked-Function-Arn", value: configuration.functionARN(qualifier: invocation.qualifier))
        headers.add(name: "Lambda-Runtime-Trace-Id", value: invocation.traceID)
        if let clientContext = invocation.clientContext {
            headers.add(name: "Lambda-Runtime-Client-Context", value: clientContext)
        }
        headers.add(name: "Content-Type", value: "application/json")
        responder.send(status: .ok, headers: headers, body: invocation.payload)
        let timeout = configuration.timeout
        invocation.timeoutTask = loop.scheduleTask(in: .nanoseconds(Int64(timeout.components.seconds) * 1_000_000_000 + timeout.components.attoseconds / 1_000_000_000)) { [self] in
            timedOut(invocation)
        }
        return true
    }

    private func timedOut(_ invocation: PendingInvocation) {
        guard current === invocation else { return }
        current = nil
        let seconds = Self.seconds(configuration.timeout)
        events.log("\(Self.timestamp()) \(invocation.requestID) Task timed out after \(seconds) seconds")
        finish(invocation, with: .failure(
            type: "Sandbox.Timedout", message: "Task timed out after \(seconds) seconds", version: version.name,
            requestID: invocation.requestID, duration: elapsed(invocation)))
        kill()
    }

    private func finish(_ invocation: PendingInvocation, with result: InvocationResult) {
        invocation.timeoutTask?.cancel()
        answered.append(invocation.requestID)
        if answered.count > 1000 { answered.removeFirst(answered.count - 1000) }
        if phase == .busy { phase = .ready }
        var report = "REPORT RequestId: \(invocation.requestID)\tDuration: \(Self.milliseconds(result.duration)) ms"
        var billed = result.duration
        if let initDuration, !initDurationReported {
            billed += initDuration
        }
        let billedMilliseconds = Int((Double(billed.components.seconds) * 1000 + Double(billed.components.attoseconds) / 1e15).rounded(.up))
        report += "\tBilled Duration: \(max(1, billedMilliseconds)) ms\tMemory Size: \(configuration.memorySizeMB) MB"
        report += "\tMax Memory Used: \(maxMemoryUsedMB().map(String.init) ?? "?") MB"
        if let initDuration, !initDurationReported {
            initDurationReported = true
            report += "\tInit Duration: \(Self.milliseconds(initDuration)) ms"
        }
        if result.errorType == "Sandbox.Timedout" {
            report += "\tStatus: timeout"
        } else if result.errorType == "Runtime.ExitError" {
            report += "\tStatus: error\tError Type: Runtime.ExitError"
        }
        events.log("END RequestId: \(invocation.requestID)")
        events.completed(self, invocation: invocation, result: result, report: report)
    }

    private func elapsed(_ invocation: PendingInvocation) -> Duration {
        invocation.startedAt.map { ContinuousClock.now - $0 } ?? .zero
    }

    /// The child's peak resident memory (VmHWM), in MB.
    private func maxMemoryUsedMB() -> Int? {
        guard let pid = process?.pid,
              let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
              let kilobytes = Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "")
        else { return nil }
        return Int((Double(kilobytes) / 1024).rounded(.up))
    }

    // MARK: Runtime API

    private func handleRuntimeAPI(_ request: LocalHTTPRequest, _ responder: HTTPResponder) {
        loop.assertInEventLoop()
        let parts = request.path.split(separator: "/")
        guard parts.count >= 4, parts[0] == "2018-06-01", parts[1] == "runtime" else {
            responder.sendError(status: .notFound, type: "NotFound", message: "unknown Runtime API path \(request.path)")
            return
        }
        switch (request.method, parts[2], parts.count, parts.last) {
        case (.GET, "invocation", 4, "next"):
            next(responder)
        case (.POST, "invocation", 5, "response"):
            post(requestID: String(parts[3]), request: request, responder: responder, isError: false)
        case (.POST, "invocation", 5, "error"):
            post(requestID: String(parts[3]), request: request, responder: responder, isError: true)
        case (.POST, "init", 4, "error"):
            initErrorPosted(request, responder)
        default:
            responder.sendError(status: .notFound, type: "NotFound", message: "unknown Runtime API path \(request.method) \(request.path)")
        }
    }

    private func next(_ responder: HTTPResponder) {
        guard phase != .dead else {
            responder.sendError(status: .internalServerError, type: "Sandbox.Dead", message: "this instance is shutting down")
            return
        }
        if current != nil {
            responder.sendError(
                status: .forbidden, type: "InvalidStateTransition",
                message: "post a response or error for the current invocation before asking for the next one")
            return
        }
        if phase == .starting {
            initDuration = ContinuousClock.now - spawnedAt
            initTimeoutTask?.cancel()
        }
        phase = .ready
        pendingNext = responder
        responder.onClose = { [weak self] in
            // The runtime went away while long-polling: nothing was handed out, so nothing is lost.
            self?.pendingNext = nil
        }
        if let assigned {
            self.assigned = nil
            if !dispatch(assigned) {
                events.requeue(assigned)
            }
            return
        }
        events.instanceReady(self)
    }

    private func post(requestID: String, request: LocalHTTPRequest, responder: HTTPResponder, isError: Bool) {
        guard let current, current.requestID == requestID else {
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
        self.current = nil
        let result: InvocationResult
        if isError {
            let (type, body) = Self.errorDetails(request)
            result = InvocationResult(
                payload: body, errorType: type, executedVersion: version.name, requestID: requestID,
                duration: elapsed(current))
        } else {
            result = InvocationResult(
                payload: request.body, errorType: nil, executedVersion: version.name, requestID: requestID,
                duration: elapsed(current))
        }
        finish(current, with: result)
    }

    private func initErrorPosted(_ request: LocalHTTPRequest, _ responder: HTTPResponder) {
        guard phase == .starting else {
            responder.sendError(status: .forbidden, type: "InvalidStateTransition", message: "init error after init completed")
            return
        }
        initError = Self.errorDetails(request)
        responder.send(status: .accepted, body: Array(#"{"status":"OK"}"#.utf8))
        events.log("\(Self.timestamp()) INIT error: \(String(decoding: initError?.body ?? [], as: UTF8.self))")
        // Lambda stops the environment after an init error; give the runtime a moment to exit itself.
        loop.scheduleTask(in: .milliseconds(500)) { [self] in kill() }
    }

    /// The error type (header first, then the body's `errorType`) and a JSON body for the caller.
    private static func errorDetails(_ request: LocalHTTPRequest) -> (type: String, body: [UInt8]) {
        let parsed = JSONText.parse(request.body) as? [String: Any]
        let type = request.headers.first(name: "Lambda-Runtime-Function-Error-Type").flatMap { $0.isEmpty ? nil : $0 }
            ?? (parsed?["errorType"] as? String) ?? "Runtime.Unknown"
        if parsed != nil {
            return (type, request.body)
        }
        let message = String(decoding: request.body, as: UTF8.self)
        return (type, JSONText.bytes(["errorType": type, "errorMessage": message]))
    }

    // MARK: Formatting

    static func milliseconds(_ duration: Duration) -> String {
        let value = Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
        return String(format: "%.2f", value)
    }

    static func milliseconds(_ duration: Duration) -> Int? {
        Int(duration.components.seconds) * 1000 + Int(duration.components.attoseconds / 1_000_000_000_000_000)
    }

    static func seconds(_ duration: Duration) -> String {
        String(format: "%.2f", Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18)
    }

    static func timestamp() -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: Date())
    }

    private static func logStreamDate() -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy/MM/dd"
        return formatter.string(from: Date())
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
