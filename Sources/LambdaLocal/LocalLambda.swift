import Foundation
import LambdaCore
import NIOCore

/// The local Lambda service: versions, a weighted alias, instances per version behind a queue,
/// START/END/REPORT lines and statistics. Confined to one event loop.
public final class LocalLambda: @unchecked Sendable, InstanceEvents {
    /// The settings it runs with.
    public let configuration: LocalConfiguration
    /// The loop every piece of state lives on.
    public let loop: EventLoop

    /// CloudWatch metrics: AWS/Lambda from every invocation, and every EMF line the children write.
    public let metrics: MetricStore

    /// The aliases, by name: the one from the command line, and any made with CreateAlias.
    private(set) var aliases: [String: AliasState] = [:]
    private let logLine: @Sendable (String) -> Void
    private var instances: [String: [FunctionInstance]] = [:]
    private var queues: [String: [PendingInvocation]] = [:]
    private var statistics: [String: VersionStatistics] = [:]
    private var instanceCount = 0
    private var stopped = false

    /// Creates the service; fails when the alias breaks Lambda's rules.
    public init(configuration: LocalConfiguration, loop: EventLoop, log: @escaping @Sendable (String) -> Void) throws(AliasRoutingError) {
        try configuration.alias.validate(knownVersions: configuration.versions.map(\.name), functionARN: configuration.functionARN())
        guard configuration.concurrency >= 1 else { throw .invalidParameter("concurrency must be at least 1") }
        guard (configuration.maxConcurrency ?? 1) >= 1 else { throw .invalidParameter("max concurrency must be at least 1") }
        self.configuration = configuration
        self.loop = loop
        self.logLine = log
        self.metrics = MetricStore()
        aliases[configuration.alias.name] = AliasState(routing: configuration.alias)
    }

    /// The alias that front-door and unqualified invocations go through, as it is now.
    public var frontDoorAlias: AliasRouting {
        loop.assertInEventLoop()
        return aliases[configuration.alias.name]?.routing ?? configuration.alias
    }

    /// Invokes the function. `qualifier` is a version, the alias name, or `nil` (the alias routes).
    /// With an `observer`, a streamed answer goes to it as it arrives (the result then ends the stream).
    public func invoke(
        payload: [UInt8], qualifier: String? = nil, options: InvokeOptions = InvokeOptions(),
        observer: InvocationStreamObserver? = nil
    ) -> EventLoopFuture<InvocationResult> {
        loop.flatSubmit { [self] in
            let version: String
            let invokedQualifier: String?
            switch qualifier {
            case nil:
                version = frontDoorAlias.pickVersion(random: Double.random(in: 0..<1))
                invokedQualifier = configuration.versions.count > 1 ? configuration.alias.name : nil
            case let name? where aliases[name] != nil:
                version = aliases[name]?.routing.pickVersion(random: Double.random(in: 0..<1)) ?? configuration.alias.primaryVersion
                invokedQualifier = name
            case let explicit?:
                guard configuration.versions.contains(where: { $0.name == explicit }) else {
                    return loop.makeFailedFuture(LocalInvokeError.unknownQualifier(explicit, function: configuration.functionName))
                }
                version = explicit
                invokedQualifier = explicit
            }
            guard !stopped else {
                return loop.makeFailedFuture(LocalInvokeError.shuttingDown)
            }
            let promise = loop.makePromise(of: InvocationResult.self)
            let invocation = PendingInvocation(
                payload: payload, options: options, qualifier: invokedQualifier, version: version, promise: promise)
            invocation.observer = observer
            queues[version, default: []].append(invocation)
            pump(version)
            return promise.futureResult
        }
    }

    /// Per-version counts and latency percentiles, as `GET /_local/stats` shows them.
    public func stats() -> EventLoopFuture<[String: Any]> {
        loop.submit { [self] in
            var versions: [String: Any] = [:]
            for version in configuration.versions.map(\.name) {
                var summary = (statistics[version] ?? VersionStatistics()).summary
                summary["inFlight"] = (instances[version] ?? []).reduce(0) { $0 + $1.inFlight }
                summary["queued"] = queues[version]?.count ?? 0
                versions[version] = summary
            }
            let current = frontDoorAlias
            var alias: [String: Any] = ["name": current.name, "functionVersion": current.primaryVersion]
            alias["additionalVersionWeights"] = current.additionalVersionWeights
            let running: [[String: Any]] = instances.values.joined().map { instance in
                var entry: [String: Any] = [
                    "version": instance.version.name, "phase": instance.state.name, "inFlight": instance.inFlight,
                    "waitingNext": instance.waitingNext, "maxConcurrency": configuration.maxConcurrency ?? 1,
                ]
                if let pid = instance.processID { entry["pid"] = Int(pid) }
                // A rebuilt bootstrap's old instance, finishing what it serves before it is killed.
                if instance.isRetiring { entry["retiring"] = true }
                return entry
            }
            return ["function": configuration.functionName, "alias": alias, "versions": versions, "instances": running]
        }.map { $0 as [String: Any] }
    }

    /// Kills every child and fails pending invocations; completes once every child has exited
    /// (or after two seconds).
    public func shutdown() -> EventLoopFuture<Void> {
        loop.flatSubmit { [self] in
            stopped = true
            for invocation in queues.values.joined() {
                invocation.promise.fail(LocalInvokeError.shuttingDown)
            }
            queues = [:]
            for instance in instances.values.joined() { instance.abandon(LocalInvokeError.shuttingDown) }
            let done = loop.makePromise(of: Void.self)
            let deadline = NIODeadline.now() + .seconds(2)
            @Sendable func check() {
                if instances.values.joined().allSatisfy(\.isDead) || NIODeadline.now() > deadline {
                    done.succeed(())
                } else {
                    loop.scheduleTask(in: .milliseconds(10)) { check() }
                }
            }
            check()
            return done.futureResult
        }
    }

    /// Replaces the instances that run `bootstrapPath` (it was rebuilt): idle ones are killed now, busy ones
    /// once their in-flight invocations end; new invocations start instances of the new build. Answers how
    /// many instances were retired.
    public func replaceInstances(runningBootstrap bootstrapPath: String) -> EventLoopFuture<Int> {
        loop.submit { [self] in
            var retired = 0
            for instance in instances.values.joined()
            where !instance.isDead && !instance.isRetiring && instance.version.bootstrapPath.utf8.elementsEqual(bootstrapPath.utf8) {
                instance.retire()
                retired += 1
            }
            for version in queues.keys { pump(version) }
            return retired
        }
    }

    // MARK: Scheduling

    private func pump(_ version: String) {
        while var queue = queues[version], !queue.isEmpty {
            var pool = instances[version] ?? []
            pool.removeAll(where: \.isDead)
            instances[version] = pool
            if let ready = pool.first(where: \.isReady) {
                let invocation = queue.removeFirst()
                queues[version] = queue
                if !ready.dispatch(invocation) {
                    queues[version]?.insert(invocation, at: 0)
                }
                continue
            }
            if let first = queue.first, pool.contains(where: { $0.takeFirst(first) }) {
                queue.removeFirst()
                queues[version] = queue
                continue
            }
            if pool.count(where: { !$0.isRetiring }) < configuration.concurrency, !stopped,
               let definition = configuration.versions.first(where: { $0.name == version }) {
                instanceCount += 1
                let instance = FunctionInstance(
                    number: instanceCount, version: definition, configuration: configuration, loop: loop, events: self,
                    first: queue.removeFirst(), output: childOutput)
                queues[version] = queue
                instances[version, default: []].append(instance)
                instance.start()
                continue
            }
            break
        }
    }

    // MARK: InstanceEvents

    func instanceReady(_ instance: FunctionInstance) {
        pump(instance.version.name)
    }

    func completed(_ instance: FunctionInstance, invocation: PendingInvocation, result: InvocationResult, report: String?) {
        if let report { log(report) }
        statistics[result.executedVersion, default: VersionStatistics()].record(result)
        recordLambdaMetrics(result, qualifier: invocation.qualifier)
        invocation.promise.succeed(result)
    }

    func requeue(_ invocation: PendingInvocation) {
        queues[invocation.version, default: []].insert(invocation, at: 0)
        pump(invocation.version)
    }

    func instanceDied(_ instance: FunctionInstance) {
        guard !stopped else { return }
        instances[instance.version.name]?.removeAll { $0 === instance }
        pump(instance.version.name)
    }

    func log(_ line: String) {
        logLine(line)
    }

    // MARK: Metrics

    /// What CloudWatch Logs does with a child's output line: shows it, and extracts EMF metrics.
    /// Called on the child's reader thread.
    private var childOutput: @Sendable ([UInt8]) -> Void {
        let logLine = self.logLine, metrics = self.metrics
        return { line in
            logLine(String(decoding: line, as: UTF8.self))
            for value in EmbeddedMetrics.extract(from: line) {
                metrics.record(value.key, value: value.value, unit: value.unit, time: value.time)
            }
        }
    }

    /// Lambda's own metrics for one invocation (namespace AWS/Lambda): `Invocations`, `Errors` and
    /// `Duration` by `FunctionName`, by `FunctionName, Resource`, and, for an invocation through an alias,
    /// by `FunctionName, Resource, ExecutedVersion`. Timestamped at the end of the invocation.
    private func recordLambdaMetrics(_ result: InvocationResult, qualifier: String?) {
        let name = configuration.functionName
        let function = MetricDimension(name: "FunctionName", value: name)
        var sets: [[MetricDimension]] = [[function]]
        if let qualifier {
            let resource = MetricDimension(name: "Resource", value: "\(name):\(qualifier)")
            sets.append([function, resource])
            if aliases[qualifier] != nil {
                sets.append([function, resource, MetricDimension(name: "ExecutedVersion", value: result.executedVersion)])
            }
        }
        let now = Date().timeIntervalSince1970
        let milliseconds = result.duration.fractionalMilliseconds
        for dimensions in sets {
            let key = { (metric: String) in MetricKey(namespace: "AWS/Lambda", name: metric, dimensions: dimensions) }
            metrics.record(key("Invocations"), value: 1, unit: "Count", time: now)
            metrics.record(key("Errors"), value: result.isError ? 1 : 0, unit: "Count", time: now)
            metrics.record(key("Duration"), value: milliseconds, unit: "Milliseconds", time: now)
        }
    }

    // MARK: Aliases (the control plane)

    /// The alias named `name`, if it exists.
    func alias(named name: String) -> AliasState? {
        loop.assertInEventLoop()
        return aliases[name]
    }

    /// Creates an alias; Lambda's errors when it exists or breaks the rules.
    func createAlias(_ routing: AliasRouting, description: String) throws(LambdaAPIError) -> AliasState {
        loop.assertInEventLoop()
        guard aliases[routing.name] == nil else {
            throw LambdaAPIError(status: 409, code: "ResourceConflictException",
                                 message: "Alias already exists: \(configuration.functionARN(qualifier: routing.name))")
        }
        do {
            try routing.validate(knownVersions: configuration.versions.map(\.name), functionARN: configuration.functionARN())
        } catch {
            throw LambdaAPIError(error)
        }
        let state = AliasState(routing: routing, description: description)
        aliases[routing.name] = state
        return state
    }

    /// Changes an alias: the next invocation is routed by the new weights. `nil` keeps a field as it is.
    /// With `revisionID`, refuses (412) unless it is the alias's current revision.
    func updateAlias(
        name: String, functionVersion: String?, weights: [String: Double]?, description: String?, revisionID: String?
    ) throws(LambdaAPIError) -> AliasState {
        loop.assertInEventLoop()
        guard var state = aliases[name] else {
            throw LambdaAPIError(status: 404, code: "ResourceNotFoundException",
                                 message: "Alias not found: \(configuration.functionARN(qualifier: name))")
        }
        if let revisionID, revisionID.utf8.elementsEqual(state.revisionID.utf8) == false {
            throw LambdaAPIError(
                status: 412, code: "PreconditionFailedException",
                message: "The Revision Id provided does not match the latest Revision Id. Call the GetAlias API to retrieve the latest Revision Id")
        }
        var routing = state.routing
        if let functionVersion { routing.primaryVersion = functionVersion }
        if let weights { routing.additionalVersionWeights = weights }
        do {
            try routing.validate(knownVersions: configuration.versions.map(\.name), functionARN: configuration.functionARN())
        } catch {
            throw LambdaAPIError(error)
        }
        state.routing = routing
        if let description { state.description = description }
        state.revisionID = AliasState.newRevisionID()
        aliases[name] = state
        if name.utf8.elementsEqual(configuration.alias.name.utf8) {
            let weights = routing.additionalVersionWeights.map { "version \($0.key) at \($0.value)" }.first ?? "no weights"
            let milliseconds = Int64(Date().timeIntervalSince1970 * 1000)
            log("lambda-local: UpdateAlias \(name): primary \(routing.primaryVersion), \(weights) (epoch ms \(milliseconds))")
        }
        return state
    }
}

/// An alias as the control plane keeps it.
struct AliasState {
    var routing: AliasRouting
    var description: String = ""
    var revisionID: String = AliasState.newRevisionID()

    static func newRevisionID() -> String { UUID().uuidString.lowercased() }
}

/// Why an invocation could not even start.
public enum LocalInvokeError: Error, CustomStringConvertible {
    /// The qualifier names no version or alias.
    case unknownQualifier(String, function: String)
    /// lambda-local is stopping.
    case shuttingDown

    /// What went wrong.
    public var description: String {
        switch self {
        case .unknownQualifier(let qualifier, let function):
            "Function not found: arn:aws:lambda:function:\(function):\(qualifier)"
        case .shuttingDown:
            "lambda-local is shutting down"
        }
    }
}

/// Counts and durations of one version's invocations.
struct VersionStatistics {
    var invocations = 0
    var errors = 0
    var durationsMs: [Double] = []

    mutating func record(_ result: InvocationResult) {
        invocations += 1
        if result.isError { errors += 1 }
        let ms = result.duration.fractionalMilliseconds
        durationsMs.append(ms)
        if durationsMs.count > 100_000 { durationsMs.removeFirst(durationsMs.count - 100_000) }
    }

    var summary: [String: Any] {
        let sorted = durationsMs.sorted()
        func percentile(_ p: Double) -> Double {
            guard !sorted.isEmpty else { return 0 }
            let index = min(sorted.count - 1, Int((p * Double(sorted.count)).rounded(.up)) - 1)
            return (sorted[max(0, index)] * 1000).rounded() / 1000
        }
        return ["invocations": invocations, "errors": errors, "p50Ms": percentile(0.5), "p99Ms": percentile(0.99)]
    }
}
