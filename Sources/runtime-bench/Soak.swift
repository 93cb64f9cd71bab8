// The soak: one bootstrap process serving many sequential invocations, each with a fresh trace id
// as Lambda sends them, and its resident memory read at fixed invocation counts.
import FakeRuntimeAPI
import Foundation
import LambdaCore
import Synchronization

/// What one soak run does.
struct SoakPlan {
    /// A label for the output (`echo`, `profile GET`).
    var name: String
    /// The bootstrap to run.
    var binary: String
    /// `_HANDLER` and any other variables the handler needs.
    var environment: [String: String]
    /// The event every invocation gets.
    var event: [UInt8]
    /// Sent once before the counted invocations (the profile PUT that makes the GETs find something).
    var setupEvent: [UInt8]?
    /// Text every counted response must contain (`"statusCode":200`); `nil` checks nothing.
    var expectedInResponse: String?
    /// Whether posts to `/error` are expected (a soak of the error path) instead of failing the run.
    var allowErrors = false
    /// Invocation counts (after the setup event) at which memory is read; the last is the total.
    var checkpoints: [Int]
}

/// Memory of the bootstrap after a number of invocations, from `/proc/PID/status`, and the page
/// faults it took to get there (`/proc/PID/stat`).
struct SoakSample {
    var invocations: Int
    var rssKB: Int
    var peakKB: Int
    var pageFaults: Int
    var seconds: Double
}

enum SoakError: Error, CustomStringConvertible {
    case stalled(String, invocations: Int)
    case failedInvocations(String, count: Int)
    case unexpectedResponse(String, body: String)

    var description: String {
        switch self {
        case .stalled(let name, let count): "\(name): the bootstrap stopped answering after \(count) invocations"
        case .failedInvocations(let name, let count): "\(name): \(count) invocations were posted to /error"
        case .unexpectedResponse(let name, let body): "\(name): unexpected response \(body.prefix(300))"
        }
    }
}

enum Soak {
    /// Runs the plan: hands out events up to each checkpoint, waits until the bootstrap is idle in
    /// `/next` (so nothing is in flight), reads its memory, goes on.
    static func run(_ plan: SoakPlan) throws -> (samples: [SoakSample], errors: Int) {
        let server = try FakeRuntimeAPI(recordBodies: false)
        defer { server.stop() }
        let setup = plan.setupEvent == nil ? 0 : 1
        let total = (plan.checkpoints.max() ?? 0) + setup
        // How many events have been handed out, and how many may be: the driver raises the limit
        // at each checkpoint.
        let handedOut = Mutex((count: 0, limit: setup + (plan.checkpoints.first ?? 0)))
        let deadline = String(Int64(Date().timeIntervalSince1970 * 1000) + 3_600_000)
        let epoch = String(UInt32(truncatingIfNeeded: Int(Date().timeIntervalSince1970)), radix: 16)
        let arn = "arn:aws:lambda:us-east-1:123456789012:function:soak:live"
        server.setEventSource(keepOutcomes: false) {
            handedOut.withLock { state -> FakeRuntimeAPI.Event? in
                guard state.count < state.limit else { return nil }
                state.count += 1
                let n = state.count
                let body = n <= setup ? plan.setupEvent ?? plan.event : plan.event
                return FakeRuntimeAPI.Event(requestID: requestID(n), body: body, headers: [
                    ("Lambda-Runtime-Deadline-Ms", deadline),
                    ("Lambda-Runtime-Invoked-Function-Arn", arn),
                    ("Lambda-Runtime-Trace-Id", traceID(n, epoch: epoch)),
                ])
            }
        }
        // Checks the first counted response, and counts failures, without keeping bodies.
        let observed = Mutex((errors: 0, firstResponse: String?.none))
        let firstCounted = "/invocation/\(requestID(setup + 1))/response"
        server.setOverride { request in
            if request.method == "POST", request.path.hasSuffix("/error") {
                observed.withLock { $0.errors += 1 }
            } else if request.method == "POST", request.path.hasSuffix(firstCounted) {
                observed.withLock { $0.firstResponse = String(decoding: request.body, as: UTF8.self) }
            }
            return nil
        }

        let process = Process()
        process.executableURL = URL(fileURLWithPath: plan.binary)
        process.environment = plan.environment.merging([
            "AWS_LAMBDA_RUNTIME_API": server.runtimeAPI, "AWS_LAMBDA_FUNCTION_NAME": "soak",
            "AWS_LAMBDA_FUNCTION_VERSION": "1", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
        ]) { _, fixed in fixed }
        process.standardError = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        let started = ContinuousClock.now
        try process.run()
        defer {
            server.finish()
            process.waitUntilExit()
        }

        var samples: [SoakSample] = []
        for (index, checkpoint) in plan.checkpoints.enumerated() {
            let target = setup + checkpoint
            // Generous: a loaded 2-core machine still does more than 500 invocations a second.
            let allowed = Duration.seconds(60 + (target - (samples.last?.invocations ?? 0)) / 500)
            guard poll(server, timeout: allowed, until: { $0.outcomeCount >= target && $0.waitingForEvent == 1 }) else {
                throw SoakError.stalled(plan.name, invocations: server.snapshot.outcomeCount - setup)
            }
            let seconds = (ContinuousClock.now - started).fractionalSeconds
            let pid = process.processIdentifier
            samples.append(SoakSample(
                invocations: checkpoint, rssKB: residentKilobytes(pid, field: "VmRSS"),
                peakKB: residentKilobytes(pid, field: "VmHWM"), pageFaults: pageFaults(pid), seconds: seconds))
            if index + 1 < plan.checkpoints.count {
                handedOut.withLock { $0.limit = setup + plan.checkpoints[index + 1] }
                server.notifyEventsAvailable()
            }
        }
        precondition(handedOut.withLock { $0.count } == total)

        let seen = observed.withLock { $0 }
        if seen.errors > 0, !plan.allowErrors { throw SoakError.failedInvocations(plan.name, count: seen.errors) }
        if let expected = plan.expectedInResponse, !(seen.firstResponse ?? "").contains(expected) {
            throw SoakError.unexpectedResponse(plan.name, body: seen.firstResponse ?? "(none)")
        }
        return (samples, seen.errors)
    }

    /// A request id shaped like Lambda's (a UUID), unique per invocation.
    static func requestID(_ n: Int) -> String {
        "5a1e0000-0000-4000-8000-" + ASCII.hex(UInt64(n), digits: 12)
    }

    /// A new X-Ray header per invocation, shaped and sized like the ones Lambda sends (about 100 bytes).
    static func traceID(_ n: Int, epoch: String) -> String {
        let unique = ASCII.hex(UInt64(n) &* 0x9E37_79B9_7F4A_7C15, digits: 16)
        return "Root=1-" + epoch + "-5eed" + ASCII.hex(UInt64(n), digits: 4) + unique + ";Parent=" + unique
            + ";Sampled=0;Lineage=1:a87bd80c:0"
    }
}

/// `runtime-bench --soak N`: runs the soak for the first `--binary`, prints memory at each checkpoint
/// and the growth from the first to the last; returns the exit status.
func runSoak(_ options: Options, echoEvent: [UInt8]) -> Int32 {
    func read(_ path: String) -> [UInt8]? {
        guard let data = FileManager.default.contents(atPath: path) else {
            FileHandle.standardError.write(Data("runtime-bench: cannot read \(path)\n".utf8))
            return nil
        }
        return Array(data)
    }
    guard let binary = options.candidates.first else { return 64 }
    var event = echoEvent
    if let path = options.eventFile {
        guard let bytes = read(path) else { return 66 }
        event = bytes
    }
    var setupEvent: [UInt8]?
    if let path = options.setupEventFile {
        guard let bytes = read(path) else { return 66 }
        setupEvent = bytes
    }
    var checkpoints = options.checkpoints.isEmpty ? [10_000] : options.checkpoints
    checkpoints = Array(Set(checkpoints.filter { $0 < options.soakInvocations } + [options.soakInvocations])).sorted()
    var environment = options.environment
    environment["_HANDLER"] = options.handler
    let plan = SoakPlan(
        name: "\(options.handler) (\(binary.name))", binary: binary.path, environment: environment, event: event,
        setupEvent: setupEvent, expectedInResponse: options.expectInResponse, allowErrors: options.allowErrors,
        checkpoints: checkpoints)

    let samples: [SoakSample]
    let errors: Int
    do {
        (samples, errors) = try Soak.run(plan)
    } catch {
        FileHandle.standardError.write(Data("runtime-bench: soak failed: \(error)\n".utf8))
        return 1
    }
    func grouped(_ value: Int) -> String {
        let digits = String(value.magnitude)
        var out = ""
        for (index, digit) in digits.enumerated() {
            if index > 0, (digits.count - index) % 3 == 0 { out.append(",") }
            out.append(digit)
        }
        return (value < 0 ? "-" : "") + out
    }
    guard let first = samples.first, let last = samples.last else { return 1 }
    let rate = Double(last.invocations - first.invocations) / max(last.seconds - first.seconds, 1e-9)
    print("soak \(plan.name): \(grouped(last.invocations)) sequential invocations, a new trace id each, \(event.count)-byte event; \(grouped(Int(rate))) invocations/s\(errors > 0 ? "; \(grouped(errors)) posted to /error" : "")")
    print("| invocations | VmRSS kB | VmHWM (peak) kB | page faults | s |")
    print("|---:|---:|---:|---:|---:|")
    for sample in samples {
        print("| \(grouped(sample.invocations)) | \(grouped(sample.rssKB)) | \(grouped(sample.peakKB)) | \(grouped(sample.pageFaults)) | \(String(format: "%.1f", sample.seconds)) |")
    }
    let rssGrowth = last.rssKB - first.rssKB
    let peakGrowth = last.peakKB - first.peakKB
    let perInvocation = Double(max(rssGrowth, peakGrowth)) * 1024 / Double(max(last.invocations - first.invocations, 1))
    var verdict = ""
    var status: Int32 = 0
    if let limit = options.maxGrowthKB {
        let met = rssGrowth <= limit && peakGrowth <= limit
        verdict = met ? " (limit \(grouped(limit)) kB: met)" : " (limit \(grouped(limit)) kB: NOT MET)"
        status = met ? 0 : 1
    }
    print("growth \(grouped(first.invocations)) → \(grouped(last.invocations)): VmRSS \(rssGrowth >= 0 ? "+" : "")\(grouped(rssGrowth)) kB, VmHWM \(peakGrowth >= 0 ? "+" : "")\(grouped(peakGrowth)) kB, \(String(format: "%.1f", perInvocation)) bytes per invocation\(verdict)")
    if let jsonPath = options.jsonPath {
        let rows = samples.map {
            "{\"invocations\": \($0.invocations), \"rss_kb\": \($0.rssKB), \"peak_rss_kb\": \($0.peakKB), \"page_faults\": \($0.pageFaults), \"seconds\": \(String(format: "%.3f", $0.seconds))}"
        }
        let json = "{\"soak\": \"\(options.handler)\", \"binary\": \"\(binary.path)\", \"samples\": [\(rows.joined(separator: ", "))], \"rss_growth_kb\": \(rssGrowth), \"peak_rss_growth_kb\": \(peakGrowth)}\n"
        do {
            try json.write(toFile: jsonPath, atomically: true, encoding: .utf8)
        } catch {
            FileHandle.standardError.write(Data("runtime-bench: cannot write \(jsonPath): \(error)\n".utf8))
            return 1
        }
    }
    return status
}
