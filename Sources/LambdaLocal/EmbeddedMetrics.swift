import Foundation

/// Any JSON value, decoded with `JSONDecoder` (for documents whose keys are data, such as EMF lines).
enum JSONValue: Codable, Equatable, Sendable {
    case string(String), number(Double), bool(Bool), null, array([JSONValue]), object([String: JSONValue])

    init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() { self = .null }
        else if let value = try? container.decode(Bool.self) { self = .bool(value) }
        else if let value = try? container.decode(Double.self) { self = .number(value) }
        else if let value = try? container.decode(String.self) { self = .string(value) }
        else if let value = try? container.decode([JSONValue].self) { self = .array(value) }
        else { self = .object(try container.decode([String: JSONValue].self)) }
    }

    func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .string(let value): try container.encode(value)
        case .number(let value): try container.encode(value)
        case .bool(let value): try container.encode(value)
        case .null: try container.encodeNil()
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }

    subscript(key: String) -> JSONValue? {
        if case .object(let object) = self { return object[key] }
        return nil
    }

    var string: String? { if case .string(let value) = self { value } else { nil } }
    var number: Double? { if case .number(let value) = self { value } else { nil } }
    var array: [JSONValue]? { if case .array(let value) = self { value } else { nil } }
}

/// CloudWatch Embedded Metric Format: the metrics CloudWatch Logs extracts from one log line.
///
/// Follows the specification: a JSON object with `_aws.Timestamp` (ms) and `_aws.CloudWatchMetrics`,
/// each directive naming a namespace, dimension sets (at most 30 dimensions each, values taken from the
/// root, strings) and metrics (values from the root: a number or an array of up to 100 numbers). A line
/// that breaks the specification yields no metric, as in CloudWatch.
enum EmbeddedMetrics {
    /// One value extracted from a line.
    struct Value: Equatable {
        var key: MetricKey
        var value: Double
        var unit: String
        var time: Double
    }

    /// The values in `line`; empty when it is not an EMF document.
    static func extract(from line: some Collection<UInt8>) -> [Value] {
        // Cheap test first: most log lines are not EMF.
        guard line.first == UInt8(ascii: "{"), line.count < 256 * 1024 else { return [] }
        guard let root = try? JSONDecoder().decode(JSONValue.self, from: Data(line)),
              let aws = root["_aws"], let timestamp = aws["Timestamp"]?.number,
              let directives = aws["CloudWatchMetrics"]?.array
        else { return [] }
        var values: [Value] = []
        for directive in directives {
            guard let namespace = directive["Namespace"]?.string, !namespace.isEmpty,
                  let dimensionSets = directive["Dimensions"]?.array, let metrics = directive["Metrics"]?.array
            else { continue }
            var sets: [[MetricDimension]] = []
            for set in dimensionSets {
                guard let names = set.array, names.count <= 30 else { continue }
                let dimensions = names.compactMap { name -> MetricDimension? in
                    guard let name = name.string, let value = root[name]?.string else { return nil }
                    return MetricDimension(name: name, value: value)
                }
                if dimensions.count == names.count { sets.append(dimensions) }
            }
            for metric in metrics {
                guard let name = metric["Name"]?.string else { continue }
                let unit = metric["Unit"]?.string ?? "None"
                let numbers: [Double]
                switch root[name] {
                case .number(let number)?: numbers = [number]
                case .array(let array)?: numbers = array.prefix(100).compactMap(\.number)
                default: continue
                }
                for dimensions in sets {
                    let key = MetricKey(namespace: namespace, name: name, dimensions: dimensions)
                    for number in numbers {
                        values.append(Value(key: key, value: number, unit: unit, time: timestamp / 1000))
                    }
                }
            }
        }
        return values
    }
}
