import LambdaRuntime
import Logging
import Testing

/// The context's logger is made at its first use; every use, from any task, logs with the
/// invocation's ids.
@Suite struct ContextLoggerTests {
    private func context(tenant: String? = nil, logger: Logger) -> LambdaContext {
        LambdaContext(
            invocation: Invocation(requestID: "req-7", tenantID: tenant), function: FunctionMetadata(name: "f"), logger: logger)
    }

    @Test func theLoggerCarriesTheRequestAndTenantIDs() throws {
        let capture = LogCapture()
        let context = context(tenant: "tenant-1", logger: LambdaLogConfiguration(format: .json).makeLogger(label: "l", sink: capture))
        #expect(context.logger[metadataKey: LambdaLogHandler.requestIDKey] == "req-7")
        context.logger.info("one")
        context.logger.info("two")
        #expect(capture.all.count == 2)
        for line in capture.all {
            let object = try #require(jsonObject(line))
            #expect(object["requestId"] as? String == "req-7")
            #expect(object["tenantId"] as? String == "tenant-1")
        }
    }

    @Test func noTenantIsNoTenantField() throws {
        let capture = LogCapture()
        let context = context(logger: LambdaLogConfiguration(format: .json).makeLogger(label: "l", sink: capture))
        context.logger.info("x")
        let line = try #require(capture.all.first)
        let object = try #require(jsonObject(line))
        #expect(object["requestId"] as? String == "req-7")
        #expect(object["tenantId"] == nil)
    }

    @Test func theBaseLoggerIsNotChanged() {
        var base = Logger(label: "base")
        base[metadataKey: "loop"] = "3"
        let context = context(logger: base)
        #expect(context.logger[metadataKey: "loop"] == "3")
        #expect(context.logger[metadataKey: LambdaLogHandler.requestIDKey] == "req-7")
        #expect(base[metadataKey: LambdaLogHandler.requestIDKey] == nil)
    }

    @Test func tasksThatLogAtOnceAllLogWithTheIDs() async throws {
        let capture = LogCapture()
        let context = context(tenant: "t", logger: LambdaLogConfiguration(format: .json).makeLogger(label: "l", sink: capture))
        await withTaskGroup(of: Void.self) { group in
            for index in 0..<32 {
                group.addTask { context.logger.info("line \(index)") }
            }
        }
        #expect(capture.all.count == 32)
        for line in capture.all {
            let object = try #require(jsonObject(line))
            #expect(object["requestId"] as? String == "req-7" && object["tenantId"] as? String == "t")
        }
    }
}
