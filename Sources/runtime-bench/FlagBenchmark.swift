import FeatureFlags
import LambdaCore
import Logging

/// Times one evaluation of `enableNewProfileSchema` at a 10% rollout (the SHA-1 bucketing path),
/// through the in-process cache as the profile handler calls it.
struct FlagSource10Percent: FlagSource {
    var name: String { "benchmark" }
    func fetch(timeout: Duration) async throws(FlagSourceError) -> FlagFetch {
        .document(Array(#"{"enableNewProfileSchema":{"enabled":true,"rolloutPercentage":10,"salt":"nps-v2"}}"#.utf8),
                  nextPollAfter: .seconds(3600))
    }
}

enum FlagBenchmark {
    /// Nanoseconds per evaluation (median of `rounds`), and the share of users that were on.
    static func run(evaluations: Int = 1_000_000, rounds: Int = 5) async -> (nanoseconds: Double, share: Double) {
        let cache = FlagCache(source: FlagSource10Percent(), logger: Logger(label: "bench") { _ in SwiftLogNoOpLogHandler() })
        await cache.load()
        let users = (0..<1024).map { "user-\($0)-\(($0 &* 2_654_435_761) % 100_000)" }
        var samples: [Double] = []
        var on = 0
        for _ in 0..<rounds {
            on = 0
            let clock = ContinuousClock()
            let elapsed = clock.measure {
                for index in 0..<evaluations where cache.evaluate("enableNewProfileSchema", userID: users[index & 1023]).value {
                    on += 1
                }
            }
            samples.append(elapsed.fractionalNanoseconds / Double(evaluations))
        }
        samples.sort()
        return (samples[samples.count / 2], Double(on) / Double(evaluations))
    }
}
