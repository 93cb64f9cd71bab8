import CurlHTTP
import Foundation
import LambdaLocal
import Testing

/// The weighted alias: routing between two versions, and Lambda's alias rules.
@Suite struct CanaryTests {
    @Test func tenPercentWeightServesSevenToThirteenPercentOf2000Invocations() async throws {
        let versions = [
            FunctionVersion(name: "1", bootstrapPath: Executables.bootstrap),
            FunctionVersion(name: "2", bootstrapPath: Executables.bootstrap),
        ]
        let configuration = LocalConfiguration(
            versions: versions, alias: AliasRouting(name: "live", primaryVersion: "1", additionalVersionWeights: ["2": 0.1]))
        try await LocalFixture.with(configuration) { local in
            let executed = try Self.invokeRepeatedly(local, times: 2000)
            let stats = try local.stats()
            let perVersion = try #require(stats["versions"] as? [String: [String: Any]])
            let second = try #require(perVersion["2"]?["invocations"] as? Int)
            let first = try #require(perVersion["1"]?["invocations"] as? Int)
            #expect(first + second == 2000)
            #expect((140...260).contains(second), "version 2 served \(second) of 2000")
            #expect(executed["2"] == second)
            #expect(perVersion["2"]?["p99Ms"] as? Double ?? 0 > 0)
            // An explicit qualifier bypasses the weights.
            let pinned = try local.invoke("{}", query: "?Qualifier=2")
            #expect(pinned.headers["X-Amz-Executed-Version"] == "2")
        }
    }

    /// Counts `X-Amz-Executed-Version` over `times` invocations (every one must succeed).
    static func invokeRepeatedly(_ local: LocalFixture, times: Int) throws -> [String: Int] {
        var executed: [String: Int] = [:]
        for n in 0..<times {
            let response = try local.invoke(#"{"n":\#(n)}"#)
            guard response.status == 200, response.headers["X-Amz-Function-Error"] == nil else {
                throw InvocationFailed(status: response.status, body: response.bodyText)
            }
            executed[response.headers["X-Amz-Executed-Version"] ?? "?", default: 0] += 1
        }
        return executed
    }

    struct InvocationFailed: Error {
        let status: Int
        let body: String
    }

    @Test func aliasRulesAreEnforcedWithLambdasMessages() {
        let known = ["$LATEST", "1", "2", "3"]
        let twoExtra = AliasRouting(name: "live", primaryVersion: "1", additionalVersionWeights: ["2": 0.1, "3": 0.1])
        #expect(throws: AliasRoutingError.self) { try twoExtra.validate(knownVersions: known) }
        let overOne = AliasRouting(name: "live", primaryVersion: "1", additionalVersionWeights: ["2": 1.5])
        #expect { try overOne.validate(knownVersions: known) } throws: { "\($0)".contains("less than or equal to 1.0") }
        let latest = AliasRouting(name: "live", primaryVersion: "$LATEST", additionalVersionWeights: ["2": 0.1])
        #expect { try latest.validate(knownVersions: known) } throws: { "\($0)".contains("$LATEST") }
        let same = AliasRouting(name: "live", primaryVersion: "2", additionalVersionWeights: ["2": 0.1])
        #expect(throws: AliasRoutingError.self) { try same.validate(knownVersions: known) }
        let unknown = AliasRouting(name: "live", primaryVersion: "1", additionalVersionWeights: ["9": 0.1])
        #expect(throws: AliasRoutingError.self) { try unknown.validate(knownVersions: known) }
        let fine = AliasRouting(name: "live", primaryVersion: "1", additionalVersionWeights: ["2": 0.25])
        #expect(throws: Never.self) { try fine.validate(knownVersions: known) }
    }

    @Test func routingFollowsTheWeight() {
        let alias = AliasRouting(name: "live", primaryVersion: "1", additionalVersionWeights: ["2": 0.1])
        #expect(alias.pickVersion(random: 0.05) == "2")
        #expect(alias.pickVersion(random: 0.1) == "1")
        #expect(alias.pickVersion(random: 0.99) == "1")
        #expect(AliasRouting(name: "live", primaryVersion: "1").pickVersion(random: 0) == "1")
    }
}
