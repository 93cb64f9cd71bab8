import Foundation
import NIOHTTP1
import Synchronization

/// An error in CloudWatch's terms: HTTP status, the query-protocol code (`InvalidParameterValue`,
/// `ResourceNotFound`…) and a message.
struct CloudWatchError: Error, Equatable {
    var status: Int
    var code: String
    var message: String

    static func invalid(_ message: String) -> CloudWatchError {
        CloudWatchError(status: 400, code: "InvalidParameterValue", message: message)
    }

    static func combination(_ message: String) -> CloudWatchError {
        CloudWatchError(status: 400, code: "InvalidParameterCombination", message: message)
    }
}

/// A metric alarm as PutMetricAlarm stores it and DescribeAlarms shows it. lambda-local never
/// evaluates alarms: their state changes only with SetAlarmState.
struct MetricAlarmShape: Codable, Sendable {
    var AlarmName: String
    var AlarmArn: String?
    var AlarmDescription: String?
    var ActionsEnabled: Bool?
    var OKActions: [String]?
    var AlarmActions: [String]?
    var InsufficientDataActions: [String]?
    var MetricName: String?
    var Namespace: String?
    var Statistic: String?
    var ExtendedStatistic: String?
    var Dimensions: [MetricDimension]?
    var Period: Int?
    var Unit: String?
    var EvaluationPeriods: Int?
    var DatapointsToAlarm: Int?
    var Threshold: Double?
    var ComparisonOperator: String?
    var TreatMissingData: String?
    var EvaluateLowSampleCountPercentile: String?
    var Metrics: JSONValue?
    var ThresholdMetricId: String?
    var StateValue: String?
    var StateReason: String?
    var StateReasonData: String?
    var StateUpdatedTimestamp: Double?
    var AlarmConfigurationUpdatedTimestamp: Double?
}

/// The CloudWatch operations the release gates use, over the metrics lambda-local derives from what
/// the children did. Protocol: awsJson1_0 with query compatibility (`X-Amz-Target:
/// GraniteServiceVersion20100801.<Operation>`, what botocore ≥ 1.36, and so awscli v1 1.37+ and v2,
/// send for CloudWatch).
final class CloudWatchAPI: Sendable {
    /// Most alarms kept.
    static let maxAlarms = 1000

    private let metrics: MetricStore
    private let region: String
    private let accountID: String
    private let alarms = Mutex<[String: MetricAlarmShape]>([:])

    init(metrics: MetricStore, region: String, accountID: String) {
        self.metrics = metrics
        self.region = region
        self.accountID = accountID
    }

    /// The operation named by `X-Amz-Target`, or nil when the request is not a CloudWatch JSON call.
    static func jsonOperation(_ request: LocalHTTPRequest) -> String? {
        guard let target = request.headers.first(name: "X-Amz-Target"),
              target.hasPrefix("GraniteServiceVersion20100801.")
        else { return nil }
        return String(target.dropFirst("GraniteServiceVersion20100801.".count))
    }

    /// Answers one JSON-protocol call.
    func handleJSON(operation: String, _ request: LocalHTTPRequest, responder: HTTPResponder) {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/x-amz-json-1.0")
        do {
            let answer = try perform(operation, body: request.body.isEmpty ? Array("{}".utf8) : request.body)
            responder.send(status: .ok, headers: headers, body: answer)
        } catch {
            headers.add(name: "x-amzn-query-error", value: "\(error.code);Sender")
            let body = JSONText.encode(["__type": "com.amazonaws.cloudwatch#\(error.code)", "message": error.message])
            responder.send(status: HTTPResponseStatus(statusCode: error.status), headers: headers, body: body)
        }
    }

    /// Runs `operation` on a JSON request body; the answer is JSON.
    func perform(_ operation: String, body: [UInt8]) throws(CloudWatchError) -> [UInt8] {
        switch operation {
        case "GetMetricStatistics": try getMetricStatistics(decode(body))
        case "GetMetricData": try getMetricData(decode(body))
        case "DescribeAlarms": try describeAlarms(decode(body))
        case "PutMetricAlarm": try putMetricAlarm(decode(body))
        case "SetAlarmState": try setAlarmState(decode(body))
        case "DeleteAlarms": try deleteAlarms(decode(body))
        case "ListMetrics": try listMetrics(decode(body))
        default:
            throw CloudWatchError(
                status: 400, code: "InvalidAction",
                message: "lambda-local does not implement CloudWatch \(operation); it serves GetMetricStatistics, GetMetricData, ListMetrics, DescribeAlarms, PutMetricAlarm, SetAlarmState and DeleteAlarms")
        }
    }

    private func decode<T: Decodable>(_ body: [UInt8]) throws(CloudWatchError) -> T {
        do {
            return try JSONDecoder().decode(T.self, from: Data(body))
        } catch {
            throw .invalid("could not read the request: \(error)")
        }
    }

    // MARK: Metrics

    private struct Metric: Codable {
        var Namespace: String
        var MetricName: String
        var Dimensions: [MetricDimension]?
    }

    private struct StatisticsRequest: Decodable {
        var Namespace: String
        var MetricName: String
        var Dimensions: [MetricDimension]?
        var StartTime: Double
        var EndTime: Double
        var Period: Int
        var Statistics: [String]?
        var ExtendedStatistics: [String]?
        var Unit: String?
    }

    private struct Datapoint: Encodable {
        var Timestamp: Double
        var SampleCount: Double?
        var Average: Double?
        var Sum: Double?
        var Minimum: Double?
        var Maximum: Double?
        var Unit: String
        var ExtendedStatistics: [String: Double]?
    }

    private static func checkWindow(start: Double, end: Double, period: Int) throws(CloudWatchError) {
        guard period >= 1, period < 60 || period % 60 == 0 else {
            throw .invalid("The parameter Period must be a multiple of 60.")
        }
        guard end > start else {
            throw .invalid("The parameter StartTime must be less than the parameter EndTime.")
        }
        let points = Int(((end - start) / Double(period)).rounded(.up))
        guard points <= 100_800 else {
            throw .combination("You have requested up to \(points) datapoints, which exceeds the limit of 100,800.")
        }
    }

    private func getMetricStatistics(_ request: StatisticsRequest) throws(CloudWatchError) -> [UInt8] {
        let statistics = request.Statistics ?? [], extended = request.ExtendedStatistics ?? []
        guard !statistics.isEmpty || !extended.isEmpty else {
            throw .combination("Must specify either Statistics or ExtendedStatistics.")
        }
        for name in statistics where !["Sum", "Average", "SampleCount", "Minimum", "Maximum"].contains(name) {
            throw .invalid("The parameter Statistics contains an invalid value: \(name)")
        }
        for name in extended where MetricAggregate(start: 0, values: [], unit: "").statistic(name) == nil || !name.hasPrefix("p") {
            throw .invalid("The parameter ExtendedStatistics contains an invalid value: \(name)")
        }
        try Self.checkWindow(start: request.StartTime, end: request.EndTime, period: request.Period)
        let start = Self.aligned(request.StartTime, period: request.Period)
        let key = MetricKey(namespace: request.Namespace, name: request.MetricName, dimensions: request.Dimensions ?? [])
        let points = metrics.aggregates(key, start: start, end: request.EndTime, period: Double(request.Period), unit: request.Unit)
        let datapoints = points.map { point in
            Datapoint(
                Timestamp: point.start,
                SampleCount: statistics.contains("SampleCount") ? point.sampleCount : nil,
                Average: statistics.contains("Average") ? point.average : nil,
                Sum: statistics.contains("Sum") ? point.sum : nil,
                Minimum: statistics.contains("Minimum") ? point.minimum : nil,
                Maximum: statistics.contains("Maximum") ? point.maximum : nil,
                Unit: point.unit,
                ExtendedStatistics: extended.isEmpty ? nil
                    : Dictionary(uniqueKeysWithValues: extended.map { ($0, point.statistic($0) ?? 0) }))
        }
        struct Answer: Encodable { var Label: String; var Datapoints: [Datapoint] }
        return JSONText.encode(Answer(Label: request.MetricName, Datapoints: datapoints))
    }

    /// CloudWatch rounds a start time down to its period's granularity (whole minutes for periods of a
    /// minute or more).
    private static func aligned(_ time: Double, period: Int) -> Double {
        let unit = period >= 60 ? 60.0 : Double(period)
        return time - time.truncatingRemainder(dividingBy: unit)
    }

    private struct DataRequest: Decodable {
        struct Query: Decodable {
            struct Stat: Decodable { var Metric: Metric; var Period: Int; var Stat: String; var Unit: String? }
            var Id: String
            var MetricStat: Stat?
            var Expression: String?
            var Label: String?
            var ReturnData: Bool?
            var Period: Int?
        }
        var MetricDataQueries: [Query]
        var StartTime: Double
        var EndTime: Double
        var ScanBy: String?
        var MaxDatapoints: Int?
    }

    private func getMetricData(_ request: DataRequest) throws(CloudWatchError) -> [UInt8] {
        struct Result: Encodable {
            var Id: String
            var Label: String
            var Timestamps: [Double]
            var Values: [Double]
            var StatusCode = "Complete"
        }
        guard !request.MetricDataQueries.isEmpty, request.MetricDataQueries.count <= 500 else {
            throw .invalid("The parameter MetricDataQueries must contain 1 to 500 queries.")
        }
        var results: [Result] = []
        for query in request.MetricDataQueries {
            guard query.Id.first?.isLowercase == true else {
                throw .invalid("The value \(query.Id) for parameter MetricDataQueries.member.Id is invalid: it must start with a lowercase letter.")
            }
            if query.Expression != nil {
                throw .invalid("lambda-local does not evaluate metric math (Expression in query \(query.Id)); ask for each metric with MetricStat")
            }
            guard let stat = query.MetricStat else {
                throw .combination("Exactly one of MetricStat and Expression must be given in query \(query.Id).")
            }
            guard MetricAggregate(start: 0, values: [], unit: "").statistic(stat.Stat) != nil else {
                throw .invalid("The value \(stat.Stat) for parameter MetricDataQueries.member.MetricStat.Stat is not a statistic.")
            }
            try Self.checkWindow(start: request.StartTime, end: request.EndTime, period: stat.Period)
            guard query.ReturnData ?? true else { continue }
            let key = MetricKey(namespace: stat.Metric.Namespace, name: stat.Metric.MetricName, dimensions: stat.Metric.Dimensions ?? [])
            var points = metrics.aggregates(
                key, start: Self.aligned(request.StartTime, period: stat.Period), end: request.EndTime,
                period: Double(stat.Period), unit: stat.Unit)
            if request.ScanBy != "TimestampAscending" { points.reverse() }
            results.append(Result(
                Id: query.Id, Label: query.Label ?? stat.Metric.MetricName, Timestamps: points.map(\.start),
                Values: points.map { $0.statistic(stat.Stat) ?? 0 }))
        }
        struct Answer: Encodable { var MetricDataResults: [Result]; var Messages: [String] = [] }
        return JSONText.encode(Answer(MetricDataResults: results))
    }

    private struct ListMetricsRequest: Decodable {
        var Namespace: String?
        var MetricName: String?
    }

    private func listMetrics(_ request: ListMetricsRequest) throws(CloudWatchError) -> [UInt8] {
        let found = metrics.keys.filter { key in
            (request.Namespace.map { $0 == key.namespace } ?? true) && (request.MetricName.map { $0 == key.name } ?? true)
        }.sorted { ($0.namespace, $0.name, "\($0.dimensions)") < ($1.namespace, $1.name, "\($1.dimensions)") }
        struct Answer: Encodable { var Metrics: [Metric] }
        return JSONText.encode(Answer(Metrics: found.prefix(500).map {
            Metric(Namespace: $0.namespace, MetricName: $0.name, Dimensions: $0.dimensions)
        }))
    }

    // MARK: Alarms

    private func putMetricAlarm(_ request: MetricAlarmShape) throws(CloudWatchError) -> [UInt8] {
        guard !request.AlarmName.isEmpty, request.AlarmName.utf8.count <= 255 else {
            throw .invalid("The parameter AlarmName must be 1-255 characters.")
        }
        guard request.EvaluationPeriods ?? 0 >= 1, request.ComparisonOperator != nil else {
            throw CloudWatchError(status: 400, code: "MissingParameter", message: "EvaluationPeriods and ComparisonOperator are required.")
        }
        guard (request.MetricName != nil) != (request.Metrics != nil) else {
            throw .combination("Exactly one of MetricName and Metrics must be given.")
        }
        let now = Date().timeIntervalSince1970
        let arn = "arn:aws:cloudwatch:\(region):\(accountID):alarm:\(request.AlarmName)"
        try alarms.withLock { (alarms: inout [String: MetricAlarmShape]) throws(CloudWatchError) in
            var alarm = request
            alarm.AlarmArn = arn
            alarm.ActionsEnabled = request.ActionsEnabled ?? true
            alarm.AlarmConfigurationUpdatedTimestamp = now
            if let existing = alarms[request.AlarmName] {
                alarm.StateValue = existing.StateValue
                alarm.StateReason = existing.StateReason
                alarm.StateUpdatedTimestamp = existing.StateUpdatedTimestamp
            } else {
                guard alarms.count < Self.maxAlarms else {
                    throw CloudWatchError(status: 400, code: "LimitExceeded", message: "lambda-local keeps at most \(Self.maxAlarms) alarms.")
                }
                alarm.StateValue = "INSUFFICIENT_DATA"
                alarm.StateReason = "Unchecked: Initial alarm creation"
                alarm.StateUpdatedTimestamp = now
            }
            alarms[request.AlarmName] = alarm
        }
        return Array("{}".utf8)
    }

    private struct DescribeRequest: Decodable {
        var AlarmNames: [String]?
        var AlarmNamePrefix: String?
        var AlarmTypes: [String]?
        var StateValue: String?
        var MaxRecords: Int?
    }

    private func describeAlarms(_ request: DescribeRequest) throws(CloudWatchError) -> [UInt8] {
        if let state = request.StateValue, !["OK", "ALARM", "INSUFFICIENT_DATA"].contains(state) {
            throw .invalid("The parameter StateValue must be OK, ALARM or INSUFFICIENT_DATA.")
        }
        let wantMetricAlarms = request.AlarmTypes.map { $0.contains("MetricAlarm") } ?? true
        let all = alarms.withLock { Array($0.values) }
        let selected = all.filter { alarm in
            (request.AlarmNames.map { names in names.contains { $0.utf8.elementsEqual(alarm.AlarmName.utf8) } } ?? true)
                && (request.AlarmNamePrefix.map { alarm.AlarmName.utf8.starts(with: $0.utf8) } ?? true)
                && (request.StateValue.map { $0 == alarm.StateValue } ?? true)
        }.sorted { $0.AlarmName < $1.AlarmName }
        struct Answer: Encodable { var MetricAlarms: [MetricAlarmShape]; var CompositeAlarms: [JSONValue] = [] }
        return JSONText.encode(Answer(MetricAlarms: wantMetricAlarms ? Array(selected.prefix(request.MaxRecords ?? 100)) : []))
    }

    private struct StateRequest: Decodable {
        var AlarmName: String
        var StateValue: String
        var StateReason: String
        var StateReasonData: String?
    }

    private func setAlarmState(_ request: StateRequest) throws(CloudWatchError) -> [UInt8] {
        guard ["OK", "ALARM", "INSUFFICIENT_DATA"].contains(request.StateValue) else {
            throw .invalid("The parameter StateValue must be OK, ALARM or INSUFFICIENT_DATA.")
        }
        try alarms.withLock { (alarms: inout [String: MetricAlarmShape]) throws(CloudWatchError) in
            guard var alarm = alarms[request.AlarmName] else {
                throw CloudWatchError(status: 404, code: "ResourceNotFound", message: "Alarm \(request.AlarmName) not found")
            }
            alarm.StateValue = request.StateValue
            alarm.StateReason = request.StateReason
            alarm.StateReasonData = request.StateReasonData
            alarm.StateUpdatedTimestamp = Date().timeIntervalSince1970
            alarms[request.AlarmName] = alarm
        }
        return Array("{}".utf8)
    }

    private struct DeleteRequest: Decodable { var AlarmNames: [String] }

    private func deleteAlarms(_ request: DeleteRequest) throws(CloudWatchError) -> [UInt8] {
        try alarms.withLock { (alarms: inout [String: MetricAlarmShape]) throws(CloudWatchError) in
            for name in request.AlarmNames where alarms[name] == nil {
                throw CloudWatchError(status: 404, code: "ResourceNotFound", message: "Alarm \(name) not found")
            }
            for name in request.AlarmNames { alarms[name] = nil }
        }
        return Array("{}".utf8)
    }
}
