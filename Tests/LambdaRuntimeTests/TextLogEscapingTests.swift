import LambdaRuntime
import Logging
import Synchronization
import Testing

/// Text log lines cannot be forged: whatever a request puts into a message or metadata value stays
/// on its own line, visibly escaped.
@Suite struct TextLogEscapingTests {
    final class Lines: LogLineSink, @unchecked Sendable {
        private let storage = Mutex<[String]>([])
        func write(line: String) { storage.withLock { $0.append(line) } }
        var all: [String] { storage.withLock { $0 } }
    }

    @Test(arguments: [LambdaLogFormat.text, .json])
    func controlCharactersCannotStartAForgedLine(_ format: LambdaLogFormat) {
        let lines = Lines()
        let logger = Logger(label: "t") { LambdaLogHandler(label: $0, format: format, level: .info, sink: lines) }
        let forged = "/profiles/x\n2026-12-01T00:00:00.000Z\tforged-id\tERROR\tpayment failed\r\u{0}\u{85}\\"
        logger.info("request \(forged)", metadata: ["path": .string(forged), "list": .array([.string(forged)]), "key\nname": "v"])
        let written = lines.all
        #expect(written.count == 1)
        let line = written[0]
        #expect(!line.utf8.contains { $0 < 0x20 && $0 != 0x09 || $0 == 0x7F }, "no raw control characters but the format's own tabs")
        if format == .text {
            #expect(!line.unicodeScalars.contains("\u{85}"), "C1 controls too")
            #expect(line.split(separator: "\t").count == 3, "time, level, message: the forged tabs are escaped")
            #expect(line.contains(#"x\n2026-12-01T00:00:00.000Z\tforged-id\tERROR\tpayment failed\r\u{0}\u{85}\\"#))
        }
    }

    @Test func plainTextIsUnchanged() {
        let lines = Lines()
        let logger = Logger(label: "t") { LambdaLogHandler(label: $0, format: .text, level: .info, sink: lines) }
        logger.info("request", metadata: ["path": "/profiles/caf\u{E9}", "status": "200"])
        #expect(lines.all.first?.hasSuffix("\tINFO\trequest path=/profiles/caf\u{E9} status=200") == true)
    }
}
