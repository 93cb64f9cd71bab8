import LambdaRuntime
import LeanJSON

/// Per-version service metrics as CloudWatch Embedded Metric Format (EMF): one JSON line per request
/// on standard output, which CloudWatch Logs turns into metrics. No API call, no buffering.
///
/// Lambda's own `Errors` metric never counts a 500 the handler answered, so these are what a release
/// gate and the alarms watch: `Requests`, `ServerErrors` (5xx), `ClientErrors` (4xx), `Latency`,
/// `SchemaV2` and `FlagsStale`, by `[Service, FunctionVersion]` and `[Service, FunctionVersion, Route]`.
public struct ServiceMetrics: Sendable {
    /// What the metrics are named after; read once from the environment.
    public struct Configuration: Sendable, Equatable {
        /// The CloudWatch namespace (`METRICS_NAMESPACE`, default `ProfileService`).
        public var namespace: String
        /// The `Service` dimension (`METRICS_SERVICE`, default the function name).
        public var service: String
        /// The `FunctionVersion` dimension: the executed version (`$LATEST` when unpublished).
        public var functionVersion: String

        /// The default namespace.
        public static let defaultNamespace = "ProfileService"

        /// Creates a configuration; each value must be a valid CloudWatch name.
        public init(namespace: String, service: String, functionVersion: String) throws(ProfileConfigurationError) {
            try Self.check(namespace, variable: "METRICS_NAMESPACE", maxLength: 255, expected:
                "a CloudWatch namespace: 1-255 printable ASCII characters, not starting with ':' or 'AWS/'")
            guard namespace.utf8.first != UInt8(ascii: ":"), !namespace.utf8.starts(with: "AWS/".utf8) else {
                throw ProfileConfigurationError(variable: "METRICS_NAMESPACE", value: namespace,
                                                expected: "a namespace of your own (':' and 'AWS/' are reserved)")
            }
            try Self.check(service, variable: "METRICS_SERVICE", maxLength: 1024, expected:
                "a dimension value: 1-1024 printable ASCII characters")
            try Self.check(functionVersion, variable: "AWS_LAMBDA_FUNCTION_VERSION", maxLength: 1024, expected:
                "the version Lambda sets")
            self.namespace = namespace
            self.service = service
            self.functionVersion = functionVersion
        }

        /// Reads `METRICS`, `METRICS_NAMESPACE` and `METRICS_SERVICE`; `nil` when `METRICS=off`.
        public init?(environment: ProcessEnvironment, function: FunctionMetadata) throws(ProfileConfigurationError) {
            switch environment["METRICS"] {
            case nil, "", "on": break
            case "off": return nil
            case let other:
                throw ProfileConfigurationError(variable: "METRICS", value: other, expected: "on or off")
            }
            let namespace = environment["METRICS_NAMESPACE"].flatMap { $0.isEmpty ? nil : $0 } ?? Self.defaultNamespace
            let service = environment["METRICS_SERVICE"].flatMap { $0.isEmpty ? nil : $0 } ?? function.name
            try self.init(namespace: namespace, service: service, functionVersion: function.version)
        }

        private static func check(_ value: String, variable: String, maxLength: Int, expected: String) throws(ProfileConfigurationError) {
            let bytes = value.utf8
            guard !bytes.isEmpty, bytes.count <= maxLength, bytes.allSatisfy(ASCII.isPrintable) else {
                throw ProfileConfigurationError(variable: variable, value: value, expected: expected)
            }
        }
    }

    /// What one request did, as the metrics see it.
    public struct Sample: Sendable, Equatable {
        /// The matched route (`GET /profiles/{userId}`) or ``ProfileAPI/unmatchedRoute``.
        public var route: String
        /// The HTTP status answered.
        public var status: Int
        /// Handler time.
        public var latency: Duration
        /// The response was served in schema 2.
        public var schemaV2: Bool
        /// The flag cache was serving a stale document.
        public var flagsStale: Bool
        /// The Lambda request id, a plain property for joining with the access log.
        public var requestID: String
        /// The X-Ray trace header, a plain property.
        public var traceID: String?
        /// The tenant of a tenant-isolated function, a plain property (never a dimension).
        public var tenantID: String?
        /// When the request was served (the metrics' timestamp).
        public var timestamp: WallClock.Instant

        /// Creates a sample.
        public init(
            route: String, status: Int, latency: Duration, schemaV2: Bool, flagsStale: Bool, requestID: String,
            traceID: String?, tenantID: String? = nil, timestamp: WallClock.Instant
        ) {
            self.route = route
            self.status = status
            self.latency = latency
            self.schemaV2 = schemaV2
            self.flagsStale = flagsStale
            self.requestID = requestID
            self.traceID = traceID
            self.tenantID = tenantID
            self.timestamp = timestamp
        }
    }

    /// The names and units this writes, in the order they appear.
    public static let metricUnits: [(name: String, unit: String)] = [
        ("Requests", "Count"), ("ServerErrors", "Count"), ("ClientErrors", "Count"), ("Latency", "Milliseconds"),
        ("SchemaV2", "Count"), ("FlagsStale", "Count"),
    ]

    /// Namespace, service and version.
    public let configuration: Configuration
    /// Where lines go (standard output in Lambda).
    public let sink: any LogLineSink
    /// Everything of the line but the per-request values, formatted once.
    private let prefix: [UInt8]

    /// Creates the writer.
    public init(configuration: Configuration, sink: any LogLineSink = StandardOutputSink()) {
        self.configuration = configuration
        self.sink = sink
        // Everything that is the same for every request is formatted once, here.
        var text = #"{"Service":"#
        JSON.writeString(configuration.service, to: &text)
        text += #","FunctionVersion":"#
        JSON.writeString(configuration.functionVersion, to: &text)
        text += #","_aws":{"CloudWatchMetrics":[{"Namespace":"#
        JSON.writeString(configuration.namespace, to: &text)
        text += #","Dimensions":[["Service","FunctionVersion"],["Service","FunctionVersion","Route"]],"Metrics":["#
        for (index, metric) in Self.metricUnits.enumerated() {
            if index > 0 { text += "," }
            text += #"{"Name":""# + metric.name + #"","Unit":""# + metric.unit + #""}"#
        }
        text += #"]}],"Timestamp":"#
        self.prefix = Array(text.utf8)
    }

    /// The EMF line for one request as UTF-8 (without the newline), as ``record(_:)`` writes it.
    /// Bytes: a String append checks uniqueness and capacity every time.
    public func lineBytes(for sample: Sample) -> [UInt8] {
        var line = prefix
        line.reserveCapacity(prefix.count + 320)
        func append(_ text: String) { line.append(contentsOf: text.utf8) }
        func flag(_ value: Bool) { line.append(value ? UInt8(ascii: "1") : UInt8(ascii: "0")) }
        append(String(sample.timestamp.epochMilliseconds))
        append(#"},"Route":"#)
        JSON.writeString(sample.route, to: &line)
        append(#","Requests":1,"ServerErrors":"#)
        flag(sample.status >= 500)
        append(#","ClientErrors":"#)
        flag((400...499).contains(sample.status))
        append(#","Latency":"#)
        append(Self.milliseconds(sample.latency))
        append(#","SchemaV2":"#)
        flag(sample.schemaV2)
        append(#","FlagsStale":"#)
        flag(sample.flagsStale)
        append(#","statusCode":"#)
        append(String(sample.status))
        append(#","requestId":"#)
        JSON.writeString(sample.requestID, to: &line)
        if let traceID = sample.traceID {
            append(#","traceId":"#)
            JSON.writeString(traceID, to: &line)
        }
        if let tenantID = sample.tenantID {
            append(#","tenantId":"#)
            JSON.writeString(tenantID, to: &line)
        }
        line.append(UInt8(ascii: "}"))
        return line
    }

    /// Writes the line for one request.
    public func record(_ sample: Sample) {
        sink.write(utf8Line: lineBytes(for: sample))
    }

    /// A duration as milliseconds with microsecond precision (`12.345`), without Foundation.
    static func milliseconds(_ duration: Duration) -> String {
        let micros = max(0, duration.wholeMicroseconds)
        let fraction = String(micros % 1000)
        return String(micros / 1000) + "." + String(repeating: "0", count: 3 - fraction.utf8.count) + fraction
    }
}
