// runtime-bench: measures a Runtime API client binary (our bootstrap) against a baseline binary
// (a plain C libcurl loop), cold and warm, in one run on one machine, and prints ratios.
// Used by scripts/bench.sh; see its --help.
import FakeRuntimeAPI
import Foundation
import Synchronization

struct Options {
    var candidates: [(name: String, path: String)] = []
    var warmInvocations = 20_000
    var coldStarts = 30
    var rounds = 3
    var eventBytes = 512
    var callgrindInvocations = 0
}

func parseOptions() -> Options {
    var options = Options()
    var arguments = CommandLine.arguments.dropFirst()
    func value(_ flag: String) -> String {
        guard let next = arguments.popFirst() else {
            FileHandle.standardError.write(Data("runtime-bench: \(flag) needs a value\n".utf8))
            exit(64)
        }
        return next
    }
    while let argument = arguments.popFirst() {
        switch argument {
        case "--binary":
            let spec = value(argument)
            guard let equals = spec.firstIndex(of: "=") else {
                FileHandle.standardError.write(Data("runtime-bench: --binary takes NAME=PATH\n".utf8))
                exit(64)
            }
            options.candidates.append((String(spec[..<equals]), String(spec[spec.index(after: equals)...])))
        case "--warm": options.warmInvocations = Int(value(argument)) ?? options.warmInvocations
        case "--cold": options.coldStarts = Int(value(argument)) ?? options.coldStarts
        case "--rounds": options.rounds = Int(value(argument)) ?? options.rounds
        case "--event-bytes": options.eventBytes = Int(value(argument)) ?? options.eventBytes
        case "--callgrind": options.callgrindInvocations = Int(value(argument)) ?? 0
        case "-h", "--help":
            print("""
                usage: runtime-bench --binary NAME=PATH [--binary NAME=PATH …] [--warm N] [--cold N] [--rounds N]
                                     [--event-bytes N] [--callgrind N]
                The last --binary is the baseline. --callgrind N also counts instructions with valgrind:
                for start-up to the first /next, and per invocation over N invocations.
                """)
            exit(0)
        default:
            FileHandle.standardError.write(Data("runtime-bench: unknown argument \(argument)\n".utf8))
            exit(64)
        }
    }
    if options.candidates.isEmpty {
        FileHandle.standardError.write(Data("runtime-bench: give at least one --binary NAME=PATH\n".utf8))
        exit(64)
    }
    return options
}

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

func microseconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) * 1e6 + Double(duration.components.attoseconds) / 1e12
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
    return (microseconds(firstNext - started), microseconds(firstOutcome - started))
}

/// Per-invocation time over `count` invocations after a warm-up, and resident memory.
func warm(_ path: String, count: Int, event: [UInt8]) throws -> (microsPerInvocation: Double, rssKB: Int, peakKB: Int) {
    let server = try FakeRuntimeAPI(recordBodies: false)
    defer { server.stop() }
    let warmUp = 500
    let produced = Mutex(0)
    let total = warmUp + count
    server.setEventSource(keepOutcomes: false) {
        produced.withLock { n in
            guard n < total else { return nil }
            n += 1
            return FakeRuntimeAPI.Event(requestID: "r\(n)", body: event, headers: [])
        }
    }
    let process = try start(path, runtimeAPI: server.runtimeAPI)
    guard poll(server, timeout: .seconds(60), until: { $0.outcomeCount >= warmUp }) else { throw BenchError.noResult(path) }
    let from = server.snapshot.lastOutcomeAt!
    guard poll(server, timeout: .seconds(600), until: { $0.outcomeCount >= total && $0.waitingForEvent == 1 }) else {
        throw BenchError.noResult(path)
    }
    let to = server.snapshot.lastOutcomeAt!
    let rss = residentKilobytes(process.processIdentifier, field: "VmRSS")
    let peak = residentKilobytes(process.processIdentifier, field: "VmHWM")
    server.finish()
    process.waitUntilExit()
    return (microseconds(to - from) / Double(count), rss, peak)
}

/// Instructions executed by `path` serving `count` invocations (0: start-up and exit only).
func instructions(_ path: String, invocations count: Int, event: [UInt8]) throws -> Int {
    let server = try FakeRuntimeAPI(recordBodies: false)
    defer { server.stop() }
    let produced = Mutex(0)
    server.setEventSource(keepOutcomes: false) {
        produced.withLock { n in
            guard n < count else { return nil }
            n += 1
            return FakeRuntimeAPI.Event(requestID: "r\(n)", body: event, headers: [])
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
    let sorted = values.sorted()
    return sorted.isEmpty ? 0 : sorted[sorted.count / 2]
}

let options = parseOptions()
let event = Array(("{\"payload\":\"" + String(repeating: "x", count: max(0, options.eventBytes - 14)) + "\"}").utf8)
var cold: [String: (startup: [Double], first: [Double])] = [:]
var warmResults: [String: [Double]] = [:]
var memory: [String: (Int, Int)] = [:]

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
        let result = try warm(candidate.path, count: options.warmInvocations, event: event)
        warmResults[candidate.name, default: []].append(result.microsPerInvocation)
        memory[candidate.name] = (result.rssKB, result.peakKB)
    }
}

let baseline = options.candidates.last!.name
func ratio(_ value: Double, _ base: Double) -> String { base > 0 ? String(format: "%.2fx", value / base) : "-" }
print("runtime-bench: \(options.coldStarts) cold starts, \(options.rounds) x \(options.warmInvocations) warm invocations, \(event.count)-byte event; ratios against \(baseline)")
print(String(format: "%-12@ %14@ %16@ %16@ %10@ %10@", "binary", "spawn→/next µs", "spawn→result µs", "warm µs/invoke", "RSS kB", "peak kB"))
let baseInit = median(cold[baseline]?.startup ?? [])
let baseFirst = median(cold[baseline]?.first ?? [])
let baseWarm = median(warmResults[baseline] ?? [])
for candidate in options.candidates {
    let initMedian = median(cold[candidate.name]?.startup ?? [])
    let firstMedian = median(cold[candidate.name]?.first ?? [])
    let warmMedian = median(warmResults[candidate.name] ?? [])
    let (rss, peak) = memory[candidate.name] ?? (0, 0)
    print(String(format: "%-12@ %8.0f %5@ %10.0f %5@ %10.1f %5@ %10d %10d", candidate.name,
                 initMedian, ratio(initMedian, baseInit), firstMedian, ratio(firstMedian, baseFirst),
                 warmMedian, ratio(warmMedian, baseWarm), rss, peak))
}

if options.callgrindInvocations > 0 {
    let count = options.callgrindInvocations
    print("\ninstructions (valgrind callgrind, exact and repeatable): start-up to first /next and exit; per invocation over \(count)")
    print(String(format: "%-12@ %16@ %20@", "binary", "start-up+exit", "per invocation"))
    var baseStartup = 0.0
    var basePer = 0.0
    var rows: [(String, Double, Double)] = []
    for candidate in options.candidates {
        let startup = Double(try instructions(candidate.path, invocations: 0, event: event))
        let loaded = Double(try instructions(candidate.path, invocations: count, event: event))
        rows.append((candidate.name, startup, (loaded - startup) / Double(count)))
    }
    if let base = rows.last {
        baseStartup = base.1
        basePer = base.2
    }
    for (name, startup, per) in rows {
        print(String(format: "%-12@ %10.0f %5@ %14.0f %5@", name, startup, ratio(startup, baseStartup), per, ratio(per, basePer)))
    }
}
