import AWSClients
import FakeRuntimeAPI
import FeatureFlags
import Foundation
import LeanJSON
import Synchronization
import Testing

@Suite struct FileFlagSourceTests {
    @Test func readsTheFileEveryPollAndReportsAMissingOne() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("flags-\(UUID().uuidString).json").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let source = FileFlagSource(path: path, pollInterval: .seconds(2))
        await #expect(throws: FlagSourceError.self) { try await source.fetch(timeout: .seconds(1)) }
        try #"{"enableNewProfileSchema":true}"#.write(toFile: path, atomically: true, encoding: .utf8)
        #expect(try await source.fetch(timeout: .seconds(1)) == .document(Array(#"{"enableNewProfileSchema":true}"#.utf8), nextPollAfter: .seconds(2)))
    }
}

/// AppConfigData's protocol, played by a scripted server on loopback.
@Suite struct AppConfigDataSourceTests {
    final class FakeAppConfigData: Sendable {
        let server: FakeRuntimeAPI
        let tokens = Mutex(0)
        let body = Mutex<String>(#"{"enableNewProfileSchema":{"enabled":true,"rolloutPercentage":10,"salt":"s"}}"#)
        /// The next GetLatestConfiguration is answered 400 with this body.
        let rejectNext = Mutex<String?>(nil)
        let seen = Mutex<[String]>([])

        init() throws {
            server = try FakeRuntimeAPI()
            server.setOverride { [self] request in
                seen.withLock { $0.append("\(request.method) \(request.path)") }
                if request.method == "POST", request.path == "/configurationsessions" {
                    let parsed = try? JSON(parsing: request.body)
                    guard parsed?["ApplicationIdentifier"] == "profile-api", parsed?["RequiredMinimumPollIntervalInSeconds"] == 15 else {
                        return .init(status: 400, body: #"{"Message":"bad session request"}"#)
                    }
                    return .init(status: 201, body: #"{"InitialConfigurationToken":"token-0"}"#)
                }
                guard request.method == "GET", request.path.hasPrefix("/configuration?configuration_token=") else {
                    return .init(status: 404, body: "{}")
                }
                let presented = String(request.path.dropFirst("/configuration?configuration_token=".count))
                let expected = tokens.withLock { "token-\($0)" }
                if let rejection = rejectNext.withLock({ value in defer { value = nil }; return value }) {
                    return .init(status: 400, body: rejection)
                }
                if presented != expected {
                    return .init(status: 400, body: Self.problem("Expired"))
                }
                let next = tokens.withLock { count in
                    count += 1
                    return "token-\(count)"
                }
                let current = body.withLock { value in defer { value = "" }; return value }
                return .init(status: 200, body: current, headers: [
                    ("Next-Poll-Configuration-Token", next), ("Next-Poll-Interval-In-Seconds", "30"),
                    ("Content-Type", "application/json"),
                ])
            }
        }

        /// AppConfigData's BadRequestException with a structured problem.
        static func problem(_ problem: String) -> String {
            #"{"Message":"Bad Request","Reason":"InvalidParameters","Details":{"InvalidParameters":{"configuration_token":{"Problem":"\#(problem)"}}}}"#
        }

        var source: AppConfigDataSource {
            AppConfigDataSource(
                application: "profile-api", environment: "dev", profile: "flags",
                aws: AWSEnvironment(region: "us-east-1", accessKeyID: "AKID", secretAccessKey: "secret", sessionToken: "t",
                                    endpointOverrides: ["APPCONFIGDATA": "http://\(server.runtimeAPI)"]))
        }
    }

    @Test func sessionThenTokensRotateAndAnEmptyBodyMeansUnchanged() async throws {
        let fake = try FakeAppConfigData()
        defer { fake.server.stop() }
        let source = fake.source
        guard case .document(let bytes, let interval) = try await source.fetch(timeout: .seconds(2)) else {
            Issue.record("expected a document")
            return
        }
        #expect(interval == .seconds(30), "Next-Poll-Interval-In-Seconds is honoured")
        #expect(try FlagDocument(parsing: bytes).flags["enableNewProfileSchema"]?.rolloutPercentage == 10)
        #expect(try await source.fetch(timeout: .seconds(2)) == .unchanged(nextPollAfter: .seconds(30)))
        #expect(fake.seen.withLock { $0 } == [
            "POST /configurationsessions", "GET /configuration?configuration_token=token-0",
            "GET /configuration?configuration_token=token-1",
        ], "the token from every answer is used for the next call")
        let authorization = try #require(fake.server.requests.first?.header("Authorization"))
        #expect(authorization.contains("/us-east-1/appconfig/aws4_request"), "signing name is appconfig")
    }

    @Test(arguments: [
        FakeAppConfigData.problem("Expired"), FakeAppConfigData.problem("Corrupted"),
        // ministack says it only in prose; any other rejection of the token means the same.
        #"{"__type":"BadRequestException","message":"Invalid or expired configuration token"}"#,
    ])
    func aRejectedTokenStartsANewSession(_ rejection: String) async throws {
        let fake = try FakeAppConfigData()
        defer { fake.server.stop() }
        let source = fake.source
        _ = try await source.fetch(timeout: .seconds(2))
        fake.rejectNext.withLock { $0 = rejection }
        await #expect { try await source.fetch(timeout: .seconds(2)) } throws: {
            ($0 as? FlagSourceError)?.retryAfter == .zero
        }
        fake.tokens.withLock { $0 = 0 }
        fake.body.withLock { $0 = #"{"enableNewProfileSchema":{"enabled":false}}"# }
        guard case .document(let bytes, _) = try await source.fetch(timeout: .seconds(2)) else {
            Issue.record("expected a document from the new session")
            return
        }
        #expect(try FlagDocument(parsing: bytes).flags["enableNewProfileSchema"]?.enabled == false)
        #expect(fake.seen.withLock { $0 }.filter { $0 == "POST /configurationsessions" }.count == 2)
    }

    @Test func pollingTooEarlyKeepsTheTokenAndBacksOff() async throws {
        let fake = try FakeAppConfigData()
        defer { fake.server.stop() }
        let source = fake.source
        _ = try await source.fetch(timeout: .seconds(2))
        fake.rejectNext.withLock { $0 = FakeAppConfigData.problem("PollIntervalNotSatisfied") }
        await #expect { try await source.fetch(timeout: .seconds(2)) } throws: {
            ($0 as? FlagSourceError)?.retryAfter == .seconds(15)
        }
        #expect(try await source.fetch(timeout: .seconds(2)) == .unchanged(nextPollAfter: .seconds(30)))
        #expect(fake.seen.withLock { $0 }.filter { $0 == "POST /configurationsessions" }.count == 1)
    }
}
