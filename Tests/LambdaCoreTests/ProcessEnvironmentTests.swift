import LambdaCore
import Testing

@Suite struct ProcessEnvironmentTests {
    @Test func aFixedEnvironmentAnswersOnlyWithItsOwnValues() {
        let environment = ProcessEnvironment(["_HANDLER": "echo", "EMPTY": ""])
        #expect(environment["_HANDLER"] == "echo")
        #expect(environment["EMPTY"] == "")
        #expect(environment["PATH"] == nil)
    }

    @Test func theCurrentEnvironmentReadsTheProcess() {
        #expect(ProcessEnvironment.current["PATH"] != nil)
        #expect(ProcessEnvironment.current["LAMBDA_CORE_TEST_SURELY_UNSET_\(UInt64.random(in: 0...UInt64.max))"] == nil)
    }
}
