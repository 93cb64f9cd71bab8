import CurlHTTP
import Foundation
@testable import LambdaLocal
import Testing

/// CloudWatch metrics derived from what the children did: EMF lines, AWS/Lambda, the JSON protocol.
@Suite struct MetricsTests {
    static let emf = #"{"_aws":{"CloudWatchMetrics":[{"Namespace":"ProfileService","Dimensions":[["Service","FunctionVersion"],["Service","FunctionVersion","Route"]],"Metrics":[{"Name":"Requests","Unit":"Count"},{"Name":"ServerErrors","Unit":"Count"},{"Name":"Latency","Unit":"Milliseconds"}]}],"Timestamp":1764316800123},"Service":"svc","FunctionVersion":"7","Route":"GET /health","Requests":1,"ServerErrors":0,"Latency":[1.5,2.5],"statusCode":200}"#

    @Test func emfLinesBecomeOneValuePerDimensionSetAndMetric() {
        let values = EmbeddedMetrics.extract(from: Array(Self.emf.utf8))
        #expect(values.count == 2 * (1 + 1 + 2))
        let requests = values.filter { $0.key.name == "Requests" }
        #expect(Set(requests.map { $0.key.dimensions.map(\.name) }) == [["FunctionVersion", "Service"], ["FunctionVersion", "Route", "Service"]])
        #expect(requests.allSatisfy { $0.time == 1764316800.123 && $0.unit == "Count" && $0.key.namespace == "ProfileService" })
        #expect(values.filter { $0.key.name == "Latency" }.map(\.value).sorted() == [1.5, 1.5, 2.5, 2.5])
    }

    @Test func linesThatBreakTheSpecificationYieldNothing() {
        for line in ["plain text", "{}", #"{"_aws":{"Timestamp":1}}"#, #"{"_aws":{"CloudWatchMetrics":[]}}"#,
                     #"{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"N","Dimensions":[["D"]],"Metrics":[{"Name":"M"}]}]},"D":5,"M":1}"#,
                     "{not json"] {
            #expect(EmbeddedMetrics.extract(from: Array(line.utf8)).isEmpty, "\(line)")
        }
    }

    @Test func storeAggregatesPerPeriodAndStaysBounded() {
        let store = MetricStore(maxSamples: 100, maxSeries: 2)
        let key = MetricKey(namespace: "N", name: "M", dimensions: [MetricDimension(name: "B", value: "b"), MetricDimension(name: "A", value: "a")])
        for n in 0..<50 { store.record(key, value: Double(n), unit: "Count", time: 600 + Double(n)) }
        let swapped = MetricKey(namespace: "N", name: "M", dimensions: [MetricDimension(name: "A", value: "a"), MetricDimension(name: "B", value: "b")])
        let minutes = store.aggregates(swapped, start: 600, end: 720, period: 60)
        #expect(minutes.count == 1)
        #expect(minutes.first?.sum == Double((0..<50).reduce(0, +)))
        #expect(minutes.first?.statistic("SampleCount") == 50)
        #expect(minutes.first?.statistic("p99") == 49)
        #expect(minutes.first?.statistic("p50") == 24)
        #expect(minutes.first?.statistic("Bogus") == nil)
        // Past the bound the oldest minute goes.
        for n in 0..<60 { store.record(key, value: 1, unit: "Count", time: 660 + Double(n)) }
        #expect(store.sampleCount <= 100)
        #expect(store.aggregates(key, start: 600, end: 660, period: 60).isEmpty)
        // Past the series bound new metrics are dropped, and counted.
        store.record(MetricKey(namespace: "N", name: "Other", dimensions: []), value: 1, unit: "Count", time: 700)
        store.record(MetricKey(namespace: "N", name: "Third", dimensions: []), value: 1, unit: "Count", time: 700)
        #expect(store.droppedSamples == 1)
    }

    static func cloudWatch(_ local: LocalFixture, _ operation: String, _ body: String) throws -> HTTPResponse {
        try local.request(.post, "/", body: Array(body.utf8), headers: [
            "X-Amz-Target": "GraniteServiceVersion20100801.\(operation)", "Content-Type": "application/x-amz-json-1.0",
        ])
    }

    @Test func invocationsThroughTheAliasAndTheFunctionsEMFLinesAreServedAsCloudWatch() async throws {
        var configuration = ControlPlaneTests.twoVersions()
        configuration.handler = "profile"
        configuration.environment = ["PROFILE_STORE": "memory", "FLAGS_SOURCE": "file",
                                     "FLAGS_FILE": URL(fileURLWithPath: #filePath).deletingLastPathComponent()
                                        .appendingPathComponent("../../config/flags.local.json").standardized.path]
        try await LocalFixture.with(configuration) { local in
            for _ in 0..<5 { #expect(try local.request(.get, "/health").status == 200) }
            #expect(try local.request(.get, "/nope").status == 404)
            let now = Date().timeIntervalSince1970
            // The EMF line may still be on its way through the pipe.
            var requests = 0.0
            for _ in 0..<100 {
                let answer = try Self.cloudWatch(local, "GetMetricStatistics", """
                    {"Namespace":"ProfileService","MetricName":"Requests","Dimensions":[{"Name":"Service","Value":"fn"},{"Name":"FunctionVersion","Value":"1"}],
                     "StartTime":\(now - 600),"EndTime":\(now + 60),"Period":60,"Statistics":["Sum"]}
                    """)
                #expect(answer.status == 200)
                requests = ((json(answer)?["Datapoints"] as? [[String: Any]]) ?? []).compactMap { $0["Sum"] as? Double }.reduce(0, +)
                if requests == 6 { break }
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(requests == 6)
            let data = try Self.cloudWatch(local, "GetMetricData", """
                {"StartTime":\(now - 600),"EndTime":\(now + 60),"MetricDataQueries":[
                 {"Id":"invocations","MetricStat":{"Metric":{"Namespace":"AWS/Lambda","MetricName":"Invocations","Dimensions":[
                   {"Name":"FunctionName","Value":"fn"},{"Name":"Resource","Value":"fn:live"},{"Name":"ExecutedVersion","Value":"1"}]},"Period":660,"Stat":"Sum"}},
                 {"Id":"errors","MetricStat":{"Metric":{"Namespace":"AWS/Lambda","MetricName":"Errors","Dimensions":[
                   {"Name":"FunctionName","Value":"fn"},{"Name":"Resource","Value":"fn:live"},{"Name":"ExecutedVersion","Value":"1"}]},"Period":660,"Stat":"Sum"}},
                 {"Id":"p99","MetricStat":{"Metric":{"Namespace":"AWS/Lambda","MetricName":"Duration","Dimensions":[
                   {"Name":"FunctionName","Value":"fn"}]},"Period":660,"Stat":"p99"}}]}
                """)
            let results = try #require(json(data)?["MetricDataResults"] as? [[String: Any]])
            #expect(results.map { ($0["Values"] as? [Double])?.reduce(0, +) ?? -1 }.prefix(2) == [6, 0])
            #expect(((results.last?["Values"] as? [Double])?.first ?? 0) > 0)

            let unknown = try Self.cloudWatch(local, "PutMetricData", "{}")
            #expect(unknown.status == 400)
            #expect(unknown.headers["x-amzn-query-error"]?.hasPrefix("InvalidAction") == true)
        }
    }

    @Test func alarmsChangeStateOnlyWithSetAlarmState() async throws {
        try await LocalFixture.with(ControlPlaneTests.twoVersions()) { local in
            #expect(try Self.cloudWatch(local, "DescribeAlarms", "{}").body == Array(#"{"CompositeAlarms":[],"MetricAlarms":[]}"#.utf8))
            let put = try Self.cloudWatch(local, "PutMetricAlarm", """
                {"AlarmName":"v2-errors","Namespace":"AWS/Lambda","MetricName":"Errors","Statistic":"Sum","Period":60,
                 "EvaluationPeriods":1,"Threshold":0,"ComparisonOperator":"GreaterThanThreshold",
                 "Dimensions":[{"Name":"ExecutedVersion","Value":"2"}]}
                """)
            #expect(put.status == 200)
            let alarm = try #require((json(try Self.cloudWatch(local, "DescribeAlarms", #"{"AlarmNames":["v2-errors"]}"#))?["MetricAlarms"] as? [[String: Any]])?.first)
            #expect(alarm["StateValue"] as? String == "INSUFFICIENT_DATA")
            #expect((alarm["Dimensions"] as? [[String: String]])?.first?["Value"] == "2")
            #expect(try Self.cloudWatch(local, "SetAlarmState", #"{"AlarmName":"v2-errors","StateValue":"ALARM","StateReason":"test"}"#).status == 200)
            let firing = try #require(json(try Self.cloudWatch(local, "DescribeAlarms", #"{"StateValue":"ALARM"}"#))?["MetricAlarms"] as? [[String: Any]])
            #expect(firing.compactMap { $0["AlarmName"] as? String } == ["v2-errors"])
            let missing = try Self.cloudWatch(local, "SetAlarmState", #"{"AlarmName":"nope","StateValue":"ALARM","StateReason":"test"}"#)
            #expect(missing.status == 404)
            #expect(missing.headers["x-amzn-query-error"] == "ResourceNotFound;Sender")
        }
    }
}

/// CloudWatch's query protocol (form in, XML out), as awscli v1 before 1.37 sends it.
@Suite struct CloudWatchQueryProtocolTests {
    static let signed = ["Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
                         "Authorization": "AWS4-HMAC-SHA256 Credential=test/20261201/us-east-1/monitoring/aws4_request, SignedHeaders=host, Signature=0"]

    static func call(_ local: LocalFixture, _ form: String) throws -> (status: Int, text: String) {
        var headers = CurlHTTP.HTTPHeaders()
        for (name, value) in signed { headers.add(name, value) }
        let response = try local.request(.post, "/", body: Array(form.utf8), headers: headers)
        return (response.status, String(decoding: response.body, as: UTF8.self))
    }

    @Test func formRequestsGetXMLAnswersAndErrors() async throws {
        try await LocalFixture.with(ControlPlaneTests.twoVersions()) { local in
            for _ in 0..<3 { #expect(try local.request(.get, "/x").status == 200) }
            let now = Int(Date().timeIntervalSince1970)
            let statistics = try Self.call(local, "Action=GetMetricStatistics&Version=2010-08-01&Namespace=AWS%2FLambda&MetricName=Invocations"
                + "&Dimensions.member.1.Name=FunctionName&Dimensions.member.1.Value=fn&StartTime=\(now - 300)&EndTime=\(now + 60)"
                + "&Period=60&Statistics.member.1=Sum&ExtendedStatistics.member.1=p99")
            #expect(statistics.status == 200)
            #expect(statistics.text.hasPrefix("<GetMetricStatisticsResponse xmlns=\"http://monitoring.amazonaws.com/doc/2010-08-01/\"><GetMetricStatisticsResult>"))
            #expect(statistics.text.contains("<Sum>3</Sum>"))
            #expect(statistics.text.contains("<ExtendedStatistics><entry><key>p99</key><value>1</value></entry></ExtendedStatistics>"))
            #expect(statistics.text.contains(/<Timestamp>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:00.000Z<\/Timestamp>/))

            let missing = try Self.call(local, "Action=SetAlarmState&Version=2010-08-01&AlarmName=nope&StateValue=ALARM&StateReason=x")
            #expect(missing.status == 404)
            #expect(missing.text.contains("<Code>ResourceNotFound</Code>"))
            let badPeriod = try Self.call(local, "Action=GetMetricStatistics&Version=2010-08-01&Namespace=N&MetricName=M&StartTime=1&EndTime=2&Period=sixty&Statistics.member.1=Sum")
            #expect(badPeriod.status == 400)
            #expect(badPeriod.text.contains("<Code>InvalidParameterValue</Code>"))
        }
    }
}
