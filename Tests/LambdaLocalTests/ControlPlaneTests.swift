import CurlHTTP
import Foundation
@testable import LambdaLocal
import Testing

/// Lambda's control plane on lambda-local's port: aliases, versions, and the errors Lambda answers.
@Suite struct ControlPlaneTests {
    static func twoVersions(environment: [String: String] = [:]) -> LocalConfiguration {
        var configuration = LocalConfiguration(
            versions: [
                FunctionVersion(name: "1", bootstrapPath: Executables.bootstrap),
                FunctionVersion(name: "2", bootstrapPath: Executables.bootstrap, environment: environment),
            ],
            alias: AliasRouting(name: "live", primaryVersion: "1"))
        configuration.functionName = "fn"
        return configuration
    }

    static func put(_ local: LocalFixture, _ path: String, _ body: String) throws -> HTTPResponse {
        try local.request(.put, path, body: Array(body.utf8), headers: ["Content-Type": "application/json"])
    }

    @Test func updateAliasTakesEffectForTheNextRequestAndChangesTheRevision() async throws {
        try await LocalFixture.with(Self.twoVersions()) { local in
            let before = try #require(json(try local.request(.get, "/2015-03-31/functions/fn/aliases/live")))
            #expect(before["FunctionVersion"] as? String == "1")
            #expect(before["RoutingConfig"] == nil, "Lambda omits an empty routing config")
            let revision = try #require(before["RevisionId"] as? String)

            let updated = try Self.put(local, "/2015-03-31/functions/fn/aliases/live",
                                       #"{"FunctionVersion":"2","RoutingConfig":{"AdditionalVersionWeights":{}},"RevisionId":"\#(revision)"}"#)
            #expect(updated.status == 200)
            let after = try #require(json(updated))
            #expect(after["FunctionVersion"] as? String == "2")
            #expect(after["RevisionId"] as? String != revision)
            // The next front-door request runs on version 2.
            let health = try local.request(.get, "/health")
            #expect(health.headers["X-Amz-Executed-Version"] == "2")

            // The old revision is stale now: 412, and the alias stays as it is.
            let stale = try Self.put(local, "/2015-03-31/functions/fn/aliases/live", #"{"FunctionVersion":"1","RevisionId":"\#(revision)"}"#)
            #expect(stale.status == 412)
            #expect(stale.headers["x-amzn-ErrorType"] == "PreconditionFailedException")
            #expect(try local.request(.get, "/health").headers["X-Amz-Executed-Version"] == "2")
        }
    }

    @Test func routingConfigsLambdaRefusesAreRefusedWithItsErrorCodes() async throws {
        try await LocalFixture.with(Self.twoVersions()) { local in
            let cases: [(String, Int, String)] = [
                (#"{"RoutingConfig":{"AdditionalVersionWeights":{"2":0.1,"3":0.1}}}"#, 400, "ValidationException"),
                (#"{"RoutingConfig":{"AdditionalVersionWeights":{"2":1.5}}}"#, 400, "ValidationException"),
                (#"{"RoutingConfig":{"AdditionalVersionWeights":{"1":0.1}}}"#, 400, "InvalidParameterValueException"),
                (#"{"RoutingConfig":{"AdditionalVersionWeights":{"9":0.1}}}"#, 404, "ResourceNotFoundException"),
                (#"{"FunctionVersion":"9"}"#, 404, "ResourceNotFoundException"),
                ("not json", 400, "InvalidRequestContentException"),
            ]
            for (body, status, code) in cases {
                let response = try Self.put(local, "/2015-03-31/functions/fn/aliases/live", body)
                #expect(response.status == status, "\(body)")
                #expect(response.headers["x-amzn-ErrorType"] == code, "\(body)")
                #expect((json(response)?["Message"] as? String)?.isEmpty == false)
            }
            let alias = try #require(json(try local.request(.get, "/2015-03-31/functions/fn/aliases/live")))
            #expect(alias["FunctionVersion"] as? String == "1")
            #expect(alias["RoutingConfig"] == nil)
        }
    }

    @Test func createListAndMissingAliasesAndFunctions() async throws {
        try await LocalFixture.with(Self.twoVersions()) { local in
            let created = try local.request(.post, "/2015-03-31/functions/fn/aliases",
                                            body: Array(#"{"Name":"canary","FunctionVersion":"2"}"#.utf8))
            #expect(created.status == 201)
            let again = try local.request(.post, "/2015-03-31/functions/fn/aliases",
                                          body: Array(#"{"Name":"canary","FunctionVersion":"2"}"#.utf8))
            #expect(again.status == 409)
            #expect(again.headers["x-amzn-ErrorType"] == "ResourceConflictException")
            let listed = try #require(json(try local.request(.get, "/2015-03-31/functions/fn/aliases"))?["Aliases"] as? [[String: Any]])
            #expect(listed.compactMap { $0["Name"] as? String } == ["canary", "live"])
            // An invocation through the new alias runs its version.
            let invoked = try local.invoke("{}", function: "fn", query: "?Qualifier=canary")
            #expect(invoked.headers["X-Amz-Executed-Version"] == "2")

            let missing = try local.request(.get, "/2015-03-31/functions/fn/aliases/nope")
            #expect(missing.status == 404)
            #expect(missing.headers["x-amzn-ErrorType"] == "ResourceNotFoundException")
            let otherFunction = try local.request(.get, "/2015-03-31/functions/other/aliases/live")
            #expect(otherFunction.status == 404)
        }
    }

    @Test func versionsCarryTheirOwnConfiguration() async throws {
        try await LocalFixture.with(Self.twoVersions(environment: ["PROFILE_STORE": "dynamodb"])) { local in
            let versions = try #require(json(try local.request(.get, "/2015-03-31/functions/fn/versions"))?["Versions"] as? [[String: Any]])
            #expect(versions.compactMap { $0["Version"] as? String } == ["1", "2"])
            let second = try #require(versions.last)
            #expect((second["Environment"] as? [String: Any])?["Variables"] as? [String: String] == ["PROFILE_STORE": "dynamodb"])
            #expect(second["Role"] as? String == versions.first?["Role"] as? String)
            #expect(second["State"] as? String == "Active")
            let configuration = try #require(json(try local.request(.get, "/2015-03-31/functions/fn/configuration?Qualifier=live")))
            #expect(configuration["Version"] as? String == "1")
            let function = try #require(json(try local.request(.get, "/2015-03-31/functions/fn?Qualifier=2")))
            #expect((function["Configuration"] as? [String: Any])?["Version"] as? String == "2")
            let pinned = try local.invoke("{}", function: "fn", query: "?Qualifier=2")
            #expect(pinned.headers["X-Amz-Executed-Version"] == "2")
        }
    }

    @Test func unsupportedOperationsAreErrorsNeverSilentSuccesses() async throws {
        try await LocalFixture.with(Self.twoVersions()) { local in
            let publish = try local.request(.post, "/2015-03-31/functions/fn/versions", body: Array("{}".utf8))
            #expect(publish.status == 400)
            #expect(publish.headers["x-amzn-ErrorType"] == "UnknownOperationException")
            let delete = try local.request(.delete, "/2015-03-31/functions/fn/aliases/live")
            #expect(delete.headers["x-amzn-ErrorType"] == "UnknownOperationException")
            #expect(try local.request(.get, "/2015-03-31/functions/fn/aliases/live").status == 200)
            let layers = try local.request(
                .get, "/2018-10-31/layers",
                headers: ["Authorization": "AWS4-HMAC-SHA256 Credential=test/20261201/us-east-1/lambda/aws4_request, SignedHeaders=host, Signature=0"])
            #expect(layers.headers["x-amzn-ErrorType"] == "UnknownOperationException")
        }
    }
}

/// What a child of one version finds in its environment.
@Suite struct ChildEnvironmentTests {
    @Test func versionEnvironmentWinsOverTheFunctionsAndTheVersionIsAlwaysLambdas() {
        var configuration = LocalConfiguration(bootstrapPath: "/var/task/bootstrap")
        configuration.functionName = "fn"
        configuration.environment = ["PROFILE_STORE": "memory", "SHARED": "yes", "AWS_LAMBDA_FUNCTION_VERSION": "nope"]
        let version = FunctionVersion(name: "2", bootstrapPath: "/var/task/bootstrap", environment: ["PROFILE_STORE": "dynamodb"])
        let variables = ChildEnvironment.variables(configuration: configuration, version: version, runtimePort: 9001, parent: [:])
        #expect(variables["PROFILE_STORE"] == "dynamodb")
        #expect(variables["SHARED"] == "yes")
        #expect(variables["AWS_LAMBDA_FUNCTION_VERSION"] == "2")
        #expect(variables["AWS_LAMBDA_RUNTIME_API"] == "127.0.0.1:9001")
        #expect(variables["AWS_LAMBDA_LOG_STREAM_NAME"]?.contains("/[2]") == true)
        #expect(variables["LAMBDA_TASK_ROOT"] == "/var/task")
    }
}
