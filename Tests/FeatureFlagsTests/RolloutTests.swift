import FeatureFlags
import Testing

@Suite struct RolloutBucketTests {
    /// LaunchDarkly's published vectors (go-server-sdk-evaluation, evaluator_bucketing_test.go).
    @Test(arguments: [("userKeyA", 0.42157587), ("userKeyB", 0.6708485), ("userKeyC", 0.10343106)])
    func reproducesLaunchDarklysVectors(_ user: String, _ expected: Double) {
        let bucket = RolloutBucket.bucket(flagKey: "hashKey", salt: "saltyA", userID: user)
        #expect(abs(bucket - expected) < 0.0000001, "\(user): \(bucket)")
    }

    @Test func raisingThePercentageNeverTurnsAUserOff() {
        let percentages: [Double] = [0, 1, 5, 10, 25, 50, 75, 99, 100]
        for index in 0..<20_000 {
            let user = "user-\(index)"
            var wasOn = false
            for percentage in percentages {
                let document = FlagDocument(flags: ["f": FlagDefinition(enabled: true, rolloutPercentage: percentage, salt: "s")])
                let on = document.evaluate("f", userID: user).value
                #expect(!(wasOn && !on), "\(user) dropped at \(percentage)%")
                wasOn = on
            }
            #expect(wasOn, "everyone is on at 100%")
        }
    }

    @Test(arguments: [10.0, 50.0])
    func shareOfUsersOnIsWithinTwoPercent(_ percentage: Double) {
        let document = FlagDocument(flags: ["enableNewProfileSchema": FlagDefinition(enabled: true, rolloutPercentage: percentage, salt: "nps-v2")])
        var on = 0
        for index in 0..<100_000 where document.evaluate("enableNewProfileSchema", userID: "user-\(index)").value {
            on += 1
        }
        let share = Double(on) / 1000
        #expect(abs(share - percentage) <= 2, "\(share)% on at \(percentage)%")
    }

    @Test func theFlagKeyAndSaltChooseDifferentUsers() {
        let a = (0..<1000).filter { RolloutBucket.bucket(flagKey: "a", salt: "s", userID: "u\($0)") < 0.1 }
        let b = (0..<1000).filter { RolloutBucket.bucket(flagKey: "b", salt: "s", userID: "u\($0)") < 0.1 }
        #expect(a != b)
    }
}

@Suite struct FlagDocumentTests {
    @Test func featureFlagShapeAndEveryReason() throws {
        let document = try FlagDocument(parsing: Array(#"""
            {"enableNewProfileSchema":{"enabled":true,"rolloutPercentage":10,"salt":"nps-v2"},
             "allOn":{"enabled":true},"off":{"enabled":false},"broken":{"enabled":true,"rolloutPercentage":"ten"},
             "noEnabled":{"rolloutPercentage":5},"hundred":{"enabled":true,"rolloutPercentage":100}}
            """#.utf8))
        #expect(document.evaluate("enableNewProfileSchema", userID: "u").reason == .split)
        #expect(document.evaluate("allOn", userID: "u") == FlagEvaluation(value: true, reason: .staticValue))
        #expect(document.evaluate("hundred", userID: "u") == FlagEvaluation(value: true, reason: .staticValue))
        #expect(document.evaluate("off", userID: "u") == FlagEvaluation(value: false, reason: .disabled))
        #expect(document.evaluate("broken", userID: "u") == FlagEvaluation(value: false, reason: .error))
        #expect(document.evaluate("noEnabled", userID: "u") == FlagEvaluation(value: false, reason: .error))
        #expect(document.evaluate("missing", userID: "u") == FlagEvaluation(value: false, reason: .defaultValue))
        #expect(document.evaluate("allOn", userID: "u", stale: true) == FlagEvaluation(value: true, reason: .stale))
    }

    @Test func freeformShape() throws {
        let document = try FlagDocument(parsing: Array(#"{"enableNewProfileSchema": true, "other": false, "note": "text"}"#.utf8))
        #expect(document.evaluate("enableNewProfileSchema", userID: "u") == FlagEvaluation(value: true, reason: .staticValue))
        #expect(document.evaluate("other", userID: "u") == FlagEvaluation(value: false, reason: .disabled))
        #expect(document.evaluate("note", userID: "u").reason == .defaultValue)
    }

    @Test(arguments: ["", "[]", "not json", #"{"a":"#, "true"])
    func garbledDocumentsAreRefused(_ text: String) {
        #expect(throws: FlagDocumentError.self) { try FlagDocument(parsing: Array(text.utf8)) }
    }

    @Test func staticFlagsNeverFetch() {
        #expect(StaticFlags(["f": true]).evaluate("f", userID: "u") == FlagEvaluation(value: true, reason: .staticValue))
        #expect(StaticFlags().evaluate("f", userID: "u") == FlagEvaluation(value: false, reason: .defaultValue))
    }
}
