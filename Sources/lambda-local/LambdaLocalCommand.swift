import ArgumentParser
import Foundation
import LambdaLocal
import NIOCore
import NIOPosix

/// `lambda-local`: runs the real bootstrap the way Lambda does, on 127.0.0.1.
@main
struct LambdaLocalCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lambda-local",
        abstract: "Run a Lambda custom runtime (bootstrap) locally, as Lambda runs it.",
        discussion: """
            Serves, on 127.0.0.1:PORT, the Invoke API (POST /2015-03-31/functions/NAME/invocations, RIE-compatible;
            the name 'function' works too), InvokeWithResponseStream (POST /2021-11-15/functions/NAME/response-streaming-invocations,
            AWS event-stream framing), Lambda's alias control plane (GetAlias, UpdateAlias, CreateAlias,
            ListAliases, ListVersionsByFunction, GetFunction, GetFunctionConfiguration), CloudWatch in the JSON
            and the query protocols (GetMetricStatistics, GetMetricData, ListMetrics, PutMetricAlarm, DescribeAlarms,
            SetAlarmState, DeleteAlarms) over metrics derived from the invocations and the function's EMF lines,
            GET /_local/stats, and an API Gateway HTTP API (payload 2.0) front door for every other path. Each
            instance of the function is a child process with its own Runtime API.
            """)

    @Option(help: "The bootstrap to run as $LATEST (default: the freshly built .build/debug/bootstrap).")
    var bootstrap: String?

    @Option(name: .customLong("function-version"), help: "A published version: N=PATH (repeatable).")
    var functionVersions: [String] = []

    @Option(name: .customLong("alias-version"), help: "The alias's primary version (default: the first --function-version).")
    var aliasVersion: String?

    @Option(name: .customLong("alias-weights"), help: "Additional version weight: N=W, W in 0…1 (at most one).")
    var aliasWeights: [String] = []

    @Option(help: "The alias name front-door requests go through.")
    var alias: String = "live"

    @Option(help: "Port on 127.0.0.1 for the Invoke API and the front door.")
    var port: Int = 9000

    @Option(name: .customLong("function-name"), help: "The function name.")
    var functionName: String = "function"

    @Option(help: "_HANDLER for the bootstrap.")
    var handler: String = "echo"

    @Option(help: "Function timeout in seconds.")
    var timeout: Double = 30

    @Option(name: .customLong("init-timeout"), help: "Init timeout in seconds.")
    var initTimeout: Double = 10

    @Option(help: "Memory size in MB (reported to the function and in REPORT lines).")
    var memory: Int = 128

    @Option(help: "Instances per version; more invocations wait in a queue.")
    var concurrency: Int = 1

    @Option(
        name: .customLong("max-concurrency"),
        help: "Lambda Managed Instances mode: each instance gets AWS_LAMBDA_MAX_CONCURRENCY=N and serves N invocations at once; a timeout fails that invocation only.")
    var maxConcurrency: Int?

    @Option(help: "AWS region.")
    var region: String = "us-east-1"

    @Option(name: .customLong("env"), help: "Environment for the function: K=V (repeatable).")
    var environment: [String] = []

    @Option(
        name: .customLong("version-env"),
        help: "Environment of one published version only: N:K=V (repeatable); wins over --env. AWS_LAMBDA_FUNCTION_VERSION is always N.")
    var versionEnvironment: [String] = []

    @Flag(help: "Watch the package's Sources/ and Package.swift; on a change rebuild the bootstrap (swift build --product bootstrap in the scratch path it was built in) and replace the instances between invocations. A failed build keeps the old one serving.")
    var watch = false

    @Option(name: .customLong("package-path"), help: "With --watch: the package to watch and build (default: the directory holding the bootstrap's .build).")
    var packagePath: String?

    func validate() throws {
        guard timeout > 0, initTimeout > 0 else { throw ValidationError("timeouts must be positive") }
        guard (1...65535).contains(port) || port == 0 else { throw ValidationError("port must be 0…65535") }
        guard (128...10240).contains(memory) else { throw ValidationError("memory must be 128…10240 MB, as on Lambda") }
        guard concurrency >= 1 else { throw ValidationError("concurrency must be at least 1") }
        if let maxConcurrency, !(1...1024).contains(maxConcurrency) {
            throw ValidationError("--max-concurrency must be 1…1024 (the most loops the bootstrap runs)")
        }
        for pair in environment + functionVersions + aliasWeights where !pair.contains("=") {
            throw ValidationError("'\(pair)' is not KEY=VALUE")
        }
        if watch, !functionVersions.isEmpty {
            throw ValidationError("--watch rebuilds $LATEST (--bootstrap); published versions (--function-version) are immutable, as on Lambda")
        }
        if packagePath != nil, !watch { throw ValidationError("--package-path needs --watch") }
        for spec in versionEnvironment {
            guard let colon = spec.firstIndex(of: ":"), spec[spec.index(after: colon)...].contains("=") else {
                throw ValidationError("--version-env '\(spec)' is not N:KEY=VALUE")
            }
        }
    }

    func run() async throws {
        var configuration = try makeConfiguration()
        configuration.functionName = functionName
        configuration.handler = handler
        configuration.timeout = .milliseconds(Int64(timeout * 1000))
        configuration.initTimeout = .milliseconds(Int64(initTimeout * 1000))
        configuration.memorySizeMB = memory
        configuration.concurrency = concurrency
        configuration.maxConcurrency = maxConcurrency
        configuration.region = region
        for pair in environment {
            let (key, value) = Self.split(pair)
            configuration.environment[key] = value
        }
        for version in configuration.versions where !FileManager.default.isExecutableFile(atPath: version.bootstrapPath) {
            throw ValidationError("version \(version.name): \(version.bootstrapPath) is not an executable file; build it first (swift build --product bootstrap)")
        }

        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let lambda: LocalLambda
        do {
            lambda = try LocalLambda(configuration: configuration, loop: group.next()) { line in
                say(line)
            }
        } catch {
            throw ValidationError("\(error)")
        }
        var watcher: BootstrapWatch?
        if watch, let latest = configuration.versions.first {
            do {
                watcher = try BootstrapWatch(
                    lambda: lambda, bootstrapPath: latest.bootstrapPath, packagePath: packagePath.map(Self.absolute),
                    log: { say($0) }, compilerOutput: { FileHandle.standardError.write(Data($0)) })
            } catch {
                throw ValidationError("\(error)")
            }
        }
        let server = LocalServer(lambda: lambda)
        try await server.start(port: port)
        let listening = server.port ?? port
        say("lambda-local: function \(functionName) on http://127.0.0.1:\(listening) (handler \(handler), timeout \(timeout)s, memory \(memory) MB, concurrency \(concurrency)\(maxConcurrency.map { ", Managed Instances: \($0) invocations at once per instance" } ?? ""))")
        for version in configuration.versions {
            let environment = version.environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            say("lambda-local:   version \(version.name): \(version.bootstrapPath)\(environment.isEmpty ? "" : " (\(environment))")")
        }
        say("lambda-local:   Lambda control plane (GetAlias, UpdateAlias, CreateAlias, ListVersionsByFunction, GetFunction[Configuration]) and CloudWatch (GetMetricStatistics, GetMetricData, DescribeAlarms, PutMetricAlarm, SetAlarmState; JSON and query protocols) on the same port: aws --endpoint-url http://127.0.0.1:\(listening)")
        say("lambda-local:   metrics kept in memory: at most \(lambda.metrics.maxSamples) values over \(lambda.metrics.maxSeries) metrics (the oldest minute goes first)")
        if !configuration.alias.additionalVersionWeights.isEmpty {
            say("lambda-local:   alias \(configuration.alias.name): \(configuration.alias.primaryVersion) + \(configuration.alias.additionalVersionWeights)")
        }
        if let watcher {
            watcher.start()
            say("lambda-local:   watching \(watcher.packagePath)/Sources: a change rebuilds with `\(watcher.buildArguments.joined(separator: " "))`")
        }
        say("lambda-local: warning: Bearer JWT claims are passed to the function WITHOUT verifying the signature (local testing only)")

        let signals = SignalWaiter()
        await signals.wait()
        say("lambda-local: stopping")
        watcher?.stop()
        await server.stop()
        try? await group.shutdownGracefully()
    }

    private func makeConfiguration() throws -> LocalConfiguration {
        if functionVersions.isEmpty {
            guard aliasWeights.isEmpty else {
                throw ValidationError("--alias-weights needs published versions (--function-version N=PATH)")
            }
            return LocalConfiguration(bootstrapPath: Self.absolute(bootstrap ?? Self.defaultBootstrap()))
        }
        var versions: [FunctionVersion] = []
        for spec in functionVersions {
            let (name, path) = Self.split(spec)
            guard !name.isEmpty, name == "$LATEST" || name.allSatisfy(\.isNumber) else {
                throw ValidationError("version '\(name)' must be a number (as Lambda publishes them) or $LATEST")
            }
            guard !versions.contains(where: { $0.name == name }) else { throw ValidationError("version \(name) given twice") }
            versions.append(FunctionVersion(name: name, bootstrapPath: Self.absolute(path)))
        }
        var weights: [String: Double] = [:]
        for spec in aliasWeights {
            let (name, value) = Self.split(spec)
            guard let weight = Double(value) else { throw ValidationError("weight '\(value)' is not a number") }
            weights[name] = weight
        }
        for spec in versionEnvironment {
            guard let colon = spec.firstIndex(of: ":") else { continue }
            let name = String(spec[..<colon])
            guard let index = versions.firstIndex(where: { $0.name.utf8.elementsEqual(name.utf8) }) else {
                throw ValidationError("--version-env \(spec): there is no --function-version \(name)")
            }
            let (key, value) = Self.split(String(spec[spec.index(after: colon)...]))
            guard !key.utf8.elementsEqual("AWS_LAMBDA_FUNCTION_VERSION".utf8) else {
                throw ValidationError("--version-env \(spec): AWS_LAMBDA_FUNCTION_VERSION is set by lambda-local, as by Lambda")
            }
            versions[index].environment[key] = value
        }
        let alias = AliasRouting(name: self.alias, primaryVersion: aliasVersion ?? versions[0].name, additionalVersionWeights: weights)
        return LocalConfiguration(versions: versions, alias: alias)
    }

    /// `path` made absolute against the current directory, so the child can run from its own.
    private static func absolute(_ path: String) -> String {
        URL(fileURLWithPath: path).standardizedFileURL.path
    }

    private static func split(_ pair: String) -> (String, String) {
        guard let equals = pair.firstIndex(of: "=") else { return (pair, "") }
        return (String(pair[..<equals]), String(pair[pair.index(after: equals)...]))
    }

    /// `bootstrap` next to this executable (both come from the same build), else .build/debug/bootstrap.
    private static func defaultBootstrap() -> String {
        let here = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
        let sibling = here.appendingPathComponent("bootstrap").path
        if FileManager.default.isExecutableFile(atPath: sibling) { return sibling }
        return ".build/debug/bootstrap"
    }
}

/// Writes one line to standard output at once (no buffering: the output is often a pipe).
func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

/// Waits for SIGINT or SIGTERM.
final class SignalWaiter: Sendable {
    func wait() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let resumed = ResumeOnce(continuation)
            for signalNumber in [SIGINT, SIGTERM] {
                signal(signalNumber, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
                source.setEventHandler { resumed.resume() }
                source.resume()
                SignalWaiter.keep(source)
            }
        }
    }

    private static let sources = NSLock()
    nonisolated(unsafe) private static var retained: [any DispatchSourceSignal] = []

    private static func keep(_ source: any DispatchSourceSignal) {
        sources.lock()
        retained.append(source)
        sources.unlock()
    }
}

/// Resumes a continuation at most once.
final class ResumeOnce: @unchecked Sendable {
    private let lock = NSLock()
    private var continuation: CheckedContinuation<Void, Never>?

    init(_ continuation: CheckedContinuation<Void, Never>) {
        self.continuation = continuation
    }

    func resume() {
        lock.lock()
        let pending = continuation
        continuation = nil
        lock.unlock()
        pending?.resume()
    }
}
