import FakeRuntimeAPI
import Foundation
import LambdaCore

/// `--managed-instances LOOPS`: Lambda Managed Instances throughput of the (first) binary. For each
/// loop count (for example `1,8`), one process runs the profile handler with
/// `AWS_LAMBDA_MAX_CONCURRENCY` set to it against a DynamoDB stand-in on loopback that answers every
/// call after `--store-delay-ms` (20 ms), and serves 40 `GET /profiles/{id}` per loop. Invocations per
/// second are counted from the first result to the last (start-up excluded). The work is waiting, so
/// it should grow with the loops; the target is ≥ 6× from the first loop count to the last.
struct ManagedInstancesBench {
    let binary: String
    let loops: [Int]
    let storeDelay: Duration
    let event: [UInt8]

    /// A DynamoDB stand-in: every call waits `storeDelay` (on its own connection's thread), then
    /// answers with the one stored profile.
    func slowDynamoDB() throws -> FakeRuntimeAPI {
        let store = try FakeRuntimeAPI(recordBodies: false)
        let delay = storeDelay
        store.setOverride { _ in
            usleep(useconds_t(delay.wholeMicroseconds))
            return .init(
                status: 200,
                body: #"{"Item":{"userId":{"S":"user-123"},"version":{"N":"1"},"name":{"S":"Ada Lovelace"},"email":{"S":"ada@example.com"}}}"#,
                headers: [("Content-Type", "application/x-amz-json-1.0")])
        }
        return store
    }

    /// Invocations per second with `count` loops.
    func invocationsPerSecond(loops count: Int) throws -> Double {
        let store = try slowDynamoDB()
        defer { store.stop() }
        let server = try FakeRuntimeAPI(recordBodies: false)
        defer { server.stop() }
        let invocations = 40 * count
        for index in 0..<invocations {
            server.enqueue(.init(requestID: "mi-\(index)", body: event, headers: benchHeaders(index, traceIDs: true)))
        }
        // No `finish()`: a 500 on one loop's /next would end the process while other loops still
        // have invocations in flight (as it should on Lambda); the run ends once every result is in.
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.environment = [
            "AWS_LAMBDA_RUNTIME_API": server.runtimeAPI, "AWS_LAMBDA_MAX_CONCURRENCY": String(count),
            "_HANDLER": "profile", "PROFILE_STORE": "dynamodb", "PROFILE_TABLE": "profiles", "METRICS": "off",
            "AWS_ENDPOINT_URL_DYNAMODB": "http://\(store.runtimeAPI)", "AWS_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_LAMBDA_FUNCTION_NAME": "bench",
            "AWS_LAMBDA_LOG_LEVEL": "ERROR",
        ]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer {
            process.terminate()
            process.waitUntilExit()
        }
        guard poll(server, timeout: .seconds(120), until: { $0.outcomeCount == invocations }) else {
            throw BenchError.noResult("\(count) loop(s): \(server.snapshot.outcomeCount) of \(invocations) results")
        }
        let state = server.snapshot
        guard let first = state.firstOutcomeAt, let last = state.lastOutcomeAt, last > first else {
            throw BenchError.noResult("\(count) loop(s): no time between the first and the last result")
        }
        if case .response(let body) = server.outcome(for: "mi-0"), !String(decoding: body, as: UTF8.self).contains("Ada Lovelace") {
            throw BenchError.noResult("\(count) loop(s): the profile was not in the response: \(String(decoding: body, as: UTF8.self).prefix(200))")
        }
        return Double(invocations - 1) / (last - first).fractionalSeconds
    }

    /// Runs every loop count; prints a Markdown table and whether the ≥ 6× target was met.
    func run() -> Int32 {
        do {
            var rates: [(loops: Int, perSecond: Double)] = []
            for count in loops {
                rates.append((count, try invocationsPerSecond(loops: count)))
            }
            print("| Managed Instances (profile, store answers after \(storeDelay.wholeMilliseconds) ms) | invocations/s | vs \(rates[0].loops) loop(s) |")
            print("|---|---|---|")
            for rate in rates {
                print("| AWS_LAMBDA_MAX_CONCURRENCY=\(rate.loops) | \(String(format: "%.0f", rate.perSecond)) | \(String(format: "%.2f", rate.perSecond / rates[0].perSecond))× |")
            }
            if let last = rates.last, rates.count > 1 {
                let growth = last.perSecond / rates[0].perSecond
                print("target: ≥ 6× from \(rates[0].loops) to \(last.loops) loops: \(String(format: "%.2f", growth))× \(growth >= 6 ? "(met)" : "(MISSED)")")
            }
            return 0
        } catch {
            FileHandle.standardError.write(Data("runtime-bench: \(error)\n".utf8))
            return 1
        }
    }
}
