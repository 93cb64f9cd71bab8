import LambdaRuntime
import Testing

@Suite struct RuntimeExitTests {
    @Test func everyReasonHasItsOwnNonZeroStatus() {
        let reasons: [RuntimeExit] = [
            .initializationFailed(errorType: "Runtime.HandlerNotFound"), .sandboxFailure("500"),
            .runtimeAPIUnreachable("refused"), .protocolViolation("no request id"),
            .configurationInvalid(.runtimeAPINotSet),
        ]
        #expect(reasons.map(\.exitCode) == [1, 2, 3, 4, 5])
    }

    @Test func aConfigurationErrorSaysWhichSettingToFix() {
        let reason = RuntimeExit.configurationInvalid(.invalidMaxConcurrency("lots"))
        #expect(reason.description.contains("AWS_LAMBDA_MAX_CONCURRENCY=lots"))
    }
}
