#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Foundation
import NIOCore
import Synchronization

/// `lambda-local --watch`, as `cargo lambda watch`: on a change under the package's `Sources/`, rebuilds the
/// bootstrap in place (`swift build --product bootstrap` in the scratch path it was built in) and replaces the
/// instances that run it. In-flight invocations finish on the old build; a failed build keeps the old one serving
/// and shows the compiler's output.
public final class BootstrapWatch: Sendable {
    /// The bootstrap the rebuild produces, as lambda-local runs it.
    public let bootstrapPath: String
    /// The package the bootstrap is built from.
    public let packagePath: String
    /// The SwiftPM scratch path the bootstrap was built in (`.build`).
    public let scratchPath: String
    /// `debug` or `release`, as the bootstrap's directory says.
    public let buildConfiguration: String

    private let lambda: LocalLambda
    private let watcher: SourceWatcher
    private let log: @Sendable (String) -> Void
    private let compilerOutput: @Sendable ([UInt8]) -> Void

    /// Prepares to watch `packagePath` (default: the directory that holds the scratch path) for the bootstrap at
    /// `bootstrapPath`. `log` gets one line per rebuild; `compilerOutput` the output of a failed build.
    public init(
        lambda: LocalLambda, bootstrapPath: String, packagePath: String? = nil,
        log: @escaping @Sendable (String) -> Void, compilerOutput: @escaping @Sendable ([UInt8]) -> Void
    ) throws(WatchError) {
        let (scratch, configuration) = try Self.scratchPath(of: bootstrapPath)
        let package = packagePath ?? URL(fileURLWithPath: scratch).deletingLastPathComponent().path
        guard FileManager.default.fileExists(atPath: package + "/Package.swift") else { throw .noPackage(package) }
        self.lambda = lambda
        self.bootstrapPath = bootstrapPath
        self.packagePath = package
        self.scratchPath = scratch
        self.buildConfiguration = configuration
        self.log = log
        self.compilerOutput = compilerOutput
        watcher = try SourceWatcher(packagePath: package)
    }

    /// The scratch path and configuration a SwiftPM-built executable comes from: it sits in
    /// `SCRATCH/TRIPLE/CONFIGURATION/` (reached directly or through the `SCRATCH/CONFIGURATION` link).
    static func scratchPath(of bootstrapPath: String) throws(WatchError) -> (scratch: String, configuration: String) {
        let binary = URL(fileURLWithPath: bootstrapPath).deletingLastPathComponent().path
        guard let binaryDirectory = realPath(binary) else { throw .notInScratchPath(bootstrapPath) }
        let directory = URL(fileURLWithPath: binaryDirectory)
        let configuration = directory.lastPathComponent
        let scratch = directory.deletingLastPathComponent().deletingLastPathComponent().path
        guard let linked = realPath(scratch + "/" + configuration), linked.utf8.elementsEqual(binaryDirectory.utf8) else {
            throw .notInScratchPath(bootstrapPath)
        }
        return (scratch, configuration)
    }

    private static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// Starts watching on a thread of its own.
    public func start() {
        let thread = Thread { [self] in
            watcher.run(quietPeriod: .milliseconds(300)) { changed in rebuild(changed) }
        }
        thread.name = "lambda-local.watch"
        thread.start()
    }

    /// Stops watching (a build under way runs to its end first).
    public func stop() {
        watcher.stop()
    }

    /// The `swift build` that produces the bootstrap again (run through `/usr/bin/env`).
    public var buildArguments: [String] {
        let product = URL(fileURLWithPath: bootstrapPath).lastPathComponent
        return ["swift", "build", "--product", product, "--package-path", packagePath, "--scratch-path", scratchPath,
                "--configuration", buildConfiguration]
    }

    /// Builds, then replaces the instances on success; runs on the watcher's thread.
    private func rebuild(_ changed: [String]) {
        let started = ContinuousClock.now
        let build = Self.run(buildArguments, in: packagePath)
        let seconds = PlatformLog.seconds(ContinuousClock.now - started)
        let what = Self.describe(changed, under: packagePath)
        guard build.succeeded else {
            compilerOutput(build.output)
            log("lambda-local: rebuild failed after \(seconds) s (\(what)); the previous build keeps serving")
            return
        }
        let retired = (try? lambda.replaceInstances(runningBootstrap: bootstrapPath).wait()) ?? 0
        log("lambda-local: rebuilt \(URL(fileURLWithPath: bootstrapPath).lastPathComponent) in \(seconds) s (\(what)); new invocations run the new build (\(retired) instance(s) replaced)")
    }

    /// The changed files, relative to the package, at most three of them. Files that are gone again (an
    /// editor's or `sed -i`'s temporary file renamed over the real one) are left out unless nothing else changed.
    private static func describe(_ changed: [String], under package: String) -> String {
        let present = changed.filter { FileManager.default.fileExists(atPath: $0) }
        var names: [String] = []
        for path in present.isEmpty ? changed : present {
            let relative = path.utf8.starts(with: (package + "/").utf8) ? String(path.dropFirst(package.count + 1)) : path
            if !names.contains(where: { $0.utf8.elementsEqual(relative.utf8) }) { names.append(relative) }
        }
        let shown = names.prefix(3).joined(separator: ", ")
        return names.count > 3 ? "\(shown) and \(names.count - 3) more changed" : "\(shown) changed"
    }

    /// Runs `arguments` (through `/usr/bin/env`, which finds `swift` on `PATH`) to its end; whether it
    /// succeeded, and its standard output and error together.
    private static func run(_ arguments: [String], in directory: String) -> (succeeded: Bool, output: [UInt8]) {
        let output = Mutex<[UInt8]>([])
        let exit = Mutex<ChildProcess.Exit?>(nil)
        let done = DispatchGroup()
        done.enter()
        done.enter()
        do {
            _ = try ChildProcess.spawn(
                path: "/usr/bin/env", arguments: arguments, environment: ProcessInfo.processInfo.environment,
                directory: directory,
                onOutputLine: { line in output.withLock { $0 += line + [UInt8(ascii: "\n")] } },
                standardErrorToo: true,
                onOutputEnd: { done.leave() }
            ) { status in
                exit.withLock { $0 = status }
                done.leave()
            }
        } catch {
            return (false, Array("\(error)\n".utf8))
        }
        done.wait()
        return (exit.withLock { $0 } == .exited(0), output.withLock { $0 })
    }
}
