// runtime-bench: measures a Runtime API client binary (our bootstrap) against a baseline binary
// (a plain C libcurl loop), cold and warm, in one run on one machine, and prints ratios.
// Used by scripts/bench.sh; see its --help.
import FakeRuntimeAPI
import Foundation
import LambdaCore
import Synchronization

func start(_ path: String, runtimeAPI: String, callgrindOutput: String? = nil) throws -> Process {
    let process = Process()
    if let callgrindOutput {
        process.executableURL = URL(fileURLWithPath: "/usr/bin/valgrind")
        process.arguments = ["--tool=callgrind", "--callgrind-out-file=\(callgrindOutput)", path]
    } else {
        process.executableURL = URL(fileURLWithPath: path)
    }
    process.environment = [
        "AWS_LAMBDA_RUNTIME_API": runtimeAPI, "_HANDLER": "echo", "AWS_LAMBDA_FUNCTION_NAME": "bench",
        "AWS_LAMBDA_FUNCTION_VERSION": "1", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
    ]
    process.standardError = FileHandle.nullDevice
    process.standardOutput = FileHandle.nullDevice
    try process.run()
    return process
}

func residentKilobytes(_ pid: Int32, field: String) -> Int {
    guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
          let line = status.split(separator: "\n").first(where: { $0.hasPrefix(field + ":") })
    else { return 0 }
    return Int(line.split(separator: " ", omittingEmptySubsequences: true)[1]) ?? 0
}

/// Page faults the process has taken so far, all its threads (minor and major, `/proc/PID/stat`).
func pageFaults(_ pid: Int32) -> Int {
    // The fields after the command name, which is in parentheses and may hold spaces: state, ppid,
    // pgrp, session, tty_nr, tpgid, flags, minflt, cminflt, majflt.
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
          let close = stat.lastIndex(of: ")")
    else { return 0 }
    let fields = stat[stat.index(after: close)...].split(separator: " ")
    guard fields.count > 9, let minor = Int(fields[7]), let major = Int(fields[9]) else { return 0 }
    return minor + major
}

/// Polls instead of waiting on the server's condition: a waiter woken on every result would
/// compete for the two cores with the loop being measured.
func poll(_ server: FakeRuntimeAPI, timeout: Duration, until predicate: (FakeRuntimeAPI.State) -> Bool) -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if predicate(server.snapshot) { return true }
        usleep(2_000)
    }
    return predicate(server.snapshot)
}

/// Spawn → first `/next` (init) and spawn → first result (cold invocation), one event each.
func coldStart(_ path: String, event: [UInt8]) throws -> (initMicros: Double, firstResultMicros: Double) {
    let server = try FakeRuntimeAPI(recordBodies: false)
    defer { server.stop() }
    server.enqueue(.init(body: event))
    server.finish()
    let started = ContinuousClock.now
    let process = try start(path, runtimeAPI: server.runtimeAPI)
    process.waitUntilExit()
    let state = server.snapshot
    guard let firstNext = state.firstNextRequestAt, let firstOutcome = state.firstOutcomeAt else {
        throw BenchError.noResult(path)
    }
    return ((firstNext - started).fractionalMicroseconds, (firstOutcome - started).fractionalMicroseconds)
}

/// Monotonic nanoseconds (cheap, no allocation), for per-invocation timestamps.
func monotonicNanos() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
}

/// When each event left `/next` and when its response arrived, by invocation number. Each slot is
/// written once by one server thread and read after the run.
final class InvocationTimes: @unchecked Sendable {
    let handedOut: UnsafeMutableBufferPointer<UInt64>
    let answered: UnsafeMutableBufferPointer<UInt64>

    init(count: Int) {
        handedOut = .allocate(capacity: count + 1)
        answered = .allocate(capacity: count + 1)
        handedOut.initialize(repeating: 0)
        answered.initialize(repeating: 0)
    }

    deinit {
        handedOut.deallocate()
        answered.deallocate()
    }

    /// The invocation number in a `POST …/invocation/r<N>/response` path.
    static func number(inResponsePath path: String) -> Int? {
        guard path.hasSuffix("/response"), let marker = path.range(of: "/invocation/r") else { return nil }
        let rest = path[marker.upperBound...]
        guard let slash = rest.firstIndex(of: "/") else { return nil }
        return Int(rest[..<slash])
    }
}

struct WarmResult {
    var latenciesMicros: [Double]
    var wallMicros: Double
    var count: Int
    var rssKB: Int
    var peakKB: Int
}

/// `count` sequential invocations after a warm-up: each invocation's latency, the wall time, memory.
func warm(_ path: String, count: Int, event: [UInt8], traceIDs: Bool) throws -> WarmResult {
    let server = try FakeRuntimeAPI(recordBodies: false)
    defer { server.stop() }
    let warmUp = 500
    let produced = Mutex(0)
    let total = warmUp + count
    let times = InvocationTimes(count: total)
    server.setEventSource(keepOutcomes: false) {
        produced.withLock { n in
            guard n < total else { return nil }
            n += 1
            times.handedOut[n] = monotonicNanos()
            return FakeRuntimeAPI.Event(requestID: "r\(n)", body: event, headers: benchHeaders(n, traceIDs: traceIDs))
        }
    }
    server.setOverride { request in
        if request.method == "POST", let n = InvocationTimes.number(inResponsePath: request.path), n <= total {
            times.answered[n] = monotonicNanos()
        }
        return nil
    }
    let process = try start(path, runtimeAPI: server.runtimeAPI)
    guard poll(server, timeout: .seconds(60), until: { $0.outcomeCount >= warmUp }) else { throw BenchError.noResult(path) }
    guard poll(server, timeout: .seconds(600), until: { $0.outcomeCount >= total && $0.waitingForEvent == 1 }) else {
        throw BenchError.noResult(path)
    }
    let rss = residentKilobytes(process.processIdentifier, field: "VmRSS")
    let peak = residentKilobytes(process.processIdentifier, field: "VmHWM")
    server.finish()
    process.waitUntilExit()
    var latencies: [Double] = []
    latencies.reserveCapacity(count)
    for n in (warmUp + 1)...total where times.answered[n] >= times.handedOut[n] && times.handedOut[n] > 0 {
        latencies.append(Double(times.answered[n] - times.handedOut[n]) / 1000)
    }
    // Wall time: from the response to the last warm-up event to the last response.
    let wall = Double(times.answered[total] - times.answered[warmUp]) / 1000
    return WarmResult(latenciesMicros: latencies, wallMicros: wall, count: count, rssKB: rss, peakKB: peak)
}

/// The headers of benchmark event `n`: none but the request id, or also a new trace id (`--trace-ids`).
func benchHeaders(_ n: Int, traceIDs: Bool) -> [(String, String)] {
    traceIDs ? [("Lambda-Runtime-Trace-Id", Soak.traceID(n, epoch: "69295680"))] : []
}

/// Instructions executed by `path` serving `count` invocations (0: start-up and exit only).
func instructions(_ path: String, invocations count: Int, event: [UInt8], traceIDs: Bool) throws -> Int {
    let server = try FakeRuntimeAPI(recordBodies: false)
    defer { server.stop() }
    let produced = Mutex(0)
    server.setEventSource(keepOutcomes: false) {
        produced.withLock { n in
            guard n < count else { return nil }
            n += 1
            return FakeRuntimeAPI.Event(requestID: "r\(n)", body: event, headers: benchHeaders(n, traceIDs: traceIDs))
        }
    }
    server.finish()
    let output = FileManager.default.temporaryDirectory.appendingPathComponent("runtime-bench-\(UUID().uuidString).out").path
    defer { try? FileManager.default.removeItem(atPath: output) }
    let process = try start(path, runtimeAPI: server.runtimeAPI, callgrindOutput: output)
    process.waitUntilExit()
    let text = try String(contentsOfFile: output, encoding: .utf8)
    guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("summary:") || $0.hasPrefix("totals:") }),
          let total = Int(line.split(separator: " ").last ?? "")
    else { throw BenchError.noResult(path) }
    return total
}

enum BenchError: Error {
    case noResult(String)
}

func median(_ values: [Double]) -> Double {
    percentile(values, 0.5)
}

func percentile(_ values: [Double], _ fraction: Double) -> Double {
    let sorted = values.sorted()
    guard !sorted.isEmpty else { return 0 }
    return sorted[min(sorted.count - 1, Int((Double(sorted.count) * fraction).rounded(.down)))]
}

let options = Options.parseOrExit()
let event = Array(("{\"payload\":\"" + String(repeating: "x", count: max(0, options.eventBytes - 14)) + "\"}").utf8)
if options.soakInvocations > 0 {
    exit(runSoak(options, echoEvent: event))
}
if !options.managedInstancesLoops.isEmpty {
    let eventPath = options.eventFile ?? "events/http-api-v2-get-profile.json"
    guard let profileEvent = FileManager.default.contents(atPath: eventPath) else {
        FileHandle.standardError.write(Data("runtime-bench: cannot read \(eventPath)\n".utf8))
        exit(66)
    }
    exit(ManagedInstancesBench(
        binary: options.candidates[0].path, loops: options.managedInstancesLoops,
        storeDelay: .milliseconds(options.storeDelayMilliseconds), event: Array(profileEvent)).run())
}
var cold: [String: (startup: [Double], first: [Double])] = [:]
var latencies: [String: [Double]] = [:]
var throughput: [String: [Double]] = [:]
var memory: [String: (rss: Int, peak: Int)] = [:]

// Interleave the candidates so drift on a shared machine hits all of them alike.
for _ in 0..<options.coldStarts {
    for candidate in options.candidates {
        let result = try coldStart(candidate.path, event: event)
        cold[candidate.name, default: ([], [])].startup.append(result.initMicros)
        cold[candidate.name, default: ([], [])].first.append(result.firstResultMicros)
    }
}
for _ in 0..<options.rounds {
    for candidate in options.candidates {
        let result = try warm(candidate.path, count: options.warmInvocations, event: event, traceIDs: options.traceIDs)
        latencies[candidate.name, default: []].append(contentsOf: result.latenciesMicros)
        throughput[candidate.name, default: []].append(Double(result.count) / (result.wallMicros / 1e6))
        let previous = memory[candidate.name] ?? (0, 0)
        memory[candidate.name] = (max(previous.rss, result.rssKB), max(previous.peak, result.peakKB))
    }
}

/// Every number for one binary, and the same as a ratio to the baseline.
struct Row {
    var name: String
    var values: [String: Double]
}

let metrics: [(key: String, title: String, format: String)] = [
    ("cold_init_us", "spawn→/next µs", "%.0f"),
    ("cold_first_result_us", "spawn→result µs", "%.0f"),
    ("warm_p50_us", "warm p50 µs", "%.1f"),
    ("warm_p99_us", "warm p99 µs", "%.1f"),
    ("invocations_per_s", "invokes/s", "%.0f"),
    ("peak_rss_kb", "peak RSS kB", "%.0f"),
    ("zip_bytes", "zip bytes", "%.0f"),
]
var rows: [Row] = options.candidates.map { candidate in
    var values: [String: Double] = [
        "cold_init_us": median(cold[candidate.name]?.startup ?? []),
        "cold_first_result_us": median(cold[candidate.name]?.first ?? []),
        "warm_p50_us": percentile(latencies[candidate.name] ?? [], 0.50),
        "warm_p99_us": percentile(latencies[candidate.name] ?? [], 0.99),
        "invocations_per_s": median(throughput[candidate.name] ?? []),
        "rss_kb": Double(memory[candidate.name]?.rss ?? 0),
        "peak_rss_kb": Double(memory[candidate.name]?.peak ?? 0),
    ]
    if let size = options.sizes[candidate.name] { values["zip_bytes"] = Double(size) }
    return Row(name: candidate.name, values: values)
}

if options.callgrindInvocations > 0 {
    let count = options.callgrindInvocations
    for index in rows.indices {
        let path = options.candidates[index].path
        let startup = Double(try instructions(path, invocations: 0, event: event, traceIDs: options.traceIDs))
        let loaded = Double(try instructions(path, invocations: count, event: event, traceIDs: options.traceIDs))
        rows[index].values["instructions_startup"] = startup
        rows[index].values["instructions_per_invocation"] = (loaded - startup) / Double(count)
    }
}

let baseline = rows[rows.count - 1]
func ratio(_ row: Row, _ key: String) -> Double? {
    guard let value = row.values[key], let base = baseline.values[key], base > 0 else { return nil }
    return value / base
}

print("runtime-bench: \(options.coldStarts) cold starts; \(options.rounds) x \(options.warmInvocations) sequential warm invocations; \(event.count)-byte event; ratios against \(baseline.name)")
var allMetrics = metrics
if options.callgrindInvocations > 0 {
    allMetrics.append(("instructions_startup", "instr. start-up", "%.0f"))
    allMetrics.append(("instructions_per_invocation", "instr./invoke", "%.0f"))
}
let columns = rows.map(\.name)
print("| metric | " + columns.joined(separator: " | ") + " | ratio |")
print("|---|" + String(repeating: "---:|", count: columns.count) + "---:|")
for metric in allMetrics {
    let cells = rows.map { row in row.values[metric.key].map { String(format: metric.format, $0) } ?? "-" }
    let ratios = rows.dropLast().map { row in ratio(row, metric.key).map { String(format: "%.2fx", $0) } ?? "-" }
    print("| \(metric.title) | " + cells.joined(separator: " | ") + " | " + ratios.joined(separator: ", ") + " |")
}

/// The issue's targets for the first binary (the packaged bootstrap), each with whether it is met.
struct Target {
    var name: String
    var limit: String
    var measured: String
    var met: Bool
}
var targets: [Target] = []
let candidate = rows[0]
if rows.count > 1 {
    if let r = ratio(candidate, "cold_init_us") {
        targets.append(Target(name: "cold start to first /next", limit: "≤ 0.40x", measured: String(format: "%.2fx", r), met: r <= 0.40))
    }
    if let r = ratio(candidate, "warm_p50_us") {
        targets.append(Target(name: "warm p50 latency", limit: "≤ 1.05x", measured: String(format: "%.2fx", r), met: r <= 1.05))
    }
    if let r = ratio(candidate, "invocations_per_s") {
        targets.append(Target(name: "invocations/s", limit: "≥ 0.95x", measured: String(format: "%.2fx", r), met: r >= 0.95))
    }
}
if let peak = candidate.values["peak_rss_kb"] {
    targets.append(Target(name: "peak RSS", limit: "≤ 10 MB", measured: String(format: "%.1f MB", peak / 1024), met: peak <= 10 * 1024))
}
if let zip = candidate.values["zip_bytes"] {
    targets.append(Target(name: "zip size", limit: "≤ 6 MB", measured: String(format: "%.2f MB", zip / 1_000_000), met: zip <= 6_000_000))
}
// One flag evaluation as the profile handler does it: through the cache, SHA-1 bucketing included.
let flagTiming = await FlagBenchmark.run()
print(String(format: "\nflag evaluation: %.0f ns each (enableNewProfileSchema at 10%%, %.1f%% of users on)", flagTiming.nanoseconds, flagTiming.share * 100))
targets.append(Target(
    name: "flag evaluation (10% rollout, SHA-1 included)", limit: "< 1 µs",
    measured: String(format: "%.0f ns", flagTiming.nanoseconds), met: flagTiming.nanoseconds < 1000))

if !targets.isEmpty {
    print("\ntargets for \(candidate.name):")
    for target in targets {
        print("  \(target.met ? "met    " : "NOT MET") \(target.name): \(target.measured) (target \(target.limit))")
    }
}

if let jsonPath = options.jsonPath {
    func number(_ value: Double) -> String { value.isFinite ? String(format: "%.3f", value) : "null" }
    func quoted(_ text: String) -> String {
        "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }
    var binaries: [String] = []
    for (index, row) in rows.enumerated() {
        let values = row.values.keys.sorted().map { "\(quoted($0)): \(number(row.values[$0] ?? 0))" }
        let ratios = row.values.keys.sorted().compactMap { key in ratio(row, key).map { "\(quoted(key)): \(number($0))" } }
        binaries.append("    {\"name\": \(quoted(row.name)), \"path\": \(quoted(options.candidates[index].path)), \"baseline\": \(index == rows.count - 1), \"values\": {\(values.joined(separator: ", "))}, \"ratios\": {\(ratios.joined(separator: ", "))}}")
    }
    let targetLines = targets.map { "    {\"name\": \(quoted($0.name)), \"target\": \(quoted($0.limit)), \"measured\": \(quoted($0.measured)), \"met\": \($0.met)}" }
    let json = """
        {
          "settings": {"cold_starts": \(options.coldStarts), "rounds": \(options.rounds), "warm_invocations_per_round": \(options.warmInvocations), "event_bytes": \(event.count), "callgrind_invocations": \(options.callgrindInvocations)},
          "binaries": [
        \(binaries.joined(separator: ",\n"))
          ],
          "targets": [
        \(targetLines.joined(separator: ",\n"))
          ]
        }

        """
    do {
        try json.write(toFile: jsonPath, atomically: true, encoding: .utf8)
    } catch {
        FileHandle.standardError.write(Data("runtime-bench: cannot write \(jsonPath): \(error)\n".utf8))
        exit(1)
    }
}
