import Foundation
import NIOHTTP1

/// CloudWatch's query protocol (form-encoded requests, XML answers), which awscli v1 before 1.37 and
/// other older SDKs send: translated to and from the JSON the operations work on.
extension CloudWatchAPI {
    /// Members whose form values are numbers, booleans or timestamps (everything else is a string).
    private static let numberMembers: Set<String> = ["Period", "EvaluationPeriods", "DatapointsToAlarm", "Threshold", "MaxRecords", "MaxDatapoints"]
    private static let booleanMembers: Set<String> = ["ActionsEnabled", "ReturnData"]
    private static let timestampMembers: Set<String> = ["StartTime", "EndTime", "Timestamp", "Timestamps", "StateUpdatedTimestamp", "AlarmConfigurationUpdatedTimestamp"]

    /// Answers one query-protocol call (`Action=…&Version=2010-08-01&…`).
    func handleQuery(_ request: LocalHTTPRequest, responder: HTTPResponder) {
        let pairs = Self.formPairs(request.body)
        let action = pairs.first { $0.key.utf8.elementsEqual("Action".utf8) }?.value ?? ""
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "text/xml")
        do {
            let body = try Self.jsonRequest(from: pairs.filter { !$0.key.utf8.elementsEqual("Action".utf8) && !$0.key.utf8.elementsEqual("Version".utf8) })
            let answer = try perform(action, body: body)
            let result = (try? JSONText.decoder.decode(JSONValue.self, from: answer)) ?? .object([:])
            var xml = "<\(action)Response xmlns=\"http://monitoring.amazonaws.com/doc/2010-08-01/\">"
            if case .object(let members) = result, !members.isEmpty {
                xml += "<\(action)Result>" + Self.xml(members: members) + "</\(action)Result>"
            }
            xml += "<ResponseMetadata><RequestId>\(UUID().uuidString.lowercased())</RequestId></ResponseMetadata></\(action)Response>"
            responder.send(status: .ok, headers: headers, body: Array(xml.utf8))
        } catch {
            let xml = "<ErrorResponse xmlns=\"http://monitoring.amazonaws.com/doc/2010-08-01/\"><Error><Type>Sender</Type>"
                + "<Code>\(Self.escaped(error.code))</Code><Message>\(Self.escaped(error.message))</Message></Error>"
                + "<RequestId>\(UUID().uuidString.lowercased())</RequestId></ErrorResponse>"
            responder.send(status: HTTPResponseStatus(statusCode: error.status), headers: headers, body: Array(xml.utf8))
        }
    }

    private static func formPairs(_ body: [UInt8]) -> [(key: String, value: String)] {
        String(decoding: body, as: UTF8.self).split(separator: "&").map { pair in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ text: Substring) -> String {
                String(text).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String(text)
            }
            return (decode(parts[0]), parts.count > 1 ? decode(parts[1]) : "")
        }
    }

    /// `Dimensions.member.1.Name=…` and friends as the JSON object the JSON protocol would carry.
    private static func jsonRequest(from pairs: [(key: String, value: String)]) throws(CloudWatchError) -> [UInt8] {
        var root = JSONValue.object([:])
        for (key, value) in pairs {
            let path = key.split(separator: ".").map(String.init)
            guard let member = path.last(where: { $0 != "member" && Int($0) == nil }) else { continue }
            let leaf: JSONValue
            if numberMembers.contains(member) {
                guard let number = Double(value) else { throw .invalid("\(key) must be a number, not \(value)") }
                leaf = .number(number)
            } else if booleanMembers.contains(member) {
                leaf = .bool(value == "true")
            } else if timestampMembers.contains(member) {
                guard let time = epoch(value) else { throw .invalid("\(key) must be a timestamp, not \(value)") }
                leaf = .number(time)
            } else {
                leaf = .string(value)
            }
            insert(leaf, at: path[...], into: &root)
        }
        return JSONText.encode(root)
    }

    /// Puts `leaf` at `path` (`member.N` segments are list positions, 1-based).
    private static func insert(_ leaf: JSONValue, at path: ArraySlice<String>, into node: inout JSONValue) {
        guard let head = path.first else {
            node = leaf
            return
        }
        if head == "member", let index = path.dropFirst().first.flatMap({ Int($0) }), index >= 1, index <= 1000 {
            var items = node.array ?? []
            while items.count < index { items.append(.null) }
            var child = items[index - 1]
            if case .null = child, path.count > 2 { child = .object([:]) }
            insert(leaf, at: path.dropFirst(2), into: &child)
            items[index - 1] = child
            node = .array(items)
            return
        }
        var members: [String: JSONValue] = [:]
        if case .object(let existing) = node { members = existing }
        var child = members[head] ?? (path.count > 1 ? .object([:]) : .null)
        insert(leaf, at: path.dropFirst(), into: &child)
        members[head] = child
        node = .object(members)
    }

    private static func epoch(_ text: String) -> Double? {
        if let number = Double(text) { return number }
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = formatter.date(from: text) { return date.timeIntervalSince1970 }
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.date(from: text)?.timeIntervalSince1970
    }

    private static func xml(members: [String: JSONValue]) -> String {
        members.sorted { $0.key < $1.key }.map { key, value in
            let inner = xml(value, key: key)
            return inner.isEmpty && value == .null ? "" : "<\(key)>\(inner)</\(key)>"
        }.joined()
    }

    /// One value as the query protocol writes it: lists as `<member>`s, maps (ExtendedStatistics) as
    /// `<entry><key/><value/></entry>`, timestamps as ISO 8601.
    private static func xml(_ value: JSONValue, key: String) -> String {
        switch value {
        case .null: return ""
        case .string(let text): return escaped(text)
        case .bool(let flag): return flag ? "true" : "false"
        case .number(let number):
            if timestampMembers.contains(key) {
                let formatter = ISO8601DateFormatter()
                formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
                return formatter.string(from: Date(timeIntervalSince1970: number))
            }
            // Integer members (Period…) must not carry a fraction; a double member parses "3" as well.
            if number == number.rounded(), abs(number) < 1e15 { return String(Int64(number)) }
            return String(number)
        case .array(let items):
            return items.map { "<member>\(xml($0, key: key))</member>" }.joined()
        case .object(let members) where key.utf8.elementsEqual("ExtendedStatistics".utf8):
            return members.sorted { $0.key < $1.key }.map { "<entry><key>\(escaped($0.key))</key><value>\(xml($0.value, key: ""))</value></entry>" }.joined()
        case .object(let members):
            return xml(members: members)
        }
    }

    private static func escaped(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
