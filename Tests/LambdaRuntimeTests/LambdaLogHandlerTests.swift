import LambdaRuntime
import Logging
import Testing

@Suite struct LambdaLogHandlerTests {
    @Test func jsonLinesCarryTimestampLevelMessageRequestIDAndMetadata() throws {
        let capture = LogCapture()
        var logger = LambdaLogConfiguration(format: .json, level: .info).makeLogger(label: "profile", sink: capture)
        logger[metadataKey: "requestId"] = "req-1"
        logger.warning("slow \"store\"", metadata: ["latencyMs": "812", "tags": ["a", "b"]])
        let line = try #require(capture.all.first)
        let object = try #require(jsonObject(line))
        #expect(object["level"] as? String == "WARN")
        #expect(object["message"] as? String == "slow \"store\"")
        #expect(object["requestId"] as? String == "req-1")
        #expect(object["logger"] as? String == "profile")
        #expect(object["latencyMs"] as? String == "812")
        #expect(object["tags"] as? [String] == ["a", "b"])
        let timestamp = try #require(object["timestamp"] as? String)
        #expect(timestamp.wholeMatch(of: /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z/) != nil)
        #expect(!line.contains("\n"))
    }

    @Test func levelsMapToLambdaNames() throws {
        let capture = LogCapture()
        let logger = LambdaLogConfiguration(format: .json, level: .trace).makeLogger(label: "l", sink: capture)
        logger.trace("t")
        logger.debug("d")
        logger.info("i")
        logger.notice("n")
        logger.warning("w")
        logger.error("e")
        logger.critical("c")
        let levels = capture.all.compactMap { jsonObject($0)?["level"] as? String }
        #expect(levels == ["TRACE", "DEBUG", "INFO", "INFO", "WARN", "ERROR", "FATAL"])
    }

    @Test func textLinesAreTabSeparated() throws {
        let capture = LogCapture()
        var logger = LambdaLogConfiguration(format: .text, level: .info).makeLogger(label: "l", sink: capture)
        logger[metadataKey: "requestId"] = "req-9"
        logger.error("store down", metadata: ["table": "profiles"])
        let fields = try #require(capture.all.first).split(separator: "\t")
        #expect(fields.count == 4)
        #expect(fields[1] == "req-9")
        #expect(fields[2] == "ERROR")
        #expect(fields[3] == "store down table=profiles")
    }

    @Test func environmentChoosesFormatAndLevel() {
        let json = LambdaLogConfiguration(environment: ProcessEnvironment([
            "AWS_LAMBDA_LOG_FORMAT": "JSON", "AWS_LAMBDA_LOG_LEVEL": "WARN",
        ]))
        #expect(json == LambdaLogConfiguration(format: .json, level: .warning))
        let fallback = LambdaLogConfiguration(environment: ProcessEnvironment(["LOG_LEVEL": "debug"]))
        #expect(fallback == LambdaLogConfiguration(format: .text, level: .debug))
        let defaults = LambdaLogConfiguration(environment: ProcessEnvironment(["AWS_LAMBDA_LOG_LEVEL": "LOUD"]))
        #expect(defaults == LambdaLogConfiguration(format: .text, level: .info))
    }

    @Test func levelFilterDropsLessSevereLines() {
        let capture = LogCapture()
        let logger = LambdaLogConfiguration(format: .json, level: .error).makeLogger(label: "l", sink: capture)
        logger.info("hidden")
        logger.warning("hidden")
        logger.error("shown")
        #expect(capture.all.count == 1)
    }
}
