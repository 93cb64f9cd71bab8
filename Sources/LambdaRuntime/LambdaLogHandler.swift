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

    /// Writes one line given as UTF-8 bytes, without its newline. By default, as ``write(line:)``.
    func write(utf8Line: [UInt8])
}

extension LogLineSink {
    /// Writes the line as a `String` through ``write(line:)``.
    public func write(utf8Line: [UInt8]) {
        write(line: String(decoding: utf8Line, as: UTF8.self))
    }
}

/// Writes log lines to standard error, unbuffered, one system call a line.
public struct StandardErrorSink: LogLineSink {
    /// Creates the sink.
    public init() {}

    /// Writes `line` and a newline.
    public func write(line: String) {
        writeWholeLine(Array(line.utf8), to: 2)
    }

    /// Writes the bytes and a newline to standard error in one `write`.
    public func write(utf8Line: [UInt8]) {
        writeWholeLine(utf8Line, to: 2)
    }
}

/// Writes lines to standard output, one system call a line, so that concurrent writers never
/// interleave inside a line (CloudWatch embedded-metric lines must be whole JSON objects).
public struct StandardOutputSink: LogLineSink {
    /// Creates the sink.
    public init() {}

    /// Writes `line` and a newline.
    public func write(line: String) {
        writeWholeLine(Array(line.utf8), to: 1)
    }

    /// Writes the bytes and a newline to standard output in one `write`.
    public func write(utf8Line: [UInt8]) {
        writeWholeLine(utf8Line, to: 1)
    }
}

/// Writes `line` and a newline to `descriptor` in one `write(2)` when the kernel takes it whole.
private func writeWholeLine(_ line: [UInt8], to descriptor: Int32) {
    var line = line
    line.append(UInt8(ascii: "\n"))
    line.withUnsafeBufferPointer { bytes in
        guard let start = bytes.baseAddress else { return }
        var offset = 0
        while offset < bytes.count {
            let written = write(descriptor, start + offset, bytes.count - offset)
            if written <= 0 { return }
            offset += written
        }
    }
}

/// A swift-log handler that writes the log lines Lambda expects from a custom runtime.
///
/// One call is one line (control characters are escaped), written whole by a ``LogLineSink``
/// (standard error by default), in Lambda's Text or JSON format (``LambdaLogFormat``). The value of
/// the metadata key ``requestIDKey`` becomes the line's `requestId`. Functions rarely make one
/// themselves: ``LambdaContext/logger`` and ``LambdaLogConfiguration/makeLogger(label:sink:)`` do.
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

    /// Formats `event` as one Text or JSON line, with this handler's metadata and the event's (the
    /// event's wins), and hands it to ``sink``.
    public func log(event: LogEvent) {
        // The handler's metadata, overridden by the event's, in byte order: no merged dictionary.
        var fields: [(key: String, value: Logger.Metadata.Value)] = []
        fields.reserveCapacity(metadata.count + (event.metadata?.count ?? 0))
        var requestID: Logger.Metadata.Value?
        func add(_ key: String, _ value: Logger.Metadata.Value) {
            if key.utf8.elementsEqual(Self.requestIDKey.utf8) {
                requestID = value
            } else {
                fields.append((key, value))
            }
        }
        if let extra = event.metadata, !extra.isEmpty {
            for (key, value) in metadata where extra[key] == nil { add(key, value) }
            for (key, value) in extra { add(key, value) }
        } else {
            for (key, value) in metadata { add(key, value) }
        }
        fields.sort { JSON.precedesInBytes($0.key, $1.key) }
        var line: [UInt8] = []
        line.reserveCapacity(160)
        switch format {
        case .json: writeJSONLine(event: event, requestID: requestID, fields: fields, to: &line)
        case .text: writeTextLine(event: event, requestID: requestID, fields: fields, to: &line)
        }
        sink.write(utf8Line: line)
    }

    private func writeJSONLine(
        event: LogEvent, requestID: Logger.Metadata.Value?, fields: [(key: String, value: Logger.Metadata.Value)],
        to line: inout [UInt8]
    ) {
        line.append(contentsOf: #"{"timestamp":""#.utf8)
        WallClock.now().writeRFC3339(to: &line)
        line.append(contentsOf: #"","level":""#.utf8)
        line.append(contentsOf: event.level.lambdaName.utf8)
        line.append(contentsOf: #"","message":"#.utf8)
        JSON.writeString(event.message.description, to: &line)
        line.append(contentsOf: #","logger":"#.utf8)
        JSON.writeString(label, to: &line)
        if let requestID {
            line.append(contentsOf: #","requestId":"#.utf8)
            JSON.writeString(requestID.description, to: &line)
        }
        if let error = event.error {
            line.append(contentsOf: #","errorType":"#.utf8)
            JSON.writeString(String(describing: type(of: error)), to: &line)
            line.append(contentsOf: #","errorMessage":"#.utf8)
            JSON.writeString(String(describing: error), to: &line)
        }
        for (key, value) in fields where !Self.reservedKeys.contains(where: { $0.utf8.elementsEqual(key.utf8) }) {
            line.append(UInt8(ascii: ","))
            JSON.writeString(key, to: &line)
            line.append(UInt8(ascii: ":"))
            Self.appendJSON(value, to: &line)
        }
        line.append(UInt8(ascii: "}"))
    }

    private static let reservedKeys = ["timestamp", "level", "message", "logger", "requestId"]

    private static func appendJSON(_ value: Logger.Metadata.Value, to line: inout [UInt8]) {
        switch value {
        case .string(let text):
            JSON.writeString(text, to: &line)
        case .stringConvertible(let convertible):
            JSON.writeString(convertible.description, to: &line)
        case .array(let values):
            line.append(UInt8(ascii: "["))
            for (index, element) in values.enumerated() {
                if index > 0 { line.append(UInt8(ascii: ",")) }
                appendJSON(element, to: &line)
            }
            line.append(UInt8(ascii: "]"))
        case .dictionary(let values):
            line.append(UInt8(ascii: "{"))
            for (index, member) in values.sorted(by: { JSON.precedesInBytes($0.key, $1.key) }).enumerated() {
                if index > 0 { line.append(UInt8(ascii: ",")) }
                JSON.writeString(member.key, to: &line)
                line.append(UInt8(ascii: ":"))
                appendJSON(member.value, to: &line)
            }
            line.append(UInt8(ascii: "}"))
        }
    }

    /// `time<TAB>requestId<TAB>LEVEL<TAB>message key=value…`, the Text format of Lambda's runtimes,
    /// with control characters escaped so that one event is one line.
    private func writeTextLine(
        event: LogEvent, requestID: Logger.Metadata.Value?, fields: [(key: String, value: Logger.Metadata.Value)],
        to line: inout [UInt8]
    ) {
        WallClock.now().writeRFC3339(to: &line)
        if let requestID {
            line.append(UInt8(ascii: "\t"))
            Self.writeEscapedForText(requestID.description, to: &line)
        }
        line.append(UInt8(ascii: "\t"))
        line.append(contentsOf: event.level.lambdaName.utf8)
        line.append(UInt8(ascii: "\t"))
        Self.writeEscapedForText(event.message.description, to: &line)
        if let error = event.error {
            line.append(contentsOf: " error=".utf8)
            Self.writeEscapedForText("\(type(of: error)): \(error)", to: &line)
        }
        for (key, value) in fields {
            line.append(UInt8(ascii: " "))
            Self.writeEscapedForText(key, to: &line)
            line.append(UInt8(ascii: "="))
            Self.writeEscapedForText(value.description, to: &line)
        }
    }

    /// Appends `text`, escaped as ``escapedForText(_:)`` does.
    /// Text that needs no escape (the usual case) is copied as it is, without making a `String`.
    static func writeEscapedForText(_ text: String, to line: inout [UInt8]) {
        var text = text
        let copied = text.withUTF8 { bytes in
            for byte in bytes where needsTextEscape(byte) { return false }
            line.append(contentsOf: bytes)
            return true
        }
        if !copied { line.append(contentsOf: escapedForText(text).utf8) }
    }

    /// A control character, DEL, a backslash, or the lead byte of U+0080…U+00BF (C1 controls among them).
    private static func needsTextEscape(_ byte: UInt8) -> Bool {
        byte < 0x20 || byte == 0x7F || byte == UInt8(ascii: "\\") || byte == 0xC2
    }

    static func escapedForText(_ text: String) -> String {
        guard text.utf8.contains(where: needsTextEscape) else { return text }
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

/// Lambda's names for swift-log's levels (`WARN` for `warning`, `FATAL` for `critical`).
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
