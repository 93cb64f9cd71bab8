import LambdaRuntime
import Testing

@Suite struct RuntimeAPIEndpointTests {
    @Test func hostAndPortAsLambdaSetsIt() throws {
        let endpoint = try RuntimeAPIEndpoint("127.0.0.1:9001")
        #expect(endpoint.nextInvocationURL == "http://127.0.0.1:9001/2018-06-01/runtime/invocation/next")
        #expect(endpoint.initErrorURL == "http://127.0.0.1:9001/2018-06-01/runtime/init/error")
        #expect(endpoint.responseURL(for: "8476a536-e9f4-11e8-9739-2dfe598c3fcd")
            == "http://127.0.0.1:9001/2018-06-01/runtime/invocation/8476a536-e9f4-11e8-9739-2dfe598c3fcd/response")
        #expect(endpoint.errorURL(for: "abc") == "http://127.0.0.1:9001/2018-06-01/runtime/invocation/abc/error")
    }

    @Test func pathPrefixAndSchemeAsEmulatorsSetThem() throws {
        #expect(try RuntimeAPIEndpoint("127.0.0.1:9000/.rt").nextInvocationURL
            == "http://127.0.0.1:9000/.rt/2018-06-01/runtime/invocation/next")
        #expect(try RuntimeAPIEndpoint("http://localhost:9000/.rt/").baseURL == "http://localhost:9000/.rt/2018-06-01/runtime")
        #expect(try RuntimeAPIEndpoint(" 127.0.0.1:9001\n").baseURL == "http://127.0.0.1:9001/2018-06-01/runtime")
    }

    @Test(arguments: ["", "   ", ":9001", "https://127.0.0.1:9001", "127.0.0.1:9001/a b", "/path"])
    func unusableValuesAreRejectedWithTheReason(_ value: String) {
        #expect(throws: RuntimeConfigurationError.self) { try RuntimeAPIEndpoint(value) }
    }

    @Test func requestIDsCannotChangeTheURLShape() throws {
        let endpoint = try RuntimeAPIEndpoint("127.0.0.1:9001")
        #expect(endpoint.responseURL(for: "../init/error?x")
            == "http://127.0.0.1:9001/2018-06-01/runtime/invocation/..%2Finit%2Ferror%3Fx/response")
    }

    @Test func missingVariableSaysHowToRunLocally() {
        #expect(throws: RuntimeConfigurationError.runtimeAPINotSet) {
            try LambdaRuntime.Configuration(environment: ProcessEnvironment([:]))
        }
        #expect(RuntimeConfigurationError.runtimeAPINotSet.description.contains("AWS_LAMBDA_RUNTIME_API"))
    }
}
