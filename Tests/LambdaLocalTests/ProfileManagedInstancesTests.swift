import CurlHTTP
import FeatureFlags
import Foundation
import LambdaLocal
import Testing

/// The profile service on the memory store behind `lambda-local --max-concurrency 8` (one child, eight loops):
/// the mixed-version canary through the real bootstrap, concurrent now. Users in a 50% rollout of the new schema
/// are written in v2 while the flag is on, then in v1 after it is switched off, while the other users are written
/// in v1 throughout; no update and no attribute may be lost.
@Suite struct ProfileManagedInstancesTests {
    /// One successful write as the client saw it.
    struct Write: Sendable {
        var userID: String
        var version: Int
        var schemaV2: Bool
        var fields: [String: String]
        var preferences: String?
    }

    static func body(schemaV2: Bool, writer: Int, step: Int) -> (text: String, fields: [String: String], preferences: String?) {
        let email = "w\(writer).s\(step)@example.com"
        if schemaV2 {
            let preferences = #"{"step":\#(step),"writer":\#(writer)}"#
            return (#"{"displayName":"w\#(writer)-s\#(step)","email":"\#(email)","locale":"en-GB","timeZone":"Europe/London","preferences":\#(preferences)}"#,
                    ["displayName": "w\(writer)-s\(step)", "email": email, "locale": "en-GB", "timeZone": "Europe/London"], preferences)
        }
        return (#"{"name":"w\#(writer)-s\#(step)","email":"\#(email)"}"#, ["name": "w\(writer)-s\(step)", "email": email], nil)
    }

    /// `writers` clients, each `writesEach` PUTs round the users, as fast as they are answered.
    static func write(port: Int, users: [String], v2Users: Set<String>, writers: Int, writesEach: Int, firstStep: Int) async throws -> [Write] {
        try await withThrowingTaskGroup(of: [Write].self) { group in
            for writer in 0..<writers {
                group.addTask {
                    try await onThread {
                        let session = try CurlSession()
                        var writes: [Write] = []
                        for step in firstStep..<(firstStep + writesEach) {
                            let userID = users[(writer * 7 + step) % users.count]
                            let schemaV2 = v2Users.contains(userID)
                            let (text, fields, preferences) = body(schemaV2: schemaV2, writer: writer, step: step)
                            let response = try session.perform(CurlHTTP.HTTPRequest(
                                method: .put, url: "http://127.0.0.1:\(port)/profiles/\(userID)",
                                headers: ["Authorization": ProfileThroughLambdaLocalTests.bearer(userID), "Content-Type": "application/json"],
                                body: Array(text.utf8), timeout: .seconds(30)))
                            guard (200...201).contains(response.status) else {
                                // 409 after repeated lost races is allowed; it must change nothing.
                                #expect(response.status == 409, "\(response.status) \(response.bodyText)")
                                continue
                            }
                            #expect(response.headers["x-profile-schema"] == (schemaV2 ? "2" : "1"), "\(userID) step \(step)")
                            let version = try #require(json(response)?["version"] as? Int)
                            writes.append(Write(userID: userID, version: version, schemaV2: schemaV2, fields: fields, preferences: preferences))
                        }
                        return writes
                    }
                }
            }
            var all: [Write] = []
            for try await writes in group { all += writes }
            return all
        }
    }

    /// Waits until `userID` is served in `schema` (the flag file is polled every 2 s).
    static func waitForSchema(_ schema: String, userID: String, local: LocalFixture) async throws {
        for _ in 0..<100 {
            let response = try local.request(.get, "/profiles/\(userID)", headers: ["Authorization": ProfileThroughLambdaLocalTests.bearer(userID)])
            if response.headers["x-profile-schema"] == schema { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        Issue.record("\(userID) never served in schema \(schema)")
    }

    @Test func concurrentV1AndV2WritesThroughMaxConcurrency8LoseNoUpdateAndNoAttribute() async throws {
        let flagsFile = FileManager.default.temporaryDirectory.appendingPathComponent("flags-\(UUID().uuidString).json")
        defer { try? FileManager.default.removeItem(at: flagsFile) }
        let on = #"{"enableNewProfileSchema":{"enabled":true,"rolloutPercentage":50,"salt":"nps-v2"}}"#
        try on.write(to: flagsFile, atomically: true, encoding: .utf8)
        var configuration = LocalConfiguration(bootstrapPath: Executables.bootstrap)
        configuration.handler = "profile"
        configuration.maxConcurrency = 8
        configuration.environment = ["PROFILE_STORE": "memory", "FLAGS_SOURCE": "file", "FLAGS_FILE": flagsFile.path,
                                     "AWS_LAMBDA_LOG_LEVEL": "ERROR"]
        let users = (0..<20).map { "user-\($0)" }
        let inRollout = Set(users.filter { RolloutBucket.bucket(flagKey: "enableNewProfileSchema", salt: "nps-v2", userID: $0) < 0.5 })
        #expect(!inRollout.isEmpty && inRollout.count < users.count)
        try await LocalFixture.with(configuration) { local in
            let started = ContinuousClock.now
            // Phase 1: the flag is on, users in the rollout write v2, the others v1.
            var writes = try await Self.write(port: local.port, users: users, v2Users: inRollout, writers: 16, writesEach: 63, firstStep: 0)
            // Phase 2: the flag goes off; everybody writes v1, over the v2 attributes of the rollout's users.
            try #"{"enableNewProfileSchema":{"enabled":false}}"#.write(to: flagsFile, atomically: true, encoding: .utf8)
            try await Self.waitForSchema("1", userID: try #require(inRollout.first), local: local)
            writes += try await Self.write(port: local.port, users: users, v2Users: [], writers: 16, writesEach: 62, firstStep: 63)
            let writing = ContinuousClock.now - started
            #expect(writes.count >= 1_900, "\(writes.count) of 2,000 writes succeeded")
            let peak = (try local.stats()["instances"] as? [[String: Any]])?.count
            #expect(peak == 1, "one child serves all")

            // Read back in the new schema, which shows every attribute.
            try on.write(to: flagsFile, atomically: true, encoding: .utf8)
            try await Self.waitForSchema("2", userID: try #require(inRollout.first), local: local)
            for userID in users {
                let mine = writes.filter { $0.userID == userID }.sorted { $0.version < $1.version }
                #expect(mine.map(\.version) == Array(1...max(1, mine.count)).prefix(mine.count).map { $0 },
                        "each successful write of \(userID) raised its version by exactly one: no lost update")
                guard let last = mine.last else { continue }
                let read = try local.request(.get, "/profiles/\(userID)", headers: ["Authorization": ProfileThroughLambdaLocalTests.bearer(userID)])
                let view = try #require(json(read))
                #expect(view["version"] as? Int == mine.count)
                #expect(view["email"] as? String == last.fields["email"])
                if inRollout.contains(userID) {
                    #expect(view["displayName"] as? String == (last.fields["displayName"] ?? last.fields["name"]), "v1 keeps displayName in step with name")
                } else {
                    #expect(view["name"] as? String == last.fields["name"])
                }
                if let lastV2 = mine.last(where: \.schemaV2), inRollout.contains(userID) {
                    #expect(view["locale"] as? String == lastV2.fields["locale"], "v1 writes never drop v2 attributes (\(userID))")
                    #expect(view["timeZone"] as? String == lastV2.fields["timeZone"])
                    let preferences = try #require(view["preferences"] as? [String: Int])
                    #expect(lastV2.preferences == #"{"step":\#(preferences["step"] ?? -1),"writer":\#(preferences["writer"] ?? -1)}"#)
                }
            }
            print("profile through --max-concurrency 8: \(writes.count) writes of \(users.count) users (\(inRollout.count) in the v2 rollout) in \(writing), one child")
        }
    }
}
