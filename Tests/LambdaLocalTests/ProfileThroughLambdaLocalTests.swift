import CurlHTTP
import FeatureFlags
import Foundation
import LambdaLocal
import Testing

/// The real bootstrap with `_HANDLER=profile` behind lambda-local's API Gateway front door, with
/// flags from a file: what `scripts/run-local.sh` runs.
@Suite struct ProfileThroughLambdaLocalTests {
    static func bearer(_ sub: String) -> String {
        let claims = Data(#"{"sub":"\#(sub)"}"#.utf8).base64EncodedString()
            .replacingOccurrences(of: "=", with: "").replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
        return "Bearer e30.\(claims).unsigned"
    }

    /// A user inside (or outside) a 50% rollout of the flag with salt `nps-v2`.
    static func user(inside: Bool) -> String {
        (0..<1000).map { "user-\($0)" }.first {
            (RolloutBucket.bucket(flagKey: "enableNewProfileSchema", salt: "nps-v2", userID: $0) < 0.5) == inside
        }!
    }

    @Test func putGetPatchDeleteWithBothSchemasAndAFlagFlip() async throws {
        let flagsFile = FileManager.default.temporaryDirectory.appendingPathComponent("flags-\(UUID().uuidString).json")
        defer { try? FileManager.default.removeItem(at: flagsFile) }
        try #"{"enableNewProfileSchema":{"enabled":true,"rolloutPercentage":50,"salt":"nps-v2"}}"#.write(to: flagsFile, atomically: true, encoding: .utf8)
        var configuration = LocalConfiguration(bootstrapPath: Executables.bootstrap)
        configuration.handler = "profile"
        configuration.environment = ["PROFILE_STORE": "memory", "FLAGS_SOURCE": "file", "FLAGS_FILE": flagsFile.path,
                                     "AWS_LAMBDA_LOG_FORMAT": "JSON"]
        try await LocalFixture.with(configuration) { local in
            let health = try local.request(.get, "/health")
            #expect(health.status == 200)
            #expect(json(health)?["store"] as? String == "memory")

            let inside = Self.user(inside: true)
            let outside = Self.user(inside: false)
            let v2Body = Array(#"{"givenName":"Ada","displayName":"Ada L.","email":"ada@example.com","locale":"en-GB","preferences":{"theme":"dark"}}"#.utf8)
            let created = try local.request(.put, "/profiles/\(inside)", body: v2Body,
                                            headers: ["Authorization": Self.bearer(inside), "Content-Type": "application/json"])
            #expect(created.status == 201, "\(created.bodyText)")
            #expect(created.headers["x-profile-schema"] == "2")
            let v1Body = Array(#"{"name":"Grace Hopper","email":"grace@example.com"}"#.utf8)
            let other = try local.request(.put, "/profiles/\(outside)", body: v1Body,
                                          headers: ["Authorization": Self.bearer(outside), "Content-Type": "application/json"])
            #expect(other.status == 201)
            #expect(other.headers["x-profile-schema"] == "1")

            let read = try local.request(.get, "/profiles/\(inside)", headers: ["Authorization": Self.bearer(inside)])
            #expect(json(read)?["displayName"] as? String == "Ada L.")
            #expect(read.headers["ETag"] == "\"1\"")
            let patched = try local.request(.patch, "/profiles/\(inside)", body: Array(#"{"preferences":{"theme":null}}"#.utf8),
                                            headers: ["Authorization": Self.bearer(inside), "Content-Type": "application/merge-patch+json",
                                                      "If-Match": "\"1\""])
            #expect(patched.status == 200)
            #expect(json(patched)?["version"] as? Int == 2)

            // Turn the flag off: within one poll interval (2 s) plus one invocation the old schema is served.
            try #"{"enableNewProfileSchema":{"enabled":false}}"#.write(to: flagsFile, atomically: true, encoding: .utf8)
            var schema = ""
            for _ in 0..<40 {
                let response = try local.request(.get, "/profiles/\(inside)", headers: ["Authorization": Self.bearer(inside)])
                schema = response.headers["x-profile-schema"] ?? ""
                if schema == "1" {
                    #expect(json(response)?["name"] as? String == "Ada L.", "v2 kept name for v1 readers")
                    break
                }
                try await Task.sleep(for: .milliseconds(200))
            }
            #expect(schema == "1")

            let deleted = try local.request(.delete, "/profiles/\(inside)", headers: ["Authorization": Self.bearer(inside)])
            #expect(deleted.status == 204)
            let gone = try local.request(.get, "/profiles/\(inside)", headers: ["Authorization": Self.bearer(inside)])
            #expect(gone.status == 404)
            let forbidden = try local.request(.get, "/profiles/\(outside)", headers: ["Authorization": Self.bearer(inside)])
            #expect(forbidden.status == 403)
        }
    }

    @Test func missingStoreSettingIsAnInitErrorNamingTheVariable() async throws {
        var configuration = LocalConfiguration(bootstrapPath: Executables.bootstrap)
        configuration.handler = "profile"
        try await LocalFixture.with(configuration) { local in
            let response = try local.invoke("{}")
            #expect(response.headers["X-Amz-Function-Error"] == "Unhandled")
            #expect(json(response)?["errorType"] as? String == "Runtime.ConfigInvalid")
            #expect((json(response)?["errorMessage"] as? String)?.contains("PROFILE_STORE") == true)
        }
    }
}
