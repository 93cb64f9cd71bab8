import FeatureFlags
import LambdaRuntime
import LeanJSON
import Logging
import ProfileService
import Synchronization
import Testing

/// Captures the lines a sink would write.
final class CapturedLines: LogLineSink, @unchecked Sendable {
    private let storage = Mutex<[String]>([])
    func write(line: String) { storage.withLock { $0.append(line) } }
    var lines: [String] { storage.withLock { $0 } }
}

/// The EMF document's structure as the CloudWatch specification states it ("Embedded metric format
/// specification": root, metadata object, MetricDirective, DimensionSet, MetricDefinition), written
/// as a JSON Schema and checked by ``SchemaCheck`` below.
let emfSchema: JSON = [
    "type": "object", "required": ["_aws"],
    "properties": [
        "_aws": [
            "type": "object", "required": ["Timestamp", "CloudWatchMetrics"],
            "properties": [
                "Timestamp": ["type": "integer"],
                "CloudWatchMetrics": [
                    "type": "array",
                    "items": [
                        "type": "object", "required": ["Namespace", "Dimensions", "Metrics"],
                        "properties": [
                            "Namespace": ["type": "string", "minLength": 1, "maxLength": 255],
                            "Dimensions": [
                                "type": "array", "minItems": 1,
                                "items": [
                                    "type": "array", "minItems": 0, "maxItems": 9,
                                    "items": ["type": "string", "minLength": 1, "maxLength": 255],
                                ],
                            ],
                            "Metrics": [
                                "type": "array", "maxItems": 100,
                                "items": [
                                    "type": "object", "required": ["Name"],
                                    "properties": [
                                        "Name": ["type": "string", "minLength": 1, "maxLength": 255],
                                        "Unit": ["type": "string", "enum": [
                                            "Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes",
                                            "Gigabytes", "Terabytes", "Bits", "Kilobits", "Megabits", "Gigabits", "Terabits",
                                            "Percent", "Count", "Bytes/Second", "Kilobytes/Second", "Megabytes/Second",
                                            "Gigabytes/Second", "Terabytes/Second", "Bits/Second", "Kilobits/Second",
                                            "Megabits/Second", "Gigabits/Second", "Terabits/Second", "Count/Second", "None",
                                        ]],
                                        "StorageResolution": ["type": "integer", "enum": [1, 60]],
                                    ],
                                ],
                            ],
                        ],
                    ],
                ],
            ],
        ],
    ],
]

/// The JSON Schema keywords the EMF schema uses (type, required, properties, items, min/maxLength,
/// min/maxItems, enum), plus the specification's rules a schema cannot say: every dimension a
/// DimensionSet names is a string member of the root, every metric a number member of the root.
enum SchemaCheck {
    static func problems(_ value: JSON, against schema: JSON, at path: String = "$") -> [String] {
        var found: [String] = []
        if let type = schema["type"]?.stringValue, !matches(value, type: type) {
            return ["\(path) is \(value.typeName), not \(type)"]
        }
        if let required = schema["required"]?.arrayValue {
            for key in required.compactMap(\.stringValue) where value[key] == nil { found.append("\(path).\(key) is missing") }
        }
        if let properties = schema["properties"]?.objectValue, let object = value.objectValue {
            for (key, subschema) in properties {
                if let member = object[key] { found += problems(member, against: subschema, at: "\(path).\(key)") }
            }
        }
        if let items = schema["items"], let array = value.arrayValue {
            for (index, element) in array.enumerated() { found += problems(element, against: items, at: "\(path)[\(index)]") }
        }
        if let text = value.stringValue {
            if let min = schema["minLength"]?.intValue, text.count < min { found.append("\(path) is shorter than \(min)") }
            if let max = schema["maxLength"]?.intValue, text.count > max { found.append("\(path) is longer than \(max)") }
        }
        if let array = value.arrayValue {
            if let min = schema["minItems"]?.intValue, array.count < min { found.append("\(path) has fewer than \(min) items") }
            if let max = schema["maxItems"]?.intValue, array.count > max { found.append("\(path) has more than \(max) items") }
        }
        if let allowed = schema["enum"]?.arrayValue, !allowed.contains(value) { found.append("\(path) is not one of \(allowed)") }
        return found
    }

    static func matches(_ value: JSON, type: String) -> Bool {
        switch type {
        case "object": value.objectValue != nil
        case "array": value.arrayValue != nil
        case "string": value.stringValue != nil
        case "integer": value.numberValue.map { $0 == $0.rounded() } ?? false
        case "number": value.numberValue != nil
        default: false
        }
    }

    /// Schema problems plus the target-member rules.
    static func emfProblems(_ line: String) -> [String] {
        guard let document = try? JSON(parsing: Array(line.utf8)) else { return ["not one JSON object: \(line)"] }
        var found = problems(document, against: emfSchema)
        for directive in document["_aws"]?["CloudWatchMetrics"]?.arrayValue ?? [] {
            for set in directive["Dimensions"]?.arrayValue ?? [] {
                for name in set.arrayValue?.compactMap(\.stringValue) ?? [] where document[name]?.stringValue == nil {
                    found.append("dimension \(name) is not a string member of the root")
                }
            }
            for metric in directive["Metrics"]?.arrayValue ?? [] {
                if let name = metric["Name"]?.stringValue, document[name]?.numberValue == nil {
                    found.append("metric \(name) is not a number member of the root")
                }
            }
        }
        return found
    }
}

/// Flags that report a stale cache.
struct StaleFlags: FlagEvaluating {
    func evaluate(_ flag: String, userID: String) -> FlagEvaluation { FlagEvaluation(value: true, reason: .stale) }
    var sourceState: String { "test (stale)" }
    var isStale: Bool { true }
}

@Suite struct ServiceMetricsTests {
    static let configuration = try! ServiceMetrics.Configuration(
        namespace: "ProfileService", service: "profile-service-dev", functionVersion: "7")

    /// Runs one request through a handler whose metrics go to `lines`; returns the parsed EMF line.
    func metricsLine(
        _ event: [UInt8], store: any ProfileStore = InMemoryProfileStore(), flags: any FlagEvaluating = StaticFlags(),
        traceID: String? = "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1"
    ) async throws -> (line: String, json: JSON) {
        let lines = CapturedLines()
        let handler = ProfileHandler(
            api: ProfileAPI(store: store, flags: flags, functionVersion: "7"),
            metrics: ServiceMetrics(configuration: Self.configuration, sink: lines))
        let context = LambdaContext(
            invocation: Invocation(requestID: "req-42", traceID: traceID),
            function: FunctionMetadata(name: "profile-service-dev", version: "7"),
            logger: Logger(label: "tests") { _ in SwiftLogNoOpLogHandler() })
        _ = try await handler.handle(event, context: context)
        #expect(lines.lines.count == 1, "one EMF line per request")
        let line = try #require(lines.lines.first)
        #expect(!line.contains("\n"))
        return (line, try JSON(parsing: Array(line.utf8)))
    }

    @Test(arguments: [
        // (method, path, sub, body, expected status, route)
        ("GET", "/health", nil, nil, 200, "GET /health"),
        ("HEAD", "/health", nil, nil, 405, "UNMATCHED"),
        ("PUT", "/profiles/user-123", "user-123", #"{"name":"Ada Lovelace","email":"ada@example.com"}"#, 201, "PUT /profiles/{userId}"),
        ("GET", "/profiles/user-123", "user-123", nil, 404, "GET /profiles/{userId}"),
        ("GET", "/profiles/user-123", nil, nil, 401, "GET /profiles/{userId}"),
        ("GET", "/profiles/other", "user-123", nil, 403, "GET /profiles/{userId}"),
        ("DELETE", "/profiles/user-123", "user-123", nil, 404, "DELETE /profiles/{userId}"),
        ("POST", "/profiles/user-123", "user-123", nil, 405, "UNMATCHED"),
        ("POST", "/health", nil, nil, 405, "UNMATCHED"),
        ("GET", "/nowhere", nil, nil, 404, "UNMATCHED"),
        ("GET", "/profiles/%zz", "user-123", nil, 400, "GET /profiles/{userId}"),
        ("FOO-\(Int.random(in: 0...1_000_000))", "/profiles/user-123", "user-123", nil, 405, "UNMATCHED"),
    ] as [(String, String, String?, String?, Int, String)])
    func eachStatusClassAndRouteIsCounted(
        _ method: String, _ path: String, _ sub: String?, _ body: String?, _ status: Int, _ route: String
    ) async throws {
        let (line, json) = try await metricsLine(Events.v2(method, path, body: body, sub: sub))
        #expect(SchemaCheck.emfProblems(line) == [])
        #expect(json["statusCode"]?.intValue == status)
        #expect(json["Route"]?.stringValue == route)
        #expect(json["Requests"]?.intValue == 1)
        #expect(json["ServerErrors"]?.intValue == 0)
        #expect(json["ClientErrors"]?.intValue == (status >= 400 ? 1 : 0))
        #expect(json["Service"]?.stringValue == "profile-service-dev")
        #expect(json["FunctionVersion"]?.stringValue == "7")
        #expect(json["requestId"]?.stringValue == "req-42")
        #expect(json["traceId"]?.stringValue == "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1")
        #expect((json["Latency"]?.numberValue ?? -1) >= 0)
    }

    @Test(arguments: [
        (ProfileStoreError.failed("boom"), 500),
        (ProfileStoreError.unavailable("down", retryAfter: 1), 503),
    ])
    func serverErrorsAreCountedWhenTheStoreFails(_ error: ProfileStoreError, _ status: Int) async throws {
        let (line, json) = try await metricsLine(Events.v2("GET", "/profiles/user-123"), store: FailingStore(error: error))
        #expect(SchemaCheck.emfProblems(line) == [])
        #expect(json["statusCode"]?.intValue == status)
        #expect(json["ServerErrors"]?.intValue == 1)
        #expect(json["ClientErrors"]?.intValue == 0)
        #expect(json["Route"]?.stringValue == "GET /profiles/{userId}")
    }

    @Test func schemaTwoAndStaleFlagsAreCounted() async throws {
        let store = InMemoryProfileStore()
        let put = Events.v2("PUT", "/profiles/user-123", body: ProfileAPITests.adaV2)
        let (_, written) = try await metricsLine(put, store: store, flags: StaleFlags())
        #expect(written["statusCode"]?.intValue == 201)
        #expect(written["SchemaV2"]?.intValue == 1)
        #expect(written["FlagsStale"]?.intValue == 1)
        let (_, read) = try await metricsLine(Events.v2("GET", "/profiles/user-123"), store: store)
        #expect(read["SchemaV2"]?.intValue == 0)
        #expect(read["FlagsStale"]?.intValue == 0)
    }

    @Test func theLineFollowsTheSpecificationExactly() throws {
        let metrics = ServiceMetrics(configuration: Self.configuration, sink: CapturedLines())
        let line = String(decoding: metrics.lineBytes(for: .init(
            route: "GET /profiles/{userId}", status: 200, latency: .microseconds(12_345), schemaV2: false,
            flagsStale: false, requestID: "r\"1", traceID: nil, timestamp: .init(epochMilliseconds: 1_764_316_800_123))),
            as: UTF8.self)
        #expect(SchemaCheck.emfProblems(line) == [])
        let json = try JSON(parsing: Array(line.utf8))
        #expect(json["_aws"]?["Timestamp"] == 1_764_316_800_123)
        let directive = try #require(json["_aws"]?["CloudWatchMetrics"]?.arrayValue?.first)
        #expect(directive["Namespace"] == "ProfileService")
        #expect(directive["Dimensions"] == [["Service", "FunctionVersion"], ["Service", "FunctionVersion", "Route"]])
        #expect(directive["Metrics"]?.arrayValue?.compactMap { $0["Name"]?.stringValue }
            == ["Requests", "ServerErrors", "ClientErrors", "Latency", "SchemaV2", "FlagsStale"])
        #expect(directive["Metrics"]?.arrayValue?.first { $0["Name"] == "Latency" }?["Unit"] == "Milliseconds")
        #expect(json["Latency"]?.numberValue == 12.345)
        #expect(json["requestId"] == "r\"1", "request ids are escaped, never spliced")
        #expect(json["traceId"] == nil)
        #expect(json["tenantId"] == nil)
        let tenant = String(decoding: metrics.lineBytes(for: .init(
            route: "GET /health", status: 200, latency: .zero, schemaV2: false, flagsStale: false, requestID: "r",
            traceID: nil, tenantID: "tenant-\"blue", timestamp: .init(epochMilliseconds: 1))), as: UTF8.self)
        #expect(SchemaCheck.emfProblems(tenant) == [])
        #expect((try? JSON(parsing: Array(tenant.utf8)))?["tenantId"] == "tenant-\"blue", "a plain property, escaped")
        // The checker itself catches what the specification forbids.
        #expect(!SchemaCheck.emfProblems(#"{"_aws":{"Timestamp":1.5,"CloudWatchMetrics":[]}}"#).isEmpty)
        #expect(!SchemaCheck.emfProblems(#"{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"N","Dimensions":[["Service"]],"Metrics":[{"Name":"Requests","Unit":"Count"}]}]},"Requests":1}"#).isEmpty)
        #expect(!SchemaCheck.emfProblems(#"{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"N","Dimensions":[[]],"Metrics":[{"Name":"Requests","Unit":"Counts"}]}]},"Requests":1}"#).isEmpty)
        #expect(SchemaCheck.emfProblems(#"{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"N","Dimensions":[[]],"Metrics":[{"Name":"Requests","Unit":"Count"}]}]},"Requests":1}"#) == [])
    }

    @Test func latencyIsFormattedAsMillisecondsWithoutFoundation() {
        let metrics = ServiceMetrics(configuration: Self.configuration, sink: CapturedLines())
        func latency(_ duration: Duration) -> Double? {
            let line = metrics.lineBytes(for: .init(route: "UNMATCHED", status: 404, latency: duration, schemaV2: false,
                                                    flagsStale: false, requestID: "r", traceID: nil, timestamp: .init(epochMilliseconds: 0)))
            return (try? JSON(parsing: line))?["Latency"]?.numberValue
        }
        #expect(latency(.zero) == 0)
        #expect(latency(.nanoseconds(999)) == 0)
        #expect(latency(.microseconds(1)) == 0.001)
        #expect(latency(.milliseconds(1500)) == 1500)
        #expect(latency(.seconds(3) + .microseconds(40)) == 3000.04)
    }

    @Test func configurationComesFromTheEnvironmentAndBadValuesAreInitErrors() throws {
        let function = FunctionMetadata(name: "profile-service-prod", version: "12")
        let defaults = try #require(try ServiceMetrics.Configuration(environment: ProcessEnvironment([:]), function: function))
        #expect(defaults.namespace == "ProfileService")
        #expect(defaults.service == "profile-service-prod")
        #expect(defaults.functionVersion == "12")
        let named = try #require(try ServiceMetrics.Configuration(
            environment: ProcessEnvironment(["METRICS_NAMESPACE": "Acme/Profiles", "METRICS_SERVICE": "profiles"]), function: function))
        #expect(named.namespace == "Acme/Profiles")
        #expect(named.service == "profiles")
        #expect(try ServiceMetrics.Configuration(environment: ProcessEnvironment(["METRICS": "off"]), function: function) == nil)
        for (variable, value) in [("METRICS", "yes"), ("METRICS_NAMESPACE", "AWS/Lambda"), ("METRICS_NAMESPACE", ":x"),
                                  ("METRICS_NAMESPACE", String(repeating: "n", count: 256)), ("METRICS_SERVICE", "caf\u{E9}")] {
            #expect(throws: ProfileConfigurationError.self, "\(variable)=\(value)") {
                try ServiceMetrics.Configuration(environment: ProcessEnvironment([variable: value]), function: function)
            }
        }
    }
}
