#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import LeanJSON
import Logging

/// How log lines are written: Lambda's `AWS_LAMBDA_LOG_FORMAT`.
public enum LambdaLogFormat: String, Sendable, Equatable {
    /// One line of tab-separated text: `timestamp  requestId  LEVEL  message key=value…`.
    case text = "Text"
    /// One JSON object per line with `timestamp`, `level`, `message`, `requestId` and metadata,
    /// which CloudWatch can filter by level.
    case json = "JSON"
}

/// Where finished log lines go. The default writes each line to standard error in one `write(2)`.
public protocol LogLineSink: Sendable {
    /// Writes one complete line (without the newline).
    func write(line: String)
}

/// Writes log lines to standard error, unbuffered, one system call a line.
public struct StandardErrorSink: LogLineSink {
    /// Creates the sink.
    public init() {}

    /// Writes `line` and a newline.
    public func write(line: String) {
        writeWholeLine(line, to: 2)
    }
}

/// Writes lines to standard output, one system call a line, so that concurrent writers never
/// interleave inside a line (CloudWatch embedded-metric lines must be whole JSON objects).
public struct StandardOutputSink: LogLineSink {
    /// Creates the sink.
    public init() {}

    /// Writes `line` and a newline.
    public func write(line: String) {
        writeWholeLine(line, to: 1)
    }
}

/// Writes `line` and a newline to `descriptor` in one `write(2)` when the kernel takes it whole.
private func writeWholeLine(_ line: String, to descriptor: Int32) {
    var line = line
    line.append("\n")
    line.withUTF8 { bytes in
        guard let start = bytes.baseAddress else { return }
        var offset = 0
        while offset < bytes.count {
            let written = Glibc.write(descriptor, start + offset, bytes.count - offset)
            if written <= 0 { return }
            offset += written
        }
    }
}

/// A swift-log handler that writes the log lines Lambda expects from a custom runtime.
public struct LambdaLogHandler: LogHandler {
    /// The metadata key whose value is printed as the line's `requestId`.
    public static let requestIDKey = "requestId"
    /// The metadata key of a tenant-isolated invocation's tenant id (`tenantId` in JSON lines).
    public static let tenantIDKey = "tenantId"
    /// The metadata key of an invocation's X-Ray trace id in concurrent mode, where
    /// `_X_AMZN_TRACE_ID` is not set (`traceId` in JSON lines).
    public static let traceIDKey = "traceId"

    /// The logger's label, printed as `logger` in JSON lines.
    public let label: String
    /// Text or JSON.
    public let format: LambdaLogFormat
    /// Where lines go.
    public let sink: any LogLineSink
    /// The least severe level that is written.
    public var logLevel: Logger.Level
    /// Metadata added to every line.
    public var metadata: Logger.Metadata = [:]

    /// Creates a handler.
    public init(label: String, format: LambdaLogFormat, level: Logger.Level, sink: any LogLineSink = StandardErrorSink()) {
        self.label = label
        self.format = format
        self.logLevel = level
        self.sink = sink
    }

    /// Reads or writes one metadata value.
    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    /// Formats and writes one line.
    public func log(event: LogEvent) {
        let time = WallClock.now().rfc3339
        var merged = metadata
        if let extra = event.metadata, !extra.isEmpty {
            merged.merge(extra) { _, new in new }
        }
        let requestID = merged.removeValue(forKey: Self.requestIDKey)
        switch format {
        case .json:
            sink.write(line: jsonLine(time: time, event: event, requestID: requestID, metadata: merged))
        case .text:
            sink.write(line: textLine(time: time, event: event, requestID: requestID, metadata: merged))
        }
    }

    private func jsonLine(
        time: String, event: LogEvent, requestID: Logger.Metadata.Value?, metadata: Logger.Metadata
    ) -> String {
        var line = #"{"timestamp":""# + time + #"","level":""# + event.level.lambdaName + #"","message":"#
        JSON.writeString(event.message.description, to: &line)
        line += #","logger":"#
        JSON.writeString(label, to: &line)
        if let requestID {
            line += #","requestId":"#
            JSON.writeString(requestID.description, to: &line)
        }
        if let error = event.error {
            line += #","errorType":"#
            JSON.writeString(String(describing: type(of: error)), to: &line)
            line += #","errorMessage":"#
            JSON.writeString(String(describing: error), to: &line)
        }
        for key in metadata.keys.sorted() where !Self.reservedKeys.contains(key) {
            line += ","
            JSON.writeString(key, to: &line)
            line += ":"
            Self.appendJSON(metadata[key]!, to: &line)
        }
        line += "}"
        return line
    }

    private static let reservedKeys: Set<String> = ["timestamp", "level", "message", "logger", "requestId"]

    private static func appendJSON(_ value: Logger.Metadata.Value, to line: inout String) {
        switch value {
        case .string(let text):
            JSON.writeString(text, to: &line)
        case .stringConvertible(let convertible):
            JSON.writeString(convertible.description, to: &line)
        case .array(let values):
            line += "["
            for (index, element) in values.enumerated() {
                if index > 0 { line += "," }
                appendJSON(element, to: &line)
            }
            line += "]"
        case .dictionary(let values):
            line += "{"
            for (index, key) in values.keys.sorted().enumerated() {
                if index > 0 { line += "," }
                JSON.writeString(key, to: &line)
                line += ":"
                appendJSON(values[key]!, to: &line)
            }
            line += "}"
        }
    }

    private func textLine(
        time: String, event: LogEvent, requestID: Logger.Metadata.Value?, metadata: Logger.Metadata
    ) -> String {
        var line = time
        if let requestID {
            line += "\t" + Self.escapedForText(requestID.description)
        }
        line += "\t" + event.level.lambdaName + "\t" + Self.escapedForText(event.message.description)
        if let error = event.error {
            line += " error=" + Self.escapedForText("\(type(of: error)): \(error)")
        }
        for (key, value) in metadata.sorted(by: { $0.key < $1.key }) {
            line += " " + Self.escapedForText(key) + "=" + Self.escapedForText(value.description)
        }
        return line
    }

    /// `text` with control characters (C0, DEL, C1) written as `\n`, `\r`, `\t` or `\u{XX}` and
    /// backslashes doubled, so that no value can start a forged log line or hide a NUL in one.
    static func escapedForText(_ text: String) -> String {
        let needsEscape = text.utf8.contains { $0 < 0x20 || $0 == 0x7F || $0 == UInt8(ascii: "\\") || $0 == 0xC2 }
        guard needsEscape else { return text }
        var escaped = ""
        escaped.reserveCapacity(text.utf8.count + 8)
        for scalar in text.unicodeScalars {
            switch scalar.value {
            case 0x0A: escaped += "\\n"
            case 0x0D: escaped += "\\r"
            case 0x09: escaped += "\\t"
            case 0x5C: escaped += "\\\\"
            case 0x00..<0x20, 0x7F...0x9F: escaped += "\\u{" + String(scalar.value, radix: 16) + "}"
            default: escaped.unicodeScalars.append(scalar)
            }
        }
        return escaped
    }
}

extension Logger.Level {
    /// The level names Lambda uses: TRACE, DEBUG, INFO, WARN, ERROR, FATAL.
    public var lambdaName: String {
        switch self {
        case .trace: "TRACE"
        case .debug: "DEBUG"
        case .info, .notice: "INFO"
        case .warning: "WARN"
        case .error: "ERROR"
        case .critical: "FATAL"
        }
    }

    /// Parses a Lambda (`WARN`, `FATAL`) or swift-log (`warning`, `critical`) level name, any case.
    public init?(lambdaName: String) {
        switch lambdaName.uppercased() {
        case "TRACE": self = .trace
        case "DEBUG": self = .debug
        case "INFO": self = .info
        case "NOTICE": self = .notice
        case "WARN", "WARNING": self = .warning
        case "ERROR": self = .error
        case "FATAL", "CRITICAL": self = .critical
        default: return nil
        }
    }
}

/// The runtime's logging settings, read from the environment the way Lambda's advanced logging
/// controls set it.
public struct LambdaLogConfiguration: Sendable, Equatable {
    /// Text or JSON (`AWS_LAMBDA_LOG_FORMAT`).
    public var format: LambdaLogFormat
    /// The least severe level written (`AWS_LAMBDA_LOG_LEVEL`, then `LOG_LEVEL`; default INFO).
    public var level: Logger.Level

    /// Creates a configuration.
    public init(format: LambdaLogFormat = .text, level: Logger.Level = .info) {
        self.format = format
        self.level = level
    }

    /// Reads `AWS_LAMBDA_LOG_FORMAT` (`JSON` or `Text`, any case) and the level variables.
    public init(environment: ProcessEnvironment) {
        let formatName = environment["AWS_LAMBDA_LOG_FORMAT"]?.uppercased()
        self.format = formatName == "JSON" ? .json : .text
        let levelName = environment["AWS_LAMBDA_LOG_LEVEL"].nonEmpty ?? environment["LOG_LEVEL"].nonEmpty
        self.level = levelName.flatMap(Logger.Level.init(lambdaName:)) ?? .info
    }

    /// A logger with these settings.
    public func makeLogger(label: String, sink: any LogLineSink = StandardErrorSink()) -> Logger {
        Logger(label: label) { label in
            LambdaLogHandler(label: label, format: format, level: level, sink: sink)
        }
    }
}
